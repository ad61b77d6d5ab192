/** Query parameters of the Kubernetes API, parsed once per request. */
import { ApiErrors, cause, type StatusCause } from '../resources/status';
import { defaultFieldManager } from './server-side-apply';
import type { FieldValidation } from '../resources/schema-validator';
import { parseFieldSelector, parseLabelSelector, SelectorSyntaxError, type ObjectFilter } from './selectors';

export type Query = Record<string, string | string[] | undefined>;

export function one(q: Query, name: string): string | undefined {
  const v = q[name];
  return Array.isArray(v) ? v[v.length - 1] : v;
}

export interface ListQuery {
  filter: ObjectFilter;
  limit: number;
  continueToken?: string;
  resourceVersion?: string;
  /** How a list reads resourceVersion (Kubernetes' semantics; see ResourceService.list). */
  resourceVersionMatch?: 'Exact' | 'NotOlderThan';
  watch: boolean;
  allowWatchBookmarks: boolean;
  /**
   * A watch that starts with the current state (Kubernetes' watch-list, sendInitialEvents):
   * ADDED for each object, then a BOOKMARK annotated k8s.io/initial-events-end, then changes.
   */
  sendInitialEvents?: boolean;
  timeoutSeconds?: number;
}

export interface WriteQuery {
  dryRun: boolean;
  fieldValidation: FieldValidation;
  /** As the request named it (an apply must). */
  fieldManager?: string;
  /** Who managedFields records for a write other than an apply: fieldManager, else the client program (User-Agent). */
  manager: string;
  force: boolean;
  /** Fields the request's JSON body named twice in one object (the last was kept): refused under Strict, warned of under Warn. */
  duplicateFields?: string[];
}

function bool(v: string | undefined): boolean {
  return v === 'true' || v === '1';
}

export function parseListQuery(q: Query): ListQuery {
  let filter: ObjectFilter;
  try {
    filter = { labels: parseLabelSelector(one(q, 'labelSelector')), fields: parseFieldSelector(one(q, 'fieldSelector')) };
  } catch (err) {
    if (err instanceof SelectorSyntaxError) throw ApiErrors.badRequest(err.message);
    throw err;
  }
  const limitText = one(q, 'limit');
  const asked = limitText ? Number(limitText) : 0;
  if (!Number.isInteger(asked)) throw ApiErrors.badRequest(`limit must be an integer, got "${limitText}"`);
  // As kube-apiserver: only a limit above 0 pages; 0 or less is the whole list (QA-127 F7: a 400).
  const limit = Math.max(asked, 0);
  const timeoutText = one(q, 'timeoutSeconds');
  const timeoutSeconds = timeoutText ? Number(timeoutText) : undefined;
  if (timeoutSeconds !== undefined && (!Number.isFinite(timeoutSeconds) || timeoutSeconds < 0)) {
    throw ApiErrors.badRequest(`timeoutSeconds must be a non-negative number`);
  }
  const continueToken = one(q, 'continue') || undefined;
  const resourceVersion = one(q, 'resourceVersion');
  const watch = bool(one(q, 'watch'));
  const allowWatchBookmarks = bool(one(q, 'allowWatchBookmarks'));
  const initialText = one(q, 'sendInitialEvents');
  const sendInitialEvents = initialText === undefined ? undefined : bool(initialText);
  return {
    filter,
    limit,
    continueToken,
    resourceVersion,
    resourceVersionMatch: resourceVersionMatch(one(q, 'resourceVersionMatch'), resourceVersion, continueToken, watch, sendInitialEvents, allowWatchBookmarks),
    watch,
    allowWatchBookmarks,
    sendInitialEvents,
    timeoutSeconds,
  };
}

/** Checks resourceVersionMatch as kube-apiserver's ValidateListOptions does (422, kind ListOptions). */
function resourceVersionMatch(
  match: string | undefined,
  rv: string | undefined,
  continueToken: string | undefined,
  watch: boolean,
  sendInitialEvents: boolean | undefined,
  allowWatchBookmarks: boolean,
): ListQuery['resourceVersionMatch'] {
  const forbidden = (message: string, field = 'resourceVersionMatch') => cause(field, `Forbidden: ${message}`, 'FieldValueForbidden');
  const causes: StatusCause[] = [];
  if (watch && sendInitialEvents !== undefined) {
    if (match !== 'NotOlderThan') causes.push(forbidden('sendInitialEvents requires setting resourceVersionMatch to NotOlderThan'));
    if (!allowWatchBookmarks) causes.push(forbidden('sendInitialEvents requires setting allowWatchBookmarks to true', 'allowWatchBookmarks'));
  } else if (!match) return undefined;
  else if (watch) causes.push(forbidden('resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided'));
  else {
    if (!rv) causes.push(forbidden('resourceVersionMatch is forbidden unless resourceVersion is provided'));
    if (continueToken) causes.push(forbidden('resourceVersionMatch is forbidden when continue is provided'));
    if (match !== 'Exact' && match !== 'NotOlderThan') {
      causes.push(cause('resourceVersionMatch', `Unsupported value: "${match}": supported values: "Exact", "NotOlderThan", ""`, 'FieldValueNotSupported'));
    }
    if (match === 'Exact' && rv === '0') causes.push(forbidden('resourceVersionMatch "exact" is forbidden for resourceVersion "0"'));
  }
  if (causes.length) throw ApiErrors.invalid({ group: 'meta.k8s.io', kind: 'ListOptions', kindName: 'ListOptions.meta.k8s.io', name: '' }, causes);
  if (sendInitialEvents !== undefined && !watch) throw ApiErrors.badRequest('sendInitialEvents is only supported for watch requests');
  return match as ListQuery['resourceVersionMatch'];
}

export function parseWriteQuery(q: Query, userAgent?: string): WriteQuery {
  const dry = q.dryRun;
  const dryRun = Array.isArray(dry) ? dry.includes('All') : dry === 'All';
  if (dry !== undefined && !dryRun) throw ApiErrors.badRequest(`unsupported dryRun value: only "All" is supported`);
  // Empty is the default, as kube-apiserver reads it.
  const fv = one(q, 'fieldValidation') || 'Warn';
  if (fv !== 'Strict' && fv !== 'Warn' && fv !== 'Ignore') {
    throw ApiErrors.badRequest(`fieldValidation must be one of Strict, Warn, Ignore; got "${fv}"`);
  }
  const fieldManager = one(q, 'fieldManager');
  if (fieldManager !== undefined && (fieldManager.length === 0 || fieldManager.length > 128)) throw ApiErrors.badRequest('fieldManager must be 1-128 characters');
  return { dryRun, fieldValidation: fv, fieldManager, manager: fieldManager ?? defaultFieldManager(userAgent), force: bool(one(q, 'force')) };
}

/** Continue tokens carry the snapshot revision and the last key, like the apiserver's. */
export interface ContinueToken {
  rv: number;
  start: string;
}

export function encodeContinue(t: ContinueToken): string {
  return Buffer.from(JSON.stringify({ v: 'vnet.dev/v1', rv: t.rv, start: t.start })).toString('base64url');
}

export function decodeContinue(s: string): ContinueToken {
  try {
    const o = JSON.parse(Buffer.from(s, 'base64url').toString('utf8')) as { v?: string; rv?: number; start?: string };
    // A revision a list was read at is a positive integer (kube-apiserver's DecodeContinue
    // refuses 0 too): anything else reached the store as a 500.
    if (o.v !== 'vnet.dev/v1' || !Number.isSafeInteger(o.rv) || (o.rv as number) <= 0 || typeof o.start !== 'string') throw new Error('bad');
    return { rv: o.rv as number, start: o.start };
  } catch {
    throw ApiErrors.badRequest('invalid continue token: it must be the value returned by a previous list');
  }
}
