import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { timingOf } from '../../reconcile/kinds/lb-health';
import { HEALTH_CHECK_DEFAULTS } from '../../resources/kinds';
import { parseHealthEdit } from '../flags/health';
import { addHealthTuningOptions, describeHealthCheck, effectiveHealthCheck, healthCheckOps } from './lb-health-check';

describe('lb set-health patch', () => {
  it('adds a TCP check with only the given fields when there is none', () => {
    expect(healthCheckOps(undefined, parseHealthEdit({ healthInterval: '10s' }))).toEqual([{ op: 'add', path: '/spec/healthCheck', value: { protocol: 'TCP', intervalSeconds: 10 } }]);
  });

  it('with no check yet, flags that only undo a UDP setting add a plain TCP check, not one with a udp that admission refuses (review of QA-152\'s UDP checks)', () => {
    const plain = [{ op: 'add', path: '/spec/healthCheck', value: { protocol: 'TCP' } }];
    expect(healthCheckOps(undefined, parseHealthEdit({ healthUdpExpectReply: false }))).toEqual(plain);
    expect(healthCheckOps(undefined, parseHealthEdit({ healthUdpPayloadHex: 'none' }))).toEqual(plain);
    expect(healthCheckOps(undefined, parseHealthEdit({ healthUdpExpectReply: false, healthProtocol: 'udp' }))).toEqual([{ op: 'add', path: '/spec/healthCheck', value: { protocol: 'UDP' } }]);
    expect(healthCheckOps(undefined, parseHealthEdit({ healthUdpExpectReply: true }))).toEqual([{ op: 'add', path: '/spec/healthCheck', value: { protocol: 'UDP', udp: { expectReply: true } } }]);
  });

  it('replaces the given fields of an existing check and leaves the others alone', () => {
    const ops = healthCheckOps({ protocol: 'TCP', intervalSeconds: 10, timeoutSeconds: 4, healthyThreshold: 5 }, parseHealthEdit({ healthTimeout: '3s', unhealthyThreshold: '6' }));
    expect(ops).toEqual([
      { op: 'add', path: '/spec/healthCheck/timeoutSeconds', value: 3 },
      { op: 'add', path: '/spec/healthCheck/unhealthyThreshold', value: 6 },
    ]);
  });

  it('removes the check with --off, and sends nothing when there is none', () => {
    expect(healthCheckOps({ protocol: 'TCP' }, { off: true })).toEqual([{ op: 'remove', path: '/spec/healthCheck' }]);
    expect(healthCheckOps(undefined, { off: true })).toEqual([]);
  });
});

describe('health check description', () => {
  it('fills in the defaults the server probes with', () => {
    expect(describeHealthCheck({ protocol: 'TCP' })).toBe('TCP every 5s, timeout 2s, down after 3 failures, up after 2 successes');
    expect(describeHealthCheck({})).toBe('TCP every 5s, timeout 2s, down after 3 failures, up after 2 successes');
    expect(describeHealthCheck({ intervalSeconds: 90, timeoutSeconds: 10, unhealthyThreshold: 1, healthyThreshold: 1 })).toBe('TCP every 1m30s, timeout 10s, down after 1 failure, up after 1 success');
  });

  it('caps the default timeout at a shorter interval, as the probes do', () => {
    expect(describeHealthCheck({ intervalSeconds: 1 })).toBe('TCP every 1s, timeout 1s, down after 3 failures, up after 2 successes');
  });

  it('says what happens without a check', () => {
    expect(describeHealthCheck(undefined)).toBe('none (a backend is healthy while its port is bound)');
  });

  it('agrees with the timing the server probes with', () => {
    for (const hc of [{}, { intervalSeconds: 1 }, { intervalSeconds: 30, timeoutSeconds: 30, healthyThreshold: 10, unhealthyThreshold: 1 }]) {
      const e = effectiveHealthCheck(hc);
      expect({ intervalMs: e.intervalSeconds * 1000, timeoutMs: e.timeoutSeconds * 1000, healthyThreshold: e.healthyThreshold, unhealthyThreshold: e.unhealthyThreshold }).toEqual(timingOf(hc));
    }
  });

  it('states the defaults in the flag descriptions', () => {
    const cmd = addHealthTuningOptions(new Command('x'), (d) => `default ${d}`);
    const help = Object.fromEntries(cmd.options.map((o) => [o.long, o.description]));
    expect(help['--health-interval']).toContain('default 5s');
    expect(help['--health-timeout']).toContain('default 2s, capped at the interval');
    expect(help['--healthy-threshold']).toContain('default 2');
    expect(help['--unhealthy-threshold']).toContain('default 3');
  });
});

describe('health check defaults, documented', () => {
  it('are the ones the schema (kubectl explain) states', () => {
    const schema = JSON.parse(readFileSync(join(__dirname, '../../../schemas/loadbalancer.schema.json'), 'utf8')) as { properties: { spec: { properties: { healthCheck: { properties: Record<string, { description?: string }> } } } } };
    const fields = schema.properties.spec.properties.healthCheck.properties;
    for (const [field, value] of Object.entries(HEALTH_CHECK_DEFAULTS)) expect([field, fields[field]?.description]).toEqual([field, expect.stringContaining(`(default ${value}`)]);
  });
});

describe('describeHealthCheck with a protocol and port', () => {
  it('names UDP checks and a checked port', () => {
    expect(describeHealthCheck({ protocol: 'UDP' })).toBe('UDP every 5s, timeout 2s, down after 3 failures, up after 2 successes');
    expect(describeHealthCheck({ protocol: 'TCP', port: 8053, intervalSeconds: 1, timeoutSeconds: 1 })).toBe('TCP port 8053 every 1s, timeout 1s, down after 3 failures, up after 2 successes');
  });
});

describe('health check description of a UDP check\'s mode', () => {
  it('says the payload\'s size and whether a reply is required; a plain UDP check reads as before', () => {
    expect(describeHealthCheck({ protocol: 'UDP' })).toBe('UDP every 5s, timeout 2s, down after 3 failures, up after 2 successes');
    expect(describeHealthCheck({ protocol: 'UDP', port: 53, udp: { payload: Buffer.alloc(33).toString('base64'), expectReply: true } })).toBe('UDP port 53 (33-byte payload, reply required) every 5s, timeout 2s, down after 3 failures, up after 2 successes');
    expect(describeHealthCheck({ protocol: 'UDP', udp: { expectReply: true } })).toBe('UDP (reply required) every 5s, timeout 2s, down after 3 failures, up after 2 successes');
    expect(describeHealthCheck({ protocol: 'UDP', udp: { payload: 'aGk=', expectReply: false } })).toBe('UDP (2-byte payload) every 5s, timeout 2s, down after 3 failures, up after 2 successes');
  });

  it('documents the UDP probe flags', () => {
    const cmd = addHealthTuningOptions(new Command('x'), (d) => `default ${d}`);
    const help = Object.fromEntries(cmd.options.map((o) => [o.long, o.description]));
    expect(help['--health-udp-payload-hex']).toContain('at most 512 bytes');
    expect(help['--health-udp-expect-reply']).toContain('silence fails too');
    expect(help['--health-dns-query']).toContain("keepalived's DNS_CHECK");
  });
});
