/**
 * Next-free address picking against the store's allocation keys, without reading all
 * of them. Each subnet of a network (by its uid: one made again under the same name starts
 * afresh) keeps a cursor (an offset into its allocatable addresses, see
 * IpAllocator.addressAt) below which every address was last seen taken: a pick probes
 * from the cursor with one key lookup per address, moves the cursor past the taken ones
 * and returns the first free one. Filling a network with N addresses therefore costs
 * O(N) lookups in all instead of O(N^2) rows read. A new network's addresses come lowest
 * first, as IpAllocator.pickFree gives them; an address freed below the cursor is picked
 * again once the picks have gone round the subnet (or this process restarts), not at once:
 * next fit, as kube-apiserver's Service IPs avoid handing a just-freed address to a new
 * holder while other VMs may still have its old MAC in their ARP caches.
 *
 * Concurrent picks in one process must not all probe the same free address (all but one
 * would lose the create-only claim and retry): a probed address is reserved, in memory,
 * before its lookup is awaited, until the caller gives it back (its claim committed, or the
 * request failed) or RESERVATION_MS pass.
 *
 * The cursor and reservations are hints: they start empty in a new process and another
 * replica sees none of them; the store's create-only key decides. After maxProbes
 * addresses in a row that are taken or reserved (the first pick after a restart, a
 * nearly full subnet) a pick lists the network's addresses once and falls back to
 * IpAllocator.pickFree, which is exact and also says when the subnet is full.
 */
import type { IpAllocator } from './ip-allocator';
import { randomBelow, type Rng } from './random';

export interface PickOptions {
  isTaken(ip: string): Promise<boolean>;
  /** Every taken address of the network (canonical): the fallback's input. */
  listTaken(): Promise<ReadonlySet<string>>;
  /** Random probing (big subnets: spreads addresses, replicas rarely collide). */
  rng?: Rng;
  maxProbes?: number;
  now?: () => number;
}

export const DEFAULT_MAX_PROBES = 32;
export const RESERVATION_MS = 5000;

interface SubnetState {
  cursor: bigint;
  /**
   * The allocator layout the cursor counts in (IpAllocator.layout): a changed gateway or
   * excludeRanges renumbers the offsets, and the old cursor skipped free addresses (QA-130:
   * .61-.63 passed over for .64 after excludeRanges grew to .60).
   */
  layout: string;
  /** ip -> until when it is reserved for a pick in flight. */
  reserved: Map<string, number>;
  /** When a pick last used it. */
  usedAt: number;
}

/**
 * A subnet unused this long, with no reservation left, is forgotten: its cursor is only a
 * hint (a new process starts at 0 too), and subnets of networks deleted long ago were kept
 * for ever (QA-115: one state per subnet ever used).
 */
export const SUBNET_FORGET_MS = 10 * 60_000;
const SWEEP_MIN = 256;

export class AddressPicker {
  private readonly subnets = new Map<string, SubnetState>();
  /** The state count at which idle subnets are next looked for (amortized: doubles). */
  private sweepAt = SWEEP_MIN;

  /** Subnets with a state (tests). */
  get size(): number {
    return this.subnets.size;
  }

  async pick(subnetKey: string, alloc: IpAllocator, opts: PickOptions): Promise<string | undefined> {
    if (alloc.capacity === 0n) return undefined;
    const now = opts.now ?? Date.now;
    const st = this.state(subnetKey, now());
    if (st.layout !== alloc.layout) {
      st.layout = alloc.layout;
      st.cursor = 0n;
    }
    const maxProbes = opts.maxProbes ?? DEFAULT_MAX_PROBES;
    let offset = opts.rng ? randomBelow(alloc.capacity, opts.rng) : st.cursor;
    // Lookups are bounded by maxProbes; reserved addresses away from the cursor are
    // skipped without one (there are as many as picks in flight).
    for (let seen = 0n, lookups = 0; seen < alloc.capacity && lookups < maxProbes; seen++, offset = (offset + 1n) % alloc.capacity) {
      const ip = alloc.addressAt(offset);
      const atCursor = !opts.rng && offset === st.cursor;
      // At the cursor a reservation is looked up anyway: once its claim has committed the
      // cursor can move past it.
      if ((st.reserved.get(ip) ?? 0) > now() && !atCursor) continue;
      const mine = !st.reserved.has(ip) || (st.reserved.get(ip) ?? 0) <= now();
      // Another pick's reservation is left as it is: renewed by every pick that found it (a
      // client retrying a create on a full subnet), it never ran out, and an address its
      // claim had freed since was refused for as long as the retries went on (QA).
      if (mine) st.reserved.set(ip, now() + RESERVATION_MS);
      lookups++;
      if (!(await opts.isTaken(ip))) {
        if (mine) return ip;
        continue; // in flight for another pick
      }
      st.reserved.delete(ip);
      if (atCursor && offset === st.cursor) st.cursor = (offset + 1n) % alloc.capacity;
    }
    const taken = new Set(await opts.listTaken());
    for (const [ip, until] of st.reserved) if (until > now()) taken.add(ip);
    const ip = alloc.pickFree(taken, opts.rng);
    if (ip === undefined) return undefined;
    st.reserved.set(ip, now() + RESERVATION_MS);
    // pickFree without rng gives the lowest free address: everything below was taken.
    if (!opts.rng) st.cursor = alloc.offsetOf(ip) ?? st.cursor;
    return ip;
  }

  /**
   * Gives back a picked address: its claim will not be made (the request failed), or it has
   * been made (the store's key holds the address now, and a release frees it at once).
   */
  unreserve(subnetKey: string, ip: string): void {
    this.subnets.get(subnetKey)?.reserved.delete(ip);
  }

  private state(key: string, now: number): SubnetState {
    let st = this.subnets.get(key);
    if (!st) {
      if (this.subnets.size >= this.sweepAt) this.forgetIdle(now);
      this.subnets.set(key, (st = { cursor: 0n, layout: '', reserved: new Map(), usedAt: now }));
    }
    st.usedAt = now;
    return st;
  }

  private forgetIdle(now: number): void {
    for (const [key, st] of this.subnets) {
      if (now - st.usedAt < SUBNET_FORGET_MS) continue;
      if ([...st.reserved.values()].some((until) => until > now)) continue;
      this.subnets.delete(key);
    }
    this.sweepAt = Math.max(SWEEP_MIN, this.subnets.size * 2);
  }
}
