import { validateVni, VNI_MAX, VniAllocator } from './vni-allocator';

describe('validateVni', () => {
  it.each([
    [1, undefined],
    [VNI_MAX, undefined],
    [0, 'outside'],
    [VNI_MAX + 1, 'outside'],
    [-5, 'outside'],
    [1.5, 'integer'],
    ['7', 'integer'],
    [Number.NaN, 'integer'],
    [undefined, 'integer'],
  ])('%p', (v, reason) => {
    const got = validateVni(v);
    if (reason === undefined) expect(got).toBeUndefined();
    else expect(got).toContain(reason);
  });
});

describe('VniAllocator', () => {
  it('picks the lowest free VNI by default', () => {
    expect(new VniAllocator().pickFree(new Set([1, 2, 4]))).toBe(3);
  });

  it('scans from a hint and wraps', () => {
    const a = new VniAllocator({ min: 100, max: 104 });
    expect(a.pickFree(new Set([103]), { hint: 103 })).toBe(104);
    expect(a.pickFree(new Set([103, 104]), { hint: 103 })).toBe(100);
    expect(a.pickFree(new Set(), { hint: 5 })).toBe(100); // out-of-range hint falls back to min
  });

  it('returns undefined when the range is full', () => {
    const a = new VniAllocator({ min: 10, max: 12 });
    expect(a.pickFree(new Set([10, 11, 12]))).toBeUndefined();
    expect(a.pickFree(new Set([10, 11, 12]), { hint: 11 })).toBeUndefined();
  });

  it('random start stays in range and avoids taken', () => {
    const a = new VniAllocator({ min: 1000, max: 1009 });
    const taken = new Set<number>();
    let s = 1;
    const rng = () => ((s = (s * 48271) % 2147483647) / 2147483647);
    for (let i = 0; i < 10; i++) {
      const v = a.pickFree(taken, { rng });
      expect(v).toBeGreaterThanOrEqual(1000);
      expect(v).toBeLessThanOrEqual(1009);
      expect(taken.has(v as number)).toBe(false);
      taken.add(v as number);
    }
    expect(a.pickFree(taken, { rng })).toBeUndefined();
  });

  it('is fast with a huge range and many taken', () => {
    const taken = new Set(Array.from({ length: 100_000 }, (_, i) => i + 1));
    expect(new VniAllocator().pickFree(taken)).toBe(100_001);
  });

  it('checks requested VNIs against the configured range', () => {
    const a = new VniAllocator({ min: 100, max: 200 });
    expect(a.check(150)).toBeUndefined();
    expect(a.check(99)).toContain('allocatable range 100..200');
    expect(a.check(0)).toContain('outside 1..16777215');
  });

  it.each([
    [{ min: 0 }, 'outside'],
    [{ max: VNI_MAX + 1 }, 'outside'],
    [{ min: 10, max: 9 }, 'empty'],
  ])('rejects range %j', (opts, message) => {
    expect(() => new VniAllocator(opts)).toThrow(message);
  });
});
