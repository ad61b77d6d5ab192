/**
 * Client-side state of one monitor: the request (kept in TypeScript form so it can be
 * re-sent after a reconnect, with conditions as last changed), the last transaction
 * id, and the translation of replies into cache operations.
 */
import { OvsdbError } from '../errors';
import type { TableCache } from '../cache/table-cache';
import { conditionToWire, type AnyCondition } from '../ops/condition';
import { tableSchema, type DatabaseSchema } from '../schema/schema';
import { isJsonObject, type Json } from '../wire/json';
import { ZERO_UUID, type MonitorSelect, type TableUpdates2, type WireMonitorCondRequests } from '../wire/rpc';

export interface TableMonitorSpec {
  columns?: string[];
  where?: AnyCondition[];
  select?: MonitorSelect;
}

export class MonitorState {
  lastTxnId: string | undefined;
  cancelled = false;

  constructor(
    readonly id: string,
    readonly method: 'monitor_cond_since' | 'monitor_cond',
    readonly tables: Map<string, TableMonitorSpec>,
  ) {}

  wireRequests(schema: DatabaseSchema): WireMonitorCondRequests {
    const out: WireMonitorCondRequests = {};
    for (const [table, spec] of this.tables) {
      const ts = tableSchema(schema, table);
      out[table] = [
        {
          ...(spec.columns ? { columns: spec.columns } : {}),
          ...(spec.where ? { where: spec.where.map((c) => conditionToWire(ts, c)) } : {}),
          ...(spec.select ? { select: spec.select } : {}),
        },
      ];
    }
    return out;
  }

  params(db: string, schema: DatabaseSchema): Json[] {
    const reqs = this.wireRequests(schema) as unknown as Json;
    return this.method === 'monitor_cond_since' ? [db, this.id, reqs, this.lastTxnId ?? ZERO_UUID] : [db, this.id, reqs];
  }

  /** Tells the cache which columns each table carries, before any row arrives. */
  prepareCache(cache: TableCache): void {
    for (const [table, spec] of this.tables) cache.table(table).columns = spec.columns;
  }

  /**
   * Applies a monitor reply. A reply that resumes (found=true) carries only the
   * changes since lastTxnId; anything else is a full snapshot, diffed against the cache.
   */
  applyReply(cache: TableCache, result: Json): { found: boolean } {
    let found = false;
    let updates: Json;
    if (this.method === 'monitor_cond_since') {
      if (!Array.isArray(result) || result.length !== 3 || typeof result[0] !== 'boolean' || typeof result[1] !== 'string') {
        throw new OvsdbError('bad monitor_cond_since reply');
      }
      found = result[0];
      this.lastTxnId = result[1] === ZERO_UUID && found ? this.lastTxnId : result[1];
      updates = result[2]!;
    } else {
      updates = result;
    }
    if (!isJsonObject(updates)) throw new OvsdbError(`bad ${this.method} reply`);
    if (found) cache.applyUpdates(updates as unknown as TableUpdates2);
    else {
      // A table monitored without initial rows gets no snapshot, so it cannot be diffed.
      const snapshotTables = [...this.tables].filter(([, s]) => s.select?.initial !== false).map(([t]) => t);
      cache.resync(snapshotTables, updates as unknown as TableUpdates2);
    }
    return { found };
  }
}
