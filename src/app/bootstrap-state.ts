/**
 * First-start state: the `default` namespace and the admin AccessToken whose secret
 * lives only in the admin kubeconfig. A kubeconfig whose token still verifies is kept;
 * otherwise a new admin secret is minted and the kubeconfig rewritten.
 */
import { existsSync, readFileSync } from 'node:fs';
import { parse } from 'yaml';
import type { AccessToken } from '../admission/access-token.admission';
import { NAMESPACE_FINALIZER, type Namespace } from '../admission/namespace.admission';
import { ACCESS_TOKENS } from '../api/auth/authenticator';
import { formatToken, hashSecret, mintSecret, parseToken, secretMatches } from '../api/auth/token';
import { DEFAULT_NAMESPACE, NAMESPACE_TYPE } from '../resources/catalog';
import type { ObjectStore } from '../store/object-store';
import { KeyExistsError } from '../store/store';

export async function ensureDefaultNamespace(objects: ObjectStore): Promise<void> {
  if (await objects.get(NAMESPACE_TYPE, undefined, DEFAULT_NAMESPACE)) return;
  const ns: Namespace = {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name: DEFAULT_NAMESPACE, finalizers: [NAMESPACE_FINALIZER] },
    spec: { finalizers: ['kubernetes'] },
    status: { phase: 'Active' },
  };
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

/** Returns the admin bearer token to put in the kubeconfig. */
export async function ensureAdminToken(objects: ObjectStore, kubeconfigPath: string): Promise<string> {
  const existing = tokenInKubeconfig(kubeconfigPath);
  const stored = await objects.get<AccessToken>(ACCESS_TOKENS, undefined, 'admin');
  const parsed = existing ? parseToken(existing) : undefined;
  if (stored && parsed?.name === 'admin' && secretMatches(parsed.secret, stored.status?.tokenHash)) return existing!;
  const secret = mintSecret();
  const status = { tokenHash: hashSecret(secret) };
  if (stored) {
    await objects.modify<AccessToken>(ACCESS_TOKENS, undefined, 'admin', (cur) => ({ ...cur, status }), { subresource: 'status' });
  } else {
    await objects.create<AccessToken>(ACCESS_TOKENS, {
      apiVersion: 'vnet.dev/v1alpha1',
      kind: 'AccessToken',
      metadata: { name: 'admin' },
      spec: { admin: true },
      status,
    });
  }
  return formatToken('admin', secret);
}
