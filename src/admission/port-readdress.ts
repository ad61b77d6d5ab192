/**
 * A VirtualPort update that changes its MAC or addresses (as a Neutron port's fixed IPs):
 * what changes, the claims of the new ones and the releases of the old ones, which commit in
 * the update's own transaction (an address is never both free and held, and a refused update
 * changes nothing), and what the VM must do about it.
 */
import { canonicalIp, parseMac, tryParseIp } from '../ipam';
import { AllocationRegistry, ipKey, macKey, type Allocation, type AllocationOwner } from '../ipam/allocation-registry';
import type { VirtualPortSpec } from '../resources/kinds';
import type { StatusCause } from '../resources/status';
import type { TxnOp } from '../store/store';
import { SUBNET_CHANGING, type AdmissionContext } from './admission';
import { allocatorsOf, checkRequestedIp } from './address-claims';
import { networkForClaims } from './subnet-changes';

/** What an update does to the port's MAC and addresses. */
export interface Readdressing {
  /** The MAC after the update (the old one when spec.mac is omitted or invalid). */
  mac: string | undefined;
  macChanged: boolean;
  /** spec.ips as asked, canonical where they parse (undefined: omitted). */
  asked: string[] | undefined;
  /** The addresses after the update: those asked, or the old ones when none are. */
  ips: string[];
  added: string[];
  removed: string[];
}

/** The change `spec` asks of the port stored as `was`; a bad MAC or a repeated address goes to `causes`. */
export function readdressingOf(was: VirtualPortSpec, spec: VirtualPortSpec, causes: StatusCause[]): Readdressing {
  let mac = was.mac;
  if (spec.mac !== undefined) {
    try {
      mac = parseMac(spec.mac);
    } catch (err) {
      causes.push({ field: 'spec.mac', reason: 'FieldValueInvalid', message: `Invalid value: "${spec.mac}": ${(err as Error).message}` });
    }
  }
  const asked = spec.ips?.map((ip) => (tryParseIp(ip) ? canonicalIp(ip) : ip));
  const seen = new Set<string>();
  (asked ?? []).forEach((ip, i) => {
    if (seen.has(ip)) causes.push({ field: `spec.ips[${i}]`, reason: 'FieldValueDuplicate', message: `Duplicate value: "${ip}"` });
    seen.add(ip);
  });
  const before = was.ips ?? [];
  const ips = asked && asked.length > 0 ? asked : before;
  return {
    mac,
    macChanged: mac !== undefined && mac !== was.mac,
    asked,
    ips,
    added: ips.filter((ip) => !before.includes(ip)),
    removed: before.filter((ip) => !ips.includes(ip)),
  };
}

/** Whether the update changes the port's MAC or addresses at all. */
export function readdresses(r: Readdressing): boolean {
  return r.macChanged || r.added.length > 0 || r.removed.length > 0;
}

/**
 * The claims of the new addresses and MAC, each checked as at create (in a subnet of the
 * network, not excluded or reserved, not another object's); what is refused goes to `causes`.
 * `askedMac`: spec.mac as written, for messages.
 */
export async function claimsOf(ctx: AdmissionContext, ns: string, network: string, r: Readdressing, owner: AllocationOwner, askedMac: string | undefined, causes: StatusCause[]): Promise<TxnOp[]> {
  const ops: TxnOp[] = [];
  if (r.added.length > 0) {
    const { guard, net } = await networkForClaims(ctx, ns, network);
    const allNets = allocatorsOf(net);
    for (const ip of r.added) {
      const res = await checkRequestedIp(ip, net, allNets, ctx.allocations);
      const field = `spec.ips[${(r.asked ?? []).indexOf(ip)}]`;
      if ('error' in res) {
        causes.push({ field, reason: 'FieldValueInvalid', message: `Invalid value: "${ip}": ${res.error}` });
        continue;
      }
      const changing = guard.changingOf(allNets, res.ip);
      if (changing) causes.push({ field, reason: SUBNET_CHANGING, message: `Invalid value: "${ip}": subnet ${changing} of VirtualNetwork "${network}" is being changed or removed; try again in a moment` });
      ops.push(AllocationRegistry.claim(ipKey(ns, network, res.ip), owner));
    }
    ops.push(guard.op);
  }
  if (r.macChanged && causes.length === 0) {
    const holder = await ctx.allocations.macHolder(ns, network, r.mac!);
    if (holder && holder.owner.uid !== owner.uid) causes.push({ field: 'spec.mac', reason: 'FieldValueInvalid', message: `Invalid value: "${askedMac}": already used by ${holder.owner.kind} "${holder.owner.name}" in network "${network}"` });
    else ops.push(AllocationRegistry.claim(macKey(ns, network, r.mac!), owner));
  }
  return ops;
}

/** The releases of what the port lets go of, each only while it is still the port's claim. */
export async function releasesOf(ctx: AdmissionContext, ns: string, network: string, r: Readdressing, oldMac: string | undefined, uid: string): Promise<TxnOp[]> {
  const keys = [...r.removed.map((ip) => ipKey(ns, network, ip)), ...(r.macChanged && oldMac ? [macKey(ns, network, oldMac)] : [])];
  const ops: TxnOp[] = [];
  for (const key of keys) {
    const kv = await ctx.objects.kv.get<Allocation>(key);
    if (kv?.value.owner.uid === uid) ops.push({ type: 'delete', key, expectedModRevision: kv.modRevision });
  }
  return ops;
}

/** What the VM must do after the change: take the new MAC, use the new addresses. */
export function readdressWarnings(r: Readdressing, portSecurity: boolean | undefined): string[] {
  const out: string[] = [];
  if (r.macChanged) out.push(`spec.mac: the port's MAC is ${r.mac} now: its VM's NIC must take it too (libvirt <mac address='${r.mac}'/>); until it does, the port is Bound MacMismatch and what the VM sends is dropped`);
  if (r.added.length > 0 || r.removed.length > 0) {
    const dropped = r.removed.length > 0 && portSecurity !== false ? `, and what it sends from ${r.removed.join(', ')} is dropped` : '';
    out.push(`spec.ips: the port's addresses are ${r.ips.join(', ')} now: its VM must use them (its own configuration; vnetd runs no DHCP)${dropped}`);
  }
  return out;
}
