/**
 * A DELETE's options, from its body (a meta/v1 DeleteOptions) and its query, checked as
 * kube-apiserver checks them: a value of the wrong type or an unsupported dryRun is a 400,
 * never dropped. (A body of {"dryRun":["all"]} or ?dryRun=true, let through as "not a dry
 * run", deleted the object.)
 */
import { ApiErrors } from '../resources/status';
import type { Query } from './query';
import { isPlainObject } from './request-body';
import type { DeleteOptions } from './resource.service';

const invalid = (field: string, reason: string, message: string) => ApiErrors.invalid({ group: 'meta.k8s.io', kind: 'deleteoptions', kindName: 'DeleteOptions' }, [{ field, reason, message }]);

/** null is absent, as client libraries that write every field send it. */
const given = (v: unknown): boolean => v !== undefined && v !== null;

function dryRunOf(value: unknown, fromBody: boolean): string[] | undefined {
  if (!given(value)) return undefined;
  // In a body it is a list (a string does not decode); in a query, repeated values.
  if (fromBody && !Array.isArray(value)) throw ApiErrors.badRequest('DeleteOptions.dryRun must be a list, e.g. ["All"]');
  const values = Array.isArray(value) ? value : [value];
  const bad = values.find((v) => v !== 'All');
  if (bad !== undefined) throw invalid('dryRun', 'FieldValueNotSupported', `Unsupported value: ${JSON.stringify(bad)}: supported values: "All"`);
  return values.length ? ['All'] : undefined;
}

/**
 * As kube-apiserver: the body's options when a body is sent, else the query's. (vnetd has
 * no grace period: gracePeriodSeconds is checked for its type and otherwise ignored.)
 */
export function parseDeleteOptions(body: unknown, q: Query): DeleteOptions {
  if (body !== undefined && !isPlainObject(body)) throw ApiErrors.badRequest('the body of a DELETE must be a DeleteOptions object');
  const fromBody = body !== undefined;
  const b = (body ?? {}) as Record<string, unknown>;
  if (given(b.kind) && b.kind !== 'DeleteOptions') throw ApiErrors.badRequest(`the body of a DELETE must be a DeleteOptions, not a ${JSON.stringify(b.kind)}`);
  const src: Record<string, unknown> = fromBody
    ? b
    : { dryRun: q.dryRun, propagationPolicy: q.propagationPolicy, orphanDependents: q.orphanDependents === undefined ? undefined : q.orphanDependents === 'true' ? true : q.orphanDependents === 'false' ? false : q.orphanDependents, gracePeriodSeconds: q.gracePeriodSeconds === undefined ? undefined : Number(q.gracePeriodSeconds) };
  const out: DeleteOptions = {};
  const dryRun = dryRunOf(src.dryRun, fromBody);
  if (dryRun) out.dryRun = dryRun;
  if (given(src.preconditions)) {
    const p = src.preconditions;
    if (!isPlainObject(p) || [p.uid, p.resourceVersion].some((v) => given(v) && typeof v !== 'string')) {
      throw ApiErrors.badRequest('DeleteOptions.preconditions must be an object with string fields uid and resourceVersion');
    }
    const { uid, resourceVersion } = p as { uid?: string | null; resourceVersion?: string | null };
    out.preconditions = { ...(uid ? { uid } : {}), ...(resourceVersion ? { resourceVersion } : {}) };
  }
  const policy = src.propagationPolicy;
  if (given(policy) && typeof policy !== 'string') throw ApiErrors.badRequest('propagationPolicy must be a string: Foreground, Background or Orphan');
  if (given(policy)) out.propagationPolicy = policy as string;
  const orphan = src.orphanDependents;
  if (given(orphan) && typeof orphan !== 'boolean') throw ApiErrors.badRequest('orphanDependents must be true or false');
  if (given(orphan)) out.orphanDependents = orphan as boolean;
  if (out.orphanDependents !== undefined && out.propagationPolicy !== undefined) {
    throw invalid('orphanDependents', 'FieldValueInvalid', 'orphanDependents and propagationPolicy may not both be set');
  }
  // A negative one kube-apiserver takes as 1 s; nothing here waits for it either way.
  const grace = src.gracePeriodSeconds;
  if (given(grace) && !Number.isInteger(grace)) throw ApiErrors.badRequest('gracePeriodSeconds must be an integer');
  return out;
}
