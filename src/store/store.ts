/**
 * The storage interface every backend implements (SQLite embedded, etcd distributed).
 *
 * It is deliberately key/value shaped, like etcd and Kubernetes' storage.Interface:
 * a single global revision counter, every key carries the revision of its creation and
 * last modification, writes are grouped in atomic transactions with per-key
 * preconditions, and watches replay history from any revision still retained.
 * Kubernetes semantics (resourceVersion, 409 Conflict, 410 Gone) map one to one:
 * resourceVersion == modRevision, a failed precondition is a Conflict, and a watch or
 * list below the compacted revision is Gone.
 *
 * Values are opaque JSON-serialisable objects; the store never looks inside them.
 */

/** A stored value with the revisions the store tracks for it. */
export interface KeyValue<V = unknown> {
  key: string;
  value: V;
  /** Revision of the transaction that created this key (etcd create_revision). */
  createRevision: number;
  /** Revision of the transaction that last wrote this key (etcd mod_revision). */
  modRevision: number;
}

export type TxnOp<V = unknown> =
  /** Fails with KeyExistsError if the key exists. */
  | { type: 'create'; key: string; value: V }
  /**
   * Fails with KeyNotFoundError if the key is absent, and with ConflictError if
   * expectedModRevision is given and differs from the key's modRevision.
   */
  | { type: 'update'; key: string; value: V; expectedModRevision?: number }
  /** Same preconditions as update. */
  | { type: 'delete'; key: string; expectedModRevision?: number }
  /**
   * Writes nothing: fails with ConflictError unless the key's modRevision is
   * expectedModRevision (0: the key must be absent). A guard on a key the transaction reads
   * but does not write (etcd's compare without a put), so that writers who only read it do
   * not conflict with each other. A transaction needs at least one op that writes; the
   * result of a check is the key's state (absent: modRevision 0, value undefined).
   */
  | { type: 'check'; key: string; expectedModRevision: number };

export interface TxnResult<V = unknown> {
  /** The revision the transaction committed at (all its writes share it). */
  revision: number;
  /** One entry per op, in order: the key's state after the op (for delete: before it). */
  results: KeyValue<V>[];
}

export interface ListOptions {
  /** Maximum number of items; 0 or absent means all. */
  limit?: number;
  /** Exclusive lower bound on keys: list continues after this key. */
  startAfter?: string;
  /**
   * Read the snapshot at this revision (for consistent pagination). Absent: the latest.
   * Below the compacted revision: GoneError.
   */
  revision?: number;
}

export interface ListResult<V = unknown> {
  items: KeyValue<V>[];
  /** The revision the snapshot was read at. */
  revision: number;
  /** True when more keys with the prefix follow the last returned item. */
  more: boolean;
}

export type WatchEventType = 'put' | 'delete';

export interface WatchEvent<V = unknown> {
  type: WatchEventType;
  /** For 'put': the new state; for 'delete': the last state, with modRevision = deletion revision. */
  kv: KeyValue<V>;
  /** For 'put' of an existing key and for 'delete': the state before this event. */
  prevKv?: KeyValue<V>;
  /** True for a 'put' that created the key (createRevision == modRevision). */
  created: boolean;
}

export interface WatchOptions {
  /**
   * Deliver every event with revision > afterRevision, then live events.
   * Absent: live events only, after the current revision.
   * Below the compacted revision: GoneError (thrown synchronously by watch()).
   */
  afterRevision?: number;
  /**
   * A hint that the watcher wants only events whose value (or previous value) has
   * `of(value) === value`: the store may then leave the others out instead of offering
   * every event to every watcher (SQLite indexes such watches by value; etcd also shares one
   * etcd watch among those of a prefix). The watcher must still filter: a store may offer
   * more. Agents hold thousands of such watches (one per network and kind), each idle for
   * nearly every write; offered every event, they made writes 3-4x slower on SQLite and
   * 20x on etcd (bench:watch).
   */
  route?: WatchRoute;
  /**
   * Called at most once if the store ends this watch itself (GoneError: history it needed
   * was compacted, e.g. while etcd was unreachable; StoreError otherwise). No events follow:
   * the watcher lists again, as after a 410. SQLite never ends a watch.
   */
  onError?: (err: StoreError) => void;
}

export interface WatchRoute {
  /** Names the function: watches naming the same index share one, so one name, one `of`. */
  index: string;
  /** Reads the routed value; it sees values of every prefix (undefined: routes nowhere). */
  of: (value: unknown) => string | undefined;
  value: string;
}

export interface Watch {
  /** Stop delivery; idempotent. */
  stop(): void;
  /**
   * A revision up to which the handler has been given every event of this watch, possibly
   * past its last event (later commits did not concern it); absent where the backend cannot
   * tell more than the last event's revision.
   */
  progress?(): number;
}

/**
 * Receives events strictly in revision order, each exactly once. Events of one
 * transaction arrive in the transaction's op order.
 */
export type WatchHandler<V = unknown> = (event: WatchEvent<V>) => void;

export interface Store {
  get<V = unknown>(key: string): Promise<KeyValue<V> | undefined>;
  /** Keys starting with prefix, in ascending byte order of key. */
  list<V = unknown>(prefix: string, options?: ListOptions): Promise<ListResult<V>>;
  /** Count of keys under prefix at the latest revision. */
  count(prefix: string): Promise<number>;
  /** All ops commit together or none does. An empty op list is invalid. */
  txn<V = unknown>(ops: TxnOp<V>[]): Promise<TxnResult<V>>;
  watch<V = unknown>(prefix: string, handler: WatchHandler<V>, options?: WatchOptions): Watch;
  /** The latest committed revision (0 for an empty store). */
  currentRevision(): Promise<number>;
  /** The revision below which history is gone (0 if never compacted). */
  compactedRevision(): Promise<number>;
  /** Discard history with revision <= revision; watches and lists below it become Gone. */
  compact(revision: number): Promise<void>;
  close(): Promise<void>;
}

/** Base class of every error the store raises: callers switch on the subclass. */
export class StoreError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

export class KeyExistsError extends StoreError {
  constructor(readonly key: string) {
    super(`key ${key} already exists`);
  }
}

export class KeyNotFoundError extends StoreError {
  constructor(readonly key: string) {
    super(`key ${key} not found`);
  }
}

export class ConflictError extends StoreError {
  constructor(
    readonly key: string,
    readonly expectedModRevision: number,
    readonly actualModRevision: number,
  ) {
    super(`key ${key} was modified at revision ${actualModRevision}, expected ${expectedModRevision}`);
  }
}

export class GoneError extends StoreError {
  constructor(
    readonly requestedRevision: number,
    readonly compactedRevision: number,
  ) {
    super(`revision ${requestedRevision} has been compacted (oldest retained is ${compactedRevision + 1})`);
  }

  /** What a 410 says of it, for a watch from `after`: its history compacted (as kube-apiserver words it). */
  statusMessage(after: number): string {
    return `too old resource version: ${after} (${this.compactedRevision + 1})`;
  }
}

/**
 * A write made on behalf of a leader that is no longer one: its election key (bound to its
 * lease) is gone, so another replica may be reconciling. Nothing of the write was applied.
 */
export class FencedOffError extends StoreError {
  constructor(readonly fenceKey: string) {
    super(`not the leader any more (election key ${fenceKey} is gone): write refused`);
  }
}

export class StoreClosedError extends StoreError {
  constructor() {
    super('store is closed');
  }
}
