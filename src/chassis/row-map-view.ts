/**
 * A table of the OVSDB replica seen as a map by _uuid, read live: lookups go to the
 * replica's own index instead of a map copied from all its rows. For synchronous
 * readers (the layout plan walks a node's ports and interfaces each time it checks the
 * layout; copying thousands of VM NIC rows into maps first was most of that walk).
 */
export interface UuidTable<R> {
  readonly size: number;
  row(uuid: string): R | undefined;
  rows(): R[];
}

export class RowMapView<R extends { _uuid: string }> implements ReadonlyMap<string, R> {
  constructor(private readonly table: UuidTable<R>) {}

  get size(): number {
    return this.table.size;
  }

  get(uuid: string): R | undefined {
    return this.table.row(uuid);
  }

  has(uuid: string): boolean {
    return this.table.row(uuid) !== undefined;
  }

  *entries(): MapIterator<[string, R]> {
    for (const r of this.table.rows()) yield [r._uuid, r];
  }

  *keys(): MapIterator<string> {
    for (const r of this.table.rows()) yield r._uuid;
  }

  values(): MapIterator<R> {
    return this.table.rows().values();
  }

  forEach(fn: (value: R, key: string, map: ReadonlyMap<string, R>) => void, thisArg?: unknown): void {
    for (const r of this.table.rows()) fn.call(thisArg, r, r._uuid, this);
  }

  [Symbol.iterator](): MapIterator<[string, R]> {
    return this.entries();
  }
}
