/**
 * A port whose NIC is not found, and a NIC on br-int that no port claims, are often one VM:
 * its iface-id was set to the port's name (the port's interfaceId defaults to its uid), or
 * typed with a slip. The two showed in different places (the port's InterfaceNotFound, the
 * Node's status.unclaimedInterfaces) and nothing tied them (QA-131 F12). This finds the
 * unclaimed interfaces that look meant for a port, and says so. Pure.
 */
import { distance } from 'fastest-levenshtein';
import type { VirtualPort } from '../resources/kinds';
import { ovsVsctlFor } from './system-ovsdb';

/** An interface on a node's br-int whose iface-id no port has. */
export interface UnclaimedInterface {
  node: string;
  name: string;
  interfaceId: string;
  /** The node's OVSDB endpoint, for the command that fixes it (--db when not the system's). */
  ovsdb?: string;
}

/** At most this many lookalikes are named in one message. */
const SHOWN = 3;

/**
 * Edits that still read as a slip of the port's id: one for ids under twelve characters
 * ("web1" and "web2" are other VMs' more often than typos), two from twelve (a swap of two
 * letters is two edits), three from eighteen (a UUID's 36 characters).
 */
function slipsAllowed(id: string): number {
  return Math.min(3, Math.max(1, Math.floor(id.length / 6)));
}

/** Character counts of one id less another's, reused: one comparison at a time. */
const tally = new Int32Array(128);

/**
 * Whether `a` and `b` hold the same characters but for more than `most` (an edit changes the
 * tally by two at most, so a distance within bounds never fails this). A few dozen additions,
 * where the edit distance of two UUIDs costs microseconds: a node with hundreds of unclaimed
 * NICs and thousands of ports without one would spend seconds on it (measured 1.8 s).
 */
function tallyDiffers(a: string, b: string, most: number): boolean {
  for (let i = 0; i < a.length; i++) tally[a.charCodeAt(i) & 127]! += 1;
  for (let i = 0; i < b.length; i++) tally[b.charCodeAt(i) & 127]! -= 1;
  let off = 0;
  for (let i = 0; i < a.length; i++) {
    const c = a.charCodeAt(i) & 127;
    off += Math.abs(tally[c]!);
    tally[c] = 0;
  }
  for (let i = 0; i < b.length; i++) {
    const c = b.charCodeAt(i) & 127;
    off += Math.abs(tally[c]!);
    tally[c] = 0;
  }
  return off > most;
}

/** Whether two strings are equal but for the case of ASCII letters; no allocation, out at the first difference. */
function equalFoldingCase(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    const lx = x >= 65 && x <= 90 ? x + 32 : x;
    const ly = y >= 65 && y <= 90 ? y + 32 : y;
    if (lx !== ly || lx < 97 || lx > 122) return false;
  }
  return true;
}

/** What a port's NIC could have been given instead of its id, worked out once per port. */
interface Target {
  id: string;
  names: ReadonlySet<string>;
  allowed: number;
}

function targetOf(port: VirtualPort, id: string): Target {
  const { name, namespace: ns } = port.metadata;
  return { id, names: new Set(ns === undefined ? [name] : [name, `${ns}/${name}`, `${name}.${ns}`]), allowed: slipsAllowed(id) };
}

/** Why `seen` looks meant for the target port, or undefined. */
function resemblance(t: Target, seen: string): string | undefined {
  const { id, allowed } = t;
  if (seen === id) return undefined;
  if (t.names.has(seen)) return "the port's name, not its interface id";
  if (seen.length > id.length && seen.trim() === id) return 'its interface id with spaces around it';
  if (equalFoldingCase(seen, id)) return 'its interface id in other letter case';
  // Cheap bounds first: most unclaimed ids are nothing like it, and UUIDs are long.
  if (Math.abs(seen.length - id.length) > allowed || tallyDiffers(seen, id, 2 * allowed)) return undefined;
  const edits = distance(seen, id);
  return edits <= allowed ? `${edits} character${edits === 1 ? '' : 's'} off its interface id` : undefined;
}

/** The unclaimed interfaces that look meant for the port, with why, nearest first (at most SHOWN). */
export function lookalikesOf(port: VirtualPort, id: string, unclaimed: readonly UnclaimedInterface[]): Array<UnclaimedInterface & { why: string }> {
  const out: Array<UnclaimedInterface & { why: string }> = [];
  if (!unclaimed.length) return out;
  const target = targetOf(port, id);
  for (const u of unclaimed) {
    const why = resemblance(target, u.interfaceId);
    if (why) out.push({ ...u, why });
  }
  out.sort((a, b) => distance(a.interfaceId, id) - distance(b.interfaceId, id) || a.node.localeCompare(b.node) || a.name.localeCompare(b.name));
  return out.slice(0, SHOWN);
}

/**
 * What an InterfaceNotFound message adds when interfaces look meant for the port (empty when
 * none do): where they are, why they look so, and the one command that binds each.
 */
export function lookalikeNote(port: VirtualPort, id: string, unclaimed: readonly UnclaimedInterface[]): string {
  const found = lookalikesOf(port, id, unclaimed);
  if (!found.length) return '';
  const each = found.map((u) => `interface ${u.name} on node ${u.node} has iface-id=${u.interfaceId} (${u.why}), which no port claims`);
  // Against the node's own switch: pasted without --db, it went to the host's (QA-132 F2).
  const vsctl = new Set(found.map((u) => ovsVsctlFor(u.ovsdb)));
  const fix = `${vsctl.size === 1 ? [...vsctl][0] : 'ovs-vsctl --db=NODE_OVSDB'} set Interface ${found.length === 1 ? found[0]!.name : 'NAME'} external_ids:iface-id=${id}`;
  return `; ${each.join('; ')}: is it this port's VM? Then give it the port's interface id (${fix}; spec.interfaceId cannot change)`;
}
