/**
 * `vnetctl trace --from PORT --to IP[:PORT]`: a packet's logical path worked out from
 * the API objects (trace-logical.ts), then, when the source port's node runs its OVS on
 * this machine, what `ovs-appctl ofproto/trace` says about the same packet
 * (trace-ovs.ts), and, for a packet tunneled to a node whose OVS runs here too, what
 * ofproto/trace says about it arriving there. Through a load balancer's VIP, ofproto/trace follows OVS's slot hash to
 * the backend OVS picks for this 5-tuple, and the VIP's slot table and DNAT flows are
 * compared with the logical backends (trace-lb.ts). Every place where OVS and the logical
 * model disagree is named. The result is a report: text for people, or the same facts as
 * JSON/YAML for scripts.
 */
import { Command, Option } from 'commander';
import type { HypervisorNode, LoadBalancer, VirtualNetwork, VirtualPort } from '../../resources/kinds';
import { attempt } from '../attempt';
import { ApiStatusError, CliError, EXIT_ERROR, EXIT_OK, UsageError } from '../errors';
import { kindByPlural } from '../kinds';
import { getObject, listObjects } from '../ops';
import { toJson, toYaml } from '../output/printer';
import type { Runtime } from '../runtime';
import { TUNNEL_PORTS } from '../../chassis/layout';
import { CONNTRACK_PRESSURE, TUNNELS_UP } from '../../chassis/node-status';
import { conditionWhen, falseCondition } from './node-conditions';
import { CommandTimeoutError, OVS_COMMAND_TIMEOUT_MS, appctl, localOvsOf, vsctl } from './node-ovs';
import { parseDuration } from '../flags/duration';
import { examples, parser, type RuntimeOf } from './shared';
import { familyOf, logicalPath, nodeOf, parseSrcIp, parseSrcMac, parseSrcPort, parseTarget, sourceIp, targetText, type Delivery, type LogicalLb, type LogicalPath, type Proto, type Target } from './trace-logical';
import { renderTraceText, whereOvs, type PortAt, type RemoteHop, type TraceReport } from './trace-report';
import { VIP_CT_NEXT, traceLoadBalancer } from './trace-lb';
import { DEFAULT_SRC_PORT, deliveryMismatch, ovsFlow, summarizeOvsTrace } from './trace-ovs';

const NETWORKS = kindByPlural('virtualnetworks');
const PORTS = kindByPlural('virtualports');
const LBS = kindByPlural('loadbalancers');
const NODES = kindByPlural('nodes');

/** The Nodes, or, when this token may not read them (a tenant's: Nodes are cluster-scoped), the API's refusal. */
interface NodesRead {
  items: HypervisorNode[];
  forbidden?: string;
}

/**
 * Lists the Nodes. A 403 is no failure of the trace: the logical path needs no Node, and the
 * refusal is said where the OVS half would be (QA-112: it read as a port "not bound to a
 * known node"). Any other failure is the command's.
 */
async function readNodes(rt: Runtime): Promise<NodesRead> {
  return attempt(rt, { verb: 'list', kind: NODES }, async () => {
    try {
      return { items: (await listObjects<HypervisorNode>(rt, NODES, undefined)).items };
    } catch (err) {
      if (err instanceof ApiStatusError && err.httpStatus === 403) return { items: [], forbidden: err.message };
      throw err;
    }
  });
}

/** Why the source port's node is not among the Nodes read: this token may read none, or it is on no known node. */
function noNodeWhy(from: VirtualPort, nodes: NodesRead): string {
  return nodes.forbidden !== undefined ? `this token may not read Nodes, so the OVS half cannot be traced: ${nodes.forbidden}` : `port ${from.metadata.name} is not bound to a known node`;
}

/** Traces the packet through the node's OVS into the report; what it found against the path (a switch that does not answer, OVS's pick of a backend that takes nothing), if anything. */
async function traceOvs(report: TraceReport, input: { from: VirtualPort; logical: LogicalPath; nodes: NodesRead; ports: VirtualPort[]; network?: VirtualNetwork; to: Target; proto: Proto; srcPort?: number; ovsTimeoutMs?: number }): Promise<string | undefined> {
  const { from, logical } = input;
  const node = input.nodes.items.find((n) => n.metadata.name === nodeOf(from));
  const ofport = from.status?.ofport;
  const ovs = node ? localOvsOf(node, input.ovsTimeoutMs) : noNodeWhy(from, input.nodes);
  if (typeof ovs === 'string' || !ofport || !logical.dstMac) {
    report.ovs.skipped = typeof ovs === 'string' ? ovs : !ofport ? `port ${from.metadata.name} has no ofport yet` : 'no destination MAC: the VM would not send this packet';
    return;
  }
  const here = node!.metadata.name;
  const flow = ovsFlow(ofport, from, logical.dstMac, input.to, input.proto, input.srcPort, logical.src, logical.srcMac);
  report.ovs.node = here;
  report.ovs.flow = flow;
  // Through a VIP, conntrack answers twice (LbVip's ct(nat), LbDnat's ct(commit,nat)): say
  // what it says for a new connection, so the trace follows the packet to its backend.
  let text: string;
  try {
    text = await appctl(ovs, ['ofproto/trace', ...(logical.lb ? VIP_CT_NEXT : []), 'br-int', flow]);
  } catch (e) {
    report.ovs.skipped = `ofproto/trace failed: ${(e as Error).message}`;
    // The switch on the path does not answer its own control socket (hung, or spinning without
    // its database): trouble for the packet as much as a cut tunnel (QA-131: exit 0, no word).
    if (e instanceof CommandTimeoutError) return `node ${here}'s ovs-vswitchd did not answer ofproto/trace within ${e.seconds} s: it is hung or overloaded, and the packet would not get through (vnetctl get node ${here}; its ovs-vswitchd.log)`;
    return undefined;
  }
  const s = summarizeOvsTrace(text);
  const portAt: PortAt = (o) => input.ports.find((p) => p.status?.ofport === o && nodeOf(p) === here)?.metadata.name;
  Object.assign(report.ovs, { tables: s.tables, datapathActions: s.actions });
  let deliver = s.deliver;
  if (s.deliver !== undefined) report.ovs.end = whereOvs(s, portAt);
  let picked: string | undefined;
  if (logical.lb) {
    const lb = await traceLoadBalancer(ovs, logical.lb, { text, summary: s, flow }, (x) => whereOvs(x, portAt), report.disagreements);
    report.ovs.loadBalancer = lb.report;
    deliver = lb.deliver;
    // OVS's pick for this 5-tuple is a backend that takes nothing (its NIC down, another MAC):
    // the switch delivers, the VM drops it, and this connection goes unanswered (QA-131: deliver, exit 0).
    const choice = logical.lb.choices.find((c) => c.backend === lb.report.pick?.backend);
    if (choice?.delivery.kind === 'refused') picked = `backend ${choice.backend}, OVS's pick for this 5-tuple, takes nothing: ${choice.delivery.why}; this connection would go unanswered (another --src-port may pick another backend)`;
  } else if (s.deliver !== undefined) {
    const mismatch = logical.delivery ? deliveryMismatch(logical.delivery, s) : undefined;
    if (mismatch) report.disagreements.push(mismatch);
  }
  report.ovs.verdict = deliver === undefined ? 'undetermined' : deliver ? 'deliver' : 'drop';
  // Flooded to a MAC no VM has, or delivered to a NIC that refuses it: the switch sends it on,
  // and no VM takes it; deliveryMismatch compared what the switch does.
  const switchOnly = logical.delivery?.kind === 'flood' || logical.delivery?.kind === 'refused';
  if (deliver !== undefined && deliver !== logical.deliver && !switchOnly) report.disagreements.unshift(`the logical model says ${logical.deliver ? 'deliver' : 'drop'} but OVS says ${deliver ? 'deliver' : 'drop'} (${s.actions})`);
  if (deliver && logical.delivery?.kind === 'tunnel') await traceRemote(report, { ...input, flow, delivery: logical.delivery, srcNode: node! });
  report.agrees = deliver === undefined ? undefined : report.disagreements.length === 0;
  return picked;
}

/**
 * The far end of a tunnel: the same packet as it arrives on the destination node (its
 * tunnel port, VNI, the two VTEPs), traced there when that node's OVS runs on this machine
 * too (all-in-one, a test bed), and compared with the destination port.
 */
async function traceRemote(report: TraceReport, input: { flow: string; delivery: Extract<Delivery, { kind: 'tunnel' }>; srcNode: HypervisorNode; nodes: NodesRead; ports: VirtualPort[]; network?: VirtualNetwork; ovsTimeoutMs?: number }): Promise<void> {
  const { delivery } = input;
  const remote: RemoteHop = { node: delivery.node };
  report.ovs.remote = remote;
  const there = input.nodes.items.find((n) => n.metadata.name === delivery.node);
  const ovs = there ? localOvsOf(there, input.ovsTimeoutMs) : `node ${delivery.node} is not known`;
  const vni = input.network?.status?.vni ?? input.network?.spec?.vni;
  const dst = input.ports.find((p) => p.metadata.name === delivery.port);
  if (typeof ovs === 'string' || vni === undefined || !input.srcNode.spec?.tunnelIP || !delivery.vtep) {
    remote.skipped = typeof ovs === 'string' ? ovs : vni === undefined ? 'the network has no VNI yet' : 'a VTEP address is unknown';
    return;
  }
  const encap = input.network?.spec?.encapsulation ?? 'vxlan';
  const tunnel = TUNNEL_PORTS.find((t) => t.type === encap)!.name;
  let tunnelOfport: number;
  try {
    tunnelOfport = Number((await vsctl(ovs, ['get', 'Interface', tunnel, 'ofport'])).trim());
  } catch (e) {
    remote.skipped = `no ${tunnel} port on ${delivery.node}: ${(e as Error).message}`;
    return;
  }
  const inner = input.flow.replace(/^in_port=\d+,/, '');
  remote.flow = `in_port=${tunnelOfport},tun_id=0x${vni.toString(16)},tun_src=${input.srcNode.spec.tunnelIP},tun_dst=${delivery.vtep},${inner}`;
  let text: string;
  try {
    text = await appctl(ovs, ['ofproto/trace', 'br-int', remote.flow]);
  } catch (e) {
    remote.skipped = `ofproto/trace failed: ${(e as Error).message}`;
    return;
  }
  const s = summarizeOvsTrace(text);
  const portAt: PortAt = (o) => input.ports.find((p) => p.status?.ofport === o && nodeOf(p) === delivery.node)?.metadata.name;
  Object.assign(remote, { tables: s.tables, datapathActions: s.actions, end: whereOvs(s, portAt) });
  const mismatch = deliveryMismatch({ kind: 'local', port: delivery.port, ofport: dst?.status?.ofport }, s);
  if (mismatch) report.disagreements.push(`on ${delivery.node}, after the tunnel: ${mismatch}`);
}

async function trace(rt: Runtime, o: { from: string; to: Target; proto: Proto; srcPort?: number; srcIp?: string; srcMac?: string; ovsTimeoutMs?: number }): Promise<TraceReport> {
  const ns = rt.namespace();
  const from = await attempt(rt, { verb: 'get', kind: PORTS, name: o.from }, () => getObject<VirtualPort>(rt, PORTS, ns, o.from));
  const netName = from.spec?.network ?? '';
  // A network that does not exist is a step of the path (drop); any other failure to read it is the command's.
  const network = await attempt(rt, { verb: 'get', kind: NETWORKS, name: netName }, () =>
    getObject<VirtualNetwork>(rt, NETWORKS, ns, netName).catch((e: unknown) => {
      if (e instanceof ApiStatusError && e.httpStatus === 404) return undefined;
      throw e;
    }),
  );
  const ports = (await attempt(rt, { verb: 'list', kind: PORTS }, () => listObjects<VirtualPort>(rt, PORTS, ns))).items;
  const lbs = (await attempt(rt, { verb: 'list', kind: LBS }, () => listObjects<LoadBalancer>(rt, LBS, ns))).items;
  const nodes = await readNodes(rt);
  const logical = logicalPath({ from, network, ports, lbs, nodes: nodes.items, nodesForbidden: nodes.forbidden !== undefined, to: o.to, proto: o.proto, srcIp: o.srcIp, srcMac: o.srcMac });
  const report: TraceReport = {
    packet: { from: o.from, src: logical.src ?? sourceIp(from, familyOf(o.to.ip)), ...(logical.srcMac ? { srcMac: logical.srcMac } : {}), ...(o.srcPort !== undefined ? { srcPort: o.srcPort } : {}), to: targetText(o.to), proto: o.proto },
    logical: { steps: logical.lines, verdict: logical.deliver ? 'deliver' : 'drop', ...(logical.refused ? { refused: logical.refused } : {}), ...(logical.lb ? { loadBalancer: logical.lb } : {}) },
    ovs: {},
    disagreements: [],
  };
  const againstPath = await traceOvs(report, { from, logical, nodes, ports, network, to: o.to, proto: o.proto, srcPort: o.srcPort, ovsTimeoutMs: o.ovsTimeoutMs });
  const trouble = [...(againstPath ? [againstPath] : []), ...pathTrouble(nodes.items, nodeOf(from), logical.deliver ? deliveriesOf(logical) : [], !!logical.lb)];
  if (trouble.length) report.trouble = trouble;
  return report;
}

/** Where the packet may go: its one delivery, or through a VIP each backend's that gets new connections. */
export function deliveriesOf(logical: { delivery?: Delivery; lb?: LogicalLb }): PathDelivery[] {
  if (logical.lb) return logical.lb.choices.map((c) => ({ delivery: c.delivery, backend: c.backend }));
  return logical.delivery ? [{ delivery: logical.delivery }] : [];
}

export interface PathDelivery {
  delivery: Delivery;
  /** Through a VIP: the backend this delivery is of. */
  backend?: string;
}

/**
 * What the nodes the packet crosses report against its path: the source node's switch (and,
 * through a tunnel, the destination's) not Ready, and tunnels whose probes come back from no
 * peer (TunnelsUp=False on either end). Through a VIP, each backend reached through a tunnel
 * is a path: a cut tunnel to one backend's node fails the connections dealt to it (QA-126
 * H3: the trace of a VIP said nothing of it).
 */
export function pathTrouble(nodes: readonly HypervisorNode[], srcNode: string | undefined, deliveries: readonly PathDelivery[], throughVip = false): string[] {
  const out: string[] = [];
  const byName = (n: string | undefined) => nodes.find((x) => x.metadata.name === n);
  // A VIP's connections are committed to the client node's connection tracking: full, it drops new ones.
  const conntrack = throughVip ? conditionWhen(byName(srcNode), CONNTRACK_PRESSURE, 'True') : undefined;
  if (conntrack) out.push(`node ${srcNode} is ${conntrack}`);
  const say = (n: HypervisorNode, type: string, backends: string[] = []) => {
    const c = falseCondition(n, type);
    const of = backends.length ? ` (the node of backend${backends.length === 1 ? '' : 's'} ${backends.join(', ')})` : '';
    if (c) out.push(`node ${n.metadata.name}${of} is ${c}`);
  };
  const src = byName(srcNode);
  if (src) say(src, 'Ready');
  const tunneledTo = new Map<string, string[]>();
  for (const { delivery, backend } of deliveries) {
    if (delivery.kind !== 'tunnel') continue;
    const list = tunneledTo.get(delivery.node) ?? [];
    if (backend !== undefined) list.push(backend);
    tunneledTo.set(delivery.node, list);
  }
  if (tunneledTo.size === 0) return out;
  for (const [name, backends] of tunneledTo) {
    const dst = byName(name);
    if (dst) say(dst, 'Ready', backends);
  }
  if (src) say(src, TUNNELS_UP);
  for (const [name, backends] of tunneledTo) {
    const dst = byName(name);
    if (dst) say(dst, TUNNELS_UP, backends);
  }
  return out;
}

/**
 * trace's exit code: 1 when the logical path and OVS disagree (a DISAGREEMENT line) or the
 * nodes on the path report trouble (a TROUBLE line: a cut tunnel, a switch not answering),
 * so that a script or CI job sees a fault without reading the report, as a failed check;
 * 0 otherwise, OVS not traced here included (nothing was found wrong).
 */
export function traceExitCode(report: Pick<TraceReport, 'disagreements' | 'trouble'>): number {
  return report.disagreements.length > 0 || (report.trouble?.length ?? 0) > 0 ? EXIT_ERROR : EXIT_OK;
}

/** The one stderr line after a report that found a fault (the report itself is on stdout). */
function faultLine(report: TraceReport): string {
  const count = (n: number, one: string, many: string) => (n === 1 ? one : `${n} ${many}`);
  const parts: string[] = [];
  const d = report.disagreements.length;
  const t = report.trouble?.length ?? 0;
  if (d) parts.push(`OVS disagrees with the logical path (${count(d, 'one disagreement', 'disagreements')} in the report)`);
  if (t) parts.push(`the nodes on the path report trouble (${count(t, 'one TROUBLE line', 'TROUBLE lines')} in the report)`);
  return parts.join('; ');
}

export function traceCommand(runtimeOf: RuntimeOf): Command {
  return examples(
    new Command('trace')
      .description("explain a packet's path: the logical decisions from the API objects and, on the node, OVS's ofproto/trace (through a VIP: the backend OVS picks for this 5-tuple, and each backend's slots, DNAT and end); every disagreement, and any trouble the nodes on the path report (a cut tunnel, a switch not answering), is named, and any makes it exit 1 (0 otherwise, also when OVS is not traced here); -o json|yaml give the same report for scripts")
      .requiredOption('--from <port>', 'source VirtualPort')
      .requiredOption('--to <ip[:port]>', 'destination address: IPv4, optionally :PORT (10.0.0.5:80), or IPv6, with a port in brackets ([fd00::5]:80)', parser(parseTarget))
      .addOption(new Option('--proto <proto>', 'protocol (default: tcp with a port, icmp without)').choices(['tcp', 'udp', 'sctp', 'icmp']))
      .option('--src-ip <ip>', "source address of the packet (default: the port's own of the destination's family): what port security makes of an allowed pair's address, or a spoofed one", parser(parseSrcIp))
      .option('--src-mac <mac>', "source MAC of the packet (default: the VM NIC's, the port's)", parser(parseSrcMac))
      .option('--src-port <port>', `TCP/UDP source port of the packet (default ${DEFAULT_SRC_PORT}); through a VIP it is part of the hash that picks the backend`, parser(parseSrcPort))
      .addOption(new Option('--ovs-timeout <duration>', "how long each OVS command on a node (ofproto/trace, ovs-vsctl, ovs-ofctl) may take before its switch is said not to answer (0: no limit)").argParser(parser(parseDuration)).default(OVS_COMMAND_TIMEOUT_MS, '20s'))
      .action(async (o: { from: string; to: Target; proto?: Proto; srcPort?: number; srcIp?: string; srcMac?: string; ovsTimeout: number }, cmd: Command) => {
        const rt = runtimeOf(cmd);
        if (rt.output === 'name') throw new UsageError('trace prints a report, not objects: use -o table (the default), json or yaml');
        const proto = o.proto ?? (o.to.port === undefined ? 'icmp' : 'tcp');
        if (proto === 'icmp' && o.to.port !== undefined) throw new UsageError(`--to ${targetText(o.to)}: a port makes no sense with --proto icmp`);
        if (proto === 'icmp' && o.srcPort !== undefined) throw new UsageError(`--src-port ${o.srcPort}: ICMP has no ports`);
        if (o.srcIp !== undefined && familyOf(o.srcIp) !== familyOf(o.to.ip)) throw new UsageError(`--src-ip ${o.srcIp} is IPv${familyOf(o.srcIp)} and --to ${targetText(o.to)} IPv${familyOf(o.to.ip)}: one packet has one family`);
        const report = await trace(rt, { from: o.from, to: o.to, proto, srcPort: o.srcPort, srcIp: o.srcIp, srcMac: o.srcMac, ovsTimeoutMs: o.ovsTimeout });
        rt.io.out(rt.output === 'json' ? toJson(report) : rt.output === 'yaml' ? toYaml(report) : renderTraceText(report));
        const code = traceExitCode(report);
        if (code !== EXIT_OK) throw new CliError(faultLine(report), code);
      }),
    ['vnetctl trace --from vm1-eth0 --to 10.0.0.6', 'vnetctl -n demo trace --from vdemo-c1 --to 10.99.0.10:80 --proto tcp --src-port 41000', 'vnetctl trace --from vm1-eth0 --to 10.0.0.7:53 --proto udp -o json', 'vnetctl trace --from vm1-eth0 --to [fd00::64]:80', 'vnetctl trace --from vrrp-a --to 10.0.0.6 --src-ip 10.0.0.100 --src-mac 00:00:5e:00:01:01'],
  );
}
