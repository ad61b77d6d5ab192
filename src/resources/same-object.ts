/**
 * Whether a write would store nothing new: the objects are the same as stored, apart from
 * when each field manager last wrote (metadata.managedFields[].time) and the order of those
 * entries. A server-side apply records its manager's entry anew on every write, with the
 * time of the request (and last): an apply of an unchanged manifest then moved the
 * resourceVersion and sent every watcher a MODIFIED event (QA-134 F1). kube-apiserver (1.20+,
 * IgnoreManagedFieldsTimestampsTransformer) keeps the stored timestamps when nothing else
 * changed, so that write is none.
 */
import type { KubeObject } from './object';
import { sameValue } from './same-value';

/** The object without its managedFields (the rest shared, not copied). */
function withoutManagedFields(o: KubeObject): KubeObject {
  const { managedFields: _ignored, ...metadata } = o.metadata;
  return { ...o, metadata };
}

function withoutTime(entry: unknown): unknown {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) return entry;
  const { time: _ignored, ...rest } = entry as Record<string, unknown>;
  return rest;
}

/** The same entries, whatever their times and order (each entry of `a` matched to one of `b`). */
function sameEntries(a: readonly unknown[], b: readonly unknown[]): boolean {
  if (a.length !== b.length) return false;
  const left = b.map(withoutTime);
  return a.every((e) => {
    const bare = withoutTime(e);
    const i = left.findIndex((x) => sameValue(x, bare));
    if (i < 0) return false;
    left.splice(i, 1);
    return true;
  });
}

/** `a` and `b` as stored are the same but for managedFields times and order (see above). */
export function sameObject(a: KubeObject, b: KubeObject): boolean {
  const ma = a.metadata.managedFields;
  const mb = b.metadata.managedFields;
  if (!Array.isArray(ma) || !Array.isArray(mb)) return sameValue(a, b);
  return sameValue(withoutManagedFields(a), withoutManagedFields(b)) && sameEntries(ma, mb);
}
