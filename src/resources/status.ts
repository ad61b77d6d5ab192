/**
 * Errors as Kubernetes Status objects: every failure the API returns is one of these,
 * so kubectl and client libraries print them well (reason, field causes).
 */

export type StatusReason =
  | 'BadRequest'
  | 'Unauthorized'
  | 'Forbidden'
  | 'NotFound'
  | 'AlreadyExists'
  | 'Conflict'
  | 'Gone'
  | 'Expired'
  | 'Invalid'
  | 'MethodNotAllowed'
  | 'NotAcceptable'
  | 'UnsupportedMediaType'
  | 'InsufficientStorage'
  | 'RequestEntityTooLarge'
  | 'TooManyRequests'
  | 'InternalError'
  | 'ServiceUnavailable'
  | 'Timeout';

export interface StatusCause {
  reason: string;
  message: string;
  field?: string;
}

export interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  uid?: string;
  causes?: StatusCause[];
  retryAfterSeconds?: number;
}

export interface Status {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never>;
  status: 'Failure' | 'Success';
  message: string;
  reason?: StatusReason;
  details?: StatusDetails;
  code: number;
}

export interface ResourceId {
  group: string;
  /** The plural resource name, as Kubernetes puts it in details.kind. */
  kind: string;
  name?: string;
}

export class ApiError extends Error {
  constructor(
    readonly code: number,
    readonly reason: StatusReason,
    message: string,
    readonly details?: StatusDetails,
  ) {
    super(message);
    this.name = 'ApiError';
  }

  toStatus(): Status {
    return {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: this.message,
      reason: this.reason,
      ...(this.details ? { details: this.details } : {}),
      code: this.code,
    };
  }
}

function qualified(r: ResourceId): string {
  return r.group ? `${r.kind}.${r.group}` : r.kind;
}

function detailsOf(r: ResourceId, extra: Partial<StatusDetails> = {}): StatusDetails {
  return { ...(r.name !== undefined ? { name: r.name } : {}), group: r.group, kind: r.kind, ...extra };
}

export const ApiErrors = {
  badRequest: (message: string) => new ApiError(400, 'BadRequest', message),
  unauthorized: (message = 'Unauthorized') => new ApiError(401, 'Unauthorized', message),
  forbidden: (r: ResourceId, message: string) =>
    new ApiError(403, 'Forbidden', `${qualified(r)}${r.name ? ` "${r.name}"` : ''} is forbidden: ${message}`, detailsOf(r)),
  notFound: (r: ResourceId) =>
    new ApiError(404, 'NotFound', `${qualified(r)} "${r.name ?? ''}" not found`, detailsOf(r)),
  notFoundPath: (path?: string) => new ApiError(404, 'NotFound', `the server could not find the requested resource${path ? ` (${path})` : ''}`, {}),
  /** `beingDeleted`: the object there has a deletionTimestamp, said first as kube-apiserver says it. */
  alreadyExists: (r: ResourceId, beingDeleted = false) =>
    new ApiError(409, 'AlreadyExists', `${beingDeleted ? 'object is being deleted: ' : ''}${qualified(r)} "${r.name ?? ''}" already exists`, detailsOf(r)),
  /** `causes`: the fields the conflict is about, as kube-apiserver gives them when it has them. */
  conflict: (r: ResourceId, why: string, causes?: StatusCause[]) =>
    new ApiError(
      409,
      'Conflict',
      `Operation cannot be fulfilled on ${qualified(r)} "${r.name ?? ''}": ${why}`,
      detailsOf(r, causes ? { causes } : undefined),
    ),
  gone: (message: string) => new ApiError(410, 'Expired', message),
  invalid: (r: ResourceId & { kindName: string }, causes: StatusCause[]) =>
    new ApiError(
      422,
      'Invalid',
      `${r.kindName}${r.name !== undefined ? ` "${r.name}"` : ''} is invalid: ${causes
        .map((c) => (c.field ? `${c.field}: ${c.message}` : c.message))
        .join(', ')}`,
      detailsOf({ group: r.group, kind: r.kindName, name: r.name }, { causes }),
    ),
  methodNotAllowed: (message: string) => new ApiError(405, 'MethodNotAllowed', message),
  notAcceptable: (message: string) => new ApiError(406, 'NotAcceptable', message),
  unsupportedMediaType: (contentType: string) =>
    new ApiError(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/merge-patch+json, application/json-patch+json, application/apply-patch+yaml (got ${contentType || 'none'})`),
  tooLarge: (limit: number) =>
    new ApiError(413, 'RequestEntityTooLarge', `Request entity too large: limit is ${limit} bytes`),
  /** kube-apiserver's words for a request over a limit, which client-go retries after Retry-After. */
  tooManyRequests: (message: string, retryAfterSeconds: number) => new ApiError(429, 'TooManyRequests', `Too many requests, please try again later: ${message}`, { retryAfterSeconds }),
  internal: (message: string) => new ApiError(500, 'InternalError', `Internal error occurred: ${message}`),
  /** The store (etcd) cannot be reached: retry shortly (client-go honours Retry-After on 503). */
  storeUnavailable: (message: string) => new ApiError(503, 'ServiceUnavailable', `the store is unavailable, retry shortly: ${message}`, { retryAfterSeconds: 1 }),
  // kube-apiserver's words for the same: the request may have been done, so a retried write can find it done.
  /** etcd's database reached its space quota: writes are refused until an operator frees space (no retry helps: no Retry-After). */
  storeFull: (message: string) =>
    new ApiError(507, 'InsufficientStorage', `the store is full and refuses writes (etcd's database reached its space quota, --quota-backend-bytes); reads go on. An operator compacts and defragments etcd, then disarms its NOSPACE alarm (etcdctl alarm disarm): ${message}`),
  /** SQLite's data dir refuses writes: its file system full (or read-only). */
  diskFull: (message: string, readOnly: boolean) =>
    new ApiError(
      507,
      'InsufficientStorage',
      readOnly
        ? `the store refuses writes: its data dir's file system is read-only (the SQLite file or its directory cannot be written); reads go on. An operator makes it writable again, and writes succeed: ${message}`
        : `the store refuses writes: its data dir's file system is full (no write was done); reads go on. An operator frees space there (df on VNETD_DATA_DIR), and writes succeed again: ${message}`,
    ),
  storeTimeout: (message: string) => new ApiError(504, 'Timeout', `Timeout: the store did not answer in time; the request may still have been done (a retried create can answer AlreadyExists): ${message}`, { retryAfterSeconds: 1 }),
  /** A read asked for a revision the store has not reached (kube-apiserver's storage.NewTooLargeResourceVersionError). */
  tooLargeResourceVersion: (asked: number, current: number) =>
    new ApiError(504, 'Timeout', `Timeout: Too large resource version: ${asked}, current: ${current}`, {
      causes: [{ reason: 'ResourceVersionTooLarge', message: 'Too large resource version' }],
      retryAfterSeconds: 1,
    }),
};

/** A field cause in Kubernetes' style: reason FieldValueInvalid etc. */
export function cause(
  field: string,
  message: string,
  reason: 'FieldValueInvalid' | 'FieldValueRequired' | 'FieldValueDuplicate' | 'FieldValueNotSupported' | 'FieldValueForbidden' | 'FieldValueNotFound' | 'FieldValueTooLong' | 'FieldValueTypeInvalid' = 'FieldValueInvalid',
): StatusCause {
  return { reason, message, field };
}
