/**
 * Allowed address pairs may name a MAC other than the port's (a VRRP virtual MAC, a nested
 * container's, a load balancer backend at a pair address). The switch must know where such
 * a MAC is, or every frame to it is unknown unicast, flooded to all of the network's ports
 * and VTEPs (QA-108: a backend at a pair address received its load balancer's traffic by
 * flooding, and so did every other VM of the network).
 *
 * A pair MAC held by one port of the network gets an L2 entry to that port, below the
 * network's own MACs. A pair that repeats another port's own MAC gets none (admission warns
 * of it): it never takes that port's traffic, not even while that port is unbound.
 * A pair MAC several ports declare (VRRP peers sharing 00:00:5e:00:01:xx) has no one place:
 * which peer holds it now is the VMs' business, so its frames go to every port that declares
 * it (and to no other VM), through one owner per (network, MAC) that lists them.
 */
import type { PortModel } from './model';

/** The MACs of a port's pairs other than its own, lower-cased, each once, in order. */
export function pairMacsOf(port: PortModel): string[] {
  if (!port.allowedAddressPairs.length) return [];
  const own = port.mac.toLowerCase();
  const out: string[] = [];
  for (const a of port.allowedAddressPairs) {
    const mac = a.mac.toLowerCase();
    // Admission refuses a multicast pair MAC; one stored before must never take the broadcast or a group's frames.
    if (mac !== own && !isGroupMac(mac) && !out.includes(mac)) out.push(mac);
  }
  return out;
}

/** The group bit of the first octet: broadcast and multicast. */
const isGroupMac = (mac: string): boolean => (parseInt(mac.slice(0, 2), 16) & 1) === 1;

/** Per network uid, per pair MAC: the ports that declare it. */
export type PairMacHolders = Map<string, Map<string, Set<string>>>;

/** Adds (delta 1) or removes (-1) a port's pair MACs. */
export function countPairMacs(holders: PairMacHolders, port: PortModel, delta: 1 | -1): void {
  const macs = pairMacsOf(port);
  if (!macs.length) return;
  let byMac = holders.get(port.network);
  if (!byMac) holders.set(port.network, (byMac = new Map()));
  for (const mac of macs) {
    let ports = byMac.get(mac);
    if (!ports) byMac.set(mac, (ports = new Set()));
    if (delta > 0) ports.add(port.uid);
    else ports.delete(port.uid);
    if (ports.size === 0) byMac.delete(mac);
  }
  if (byMac.size === 0) holders.delete(port.network);
}

/** Whether more than one port of the network declares this pair MAC (lower-case). */
export function pairMacShared(holders: PairMacHolders, networkUid: string, mac: string): boolean {
  return (holders.get(networkUid)?.get(mac)?.size ?? 0) > 1;
}

/** The ports (uids) that declare this pair MAC (lower-case) in the network. */
export function pairMacHoldersOf(holders: PairMacHolders, networkUid: string, mac: string): ReadonlySet<string> {
  return holders.get(networkUid)?.get(mac) ?? EMPTY;
}

/** The pair MACs of a network several ports declare. */
export function sharedPairMacsOf(holders: PairMacHolders, networkUid: string): string[] {
  return [...(holders.get(networkUid) ?? [])].filter(([, ports]) => ports.size > 1).map(([mac]) => mac).sort();
}

const EMPTY: ReadonlySet<string> = new Set();

/** A (network, pair MAC) in a CompileScope. */
export function pairMacKey(networkUid: string, mac: string): string {
  return `${mac}/${networkUid}`;
}

export function parsePairMacKey(key: string): { networkUid: string; mac: string } {
  const i = key.indexOf('/');
  return { mac: key.slice(0, i), networkUid: key.slice(i + 1) };
}
