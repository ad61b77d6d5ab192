/**
 * The flows of a load balancer's UDP health checks (reconcile/kinds/lb-health.ts): its
 * probes are empty datagrams from the VIP and the load balancer's MAC, injected at the
 * backend's own port. A backend with nothing on the checked port answers with an ICMP
 * (ICMPv6) port unreachable to the VIP, which goes to the controller; a backend that
 * answers with a datagram has passed, and its answer is dropped here (the controller counts
 * silence as a pass, and a datagram to the VIP's MAC has nowhere else to go).
 *
 * OpenFlow cannot match inside an ICMP error's quote, so the flows are as narrow as the outer
 * packet allows: an ICMP port unreachable to the VIP and its MAC, in the network, from a
 * backend's address (one flow each: another VM cannot send one, port security holds it to its
 * own addresses, so it cannot flood vnetd through them) on a local VM port (a probe's backend
 * is on this node: over a tunnel none is due), related to no connection conntrack knows (the
 * probes are never committed). An ICMP error a VIP client's
 * datagram caused is related to that client's connection, and its NAT (LbVip's ct(nat))
 * already rewrote it toward the client, so it never matches. The controller counts only an
 * error quoting a pending probe (VIP to the checked port, from the probe's random source
 * port) from the probed port; anything else it ignores.
 *
 * A check that demands an answer (spec.healthCheck.udp.expectReply) sends the backends' UDP
 * answers to the controller instead of dropping them, as narrowly: per backend address and
 * checked port, from a local VM port, to the VIP and its MAC, tracked and part of no
 * connection (not established, related or a reply). A probe is never committed, so its
 * answer is a new connection to LbVip's ct(nat); a backend's reply to a client that reached
 * it through the VIP was un-NATed there (toward the client, not the VIP), and a hairpin
 * reply (a client SNATed to the VIP, load-balancer.ts hairpinFlows) is +est+rpl: neither
 * matches, so no client traffic is taken. The controller counts only a datagram from the
 * probed address and port to the VIP and a pending probe's source port.
 */
import { CtState, ETH_TYPE, IP_PROTO, type KnownOxm } from '../openflow';
import type { DesiredFlow } from '../openflow/sync';
// compiler.ts reaches this module through load-balancer.ts: use these only inside functions.
import { Priority, ethType, flow } from './compiler';
import { FromLocalMark, NetworkField, matchField, matchMark } from './fields';
import type { LoadBalancerModel } from './model';
import { HEALTH_ANSWER_INSTRUCTIONS } from './meters';
import { TABLES } from './tables';


/** ICMP type 3 code 3, ICMPv6 type 1 code 4: port unreachable. */
const PORT_UNREACHABLE_V4: KnownOxm[] = [{ field: 'ip_proto', value: IP_PROTO.ICMP }, { field: 'icmpv4_type', value: 3 }, { field: 'icmpv4_code', value: 3 }] as KnownOxm[];
const PORT_UNREACHABLE_V6: KnownOxm[] = [{ field: 'ip_proto', value: IP_PROTO.ICMPV6 }, { field: 'icmpv6_type', value: 1 }, { field: 'icmpv6_code', value: 4 }] as KnownOxm[];

/** Tracked, and related to no known connection. */
const TRK_NOT_RELATED = { field: 'ct_state', value: CtState.TRK, mask: CtState.TRK | CtState.REL } as KnownOxm;

/** Tracked, and part of no connection conntrack knows: not established, related, a reply or invalid (a probe's answer is +new). */
const TRK_NO_CONNECTION = { field: 'ct_state', value: CtState.TRK, mask: CtState.TRK | CtState.EST | CtState.REL | CtState.RPL | CtState.INV } as KnownOxm;

/**
 * A load balancer with UDP health checks: 1 flow per distinct backend address sending its
 * port unreachables to the VIP to the controller, and 1 dropping UDP answers per checked
 * port (with expectReply instead 1 per checked port and distinct backend address sending
 * them to the controller); none without them. Above the
 * VIP's +new flows (Priority.Specific), whose destination port a probe's source port could
 * equal, as the TCP answers' flow; below the flows of clients whose source port is a checked
 * one (Priority.Specific + 11, load-balancer.ts).
 */
export function udpHealthFlows(lb: LoadBalancerModel, vni: number): DesiredFlow[] {
  const ports = lb.udpHealthCheckPorts ?? [];
  if (!ports.length) return [];
  const v6 = lb.vip.includes(':');
  const inNet = matchField(NetworkField, vni);
  const ip = ethType(v6 ? ETH_TYPE.IPV6 : ETH_TYPE.IPV4);
  const toVip = [{ field: 'eth_dst', value: lb.mac }, ip, { field: v6 ? 'ipv6_dst' : 'ipv4_dst', value: lb.vip }] as KnownOxm[];
  const out: DesiredFlow[] = [];
  for (const ip of new Set(lb.backends.map((b) => b.ip))) {
    const from = { field: v6 ? 'ipv6_src' : 'ipv4_src', value: ip } as KnownOxm;
    out.push({ tableId: TABLES.LbNat.id, priority: Priority.Specific + 10, match: [inNet, matchMark(FromLocalMark), TRK_NOT_RELATED, ...toVip, from, ...(v6 ? PORT_UNREACHABLE_V6 : PORT_UNREACHABLE_V4)], instructions: HEALTH_ANSWER_INSTRUCTIONS });
  }
  if (lb.udpHealthExpectReply) {
    out.push(...udpAnswerFlows(lb, ports, inNet, toVip, v6));
    return out;
  }
  for (const port of ports) out.push(flow(TABLES.LbNat, Priority.Specific + 10, [inNet, ...toVip, { field: 'ip_proto', value: IP_PROTO.UDP }, { field: 'udp_src', value: port } as KnownOxm], []));
  return out;
}

/**
 * expectReply: a backend's UDP datagram from a checked port to the VIP, part of no connection
 * (TRK_NO_CONNECTION), from a local VM port, goes to the controller, not metered, as the
 * ICMP answers (HEALTH_ANSWER_INSTRUCTIONS: a flood costs vnetd CPU, never another tenant's
 * verdicts). One flow per backend address and checked port: port security holds a VM to its
 * own addresses, so another VM cannot reach vnetd through them. Where a datagram from a
 * checked port to the VIP matches none (another VM's, a tunnel's), it is refused or dropped by
 * the VIP's last flows (load-balancer.ts), as a datagram to any port of the VIP no listener has.
 */
function udpAnswerFlows(lb: LoadBalancerModel, ports: readonly number[], inNet: KnownOxm, toVip: readonly KnownOxm[], v6: boolean): DesiredFlow[] {
  const out: DesiredFlow[] = [];
  for (const ip of new Set(lb.backends.map((b) => b.ip))) {
    const from = { field: v6 ? 'ipv6_src' : 'ipv4_src', value: ip } as KnownOxm;
    for (const port of ports) {
      out.push({ tableId: TABLES.LbNat.id, priority: Priority.Specific + 10, match: [inNet, matchMark(FromLocalMark), TRK_NO_CONNECTION, ...toVip, from, { field: 'ip_proto', value: IP_PROTO.UDP } as KnownOxm, { field: 'udp_src', value: port } as KnownOxm], instructions: HEALTH_ANSWER_INSTRUCTIONS });
    }
  }
  return out;
}
