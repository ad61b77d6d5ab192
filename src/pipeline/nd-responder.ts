/**
 * The IPv6 half of the ARP responder: a Neighbor Solicitation for an address known in
 * the network is answered on the asking VM's own hypervisor, so known addresses never
 * cost a multicast flood across the tunnels (what OVN's nd_na does, but in flows, with
 * no controller round trip). The solicitation is turned into the advertisement in
 * place: Ethernet and IPv6 addresses swapped, the source link-layer option retyped as a
 * target link-layer option, flags Solicited|Override, type 136, out the port it came
 * from; OVS keeps the ICMPv6 checksum right. OVS accepts a write of the target
 * link-layer address only in a flow that matches an advertisement, so the answer is
 * finished in a second pass: the first flow marks the packet and resubmits it to the
 * same table, where one node-wide flow matching (mark, type 136) copies the owner's MAC,
 * already in eth_src, into the option.
 *
 * Solicitations it must not answer pass on (and are flooded like before): duplicate
 * address detection (source ::, the answer would have to go to all nodes) and those
 * without a source link-layer option (the reply must carry one, and a rewrite needs
 * the option's room).
 */
import { ETH_TYPE, IP_PROTO, OFPP, type Action, type KnownOxm } from '../openflow';
import type { DesiredFlow } from '../openflow/sync';
import { NdReplyMark, NetworkField, loadMark, matchField, matchMark } from './fields';
import { TABLES } from './tables';

const ICMPV6_NS = 135;
const ICMPV6_NA = 136;
const ND_OPT_TARGET_LL = 2;
/** Router=0, Solicited=1, Override=1 (RFC 4861 4.4), in the 32-bit flags/reserved word. */
const NA_SOLICITED_OVERRIDE = 0x60000000;

const Answer = 100;
const Pass = 110;
const Finish = 120;
const OFPP10_IN_PORT = 0xfff8;

const ns = (): KnownOxm[] => [
  { field: 'eth_type', value: ETH_TYPE.IPV6 },
  { field: 'ip_proto', value: IP_PROTO.ICMPV6 },
  { field: 'icmpv6_type', value: ICMPV6_NS },
];

function move(src: 'eth_src' | 'ipv6_src', dst: 'eth_dst' | 'ipv6_dst', nbits: number): Action {
  return { type: 'reg_move', src: { field: src, ofs: 0, nbits }, dst: { field: dst, ofs: 0, nbits } };
}

export function ndAnswerActions(ip: string, mac: string): Action[] {
  return [
    move('eth_src', 'eth_dst', 48),
    { type: 'set_field', field: 'eth_src', value: mac },
    move('ipv6_src', 'ipv6_dst', 128),
    { type: 'set_field', field: 'ipv6_src', value: ip },
    { type: 'set_field', field: 'nd_options_type', value: ND_OPT_TARGET_LL },
    { type: 'set_field', field: 'nd_reserved', value: NA_SOLICITED_OVERRIDE },
    { type: 'set_field', field: 'icmpv6_type', value: ICMPV6_NA },
    loadMark(NdReplyMark),
    { type: 'resubmit', port: OFPP10_IN_PORT, table: TABLES.ArpResponder.id },
  ];
}

/** Answers solicitations for `ip` (owned by `mac`) asked inside network `vni`. */
export function ndAnswerFlow(vni: number, ip: string, mac: string): DesiredFlow {
  return {
    tableId: TABLES.ArpResponder.id,
    priority: Answer,
    match: [matchField(NetworkField, vni), ...ns(), { field: 'ipv6_nd_target', value: ip }],
    instructions: [{ type: 'apply_actions', actions: ndAnswerActions(ip, mac) }],
  };
}

/** The owner's own solicitation for its address is passed on unanswered (as for ARP). */
export function ndSelfPassFlow(vni: number, ofport: number, ip: string): DesiredFlow {
  return {
    tableId: TABLES.ArpResponder.id,
    priority: Pass,
    match: [matchField(NetworkField, vni), { field: 'in_port', value: ofport }, ...ns(), { field: 'ipv6_nd_target', value: ip }],
    instructions: [{ type: 'goto_table', tableId: TABLES.LbVip.id }],
  };
}

/** Node-wide: solicitations the responder must leave alone (DAD, no source link-layer option). */
export function ndPassFlows(): DesiredFlow[] {
  const pass = (extra: KnownOxm): DesiredFlow => ({
    tableId: TABLES.ArpResponder.id,
    priority: Pass,
    match: [...ns(), extra],
    instructions: [{ type: 'goto_table', tableId: TABLES.LbVip.id }],
  });
  const finish: DesiredFlow = {
    tableId: TABLES.ArpResponder.id,
    priority: Finish,
    match: [matchMark(NdReplyMark), { field: 'eth_type', value: ETH_TYPE.IPV6 }, { field: 'ip_proto', value: IP_PROTO.ICMPV6 }, { field: 'icmpv6_type', value: ICMPV6_NA }],
    instructions: [
      {
        type: 'apply_actions',
        actions: [
          { type: 'reg_move', src: { field: 'eth_src', ofs: 0, nbits: 48 }, dst: { field: 'ipv6_nd_tll', ofs: 0, nbits: 48 } },
          { type: 'output', port: OFPP.IN_PORT, maxLen: 0 },
        ],
      },
    ],
  };
  return [pass({ field: 'ipv6_src', value: '::' }), pass({ field: 'ipv6_nd_sll', value: '00:00:00:00:00:00' }), finish];
}
