/**
 * Typed errors. Connection-level problems and per-operation transaction errors are
 * separate hierarchies under OvsdbError so callers can `instanceof` at the level they
 * care about. Operation errors follow RFC 7047's error strings one class each, so a
 * caller can tell "constraint violation" from "referential integrity violation"
 * without string matching.
 */
import type { Json } from './wire/json';
import type { Operation } from './ops/operations';
import type { OperationResult } from './wire/rpc';

export class OvsdbError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/**
 * The transport closed (or was closed) while a request was outstanding. `outcomeUnknown`:
 * the request had been sent, so the server may have carried it out before the connection
 * went (a transact committed: ovsdb-server reads what is in the socket after a client
 * gave up on its probe). Look at the database before retrying a transaction that is not
 * idempotent. False when it never left (the connection was already closed, or TLS failed).
 */
export class ConnectionClosedError extends OvsdbError {
  readonly outcomeUnknown: boolean;
  constructor(message: string, options?: { cause?: unknown; outcomeUnknown?: boolean }) {
    super(message, options);
    this.outcomeUnknown = options?.outcomeUnknown ?? false;
  }
}
/**
 * An ssl: connection failed in TLS. `reason` says which side's certificate was the
 * problem, since the fixes differ: 'server-certificate' - the server's certificate did
 * not verify against our `tls.ca` (or its name did not match); 'client-certificate' -
 * the server refused ours (OVS's SSL is mutual: ovsdb-server checks the client's
 * certificate against its --ca-cert, and with TLS 1.3 says so only after the handshake,
 * so this can surface on the first request); 'handshake' - any other TLS failure.
 * A subclass of ConnectionClosedError so existing handling of lost connections applies.
 */
export class TlsError extends ConnectionClosedError {
  constructor(
    message: string,
    readonly reason: 'server-certificate' | 'client-certificate' | 'handshake',
    /** Node/OpenSSL error code, e.g. SELF_SIGNED_CERT_IN_CHAIN or ERR_SSL_TLSV1_ALERT_UNKNOWN_CA. */
    readonly code: string | undefined,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
/** leaderOnly: the server is not (or is no longer) the cluster leader for the database. */
export class NotLeaderError extends OvsdbError {}
/** A request was made while no connection is established. */
export class NotConnectedError extends OvsdbError {}
/** The peer sent a message larger than maxMessageSize; the connection was closed. */
export class MessageTooLargeError extends OvsdbError {
  constructor(readonly limit: number, readonly seen: number) {
    super(`incoming JSON-RPC message exceeds ${limit} bytes (at least ${seen} buffered)`);
  }
}
/** The peer sent bytes that are not valid JSON-RPC; the connection was closed. */
export class ProtocolError extends OvsdbError {}
/** The inactivity probe (echo) got no answer in time. */
export class ProbeTimeoutError extends OvsdbError {}
/** A request did not get an answer within the request timeout. */
export class RequestTimeoutError extends OvsdbError {}
/** The caller cancelled a request (RFC 7047 4.1.4 "cancel"). */
export class RequestCancelledError extends OvsdbError {}
/** Data does not fit the schema (bad column, wrong atom type, unknown table). */
export class SchemaError extends OvsdbError {}

/** The server answered a request with a non-null "error" member. */
export class RpcError extends OvsdbError {
  constructor(readonly method: string, readonly error: Json) {
    super(`${method} failed: ${typeof error === 'string' ? error : JSON.stringify(error)}`);
  }
}

/** One failed operation of a transaction (RFC 7047 5.2 / 4.1.3 error strings). */
export class OperationError extends OvsdbError {
  constructor(
    /** The RFC 7047 error string, e.g. "constraint violation". */
    readonly error: string,
    readonly details: string | undefined,
    /** The operation that failed; undefined when the error concerns the commit itself. */
    readonly operation: Operation | undefined,
    /** Index of the result in the reply (== ops.length for a commit-time error). */
    readonly index: number,
  ) {
    super(`${error}${details ? `: ${details}` : ''} (operation ${index}${operation ? ` ${operation.op}` : ' commit'})`);
  }
}
export class ReferentialIntegrityViolation extends OperationError {}
export class ConstraintViolation extends OperationError {}
export class ResourcesExhausted extends OperationError {}
export class IoError extends OperationError {}
export class DuplicateUuidName extends OperationError {}
export class DomainError extends OperationError {}
export class OvsdbRangeError extends OperationError {}
export class TimedOut extends OperationError {}
export class NotSupported extends OperationError {}
export class Aborted extends OperationError {}
export class NotOwner extends OperationError {}
/** ovsdb-server extensions seen in practice (syntax / unknown names / permissions). */
export class OvsdbSyntaxError extends OperationError {}
export class UnknownColumn extends OperationError {}
export class UnknownTable extends OperationError {}
export class PermissionError extends OperationError {}
/** Writing through a read-only remote. */
export class NotAllowed extends OperationError {}

type OperationErrorClass = new (
  error: string,
  details: string | undefined,
  operation: Operation | undefined,
  index: number,
) => OperationError;

const BY_STRING: ReadonlyMap<string, OperationErrorClass> = new Map<string, OperationErrorClass>([
  ['referential integrity violation', ReferentialIntegrityViolation],
  ['constraint violation', ConstraintViolation],
  ['resources exhausted', ResourcesExhausted],
  ['I/O error', IoError],
  ['duplicate uuid-name', DuplicateUuidName],
  ['domain error', DomainError],
  ['range error', OvsdbRangeError],
  ['timed out', TimedOut],
  ['not supported', NotSupported],
  ['aborted', Aborted],
  ['not owner', NotOwner],
  ['syntax error', OvsdbSyntaxError],
  ['unknown column', UnknownColumn],
  ['unknown table', UnknownTable],
  ['permission error', PermissionError],
  ['not allowed', NotAllowed],
]);

export function operationError(
  error: string,
  details: string | undefined,
  operation: Operation | undefined,
  index: number,
): OperationError {
  const Cls = BY_STRING.get(error) ?? OperationError;
  return new Cls(error, details, operation, index);
}

/** A transaction had at least one failed operation; `errors` pairs each with its op. */
export class TransactionError extends OvsdbError {
  constructor(
    readonly errors: OperationError[],
    readonly results: OperationResult[],
  ) {
    super(`transaction failed: ${errors.map((e) => e.message).join('; ')}`);
  }
  /** The first error: RFC 7047 stops at the first failing operation. */
  get first(): OperationError {
    return this.errors[0]!;
  }
}
