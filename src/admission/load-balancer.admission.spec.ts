import { udpHealthCheckCauses } from './load-balancer.admission';

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
