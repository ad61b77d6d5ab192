/**
 * Coalesces the status writes of one object. Several reconcilers write parts of one
 * object's status in reaction to the same event (a new port: IPAM's AddressesAllocated,
 * the chassis' Bound); each would be a read-modify-write of its own, a revision, a watch
 * event to every informer and the reconciles those trigger. Writes requested in the same
 * event-loop turn are instead applied in request order to one read of the object and
 * stored as one status update; every requester gets that write's result. Writes of
 * different objects stay separate transactions (each its own revision), which the store's
 * group commit then carries in one commit.
 */
import type { KubeObject } from '../resources/object';

export type StatusMutation<T> = (current: T) => T | undefined | Promise<T | undefined>;

interface Waiter<R> {
  mutate: StatusMutation<KubeObject>;
  resolve: (result: R) => void;
  reject: (err: unknown) => void;
}

/** The status writes of one object waiting for the next flush. */
export interface PendingStatus<R, C> {
  key: string;
  /** What the first requester said about the object (the same for every requester of key). */
  target: C;
  waiters: Waiter<R>[];
  attempts: number;
}

export class StatusCoalescer<R, C> {
  private pending = new Map<string, PendingStatus<R, C>>();
  private scheduled = false;

  /** write applies a pending object's mutations in one store write and settles its waiters. */
  constructor(private readonly write: (pending: PendingStatus<R, C>) => Promise<void>) {}

  enqueue(key: string, target: C, mutate: StatusMutation<KubeObject>, attempts: number): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      let p = this.pending.get(key);
      if (!p) this.pending.set(key, (p = { key, target, waiters: [], attempts }));
      p.attempts = Math.max(p.attempts, attempts);
      p.waiters.push({ mutate, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const batch = [...this.pending.values()];
    this.pending = new Map();
    for (const p of batch) {
      void this.write(p).catch((err: unknown) => {
        for (const w of p.waiters) w.reject(err);
      });
    }
  }
}
