/**
 * The fast path's tables for one node, computed from the same logical model and by the
 * same rules as compileNode's OpenFlow flows, so the two cannot disagree about where a
 * frame goes: a network is present on a node when one of its ports is bound there; a
 * (network, MAC) of a local port is delivered to that port's ofport; a (network, MAC) of
 * a port bound on another node goes to that node's VTEP with the network's VNI and
 * encapsulation, only when the node has the tunnel port OVS would use (no tunnel port,
 * no L2 flow, no fast-path entry). Pure and deterministic.
 *
 * Identifiers: the fast path's port id is the OVS ofport of a VM port (so per-interface
 * counters line up with OVS's ports) and its network id is the VNI (what the OpenFlow
 * pipeline loads into its Network register). VTEP ids are per (remote node, encapsulation),
 * numbered from 1 in sorted order.
 */
import type { Encapsulation } from '../resources/kinds';
import { indexModel, type ModelIndex } from './compiler';
import { pairMacsOf } from './pair-macs';
import { activeBackends, slotCountOf, slotsOf } from './load-balancer';
import { ipv6AddressesOf } from './port-security-v6';
import type { LbBackendModel, LoadBalancerModel, LogicalModel, NetworkModel, NodeModel, PortModel } from './model';
import { isIPv4 } from 'node:net';

export interface FastPathLocalPort {
  /** OVS ofport of the VM NIC, also its fast-path port id. */
  ofport: number;
  /** Network id = VNI. */
  network: number;
  mac: string;
  /** namespace/name of the VirtualPort, for logs. */
  key: string;
  portSecurity: boolean;
  /**
   * (MAC, IP) source pairs port security lets through: own IPs and allowed pairs, and for
   * IPv6 their MACs' link-local addresses (ipv6AddressesOf: exactly OVS's SpoofGuard list).
   */
  sources: ReadonlyArray<{ mac: string; ip: string }>;
  /**
   * In a network with load balancers: its ordinary traffic must stay with OVS (only its VIP
   * connections may take the fast path), because it may carry a backend's replies to
   * connections OVS dispatched (it is a backend, by MAC or address, or without port security
   * may send from any address). Other ports of such a network keep the fast path for their
   * ordinary traffic, whatever the network's load balancers are (IPv6 VIPs and SCTP listeners
   * included): what must reach OVS is held back by their network's FastPathLbGuard.
   */
  conntrackOnly?: boolean;
}

/**
 * What the ports of a load-balanced network whose ordinary traffic is the fast path's must
 * still leave to OVS, which dispatches the connections the fast path does not (every one of
 * an IPv6 VIP or an SCTP listener, and any a datapath change left with it) and un-DNATs their
 * replies on the client's node (node-tables.ts interfaceFilters turns it into XDP keys).
 */
export interface FastPathLbGuard {
  network: number;
  /** Every VIP address of its load balancers: a frame to one is OVS's unless the fast path owns its connection. */
  vips: string[];
  /** Every backend address of its load balancers: what comes from one may be such a reply. */
  backends: string[];
}

export interface FastPathVtep {
  id: number;
  node: string;
  ip: string;
  encap: Encapsulation;
}

export type FastPathDestination =
  | { kind: 'local'; ofport: number }
  | { kind: 'remote'; vtep: number; node: string; ip: string; vni: number; encap: Encapsulation };

export interface FastPathMacEntry {
  network: number;
  mac: string;
  to: FastPathDestination;
}

export interface FastPathBackend {
  ip: string;
  port: number;
  weight: number;
  mac: string;
}

export interface FastPathVip {
  network: number;
  /** The load balancer's uid (a listener's connection counts are its own). */
  lb: string;
  proto: 'TCP' | 'UDP';
  vip: string;
  port: number;
  /** ClientIP: every connection of one client to one backend (as OVS's multipath on nw_src). */
  affinity: 'None' | 'ClientIP';
  /**
   * One per backend address, with the listener's target port. Healthy weighted backends
   * carry their weight (Maglev shares new connections by it); unhealthy ones weight 0:
   * they get no new connection but keep the ones they have, as under OVS's conntrack.
   */
  backends: FastPathBackend[];
  /**
   * OVS's slot table for this VIP (load-balancer.ts: LbNat's multipath over slotCountOf(lb) slots,
   * LbSlot's backend per slot), as indexes into `backends` (-1: none). The fast path deals a
   * new connection to the backend of the slot OVS's multipath computes for it, so a
   * connection goes to the same backend whichever datapath takes it.
   */
  slots: number[];
}

export interface FastPathPlan {
  node: string;
  /** This node's VTEP address (source of encapsulated frames); absent when the node is unknown. */
  localVtep?: string;
  ports: FastPathLocalPort[];
  /** VNI -> network for decapsulation: the present networks, each arriving in its own encapsulation only. */
  vnis: Array<{ vni: number; network: number; encap: Encapsulation }>;
  vteps: FastPathVtep[];
  macs: FastPathMacEntry[];
  vips: FastPathVip[];
  /**
   * One per network with load balancers: OVS sends all their IP through conntrack (un-DNAT of
   * the replies of connections it dispatched), so the ordinary traffic of their ports that may
   * carry such a reply stays with OVS (a backend's reply the fast path switched by MAC would
   * skip that un-DNAT; FastPathLocalPort.conntrackOnly). What the fast path takes from those
   * is only its own VIP connections, from their first packet on, both directions
   * (native/src/conn.h): the XDP filter knows those exactly.
   */
  lbGuards: FastPathLbGuard[];
}


/** OVS's slot table of lb (load-balancer.ts slotsOf), as indexes into `unique` (its backends, one per address). */
function slotTable(lb: LoadBalancerModel, unique: readonly LbBackendModel[]): number[] {
  const active = activeBackends(lb);
  const at = new Map(unique.map((b, i) => [b.ip, i]));
  return slotsOf(active, slotCountOf(lb)).map((i) => (i < 0 ? -1 : at.get(active[i]!.ip)!));
}

/**
 * The MACs L2Lookup switches to a port (compiler.ts): its own, and each pair MAC it alone
 * declares that is no port's own (OVS's own-MAC entries are above the pair ones, so such a
 * pair MAC goes to its owner there, and so here) nor a load balancer's (OVS drops what is
 * sent to that MAC and not to its VIP before L2Lookup; admission refuses such a pair since
 * QA-113, one stored before must not be switched here alone).
 */
function l2MacsIn(net: NetworkModel, ports: readonly PortModel[], lbs: readonly LoadBalancerModel[], index: ModelIndex): (p: PortModel) => string[] {
  if (!ports.some((p) => p.allowedAddressPairs.length)) return (p) => [p.mac];
  // pairMacShared covers a port's own MAC; the load balancers' MACs are the fast path's own concern.
  const lbMacs = new Set(lbs.map((lb) => lb.mac.toLowerCase()));
  return (p) => [p.mac, ...pairMacsOf(p).filter((mac) => !lbMacs.has(mac) && !index.pairMacShared(net.uid, mac))];
}

function sourcesOf(p: PortModel): Array<{ mac: string; ip: string }> {
  const v4 = [...p.ips.map((ip) => ({ mac: p.mac, ip })), ...p.allowedAddressPairs].filter((a) => isIPv4(a.ip));
  return [...v4, ...ipv6AddressesOf(p).map(({ mac, ip }) => ({ mac, ip }))];
}

/** Which ports of a network with these load balancers keep only their VIP connections on the fast path (FastPathLocalPort.conntrackOnly). */
function conntrackOnlyOf(lbs: readonly LoadBalancerModel[]): (p: PortModel, sources: ReadonlyArray<{ mac: string; ip: string }>) => boolean {
  const macs = new Set(lbs.flatMap((lb) => lb.backends.map((b) => b.mac.toLowerCase())));
  const ips = new Set(lbs.flatMap((lb) => lb.backends.map((b) => b.ip)));
  return (p, sources) => !p.portSecurity || macs.has(p.mac.toLowerCase()) || sources.some((s) => macs.has(s.mac.toLowerCase()) || ips.has(s.ip));
}

export function planFastPath(model: LogicalModel, nodeName: string, index: ModelIndex = indexModel(model)): FastPathPlan {
  const self = model.nodes.get(nodeName);
  const plan: FastPathPlan = { node: nodeName, ports: [], vnis: [], vteps: [], macs: [], vips: [], lbGuards: [] };
  if (self) plan.localVtep = self.tunnelIP;
  const vteps = new Map<string, FastPathVtep>();
  const remoteEntries: Array<{ net: NetworkModel; macs: readonly string[]; remote: NodeModel }> = [];
  const nets = [...model.networks.values()].sort((a, b) => a.vni - b.vni);
  for (const net of nets) {
    const ports = index.portsByNetwork.get(net.uid) ?? [];
    if (!ports.some((p) => p.binding?.node === nodeName)) continue;
    plan.vnis.push({ vni: net.vni, network: net.vni, encap: net.encapsulation });
    const tunnelPort = self?.tunnelPorts?.[net.encapsulation];
    const lbs = index.lbsByNetwork.get(net.uid) ?? [];
    const conntrackOnly = lbs.length ? conntrackOnlyOf(lbs) : undefined;
    const macsOf = l2MacsIn(net, ports, lbs, index);
    for (const p of ports) {
      const b = p.binding;
      if (b?.node === nodeName) {
        const sources = sourcesOf(p);
        plan.ports.push({ ofport: b.ofport, network: net.vni, mac: p.mac, key: p.key, portSecurity: p.portSecurity, sources, ...(conntrackOnly ? { conntrackOnly: conntrackOnly(p, sources) } : {}) });
        for (const mac of macsOf(p)) plan.macs.push({ network: net.vni, mac, to: { kind: 'local', ofport: b.ofport } });
        continue;
      }
      const remote = b ? model.nodes.get(b.node) : undefined;
      if (!remote || tunnelPort === undefined) continue;
      vteps.set(`${remote.name}/${net.encapsulation}`, { id: 0, node: remote.name, ip: remote.tunnelIP, encap: net.encapsulation });
      remoteEntries.push({ net, macs: macsOf(p), remote });
    }
    if (lbs.length) {
      const sorted = (a: string[]) => [...new Set(a)].sort();
      plan.lbGuards.push({ network: net.vni, vips: sorted(lbs.map((lb) => lb.vip)), backends: sorted(lbs.flatMap((lb) => lb.backends.map((b) => b.ip))) });
    }
    for (const lb of lbs) {
      // The classifier's VIP table is IPv4: an IPv6 VIP's connections stay with OVS (its
      // network's IPv6 is OVS's: FastPathLbGuard, node-tables.ts).
      if (lb.vip.includes(':')) continue;
      const seen = new Set<string>();
      const unique = lb.backends.filter((x) => !seen.has(x.ip) && !!seen.add(x.ip));
      const slots = slotTable(lb, unique);
      for (const l of lb.listeners) {
        if (l.protocol === 'SCTP') continue; // the classifier hashes TCP and UDP only
        plan.vips.push({
          network: net.vni,
          lb: lb.uid,
          proto: l.protocol,
          vip: lb.vip,
          port: l.port,
          affinity: lb.sessionAffinity ?? 'None',
          // The same backends as OVS's slot table (activeBackends: healthy, weighted, first of
          // an address), the others kept at weight 0 for their established connections.
          backends: unique.map((x) => ({ ip: x.ip, port: l.targetPort, weight: x.healthy && x.weight > 0 ? x.weight : 0, mac: x.mac })),
          slots,
        });
      }
    }
  }
  plan.vteps = [...vteps.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([, v], i) => ({ ...v, id: i + 1 }));
  const vtepId = new Map(plan.vteps.map((v) => [`${v.node}/${v.encap}`, v.id]));
  for (const { net, macs, remote } of remoteEntries) {
    const vtep = vtepId.get(`${remote.name}/${net.encapsulation}`)!;
    for (const mac of macs) plan.macs.push({ network: net.vni, mac, to: { kind: 'remote', vtep, node: remote.name, ip: remote.tunnelIP, vni: net.vni, encap: net.encapsulation } });
  }
  plan.macs.sort((a, b) => a.network - b.network || a.mac.localeCompare(b.mac));
  return plan;
}

const portKey = (p: FastPathLocalPort): string => `${p.ofport}|${p.network}|${p.mac}|${p.portSecurity}|${!!p.conntrackOnly}|${p.sources.map((x) => `${x.mac}/${x.ip}`).join(',')}`;
const macKey = (m: FastPathMacEntry): string => (m.to.kind === 'local' ? `${m.to.ofport}` : `${m.to.vtep}|${m.to.node}|${m.to.ip}|${m.to.vni}|${m.to.encap}`);
const vtepKey = (v: FastPathVtep): string => `${v.id}|${v.node}|${v.ip}|${v.encap}`;
/** A MAC with two destinations in a plan (a duplicate while a VM moves). */
const TWO_PLACES = '';

/**
 * Whether a plan only adds to next: every port, VNI, VTEP and MAC entry of it is in next as it
 * was (and next has no second destination for one of its MACs), and the node's VTEP, its VIPs
 * and its load-balancer guards are the same. Applying next then takes nothing from what the
 * fast path forwards and holds nothing new back from it (a new port's frames reach OVS until
 * its own keys are written), so OVS need not wait for it. next's side is indexed once, for
 * every plan it is compared with.
 */
export function onlyAddsTo(next: FastPathPlan): (prev: FastPathPlan) => boolean {
  const ports = new Set(next.ports.map(portKey));
  const vnis = new Set(next.vnis.map((v) => `${v.vni}|${v.network}|${v.encap}`));
  const vteps = new Set(next.vteps.map(vtepKey));
  const macs = new Map<string, string>();
  for (const m of next.macs) {
    const at = `${m.network}|${m.mac}`;
    macs.set(at, macs.has(at) ? TWO_PLACES : macKey(m));
  }
  const vips = JSON.stringify(next.vips);
  const guards = JSON.stringify(next.lbGuards);
  return (prev) =>
    prev.node === next.node &&
    prev.localVtep === next.localVtep &&
    prev.ports.every((p) => ports.has(portKey(p))) &&
    prev.vnis.every((v) => vnis.has(`${v.vni}|${v.network}|${v.encap}`)) &&
    prev.vteps.every((v) => vteps.has(vtepKey(v))) &&
    prev.macs.every((m) => macs.get(`${m.network}|${m.mac}`) === macKey(m)) &&
    JSON.stringify(prev.vips) === vips &&
    JSON.stringify(prev.lbGuards) === guards;
}
