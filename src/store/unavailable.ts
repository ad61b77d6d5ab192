/**
 * Whether a store error means the store cannot be reached right now (etcd down, no
 * quorum, its client's circuit breaker open), which a client should retry, rather than a
 * fault in the request or in vnetd. The API answers those 503 with Retry-After.
 *
 * By class name, not instanceof: importing etcd3 here would load it (and gRPC) into every
 * process that serves the API, SQLite ones too; etcd-store.ts loads it only for etcd.
 */
const UNAVAILABLE = new Set(['GRPCUnavailableError', 'GRPCDeadlineExceededError']);

export function storeUnavailable(err: unknown): boolean {
  // The etcd store wraps its client's errors (a StoreError "etcd: ..." with the error as its
  // cause): followed a few levels (QA: a stopped etcd answered 500, not 503).
  for (let e = err as Cause | undefined, depth = 0; e && depth < 4; e = e.cause as Cause | undefined, depth++) {
    // etcd3's calls go through a cockatiel circuit breaker; once open it throws this without trying.
    if (e.isBrokenCircuitError === true || UNAVAILABLE.has(e.constructor?.name ?? '')) return true;
  }
  return false;
}

type Cause = { constructor?: { name?: string }; isBrokenCircuitError?: boolean; cause?: unknown };
