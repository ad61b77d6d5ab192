/**
 * A quota's usage in words, for tables (the API's Table for kubectl, vnetctl's): what each
 * limited resource uses of its limit, and which are at it (the next write asking for more of
 * one is refused).
 */
import type { ResourceQuotaStatus } from '../resources/kinds';
import { parseQuantity } from './resources';

/** As kubectl prints REQUEST: `count/virtualports.vnet.dev: 3/10, ...`, by name; `<none>` without limits. */
export function quotaUsageText(status: ResourceQuotaStatus | undefined): string {
  const names = Object.keys(status?.hard ?? {}).sort();
  return names.length === 0 ? '<none>' : names.map((n) => `${n}: ${String(status?.used?.[n] ?? 0)}/${String(status?.hard?.[n])}`).join(', ');
}

/** The resources whose usage has reached their limit, by name. */
export function quotaResourcesAtLimit(status: ResourceQuotaStatus | undefined): string[] {
  const numberOf = (v: unknown): number | undefined => {
    const q = parseQuantity(v ?? '0');
    return 'value' in q ? q.value : undefined;
  };
  return Object.keys(status?.hard ?? {})
    .sort()
    .filter((n) => {
      const hard = numberOf(status?.hard?.[n]);
      const used = numberOf(status?.used?.[n]);
      return hard !== undefined && used !== undefined && used >= hard;
    });
}
