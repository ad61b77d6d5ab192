/**
 * Whether the store refuses writes right now, as the last write found it. A full or
 * read-only data dir (or etcd at its quota) refuses every write while reads go on, so the
 * API's 507s were the only sign: reconcilers' status writes failed too, and every object
 * kept saying what it said before the disk filled (QA-126 H5: Ready while a switch hung and
 * /readyz "store ok"). /readyz and /metrics read this.
 */
import type { Store } from './store';
import { storeFailure, type StoreFailure } from './unavailable';

export type RefusalReason = Extract<StoreFailure, 'full' | 'disk-full' | 'read-only'>;

export interface WriteRefusal {
  readonly reason: RefusalReason;
  readonly message: string;
  readonly since: Date;
}

const REASON_WORDS: Record<RefusalReason, string> = {
  'disk-full': "the data dir's file system is full",
  'read-only': "the data dir's file system is read-only",
  full: "etcd's database reached its space quota",
};

export class WriteRefusals {
  private last: WriteRefusal | undefined;
  /** Writes refused since the process started, by reason. */
  readonly counts = new Map<RefusalReason, number>();

  constructor(private readonly now: () => Date = () => new Date()) {}

  get current(): WriteRefusal | undefined {
    return this.last;
  }

  /** One line for an operator, or undefined while writes go through. */
  describe(): string | undefined {
    const r = this.last;
    return r && `writes refused since ${r.since.toISOString()}: ${REASON_WORDS[r.reason]} (status is not being updated)`;
  }

  succeeded(): void {
    this.last = undefined;
  }

  failed(err: unknown): void {
    const f = storeFailure(err);
    if (f !== 'full' && f !== 'disk-full' && f !== 'read-only') return;
    this.counts.set(f, (this.counts.get(f) ?? 0) + 1);
    if (this.last?.reason !== f) this.last = { reason: f, message: (err as Error)?.message ?? String(err), since: this.now() };
  }
}

/** The same store, with each transaction's outcome told to refusals (reads pass straight through). */
export function trackWriteRefusals(store: Store, refusals: WriteRefusals): Store {
  const txn: Store['txn'] = (ops) =>
    store.txn(ops).then(
      (res) => {
        refusals.succeeded();
        return res;
      },
      (err: unknown) => {
        refusals.failed(err);
        throw err;
      },
    );
  return {
    get: (key) => store.get(key),
    list: (prefix, options) => store.list(prefix, options),
    count: (prefix) => store.count(prefix),
    txn,
    watch: (prefix, handler, options) => store.watch(prefix, handler, options),
    currentRevision: () => store.currentRevision(),
    compactedRevision: () => store.compactedRevision(),
    compact: (revision) => store.compact(revision),
    close: () => store.close(),
  };
}
