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
 * No port has the underlay's MAC, so such a frame misses L2Lookup: the guard sits just above
 * the miss, and a frame to a port's MAC (a VM's own VXLAN to a peer that happens to use the
 * same address) is delivered as before. Each node guards its own endpoint: frames flooded
 * to it over a tunnel meet the guard on arrival.
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
  return Object.values(TUNNEL_UDP_PORTS).map((port) => flow(TABLES.L2Lookup, Priority.Low, [...ip, { field: 'ip_proto', value: IP_PROTO.UDP }, { field: 'udp_dst', value: port }], []));
}
