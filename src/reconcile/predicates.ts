/**
 * Update predicates for Controller.watch's ignoreUpdate, in the spirit of
 * controller-runtime's: which changes of an object cannot change what a reconciler does.
 */
import type { KubeObject } from '../resources/object';
import { sameValue } from './same-value';

/**
 * True when only status (or resourceVersion) differs: another reconciler's status write, or
 * this one's own. A reconciler that reads only spec and metadata of the object (and writes
 * its status) must ignore these, or each of its status writes queues it again.
 */
export function onlyStatusChanged<T extends KubeObject<unknown, unknown>>(oldObj: T, newObj: T): boolean {
  // Structural (sameValue ignores undefined properties): no JSON of both objects per event.
  return sameValue(oldObj.spec, newObj.spec) && sameValue({ ...oldObj.metadata, resourceVersion: undefined }, { ...newObj.metadata, resourceVersion: undefined });
}
