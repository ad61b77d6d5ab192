import { RowMapView } from './row-map-view';

describe('RowMapView', () => {
  it('reads a table by _uuid, live', () => {
    const rows = new Map([['u1', { _uuid: 'u1', name: 'a' }]]);
    const table = { get size() { return rows.size; }, row: (u: string) => rows.get(u), rows: () => [...rows.values()] };
    const view = new RowMapView(table);
    expect(view.get('u1')?.name).toBe('a');
    expect(view.has('u2')).toBe(false);
    rows.set('u2', { _uuid: 'u2', name: 'b' });
    expect(view.size).toBe(2);
    expect([...view.keys()]).toEqual(['u1', 'u2']);
    expect([...view.values()].map((r) => r.name)).toEqual(['a', 'b']);
    expect(new Map(view)).toEqual(new Map(rows));
    const seen: string[] = [];
    view.forEach((r, k) => seen.push(`${k}=${r.name}`));
    expect(seen).toEqual(['u1=a', 'u2=b']);
  });
});
