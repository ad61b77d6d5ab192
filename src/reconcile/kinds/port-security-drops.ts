/**
 * Frames port security dropped, per port, from the flow counters of a full dump (the
 * periodic verify's): what a port's Classifier flow took in, less what its SpoofGuard
 * flows let on (every other way out of SpoofGuard is a drop: a miss, the node's VLAN and
 * router guards, IPv6's explicit drops). A VM sending from a MAC or address not its
 * port's was dropped with nothing said anywhere: no counter, no log (QA-126 H1).
 *
 * Counted between two dumps; a counter that went down (the flow was added again, the
 * switch restarted) starts the port over rather than giving a wrong count.
 */
import type { FlowStats } from '../../openflow';
import { decodeCookie } from '../../openflow/sync/cookie';
import { OwnerCategory, TABLES } from '../../pipeline';

interface PortCounters {
  /** Packets of the port's Classifier flow: everything it sent. */
  received: bigint;
  /** Packets of its SpoofGuard flows that go on (goto_table). */
  allowed: bigint;
}

/** Per port owner (its OwnerIds object id): its counters in one dump. */
export function portSecurityCounters(dump: readonly FlowStats[]): Map<number, PortCounters> {
  const out = new Map<number, PortCounters>();
  for (const f of dump) {
    if (f.tableId !== TABLES.Classifier.id && f.tableId !== TABLES.SpoofGuard.id) continue;
    const c = decodeCookie(f.cookie);
    if (c.category !== OwnerCategory.Port) continue;
    let p = out.get(c.objectId);
    if (!p) out.set(c.objectId, (p = { received: 0n, allowed: 0n }));
    if (f.tableId === TABLES.Classifier.id) p.received += f.packetCount;
    else if (f.instructions.some((i) => i.type === 'goto_table')) p.allowed += f.packetCount;
  }
  return out;
}

/** One node's counters, dump after dump. */
export class PortSecurityDropCounter {
  private last = new Map<number, PortCounters>();
  /** Drops counted so far, per port owner id (kept while the port has flows here). */
  readonly totals = new Map<number, number>();

  /** The ports with drops since the previous dump, and how many. */
  observe(dump: readonly FlowStats[]): Array<{ objectId: number; dropped: number }> {
    const now = portSecurityCounters(dump);
    const out: Array<{ objectId: number; dropped: number }> = [];
    for (const [id, c] of now) {
      const before = this.last.get(id);
      if (!before || c.received < before.received || c.allowed < before.allowed) continue;
      const dropped = Number(c.received - before.received - (c.allowed - before.allowed));
      if (dropped <= 0) continue;
      out.push({ objectId: id, dropped });
      this.totals.set(id, (this.totals.get(id) ?? 0) + dropped);
    }
    for (const id of this.totals.keys()) if (!now.has(id)) this.totals.delete(id);
    this.last = now;
    return out;
  }
}
