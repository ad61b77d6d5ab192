/**
 * In-memory replica of the monitored part of one database, fed with update2-format
 * table updates. Listeners get one event per real row change, delivered after the
 * whole batch is applied so they can follow references to rows of the same batch.
 *
 * resync() replaces tables with a full snapshot (after a reconnect where the server
 * could not resume from our last transaction id) and emits only the differences, so a
 * reconnect never replays inserts the listener has already seen.
 */
import type { Json } from '../wire/json';
import type { RowUpdate2, TableUpdates2 } from '../wire/rpc';
import { applyRowDiffChanged, rowFromWire, rowsDiffer, type Row } from '../schema/row';
import { tableSchema, type DatabaseSchema } from '../schema/schema';
import type { AnyModel, ModelMap, TableName } from '../ops/operations';
import { silentLogger, type OvsdbLogger } from '../logger';
import { RowCache } from './row-cache';

export type ChangeKind = 'insert' | 'update' | 'delete';

export interface RowChange<R extends Row = Row> {
  table: string;
  kind: ChangeKind;
  uuid: string;
  /** Present for update and delete. */
  old?: R;
  /** Present for insert and update. */
  new?: R;
}

export type ChangeListener = (change: RowChange) => void;

type RowOf<M extends ModelMap, T extends TableName<M>> = M[T] & Row;

export class TableCache<M extends ModelMap = AnyModel> {
  private readonly tables = new Map<string, RowCache>();
  private readonly listeners = new Set<ChangeListener>();

  constructor(
    readonly schema: DatabaseSchema,
    private readonly log: OvsdbLogger = silentLogger,
  ) {}

  /** The table's replica (created empty on first use). */
  table<T extends TableName<M>>(name: T): RowCache<RowOf<M, T>> {
    return this.rawTable(name) as unknown as RowCache<RowOf<M, T>>;
  }

  private rawTable(name: string): RowCache {
    let t = this.tables.get(name);
    if (!t) {
      t = new RowCache(tableSchema(this.schema, name));
      this.tables.set(name, t);
    }
    return t;
  }

  tableNames(): string[] {
    return [...this.tables.keys()];
  }

  /** Subscribes to row changes; returns the unsubscribe function. */
  on(listener: ChangeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Applies update2/update3 contents (or the reply to a monitor request). */
  applyUpdates(updates: TableUpdates2): RowChange[] {
    const changes: RowChange[] = [];
    // for..in rather than Object.entries: a 10,000-row update would otherwise allocate
    // 10,000 [key, value] pairs just to be thrown away.
    for (const tname in updates) {
      const rows = updates[tname]!;
      const t = this.rawTable(tname);
      for (const uuid in rows) {
        const c = this.applyRow(t, tname, uuid, rows[uuid]!);
        if (c) changes.push(c);
      }
    }
    this.emit(changes);
    return changes;
  }

  /**
   * Makes `tables` equal to the snapshot (rows given as initial/insert updates),
   * emitting inserts, updates and deletes only for rows that actually differ.
   */
  resync(tables: readonly string[], snapshot: TableUpdates2): RowChange[] {
    const changes: RowChange[] = [];
    for (const tname of tables) {
      const t = this.rawTable(tname);
      const fresh = snapshot[tname] ?? {};
      for (const uuid of t.uuids()) {
        if (!(uuid in fresh)) {
          const old = t.delete(uuid)!;
          changes.push({ table: tname, kind: 'delete', uuid, old });
        }
      }
      for (const [uuid, ru] of Object.entries(fresh)) {
        const c = this.applyRow(t, tname, uuid, ru);
        if (c) changes.push(c);
      }
    }
    this.emit(changes);
    return changes;
  }

  private applyRow(t: RowCache, table: string, uuid: string, ru: RowUpdate2): RowChange | undefined {
    const full = ru.initial ?? ru.insert;
    if (full) {
      const row = rowFromWire(t.schema, uuid, full as { [c: string]: Json }, t.columns);
      const old = t.row(uuid);
      if (old && !rowsDiffer(t.schema, old, row, t.columns)) return undefined;
      t.set(row, old ?? null);
      return old ? { table, kind: 'update', uuid, old, new: row } : { table, kind: 'insert', uuid, new: row };
    }
    if (ru.modify) {
      const old = t.row(uuid);
      if (!old) {
        // Cannot apply a diff without a base; a full resync will repair the replica.
        this.log.warn({ table, uuid }, 'ovsdb cache: modify for unknown row ignored');
        return undefined;
      }
      const { row, changed } = applyRowDiffChanged(t.schema, old, ru.modify);
      if (!changed) return undefined;
      t.set(row, old);
      return { table, kind: 'update', uuid, old, new: row };
    }
    if ('delete' in ru) {
      const old = t.delete(uuid);
      return old ? { table, kind: 'delete', uuid, old } : undefined;
    }
    return undefined;
  }

  private emit(changes: RowChange[]): void {
    if (!changes.length || !this.listeners.size) return;
    // A snapshot, so a listener that unsubscribes (or subscribes) mid-batch does not
    // change who hears the rest of this batch.
    const listeners = [...this.listeners];
    for (const c of changes) {
      for (const l of listeners) {
        try {
          l(c);
        } catch (e) {
          // A throwing listener must not leave the replica half-notified for the others.
          this.log.error({ err: e, table: c.table, uuid: c.uuid }, 'ovsdb cache: change listener threw');
        }
      }
    }
  }
}
