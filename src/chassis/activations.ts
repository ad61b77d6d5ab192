/**
 * NICs a VM announced itself on (a RARP from it, pipeline/rarp.ts), per node: a live
 * migration's destination, which then takes the binding (binding.ts firstReadyInterface,
 * takesOverActivated). Kept in memory by the process that programs the node (the controller,
 * or the node's agent): once the binding moved, the Bound condition (ACTIVATED, with its time)
 * is what others go by. An activation holds for that NIC only: its row gone, renumbered or
 * given another iface-id, it is forgotten (a tap of the same name later is another VM's).
 */
import type { Interface } from '../ovsdb/models/open_vswitch';
import { IFACE_ID } from './binding';

export interface Activation {
  /** The OVS Interface's name. */
  name: string;
  ofport: number;
  ifaceId: string;
  /** Epoch ms of the announcement. */
  at: number;
}

/** What ChassisManager.activate did with an announcement, for its caller's log. */
export type ActivationOutcome = { activated: true; port: string; interface: string; at: number } | { activated: false; why: string };

export class Activations {
  /** node -> interface name -> its activation. */
  private readonly byNode = new Map<string, Map<string, Activation>>();

  set(node: string, a: Activation): void {
    let m = this.byNode.get(node);
    if (!m) this.byNode.set(node, (m = new Map()));
    m.set(a.name, a);
  }

  /** When the NIC (as it is now: ofport and iface-id) was activated, if it was. */
  at(node: string, name: string, ofport: number | null | undefined, ifaceId: string): number | undefined {
    const a = this.byNode.get(node)?.get(name);
    return a && a.ofport === ofport && a.ifaceId === ifaceId ? a.at : undefined;
  }

  /** An Interface row changed on the node: forgets the activation of a NIC that is no longer the one announced on. Returns whether one went. */
  rowChanged(node: string, old: Partial<Interface> | undefined, cur: Partial<Interface> | undefined): boolean {
    const name = old?.name ?? cur?.name;
    const m = name === undefined ? undefined : this.byNode.get(node);
    const a = name === undefined ? undefined : m?.get(name);
    if (!a) return false;
    // A partial update carries the changed columns only: an absent one is unchanged.
    if (cur && (cur.ofport === undefined || cur.ofport === a.ofport) && (cur.external_ids === undefined || cur.external_ids[IFACE_ID] === a.ifaceId)) return false;
    m!.delete(a.name);
    return true;
  }

  forgetNode(node: string): void {
    this.byNode.delete(node);
  }
}
