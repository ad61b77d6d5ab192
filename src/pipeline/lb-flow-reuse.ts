/**
 * A big load balancer's flows from its previous compile, reused where their inputs are the
 * same: a health change of one of 1,024 backends behind 64 listeners compiled all 77,893
 * flows again (0.5 s), and the flow-table manager keyed and compared every one of them
 * (another 0.5 s), on every node, for the handful of flows that change (QA-133 F1: compiles
 * were synchronous, everything else in vnetd waited). Reused flows are the same objects, so
 * the manager takes their identity for "unchanged" (DesiredState.prepare) and the work left
 * is proportional to what changed, plus one pass over the list.
 *
 * Two parts dominate and are reused: the LbDnat flows, one per listener and backend, and the
 * LbSlot flows, one per slot. Each compile keeps only what it used, so backends and listeners
 * that went are forgotten with it. Only load balancers with at least REUSE_FROM of them are
 * kept (a small one compiles in well under a millisecond, and QA-129 counted the bytes a flow
 * costs): at most MAX_KEPT_FLOWS flows in all, the least recently compiled forgotten first.
 * Every node compiles the same load balancer the same way (its flows depend only on it and its
 * network), so the nodes after the first reuse the first one's.
 */
import type { DesiredFlow } from '../openflow/sync';

/** listeners x active backends from which a load balancer's flows are kept. */
export const REUSE_FROM = 4096;
const MAX_KEPT_FLOWS = 1 << 19;

interface Kept {
  /** By listener key (what its flows depend on beyond the load balancer's VIP and network), by backend address. */
  dnat: Map<string, Map<string, KeptFlows>>;
  /** One per slot of a table of `slotCount` slots. */
  slots: KeptFlows[];
  slotCount: number;
  flowCount: number;
}

/** Flows that depend on one backend register value. */
interface KeptFlows {
  register: number;
  flows: readonly DesiredFlow[];
}

/** By `${uid}/${vni}/${vip}`: everything else the kept flows depend on is in their own keys. */
const kept = new Map<string, Kept>();
let keptFlows = 0;
let enabled = true;

/** One compile of a load balancer: what its previous compile left, and what this one keeps. */
export class LbFlowReuse {
  private readonly nextDnat = new Map<string, Map<string, KeptFlows>>();
  private nextSlots: KeptFlows[] = [];
  private flowCount = 0;

  private constructor(
    private readonly key: string,
    private readonly prev: Kept | undefined,
    private readonly slotCount: number,
  ) {}

  /** The reuse of a load balancer's compile, or undefined for one too small to keep. */
  static of(uid: string, vni: number, vip: string, dnatFlows: number, slotCount: number): LbFlowReuse | undefined {
    if (!enabled) return undefined;
    const key = `${uid}/${vni}/${vip}`;
    if (dnatFlows < REUSE_FROM) {
      // Too small now (backends gone, or unhealthy): what it kept would only wait for eviction.
      drop(key);
      return undefined;
    }
    return new LbFlowReuse(key, kept.get(key), slotCount);
  }

  /** A listener's backends: `flows` as kept for this backend and register value, else built and kept. */
  dnat(listenerKey: string): (ip: string, register: number, build: () => readonly DesiredFlow[]) => readonly DesiredFlow[] {
    const prev = this.prev?.dnat.get(listenerKey);
    const next = new Map<string, KeptFlows>();
    this.nextDnat.set(listenerKey, next);
    return (ip, register, build) => {
      const had = prev?.get(ip);
      const part = had && had.register === register ? had : { register, flows: build() };
      next.set(ip, part);
      this.flowCount += part.flows.length;
      return part.flows;
    };
  }

  /** Slot s's flow, as kept for this register value, else built and kept. */
  slot(s: number, register: number, build: () => DesiredFlow): DesiredFlow {
    const had = this.prev?.slotCount === this.slotCount ? this.prev.slots[s] : undefined;
    const part = had && had.register === register ? had : { register, flows: [build()] };
    this.nextSlots[s] = part;
    this.flowCount++;
    return part.flows[0]!;
  }

  /** Keeps what this compile used for the next one. */
  keep(): void {
    drop(this.key);
    kept.set(this.key, { dnat: this.nextDnat, slots: this.nextSlots, slotCount: this.slotCount, flowCount: this.flowCount });
    keptFlows += this.flowCount;
    // Least recently compiled first (a Map iterates in insertion order; keep() re-inserts).
    for (const [k, v] of kept) {
      if (keptFlows <= MAX_KEPT_FLOWS || k === this.key) break;
      kept.delete(k);
      keptFlows -= v.flowCount;
    }
  }
}

function drop(key: string): void {
  const old = kept.get(key);
  if (!old) return;
  kept.delete(key);
  keptFlows -= old.flowCount;
}

/** Forgets a load balancer's kept flows (it was deleted): its flows are not kept until it is pushed out. */
export function forgetLbFlows(uid: string): void {
  for (const k of [...kept.keys()]) if (k.startsWith(`${uid}/`)) drop(k);
}

/** Forgets the kept flows of every load balancer but these (a model rebuilt: the others are gone). */
export function keepLbFlowsOf(uids: ReadonlySet<string>): void {
  for (const k of [...kept.keys()]) if (!uids.has(k.slice(0, k.indexOf('/')))) drop(k);
}

/** Forgets every kept flow, and keeps none while `on` is false (tests; a benchmark's peer). */
export function setLbFlowReuse(on: boolean): void {
  kept.clear();
  keptFlows = 0;
  enabled = on;
}
