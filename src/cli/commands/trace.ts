/**
 * `vnetctl trace --from PORT --to IP[:PORT]`: a packet's logical path worked out from
 * the API objects (trace-logical.ts), then, when the source port's node runs its OVS on
 * this machine, what `ovs-appctl ofproto/trace` says about the same packet
 * (trace-ovs.ts). Through a load balancer's VIP, OVS hands new connections to a select
 * group whose bucket the datapath picks by hash, which ofproto/trace cannot follow: every
 * bucket is then traced with the packet as its DNAT leaves it. Every place where OVS and
 * the logical model disagree is named. The result is a report: text for people, or the
 * same facts as JSON/YAML for scripts.
 */
import { Command, Option } from 'commander';
import type { HypervisorNode, LoadBalancer, VirtualNetwork, VirtualPort } from '../../resources/kinds';
import { attempt } from '../attempt';
import { UsageError } from '../errors';
import { kindByPlural } from '../kinds';
import { getObject, listObjects } from '../ops';
import { toJson, toYaml } from '../output/printer';
import type { Runtime } from '../runtime';
import { appctl, localOvsOf, ofctl, type NodeOvs } from './node-ovs';
import { examples, parser, type RuntimeOf } from './shared';
import { ipsOf, logicalPath, nodeOf, parseTarget, type LogicalLb, type LogicalPath, type Proto, type Target } from './trace-logical';
import { afterDnat, deliveryMismatch, matchBuckets, ovsFlow, parseGroupBuckets, summarizeOvsTrace, type OvsSummary } from './trace-ovs';

const NETWORKS = kindByPlural('virtualnetworks');
const PORTS = kindByPlural('virtualports');
const LBS = kindByPlural('loadbalancers');
const NODES = kindByPlural('nodes');

export interface BucketReport {
  index: number;
  weight: number;
  dnat?: string;
  /** The logical backend with the bucket's address, if any. */
  backend?: string;
  tables: string[];
  /** Where OVS ends the packet after this bucket's DNAT. */
  end: string;
  deliver?: boolean;
  agrees: boolean;
}

export interface TraceReport {
  packet: { from: string; src?: string; to: string; proto: Proto };
  logical: { steps: string[]; verdict: 'deliver' | 'drop'; loadBalancer?: LogicalLb };
  ovs: {
    node?: string;
    /** Why OVS was not traced here, when it was not. */
    skipped?: string;
    flow?: string;
    tables?: string[];
    datapathActions?: string;
    end?: string;
    group?: { id: number; buckets: BucketReport[] };
    verdict?: 'deliver' | 'drop' | 'undetermined';
  };
  disagreements: string[];
  /** undefined when OVS was not traced (or could not be followed to the end). */
  agrees?: boolean;
}

type PortAt = (ofport: number) => string | undefined;

/** "output to ofport 5 (vdemo-b1)" / "drop (...)": where OVS ends the packet, ports named. */
function whereOvs(s: OvsSummary, portAt: PortAt): string {
  if (s.deliver !== true || s.outputs.length === 0) return `drop (datapath actions: ${s.actions})`;
  const outs = s.outputs.map((o) => `${o}${portAt(o) ? ` (${portAt(o)})` : ''}`).join(', ');
  return `output to ofport ${outs}${s.tunnelDsts.length ? `, tunnel destination ${s.tunnelDsts.join(', ')}` : ''}`;
}

/** Traces each bucket of the select group the VIP's listener uses, into the report. */
async function traceBuckets(ovs: NodeOvs, report: TraceReport, lb: LogicalLb, groupId: number, flow: string, portAt: PortAt): Promise<void> {
  let dump: string;
  try {
    dump = await ofctl(ovs, 'dump-groups', 'br-int');
  } catch (e) {
    report.ovs.skipped = `cannot read select group ${groupId}: ${(e as Error).message}`;
    return;
  }
  const buckets = parseGroupBuckets(dump, groupId);
  if (!buckets) {
    report.disagreements.push(`LbNat sends the packet to group ${groupId}, which br-int does not have`);
    return;
  }
  const group = { id: groupId, buckets: [] as BucketReport[] };
  report.ovs.group = group;
  const { checks, missing } = matchBuckets(lb, buckets);
  for (const c of checks) {
    const b = c.bucket;
    const mismatches = c.mismatches.map((m) => `bucket ${b.index}: ${m}`);
    const entry: BucketReport = { index: b.index, weight: b.weight, dnat: b.natIp ? `${b.natIp}${b.natPort !== undefined ? `:${b.natPort}` : ''}` : undefined, backend: c.backend, tables: [], end: `not traced (${b.actions})`, agrees: false };
    group.buckets.push(entry);
    if (b.natIp) {
      try {
        const s = summarizeOvsTrace(await appctl(ovs, ['ofproto/trace', '--ct-next', 'trk,new,dnat', 'br-int', afterDnat(flow, b.natIp, b.natPort)]));
        const choice = lb.choices.find((x) => x.backend === c.backend);
        const mismatch = choice ? deliveryMismatch(choice.delivery, s) : undefined;
        if (mismatch) mismatches.push(`bucket ${b.index} (${choice!.backend}): ${mismatch}`);
        const from = s.tables.indexOf('LbNat');
        Object.assign(entry, { tables: from >= 0 ? s.tables.slice(from) : s.tables, end: whereOvs(s, portAt), deliver: s.deliver === true });
      } catch (e) {
        entry.end = `ofproto/trace failed: ${(e as Error).message}`;
      }
    }
    entry.agrees = mismatches.length === 0 && entry.deliver !== undefined;
    report.disagreements.push(...mismatches);
  }
  for (const m of missing) report.disagreements.push(`backend ${m} has no bucket in OVS's group: OVS never sends it a connection`);
}

async function traceOvs(report: TraceReport, input: { from: VirtualPort; logical: LogicalPath; nodes: HypervisorNode[]; ports: VirtualPort[]; to: Target; proto: Proto }): Promise<void> {
  const { from, logical } = input;
  const node = input.nodes.find((n) => n.metadata.name === nodeOf(from));
  const ofport = from.status?.ofport;
  const ovs = node ? localOvsOf(node) : `port ${from.metadata.name} is not bound to a known node`;
  if (typeof ovs === 'string' || !ofport || !logical.dstMac) {
    report.ovs.skipped = typeof ovs === 'string' ? ovs : !ofport ? `port ${from.metadata.name} has no ofport yet` : 'no destination MAC: the VM would not send this packet';
    return;
  }
  const here = node!.metadata.name;
  const flow = ovsFlow(ofport, from, logical.dstMac, input.to, input.proto);
  report.ovs.node = here;
  report.ovs.flow = flow;
  let s: OvsSummary;
  try {
    s = summarizeOvsTrace(await appctl(ovs, ['ofproto/trace', 'br-int', flow]));
  } catch (e) {
    report.ovs.skipped = `ofproto/trace failed: ${(e as Error).message}`;
    return;
  }
  const portAt: PortAt = (o) => input.ports.find((p) => p.status?.ofport === o && nodeOf(p) === here)?.metadata.name;
  Object.assign(report.ovs, { tables: s.tables, datapathActions: s.actions });
  let deliver = s.deliver;
  const groupId = s.groups[s.groups.length - 1];
  if (logical.lb && groupId !== undefined) {
    await traceBuckets(ovs, report, logical.lb, groupId, flow, portAt);
    const buckets = report.ovs.group?.buckets ?? [];
    if (report.ovs.skipped) deliver = undefined;
    else deliver = buckets.some((b) => b.deliver === true);
  } else if (s.deliver !== undefined) {
    report.ovs.end = whereOvs(s, portAt);
    const mismatch = logical.delivery ? deliveryMismatch(logical.delivery, s) : undefined;
    if (mismatch) report.disagreements.push(mismatch);
  }
  report.ovs.verdict = deliver === undefined ? 'undetermined' : deliver ? 'deliver' : 'drop';
  if (deliver !== undefined && deliver !== logical.deliver) report.disagreements.unshift(`the logical model says ${logical.deliver ? 'deliver' : 'drop'} but OVS says ${deliver ? 'deliver' : 'drop'} (${s.actions})`);
  report.agrees = deliver === undefined ? undefined : report.disagreements.length === 0;
}

/** The report as text for people. */
export function renderTraceText(r: TraceReport): string {
  const out: string[] = [`Logical path (${r.packet.proto} ${r.packet.src ?? '?'} -> ${r.packet.to}):`, ...r.logical.steps.map((l) => `  ${l}`), `  verdict:  ${r.logical.verdict}`];
  const o = r.ovs;
  if (o.flow === undefined) out.push(`OVS: not traced here (${o.skipped ?? 'unknown reason'})`);
  else if (o.tables === undefined) out.push(`OVS: ${o.skipped ?? 'not traced'}`);
  else {
    out.push(`OVS ofproto/trace on node ${o.node} (br-int ${o.flow}):`, `  tables:   ${o.tables.join(' -> ') || '<none>'}`, `  datapath actions: ${o.datapathActions}`);
    if (o.group) {
      const n = o.group.buckets.length;
      out.push(`  group:    LbNat sends new connections to select group ${o.group.id} (${n} bucket${n === 1 ? '' : 's'}); the datapath picks the bucket by a hash of the 5-tuple (dp_hash), which ofproto/trace does not follow, so each bucket is traced with the packet as its DNAT leaves it:`);
      for (const b of o.group.buckets) {
        const path = b.tables.length ? `${b.tables.join(' -> ')}: ` : '';
        const judged = b.backend === undefined || b.deliver === undefined ? '' : b.agrees ? ': as the logical model says' : ': DISAGREES';
        out.push(`  bucket ${b.index}: DNAT to ${b.dnat ?? '?'} (${b.backend ?? 'no logical backend'}, weight ${b.weight}): ${path}${b.end}${judged}`);
      }
    } else if (o.skipped) out.push(`  group:    ${o.skipped}`);
    if (o.end) out.push(`  end:      ${o.end}`);
    if (o.verdict === 'undetermined') {
      out.push('  verdict:  undetermined: the datapath recirculates and ofproto/trace does not follow it');
      out.push(`OVS reaches ${o.tables[o.tables.length - 1] ?? 'no table'} and recirculates; no drop seen, consistent with the logical path (${r.logical.verdict}) so far.`);
    } else {
      const buckets = o.group?.buckets.filter((b) => b.deliver !== undefined) ?? [];
      const detail = o.group ? ` (${buckets.filter((b) => b.deliver).length} of ${buckets.length} traced bucket${buckets.length === 1 ? '' : 's'} deliver)` : '';
      out.push(`  verdict:  ${o.verdict}${detail}`);
    }
  }
  for (const d of r.disagreements) out.push(`DISAGREEMENT: ${d}`);
  if (r.agrees) out.push(`OVS agrees with the logical path (${r.logical.verdict}).${o.group ? ' Every bucket is a logical backend and ends where the logical model says.' : ''}`);
  return `${out.join('\n')}\n`;
}

async function trace(rt: Runtime, o: { from: string; to: Target; proto: Proto }): Promise<TraceReport> {
  const ns = rt.namespace();
  const from = await attempt(rt, { verb: 'get', kind: PORTS, name: o.from }, () => getObject<VirtualPort>(rt, PORTS, ns, o.from));
  const netName = from.spec?.network ?? '';
  const network = await getObject<VirtualNetwork>(rt, NETWORKS, ns, netName).catch(() => undefined);
  const ports = (await attempt(rt, { verb: 'list', kind: PORTS }, () => listObjects<VirtualPort>(rt, PORTS, ns))).items;
  const lbs = (await attempt(rt, { verb: 'list', kind: LBS }, () => listObjects<LoadBalancer>(rt, LBS, ns))).items;
  const nodes = (await listObjects<HypervisorNode>(rt, NODES, undefined).catch(() => ({ items: [] as HypervisorNode[] }))).items;
  const logical = logicalPath({ from, network, ports, lbs, nodes, to: o.to, proto: o.proto });
  const report: TraceReport = {
    packet: { from: o.from, src: ipsOf(from)[0], to: `${o.to.ip}${o.to.port ? `:${o.to.port}` : ''}`, proto: o.proto },
    logical: { steps: logical.lines, verdict: logical.deliver ? 'deliver' : 'drop', ...(logical.lb ? { loadBalancer: logical.lb } : {}) },
    ovs: {},
    disagreements: [],
  };
  await traceOvs(report, { from, logical, nodes, ports, to: o.to, proto: o.proto });
  return report;
}

export function traceCommand(runtimeOf: RuntimeOf): Command {
  return examples(
    new Command('trace')
      .description("explain a packet's path: the logical decisions from the API objects and, on the node, OVS's ofproto/trace (through a VIP: every bucket of its select group); disagreements are named; -o json|yaml give the same report for scripts")
      .requiredOption('--from <port>', 'source VirtualPort')
      .requiredOption('--to <ip[:port]>', 'destination IPv4 address, optionally :PORT', parser(parseTarget))
      .addOption(new Option('--proto <proto>', 'protocol (default: tcp with a port, icmp without)').choices(['tcp', 'udp', 'icmp']))
      .action(async (o: { from: string; to: Target; proto?: Proto }, cmd: Command) => {
        const rt = runtimeOf(cmd);
        if (rt.output === 'name') throw new UsageError('trace prints a report, not objects: use -o table (the default), json or yaml');
        const proto = o.proto ?? (o.to.port === undefined ? 'icmp' : 'tcp');
        if (proto === 'icmp' && o.to.port !== undefined) throw new UsageError(`--to ${o.to.ip}:${o.to.port}: a port makes no sense with --proto icmp`);
        const report = await trace(rt, { from: o.from, to: o.to, proto });
        rt.io.out(rt.output === 'json' ? toJson(report) : rt.output === 'yaml' ? toYaml(report) : renderTraceText(report));
      }),
    ['vnetctl trace --from vm1-eth0 --to 10.0.0.6', 'vnetctl -n demo trace --from vdemo-c1 --to 10.99.0.10:80 --proto tcp', 'vnetctl trace --from vm1-eth0 --to 10.0.0.7:53 --proto udp -o json'],
  );
}
