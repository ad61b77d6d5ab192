/** How much of each quota resource a namespace uses now, read from the store; and a quota's status from it. */
import type { LoadBalancer, ResourceQuota, ResourceQuotaStatus } from '../resources/kinds';
import { namespacePrefix } from '../store/keys';
import { LOAD_BALANCERS, NETWORKS, PORTS } from '../store/kinds';
import type { ObjectStore } from '../store/object-store';
import { addUsage, formatQuantity, parseQuantity, quotaResourceOf, usageOf, type QuotaResource } from './resources';

/** Objects being deleted count until they are gone, as in Kubernetes: their flows and addresses are held until then. */
export async function namespaceUsage(objects: ObjectStore, namespace: string): Promise<Map<QuotaResource, number>> {
  const used = new Map<QuotaResource, number>([
    ['virtualnetworks', await objects.kv.count(namespacePrefix(NETWORKS, namespace))],
    ['virtualports', await objects.kv.count(namespacePrefix(PORTS, namespace))],
  ]);
  for (const lb of (await objects.list<LoadBalancer>(LOAD_BALANCERS, namespace)).items) addUsage(used, usageOf('LoadBalancer', lb.spec));
  for (const r of ['loadbalancers', 'lb-listeners', 'lb-backends', 'lb-listener-backends'] as const) used.set(r, used.get(r) ?? 0);
  return used;
}

/** status.hard is spec.hard as numbers; status.used the namespace's usage of each resource it names. */
export function quotaStatus(quota: ResourceQuota, used: ReadonlyMap<QuotaResource, number>): ResourceQuotaStatus {
  const hard: Record<string, string> = {};
  const usedOut: Record<string, string> = {};
  for (const [name, value] of Object.entries(quota.spec?.hard ?? {})) {
    const r = quotaResourceOf(name);
    const q = parseQuantity(value);
    if (!r || !('value' in q)) continue;
    hard[name] = formatQuantity(q.value);
    usedOut[name] = formatQuantity(used.get(r) ?? 0);
  }
  return { hard, used: usedOut };
}
