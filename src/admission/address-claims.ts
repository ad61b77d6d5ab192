/**
 * Picking and checking addresses inside a network: shared by ports (their IPs) and load
 * balancers (their VIP).
 */
import { IpAllocator, canonicalIp, cryptoRng, tryParseIp } from '../ipam';
import type { Allocation } from '../ipam/allocation-registry';
import type { VirtualNetwork } from '../resources/kinds';

export function allocatorsOf(net: VirtualNetwork): IpAllocator[] {
  return net.spec!.subnets.map((s) => new IpAllocator(s));
}

/** Why `ip` cannot be claimed in the network (not canonical, outside, reserved, taken), or its canonical form. */
export function checkRequestedIp(
  ip: string,
  net: VirtualNetwork,
  allocators: IpAllocator[],
  taken: Map<string, Allocation>,
): { ip: string } | { error: string } {
  const parsed = tryParseIp(ip);
  if (!parsed) return { error: `must be a valid IP address` };
  const canonical = canonicalIp(ip);
  const sameFamily = allocators.filter((a) => a.subnet.cidr.family === parsed.family);
  if (sameFamily.length === 0) {
    return { error: `VirtualNetwork "${net.metadata.name}" has no IPv${parsed.family} subnet` };
  }
  const reasons = sameFamily.map((a) => a.check(canonical));
  const ok = reasons.some((r) => r === undefined || r.includes('excluded range'));
  if (!ok) {
    const inside = reasons.find((r) => r !== undefined && !r.includes('outside'));
    return {
      error: inside ?? `${canonical} is outside the network's subnets (${sameFamily.map((a) => a.cidr).join(', ')})`,
    };
  }
  const holder = taken.get(canonical);
  if (holder) return { error: `${canonical} is already allocated to ${holder.owner.kind} "${holder.owner.name}"` };
  return { ip: canonical };
}

/** A free address of `family` in the network, or undefined when every subnet of that family is full. */
export function pickIp(allocators: IpAllocator[], family: 4 | 6, taken: ReadonlySet<string>): string | undefined {
  for (const a of allocators.filter((al) => al.subnet.cidr.family === family)) {
    // Sequential from the bottom for small IPv4 subnets (readable), random for big ones.
    const ip = a.pickFree(taken, a.capacity > 65536n ? cryptoRng : undefined);
    if (ip) return ip;
  }
  return undefined;
}

export function familiesOf(allocators: IpAllocator[]): (4 | 6)[] {
  return [...new Set(allocators.map((a) => a.subnet.cidr.family))].sort();
}
