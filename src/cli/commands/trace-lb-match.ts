/**
 * A VIP's slot table and DNAT flows in OVS beside the logical model's backends: each
 * backend's slots (its share of new connections), its DNAT, and every place they do not
 * line up, as the pipeline builds them (load-balancer.ts): one LbDnat flow per healthy
 * backend, lb.slotCount slots dealt by dealSlots over the healthy backends by weight.
 */
import { dealSlots } from '../../pipeline/load-balancer';
import type { LbDnatFlow, LbPick } from './trace-lb-flows';
import { hostPort, type LbChoice, type LogicalLb } from './trace-logical';

export interface LbBackendReport {
  /** The backend's address as OVS's flows carry it (LbSlot's load, LbDnat's match). */
  ip: string;
  /** The logical backend with this address; undefined when the logical model has none. */
  backend?: string;
  /** Its weight in the spec (logical backends only). */
  weight?: number;
  /** Slots of OVS's LbSlot table that lead to it. */
  slots: number;
  /** slots / the table's size, in percent (one decimal): its share of new connections. */
  share: number;
  /** Slots vnetd's dealing over the logical backends gives it (logical backends only). */
  dealt?: number;
  /** Where its LbDnat flow DNATs ("ip:port"); undefined when it has no LbDnat flow. */
  dnat?: string;
  /** New connections its LbDnat flow dispatched on this node. */
  connections?: number;
  /** OVS picks it for this packet's 5-tuple. */
  picked?: boolean;
  /** Tables after its DNAT (for the picked one: from the slot hash on). */
  tables: string[];
  /** Where OVS ends the packet for this backend. */
  end: string;
  deliver?: boolean;
  agrees: boolean;
}

export interface LbCheck {
  entry: LbBackendReport;
  choice?: LbChoice;
  /** Its LbDnat flow's target, to trace the packet as it leaves the DNAT. */
  nat?: { ip: string; port?: number };
  mismatches: string[];
}

const pct = (n: number, of: number) => Math.round((n / of) * 1000) / 10;

/** Slot -> logical backend as vnetd deals them (as activeBackends: weight > 0, one per address). */
export function dealtBackends(lb: LogicalLb): (LbChoice | undefined)[] {
  const usable = lb.choices.filter((c) => c.weight > 0);
  return usable.length ? dealSlots(usable.map((c) => ({ key: c.ip!, weight: c.weight })), lb.slotCount).map((i) => usable[i]) : [];
}

/**
 * Pairs OVS's slot table and LbDnat flows with the logical backends. Backends come first
 * in the spec's order, then addresses only OVS has. Global mismatches (missing slots, a
 * slot table dealt otherwise than vnetd deals it) are separate from each backend's.
 */
export function checkLbFlows(lb: LogicalLb, slots: Map<number, string | undefined>, dnats: LbDnatFlow[]): { checks: LbCheck[]; mismatches: string[] } {
  const where = `${hostPort(lb.vip, lb.port)}/${lb.proto}`;
  const mismatches: string[] = [];
  const dealt = dealtBackends(lb);
  const held = new Map<string, number>();
  for (const ip of slots.values()) if (ip !== undefined) held.set(ip, (held.get(ip) ?? 0) + 1);
  const empty = [...slots].filter(([, ip]) => ip === undefined).map(([s]) => s);
  if (empty.length) mismatches.push(`OVS's LbSlot flows for ${lb.vip} of slot${empty.length === 1 ? '' : 's'} ${list(empty)} load no backend: new connections hashed there are dropped`);
  const size = lb.slotCount;
  const missing = Array.from({ length: size }, (_, s) => s).filter((s) => !slots.has(s));
  if (lb.choices.length && missing.length) mismatches.push(`OVS has ${size - missing.length} of ${size} LbSlot flows for ${lb.vip}: new connections hashed to slot${missing.length === 1 ? '' : 's'} ${list(missing)} are dropped`);
  const ips = [...new Set([...lb.choices.map((c) => c.ip!), ...held.keys(), ...dnats.map((d) => d.backend)])];
  const sameSet = ips.length === lb.choices.length && lb.choices.every((c) => held.has(c.ip!));
  if (sameSet && !missing.length && !empty.length) {
    const off = [...slots].filter(([s, ip]) => dealt[s]?.ip !== ip);
    if (off.length) {
      const [s, ip] = off[0]!;
      mismatches.push(`OVS's LbSlot table for ${lb.vip} differs from vnetd's dealing over the same backends in ${off.length} of ${size} slots (e.g. slot ${s}: OVS ${nameOf(lb, ip)}, dealt to ${dealt[s]?.backend ?? 'none'})`);
    }
  }
  const checks = ips.map((ip): LbCheck => {
    const choice = lb.choices.find((c) => c.ip === ip);
    const n = held.get(ip) ?? 0;
    const flow = dnats.find((d) => d.backend === ip);
    const nat = flow?.nat;
    const entry: LbBackendReport = { ip, slots: n, share: pct(n, lb.slotCount), tables: [], end: 'not traced', agrees: false };
    if (choice) Object.assign(entry, { backend: choice.backend, weight: choice.weight, dealt: dealt.filter((c) => c === choice).length });
    if (nat) entry.dnat = hostPort(nat.ip, nat.port);
    if (flow) entry.connections = flow.packets;
    const out: string[] = [];
    if (!choice) {
      const why = lb.unhealthyIps.includes(ip) ? ' (the status reports it unhealthy)' : '';
      if (n) out.push(`OVS deals ${n} of ${size} slots of ${lb.vip} to ${ip}, which is not a backend the logical model uses${why}`);
      if (flow) out.push(`OVS has an LbDnat flow for ${where} to ${entry.dnat ?? ip}${n ? '' : ' (no slot leads to it)'}, which is not a backend the logical model uses${why}`);
    } else {
      if (!n) out.push(`backend ${choice.backend} (weight ${choice.weight}) holds none of OVS's ${size} slots for ${lb.vip}: OVS never sends it a new connection`);
      if (!flow) out.push(`backend ${choice.backend} has no LbDnat flow for ${where}${n ? `: new connections hashed to its ${n} slot${n === 1 ? '' : 's'} are dropped` : ''}`);
      else if (!nat) out.push(`OVS's LbDnat flow for backend ${choice.backend} does no DNAT (${flow.actions})`);
      else {
        if (nat.ip !== ip) out.push(`OVS's LbDnat flow for backend ${choice.backend} (${ip}) DNATs to ${nat.ip}`);
        if (nat.port !== undefined && nat.port !== choice.targetPort) out.push(`OVS DNATs ${choice.backend}'s connections to port ${nat.port}, the listener's target port is ${choice.targetPort}`);
      }
    }
    return { entry, choice, nat, mismatches: out };
  });
  return { checks, mismatches };
}

/** What the report says about OVS's pick for this packet. */
export interface LbPickReport {
  /** The slot multipath hashed the packet to. */
  slot?: number;
  /** Where the packet is DNATed ("ip:port"). */
  dnat: string;
  /** The logical backend it is; undefined when the logical model has no such backend. */
  backend?: string;
  /** The logical backend vnetd's dealing gives the slot. */
  dealtTo?: string;
}

export function pickReport(lb: LogicalLb, pick: LbPick): LbPickReport {
  const nat = pick.nat!;
  const ip = pick.backend ?? nat.ip;
  const slot = pick.slot !== undefined ? dealtBackends(lb)[pick.slot] : undefined;
  return { slot: pick.slot, dnat: hostPort(nat.ip, nat.port), backend: lb.choices.find((c) => c.ip === ip)?.backend, dealtTo: slot?.backend };
}

function nameOf(lb: LogicalLb, ip: string | undefined): string {
  return lb.choices.find((c) => c.ip === ip)?.backend ?? ip ?? 'none';
}

function list(ns: number[]): string {
  return ns.length > 6 ? `${ns.slice(0, 6).join(', ')} and ${ns.length - 6} more` : ns.join(', ');
}
