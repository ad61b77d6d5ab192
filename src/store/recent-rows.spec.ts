import { RecentRows } from './recent-rows';

const row = (key: string, mod = 1) => ({ key, value: `{"k":"${key}"}`, create_rev: 1, mod_rev: mod });

describe('RecentRows', () => {
  it('keeps the last row of each key, forgets deleted keys, and drops the oldest write beyond its capacity', () => {
    const r = new RecentRows(2);
    r.put(row('a'));
    r.put(row('b'));
    r.put(row('a', 2)); // a is now the newest write
    r.put(row('c'));
    expect(r.get('b')).toBeUndefined();
    expect(r.get('a')).toEqual(row('a', 2));
    expect(r.get('c')).toEqual(row('c'));
    r.forget('a');
    expect(r.get('a')).toBeUndefined();
    expect(r.size).toBe(1);
  });
});
