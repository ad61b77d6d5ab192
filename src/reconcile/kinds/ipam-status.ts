/**
 * The status IPAM gives a port or load balancer: what was allocated (status.mac/ips or
 * status.vip) and the AddressesAllocated condition (with its observedGeneration). Not
 * status.observedGeneration: that says the status as a whole describes a generation, and is
 * written with Ready (pipeline), which comes last; set here, it ran ahead of a Ready still
 * about the previous generation. One function for
 * both writers: admission sets it on create, in the same write as the object and its
 * claims (as the apiserver allocates a Service's clusterIP), and the IPAM reconciler
 * keeps it true later (spec updates, conflicts). Being the same function, the reconciler
 * finds a freshly created object's status already right and writes nothing.
 */
import type { LoadBalancer, VirtualPort } from '../../resources/kinds';
import type { Condition, KubeObject } from '../../resources/object';
import { getCondition, setCondition } from '../conditions';

export const ALLOCATED = 'AddressesAllocated';

/**
 * The AddressesAllocated condition set on obj's conditions (a new array when it changes).
 * IPAM sets only this one: Ready belongs to the pipeline reconciler (flows installed).
 */
export function allocationConditions(obj: KubeObject<unknown, { conditions?: Condition[] }>, ok: boolean, reason: string, message: string, generation = obj.metadata.generation): Condition[] {
  return setCondition(obj.status?.conditions, { type: ALLOCATED, status: ok ? 'True' : 'False', reason, message, observedGeneration: generation });
}

/**
 * The claimant's status with its allocation: `missing` lists the claims another object
 * holds (empty: all held). generation: the object's, or 1 for one being created (the
 * store sets it only when writing).
 */
export function claimantAllocatedStatus(kind: 'VirtualPort' | 'LoadBalancer', obj: VirtualPort | LoadBalancer, missing: readonly string[], generation = obj.metadata.generation): Record<string, unknown> {
  const ok = missing.length === 0;
  const status = { ...(obj.status ?? {}) } as Record<string, unknown>;
  if (kind === 'VirtualPort') {
    const p = obj as VirtualPort;
    status.mac = p.spec!.mac;
    status.ips = p.spec!.ips;
  } else {
    status.vip = (obj as LoadBalancer).spec!.vip;
  }
  status.conditions = allocationConditions(obj, ok, ok ? 'Allocated' : 'AddressConflict', ok ? 'addresses allocated' : `not held by this object: ${missing.join(', ')}`, generation);
  return status;
}

/** The object's status already says its addresses are allocated, for its current generation. */
export function allocatedAtGeneration(obj: KubeObject<unknown, { conditions?: Condition[] }>): boolean {
  const c = getCondition(obj.status?.conditions, ALLOCATED);
  return c?.status === 'True' && c.observedGeneration === obj.metadata.generation;
}
