import fc from 'fast-check';
import { isLocallyAdministered, MacAllocator, parseMac, validateMac } from './mac-allocator';
import { cryptoRng, type Rng } from './random';

const counter = (): Rng => {
  let i = 0;
  return () => ((i++ * 0x9e3779b1) >>> 0) / 2 ** 32;
};

describe('parseMac', () => {
  it.each([
    ['0A:58:0A:00:00:05', '0a:58:0a:00:00:05'],
    ['fa-16-3e-00-00-01', 'fa:16:3e:00:00:01'],
    ['00:1b:21:aa:bb:cc', '00:1b:21:aa:bb:cc'], // vendor (universal) MACs are accepted from users
  ])('%s -> %s', (input, expected) => {
    expect(parseMac(input)).toBe(expected);
  });

  it.each([
    ['01:00:5e:00:00:01', 'multicast'],
    ['ff:ff:ff:ff:ff:ff', 'multicast'],
    ['33:33:00:00:00:01', 'multicast'],
    ['00:00:00:00:00:00', 'not a usable'],
    ['0a:58:0a:00:00', 'not a MAC'],
    ['0a:58:0a:00:00:05:06', 'not a MAC'],
    ['0a:58-0a:00:00:05', 'not a MAC'],
    ['a:58:a:0:0:5', 'not a MAC'],
    ['0a580a000005', 'not a MAC'],
    ['0g:58:0a:00:00:05', 'not a MAC'],
    ['', 'not a MAC'],
  ])('rejects %s', (input, message) => {
    expect(validateMac(input)).toContain(message);
    expect(() => parseMac(input, 'spec.mac')).toThrow(message);
  });
});

describe('MacAllocator', () => {
  it('generates unicast, locally administered, canonical MACs', () => {
    fc.assert(
      fc.property(fc.integer(), (seed) => {
        let s = seed >>> 0;
        const rng: Rng = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
        const mac = new MacAllocator().random(rng);
        expect(mac).toMatch(/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
        expect(parseMac(mac)).toBe(mac);
        expect(isLocallyAdministered(mac)).toBe(true);
        expect('26ae').toContain(mac[1]);
      }),
    );
  });

  it('defaults to a crypto source and does not repeat', () => {
    const alloc = new MacAllocator();
    const seen = new Set(Array.from({ length: 1000 }, () => alloc.random()));
    expect(seen.size).toBe(1000);
  });

  it('keeps a configured prefix', () => {
    const alloc = new MacAllocator({ prefix: '0A:58', rng: counter() });
    for (let i = 0; i < 20; i++) expect(alloc.random()).toMatch(/^0a:58(:[0-9a-f]{2}){4}$/);
  });

  it.each(['01:00', '00:11', 'zz', '0a:58:0a:00:00:05', ''])('rejects prefix %j', (prefix) => {
    expect(() => new MacAllocator({ prefix })).toThrow(/MAC prefix/);
  });

  it('pickFree avoids taken MACs and gives up when the space is exhausted', () => {
    const rng = counter();
    const alloc = new MacAllocator({ prefix: '0a:58:0a:00:00' }); // 256 MACs
    const taken = new Set<string>();
    for (let i = 0; i < 100; i++) {
      const mac = alloc.pickFree(taken, rng, 1000);
      expect(mac).toBeDefined();
      expect(taken.has(mac as string)).toBe(false);
      taken.add(mac as string);
    }
    const all = new Set(Array.from({ length: 256 }, (_, i) => `0a:58:0a:00:00:${i.toString(16).padStart(2, '0')}`));
    expect(alloc.pickFree(all, rng, 50)).toBeUndefined();
  });
});

describe('cryptoRng', () => {
  it('stays uniform in [0, 1) across refills of its byte pool', () => {
    const draws = Array.from({ length: 5000 }, () => cryptoRng());
    expect(draws.every((v) => v >= 0 && v < 1)).toBe(true);
    expect(new Set(draws).size).toBe(draws.length);
    const mean = draws.reduce((a, b) => a + b, 0) / draws.length;
    expect(mean).toBeGreaterThan(0.4);
    expect(mean).toBeLessThan(0.6);
  });
});
