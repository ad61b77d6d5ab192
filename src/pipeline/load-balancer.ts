/**
 * Load balancer flows: a Maglev-style lookup table whose slots are dealt by rendezvous
 * (highest random weight) hashing, so a backend change moves only the connections it
 * must.
 *
 *   LbNat   +new to VIP:port -> multipath(hash, modulo_n, SLOTS) -> LbSlot register; LbSlot
 *   LbSlot  VIP + slot       -> backend (its IPv4 address, or a hash of its IPv6 one) into the LbBackend register; LbDnat
 *   LbDnat  VIP:port + backend -> ct(commit, nat(dst=backend:targetPort)), back to LbNat
 *   LbNat   hairpin (a backend that reached its own VIP): also SNAT to the VIP (hairpinFlows)
 *
 * Why not a select group: OVS only lets a controller choose a group's selection method
 * (selection_method=hash, fields(...), stable bucket ids) in OpenFlow 1.5 group_mods; an
 * OpenFlow 1.3 select group uses dp_hash, whose buckets are re-dealt on every change
 * (about half the connections of the surviving backends moved). Here the hash of a
 * connection picks a fixed slot (multipath, which OVS computes in the datapath for each
 * new connection), and the slot's backend is chosen in vnetd: for every slot, the backend
 * with the highest hash(slot, backend) among the healthy ones. Removing a backend re-deals
 * only its own slots; adding one takes slots only from others, about 1/n of each.
 *
 * Session affinity ClientIP hashes the client address only (multipath nw_src), so every
 * connection of one client lands on one backend while the backend set is unchanged.
 *
 * Only the first packet of a connection reaches LbDnat (later ones are +est, and the
 * conntrack NAT of LbVip already rewrote them), so an LbDnat flow's packet counter is the
 * number of connections dispatched on that node to that backend through that listener; for
 * a connection opened by a fragmented datagram, its first-fragment flow's (each later
 * fragment passes its own flow too, which lb-status.ts does not count).
 */
import { CtState, ETH_TYPE, IP_PROTO, OFPP, parseIpv4, type Action, type KnownOxm, type MultipathFields } from '../openflow';
import type { DesiredFlow, DesiredGroup } from '../openflow/sync';
// compiler.ts imports lbFlows from here: use these only inside functions (never at module
// load), so the cycle is harmless under CommonJS as well.
import { Priority, arpReplyActions, ethType, flow } from './compiler';
import { FromLocalMark, LbBackendField, LbSlotField, NetworkField, loadField, matchField, matchMark } from './fields';
import type { LbBackendModel, LbListenerModel, LoadBalancerModel, NetworkModel } from './model';
import { ndAnswerFlow } from './nd-responder';
import { ctZone, fnv1a } from './owners';
import { addressMatch } from './source-matches';
import { TABLES } from './tables';
import { HEALTH_ANSWER_INSTRUCTIONS, REFUSE_METER } from './meters';
import { SharedParts, deepFreeze } from './shared-parts';
import { LbFlowReuse } from './lb-flow-reuse';
import { udpHealthFlows } from './lb-health-flows';

/**
 * Slots per load balancer (one LbSlot flow each): a power of two from LB_SLOTS_MIN to
 * LB_SLOTS_MAX, at least SLOTS_PER_BACKEND per declared backend. Rendezvous deals each slot
 * on its own, so a backend's slot count varies like a binomial's, by about 1/sqrt(slots per
 * backend) of its share: at 256 slots, 100 backends' busiest got 5 times the connections of
 * the least busy; 64 slots each keep them within about 1.5-2 times. Counted from the spec's
 * backends, not the healthy ones: a health change never changes the size. A change of size
 * re-deals every slot (a connection's slot is its hash modulo the size), so the size only
 * grows: the controller records it in status.slots (lbTableSize), and removing backends keeps
 * it, moving only their connections. Adding backends across a power of two re-deals once
 * (established connections keep their backend: conntrack, and the fast path's own).
 */
export const LB_SLOTS_MIN = 256;
export const LB_SLOTS_MAX = 8192;
export const SLOTS_PER_BACKEND = 64;
/** The table of a load balancer of at most 4 backends (LB_SLOTS_MIN). */
export const LB_SLOTS = LB_SLOTS_MIN;

export function lbSlotCount(declaredBackends: number): number {
  let m = LB_SLOTS_MIN;
  while (m < declaredBackends * SLOTS_PER_BACKEND && m < LB_SLOTS_MAX) m *= 2;
  return m;
}

/**
 * A load balancer's table size: lbSlotCount of its spec's backends, or the size its status
 * records if larger (it never shrinks). A recorded size that is no table size is ignored.
 */
export function lbTableSize(declaredBackends: number, recorded?: number): number {
  const want = lbSlotCount(declaredBackends);
  const valid = recorded !== undefined && Number.isInteger(recorded) && recorded >= LB_SLOTS_MIN && recorded <= LB_SLOTS_MAX && (recorded & (recorded - 1)) === 0;
  return valid && recorded > want ? recorded : want;
}

/** A model's table size: as the reconciler set it (lbTableSize), else from its backends. */
export function slotCountOf(lb: LoadBalancerModel): number {
  return lb.slots ?? lbSlotCount(distinctBackends(lb).length);
}

const ARP_OP_REQUEST = 1;

const L4: Record<LbListenerModel['protocol'], { proto: number; dst: 'tcp_dst' | 'udp_dst' | 'sctp_dst' }> = {
  TCP: { proto: IP_PROTO.TCP, dst: 'tcp_dst' },
  UDP: { proto: IP_PROTO.UDP, dst: 'udp_dst' },
  SCTP: { proto: IP_PROTO.SCTP, dst: 'sctp_dst' },
};

// Module constants, not global lookups in the hot loops: under Jest every reference to the
// global Math goes through its sandbox's interceptor, which made dealing 20 times slower.
const { imul, log } = Math;

/** murmur3's 32-bit finalizer: spreads a 32-bit value over all bits. */
function mix32(h: number): number {
  h ^= h >>> 16;
  h = imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * The backend of every slot (index into `backends`, or -1 when there is none): weighted
 * rendezvous hashing, score = -weight / ln(u) with u uniform in (0, 1) from hash(slot, key).
 * A slot's winner depends only on the backends present, never on their order, so
 * removing one re-deals exactly the slots it held.
 *
 * Every weighted backend gets at least one slot while there are slots to spare: by weight
 * alone, a backend of weight 1 beside two of weight 100 held none and silently got no
 * connection (QA). Each such backend takes, from the backend holding the most slots, the
 * one of them it scores highest on; that too depends only on the backends present.
 */
export function dealSlots(backends: ReadonlyArray<{ key: string; weight: number }>, slots = LB_SLOTS): number[] {
  const seeds = backends.map((b) => fnv1a(b.key));
  const score = (i: number, s: number): number => {
    const h = mix32(seeds[i]! ^ mix32(s + 0x9e3779b9));
    const u = (h + 0.5) / 0x100000000;
    return -backends[i]!.weight / log(u);
  };
  const out: number[] = [];
  for (let s = 0; s < slots; s++) {
    let best = -1;
    let bestScore = -Infinity;
    for (let i = 0; i < backends.length; i++) {
      if (!(backends[i]!.weight > 0)) continue;
      const sc = score(i, s);
      // Ties (practically impossible) go to the smaller key, so order never matters.
      if (sc > bestScore || (sc === bestScore && best >= 0 && backends[i]!.key < backends[best]!.key)) {
        best = i;
        bestScore = sc;
      }
    }
    out.push(best);
  }
  const held = backends.map(() => 0);
  for (const i of out) if (i >= 0) held[i]!++;
  const starved = backends.map((b, i) => i).filter((i) => backends[i]!.weight > 0 && held[i] === 0).sort((a, b) => (backends[a]!.key < backends[b]!.key ? -1 : 1));
  for (const i of starved) {
    let donor = -1;
    for (let j = 0; j < backends.length; j++) if (held[j]! > 1 && (donor < 0 || held[j]! > held[donor]! || (held[j] === held[donor] && backends[j]!.key < backends[donor]!.key))) donor = j;
    if (donor < 0) break; // more backends than slots
    let take = -1;
    for (let s = 0; s < slots; s++) if (out[s] === donor && (take < 0 || score(i, s) > score(i, take))) take = s;
    out[take] = i;
    held[donor]!--;
    held[i] = 1;
  }
  return out;
}

/**
 * Slot tables by their size, backends and weights: most compiles (and every node's fast-path
 * plan) deal the same ones again. Least recently used first out past a million slots (8 MiB):
 * clearing it all at once made every table of a cycle through more than that a miss.
 */
const dealt = new Map<string, readonly number[]>();
const DEALT_SLOTS = 1 << 20;
let dealtSlots = 0;

/**
 * dealSlots over the active backends (activeBackends), remembered by their addresses and
 * weights: the LbSlot flows and the fast path's copy of them (fastpath-plan.ts) read it.
 * Indexes into `active`; all -1 when it is empty.
 */
export function slotsOf(active: readonly LbBackendModel[], slots: number): readonly number[] {
  const key = JSON.stringify([slots, active.map((b) => [b.ip, b.weight])]);
  let deal = dealt.get(key);
  if (deal) {
    dealt.delete(key); // to the end: the most recently used
    dealt.set(key, deal);
    return deal;
  }
  deal = dealSlots(active.map((b) => ({ key: b.ip, weight: b.weight })), slots);
  for (const [k, d] of dealt) {
    if (dealtSlots + slots <= DEALT_SLOTS) break;
    dealt.delete(k);
    dealtSlots -= d.length;
  }
  dealt.set(key, deal);
  dealtSlots += slots;
  return deal;
}

/** Every backend, healthy or not, once per address (the first declared). */
function distinctBackends(lb: LoadBalancerModel): LbBackendModel[] {
  const seen = new Set<string>();
  return lb.backends.filter((b) => !seen.has(b.ip) && !!seen.add(b.ip));
}

/** Backends that get new connections: healthy, weighted, one per address. */
export function activeBackends(lb: LoadBalancerModel): LbBackendModel[] {
  const seen = new Set<string>();
  return lb.backends.filter((b) => b.healthy && b.weight > 0 && !seen.has(b.ip) && !!seen.add(b.ip));
}

function hashFields(lb: LoadBalancerModel): MultipathFields {
  return lb.sessionAffinity === 'ClientIP' ? 'nw_src' : 'symmetric_l3l4+udp';
}

/**
 * What the LbBackend register holds for each active backend: its IPv4 address itself; for
 * IPv6 (128 bits, a 32-bit register), a 32-bit hash of the address, made unique within the
 * load balancer by probing upwards in address order, so that it depends only on the set of
 * backends, never on their order, and a backend keeps its value while others come and go.
 */
export function backendRegisterValues<B extends Pick<LbBackendModel, 'ip'>>(active: readonly B[]): Map<string, number> {
  const out = new Map<string, number>();
  if (!active.some((b) => b.ip.includes(':'))) {
    for (const b of active) out.set(b.ip, parseIpv4(b.ip));
    return out;
  }
  const used = new Set<number>();
  for (const ip of active.map((b) => b.ip).sort()) {
    let v = fnv1a(ip) >>> 0;
    while (used.has(v)) v = (v + 1) >>> 0;
    used.add(v);
    out.set(ip, v);
  }
  return out;
}

/**
 * One load balancer on a node where its network is present: 1 ARP (IPv4 VIP) or Neighbor
 * Solicitation (IPv6 VIP) answer, per listener 1 LbNat flow and 1 LbDnat flow per healthy
 * backend, slotCountOf(lb) LbSlot flows (256 up to 4 backends), 1 MAC flow and 3 hairpin flows per distinct backend (and 3 per other address of its port), 3 refusals of the VIP's other ports and 1 drop;
 * an SCTP listener whose port is translated also 1 per healthy backend and 1 for its replies
 * (sctpPortFlows); a UDP listener (where fragmentTarget has one) also 1 LbNat flow and 1
 * LbDnat flow per healthy backend for first fragments, and the VIP 1 LbNat flow and 1 LbDnat
 * flow per healthy backend for later ones; with health checks, 1 flow per checked port for
 * their answers (TCP and UDP; UDP ones with udp.expectReply 1 per checked port and distinct backend address), UDP ones 1 per distinct backend address for its ICMP port unreachables (lb-health-flows.ts)
 * and, per listener of the check's protocol, 1 per checked port for clients from that port.
 * Independent of the number of ports or other load balancers. No groups.
 */
/** A slot flow's action (the backend's register value), one frozen list per value. */
const slotLoads = new SharedParts<Action[]>();

export function lbFlows(lb: LoadBalancerModel, net: NetworkModel): { flows: DesiredFlow[]; groups: DesiredGroup[] } {
  const inNet = matchField(NetworkField, net.vni);
  const zone = ctZone(net.vni);
  const v6 = lb.vip.includes(':');
  const ip = ethType(v6 ? ETH_TYPE.IPV6 : ETH_TYPE.IPV4);
  const dstField = v6 ? 'ipv6_dst' : 'ipv4_dst';
  const vip = { field: dstField, value: lb.vip } as KnownOxm;
  const flows: DesiredFlow[] = [
    v6
      ? ndAnswerFlow(net.vni, lb.vip, lb.mac)
      : flow(TABLES.ArpResponder, Priority.Normal, [inNet, ethType(ETH_TYPE.ARP), { field: 'arp_op', value: ARP_OP_REQUEST }, { field: 'arp_tpa', value: lb.vip }], arpReplyActions(lb.vip, lb.mac)),
  ];
  const trackedNew: KnownOxm = { field: 'ct_state', value: CtState.NEW | CtState.TRK, mask: CtState.NEW | CtState.TRK } as KnownOxm;
  const active = activeBackends(lb);
  const registerOf = backendRegisterValues(active);
  const slots = slotCountOf(lb);
  // Fragments (QA-116 F1): dealt by the client address, the one thing every fragment of a
  // datagram has to hash; taken only where the VIP's UDP listeners share a target port.
  const fragmentPort = fragmentTarget(lb);
  const byClient: Action = { type: 'multipath', fields: 'nw_src', basis: 0, algorithm: 'modulo_n', nLinks: slots, arg: 0, dst: LbSlotField.sub };
  const reuse = LbFlowReuse.of(lb.uid, net.vni, lb.vip, lb.listeners.length * active.length, slots);
  for (const l of lb.listeners) {
    const { proto, dst } = L4[l.protocol];
    const listener: KnownOxm[] = [ip, { field: 'ip_proto', value: proto }, vip, { field: dst, value: l.port } as KnownOxm];
    // Associations a backend still has when it is no longer active (unhealthy, drained) keep
    // their translation, as they keep their MAC flow below.
    if (sctpPortsByFlow(lb, l)) flows.push(...sctpPortFlows(lb, l, inNet, ip));
    if (!active.length) {
      flows.push(...refuseFlows(inNet, trackedNew, listener));
      continue;
    }
    const pick: Action = { type: 'multipath', fields: hashFields(lb), basis: 0, algorithm: 'modulo_n', nLinks: slots, arg: 0, dst: LbSlotField.sub };
    flows.push(flow(TABLES.LbNat, Priority.Specific, [inNet, trackedNew, ...listener], [pick], TABLES.LbSlot));
    // A client whose source port is a checked port: a new connection, above the flow that
    // sends probes' answers (from that port to the VIP) to the controller, or drops them
    // (UDP) (QA: such clients were refused). Probes never use a listener port as their source
    // port (lb-health.ts).
    const checked = l.protocol === 'TCP' ? lb.healthCheckPorts : l.protocol === 'UDP' ? lb.udpHealthCheckPorts : undefined;
    for (const hp of checked ?? []) flows.push(flow(TABLES.LbNat, Priority.Specific + 11, [inNet, trackedNew, ...listener, { field: l.protocol === 'TCP' ? 'tcp_src' : 'udp_src', value: hp } as KnownOxm], [pick], TABLES.LbSlot));
    // A datagram too big for one frame (QA-116 F1): OVS looks later fragments up with ports 0
    // (the bridge's nx-match fragment handling, switch-config.ts), so the listener above
    // matches none of them; the first fragment's connection tuple (conntrack reassembled the
    // datagram) has the port. The first fragment is hashed by client address, as the later
    // fragments must be (laterFragmentFlows), above the listener's 5-tuple hash, which it
    // would match too (it has its ports). The packet's own VIP, not the tuple's:
    // back from the DNAT, the tuple still says VIP and the packet no longer does.
    // Only where the rest of the datagram is taken too (fragmentTarget): a first fragment alone
    // would wait in OVS's reassembly for its timeout.
    const firstFragment: KnownOxm[] | undefined = l.protocol === 'UDP' && fragmentPort !== undefined ? [ip, { field: 'ip_proto', value: proto }, vip, FIRST_FRAGMENT, { field: 'ct_nw_proto', value: proto }, { field: 'ct_tp_dst', value: l.port }] : undefined;
    if (firstFragment) flows.push(flow(TABLES.LbNat, Priority.Specific + 2, [inNet, trackedNew, ...firstFragment], [byClient], TABLES.LbSlot));
    // Commit records the DNAT for the rest of the connection and its replies; back in
    // LbNat the packet (now to the backend IP) gets the backend's MAC.
    const dnatFlows = (ip: string, register: number): DesiredFlow[] => {
      const dnat = [dnatTo(ip, l.targetPort, zone)];
      const backend = matchField(LbBackendField, register);
      const toBackend = flow(TABLES.LbDnat, Priority.Normal, [inNet, ...listener, backend], dnat);
      return firstFragment ? [toBackend, flow(TABLES.LbDnat, Priority.Normal, [inNet, trackedNew, ...firstFragment, backend], dnat)] : [toBackend];
    };
    // Everything a listener's DNAT flows depend on beyond the load balancer's VIP and network.
    const kept = reuse?.dnat(`${l.protocol}/${l.port}/${l.targetPort}/${firstFragment ? 'fragments' : ''}`);
    for (const b of active) {
      const register = registerOf.get(b.ip)!;
      if (kept) for (const f of kept(b.ip, register, () => dnatFlows(b.ip, register))) flows.push(f);
      else flows.push(...dnatFlows(b.ip, register));
    }
  }
  if (active.length && fragmentPort !== undefined) flows.push(...laterFragmentFlows({ inNet, ip, vip, v6, trackedNew, zone, byClient }, fragmentPort, active, registerOf));
  if (active.length) {
    // One shared action list per backend: its slot flows share their instructions (flow()).
    const loads = active.map((b) => slotLoads.get(String(registerOf.get(b.ip)!), () => [loadField(LbBackendField, registerOf.get(b.ip)!)]));
    const slotFlow = (s: number, i: number) => flow(TABLES.LbSlot, Priority.Normal, [inNet, ip, vip, matchField(LbSlotField, s)], loads[i]!, TABLES.LbDnat);
    slotsOf(active, slots).forEach((i, s) => {
      flows.push(reuse ? reuse.slot(s, registerOf.get(active[i]!.ip)!, () => slotFlow(s, i)) : slotFlow(s, i));
    });
  }
  reuse?.keep();
  // A packet still addressed to the LB's MAC but now to a backend IP (after the DNAT of
  // its connection): deliver to the backend's MAC through L2. Unhealthy backends keep
  // theirs, so connections they still have are not cut.
  for (const b of distinctBackends(lb)) {
    flows.push(
      flow(
        TABLES.LbNat,
        Priority.Normal,
        [inNet, { field: 'ct_state', value: CtState.TRK, mask: CtState.TRK } as KnownOxm, { field: 'eth_dst', value: lb.mac }, ip, { field: dstField, value: b.ip } as KnownOxm],
        [{ type: 'set_field', field: 'eth_dst', value: b.mac }],
        TABLES.L2Lookup,
      ),
    );
  }
  flows.push(...hairpinFlows(lb, inNet, ip, zone));
  // Health checks (lb-health.ts): a backend's answer to a probe sent from the VIP comes
  // back to the VIP and the LB's MAC from the checked port; only probes do that (clients
  // never use the VIP as their address), so it goes to the controller. (A client's new
  // connection from a checked port to a listener is taken above it, in the listener loop.)
  // One flow per checked port and backend address, from a local VM port: no other VM's
  // packets reach vnetd through them (as the UDP checks' ICMP flows, lb-health-flows.ts).
  const sources = [...new Set(lb.backends.map((b) => b.ip))];
  for (const port of lb.healthCheckPorts ?? []) {
    for (const src of sources) {
      flows.push(
        // Above the VIP's +new flows, whose destination port a probe's source port could equal.
        { tableId: TABLES.LbNat.id, priority: Priority.Specific + 10, match: [inNet, matchMark(FromLocalMark), { field: 'eth_dst', value: lb.mac }, ip, { field: 'ip_proto', value: IP_PROTO.TCP }, { field: src.includes(':') ? 'ipv6_src' : 'ipv4_src', value: src } as KnownOxm, vip, { field: 'tcp_src', value: port }], instructions: HEALTH_ANSWER_INSTRUCTIONS },
      );
    }
  }
  flows.push(...udpHealthFlows(lb, net.vni));
  // A new TCP, UDP or SCTP packet from a local VM to a port of the VIP no listener has (one
  // removed, or never there) is refused as a listener without backends refuses it, rather
  // than left to time out (QA-128 F5: a removed listener's clients hung until their timeout).
  // Not a fragment: a later one has no ports to answer about.
  for (const proto of [IP_PROTO.TCP, IP_PROTO.UDP, IP_PROTO.SCTP]) {
    flows.push(refusal(Priority.Low + 1, [inNet, matchMark(FromLocalMark), trackedNew, { field: 'eth_dst', value: lb.mac }, ip, { field: 'ip_proto', value: proto }, NOT_FRAGMENT, vip]));
  }
  // Anything else sent to the LB's MAC (other ports, non-IP) has nowhere to go: drop it
  // rather than flood it as an unknown destination.
  flows.push(flow(TABLES.LbNat, Priority.Low, [inNet, { field: 'eth_dst', value: lb.mac }], []));
  return { flows, groups: [] };
}

/** Enough of a refused packet for its answer: Ethernet, IPv6, TCP with options, the 8 bytes of UDP an ICMP error quotes and more, or SCTP's first chunk. */
export const REFUSE_PACKET_IN_BYTES = 128;

/**
 * A listener without a healthy backend refuses new connections rather than letting them
 * time out, as kube-proxy's REJECT and OVN's reject option do: a TCP SYN, a UDP datagram or
 * an SCTP packet from a local VM goes to the controller, which answers with a RST, an ICMP
 * port unreachable or an SCTP ABORT from the VIP (lb-reject.ts). What came over a tunnel is
 * dropped.
 */
function refuseFlows(inNet: KnownOxm, trackedNew: KnownOxm, listener: KnownOxm[]): DesiredFlow[] {
  const drop = flow(TABLES.LbNat, Priority.Specific, [inNet, trackedNew, ...listener], []);
  return [drop, refusal(Priority.Specific + 1, [inNet, matchMark(FromLocalMark), trackedNew, ...listener])];
}

/** The refusal instructions, shared by every refusal flow: through the node's refusal meter (meters.ts) to the controller. */
const REFUSAL_INSTRUCTIONS: DesiredFlow['instructions'] = deepFreeze([
  { type: 'meter', meterId: REFUSE_METER.meterId },
  { type: 'apply_actions', actions: [{ type: 'output', port: OFPP.CONTROLLER, maxLen: REFUSE_PACKET_IN_BYTES }] },
]);

/** A new connection (a packet of it) vnetd refuses: to the controller, metered. */
function refusal(priority: number, match: KnownOxm[]): DesiredFlow {
  return { tableId: TABLES.LbNat.id, priority, match, instructions: REFUSAL_INSTRUCTIONS };
}

/**
 * Whether an SCTP listener's port translation is done by flows too: OVS's userspace conntrack
 * keeps no SCTP ports before OVS 3.2 (each client and VIP share one connection, whose NAT
 * rewrites addresses only), so a listener whose targetPort differs from its port reached the
 * backend on the VIP's port, and its replies left from the target port (an SCTP e2e test
 * found it, 2026-11-30). The flows (sctpPortFlows) match only what the conntrack left
 * untranslated, so they do nothing where OVS translates the ports itself; but two SCTP
 * listeners of the VIP whose ports and target ports overlap would make them ambiguous there,
 * so those get none.
 */
function sctpPortsByFlow(lb: LoadBalancerModel, l: LbListenerModel): boolean {
  if (l.protocol !== 'SCTP' || l.port === l.targetPort) return false;
  return !lb.listeners.some((m) => m !== l && m.protocol === 'SCTP' && (m.targetPort === l.port || m.port === l.targetPort || m.targetPort === l.targetPort));
}

/**
 * An SCTP listener's port translation (sctpPortsByFlow): toward a backend, a packet still to
 * the listener's port after the DNAT gets the target port (with the backend's MAC, as the
 * flow below it would give); a reply the conntrack un-DNATed to come from the VIP, still
 * from the target port, gets the listener's. OVS recomputes SCTP's CRC32c on each rewrite.
 * Per listener, one flow per distinct backend address (healthy or not: an unhealthy or
 * drained backend keeps the associations it has) and one for the replies. Not for a backend
 * reaching its own VIP: the hairpin flows above them send that on untranslated.
 */
function sctpPortFlows(lb: LoadBalancerModel, l: LbListenerModel, inNet: KnownOxm, ip: KnownOxm): DesiredFlow[] {
  const v6 = lb.vip.includes(':');
  const sctp = { field: 'ip_proto', value: IP_PROTO.SCTP } as KnownOxm;
  const out = distinctBackends(lb).map((b) =>
    flow(
      TABLES.LbNat,
      Priority.Normal + 1,
      [inNet, TRK, { field: 'eth_dst', value: lb.mac } as KnownOxm, ip, sctp, { field: v6 ? 'ipv6_dst' : 'ipv4_dst', value: b.ip } as KnownOxm, { field: 'sctp_dst', value: l.port } as KnownOxm],
      [{ type: 'set_field', field: 'sctp_dst', value: l.targetPort }, { type: 'set_field', field: 'eth_dst', value: b.mac }],
      TABLES.L2Lookup,
    ),
  );
  out.push(
    flow(TABLES.LbNat, Priority.Normal, [inNet, TRK_REPLY, ip, sctp, { field: v6 ? 'ipv6_src' : 'ipv4_src', value: lb.vip } as KnownOxm, { field: 'sctp_src', value: l.targetPort } as KnownOxm], [{ type: 'set_field', field: 'sctp_src', value: l.port }], TABLES.L2Lookup),
  );
  return out;
}

/**
 * A first fragment (OVS's nw_frag=first) and a later one (nw_frag=later). Exact: OVS keeps
 * both of the field's bits either way and dumps such a match without a mask, so a restart's
 * sync finds the flow it wants (with the mask, it deleted them as strangers).
 */
const FIRST_FRAGMENT = { field: 'ip_frag', value: 1 } as KnownOxm;
const NOT_FRAGMENT = { field: 'ip_frag', value: 0 } as KnownOxm;
const LATER_FRAGMENT = { field: 'ip_frag', value: 3 } as KnownOxm;

/**
 * The rest of a datagram too big for one frame (QA-116 F1). On OVS's userspace datapath (the
 * one vnetd drives) conntrack reassembles the fragments at every ct() and hands each on with
 * the connection's state, but a later fragment has no ports, nor has its connection tuple (OVS
 * keeps those beside the packet's own), so these match the VIP and protocol only, and its DNAT
 * must be the first fragment's: the ct() that completes the datagram (often a later
 * fragment's) decides the translation of all of them. The slot is the client address's hash,
 * as the first fragment's (no ports to hash). (The kernel datapath goes on with the
 * reassembled datagram, which the listener's own flow takes; these then match nothing.)
 * 1 LbNat flow and 1 LbDnat flow per active backend.
 */
function laterFragmentFlows(
  f: { inNet: KnownOxm; ip: KnownOxm; vip: KnownOxm; v6: boolean; trackedNew: KnownOxm; zone: number; byClient: Action },
  target: number,
  active: readonly LbBackendModel[],
  registerOf: ReadonlyMap<string, number>,
): DesiredFlow[] {
  // An IPv6 later fragment's protocol is the fragment header's (44) as OVS reads it: it has
  // no UDP header to tell it by, so any later fragment of a new connection to the VIP (a TCP
  // or SCTP one's first fragment is never taken, so its datagram never completes).
  const later: KnownOxm[] = [f.ip, ...(f.v6 ? [] : [{ field: 'ip_proto', value: IP_PROTO.UDP } as KnownOxm]), f.vip, LATER_FRAGMENT];
  return [
    flow(TABLES.LbNat, Priority.Specific + 2, [f.inNet, f.trackedNew, ...later], [f.byClient], TABLES.LbSlot),
    ...active.map((b) => flow(TABLES.LbDnat, Priority.Normal, [f.inNet, f.trackedNew, ...later, matchField(LbBackendField, registerOf.get(b.ip)!)], [dnatTo(b.ip, target, f.zone)])),
  ];
}

/**
 * The one target port of the VIP's UDP listeners, which a fragmented datagram is translated
 * to; undefined when it has none or several (its fragmented datagrams are then dropped: no
 * fragment of one tells which listener it is for).
 */
function fragmentTarget(lb: LoadBalancerModel): number | undefined {
  const udp = lb.listeners.filter((l) => l.protocol === 'UDP');
  const target = udp[0]?.targetPort;
  return target === undefined || udp.some((l) => l.targetPort !== target) ? undefined : target;
}

/** Commits a new connection with its DNAT to the backend, back to LbNat for the backend's MAC. */
function dnatTo(ip: string, port: number, zone: number): Action {
  return { type: 'ct', commit: true, zone, table: TABLES.LbNat.id, actions: [{ type: 'nat', direction: 'dst', ipMin: ip, portMin: port, portMax: port }] };
}

const TRK_NOT_REPLY = { field: 'ct_state', value: CtState.TRK, mask: CtState.TRK | CtState.RPL } as KnownOxm;
const TRK_REPLY = { field: 'ct_state', value: CtState.TRK | CtState.RPL, mask: CtState.TRK | CtState.RPL } as KnownOxm;
const TRK = { field: 'ct_state', value: CtState.TRK, mask: CtState.TRK } as KnownOxm;

/**
 * Hairpin: a backend whose connection to its own VIP was dealt to itself. After the DNAT its
 * packet goes from b to b, which its kernel would drop as a martian (and OpenFlow never
 * outputs to the ingress port unless told to), so, as OVN does, the connection is also
 * SNATed to the VIP: the backend sees VIP -> b and answers the VIP.
 *
 * The SNAT is a second connection in the network's zone (ct_clear first: a ct() in the zone
 * a packet was just tracked in reuses that connection instead of looking its tuple up):
 *   forward  b:c -> VIP:p  LbVip un-NAT/DNAT (1st connection) -> b:c -> b:t, not a reply
 *                          -> ct_clear, ct(commit, nat(src=VIP)) (2nd)   -> VIP:c -> b:t
 *   reply    b:t -> VIP:c  LbVip: the 2nd connection's reply, un-SNAT   -> b:t -> b:c, a reply
 *                          -> ct_clear, ct(nat): the 1st's reply, un-DNAT -> VIP:p -> b:c
 * and either way, VIP -> b to the LB's MAC leaves through the port it came in on, from the
 * LB's MAC. The two connections' tuples coincide only when the client's port equals the
 * backend's target port (then the second fails to commit and the client retries).
 *
 * Three flows per backend address, on every node (where the backend is bound is not the
 * load balancer compile's business); all backends, so a hairpin connection survives its
 * backend turning unhealthy as the others do.
 */
function hairpinFlows(lb: LoadBalancerModel, inNet: KnownOxm, ip: KnownOxm, zone: number): DesiredFlow[] {
  const v6 = lb.vip.includes(':');
  const src = v6 ? 'ipv6_src' : 'ipv4_src';
  const dst = v6 ? 'ipv6_dst' : 'ipv4_dst';
  const toLbMac = { field: 'eth_dst', value: lb.mac } as KnownOxm;
  const out: DesiredFlow[] = [];
  const seen = new Set<string>();
  for (const b of distinctBackends(lb)) {
    const selfToSelf = [{ field: src, value: b.ip } as KnownOxm, { field: dst, value: b.ip } as KnownOxm];
    out.push(
      flow(TABLES.LbNat, Priority.Hairpin, [inNet, TRK_NOT_REPLY, toLbMac, ip, ...selfToSelf], [
        { type: 'ct_clear' },
        { type: 'ct', commit: true, zone, table: TABLES.LbNat.id, actions: [{ type: 'nat', direction: 'src', ipMin: lb.vip }] },
      ]),
      flow(TABLES.LbNat, Priority.Hairpin, [inNet, TRK_REPLY, toLbMac, ip, ...selfToSelf], [
        { type: 'ct_clear' },
        { type: 'ct', zone, table: TABLES.LbNat.id, actions: [{ type: 'nat' }] },
      ]),
      flow(TABLES.LbNat, Priority.Hairpin, [inNet, TRK, toLbMac, ip, { field: src, value: lb.vip } as KnownOxm, { field: dst, value: b.ip } as KnownOxm], [
        { type: 'set_field', field: 'eth_src', value: lb.mac },
        { type: 'set_field', field: 'eth_dst', value: b.mac },
        { type: 'output', port: OFPP.IN_PORT, maxLen: 0 },
      ]),
    );
    out.push(...peerHairpinFlows(lb, b, { inNet, ip, zone, src, dst, toLbMac }, seen));
  }
  return out;
}

/**
 * Hairpin from another address of the backend's port (QA-113 F3: a VM whose allowed pair, or
 * second address, is a backend, reaching the VIP from its first address): the same two
 * connections, but the client a and the backend b differ, so
 *   forward  a:c -> VIP:p  DNAT -> a:c -> b:t (from a's MAC)  -> SNAT -> VIP:c -> b:t, out as above
 *   reply    b:t -> VIP:c  un-SNAT -> b:t -> a:c (from b's MAC) -> un-DNAT -> VIP:p -> a:c,
 *            to a's MAC, out of the port it came in on.
 * The source MAC ties each flow to this port: the peers are only addresses whose MACs no
 * other port of the network may send from (lb-backends.ts peersOf), so a CIDR pair's prefix
 * (which may cover other VMs' addresses) never takes another port's connections. Below the
 * backend's own three flows, which they would only repeat where a prefix covers b. Three
 * flows per other address; none for a port with one address of the VIP's family.
 */
function peerHairpinFlows(
  lb: LoadBalancerModel,
  b: LbBackendModel,
  f: { inNet: KnownOxm; ip: KnownOxm; zone: number; src: 'ipv4_src' | 'ipv6_src'; dst: 'ipv4_dst' | 'ipv6_dst'; toLbMac: KnownOxm },
  seen: Set<string>,
): DesiredFlow[] {
  const { src, dst } = f;
  const out: DesiredFlow[] = [];
  // Each flow once: backends of one port list each other, and the way back to a is the same
  // flow for every backend its port sends from one MAC.
  const once = (key: string, fl: DesiredFlow) => {
    if (!seen.has(key)) out.push(fl);
    seen.add(key);
  };
  for (const a of b.peers ?? []) {
    const aKey = `${a.ip ?? '*'}/${a.mask ?? ''}`;
    const fromA = { field: 'eth_src', value: a.mac } as KnownOxm;
    const fromB = { field: 'eth_src', value: b.mac } as KnownOxm;
    once(`fwd|${a.mac.toLowerCase()}|${aKey}|${b.ip}`, flow(TABLES.LbNat, Priority.Hairpin - 1, [f.inNet, TRK_NOT_REPLY, fromA, f.toLbMac, f.ip, ...addressMatch(src, a), { field: dst, value: b.ip } as KnownOxm], [
      { type: 'ct_clear' },
      { type: 'ct', commit: true, zone: f.zone, table: TABLES.LbNat.id, actions: [{ type: 'nat', direction: 'src', ipMin: lb.vip }] },
    ]));
    once(`reply|${b.mac.toLowerCase()}|${b.ip}|${aKey}`, flow(TABLES.LbNat, Priority.Hairpin - 1, [f.inNet, TRK_REPLY, fromB, f.toLbMac, f.ip, { field: src, value: b.ip } as KnownOxm, ...addressMatch(dst, a)], [
      { type: 'ct_clear' },
      { type: 'ct', zone: f.zone, table: TABLES.LbNat.id, actions: [{ type: 'nat' }] },
    ]));
    once(`back|${b.mac.toLowerCase()}|${aKey}`, flow(TABLES.LbNat, Priority.Hairpin - 1, [f.inNet, TRK, fromB, f.toLbMac, f.ip, { field: src, value: lb.vip } as KnownOxm, ...addressMatch(dst, a)], [
      { type: 'set_field', field: 'eth_src', value: lb.mac },
      { type: 'set_field', field: 'eth_dst', value: a.mac },
      { type: 'output', port: OFPP.IN_PORT, maxLen: 0 },
    ]));
  }
  return out;
}
