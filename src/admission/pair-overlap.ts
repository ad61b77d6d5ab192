/**
 * A VIP inside a port's allowed address pair (either made first). Both are allowed, as Neutron
 * allows them, but ARP and ND for the VIP are answered with the load balancer's MAC, so the
 * port can no longer take the address over (VRRP, keepalived): said as a warning (QA: a VIP
 * took over a port's VRRP address silently). A VIP vnetd picks itself avoids pair addresses.
 */
import { canonicalIp, coversAddress } from '../ipam';
import type { AllowedAddressPair, LoadBalancer, VirtualPort } from '../resources/kinds';
import type { AdmissionContext } from './admission';
import { LOAD_BALANCERS, PORTS } from './network-lookup';

/** Whether a pair (an address, or a CIDR) covers ip. */
export function pairCovers(pair: AllowedAddressPair, ip: string): boolean {
  return coversAddress(pair.ip, ip);
}

/** The ports of the network with an allowed address pair, and their pairs. */
export async function networkPairs(ctx: AdmissionContext, ns: string, network: string): Promise<Array<{ port: string; pair: AllowedAddressPair }>> {
  const out: Array<{ port: string; pair: AllowedAddressPair }> = [];
  for (const p of (await ctx.objects.list<VirtualPort>(PORTS, ns)).items) {
    if (p.spec?.network !== network) continue;
    for (const pair of p.spec.allowedAddressPairs ?? []) out.push({ port: p.metadata.name, pair });
  }
  return out;
}

/** The ports whose pairs cover ip, each once. */
export function portsCovering(pairs: ReadonlyArray<{ port: string; pair: AllowedAddressPair }>, ip: string): string[] {
  return [...new Set(pairs.filter((p) => pairCovers(p.pair, ip)).map((p) => p.port))];
}

/** The warning for a VIP inside pairs of the network's ports (none: undefined). */
export function vipInPairsWarning(vip: string, pairs: ReadonlyArray<{ port: string; pair: AllowedAddressPair }>): string | undefined {
  const ports = portsCovering(pairs, vip).map((p) => `"${p}"`);
  if (!ports.length) return undefined;
  return `spec.vip: ${canonicalIp(vip)} is inside an allowed address pair of VirtualPort ${ports.join(', ')}: ARP and ND for it are answered with the load balancer's MAC, so that port can no longer take the address over (VRRP, keepalived)`;
}

/** Warnings for a port's pairs that cover a VIP of its network. */
export async function pairsOverVipsWarnings(ctx: AdmissionContext, port: VirtualPort): Promise<string[]> {
  const pairs = port.spec?.allowedAddressPairs ?? [];
  if (!pairs.length) return [];
  const out: string[] = [];
  for (const lb of (await ctx.objects.list<LoadBalancer>(LOAD_BALANCERS, port.metadata.namespace!)).items) {
    const vip = lb.spec?.vip;
    if (lb.spec?.network !== port.spec?.network || vip === undefined) continue;
    pairs.forEach((pair, i) => {
      if (pairCovers(pair, vip)) out.push(`spec.allowedAddressPairs[${i}]: ${pair.ip} covers the VIP ${vip} of LoadBalancer "${lb.metadata.name}": ARP and ND for it are answered with the load balancer's MAC, so this port cannot take that address over`);
    });
  }
  return out;
}
