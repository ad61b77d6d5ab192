import { probeRate, probeRateCauses, udpHealthCheckCauses, udpTargetPortsWarning } from './load-balancer.admission';

describe('spec.healthCheck.udp admission', () => {
  it('takes a UDP check with a base64 payload of up to 512 bytes, or none, with or without expectReply', () => {
    expect(udpHealthCheckCauses({ protocol: 'UDP' })).toEqual([]);
    expect(udpHealthCheckCauses({ protocol: 'UDP', udp: {} })).toEqual([]);
    expect(udpHealthCheckCauses({ protocol: 'UDP', udp: { payload: '', expectReply: true } })).toEqual([]);
    expect(udpHealthCheckCauses({ protocol: 'UDP', udp: { payload: Buffer.alloc(512, 7).toString('base64') } })).toEqual([]);
    expect(udpHealthCheckCauses({ protocol: 'UDP', udp: { payload: 'aGk=' } })).toEqual([]);
  });

  it('refuses udp on a TCP check (explicit or by default), naming the field and the way out', () => {
    for (const hc of [{ udp: { expectReply: true } }, { protocol: 'TCP' as const, udp: {} }]) {
      expect(udpHealthCheckCauses(hc)).toEqual([{ field: 'spec.healthCheck.udp', reason: 'FieldValueForbidden', message: expect.stringMatching(/^Forbidden: only with protocol UDP \(this check is TCP\); .*spec\.healthCheck\.protocol to UDP$/) }]);
    }
  });

  it('refuses a payload that is not padded base64, or over 512 bytes decoded', () => {
    for (const payload of ['not base64!', 'aGk', 'aGk=x', 'a===', 'aGVsbG8=\n']) {
      expect(udpHealthCheckCauses({ protocol: 'UDP', udp: { payload } })).toEqual([{ field: 'spec.healthCheck.udp.payload', reason: 'FieldValueInvalid', message: expect.stringMatching(/^Invalid value: .*: must be base64/) }]);
    }
    expect(udpHealthCheckCauses({ protocol: 'UDP', udp: { payload: Buffer.alloc(513).toString('base64') } })).toEqual([
      { field: 'spec.healthCheck.udp.payload', reason: 'FieldValueTooLong', message: 'Too long: 513 bytes decoded: may not be more than 512 bytes' },
    ]);
    // Both wrongs at once are both said.
    expect(udpHealthCheckCauses({ protocol: 'TCP', udp: { payload: '%' } }).map((c) => c.field)).toEqual(['spec.healthCheck.udp', 'spec.healthCheck.udp.payload']);
  });
});

describe('health checks asking more probes a second than a prober sends', () => {
  const listeners = (n: number) => Array.from({ length: n }, (_, i) => ({ protocol: 'TCP' as const, port: 1000 + i }));
  const backends = (n: number) => Array.from({ length: n }, (_, i) => ({ ip: `10.0.${i >> 8}.${i & 255}` }));
  const storm = { network: 'n', listeners: listeners(64), backends: backends(100), healthCheck: { intervalSeconds: 1 } };

  it('are refused with the interval that brings them under, or the port to check instead (QA-151 F1: 6,400 a second starved vnetd)', () => {
    expect(probeRateCauses(storm)).toEqual({
      causes: [{ field: 'spec.healthCheck', reason: 'FieldValueInvalid', message: "Invalid value: these health checks would send 6400 probes a second (64 checked ports x 100 backends every 1s), more than a node's prober sends (1000 a second); raise intervalSeconds to 7 or more, or check one port (spec.healthCheck.port)" }],
      warnings: [],
    });
    expect(probeRateCauses({ ...storm, healthCheck: { intervalSeconds: 7 } }).causes).toEqual([]);
    expect(probeRateCauses({ ...storm, healthCheck: { intervalSeconds: 1, port: 8080 } }).causes).toEqual([]);
    // A check already on one port is not told to check one port.
    expect(probeRateCauses({ ...storm, backends: backends(1500), healthCheck: { intervalSeconds: 1, port: 8080 } }).causes[0]?.message).toMatch(/raise intervalSeconds to 2 or more$/);
  });

  it('are only warned of on an update that asks no more than the stored object (one stored before the cap still takes its labels and finalizer removals)', () => {
    const stored = probeRate(storm);
    expect(stored).toBe(6400);
    expect(probeRateCauses(storm, stored)).toEqual({ causes: [], warnings: [expect.stringMatching(/^spec\.healthCheck: these health checks would send 6400 probes a second .*: its checks come less often than asked; raise intervalSeconds to 7 or more/)] });
    expect(probeRateCauses({ ...storm, backends: backends(101) }, stored).causes).toHaveLength(1);
  });

  it('take what a large load balancer needs: 1,000 backends on one port every second, 64 ports x 75 backends every 5 s', () => {
    expect(probeRateCauses({ network: 'n', listeners: listeners(1), backends: backends(1000), healthCheck: { intervalSeconds: 1 } }).causes).toEqual([]);
    expect(probeRateCauses({ network: 'n', listeners: listeners(64), backends: backends(75), healthCheck: {} }).causes).toEqual([]);
    expect(probeRateCauses({ network: 'n', listeners: listeners(64), backends: backends(75) }).causes).toEqual([]);
  });
});

describe('UDP listeners with several target ports', () => {
  it('are warned of: their fragmented datagrams are all dropped (QA-156 F5: said nowhere); one target port, or TCP ones, are not', () => {
    expect(udpTargetPortsWarning([{ protocol: 'UDP', port: 53, targetPort: 5353 }, { protocol: 'UDP', port: 54, targetPort: 5454 }])).toMatch(/^spec\.listeners: the VIP's UDP listeners translate to 2 target ports \(5353, 5454\): a UDP datagram too big for one frame/);
    expect(udpTargetPortsWarning([{ protocol: 'UDP', port: 53, targetPort: 5353 }, { protocol: 'UDP', port: 54, targetPort: 5353 }, { protocol: 'TCP', port: 80, targetPort: 8080 }])).toBeUndefined();
    expect(udpTargetPortsWarning([{ protocol: 'UDP', port: 53 }, { protocol: 'UDP', port: 54, targetPort: 53 }])).toBeUndefined();
  });
});
