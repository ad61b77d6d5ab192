/**
 * Lists whose field selector can name one object at most, read as that object instead of
 * the whole kind: the store has no index of objects' fields, so a selected list reads and
 * decodes every object of the kind. Agents open such lists by the thousand: a network's
 * watch selects `metadata.name=N`, and a NIC's watch a port by `spec.interfaceId=ID`, which
 * the port's claim of its interface id (made with the port, at admission) names.
 */
import type { Allocation } from '../ipam/allocation-registry';
import { ifaceKey } from '../ipam/allocation-registry';
import type { KubeObject } from '../resources/object';
import type { StoredType } from '../store/keys';
import { PORTS } from '../store/kinds';
import { readKeyAt, type ObjectStore } from '../store/object-store';
import type { FieldRequirement } from './selectors';

export interface PointRead<T> {
  /** The one object the selector can name, if it exists (the caller still applies the whole filter). */
  object?: T;
  resourceVersion: string;
}

/**
 * Reads the object a selector names (at `revision`, or the latest), or undefined when it
 * does not name one: no equality on metadata.name (with the namespace known) or, for ports,
 * on spec.interfaceId.
 */
export async function pointRead<T extends KubeObject>(
  objects: ObjectStore,
  type: StoredType,
  namespace: string | undefined,
  fields: readonly FieldRequirement[],
  revision?: number,
): Promise<PointRead<T> | undefined> {
  const equal = (field: FieldRequirement['field']) => fields.find((r) => r.equals && r.field === field)?.value;
  const ns = namespace ?? equal('metadata.namespace');
  const name = equal('metadata.name');
  if (name !== undefined && (!type.namespaced || ns !== undefined)) {
    const read = await objects.getAt<T>(type, type.namespaced ? ns : undefined, name, revision);
    return { object: read.object, resourceVersion: String(read.revision) };
  }
  const interfaceId = type.group === PORTS.group && type.plural === PORTS.plural ? equal('spec.interfaceId') : undefined;
  if (interfaceId === undefined) return undefined;
  // The claim and the port, at one revision.
  const claim = await readKeyAt<Allocation>(objects.kv, ifaceKey(interfaceId), revision);
  const owner = claim.kv?.value.owner;
  if (!owner || owner.kind !== 'VirtualPort' || (ns !== undefined && owner.namespace !== ns)) return { resourceVersion: String(claim.revision) };
  const read = await objects.getAt<T>(type, owner.namespace, owner.name, claim.revision);
  return { object: read.object, resourceVersion: String(read.revision) };
}
