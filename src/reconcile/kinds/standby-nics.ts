/**
 * Standby NICs per node: NICs on br-int with the iface-id of an unpinned port that is not
 * bound to them (a live migration's other end, on this node or another). Each gets a RARP
 * watch flow (pipeline/rarp.ts) under its own owner (standbyNicOwner(ofport)), so a NIC
 * becoming standby or bound, or going, changes one owner: a flow_mod or two.
 *
 * Kept per node and per iface-id, and recomputed for the iface-ids touched since the node's
 * last compile (an Interface row of it changed, its port changed or was rebound), or for all
 * of them on a full compile: never a walk over every interface on each change.
 */
import { standbyNicOwner, rarpWatchFlow, type OwnerFlows } from '../../pipeline';
import { ownerKey } from '../../openflow/sync/cookie';

/** A node's standby NICs of one iface-id: ofport -> the port's MAC. */
export type StandbyOfIface = ReadonlyMap<number, string>;

export class StandbyNics {
  /** node -> iface-id -> its standby NICs there, as last compiled. */
  private readonly byNode = new Map<string, Map<string, StandbyOfIface>>();
  /** node -> iface-ids to look at again at its next compile. */
  private readonly touched = new Map<string, Set<string>>();

  /** The iface-ids' standby NICs may have changed on the nodes (every node this tracks, and `nodes`). */
  touch(ids: Iterable<string>, nodes: Iterable<string> = []): void {
    const all = new Set([...this.byNode.keys(), ...this.touched.keys(), ...nodes]);
    const list = [...ids];
    if (!list.length) return;
    for (const n of all) {
      let t = this.touched.get(n);
      if (!t) this.touched.set(n, (t = new Set()));
      for (const id of list) t.add(id);
    }
  }

  /**
   * The node's standby owners that changed since its last compile (ofport -> its owner, or
   * undefined when it has none now), after reading the touched iface-ids again with `read`;
   * with `allIds` (a full compile), every iface-id of the node is read, and every owner given.
   */
  compile(node: string, read: (ifaceId: string) => StandbyOfIface, allIds?: Iterable<string>): Map<number, OwnerFlows | undefined> {
    let mine = this.byNode.get(node);
    if (!mine) this.byNode.set(node, (mine = new Map()));
    const ids = allIds ? new Set([...allIds, ...mine.keys()]) : (this.touched.get(node) ?? new Set<string>());
    this.touched.delete(node);
    const out = new Map<number, OwnerFlows | undefined>();
    const before = new Map<number, string>();
    const after = new Map<number, string>();
    for (const id of ids) {
      for (const [ofport, mac] of mine.get(id) ?? []) before.set(ofport, mac);
      const now = read(id);
      if (now.size) mine.set(id, now);
      else mine.delete(id);
      for (const [ofport, mac] of now) after.set(ofport, mac);
    }
    const changed = allIds ? new Set([...this.ofportsOf(mine), ...before.keys()]) : new Set([...before.keys(), ...after.keys()]);
    for (const ofport of changed) {
      const mac = after.get(ofport) ?? (allIds ? this.macAt(mine, ofport) : undefined);
      if (!allIds && before.get(ofport) === mac) continue;
      out.set(ofport, mac === undefined ? undefined : { owner: standbyNicOwner(ofport), label: `standby NIC ofport ${ofport}`, flows: [rarpWatchFlow(ofport, mac)] });
    }
    return out;
  }

  forgetNode(node: string): void {
    this.byNode.delete(node);
    this.touched.delete(node);
  }

  private *ofportsOf(m: Map<string, StandbyOfIface>): Iterable<number> {
    for (const s of m.values()) yield* s.keys();
  }

  private macAt(m: Map<string, StandbyOfIface>, ofport: number): string | undefined {
    for (const s of m.values()) {
      const mac = s.get(ofport);
      if (mac !== undefined) return mac;
    }
    return undefined;
  }
}

/** The owner key of a standby NIC's owner (for the applied map). */
export const standbyOwnerKey = (ofport: number): number => ownerKey(standbyNicOwner(ofport));
