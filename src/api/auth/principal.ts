/** Who is calling: an admin, a tenant bound to namespaces, or vnetd itself (reconcilers). */
export interface Principal {
  name: string;
  admin: boolean;
  /** Namespaces a tenant may use; ignored for admins. */
  namespaces: ReadonlySet<string>;
}

export const SYSTEM_PRINCIPAL: Principal = { name: 'system:vnetd', admin: true, namespaces: new Set() };

export function canUseNamespace(p: Principal, namespace: string): boolean {
  return p.admin || p.namespaces.has(namespace);
}
