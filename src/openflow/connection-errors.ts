import { ErrorMessage } from './messages/error';
import { OfMessage } from './message';

/** The switch answered a request with OFPT_ERROR; carries both sides. */
export class OpenFlowRequestError extends Error {
  override readonly name: string = 'OpenFlowRequestError';
  constructor(
    /** The decoded ERROR (name like OFPBAC_BAD_OUT_PORT, raw type/code). */
    readonly error: ErrorMessage,
    /** The request we sent that the error refers to (same xid). */
    readonly request: OfMessage | undefined,
    /** The offending bytes the switch echoed back, decoded when possible. */
    readonly failedMessage: OfMessage | undefined,
    message?: string,
  ) {
    super(message ?? `${error.name} in reply to ${request?.type ?? 'unknown request'} (xid=0x${error.xid.toString(16)})`);
  }
}

/** One message of a bundle that the switch rejected. */
export interface BundleFailure {
  error: ErrorMessage;
  request: OfMessage | undefined;
}

/**
 * A bundle was rejected as a whole (e.g. OFPBFC_MSG_FAILED on commit); `failures`
 * lists the inner messages the switch blamed, with their own errors.
 */
export class OpenFlowBundleError extends OpenFlowRequestError {
  override readonly name = 'OpenFlowBundleError';
  constructor(
    readonly bundleId: number,
    error: ErrorMessage,
    request: OfMessage | undefined,
    readonly failures: BundleFailure[],
  ) {
    const detail = failures.map((f) => `${f.request?.type ?? 'message'} xid=0x${f.error.xid.toString(16)}: ${f.error.name}`);
    super(error, request, undefined, `bundle ${bundleId} failed: ${error.name}${detail.length ? ` (${detail.join('; ')})` : ''}`);
  }
}

/** A bundle's beforeCommit said no: it was discarded, nothing of it applied. */
export class BundleWithheldError extends Error {
  override readonly name = 'BundleWithheldError';
  constructor(readonly bundleId: number) {
    super(`bundle ${bundleId} withheld before its commit and discarded`);
  }
}

/** The connection is down, closed, or failed the handshake. */
export class OpenFlowConnectionError extends Error {
  override readonly name = 'OpenFlowConnectionError';
}

/** No reply within the request timeout. */
export class OpenFlowTimeoutError extends Error {
  override readonly name = 'OpenFlowTimeoutError';
  constructor(readonly request: OfMessage, timeoutMs: number) {
    super(`no reply to ${request.type} (xid=0x${request.xid.toString(16)}) within ${timeoutMs} ms`);
  }
}
