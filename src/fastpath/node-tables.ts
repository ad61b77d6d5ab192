/**
 * What a node's fast path must hold, resolved to this host: interface names, the
 * next-hop MAC of every remote VTEP, the local VTEP's MAC. Plain data, built by the
 * layer above from the pipeline's plan (src/pipeline/fastpath-plan.ts) and the OVS
 * session; NodeRunner applies it. Also the pure parts of applying: the native table
 * contents and the XDP filter keys each interface needs.
 */
import { Encap, NO_BACKEND, PORT_CONNTRACK, VIP_CLIENT_IP, VIP_CONNTRACK } from './types';
import { isIPv4, isIPv6 } from 'node:net';
import { Address4, Address6 } from 'ip-address';

export interface NodeTablesPort {
  /** Fast-path port id (the ofport of the VM NIC on br-int). */
  id: number;
  ifname: string;
  network: number;
  mac: string;
  portSecurity: boolean;
  sources: ReadonlyArray<{ mac: string; ip: string }>;
  /**
   * In a network with load balancers, its ordinary traffic must cross OVS's conntrack (it may
   * carry a backend's replies to connections OVS dispatched): only its VIP connections are
   * taken (src/pipeline/fastpath-plan.ts, conntrackOnly).
   */
  slowOnly?: boolean;
}

export type NodeTablesDestination = { kind: 'local'; port: number } | { kind: 'remote'; vtep: number; vni: number };

export interface NodeTables {
  localVtep: { ip: string; mac: string };
  /** The underlay NIC frames to and from remote VTEPs cross. */
  underlay: { ifname: string };
  ports: NodeTablesPort[];
  /** encap: the network's; a tunnel frame of the other one carrying its VNI is refused (absent: either). */
  vnis: Array<{ vni: number; network: number; encap?: 'vxlan' | 'geneve' }>;
  vteps: Array<{ id: number; ip: string; mac: string; encap: 'vxlan' | 'geneve' }>;
  macs: Array<{ network: number; mac: string; to: NodeTablesDestination }>;
  vips: NodeTablesVip[];
  /**
   * One per network with load balancers (OVS runs their IP through its conntrack; absent: none):
   * its load balancers' VIP and backend addresses, which its ports whose ordinary traffic is
   * the fast path's leave to OVS (src/pipeline/fastpath-plan.ts FastPathLbGuard).
   */
  lbGuards?: ReadonlyArray<{ network: number; vips: readonly string[]; backends: readonly string[] }>;
}

/**
 * A VIP listener of a network (only that network's ports meet it: tenants may use the same
 * address). IPv4 with every weighted backend's `mac`, it is a conntrack VIP: the fast path
 * takes its connections from their first packet (see native/src/conn.h); else it is only in
 * the tables. Weight 0: an unhealthy backend that keeps the connections it has and gets no
 * new ones (OVS's semantics).
 */
export interface NodeTablesVip {
  network: number;
  /** The load balancer's uid: its connection counts are its own (VipCountBase). */
  lb?: string;
  proto: 'TCP' | 'UDP';
  vip: string;
  port: number;
  affinity?: 'None' | 'ClientIP';
  backends: Array<{ ip: string; port: number; weight: number; mac?: string }>;
  /** OVS's slot table: per slot, an index into `backends` (-1: none). A conntrack VIP then deals new connections as OVS does. */
  slots?: readonly number[];
}

/** The underlay's fast-path port id: OVS never numbers a port 0. */
export const UNDERLAY_PORT = 0;

/**
 * The runner's filter maps (native/src/runner.c MAPS; the program's vfp_conn is the runner's
 * own). Dst and VipAddr are the node's (every VM NIC's program takes them, by network: keys
 * go to NODE_FILTERS); Net is a VM NIC's network tag and own MAC (its vfp_cfg), which picks
 * its network's keys there.
 */
export enum FilterMap { Dst = 0, Src = 1, Inner = 2, Vip = 3, Src6 = 4, Target = 5, LbNet = 6, VipAddr = 7, Net = 8 }
/** interfaceFilters' entry for the node's own maps (no interface has this name: IFNAMSIZ is 16). */
export const NODE_FILTERS = '(node)';

const MAC = /^[0-9a-fA-F]{2}(?::[0-9a-fA-F]{2}){5}$/;
/**
 * Every apply turns each MAC and address of the node's tables into keys again (thousands at
 * a thousand ports, on the event loop): each text's hex is remembered. Bounded: cleared when
 * full.
 */
const macHexes = new Map<string, string>();
const ipv4Hexes = new Map<string, string>();
const CACHED = 1 << 16;
function remember(cache: Map<string, string>, text: string, hex: string): string {
  if (cache.size >= CACHED) cache.clear();
  cache.set(text, hex);
  return hex;
}

/** A MAC's 6 bytes as lower-case hex. */
function macHex(mac: string): string {
  const hex = macHexes.get(mac);
  if (hex !== undefined) return hex;
  if (!MAC.test(mac)) throw new RangeError(`bad MAC ${mac}`);
  return remember(macHexes, mac, mac.replace(/:/g, '').toLowerCase());
}

export function macBytes(mac: string): Uint8Array {
  return Buffer.from(macHex(mac), 'hex');
}

export function ipv4Number(ip: string): number {
  const parts = ip.split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) throw new RangeError(`bad IPv4 address ${ip}`);
  return ((parts[0]! << 24) | (parts[1]! << 16) | (parts[2]! << 8) | parts[3]!) >>> 0;
}

/** Big-endian (network order) hex of an unsigned value of `bytes` bytes; a RangeError when it does not fit. */
function be(n: number, bytes: number): string {
  if (bytes < 4 && !(Number.isInteger(n) && n >= 0 && n < 2 ** (8 * bytes))) throw new RangeError(`${n} does not fit ${bytes} byte(s)`);
  return (n >>> 0).toString(16).padStart(bytes * 2, '0');
}
/** Little-endian (host order here) hex of a 32-bit value. */
function le32(n: number): string {
  const h = be(n, 4);
  return h.slice(6, 8) + h.slice(4, 6) + h.slice(2, 4) + h.slice(0, 2);
}
/** An IPv4 address's 4 bytes in network order, as hex. */
function ipv4Hex(ip: string): string {
  return ipv4Hexes.get(ip) ?? remember(ipv4Hexes, ip, be(ipv4Number(ip), 4));
}

/** IPv4 as the 16-byte IPv4-mapped form the native VIP table keys on. */
export function mappedIPv4(ip: string): Uint8Array {
  const out = new Uint8Array(16);
  out[10] = 0xff;
  out[11] = 0xff;
  const n = ipv4Number(ip);
  out.set([n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff], 12);
  return out;
}

/**
 * Filter keys as hex strings (for diffing); keyBytes turns them back into map keys.
 * struct vfp_dst_key of bpf/xdp_redirect.c: network tag (host order, as the program takes it
 * from vfp_cfg), MAC, 2 pad bytes. netKey has the same layout: a VM NIC's tag and own MAC.
 */
export function dstKey(network: number, mac: string): string {
  return le32(network) + macHex(mac) + '0000';
}
export const netKey = dstKey;
/**
 * struct vfp_src_key of bpf/xdp_redirect.c: MAC, kind (u16, host order), IPv4. conn: the
 * VFP_SRC_CONN key, a source the port's VIP connections may come from (the tables deliver its
 * MAC to the port, so the connection's replies reach it).
 */
export function srcKey(mac: string, ip: string, conn = false): string {
  return macHex(mac) + (conn ? '0100' : '0000') + ipv4Hex(ip);
}
/** struct vfp_src6_key of bpf/xdp_redirect.c: MAC, 2 pad bytes, IPv6 address. */
export function src6Key(mac: string, ip: string): string {
  const b = Buffer.alloc(24);
  b.set(macBytes(mac), 0);
  let v = new Address6(ip).bigInt();
  for (let i = 23; i >= 8; i--, v >>= 8n) b[i] = Number(v & 0xffn);
  return b.toString('hex');
}
/** struct vfp_vipaddr_key of bpf/xdp_redirect.c: network tag (host order), IPv4 VIP address (network order). */
export function vipAddrKey(network: number, vip: string): string {
  return le32(network) + ipv4Hex(vip);
}
/** VFP_LBNET_IPV6 of bpf/xdp_redirect.c: with it, the VNI's key says its network's IPv6 is OVS's. */
export const LBNET_IPV6 = 0x80000000;
/** vfp_lbnet key of bpf/xdp_redirect.c: a load-balanced network's VNI (host order), with LBNET_IPV6 or not. */
export function lbNetKey(vni: number, ipv6 = false): string {
  return le32(ipv6 ? vni | LBNET_IPV6 : vni);
}
/** struct vfp_inner_key: VNI in host order, as the XDP program builds it; MAC; 2 pad bytes. */
export function innerKey(vni: number, mac: string): string {
  return le32(vni) + macHex(mac) + '0000';
}
/** struct vfp_vip_key of bpf/xdp_redirect.c: IPv4 VIP, port (network order), protocol, 1 pad byte. */
export function vipKey(vip: string, port: number, proto: number): string {
  return ipv4Hex(vip) + be(port, 2) + be(proto, 1) + '00';
}
/**
 * struct vfp_target_key of bpf/xdp_redirect.c: a local backend's listener, as a tunnel frame's
 * inner frame addresses it (VNI in host order, as the program builds it; port and address in
 * network order).
 */
export function targetKey(vni: number, mac: string, ip: string, port: number, proto: number): string {
  return le32(vni) + macHex(mac) + be(port, 2) + ipv4Hex(ip) + be(proto, 1) + '000000';
}
const PROTO = { TCP: 6, UDP: 17 } as const;
/** srcKey's address for "any address" (a VIP connection's key of a port without port security). */
const ANY_IPV4 = '0.0.0.0';
/** targetKey's MAC for "any backend's listener", as a UDP datagram's source. */
const ANY_MAC = '00:00:00:00:00:00';
export const keyBytes = (hex: string): Buffer => Buffer.from(hex, 'hex');


/** A VIP the classifier handles as a conntrack VIP (its connections' packets, once taken). */
const conntrackCapable = (v: NodeTablesVip): boolean => isIPv4(v.vip);

/**
 * Whether the fast path takes v's new connections (its key is in the VM NICs' filters: TCP SYNs,
 * UDP datagrams without a flow): an IPv4 VIP in a known network, and every
 * backend that gets new connections reachable by the tables (a MAC entry in the network),
 * since a SYN it cannot deliver would be lost (a frame handed over cannot go back to OVS).
 */
export function isConntrackVip(t: NodeTables, v: NodeTablesVip, macsByNetwork = knownMacs(t), replies = secureSources(t)): boolean {
  if (!conntrackCapable(v)) return false;
  const known = macsByNetwork.get(v.network) ?? new Set<string>();
  const active = v.backends.filter((b) => b.weight > 0);
  return active.length > 0 && active.every((b) => b.mac !== undefined && isIPv4(b.ip) && known.has(b.mac.toLowerCase()) && repliesTaken(replies, v.network, b.mac, b.ip));
}

/**
 * A local backend behind port security answers from an address its NIC's filter lets the
 * fast path take: an exact source of its port. One it holds only by a CIDR pair (a prefix,
 * which the filter's exact keys cannot hold) answers through OVS, which cannot undo a DNAT
 * it never saw: the VIP's connections stay with OVS on this node (QA-122: clients on the
 * backend's node got answers from the backend's address, 25 of 40 failed).
 */
function repliesTaken(r: SecureSources, network: number, mac: string, ip: string): boolean {
  const key = `${network}|${mac.toLowerCase()}`;
  return !r.secured.has(key) || r.exact.has(`${key}|${ip}`);
}

interface SecureSources {
  /** network|mac of local ports with port security (their own MACs and pairs'). */
  secured: Set<string>;
  /** network|mac|ip of their exact IPv4 sources. */
  exact: Set<string>;
}

function secureSources(t: NodeTables): SecureSources {
  const r: SecureSources = { secured: new Set(), exact: new Set() };
  for (const p of t.ports) {
    if (!p.portSecurity) continue;
    r.secured.add(`${p.network}|${p.mac.toLowerCase()}`);
    for (const src of p.sources) {
      const key = `${p.network}|${src.mac.toLowerCase()}`;
      r.secured.add(key);
      if (isIPv4(src.ip)) r.exact.add(`${key}|${src.ip}`);
    }
  }
  return r;
}

/** The MACs the tables deliver, by network (lower case). */
function knownMacs(t: NodeTables): Map<number, Set<string>> {
  const out = new Map<number, Set<string>>();
  for (const m of t.macs) {
    let s = out.get(m.network);
    if (!s) out.set(m.network, (s = new Set()));
    s.add(m.mac.toLowerCase());
  }
  return out;
}

export interface InterfaceFilters {
  ifname: string;
  /** map -> keys */
  keys: Map<FilterMap, Set<string>>;
}

/**
 * The frames each interface's XDP program hands to the fast path. A VM NIC: unicast to
 * another MAC of its network that the tables deliver (local port or resolved VTEP),
 * and with port security only from its (MAC, IPv4) and (MAC, IPv6) pairs (IPv6: not
 * neighbour discovery, which OVS answers and checks). The underlay: tunnel frames
 * whose (VNI, inner destination MAC) is a local port, except, in a network with load
 * balancers, IPv4 frames from a backend's address (any protocol and port): they may be
 * replies to connections OVS dispatched, which OVS must un-DNAT here. A load-balanced network
 * with an IPv6 address among its VIPs and backends (the fast path deals IPv4 VIPs only) leaves
 * all its IPv6 to OVS: no IPv6 source pairs at its VM NICs, and its LbNet key with LBNET_IPV6
 * at the underlay. Everything else goes on to OVS.
 */
export function interfaceFilters(t: NodeTables, settling: ReadonlySet<number> = new Set()): InterfaceFilters[] {
  const out: InterfaceFilters[] = [];
  // A network that only just became load-balanced: its VIPs' SYNs stay with OVS a while (NodeRunner, VIP_SETTLE_MS).
  const macs = knownMacs(t);
  const replies = secureSources(t);
  const ctVips = new Map<number, NodeTablesVip[]>();
  for (const v of t.vips) {
    if (!isConntrackVip(t, v, macs, replies) || settling.has(v.network)) continue;
    const l = ctVips.get(v.network);
    if (l) l.push(v);
    else ctVips.set(v.network, [v]);
  }
  const guards = new Map((t.lbGuards ?? []).map((g) => [g.network, g]));
  const ipv6Guarded = new Set([...guards.values()].filter((g) => [...g.vips, ...g.backends].some(isIPv6)).map((g) => g.network));
  // The node's maps: each network with a port whose ordinary traffic is the fast path's.
  const tagged = new Set(t.ports.filter((p) => !p.slowOnly).map((p) => p.network));
  const dst = new Set<string>();
  const vipAddrs = new Set<string>();
  for (const m of t.macs) if (tagged.has(m.network)) dst.add(dstKey(m.network, m.mac));
  // A frame to a VIP address by a port's MAC (a router's) is OVS's, unless a connection's own keys take it.
  for (const n of tagged) for (const vip of guards.get(n)?.vips ?? []) if (isIPv4(vip)) vipAddrs.add(vipAddrKey(n, vip));
  out.push({ ifname: NODE_FILTERS, keys: new Map([[FilterMap.Dst, dst], [FilterMap.VipAddr, vipAddrs]]) });
  // The MACs the tables deliver to each local port: its own and the pair MACs it alone declares.
  const macsTo = new Map<number, Set<string>>();
  for (const m of t.macs) {
    if (m.to.kind !== 'local') continue;
    let s = macsTo.get(m.to.port);
    if (!s) macsTo.set(m.to.port, (s = new Set()));
    s.add(m.mac.toLowerCase());
  }
  // Networks whose VIPs the classifier may hold connections of (settling or not: a restart's
  // adopted connections need their sources' keys at once); only their ports get VIP-connection keys.
  const connNets = new Set(t.vips.filter(conntrackCapable).map((v) => v.network));
  for (const p of t.ports) {
    // Its network's keys of the node's maps apply to it (not its own MAC); none on a slowOnly port.
    const net = new Set(p.slowOnly ? [] : [netKey(p.network, p.mac)]);
    // Source pairs gate whatever the other keys let in (on a slowOnly port: only VIP connections).
    // VIP connections (their own keys, VFP_SRC_CONN) only from a source whose MAC the tables
    // deliver to this port: the fast path switches a connection's replies by the client's MAC,
    // and a pair MAC several ports share (VRRP) has no one place in its tables, so the replies
    // of a connection it dealt from one were all lost (QA-122 F7). Those stay with OVS, which
    // delivers to every holder; the source's other traffic stays here (its replies go to OVS).
    // A port without port security may send from any MAC and address: from each MAC delivered
    // to it, any address (0.0.0.0); from any other MAC (a nested VM's, a macvlan's), OVS's, which
    // floods the replies to a MAC it does not know.
    const src = new Set<string>();
    const mine = connNets.has(p.network) ? (macsTo.get(p.id) ?? new Set<string>()) : new Set<string>();
    for (const s of p.portSecurity ? p.sources : []) {
      if (!isIPv4(s.ip)) continue;
      src.add(srcKey(s.mac, s.ip));
      if (mine.has(s.mac.toLowerCase())) src.add(srcKey(s.mac, s.ip, true));
    }
    if (!p.portSecurity) for (const m of mine) src.add(srcKey(m, ANY_IPV4, true));
    const src6 = new Set(p.portSecurity && !ipv6Guarded.has(p.network) ? p.sources.filter((s) => isIPv6(s.ip)).map((s) => src6Key(s.mac, s.ip)) : []);
    // SYNs to the network's conntrack VIPs (the connections' own keys come from the runner),
    // but not to a VIP the port is a backend of: a connection dealt to its own client is a
    // hairpin, which OVS SNATs to the VIP and the fast path cannot (its SYN, once handed
    // over, could not go back), so a backend's connections to its own VIP all stay with OVS.
    // Its own addresses and pairs, a CIDR pair covering a backend too (QA-113 F3).
    const ownIps = new Set(p.sources.map((s) => s.ip));
    const prefixes = p.sources.filter((s) => s.ip.includes('/'));
    const holds = (ip: string) => ownIps.has(ip) || prefixes.some((s) => inPrefix(ip, s.ip));
    const vips = new Set((ctVips.get(p.network) ?? []).filter((v) => !v.backends.some((b) => holds(b.ip))).map((v) => vipKey(v.vip, v.port, PROTO[v.proto])));
    out.push({ ifname: p.ifname, keys: new Map([[FilterMap.Net, net], [FilterMap.Src, src], [FilterMap.Src6, src6], [FilterMap.Vip, vips]]) });
  }
  const vniOf = new Map(t.vnis.map((v) => [v.network, v.vni]));
  const slowPorts = new Set(t.ports.filter((p) => p.slowOnly).map((p) => p.id));
  const inner = new Set<string>();
  for (const m of t.macs) {
    const vni = vniOf.get(m.network);
    if (m.to.kind === 'local' && vni !== undefined && !slowPorts.has(m.to.port)) inner.add(innerKey(vni, m.mac));
  }
  // Load-balanced networks: their tunnel frames to a local port are checked against the
  // backends' addresses below before they are taken (and IPv6 ones are not taken, LBNET_IPV6).
  const lbNets = new Set<string>();
  for (const n of guards.keys()) {
    const vni = vniOf.get(n);
    if (vni === undefined) continue;
    lbNets.add(lbNetKey(vni));
    if (ipv6Guarded.has(n)) lbNets.add(lbNetKey(vni, true));
  }
  // Listeners of the local backends of those networks: a remote client's connection, DNATed by
  // its node, is taken from its first packet off the tunnel and switched as it is
  // (native/src/conn.h, passthrough). Whether this node deals the VIP's own connections
  // (settling, backends it cannot reach) does not matter: here they are only switched.
  // Every backend's UDP listener also with a zero MAC: a datagram from one is not taken as a
  // passthrough flow (it may be the reply to a flow this node's OVS dealt, which OVS must
  // un-DNAT); and every backend's address (port and protocol 0), of every load balancer of the
  // network (lbGuards: SCTP listeners' too): toward a port whose ordinary
  // traffic is the fast path's, nothing from it is taken (whatever its port: a connection OVS
  // dealt keeps its target port when the listener's changes; an ICMP error OVS relates to it).
  // Every MAC the tables deliver to such a port: its own and a pair MAC it alone declares (a backend at a pair address).
  const slowPortMacs = new Set(t.macs.flatMap((m) => (m.to.kind === 'local' && slowPorts.has(m.to.port) ? [`${m.network}/${m.mac.toLowerCase()}`] : [])));
  const targets = new Set<string>();
  for (const g of guards.values()) {
    const vni = vniOf.get(g.network);
    if (vni !== undefined) for (const ip of g.backends.filter(isIPv4)) targets.add(targetKey(vni, ANY_MAC, ip, 0, 0));
  }
  for (const v of t.vips) {
    const vni = vniOf.get(v.network);
    if (vni === undefined || !conntrackCapable(v)) continue;
    for (const b of v.backends) {
      if (!isIPv4(b.ip)) continue;
      if (v.proto === 'UDP') targets.add(targetKey(vni, ANY_MAC, b.ip, b.port, PROTO.UDP));
      if (b.mac && slowPortMacs.has(`${v.network}/${b.mac.toLowerCase()}`)) targets.add(targetKey(vni, b.mac, b.ip, b.port, PROTO[v.proto]));
    }
  }
  out.push({ ifname: t.underlay.ifname, keys: new Map([[FilterMap.Inner, inner], [FilterMap.Target, targets], [FilterMap.LbNet, lbNets]]) });
  return out;
}

export const encapOf = (e: 'vxlan' | 'geneve'): Encap => (e === 'geneve' ? Encap.Geneve : Encap.Vxlan);

/** Stable text of what the native tables hold: equal text, no commit needed. */
export function tablesSignature(t: NodeTables): string {
  return JSON.stringify([t.localVtep, t.underlay, t.ports.map((p) => [p.id, p.network, !!p.slowOnly]), t.vnis, t.vteps, t.macs, t.vips]);
}

/** The native builder calls for t, in one place (the runner and tests share it). */
export interface BuilderLike {
  localVtep(ip: number, mac: Uint8Array): unknown;
  port(port: number, network: number, flags?: number): unknown;
  vni(vni: number, network: number, encap?: Encap): unknown;
  vtep(v: { id: number; ip: number; nextHopMac: Uint8Array; encap: Encap }): unknown;
  localMac(network: number, mac: Uint8Array, port: number): unknown;
  remoteMac(network: number, mac: Uint8Array, vtepId: number, vni: number): unknown;
  vip(v: { network: number; proto: number; addr: Uint8Array; port: number; flags?: number; backends: Array<{ id: number; addr: Uint8Array; port: number; weight: number; mac?: Uint8Array }>; slots?: readonly number[] }): unknown;
}

export function fillBuilder(b: BuilderLike, t: NodeTables, underlayFlag: number): void {
  b.localVtep(ipv4Number(t.localVtep.ip), macBytes(t.localVtep.mac));
  b.port(UNDERLAY_PORT, 0, underlayFlag);
  for (const p of t.ports) b.port(p.id, p.network, p.slowOnly ? PORT_CONNTRACK : 0);
  for (const v of t.vnis) b.vni(v.vni, v.network, v.encap === undefined ? undefined : encapOf(v.encap));
  for (const v of t.vteps) b.vtep({ id: v.id, ip: ipv4Number(v.ip), nextHopMac: macBytes(v.mac), encap: encapOf(v.encap) });
  for (const m of t.macs) {
    if (m.to.kind === 'local') b.localMac(m.network, macBytes(m.mac), m.to.port);
    else b.remoteMac(m.network, macBytes(m.mac), m.to.vtep, m.to.vni);
  }
  for (const v of t.vips) {
    // Conntrack handling does not depend on the SYN key: connections the fast path holds keep
    // going while new ones are left to OVS (a backend's MAC not in the tables for a moment).
    const ct = conntrackCapable(v);
    const flags = (ct ? VIP_CONNTRACK : 0) | (v.affinity === 'ClientIP' ? VIP_CLIENT_IP : 0);
    // Backend ids are their addresses: stable across changes of the list, so a connection in
    // the LRU keeps its backend while that backend stays (IPs are unique within a VIP).
    const backends = v.backends.filter((x) => isIPv4(x.ip)).map((x) => ({ id: ipv4Number(x.ip), addr: mappedIPv4(x.ip), port: x.port, weight: x.weight, ...(ct && x.mac ? { mac: macBytes(x.mac) } : {}) }));
    const slots = ct && v.slots ? v.slots.map((i) => (i >= 0 && v.backends[i] && isIPv4(v.backends[i]!.ip) ? ipv4Number(v.backends[i]!.ip) : NO_BACKEND)) : undefined;
    b.vip({ network: v.network, proto: PROTO[v.proto], addr: mappedIPv4(v.vip), port: v.port, backends, flags, ...(slots ? { slots } : {}) });
  }
}

/** Whether ip is in prefix (an address/length of the same family). */
function inPrefix(ip: string, prefix: string): boolean {
  try {
    return isIPv4(ip) ? new Address4(ip).isInSubnet(new Address4(prefix)) : new Address6(ip).isInSubnet(new Address6(prefix));
  } catch {
    return false;
  }
}
