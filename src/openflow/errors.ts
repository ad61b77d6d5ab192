/**
 * Typed errors of the OpenFlow library. Decoding untrusted bytes must only ever
 * throw OpenFlowDecodeError, so callers can tell "peer sent garbage" apart from
 * bugs (RangeError, TypeError) in their own code.
 */
export class OpenFlowDecodeError extends Error {
  override readonly name = 'OpenFlowDecodeError';
  constructor(
    message: string,
    /** Byte offset inside the buffer being decoded, when known. */
    readonly offset?: number,
  ) {
    super(offset === undefined ? message : `${message} (at offset ${offset})`);
  }
}

/** The caller asked to encode something OpenFlow cannot express. */
export class OpenFlowEncodeError extends Error {
  override readonly name: string = 'OpenFlowEncodeError';
}

/**
 * A match field was used without the fields it depends on (OpenFlow 1.3 section
 * 7.2.3.6): a switch would answer OFPBMC_BAD_PREREQ, we refuse before sending.
 */
export class MatchPrerequisiteError extends OpenFlowEncodeError {
  override readonly name = 'MatchPrerequisiteError';
  constructor(
    readonly field: string,
    /** Human-readable description of the missing prerequisite, e.g. "ip_proto=6". */
    readonly missing: string,
  ) {
    super(`match field ${field} requires ${missing}`);
  }
}
