/**
 * `vnetctl trace --from PORT --to IP[:PORT]`: a packet's logical path worked out from
 * the API objects (trace-logical.ts), then, when the source port's node runs its OVS on
 * this machine, what `ovs-appctl ofproto/trace` says about the same packet
 * (trace-ovs.ts). Through a load balancer's VIP, OVS hands new connections to a select
 * group whose bucket the datapath picks by hash, which ofproto/trace cannot follow: every
 * bucket is then traced with the packet as its DNAT leaves it. Every place where OVS and
 * the logical model disagree is named.
 */
import { Command, Option } from 'commander';
import type { HypervisorNode, LoadBalancer, VirtualNetwork, VirtualPort } from '../../resources/kinds';
import { attempt } from '../attempt';
import { UsageError } from '../errors';
import { kindByPlural } from '../kinds';
import { getObject, listObjects } from '../ops';
import type { Runtime } from '../runtime';
import { appctl, localOvsOf, ofctl, type NodeOvs } from './node-ovs';
import { examples, parser, type RuntimeOf } from './shared';
import { ipsOf, logicalPath, nodeOf, parseTarget, type LogicalLb, type LogicalPath, type Proto, type Target } from './trace-logical';
import { afterDnat, deliveryMismatch, matchBuckets, ovsFlow, parseGroupBuckets, summarizeOvsTrace, type OvsSummary } from './trace-ovs';

const NETWORKS = kindByPlural('virtualnetworks');
const PORTS = kindByPlural('virtualports');
const LBS = kindByPlural('loadbalancers');
const NODES = kindByPlural('nodes');

type Say = (line: string) => void;

/** "output to ofport 5 (vdemo-b1)" / "drop (...)": where OVS ends the packet, ports named. */
function whereOvs(s: OvsSummary, portAt: (ofport: number) => string | undefined): string {
  if (s.deliver !== true || s.outputs.length === 0) return `drop (datapath actions: ${s.actions})`;
  const outs = s.outputs.map((o) => `${o}${portAt(o) ? ` (${portAt(o)})` : ''}`).join(', ');
  return `output to ofport ${outs}${s.tunnelDsts.length ? `, tunnel destination ${s.tunnelDsts.join(', ')}` : ''}`;
}

/** Traces each bucket of the select group the VIP's listener uses; returns the disagreements and whether any bucket delivers. */
async function traceBuckets(ovs: NodeOvs, say: Say, lb: LogicalLb, groupId: number, flow: string, portAt: (ofport: number) => string | undefined): Promise<{ disagreements: string[]; delivering: number; traced: number }> {
  let dump: string;
  try {
    dump = await ofctl(ovs, 'dump-groups', 'br-int');
  } catch (e) {
    say(`  group:    cannot read select group ${groupId}: ${(e as Error).message}`);
    return { disagreements: [], delivering: 0, traced: 0 };
  }
  const buckets = parseGroupBuckets(dump, groupId);
  if (!buckets) return { disagreements: [`LbNat sends the packet to group ${groupId}, which br-int does not have`], delivering: 0, traced: 0 };
  say(`  group:    LbNat sends new connections to select group ${groupId} (${buckets.length} bucket${buckets.length === 1 ? '' : 's'}); the datapath picks the bucket by a hash of the 5-tuple (dp_hash), which ofproto/trace does not follow, so each bucket is traced with the packet as its DNAT leaves it:`);
  const { checks, missing } = matchBuckets(lb, buckets);
  const disagreements: string[] = [];
  let delivering = 0;
  let traced = 0;
  for (const c of checks) {
    const b = c.bucket;
    const head = `  bucket ${b.index}: DNAT to ${b.natIp ?? '?'}${b.natPort !== undefined ? `:${b.natPort}` : ''} (${c.backend ?? 'no logical backend'}, weight ${b.weight})`;
    disagreements.push(...c.mismatches.map((m) => `bucket ${b.index}: ${m}`));
    if (!b.natIp) {
      say(`${head}: not traced (${b.actions})`);
      continue;
    }
    let s: OvsSummary;
    try {
      s = summarizeOvsTrace(await appctl(ovs, ['ofproto/trace', '--ct-next', 'trk,new,dnat', 'br-int', afterDnat(flow, b.natIp, b.natPort)]));
    } catch (e) {
      say(`${head}: ofproto/trace failed: ${(e as Error).message}`);
      continue;
    }
    traced++;
    if (s.deliver === true) delivering++;
    const choice = lb.choices.find((x) => x.backend === c.backend);
    const mismatch = choice ? deliveryMismatch(choice.delivery, s) : undefined;
    if (mismatch) disagreements.push(`bucket ${b.index} (${choice!.backend}): ${mismatch}`);
    say(`${head}: ${s.tables.slice(s.tables.indexOf('LbNat')).join(' -> ') || s.tables.join(' -> ')}: ${whereOvs(s, portAt)}${choice ? (mismatch ? ': DISAGREES' : ': as the logical model says') : ''}`);
  }
  for (const m of missing) disagreements.push(`backend ${m} has no bucket in OVS's group: OVS never sends it a connection`);
  return { disagreements, delivering, traced };
}

async function traceOvs(rt: Runtime, say: Say, input: { from: VirtualPort; logical: LogicalPath; nodes: HypervisorNode[]; ports: VirtualPort[]; to: Target; proto: Proto }): Promise<void> {
  const { from, logical } = input;
  const node = input.nodes.find((n) => n.metadata.name === nodeOf(from));
  const ofport = from.status?.ofport;
  const ovs = node ? localOvsOf(node) : `port ${from.metadata.name} is not bound to a known node`;
  if (typeof ovs === 'string' || !ofport || !logical.dstMac) {
    say(`OVS: not traced here (${typeof ovs === 'string' ? ovs : !ofport ? `port ${from.metadata.name} has no ofport yet` : 'no destination MAC: the VM would not send this packet'})`);
    return;
  }
  const flow = ovsFlow(ofport, from, logical.dstMac, input.to, input.proto);
  let s: OvsSummary;
  try {
    s = summarizeOvsTrace(await appctl(ovs, ['ofproto/trace', 'br-int', flow]));
  } catch (e) {
    say(`OVS: ofproto/trace failed: ${(e as Error).message}`);
    return;
  }
  const here = node!.metadata.name;
  const portAt = (o: number) => input.ports.find((p) => p.status?.ofport === o && nodeOf(p) === here)?.metadata.name;
  say(`OVS ofproto/trace on node ${here} (br-int ${flow}):`);
  say(`  tables:   ${s.tables.join(' -> ') || '<none>'}`);
  say(`  datapath actions: ${s.actions}`);
  const disagreements: string[] = [];
  let deliver = s.deliver;
  let detail = '';
  const groupId = s.groups[s.groups.length - 1];
  if (logical.lb && groupId !== undefined) {
    const r = await traceBuckets(ovs, say, logical.lb, groupId, flow, portAt);
    disagreements.push(...r.disagreements);
    deliver = r.delivering > 0;
    detail = ` (${r.delivering} of ${r.traced} traced bucket${r.traced === 1 ? '' : 's'} deliver)`;
  } else if (s.deliver === undefined) {
    say('  verdict:  undetermined: the datapath recirculates and ofproto/trace does not follow it');
    say(`OVS reaches ${s.tables[s.tables.length - 1] ?? 'no table'} and recirculates; no drop seen, consistent with the logical path (${logical.deliver ? 'deliver' : 'drop'}) so far.`);
    return;
  } else if (logical.delivery) {
    const mismatch = deliveryMismatch(logical.delivery, s);
    if (mismatch) disagreements.push(mismatch);
    say(`  end:      ${whereOvs(s, portAt)}`);
  }
  say(`  verdict:  ${deliver ? 'deliver' : 'drop'}${detail}`);
  if (deliver !== logical.deliver) disagreements.unshift(`the logical model says ${logical.deliver ? 'deliver' : 'drop'} but OVS says ${deliver ? 'deliver' : 'drop'} (${s.actions})`);
  for (const d of disagreements) say(`DISAGREEMENT: ${d}`);
  if (disagreements.length === 0) say(`OVS agrees with the logical path (${logical.deliver ? 'deliver' : 'drop'}).${logical.lb && groupId !== undefined ? ' Every bucket is a logical backend and ends where the logical model says.' : ''}`);
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
  const say: Say = (s) => rt.io.out(`${s}\n`);
  say(`Logical path (${o.proto} ${ipsOf(from)[0] ?? '?'} -> ${o.to.ip}${o.to.port ? `:${o.to.port}` : ''}):`);
  for (const l of logical.lines) say(`  ${l}`);
  say(`  verdict:  ${logical.deliver ? 'deliver' : 'drop'}`);
  await traceOvs(rt, say, { from, logical, nodes, ports, to: o.to, proto: o.proto });
}

export function traceCommand(runtimeOf: RuntimeOf): Command {
  return examples(
    new Command('trace')
      .description("explain a packet's path: the logical decisions from the API objects and, on the node, OVS's ofproto/trace (through a VIP: every bucket of its select group); disagreements are named")
      .requiredOption('--from <port>', 'source VirtualPort')
      .requiredOption('--to <ip[:port]>', 'destination IPv4 address, optionally :PORT', parser(parseTarget))
      .addOption(new Option('--proto <proto>', 'protocol (default: tcp with a port, icmp without)').choices(['tcp', 'udp', 'icmp']))
      .action(async (o: { from: string; to: Target; proto?: Proto }, cmd: Command) => {
        const proto = o.proto ?? (o.to.port === undefined ? 'icmp' : 'tcp');
        if (proto === 'icmp' && o.to.port !== undefined) throw new UsageError(`--to ${o.to.ip}:${o.to.port}: a port makes no sense with --proto icmp`);
        await trace(runtimeOf(cmd), { from: o.from, to: o.to, proto });
      }),
    ['vnetctl trace --from vm1-eth0 --to 10.0.0.6', 'vnetctl -n demo trace --from vdemo-c1 --to 10.99.0.10:80 --proto tcp', 'vnetctl trace --from vm1-eth0 --to 10.0.0.7:53 --proto udp'],
  );
}
