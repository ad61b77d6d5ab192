/**
 * Finalizers on metadata. Pure, like conditions.ts: add/remove return a new object (with
 * new metadata) when something changes and the same object otherwise, so
 * `next !== obj` means "write it", and cached objects are never mutated.
 */
import type { ObjectMeta } from '../resources/object';

export interface HasMetadata {
  metadata: ObjectMeta;
}

export function hasFinalizer(obj: HasMetadata, finalizer: string): boolean {
  return obj.metadata.finalizers?.includes(finalizer) ?? false;
}

export function addFinalizer<T extends HasMetadata>(obj: T, finalizer: string): T {
  if (hasFinalizer(obj, finalizer)) return obj;
  return { ...obj, metadata: { ...obj.metadata, finalizers: [...(obj.metadata.finalizers ?? []), finalizer] } };
}

/** Removes every occurrence; drops the field when it becomes empty, as the API server does. */
export function removeFinalizer<T extends HasMetadata>(obj: T, finalizer: string): T {
  if (!hasFinalizer(obj, finalizer)) return obj;
  const rest = (obj.metadata.finalizers ?? []).filter((f) => f !== finalizer);
  const metadata: ObjectMeta = { ...obj.metadata, finalizers: rest };
  if (rest.length === 0) delete metadata.finalizers;
  return { ...obj, metadata };
}

/** Deletion was requested: the object waits for its finalizers to go. */
export function isBeingDeleted(obj: HasMetadata): boolean {
  return obj.metadata.deletionTimestamp !== undefined;
}
