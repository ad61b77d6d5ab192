/**
 * Whole-row conversions on top of atoms.ts: wire rows <-> TypeScript rows, and applying
 * an update2 "modify" diff (ovsdb-server(7) 4.1.14) to a cached row.
 */
import type { Json } from '../wire/json';
import type { WireRow } from '../wire/rpc';
import {
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
import { columnKind, columnSchema, type TableSchema } from './schema';

/** A row as the cache and the typed models see it: columns plus its uuid. */
export interface Row {
  _uuid: string;
  [column: string]: unknown;
}

function columnsOf(t: TableSchema, columns?: readonly string[]): readonly string[] {
  return columns ?? Object.keys(t.columns);
}

/**
 * Converts a row from an initial/insert update or a select result. Columns missing from
 * the wire row take their default, since the server omits default values.
 */
export function rowFromWire(t: TableSchema, uuid: string, wire: { [c: string]: Json }, columns?: readonly string[]): Row {
  const row: Row = { _uuid: uuid };
  for (const c of columnsOf(t, columns)) {
    if (c === '_uuid') continue;
    const type = columnSchema(t, c).type;
    const w = wire[c];
    row[c] = w === undefined ? defaultValue(type) : datumFromWire(type, w, `${t.name}.${c}`);
  }
  return row;
}

/** Converts the given columns (those present and not undefined) to a wire row. */
export function rowToWire(t: TableSchema, row: { [c: string]: unknown }): WireRow {
  const out: WireRow = {};
  for (const [c, v] of Object.entries(row)) {
    if (c === '_uuid' || c === '_version' || v === undefined) continue;
    out[c] = datumToWire(columnSchema(t, c).type, v, `${t.name}.${c}`);
  }
  return out;
}

/**
 * Applies a "modify" row-update2. Scalars are replaced; sets (including optional
 * columns, which OVSDB treats as 0..1 sets) toggle every element of the diff; maps
 * delete a key whose diff value equals the old one, and otherwise insert or replace.
 */
export function applyRowDiff(t: TableSchema, old: Row, diff: WireRow): Row {
  const next: Row = { ...old };
  for (const [c, w] of Object.entries(diff)) {
    const type = columnSchema(t, c).type;
    const where = `${t.name}.${c}`;
    const kind = columnKind(type);
    // A diff may hold more elements than the column allows (an optional column going
    // "x" -> "y" arrives as the two-element set {x, y}), so read it as an unbounded set.
    const d = datumFromWire(kind === 'scalar' ? type : { ...type, min: 0, max: Infinity }, w, where);
    if (kind === 'scalar') {
      next[c] = d;
    } else if (kind === 'map') {
      const m = new Map(mapOf((old[c] as Value) ?? defaultValue(type)));
      for (const [k, v] of mapOf(d)) {
        if (m.has(k) && m.get(k) === v) m.delete(k);
        else m.set(k, v);
      }
      next[c] = fromMap(type, m);
    } else {
      const s = new Set<Atom>(setAtoms(type, (old[c] as Value) ?? defaultValue(type)));
      for (const a of d as Atom[]) {
        if (s.has(a)) s.delete(a);
        else s.add(a);
      }
      next[c] = fromSetAtoms(type, [...s]);
    }
  }
  return next;
}

/** Columns whose values differ between two rows of the same table. */
export function changedColumns(t: TableSchema, a: Row, b: Row, columns?: readonly string[]): string[] {
  return columnsOf(t, columns).filter(
    (c) => c !== '_uuid' && !datumEquals(columnSchema(t, c).type, a[c] as Value, b[c] as Value),
  );
}
