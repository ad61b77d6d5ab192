/** Who is calling: an admin, a tenant bound to namespaces, a node's agent, or vnetd itself (reconcilers). */
export interface Principal {
  name: string;
  admin: boolean;
  /** Namespaces a tenant may use; ignored for admins. */
  namespaces: ReadonlySet<string>;
  /** An agent's token: the node it acts for, or ANY_NODE (access-token.admission.ts). Such a principal is never admin. */
  node?: string;
  /** Impersonated (impersonation.ts): the caller's own name, whose token's end ends what it opened as this principal. */
  via?: string;
}

/** The principal name of an AccessToken's holder (what logs, 403s and `kubectl auth whoami` say). */
export const tokenPrincipal = (tokenName: string): string => `token:${tokenName}`;

/** Whether a principal name is an AccessToken holder's (tokenPrincipal). */
export const isTokenPrincipal = (name: string): boolean => name.startsWith('token:');

export const SYSTEM_PRINCIPAL: Principal = { name: 'system:vnetd', admin: true, namespaces: new Set() };

export function canUseNamespace(p: Principal, namespace: string): boolean {
  return p.admin || p.namespaces.has(namespace);
}
