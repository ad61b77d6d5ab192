/**
 * Whether a store error means the store cannot serve right now, which a client should
 * retry, rather than a fault in the request or in vnetd: 'unavailable' (etcd down, no
 * quorum, its client's circuit breaker open: the request was not done) or 'timeout' (a call
 * ran out of its deadline: it may have been done). The API answers 503 and 504 Timeout, both
 * with Retry-After, as kube-apiserver does.
 *
 * By class name, not instanceof: importing etcd3 here would load it (and gRPC) into every
 * process that serves the API, SQLite ones too; etcd-store.ts loads it only for etcd.
 */
export type StoreFailure = 'unavailable' | 'timeout';

const FAILURES: ReadonlyMap<string, StoreFailure> = new Map([
  ['GRPCUnavailableError', 'unavailable'],
  ['GRPCDeadlineExceededError', 'timeout'],
]);

export function storeFailure(err: unknown): StoreFailure | undefined {
  // The etcd store wraps its client's errors (a StoreError "etcd: ..." with the error as its
  // cause): followed a few levels (QA: a stopped etcd answered 500, not 503).
  for (let e = err as Cause | undefined, depth = 0; e && depth < 4; e = e.cause as Cause | undefined, depth++) {
    // etcd3's calls go through a cockatiel circuit breaker; once open it throws this without trying.
    if (e.isBrokenCircuitError === true) return 'unavailable';
    const failure = FAILURES.get(e.constructor?.name ?? '');
    if (failure) return failure;
  }
  return undefined;
}

type Cause = { constructor?: { name?: string }; isBrokenCircuitError?: boolean; cause?: unknown };
