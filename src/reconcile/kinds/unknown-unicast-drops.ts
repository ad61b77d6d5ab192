/**
 * Unicast frames to MACs that no port of their network holds, dropped at the network's
 * unknown-unicast flows (compiler.ts, unknownUnicastFlows): where no port without port
 * security is bound, a frame to a MAC vnetd was not told of goes nowhere. Before, only those
 * flows' n_packets said so (a VM talking to a router or appliance whose MAC no port declares
 * saw its frames vanish, and nothing counted them where an operator looks).
 *
 * Per network, from the counters of each full dump, between two dumps (dump-baseline.ts).
 * A flow counts only while it drops: one that delivered to such ports at the previous dump
 * and drops now (or the reverse) holds packets of both, and starts again from this dump.
 */
import type { FlowStats } from '../../openflow';
import { decodeCookie } from '../../openflow/sync/cookie';
import { matchKey } from '../../openflow/sync/flow-key';
import { OwnerCategory, Priority, TABLES } from '../../pipeline';
import { countedFrom, flowAgeMs } from './dump-baseline';

interface UnknownFlowCounters {
  vni: number;
  packets: bigint;
  /** The flow drops (no action, no next table) rather than sending to ports that take unknown unicast. */
  drops: boolean;
  ageMs: number;
}

/** A network's unknown-unicast flows in one dump (one from local ports, one from tunnels), by their match. */
export function unknownUnicastCounters(dump: readonly FlowStats[]): Map<string, UnknownFlowCounters> {
  const out = new Map<string, UnknownFlowCounters>();
  for (const f of dump) {
    if (f.tableId !== TABLES.L2Lookup.id || f.priority !== Priority.UnknownUnicast) continue;
    const c = decodeCookie(f.cookie);
    if (c.category !== OwnerCategory.Network) continue;
    out.set(matchKey(f.match), { vni: c.objectId, packets: f.packetCount, drops: dropsAll(f), ageMs: flowAgeMs(f) });
  }
  return out;
}

function dropsAll(f: FlowStats): boolean {
  return f.instructions.every((i) => i.type !== 'goto_table' && (i.type !== 'apply_actions' || i.actions.length === 0) && (i.type !== 'write_actions' || i.actions.length === 0));
}

/** One node's counts, dump after dump. */
export class UnknownUnicastDropCounter {
  private last = new Map<string, UnknownFlowCounters>();
  private lastAt: number | undefined;
  /** Frames dropped so far, per network (VNI), while the network has such flows here. */
  readonly totals = new Map<number, number>();

  /** The networks with drops since the previous dump, and how many. */
  observe(dump: readonly FlowStats[], at = performance.now()): Array<{ vni: number; dropped: number }> {
    const now = unknownUnicastCounters(dump);
    const since = new Map<number, number>();
    for (const [key, c] of now) {
      if (!c.drops) continue;
      const had = this.last.get(key);
      const before = countedFrom(had?.drops ? had : undefined, had !== undefined && c.packets < had.packets, c.ageMs, this.lastAt === undefined ? undefined : at - this.lastAt, ZERO);
      if (!before) continue;
      const dropped = Number(c.packets - before.packets);
      if (dropped > 0) since.set(c.vni, (since.get(c.vni) ?? 0) + dropped);
    }
    for (const [vni, dropped] of since) this.totals.set(vni, (this.totals.get(vni) ?? 0) + dropped);
    const present = new Set([...now.values()].map((c) => c.vni));
    for (const vni of this.totals.keys()) if (!present.has(vni)) this.totals.delete(vni);
    this.last = now;
    this.lastAt = at;
    return [...since].map(([vni, dropped]) => ({ vni, dropped }));
  }
}

const ZERO: UnknownFlowCounters = { vni: 0, packets: 0n, drops: true, ageMs: 0 };
