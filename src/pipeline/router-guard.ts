/**
 * What port security keeps a VM from sending to its neighbours besides spoofed addresses,
 * as OpenStack's port security does: router advertisements and ICMPv6 redirects (a VM that
 * sends them becomes every neighbour's default router: QA-92 saw it take over their IPv6
 * default route) and DHCP or DHCPv6 server replies (a rogue DHCP server). A port without
 * port security may be a router or a DHCP server and sends them as before.
 *
 * Node-wide flows on a mark the port's classification sets, not per-port flows: a port's
 * flow count stays what it was.
 *
 * Fragments (QA-133 F4): the bridge matches them the nx-match way (switch-config.ts), so a
 * first fragment shows its ICMPv6 type and UDP ports to the drops below, and a rogue offer or
 * RA split into fragments loses its first (its later ones reassemble into nothing). An IPv6
 * first fragment whose header chain ends before its ICMPv6, UDP or TCP header (extension
 * headers push it into the next fragment) reads type or port 0, which no real packet has:
 * dropped too (RFC 7112 lets a node drop it; RFC 7113, RA-Guard, says to). IPv4 needs no such
 * rule: a first fragment carries at least 8 bytes past its header, a whole UDP header.
 */
import { ETH_TYPE, IP_PROTO, type KnownOxm } from '../openflow';
import type { DesiredFlow } from '../openflow/sync';
import { PortSecuredMark, matchMark } from './fields';
import { TABLES } from './tables';

const ICMPV6_ROUTER_ADVERTISEMENT = 134;
const ICMPV6_REDIRECT = 137;
const DHCP_SERVER_PORT = 67;
const DHCPV6_SERVER_PORT = 547;

/** Above every SpoofGuard allow (port-security-v6.ts NdAllow: 120). */
export const ROUTER_GUARD_PRIORITY = 130;

function drop(match: KnownOxm[]): DesiredFlow {
  return { tableId: TABLES.SpoofGuard.id, priority: ROUTER_GUARD_PRIORITY, match: [matchMark(PortSecuredMark), ...match], instructions: [] };
}

/**
 * NXM ip_frag of a first fragment: a fragment (bit 0), not a later one (bit 1). Exact, not
 * masked 3: OVS dumps it unmasked, and a masked one would not be found by a resync.
 */
const FIRST_FRAGMENT: KnownOxm = { field: 'ip_frag', value: 1 };

export function routerGuardFlows(): DesiredFlow[] {
  const ip6: KnownOxm = { field: 'eth_type', value: ETH_TYPE.IPV6 };
  const icmp6: KnownOxm = { field: 'ip_proto', value: IP_PROTO.ICMPV6 };
  const udp: KnownOxm = { field: 'ip_proto', value: IP_PROTO.UDP };
  const tcp: KnownOxm = { field: 'ip_proto', value: IP_PROTO.TCP };
  return [
    drop([ip6, icmp6, { field: 'icmpv6_type', value: ICMPV6_ROUTER_ADVERTISEMENT }]),
    drop([ip6, icmp6, { field: 'icmpv6_type', value: ICMPV6_REDIRECT }]),
    drop([{ field: 'eth_type', value: ETH_TYPE.IPV4 }, udp, { field: 'udp_src', value: DHCP_SERVER_PORT }]),
    drop([ip6, udp, { field: 'udp_src', value: DHCPV6_SERVER_PORT }]),
    drop([ip6, FIRST_FRAGMENT, icmp6, { field: 'icmpv6_type', value: 0 }]),
    drop([ip6, FIRST_FRAGMENT, udp, { field: 'udp_dst', value: 0 }]),
    drop([ip6, FIRST_FRAGMENT, tcp, { field: 'tcp_dst', value: 0 }]),
  ];
}
