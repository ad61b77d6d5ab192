/**
 * Update predicates for Controller.watch's ignoreUpdate, in the spirit of
 * controller-runtime's: which changes of an object cannot change what a reconciler does.
 */
import type { KubeObject } from '../resources/object';
import { sameValue } from '../resources/same-value';

/**
 * True when only status (or resourceVersion) differs: another reconciler's status write, or
 * this one's own. A reconciler that reads only spec and metadata of the object (and writes
 * its status) must ignore these, or each of its status writes queues it again.
 */
export function onlyStatusChanged<T extends KubeObject<unknown, unknown>>(oldObj: T, newObj: T): boolean {
  const { resourceVersion: _old, ...oldMeta } = oldObj.metadata;
  const { resourceVersion: _new, ...newMeta } = newObj.metadata;
  return sameValue(oldObj.spec, newObj.spec) && sameValue(oldMeta, newMeta);
}

/**
 * True when neither spec nor the object's life cycle (uid, generation, deletion,
 * finalizers) changed: labels, annotations and status may have. For reconcilers that
 * act on spec alone (IPAM), where a label edit needs no work either.
 */
export function sameSpecAndLifecycle<T extends KubeObject<unknown, unknown>>(oldObj: T, newObj: T): boolean {
  const o = oldObj.metadata;
  const n = newObj.metadata;
  return (
    o.uid === n.uid &&
    o.generation === n.generation &&
    o.deletionTimestamp === n.deletionTimestamp &&
    sameValue(o.finalizers, n.finalizers) &&
    sameValue(oldObj.spec, newObj.spec)
  );
}
