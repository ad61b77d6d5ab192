/**
 * First-start state: the `default` namespace and the admin AccessToken whose secret
 * lives only in the admin kubeconfig (see ensureAdminToken).
 */
import { existsSync, readFileSync } from 'node:fs';
import { parse } from 'yaml';
import type { AccessToken } from '../admission/access-token.admission';
import { NAMESPACE_FINALIZER, type Namespace } from '../admission/namespace.admission';
import { ACCESS_TOKENS } from '../api/auth/authenticator';
import { acceptedHashes, formatToken, hashSecret, mintSecret, parseToken, statusAccepts } from '../api/auth/token';
import { DEFAULT_NAMESPACE, NAMESPACE_NAME_LABEL, NAMESPACE_TYPE, withNamespaceNameLabel } from '../resources/catalog';
import type { ObjectStore } from '../store/object-store';
import { KeyExistsError } from '../store/store';

export async function ensureDefaultNamespace(objects: ObjectStore): Promise<void> {
  if (await objects.get(NAMESPACE_TYPE, undefined, DEFAULT_NAMESPACE)) return labelNamespaces(objects);
  const ns: Namespace = withNamespaceNameLabel({
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name: DEFAULT_NAMESPACE, finalizers: [NAMESPACE_FINALIZER] },
    spec: { finalizers: ['kubernetes'] },
    status: { phase: 'Active' },
  });
  try {
    await objects.create(NAMESPACE_TYPE, ns);
  } catch (err) {
    if (!(err instanceof KeyExistsError)) throw err;
  }
}

export function tokenInKubeconfig(path: string): string | undefined {
  if (!existsSync(path)) return undefined;
  try {
    const cfg = parse(readFileSync(path, 'utf8')) as { users?: { user?: { token?: string } }[] };
    return cfg.users?.[0]?.user?.token;
  } catch {
    return undefined;
  }
}

/** How many earlier admin secrets a shared store keeps accepting (schema: previousTokenHashes). */
const KEPT_ADMIN_SECRETS = 4;

/** What ensureAdminToken did: kept the kubeconfig's token, minted the first one, or minted another beside (shared) or instead of (revoked) the stored one. */
export type AdminTokenOutcome = 'kept' | 'created' | 'added' | 'replaced';

/**
 * The admin bearer token to put in the kubeconfig. A kubeconfig whose token still verifies
 * is kept. Otherwise a new secret is minted: on a store of its own (SQLite) it replaces the
 * stored one, so deleting admin.kubeconfig revokes a leaked token; on a shared store (etcd),
 * other controller replicas and their clients hold the current secret, and a replica that
 * started without their admin.kubeconfig must not lock them out: the new secret is added,
 * and the previous ones stay valid (the four newest).
 */
export async function ensureAdminToken(objects: ObjectStore, kubeconfigPath: string, shared: boolean): Promise<{ token: string; outcome: AdminTokenOutcome }> {
  const existing = tokenInKubeconfig(kubeconfigPath);
  const stored = await objects.get<AccessToken>(ACCESS_TOKENS, undefined, 'admin');
  const parsed = existing ? parseToken(existing) : undefined;
  if (stored && parsed?.name === 'admin' && statusAccepts(stored.status, parsed.secret)) return { token: existing!, outcome: 'kept' };
  const secret = mintSecret();
  const tokenHash = hashSecret(secret);
  if (stored) {
    await objects.modify<AccessToken>(ACCESS_TOKENS, undefined, 'admin', (cur) => {
      const previousTokenHashes = shared ? acceptedHashes(cur.status).slice(0, KEPT_ADMIN_SECRETS) : [];
      return { ...cur, status: previousTokenHashes.length > 0 ? { tokenHash, previousTokenHashes } : { tokenHash } };
    }, { subresource: 'status' });
  } else {
    await objects.create<AccessToken>(ACCESS_TOKENS, {
      apiVersion: 'vnet.dev/v1alpha1',
      kind: 'AccessToken',
      metadata: { name: 'admin' },
      spec: { admin: true },
      status: { tokenHash },
    });
  }
  return { token: formatToken('admin', secret), outcome: stored ? (shared ? 'added' : 'replaced') : 'created' };
}

/**
 * Namespaces stored before vnetd set kubernetes.io/metadata.name get it now, as every write to
 * them would: a selector on the label missed them until then.
 */
async function labelNamespaces(objects: ObjectStore): Promise<void> {
  const { items } = await objects.list<Namespace>(NAMESPACE_TYPE, undefined);
  for (const ns of items) {
    if (ns.metadata.labels?.[NAMESPACE_NAME_LABEL] === ns.metadata.name) continue;
    await objects.modify<Namespace>(NAMESPACE_TYPE, undefined, ns.metadata.name, (cur) => (cur.metadata.labels?.[NAMESPACE_NAME_LABEL] === cur.metadata.name ? undefined : withNamespaceNameLabel(structuredClone(cur)))).catch(() => undefined);
  }
}
