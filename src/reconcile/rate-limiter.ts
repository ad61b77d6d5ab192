/** How long to wait before retrying a key; the per-key failure history lives here, not in the queue. */
export interface RateLimiter {
  /** Delay in ms for this attempt; each call counts as one more failure of key. */
  when(key: string): number;
  /** The key succeeded: reset its history. */
  forget(key: string): void;
  /** Failures recorded for key since the last forget. */
  numRequeues(key: string): number;
}

export interface BackoffOptions {
  /** Delay after the first failure; default 5 ms (client-go's default). */
  baseDelayMs?: number;
  /** Ceiling; default 30 s, so a broken object is still retried twice a minute. */
  maxDelayMs?: number;
}

/** base * 2^failures, capped: client-go's ItemExponentialFailureRateLimiter. */
export class ExponentialBackoffRateLimiter implements RateLimiter {
  private readonly failures = new Map<string, number>();
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;

  constructor(options: BackoffOptions = {}) {
    this.baseDelayMs = options.baseDelayMs ?? 5;
    this.maxDelayMs = options.maxDelayMs ?? 30_000;
    if (!(this.baseDelayMs >= 0) || !(this.maxDelayMs >= this.baseDelayMs)) {
      throw new RangeError(`invalid backoff: base ${this.baseDelayMs} ms, max ${this.maxDelayMs} ms`);
    }
  }

  when(key: string): number {
    const n = this.failures.get(key) ?? 0;
    this.failures.set(key, n + 1);
    // 2^n overflows to Infinity long after it passed the cap; Math.min handles that.
    return Math.min(this.baseDelayMs * 2 ** n, this.maxDelayMs);
  }

  forget(key: string): void {
    this.failures.delete(key);
  }

  numRequeues(key: string): number {
    return this.failures.get(key) ?? 0;
  }
}
