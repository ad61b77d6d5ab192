/** Store key <-> (namespace, name) for the object kinds the reconcilers watch. */
import { typePrefix, type StoredType } from '../../store/keys';

export function parseObjectKey(type: StoredType, key: string): { namespace?: string; name: string } | undefined {
  const prefix = typePrefix(type);
  if (!key.startsWith(prefix)) return undefined;
  const rest = key.slice(prefix.length).split('/');
  if (type.namespaced) return rest.length === 2 ? { namespace: rest[0]!, name: rest[1]! } : undefined;
  return rest.length === 1 ? { name: rest[0]! } : undefined;
}
