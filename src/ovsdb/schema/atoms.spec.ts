import { SchemaError } from '../errors';
import { LAB_SCHEMA } from '../testing/lab-schema';
import { datumEquals, datumFromWire, datumToWire, defaultValue, namedUuid } from './atoms';
import { applyRowDiff, changedColumns, rowFromWire, rowToWire } from './row';
import { parseSchema } from './schema';

const schema = parseSchema(LAB_SCHEMA);
const sw = schema.tables.Switch!;
const port = schema.tables.Port!;
const col = (t: typeof sw, c: string) => t.columns[c]!.type;
const U1 = '11111111-1111-4111-8111-111111111111';
const U2 = '22222222-2222-4222-8222-222222222222';

describe('schema parsing', () => {
  it('normalises shorthands', () => {
    expect(col(sw, 'name')).toEqual({ key: { type: 'string' }, min: 1, max: 1 });
    expect(col(sw, 'tags').max).toBe(Infinity);
    expect(col(sw, 'mode').key.enum).toEqual(['fast', 'slow']);
    expect(col(sw, 'weight').key).toMatchObject({ minInteger: 0, maxInteger: 100 });
    expect(col(port, 'peer').key).toMatchObject({ refTable: 'Port', refType: 'weak' });
    expect(sw.columns.name!.mutable).toBe(false);
    expect(sw.indexes).toEqual([['name']]);
  });
});

describe('atom and datum conversion', () => {
  it.each([
    ['name', 'br0', 'br0'],
    ['enabled', true, true],
    ['ratio', 0.5, 0.5],
    ['weight', 7, 7],
    ['mode', null, ['set', []]],
    ['mode', 'fast', 'fast'],
    ['tags', [], ['set', []]],
    ['tags', [1, 2], ['set', [1, 2]]],
    ['ports', [U1], ['set', [['uuid', U1]]]],
    ['other', { a: 'b' }, ['map', [['a', 'b']]]],
    ['vlans', new Map([[10, 'ten']]), ['map', [[10, 'ten']]]],
  ])('%s: %p <-> %p', (c, ts, wire) => {
    const type = col(sw, c);
    expect(datumToWire(type, ts, c)).toEqual(wire);
    expect(datumEquals(type, datumFromWire(type, wire as never, c), ts as never)).toBe(true);
  });

  it('reads single-element sets sent as bare atoms and optional values sent as sets', () => {
    expect(datumFromWire(col(sw, 'tags'), 5, 'tags')).toEqual([5]);
    expect(datumFromWire(col(sw, 'mode'), ['set', ['slow']], 'mode')).toBe('slow');
    expect(datumFromWire(col(sw, 'ports'), ['uuid', U1], 'ports')).toEqual([U1]);
  });

  it('string-keyed maps become records, others Maps', () => {
    expect(datumFromWire(col(sw, 'other'), ['map', [['k', 'v']]], 'other')).toEqual({ k: 'v' });
    expect(datumFromWire(col(sw, 'vlans'), ['map', [[1, 'x']]], 'vlans')).toEqual(new Map([[1, 'x']]));
  });

  it('writes named-uuid references', () => {
    expect(datumToWire(col(sw, 'ports'), [namedUuid('p1'), U2], 'ports')).toEqual(['set', [['named-uuid', 'p1'], ['uuid', U2]]]);
  });

  it('rejects values of the wrong type', () => {
    expect(() => datumToWire(col(sw, 'weight'), 1.5, 'weight')).toThrow(SchemaError);
    expect(() => datumToWire(col(sw, 'name'), 3, 'name')).toThrow(SchemaError);
    expect(() => datumToWire(col(sw, 'ports'), ['not-a-uuid'], 'ports')).toThrow(SchemaError);
    expect(() => datumToWire(col(sw, 'other'), 'x', 'other')).toThrow(SchemaError);
    expect(() => datumFromWire(col(sw, 'other'), ['set', []], 'other')).toThrow(SchemaError);
  });

  it('refuses what ovsdb-server would drop the whole session over, and keeps what it reads', () => {
    // Measured against ovsdb-server 3.1: "null bytes not supported in quoted strings",
    // "malformed escaped surrogate pair", "number outside valid range", then the connection closed.
    for (const bad of ['a\0b', '\ud800', 'x\udc00']) expect(() => datumToWire(col(sw, 'name'), bad, 'name')).toThrow(/name: .* (NUL|lone UTF-16 surrogate)/);
    expect(() => datumToWire(col(sw, 'ratio'), 5e-324, 'ratio')).toThrow(/subnormal/);
    expect(() => datumToWire(col(sw, 'ratio'), -1e-310, 'ratio')).toThrow(/subnormal/);
    expect(() => datumToWire(col(sw, 'ratio'), 2.2250738585072014e-308, 'ratio')).toThrow(/subnormal/);
    expect(() => datumToWire(col(sw, 'tags'), [2 ** 63], 'tags')).toThrow(/outside the 64-bit integers/);
    for (const good of ['\u{10FFFF}', '\ud83d\ude00', 'a\u2028b', '']) expect(datumToWire(col(sw, 'name'), good, 'name')).toBe(good);
    for (const good of [0, -0, 1e-300, 2.3e-308, 1.7976931348623157e308]) expect(datumToWire(col(sw, 'ratio'), good, 'ratio')).toBe(good);
    expect(datumToWire(col(sw, 'tags'), [-(2 ** 63), 2 ** 62], 'tags')).toEqual(['set', [-(2 ** 63), 2 ** 62]]);
  });

  it('compares sets and maps without regard to order', () => {
    expect(datumEquals(col(sw, 'tags'), [1, 2, 3], [3, 1, 2])).toBe(true);
    expect(datumEquals(col(sw, 'tags'), [1, 2], [1, 3])).toBe(false);
    expect(datumEquals(col(sw, 'other'), { a: '1', b: '2' }, { b: '2', a: '1' })).toBe(true);
    expect(datumEquals(col(sw, 'other'), { a: '1' }, { a: '2' })).toBe(false);
  });

  it('has RFC 7047 defaults', () => {
    expect(defaultValue(col(sw, 'weight'))).toBe(0);
    expect(defaultValue(col(sw, 'mode'))).toBeNull();
    expect(defaultValue(col(sw, 'tags'))).toEqual([]);
    expect(defaultValue(col(sw, 'other'))).toEqual({});
    // A set or map that must hold an element holds one default atom (ovsdb-server omits it from rows).
    expect(defaultValue({ key: { type: 'string' }, min: 1, max: 2 })).toEqual(['']);
    expect(defaultValue({ key: { type: 'string' }, value: { type: 'integer' }, min: 1, max: 4 })).toEqual({ '': 0 });
    expect(defaultValue({ key: { type: 'integer' }, value: { type: 'boolean' }, min: 1, max: 4 })).toEqual(new Map([[0, false]]));
  });
});

describe('rows', () => {
  const base = rowFromWire(sw, U1, { name: 'br0', tags: ['set', [1, 2]], other: ['map', [['a', '1'], ['b', '2']]], mode: 'fast' });

  it('fills omitted columns with defaults', () => {
    expect(base).toMatchObject({ _uuid: U1, name: 'br0', enabled: false, weight: 0, ports: [], vlans: new Map() });
  });

  it('round-trips through the wire, skipping _uuid and undefined', () => {
    expect(rowToWire(sw, { _uuid: U1, name: 'x', ratio: undefined, tags: [3] })).toEqual({ name: 'x', tags: ['set', [3]] });
  });

  it('applies modify diffs: scalar replace, set toggle, optional whole (its new value), map add/replace/delete', () => {
    const next = applyRowDiff(sw, base, {
      weight: 9,
      tags: ['set', [2, 5]], // remove 2, add 5
      mode: 'slow', // a column of at most one element arrives whole (ovsdb_datum_diff diffs only n_max > 1)
      other: ['map', [['a', '1'], ['b', 'X'], ['c', '3']]], // delete a, replace b, add c
    });
    expect(next).toMatchObject({ weight: 9, mode: 'slow', other: { b: 'X', c: '3' } });
    expect([...(next.tags as number[])].sort()).toEqual([1, 5]);
    expect(base.weight).toBe(0); // the old row is untouched
    expect(changedColumns(sw, base, next).sort()).toEqual(['mode', 'other', 'tags', 'weight']);
    expect(applyRowDiff(sw, next, { mode: 'slow' }).mode).toBe('slow');
    expect(applyRowDiff(sw, next, { mode: ['set', []] }).mode).toBeNull();
  });
});
