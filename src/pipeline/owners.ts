/**
 * Flow owners: one per logical object (so a change re-sends only that object's flows)
 * plus the pipeline's own fixed flows. The category is the cookie's kind byte.
 */
import type { FlowOwner } from '../openflow/sync';

export const OwnerCategory = {
  /** Fixed pipeline flows (table-miss handling). */
  Pipeline: 1,
  /** A VirtualNetwork on a node: tunnel classification and flooding. objectId = VNI. */
  Network: 2,
  /** A VirtualPort: classification, port security, ARP answers, L2 entry. */
  Port: 3,
} as const;

export const PIPELINE_OWNER: FlowOwner = Object.freeze({ category: OwnerCategory.Pipeline, objectId: 0 });

export function networkOwner(vni: number): FlowOwner {
  return { category: OwnerCategory.Network, objectId: vni };
}

/**
 * 32-bit object ids for owners whose identity is a uid. Ids are a hash of the uid
 * (stable across restarts, so a restart re-installs flows under the same owners),
 * probing on a collision. No global state: one allocator per reconciler or test.
 */
export class OwnerIds {
  private readonly byUid = new Map<string, number>();
  private readonly taken = new Map<number, string>();

  id(uid: string): number {
    const have = this.byUid.get(uid);
    if (have !== undefined) return have;
    let id = fnv1a(uid) || 1;
    while (this.taken.has(id)) id = (id + 1) >>> 0 || 1;
    this.byUid.set(uid, id);
    this.taken.set(id, uid);
    return id;
  }

  release(uid: string): void {
    const id = this.byUid.get(uid);
    if (id === undefined) return;
    this.byUid.delete(uid);
    this.taken.delete(id);
  }

  portOwner(uid: string): FlowOwner {
    return { category: OwnerCategory.Port, objectId: this.id(uid) };
  }
}

function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}
