import { parseBackend, sameBackend } from './backend';
import { conditionMet, parseWaitFor } from './condition';
import { formatDuration, parseDuration } from './duration';
import { parseListen } from './listen';

describe('--listen', () => {
  it.each([
    ['80:8080/tcp', { protocol: 'TCP', port: 80, targetPort: 8080 }],
    ['53/udp', { protocol: 'UDP', port: 53, targetPort: 53 }],
    ['443', { protocol: 'TCP', port: 443, targetPort: 443 }],
    ['9000:9001/SCTP', { protocol: 'SCTP', port: 9000, targetPort: 9001 }],
  ])('parses %s', (text, want) => expect(parseListen(text)).toEqual(want));

  it.each([['0'], ['80:x'], ['80/icmp'], ['70000'], [''], ['80:8080:1']])('rejects %p', (text) => expect(() => parseListen(text)).toThrow());
});

describe('--backend', () => {
  it.each([
    ['web-1', { port: 'web-1' }],
    ['web-1=3', { port: 'web-1', weight: 3 }],
    ['10.0.0.7', { ip: '10.0.0.7' }],
    ['10.0.0.7=100', { ip: '10.0.0.7', weight: 100 }],
    ['fd00::7=2', { ip: 'fd00::7', weight: 2 }],
    ['web-1=0', { port: 'web-1', weight: 0 }], // drained
  ])('parses %s', (text, want) => expect(parseBackend(text)).toEqual(want));

  it.each([['=2'], ['web=101'], ['web=-1'], ['web=x'], ['Web_1'], ['10.0.0']])('rejects %p', (text) => expect(() => parseBackend(text)).toThrow());

  it('compares backends by target, ignoring weight and IPv6 spelling', () => {
    expect(sameBackend({ port: 'a', weight: 2 }, { port: 'a' })).toBe(true);
    expect(sameBackend({ ip: 'fd00:0::07' }, { ip: 'fd00::7' })).toBe(true);
    expect(sameBackend({ ip: '10.0.0.1' }, { port: '10.0.0.1' })).toBe(false);
  });
});

describe('--timeout and --for', () => {
  it('parses durations', () => {
    expect(parseDuration('30s')).toBe(30_000);
    expect(parseDuration('1m30s')).toBe(90_000);
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('2')).toBe(2000);
    expect(() => parseDuration('10 minutes')).toThrow();
    expect(() => parseDuration('')).toThrow();
    // Printed back as given: 1500ms is 1.5s, not 2s; no elapsed time is 0s.
    expect([0, 700, 1500, 2000, 90_000].map(formatDuration)).toEqual(['0s', '700ms', '1.5s', '2s', '1m30s']);
  });

  it('parses conditions and ignores ones observed for an older generation', () => {
    expect(parseWaitFor('condition=Ready')).toEqual({ kind: 'condition', type: 'Ready', status: 'True' });
    expect(parseWaitFor('condition=Ready=false')).toEqual({ kind: 'condition', type: 'Ready', status: 'False' });
    expect(parseWaitFor('delete')).toEqual({ kind: 'delete' });
    expect(() => parseWaitFor('Ready')).toThrow();
    const obj = (gen: number, observed: number) => ({
      apiVersion: 'v', kind: 'K', metadata: { name: 'x', generation: gen },
      status: { conditions: [{ type: 'Ready', status: 'True', observedGeneration: observed, reason: 'r', message: 'm', lastTransitionTime: '' }] },
    });
    expect(conditionMet(obj(2, 2), { type: 'Ready', status: 'True' })).toBe(true);
    expect(conditionMet(obj(3, 2), { type: 'Ready', status: 'True' })).toBe(false);
  });
});
