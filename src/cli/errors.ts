/**
 * The CLI's failures. Every error ends as ONE line on stderr (what failed, why, what to
 * do) and an exit code: 1 for a failed operation, 2 for a usage mistake (kubectl's rule).
 */
import type { Status } from '../resources/status';

export const EXIT_OK = 0;
export const EXIT_ERROR = 1;
export const EXIT_USAGE = 2;
/** The reader of stdout went away (`| head`): 128 + SIGPIPE, what a shell reports for kubectl there. */
export const EXIT_BROKEN_PIPE = 141;

/** An operation failed; the message is already the whole user-facing line. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT_ERROR,
    /** What failed underneath (a transport error, a Status), when there was something. */
    readonly underlying?: unknown,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/**
 * A failure no other object of a batch can escape (vnetd unreachable, the credentials
 * refused): the batch stops at it instead of printing it once per object.
 */
export function failsEveryObject(err: CliError): boolean {
  const u = err.underlying;
  return u instanceof TransportError || (u instanceof ApiStatusError && u.httpStatus === 401);
}

/** The command line itself is wrong (bad flag value, missing argument): exit 2. */
export class UsageError extends CliError {
  constructor(message: string) {
    super(message, EXIT_USAGE);
    this.name = 'UsageError';
  }
}

/** The server answered with a Kubernetes Status (4xx/5xx). */
export class ApiStatusError extends Error {
  constructor(
    readonly httpStatus: number,
    readonly status: Status,
  ) {
    super(status.message);
    this.name = 'ApiStatusError';
  }

  get reason(): string {
    return this.status.reason ?? '';
  }
}

/** vnetd could not be reached or spoken to (refused, DNS, TLS, timeout). */
export class TransportError extends Error {
  constructor(
    readonly server: string,
    readonly code: string,
    message: string,
    /** A write that was sent and got no answer: vnetd may have done it. */
    readonly outcomeUnknown = false,
  ) {
    super(message);
    this.name = 'TransportError';
  }
}
