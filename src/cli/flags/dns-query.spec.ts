import { dnsQuery } from './dns-query';

describe('dnsQuery', () => {
  it('builds a standard DNS query: id, RD set, one question, type A class IN', () => {
    const q = dnsQuery('health.example.', 0x4c42);
    expect(q.toString('hex')).toBe(
      ['4c42', '0100', '0001', '0000', '0000', '0000', '06', Buffer.from('health').toString('hex'), '07', Buffer.from('example').toString('hex'), '00', '0001', '0001'].join(''),
    );
    expect(dnsQuery('a', 1)).toEqual(Buffer.from('000101000001000000000000016100' + '00010001', 'hex'));
    expect(() => dnsQuery('a..b', 1)).toThrow(/not a DNS name/);
    expect(() => dnsQuery('', 1)).toThrow(/not a DNS name/);
    expect(() => dnsQuery(`${'x'.repeat(64)}.com`, 1)).toThrow(/not a DNS name/);
  });
});
