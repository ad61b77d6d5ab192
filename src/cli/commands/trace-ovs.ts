/**
 * The OVS half of `vnetctl trace`: the flow given to `ofproto/trace`, what its output
 * says (tables, OpenFlow outputs, tunnel destination, datapath actions, select groups),
 * a select group's buckets from `ovs-ofctl dump-groups`, and where OVS and the logical
 * model disagree. Pure text in, facts out: unit-tested on captured outputs.
 */
import { tableName } from '../../pipeline/tables';
import type { VirtualPort } from '../../resources/kinds';
import { ipsOf, macOf, type Delivery, type LogicalLb, type Proto, type Target } from './trace-logical';

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
  /** OpenFlow ports the packet is output to (the `output:N` actions). */
  outputs: number[];
  /** Tunnel destinations set before an output. */
  tunnelDsts: string[];
  /** Groups the packet was sent to. */
  groups: number[];
}

/**
 * The tables traversed (named), outputs, tunnel destinations and groups of the traced
 * bridge (the first one in the output: br-int; a tunnel output continues into the
 * underlay bridge, whose tables are not the pipeline's), and the last "Datapath actions:".
 */
export function summarizeOvsTrace(text: string): OvsSummary {
  const tables: string[] = [];
  const outputs: number[] = [];
  const tunnelDsts: string[] = [];
  const groups: number[] = [];
  let traced: string | undefined;
  let inTraced = true;
  for (const line of text.split('\n')) {
    const bridge = /^\s*bridge\("([^"]+)"\)/.exec(line);
    if (bridge) {
      traced ??= bridge[1];
      inTraced = bridge[1] === traced;
      continue;
    }
    if (!inTraced) continue;
    const table = /^\s*(\d+)\. /.exec(line);
    if (table) {
      const n = tableName(Number(table[1]));
      if (tables[tables.length - 1] !== n) tables.push(n);
      continue;
    }
    const out = /^\s+output:(\d+)\s*$/.exec(line);
    if (out) outputs.push(Number(out[1]));
    const tun = /^\s+set_field:([0-9.]+)->tun_dst\s*$/.exec(line);
    if (tun) tunnelDsts.push(tun[1]!);
    const group = /^\s+group:(\d+)\s*$/.exec(line);
    if (group) groups.push(Number(group[1]));
  }
  const acts = [...text.matchAll(/^Datapath actions: (.*)$/gm)].map((m) => m[1]!.trim());
  const actions = acts[acts.length - 1] ?? '<none>';
  const outputsDp = /(^|,)\d+($|,)|output|set\(tunnel|tnl_push/.test(actions);
  const deliver = outputsDp ? true : /recirc\(/.test(actions) ? undefined : false;
  return { tables, actions, deliver, outputs, tunnelDsts, groups };
}

export interface GroupBucket {
  index: number;
  weight: number;
  actions: string;
  /** The DNAT the bucket applies, when it has one. */
  natIp?: string;
  natPort?: number;
}

/** The buckets of one group in `ovs-ofctl -O OpenFlow13 dump-groups` output; undefined when the group is not there. */
export function parseGroupBuckets(dump: string, groupId: number): GroupBucket[] | undefined {
  const line = dump.split('\n').find((l) => new RegExp(`\\bgroup_id=${groupId},`).test(l));
  if (!line) return undefined;
  return line
    .split(/,bucket=/)
    .slice(1)
    .map((b, index) => {
      const weight = /(?:^|,)weight:(\d+)/.exec(b);
      const actions = /actions=(.*)$/.exec(b)?.[1] ?? b;
      const nat = /nat\(dst=([0-9.]+)(?::(\d+))?/.exec(actions);
      return { index, weight: weight ? Number(weight[1]) : 1, actions, natIp: nat?.[1], natPort: nat?.[2] !== undefined ? Number(nat[2]) : undefined };
    });
}

/** Why OVS's end of the packet differs from the logical delivery; undefined when they agree. */
export function deliveryMismatch(expected: Delivery, s: OvsSummary): string | undefined {
  const where = s.outputs.length ? `output to ofport ${s.outputs.join(', ')}${s.tunnelDsts.length ? ` with tunnel destination ${s.tunnelDsts.join(', ')}` : ''}` : `drop (${s.actions})`;
  switch (expected.kind) {
    case 'drop':
      return s.deliver === true ? `the logical model drops it (${expected.why}) but OVS delivers it (${where})` : undefined;
    case 'local':
      if (s.deliver !== true || s.outputs.length === 0) return `the logical model delivers it to local port ${expected.port} but OVS drops it (${s.actions})`;
      if (expected.ofport !== undefined && !s.outputs.includes(expected.ofport)) return `the logical model delivers it to port ${expected.port} (ofport ${expected.ofport}) but OVS sends it to ${where}`;
      return undefined;
    case 'tunnel':
      if (s.deliver !== true || s.outputs.length === 0) return `the logical model tunnels it to node ${expected.node} but OVS drops it (${s.actions})`;
      if (expected.vtep && !s.tunnelDsts.includes(expected.vtep)) return `the logical model tunnels it to ${expected.node}'s VTEP ${expected.vtep} but OVS sends it to ${where}`;
      return undefined;
  }
}

export interface BucketCheck {
  bucket: GroupBucket;
  /** The logical backend the bucket corresponds to (by DNAT address). */
  backend?: string;
  mismatches: string[];
}

/**
 * Pairs each bucket with the logical backend of the same address and lists what does not
 * line up: buckets for backends the logical model does not use, backends without a
 * bucket, other target ports or weights. Per-bucket delivery is compared by the caller
 * after tracing the bucket.
 */
export function matchBuckets(lb: LogicalLb, buckets: GroupBucket[]): { checks: BucketCheck[]; missing: string[] } {
  const checks = buckets.map((bucket) => {
    const choice = lb.choices.find((c) => c.ip === bucket.natIp);
    const mismatches: string[] = [];
    if (!bucket.natIp) mismatches.push(`bucket ${bucket.index} does no DNAT (${bucket.actions})`);
    else if (!choice) {
      const why = lb.unhealthyIps.includes(bucket.natIp) ? ' (the status reports it unhealthy)' : '';
      mismatches.push(`OVS can send new connections to ${bucket.natIp}, which is not a backend the logical model uses${why}`);
    } else {
      if (bucket.natPort !== undefined && bucket.natPort !== choice.targetPort) mismatches.push(`OVS DNATs to port ${bucket.natPort}, the listener's target port is ${choice.targetPort}`);
      if (bucket.weight !== choice.weight) mismatches.push(`OVS weighs ${choice.backend} ${bucket.weight}, the spec says ${choice.weight}`);
    }
    return { bucket, backend: choice?.backend, mismatches };
  });
  const missing = lb.choices.filter((c) => !buckets.some((b) => b.natIp === c.ip)).map((c) => c.backend);
  return { checks, missing };
}

/** The flow of the packet as it looks after a bucket's DNAT (destination rewritten). */
export function afterDnat(flow: string, ip: string, port: number | undefined): string {
  let f = flow.replace(/(^|,)nw_dst=[^,]+/, `$1nw_dst=${ip}`);
  if (port !== undefined) f = f.replace(/(^|,)tp_dst=[^,]+/, `$1tp_dst=${port}`);
  return f;
}
