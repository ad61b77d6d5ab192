/**
 * Frames port security dropped, per port, from the flow counters of a full dump (the
 * periodic verify's): what a port's Classifier flow took in, less what its SpoofGuard
 * flows let on (every other way out of SpoofGuard is a drop: a miss, the node's VLAN and
 * router guards, IPv6's explicit drops). A VM sending from a MAC or address not its
 * port's was dropped with nothing said anywhere: no counter, no log (QA-126 H1).
 *
 * Counted between two dumps, from where dump-baseline.ts says: a port absent from the
 * previous dump, or whose counter went down (its flow added again, the switch restarted),
 * counts from zero when its Classifier flow is younger than the time since that dump (a VM
 * spoofing in its first minute was never told of, its first dump only a baseline); the first
 * dump of this counter is a baseline for every port.
 */
import type { FlowStats } from '../../openflow';
import { decodeCookie } from '../../openflow/sync/cookie';
import { OwnerCategory, TABLES } from '../../pipeline';
import { countedFrom, flowAgeMs } from './dump-baseline';

interface PortCounters {
  /** Packets of the port's Classifier flow: everything it sent. */
  received: bigint;
  /** Packets of its SpoofGuard flows that go on (goto_table). */
  allowed: bigint;
  /** How long its Classifier flow has been on the switch, in ms. */
  ageMs: number;
}

/** Per port owner (its OwnerIds object id): its counters in one dump. */
export function portSecurityCounters(dump: readonly FlowStats[]): Map<number, PortCounters> {
  const out = new Map<number, PortCounters>();
  for (const f of dump) {
    if (f.tableId !== TABLES.Classifier.id && f.tableId !== TABLES.SpoofGuard.id) continue;
    const c = decodeCookie(f.cookie);
    if (c.category !== OwnerCategory.Port) continue;
    let p = out.get(c.objectId);
    if (!p) out.set(c.objectId, (p = { received: 0n, allowed: 0n, ageMs: Infinity }));
    if (f.tableId === TABLES.Classifier.id) {
      p.received += f.packetCount;
      p.ageMs = flowAgeMs(f);
    } else if (f.instructions.some((i) => i.type === 'goto_table')) p.allowed += f.packetCount;
  }
  return out;
}

/** One node's counters, dump after dump. */
export class PortSecurityDropCounter {
  private last = new Map<number, PortCounters>();
  /** When the previous dump was observed (undefined before the first). */
  private lastAt: number | undefined;
  /** Drops counted so far, per port owner id (kept while the port has flows here). */
  readonly totals = new Map<number, number>();

  /** The ports with drops since the previous dump, and how many. */
  observe(dump: readonly FlowStats[], at = performance.now()): Array<{ objectId: number; dropped: number }> {
    const now = portSecurityCounters(dump);
    const out: Array<{ objectId: number; dropped: number }> = [];
    for (const [id, c] of now) {
      const had = this.last.get(id);
      const wentDown = had !== undefined && (c.received < had.received || c.allowed < had.allowed);
      const before = countedFrom(had, wentDown, c.ageMs, this.lastAt === undefined ? undefined : at - this.lastAt, ZERO);
      if (!before) continue;
      const dropped = Number(c.received - before.received - (c.allowed - before.allowed));
      if (dropped <= 0) continue;
      out.push({ objectId: id, dropped });
      this.totals.set(id, (this.totals.get(id) ?? 0) + dropped);
    }
    for (const id of this.totals.keys()) if (!now.has(id)) this.totals.delete(id);
    this.last = now;
    this.lastAt = at;
    return out;
  }
}

/** The counters of a flow installed since the previous dump, before its first packet. */
const ZERO: PortCounters = { received: 0n, allowed: 0n, ageMs: 0 };
