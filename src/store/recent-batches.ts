/**
 * The last committed batches of a store or of an etcd watch channel, kept in memory (by
 * default at most MAX_EVENTS events, none older than MAX_AGE_MS; the newest batch always)
 * so that a watch starting a little behind replays from them instead of querying and
 * decoding history again. Agents open and resume watches by the thousand (one per NIC whose
 * port they do not hold, three per network), each from a revision seconds old: read from
 * SQLite's log, each replay decoded every row since then, and a reconnecting agent's
 * watches together read the log thousands of times. SqliteStore keeps one for the whole
 * store; SharedPrefixWatch one per etcd channel.
 */
import type { WatchEvent, WatchRoute } from './store';
import { routeValues, type Batch } from './watch-hub';

const MAX_EVENTS = 20_000;
const MAX_AGE_MS = 60_000;

export interface RecentBatchesLimits {
  maxEvents: number;
  maxAgeMs: number;
}

export class RecentBatches {
  private readonly batches: Array<Batch & { at: number }> = [];
  private events = 0;
  /** Every batch above this revision up to the newest is held. */
  private floor: number;

  constructor(
    revision: number,
    private readonly limits: RecentBatchesLimits = { maxEvents: MAX_EVENTS, maxAgeMs: MAX_AGE_MS },
  ) {
    this.floor = revision;
  }

  /** A batch as the hub publishes it (in revision order). */
  push(batch: Batch): void {
    this.batches.push({ ...batch, at: performance.now() });
    this.events += batch.events.length;
    this.trim();
  }

  /** Drops the oldest batches beyond the limits (the newest stays, however old or large). */
  trim(): void {
    const oldest = performance.now() - this.limits.maxAgeMs;
    while (this.batches.length > 1 && (this.events > this.limits.maxEvents || this.batches[0]!.at < oldest)) {
      const old = this.batches.shift()!;
      this.events -= old.events.length;
      this.floor = old.revision;
    }
  }

  /** Nothing is held up to `revision` (batches committed without being kept). */
  reset(revision: number): void {
    this.batches.length = 0;
    this.events = 0;
    this.floor = revision;
  }

  /** Batches and events held (tests, metrics). */
  size(): { batches: number; events: number } {
    return { batches: this.batches.length, events: this.events };
  }

  /**
   * The events of prefix (and of the route, as the hub would offer them) with revision >
   * after, if every batch from after to `upTo` is held; undefined otherwise (read the log).
   */
  since(after: number, upTo: number, prefix: string, route?: WatchRoute): WatchEvent[] | undefined {
    const newest = this.batches.length ? this.batches[this.batches.length - 1]!.revision : this.floor;
    if (after < this.floor || newest !== upTo) return undefined;
    const out: WatchEvent[] = [];
    for (let i = this.batches.length - 1; i >= 0 && this.batches[i]!.revision > after; i--) {
      const b = this.batches[i]!;
      for (let j = b.events.length - 1; j >= 0; j--) {
        const ev = b.events[j]!;
        if (ev.kv.key.startsWith(prefix) && (!route || concerns(route, ev))) out.push(ev);
      }
    }
    return out.reverse();
  }
}

/** Whether the hub would offer a routed watcher this event: its new or previous value is the route's. */
function concerns(route: WatchRoute, event: WatchEvent): boolean {
  try {
    return routeValues(route.of, event).includes(route.value);
  } catch {
    return true;
  }
}
