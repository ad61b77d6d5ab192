/**
 * The OVS half of `vnetctl trace`: the flow given to `ofproto/trace`, what its output
 * says (tables, OpenFlow outputs, tunnel destination, datapath actions), and where OVS's
 * end of the packet and the logical model's disagree. Pure text in, facts out: unit-tested
 * on captured outputs. A VIP's load balancer flows are read in trace-lb-flows.ts.
 */
import { tableName } from '../../pipeline/tables';
import type { VirtualPort } from '../../resources/kinds';
import { familyOf, macOf, sourceIp, type Delivery, type Proto, type Target } from './trace-logical';

/** The source port trace gives a TCP/UDP packet unless told otherwise. */
export const DEFAULT_SRC_PORT = 40000;

/** ofproto/trace's flow for the packet (IPv4 or IPv6, as the destination is). */
export function ovsFlow(ofport: number, from: VirtualPort, dstMac: string, to: Target, proto: Proto, srcPort = DEFAULT_SRC_PORT, srcIp = sourceIp(from, familyOf(to.ip)), srcMac = macOf(from)): string {
  const v6 = familyOf(to.ip) === 6;
  const [src, dst] = v6 ? ['ipv6_src', 'ipv6_dst'] : ['nw_src', 'nw_dst'];
  const f = [`in_port=${ofport}`, v6 ? `${proto}6` : proto, `dl_src=${srcMac}`, `dl_dst=${dstMac}`, `${src}=${srcIp}`, `${dst}=${to.ip}`, 'nw_ttl=64'];
  // The protocol's own field names: OVS 3.1 parses tp_src/tp_dst with tcp only.
  if (proto === 'icmp') f.push(v6 ? 'icmpv6_type=128' : 'icmp_type=8', v6 ? 'icmpv6_code=0' : 'icmp_code=0');
  else f.push(`${proto}_src=${srcPort}`, `${proto}_dst=${to.port ?? 80}`);
  return f.join(',');
}

export interface OvsSummary {
  tables: string[];
  actions: string;
  /** undefined: the trace ends in a recirculation ofproto/trace did not follow. */
  deliver: boolean | undefined;
  /** OpenFlow ports the packet is output to (the `output:N` actions). */
  outputs: number[];
  /** Tunnel destinations set before an output. */
  tunnelDsts: string[];
}

/**
 * The tables traversed (named), outputs and tunnel destinations of the traced
 * bridge (the first one in the output: br-int; a tunnel output continues into the
 * underlay bridge, whose tables are not the pipeline's), and the last "Datapath actions:".
 */
export function summarizeOvsTrace(text: string): OvsSummary {
  const tables: string[] = [];
  const outputs: number[] = [];
  const tunnelDsts: string[] = [];
  let traced: string | undefined;
  let inTraced = true;
  // An output to IN_PORT (ARP answers, a load balancer's hairpin) goes to the traced packet's own port.
  const inPort = Number(/^Flow: .*?\bin_port=(\d+)/m.exec(text)?.[1] ?? NaN);
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
    if (/^\s+IN_PORT\s*$/.test(line) && Number.isInteger(inPort)) outputs.push(inPort);
    // A flood's output to the port it came in on, which OVS skips (QA: listed as an output).
    if (/^\s+>> skipping output to input port\s*$/.test(line) && outputs[outputs.length - 1] === inPort) outputs.pop();
    const tun = /^\s+set_field:([0-9a-f.:]+)->tun_(?:ipv6_)?dst\s*$/i.exec(line);
    if (tun) tunnelDsts.push(tun[1]!);
  }
  const acts = [...text.matchAll(/^Datapath actions: (.*)$/gm)].map((m) => m[1]!.trim());
  const actions = acts[acts.length - 1] ?? '<none>';
  const outputsDp = /(^|,)\d+($|,)|output|set\(tunnel|tnl_push/.test(actions);
  const deliver = outputsDp ? true : /recirc\(/.test(actions) ? undefined : false;
  return { tables, actions, deliver, outputs, tunnelDsts };
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
      // A unicast the model delivers to one port that OVS also sends elsewhere: a flood (no L2 entry).
      if (new Set(s.outputs).size > 1 || s.tunnelDsts.length) return `the logical model delivers it to port ${expected.port} only but OVS floods it: ${where}`;
      return undefined;
    case 'flood':
      // Flooded or dropped, no VM takes it either way.
      return undefined;
    case 'refused':
      return deliveryMismatch(expected.inner, s);
    case 'tunnel':
      if (s.deliver !== true || s.outputs.length === 0) return `the logical model tunnels it to node ${expected.node} but OVS drops it (${s.actions})`;
      if (expected.vtep && !s.tunnelDsts.includes(expected.vtep)) return `the logical model tunnels it to ${expected.node}'s VTEP ${expected.vtep} but OVS sends it to ${where}`;
      if (s.outputs.length > 1 || new Set(s.tunnelDsts).size > 1) return `the logical model tunnels it to ${expected.node} only but OVS floods it: ${where}`;
      return undefined;
  }
}

/** The flow of the packet as it looks after a backend's DNAT (destination rewritten). */
export function afterDnat(flow: string, ip: string, port: number | undefined): string {
  let f = flow.replace(/(^|,)(nw_dst|ipv6_dst)=[^,]+/, `$1$2=${ip}`);
  if (port !== undefined) f = f.replace(/(^|,)(tp|tcp|udp|sctp)_dst=[^,]+/, `$1$2_dst=${port}`);
  return f;
}
