/**
 * A work queue of string keys with client-go's guarantees, which reconcilers rely on:
 * - a key queued several times before a worker takes it is processed once (dedup);
 * - a key is never handed to two workers at once: adding it while it is being
 *   processed marks it dirty, and done() queues it again;
 * - failures back off per key (addRateLimited), success resets it (forget);
 * - shutDown() stops accepting keys; workers still get what is queued, then undefined.
 * Keys, not objects, are queued so a worker always reads the latest state from a cache.
 */
import { defaultRateLimiter, type BackoffOptions, type RateLimiter } from './rate-limiter';

export interface WorkQueueOptions extends BackoffOptions {
  /** Replaces the default (per-key exponential, baseDelayMs/maxDelayMs, and a bucket over all keys). */
  rateLimiter?: RateLimiter;
}

interface Delayed {
  readyAt: number;
  timer: NodeJS.Timeout;
}

export class WorkQueue {
  private items: string[] = [];
  private head = 0;
  /** Keys that need processing: queued, or re-added while processing. */
  private readonly dirty = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly delayed = new Map<string, Delayed>();
  private readonly waiters: Array<(key: string | undefined) => void> = [];
  private readonly drainWaiters: Array<() => void> = [];
  private readonly rateLimiter: RateLimiter;
  private stopping = false;

  constructor(options: WorkQueueOptions = {}) {
    this.rateLimiter = options.rateLimiter ?? defaultRateLimiter(options);
  }

  add(key: string): void {
    if (this.stopping || this.dirty.has(key)) return;
    this.dirty.add(key);
    // done() will queue it: queuing now would let a second worker take it concurrently.
    if (this.processing.has(key)) return;
    this.items.push(key);
    this.dispatch();
  }

  /** Adds key after delayMs; of several pending delays for one key the earliest wins. */
  addAfter(key: string, delayMs: number): void {
    if (this.stopping) return;
    if (!(delayMs > 0)) {
      this.add(key);
      return;
    }
    const readyAt = Date.now() + delayMs;
    const pending = this.delayed.get(key);
    if (pending) {
      if (pending.readyAt <= readyAt) return;
      clearTimeout(pending.timer);
    }
    const timer = setTimeout(() => {
      this.delayed.delete(key);
      this.add(key);
    }, delayMs);
    // A pending retry must not keep the process alive.
    timer.unref();
    this.delayed.set(key, { readyAt, timer });
  }

  /**
   * Drops key's pending delayed add, if any. For a reconciler that has just converged the
   * key (read at this moment, so every change that queued a delay is seen) and knows that
   * the timeouts it set for it are moot: thousands of them otherwise fire later, each a
   * reconcile that finds nothing to do.
   */
  cancelDelayed(key: string): void {
    const d = this.delayed.get(key);
    if (!d) return;
    clearTimeout(d.timer);
    this.delayed.delete(key);
  }

  /** Adds key after its backoff delay; call after a failed attempt. */
  addRateLimited(key: string): void {
    this.addAfter(key, this.rateLimiter.when(key));
  }

  /** Resets key's backoff; call after a successful attempt. */
  forget(key: string): void {
    this.rateLimiter.forget(key);
  }

  numRequeues(key: string): number {
    return this.rateLimiter.numRequeues(key);
  }

  /**
   * The next key to process, waiting for one if needed; undefined once shut down and
   * empty. The caller owns the key until it calls done(key).
   */
  get(): Promise<string | undefined> {
    const key = this.take();
    if (key !== undefined) return Promise.resolve(key);
    if (this.stopping) return Promise.resolve(undefined);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Ends processing of key; if it was re-added meanwhile, it is queued again. */
  done(key: string): void {
    if (!this.processing.delete(key)) return;
    if (this.dirty.has(key)) {
      this.items.push(key);
      this.dispatch();
    }
    if (this.processing.size === 0) this.drainWaiters.splice(0).forEach((r) => r());
  }

  /** Keys waiting to be taken (not counting delayed or in-process ones). */
  len(): number {
    return this.items.length - this.head;
  }

  /** Keys currently held by workers. */
  processingCount(): number {
    return this.processing.size;
  }

  /** Keys waiting for a delay to expire. */
  delayedCount(): number {
    return this.delayed.size;
  }

  get shuttingDown(): boolean {
    return this.stopping;
  }

  /** Stops accepting keys and cancels delayed ones; queued keys are still handed out. */
  shutDown(): void {
    if (this.stopping) return;
    this.stopping = true;
    for (const d of this.delayed.values()) clearTimeout(d.timer);
    this.delayed.clear();
    this.dispatch();
  }

  /** shutDown(), then resolves once no key is being processed. */
  shutDownWithDrain(): Promise<void> {
    this.shutDown();
    if (this.processing.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  private take(): string | undefined {
    if (this.head >= this.items.length) return undefined;
    const key = this.items[this.head++];
    // Compact now and then so a long-lived queue does not grow without bound.
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    this.dirty.delete(key);
    this.processing.add(key);
    return key;
  }

  private dispatch(): void {
    while (this.waiters.length > 0) {
      const key = this.take();
      if (key === undefined) break;
      (this.waiters.shift() as (key: string | undefined) => void)(key);
    }
    if (this.stopping && this.len() === 0) this.waiters.splice(0).forEach((w) => w(undefined));
  }
}
