/**
 * IPv6 port security (OVN's "port_security" for IPv6, as Neutron expects it): a port
 * may send IPv6 from its own addresses, its allowed pairs and the link-local address its
 * MAC gives (EUI-64, what a Linux or Windows guest configures by default), and Neighbor
 * Discovery may only advertise what the port owns:
 *   - a Neighbor Advertisement's target must be one of the port's addresses and its
 *     target link-layer option the port's MAC (or absent);
 *   - a Neighbor Solicitation's source link-layer option must be the port's MAC (or
 *     absent), from one of its addresses or from :: (duplicate address detection);
 *   - any other NS/NA from the port is dropped, so it cannot poison its neighbours'
 *     caches for someone else's address.
 * Only ports with an IPv6 address get these flows: IPv4-only ports keep their small,
 * constant flow count and their IPv6 is dropped by SpoofGuard's miss, as before.
 * NS to solicited-node multicast addresses have no L2 entry and are flooded in the
 * network like ARP for unknown addresses; the owner answers.
 */
import { ETH_TYPE, IP_PROTO, type KnownOxm } from '../openflow';
import type { DesiredFlow } from '../openflow/sync';
import type { PortModel } from './model';
import { TABLES } from './tables';
import { sourceMatchesOf, type SourceMatch } from './source-matches';

const ICMPV6_NS = 135;
const ICMPV6_NA = 136;
const ICMPV6_MLD2_REPORT = 143;
const NO_LL_OPTION = '00:00:00:00:00:00';
const UNSPECIFIED = '::';

/** Inside SpoofGuard: allow specific ND above the drop of other ND, both above plain IPv6. */
const NdAllow = 120;
const NdDrop = 115;
const Ipv6Allow = 100;

export const isIPv6 = (ip: string): boolean => ip.includes(':');

/** The EUI-64 link-local address (RFC 4291 appendix A) of a MAC, in canonical form. */
export function linkLocalOf(mac: string): string {
  const b = mac.split(':').map((h) => parseInt(h, 16));
  if (b.length !== 6 || b.some((x) => !Number.isInteger(x) || x < 0 || x > 255)) throw new Error(`"${mac}" is not a MAC address`);
  const bytes = [b[0]! ^ 0x02, b[1]!, b[2]!, 0xff, 0xfe, b[3]!, b[4]!, b[5]!];
  const groups: string[] = [];
  for (let i = 0; i < 8; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  // Leading zero groups join the "::" (RFC 5952), so the text equals what the guest shows.
  while (groups[0] === '0') groups.shift();
  return `fe80::${groups.join(':')}`;
}

/**
 * (IPv6 address, MAC) pairs the port may use: its IPv6 IPs, IPv6 allowed pairs of one
 * address, and their MACs' link-local addresses (the fast path's too). CIDR pairs are
 * prefixesOf's. `all`: the port's IPv6 source matches, when the caller has them.
 */
export function ipv6AddressesOf(port: PortModel, all: readonly SourceMatch[] = sourceMatchesOf(port, 6)): Array<{ ip: string; mac: string }> {
  if (!all.length) return [];
  const own = all.flatMap((m) => (m.ip !== undefined && m.mask === undefined ? [{ ip: m.ip, mac: m.mac }] : []));
  const seen = new Set(own.map((a) => `${a.ip}/${a.mac}`));
  const linkLocal = [...new Set(all.map((a) => a.mac))].map((mac) => ({ ip: linkLocalOf(mac), mac })).filter((a) => !seen.has(`${a.ip}/${a.mac}`));
  return [...own, ...linkLocal];
}

/** Of a port's IPv6 source matches, its CIDR pairs: prefixes (masked) and any address (ip undefined). */
function prefixesOf(all: readonly SourceMatch[]): SourceMatch[] {
  return all.filter((m) => m.ip === undefined || m.mask !== undefined);
}

function allow(priority: number, match: KnownOxm[]): DesiredFlow {
  return { tableId: TABLES.SpoofGuard.id, priority, match, instructions: [{ type: 'goto_table', tableId: TABLES.ArpResponder.id }] };
}

function drop(priority: number, match: KnownOxm[]): DesiredFlow {
  return { tableId: TABLES.SpoofGuard.id, priority, match, instructions: [] };
}

/** SpoofGuard flows for the port's IPv6 (none when it has no IPv6 address). */
export function ipv6SpoofGuardFlows(port: PortModel, ofport: number): DesiredFlow[] {
  const all = sourceMatchesOf(port, 6);
  const pairs = ipv6AddressesOf(port, all);
  if (!pairs.length) return [];
  const prefixes = prefixesOf(all);
  const inPort: KnownOxm = { field: 'in_port', value: ofport };
  const ip6: KnownOxm = { field: 'eth_type', value: ETH_TYPE.IPV6 };
  const icmp6: KnownOxm = { field: 'ip_proto', value: IP_PROTO.ICMPV6 };
  const type = (t: number): KnownOxm => ({ field: 'icmpv6_type', value: t });
  const flows: DesiredFlow[] = [];
  for (const mac of new Set(pairs.map((a) => a.mac))) {
    const src: KnownOxm = { field: 'eth_src', value: mac };
    // Duplicate address detection: NS and MLD reports from :: without a link-layer option.
    flows.push(allow(NdAllow, [inPort, src, ip6, { field: 'ipv6_src', value: UNSPECIFIED }, icmp6, type(ICMPV6_NS), { field: 'ipv6_nd_sll', value: NO_LL_OPTION }]));
    flows.push(allow(Ipv6Allow, [inPort, src, ip6, { field: 'ipv6_src', value: UNSPECIFIED }, icmp6, type(ICMPV6_MLD2_REPORT)]));
  }
  for (const { ip, mac } of pairs) {
    const src: KnownOxm = { field: 'eth_src', value: mac };
    const from: KnownOxm = { field: 'ipv6_src', value: ip };
    // An advertisement comes from the address it advertises (as Linux and Windows send it) or
    // from the MAC's link-local address: never from someone else's (QA-116 F3).
    const naFrom = [ip, ...(ip === linkLocalOf(mac) ? [] : [linkLocalOf(mac)])];
    for (const ll of [mac, NO_LL_OPTION]) {
      for (const s of naFrom) flows.push(allow(NdAllow, [inPort, src, ip6, { field: 'ipv6_src', value: s }, icmp6, type(ICMPV6_NA), { field: 'ipv6_nd_target', value: ip }, { field: 'ipv6_nd_tll', value: ll }]));
      flows.push(allow(NdAllow, [inPort, src, ip6, from, icmp6, type(ICMPV6_NS), { field: 'ipv6_nd_sll', value: ll }]));
    }
    flows.push(allow(Ipv6Allow, [inPort, src, ip6, from]));
  }
  for (const m of prefixes) {
    const src: KnownOxm = { field: 'eth_src', value: m.mac };
    const masked = (field: 'ipv6_src' | 'ipv6_nd_target'): KnownOxm[] => (m.ip === undefined ? [] : [{ field, value: m.ip, mask: m.mask! }]);
    for (const ll of [m.mac, NO_LL_OPTION]) {
      // From the prefix (any address of it the port holds) or the MAC's link-local address.
      flows.push(allow(NdAllow, [inPort, src, ip6, ...masked('ipv6_src'), icmp6, type(ICMPV6_NA), ...masked('ipv6_nd_target'), { field: 'ipv6_nd_tll', value: ll }]));
      if (m.ip !== undefined) flows.push(allow(NdAllow, [inPort, src, ip6, { field: 'ipv6_src', value: linkLocalOf(m.mac) }, icmp6, type(ICMPV6_NA), ...masked('ipv6_nd_target'), { field: 'ipv6_nd_tll', value: ll }]));
      flows.push(allow(NdAllow, [inPort, src, ip6, ...masked('ipv6_src'), icmp6, type(ICMPV6_NS), { field: 'ipv6_nd_sll', value: ll }]));
    }
    flows.push(allow(Ipv6Allow, [inPort, src, ip6, ...masked('ipv6_src')]));
  }
  flows.push(drop(NdDrop, [inPort, ip6, icmp6, type(ICMPV6_NA)]), drop(NdDrop, [inPort, ip6, icmp6, type(ICMPV6_NS)]));
  return flows;
}
