/**
 * One etcd watch of a prefix shared by the routed watches of that prefix (an agent's watch of
 * one network or node; see WatchOptions.route). Each etcd watch is its own stream of every
 * event under its prefix, decoded on its own: a controller of many agents held thousands,
 * and each write cost each of them a decode. Shared, an event is decoded once and offered,
 * through a hub, only to the watches of its value.
 *
 * The channel remembers its recent batches, so that a watch starting a little behind it (an
 * API watch starts at the revision its list read) replays from memory; one that needs older
 * history than the channel holds gets an etcd watch of its own instead.
 */
import type pino from 'pino';
import type { StoreError, Watch, WatchHandler, WatchRoute } from './store';
import type { EtcdWatch } from './etcd-watch';
import { RecentBatches } from './recent-batches';
import { Watcher, WatchHub, type Batch } from './watch-hub';

/**
 * What a channel keeps for watches that start behind it: at most this many events, and none
 * older than HISTORY_MS (a watch starts at the revision its list read, or resumes from a
 * bookmark at most seconds old; one further behind catches up on its own etcd watch). The
 * age bound frees a channel's history once its prefix goes quiet: by count alone a busy
 * minute stayed in memory (with its decoded objects) for as long as the channel lived.
 */
const HISTORY_EVENTS = 10_000;
const HISTORY_MS = 75_000;

export interface SharedWatchHooks {
  /** Opens the channel's etcd watch after `afterRevision`, its batches to onBatch. */
  open(afterRevision: number, onBatch: (batch: Batch) => void, onFailure: (err: unknown) => void): EtcdWatch;
  /** The channel has no watch left (it stopped its etcd watch) or failed. */
  closed(channel: SharedPrefixWatch): void;
  /** Reports the etcd watch's end to its watches, each as its own etcd watch would (one probe of etcd for all). */
  fail(err: unknown, watches: Array<{ afterRevision: number; onError?: (err: StoreError) => void }>): void;
}

interface Subscriber {
  watcher: Watcher;
  afterRevision: number;
  onError?: (err: StoreError) => void;
}

export class SharedPrefixWatch {
  private readonly hub = new WatchHub();
  private readonly subscribers = new Set<Subscriber>();
  private readonly history: RecentBatches;
  private readonly trimTimer: NodeJS.Timeout;
  private delivered: number;
  private readonly etcd: EtcdWatch;
  private ended = false;

  constructor(
    readonly prefix: string,
    startAfter: number,
    private readonly logger: pino.Logger,
    private readonly hooks: SharedWatchHooks,
  ) {
    this.history = new RecentBatches(startAfter, { maxEvents: HISTORY_EVENTS, maxAgeMs: HISTORY_MS });
    this.delivered = startAfter;
    this.etcd = hooks.open(startAfter, (b) => this.onBatch(b), (err) => this.onFailure(err));
    this.trimTimer = setInterval(() => this.history.trim(), HISTORY_MS / 3).unref();
  }

  /**
   * A watch of the channel's prefix from afterRevision (absent: from what the channel has
   * delivered), or undefined when it needs history the channel does not hold.
   */
  subscribe(handler: WatchHandler, afterRevision: number | undefined, route: WatchRoute | undefined, onError?: (err: StoreError) => void): Watch | undefined {
    if (this.ended) return undefined;
    const from = afterRevision ?? this.delivered;
    const replay = from < this.delivered ? this.history.since(from, this.delivered, this.prefix) : [];
    if (!replay) return undefined;
    const sub: Subscriber = {
      watcher: new Watcher(this.prefix, route, handler, Math.max(from, this.delivered), this.logger, (w) => this.leave(w, sub), () => this.hub.published, from),
      afterRevision: from,
      onError,
    };
    // Replay and joining the hub happen in one synchronous step: no batch falls between.
    if (replay.length) sub.watcher.startReplay(replay);
    this.hub.add(sub.watcher);
    this.subscribers.add(sub);
    return { stop: () => sub.watcher.stop(), progress: () => sub.watcher.progress() };
  }

  /** Ends the channel and its watches without reporting anything (its last watch left, or the store is closing). */
  stop(): void {
    if (this.ended) return;
    this.ended = true;
    clearInterval(this.trimTimer);
    for (const sub of [...this.subscribers]) sub.watcher.stop();
    this.etcd.stop();
    this.hooks.closed(this);
  }

  private onBatch(batch: Batch): void {
    this.delivered = batch.revision;
    this.history.push(batch);
    this.hub.publish(batch);
  }

  /** Batches and events held for late subscribers (tests, metrics). */
  historySize(): { batches: number; events: number } {
    return this.history.size();
  }

  private leave(w: Watcher, sub: Subscriber): void {
    this.hub.remove(w);
    this.subscribers.delete(sub);
    if (this.subscribers.size === 0 && !this.ended) this.stop();
  }

  private onFailure(err: unknown): void {
    if (this.ended) return;
    this.ended = true;
    clearInterval(this.trimTimer);
    this.hooks.closed(this);
    const ended = [...this.subscribers];
    for (const sub of ended) {
      this.subscribers.delete(sub);
      sub.watcher.stop();
    }
    // Each hears what its own etcd watch would have said (Gone from its own revision).
    this.hooks.fail(err, ended);
  }
}
