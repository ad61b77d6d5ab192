/**
 * Whole-row conversions on top of atoms.ts: wire rows <-> TypeScript rows, and applying
 * an update2 "modify" diff (ovsdb-server(7) 4.1.14) to a cached row.
 */
import type { Json } from '../wire/json';
import type { WireRow } from '../wire/rpc';
import { SchemaError } from '../errors';
import {
  atomFromWire,
  datumEquals,
  datumFromWire,
  datumToWire,
  defaultValue,
  fromMap,
  fromSetAtoms,
  mapOf,
  setAtoms,
  type Atom,
  type Value,
} from './atoms';
import { UUID_COLUMN, columnKind, columnSchema, type BaseType, type ColumnKind, type ColumnType, type TableSchema } from './schema';

/** A row as the cache and the typed models see it: columns plus its uuid. */
export interface Row {
  _uuid: string;
  [column: string]: unknown;
}

/**
 * A column's conversions, resolved once per table schema instead of per row and column:
 * the monitor path converts every column of every row of a large update, and looking up
 * the column schema, classifying its kind and formatting the error location each time
 * cost more than the conversion itself. The readers take a fast path for the usual wire
 * shapes and fall back to the general (validating, error-reporting) code in atoms.ts.
 */
interface ColumnCodec {
  readonly name: string;
  readonly type: ColumnType;
  readonly kind: ColumnKind;
  /** "Table.column", for error messages. */
  readonly where: string;
  /** Wire datum -> value. */
  readonly read: (w: Json) => Value;
  /** A modify diff -> value; sets and optionals read as unbounded sets (see applyRowDiff). */
  readonly readDiff: (w: Json) => Value;
  readonly equals: (a: Value, b: Value) => boolean;
}

interface TableCodec {
  readonly all: readonly ColumnCodec[];
  readonly byName: ReadonlyMap<string, ColumnCodec>;
  /** Codec lists for monitored column subsets, keyed by the (long-lived) columns array. */
  readonly subsets: WeakMap<readonly string[], readonly ColumnCodec[]>;
}

/** Reader for one atom: checks the JSON type inline; anything else goes to atomFromWire (which throws). */
function atomReader(base: BaseType, where: string): (w: Json) => Atom {
  switch (base.type) {
    case 'string':
      return (w) => (typeof w === 'string' ? w : atomFromWire(base, w, where));
    case 'integer':
    case 'real':
      return (w) => (typeof w === 'number' ? w : atomFromWire(base, w, where));
    case 'boolean':
      return (w) => (typeof w === 'boolean' ? w : atomFromWire(base, w, where));
    case 'uuid':
      return (w) => (Array.isArray(w) && w[0] === 'uuid' && typeof w[1] === 'string' ? w[1] : atomFromWire(base, w, where));
  }
}

function isWireSet(w: Json): w is ['set', Json[]] {
  return Array.isArray(w) && w[0] === 'set' && Array.isArray(w[1]);
}

function datumReader(type: ColumnType, kind: ColumnKind, where: string): (w: Json) => Value {
  const atom = atomReader(type.key, where);
  const general = (w: Json): Value => datumFromWire(type, w, where);
  switch (kind) {
    case 'scalar':
      // A bare atom is the normal encoding; ["set", [x]] is legal too and takes the general path.
      return (w) => (isWireSet(w) ? general(w) : atom(w));
    case 'optional':
      return (w) => {
        if (!isWireSet(w)) return atom(w);
        const e = w[1];
        return e.length === 0 ? null : e.length === 1 ? atom(e[0]!) : general(w);
      };
    case 'set':
      return (w) => {
        if (!isWireSet(w)) return [atom(w)];
        const e = w[1];
        const out: Atom[] = new Array<Atom>(e.length);
        for (let i = 0; i < e.length; i++) out[i] = atom(e[i]!);
        return out;
      };
    case 'map':
      return general;
  }
}

function datumComparer(type: ColumnType, kind: ColumnKind): (a: Value, b: Value) => boolean {
  // Atoms are primitives, so scalars and optionals compare with ===.
  if (kind === 'scalar' || kind === 'optional') return (a, b) => a === b || datumEquals(type, a, b);
  return (a, b) => datumEquals(type, a, b);
}

/**
 * A column of at most one element (a scalar, an optional value, a map of at most one pair)
 * arrives whole in an update2 "modify": ovsdb-server diffs only composite columns
 * (ovsdb_datum_diff: n_max > 1) and sends the new value of every other. Toggling an
 * optional column's old value against its new one (Bridge.fail_mode "standalone" then
 * "secure") left the cache wrong after every other change.
 */
function wholeInDiffs(type: ColumnType): boolean {
  return type.max === 1;
}

const codecs = new WeakMap<TableSchema, TableCodec>();

function tableCodec(t: TableSchema): TableCodec {
  let tc = codecs.get(t);
  if (tc) return tc;
  const byName = new Map<string, ColumnCodec>();
  for (const name of Object.keys(t.columns)) {
    const type = t.columns[name]!.type;
    const kind = columnKind(type);
    const where = `${t.name}.${name}`;
    const diffType = { ...type, min: 0, max: Infinity };
    byName.set(name, {
      name,
      type,
      kind,
      where,
      read: datumReader(type, kind, where),
      readDiff: wholeInDiffs(type) ? datumReader(type, kind, where) : datumReader(diffType, columnKind(diffType), where),
      equals: datumComparer(type, kind),
    });
  }
  const all = [...byName.values()];
  // The implicit columns convert like any uuid column when a diff or an explicit column
  // list carries them (ovsdb-server can send _version in a modify), but are not part
  // of a row's default column set.
  for (const name of ['_uuid', '_version']) {
    const type = UUID_COLUMN.type;
    const where = `${t.name}.${name}`;
    const read = datumReader(type, 'scalar', where);
    byName.set(name, { name, type, kind: 'scalar', where, read, readDiff: read, equals: datumComparer(type, 'scalar') });
  }
  tc = { all, byName, subsets: new WeakMap() };
  codecs.set(t, tc);
  return tc;
}

function columnCodec(tc: TableCodec, t: TableSchema, column: string): ColumnCodec {
  const c = tc.byName.get(column);
  if (c) return c;
  columnSchema(t, column); // throws the usual SchemaError for an unknown column
  throw new SchemaError(`${t.name}.${column}: no conversion for this column`); // unreachable: byName covers the schema
}

function codecsFor(t: TableSchema, columns?: readonly string[]): readonly ColumnCodec[] {
  const tc = tableCodec(t);
  if (!columns) return tc.all;
  let list = tc.subsets.get(columns);
  if (!list) {
    list = columns.filter((c) => c !== '_uuid').map((c) => columnCodec(tc, t, c));
    tc.subsets.set(columns, list);
  }
  return list;
}

/**
 * Converts a row from an initial/insert update or a select result. Columns missing from
 * the wire row take their default, since the server omits default values.
 */
export function rowFromWire(t: TableSchema, uuid: string, wire: { [c: string]: Json }, columns?: readonly string[]): Row {
  const row: Row = { _uuid: uuid };
  for (const c of codecsFor(t, columns)) {
    const w = wire[c.name];
    row[c.name] = w === undefined ? defaultValue(c.type) : c.read(w);
  }
  return row;
}

/** Converts the given columns (those present and not undefined) to a wire row. */
export function rowToWire(t: TableSchema, row: { [c: string]: unknown }): WireRow {
  const tc = tableCodec(t);
  const out: WireRow = {};
  for (const c in row) {
    const v = row[c];
    if (c === '_uuid' || c === '_version' || v === undefined) continue;
    const codec = columnCodec(tc, t, c);
    out[c] = datumToWire(codec.type, v, codec.where);
  }
  return out;
}

/**
 * Applies a "modify" row-update2. Columns of at most one element (scalars, optional
 * values) are replaced by the value sent; sets toggle every element of the diff; maps
 * delete a key whose diff value equals the old one, and otherwise insert or replace.
 */
export function applyRowDiff(t: TableSchema, old: Row, diff: WireRow): Row {
  return applyRowDiffChanged(t, old, diff).row;
}

/**
 * applyRowDiff, also telling whether any column really changed. Only the diff's columns
 * can differ from `old`, so the check costs O(diff), not O(row) like changedColumns.
 * @internal for the cache
 */
export function applyRowDiffChanged(t: TableSchema, old: Row, diff: WireRow): { row: Row; changed: boolean } {
  const tc = tableCodec(t);
  const next: Row = { ...old };
  let changed = false;
  for (const c in diff) {
    const codec = columnCodec(tc, t, c);
    const w = diff[c]!;
    const type = codec.type;
    let v: Value;
    if (wholeInDiffs(type)) {
      v = codec.readDiff(w);
    } else if (codec.kind === 'map') {
      const d = codec.readDiff(w);
      const m = new Map(mapOf((old[c] as Value) ?? defaultValue(type)));
      for (const [k, x] of mapOf(d)) {
        if (m.has(k) && m.get(k) === x) m.delete(k);
        else m.set(k, x);
      }
      v = fromMap(type, m);
    } else {
      const d = codec.readDiff(w) as Atom[];
      const s = new Set<Atom>(setAtoms(type, (old[c] as Value) ?? defaultValue(type)));
      for (const a of d) {
        if (s.has(a)) s.delete(a);
        else s.add(a);
      }
      v = fromSetAtoms(type, [...s]);
    }
    next[c] = v;
    if (!changed && !codec.equals(old[c] as Value, v)) changed = true;
  }
  return { row: next, changed };
}

/** Columns whose values differ between two rows of the same table. */
export function changedColumns(t: TableSchema, a: Row, b: Row, columns?: readonly string[]): string[] {
  const out: string[] = [];
  for (const c of codecsFor(t, columns)) if (!c.equals(a[c.name] as Value, b[c.name] as Value)) out.push(c.name);
  return out;
}

/** True when the rows differ in any of the columns (changedColumns without building the list). */
export function rowsDiffer(t: TableSchema, a: Row, b: Row, columns?: readonly string[]): boolean {
  for (const c of codecsFor(t, columns)) if (!c.equals(a[c.name] as Value, b[c.name] as Value)) return true;
  return false;
}
