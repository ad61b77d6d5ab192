/** Exponential backoff with jitter, so a fleet of agents does not reconnect in lockstep. */
export interface BackoffOptions {
  initialDelayMs?: number;
  maxDelayMs?: number;
  factor?: number;
}

export class Backoff {
  private attempt = 0;
  constructor(private readonly opts: BackoffOptions = {}) {}

  /** Delay before the next attempt; grows until reset(). */
  next(): number {
    const initial = this.opts.initialDelayMs ?? 100;
    const max = this.opts.maxDelayMs ?? 5000;
    const base = Math.min(max, initial * (this.opts.factor ?? 2) ** this.attempt);
    this.attempt++;
    // Full jitter on the upper half: never below half the nominal delay.
    return Math.round(base / 2 + (Math.random() * base) / 2);
  }
  reset(): void {
    this.attempt = 0;
  }
}
