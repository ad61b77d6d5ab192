/**
 * metadata.ownerReferences as kube-apiserver takes them: exact duplicates dropped with a
 * warning (rest.dedupOwnerReferences), then ValidateOwnerReferences: each reference names a
 * version, kind, name and uid, no Event owns anything, and at most one is the controller.
 * Before, both were stored as sent (QA-134 F2): with two controller references each of two
 * controllers may take the object for its own, and a repeated reference named its owner twice.
 */
import type { StatusCause } from '../resources/status';
import { sameValue } from '../resources/same-value';
import { isPlainObject } from './request-body';

const FIELD = 'metadata.ownerReferences';

/** kube-apiserver's words, so that what watches for them (and people who know them) recognise it. */
export function duplicateOwnerReferencesWarning(uids: readonly string[]): string {
  return `.${FIELD} contains duplicate entries; API server dedups owner references in 1.20+, and may reject such requests as early as 1.24; please fix your requests; duplicate UID(s) observed: ${uids.join(', ')}`;
}

/**
 * The references without exact repeats, and the uid of each repeat dropped. As kube-apiserver,
 * only a reference equal in every field to an earlier one is a repeat: the same uid with other
 * fields stays (and ownerReferenceCauses judges it).
 */
export function dedupOwnerReferences<T>(refs: readonly T[]): { refs: T[]; duplicates: string[] } {
  const kept: T[] = [];
  const duplicates: string[] = [];
  for (const r of refs) {
    if (kept.some((k) => sameValue(k, r))) duplicates.push(String(isPlainObject(r) ? r.uid : r));
    else kept.push(r);
  }
  return { refs: kept, duplicates };
}

/** The version of an apiVersion as apimachinery's ParseGroupVersion reads it ("" if none, or malformed). */
function versionOf(apiVersion: string): string {
  const parts = apiVersion.split('/');
  if (parts.length === 1) return parts[0]!;
  return parts.length === 2 ? parts[1]! : '';
}

/** kube-apiserver's ValidateOwnerReferences, worded as it words them (a field path without index, as its). */
export function ownerReferenceCauses(refs: readonly unknown[]): StatusCause[] {
  const causes: StatusCause[] = [];
  const invalid = (field: string, value: unknown, why: string) => causes.push({ field, reason: 'FieldValueInvalid', message: `Invalid value: ${JSON.stringify(value)}: ${why}` });
  let controller: string | undefined;
  for (const r of refs) {
    // The schema says what a reference that is no object, or lacks a string field, is.
    if (!isPlainObject(r)) continue;
    const str = (k: string) => (typeof r[k] === 'string' ? (r[k] as string) : '');
    const [apiVersion, kind, name, uid] = [str('apiVersion'), str('kind'), str('name'), str('uid')];
    const version = versionOf(apiVersion);
    if (version === '') invalid(`${FIELD}.apiVersion`, apiVersion, 'version must not be empty');
    if (kind === '') invalid(`${FIELD}.kind`, kind, 'must not be empty');
    if (name === '') invalid(`${FIELD}.name`, name, 'must not be empty');
    if (uid === '') invalid(`${FIELD}.uid`, uid, 'must not be empty');
    if (apiVersion === 'v1' && kind === 'Event') invalid(FIELD, r, '/v1, Kind=Event is disallowed from being an owner');
    if (r.controller !== true) continue;
    if (controller === undefined) controller = `${kind}/${name}`;
    else invalid(FIELD, refs, `Only one reference can have Controller set to true. Found "true" in references for ${controller} and ${kind}/${name}`);
  }
  return causes;
}
