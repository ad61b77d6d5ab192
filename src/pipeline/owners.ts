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
  /** A LoadBalancer: VIP ARP answer, slot table and DNAT flows (load-balancer.ts). */
  LoadBalancer: 4,
  /** One flood chunk of a network's local ports on a node. objectId = VNI * 256 + chunk. */
  FloodChunk: 5,
  /** A pair MAC several ports of a network declare (pair-macs.ts): its L2 entries to them. objectId: OwnerIds of pairMacKey. */
  PairMac: 6,
  /** A standby NIC on a node (a live migration's other end, rarp.ts): its RARP watch flow. objectId = its ofport there. */
  StandbyNic: 7,
} as const;

export const PIPELINE_OWNER: FlowOwner = Object.freeze({ category: OwnerCategory.Pipeline, objectId: 0 });

export function standbyNicOwner(ofport: number): FlowOwner {
  return { category: OwnerCategory.StandbyNic, objectId: ofport };
}

export function networkOwner(vni: number): FlowOwner {
  return { category: OwnerCategory.Network, objectId: vni };
}

/** The owner of a network's flood chunk (0..255): VNI (24 bits) and chunk (8 bits) fill the 32-bit id. */
export function floodChunkOwner(vni: number, chunk: number): FlowOwner {
  return { category: OwnerCategory.FloodChunk, objectId: vni * 256 + chunk };
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

  /** Every (uid, id) given and not released. */
  entries(): IterableIterator<[string, number]> {
    return this.byUid.entries();
  }

  get size(): number {
    return this.byUid.size;
  }

  /** The object whose id this is (undefined once released, or never given). */
  uidOf(objectId: number): string | undefined {
    return this.taken.get(objectId);
  }

  portOwner(uid: string): FlowOwner {
    return { category: OwnerCategory.Port, objectId: this.id(uid) };
  }

  lbOwner(uid: string): FlowOwner {
    return { category: OwnerCategory.LoadBalancer, objectId: this.id(uid) };
  }

  /** The owner of a shared pair MAC's entries; key: pairMacKey(network uid, MAC). */
  pairMacOwner(key: string): FlowOwner {
    return { category: OwnerCategory.PairMac, objectId: this.id(`pair-mac/${key}`) };
  }

  /** That owner if an id was ever given for it (its entries may be installed), without giving one. */
  existingPairMacOwner(key: string): FlowOwner | undefined {
    const id = this.byUid.get(`pair-mac/${key}`);
    return id === undefined ? undefined : { category: OwnerCategory.PairMac, objectId: id };
  }
}

/**
 * The MAC a load balancer stored before spec.mac is answered with: locally administered
 * (02:...), derived from the uid so every node and every restart answer with the same address.
 */
export function lbMac(uid: string): string {
  return macOf(fnv1a(`lb/${uid}`));
}

/**
 * The MAC admission gives a new load balancer's VIP (spec.mac): from where the VIP is, not
 * which object holds it, so a load balancer deleted and created again with the same VIP
 * answers with the same MAC. (With a new one, clients kept the old MAC in their ARP caches
 * and reached nothing for 20-30 s after the new one was Ready.)
 */
export function lbVipMac(namespace: string, network: string, vip: string, attempt = 0): string {
  // attempt > 0: the next candidates, when an earlier one is another object's MAC in the network.
  return macOf(fnv1a(`vip/${namespace}/${network}/${vip}${attempt ? `/${attempt}` : ''}`));
}

/** What the VIP of a load balancer is answered with: its spec.mac, or (stored before spec.mac) lbMac(uid). */
export function loadBalancerMac(lb: { metadata: { uid?: string }; spec?: { mac?: string } }): string | undefined {
  return lb.spec?.mac ?? (lb.metadata.uid ? lbMac(lb.metadata.uid) : undefined);
}

function macOf(h: number): string {
  const b = [0x02, 0x4c, 0x42, (h >>> 16) & 0xff, (h >>> 8) & 0xff, h & 0xff];
  return b.map((x) => x.toString(16).padStart(2, '0')).join(':');
}

/**
 * Conntrack zone of a network (16 bits, 1..65535; zone 0 is the default zone). VNIs are
 * 24 bits, so two networks whose VNIs are equal modulo 65535 would share a zone, and one
 * tenant's load balanced connections could match another's conntrack entries: admission
 * refuses such a VNI and claims the zone with the VNI (virtual-network.admission.ts).
 */
export function ctZone(vni: number): number {
  return (vni % 0xffff) + 1;
}

/** 32-bit FNV-1a of a string: stable ids and hashes derived from names. */
export function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}
