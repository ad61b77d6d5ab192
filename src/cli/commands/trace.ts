/**
 * `vnetctl trace --from PORT --to IP[:PORT]`: a packet's logical path worked out from
 * the API objects (network, port security, ARP/L2, load balancer, local port or tunnel),
 * then, when the source port's node runs its OVS on this machine, what
 * `ovs-appctl ofproto/trace` says about the same packet; disagreements are named.
 */
import { Command, Option } from 'commander';
import { tryParseIp } from '../../ipam/address';
import { cidrContains, tryParseCidr } from '../../ipam/subnet';
import { lbMac } from '../../pipeline/owners';
import { tableName } from '../../pipeline/tables';
import type { HypervisorNode, LoadBalancer, VirtualNetwork, VirtualPort } from '../../resources/kinds';
import { attempt } from '../attempt';
import { UsageError } from '../errors';
import { kindByPlural } from '../kinds';
import { getObject, listObjects } from '../ops';
import type { Runtime } from '../runtime';
import { appctl, localOvsOf } from './node-ovs';
import { examples, parser, type RuntimeOf } from './shared';

const NETWORKS = kindByPlural('virtualnetworks');
const PORTS = kindByPlural('virtualports');
const LBS = kindByPlural('loadbalancers');
const NODES = kindByPlural('nodes');

export type Proto = 'tcp' | 'udp' | 'icmp';

export interface Target {
  ip: string;
  port?: number;
}

export function parseTarget(text: string): Target {
  const m = /^([0-9.]+)(?::(\d+))?$/.exec(text);
  const ip = m?.[1];
  if (!m || !ip || tryParseIp(ip)?.family !== 4) throw new UsageError(`--to "${text}": expected an IPv4 address, optionally with :PORT (e.g. 10.0.0.5:80)`);
  if (m[2] === undefined) return { ip };
  const port = Number(m[2]);
  if (port < 1 || port > 65535) throw new UsageError(`--to "${text}": port ${port} is outside 1-65535`);
  return { ip, port };
}

/** What the logical model says; `deliver` is false for a drop. */
export interface LogicalPath {
  lines: string[];
  deliver: boolean;
  /** For the OVS trace: destination MAC the VM would use and the port's ofport/node. */
  dstMac?: string;
}

export interface TraceInput {
  from: VirtualPort;
  network?: VirtualNetwork;
  ports: VirtualPort[];
  lbs: LoadBalancer[];
  nodes: HypervisorNode[];
  to: Target;
  proto: Proto;
}

const ipsOf = (p: VirtualPort) => p.status?.ips ?? p.spec?.ips ?? [];
const macOf = (p: VirtualPort) => p.status?.mac ?? p.spec?.mac;
const nodeOf = (p: VirtualPort) => p.status?.node ?? p.spec?.node;
const vipOf = (lb: LoadBalancer) => lb.status?.vip ?? lb.spec?.vip;

function inNetwork(net: VirtualNetwork | undefined, ip: string): boolean {
  const a = tryParseIp(ip);
  return !!a && (net?.spec?.subnets ?? []).some((s) => {
    const c = tryParseCidr(s.cidr);
    return !!c && c.family === a.family && cidrContains(c, a);
  });
}

/** The delivery step to a port: local output or tunnel to its node's VTEP. */
function deliverTo(input: TraceInput, dst: VirtualPort, what: string): string {
  const here = nodeOf(input.from);
  const there = nodeOf(dst);
  if (!there) return `${what}: port ${dst.metadata.name} is not bound to a node: no delivery (drop)`;
  if (there === here) return `${what}: local port ${dst.metadata.name} on node ${there}${dst.status?.ofport ? ` (ofport ${dst.status.ofport})` : ''}: output (table L2Lookup)`;
  const node = input.nodes.find((n) => n.metadata.name === there);
  const vni = input.network?.status?.vni ?? input.network?.spec?.vni;
  return `${what}: port ${dst.metadata.name} on node ${there}: tunnel (${input.network?.spec?.encapsulation ?? 'vxlan'}${vni !== undefined ? `, VNI ${vni}` : ''}) to VTEP ${node?.spec?.tunnelIP ?? '<unknown node>'} (table L2Lookup)`;
}

export function logicalPath(input: TraceInput): LogicalPath {
  const { from, network, to, proto } = input;
  const netName = from.spec?.network ?? '?';
  const lines: string[] = [];
  const srcIp = ipsOf(from)[0];
  lines.push(`from:     port ${from.metadata.name} (${macOf(from) ?? '?'} ${srcIp ?? '?'}) on node ${nodeOf(from) ?? '<unbound>'}, network ${netName}`);
  if (!network) return { lines: [...lines, `network:  ${netName} does not exist: drop`], deliver: false };
  if (!nodeOf(from) || !from.status?.ofport) lines.push(`binding:  port ${from.metadata.name} is not realized on a node yet (no ofport): OVS has no flows for it`);
  const ps = from.spec?.portSecurity !== false;
  lines.push(`security: ${ps ? `port security on: source ${macOf(from) ?? '?'} / ${srcIp ?? '?'} are the port's own: allowed (table SpoofGuard)` : 'port security off: any source allowed (table SpoofGuard)'}`);
  const lb = input.lbs.find((l) => l.spec?.network === netName && vipOf(l) === to.ip);
  if (lb) {
    const mac = lb.metadata.uid ? lbMac(lb.metadata.uid) : undefined;
    lines.push(`arp:      ${to.ip} is the VIP of load balancer ${lb.metadata.name}: ARP answered on this node with ${mac ?? 'its MAC'} (table ArpResponder)`);
    if (proto === 'icmp' || to.port === undefined) return { lines: [...lines, `lb:       ${proto}${to.port ? '' : ' without a port'} to a VIP matches no listener: drop (table LbNat)`], deliver: false, dstMac: mac };
    const lis = lb.spec!.listeners.find((l) => l.port === to.port && (l.protocol ?? 'TCP').toLowerCase() === proto);
    if (!lis) return { lines: [...lines, `lb:       ${lb.metadata.name} has no ${proto.toUpperCase()} listener on port ${to.port} (listeners: ${lb.spec!.listeners.map((l) => `${l.port}/${l.protocol ?? 'TCP'}`).join(', ')}): drop (table LbNat)`], deliver: false, dstMac: mac };
    const backends = lb.spec?.backends ?? [];
    const health = lb.status?.backends ?? [];
    const usable = backends.filter((b) => health.find((h) => h.name === (b.port ?? b.ip))?.healthy !== false);
    if (usable.length === 0) return { lines: [...lines, `lb:       ${lb.metadata.name} listener ${to.port}/${proto} has no healthy backend: drop (table LbNat)`], deliver: false, dstMac: mac };
    const target = lis.targetPort ?? lis.port;
    const label = (b: (typeof backends)[number]) => {
      const p = b.port !== undefined ? input.ports.find((x) => x.metadata.name === b.port) : undefined;
      return `${b.port ?? b.ip}${p ? ` ${ipsOf(p)[0] ?? '?'}` : ''}:${target}${b.weight ? ` w${b.weight}` : ''}`;
    };
    lines.push(`lb:       ${lb.metadata.name} ${to.ip}:${to.port}/${proto}: new connections DNAT to one of ${usable.length} backend(s) by Maglev hash of the 5-tuple (conntrack; tables LbVip, LbNat): ${usable.map(label).join(', ')}`);
    for (const b of usable) {
      const p = b.port !== undefined ? input.ports.find((x) => x.metadata.name === b.port) : input.ports.find((x) => ipsOf(x).includes(b.ip ?? ''));
      lines.push(p ? `          ${deliverTo(input, p, `-> ${b.port ?? b.ip}`)}` : `          -> ${b.ip}: no port of the network has this address: flooded (table Flood)`);
    }
    return { lines, deliver: true, dstMac: mac };
  }
  if (!inNetwork(network, to.ip)) return { lines: [...lines, `route:    ${to.ip} is outside network ${netName}'s subnets (${network.spec!.subnets.map((s) => s.cidr).join(', ')}) and networks have no router: drop`], deliver: false };
  const dst = input.ports.find((p) => p.spec?.network === netName && ipsOf(p).includes(to.ip));
  if (!dst) return { lines: [...lines, `arp:      no port of ${netName} has ${to.ip}: ARP request flooded to the network's ports and VTEPs, no reply expected (table Flood); unicast to it would be unknown: flood`], deliver: false };
  if (dst.metadata.name === from.metadata.name) return { lines: [...lines, `l2:       ${to.ip} is the port's own address: the packet never leaves the VM`], deliver: false };
  lines.push(`arp:      ${to.ip} is port ${dst.metadata.name} (${macOf(dst) ?? '?'}): ARP answered on this node (table ArpResponder)`);
  lines.push(`l2:       ${deliverTo(input, dst, `dst MAC ${macOf(dst) ?? '?'}`)}`);
  return { lines, deliver: !!nodeOf(dst), dstMac: macOf(dst) };
}

/** ofproto/trace's flow for the packet. */
export function ovsFlow(ofport: number, from: VirtualPort, dstMac: string, to: Target, proto: Proto): string {
  const f = [`in_port=${ofport}`, proto, `dl_src=${macOf(from)}`, `dl_dst=${dstMac}`, `nw_src=${ipsOf(from)[0]}`, `nw_dst=${to.ip}`, 'nw_ttl=64'];
  if (proto === 'icmp') f.push('icmp_type=8', 'icmp_code=0');
  else f.push('tp_src=40000', `tp_dst=${to.port ?? 80}`);
  return f.join(',');
}

export interface OvsSummary {
  tables: string[];
  actions: string;
  /** undefined: the trace ends in a recirculation ofproto/trace does not follow (dp_hash for a select group). */
  deliver: boolean | undefined;
}

/** The tables traversed (named) and the last "Datapath actions:" of an ofproto/trace output. */
export function summarizeOvsTrace(text: string): OvsSummary {
  const tables: string[] = [];
  for (const m of text.matchAll(/^\s*(\d+)\. /gm)) {
    const n = tableName(Number(m[1]));
    if (tables[tables.length - 1] !== n) tables.push(n);
  }
  const acts = [...text.matchAll(/^Datapath actions: (.*)$/gm)].map((m) => m[1]!.trim());
  const actions = acts[acts.length - 1] ?? '<none>';
  const outputs = /(^|,)\d+($|,)|output|set\(tunnel|tnl_push/.test(actions);
  const deliver = outputs ? true : /recirc\(/.test(actions) ? undefined : false;
  return { tables, actions, deliver };
}

async function trace(rt: Runtime, o: { from: string; to: Target; proto: Proto }): Promise<void> {
  const ns = rt.namespace();
  const from = await attempt(rt, { verb: 'get', kind: PORTS, name: o.from }, () => getObject<VirtualPort>(rt, PORTS, ns, o.from));
  const netName = from.spec?.network ?? '';
  const network = await getObject<VirtualNetwork>(rt, NETWORKS, ns, netName).catch(() => undefined);
  const ports = (await attempt(rt, { verb: 'list', kind: PORTS }, () => listObjects<VirtualPort>(rt, PORTS, ns))).items;
  const lbs = (await attempt(rt, { verb: 'list', kind: LBS }, () => listObjects<LoadBalancer>(rt, LBS, ns))).items;
  const nodes = (await listObjects<HypervisorNode>(rt, NODES, undefined).catch(() => ({ items: [] as HypervisorNode[] }))).items;
  const logical = logicalPath({ from, network, ports, lbs, nodes, to: o.to, proto: o.proto });
  const say = (s: string) => rt.io.out(`${s}\n`);
  say(`Logical path (${o.proto} ${ipsOf(from)[0] ?? '?'} -> ${o.to.ip}${o.to.port ? `:${o.to.port}` : ''}):`);
  for (const l of logical.lines) say(`  ${l}`);
  say(`  verdict:  ${logical.deliver ? 'deliver' : 'drop'}`);

  const node = nodes.find((n) => n.metadata.name === nodeOf(from));
  const ofport = from.status?.ofport;
  const ovs = node ? localOvsOf(node) : `port ${from.metadata.name} is not bound to a known node`;
  if (typeof ovs === 'string' || !ofport || !logical.dstMac) {
    say(`OVS: not traced here (${typeof ovs === 'string' ? ovs : !ofport ? `port ${from.metadata.name} has no ofport yet` : 'no destination MAC: the VM would not send this packet'})`);
    return;
  }
  const flow = ovsFlow(ofport, from, logical.dstMac, o.to, o.proto);
  let text: string;
  try {
    text = await appctl(ovs, ['ofproto/trace', 'br-int', flow]);
  } catch (e) {
    say(`OVS: ofproto/trace failed: ${(e as Error).message}`);
    return;
  }
  const s = summarizeOvsTrace(text);
  say(`OVS ofproto/trace on node ${node!.metadata.name} (br-int ${flow}):`);
  say(`  tables:   ${s.tables.join(' -> ') || '<none>'}`);
  say(`  datapath actions: ${s.actions}`);
  if (s.deliver === undefined) {
    say('  verdict:  undetermined: the datapath recirculates (select group dp_hash) and ofproto/trace does not follow it');
    say(`OVS reaches ${s.tables[s.tables.length - 1] ?? 'no table'} and recirculates; no drop seen, consistent with the logical path (${logical.deliver ? 'deliver' : 'drop'}) so far.`);
    return;
  }
  say(`  verdict:  ${s.deliver ? 'deliver' : 'drop'}`);
  if (s.deliver !== logical.deliver) say(`DISAGREEMENT: the logical model says ${logical.deliver ? 'deliver' : 'drop'} but OVS says ${s.deliver ? 'deliver' : 'drop'} (${s.actions})`);
  else say(`OVS agrees with the logical path (${logical.deliver ? 'deliver' : 'drop'}).`);
}

export function traceCommand(runtimeOf: RuntimeOf): Command {
  return examples(
    new Command('trace')
      .description("explain a packet's path: the logical decisions from the API objects and, on the node, OVS's ofproto/trace")
      .requiredOption('--from <port>', 'source VirtualPort')
      .requiredOption('--to <ip[:port]>', 'destination IPv4 address, optionally :PORT', parser(parseTarget))
      .addOption(new Option('--proto <proto>', 'protocol').choices(['tcp', 'udp', 'icmp']))
      .action(async (o: { from: string; to: Target; proto?: Proto }, cmd: Command) => {
        const proto = o.proto ?? (o.to.port === undefined ? 'icmp' : 'tcp');
        if (proto === 'icmp' && o.to.port !== undefined) throw new UsageError(`--to ${o.to.ip}:${o.to.port}: a port makes no sense with --proto icmp`);
        await trace(runtimeOf(cmd), { from: o.from, to: o.to, proto });
      }),
    ['vnetctl trace --from vm1-eth0 --to 10.0.0.6', 'vnetctl -n demo trace --from vdemo-c1 --to 10.99.0.10:80 --proto tcp'],
  );
}
