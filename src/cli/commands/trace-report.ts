/**
 * The report of `vnetctl trace`: its shape (the same facts for -o json|yaml) and its text
 * for people.
 */
import type { LbOvsReport } from './trace-lb';
import type { LbBackendReport } from './trace-lb-match';
import { hostPort, type LogicalLb, type Proto } from './trace-logical';
import type { OvsSummary } from './trace-ovs';

export interface TraceReport {
  packet: { from: string; src?: string; srcMac?: string; srcPort?: number; to: string; proto: Proto };
  /** refused: a drop the sender is told of (a TCP RST, a port unreachable from a VIP). */
  logical: { steps: string[]; verdict: 'deliver' | 'drop'; refused?: string; loadBalancer?: LogicalLb };
  ovs: {
    node?: string;
    /** Why OVS was not traced here, when it was not. */
    skipped?: string;
    flow?: string;
    tables?: string[];
    datapathActions?: string;
    end?: string;
    /** Through a VIP: OVS's pick for this packet, and each backend's slots, DNAT and end. */
    loadBalancer?: LbOvsReport;
    verdict?: 'deliver' | 'drop' | 'undetermined';
    /** A tunneled packet traced again on arrival at its destination node. */
    remote?: RemoteHop;
  };
  disagreements: string[];
  /**
   * What the nodes on the path report against it (a switch not answering, tunnels whose
   * probes come back from no peer): a trace of the flow tables alone says deliver across a
   * cut underlay or a stopped switch (QA-93).
   */
  trouble?: string[];
  /** undefined when OVS was not traced (or could not be followed to the end). */
  agrees?: boolean;
}

/** The packet on arrival at the far end of its tunnel. */
export interface RemoteHop {
  node: string;
  /** Why it was not traced there, when it was not (that node's OVS runs elsewhere...). */
  skipped?: string;
  flow?: string;
  tables?: string[];
  datapathActions?: string;
  end?: string;
}

export type PortAt = (ofport: number) => string | undefined;

/** "output to ofport 5 (vdemo-b1)" / "drop (...)": where OVS ends the packet, ports named. */
export function whereOvs(s: OvsSummary, portAt: PortAt): string {
  if (s.deliver !== true && /userspace\(.*controller\(/.test(s.actions)) return `to vnetd (controller), which refuses a new connection with a TCP RST, an ICMP or ICMPv6 port unreachable or an SCTP ABORT (datapath actions: ${s.actions})`;
  if (s.deliver !== true || s.outputs.length === 0) return `drop (datapath actions: ${s.actions})`;
  const outs = s.outputs.map((o) => `${o}${portAt(o) ? ` (${portAt(o)})` : ''}`).join(', ');
  return `output to ofport ${outs}${s.tunnelDsts.length ? `, tunnel destination ${s.tunnelDsts.join(', ')}` : ''}`;
}

function backendLine(b: LbBackendReport): string {
  const who = b.backend ? `${b.backend}${b.backend !== b.ip ? ` ${b.ip}` : ''}` : `${b.ip} (no logical backend)`;
  const dealt = b.dealt !== undefined && b.dealt !== b.slots ? `, vnetd deals it ${b.dealt}` : '';
  const facts = [`${b.slots} slot${b.slots === 1 ? '' : 's'} (${b.share}%${dealt})`, ...(b.weight !== undefined ? [`weight ${b.weight}`] : []), b.dnat ? `DNAT to ${b.dnat}` : 'no LbDnat flow'];
  const path = b.tables.length ? `${b.picked ? "OVS's pick: " : 'after its DNAT: '}${b.tables.join(' -> ')}: ` : '';
  const judged = b.deliver === undefined ? '' : b.agrees ? ': as the logical model says' : ': DISAGREES';
  return `  backend ${who}: ${facts.join(', ')}: ${path}${b.end}${judged}`;
}

function lbLines(r: TraceReport, lb: LbOvsReport): string[] {
  const out: string[] = [];
  if (lb.unread) out.push(`  lb:       ${lb.unread}`);
  else out.push(`  lb:       ${lb.slots} of ${r.logical.loadBalancer?.slotCount ?? '?'} slots in LbSlot for ${r.logical.loadBalancer?.vip ?? 'the VIP'}, ${lb.backends.filter((b) => b.dnat).length} LbDnat flow(s) for ${r.packet.to}/${r.packet.proto}`);
  const p = lb.pick;
  if (p) {
    const slot = p.slot !== undefined ? `: multipath hashes it to slot ${p.slot}${p.dealtTo ? ` (vnetd deals slot ${p.slot} to ${p.dealtTo})` : ''}` : '';
    out.push(`  pick:     OVS picks ${p.backend ?? `${p.dnat} (no logical backend)`} (DNAT to ${p.dnat}) for this 5-tuple${slot}`);
  } else out.push(`  pick:     ofproto/trace did not reach a DNAT in LbDnat${lb.backends.length ? ': each backend is traced with the packet as its DNAT leaves it' : ''}`);
  for (const b of lb.backends) out.push(backendLine(b));
  return out;
}

/** The report as text for people. */
export function renderTraceText(r: TraceReport): string {
  const out: string[] = [`Logical path (${r.packet.proto} ${r.packet.src === undefined ? '?' : hostPort(r.packet.src, r.packet.srcPort)}${r.packet.srcMac ? ` from ${r.packet.srcMac}` : ''} -> ${r.packet.to}):`, ...r.logical.steps.map((l) => `  ${l}`), `  verdict:  ${r.logical.refused ? `refused (${r.logical.refused})` : r.logical.verdict}`];
  const o = r.ovs;
  const lb = o.loadBalancer;
  if (o.flow === undefined) out.push(`OVS: not traced here (${o.skipped ?? 'unknown reason'})`);
  else if (o.tables === undefined) out.push(`OVS: ${o.skipped ?? 'not traced'}`);
  else {
    out.push(`OVS ofproto/trace on node ${o.node} (br-int ${o.flow}):`, `  tables:   ${o.tables.join(' -> ') || '<none>'}`, `  datapath actions: ${o.datapathActions}`);
    if (lb) out.push(...lbLines(r, lb));
    if (o.end) out.push(`  end:      ${o.end}`);
    if (o.verdict === 'undetermined') {
      out.push('  verdict:  undetermined: the datapath recirculates and ofproto/trace does not follow it');
      out.push(`OVS reaches ${o.tables[o.tables.length - 1] ?? 'no table'} and recirculates; no drop seen, consistent with the logical path (${r.logical.verdict}) so far.`);
    } else {
      const traced = lb?.backends.filter((b) => b.deliver !== undefined) ?? [];
      const detail = !lb ? '' : lb.pick ? ` (for this 5-tuple: OVS picks ${lb.pick.backend ?? lb.pick.dnat})` : ` (${traced.filter((b) => b.deliver).length} of ${traced.length} traced backend${traced.length === 1 ? '' : 's'} deliver)`;
      out.push(`  verdict:  ${o.verdict}${detail}`);
    }
  }
  const rh = o.remote;
  if (rh?.tables) out.push(`OVS ofproto/trace on node ${rh.node}, arriving through the tunnel (br-int ${rh.flow}):`, `  tables:   ${rh.tables.join(' -> ') || '<none>'}`, `  datapath actions: ${rh.datapathActions}`, `  end:      ${rh.end}`);
  else if (rh) out.push(`OVS on node ${rh.node}: not traced (${rh.skipped ?? 'unknown reason'})`);
  for (const d of r.disagreements) out.push(`DISAGREEMENT: ${d}`);
  for (const t of r.trouble ?? []) out.push(`TROUBLE on the path: ${t}`);
  const viaBackends = r.logical.loadBalancer && r.trouble?.some((t) => / \(the node of backends? /.test(t));
  const but = !r.trouble?.length ? '' : viaBackends ? ' in its flow tables; but connections dealt to the backends named in TROUBLE above would not get through, as the nodes report' : ' in its flow tables; but the packet would not get through as the nodes report (TROUBLE above)';
  if (r.agrees) out.push(`OVS agrees with the logical path (${r.logical.verdict})${but}.${lb?.backends.length && !but ? ' Every backend holds slots and a DNAT flow and ends where the logical model says.' : ''}`);
  return `${out.join('\n')}\n`;
}
