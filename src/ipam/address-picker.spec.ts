import { IpAllocator } from './ip-allocator';
import { AddressPicker, SUBNET_FORGET_MS } from './address-picker';

/** A taken set behind async lookups, counting them. */
function store(taken: Set<string>) {
  const stats = { lookups: 0, lists: 0 };
  return {
    stats,
    isTaken: async (ip: string) => {
      stats.lookups++;
      return taken.has(ip);
    },
    listTaken: async () => {
      stats.lists++;
      return new Set(taken);
    },
  };
}

describe('IpAllocator offsets', () => {
  it('addressAt and offsetOf walk the allocatable ranges (gateway and excluded ranges skipped) and invert each other', () => {
    const a = new IpAllocator({ cidr: '10.0.0.0/28', excludeRanges: [{ start: '10.0.0.5', end: '10.0.0.6' }] });
    const all = Array.from({ length: Number(a.capacity) }, (_, i) => a.addressAt(BigInt(i)));
    expect(all).toEqual(['10.0.0.2', '10.0.0.3', '10.0.0.4', '10.0.0.7', '10.0.0.8', '10.0.0.9', '10.0.0.10', '10.0.0.11', '10.0.0.12', '10.0.0.13', '10.0.0.14']);
    all.forEach((ip, i) => expect(a.offsetOf(ip)).toBe(BigInt(i)));
    expect(a.addressAt(a.capacity)).toBe('10.0.0.2');
    expect(a.offsetOf('10.0.0.1')).toBeUndefined();
    expect(a.offsetOf('10.0.0.5')).toBeUndefined();
    expect(a.offsetOf('fd00::1')).toBeUndefined();
  });
});

describe('AddressPicker', () => {
  it('hands out N addresses in order with at most two lookups each (no listing)', async () => {
    const a = new IpAllocator({ cidr: '10.1.0.0/16' });
    const taken = new Set<string>();
    const s = store(taken);
    const c = new AddressPicker();
    for (let i = 0; i < 3000; i++) {
      const ip = (await c.pick('net', a, s))!;
      expect(taken.has(ip)).toBe(false);
      taken.add(ip);
    }
    expect(s.stats.lists).toBe(0);
    expect(s.stats.lookups).toBeLessThanOrEqual(2 * 3000);
    expect([...taken].slice(0, 3)).toEqual(['10.1.0.2', '10.1.0.3', '10.1.0.4']);
  });

  it('concurrent picks probe different addresses', async () => {
    const a = new IpAllocator({ cidr: '10.1.0.0/24' });
    const c = new AddressPicker();
    const s = store(new Set());
    const ips = await Promise.all(Array.from({ length: 50 }, () => c.pick('net', a, s)));
    expect(new Set(ips).size).toBe(50);
  });

  it('a new process (cursor at 0) in a filled network lists once, then continues after the last address', async () => {
    const a = new IpAllocator({ cidr: '10.1.0.0/16' });
    const taken = new Set(Array.from({ length: 1000 }, (_, i) => a.addressAt(BigInt(i))));
    const s = store(taken);
    const c = new AddressPicker();
    const first = await c.pick('net', a, { ...s, maxProbes: 8 });
    expect(first).toBe(a.addressAt(1000n));
    expect(s.stats).toEqual({ lookups: 8, lists: 1 });
    taken.add(first!);
    expect(await c.pick('net', a, s)).toBe(a.addressAt(1001n));
    expect(s.stats.lists).toBe(1);
  });

  it('gives the lowest free address: one freed behind the cursor, or given back by a failed request', async () => {
    const a = new IpAllocator({ cidr: '10.1.0.0/29' }); // .2 to .6
    const taken = new Set<string>();
    const s = store(taken);
    const c = new AddressPicker();
    for (let i = 0; i < 5; i++) taken.add((await c.pick('net', a, s))!);
    expect([...taken]).toEqual(['10.1.0.2', '10.1.0.3', '10.1.0.4', '10.1.0.5', '10.1.0.6']);
    expect(await c.pick('net', a, s)).toBeUndefined();
    taken.delete('10.1.0.3');
    expect(await c.pick('net', a, s)).toBe('10.1.0.3');
    // Not claimed but given back: the next pick gets it again; not given back: reserved.
    c.unreserve('net', '10.1.0.3');
    expect(await c.pick('net', a, s)).toBe('10.1.0.3');
    expect(await c.pick('net', a, s)).toBeUndefined();
  });

  it('still gives the lowest free address after the subnet\'s excludeRanges or gateway change (they renumber the offsets its cursor counts in: QA-130)', async () => {
    const before = new IpAllocator({ cidr: '10.1.0.0/24' });
    const taken = new Set<string>();
    const s = store(taken);
    const c = new AddressPicker();
    for (let i = 0; i < 8; i++) taken.add((await c.pick('net', before, s))!);
    expect([...taken].at(-1)).toBe('10.1.0.9');
    // .2-.6 excluded now: .10 is the lowest free one (the old cursor, offset 8, said .15).
    const after = new IpAllocator({ cidr: '10.1.0.0/24', excludeRanges: [{ start: '10.1.0.2', end: '10.1.0.6' }] });
    expect(await c.pick('net', after, s)).toBe('10.1.0.10');
    taken.add('10.1.0.10');
    expect(await c.pick('net', after, s)).toBe('10.1.0.11');
    const gatewayMoved = new IpAllocator({ cidr: '10.1.0.0/24', gateway: '10.1.0.254' });
    expect(await c.pick('net', gatewayMoved, s)).toBe('10.1.0.1');
  });

  it('a reservation nobody claims or gives back expires', async () => {
    const a = new IpAllocator({ cidr: '10.1.0.0/24' });
    let t = 1000;
    const c = new AddressPicker();
    const s = { ...store(new Set()), now: () => t };
    expect(await c.pick('net', a, s)).toBe('10.1.0.2');
    expect(await c.pick('net', a, s)).toBe('10.1.0.3');
    t += 60_000;
    expect(await c.pick('net', a, s)).toBe('10.1.0.2');
  });

  it('forgets subnets unused for SUBNET_FORGET_MS (networks deleted long ago), never one in use (QA-115: a state per subnet ever used)', async () => {
    const a = new IpAllocator({ cidr: '10.1.0.0/24' });
    let t = 1000;
    const c = new AddressPicker();
    const s = { ...store(new Set()), now: () => t };
    for (let i = 0; i < 300; i++) await c.pick(`old/${i}`, a, s);
    expect(c.size).toBe(300);
    t += SUBNET_FORGET_MS;
    expect(await c.pick('live', a, s)).toBe('10.1.0.2');
    for (let i = 0; i < 300; i++) await c.pick(`new/${i}`, a, s);
    // The 300 old ones went at the sweep; 'live' and the new ones stay.
    expect(c.size).toBe(301);
    expect(await c.pick('live', a, s)).toBe('10.1.0.3');
  });

  it('a pick that finds another pick\'s reservation leaves it as it was: retries on a full subnet do not keep it reserved', async () => {
    // A /30: one allocatable address.
    const a = new IpAllocator({ cidr: '10.1.0.0/30' });
    let t = 1000;
    const c = new AddressPicker();
    const s = { ...store(new Set()), now: () => t };
    expect(await c.pick('net', a, s)).toBe('10.1.0.2');
    // Its request never claims nor gives it back; a client retries every second meanwhile.
    for (let i = 0; i < 4; i++) {
      t += 1000;
      expect(await c.pick('net', a, s)).toBeUndefined();
    }
    t += 1001;
    expect(await c.pick('net', a, s)).toBe('10.1.0.2');
  });

  it('with an rng probes random addresses (big subnets)', async () => {
    const a = new IpAllocator({ cidr: 'fd00::/64' });
    const c = new AddressPicker();
    let x = 0.123;
    const rng = () => (x = (x * 9301 + 49297) % 233280 / 233280);
    const ips = new Set<string>();
    for (let i = 0; i < 20; i++) ips.add((await c.pick('net', a, { ...store(ips), rng }))!);
    expect(ips.size).toBe(20);
  });
});
