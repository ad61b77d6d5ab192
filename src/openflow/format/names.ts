import { FieldName } from '../oxm/fields';

/** Names ovs-ofctl uses in match text, where they differ from ours. */
export const MATCH_NAMES: Partial<Record<FieldName, string>> = {
  eth_dst: 'dl_dst',
  eth_src: 'dl_src',
  eth_type: 'dl_type',
  ip_proto: 'nw_proto',
  ip_ecn: 'nw_ecn',
  ipv4_src: 'nw_src',
  ipv4_dst: 'nw_dst',
  tcp_src: 'tp_src',
  tcp_dst: 'tp_dst',
  udp_src: 'tp_src',
  udp_dst: 'tp_dst',
  sctp_src: 'tp_src',
  sctp_dst: 'tp_dst',
  icmpv4_type: 'icmp_type',
  icmpv4_code: 'icmp_code',
  icmpv6_type: 'icmp_type',
  icmpv6_code: 'icmp_code',
  ipv6_nd_target: 'nd_target',
  ipv6_nd_sll: 'nd_sll',
  ipv6_nd_tll: 'nd_tll',
  tunnel_id: 'tun_id',
  tun_ipv4_src: 'tun_src',
  tun_ipv4_dst: 'tun_dst',
  ip_frag: 'nw_frag',
};

/** Names ovs-ofctl uses after set_field "->". */
export const SET_FIELD_NAMES: Partial<Record<FieldName, string>> = {
  tunnel_id: 'tun_id',
  tun_ipv4_src: 'tun_src',
  tun_ipv4_dst: 'tun_dst',
  ipv4_src: 'ip_src',
  ipv4_dst: 'ip_dst',
  ipv6_nd_target: 'nd_target',
  ipv6_nd_sll: 'nd_sll',
  ipv6_nd_tll: 'nd_tll',
};

/** NXM/OXM names ovs-ofctl prints in load:/move:/ct zone= subfields. */
export function nxmName(f: FieldName): string {
  const reg = /^reg(\d+)$/.exec(f);
  if (reg) return `NXM_NX_REG${reg[1]}`;
  const xreg = /^xreg(\d+)$/.exec(f);
  if (xreg) return `OXM_OF_PKT_REG${xreg[1]}`;
  const special: Partial<Record<FieldName, string>> = {
    in_port: 'OXM_OF_IN_PORT',
    metadata: 'OXM_OF_METADATA',
    eth_dst: 'NXM_OF_ETH_DST',
    eth_src: 'NXM_OF_ETH_SRC',
    eth_type: 'NXM_OF_ETH_TYPE',
    ipv4_src: 'NXM_OF_IP_SRC',
    ipv4_dst: 'NXM_OF_IP_DST',
    arp_spa: 'NXM_OF_ARP_SPA',
    arp_tpa: 'NXM_OF_ARP_TPA',
    arp_sha: 'NXM_NX_ARP_SHA',
    arp_tha: 'NXM_NX_ARP_THA',
    arp_op: 'NXM_OF_ARP_OP',
    tunnel_id: 'NXM_NX_TUN_ID',
    tun_ipv4_src: 'NXM_NX_TUN_IPV4_SRC',
    tun_ipv4_dst: 'NXM_NX_TUN_IPV4_DST',
    pkt_mark: 'NXM_NX_PKT_MARK',
    ct_state: 'NXM_NX_CT_STATE',
    ct_zone: 'NXM_NX_CT_ZONE',
    ct_mark: 'NXM_NX_CT_MARK',
    ct_label: 'NXM_NX_CT_LABEL',
    ipv6_src: 'NXM_NX_IPV6_SRC',
    ipv6_dst: 'NXM_NX_IPV6_DST',
    ipv6_nd_target: 'NXM_NX_ND_TARGET',
    ipv6_nd_sll: 'NXM_NX_ND_SLL',
    ipv6_nd_tll: 'NXM_NX_ND_TLL',
    vlan_vid: 'OXM_OF_VLAN_VID',
    ip_proto: 'NXM_OF_IP_PROTO',
    tcp_src: 'NXM_OF_TCP_SRC',
    tcp_dst: 'NXM_OF_TCP_DST',
    udp_src: 'NXM_OF_UDP_SRC',
    udp_dst: 'NXM_OF_UDP_DST',
  };
  return special[f] ?? f.toUpperCase();
}

/** Reserved port names as ovs-ofctl prints them. */
export const PORT_NAMES: ReadonlyMap<number, string> = new Map([
  [0xfffffff8, 'IN_PORT'],
  [0xfffffff9, 'TABLE'],
  [0xfffffffa, 'NORMAL'],
  [0xfffffffb, 'FLOOD'],
  [0xfffffffc, 'ALL'],
  [0xfffffffd, 'CONTROLLER'],
  [0xfffffffe, 'LOCAL'],
  [0xffffffff, 'ANY'],
]);

export function formatPort(p: number): string {
  return PORT_NAMES.get(p) ?? String(p);
}

/** 16-bit OpenFlow 1.0 port numbers used by resubmit. */
export function formatPort16(p: number): string {
  return p >= 0xfff8 ? formatPort(p + 0xffff0000) : String(p);
}
