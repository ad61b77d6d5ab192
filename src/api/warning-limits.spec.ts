import { limitWarnings } from './warning-limits';

describe('limitWarnings', () => {
  it('passes a few warnings through, each once', () => {
    expect(limitWarnings(['a', 'b', 'a'])).toEqual(['a', 'b']);
  });

  it('keeps a thousand warnings under 4 KiB and says how many were left out (QA-124 F5)', () => {
    const many = Array.from({ length: 1000 }, (_, i) => `backend 10.0.${i >> 8}.${i & 255} of load balancer web: no VirtualPort in network "net1" has this address; it gets no connections until one does`);
    const out = limitWarnings(many);
    expect(out.reduce((n, w) => n + w.length, 0)).toBeLessThanOrEqual(4096);
    expect(out[0]).toBe(many[0]);
    const last = out[out.length - 1]!;
    expect(last).toBe(`${1000 - (out.length - 1)} more warnings not shown`);
    expect(out.length).toBeGreaterThan(10);
  });

  it('cuts long warnings to 256 characters once the total is over', () => {
    const out = limitWarnings(Array.from({ length: 20 }, (_, i) => `${i}:${'x'.repeat(1000)}`));
    expect(out[0]).toHaveLength(256);
    expect(out[0]!.endsWith('...')).toBe(true);
  });
});
