/**
 * A quota's usage in words, for tables (the API's Table for kubectl, vnetctl's): what each
 * limited resource uses of its limit, and which are at it (the next write asking for more of
 * one is refused).
 */
import type { ResourceQuota, ResourceQuotaStatus } from '../resources/kinds';
import { parseQuantity } from './resources';

/** As kubectl prints REQUEST: `count/virtualports.vnet.dev: 3/10, ...`, by name; `<none>` without limits. */
export function quotaUsageText(status: ResourceQuotaStatus | undefined): string {
  const names = Object.keys(status?.hard ?? {}).sort();
  return names.length === 0 ? '<none>' : names.map((n) => `${n}: ${String(status?.used?.[n] ?? 0)}/${String(status?.hard?.[n])}`).join(', ');
}

/**
 * The resources whose usage has reached their limit, by name: spec.hard, which admission
 * enforces (status.hard follows it at the quota reconciler's next pass).
 */
export function quotaResourcesAtLimit(quota: Pick<ResourceQuota, 'spec' | 'status'>): string[] {
  const hardOf = quota.spec?.hard ?? quota.status?.hard ?? {};
  const used = quota.status?.used ?? {};
  const numberOf = (v: unknown): number | undefined => {
    const q = parseQuantity(v ?? '0');
    return 'value' in q ? q.value : undefined;
  };
  return Object.keys(hardOf)
    .sort()
    .filter((n) => {
      const hard = numberOf(hardOf[n]);
      const usedN = numberOf(used[n]);
      return hard !== undefined && usedN !== undefined && usedN >= hard;
    });
}
