/** Finalizers vnetd's own reconcilers own. */

/** Held by networks, ports and load balancers until their address/MAC/VNI claims are released. */
export const IPAM_FINALIZER = 'vnet.dev/ipam';

/**
 * Held by networks, ports and load balancers until no node has their flows any more (the
 * pipeline removes it once every connected node's installed flows, fast path included, no
 * longer realize the object). Their addresses are released after it (IPAM waits for the other
 * finalizers), so none goes to a new object while flows still send traffic to the old one,
 * and a delete with --wait (or kubectl delete) returns when traffic is cut everywhere.
 */
export const DATAPLANE_FINALIZER = 'vnet.dev/dataplane';

/** Held by namespaces until everything in them is deleted. */
export const NAMESPACE_FINALIZER = 'vnet.dev/namespace';

/**
 * Kubernetes' garbage collector finalizers, which a delete's propagationPolicy adds: the
 * object stays until its dependents (metadata.ownerReferences naming it) are deleted
 * (Foreground), or no longer name it (Orphan).
 */
export const FOREGROUND_DELETION = 'foregroundDeletion';
export const ORPHAN = 'orphan';
