/**
 * One Store watch on top of an etcd3 Watcher.
 *
 * Exactly-once, in order: etcd sends the events of a revision together and in op order, and
 * revisions in ascending order. Across a reconnect the etcd3 client resumes from
 * `request.start_revision`, which it sets to the *header* revision + 1 of the last response;
 * during a replay the header is the cluster's current revision, not the last event's, so a
 * reconnect mid-replay would skip history. We therefore overwrite start_revision after every
 * response with (last delivered event revision + 1), and drop any event at or below a
 * revision already delivered, should a resume overlap.
 */
import type { IEvent, IWatchResponse, Watcher as EtcdWatcher } from 'etcd3';
import type pino from 'pino';
import { decodeValue, KeyCodec, toEtcdRevision, toKeyValue, toStoreRevision } from './etcd-codec';
import { StoreError, type KeyValue, type Watch, type WatchEvent, type WatchHandler } from './store';
import type { Batch } from './watch-hub';

export interface EtcdWatchCallbacks {
  /** Called once when etcd ends the watch for good (e.g. compaction); no events follow. */
  onFailure(err: unknown, afterRevision: number): void;
  onStop(w: EtcdWatch): void;
  /** Given: each revision's events go here together (a shared watch's hub), not to the handler. */
  onBatch?(batch: Batch): void;
}

export class EtcdWatch implements Watch {
  private stopped = false;
  /** txn() callers waiting for this watch to deliver their revision (see waitDelivered). */
  private waiters: { revision: number; resolve: () => void }[] = [];
  /** Highest store revision handed to the handler (or the watch's starting point). */
  private delivered: number;

  constructor(
    private readonly watcher: EtcdWatcher,
    /** The Store-level prefix (without the key prefix). */
    readonly prefix: string,
    private readonly keys: KeyCodec,
    private readonly handler: WatchHandler,
    /** Events with revision > afterRevision are delivered. */
    readonly afterRevision: number,
    private readonly logger: pino.Logger,
    private readonly callbacks: EtcdWatchCallbacks,
  ) {
    this.delivered = afterRevision;
    watcher.on('data', (res) => this.onData(res));
    // Registered after the client's own 'connected'/'data' listeners, so these win.
    watcher.on('connected', () => this.pinResumePoint());
    watcher.on('error', (err) => this.onError(err));
    watcher.on('disconnected', (err) => this.logger.debug({ err }, 'etcd watch disconnected; the client reconnects'));
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.callbacks.onStop(this);
    this.release();
    // cancel() fails if the stream is already gone; nothing is delivered after stopped anyway.
    this.watcher.cancel().catch((err: unknown) => this.logger.debug({ err }, 'etcd watch cancel failed'));
  }

  private pinResumePoint(): void {
    this.watcher.request.start_revision = String(toEtcdRevision(this.delivered + 1));
  }

  private onData(res: IWatchResponse): void {
    // etcd never splits one revision over two responses, so anything at or below what an
    // earlier response delivered is a resume overlap.
    const floor = this.delivered;
    let batch: Batch | undefined;
    for (const event of res.events) {
      if (this.stopped) return;
      const revision = toStoreRevision(event.kv.mod_revision);
      if (revision <= floor) continue;
      if (this.callbacks.onBatch) {
        if (batch && batch.revision !== revision) this.deliverBatch(batch);
        if (!batch || batch.revision !== revision) batch = { revision, events: [] };
        try {
          batch.events.push(toWatchEvent(this.keys, event));
        } catch (err) {
          this.logger.error({ err, key: this.keys.decode(event.kv.key), revision }, 'watch event dropped');
        }
        continue;
      }
      this.delivered = revision;
      try {
        this.handler(toWatchEvent(this.keys, event));
      } catch (err) {
        this.logger.error({ err, key: this.keys.decode(event.kv.key), revision }, 'watch handler threw');
      }
    }
    if (batch && !this.stopped) this.deliverBatch(batch);
    this.pinResumePoint();
    this.release();
  }

  private deliverBatch(batch: Batch): void {
    this.delivered = batch.revision;
    // The hub isolates its watchers' handlers: nothing it calls throws here.
    this.callbacks.onBatch!(batch);
  }

  /**
   * Resolves once every event up to revision has been handed to the handler (or the watch
   * ended, or timeoutMs passed). txn() uses it so that, as with SQLite, a write's events
   * have reached this process's watchers when the write resolves.
   */
  waitDelivered(revision: number, timeoutMs: number): Promise<void> {
    if (this.stopped || this.delivered >= revision) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w.resolve !== done);
        this.logger.warn({ prefix: this.prefix, revision, delivered: this.delivered }, 'watch delivery lags a write; not waiting longer');
        resolve();
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      this.waiters.push({ revision, resolve: done });
    });
  }

  private release(): void {
    if (this.waiters.length === 0) return;
    const ready = this.stopped ? this.waiters : this.waiters.filter((w) => w.revision <= this.delivered);
    this.waiters = this.stopped ? [] : this.waiters.filter((w) => w.revision > this.delivered);
    for (const w of ready) w.resolve();
  }

  /** Ends the watch as a failure of etcd's would: its owner is told err (onFailure). */
  end(err: unknown): void {
    this.onError(err);
    this.watcher.cancel().catch((e: unknown) => this.logger.debug({ err: e }, 'etcd watch cancel failed'));
  }

  private onError(err: unknown): void {
    if (this.stopped) return;
    this.stopped = true;
    this.callbacks.onStop(this);
    this.release();
    this.callbacks.onFailure(err, this.afterRevision);
  }
}

function toWatchEvent(keys: KeyCodec, e: IEvent): WatchEvent {
  const revision = toStoreRevision(e.kv.mod_revision);
  const prevKv: KeyValue | undefined = e.prev_kv ? toKeyValue(keys, e.prev_kv) : undefined;
  if (e.type === 'Delete') {
    if (!prevKv) {
      // Only when etcd could not read the previous value (compacted under us): report what we know.
      throw new StoreError(`delete event for ${keys.decode(e.kv.key)} at ${revision} carries no previous value`);
    }
    return { type: 'delete', kv: { ...prevKv, modRevision: revision }, prevKv, created: false };
  }
  const kv: KeyValue = {
    key: keys.decode(e.kv.key),
    value: decodeValue(e.kv.value),
    createRevision: toStoreRevision(e.kv.create_revision),
    modRevision: revision,
  };
  const created = kv.createRevision === revision;
  return created || !prevKv ? { type: 'put', kv, created } : { type: 'put', kv, prevKv, created };
}
