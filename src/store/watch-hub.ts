/**
 * In-process fan-out of a store's committed events to its watchers, in revision order:
 * SQLite publishes every commit through one hub; etcd shares one etcd watch per prefix among
 * its routed watchers through one (see etcd-shared-watch.ts). A watcher with a route is
 * offered only the events of its value.
 */
import type pino from 'pino';
import type { WatchEvent, WatchHandler, WatchRoute } from './store';

/** A committed transaction's events, published to watchers after the commit. */
export interface Batch {
  revision: number;
  events: WatchEvent[];
}

/**
 * One watch. Events are queued and drained in order; the queue makes delivery safe when a
 * handler itself writes (re-entrant txn) and lets the history replay run after watch()
 * has returned its handle.
 */
export class Watcher {
  private queue: WatchEvent[] = [];
  private head = 0;
  private draining = false;
  private replayPending = false;
  private stopped = false;
  /** Every event of this watch up to this revision has been handed to the handler. */
  private deliveredUpTo: number;

  constructor(
    readonly prefix: string,
    readonly route: WatchRoute | undefined,
    private readonly handler: WatchHandler,
    /** Highest revision already queued: later batches at or below it are not re-queued. */
    private lastRevision: number,
    private readonly logger: pino.Logger,
    private readonly onStop: (w: Watcher) => void,
    /** The revision its source (a hub) has offered every watcher up to, when it has one. */
    private readonly sourceRevision?: () => number,
    /** Where the watch starts (events after it); absent: lastRevision. */
    startRevision?: number,
  ) {
    this.deliveredUpTo = startRevision ?? lastRevision;
  }

  /**
   * A revision up to which this watch has nothing left to deliver: every event of it at or
   * below has reached the handler. Past the watch's own last event when its source has
   * published later batches that did not concern it (a route, a prefix): what a bookmark
   * may say, so that a client resuming from it after a compaction is not sent back to list.
   */
  progress(): number {
    if (this.replayPending || this.draining || this.head < this.queue.length) return this.deliveredUpTo;
    return Math.max(this.lastRevision, this.sourceRevision?.() ?? 0);
  }

  /** Queue the replayed history; delivery starts in a microtask, after watch() returns. */
  startReplay(events: WatchEvent[]): void {
    this.queue.push(...events);
    this.replayPending = true;
    queueMicrotask(() => {
      this.replayPending = false;
      this.drain();
    });
  }

  offer(batch: Batch): void {
    if (this.stopped || batch.revision <= this.lastRevision) return;
    this.lastRevision = batch.revision;
    for (const event of batch.events) {
      if (event.kv.key.startsWith(this.prefix)) this.queue.push(event);
    }
    this.drain();
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.queue = [];
    this.head = 0;
    this.onStop(this);
  }

  private drain(): void {
    if (this.draining || this.replayPending) return;
    this.draining = true;
    try {
      while (!this.stopped && this.head < this.queue.length) {
        const event = this.queue[this.head++]!;
        // Its transaction's other events may still be queued: only the revisions before are done.
        this.deliveredUpTo = Math.max(this.deliveredUpTo, event.kv.modRevision - 1);
        try {
          this.handler(event);
        } catch (err) {
          this.logger.error({ err, prefix: this.prefix, key: event.kv.key, revision: event.kv.modRevision }, 'watch handler threw');
        }
      }
      this.queue = [];
      this.head = 0;
      if (!this.stopped) this.deliveredUpTo = Math.max(this.deliveredUpTo, this.lastRevision);
    } finally {
      this.draining = false;
    }
  }
}

/**
 * The values a route reads of an event: its new value's, and its previous value's when an
 * update may have taken it out of a selection (leaving is news too: the watcher reports a
 * DELETED). Throws what `of` throws.
 */
export function routeValues(of: (value: unknown) => string | undefined, event: WatchEvent): [now: string | undefined, before: string | undefined] {
  const now = of(event.kv.value);
  const before = event.type === 'put' && !event.created && event.prevKv ? of(event.prevKv.value) : undefined;
  return [now, before];
}

/** Routed watchers of one index, by the value they want. */
interface RouteIndex {
  of: (value: unknown) => string | undefined;
  byValue: Map<string, Set<Watcher>>;
}

/**
 * Fans committed batches out to watchers, strictly one batch after the other. A watcher
 * with a route is offered only the events of its value (by the event's new or previous
 * value), looked up per event, so a write costs what its own watchers cost, not what
 * every watcher does.
 */
export class WatchHub {
  /** The last batch offered to every watcher (Watcher.progress). */
  published = 0;
  private readonly unrouted = new Set<Watcher>();
  private readonly routes = new Map<string, RouteIndex>();
  /**
   * Routed watchers per prefix: an event under none of them is not routed at all (nor its
   * previous value parsed). Prefixes not ending in '/' (none of vnetd's) are kept apart.
   */
  private readonly routedPrefixes = new Map<string, number>();
  private readonly otherRoutedPrefixes = new Map<string, number>();
  private count = 0;
  private readonly pending: Batch[] = [];
  private dispatching = false;

  get size(): number {
    return this.count;
  }

  add(w: Watcher): void {
    this.count++;
    if (!w.route) {
      this.unrouted.add(w);
      return;
    }
    let index = this.routes.get(w.route.index);
    if (!index) this.routes.set(w.route.index, (index = { of: w.route.of, byValue: new Map() }));
    let set = index.byValue.get(w.route.value);
    if (!set) index.byValue.set(w.route.value, (set = new Set()));
    set.add(w);
    const prefixes = this.prefixesOf(w.prefix);
    prefixes.set(w.prefix, (prefixes.get(w.prefix) ?? 0) + 1);
  }

  remove(w: Watcher): void {
    if (!w.route) {
      if (this.unrouted.delete(w)) this.count--;
      return;
    }
    const index = this.routes.get(w.route.index);
    const set = index?.byValue.get(w.route.value);
    if (!index || !set?.delete(w)) return;
    this.count--;
    const prefixes = this.prefixesOf(w.prefix);
    const left = prefixes.get(w.prefix)! - 1;
    if (left > 0) prefixes.set(w.prefix, left);
    else prefixes.delete(w.prefix);
    if (set.size) return;
    index.byValue.delete(w.route.value);
    if (!index.byValue.size) this.routes.delete(w.route.index);
  }

  publish(batch: Batch): void {
    this.pending.push(batch);
    // A handler that commits a txn lands here re-entrantly: its batch waits until the
    // current one reached every watcher, so nobody sees revisions out of order.
    if (this.dispatching) return;
    this.dispatching = true;
    try {
      for (let b = this.pending.shift(); b; b = this.pending.shift()) {
        // Who gets what is decided before anyone is offered: a watcher a handler opens
        // replays this batch from history instead (its lastRevision covers it).
        const routed = this.routed(b);
        for (const w of [...this.unrouted]) w.offer(b);
        for (const [w, events] of routed) w.offer(events.length === b.events.length ? b : { revision: b.revision, events });
        this.published = b.revision;
      }
    } finally {
      this.dispatching = false;
    }
  }

  stopAll(): void {
    for (const w of [...this.unrouted]) w.stop();
    for (const index of [...this.routes.values()]) for (const set of [...index.byValue.values()]) for (const w of [...set]) w.stop();
  }

  /** The routed watchers an event of the batch concerns, each with those events in batch order. */
  private routed(b: Batch): Map<Watcher, WatchEvent[]> {
    const out = new Map<Watcher, WatchEvent[]>();
    if (!this.routes.size) return out;
    for (const event of b.events) {
      if (!this.underRoutedPrefix(event.kv.key)) continue;
      for (const index of this.routes.values()) {
        try {
          const [now, before] = routeValues(index.of, event);
          if (now !== undefined) this.deliver(out, index.byValue.get(now), event);
          if (before !== now && before !== undefined) this.deliver(out, index.byValue.get(before), event);
        } catch {
          // A value the route cannot read: offer it to all (the route is only a hint; each
          // watcher filters), rather than let it stop the publication.
          for (const watchers of index.byValue.values()) this.deliver(out, watchers, event);
        }
      }
    }
    return out;
  }

  private prefixesOf(prefix: string): Map<string, number> {
    return prefix.endsWith('/') ? this.routedPrefixes : this.otherRoutedPrefixes;
  }

  /**
   * Whether a routed watcher's prefix holds the key: the key's own prefixes ending in '/'
   * are looked up, not every prefix in turn (with many tenants there is one per namespace
   * and kind).
   */
  private underRoutedPrefix(key: string): boolean {
    for (let i = key.indexOf('/'); i >= 0; i = key.indexOf('/', i + 1)) if (this.routedPrefixes.has(key.slice(0, i + 1))) return true;
    for (const p of this.otherRoutedPrefixes.keys()) if (key.startsWith(p)) return true;
    return false;
  }

  private deliver(out: Map<Watcher, WatchEvent[]>, watchers: Set<Watcher> | undefined, event: WatchEvent): void {
    if (!watchers) return;
    for (const w of watchers) {
      const list = out.get(w);
      if (!list) out.set(w, [event]);
      else if (list[list.length - 1] !== event) list.push(event);
    }
  }
}

