/**
 * Update predicates for Controller.watch's ignoreUpdate, in the spirit of
 * controller-runtime's: which changes of an object cannot change what a reconciler does.
 */
import type { KubeObject } from '../resources/object';

/**
 * True when only status (or resourceVersion) differs: another reconciler's status write, or
 * this one's own. A reconciler that reads only spec and metadata of the object (and writes
 * its status) must ignore these, or each of its status writes queues it again.
 */
export function onlyStatusChanged<T extends KubeObject<unknown, unknown>>(oldObj: T, newObj: T): boolean {
  return withoutStatus(oldObj) === withoutStatus(newObj);
}

function withoutStatus(o: KubeObject): string {
  const { resourceVersion: _rv, ...metadata } = o.metadata;
  return JSON.stringify([metadata, o.spec]);
}
