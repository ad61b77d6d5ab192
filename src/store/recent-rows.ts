/**
 * The current rows this process wrote last, as SQLite holds them (the stored JSON text and
 * revisions), so that a point read of a key just written needs no query. Reconcilers read an
 * object again right after its create or status write (each status write reads it afresh),
 * and at N=3000 those queries were about 1.5% of vnetd's CPU.
 *
 * Only committed state goes in (after the batch's SQLite transaction returned), and every
 * write to the current table passes through the one process that holds the file (it is
 * opened exclusively), so an entry is what a query would return. Bounded: the oldest write
 * goes first; a miss just queries.
 */
export interface StoredRow {
  key: string;
  value: string;
  create_rev: number;
  mod_rev: number;
}

export class RecentRows {
  private readonly rows = new Map<string, StoredRow>();

  constructor(private readonly capacity = 2048) {}

  get size(): number {
    return this.rows.size;
  }

  get(key: string): StoredRow | undefined {
    return this.rows.get(key);
  }

  /** The key's row after a committed create or update. */
  put(row: StoredRow): void {
    // Re-inserted so that Map order is write order: the first entry is the oldest.
    this.rows.delete(row.key);
    this.rows.set(row.key, row);
    if (this.rows.size > this.capacity) this.rows.delete(this.rows.keys().next().value as string);
  }

  /** The key was deleted (or its state is unknown). */
  forget(key: string): void {
    this.rows.delete(key);
  }

  clear(): void {
    this.rows.clear();
  }
}
