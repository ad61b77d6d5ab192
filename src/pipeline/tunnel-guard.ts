/**
 * Overlay frames that this node's Open vSwitch would take for its own tunnel traffic.
 *
 * The userspace datapath terminates a native tunnel (tnl_pop) on output: any frame it
 * outputs whose Ethernet destination is the underlay device's MAC and whose IP and UDP
 * destination are this node's tunnel endpoint is decapsulated, and its inner frame enters
 * whatever network its VNI names. A VM that sent such a frame (to a MAC no port has, so it
 * was flooded) put the inner frame into another tenant's network, past every port-security
 * check, on its own node and, flooded over the tunnel, on the others (QA-92).
 *
 * OVS does so on output to a port that has an IP address in its netns, as a hypervisor's tap
 * has (its IPv6 link-local one). The guard sits above L2 delivery: a tenant may give a port
 * the underlay's MAC (spec.mac), and a frame delivered to that port was decapsulated as well
 * (QA-95). Nothing of the overlay has business with this node's tunnel endpoint; a tenant
 * whose own addresses overlap the underlay's cannot run VXLAN or GENEVE to that one address
 * on their default ports. Each node guards its own endpoint: frames flooded to it over a
 * tunnel meet the guard on arrival.
 */
import { ETH_TYPE, IP_PROTO } from '../openflow';
import type { DesiredFlow } from '../openflow/sync';
import { Priority, flow } from './compiler';
import { TABLES } from './tables';

/** The UDP ports of the tunnels vnetd makes (layout.ts TUNNEL_PORTS: OVS's defaults, no dst_port option). */
export const TUNNEL_UDP_PORTS = { vxlan: 4789, geneve: 6081 } as const;

export function tunnelGuardFlows(tunnelIP: string | undefined): DesiredFlow[] {
  if (!tunnelIP) return [];
  const v6 = tunnelIP.includes(':');
  const ip = v6 ? [{ field: 'eth_type' as const, value: ETH_TYPE.IPV6 }, { field: 'ipv6_dst' as const, value: tunnelIP }] : [{ field: 'eth_type' as const, value: ETH_TYPE.IPV4 }, { field: 'ipv4_dst' as const, value: tunnelIP }];
  return Object.values(TUNNEL_UDP_PORTS).map((port) => flow(TABLES.L2Lookup, Priority.Specific, [...ip, { field: 'ip_proto', value: IP_PROTO.UDP }, { field: 'udp_dst', value: port }], []));
}
