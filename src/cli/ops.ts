/** The REST verbs on one kind, typed, with paging; errors propagate as ApiStatusError/TransportError. */
import type { KubeObject } from '../resources/object';
import { resourcePath, type KindInfo } from './kinds';
import type { Runtime } from './runtime';

export interface ObjectList<T> {
  items: T[];
  metadata: { resourceVersion?: string; continue?: string };
}

export const MERGE_PATCH = 'application/merge-patch+json';
export const JSON_PATCH = 'application/json-patch+json';

export type JsonPatchOp =
  | { op: 'add' | 'replace' | 'test'; path: string; value: unknown }
  | { op: 'remove'; path: string };

export function getObject<T extends KubeObject>(rt: Runtime, kind: KindInfo, ns: string | undefined, name: string): Promise<T> {
  return rt.client().call<T>({ method: 'GET', path: resourcePath(kind, ns, name) });
}

/** Lists every object (following continue tokens); ns undefined = all namespaces. */
export async function listObjects<T extends KubeObject>(rt: Runtime, kind: KindInfo, ns: string | undefined, query: { labelSelector?: string; fieldSelector?: string } = {}): Promise<ObjectList<T>> {
  const items: T[] = [];
  let token: string | undefined;
  let rv: string | undefined;
  do {
    const page = await rt.client().call<ObjectList<T>>({ method: 'GET', path: resourcePath(kind, ns), query: { limit: 500, continue: token, ...query } });
    items.push(...page.items);
    token = page.metadata.continue || undefined;
    rv = page.metadata.resourceVersion;
  } while (token);
  return { items, metadata: { resourceVersion: rv } };
}

/** Every write carries --dry-run: the server admits, validates and answers as for a real one, and stores nothing. */
function writeQuery(rt: Runtime, query: Record<string, string> = {}): Record<string, string> {
  return rt.dryRun ? { ...query, dryRun: 'All' } : query;
}

export function createObject<T extends KubeObject>(rt: Runtime, kind: KindInfo, ns: string | undefined, body: KubeObject): Promise<T> {
  // Strict: a typo'd field in a manifest is an error, not silently pruned.
  return rt.client().call<T>({ method: 'POST', path: resourcePath(kind, ns), body, query: writeQuery(rt, { fieldValidation: 'Strict' }) });
}

export function deleteObject<T extends KubeObject>(rt: Runtime, kind: KindInfo, ns: string | undefined, name: string): Promise<T> {
  return rt.client().call<T>({ method: 'DELETE', path: resourcePath(kind, ns, name), query: writeQuery(rt) });
}

export function patchObject<T extends KubeObject>(rt: Runtime, kind: KindInfo, ns: string | undefined, name: string, type: typeof MERGE_PATCH | typeof JSON_PATCH, patch: unknown): Promise<T> {
  return rt.client().call<T>({ method: 'PATCH', path: resourcePath(kind, ns, name), body: patch, contentType: type, query: writeQuery(rt, { fieldValidation: 'Strict' }) });
}
