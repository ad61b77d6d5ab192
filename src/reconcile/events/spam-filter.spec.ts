import { SpamFilter } from './spam-filter';

describe('SpamFilter', () => {
  it('lets a key take its burst, then refills at its rate; has() takes nothing; keys have their own buckets', () => {
    let now = 0;
    const f = new SpamFilter(2, 0.5, () => now);
    expect([f.has('a'), f.allow('a'), f.allow('a'), f.has('a'), f.allow('a')]).toEqual([true, true, true, false, false]);
    expect(f.allow('b')).toBe(true);
    now = 1_000;
    expect(f.allow('a')).toBe(false);
    now = 2_000;
    expect([f.has('a'), f.has('a'), f.allow('a'), f.allow('a')]).toEqual([true, true, true, false]);
  });

  it('forgets the least recently used keys past its size (a forgotten key starts full)', () => {
    const f = new SpamFilter(1, 0.001, () => 0, 2);
    expect([f.allow('a'), f.allow('b'), f.allow('c')]).toEqual([true, true, true]);
    expect([f.allow('c'), f.allow('a')]).toEqual([false, true]);
  });
});
