/**
 * A VIP's load balancer flows as OVS has them, read from text: the LbSlot table (slot ->
 * backend address, from `ovs-ofctl dump-flows br-int table=<LbSlot>`), the LbDnat flows
 * (backend address -> DNAT target, `table=<LbDnat>`), and the backend one ofproto/trace
 * run picks (multipath's slot, the slot's backend, the DNAT it reaches). Pure text in,
 * facts out: unit-tested on captured outputs. Field and table names come from the
 * pipeline's own declarations, so a renumbering follows.
 */
import { LbBackendField, LbSlotField, NetworkField, type RegField } from '../../pipeline/fields';
import { TABLES, tableName } from '../../pipeline/tables';
import { canonicalIfIp } from '../../ipam/address';
import { familyOf } from './trace-logical';

/** One flow of a `dump-flows` answer: its table, match fields and actions. */
export interface DumpedFlow {
  table: number;
  priority: number;
  /** Match fields as printed ("reg2" -> "0x7/0xff", "tcp" -> ""). */
  match: Map<string, string>;
  actions: string;
  packets: number;
}

export function parseFlowDump(dump: string): DumpedFlow[] {
  const flows: DumpedFlow[] = [];
  for (const line of dump.split('\n')) {
    const m = /\btable=(\d+),.*?\bn_packets=(\d+),.*?\s(\S*)\s+actions=(.*)$/.exec(line);
    if (!m) continue;
    const match = new Map<string, string>();
    for (const part of m[3]!.split(',')) {
      const eq = part.indexOf('=');
      if (part) match.set(eq < 0 ? part : part.slice(0, eq), eq < 0 ? '' : part.slice(eq + 1));
    }
    flows.push({ table: Number(m[1]), priority: Number(match.get('priority') ?? 0), match, actions: m[4]!.trim(), packets: Number(m[2]) });
  }
  return flows;
}

const num = (text: string): number => (/^0x/i.test(text) ? parseInt(text, 16) : Number(text));

/** The value of a register field in a match ("reg0=0x4547f0/0xffffff"); undefined when not matched. */
export function fieldValue(f: DumpedFlow, field: RegField): number | undefined {
  const text = f.match.get(field.sub.field);
  if (text === undefined) return undefined;
  const [v, mask] = text.split('/');
  const bits = field.sub.nbits >= 32 ? 0xffffffff : (1 << field.sub.nbits) - 1;
  return (Math.floor(((num(v!) & (mask === undefined ? 0xffffffff : num(mask))) >>> 0) / 2 ** field.sub.ofs) & bits) >>> 0;
}

export const ipOfNumber = (n: number): string => [24, 16, 8, 0].map((s) => (n >>> s) & 0xff).join('.');

/**
 * What a LbBackend register value names: an IPv4 backend's value is its address; an IPv6
 * backend's is a hash of its address (backendRegisterValues), named by whoever knows it.
 */
export type RegisterNames = (value: number) => string;

/** "NXM_NX_REG3[]" / "NXM_NX_REG2[0..7]": how ovs-ofctl and ofproto/trace print a register field. */
function nxmName(f: RegField): string {
  const reg = `NXM_NX_${f.sub.field.toUpperCase()}`;
  return f.sub.nbits >= 32 ? `${reg}\\[\\]` : `${reg}\\[${f.sub.ofs}\\.\\.${f.sub.ofs + f.sub.nbits - 1}\\]`;
}

/** The value an action list loads into a register field (load: or set_field:), if it does. */
function loadedValue(actions: string, f: RegField): number | undefined {
  const m = new RegExp(`(?:load|set_field):(0x[0-9a-f]+|\\d+)->(?:${nxmName(f)}|${f.sub.field}\\b)`, 'i').exec(actions);
  return m ? num(m[1]!) : undefined;
}

/** The DNAT of a ct action: "nat(dst=10.0.0.4:8080)", "nat(dst=[fd00::4]:8080)", "nat(dst=fd00::4)" -> ip and port. */
export function natOf(actions: string): { ip: string; port?: number } | undefined {
  const m = /nat\(dst=(?:\[([0-9a-f:.]+)\](?:-\[[0-9a-f:.]+\])?|(\d{1,3}(?:\.\d{1,3}){3})(?:-[0-9.]+)?|([0-9a-f:.]*:[0-9a-f:.]*)(?:-[0-9a-f:.]+)?)(?::(\d+)(?:-\d+)?)?/i.exec(actions);
  return m ? { ip: canonicalIfIp(m[1] ?? m[2] ?? m[3]!), port: m[4] !== undefined ? Number(m[4]) : undefined } : undefined;
}

/** Which flows of a dump belong to one VIP of one network (every LB table matches both). */
function ofVip(flows: DumpedFlow[], table: number, vip: string, vni: number | undefined): DumpedFlow[] {
  const dst = familyOf(vip) === 6 ? 'ipv6_dst' : 'nw_dst';
  return flows.filter((f) => f.table === table && canonicalIfIp(f.match.get(dst) ?? '') === vip && (vni === undefined || fieldValue(f, NetworkField) === vni));
}

/** The VIP's slot table: slot -> backend (undefined: the slot's flow loads no backend). */
export function parseLbSlots(dump: string, vip: string, vni?: number, names: RegisterNames = ipOfNumber): Map<number, string | undefined> {
  const slots = new Map<number, string | undefined>();
  for (const f of ofVip(parseFlowDump(dump), TABLES.LbSlot.id, vip, vni)) {
    const slot = fieldValue(f, LbSlotField);
    if (slot === undefined) continue;
    const backend = loadedValue(f.actions, LbBackendField);
    slots.set(slot, backend === undefined ? undefined : names(backend));
  }
  return slots;
}

export interface LbDnatFlow {
  /** The backend register value the flow matches (what a slot loads). */
  register: number;
  /** The backend that value names. */
  backend: string;
  /** Where its ct action DNATs to; undefined when it does no DNAT. */
  nat?: { ip: string; port?: number };
  actions: string;
  /** New connections it dispatched on this node. */
  packets: number;
}

/** The LbDnat flows of one VIP listener (protocol and port). */
export function parseLbDnats(dump: string, vip: string, proto: 'tcp' | 'udp' | 'sctp', port: number, vni?: number, names: RegisterNames = ipOfNumber): LbDnatFlow[] {
  const l4 = familyOf(vip) === 6 ? `${proto}6` : proto;
  return ofVip(parseFlowDump(dump), TABLES.LbDnat.id, vip, vni)
    .filter((f) => f.match.has(l4) && num(f.match.get('tp_dst') ?? f.match.get(`${proto}_dst`) ?? '-1') === port)
    .flatMap((f) => {
      const register = fieldValue(f, LbBackendField);
      return register === undefined ? [] : [{ register, backend: names(register), nat: natOf(f.actions), actions: f.actions, packets: f.packets }];
    });
}

/** What one ofproto/trace run says about the load balancer: the slot, its backend, the DNAT. */
export interface LbPick {
  slot?: number;
  /** The backend the slot's LbSlot flow loads. */
  backend?: string;
  /** The DNAT of the LbDnat flow the packet reached. */
  nat?: { ip: string; port?: number };
}

/**
 * Follows the traced bridge's table sections of an ofproto/trace output (with --ct-next,
 * it resumes after each recirculation): multipath's result into the slot register in
 * LbNat, the backend loaded in LbSlot, the nat(dst=...) in LbDnat. undefined when the
 * packet never reached LbDnat's DNAT.
 */
export function parseLbPick(text: string, names: RegisterNames = ipOfNumber): LbPick | undefined {
  const pick: LbPick = {};
  const slotIs = new RegExp(`-> ${nxmName(LbSlotField)} is now (0x[0-9a-f]+|\\d+)`, 'i');
  let table: string | undefined;
  for (const line of text.split('\n')) {
    const t = /^\s*(\d+)\. /.exec(line);
    if (t) {
      table = tableName(Number(t[1]));
      continue;
    }
    const slot = slotIs.exec(line);
    if (slot) pick.slot = num(slot[1]!) & ((1 << LbSlotField.sub.nbits) - 1);
    if (table === TABLES.LbSlot.name) {
      const b = loadedValue(line, LbBackendField);
      if (b !== undefined) pick.backend = names(b);
    }
    if (table === TABLES.LbDnat.name && /^\s*ct\(/.test(line)) pick.nat ??= natOf(line);
  }
  return pick.nat ? pick : undefined;
}
