import { UsageError } from '../errors';
import { dnsQueryPayload, healthCheckForCreate, parseHealthEdit, parseHealthSeconds, parseHealthTuning, parseThreshold } from './health';
import { healthCheckOps } from '../commands/lb-health-check';

/** The UsageError a call throws (the test fails when it throws nothing or something else). */
function usageError(fn: () => unknown): UsageError {
  try {
    fn();
  } catch (err) {
    if (err instanceof UsageError) return err;
    throw err;
  }
  throw new Error('no error thrown');
}

describe('--health-interval and --health-timeout', () => {
  it.each([
    ['5s', 5],
    ['1s', 1],
    ['30', 30],
    ['2m', 120],
    ['1m30s', 90],
    ['5m', 300],
    ['1000ms', 1],
    [' 10s ', 10],
  ])('takes %p as %d seconds', (text, want) => expect(parseHealthSeconds('--health-interval', text)).toBe(want));

  it.each([['1500ms'], ['1.5'], ['0'], ['0s'], ['500ms'], ['5m1s'], ['301'], ['1h']])('rejects %p: not whole seconds from 1s to 5m', (text) => {
    const err = usageError(() => parseHealthSeconds('--health-interval', text));
    expect(err.message).toBe(`--health-interval "${text}": must be whole seconds from 1s to 5m`);
    expect(err.exitCode).toBe(2);
  });

  it.each([['ten'], [''], ['10 s'], ['-5s']])('rejects %p: not a duration, in one line naming the flag', (text) => {
    const err = usageError(() => parseHealthSeconds('--health-timeout', text));
    expect(err.message).toBe(`--health-timeout "${text}": not a duration; give whole seconds from 1s to 5m, e.g. 10s or 1m30s`);
    expect(err.message).not.toContain('\n');
  });
});

describe('--healthy-threshold and --unhealthy-threshold', () => {
  it.each([['1', 1], ['3', 3], ['10', 10], ['07', 7]])('takes %p', (text, want) => expect(parseThreshold('--healthy-threshold', text)).toBe(want));

  it.each([['0'], ['11'], ['-1'], ['2.5'], ['x'], [''], ['100']])('rejects %p', (text) => {
    const err = usageError(() => parseThreshold('--unhealthy-threshold', text));
    expect(err.message).toBe(`--unhealthy-threshold "${text}": must be a whole number from 1 to 10`);
    expect(err.exitCode).toBe(2);
  });
});

describe('lb create health flags', () => {
  it('adds no check without a health flag', () => {
    expect(healthCheckForCreate({})).toBeUndefined();
    expect(healthCheckForCreate({ healthCheck: false })).toBeUndefined();
  });

  it('--health-check alone leaves every setting to the server defaults', () => {
    expect(healthCheckForCreate({ healthCheck: true })).toEqual({ protocol: 'TCP' });
  });

  it('any tuning flag implies --health-check and sets only its field', () => {
    expect(healthCheckForCreate({ healthInterval: '10s' })).toEqual({ protocol: 'TCP', intervalSeconds: 10 });
    expect(healthCheckForCreate({ unhealthyThreshold: '5' })).toEqual({ protocol: 'TCP', unhealthyThreshold: 5 });
    expect(healthCheckForCreate({ healthCheck: true, healthInterval: '1m', healthTimeout: '3', healthyThreshold: '1', unhealthyThreshold: '10' })).toEqual({
      protocol: 'TCP',
      intervalSeconds: 60,
      timeoutSeconds: 3,
      healthyThreshold: 1,
      unhealthyThreshold: 10,
    });
  });

  it('names the first bad flag', () => {
    expect(usageError(() => healthCheckForCreate({ healthInterval: '5s', healthyThreshold: '0' })).message).toBe('--healthy-threshold "0": must be a whole number from 1 to 10');
  });
});

describe('lb set-health flags', () => {
  it('takes the given tuning flags, and only those', () => {
    expect(parseHealthEdit({ healthTimeout: '4s' })).toEqual({ off: false, tuning: { timeoutSeconds: 4 } });
    expect(parseHealthTuning({ healthInterval: '20s', unhealthyThreshold: '2' })).toEqual({ intervalSeconds: 20, unhealthyThreshold: 2 });
  });

  it('takes --off alone', () => {
    expect(parseHealthEdit({ off: true })).toEqual({ off: true });
  });

  it('refuses --off with a tuning flag, naming it', () => {
    const err = usageError(() => parseHealthEdit({ off: true, healthInterval: '5s', healthyThreshold: '2' }));
    expect(err.message).toBe('--off removes the health check and cannot go with --health-interval, --healthy-threshold; give either --off or the settings to change');
    expect(err.exitCode).toBe(2);
  });

  it('refuses no flag at all, saying what to give', () => {
    const err = usageError(() => parseHealthEdit({}));
    expect(err.message).toMatch(/^give the settings to change \(--health-interval, --health-timeout, --healthy-threshold, --unhealthy-threshold, --health-protocol, --health-port, --health-udp-payload-hex, --health-udp-expect-reply, --health-dns-query; .*\), --health-check to turn one on with the defaults, or --off to remove it$/);
    expect(err.exitCode).toBe(2);
  });

  it('reports a bad value before anything else', () => {
    expect(usageError(() => parseHealthEdit({ healthInterval: '1500ms' })).message).toBe('--health-interval "1500ms": must be whole seconds from 1s to 5m');
  });
});

describe('lb set-health --health-check', () => {
  it('turns a check on with the defaults: added when there is none, nothing written when there is one', () => {
    const edit = parseHealthEdit({ healthCheck: true });
    expect(edit).toEqual({ off: false, tuning: {} });
    expect(healthCheckOps(undefined, edit)).toEqual([{ op: 'add', path: '/spec/healthCheck', value: { protocol: 'TCP' } }]);
    expect(healthCheckOps({ protocol: 'TCP', intervalSeconds: 10 }, edit)).toEqual([]);
    expect(parseHealthEdit({ healthCheck: true, healthInterval: '7s' })).toEqual({ off: false, tuning: { intervalSeconds: 7 } });
  });

  it('does not go with --off', () => {
    expect(() => parseHealthEdit({ healthCheck: true, off: true })).toThrow('--off removes the health check and cannot go with --health-check');
  });
});

describe('--health-protocol and --health-port', () => {
  it('create: either implies a check; tcp or udp in any case; a port 1-65535', () => {
    expect(healthCheckForCreate({ healthProtocol: 'udp' })).toEqual({ protocol: 'UDP' });
    expect(healthCheckForCreate({ healthProtocol: 'TCP', healthPort: '8053' })).toEqual({ protocol: 'TCP', port: 8053 });
    expect(healthCheckForCreate({ healthPort: '8053' })).toEqual({ protocol: 'TCP', port: 8053 });
    expect(healthCheckForCreate({ healthCheck: true, healthProtocol: 'Udp', healthInterval: '2s' })).toEqual({ protocol: 'UDP', intervalSeconds: 2 });
  });

  it('refuses a bad protocol or port with one line naming the flag, and none on create', () => {
    expect(usageError(() => healthCheckForCreate({ healthProtocol: 'http' })).message).toBe('--health-protocol "http": must be tcp or udp');
    for (const bad of ['0', '65536', '80x', '-1', '']) expect(usageError(() => healthCheckForCreate({ healthPort: bad })).message).toMatch(/^--health-port ".*": must be a port from 1 to 65535/);
    expect(usageError(() => healthCheckForCreate({ healthPort: 'none' })).message).toMatch(/^--health-port none is for set-health/);
  });

  it('set-health: sets the protocol and port in place, or removes the port with none; a new check takes them', () => {
    const udp = parseHealthEdit({ healthProtocol: 'udp', healthPort: 'none' });
    expect(udp).toEqual({ off: false, tuning: { protocol: 'UDP' }, clearPort: true });
    expect(healthCheckOps({ protocol: 'TCP', port: 8053 }, udp)).toEqual([
      { op: 'add', path: '/spec/healthCheck/protocol', value: 'UDP' },
      { op: 'remove', path: '/spec/healthCheck/port' },
    ]);
    // No port to remove: nothing for it.
    expect(healthCheckOps({ protocol: 'TCP' }, udp)).toEqual([{ op: 'add', path: '/spec/healthCheck/protocol', value: 'UDP' }]);
    expect(healthCheckOps(undefined, parseHealthEdit({ healthPort: '8053' }))).toEqual([{ op: 'add', path: '/spec/healthCheck', value: { protocol: 'TCP', port: 8053 } }]);
    expect(() => parseHealthEdit({ off: true, healthProtocol: 'udp' })).toThrow('--off removes the health check and cannot go with --health-protocol');
  });
});

describe('UDP probe flags: --health-udp-payload-hex, --health-udp-expect-reply, --health-dns-query', () => {
  it('create: each implies a UDP check; hex bytes (spaces or colons allowed) become the base64 payload', () => {
    expect(healthCheckForCreate({ healthUdpExpectReply: true })).toEqual({ protocol: 'UDP', udp: { expectReply: true } });
    expect(healthCheckForCreate({ healthUdpPayloadHex: 'ff ff ff ff 70:69:6e:67' })).toEqual({ protocol: 'UDP', udp: { payload: Buffer.from('ffffffff70696e67', 'hex').toString('base64') } });
    expect(healthCheckForCreate({ healthProtocol: 'udp', healthUdpPayloadHex: '0x6869', healthUdpExpectReply: true })).toEqual({ protocol: 'UDP', udp: { payload: 'aGk=', expectReply: true } });
    // Undoing alone says nothing on create.
    expect(healthCheckForCreate({ healthUdpExpectReply: false })).toBeUndefined();
  });

  it('--health-dns-query NAME: a standard query for NAME (type A, RD, an id fixed by the name) and a reply expected', () => {
    const hc = healthCheckForCreate({ healthDnsQuery: 'health.example.com' })!;
    expect(hc.protocol).toBe('UDP');
    expect(hc.udp?.expectReply).toBe(true);
    const q = Buffer.from(hc.udp!.payload!, 'base64');
    expect(q.readUInt16BE(0)).toBe(dnsQueryPayload('health.example.com').readUInt16BE(0));
    expect(q.readUInt16BE(0)).not.toBe(0);
    // Flags (RD), 1 question, no other records; health.example.com; type A, class IN.
    expect(q.subarray(2).toString('hex')).toBe('0100' + '0001' + '000000000000' + '06' + '6865616c7468' + '07' + '6578616d706c65' + '03' + '636f6d' + '00' + '0001' + '0001');
    expect(healthCheckForCreate({ healthDnsQuery: 'health.example.com' })).toEqual(hc);
  });

  it('refuses bad hex, too many bytes, a bad name, and flags that contradict each other, in one line naming them', () => {
    expect(usageError(() => healthCheckForCreate({ healthUdpPayloadHex: 'xyz' })).message).toMatch(/^--health-udp-payload-hex "xyz": must be hex bytes/);
    expect(usageError(() => healthCheckForCreate({ healthUdpPayloadHex: 'abc' })).message).toMatch(/^--health-udp-payload-hex "abc": must be hex bytes/);
    expect(usageError(() => healthCheckForCreate({ healthUdpPayloadHex: 'ab'.repeat(513) })).message).toBe('--health-udp-payload-hex: 513 bytes, at most 512');
    expect(usageError(() => healthCheckForCreate({ healthDnsQuery: 'a..b' })).message).toMatch(/^--health-dns-query "a\.\.b": "a\.\.b" is not a DNS name/);
    expect(usageError(() => healthCheckForCreate({ healthDnsQuery: 'x.com', healthUdpPayloadHex: '00' })).message).toMatch(/^--health-dns-query sends a DNS query as the payload: give it or --health-udp-payload-hex, not both/);
    expect(usageError(() => healthCheckForCreate({ healthDnsQuery: 'x.com', healthUdpExpectReply: false })).message).toMatch(/cannot go with --no-health-udp-expect-reply/);
    expect(usageError(() => healthCheckForCreate({ healthProtocol: 'tcp', healthUdpExpectReply: true })).message).toMatch(/are for UDP checks: leave out --health-protocol tcp/);
    expect(usageError(() => healthCheckForCreate({ healthUdpPayloadHex: 'none' })).message).toMatch(/^--health-udp-payload-hex none is for set-health/);
  });

  it('set-health: merges into the current udp, removes the payload with none, and expectReply false leaves the default', () => {
    const current = { protocol: 'UDP' as const, udp: { payload: 'aGk=', expectReply: true } };
    expect(healthCheckOps(current, parseHealthEdit({ healthUdpExpectReply: false }))).toEqual([{ op: 'add', path: '/spec/healthCheck/udp', value: { payload: 'aGk=' } }]);
    expect(healthCheckOps(current, parseHealthEdit({ healthUdpPayloadHex: 'none' }))).toEqual([{ op: 'add', path: '/spec/healthCheck/udp', value: { expectReply: true } }]);
    expect(healthCheckOps(current, parseHealthEdit({ healthUdpPayloadHex: 'none', healthUdpExpectReply: false }))).toEqual([{ op: 'remove', path: '/spec/healthCheck/udp' }]);
    expect(healthCheckOps({ protocol: 'UDP' }, parseHealthEdit({ healthUdpExpectReply: true }))).toEqual([
      { op: 'add', path: '/spec/healthCheck/protocol', value: 'UDP' },
      { op: 'add', path: '/spec/healthCheck/udp', value: { expectReply: true } },
    ]);
    // Turned TCP: its udp goes with it (admission refuses udp on a TCP check).
    expect(healthCheckOps(current, parseHealthEdit({ healthProtocol: 'tcp', healthPort: '8053' }))).toEqual([
      { op: 'add', path: '/spec/healthCheck/protocol', value: 'TCP' },
      { op: 'add', path: '/spec/healthCheck/port', value: 8053 },
      { op: 'remove', path: '/spec/healthCheck/udp' },
    ]);
    expect(healthCheckOps(undefined, parseHealthEdit({ healthDnsQuery: 'a.example' }))).toEqual([{ op: 'add', path: '/spec/healthCheck', value: { protocol: 'UDP', udp: { payload: dnsQueryPayload('a.example').toString('base64'), expectReply: true } } }]);
  });
});
