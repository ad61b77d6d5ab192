/**
 * Token buckets per key, as client-go's EventSourceObjectSpamFilter: each key (an object)
 * may record `burst` events at once, then one per `1 / perSecond` seconds. An object whose
 * condition flaps records a few events and then its count, not a write per flap.
 */
export class SpamFilter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly burst: number,
    private readonly perSecond: number,
    private readonly now: () => number = () => Date.now(),
    /** Keys kept at most; the least recently used go first (a full bucket is forgotten at no cost). */
    private readonly maxKeys = 4_096,
  ) {}

  /** Takes a token of key's bucket: false when it has none left. */
  allow(key: string): boolean {
    const b = this.refilled(key);
    const ok = b.tokens >= 1;
    if (ok) b.tokens -= 1;
    return ok;
  }

  /** Whether key's bucket has a token, taking none. */
  has(key: string): boolean {
    return this.refilled(key).tokens >= 1;
  }

  private refilled(key: string): { tokens: number; at: number } {
    const t = this.now();
    const b = this.buckets.get(key) ?? { tokens: this.burst, at: t };
    this.buckets.delete(key);
    b.tokens = Math.min(this.burst, b.tokens + ((t - b.at) / 1000) * this.perSecond);
    b.at = t;
    this.buckets.set(key, b);
    if (this.buckets.size > this.maxKeys) this.buckets.delete(this.buckets.keys().next().value!);
    return b;
  }
}
