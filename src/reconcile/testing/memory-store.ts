/**
 * An in-memory Store for tests: the same semantics as the real backends (one revision
 * per txn, preconditions, snapshot lists at a revision, watch replay then live events in
 * order, GoneError below the compacted revision) with none of their I/O. It keeps the
 * whole history, so compaction only moves the Gone boundary.
 *
 * Watch events are delivered from a microtask queue, never inside txn(): tests written
 * against it therefore cannot depend on synchronous delivery.
 */
import {
  ConflictError,
  GoneError,
  KeyExistsError,
  KeyNotFoundError,
  StoreClosedError,
  StoreError,
  type KeyValue,
  type ListOptions,
  type ListResult,
  type Store,
  type TxnOp,
  type TxnResult,
  type Watch,
  type WatchEvent,
  type WatchHandler,
  type WatchOptions,
} from '../../store/store';

interface LogEntry {
  revision: number;
  event: WatchEvent;
}

class MemoryWatcher {
  private queue: WatchEvent[] = [];
  private scheduled = false;
  stopped = false;

  constructor(
    readonly prefix: string,
    private readonly handler: WatchHandler,
    /** Events at or below this revision are not delivered (a watch may start in the future). */
    private readonly afterRevision: number,
  ) {}

  push(events: WatchEvent[]): void {
    if (this.stopped) return;
    for (const e of events) {
      if (e.kv.key.startsWith(this.prefix) && e.kv.modRevision > this.afterRevision) this.queue.push(clone(e));
    }
    if (this.queue.length > 0 && !this.scheduled) {
      this.scheduled = true;
      queueMicrotask(() => this.drain());
    }
  }

  private drain(): void {
    this.scheduled = false;
    while (!this.stopped && this.queue.length > 0) {
      const e = this.queue.shift() as WatchEvent;
      try {
        this.handler(e);
      } catch {
        // A throwing handler must not stall other events, as in the real stores.
      }
    }
  }
}

export class MemoryStore implements Store {
  private revision = 0;
  private compacted = 0;
  private closed = false;
  private readonly current = new Map<string, KeyValue>();
  private readonly log: LogEntry[] = [];
  private readonly watchers = new Set<MemoryWatcher>();

  async get<V = unknown>(key: string): Promise<KeyValue<V> | undefined> {
    this.assertOpen();
    const kv = this.current.get(key);
    return kv && (clone(kv) as KeyValue<V>);
  }

  async list<V = unknown>(prefix: string, options: ListOptions = {}): Promise<ListResult<V>> {
    this.assertOpen();
    const revision = options.revision ?? this.revision;
    if (revision < this.compacted) throw new GoneError(revision, this.compacted);
    if (revision > this.revision) throw new StoreError(`list revision ${revision} is newer than the current revision ${this.revision}`);
    const snapshot = revision === this.revision ? this.current : this.snapshotAt(revision);
    let keys = [...snapshot.keys()].filter((k) => k.startsWith(prefix)).sort(compareBytes);
    if (options.startAfter !== undefined) {
      const after = options.startAfter;
      keys = keys.filter((k) => compareBytes(k, after) > 0);
    }
    const limit = options.limit ?? 0;
    const more = limit > 0 && keys.length > limit;
    if (more) keys = keys.slice(0, limit);
    return { items: keys.map((k) => clone(snapshot.get(k) as KeyValue) as KeyValue<V>), revision, more };
  }

  async count(prefix: string): Promise<number> {
    this.assertOpen();
    let n = 0;
    for (const k of this.current.keys()) if (k.startsWith(prefix)) n++;
    return n;
  }

  async txn<V = unknown>(ops: TxnOp<V>[]): Promise<TxnResult<V>> {
    this.assertOpen();
    if (ops.length === 0) throw new StoreError('a transaction needs at least one op');
    if (ops.every((op) => op.type === 'check')) throw new StoreError('a transaction needs at least one op that writes');
    const keys = new Set(ops.map((op) => op.key));
    if (keys.size !== ops.length) throw new StoreError('a transaction may touch each key only once');
    // Check everything against a scratch copy first so a failure leaves no trace.
    const scratch = new Map(this.current);
    const revision = this.revision + 1;
    const events: WatchEvent[] = [];
    const results: KeyValue[] = [];
    for (const op of ops) {
      const cur = scratch.get(op.key);
      if (op.type === 'check') {
        if ((cur?.modRevision ?? 0) !== op.expectedModRevision) throw new ConflictError(op.key, op.expectedModRevision, cur?.modRevision ?? 0);
        results.push(cur ?? { key: op.key, value: undefined, createRevision: 0, modRevision: 0 });
        continue;
      }
      if (op.type === 'create') {
        if (cur) throw new KeyExistsError(op.key);
        const kv: KeyValue = { key: op.key, value: clone(op.value), createRevision: revision, modRevision: revision };
        scratch.set(op.key, kv);
        events.push({ type: 'put', kv, created: true });
        results.push(kv);
        continue;
      }
      if (!cur) throw new KeyNotFoundError(op.key);
      if (op.expectedModRevision !== undefined && op.expectedModRevision !== cur.modRevision) {
        throw new ConflictError(op.key, op.expectedModRevision, cur.modRevision);
      }
      if (op.type === 'update') {
        const kv: KeyValue = { key: op.key, value: clone(op.value), createRevision: cur.createRevision, modRevision: revision };
        scratch.set(op.key, kv);
        events.push({ type: 'put', kv, prevKv: cur, created: false });
        results.push(kv);
      } else {
        scratch.delete(op.key);
        events.push({ type: 'delete', kv: { ...cur, modRevision: revision }, prevKv: cur, created: false });
        results.push(cur);
      }
    }
    this.current.clear();
    for (const [k, v] of scratch) this.current.set(k, v);
    this.revision = revision;
    for (const event of events) this.log.push({ revision, event });
    for (const w of this.watchers) w.push(events);
    return { revision, results: results.map((kv) => clone(kv) as KeyValue<V>) };
  }

  watch<V = unknown>(prefix: string, handler: WatchHandler<V>, options: WatchOptions = {}): Watch {
    this.assertOpen();
    const after = options.afterRevision;
    if (after !== undefined && after < this.compacted) throw new GoneError(after, this.compacted);
    const w = new MemoryWatcher(prefix, handler as WatchHandler, Math.max(after ?? this.revision, 0));
    if (after !== undefined) w.push(this.log.filter((e) => e.revision > after).map((e) => e.event));
    this.watchers.add(w);
    return {
      stop: () => {
        w.stopped = true;
        this.watchers.delete(w);
      },
    };
  }

  async currentRevision(): Promise<number> {
    this.assertOpen();
    return this.revision;
  }

  async compactedRevision(): Promise<number> {
    this.assertOpen();
    return this.compacted;
  }

  async compact(revision: number): Promise<void> {
    this.assertOpen();
    if (revision > this.revision) throw new StoreError(`cannot compact at ${revision}, beyond the current revision ${this.revision}`);
    if (revision > this.compacted) this.compacted = revision;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const w of this.watchers) w.stopped = true;
    this.watchers.clear();
  }

  /** Number of open watches: lets tests check that informers clean up after themselves. */
  get watchCount(): number {
    return this.watchers.size;
  }

  private snapshotAt(revision: number): Map<string, KeyValue> {
    const m = new Map<string, KeyValue>();
    for (const { revision: r, event } of this.log) {
      if (r > revision) break;
      if (event.type === 'put') m.set(event.kv.key, event.kv);
      else m.delete(event.kv.key);
    }
    return m;
  }

  private assertOpen(): void {
    if (this.closed) throw new StoreClosedError();
  }
}

function clone<T>(v: T): T {
  return structuredClone(v);
}

/** Byte order of UTF-8, as the Store contract requires (JS string order is UTF-16). */
function compareBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}
