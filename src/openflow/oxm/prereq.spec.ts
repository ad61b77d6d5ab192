import { MatchPrerequisiteError, OpenFlowEncodeError } from '../errors';
import { KnownOxm } from './fields';
import { checkMatch } from './prereq';

const ip4: KnownOxm = { field: 'eth_type', value: 0x0800 };
const ip6: KnownOxm = { field: 'eth_type', value: 0x86dd };
const proto = (value: number): KnownOxm => ({ field: 'ip_proto', value });

describe('match prerequisites', () => {
  it.each<[string, KnownOxm[], string, string]>([
    ['tcp_dst without anything', [{ field: 'tcp_dst', value: 80 }], 'tcp_dst', 'eth_type=0x0800 or eth_type=0x86dd'],
    ['tcp_dst with ip but udp', [ip4, proto(17), { field: 'tcp_dst', value: 80 }], 'tcp_dst', 'ip_proto=6 (tcp)'],
    ['udp_src without proto', [ip6, { field: 'udp_src', value: 1 }], 'udp_src', 'ip_proto=17 (udp)'],
    ['ipv4_dst on ipv6', [ip6, { field: 'ipv4_dst', value: '10.0.0.1' }], 'ipv4_dst', 'eth_type=0x0800'],
    ['ipv6_src on ipv4', [ip4, { field: 'ipv6_src', value: '::1' }], 'ipv6_src', 'eth_type=0x86dd'],
    ['arp_op on ip', [ip4, { field: 'arp_op', value: 1 }], 'arp_op', 'eth_type=0x0806'],
    ['icmpv4_type on tcp', [ip4, proto(6), { field: 'icmpv4_type', value: 8 }], 'icmpv4_type', 'ip_proto=1 (icmp)'],
    ['nd_target without type', [ip6, proto(58), { field: 'ipv6_nd_target', value: '::1' }], 'ipv6_nd_target', 'icmpv6_type=135 or 136'],
    ['nd_sll on advert', [ip6, proto(58), { field: 'icmpv6_type', value: 136 }, { field: 'ipv6_nd_sll', value: '00:00:00:00:00:01' }], 'ipv6_nd_sll', 'icmpv6_type=135'],
    ['vlan_pcp without vid', [{ field: 'vlan_pcp', value: 1 }], 'vlan_pcp', 'vlan_vid with OFPVID_PRESENT (0x1000)'],
    ['ip_dscp without eth_type', [{ field: 'ip_dscp', value: 1 }], 'ip_dscp', 'eth_type=0x0800 or eth_type=0x86dd'],
  ])('%s', (_name, match, field, missing) => {
    let err: unknown;
    try {
      checkMatch(match);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(MatchPrerequisiteError);
    expect(err).toMatchObject({ field, missing });
  });

  it.each<[string, KnownOxm[]]>([
    ['tcp over ipv4', [ip4, proto(6), { field: 'tcp_dst', value: 80 }]],
    ['order does not matter', [{ field: 'tcp_dst', value: 80 }, proto(6), ip6]],
    ['sctp', [ip4, proto(132), { field: 'sctp_src', value: 1 }]],
    ['nd', [ip6, proto(58), { field: 'icmpv6_type', value: 135 }, { field: 'ipv6_nd_sll', value: '00:00:00:00:00:01' }]],
    ['arp', [{ field: 'eth_type', value: 0x0806 }, { field: 'arp_tpa', value: '10.0.0.0', mask: '255.0.0.0' }]],
    ['vlan', [{ field: 'vlan_vid', value: 0x1005 }, { field: 'vlan_pcp', value: 3 }]],
    ['nicira fields need nothing', [{ field: 'reg3', value: 1 }, { field: 'ct_state', value: 0x21, mask: 0x21 }, { field: 'tun_ipv4_dst', value: '1.2.3.4' }]],
  ])('accepts %s', (_name, match) => {
    expect(() => checkMatch(match)).not.toThrow();
  });

  it('rejects duplicate fields and value bits outside the mask', () => {
    expect(() => checkMatch([{ field: 'reg0', value: 1 }, { field: 'reg0', value: 2 }])).toThrow(OpenFlowEncodeError);
    expect(() => checkMatch([{ field: 'reg0', value: 3, mask: 1 }])).toThrow(/outside its mask/);
    expect(() => checkMatch([{ field: 'eth_src', value: '02:00:00:00:00:01', mask: 'ff:ff:ff:00:00:00' }])).toThrow(/outside its mask/);
  });

  it('checks masked integers over their full width, and their range as the encoder does', () => {
    // Bit 31 of a u32 (the sign bit of JavaScript's 32-bit operators).
    expect(() => checkMatch([{ field: 'reg0', value: 0x80000000, mask: 0x80000000 }])).not.toThrow();
    expect(() => checkMatch([{ field: 'reg0', value: 0x80000001, mask: 0x80000000 }])).toThrow(/outside its mask/);
    expect(() => checkMatch([{ field: 'reg0', value: 0xffffffff, mask: 0xffffffff }])).not.toThrow();
    expect(() => checkMatch([{ field: 'vlan_vid', value: 0x1000, mask: 0x1000 }])).not.toThrow();
    expect(() => checkMatch([{ field: 'reg0', value: 2 ** 32, mask: 0xffffffff }])).toThrow(/expected a 32-bit integer/);
    expect(() => checkMatch([{ field: 'reg0', value: 1, mask: -1 }])).toThrow(/mask: expected a 32-bit integer/);
    expect(() => checkMatch([{ field: 'reg0', value: 1.5, mask: 3 }])).toThrow(/expected a 32-bit integer/);
  });
});
