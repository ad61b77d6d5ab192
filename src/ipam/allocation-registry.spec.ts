import { MemoryStore } from '../reconcile/testing/memory-store';
import { AllocationRegistry, ipKey } from './allocation-registry';
import { IpAllocator } from './ip-allocator';

describe('AllocationRegistry.pickFreeIp', () => {
  const subnet = [new IpAllocator({ cidr: '10.47.0.0/24' })];
  const owner = (name: string, uid: string) => ({ kind: 'VirtualPort', namespace: 'rc', name, uid });

  /** Picks and claims `n` addresses for network rc/net of `uid`, as admission does. */
  async function fill(reg: AllocationRegistry, store: MemoryStore, uid: string, n: number): Promise<string[]> {
    const out: string[] = [];
    for (let i = 0; i < n; i++) {
      const ip = (await reg.pickFreeIp('rc', 'net', subnet, undefined, uid))!;
      await store.txn([AllocationRegistry.claim(ipKey('rc', 'net', ip), owner(`p${i}`, `${uid}-p${i}`))]);
      out.push(ip);
    }
    return out;
  }

  it('gives a network made again under the same name the same addresses as the first, lowest first (QA-147 F1: it went on from the first one\'s cursor)', async () => {
    const store = new MemoryStore();
    const reg = new AllocationRegistry(store);
    const first = await fill(reg, store, 'uid-1', 5);
    expect(first).toEqual(['10.47.0.2', '10.47.0.3', '10.47.0.4', '10.47.0.5', '10.47.0.6']);
    // The namespace deleted: every claim released.
    await store.txn(first.map((ip) => AllocationRegistry.release(ipKey('rc', 'net', ip))));
    expect(await fill(reg, store, 'uid-2', 5)).toEqual(first);
  });

  it('within one network, picks next fit: an address freed below the last pick comes back once the picks go round', async () => {
    const store = new MemoryStore();
    const reg = new AllocationRegistry(store);
    const [, second] = await fill(reg, store, 'uid-1', 3);
    await store.txn([AllocationRegistry.release(ipKey('rc', 'net', second!))]);
    expect(await reg.pickFreeIp('rc', 'net', subnet, undefined, 'uid-1')).toBe('10.47.0.5');
  });
});
