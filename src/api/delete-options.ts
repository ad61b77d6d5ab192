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

function dryRunOf(value: unknown, where: string): string[] | undefined {
  if (value === undefined) return undefined;
  const values = Array.isArray(value) ? value : [value];
  if (!values.every((v) => v === 'All')) throw ApiErrors.badRequest(`${where}: unsupported dryRun value ${JSON.stringify(value)}: only "All" is supported`);
  return values.length ? ['All'] : undefined;
}

export function parseDeleteOptions(body: unknown, q: Query): DeleteOptions {
  if (body !== undefined && !isPlainObject(body)) throw ApiErrors.badRequest('the body of a DELETE must be a DeleteOptions object');
  const b = (body ?? {}) as Record<string, unknown>;
  if (b.kind !== undefined && b.kind !== 'DeleteOptions') throw ApiErrors.badRequest(`the body of a DELETE must be a DeleteOptions, not a ${JSON.stringify(b.kind)}`);
  const out: DeleteOptions = {};
  const dryRun = dryRunOf(b.dryRun, 'DeleteOptions') ?? dryRunOf(q.dryRun, 'query');
  if (dryRun) out.dryRun = dryRun;
  if (b.preconditions !== undefined) {
    const p = b.preconditions;
    if (!isPlainObject(p) || Object.entries(p).some(([k, v]) => (k !== 'uid' && k !== 'resourceVersion') || (v !== undefined && v !== null && typeof v !== 'string'))) {
      throw ApiErrors.badRequest('DeleteOptions.preconditions must be an object with string fields uid and resourceVersion');
    }
    const { uid, resourceVersion } = p as { uid?: string | null; resourceVersion?: string | null };
    out.preconditions = { ...(uid ? { uid } : {}), ...(resourceVersion ? { resourceVersion } : {}) };
  }
  const policy = b.propagationPolicy ?? q.propagationPolicy;
  if (policy !== undefined && typeof policy !== 'string') throw ApiErrors.badRequest('propagationPolicy must be a string: Foreground, Background or Orphan');
  if (policy !== undefined) out.propagationPolicy = policy;
  const orphan = b.orphanDependents ?? (q.orphanDependents === undefined ? undefined : q.orphanDependents === 'true' ? true : q.orphanDependents === 'false' ? false : q.orphanDependents);
  if (orphan !== undefined && typeof orphan !== 'boolean') throw ApiErrors.badRequest('orphanDependents must be true or false');
  if (orphan !== undefined) out.orphanDependents = orphan;
  if (out.orphanDependents !== undefined && out.propagationPolicy !== undefined) {
    throw ApiErrors.invalid({ group: 'meta.k8s.io', kind: 'deleteoptions', kindName: 'DeleteOptions' }, [{ field: 'orphanDependents', reason: 'FieldValueInvalid', message: 'orphanDependents and propagationPolicy may not both be set' }]);
  }
  const grace = b.gracePeriodSeconds;
  if (grace !== undefined && grace !== null && !(Number.isInteger(grace) && (grace as number) >= 0)) throw ApiErrors.badRequest('gracePeriodSeconds must be a non-negative integer');
  return out;
}
