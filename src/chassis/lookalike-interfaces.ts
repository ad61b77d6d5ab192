/**
 * A port whose NIC is not found, and a NIC on br-int that no port claims, are often one VM:
 * its iface-id was set to the port's name (the port's interfaceId defaults to its uid), or
 * typed with a slip. The two showed in different places (the port's InterfaceNotFound, the
 * Node's status.unclaimedInterfaces) and nothing tied them (QA-131 F12). This finds the
 * unclaimed interfaces that look meant for a port, and says so. Pure.
 */
import { distance } from 'fastest-levenshtein';
import type { VirtualPort } from '../resources/kinds';

/** An interface on a node's br-int whose iface-id no port has. */
export interface UnclaimedInterface {
  node: string;
  name: string;
  interfaceId: string;
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

/** Why `seen` looks meant for the port whose interface id is `id`, or undefined. */
function resemblance(port: VirtualPort, id: string, seen: string): string | undefined {
  if (seen === id) return undefined;
  const name = port.metadata.name;
  const ns = port.metadata.namespace;
  if (seen === name || (ns !== undefined && (seen === `${ns}/${name}` || seen === `${name}.${ns}`))) return "the port's name, not its interface id";
  if (seen.trim() === id) return 'its interface id with spaces around it';
  if (seen.toLowerCase() === id.toLowerCase()) return 'its interface id in other letter case';
  // Cheap bounds first: most unclaimed ids are nothing like it, and UUIDs are long.
  const allowed = slipsAllowed(id);
  if (Math.abs(seen.length - id.length) > allowed) return undefined;
  const edits = distance(seen, id);
  return edits <= allowed ? `${edits} character${edits === 1 ? '' : 's'} off its interface id` : undefined;
}

/** The unclaimed interfaces that look meant for the port, with why, nearest first (at most SHOWN). */
export function lookalikesOf(port: VirtualPort, id: string, unclaimed: readonly UnclaimedInterface[]): Array<UnclaimedInterface & { why: string }> {
  const out: Array<UnclaimedInterface & { why: string }> = [];
  for (const u of unclaimed) {
    const why = resemblance(port, id, u.interfaceId);
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
  const fix = found.length === 1 ? `ovs-vsctl set Interface ${found[0]!.name} external_ids:iface-id=${id}` : `ovs-vsctl set Interface NAME external_ids:iface-id=${id}`;
  return `; ${each.join('; ')}: is it this port's VM? Then give it the port's interface id (${fix}; spec.interfaceId cannot change)`;
}
