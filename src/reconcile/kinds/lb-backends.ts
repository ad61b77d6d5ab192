/**
 * A load balancer's backends as the pipeline sees them: addresses in its network, each
 * healthy or not. Passive health: a backend whose VirtualPort is not bound to a
 * hypervisor interface (or is gone) gets no new connections until it is bound again.
 */
import type { LbBackendModel, NetworkModel, PortModel } from '../../pipeline';
import { sourceMatchesOf, type SourceMatch } from '../../pipeline/source-matches';
import type { LoadBalancer } from '../../resources/kinds';
import { coversAddress } from '../../ipam/subnet';
import { isIPv6 } from 'node:net';

/**
 * The ports that may hold an address by their allowed address pairs (an address, or a CIDR
 * covering it: QA, a backend in a /29 pair or given as /32 never resolved). More than one (a
 * VRRP pair) is ambiguous: which one holds the address now is the VMs' business.
 */
export function pairHolders(ip: string, ports: readonly PortModel[]): PortModel[] {
  return ports.filter((p) => p.allowedAddressPairs.some((a) => coversAddress(a.ip, ip)));
}

/**
 * A VirtualPort name gives the port's address of the VIP's family (IPv4 or IPv6) and its
 * MAC; an IP gives the port that owns it (own IP, or the one port whose allowed pairs cover
 * it). Backends that resolve to nothing (port not there yet, no address of that family, an
 * address several ports' pairs cover) are left out until they do; status says why.
 */
export function resolveBackends(lb: LoadBalancer, net: NetworkModel, ports: ReadonlyMap<string, PortModel>): LbBackendModel[] {
  const ns = lb.metadata.namespace;
  const inNet = [...ports.values()].filter((p) => p.network === net.uid);
  const byName = new Map(inNet.map((p) => [p.key, p]));
  const v6 = lb.spec?.vip !== undefined && isIPv6(lb.spec.vip);
  const ofFamily = (ip: string) => isIPv6(ip) === v6;
  const out: LbBackendModel[] = [];
  let counted: Map<string, number> | undefined;
  const senders = () => (counted ??= macHolders(inNet));
  for (const b of lb.spec?.backends ?? []) {
    const weight = b.weight ?? 1;
    if (b.port !== undefined) {
      const p = byName.get(`${ns}/${b.port}`);
      const ip = p?.ips.find(ofFamily);
      if (p && ip) out.push(backend(b.port, ip, p.mac, weight, p, v6, senders));
    } else if (b.ip !== undefined && ofFamily(b.ip)) {
      const ip = b.ip;
      const own = inNet.find((p) => p.ips.includes(ip));
      // Several holders: the first one taken was as likely the one not holding it (QA: the
      // VIP answered nothing while status said all was well); unresolved, status says why.
      const holders = own ? [own] : pairHolders(ip, inNet);
      const owner = holders.length === 1 ? holders[0] : undefined;
      const mac = own?.mac ?? owner?.allowedAddressPairs.find((a) => coversAddress(a.ip, ip))?.mac;
      if (owner && mac) out.push(backend(ip, ip, mac, weight, owner, v6, senders));
    }
  }
  return out;
}

function backend(name: string, ip: string, mac: string, weight: number, port: PortModel, v6: boolean, senders: () => ReadonlyMap<string, number>): LbBackendModel {
  const m: LbBackendModel = { name, ip, mac, weight, healthy: !!port.binding, port: port.key };
  const peers = peersOf(port, ip, mac, v6, senders);
  if (peers.length) m.peers = peers;
  if (port.binding) {
    m.node = port.binding.node;
    m.ofport = port.binding.ofport;
  }
  return m;
}

/**
 * The backend port's other addresses: its connections from them to the VIP may be dealt to
 * itself (QA-113 F3: they went out of the port they came in on, which OpenFlow drops). The
 * hairpin flows tell the port by the MACs it sends from, so only where no other port of the
 * network may send from them: a VRRP peer sharing a pair MAC would have its own connections
 * to the backend sent back out of its port (review 121).
 */
function peersOf(port: PortModel, ip: string, mac: string, v6: boolean, senders: () => ReadonlyMap<string, number>): SourceMatch[] {
  const all = sourceMatchesOf(port, v6 ? 6 : 4);
  if (all.length < 2) return [];
  const mine = macsOf(port);
  const elsewhere = (m: string) => (senders().get(m) ?? 0) - (mine.has(m) ? 1 : 0) > 0;
  const own = mac.toLowerCase();
  if (elsewhere(own)) return [];
  return all.filter((s) => !(s.ip === ip && s.mask === undefined && s.mac.toLowerCase() === own) && !elsewhere(s.mac.toLowerCase()));
}

/** The MACs (lower case) a port may send from: its own and its pairs'. */
function macsOf(p: PortModel): Set<string> {
  return new Set([p.mac, ...p.allowedAddressPairs.map((a) => a.mac)].map((m) => m.toLowerCase()));
}

/** How many ports of the network may send from each MAC. */
function macHolders(inNet: readonly PortModel[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const p of inNet) for (const m of macsOf(p)) out.set(m, (out.get(m) ?? 0) + 1);
  return out;
}

/**
 * Whether a port's change (the port as it was and as it is) may change what a load
 * balancer's backends resolve to: a backend naming the port, an address backend it holds
 * or its pairs cover, or a resolved backend whose port may send from one of its MACs (the
 * hairpin peers count the network's senders of each MAC). resolveBackends reads nothing
 * else of other ports, so only these need resolving again: resolving every load balancer
 * of the network on each port change cost 2.5-4.5 ms per load balancer, 3.6 s for a new
 * port in a network of 1000 (QA-124 F2).
 */
export function backendsMayMove(lb: LoadBalancer, resolved: readonly LbBackendModel[], changed: ChangedPorts): boolean {
  const ns = lb.metadata.namespace;
  for (const b of lb.spec?.backends ?? []) {
    if (b.port !== undefined && changed.keys.has(`${ns}/${b.port}`)) return true;
    if (b.ip !== undefined && (changed.ips.has(b.ip) || changed.pairs.some((pair) => coversAddress(pair, b.ip!)))) return true;
  }
  for (const b of resolved) if (b.port !== undefined && changed.sameMacSenders.has(b.port)) return true;
  return false;
}

/** What of a port's change (as it was and as it is) a load balancer's backends may read. */
export interface ChangedPorts {
  /** The port's keys (namespace/name). */
  keys: ReadonlySet<string>;
  ips: ReadonlySet<string>;
  /** Its allowed address pairs' addresses and CIDRs. */
  pairs: readonly string[];
  /** Keys of the ports of its network that may send from a MAC it sends or sent from. */
  sameMacSenders: ReadonlySet<string>;
}

/** `ports`: the changed port as it was and as it is; `inNetwork`: the ports of its network(s) now. */
export function changedPorts(ports: readonly PortModel[], inNetwork: Iterable<PortModel>): ChangedPorts {
  const macs = new Set(ports.flatMap((p) => [...macsOf(p)]));
  const sameMacSenders = new Set<string>();
  for (const p of inNetwork) if (macs.has(p.mac.toLowerCase()) || p.allowedAddressPairs.some((a) => macs.has(a.mac.toLowerCase()))) sameMacSenders.add(p.key);
  return {
    keys: new Set(ports.map((p) => p.key)),
    ips: new Set(ports.flatMap((p) => p.ips)),
    pairs: [...new Set(ports.flatMap((p) => p.allowedAddressPairs.map((a) => a.ip)))],
    sameMacSenders,
  };
}

/**
 * Backends bound to a node whose switch does not answer (its Node says SwitchUnreachable), or
 * whose agent went silent (AgentNotReporting), leave the slot tables, health-checked or not,
 * while another backend takes connections, as Kubernetes takes a NotReady node's pods out of
 * their Services' endpoints. Before, an
 * unchecked backend there kept its share of new connections for the outage's length, which
 * went unanswered (QA-135 F1: 17 of 30), while status said it got none. When every backend
 * left would be on such nodes, they all stay (as Envoy's panic threshold, or kube-proxy's
 * fallback to terminating endpoints): the switch may still forward what vnetd cannot reach it
 * to change, and a VIP that refuses everything is worse than one whose connections may be lost.
 */
export function outOnDownSwitches(backends: LbBackendModel[], nodeDown: (node: string) => boolean): LbBackendModel[] {
  const down = (b: LbBackendModel) => b.node !== undefined && nodeDown(b.node);
  if (!backends.some((b) => b.healthy && down(b))) return backends;
  if (!backends.some((b) => b.healthy && b.weight > 0 && !down(b))) return backends;
  return backends.map((b) => (b.healthy && down(b) ? { ...b, healthy: false } : b));
}

/**
 * Backends bound to a cordoned node (spec.unschedulable) are drained, as a weight of 0 drains
 * one: no new connections, their established ones go on (conntrack keeps what it dealt), so
 * that the hypervisor empties before its maintenance. Only while another backend takes
 * connections: with every backend left on cordoned nodes, they all keep theirs, as kube-proxy
 * keeps serving from a cordoned node's pods (cordoning evicts nothing).
 */
export function drainedOnCordonedNodes(backends: LbBackendModel[], cordoned: (node: string) => boolean): LbBackendModel[] {
  const on = (b: LbBackendModel) => b.node !== undefined && cordoned(b.node);
  if (!backends.some((b) => b.healthy && b.weight > 0 && on(b))) return backends;
  if (!backends.some((b) => b.healthy && b.weight > 0 && !on(b))) return backends;
  return backends.map((b) => (b.weight > 0 && on(b) ? { ...b, weight: 0 } : b));
}
