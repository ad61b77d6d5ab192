/**
 * The logical half of `vnetctl trace`: a packet's path worked out from the API objects
 * alone (network, port security, ARP/L2, load balancer, local port or tunnel), with, for
 * every place the packet can end, what OVS should do there, so the OVS half can compare.
 */
import { ON_UNDERLAY } from '../../chassis/binding';
import { canonicalIfIp, familyName, formatIp, tryParseIp, type IpFamily } from '../../ipam/address';
import { cidrContains, coversAddress, defaultGateway, tryParseCidr } from '../../ipam/subnet';
import { lbTableSize } from '../../pipeline/load-balancer';
import { linkLocalOf } from '../../pipeline/port-security-v6';
import { loadBalancerMac } from '../../pipeline/owners';
import { SHARED_PAIR_MAC_MAX_HOLDERS } from '../../pipeline/compiler';
import type { HypervisorNode, LoadBalancer, VirtualNetwork, VirtualPort } from '../../resources/kinds';
import { parseMac } from '../../ipam/mac-allocator';
import { UsageError } from '../errors';

export type Proto = 'tcp' | 'udp' | 'sctp' | 'icmp';

export interface Target {
  ip: string;
  port?: number;
}

const TO_FORMS = 'an IPv4 address, optionally with :PORT (10.0.0.5, 10.0.0.5:80), or an IPv6 address, with a port in brackets (fd00::5, [fd00::5]:80)';

/** --to: IPv4 `A.B.C.D[:PORT]`, IPv6 `ADDR` or `[ADDR][:PORT]` (as URLs write them); the address canonical. */
export function parseTarget(text: string): Target {
  const bracketed = /^\[([^\]]*)\](?::([^:]*))?$/.exec(text);
  const parts = text.split(':');
  const [addrText, portText] = bracketed ? [bracketed[1]!, bracketed[2]] : parts.length > 2 ? [text, undefined] : [parts[0]!, parts[1]];
  const addr = tryParseIp(addrText);
  // An IPv4 address goes without brackets; an IPv6 one takes a port only inside them.
  if (!addr || (bracketed && addr.family === 4) || (portText !== undefined && !/^\d{1,5}$/.test(portText))) throw new UsageError(`--to "${text}": expected ${TO_FORMS}`);
  const ip = formatIp(addr.family, addr.value);
  // One unicast packet is traced: a group has no one path, and a mapped address is IPv4's.
  if (addr.family === 6 ? addr.value >> 120n === 0xffn : addr.value >> 28n === 0xen) throw new UsageError(`--to "${text}": ${ip} is a multicast address; trace follows one unicast packet`);
  if (addr.family === 6 && addr.value >> 32n === 0xffffn) throw new UsageError(`--to "${text}": ${ip} is an IPv4-mapped address; trace the IPv4 address itself (${formatIp(4, addr.value & 0xffffffffn)})`);
  if (portText === undefined) return { ip };
  const port = Number(portText);
  if (!(port >= 1 && port <= 65535)) throw new UsageError(`--to "${text}": port ${port} is outside 1-65535`);
  return { ip, port };
}

/** An address with a port as URLs write them: 10.0.0.5:80, [fd00::5]:80; the address alone without a port. */
export const hostPort = (ip: string, port?: number): string => (port === undefined ? ip : familyOf(ip) === 6 ? `[${ip}]:${port}` : `${ip}:${port}`);
export const targetText = (t: Target): string => hostPort(t.ip, t.port);

export const familyOf = (ip: string): IpFamily => (ip.includes(':') ? 6 : 4);
const hasIp = (ips: readonly string[], ip: string): boolean => ips.some((x) => canonicalIfIp(x) === ip);

/** The port's address of a family (its first), the source of a packet to an address of that family. */
export const sourceIp = (p: VirtualPort, family: IpFamily): string | undefined => ipsOf(p).find((a) => familyOf(a) === family);

/** fe80::/10: on the link, whatever the subnets; every port has the EUI-64 one of its MAC. */
const isLinkLocal = (ip: string): boolean => familyOf(ip) === 6 && (tryParseIp(ip)!.value >> 118n) === 0x3fan;
const linkLocalOfPort = (p: VirtualPort): string | undefined => {
  const mac = macOf(p);
  try {
    return mac ? linkLocalOf(mac) : undefined;
  } catch {
    return undefined;
  }
};

/** --src-ip: the traced packet's source address, canonical (port security decides what becomes of it). */
export function parseSrcIp(text: string): string {
  const addr = tryParseIp(text);
  if (!addr) throw new UsageError(`--src-ip "${text}": expected an IPv4 or IPv6 address (no port, no prefix)`);
  return formatIp(addr.family, addr.value);
}

/** --src-mac: the traced packet's source MAC, canonical; a unicast one, as a NIC sends from. */
export function parseSrcMac(text: string): string {
  try {
    return parseMac(text);
  } catch (e) {
    throw new UsageError(`--src-mac "${text}": ${(e as Error).message}`);
  }
}

/** --src-port: the TCP/UDP source port of the traced packet (with the rest, its 5-tuple). */
export function parseSrcPort(text: string): number {
  const port = /^\d{1,5}$/.test(text) ? Number(text) : NaN;
  if (!(port >= 1 && port <= 65535)) throw new UsageError(`--src-port "${text}": expected a port number from 1 to 65535`);
  return port;
}

/** Where the logical model says a packet ends on the source node's br-int. */
export type Delivery =
  | { kind: 'local'; port: string; ofport?: number }
  | { kind: 'tunnel'; port: string; node: string; vtep?: string }
  | { kind: 'drop'; why: string }
  /** To a MAC no switch knows (its port bound nowhere): unknown unicast (dropped, or sent toward ports without port security), and no VM takes it. */
  | { kind: 'flood'; port: string; why: string }
  /** Delivered to the port's NIC, whose MAC is not the port's: the VM drops it. */
  | { kind: 'refused'; port: string; why: string; inner: Delivery };

/** One backend the VIP can send a new connection to. */
export interface LbChoice {
  /** The backend as the spec names it (port name or IP). */
  backend: string;
  ip?: string;
  targetPort: number;
  weight: number;
  delivery: Delivery;
}

export interface LogicalLb {
  name: string;
  vip: string;
  port: number;
  proto: Proto;
  /** Backends that get new connections (healthy, weight > 0, one per address), in spec order. */
  choices: LbChoice[];
  /** Backends left out because the status reports them failing their health checks. */
  unhealthy: string[];
  /** Backends left out because the status reports them on no node (their port not bound). */
  unbound: string[];
  /** The addresses of the unhealthy and unbound ones (what OVS's LbDnat flows would DNAT to). */
  unhealthyIps: string[];
  /** Backends left out because no port of the network has them (yet), or not in the VIP's family (the status says so too). */
  unresolved: string[];
  /** Backends left out because their weight is 0 (they get no new connections). */
  weightZero: string[];
  /** What picks the backend: the connection's 5-tuple, or the client address (sessionAffinity ClientIP). */
  hashOf: '5-tuple' | 'client address';
  /** Slots of its table (LbSlot flows), by the spec's backends as the pipeline counts them. */
  slotCount: number;
  /** The network's VNI (OVS's flows of this VIP match it). */
  vni?: number;
}

/** What the logical model says; `deliver` is false for a drop. */
export interface LogicalPath {
  lines: string[];
  /** The packet's source address (of the destination's family; link-local to a link-local one). */
  src?: string;
  deliver: boolean;
  /** For the OVS trace: destination MAC the VM would use. */
  dstMac?: string;
  /** For the OVS trace: the source MAC the VM's NIC really has, when it is not the port's. */
  srcMac?: string;
  /** The end of a plain (non-VIP) path, to compare with OVS's output. */
  delivery?: Delivery;
  /** A packet not delivered but answered: what the sender gets back (a VIP port without a listener or a usable backend). */
  refused?: string;
  /** Set when the packet goes to a load balancer's VIP and a listener takes it. */
  lb?: LogicalLb;
}

export interface TraceInput {
  from: VirtualPort;
  network?: VirtualNetwork;
  ports: VirtualPort[];
  lbs: LoadBalancer[];
  nodes: HypervisorNode[];
  /** This token may not read Nodes (a tenant's): nodes is empty, and no VTEP is known. */
  nodesForbidden?: boolean;
  to: Target;
  proto: Proto;
  /** --src-ip / --src-mac: the packet's source, if not the port's own (what port security makes of it). */
  srcIp?: string;
  srcMac?: string;
}

export const ipsOf = (p: VirtualPort): string[] => p.status?.ips ?? p.spec?.ips ?? [];
export const macOf = (p: VirtualPort): string | undefined => p.status?.mac ?? p.spec?.mac;
const boundCondition = (p: VirtualPort) => p.status?.conditions?.find((c) => c.type === 'Bound');
/**
 * The node a port is bound to: its status's, unless its Bound condition says otherwise. A
 * port only pinned (spec.node), or bound nowhere now, is on no node (QA: a port pinned to a
 * node that does not exist was traced as tunnelled there, and OVS blamed for flooding).
 */
export const nodeOf = (p: VirtualPort): string | undefined => {
  const bound = boundCondition(p);
  return bound && bound.status !== 'True' ? undefined : p.status?.node;
};
/** Why a port is on no node, from its Bound condition. */
const notBoundWhy = (p: VirtualPort): string => {
  const bound = boundCondition(p);
  return bound && bound.status !== 'True' ? `Bound=${bound.status} ${bound.reason}${bound.message ? `: ${bound.message}` : ''}` : p.spec?.node ? `pinned to node ${p.spec.node}, not bound there yet` : 'not bound to a node yet';
};
/**
 * Where unicast to a MAC no switch knows goes in a network (pipeline compiler.ts
 * unknownUnicastFlows): only toward its bound ports without port security, nowhere without one.
 */
function unknownUnicastFate(input: TraceInput, netName: string | undefined): string {
  // Never back out of the port it came in on: the sender is no taker of its own frames.
  const takers = input.ports.filter((p) => p.spec?.network === netName && p.spec?.portSecurity === false && nodeOf(p) !== undefined && p.metadata.name !== input.from.metadata.name);
  if (!takers.length) return 'dropped, as no other bound port of the network is without port security (table L2Lookup)';
  const shown = takers.slice(0, 5).map((p) => `${p.metadata.name} on ${nodeOf(p)}`).join(', ');
  return `sent only to its ports without port security (${shown}${takers.length > 5 ? `, ${takers.length - 5} more` : ''}) (tables L2Lookup, FloodChunk)`;
}

/** The MAC its VM's NIC really has, when it is not the port's (Bound reason MacMismatch). */
export const nicMacOf = (p: VirtualPort): string | undefined => {
  const bound = boundCondition(p);
  return bound?.reason === 'MacMismatch' ? /\bis ([0-9a-f]{2}(?::[0-9a-f]{2}){5}), not the port's\b/i.exec(bound.message ?? '')?.[1]?.toLowerCase() : undefined;
};
const vipOf = (lb: LoadBalancer) => lb.status?.vip ?? lb.spec?.vip;

function inNetwork(net: VirtualNetwork | undefined, ip: string): boolean {
  const a = tryParseIp(ip);
  return !!a && (net?.spec?.subnets ?? []).some((s) => {
    const c = tryParseCidr(s.cidr);
    return !!c && c.family === a.family && cidrContains(c, a);
  });
}

/** Delivery to a port: local output or a tunnel to its node's VTEP. */
function deliveryTo(input: TraceInput, dst: VirtualPort): Delivery {
  const here = nodeOf(input.from);
  const there = nodeOf(dst);
  if (!there) return { kind: 'flood', port: dst.metadata.name, why: notBoundWhy(dst) };
  const inner: Delivery = there === here ? { kind: 'local', port: dst.metadata.name, ofport: dst.status?.ofport } : { kind: 'tunnel', port: dst.metadata.name, node: there, vtep: input.nodes.find((n) => n.metadata.name === there)?.spec?.tunnelIP };
  const nicMac = nicMacOf(dst);
  if (nicMac) return { kind: 'refused', port: dst.metadata.name, why: `its VM's NIC has MAC ${nicMac}, not the port's ${macOf(dst) ?? '?'} (Bound MacMismatch)`, inner };
  // The switch outputs it; a NIC whose link is down takes nothing (chassis/binding.ts LinkDown).
  if (linkDown(dst)) return { kind: 'refused', port: dst.metadata.name, why: "its VM's NIC link is down (Bound LinkDown): the VM is not running, or its NIC is down", inner };
  return inner;
}

/** Bound, to a NIC whose link is down. */
const linkDown = (p: VirtualPort): boolean => boundCondition(p)?.status === 'True' && boundCondition(p)?.reason === 'LinkDown';

/** Whether a VM receives what is sent this way. */
export const reachesVm = (d: Delivery): boolean => d.kind === 'local' || d.kind === 'tunnel';

export function describeDelivery(input: TraceInput, d: Delivery): string {
  switch (d.kind) {
    case 'local':
      return `local port ${d.port} on node ${nodeOf(input.from)}${d.ofport ? ` (ofport ${d.ofport})` : ''}: output (table L2Lookup)`;
    case 'tunnel': {
      const vni = input.network?.status?.vni ?? input.network?.spec?.vni;
      return `port ${d.port} on node ${d.node}: tunnel (${input.network?.spec?.encapsulation ?? 'vxlan'}${vni !== undefined ? `, VNI ${vni}` : ''}) to VTEP ${d.vtep ?? (input.nodesForbidden ? '? (this token may not read Nodes)' : '<unknown node>')} (table L2Lookup)`;
    }
    case 'drop':
      return `${d.why}: no delivery (drop)`;
    case 'flood':
      return `port ${d.port} is on no node (${d.why}): no switch knows its MAC, so the frame is unknown unicast, ${unknownUnicastFate(input, input.from.spec?.network)}, and no VM takes it`;
    case 'refused':
      return `${describeDelivery(input, d.inner)}; but ${d.why}: the VM drops it`;
  }
}

function lbPath(input: TraceInput, lb: LoadBalancer, lines: string[]): LogicalPath {
  const { to, proto } = input;
  const mac = loadBalancerMac(lb);
  const family = familyOf(to.ip);
  lines.push(`${resolution(family)}${to.ip} is the VIP of load balancer ${lb.metadata.name}: ${family === 4 ? 'ARP' : 'the Neighbor Solicitation'} answered on this node with ${mac ?? 'its MAC'} (table ArpResponder)`);
  if (proto === 'icmp' || to.port === undefined) return { lines: [...lines, `lb:       ${proto}${to.port ? '' : ' without a port'} to a VIP matches no listener: drop (table LbNat)`], deliver: false, dstMac: mac };
  const lis = lb.spec!.listeners.find((l) => l.port === to.port && (l.protocol ?? 'TCP').toLowerCase() === proto);
  if (!lis) {
    // Refused as a listener without backends is (QA-152 F9: the trace said "drop", the client saw a RST).
    const refused = refusalText(proto, family);
    return { lines: [...lines, `lb:       ${lb.metadata.name} has no ${proto.toUpperCase()} listener on port ${to.port} (listeners: ${lb.spec!.listeners.map((l) => `${l.port}/${l.protocol ?? 'TCP'}`).join(', ')}): refused: ${refused} (table LbNat, to the controller)`], deliver: false, refused, dstMac: mac };
  }
  const backends = lb.spec?.backends ?? [];
  const health = lb.status?.backends ?? [];
  const reportOf = (b: (typeof backends)[number]) => health.find((h) => h.name === (b.port ?? b.ip));
  const target = lis.targetPort ?? lis.port;
  const choices: LbChoice[] = [];
  const unresolved: string[] = [];
  const unhealthy: string[] = [];
  const unbound: string[] = [];
  const unhealthyIps: string[] = [];
  const weightZero: string[] = [];
  const cordoned: string[] = [];
  for (const b of backends) {
    // As the pipeline resolves them: a port by name (its address of the VIP's family), an IP by the port that owns it.
    // An IP a port owns through an allowed address pair counts too (lb-backends.ts).
    const ofNet = input.ports.filter((x) => x.spec?.network === lb.spec?.network);
    const ownedIp = b.ip !== undefined ? canonicalIfIp(b.ip) : undefined;
    const p =
      b.port !== undefined
        ? input.ports.find((x) => x.metadata.name === b.port)
        : ownedIp === undefined
          ? undefined
          : (ofNet.find((x) => hasIp(ipsOf(x), ownedIp)) ?? ofNet.find((x) => hasIp((x.spec?.allowedAddressPairs ?? []).map((a) => a.ip), ownedIp)));
    const ip = b.ip !== undefined ? canonicalIfIp(b.ip) : p ? sourceIp(p, family) : undefined;
    const weight = b.weight ?? 1;
    const report = reportOf(b);
    // Each left out for its own reason (QA-128 F8: a deleted port's backend, which status also
    // reports not healthy, was named "unhealthy"): unresolved first, as status.backends says
    // healthy false, with no address, of one that resolves to nothing.
    if (!p || !ip || (report?.healthy === false && report.ip === '')) unresolved.push(b.port ?? b.ip ?? '?');
    else if (report?.healthy === false) {
      (report.node === '' ? unbound : unhealthy).push(b.port ?? b.ip ?? '?');
      unhealthyIps.push(ip);
    } else if (!(weight > 0)) weightZero.push(b.port ?? ip);
    else if (report?.nodeCordoned) cordoned.push(`${b.port ?? ip} (node ${report.node})`);
    // One backend per address, the first one (activeBackends in the pipeline).
    else if (!choices.some((c) => c.ip === ip)) choices.push({ backend: b.port ?? ip, ip, targetPort: target, weight, delivery: deliveryTo(input, p) });
  }
  const affinity = lb.spec?.sessionAffinity === 'ClientIP';
  const vni = input.network?.status?.vni ?? input.network?.spec?.vni;
  const logicalLb: LogicalLb = { name: lb.metadata.name, vip: to.ip, port: to.port, proto, choices, unhealthy, unbound, unhealthyIps, unresolved, weightZero, hashOf: affinity ? 'client address' : '5-tuple', slotCount: lbTableSize(backends.length, lb.status?.slots), ...(vni !== undefined ? { vni } : {}) };
  const skipped = [
    unhealthy.length ? `left out as unhealthy: ${unhealthy.join(', ')}` : '',
    unbound.length ? `left out as not bound to a node: ${unbound.join(', ')}` : '',
    unresolved.length ? `left out until a port of the network has them: ${unresolved.join(', ')}` : '',
    weightZero.length ? `left out as drained (weight 0): ${weightZero.join(', ')}` : '',
    cordoned.length ? `left out as drained, their node cordoned: ${cordoned.join(', ')}` : '',
  ]
    .filter(Boolean)
    .map((t) => ` (${t})`)
    .join('');
  const label = (c: LbChoice) => `${c.ip && c.ip !== c.backend ? `${c.backend} ${hostPort(c.ip, c.targetPort)}` : hostPort(c.backend, c.targetPort)}${c.weight !== 1 ? ` w${c.weight}` : ''}`;
  const hash = affinity
    ? `the hash of the client address ${input.srcIp ?? sourceIp(input.from, family) ?? '?'} (sessionAffinity ClientIP: all its connections go to one backend while the backends stay the same)`
    : 'the hash of the 5-tuple';
  lines.push(
    choices.length === 0
      ? `lb:       ${lb.metadata.name} ${targetText(to)}/${proto}: no usable backend${skipped}: new connections are refused: ${refusalText(proto, family)} (table LbNat, to the controller)`
      : choices.length === 1
        ? `lb:       ${lb.metadata.name} ${targetText(to)}/${proto}: new connections DNAT to ${label(choices[0]!)}, its only usable backend${skipped} (conntrack; tables LbVip, LbNat, LbSlot, LbDnat)`
        : `lb:       ${lb.metadata.name} ${targetText(to)}/${proto}: new connections DNAT to one of ${choices.length} backends, which one depends on ${hash}: it picks one of ${logicalLb.slotCount} slots, dealt to the backends by weight (rendezvous hashing, balanced); OVS computes the hash, the logical model cannot${skipped}: ${choices.map(label).join(', ')} (conntrack; tables LbVip, LbNat, LbSlot, LbDnat)`,
  );
  const self = input.srcIp ?? sourceIp(input.from, family);
  for (const c of choices) {
    // Hairpin: a backend's own connection dealt to itself is SNATed to the VIP too, whether it
    // comes from the backend's address or another of its port's (load-balancer.ts).
    const fromItself = c.ip !== undefined && self !== undefined && canonicalIfIp(self) === c.ip;
    const fromItsPort = c.delivery.kind === 'local' && c.delivery.port === input.from.metadata.name;
    const snat = `so the connection is also SNATed to the VIP ${to.ip} and goes back out of the port it came in on`;
    const hairpin = fromItself ? ` (hairpin: the source is this backend, ${snat})` : fromItsPort ? ` (hairpin: this backend is an address of the sending port itself, ${snat})` : '';
    lines.push(`          -> ${c.backend}: ${describeDelivery(input, c.delivery)}${hairpin}`);
  }
  return { lines, deliver: choices.some((c) => reachesVm(c.delivery)), ...(choices.length === 0 ? { refused: refusalText(proto, family) } : {}), dstMac: mac, lb: logicalLb };
}

/** What a client gets back from a VIP that refuses its new connection (lb-reject.ts). */
function refusalText(proto: string, family: IpFamily): string {
  return `vnetd answers ${proto === 'tcp' ? 'a TCP RST' : proto === 'sctp' ? 'an SCTP ABORT' : `an ${family === 6 ? 'ICMPv6' : 'ICMP'} port unreachable`} from the VIP`;
}

/** The label of the address-resolution step: ARP for IPv4, neighbor discovery for IPv6. */
const resolution = (family: IpFamily): string => (family === 4 ? 'arp:      ' : 'nd:       ');

/** A port of the network whose allowed address pair (an address, or a CIDR) covers ip. */
function pairHolder(input: TraceInput, netName: string, ip: string): { port: VirtualPort; pair: { ip: string; mac?: string } } | undefined {
  for (const port of input.ports) {
    if (port.spec?.network !== netName) continue;
    for (const pair of port.spec.allowedAddressPairs ?? []) if (coversAddress(pair.ip, ip)) return { port, pair };
  }
  return undefined;
}

/**
 * The ports of the network that declare this MAC (lower-case) as an allowed pair's, other
 * than their own (pipeline/pair-macs.ts): one holder gets the MAC's L2 entry, several share one to all of them.
 */
function pairMacSharers(input: TraceInput, netName: string, mac: string): string[] {
  return input.ports
    .filter((p) => p.spec?.network === netName && (macOf(p) ?? '').toLowerCase() !== mac && (p.spec.allowedAddressPairs ?? []).some((a) => (a.mac ?? '').toLowerCase() === mac))
    .map((p) => p.metadata.name);
}

/**
 * What port security (pipeline/source-matches.ts, port-security-v6.ts) makes of a source MAC
 * and address the port does not send from by default: allowed when they are the port's own
 * (its link-local address for IPv6 too) or an allowed address pair's (an address or a CIDR;
 * the pair's MAC, the port's when it names none).
 */
export function sourceVerdict(port: VirtualPort, mac: string, ip: string): { allowed: boolean; why: string } {
  const own = macOf(port)?.toLowerCase();
  const m = mac.toLowerCase();
  const source = `source ${mac} / ${ip}`;
  const pairList = port.spec?.allowedAddressPairs ?? [];
  if (familyOf(ip) === 6) {
    // IPv6 as port-security-v6.ts has it: none at all from a port without an IPv6 address or
    // pair; the link-local address of each MAC that has one (the port's, a pair's).
    const macs = new Set([...(ipsOf(port).some((a) => familyOf(a) === 6) && own ? [own] : []), ...pairList.filter((a) => familyOf(a.ip.split('/')[0]!) === 6).map((a) => (a.mac ?? own ?? '').toLowerCase())]);
    if (macs.size === 0) return { allowed: false, why: `${source}: the port has no IPv6 address nor IPv6 allowed pair, so port security lets no IPv6 through` };
    if (macs.has(m) && canonicalIfIp(ip) === linkLocalOf(m)) return { allowed: true, why: `${source} are the link-local address of ${m === own ? "the port's MAC" : `its allowed pair's MAC`}` };
  }
  const ownIp = ipsOf(port).some((a) => canonicalIfIp(a) === canonicalIfIp(ip));
  if (m === own && ownIp) return { allowed: true, why: `${source} are the port's own` };
  const pair = pairList.find((a) => (a.mac ?? own)?.toLowerCase() === m && coversAddress(a.ip, ip));
  if (pair) return { allowed: true, why: `${source} match its allowed address pair ${pair.ip}${pair.mac ? ` (${pair.mac})` : ''}` };
  const pairs = pairList.map((a) => `${a.ip}${a.mac ? ` (${a.mac})` : ''}`);
  const why = m !== own && !pairList.some((a) => a.mac?.toLowerCase() === m) ? `MAC ${mac} is not the port's ${own ?? '?'}${pairs.length ? ' nor an allowed pair\'s' : ''}` : `${ip} is neither the port's address (${ipsOf(port).join(', ') || 'none'}) nor covered by an allowed address pair with MAC ${mac}${pairs.length ? ` (${pairs.join(', ')})` : ''}`;
  return { allowed: false, why: `${source}: ${why}` };
}

export function logicalPath(input: TraceInput): LogicalPath {
  const { from, network, to } = input;
  const netName = from.spec?.network ?? '?';
  const lines: string[] = [];
  const family = familyOf(to.ip);
  const linkLocal = isLinkLocal(to.ip);
  const srcIp = input.srcIp ?? (linkLocal ? linkLocalOfPort(from) : sourceIp(from, family));
  lines.push(`from:     port ${from.metadata.name} (${macOf(from) ?? '?'} ${srcIp ?? '?'}) on node ${nodeOf(from) ?? '<unbound>'}, network ${netName}`);
  if (!network) return { lines: [...lines, `network:  ${netName} does not exist: drop`], deliver: false };
  if (!srcIp) return { lines: [...lines, `source:   port ${from.metadata.name} has no ${linkLocal ? 'MAC, so no link-local' : familyName(family)} address (${ipsOf(from).join(', ') || 'none'}): the VM would not send this packet`], deliver: false };
  if (linkLocal && input.srcIp === undefined) lines.push(`source:   ${to.ip} is link-local: the VM sends from its own link-local address ${srcIp} (the EUI-64 one of its MAC, which port security allows)`);
  // Nothing its VM sends is forwarded (QA: verdict "deliver" from a port bound nowhere).
  if (!nodeOf(from)) {
    // Its NIC on the underlay bridge: not cut off, on the hypervisors' own network (QA-131).
    const onUnderlay = boundCondition(from)?.reason === 'WrongBridge' && (boundCondition(from)?.message ?? '').includes(ON_UNDERLAY);
    const what = onUnderlay
      ? "its VM's NIC is on the underlay bridge: what it sends goes onto the hypervisors' own network, not through any tenant network (it reaches their tunnel endpoints: unplug it)"
      : "no switch has flows for its VM's NIC, so nothing it sends is forwarded";
    return { lines: [...lines, `binding:  port ${from.metadata.name} is on no node (${notBoundWhy(from)}): ${what}`], deliver: false, src: srcIp };
  }
  if (!from.status?.ofport) return { lines: [...lines, `binding:  port ${from.metadata.name} is not realized on node ${nodeOf(from)} yet (no ofport): OVS has no flows for it`], deliver: false, src: srcIp };
  if (linkDown(from)) return { lines: [...lines, `binding:  port ${from.metadata.name}'s NIC link is down (Bound LinkDown): its VM sends nothing until the link is up (its flows are in place)`], deliver: false, src: srcIp };
  // A NIC plugged with another MAC than its port's gets port security whatever the spec says (pipeline-model.ts nicMacMismatched).
  const mismatchedNic = nicMacOf(from);
  const ps = from.spec?.portSecurity !== false || mismatchedNic !== undefined;
  // The MAC the packet leaves the VM with: as asked, else its NIC's (MacMismatch), else the port's.
  const nicMac = input.srcMac ?? mismatchedNic;
  if (ps && nicMac && input.srcMac === undefined) {
    const why = from.spec?.portSecurity === false ? 'port security on (its NIC is not the port\'s: spec.portSecurity false does not apply)' : 'port security on';
    return { lines: [...lines, `security: ${why}: its VM's NIC sends from ${nicMac}, not the port's ${macOf(from) ?? '?'} (Bound MacMismatch): dropped (table SpoofGuard)`], deliver: false, src: srcIp, srcMac: nicMac };
  }
  if (ps && (input.srcIp !== undefined || input.srcMac !== undefined)) {
    const verdict = sourceVerdict(from, nicMac ?? macOf(from) ?? '?', srcIp);
    if (!verdict.allowed) {
      // The MAC the VM would address it to, so that OVS's trace of it shows the drop too.
      const lbTo = input.lbs.find((l) => l.spec?.network === netName && vipOf(l) !== undefined && canonicalIfIp(vipOf(l)!) === to.ip);
      const portTo = input.ports.find((p) => p.spec?.network === netName && (linkLocal ? linkLocalOfPort(p) === to.ip : hasIp(ipsOf(p), to.ip)));
      const dstMac = lbTo ? loadBalancerMac(lbTo) : portTo ? macOf(portTo) : undefined;
      return { lines: [...lines, `security: port security on: ${verdict.why}: dropped (table SpoofGuard)`], deliver: false, src: srcIp, ...(nicMac ? { srcMac: nicMac } : {}), ...(dstMac ? { dstMac } : {}) };
    }
    lines.push(`security: port security on: ${verdict.why}: allowed (table SpoofGuard)`);
  } else lines.push(`security: ${ps ? `port security on: source ${macOf(from) ?? '?'} / ${srcIp} are the port's own: allowed (table SpoofGuard)` : 'port security off: any source allowed (table SpoofGuard)'}`);
  const lb = input.lbs.find((l) => l.spec?.network === netName && vipOf(l) !== undefined && canonicalIfIp(vipOf(l)!) === to.ip);
  if (lb) return { ...lbPath(input, lb, lines), src: srcIp, ...(nicMac ? { srcMac: nicMac } : {}) };
  if (!linkLocal && !inNetwork(network, to.ip)) return { lines: [...lines, `route:    ${to.ip} is outside network ${netName}'s subnets (${network.spec!.subnets.map((s) => s.cidr).join(', ')}) and networks have no router: drop`], deliver: false };
  const dst = input.ports.find((p) => p.spec?.network === netName && (linkLocal ? linkLocalOfPort(p) === to.ip : hasIp(ipsOf(p), to.ip)));
  const asked = family === 4 ? 'ARP request flooded' : 'Neighbor Solicitation (to its solicited-node multicast group) flooded';
  if (!dst && !linkLocal) {
    // No port has it as its own address, but one may hold it by an allowed address pair (a
    // VRRP address, a container's): the flooded request reaches that VM, which answers.
    const holder = pairHolder(input, netName, to.ip);
    if (holder && holder.port.metadata.name !== from.metadata.name) {
      const { port, pair } = holder;
      const mac = (pair.mac ?? macOf(port) ?? '?').toLowerCase();
      lines.push(`${resolution(family)}no port of ${netName} has ${to.ip} as its own address: ${asked} to the network's ports and VTEPs (table Flood); port ${port.metadata.name} may answer, its allowed address pair ${pair.ip} covers it${pair.mac ? ` (with MAC ${mac})` : ''}`);
      // A port's own MAC is above every pair's entry (compiler.ts): its frames go to that port.
      const owner = input.ports.find((p) => p.spec?.network === netName && p !== port && (macOf(p) ?? '').toLowerCase() === mac);
      if (owner) {
        const delivery = deliveryTo(input, owner);
        lines.push(`l2:       dst MAC ${mac} is port ${owner.metadata.name}'s own MAC, above the pair's entry: ${describeDelivery(input, delivery)}`);
        return { lines, deliver: reachesVm(delivery), dstMac: mac, delivery, src: srcIp, ...(nicMac ? { srcMac: nicMac } : {}) };
      }
      const sharers = mac !== (macOf(port) ?? '').toLowerCase() ? pairMacSharers(input, netName, mac) : [];
      if (sharers.length > SHARED_PAIR_MAC_MAX_HOLDERS) {
        lines.push(`l2:       dst MAC ${mac} is the allowed pair MAC of ${sharers.length} ports, more than the ${SHARED_PAIR_MAC_MAX_HOLDERS} it is sent to one by one: flooded to the network's ports and VTEPs as broadcast is (table Flood), which port ${port.metadata.name} receives`);
        return { lines, deliver: true, src: srcIp };
      }
      if (sharers.length > 1) {
        lines.push(`l2:       dst MAC ${mac} is the allowed pair MAC of ${sharers.length} ports (${sharers.join(', ')}): sent to each of them, whichever holds it now (table L2Lookup)`);
        // OVS is traced with that MAC (the VM does send it), its path shown; several ends, none compared.
        return { lines, deliver: true, dstMac: mac, src: srcIp, ...(nicMac ? { srcMac: nicMac } : {}) };
      }
      const delivery = deliveryTo(input, port);
      lines.push(`l2:       dst MAC ${mac}${sharers.length ? ` (port ${port.metadata.name}'s allowed pair MAC)` : ''}: ${describeDelivery(input, delivery)}`);
      return { lines, deliver: reachesVm(delivery), dstMac: mac, delivery, src: srcIp, ...(nicMac ? { srcMac: nicMac } : {}) };
    }
  }
  if (!dst) {
    const gateway = gatewayNote(input.network, to.ip);
    return { lines: [...lines, `${resolution(family)}no port of ${netName} has ${to.ip}: ${asked} to the network's ports and VTEPs, no reply expected (table Flood); unicast to it would be unknown unicast, ${unknownUnicastFate(input, netName)}`, ...(gateway ? [gateway] : [])], deliver: false, src: srcIp };
  }
  if (dst.metadata.name === from.metadata.name) return { lines: [...lines, `l2:       ${to.ip} is the port's own address: the packet never leaves the VM`], deliver: false, src: srcIp };
  const delivery = deliveryTo(input, dst);
  // A port on no node has no answer flows anywhere (they come with its binding): the VM asks,
  // nobody answers, and it never sends the packet (QA-130: trace said answered).
  if (delivery.kind === 'flood') {
    lines.push(`${resolution(family)}${to.ip} is port ${dst.metadata.name} (${macOf(dst) ?? '?'}), but no switch answers for it: ${asked} to the network's ports and VTEPs (table Flood), no VM answers, and the VM does not send to ${to.ip}`);
    lines.push(`l2:       with its MAC still cached: ${describeDelivery(input, delivery)}`);
    return { lines, deliver: false, delivery, src: srcIp };
  }
  // vnetd answers for declared addresses only: a link-local one is asked of the network's ports
  // and the VM answers itself (QA-156 F7: trace said answered on this node).
  if (linkLocal) lines.push(`${resolution(family)}${to.ip} is port ${dst.metadata.name}'s link-local address (${macOf(dst) ?? '?'}): the Neighbor Solicitation is flooded to the network's ports and VTEPs (table Flood) and its VM answers it (vnetd answers for declared addresses only)`);
  else lines.push(`${resolution(family)}${to.ip} is port ${dst.metadata.name} (${macOf(dst) ?? '?'}): ${family === 4 ? 'ARP' : 'the Neighbor Solicitation'} answered on this node (table ArpResponder)`);
  lines.push(`l2:       dst MAC ${macOf(dst) ?? '?'}: ${describeDelivery(input, delivery)}`);
  return { lines, deliver: reachesVm(delivery), dstMac: macOf(dst), delivery, src: srcIp, ...(nicMac ? { srcMac: nicMac } : {}) };
}

/**
 * A subnet's gateway nobody holds: kept from ports, answered by no one (vnetd runs no router),
 * which a user of Neutron or OVN expects answered (QA-132 F5: trace said only "no port has it").
 */
function gatewayNote(network: VirtualNetwork | undefined, ip: string): string | undefined {
  for (const subnet of network?.spec?.subnets ?? []) {
    const cidr = tryParseCidr(subnet.cidr);
    if (!cidr) continue;
    const gateway = subnet.gateway !== undefined ? canonicalIfIp(subnet.gateway) : formatIp(cidr.family, defaultGateway(cidr));
    if (gateway !== ip) continue;
    return `gateway:  ${ip} is the gateway of subnet ${subnet.cidr}, kept from ports; vnetd runs no router, so nothing answers it until a router VM of yours holds it (as an allowed address pair, or with portSecurity: false)`;
  }
  return undefined;
}
