/**
 * Whether a store error means the store cannot serve right now, which a client should
 * retry, rather than a fault in the request or in vnetd: 'unavailable' (etcd down, no
 * quorum, its client's circuit breaker open: the request was not done) or 'timeout' (a call
 * ran out of its deadline, or lost its connection on the way: it may have been done). The API answers 503 and 504 Timeout, both
 * with Retry-After, as kube-apiserver does. 'full': etcd's database reached its quota and refuses
 * writes (not done); no retry helps until an operator frees space: 507, without Retry-After.
 * 'disk-full' and 'read-only': SQLite's data dir cannot be written (its file system full, or
 * mounted read-only); 507 too (QA: "this is vnetd's fault" on a full disk).
 *
 * By class name, not instanceof: importing etcd3 here would load it (and gRPC) into every
 * process that serves the API, SQLite ones too; etcd-store.ts loads it only for etcd.
 */
export type StoreFailure = 'unavailable' | 'timeout' | 'full' | 'disk-full' | 'read-only';

/** SQLite's codes for a data dir that refuses writes: its file system full, or read-only (better-sqlite3's SqliteError.code). */
const SQLITE_FAILURES: ReadonlyArray<[string, StoreFailure]> = [
  ['SQLITE_FULL', 'disk-full'],
  ['SQLITE_IOERR_WRITE', 'disk-full'],
  ['SQLITE_READONLY', 'read-only'],
];

const FAILURES: ReadonlyMap<string, StoreFailure> = new Map([
  ['GRPCUnavailableError', 'unavailable'],
  ['GRPCDeadlineExceededError', 'timeout'],
]);

/** etcd's words for a database at its space quota (RESOURCE_EXHAUSTED also says a message was too large: not that). */
const SPACE_EXCEEDED = /database space exceeded/i;

/**
 * gRPC's words for a connection lost while a call was on it (the call may have reached etcd
 * and been applied), as opposed to one never established (the call never left).
 */
const LOST_IN_FLIGHT = /ECONNRESET|EPIPE|Connection dropped|Socket closed|Stream removed|RST_STREAM/i;

/** An UNAVAILABLE whose call was under way when the connection went: its outcome is unknown. */
export function lostInFlight(err: unknown): boolean {
  const e = err as Cause | undefined;
  return e?.constructor?.name === 'GRPCUnavailableError' && LOST_IN_FLIGHT.test(String((err as { message?: unknown }).message ?? ''));
}

export function storeFailure(err: unknown): StoreFailure | undefined {
  // The etcd store wraps its client's errors (a StoreError "etcd: ..." with the error as its
  // cause): followed a few levels (QA: a stopped etcd answered 500, not 503).
  for (let e = err as Cause | undefined, depth = 0; e && depth < 4; e = e.cause as Cause | undefined, depth++) {
    // etcd3's calls go through a cockatiel circuit breaker; once open it throws this without trying.
    if (e.isBrokenCircuitError === true) return 'unavailable';
    // A write lost with its connection may have been applied (QA: 503 "retry shortly" for a create that was stored).
    if (lostInFlight(e)) return 'timeout';
    // etcd's database reached its space quota: it refuses writes until an operator acts; reads go on.
    if (e.constructor?.name === 'GRPCResourceExhastedError' && SPACE_EXCEEDED.test(String((e as { message?: unknown }).message ?? ''))) return 'full';
    const failure = FAILURES.get(e.constructor?.name ?? '');
    if (failure) return failure;
    const code = typeof (e as { code?: unknown }).code === 'string' ? (e as { code: string }).code : '';
    if (code.startsWith('SQLITE_')) for (const [prefix, f] of SQLITE_FAILURES) if (code.startsWith(prefix)) return f;
  }
  return undefined;
}

type Cause = { constructor?: { name?: string }; isBrokenCircuitError?: boolean; cause?: unknown };

/**
 * A store error's message without gRPC's empty parts: an empty "Resolution note: " at its end,
 * and "Last error: null" (QA-146 F4: both reached vnetctl's error line).
 */
export function storeMessage(message: string): string {
  return message.replace(/[\s.;]*Resolution note:\s*$/, '').replace(/[.;]?\s*Last error: null\.?/, '').trim();
}
