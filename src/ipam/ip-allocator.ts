/**
 * Picks free addresses in one subnet. The allocator holds no state about allocations:
 * the caller passes the taken set (built from the store), so two reconcilers can never
 * disagree with a hidden in-memory bitmap, and a restart needs no rebuild. Uniqueness
 * under concurrency is the store's job (a create-only key per address).
 */
import type { Subnet } from '../resources/kinds';
import { formatIp, parseIp, tryParseIp, type IpAddress } from './address';
import { randomBelow, type Rng } from './random';
import {
  allocatableRanges,
  hostReservedReason,
  resolveSubnet,
  type AddressRange,
  type ResolvedSubnet,
} from './subnet';

export class IpAllocator {
  readonly subnet: ResolvedSubnet;
  /** Number of allocatable addresses (hosts minus gateway and excluded ranges). */
  readonly capacity: bigint;
  private readonly ranges: AddressRange[];

  /** Throws IpamValidationError when given an invalid Subnet spec. */
  constructor(subnet: Subnet | ResolvedSubnet) {
    this.subnet = isResolved(subnet) ? subnet : resolveSubnet(subnet);
    this.ranges = allocatableRanges(this.subnet);
    this.capacity = this.ranges.reduce((n, r) => n + (r.end - r.start + 1n), 0n);
  }

  get cidr(): string {
    return this.subnet.cidr.text;
  }

  /** The allocatable ranges, as text: two allocators of one subnet with the same layout number its addresses alike (addressAt). */
  get layout(): string {
    return this.ranges.map((r) => `${r.start}-${r.end}`).join(',');
  }

  get gateway(): string {
    return formatIp(this.subnet.cidr.family, this.subnet.gateway);
  }

  /** Why ip cannot be allocated here (user-requested addresses go through this), or undefined if it can. */
  check(ip: string): string | undefined {
    let addr: IpAddress;
    try {
      addr = parseIp(ip);
    } catch (err) {
      return err instanceof Error ? err.message : String(err);
    }
    const reserved = hostReservedReason(this.subnet.cidr, addr);
    if (reserved) return reserved;
    const text = formatIp(addr.family, addr.value);
    if (addr.value === this.subnet.gateway) return `${text} is the gateway of ${this.cidr}`;
    for (const r of this.subnet.excludes) {
      if (addr.value >= r.start && addr.value <= r.end) {
        return `${text} is in the excluded range ${this.format(r.start)}-${this.format(r.end)} of ${this.cidr}`;
      }
    }
    return undefined;
  }

  /**
   * Whether ip may be held in this subnet: a host address of it other than the gateway. An
   * excluded range keeps an address from picks only; one asked for there may be held.
   */
  holds(ip: string): boolean {
    const addr = tryParseIp(ip);
    return addr !== undefined && hostReservedReason(this.subnet.cidr, addr) === undefined && addr.value !== this.subnet.gateway;
  }

  /**
   * A free address, or undefined when the subnet is full.
   *
   * Walks the allocatable ranges from a start offset (0 = lowest address first; with rng,
   * a random offset, which spreads addresses across a big IPv6 subnet and makes two
   * replicas unlikely to race for the same one). Among taken.size + 1 distinct
   * allocatable addresses at least one is free, so the walk is bounded by
   * min(capacity, taken.size + 1) steps: it never enumerates a /64, and when it
   * covers the whole capacity without a hit the subnet really is full.
   *
   * taken must hold canonical strings (canonicalIp); entries outside the subnet are harmless.
   */
  pickFree(taken: ReadonlySet<string>, rng?: Rng): string | undefined {
    if (this.capacity === 0n) return undefined;
    const budget = BigInt(taken.size) + 1n < this.capacity ? BigInt(taken.size) + 1n : this.capacity;
    let offset = rng ? randomBelow(this.capacity, rng) : 0n;
    let idx = 0;
    while (offset > this.ranges[idx].end - this.ranges[idx].start) {
      offset -= this.ranges[idx].end - this.ranges[idx].start + 1n;
      idx++;
    }
    let addr = this.ranges[idx].start + offset;
    for (let step = 0n; step < budget; step++) {
      const text = this.format(addr);
      if (!taken.has(text)) return text;
      if (addr < this.ranges[idx].end) {
        addr++;
      } else {
        idx = (idx + 1) % this.ranges.length;
        addr = this.ranges[idx].start;
      }
    }
    return undefined;
  }

  /**
   * The allocatable address at offset (0 .. capacity-1) in the order pickFree walks:
   * ranges ascending, addresses ascending inside each. Offsets outside wrap around.
   */
  addressAt(offset: bigint): string {
    let rest = ((offset % this.capacity) + this.capacity) % this.capacity;
    for (const r of this.ranges) {
      const size = r.end - r.start + 1n;
      if (rest < size) return this.format(r.start + rest);
      rest -= size;
    }
    throw new RangeError(`offset ${offset} beyond capacity ${this.capacity}`);
  }

  /** Offset of an allocatable address (inverse of addressAt), or undefined for any other address. */
  offsetOf(ip: string): bigint | undefined {
    const addr = tryParseIp(ip);
    if (!addr || addr.family !== this.subnet.cidr.family) return undefined;
    let base = 0n;
    for (const r of this.ranges) {
      if (addr.value >= r.start && addr.value <= r.end) return base + (addr.value - r.start);
      base += r.end - r.start + 1n;
    }
    return undefined;
  }

  /** How many entries of taken are allocatable addresses of this subnet (for status counts). */
  countAllocated(taken: Iterable<string>): number {
    let n = 0;
    for (const t of taken) {
      if (this.check(t) === undefined) n++;
    }
    return n;
  }

  /** capacity minus the allocated entries of taken; a bigint because a /64 does not fit a number. */
  freeCount(taken: Iterable<string>): bigint {
    const free = this.capacity - BigInt(this.countAllocated(taken));
    return free > 0n ? free : 0n;
  }

  private format(v: bigint): string {
    return formatIp(this.subnet.cidr.family, v);
  }
}

function isResolved(s: Subnet | ResolvedSubnet): s is ResolvedSubnet {
  return typeof (s as ResolvedSubnet).cidr === 'object';
}
