import { canonicalIp, formatIp, isValidIp, parseIp } from './address';
import { IpamError } from './errors';

describe('canonicalIp', () => {
  it.each([
    ['10.0.0.1', '10.0.0.1'],
    ['0.0.0.0', '0.0.0.0'],
    ['255.255.255.255', '255.255.255.255'],
    ['FD00::0001', 'fd00::1'],
    ['fd00:0:0:0:0:0:0:1', 'fd00::1'],
    ['2001:DB8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], // longest run wins, leftmost on ties
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'], // a single zero group is not compressed
    ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'],
    ['::', '::'],
    ['::1', '::1'],
    ['1::', '1::'],
    ['::ffff:10.0.0.1', '::ffff:10.0.0.1'], // RFC 5952 section 5 mixed notation
    ['::ffff:a00:1', '::ffff:10.0.0.1'],
    ['fd00::1.2.3.4', 'fd00::102:304'],
  ])('%s -> %s', (input, expected) => {
    expect(canonicalIp(input)).toBe(expected);
  });

  it.each([
    ['10.000.0.1', /leading zero/],
    ['010.0.0.1', /leading zero/],
    ['10.0.0', /not a valid IPv4/],
    ['256.0.0.1', /not a valid IPv4/],
    [' 10.0.0.1', /not a valid IPv4/],
    ['10.0.0.1/24', /is a CIDR/],
    ['fd00::1%eth0', /zone/],
    ['fd00:::1', /not a valid IPv6/],
    ['fd00::12345', /not a valid IPv6/],
    ['1:2:3:4:5:6:7:8:9', /not a valid IPv6/],
    ['[fd00::1]', /not a valid IPv6/],
    ['', /must be an IP address/],
  ])('rejects %j', (input, message) => {
    expect(() => parseIp(input, 'ip')).toThrow(message);
    expect(isValidIp(input)).toBe(false);
  });

  it('carries the field path', () => {
    let caught: unknown;
    try {
      parseIp('nope', 'spec.ips[0]');
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(IpamError);
    expect((caught as IpamError).field).toBe('spec.ips[0]');
  });

  it('round-trips through formatIp', () => {
    for (const text of ['192.168.1.254', 'fe80::1:2', '2001:db8::']) {
      const ip = parseIp(text);
      expect(formatIp(ip.family, ip.value)).toBe(text);
    }
  });
});
