/**
 * The one error type ipam raises. `field` is a path relative to the value being
 * validated (e.g. "gateway", "excludeRanges[1].start") so the API layer can prefix it
 * ("spec.subnets[0].") and build a 422 Invalid Status cause without parsing messages.
 */
export class IpamError extends Error {
  constructor(
    message: string,
    readonly field?: string,
  ) {
    super(message);
    this.name = 'IpamError';
  }
}

/** One problem found while validating; validators collect all of them, not just the first. */
export interface IpamIssue {
  field?: string;
  message: string;
}

/** Several issues at once (a subnet with a bad gateway and a bad exclude range). */
export class IpamValidationError extends IpamError {
  constructor(readonly issues: IpamIssue[]) {
    super(issues.map((i) => (i.field ? `${i.field}: ${i.message}` : i.message)).join('; '), issues[0]?.field);
    this.name = 'IpamValidationError';
  }
}
