/**
 * The OVS half of `vnetctl trace` through a VIP. OVS hands a new connection to the VIP
 * to multipath (LbNat), which hashes it into one of the VIP's slots (256 to 8192); LbSlot gives the slot
 * its backend, LbDnat DNATs to it (load-balancer.ts). ofproto/trace computes multipath
 * as the datapath does, and with --ct-next it resumes after each conntrack recirculation,
 * so one trace shows the backend OVS picks for this 5-tuple and where the packet ends.
 * Around it: the VIP's LbSlot and LbDnat flows (each backend's slots and DNAT) beside the
 * logical backends, and every other backend traced with the packet as its DNAT leaves it,
 * so a backend that would drop is named even when this 5-tuple does not pick it.
 */
import { TABLES } from '../../pipeline/tables';
import { appctl, ofctl, type NodeOvs } from './node-ovs';
import { backendRegisterValues } from '../../pipeline/load-balancer';
import { ipOfNumber, parseLbDnats, parseLbPick, parseLbSlots, type LbDnatFlow, type RegisterNames } from './trace-lb-flows';
import { checkLbFlows, pickReport, type LbBackendReport, type LbPickReport } from './trace-lb-match';
import { familyOf, type LogicalLb } from './trace-logical';
import { afterDnat, deliveryMismatch, summarizeOvsTrace, type OvsSummary } from './trace-ovs';

/** What OVS's conntrack says about a new connection at its first and second pass (ct(nat) in LbVip, ct(commit,nat) in LbDnat). */
export const VIP_CT_NEXT = ['--ct-next', 'trk,new', '--ct-next', 'trk,new,dnat'];

/** More backends than this are compared by their flows but not each traced. */
const MAX_TRACED = 32;

export interface LbOvsReport {
  /** LbSlot flows of the VIP in OVS, of the table's size (LogicalLb.slotCount). */
  slots: number;
  /** OVS's own pick for this packet; undefined when ofproto/trace did not reach a DNAT. */
  pick?: LbPickReport;
  backends: LbBackendReport[];
  /** Why the VIP's flows could not be read. */
  unread?: string;
}

/**
 * An IPv6 VIP's LbBackend register holds a hash of each backend's address: named by the
 * logical backend the pipeline gives that value (the same backendRegisterValues over the
 * same usable backends), else by the DNAT target of the LbDnat flow that matches it, else
 * shown as the value itself.
 */
export function ipv6RegisterNames(lb: LogicalLb, dnats: readonly LbDnatFlow[]): RegisterNames {
  const logical = new Map<number, string>();
  for (const [ip, value] of backendRegisterValues(lb.choices.filter((c) => c.weight > 0 && c.ip !== undefined).map((c) => ({ ip: c.ip! })))) logical.set(value, ip);
  const dnatTo = new Map(dnats.flatMap((d) => (d.nat ? [[d.register, d.nat.ip] as const] : [])));
  return (value) => logical.get(value) ?? dnatTo.get(value) ?? `0x${value.toString(16).padStart(8, '0')}`;
}

/** Where OVS ends the packet, for people. */
export type Where = (s: OvsSummary) => string;

/**
 * Fills the load balancer part of the report from the main trace (run with VIP_CT_NEXT)
 * and returns OVS's verdict: the picked backend's end, or when no pick was seen, whether
 * any backend's packet is delivered.
 */
export async function traceLoadBalancer(
  ovs: NodeOvs,
  lb: LogicalLb,
  main: { text: string; summary: OvsSummary; flow: string },
  where: Where,
  disagreements: string[],
): Promise<{ report: LbOvsReport; deliver: boolean | undefined }> {
  const report: LbOvsReport = { slots: 0, backends: [] };
  const l4 = lb.proto === 'icmp' ? undefined : lb.proto;
  const v6 = familyOf(lb.vip) === 6;
  let slotDump = '';
  let dnatDump = '';
  try {
    [slotDump, dnatDump] = await Promise.all(
      [TABLES.LbSlot, TABLES.LbDnat].map((t) => ofctl(ovs, 'dump-flows', 'br-int', [`table=${t.id},${v6 ? `ipv6,ipv6_dst` : 'ip,nw_dst'}=${lb.vip}`])),
    );
  } catch (e) {
    report.unread = `cannot read the VIP's LbSlot/LbDnat flows: ${(e as Error).message}`;
  }
  // Read once; an IPv6 VIP's register values are named from them too.
  const rawDnats = l4 ? parseLbDnats(dnatDump, lb.vip, l4, lb.port, lb.vni) : [];
  const names = v6 ? ipv6RegisterNames(lb, rawDnats) : ipOfNumber;
  const dnats = v6 ? rawDnats.map((d) => ({ ...d, backend: names(d.register) })) : rawDnats;
  const pick = parseLbPick(main.text, names);
  const slots = parseLbSlots(slotDump, lb.vip, lb.vni, names);
  report.slots = slots.size;
  const { checks, mismatches } = report.unread || !l4 ? { checks: [], mismatches: [] } : checkLbFlows(lb, slots, dnats);
  disagreements.push(...mismatches);
  if (pick) {
    report.pick = pickReport(lb, pick);
    if (!report.unread && !checks.some((c) => c.entry.ip === (pick.backend ?? pick.nat!.ip))) {
      disagreements.push(`OVS picks ${report.pick.dnat} for this 5-tuple, which is not a backend the logical model uses`);
    }
  }
  let traced = 0;
  for (const c of checks) {
    const e = c.entry;
    report.backends.push(e);
    e.picked = pick !== undefined && e.ip === (pick.backend ?? pick.nat!.ip);
    let s: OvsSummary | undefined;
    if (e.picked) {
      s = main.summary;
      const from = s.tables.indexOf(TABLES.LbNat.name);
      e.tables = from >= 0 ? s.tables.slice(from) : s.tables;
    } else if (c.nat && traced++ < MAX_TRACED) {
      try {
        s = summarizeOvsTrace(await appctl(ovs, ['ofproto/trace', '--ct-next', 'trk,new,dnat', 'br-int', afterDnat(main.flow, c.nat.ip, c.nat.port)]));
        const from = s.tables.indexOf(TABLES.LbNat.name);
        e.tables = from >= 0 ? s.tables.slice(from) : s.tables;
      } catch (err) {
        e.end = `ofproto/trace failed: ${(err as Error).message}`;
      }
    } else if (c.nat) e.end = `not traced (more than ${MAX_TRACED} backends)`;
    else e.end = 'not traced (no DNAT flow)';
    if (s) {
      Object.assign(e, { end: where(s), deliver: s.deliver === true });
      const m = c.choice ? deliveryMismatch(c.choice.delivery, s) : undefined;
      if (m) c.mismatches.push(`backend ${c.choice!.backend}${e.picked ? " (OVS's pick for this 5-tuple)" : ''}: ${m}`);
    }
    e.agrees = !!c.choice && c.mismatches.length === 0 && e.deliver !== undefined;
    disagreements.push(...c.mismatches);
  }
  if (pick || main.summary.deliver !== undefined) return { report, deliver: main.summary.deliver };
  const seen = report.backends.filter((b) => b.deliver !== undefined);
  return { report, deliver: seen.length ? seen.some((b) => b.deliver) : undefined };
}
