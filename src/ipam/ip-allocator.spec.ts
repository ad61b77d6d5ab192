import fc from 'fast-check';
import { canonicalIp, parseIp } from './address';
import { IpAllocator } from './ip-allocator';
import type { Rng } from './random';
import { cidrContains } from './subnet';

/** Deterministic rng for tests (mulberry32). */
function seeded(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Fills the allocator until it is full, returning everything it handed out. */
function drain(alloc: IpAllocator, rng?: Rng, initial: string[] = []): string[] {
  const taken = new Set(initial);
  const got: string[] = [];
  for (;;) {
    const ip = alloc.pickFree(taken, rng);
    if (ip === undefined) return got;
    expect(taken.has(ip)).toBe(false);
    taken.add(ip);
    got.push(ip);
  }
}

describe('IpAllocator.pickFree', () => {
  it.each([
    // cidr, gateway, excludes, every address handed out in order (no rng)
    ['10.0.0.0/30', undefined, [], ['10.0.0.2']],
    ['10.0.0.0/30', '10.0.0.2', [], ['10.0.0.1']],
    ['10.0.0.0/29', undefined, [{ start: '10.0.0.3', end: '10.0.0.4' }], ['10.0.0.2', '10.0.0.5', '10.0.0.6']],
    ['10.0.0.0/29', '10.0.0.6', [{ start: '10.0.0.1', end: '10.0.0.5' }], []],
    ['fd00::/126', undefined, [], ['fd00::2', 'fd00::3']], // no broadcast in IPv6
  ])('%s gw=%s excludes=%j', (cidr, gateway, excludeRanges, expected) => {
    const alloc = new IpAllocator({ cidr, gateway, excludeRanges });
    expect(drain(alloc)).toEqual(expected);
    expect(alloc.capacity).toBe(BigInt(expected.length));
  });

  it('returns undefined for a full /30 even with unrelated entries in taken', () => {
    const alloc = new IpAllocator({ cidr: '10.0.0.0/30' });
    expect(alloc.pickFree(new Set(['10.0.0.2', '192.168.0.1', 'fd00::1']))).toBeUndefined();
  });

  it('fills a /24 exactly once with a random start', () => {
    const alloc = new IpAllocator({ cidr: '10.1.2.0/24', excludeRanges: [{ start: '10.1.2.100', end: '10.1.2.199' }] });
    const got = drain(alloc, seeded(7));
    expect(got).toHaveLength(253 - 100);
    expect(new Set(got).size).toBe(got.length);
  });

  it('handles an IPv6 /64 without enumerating it', () => {
    const alloc = new IpAllocator({ cidr: 'fd00:1::/64' });
    const taken = new Set<string>();
    const started = Date.now();
    for (let i = 0; i < 1000; i++) {
      const ip = alloc.pickFree(taken, seeded(i));
      expect(ip).toBeDefined();
      taken.add(ip as string);
    }
    expect(taken.size).toBe(1000);
    expect(Date.now() - started).toBeLessThan(2000);
    // Sequential mode hands out the lowest addresses after the gateway.
    expect(alloc.pickFree(new Set(['fd00:1::2']))).toBe('fd00:1::3');
  });

  it('skips a dense taken block in a /64 within taken.size + 1 steps', () => {
    const alloc = new IpAllocator({ cidr: 'fd00::/64' });
    const taken = new Set(Array.from({ length: 5000 }, (_, i) => canonicalIp(`fd00::${(i + 2).toString(16)}`)));
    expect(alloc.pickFree(taken)).toBe(canonicalIp(`fd00::${(5002).toString(16)}`));
  });

  it('wraps around from any random start to find the only free address', () => {
    const alloc = new IpAllocator({ cidr: 'fd00::/120' });
    const taken = new Set(Array.from({ length: 254 }, (_, i) => canonicalIp(`fd00::${(i + 2).toString(16)}`)));
    taken.delete('fd00::2');
    for (let seed = 0; seed < 50; seed++) expect(alloc.pickFree(taken, seeded(seed))).toBe('fd00::2');
  });

  it('property: never returns a taken, reserved, excluded or outside address', () => {
    const subnets = fc.oneof(
      fc.record({ base: fc.integer({ min: 0, max: 255 }), prefix: fc.integer({ min: 24, max: 30 }) }).map(({ base, prefix }) => {
        const size = 2 ** (32 - prefix);
        return { family: 4 as const, cidr: `10.${base}.0.0/${prefix}`, size };
      }),
      fc.integer({ min: 118, max: 126 }).map((prefix) => ({ family: 6 as const, cidr: `fd00:${0}::/${prefix}`, size: 2 ** (128 - prefix) })),
    );
    const addr = (family: 4 | 6, cidr: string, offset: number) => {
      const base = parseIp(cidr.split('/')[0]).value + BigInt(offset);
      return family === 4
        ? [24n, 16n, 8n, 0n].map((s) => ((base >> s) & 0xffn).toString()).join('.')
        : canonicalIp(`fd00::${(base & 0xffffn).toString(16)}`);
    };
    fc.assert(
      fc.property(
        subnets.chain((s) =>
          fc.record({
            s: fc.constant(s),
            gw: fc.option(fc.integer({ min: 1, max: s.size - 2 }), { nil: undefined }),
            excludes: fc.array(fc.tuple(fc.integer({ min: 0, max: s.size - 1 }), fc.integer({ min: 0, max: 8 })), { maxLength: 3 }),
            taken: fc.array(fc.integer({ min: 0, max: s.size - 1 }), { maxLength: 64 }),
            seed: fc.option(fc.integer(), { nil: undefined }),
          }),
        ),
        ({ s, gw, excludes, taken, seed }) => {
          const excludeRanges = excludes.map(([start, len]) => ({
            start: addr(s.family, s.cidr, start),
            end: addr(s.family, s.cidr, Math.min(start + len, s.size - 1)),
          }));
          const alloc = new IpAllocator({ cidr: s.cidr, gateway: gw === undefined ? undefined : addr(s.family, s.cidr, gw), excludeRanges });
          const takenSet = new Set(taken.map((o) => addr(s.family, s.cidr, o)));
          const ip = alloc.pickFree(takenSet, seed === undefined ? undefined : seeded(seed));
          if (ip === undefined) {
            // Full: every allocatable address must be taken.
            for (let o = 0; o < s.size; o++) {
              const a = addr(s.family, s.cidr, o);
              if (alloc.check(a) === undefined) expect(takenSet.has(a)).toBe(true);
            }
            return;
          }
          expect(takenSet.has(ip)).toBe(false);
          expect(alloc.check(ip)).toBeUndefined();
          expect(cidrContains(alloc.subnet.cidr, parseIp(ip))).toBe(true);
          expect(ip).toBe(canonicalIp(ip));
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('IpAllocator.check', () => {
  const alloc = new IpAllocator({ cidr: '10.0.0.0/24', excludeRanges: [{ start: '10.0.0.10', end: '10.0.0.19' }] });
  const v6 = new IpAllocator({ cidr: 'fd00::/64', gateway: 'fd00::fffe' });
  it.each([
    [alloc, '10.0.0.5', undefined],
    [alloc, '10.0.0.254', undefined],
    [alloc, '10.0.1.5', 'outside 10.0.0.0/24'],
    [alloc, '10.0.0.0', 'network address'],
    [alloc, '10.0.0.255', 'broadcast address'],
    [alloc, '10.0.0.1', 'gateway'],
    [alloc, '10.0.0.15', 'excluded range 10.0.0.10-10.0.0.19'],
    [alloc, 'fd00::5', 'is IPv6 but 10.0.0.0/24 is IPv4'],
    [alloc, '10.0.0.005', 'leading zero'],
    [v6, 'FD00::1', undefined], // the default gateway moved
    [v6, 'fd00::ffff:ffff:ffff:ffff', undefined], // no IPv6 broadcast
    [v6, 'fd00::', 'network address'],
    [v6, 'fd00::fffe', 'gateway'],
  ])('%#: %s', (a, ip, reason) => {
    const got = a.check(ip);
    if (reason === undefined) expect(got).toBeUndefined();
    else expect(got).toContain(reason);
  });
  it('holds: what check allows, and an excluded range too (an address asked for may be held there)', () => {
    for (const a of [alloc, v6]) {
      for (const ip of ['10.0.0.5', '10.0.0.254', '10.0.1.5', '10.0.0.0', '10.0.0.255', '10.0.0.1', '10.0.0.15', 'fd00::5', '10.0.0.005', 'FD00::1', 'fd00::', 'fd00::fffe', 'nonsense']) {
        const why = a.check(ip);
        expect([ip, a.holds(ip)]).toEqual([ip, why === undefined || why.includes('excluded range')]);
      }
    }
    expect(alloc.holds('10.0.0.15')).toBe(true);
  });

  it('counts allocations and free addresses as bigints', () => {
    expect(alloc.capacity).toBe(253n - 10n);
    expect(alloc.freeCount(['10.0.0.5', '10.0.0.6', '10.0.0.1', '10.0.0.15', '192.0.2.1'])).toBe(241n);
    expect(v6.freeCount([])).toBe((1n << 64n) - 2n);
  });

  it('exposes canonical cidr and gateway', () => {
    expect(new IpAllocator({ cidr: 'FD00:0::/64' }).gateway).toBe('fd00::1');
    expect(new IpAllocator({ cidr: 'FD00:0::/64' }).cidr).toBe('fd00::/64');
  });

  it('rejects an invalid subnet', () => {
    expect(() => new IpAllocator({ cidr: '10.0.0.1/24' })).toThrow('network is 10.0.0.0/24');
  });
});
