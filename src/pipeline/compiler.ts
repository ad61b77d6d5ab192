/**
 * Compiles the logical model into one node's desired br-int flows, grouped by owner.
 * Pure and deterministic: the same model gives the same flows, in the same order.
 *
 * Per node, a network is "present" when it has at least one port bound there; only
 * present networks get flows (remote ports of other networks are none of this node's
 * business). Per local port with port security and one IP: 6 flows (classifier, 2 spoof
 * guard, ARP answer + self-ARP pass, L2 entry); per remote port of a present network:
 * 2 flows (ARP answer, L2 entry to the tunnel; also for a port declared on another node
 * (spec.node) whose NIC is not plugged yet); either way 1 more L2 entry per allowed pair
 * MAC other than the port's that it alone declares (pair-macs.ts); per pair MAC several ports
 * share: 2 flows to its holders (its own owner); per present network: 1 tunnel
 * classifier + 2 flood flows + 2 unknown unicast flows (+1 conntrack flow when it has load
 * balancers) + 1 flow per flood chunk that holds a local port of it; per load balancer: see
 * lbFlows.
 *
 * Flooding is split so that no flow lists all of a network's ports: a local port belongs
 * to flood chunk (ofport / 64) mod 256 (floodChunkOf), whose one flow in FloodChunk outputs
 * to the chunk's ports (64 with OVS's sequential ofports, 256 at most); the network's two
 * flood flows resubmit to its non-empty chunks (256 at most) and tunnel to its VTEPs. A
 * port coming or going rewrites its chunk's flow, and the network's flood flows only when
 * a chunk or a VTEP appears or goes, or a node gets its first port without port security or
 * loses its last (unknownUnicastFlows): bounded work whatever the network's size. (OpenFlow
 * 1.5's insert_bucket on an "all" group would be the other O(1) way; OVS accepts it only
 * on a 1.5 connection, and this codec speaks 1.3, where a group modify resends every bucket.)
 */
import { ETH_TYPE, OFPP, type Action, type KnownOxm } from '../openflow';
import type { DesiredFlow, DesiredGroup } from '../openflow/sync';
import { ownerKey, type FlowOwner } from '../openflow/sync';
import { FloodChunkField, FromLocalMark, FromTunnelMark, NetworkField, PortSecuredMark, UnknownChunkMark, loadField, loadMark, matchField, matchFields, matchMark } from './fields';
import { lbFlows } from './load-balancer';
import type { LoadBalancerModel, LogicalModel, NetworkModel, NodeModel, PortModel } from './model';
import { OwnerIds, PIPELINE_OWNER, ctZone, floodChunkOwner, networkOwner } from './owners';
import { ndAnswerFlow, ndPassFlows, ndSelfPassFlow } from './nd-responder';
import { ipv6SpoofGuardFlows, isIPv6 } from './port-security-v6';
import { addressMatch, sourceMatchesOf, type SourceMatch } from './source-matches';
import { countPairMacs, pairMacHoldersOf, pairMacKey, pairMacShared, pairMacsOf, parsePairMacKey, sharedPairMacsOf, type PairMacHolders } from './pair-macs';
import { SharedParts, deepFreeze } from './shared-parts';
import { TABLES, type Table } from './tables';
// tunnel-probe.ts imports Priority and flow from here, used only inside its functions (as load-balancer.ts does).
import { tunnelProbeFlows } from './tunnel-probe';
import { tunnelGuardFlows } from './tunnel-guard';
import { routerGuardFlows } from './router-guard';
import { vlanGuardFlows } from './vlan-guard';
import { isIPv4 } from 'node:net';

/** Priorities, named: more specific beats less specific inside a table. */
export const Priority = {
  Miss: 0,
  Normal: 100,
  Specific: 110,
  Low: 90,
  /** A load balancer's hairpin flows (load-balancer.ts): above its backend-MAC flows, which they refine. */
  Hairpin: 105,
  /** A pair MAC several ports share (pair-macs.ts): above a single holder's entry (Low), below ports' own MACs. */
  SharedPairMac: 95,
  /** A unicast destination no entry knows (unknownUnicastFlows): above L2Lookup's miss, which floods broadcast and multicast. */
  UnknownUnicast: 1,
} as const;

const ARP_OP_REQUEST = 1;
/** resubmit's "keep in_port" value (OFPP_IN_PORT of OpenFlow 1.0): output to the ingress port stays suppressed. */
const OFPP10_IN_PORT = 0xfff8;

/**
 * Ports sharing one pair MAC that get it sent to each of them; more get it flooded in their
 * network, as broadcast is. A policy, not a limit of OpenFlow (a flow of 64 holders is a few KiB of actions): a VRRP
 * group is a handful of ports, and a flow that every holder's change rewrites stays small.
 */
export const SHARED_PAIR_MAC_MAX_HOLDERS = 64;

/** Consecutive ofports per flood chunk, and the number of chunks (FloodChunkField holds 8 bits). */
export const FLOOD_CHUNK_PORTS = 64;
export const FLOOD_CHUNKS = 256;

/** The flood chunk of a local port: OVS hands out ofports in sequence, so a chunk fills before the next opens. */
export function floodChunkOf(ofport: number): number {
  return Math.floor(ofport / FLOOD_CHUNK_PORTS) % FLOOD_CHUNKS;
}

/** A network's local ofports on one node, by flood chunk (ofport -> number of ports bound to it). */
export type FloodChunks = ReadonlyMap<number, ReadonlyMap<number, number>>;
const ARP_OP_REPLY = 2;

export interface OwnerFlows {
  owner: FlowOwner;
  /** What the owner is, for logs and dumps: "pipeline", "network ns/name", "port ns/name". */
  label: string;
  flows: DesiredFlow[];
  /** Select groups (load balancers); absent or empty for other owners. */
  groups?: DesiredGroup[];
}

export interface NodeCompilation {
  node: string;
  /** By ownerKey(owner). */
  owners: Map<number, OwnerFlows>;
  /** Objects this node realizes once these flows are installed: uid -> version. */
  realizes: Map<string, string>;
}

const gotos = new SharedParts<DesiredFlow['instructions'][number]>();

/**
 * The instructions of shared (frozen) action lists, by list and next table: the flows that
 * share their actions share their instructions too (a load balancer's slot flows, one list per
 * backend: 3 arrays and 2 objects a flow, 315 B, at 1,000 load balancers 87 MB: QA-129).
 */
const sharedInstructions = new WeakMap<Action[], Map<number, DesiredFlow['instructions']>>();

export function flow(table: Table, priority: number, match: KnownOxm[], actions: Action[], next?: Table): DesiredFlow {
  if (actions.length && Object.isFrozen(actions)) {
    let byNext = sharedInstructions.get(actions);
    if (!byNext) sharedInstructions.set(actions, (byNext = new Map()));
    const nextId = next?.id ?? -1;
    let instructions = byNext.get(nextId);
    if (!instructions) byNext.set(nextId, (instructions = deepFreeze(instructionsOf(actions, next))));
    return { tableId: table.id, priority, match, instructions };
  }
  return { tableId: table.id, priority, match, instructions: instructionsOf(actions, next) };
}

function instructionsOf(actions: Action[], next: Table | undefined): DesiredFlow['instructions'] {
  // Array literals of their final length: an empty array grown by push keeps room for 17.
  const goto = next && gotos.get(String(next.id), () => ({ type: 'goto_table', tableId: next.id }));
  const apply = actions.length ? { type: 'apply_actions' as const, actions } : undefined;
  return apply ? (goto ? [apply, goto] : [apply]) : goto ? [goto] : [];
}

const out = (port: number): Action => ({ type: 'output', port, maxLen: 0 });
const ethTypes = new SharedParts<KnownOxm>();
/** A match on the EtherType; shared, frozen. */
export const ethType = (t: number): KnownOxm => ethTypes.get(String(t), () => ({ field: 'eth_type', value: t }));
const ARP_REQUEST_MATCH: KnownOxm = deepFreeze({ field: 'arp_op', value: ARP_OP_REQUEST });

const tunnels = new SharedParts<Action[]>();

/** Toward a network's VTEP on a remote node: one shared array for all of that network's remote ports there. */
function tunnelActions(net: NetworkModel, remote: NodeModel, tunnelPort: number): Action[] {
  return tunnels.get(`${net.vni}/${remote.tunnelIP}/${tunnelPort}`, () => [
    { type: 'set_field', field: 'tun_ipv4_dst', value: remote.tunnelIP },
    { type: 'set_field', field: 'tunnel_id', value: BigInt(net.vni) },
    out(tunnelPort),
  ]);
}

// What every ARP answer does alike.
const ARP_MOVE_ETH: Action = deepFreeze({ type: 'reg_move', src: { field: 'eth_src', ofs: 0, nbits: 48 }, dst: { field: 'eth_dst', ofs: 0, nbits: 48 } });
const ARP_SET_REPLY: Action = deepFreeze({ type: 'set_field', field: 'arp_op', value: ARP_OP_REPLY });
const ARP_MOVE_SHA: Action = deepFreeze({ type: 'reg_move', src: { field: 'arp_sha', ofs: 0, nbits: 48 }, dst: { field: 'arp_tha', ofs: 0, nbits: 48 } });
const ARP_MOVE_SPA: Action = deepFreeze({ type: 'reg_move', src: { field: 'arp_spa', ofs: 0, nbits: 32 }, dst: { field: 'arp_tpa', ofs: 0, nbits: 32 } });
const OUT_IN_PORT: Action = deepFreeze(out(OFPP.IN_PORT));

/** OVN's ARP responder: turn the request into a reply from (ip, mac) and send it back in. */
export function arpReplyActions(ip: string, mac: string): Action[] {
  return [
    ARP_MOVE_ETH,
    { type: 'set_field', field: 'eth_src', value: mac },
    ARP_SET_REPLY,
    ARP_MOVE_SHA,
    { type: 'set_field', field: 'arp_sha', value: mac },
    ARP_MOVE_SPA,
    { type: 'set_field', field: 'arp_spa', value: ip },
    OUT_IN_PORT,
  ];
}


/** Whether a pair MAC (lower-case) of the network gets no single holder's L2 entry: several ports declare it, or it is a port's own MAC (pair-macs.ts). */
export type PairMacSharing = (networkUid: string, mac: string) => boolean;

function localPortFlows(port: PortModel, net: NetworkModel, ofport: number, shared: PairMacSharing): DesiredFlow[] {
  const inPort: KnownOxm = { field: 'in_port', value: ofport };
  const classify = port.portSecurity ? [loadField(NetworkField, net.vni), loadMark(FromLocalMark), loadMark(PortSecuredMark)] : [loadField(NetworkField, net.vni), loadMark(FromLocalMark)];
  const flows: DesiredFlow[] = [flow(TABLES.Classifier, Priority.Normal, [inPort], classify, TABLES.SpoofGuard)];
  if (port.portSecurity) {
    for (const a of sourceMatchesOf(port, 4)) {
      flows.push(
        flow(TABLES.SpoofGuard, Priority.Normal, [inPort, { field: 'eth_src', value: a.mac }, ethType(ETH_TYPE.IPV4), ...addressMatch('ipv4_src', a)], [], TABLES.ArpResponder),
        flow(TABLES.SpoofGuard, Priority.Normal, [inPort, { field: 'eth_src', value: a.mac }, ethType(ETH_TYPE.ARP), ...addressMatch('arp_spa', a), { field: 'arp_sha', value: a.mac }], [], TABLES.ArpResponder),
      );
    }
    flows.push(...ipv6SpoofGuardFlows(port, ofport));
  } else {
    flows.push(flow(TABLES.SpoofGuard, Priority.Normal, [inPort], [], TABLES.ArpResponder));
  }
  // A port asking for its own address (duplicate address detection) must not get an answer.
  for (const ip of port.ips.filter(isIPv4)) {
    flows.push(flow(TABLES.ArpResponder, Priority.Specific, [matchField(NetworkField, net.vni), inPort, ethType(ETH_TYPE.ARP), ARP_REQUEST_MATCH, { field: 'arp_tpa', value: ip }], [], TABLES.L2Lookup));
  }
  for (const ip of port.ips.filter(isIPv6)) flows.push(ndSelfPassFlow(net.vni, ofport, ip));
  flows.push(...arpAnswers(port, net));
  flows.push(flow(TABLES.L2Lookup, Priority.Normal, [matchField(NetworkField, net.vni), { field: 'eth_dst', value: port.mac }], [out(ofport)]));
  for (const mac of pairMacsOf(port)) if (!shared(net.uid, mac)) flows.push(flow(TABLES.L2Lookup, Priority.Low, [matchField(NetworkField, net.vni), { field: 'eth_dst', value: mac }], [out(ofport)]));
  return flows;
}

function arpAnswers(port: PortModel, net: NetworkModel): DesiredFlow[] {
  return [
    ...port.ips.filter(isIPv4).map((ip) =>
      flow(TABLES.ArpResponder, Priority.Normal, [matchField(NetworkField, net.vni), ethType(ETH_TYPE.ARP), ARP_REQUEST_MATCH, { field: 'arp_tpa', value: ip }], arpReplyActions(ip, port.mac)),
    ),
    ...port.ips.filter(isIPv6).map((ip) => ndAnswerFlow(net.vni, ip, port.mac)),
  ];
}

function remotePortFlows(port: PortModel, net: NetworkModel, remote: NodeModel, tunnelPort: number, shared: PairMacSharing): DesiredFlow[] {
  const toRemote = tunnelActions(net, remote, tunnelPort);
  const flows = [
    ...arpAnswers(port, net),
    // Only for traffic of local ports: what comes in on a tunnel is never sent back out on one.
    flow(TABLES.L2Lookup, Priority.Normal, [matchField(NetworkField, net.vni), matchMark(FromLocalMark), { field: 'eth_dst', value: port.mac }], toRemote),
  ];
  for (const mac of pairMacsOf(port)) if (!shared(net.uid, mac)) flows.push(flow(TABLES.L2Lookup, Priority.Low, [matchField(NetworkField, net.vni), matchMark(FromLocalMark), { field: 'eth_dst', value: mac }], toRemote));
  return flows;
}

/**
 * The entries of a pair MAC several ports declare, on one node: from a local port, to each
 * holder here and to the VTEP of each other node holding one; from a tunnel, to the holders
 * here only (the sender's node reached every node). Nothing when no holder is bound anywhere.
 * OVS never outputs a frame to the port it came in on, so a holder's own frames stay away from it.
 */
function sharedPairMacFlows(net: NetworkModel, mac: string, holders: readonly PortModel[], model: LogicalModel, nodeName: string, tunnelPort: number | undefined): DesiredFlow[] {
  // Too many to list: flooded in the network like broadcast, never taken for unknown unicast (which goes nowhere without a port lacking port security).
  if (holders.length > SHARED_PAIR_MAC_MAX_HOLDERS) return [flow(TABLES.L2Lookup, Priority.SharedPairMac, [matchField(NetworkField, net.vni), { field: 'eth_dst', value: mac }], [], TABLES.Flood)];
  const local = new Set<number>();
  const remotes = new Map<string, NodeModel>();
  for (const p of holders) {
    const b = p.binding;
    if (!b) continue;
    if (b.node === nodeName) local.add(b.ofport);
    else {
      const remote = model.nodes.get(b.node);
      if (remote && tunnelPort !== undefined) remotes.set(remote.name, remote);
    }
  }
  if (!local.size && !remotes.size) return [];
  const toLocal = [...local].sort((a, b) => a - b).map(out);
  const toRemotes = [...remotes.values()].sort((a, b) => a.name.localeCompare(b.name)).flatMap((r) => tunnelActions(net, r, tunnelPort!));
  const dst: KnownOxm = { field: 'eth_dst', value: mac };
  return [
    flow(TABLES.L2Lookup, Priority.SharedPairMac, [matchField(NetworkField, net.vni), matchMark(FromLocalMark), dst], [...toLocal, ...toRemotes]),
    flow(TABLES.L2Lookup, Priority.SharedPairMac, [matchField(NetworkField, net.vni), matchMark(FromTunnelMark), dst], toLocal),
  ];
}

export function pipelineFlows(): DesiredFlow[] {
  return [
    // Table misses drop, except that broadcast and multicast are flooded in their network
    // (unicast no entry knows meets its network's unknownUnicastFlows first) and the
    // load-balancing tables pass what is not theirs on to L2.
    flow(TABLES.ArpResponder, Priority.Miss, [], [], TABLES.LbVip),
    flow(TABLES.LbVip, Priority.Miss, [], [], TABLES.L2Lookup),
    flow(TABLES.LbNat, Priority.Miss, [], [], TABLES.L2Lookup),
    flow(TABLES.L2Lookup, Priority.Miss, [], [], TABLES.Flood),
    ...ndPassFlows(),
  ];
}

/**
 * A flood chunk's flows: output to each of its local ports; and, where some of them have no
 * port security, a flow above it for unknown unicast (UnknownChunk set) that outputs to those only.
 */
function floodChunkFlows(net: NetworkModel, chunk: number, ofports: Iterable<number>, unknownOfports: Iterable<number> | undefined): DesiredFlow[] {
  const outs = (ports: Iterable<number>) => [...ports].sort((a, b) => a - b).map(out);
  const inChunk = [matchField(NetworkField, net.vni), matchField(FloodChunkField, chunk)];
  const flows = [flow(TABLES.FloodChunk, Priority.Normal, inChunk, outs(ofports))];
  const takers = unknownOfports ? outs(unknownOfports) : [];
  if (takers.length) flows.push(flow(TABLES.FloodChunk, Priority.Specific, [inChunk[0]!, matchFields([FloodChunkField, chunk], [UnknownChunkMark.field, UnknownChunkMark.value])], takers));
  return flows;
}

/** Each of these flood chunks in turn, in order (FloodChunk; resubmit keeps the ingress port, so no frame goes back out of it). */
function toChunks(chunks: Iterable<number>): Action[] {
  return [...chunks].sort((a, b) => a - b).flatMap((c): Action[] => [loadField(FloodChunkField, c), { type: 'resubmit', port: OFPP10_IN_PORT, table: TABLES.FloodChunk.id }]);
}

/** Where a network's unknown unicast goes from one node: the chunks of its ports there that take it, and the remote nodes holding one. */
interface UnknownReceivers {
  chunks: Iterable<number>;
  remotes: NodeModel[];
}

function networkFlows(net: NetworkModel, chunks: Iterable<number>, remotes: NodeModel[], unknown: UnknownReceivers, tunnelPort: number | undefined, hasLb: boolean, hasV6Lb: boolean): DesiredFlow[] {
  const flows: DesiredFlow[] = [];
  const localOut = toChunks(chunks);
  if (tunnelPort !== undefined) {
    flows.push(
      flow(
        TABLES.Classifier,
        Priority.Normal,
        [{ field: 'in_port', value: tunnelPort }, { field: 'tunnel_id', value: BigInt(net.vni) }],
        [loadField(NetworkField, net.vni), loadMark(FromTunnelMark)],
        // With a load balancer, replies arriving from a backend's node must meet the
        // conntrack entry committed here (un-DNAT to the VIP) before local delivery.
        hasLb ? TABLES.LbVip : TABLES.L2Lookup,
      ),
    );
  }
  if (hasLb) {
    // All IP of the network through conntrack (OVN's pre-LB stage): new packets are just
    // tracked (nothing committed unless LbNat picks a backend); packets of a connection
    // committed on this node get its NAT (DNAT forward, un-DNAT on replies).
    flows.push(flow(TABLES.LbVip, Priority.Normal, [matchField(NetworkField, net.vni), ethType(ETH_TYPE.IPV4)], [{ type: 'ct', zone: ctZone(net.vni), table: TABLES.LbNat.id, actions: [{ type: 'nat' }] }]));
  }
  // IPv6 too, only where an IPv6 VIP needs it (Neighbor Discovery for known addresses was
  // answered before LbVip; the rest is tracked, never dropped, on its way to L2Lookup).
  if (hasV6Lb) {
    flows.push(flow(TABLES.LbVip, Priority.Normal, [matchField(NetworkField, net.vni), ethType(ETH_TYPE.IPV6)], [{ type: 'ct', zone: ctZone(net.vni), table: TABLES.LbNat.id, actions: [{ type: 'nat' }] }]));
  }
  // From a tunnel: local ports only (the sender's node already flooded to every VTEP).
  flows.push(flow(TABLES.Flood, Priority.Specific, [matchField(NetworkField, net.vni), matchMark(FromTunnelMark)], localOut));
  const toRemotes = tunnelPort === undefined ? [] : remotes.flatMap((r) => tunnelActions(net, r, tunnelPort));
  flows.push(flow(TABLES.Flood, Priority.Normal, [matchField(NetworkField, net.vni)], [...localOut, ...toRemotes]));
  const toTakers = toChunks(unknown.chunks);
  const unknownOut = toTakers.length ? [loadMark(UnknownChunkMark), ...toTakers] : [];
  flows.push(...unknownUnicastFlows(net, unknownOut, tunnelPort === undefined ? [] : unknown.remotes.flatMap((r) => tunnelActions(net, r, tunnelPort))));
  return flows;
}

/** The unicast bit of a destination MAC: clear. */
const UNICAST_DST: KnownOxm = deepFreeze({ field: 'eth_dst', value: '00:00:00:00:00:00', mask: '01:00:00:00:00:00' });

/**
 * Unicast to a MAC no L2 entry knows goes only where a port without port security is (OVN's
 * "unknown" address, which Neutron gives exactly those ports): such a VM may answer from MACs
 * vnetd was never told of, and frames back to them must reach it. With none in the network
 * the frame is dropped here, where before it was flooded to every port and VTEP of the network
 * (QA-130 F2, QA-133 F5): a VM sending to made-up MACs was copied to every node of its network.
 * On a node holding such a port the frame goes to those ports only, through the flood chunks
 * that hold one (each chunk's flow for them, floodChunkFlows: bounded flows, see floodChunkOf).
 */
function unknownUnicastFlows(net: NetworkModel, localOut: Action[], toRemotes: Action[]): DesiredFlow[] {
  return [
    flow(TABLES.L2Lookup, Priority.UnknownUnicast, [matchField(NetworkField, net.vni), matchMark(FromTunnelMark), UNICAST_DST], localOut),
    flow(TABLES.L2Lookup, Priority.UnknownUnicast, [matchField(NetworkField, net.vni), matchMark(FromLocalMark), UNICAST_DST], [...localOut, ...toRemotes]),
  ];
}

/** Index of the model used by every node's compile (build once per model change). */
/** What pair MAC entries depend on (pair-macs.ts), kept by a full index and by the reconciler's live model alike. */
export interface PairMacIndex {
  /** Whether several ports of the network declare this pair MAC (lower-case), or it is a port's own MAC. */
  pairMacShared: PairMacSharing;
  /** The ports (uids) declaring a pair MAC of a network, and a network's shared pair MACs. */
  pairMacHolders(networkUid: string, mac: string): ReadonlySet<string>;
  sharedPairMacs(networkUid: string): Iterable<string>;
  /** Whether a MAC (lower-case) is a port's own in the network. */
  isOwnMac(networkUid: string, mac: string): boolean;
}

/** Whether a pair MAC has a shared owner's entries: several ports declare it and it is no port's own. */
function hasSharedEntries(index: PairMacIndex, networkUid: string, mac: string): boolean {
  return index.pairMacHolders(networkUid, mac).size >= 2 && !index.isOwnMac(networkUid, mac);
}

export interface ModelIndex extends PairMacIndex {
  portsByNetwork: Map<string, PortModel[]>;
  lbsByNetwork: Map<string, LoadBalancerModel[]>;
}

export function indexModel(model: LogicalModel): ModelIndex {
  const portsByNetwork = new Map<string, PortModel[]>();
  const pairHolders: PairMacHolders = new Map();
  let ownMacs: Set<string> | undefined;
  for (const p of [...model.ports.values()].sort((a, b) => a.key.localeCompare(b.key))) {
    if (!model.networks.has(p.network)) continue;
    countPairMacs(pairHolders, p, 1);
    let list = portsByNetwork.get(p.network);
    if (!list) portsByNetwork.set(p.network, (list = []));
    list.push(p);
  }
  const lbsByNetwork = new Map<string, LoadBalancerModel[]>();
  for (const lb of [...(model.loadBalancers?.values() ?? [])].sort((a, b) => a.key.localeCompare(b.key))) {
    if (!model.networks.has(lb.network)) continue;
    let list = lbsByNetwork.get(lb.network);
    if (!list) lbsByNetwork.set(lb.network, (list = []));
    list.push(lb);
  }
  return {
    portsByNetwork,
    lbsByNetwork,
    pairMacShared: (net, mac) => pairMacShared(pairHolders, net, mac) || isOwnMac(net, mac),
    pairMacHolders: (net, mac) => pairMacHoldersOf(pairHolders, net, mac),
    sharedPairMacs: (net) => sharedPairMacsOf(pairHolders, net),
    isOwnMac,
  };
  // Built on first use: only networks with pairs ask.
  function isOwnMac(net: string, mac: string): boolean {
    ownMacs ??= new Set([...model.ports.values()].map((p) => `${p.network}/${p.mac.toLowerCase()}`));
    return ownMacs.has(`${net}/${mac}`);
  }
}

/** A port's flows on a node whose network is present there, or undefined when it has none (unbound and undeclared, or declared for this node; unknown remote node; no tunnel port). */
function portOnNode(p: PortModel, net: NetworkModel, model: LogicalModel, nodeName: string, tunnelPort: number | undefined, shared: PairMacSharing): DesiredFlow[] | undefined {
  const b = p.binding;
  if (b?.node === nodeName) return localPortFlows(p, net, b.ofport, shared);
  // Bound elsewhere, or declared for another node and not plugged yet (its remote
  // entries are the same either way: the plug then only adds flows on its own node).
  const where = b ? b.node : p.expectedNode !== nodeName ? p.expectedNode : undefined;
  const remote = where ? model.nodes.get(where) : undefined;
  if (!remote || tunnelPort === undefined) return undefined;
  return remotePortFlows(p, net, remote, tunnelPort, shared);
}

/**
 * Where a network's ports are bound, as its flood needs it: the local ofports by chunk on one
 * node, the nodes holding any, and the nodes holding a port that takes unknown unicast.
 */
export interface FloodView {
  chunks: FloodChunks | undefined;
  /** The local ofports of ports that take unknown unicast, by chunk. */
  unknownChunks: FloodChunks | undefined;
  boundNodes: Iterable<string>;
  unknownNodes: Iterable<string>;
}

/** Whether a port takes unicast to MACs no entry knows: one without port security (unknownUnicastFlows). */
export function takesUnknownUnicast(p: Pick<PortModel, 'portSecurity'>): boolean {
  return !p.portSecurity;
}

/** A FloodView read from a list of ports (full compiles, tests); the reconciler keeps one up to date instead (ScopeIndex). */
export function floodViewOf(ports: Iterable<PortModel>, nodeName: string): { chunks: Map<number, Map<number, number>>; unknownChunks: Map<number, Map<number, number>>; boundNodes: Set<string>; unknownNodes: Set<string> } {
  const chunks = new Map<number, Map<number, number>>();
  const unknownChunks = new Map<number, Map<number, number>>();
  const boundNodes = new Set<string>();
  const unknownNodes = new Set<string>();
  const count = (into: Map<number, Map<number, number>>, ofport: number) => {
    const c = floodChunkOf(ofport);
    let inChunk = into.get(c);
    if (!inChunk) into.set(c, (inChunk = new Map()));
    inChunk.set(ofport, (inChunk.get(ofport) ?? 0) + 1);
  };
  for (const p of ports) {
    const b = p.binding;
    if (!b) continue;
    boundNodes.add(b.node);
    if (takesUnknownUnicast(p)) unknownNodes.add(b.node);
    if (b.node !== nodeName) continue;
    count(chunks, b.ofport);
    if (takesUnknownUnicast(p)) count(unknownChunks, b.ofport);
  }
  return { chunks, unknownChunks, boundNodes, unknownNodes };
}

/** The network's own flows on a node (tunnel classifier, flooding), or undefined when no port of it is bound there. */
function networkOnNode(net: NetworkModel, view: FloodView, model: LogicalModel, nodeName: string, tunnelPort: number | undefined, lbs: readonly LoadBalancerModel[]): DesiredFlow[] | undefined {
  if (!view.chunks?.size) return undefined;
  const remotes: NodeModel[] = [];
  if (tunnelPort !== undefined) {
    for (const n of view.boundNodes) {
      const remote = n === nodeName ? undefined : model.nodes.get(n);
      if (remote) remotes.push(remote);
    }
    remotes.sort((a, b) => a.name.localeCompare(b.name));
  }
  const unknownAt = new Set(view.unknownNodes);
  const unknown = { chunks: view.unknownChunks?.keys() ?? [], remotes: remotes.filter((r) => unknownAt.has(r.name)) };
  return networkFlows(net, view.chunks.keys(), remotes, unknown, tunnelPort, lbs.length > 0, lbs.some((lb) => lb.vip.includes(':')));
}

function ownerMap(): { owners: Map<number, OwnerFlows>; add: (owner: FlowOwner, label: string, flows: DesiredFlow[], groups?: DesiredGroup[]) => void } {
  const owners = new Map<number, OwnerFlows>();
  const add = (owner: FlowOwner, label: string, flows: DesiredFlow[], groups?: DesiredGroup[]) => {
    const k = ownerKey(owner);
    const cur = owners.get(k);
    if (cur) cur.flows.push(...flows);
    else owners.set(k, groups ? { owner, label, flows, groups } : { owner, label, flows });
  };
  return { owners, add };
}

export function compileNode(model: LogicalModel, nodeName: string, ids: OwnerIds, index: ModelIndex = indexModel(model)): NodeCompilation {
  const { owners, add } = ownerMap();
  const realizes = new Map<string, string>();
  const self = model.nodes.get(nodeName);
  add(PIPELINE_OWNER, 'pipeline', [...pipelineFlows(), ...routerGuardFlows(), ...vlanGuardFlows(), ...tunnelProbeFlows(self?.tunnelPorts), ...tunnelGuardFlows(self?.tunnelIP)]);
  const nets = [...model.networks.values()].sort((a, b) => a.vni - b.vni);
  for (const net of nets) {
    const ports = index.portsByNetwork.get(net.uid) ?? [];
    const tunnelPort = self?.tunnelPorts?.[net.encapsulation];
    const lbs = index.lbsByNetwork.get(net.uid) ?? [];
    const view = floodViewOf(ports, nodeName);
    const netFlows = networkOnNode(net, view, model, nodeName, tunnelPort, lbs);
    if (!netFlows) continue;
    for (const p of ports) {
      const flows = portOnNode(p, net, model, nodeName, tunnelPort, index.pairMacShared);
      if (!flows) continue;
      add(ids.portOwner(p.uid), `port ${p.key}`, flows);
      realizes.set(p.uid, p.version);
    }
    add(networkOwner(net.vni), `network ${net.key}`, netFlows);
    realizes.set(net.uid, net.version);
    for (const c of [...view.chunks.keys()].sort((x, y) => x - y)) add(floodChunkOwner(net.vni, c), `network ${net.key} flood chunk ${c}`, floodChunkFlows(net, c, view.chunks.get(c)!.keys(), view.unknownChunks.get(c)?.keys()));
    for (const lb of lbs) {
      const { flows, groups } = lbFlows(lb, net);
      add(ids.lbOwner(lb.uid), `loadbalancer ${lb.key}`, flows, groups);
      realizes.set(lb.uid, lb.version);
    }
    for (const mac of index.sharedPairMacs(net.uid)) if (hasSharedEntries(index, net.uid, mac)) addSharedPairMac(add, ids, model, index, net, mac, nodeName, tunnelPort);
  }
  return { node: nodeName, owners, realizes };
}

/** A shared pair MAC's owner on a node (none when it has no flows there). */
function addSharedPairMac(
  add: ReturnType<typeof ownerMap>['add'],
  ids: OwnerIds,
  model: LogicalModel,
  index: Pick<ModelIndex, 'pairMacHolders'>,
  net: NetworkModel,
  mac: string,
  nodeName: string,
  tunnelPort: number | undefined,
): void {
  const holders = [...index.pairMacHolders(net.uid, mac)].flatMap((uid) => model.ports.get(uid) ?? []);
  const flows = sharedPairMacFlows(net, mac, holders, model, nodeName, tunnelPort);
  if (flows.length) add(ids.pairMacOwner(pairMacKey(net.uid, mac)), `network ${net.key} pair MAC ${mac}`, flows);
}

/** What changed since a node's last compile: the objects whose owners must be recompiled. */
export interface CompileScope {
  /** Port uids (also deleted ones: their owners go away). */
  ports: ReadonlySet<string>;
  /** Network uids whose network owner (flooding, tunnel classifier) must be recompiled. */
  networks: ReadonlySet<string>;
  /** Flood chunks whose owner must be recompiled (floodChunkKey(network uid, chunk)); absent: none. */
  floodChunks?: ReadonlySet<string>;
  /** Load balancer uids (also deleted ones). */
  loadBalancers: ReadonlySet<string>;
  /** Pair MACs whose holders changed (pairMacKey(network uid, MAC)); absent: none. */
  pairMacs?: ReadonlySet<string>;
}

/** Live per-network views of the model (kept up to date by the caller instead of re-indexed per compile). */
export interface ScopeIndex extends PairMacIndex {
  portsOf(networkUid: string): Iterable<PortModel>;
  lbsOf(networkUid: string): readonly LoadBalancerModel[];
  /** The network's local ofports on a node by flood chunk; undefined or empty: none bound there. */
  floodChunksOf(networkUid: string, node: string): FloodChunks | undefined;
  /** Nodes with a port of the network bound. */
  boundNodesOf(networkUid: string): Iterable<string>;
  /** Nodes with a port of the network bound that takes unknown unicast (takesUnknownUnicast). */
  unknownNodesOf(networkUid: string): Iterable<string>;
  /** The local ofports of such ports on a node by flood chunk; undefined or empty: none there. */
  unknownChunksOf(networkUid: string, node: string): FloodChunks | undefined;
}

/** A flood chunk in a CompileScope. */
export function floodChunkKey(networkUid: string, chunk: number): string {
  return `${chunk}/${networkUid}`;
}

function parseFloodChunkKey(key: string): { networkUid: string; chunk: number } {
  const i = key.indexOf('/');
  return { networkUid: key.slice(i + 1), chunk: Number(key.slice(0, i)) };
}

export interface ScopeCompilation {
  /** Compiled owners; an owner in coveredOwners but not here has no flows any more. */
  owners: Map<number, OwnerFlows>;
  coveredOwners: Set<number>;
  /** Realized versions of the covered objects; a uid in coveredUids but not here is realized by nothing. */
  realizes: Map<string, string>;
  coveredUids: Set<string>;
}

/**
 * Compiles only the owners a change touches on one node: each port in scope, each flood
 * chunk in scope, and each network in scope (its flood flows, which list its chunks and
 * VTEPs, and its load balancers). Gives exactly what compileNode gives for those owners,
 * at a cost proportional to the scope (a chunk or a network's flood flows are bounded
 * in size, see floodChunkOf). When a network becomes present on the node or stops being
 * present (wasPresent says what it was), all its owners are in scope, as that changes
 * every one of them.
 */
export function compileScope(
  model: LogicalModel,
  nodeName: string,
  ids: OwnerIds,
  index: ScopeIndex,
  scope: CompileScope,
  wasPresent: (net: NetworkModel) => boolean,
): ScopeCompilation {
  const { owners, add } = ownerMap();
  const coveredOwners = new Set<number>();
  const realizes = new Map<string, string>();
  const coveredUids = new Set<string>();
  const self = model.nodes.get(nodeName);
  const present = new Map<string, boolean>();
  const ports = new Set(scope.ports);
  const lbUids = new Set(scope.loadBalancers);
  const chunks = new Set(scope.floodChunks);
  const pairMacs = new Set(scope.pairMacs);
  const viewOf = (uid: string): FloodView => ({ chunks: index.floodChunksOf(uid, nodeName), unknownChunks: index.unknownChunksOf(uid, nodeName), boundNodes: index.boundNodesOf(uid), unknownNodes: index.unknownNodesOf(uid) });
  for (const uid of scope.networks) {
    const net = model.networks.get(uid);
    if (!net) continue;
    const lbs = index.lbsOf(uid);
    const view = viewOf(uid);
    const netFlows = networkOnNode(net, view, model, nodeName, self?.tunnelPorts?.[net.encapsulation], lbs);
    present.set(uid, netFlows !== undefined);
    coveredOwners.add(ownerKey(networkOwner(net.vni)));
    coveredUids.add(uid);
    if (netFlows) {
      add(networkOwner(net.vni), `network ${net.key}`, netFlows);
      realizes.set(uid, net.version);
    }
    // Its load balancers' flows read only the network's VNI and encapsulation (lbFlows), not
    // its flood structure: they change with its presence on this node, or when touched.
    if (wasPresent(net) !== (netFlows !== undefined)) {
      for (const lb of lbs) lbUids.add(lb.uid);
      for (const p of index.portsOf(uid)) ports.add(p.uid);
      for (const c of view.chunks?.keys() ?? []) chunks.add(floodChunkKey(uid, c));
      for (const mac of index.sharedPairMacs(uid)) pairMacs.add(pairMacKey(uid, mac));
    }
  }
  const isPresent = (net: NetworkModel): boolean => {
    let v = present.get(net.uid);
    if (v === undefined) present.set(net.uid, (v = (index.floodChunksOf(net.uid, nodeName)?.size ?? 0) > 0));
    return v;
  };
  for (const key of chunks) {
    const { networkUid, chunk } = parseFloodChunkKey(key);
    const net = model.networks.get(networkUid);
    // A network gone is a model rebuild: the full compile that follows removes its chunks.
    if (!net) continue;
    const owner = floodChunkOwner(net.vni, chunk);
    coveredOwners.add(ownerKey(owner));
    const ofports = index.floodChunksOf(networkUid, nodeName)?.get(chunk);
    if (ofports?.size) add(owner, `network ${net.key} flood chunk ${chunk}`, floodChunkFlows(net, chunk, ofports.keys(), index.unknownChunksOf(networkUid, nodeName)?.get(chunk)?.keys()));
  }
  for (const uid of ports) {
    const owner = ids.portOwner(uid);
    coveredOwners.add(ownerKey(owner));
    coveredUids.add(uid);
    const p = model.ports.get(uid);
    const net = p ? model.networks.get(p.network) : undefined;
    if (!p || !net || !isPresent(net)) continue;
    const flows = portOnNode(p, net, model, nodeName, self?.tunnelPorts?.[net.encapsulation], (n, mac) => index.pairMacShared(n, mac));
    if (!flows) continue;
    add(owner, `port ${p.key}`, flows);
    realizes.set(uid, p.version);
  }
  for (const uid of lbUids) {
    coveredOwners.add(ownerKey(ids.lbOwner(uid)));
    coveredUids.add(uid);
    const lb = model.loadBalancers?.get(uid);
    const net = lb ? model.networks.get(lb.network) : undefined;
    if (!lb || !net || !isPresent(net)) continue;
    const { flows, groups } = lbFlows(lb, net);
    add(ids.lbOwner(uid), `loadbalancer ${lb.key}`, flows, groups);
    realizes.set(uid, lb.version);
  }
  for (const key of pairMacs) {
    const { networkUid, mac } = parsePairMacKey(key);
    const net = model.networks.get(networkUid);
    const entries = !!net && isPresent(net) && hasSharedEntries(index, networkUid, mac);
    // An id only for a MAC with entries now or before: a pair MAC held alone never takes one.
    const owner = entries ? ids.pairMacOwner(key) : ids.existingPairMacOwner(key);
    if (owner) coveredOwners.add(ownerKey(owner));
    if (!entries) continue;
    addSharedPairMac(add, ids, model, index, net, mac, nodeName, self?.tunnelPorts?.[net.encapsulation]);
  }
  return { owners, coveredOwners, realizes, coveredUids };
}

/** Nodes that must install flows for a network (and its load balancers): those with a port of it bound. */
export function nodesOfNetwork(index: ModelIndex, networkUid: string): Set<string> {
  const out = new Set<string>();
  for (const p of index.portsByNetwork.get(networkUid) ?? []) if (p.binding) out.add(p.binding.node);
  return out;
}
