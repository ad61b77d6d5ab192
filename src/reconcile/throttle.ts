/**
 * Rate-limits how often one key is queued: the first request of a quiet key is queued at
 * once (leading, the default) or periodMs later (trailing: keeps the work off the path
 * of whatever caused it), later ones within periodMs are folded into one that runs at
 * the end of the period. For reconciles whose cost grows with the size of what they summarise (a
 * network's address count, a node's bound ports): a burst of N events then costs a few
 * of them instead of N.
 */
import type { WorkQueue } from './work-queue';

export function throttledEnqueue(queue: WorkQueue, periodMs: number, opts: { leading?: boolean; clock?: () => number } = {}): ((key: string) => void) & { tracked(): number } {
  const clock = opts.clock ?? Date.now;
  const leading = opts.leading ?? true;
  /** When the key's latest reconcile was (or is scheduled to be) queued. */
  const slot = new Map<string, number>();
  // A key whose slot is periodMs past acts as one never seen: such keys are dropped once the
  // map doubles (QA-115: one entry per network ever reconciled, for ever).
  let sweepAt = 1024;
  const enqueue = (key: string): void => {
    const now = clock();
    if (slot.size >= sweepAt) {
      for (const [k, t] of slot) if (now - t >= periodMs) slot.delete(k);
      sweepAt = Math.max(1024, slot.size * 2);
    }
    const last = slot.get(key) ?? -Infinity;
    if (last > now) {
      queue.addAfter(key, last - now);
      return;
    }
    if (now - last >= periodMs) {
      if (leading) {
        slot.set(key, now);
        queue.add(key);
      } else {
        slot.set(key, now + periodMs);
        queue.addAfter(key, periodMs);
      }
      return;
    }
    slot.set(key, last + periodMs);
    queue.addAfter(key, last + periodMs - now);
  };
  /** Keys it remembers (tests). */
  return Object.assign(enqueue, { tracked: () => slot.size });
}
