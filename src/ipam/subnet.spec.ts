import { formatIp, parseIp } from './address';
import { IpamValidationError } from './errors';
import {
  allocatableCount,
  allocatableRanges,
  canonicalCidr,
  cidrContains,
  cidrContainsCidr,
  cidrsOverlap,
  findOverlap,
  hostCount,
  parseCidr,
  resolveSubnet,
  validateSubnet,
} from './subnet';

describe('parseCidr', () => {
  it.each([
    ['10.0.0.0/24', '10.0.0.0/24', 256n],
    ['0.0.0.0/0', '0.0.0.0/0', 1n << 32n],
    ['10.0.0.4/30', '10.0.0.4/30', 4n],
    ['192.168.1.1/32', '192.168.1.1/32', 1n],
    ['FD00::/64', 'fd00::/64', 1n << 64n],
    ['fd00:0:0:0::/120', 'fd00::/120', 256n],
    ['::/0', '::/0', 1n << 128n],
  ])('%s -> %s', (input, text, size) => {
    const c = parseCidr(input);
    expect(c.text).toBe(text);
    expect(c.size).toBe(size);
    expect(c.last - c.network + 1n).toBe(size);
  });

  it.each([
    ['10.0.0.1/24', 'has host bits set: the network is 10.0.0.0/24'],
    ['fd00::1/64', 'has host bits set: the network is fd00::/64'],
    ['10.0.0.0', 'missing "/prefix"'],
    ['10.0.0.0/33', 'prefix length must be an integer from 0 to 32'],
    ['10.0.0.0/024', 'prefix length'],
    ['10.0.0.0/', 'prefix length'],
    ['10.0.0.0/-1', 'prefix length'],
    ['fd00::/129', 'from 0 to 128'],
    ['10.000.0.0/24', 'leading zero'],
    ['fd00::%eth0/64', 'zone'],
  ])('rejects %s', (input, message) => {
    expect(() => parseCidr(input)).toThrow(message);
  });

  it('canonicalCidr compresses IPv6', () => {
    expect(canonicalCidr('2001:0DB8:0000::/48')).toBe('2001:db8::/48');
  });
});

describe('containment and overlap', () => {
  const c = (s: string) => parseCidr(s);
  it.each([
    ['10.0.0.0/24', '10.0.0.0', true],
    ['10.0.0.0/24', '10.0.0.255', true],
    ['10.0.0.0/24', '10.0.1.0', false],
    ['10.0.0.0/24', '::ffff:10.0.0.1', false], // families never mix
    ['fd00::/64', 'fd00::ffff:ffff:ffff:ffff', true],
    ['fd00::/64', 'fd00:0:0:1::', false],
  ])('%s contains %s: %s', (cidr, ip, expected) => {
    expect(cidrContains(c(cidr), parseIp(ip))).toBe(expected);
  });

  it.each([
    ['10.0.0.0/24', '10.0.0.128/25', true],
    ['10.0.0.0/25', '10.0.0.128/25', false],
    ['10.0.0.0/8', '10.255.0.0/16', true],
    ['0.0.0.0/0', '192.168.0.0/16', true],
    ['fd00::/64', 'fd00::/120', true],
    ['fd00::/64', 'fd01::/64', false],
    ['10.0.0.0/24', 'fd00::/64', false],
  ])('%s overlaps %s: %s', (a, b, expected) => {
    expect(cidrsOverlap(c(a), c(b))).toBe(expected);
    expect(cidrsOverlap(c(b), c(a))).toBe(expected);
  });

  it('containment is directional', () => {
    expect(cidrContainsCidr(c('10.0.0.0/8'), c('10.1.0.0/16'))).toBe(true);
    expect(cidrContainsCidr(c('10.1.0.0/16'), c('10.0.0.0/8'))).toBe(false);
  });

  it('findOverlap reports the first pair', () => {
    expect(findOverlap([c('10.0.0.0/24'), c('fd00::/64'), c('10.0.1.0/24')])).toBeUndefined();
    expect(findOverlap([c('10.0.0.0/24'), c('fd00::/64'), c('10.0.0.0/16')])).toEqual([0, 2]);
  });
});

describe('resolveSubnet', () => {
  const fmt = (family: 4 | 6, v: bigint) => formatIp(family, v);

  it.each([
    // cidr, gateway given, expected gateway, hostCount, allocatable
    ['10.0.0.0/24', undefined, '10.0.0.1', 254n, 253n],
    ['10.0.0.0/24', '10.0.0.254', '10.0.0.254', 254n, 253n],
    ['10.0.0.0/30', undefined, '10.0.0.1', 2n, 1n],
    ['fd00::/64', undefined, 'fd00::1', (1n << 64n) - 1n, (1n << 64n) - 2n],
    ['fd00::/120', 'fd00::ff', 'fd00::ff', 255n, 254n],
    ['fd00::/126', undefined, 'fd00::1', 3n, 2n],
  ])('%s gateway %s', (cidr, gateway, gw, hosts, allocatable) => {
    const s = resolveSubnet({ cidr, gateway });
    expect(fmt(s.cidr.family, s.gateway)).toBe(gw);
    expect(hostCount(s.cidr)).toBe(hosts);
    expect(allocatableCount(s)).toBe(allocatable);
  });

  it.each([
    [{ cidr: '10.0.0.0/31' }, 'cidr', 'too small'],
    [{ cidr: '10.0.0.1/32' }, 'cidr', 'too small'],
    [{ cidr: 'fd00::/127' }, 'cidr', 'too small'],
    [{ cidr: 'fd00::/128' }, 'cidr', 'too small'],
    [{ cidr: '10.0.0.1/24' }, 'cidr', 'network is 10.0.0.0/24'],
    [{ cidr: '10.0.0.0/24', gateway: '10.0.1.1' }, 'gateway', 'outside 10.0.0.0/24'],
    [{ cidr: '10.0.0.0/24', gateway: '10.0.0.0' }, 'gateway', 'network address'],
    [{ cidr: '10.0.0.0/24', gateway: '10.0.0.255' }, 'gateway', 'broadcast address'],
    [{ cidr: 'fd00::/64', gateway: 'fd00::' }, 'gateway', 'network address'],
    [{ cidr: 'fd00::/64', gateway: '10.0.0.1' }, 'gateway', 'IPv4 but fd00::/64 is IPv6'],
    [{ cidr: '10.0.0.0/24', gateway: '10.0.0.01' }, 'gateway', 'leading zero'],
    [{ cidr: '10.0.0.0/24', excludeRanges: [{ start: '10.0.0.9', end: '10.0.0.5' }] }, 'excludeRanges[0]', 'after end'],
    [{ cidr: '10.0.0.0/24', excludeRanges: [{ start: '10.0.0.9', end: '10.0.1.5' }] }, 'excludeRanges[0].end', 'outside'],
    [{ cidr: '10.0.0.0/24', excludeRanges: [{ start: 'x', end: '10.0.0.5' }] }, 'excludeRanges[0].start', 'not a valid'],
  ])('rejects %j', (spec, field, message) => {
    const issues = validateSubnet(spec);
    expect(issues).toHaveLength(1);
    expect(issues[0].field).toBe(field);
    expect(issues[0].message).toContain(message);
    expect(() => resolveSubnet(spec)).toThrow(IpamValidationError);
  });

  it('collects every issue at once', () => {
    const issues = validateSubnet({
      cidr: '10.0.0.0/24',
      gateway: '10.0.0.0',
      excludeRanges: [{ start: '10.0.0.5', end: '10.0.0.6' }, { start: '10.0.0.9', end: '10.0.0.1' }],
    });
    expect(issues.map((i) => i.field)).toEqual(['gateway', 'excludeRanges[1]']);
  });

  it('merges overlapping and adjacent excludes and counts without double-counting the gateway', () => {
    const s = resolveSubnet({
      cidr: '10.0.0.0/29', // hosts .1-.6
      excludeRanges: [
        { start: '10.0.0.4', end: '10.0.0.5' },
        { start: '10.0.0.1', end: '10.0.0.2' }, // contains the default gateway .1
        { start: '10.0.0.5', end: '10.0.0.5' },
        { start: '10.0.0.3', end: '10.0.0.3' },
      ],
    });
    expect(s.excludes.map((r) => [fmt(4, r.start), fmt(4, r.end)])).toEqual([['10.0.0.1', '10.0.0.5']]);
    expect(allocatableRanges(s).map((r) => [fmt(4, r.start), fmt(4, r.end)])).toEqual([['10.0.0.6', '10.0.0.6']]);
    expect(allocatableCount(s)).toBe(1n);
  });

  it('excludes may cover the network and broadcast addresses', () => {
    const s = resolveSubnet({ cidr: '10.0.0.0/29', excludeRanges: [{ start: '10.0.0.0', end: '10.0.0.7' }] });
    expect(allocatableCount(s)).toBe(0n);
    expect(allocatableRanges(s)).toEqual([]);
  });

  it('allocatable ranges skip a gateway in the middle', () => {
    const s = resolveSubnet({ cidr: '10.0.0.0/29', gateway: '10.0.0.3' });
    expect(allocatableRanges(s).map((r) => [fmt(4, r.start), fmt(4, r.end)])).toEqual([
      ['10.0.0.1', '10.0.0.2'],
      ['10.0.0.4', '10.0.0.6'],
    ]);
  });
});
