/**
 * Store on etcd v3 (npm etcd3), with the SQLite store's semantics.
 *
 * - Revisions are etcd's, shifted by one (see etcd-codec.ts): an empty etcd reads 0.
 * - txn() is one etcd Txn: compares (version == 0 for create, version > 0 for update/delete,
 *   mod_revision == expected for preconditions), puts/deletes with prev_kv on success, and
 *   on failure a range of every key, read atomically with the failed compares, from which
 *   the first failing op (in op order) is named with a typed error.
 * - Reads are linearizable (etcd's default): a controller replica must see every write
 *   acknowledged to another replica. Lists at an explicit revision too: a serializable read
 *   at a revision a lagging member has not applied yet would fail as "future revision".
 * - Compaction is cluster-wide in etcd, and may be done by etcd itself (auto-compaction)
 *   or another client. The store tracks the highest compacted revision it has learned of;
 *   watch() throws GoneError synchronously below it. A watch that etcd later cancels for
 *   compaction is stopped and reported via WatchOptions.onError, else the store's
 *   onWatchError option, else logged: after it no events follow (relist, like a 410).
 * - keyPrefix puts the store's keys under a prefix, so several stores share one etcd.
 */
import { Etcd3, GRPCDeadlineExceededError, GRPCResourceExhastedError, isRecoverableError, type IOptions, type IRangeRequest, type IRangeResponse } from 'etcd3';
import pino from 'pino';
import {
  checkRevision,
  isCompactedError,
  isFutureRevisionError,
  KeyCodec,
  toEtcdRevision,
  toKeyValue,
  toStoreRevision,
} from './etcd-codec';
import { lostInFlight } from './unavailable';
import { runTxn } from './etcd-txn';
import { EtcdWatch } from './etcd-watch';
import { SharedPrefixWatch } from './etcd-shared-watch';
import { Watcher, type Batch } from './watch-hub';
import {
  GoneError,
  StoreClosedError,
  StoreError,
  type KeyValue,
  type ListOptions,
  type ListResult,
  type Store,
  type TxnOp,
  type TxnResult,
  type Watch,
  type WatchHandler,
  type WatchOptions,
} from './store';

/** Any key works to read the header revision; etcd refuses an empty one. */
const PROBE_KEY = Buffer.from([0]);

export interface EtcdStoreOptions {
  /** etcd client URLs, e.g. ['http://127.0.0.1:2379']. */
  endpoints: string[];
  /** Prefix of every key this store writes; '' for the whole keyspace. */
  keyPrefix?: string;
  logger?: pino.Logger;
  /** Where failures of watches without their own onError go (default: logged). */
  onWatchError?: (err: StoreError) => void;
  /**
   * How long txn() waits for this process's matching watches to deliver its revision
   * (default 2000 ms); see txn().
   */
  watchDeliveryWaitMs?: number;
  /** Passed through to the etcd3 client (TLS, auth, timeouts). */
  client?: Omit<IOptions, 'hosts'>;
  /**
   * How often, while watches are open, the store reads etcd's revision to learn that it
   * went back (etcd restored from a backup; see revisionWentBack). Default 5000 ms; 0: never
   * (a restore is then learnt at the next read or write only).
   */
  restoreCheckMs?: number;
}

/**
 * etcd answered with a revision lower than one it had answered before a request was sent: its
 * history was replaced by an older one (a restore from a snapshot or a backup of its data).
 * Watches waiting at the old revisions would see nothing until etcd's revision caught up
 * with them, and then only what came after: each ends with this, a Gone, so that its owner
 * lists again (an informer does; an API watch answers 410 and kubectl lists again).
 */
export class RevisionWentBackError extends GoneError {
  constructor(
    requestedRevision: number,
    readonly from: number,
    readonly to: number,
  ) {
    super(requestedRevision, to);
    this.message = `etcd's revision went back from ${from} to ${to} (restored from a backup): revision ${requestedRevision} is not in its history; list again`;
  }

  /** Not too old: newer than the restored history (QA-146 F2: "too old resource version: 1081 (1057)"). */
  override statusMessage(after: number): string {
    return `resource version ${after} is not in the store's history: its revision went back from ${this.from} to ${this.to} (etcd restored from a backup); list again`;
  }
}

/** How long a unary etcd call may take before it fails (GRPCDeadlineExceededError: the API answers 504 Timeout). */
const CALL_DEADLINE_MS = 5_000;
/** A physical compaction of a long history may take that long, and is idempotent. */
const COMPACT_DEADLINE_MS = 120_000;
/** etcd3's own: a recoverable error is tried again, up to three more times. */
const RETRIES = 3;

type GlobalPolicy = NonNullable<NonNullable<IOptions['faultHandling']>['global']>;

/**
 * etcd3's global retry of a recoverable error, less two cases: a call that ran out of its
 * deadline, and one whose connection was lost under it (lostInFlight: etcd3 retries any
 * UNAVAILABLE). Its outcome is unknown (a write may have been applied), and sent again it would
 * fail its own compare (a create answered 409 AlreadyExists for an object it had made); it
 * goes to the caller instead, as kube-apiserver answers 504 Timeout. Only execute() is used
 * of the policy (connection-pool.js); cockatiel is etcd3's dependency, not ours.
 */
const retryUnlessTimedOut = {
  async execute<T>(fn: (context: { signal: AbortSignal; attempt: number }) => PromiseLike<T> | T, signal = new AbortController().signal): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await fn({ signal, attempt });
      } catch (err) {
        // A full database (RESOURCE_EXHAUSTED) refuses every write alike until an operator acts: not retried.
        if (attempt >= RETRIES || !(err instanceof Error) || !isRecoverableError(err) || err instanceof GRPCDeadlineExceededError || err instanceof GRPCResourceExhastedError || lostInFlight(err)) throw err;
      }
    }
  },
} as unknown as GlobalPolicy;

type HostPolicy = ReturnType<NonNullable<NonNullable<IOptions['faultHandling']>['host']>>;

/** etcd3's per-host breaker: so many failures of a host in a row stop calls to it for a while. */
const HOST_FAILURES_TO_OPEN = 3;
const HOST_OPEN_MS = 5_000;
/** While open, one call in this long is let through as a trial: its answer closes the breaker. */
const HOST_TRIAL_MS = 500;
/** A host that answered a call this recently is alive, however many of its calls failed since. */
const HOST_ALIVE_MS = 1_000;

/**
 * As cockatiel's: etcd3 and storeFailure know it by its flag. A class of its own, not a plain
 * Error: etcd3 recasts plain Errors by their message (castGrpcError), which drops the flag.
 */
class BrokenCircuitError extends Error {
  readonly isBrokenCircuitError = true;
  constructor() {
    super('Execution prevented because the circuit breaker is open');
  }
}

/**
 * etcd3's per-host circuit breaker (three failures in a row stop calls to the host for up to
 * 5 s, other hosts taking them), counting only failures of the host itself: not
 * RESOURCE_EXHAUSTED, a refusal a healthy etcd answers while its database is full. Counted, it
 * opened the breaker after three refused writes, and every read, list and /readyz answered 503
 * (QA). Nor while the host answered another call within the last second: with many calls in
 * flight, three of them running out of their deadline says the host (or this process) is slow,
 * not gone, and opened, the breaker turned a burst (a new leader's first pass) into 5 s of 503
 * for every request of the replica, twice per failover (QA-99). While open, one call every
 * 500 ms goes through as a trial, and an answer closes it: a host back from a restart takes
 * calls again at once, not when the 5 s are up (every host of a cluster restarted together).
 * Only execute() is used of a host policy (connection-pool.js).
 */
export function hostBreaker(now: () => number = Date.now): HostPolicy {
  let failures = 0;
  let openUntil = 0;
  let answeredAt = -Infinity;
  let trialAt = 0;
  let trialInFlight = false;
  return {
    async execute<T>(fn: (context: { signal: AbortSignal; attempt: number }) => PromiseLike<T> | T, signal = new AbortController().signal): Promise<T> {
      const trial = now() < openUntil;
      if (trial && (trialInFlight || now() < trialAt)) throw new BrokenCircuitError();
      if (trial) trialInFlight = true;
      try {
        const result = await fn({ signal, attempt: 0 });
        failures = 0;
        openUntil = 0;
        answeredAt = now();
        return result;
      } catch (err) {
        if (err instanceof Error && isRecoverableError(err) && !(err instanceof GRPCResourceExhastedError)) {
          if (trial) trialAt = now() + HOST_TRIAL_MS;
          else if (++failures >= HOST_FAILURES_TO_OPEN && now() - answeredAt >= HOST_ALIVE_MS) {
            failures = 0;
            openUntil = now() + HOST_OPEN_MS;
            trialAt = now() + HOST_TRIAL_MS;
          }
        } else {
          failures = 0;
          openUntil = 0;
          // A refusal is an answer.
          answeredAt = now();
        }
        throw err;
      } finally {
        if (trial) trialInFlight = false;
      }
    },
  } as unknown as HostPolicy;
}

/**
 * A single etcd has no other host to take its calls: a breaker there only turned its restart
 * into 5 s more of 503 after it answered again (three failed calls during the outage, a
 * watch's reconnects among them, opened it; CI). Its calls fail fast on their own while it is
 * down (connection refused), and wait out their deadline while it does not answer.
 */
const noBreaker = {
  // async: etcd3's markFailed hands it a function that throws, and catches a rejection.
  async execute<T>(fn: (context: { signal: AbortSignal; attempt: number }) => PromiseLike<T> | T, signal = new AbortController().signal): Promise<T> {
    return await fn({ signal, attempt: 0 });
  },
} as unknown as HostPolicy;

export class EtcdStore implements Store {
  private closed = false;
  /** Highest store revision seen in any etcd response: where live-only watches start. */
  private known = 0;
  /** How many times etcd's history was seen to go back (observe). */
  private histories = 0;
  /** Highest compacted store revision learned of (own compact(), probes, errors). */
  private compacted = 0;
  private readonly watches = new Set<EtcdWatch>();
  /** Shared etcd watches of routed watches, by prefix. */
  private readonly channels = new Map<string, SharedPrefixWatch>();
  private readonly keys: KeyCodec;
  private readonly restoreCheck?: NodeJS.Timeout;

  private constructor(
    private readonly client: Etcd3,
    private readonly options: EtcdStoreOptions,
    private readonly logger: pino.Logger,
  ) {
    this.keys = new KeyCodec(options.keyPrefix ?? '');
    const every = options.restoreCheckMs ?? 5_000;
    if (every > 0) {
      // Only while watches wait: a restore is learnt by every read and write anyway.
      this.restoreCheck = setInterval(() => {
        if (this.watches.size > 0) this.currentRevision().catch((err: unknown) => this.logger.debug({ err }, 'etcd revision check failed'));
      }, every);
      this.restoreCheck.unref();
    }
  }

  /** Connects and reads the current and compacted revisions (so watch() can check synchronously). */
  static async open(options: EtcdStoreOptions): Promise<EtcdStore> {
    const logger = options.logger ?? pino({ level: 'silent' });
    // Every call but a stream (watches, keepalives) with a deadline: an etcd that stops
    // answering without closing its connections (a partition, a stopped process) held every
    // API request and /readyz until it came back (QA: 50 s); past the deadline the call fails,
    // and the API answers 504 Timeout with Retry-After, as kube-apiserver bounds its store calls.
    const defaultCallOptions = options.client?.defaultCallOptions ?? ((ctx: { isStream: boolean }) => (ctx.isStream ? {} : { deadline: Date.now() + CALL_DEADLINE_MS }));
    const host = options.endpoints.length > 1 ? () => hostBreaker() : () => noBreaker;
    const faultHandling = { global: retryUnlessTimedOut, host, ...options.client?.faultHandling };
    const client = new Etcd3({ ...options.client, defaultCallOptions, faultHandling, hosts: options.endpoints });
    const store = new EtcdStore(client, options, logger);
    try {
      await store.compactedRevision();
    } catch (err) {
      client.close();
      throw err;
    }
    return store;
  }

  async get<V = unknown>(key: string): Promise<KeyValue<V> | undefined> {
    this.assertOpen();
    const res = await this.range({ key: this.keys.encode(key) });
    const kv = res.kvs[0];
    return kv && toKeyValue<V>(this.keys, kv);
  }

  async list<V = unknown>(prefix: string, options: ListOptions = {}): Promise<ListResult<V>> {
    this.assertOpen();
    const limit = options.limit ?? 0;
    if (!Number.isSafeInteger(limit) || limit < 0) throw new StoreError(`limit must be a non-negative integer, got ${limit}`);
    if (options.revision !== undefined) {
      checkRevision('list revision', options.revision);
      if (options.revision < this.compacted) throw new GoneError(options.revision, this.compacted);
    }
    const { key, rangeEnd } = this.keys.prefixRange(prefix);
    let start = key;
    if (options.startAfter !== undefined && Buffer.compare(Buffer.from(options.startAfter), Buffer.from(prefix)) >= 0) {
      // The immediate byte-order successor of startAfter: startAfter + 0x00.
      start = Buffer.concat([this.keys.encode(options.startAfter), Buffer.from([0])]);
    }
    const unbounded = rangeEnd.length === 1 && rangeEnd[0] === 0;
    const empty = !unbounded && Buffer.compare(start, rangeEnd) >= 0;
    const res = await this.range({
      key: start,
      range_end: rangeEnd,
      limit,
      count_only: empty,
      ...(options.revision !== undefined ? { revision: toEtcdRevision(options.revision) } : {}),
    });
    return {
      items: empty ? [] : res.kvs.map((kv) => toKeyValue<V>(this.keys, kv)),
      revision: options.revision ?? toStoreRevision(res.header.revision),
      more: !empty && limit > 0 && res.more,
    };
  }

  async count(prefix: string): Promise<number> {
    this.assertOpen();
    const { key, rangeEnd } = this.keys.prefixRange(prefix);
    return Number((await this.range({ key, range_end: rangeEnd, count_only: true })).count);
  }

  async txn<V = unknown>(ops: TxnOp<V>[], fence?: string): Promise<TxnResult<V>> {
    this.assertOpen();
    const sent = this.sent();
    const result = await runTxn(this.client, this.keys, ops, fence);
    this.observe(result.revision, sent);
    // Like SQLite (which publishes before txn() returns): when a write resolves, this
    // process's watchers of its keys have received it. Bounded, so a stuck watch only slows writes.
    // Only keys it wrote: a check writes nothing, so its watch never gets this revision (QA-117:
    // every namespaced create, guarded by a check of its namespace, waited the whole 2 s).
    const waits = [...this.watches]
      .filter((w) => ops.some((op) => op.type !== 'check' && op.key.startsWith(w.prefix)))
      .map((w) => w.waitDelivered(result.revision, this.options.watchDeliveryWaitMs ?? 2000));
    if (waits.length > 0) await Promise.all(waits);
    return result;
  }

  watch<V = unknown>(prefix: string, handler: WatchHandler<V>, options: WatchOptions = {}): Watch {
    this.assertOpen();
    const after = options.afterRevision;
    if (after !== undefined) {
      checkRevision('watch afterRevision', after);
      if (after < this.compacted) throw new GoneError(after, this.compacted);
    }
    // Live-only: start after the newest revision this client has seen. etcd cannot tell us
    // "now" synchronously; this never misses a write made after watch() returns, and may
    // replay writes of *other* clients committed shortly before it (harmless for informers,
    // which dedupe by revision; documented in the report).
    const from = Math.max(after ?? this.known, 0);
    if (options.route) {
      // Routed watches (agents': one per network and kind) share one etcd watch per prefix.
      let channel = this.channels.get(prefix);
      if (!channel) this.channels.set(prefix, (channel = this.openChannel(prefix, from)));
      const shared = channel.subscribe(handler as WatchHandler, from, options.route, options.onError);
      return shared ?? this.catchUp(prefix, from, handler as WatchHandler, options);
    }
    return this.openEtcdWatch(prefix, from, { handler: handler as WatchHandler, onError: options.onError });
  }

  /**
   * A routed watch older than its prefix's shared watch remembers (after a controller
   * restart, agents' watches arrive with list revisions seconds apart): an etcd watch of its
   * own until it has caught up with the shared one, then a subscriber of it, between two
   * revisions. Kept apart for its whole life, each such watch cost what the shared watch saves.
   */
  private catchUp(prefix: string, from: number, handler: WatchHandler, options: WatchOptions): Watch {
    // Delivered as the shared watch delivers (in order, a throwing handler isolated, nothing after stop()).
    const catching = new Watcher(prefix, options.route, handler, from, this.logger, () => own.stop());
    let current: Watch = catching;
    const own: EtcdWatch = this.openEtcdWatch(prefix, from, {
      onBatch: (batch) => {
        catching.offer(batch);
        const joined = catching.isStopped ? undefined : this.channels.get(prefix)?.subscribe(handler, batch.revision, options.route, options.onError);
        if (!joined) return;
        current = joined;
        catching.stop();
      },
      onFailure: (err) => void this.reportWatchFailures(err, [{ afterRevision: from, onError: options.onError }]),
    });
    return { stop: () => current.stop(), progress: () => (current === catching ? catching.progress() : (current.progress?.() ?? 0)) };
  }

  /** etcd watches this store holds, and how many of them serve shared (routed) watches. */
  watchCounts(): { etcd: number; shared: number } {
    return { etcd: this.watches.size, shared: this.channels.size };
  }

  private openChannel(prefix: string, from: number): SharedPrefixWatch {
    return new SharedPrefixWatch(prefix, from, this.logger, {
      open: (afterRevision, onBatch, onFailure) => this.openEtcdWatch(prefix, afterRevision, { onBatch, onFailure }),
      closed: (channel) => {
        if (this.channels.get(prefix) === channel) this.channels.delete(prefix);
      },
      fail: (err, watches) => void this.reportWatchFailures(err, watches),
    });
  }

  private openEtcdWatch(
    prefix: string,
    from: number,
    to: { handler: WatchHandler; onError?: (err: StoreError) => void } | { onBatch: (batch: Batch) => void; onFailure: (err: unknown) => void },
  ): EtcdWatch {
    const { key, rangeEnd } = this.keys.prefixRange(prefix);
    const watcher = this.client
      .watch()
      .inRange({ start: key, end: rangeEnd })
      .withPreviousKV()
      .startRevision(String(toEtcdRevision(from + 1)))
      .watcher();
    const batched = 'onBatch' in to;
    const w = new EtcdWatch(watcher, prefix, this.keys, batched ? () => undefined : to.handler, from, this.logger, {
      onStop: (x) => this.watches.delete(x),
      onFailure: (err, afterRevision) => (batched ? to.onFailure(err) : void this.reportWatchFailures(err, [{ afterRevision, onError: to.onError }])),
      onBatch: batched ? to.onBatch : undefined,
    });
    this.watches.add(w);
    return w;
  }

  async currentRevision(): Promise<number> {
    this.assertOpen();
    const res = await this.range({ key: PROBE_KEY, count_only: true });
    return toStoreRevision(res.header.revision);
  }

  /**
   * etcd has no "what is the compacted revision" read, so we probe: a read at the last
   * known compacted revision succeeds in the common case (one round trip); otherwise a
   * binary search over [known, current] finds the oldest readable revision.
   */
  async compactedRevision(): Promise<number> {
    this.assertOpen();
    const current = await this.currentRevision();
    let lo = this.compacted;
    let hi = current;
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      if (await this.readable(mid)) hi = mid;
      else lo = mid + 1;
    }
    this.learnCompacted(lo);
    return this.compacted;
  }

  async compact(revision: number): Promise<void> {
    this.assertOpen();
    checkRevision('compact revision', revision);
    const current = await this.currentRevision();
    if (revision > current) throw new StoreError(`cannot compact to ${revision}, newer than the current revision ${current}`);
    if (revision <= this.compacted) return;
    try {
      // physical: resolve only once the history is gone, so a read below it is Gone at once.
      await this.client.kv.compact({ revision: toEtcdRevision(revision), physical: true }, { deadline: Date.now() + COMPACT_DEADLINE_MS });
    } catch (err) {
      // Someone (etcd's auto-compactor, another replica) compacted further: idempotent.
      if (!isCompactedError(err)) throw this.wrap(err);
    }
    this.learnCompacted(revision);
  }

  /**
   * This store as the leader writes through it: every txn also requires the raw etcd key
   * `fenceKey` (the leader's election key) to exist, and fails with FencedOffError once
   * the lease behind it is gone. Reads and watches are shared; close() leaves this store open.
   */
  fenced(fenceKey: string): Store {
    return {
      get: (key) => this.get(key),
      list: (prefix, options) => this.list(prefix, options),
      count: (prefix) => this.count(prefix),
      txn: (ops) => this.txn(ops, fenceKey),
      watch: (prefix, handler, options) => this.watch(prefix, handler, options),
      currentRevision: () => this.currentRevision(),
      compactedRevision: () => this.compactedRevision(),
      compact: (revision) => this.compact(revision),
      close: async () => undefined,
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.restoreCheck);
    for (const channel of [...this.channels.values()]) channel.stop();
    for (const w of [...this.watches]) w.stop();
    this.client.close();
  }

  private async readable(revision: number): Promise<boolean> {
    try {
      await this.client.kv.range({ key: PROBE_KEY, count_only: true, revision: toEtcdRevision(revision) });
      return true;
    } catch (err) {
      if (isCompactedError(err)) return false;
      throw this.wrap(err);
    }
  }

  private async range(req: IRangeRequest): Promise<IRangeResponse> {
    const sent = this.sent();
    try {
      const res = await this.client.kv.range(req);
      this.observe(toStoreRevision(res.header.revision), sent);
      return res;
    } catch (err) {
      const revision = req.revision === undefined ? 0 : toStoreRevision(req.revision);
      if (isCompactedError(err)) throw new GoneError(revision, await this.compactedRevision());
      if (isFutureRevisionError(err)) throw new StoreError(`revision ${revision} is newer than the current revision`);
      throw this.wrap(err);
    }
  }

  private async reportWatchFailures(err: unknown, watches: Array<{ afterRevision: number; onError?: (err: StoreError) => void }>): Promise<void> {
    let compacted: number | undefined;
    let probeFailure: StoreError | undefined;
    try {
      compacted = this.closed ? this.compacted : await this.compactedRevision();
    } catch (probeErr) {
      probeFailure = this.wrap(probeErr);
    }
    for (const { afterRevision, onError } of watches) {
      const failure = probeFailure ?? (afterRevision < compacted! ? new GoneError(afterRevision, compacted!) : this.wrap(err));
      const sink = onError ?? this.options.onWatchError;
      if (sink) sink(failure);
      else this.logger.error({ err: failure }, 'etcd watch ended');
    }
  }

  /** What a request is sent knowing: the highest revision seen, in which history (see observe). */
  private sent(): { floor: number; history: number } {
    return { floor: this.known, history: this.histories };
  }

  /**
   * revision: etcd's, in the answer to a request sent knowing `sent`. Reads and writes are
   * linearizable: an answer below the floor cannot be a late one (those are at or above what
   * was seen when they were sent), only a history gone back. Once that is learnt, answers to
   * requests sent before it say nothing more.
   */
  private observe(revision: number, sent: { floor: number; history: number }): void {
    if (sent.history !== this.histories) return;
    if (revision < sent.floor) this.revisionWentBack(sent.floor, revision);
    else if (revision > this.known) this.known = revision;
  }

  /** etcd's history went back (RevisionWentBackError): every watch ends, to be listed again; what was known of it is forgotten. */
  private revisionWentBack(from: number, to: number): void {
    this.histories++;
    this.logger.error(
      { event: 'store.revision_went_back', from, to, watches: this.watches.size },
      `etcd's revision went back from ${from} to ${to}: it was restored from a backup; every watch is ended so that its owner lists again`,
    );
    this.known = to;
    // The restored history's own compaction is found again (compactedRevision searches from here).
    this.compacted = 0;
    for (const w of [...this.watches]) w.end(new RevisionWentBackError(w.afterRevision, from, to));
  }

  private learnCompacted(revision: number): void {
    if (revision > this.compacted) this.compacted = revision;
  }

  private wrap(err: unknown): StoreError {
    if (err instanceof StoreError) return err;
    const e = new StoreError(`etcd: ${err instanceof Error ? err.message : String(err)}`);
    e.cause = err;
    return e;
  }

  private assertOpen(): void {
    if (this.closed) throw new StoreClosedError();
  }
}
