/** Store key <-> (namespace, name) for the object kinds the reconcilers watch. */
import { typePrefix, type StoredType } from '../../store/keys';

/** typePrefix per type, built once: keys are parsed on every reconcile. */
const prefixes = new WeakMap<StoredType, string>();

export function typePrefixOf(type: StoredType): string {
  let p = prefixes.get(type);
  if (p === undefined) prefixes.set(type, (p = typePrefix(type)));
  return p;
}

export function parseObjectKey(type: StoredType, key: string): { namespace?: string; name: string } | undefined {
  const prefix = typePrefixOf(type);
  if (!key.startsWith(prefix)) return undefined;
  const rest = key.slice(prefix.length).split('/');
  if (type.namespaced) return rest.length === 2 ? { namespace: rest[0]!, name: rest[1]! } : undefined;
  return rest.length === 1 ? { name: rest[0]! } : undefined;
}
