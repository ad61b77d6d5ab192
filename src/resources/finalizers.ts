/** Finalizers vnetd's own reconcilers own. */

/** Held by networks, ports and load balancers until their address/MAC/VNI claims are released. */
export const IPAM_FINALIZER = 'vnet.dev/ipam';

/** Held by namespaces until everything in them is deleted. */
export const NAMESPACE_FINALIZER = 'vnet.dev/namespace';

/**
 * Kubernetes' garbage collector finalizers, which a delete's propagationPolicy adds: the
 * object stays until its dependents (metadata.ownerReferences naming it) are deleted
 * (Foreground), or no longer name it (Orphan).
 */
export const FOREGROUND_DELETION = 'foregroundDeletion';
export const ORPHAN = 'orphan';
