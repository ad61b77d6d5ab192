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

/**
 * A token bucket over every key (client-go's BucketRateLimiter): `qps` retries a second after a
 * burst of `burst`, whichever keys they are of. Per-key backoff alone let a thousand keys failing
 * at once (a store refusing every call) retry 2,500 times a second (QA-99).
 */
export class BucketRateLimiter implements RateLimiter {
  private tokens: number;
  private last: number;

  constructor(
    private readonly qps: number,
    private readonly burst: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    if (!(qps > 0) || !(burst >= 1)) throw new RangeError(`invalid bucket: ${qps} per second, burst ${burst}`);
    this.tokens = burst;
    this.last = now();
  }

  when(): number {
    const t = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((t - this.last) * this.qps) / 1000);
    this.last = t;
    // A reservation: the token is taken now, and owed for as long as the bucket is below one.
    this.tokens -= 1;
    return this.tokens >= 0 ? 0 : (-this.tokens * 1000) / this.qps;
  }

  forget(): void {}

  numRequeues(): number {
    return 0;
  }
}

/** The longest delay of several limiters (client-go's MaxOfRateLimiter); each counts every failure. */
export class MaxOfRateLimiter implements RateLimiter {
  private readonly limiters: readonly RateLimiter[];

  constructor(...limiters: RateLimiter[]) {
    this.limiters = limiters;
  }

  when(key: string): number {
    return Math.max(...this.limiters.map((l) => l.when(key)));
  }

  forget(key: string): void {
    for (const l of this.limiters) l.forget(key);
  }

  numRequeues(key: string): number {
    return Math.max(...this.limiters.map((l) => l.numRequeues(key)));
  }
}

/**
 * Retries of failed keys over a whole queue: client-go's 10/s after 100 is slow for a controller
 * whose keys are ports (3,000 failing together would take 5 minutes); at 200/s after 1,000 they
 * are all retried within 10 s, and a storm is bounded 12-17x under QA-99's.
 */
export const QUEUE_RETRY_QPS = 200;
export const QUEUE_RETRY_BURST = 1_000;

/** A work queue's default: per-key exponential backoff, and the bucket over all keys. */
export function defaultRateLimiter(options: BackoffOptions = {}): RateLimiter {
  return new MaxOfRateLimiter(new ExponentialBackoffRateLimiter(options), new BucketRateLimiter(QUEUE_RETRY_QPS, QUEUE_RETRY_BURST));
}
