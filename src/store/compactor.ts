/**
 * Periodic compaction, like the Kubernetes API server's: history must be bounded, but
 * watchers and paginated lists need some of it to resume without a 410 Gone.
 *
 * A revision is compacted only once it is both more than `retainRevisions` behind the
 * current revision and older than `retainMs` (we remember which revision was current at
 * each tick to know its age). So a burst of writes does not cut off a watcher that
 * disconnected a few seconds ago, and a quiet store still keeps its last N revisions.
 * Works against any Store.
 */
import pino from 'pino';
import type { Store } from './store';

export interface CompactorOptions {
  /** Keep at least this many revisions of history. Default 10000. */
  retainRevisions?: number;
  /** Keep at least this much history, in milliseconds. Default 5 minutes. */
  retainMs?: number;
  /** How often to compact, in milliseconds. Default 1 minute. */
  intervalMs?: number;
  logger?: pino.Logger;
  /** Clock, for tests. */
  now?: () => number;
}

interface Sample {
  at: number;
  revision: number;
}

export class Compactor {
  private readonly retainRevisions: number;
  private readonly retainMs: number;
  private readonly intervalMs: number;
  private readonly logger: pino.Logger;
  private readonly now: () => number;
  /** (time, current revision) per tick, oldest first. */
  private samples: Sample[] = [];
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<number | undefined> | undefined;

  constructor(
    private readonly store: Store,
    options: CompactorOptions = {},
  ) {
    this.retainRevisions = options.retainRevisions ?? 10_000;
    this.retainMs = options.retainMs ?? 5 * 60_000;
    this.intervalMs = options.intervalMs ?? 60_000;
    this.logger = options.logger ?? pino({ level: 'silent' });
    this.now = options.now ?? Date.now;
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.runOnce(), this.intervalMs);
    // Compaction is housekeeping: it must never keep the process alive.
    this.timer.unref();
  }

  /** Stops the timer and waits for a compaction in progress. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /**
   * One tick: records the current revision and compacts what is old enough by both rules.
   * Resolves to the revision compacted to, or undefined when nothing was. Never rejects.
   */
  runOnce(): Promise<number | undefined> {
    // A slow compaction must not overlap the next tick.
    this.running ??= this.tick().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async tick(): Promise<number | undefined> {
    try {
      const now = this.now();
      const current = await this.store.currentRevision();
      this.samples.push({ at: now, revision: current });

      // The newest revision that is already retainMs old: everything up to it may go.
      const cutoff = now - this.retainMs;
      let oldEnough = 0;
      let firstKept = 0;
      this.samples.forEach((s, i) => {
        if (s.at <= cutoff) {
          oldEnough = s.revision;
          firstKept = i;
        }
      });
      // Older samples than the last old-enough one will never be needed again.
      this.samples = this.samples.slice(firstKept);

      const target = Math.min(current - this.retainRevisions, oldEnough);
      if (target <= (await this.store.compactedRevision())) return undefined;
      await this.store.compact(target);
      this.logger.info({ revision: target, current }, 'store history compacted');
      return target;
    } catch (err) {
      this.logger.error({ err }, 'store compaction failed');
      return undefined;
    }
  }
}
