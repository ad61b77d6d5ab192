/**
 * Picking and checking addresses inside a network: shared by ports (their IPs) and load
 * balancers (their VIP).
 */
import { IpAllocator, canonicalIp, cryptoRng, formatIp, tryParseIp } from '../ipam';
import type { AllocationRegistry } from '../ipam/allocation-registry';
import type { VirtualNetwork } from '../resources/kinds';

/**
 * Allocators of a network's subnets, kept per network uid and generation (subnets change
 * only with the spec): building them parses every CIDR and range, which every port create
 * of a network did again.
 */
const allocatorCache = new Map<string, IpAllocator[]>();
const ALLOCATOR_CACHE_SIZE = 256;

export function allocatorsOf(net: VirtualNetwork): IpAllocator[] {
  const uid = net.metadata.uid;
  const key = uid ? `${uid}/${net.metadata.generation ?? 0}` : undefined;
  const cached = key ? allocatorCache.get(key) : undefined;
  if (cached) return cached;
  const allocators = net.spec!.subnets.map((s) => new IpAllocator(s));
  if (key) {
    if (allocatorCache.size >= ALLOCATOR_CACHE_SIZE) allocatorCache.clear();
    allocatorCache.set(key, allocators);
  }
  return allocators;
}

/**
 * Why `ip` cannot be claimed in the network (not canonical, outside, reserved, taken), or
 * its canonical form. "Taken" is one key lookup: no listing of the network's addresses.
 */
export async function checkRequestedIp(
  ip: string,
  net: VirtualNetwork,
  allocators: IpAllocator[],
  allocations: AllocationRegistry,
  /** Asked as a load balancer's VIP: another one's VIP is pointed at as where its listeners go. */
  asVip = false,
): Promise<{ ip: string } | { error: string }> {
  const parsed = tryParseIp(ip);
  if (!parsed) return { error: `must be a valid IP address` };
  const canonical = canonicalIp(ip);
  const sameFamily = allocators.filter((a) => a.subnet.cidr.family === parsed.family);
  if (sameFamily.length === 0) {
    return { error: `VirtualNetwork "${net.metadata.name}" has no IPv${parsed.family} subnet` };
  }
  if (!sameFamily.some((a) => a.holds(canonical))) {
    const inside = sameFamily.map((a) => a.check(canonical)).find((r) => r !== undefined && !r.includes('outside'));
    return {
      error: inside ?? `${canonical} is outside the network's subnets (${sameFamily.map((a) => a.cidr).join(', ')})`,
    };
  }
  const holder = await allocations.ipHolder(net.metadata.namespace!, net.metadata.name, canonical);
  if (holder && asVip && holder.owner.kind === 'LoadBalancer') {
    // OVN and Kubernetes Services take one VIP on several objects, a port each; here a VIP
    // has one MAC and one slot table, so one load balancer (QA-124 F7: the refusal did not say).
    return { error: `${canonical} is already the VIP of LoadBalancer "${holder.owner.name}": a VIP belongs to one load balancer; give that one this port as another listener (spec.listeners; vnetctl lb add-listener ${holder.owner.name} --listen PORT[:TARGET][/PROTO])` };
  }
  if (holder) return { error: `${canonical} is already allocated to ${holder.owner.kind} "${holder.owner.name}"` };
  return { ip: canonical };
}

/** A free address of `family` in the network, or undefined when every subnet of that family is full. */
export function pickIp(net: VirtualNetwork, allocators: IpAllocator[], family: 4 | 6, allocations: AllocationRegistry): Promise<string | undefined> {
  const ofFamily = allocators.filter((al) => al.subnet.cidr.family === family);
  // Sequential for small subnets (readable), random for big ones.
  return allocations.pickFreeIp(net.metadata.namespace!, net.metadata.name, ofFamily, (a) => (a.capacity > 65536n ? cryptoRng : undefined), net.metadata.uid);
}

export function familiesOf(allocators: IpAllocator[]): (4 | 6)[] {
  return [...new Set(allocators.map((a) => a.subnet.cidr.family))].sort();
}

/**
 * What a "no free address" message adds when excluded ranges hold part of the family's
 * subnets back: the full pool is smaller than the subnet looks, and an address there may
 * still be named (QA-107: the message said only that the subnet was full).
 */
export function excludedRangesNote(allocators: readonly IpAllocator[], family: 4 | 6): string {
  const ranges = allocators
    .filter((a) => a.subnet.cidr.family === family)
    .flatMap((a) => a.subnet.excludes.map((r) => `${formatIp(family, r.start)}-${formatIp(family, r.end)} of ${a.cidr}`));
  if (!ranges.length) return '';
  return ` (excluded ${ranges.length > 1 ? 'ranges' : 'range'} ${ranges.join(', ')} ${ranges.length > 1 ? 'are' : 'is'} never picked, though an address there may be named)`;
}
