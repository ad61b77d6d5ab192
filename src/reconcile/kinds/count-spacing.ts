/**
 * Keeps connection counting (a dump of every LbDnat flow of a node, parsed here) to a tenth
 * of the time: a tenant's load balancers with hundreds of thousands of DNAT flows made the
 * 5 s count a dump and parse that kept vnetd busy most of the time, every tenant's API,
 * OVSDB and tunnel probes waiting behind it (QA-133 F1). A count that takes COST_FACTOR x
 * longer than PACED_FROM_MS holds the next back for COST_FACTOR times its own duration; a
 * cheap one never holds anything back. A stop's last count is never held back (lift).
 */
import type { Logger } from 'pino';

const COST_FACTOR = 10;
const PACED_FROM_MS = 100;

export class CountSpacing {
  private lastMs = 0;
  private endedAt = -Infinity;
  private paced = false;
  private lifted = false;

  constructor(
    private readonly log: Logger,
    private readonly intervalMs: number,
  ) {}

  /** Whether a count may start now. */
  allows(now = performance.now()): boolean {
    return this.lifted || this.lastMs < PACED_FROM_MS || now - this.endedAt >= COST_FACTOR * this.lastMs;
  }

  /**
   * Every count allowed from now on, for good: a stop's last count holds what lives only in
   * this process (flows removed since the last report), and losing it to the spacing would
   * lose those counts.
   */
  lift(): void {
    this.lifted = true;
  }

  /** A count ran from `startedAt` to now. */
  record(startedAt: number, now = performance.now()): void {
    this.lastMs = now - startedAt;
    this.endedAt = now;
    const everyMs = COST_FACTOR * this.lastMs;
    const paced = this.lastMs >= PACED_FROM_MS && everyMs > this.intervalMs;
    if (paced && !this.paced) this.log.info({ event: 'lb.count_paced', countMs: Math.round(this.lastMs), everyMs: Math.round(everyMs) }, `lb connection counts: a count takes ${Math.round(this.lastMs)} ms; counted every ${(everyMs / 1000).toFixed(1)} s at most while it does`);
    this.paced = paced;
  }
}
