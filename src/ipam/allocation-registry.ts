/**
 * Allocations live in the store as create-only keys, one per address, MAC and VNI:
 *   /ipam/ips/NS/NETWORK/IP, /ipam/macs/NS/NETWORK/MAC, /ipam/vnis/VNI, /ipam/ifaces/ID
 * (a VirtualPort's interfaceId: the OVS iface-id its NIC binds by, unique across
 * namespaces, or a tenant could name another tenant's NIC and take its traffic)
 * Creating the key in the same transaction as the object that uses it is what makes a
 * duplicate impossible, across concurrent requests, restarts and (with etcd) replicas:
 * the second transaction fails with KeyExistsError and nothing of it is written.
 */
import type { KeyValue, Store, TxnOp } from '../store/store';
import type { IpAllocator } from './ip-allocator';
import { AddressPicker } from './address-picker';
import type { Rng } from './random';

export interface AllocationOwner {
  kind: string;
  namespace?: string;
  name: string;
  uid: string;
}

export interface Allocation {
  owner: AllocationOwner;
}

const ROOT = '/ipam/';

export function ipPrefix(namespace: string, network: string): string {
  return `${ROOT}ips/${namespace}/${network}/`;
}

export function ipKey(namespace: string, network: string, ip: string): string {
  return `${ipPrefix(namespace, network)}${ip}`;
}

export function macPrefix(namespace: string, network: string): string {
  return `${ROOT}macs/${namespace}/${network}/`;
}

export function macKey(namespace: string, network: string, mac: string): string {
  return `${macPrefix(namespace, network)}${mac}`;
}

/** The network an address or MAC claim is in (ipKey, macKey); undefined for other claims. */
export function networkOfClaim(key: string): { namespace: string; network: string } | undefined {
  const m = /^\/ipam\/(?:ips|macs)\/([^/]+)\/([^/]+)\//.exec(key);
  return m ? { namespace: m[1]!, network: m[2]! } : undefined;
}

export const VNI_PREFIX = `${ROOT}vnis/`;

export function vniKey(vni: number): string {
  return `${VNI_PREFIX}${vni}`;
}

/**
 * A network's conntrack zone (ctZone of its VNI), claimed with its VNI: VNIs are 24 bits
 * and zones 16, so two networks could otherwise share a zone, and one tenant's load
 * balanced connections match another's conntrack entries.
 */
export const CT_ZONE_PREFIX = `${ROOT}ctzones/`;

export function ctZoneKey(zone: number): string {
  return `${CT_ZONE_PREFIX}${zone}`;
}

/**
 * Where a network update announces the subnets it is changing (admission/subnet-changes.ts).
 * Outside ROOT: every key there is an allocation, and the repair sweep reads them all.
 */
const SUBNET_CHANGES = '/subnet-changes/';

export function subnetChangeKey(namespace: string, network: string): string {
  return `${SUBNET_CHANGES}${namespace}/${network}`;
}

export const isSubnetChangeKey = (key: string): boolean => key.startsWith(SUBNET_CHANGES);

export const IFACE_PREFIX = `${ROOT}ifaces/`;

export function ifaceKey(interfaceId: string): string {
  return `${IFACE_PREFIX}${encodeURIComponent(interfaceId)}`;
}

/** The interface id an ifaceKey names (undefined: not such a key). */
export function interfaceIdOfKey(key: string): string | undefined {
  return key.startsWith(IFACE_PREFIX) ? decodeURIComponent(key.slice(IFACE_PREFIX.length)) : undefined;
}

export function isAllocationKey(key: string): boolean {
  return key.startsWith(ROOT);
}

export class AllocationRegistry {
  /** Per subnet, where free addresses start and which picks are in flight: hints, never a source of truth. */
  private readonly picker = new AddressPicker();

  constructor(private readonly store: Store) {}

  private async keysUnder(prefix: string): Promise<KeyValue<Allocation>[]> {
    const out: KeyValue<Allocation>[] = [];
    let startAfter: string | undefined;
    for (;;) {
      const page = await this.store.list<Allocation>(prefix, { limit: 1000, startAfter });
      out.push(...page.items);
      if (!page.more || page.items.length === 0) return out;
      startAfter = page.items[page.items.length - 1]!.key;
    }
  }

  /** Allocated IPs of a network, keyed by canonical address. */
  async ips(namespace: string, network: string): Promise<Map<string, Allocation>> {
    const prefix = ipPrefix(namespace, network);
    const rows = await this.keysUnder(prefix);
    return new Map(rows.map((r) => [r.key.slice(prefix.length), r.value]));
  }

  /** How many IPs of a network are allocated (a count of keys, nothing read). */
  countIps(namespace: string, network: string): Promise<number> {
    return this.store.count(ipPrefix(namespace, network));
  }

  async macs(namespace: string, network: string): Promise<Map<string, Allocation>> {
    const prefix = macPrefix(namespace, network);
    const rows = await this.keysUnder(prefix);
    return new Map(rows.map((r) => [r.key.slice(prefix.length), r.value]));
  }

  async vnis(): Promise<Map<number, Allocation>> {
    const rows = await this.keysUnder(VNI_PREFIX);
    return new Map(rows.map((r) => [Number(r.key.slice(VNI_PREFIX.length)), r.value]));
  }

  /** Every conntrack zone claim, by zone. */
  async ctZones(): Promise<Map<number, Allocation>> {
    const rows = await this.keysUnder(CT_ZONE_PREFIX);
    return new Map(rows.map((r) => [Number(r.key.slice(CT_ZONE_PREFIX.length)), r.value]));
  }

  /** Who holds an IP of a network (one key lookup, whatever the network's size). */
  ipHolder(namespace: string, network: string, ip: string): Promise<Allocation | undefined> {
    return this.get(ipKey(namespace, network, ip));
  }

  macHolder(namespace: string, network: string, mac: string): Promise<Allocation | undefined> {
    return this.get(macKey(namespace, network, mac));
  }

  interfaceHolder(interfaceId: string): Promise<Allocation | undefined> {
    return this.get(ifaceKey(interfaceId));
  }

  /**
   * A free address of the network in one of allocators (one family), or undefined when
   * they are all full. Cost per call: a few key lookups, independent of how many
   * addresses the network holds (see AddressPicker); free only as of now: the caller's
   * create-only claim in the object's transaction is what settles a race. A caller that
   * will not claim it (its request failed) gives it back with unreserveIp. `networkUid`: the
   * network's, so that one created again under the same name starts picking afresh, as a new
   * network does (QA-147 F1: it went on from its predecessor's cursor, and one manifest gave
   * other addresses in a namespace made again).
   */
  async pickFreeIp(namespace: string, network: string, allocators: readonly IpAllocator[], rng?: (a: IpAllocator) => Rng | undefined, networkUid?: string): Promise<string | undefined> {
    let listed: Set<string> | undefined;
    const listTaken = async () => (listed ??= new Set((await this.ips(namespace, network)).keys()));
    for (const a of allocators) {
      const ip = await this.picker.pick(subnetKey(namespace, network, a, networkUid), a, {
        isTaken: async (candidate) => (await this.ipHolder(namespace, network, candidate)) !== undefined,
        listTaken,
        rng: rng?.(a),
      });
      if (ip) return ip;
    }
    return undefined;
  }

  unreserveIp(namespace: string, network: string, allocators: readonly IpAllocator[], ip: string, networkUid?: string): void {
    for (const a of allocators) this.picker.unreserve(subnetKey(namespace, network, a, networkUid), ip);
  }

  async get(key: string): Promise<Allocation | undefined> {
    return (await this.store.get<Allocation>(key))?.value;
  }

  /** Every allocation key in the store (for the repair sweep). */
  async all(): Promise<KeyValue<Allocation>[]> {
    return this.keysUnder(ROOT);
  }

  static claim(key: string, owner: AllocationOwner): TxnOp<Allocation> {
    return { type: 'create', key, value: { owner } };
  }

  static release(key: string): TxnOp {
    return { type: 'delete', key };
  }
}

/** The picker's state per subnet of one network instance (its uid where known). */
function subnetKey(namespace: string, network: string, a: IpAllocator, networkUid: string | undefined): string {
  return `${namespace}/${network}/${networkUid ?? ''}/${a.cidr}`;
}
