/**
 * Allocations live in the store as create-only keys, one per address, MAC and VNI:
 *   /ipam/ips/NS/NETWORK/IP, /ipam/macs/NS/NETWORK/MAC, /ipam/vnis/VNI
 * Creating the key in the same transaction as the object that uses it is what makes a
 * duplicate impossible, across concurrent requests, restarts and (with etcd) replicas:
 * the second transaction fails with KeyExistsError and nothing of it is written.
 */
import type { KeyValue, Store, TxnOp } from '../store/store';

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

export const VNI_PREFIX = `${ROOT}vnis/`;

export function vniKey(vni: number): string {
  return `${VNI_PREFIX}${vni}`;
}

export function isAllocationKey(key: string): boolean {
  return key.startsWith(ROOT);
}

export class AllocationRegistry {
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

  async macs(namespace: string, network: string): Promise<Map<string, Allocation>> {
    const prefix = macPrefix(namespace, network);
    const rows = await this.keysUnder(prefix);
    return new Map(rows.map((r) => [r.key.slice(prefix.length), r.value]));
  }

  async vnis(): Promise<Map<number, Allocation>> {
    const rows = await this.keysUnder(VNI_PREFIX);
    return new Map(rows.map((r) => [Number(r.key.slice(VNI_PREFIX.length)), r.value]));
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
