/**
 * The replica of one table: rows by uuid plus secondary indexes computed by key
 * functions (a column name, or any function such as
 * `r => r.external_ids['iface-id']`). Rows are immutable snapshots: an update
 * replaces the object, so the `old` row handed to listeners stays valid.
 */
import type { Row } from '../schema/row';
import type { TableSchema } from '../schema/schema';
import { matchesAll, type AnyCondition } from '../ops/condition';
import { OvsdbError } from '../errors';

/** Returns the key(s) a row is indexed under; undefined/null/'' means not indexed. */
export type IndexKeyFn<R> = (row: R) => string | number | ReadonlyArray<string | number> | undefined | null;

interface Index<R> {
  keyFn: IndexKeyFn<R>;
  entries: Map<string | number, Set<string>>;
}

function keysOf<R>(fn: IndexKeyFn<R>, row: R): Array<string | number> {
  const k = fn(row);
  if (k === undefined || k === null || k === '') return [];
  return Array.isArray(k) ? (k as Array<string | number>) : [k as string | number];
}

export class RowCache<R extends Row = Row> {
  private readonly rowsById = new Map<string, R>();
  private readonly indexes = new Map<string, Index<R>>();
  /** Columns the monitor asked for; undefined = all. Conversions fill defaults for these. */
  columns: readonly string[] | undefined;

  constructor(readonly schema: TableSchema) {}

  get size(): number {
    return this.rowsById.size;
  }
  row(uuid: string): R | undefined {
    return this.rowsById.get(uuid);
  }
  rows(): R[] {
    return [...this.rowsById.values()];
  }
  uuids(): string[] {
    return [...this.rowsById.keys()];
  }
  rowsByCondition(where: ReadonlyArray<AnyCondition>): R[] {
    return this.rows().filter((r) => matchesAll(this.schema, r, where));
  }

  /** Adds (or replaces) an index; existing rows are indexed at once. */
  addIndex(name: string, key: (keyof R & string) | IndexKeyFn<R>): void {
    const keyFn: IndexKeyFn<R> = typeof key === 'function' ? key : (r) => r[key] as string | number | undefined;
    const ix: Index<R> = { keyFn, entries: new Map() };
    this.indexes.set(name, ix);
    for (const r of this.rowsById.values()) this.indexRow(ix, r);
  }
  lookup(index: string, key: string | number): R[] {
    const uuids = this.indexEntries(index).get(key);
    if (!uuids) return [];
    // One array, no spread: controllers look rows up per port per compile.
    const out = new Array<R>(uuids.size);
    let i = 0;
    for (const u of uuids) out[i++] = this.rowsById.get(u)!;
    return out;
  }
  lookupOne(index: string, key: string | number): R | undefined {
    const uuids = this.indexEntries(index).get(key);
    if (uuids) for (const u of uuids) return this.rowsById.get(u);
    return undefined;
  }
  private indexEntries(index: string): Map<string | number, Set<string>> {
    const ix = this.indexes.get(index);
    if (!ix) throw new OvsdbError(`no index ${index} on table ${this.schema.name}`);
    return ix.entries;
  }

  /**
   * @internal Used by TableCache; returns the previous row. `known` is the current row
   * when the caller already looked it up (saves a second map lookup per row); null
   * means the caller knows there is none.
   */
  set(row: R, known?: R | null): R | undefined {
    const old = known === null ? undefined : (known ?? this.rowsById.get(row._uuid));
    this.rowsById.set(row._uuid, row);
    if (this.indexes.size) {
      for (const ix of this.indexes.values()) {
        if (old) this.unindexRow(ix, old);
        this.indexRow(ix, row);
      }
    }
    return old;
  }
  /** @internal */
  delete(uuid: string): R | undefined {
    const old = this.rowsById.get(uuid);
    if (!old) return undefined;
    for (const ix of this.indexes.values()) this.unindexRow(ix, old);
    this.rowsById.delete(uuid);
    return old;
  }

  private indexRow(ix: Index<R>, r: R): void {
    for (const k of keysOf(ix.keyFn, r)) {
      let s = ix.entries.get(k);
      if (!s) ix.entries.set(k, (s = new Set()));
      s.add(r._uuid);
    }
  }
  private unindexRow(ix: Index<R>, r: R): void {
    for (const k of keysOf(ix.keyFn, r)) {
      const s = ix.entries.get(k);
      s?.delete(r._uuid);
      if (s && !s.size) ix.entries.delete(k);
    }
  }
}
