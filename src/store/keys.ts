/**
 * Key layout in the key/value store. Kubernetes-like: /registry/GROUP/PLURAL/[NS/]NAME.
 * Prefixes always end in '/' so that listing `virtualnetworks/a/` never matches `a-b`.
 */
export interface StoredType {
  /** '' for the core group (namespaces). */
  group: string;
  plural: string;
  namespaced: boolean;
  /** The kind has no status subresource (NodeLease, as Kubernetes' Lease): written whole. */
  noStatus?: true;
}

function groupSegment(group: string): string {
  return group === '' ? 'core' : group;
}

export function typePrefix(type: StoredType): string {
  return `/registry/${groupSegment(type.group)}/${type.plural}/`;
}

export function namespacePrefix(type: StoredType, namespace: string): string {
  return `${typePrefix(type)}${namespace}/`;
}

/** The keys a list or watch of type reads: one namespace's, or every namespace's (namespace absent, or a cluster-scoped type). */
export function listPrefix(type: StoredType, namespace: string | undefined): string {
  return type.namespaced && namespace ? namespacePrefix(type, namespace) : typePrefix(type);
}

export function objectKey(type: StoredType, namespace: string | undefined, name: string): string {
  return type.namespaced ? `${namespacePrefix(type, namespace ?? '')}${name}` : `${typePrefix(type)}${name}`;
}
