/**
 * What a ResourceQuota can limit, and how much of it one object uses. Kubernetes' object-count
 * names (`count/<plural>.<group>`, and the bare plural as for pods and services), and what
 * makes a load balancer heavy on a hypervisor: each of its listeners DNATs to each of its
 * backends with one flow on every node that realizes it, so listeners x backends is the
 * figure that filled a node with 330k flows (QA-133 F1), not the number of load balancers.
 */
import type { LoadBalancerSpec } from '../resources/kinds';

export type QuotaResource = 'virtualnetworks' | 'virtualports' | 'loadbalancers' | 'lb-listeners' | 'lb-backends' | 'lb-listener-backends';

/** The kinds whose objects use quota, by kind name. */
export type QuotaKind = 'VirtualNetwork' | 'VirtualPort' | 'LoadBalancer';

/** Every name spec.hard accepts, and the resource it limits. */
export const QUOTA_RESOURCE_NAMES: ReadonlyMap<string, QuotaResource> = new Map<string, QuotaResource>([
  ['count/virtualnetworks.vnet.dev', 'virtualnetworks'],
  ['virtualnetworks', 'virtualnetworks'],
  ['count/virtualports.vnet.dev', 'virtualports'],
  ['virtualports', 'virtualports'],
  ['count/loadbalancers.vnet.dev', 'loadbalancers'],
  ['loadbalancers', 'loadbalancers'],
  ['vnet.dev/lb-listeners', 'lb-listeners'],
  ['vnet.dev/lb-backends', 'lb-backends'],
  ['vnet.dev/lb-listener-backends', 'lb-listener-backends'],
]);

export function quotaResourceOf(name: string): QuotaResource | undefined {
  return QUOTA_RESOURCE_NAMES.get(name);
}

export function isQuotaKind(kind: string): kind is QuotaKind {
  return kind === 'VirtualNetwork' || kind === 'VirtualPort' || kind === 'LoadBalancer';
}

export type Usage = ReadonlyMap<QuotaResource, number>;

/** What one object of `kind` uses. Its spec may be anything a client sent: only counted, never trusted. */
export function usageOf(kind: QuotaKind, spec: unknown): Usage {
  if (kind === 'VirtualNetwork') return new Map([['virtualnetworks', 1]]);
  if (kind === 'VirtualPort') return new Map([['virtualports', 1]]);
  const lb = (spec ?? {}) as Partial<LoadBalancerSpec>;
  const listeners = Array.isArray(lb.listeners) ? lb.listeners.length : 0;
  const backends = Array.isArray(lb.backends) ? lb.backends.length : 0;
  return new Map<QuotaResource, number>([
    ['loadbalancers', 1],
    ['lb-listeners', listeners],
    ['lb-backends', backends],
    ['lb-listener-backends', listeners * backends],
  ]);
}

/** after - before, without the resources that did not change. */
export function usageDelta(after: Usage, before: Usage | undefined): Map<QuotaResource, number> {
  const out = new Map<QuotaResource, number>();
  for (const r of new Set([...after.keys(), ...(before?.keys() ?? [])])) {
    const d = (after.get(r) ?? 0) - (before?.get(r) ?? 0);
    if (d !== 0) out.set(r, d);
  }
  return out;
}

export function addUsage(into: Map<QuotaResource, number>, u: Usage): void {
  for (const [r, n] of u) into.set(r, (into.get(r) ?? 0) + n);
}

const SUFFIXES: Record<string, number> = { '': 1, k: 1e3, M: 1e6, G: 1e9, Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3 };

/**
 * A quantity as spec.hard takes it: a whole number, or Kubernetes' quantity string of one
 * ("10", "2k", "1Ki"). Fractions ("500m") count nothing here: refused, with the reason.
 */
export function parseQuantity(value: unknown): { value: number } | { error: string } {
  if (typeof value === 'number') {
    return Number.isSafeInteger(value) && value >= 0 ? { value } : { error: 'must be a whole number, 0 or more' };
  }
  if (typeof value !== 'string') return { error: 'must be a whole number or a quantity string ("10", "2k")' };
  const m = /^(\d+)(k|M|G|Ki|Mi|Gi)?$/.exec(value);
  if (!m) return { error: 'must be a whole number, 0 or more, optionally with a suffix k, M, G, Ki, Mi or Gi ("10", "2k")' };
  const n = Number(m[1]) * SUFFIXES[m[2] ?? '']!;
  return Number.isSafeInteger(n) ? { value: n } : { error: 'is too large' };
}

/** status.used values, as Kubernetes writes quantities: strings of the number. */
export function formatQuantity(n: number): string {
  return String(n);
}
