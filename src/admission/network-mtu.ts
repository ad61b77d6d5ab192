/**
 * The most a network's MTU may be: the hypervisors' underlay MTU (VNETD_UNDERLAY_MTU, Neutron's
 * global_physnet_mtu) less what VXLAN or GENEVE adds to each frame, and never more than the
 * schema's 9000. vnetd neither fragments nor answers ICMP too-big, so a network whose
 * encapsulated frames do not fit has its full-size frames between hypervisors dropped: such a
 * network was accepted and said Ready (QA-135 F4). It is also the default.
 */
import type { HypervisorNode, VirtualNetworkSpec } from '../resources/kinds';
import type { StatusCause } from '../resources/status';
import { NODES } from '../store/kinds';
import type { AdmissionContext } from './admission';

export const DEFAULT_UNDERLAY_MTU = 1500;
/** virtualnetwork.schema.json's maximum for spec.mtu: a default above it could never be written back. */
export const MAX_NETWORK_MTU = 9000;
/**
 * What the overlay adds to a VM's frame (its own Ethernet header included, which the VM's MTU
 * does not count): inner Ethernet 14, outer IPv4 20 (IPv6 40), UDP 8, VXLAN or GENEVE 8
 * (vnetd's GENEVE carries no options).
 */
const OVERHEAD_V4 = 50;
const OVERHEAD_V6 = 70;

export interface MtuLimit {
  max: number;
  overhead: number;
  underlayMtu: number;
  /** Some Node's tunnel address is IPv6: the outer header is IPv6's. */
  v6: boolean;
}

/** The limit now: IPv6's overhead as soon as one Node tunnels over IPv6 (its peers' tunnels to it do too). */
export async function mtuLimit(ctx: AdmissionContext, underlayMtu: number): Promise<MtuLimit> {
  const nodes = (await ctx.objects.list<HypervisorNode>(NODES, undefined)).items;
  const v6 = nodes.some((n) => n.spec?.tunnelIP?.includes(':') === true);
  const overhead = v6 ? OVERHEAD_V6 : OVERHEAD_V4;
  return { max: Math.min(underlayMtu - overhead, MAX_NETWORK_MTU), overhead, underlayMtu, v6 };
}

/** Why `mtu` is too big for the limit, or undefined when it fits. */
export function mtuCause(mtu: unknown, encapsulation: string | undefined, limit: MtuLimit): StatusCause | undefined {
  if (typeof mtu !== 'number' || mtu <= limit.max) return undefined;
  const encap = (encapsulation ?? 'vxlan').toUpperCase();
  const over = limit.v6 ? ' over IPv6 (a Node tunnels over IPv6)' : '';
  return {
    field: 'spec.mtu',
    reason: 'FieldValueInvalid',
    message: `Invalid value: ${mtu}: must be at most ${limit.max}: ${encap}${over} takes ${limit.overhead} bytes of each frame on the ${limit.underlayMtu}-byte underlay (VNETD_UNDERLAY_MTU), and vnetd neither fragments nor answers too-big, so larger frames between hypervisors are lost`,
  };
}

/** IPv6's minimum link MTU (RFC 8200 section 5): Linux turns IPv6 off on a smaller link. */
export const IPV6_MIN_MTU = 1280;

const hasIpv6Subnet = (spec: Pick<VirtualNetworkSpec, 'subnets'> | undefined): boolean => (spec?.subnets ?? []).some((s) => s.cidr.includes(':'));

/**
 * Why a network with an IPv6 subnet cannot have its MTU (below IPV6_MIN_MTU), or undefined.
 * Such a network was accepted and its ports said Ready, while the VM's kernel refused IPv6 on
 * the link (QA-156 F3). On an update only when the MTU changes or an IPv6 subnet comes: one
 * stored before keeps working as it does.
 */
export function ipv6MtuCause(spec: Pick<VirtualNetworkSpec, 'mtu' | 'subnets'> | undefined, before?: Pick<VirtualNetworkSpec, 'mtu' | 'subnets'>): StatusCause | undefined {
  const mtu = spec?.mtu;
  if (typeof mtu !== 'number' || mtu >= IPV6_MIN_MTU || !hasIpv6Subnet(spec)) return undefined;
  if (before && before.mtu === mtu && hasIpv6Subnet(before)) return undefined;
  return {
    field: 'spec.mtu',
    reason: 'FieldValueInvalid',
    message: `Invalid value: ${mtu}: a network with an IPv6 subnet needs an MTU of at least ${IPV6_MIN_MTU} (IPv6's minimum link MTU, RFC 8200): a VM's kernel turns IPv6 off on a smaller link`,
  };
}
