import { Action } from '../actions/types';
import { BundleFlags } from '../messages/bundle';
import { errorFromName } from '../messages/error';
import { flowMod } from '../messages/flow-mod';
import { bucket } from '../messages/group';
import { OfMessage } from '../message';
import { FlowModFlags, MeterFlags, OFPP, OFPCML_NO_BUFFER, OFPG, OFPTT_ALL } from '../constants';

/**
 * Messages with what `ovs-ofctl ofp-print` (OVS 3.1) says about them. Each
 * xid is unique so a batch of them can be printed by one ovs-ofctl process.
 */
export interface GoldenCase {
  name: string;
  message: OfMessage;
  /** Expected ofp-print text, without the trailing newline. */
  expected: string;
}

const port = {
  portNo: 1,
  hwAddr: 'aa:bb:cc:00:00:01',
  name: 'vm1',
  config: 0,
  state: 4,
  curr: 0x840,
  advertised: 0,
  supported: 0,
  peer: 0,
  currSpeed: 10000000,
  maxSpeed: 0,
};

const ctAction: Action = {
  type: 'ct',
  commit: true,
  zone: { field: 'reg6', ofs: 0, nbits: 16 },
  table: 5,
  actions: [
    { type: 'nat', direction: 'dst', ipMin: '10.0.0.2', ipMax: '10.0.0.3', portMin: 80, portMax: 90 },
    { type: 'set_field', field: 'ct_mark', value: 1 },
  ],
};

let xid = 0x100;
const next = (): number => ++xid;

export const GOLDEN_CASES: GoldenCase[] = [
  { name: 'hello', message: { type: 'hello', xid: next(), versions: [4] }, expected:
      "OFPT_HELLO (OF1.3) (xid=0x101):\n version bitmap: 0x04" },
  { name: 'hello 1.0-1.3', message: { type: 'hello', xid: next(), versions: [1, 4] }, expected:
      "OFPT_HELLO (OF1.3) (xid=0x102):\n version bitmap: 0x01, 0x04" },
  { name: 'echo request', message: { type: 'echo_request', xid: next(), data: Buffer.from('hi') }, expected:
      "OFPT_ECHO_REQUEST (OF1.3) (xid=0x103): 2 bytes of payload\n00000000  68 69                                           |hi              |" },
  { name: 'echo reply', message: { type: 'echo_reply', xid: next(), data: Buffer.alloc(0) }, expected:
      "OFPT_ECHO_REPLY (OF1.3) (xid=0x104): 0 bytes of payload" },
  { name: 'error bad table', message: errorFromName('OFPBRC_BAD_TABLE_ID', next()), expected:
      "OFPT_ERROR (OF1.3) (xid=0x105): OFPBRC_BAD_TABLE_ID\nOpenFlow message is empty" },
  { name: 'error bundle failed', message: errorFromName('OFPBFC_MSG_FAILED', next()), expected:
      "OFPT_ERROR (OF1.3) (xid=0x106): OFPBFC_MSG_FAILED\nOpenFlow message is empty" },
  { name: 'features request', message: { type: 'features_request', xid: next() }, expected:
      "OFPT_FEATURES_REQUEST (OF1.3) (xid=0x107):" },
  {
    name: 'features reply',
    message: { type: 'features_reply', xid: next(), datapathId: 0xabcn, nBuffers: 0, nTables: 254, auxiliaryId: 0, capabilities: 0x4f },
    expected:
      "OFPT_FEATURES_REPLY (OF1.3) (xid=0x108): dpid:0000000000000abc\nn_tables:254, n_buffers:0\ncapabilities: FLOW_STATS TABLE_STATS PORT_STATS GROUP_STATS QUEUE_STATS",
  },
  { name: 'get config', message: { type: 'get_config_request', xid: next() }, expected:
      "OFPT_GET_CONFIG_REQUEST (OF1.3) (xid=0x109):" },
  { name: 'get config reply', message: { type: 'get_config_reply', xid: next(), flags: 0, missSendLen: 128 }, expected:
      "OFPT_GET_CONFIG_REPLY (OF1.3) (xid=0x10a): frags=normal miss_send_len=128" },
  { name: 'set config', message: { type: 'set_config', xid: next(), flags: 1, missSendLen: 0xffff }, expected:
      "OFPT_SET_CONFIG (OF1.3) (xid=0x10b): frags=drop miss_send_len=65535" },
  {
    name: 'packet in',
    message: {
      type: 'packet_in',
      xid: next(),
      bufferId: 0xffffffff,
      totalLen: 60,
      reason: 1,
      tableId: 3,
      cookie: 0x5n,
      match: [{ field: 'in_port', value: 2 }, { field: 'reg0', value: 7 }],
      data: Buffer.alloc(0),
    },
    expected:
      "OFPT_PACKET_IN (OF1.3) (xid=0x10c): table_id=3 cookie=0x5 total_len=60 reg0=0x7,in_port=2 (via action) data_len=0 (unbuffered) (***total_len != data_len***)\nvlan_tci=0x0000,dl_src=00:00:00:00:00:00,dl_dst=00:00:00:00:00:00,dl_type=0x0000",
  },
  {
    name: 'packet out',
    message: {
      type: 'packet_out',
      xid: next(),
      bufferId: 0xffffffff,
      inPort: OFPP.CONTROLLER,
      actions: [{ type: 'output', port: 1, maxLen: 0 }],
      data: Buffer.alloc(0),
    },
    expected:
      "OFPT_PACKET_OUT (OF1.3) (xid=0x10d): in_port=CONTROLLER actions=output:1 data_len=0",
  },
  {
    name: 'flow removed',
    message: {
      type: 'flow_removed',
      xid: next(),
      cookie: 0x99n,
      priority: 100,
      reason: 2,
      tableId: 1,
      durationSec: 3,
      durationNsec: 0,
      idleTimeout: 10,
      hardTimeout: 0,
      packetCount: 5n,
      byteCount: 500n,
      match: [{ field: 'eth_type', value: 0x0800 }, { field: 'ipv4_src', value: '10.0.0.0', mask: '255.255.255.0' }],
    },
    expected:
      "OFPT_FLOW_REMOVED (OF1.3) (xid=0x10e): priority=100,ip,nw_src=10.0.0.0/24 reason=delete table_id=1 cookie:0x99 duration3s idle10 pkts5 bytes500",
  },
  { name: 'port status', message: { type: 'port_status', xid: next(), reason: 'add', port }, expected:
      "OFPT_PORT_STATUS (OF1.3) (xid=0x10f): ADD: 1(vm1): addr:aa:bb:cc:00:00:01\n     config:     0\n     state:      LIVE\n     current:    10GB-FD COPPER\n     speed: 10000 Mbps now, 0 Mbps max" },
  {
    name: 'flow mod add with everything',
    message: flowMod({
      command: 'add',
      xid: next(),
      tableId: 3,
      priority: 100,
      cookie: 0x1234n,
      idleTimeout: 30,
      flags: FlowModFlags.SEND_FLOW_REM | FlowModFlags.CHECK_OVERLAP,
      match: [
        { field: 'reg0', value: 1 },
        { field: 'eth_type', value: 0x0800 },
        { field: 'ipv4_dst', value: '10.0.0.1' },
        { field: 'ip_proto', value: 6 },
        { field: 'tcp_dst', value: 80 },
        { field: 'ct_state', value: 0x21, mask: 0x21 },
      ],
      instructions: [
        {
          type: 'apply_actions',
          actions: [
            { type: 'set_field', field: 'eth_dst', value: '00:11:22:33:44:55' },
            { type: 'set_field', field: 'reg1', value: 7 },
            { type: 'reg_load', dst: { field: 'reg2', ofs: 0, nbits: 8 }, value: 3n },
            { type: 'reg_move', src: { field: 'reg0', ofs: 0, nbits: 16 }, dst: { field: 'tunnel_id', ofs: 0, nbits: 16 } },
            { type: 'resubmit', port: 0xfff8, table: 4 },
            ctAction,
            { type: 'controller', maxLen: 128, controllerId: 0, reason: 1 },
            { type: 'note', data: Buffer.from('abcdef') },
            { type: 'output', port: OFPP.CONTROLLER, maxLen: OFPCML_NO_BUFFER },
            { type: 'group', groupId: 3 },
            { type: 'push_vlan', ethertype: 0x8100 },
            { type: 'set_field', field: 'vlan_vid', value: 0x1000 | 10 },
            { type: 'pop_vlan' },
            { type: 'dec_nw_ttl' },
            { type: 'output', port: 2, maxLen: 0 },
          ],
        },
        { type: 'write_metadata', metadata: 1n, mask: 0xffn },
        { type: 'meter', meterId: 1 },
        { type: 'goto_table', tableId: 4 },
      ],
    }),
    expected:
      "OFPT_FLOW_MOD (OF1.3) (xid=0x110): ADD table:3 priority=100,ct_state=+new+trk,tcp,reg0=0x1,nw_dst=10.0.0.1,tp_dst=80 cookie:0x1234 idle:30 send_flow_rem check_overlap actions=meter:1,set_field:00:11:22:33:44:55->eth_dst,set_field:0x7->reg1,load:0x3->NXM_NX_REG2[0..7],move:NXM_NX_REG0[0..15]->NXM_NX_TUN_ID[0..15],resubmit(,4),ct(commit,table=5,zone=NXM_NX_REG6[0..15],nat(dst=10.0.0.2-10.0.0.3:80-90),exec(set_field:0x1->ct_mark)),CONTROLLER:128,note:61.62.63.64.65.66,CONTROLLER:65535,group:3,push_vlan:0x8100,set_field:4106->vlan_vid,pop_vlan,dec_ttl,output:2,write_metadata:0x1/0xff,goto_table:4",
  },
  {
    name: 'flow mod nicira and tunnel fields',
    message: flowMod({
      command: 'add',
      xid: next(),
      tableId: 0,
      priority: 10,
      match: [
        { field: 'in_port', value: 5 },
        { field: 'tunnel_id', value: 0x1234n },
        { field: 'tun_ipv4_src', value: '192.168.1.1' },
        { field: 'tun_ipv4_dst', value: '192.168.1.2' },
        { field: 'metadata', value: 0x10n, mask: 0xf0n },
        { field: 'pkt_mark', value: 3 },
        { field: 'ct_zone', value: 7 },
        { field: 'ct_mark', value: 0x1, mask: 0x1 },
        { field: 'ct_label', value: 0x1n << 100n, mask: 0x1n << 100n },
        { field: 'dp_hash', value: 5, mask: 0xf },
        { field: 'reg15', value: 0xdeadbeef },
        { field: 'xreg3', value: 0x100000002n },
        // ct(nat) needs an IP match and alg=ftp a TCP one (OFPBAC_MATCH_INCONSISTENT otherwise).
        { field: 'eth_type', value: 0x86dd },
        { field: 'ip_proto', value: 6 },
      ],
      instructions: [
        {
          type: 'apply_actions',
          actions: [
            { type: 'set_field', field: 'tunnel_id', value: 0x55n },
            { type: 'set_field', field: 'tun_ipv4_dst', value: '192.168.1.9' },
            { type: 'ct', zone: 9, actions: [{ type: 'nat' }] },
            { type: 'ct_clear' },
            { type: 'ct', force: true, commit: true, alg: 21, actions: [{ type: 'nat', direction: 'src', ipMin: 'fd00::1', ipMax: 'fd00::2' }] },
            { type: 'resubmit', port: 3, table: 255 },
            { type: 'controller', maxLen: 0xffff, controllerId: 3, reason: 0 },
          ],
        },
      ],
    }),
    expected:
      "OFPT_FLOW_MOD (OF1.3) (xid=0x111): ADD priority=10,pkt_mark=0x3,dp_hash=0x5/0xf,ct_zone=7,ct_mark=0x1/0x1,ct_label=0x10000000000000000000000000/0x10000000000000000000000000,tcp6,reg6=0x1,reg7=0x2,reg15=0xdeadbeef,tun_id=0x1234,tun_src=192.168.1.1,tun_dst=192.168.1.2,metadata=0x10/0xf0,in_port=5 actions=set_field:0x55->tun_id,set_field:192.168.1.9->tun_dst,ct(zone=9,nat),ct_clear,ct(commit,force,nat(src=fd00::1-fd00::2),alg=ftp),resubmit:3,controller(reason=no_match,id=3)",
  },
  {
    name: 'flow mod conjunction',
    message: flowMod({
      command: 'add',
      xid: next(),
      tableId: 7,
      priority: 200,
      match: [{ field: 'eth_type', value: 0x86dd }, { field: 'ipv6_src', value: 'fd00::5' }],
      instructions: [{ type: 'apply_actions', actions: [{ type: 'conjunction', id: 42, clause: 1, nClauses: 2 }] }],
    }),
    expected:
      "OFPT_FLOW_MOD (OF1.3) (xid=0x112): ADD table:7 priority=200,ipv6,ipv6_src=fd00::5 actions=conjunction(42,1/2)",
  },
  {
    name: 'flow mod arp and nd',
    message: flowMod({
      command: 'modify_strict',
      xid: next(),
      tableId: 2,
      priority: 90,
      match: [
        { field: 'eth_type', value: 0x0806 },
        { field: 'arp_op', value: 1 },
        { field: 'arp_spa', value: '10.0.0.1' },
        { field: 'arp_tpa', value: '10.0.0.2' },
        { field: 'arp_sha', value: 'aa:bb:cc:dd:ee:ff' },
        { field: 'arp_tha', value: '00:00:00:00:00:00' },
      ],
      instructions: [{ type: 'write_actions', actions: [{ type: 'output', port: OFPP.IN_PORT, maxLen: 0 }] }, { type: 'clear_actions' }],
    }),
    expected:
      "OFPT_FLOW_MOD (OF1.3) (xid=0x113): MOD_STRICT table:2 priority=90,arp,arp_spa=10.0.0.1,arp_tpa=10.0.0.2,arp_op=1,arp_sha=aa:bb:cc:dd:ee:ff,arp_tha=00:00:00:00:00:00 actions=clear_actions,write_actions(IN_PORT)",
  },
  {
    name: 'flow mod nd target',
    message: flowMod({
      command: 'modify',
      xid: next(),
      tableId: 2,
      match: [
        { field: 'eth_type', value: 0x86dd },
        { field: 'ip_proto', value: 58 },
        { field: 'icmpv6_type', value: 135 },
        { field: 'icmpv6_code', value: 0 },
        { field: 'ipv6_nd_target', value: 'fe80::1' },
        { field: 'ipv6_nd_sll', value: '00:00:00:00:00:01' },
      ],
      instructions: [],
    }),
    expected:
      "OFPT_FLOW_MOD (OF1.3) (xid=0x114): MOD table:2 icmp6,icmp_type=135,icmp_code=0,nd_target=fe80::1,nd_sll=00:00:00:00:00:01 actions=drop",
  },
  {
    name: 'flow mod udp sctp icmp vlan',
    message: flowMod({
      command: 'add',
      xid: next(),
      match: [
        { field: 'eth_src', value: '02:00:00:00:00:00', mask: 'ff:ff:ff:00:00:00' },
        { field: 'vlan_vid', value: 0x1000 | 100 },
        { field: 'vlan_pcp', value: 3 },
        { field: 'eth_type', value: 0x0800 },
        { field: 'ip_dscp', value: 10 },
        { field: 'ip_proto', value: 17 },
        { field: 'udp_src', value: 68 },
        { field: 'udp_dst', value: 67 },
      ],
      instructions: [{ type: 'apply_actions', actions: [{ type: 'output', port: OFPP.NORMAL, maxLen: 0 }] }],
    }),
    expected:
      "OFPT_FLOW_MOD (OF1.3) (xid=0x115): ADD udp,dl_vlan=100,dl_vlan_pcp=3,dl_src=02:00:00:00:00:00/ff:ff:ff:00:00:00,nw_tos=40,tp_src=68,tp_dst=67 actions=NORMAL",
  },
  {
    name: 'flow mod icmp',
    message: flowMod({
      command: 'add',
      xid: next(),
      match: [
        { field: 'eth_type', value: 0x0800 },
        { field: 'ip_proto', value: 1 },
        { field: 'icmpv4_type', value: 8 },
        { field: 'icmpv4_code', value: 0 },
      ],
      instructions: [{ type: 'apply_actions', actions: [{ type: 'output', port: OFPP.LOCAL, maxLen: 0 }] }],
    }),
    expected:
      "OFPT_FLOW_MOD (OF1.3) (xid=0x116): ADD icmp,icmp_type=8,icmp_code=0 actions=LOCAL",
  },
  {
    name: 'flow mod sctp',
    message: flowMod({
      command: 'add',
      xid: next(),
      match: [
        { field: 'eth_type', value: 0x86dd },
        { field: 'ip_proto', value: 132 },
        { field: 'sctp_src', value: 9 },
        { field: 'sctp_dst', value: 0x1000, mask: 0xf000 },
      ],
      instructions: [],
    }),
    expected:
      "OFPT_FLOW_MOD (OF1.3) (xid=0x117): ADD sctp6,tp_src=9,tp_dst=0x1000/0xf000 actions=drop",
  },
  {
    name: 'flow mod delete by cookie',
    message: flowMod({ command: 'delete', xid: next(), cookie: 0x10000n, cookieMask: 0xffff0000n, tableId: OFPTT_ALL }),
    expected:
      "OFPT_FLOW_MOD (OF1.3) (xid=0x118): DEL table:255 cookie:0x10000/0xffff0000 actions=drop",
  },
  {
    name: 'flow mod delete_strict out_port out_group',
    message: flowMod({
      command: 'delete_strict',
      xid: next(),
      tableId: 5,
      priority: 5,
      outPort: 3,
      outGroup: 7,
      match: [{ field: 'reg3', value: 1, mask: 1 }],
    }),
    expected:
      "OFPT_FLOW_MOD (OF1.3) (xid=0x119): DEL_STRICT table:5 priority=5,reg3=0x1/0x1 out_port:3 actions=drop",
  },
  {
    name: 'group mod select',
    message: {
      type: 'group_mod',
      xid: next(),
      command: 'add',
      groupType: 'select',
      groupId: 1,
      buckets: [
        bucket([{ type: 'output', port: 1, maxLen: 0 }], { weight: 10 }),
        bucket([{ type: 'set_field', field: 'reg0', value: 2 }, { type: 'resubmit', port: 0xfff8, table: 9 }], { weight: 20 }),
      ],
    },
    expected:
      "OFPT_GROUP_MOD (OF1.3) (xid=0x11a):\n ADD group_id=1,type=select,bucket=weight:10,actions=output:1,bucket=weight:20,actions=set_field:0x2->reg0,resubmit(,9)",
  },
  {
    name: 'group mod fast failover',
    message: {
      type: 'group_mod',
      xid: next(),
      command: 'modify',
      groupType: 'ff',
      groupId: 2,
      buckets: [bucket([{ type: 'output', port: 1, maxLen: 0 }], { watchPort: 1 }), bucket([{ type: 'output', port: 2, maxLen: 0 }], { watchPort: 2, watchGroup: 5 })],
    },
    expected:
      "OFPT_GROUP_MOD (OF1.3) (xid=0x11b):\n MOD group_id=2,type=ff,bucket=watch_port:1,actions=output:1,bucket=watch_port:2,watch_group:5,actions=output:2",
  },
  {
    name: 'group mod all/indirect/delete',
    message: { type: 'group_mod', xid: next(), command: 'add', groupType: 'all', groupId: 3, buckets: [bucket([{ type: 'output', port: 1, maxLen: 0 }]), bucket([{ type: 'output', port: 2, maxLen: 0 }])] },
    expected:
      "OFPT_GROUP_MOD (OF1.3) (xid=0x11c):\n ADD group_id=3,type=all,bucket=actions=output:1,bucket=actions=output:2",
  },
  {
    name: 'group mod indirect',
    message: { type: 'group_mod', xid: next(), command: 'add', groupType: 'indirect', groupId: 4, buckets: [bucket([{ type: 'group', groupId: 3 }])] },
    expected:
      "OFPT_GROUP_MOD (OF1.3) (xid=0x11d):\n ADD group_id=4,type=indirect,bucket=actions=group:3",
  },
  { name: 'group mod delete', message: { type: 'group_mod', xid: next(), command: 'delete', groupType: 'all', groupId: OFPG.ALL, buckets: [] }, expected:
      "OFPT_GROUP_MOD (OF1.3) (xid=0x11e):\n DEL group_id=4294967292,type=all" },
  {
    name: 'meter mod',
    message: {
      type: 'meter_mod',
      xid: next(),
      command: 'add',
      flags: MeterFlags.KBPS | MeterFlags.BURST | MeterFlags.STATS,
      meterId: 1,
      bands: [{ type: 'drop', rate: 1000, burstSize: 100 }, { type: 'dscp_remark', rate: 2000, burstSize: 0, precLevel: 1 }],
    },
    expected:
      "OFPT_METER_MOD (OF1.3) (xid=0x11f): ADD meter=1 kbps burst stats bands=\ntype=drop rate=1000 burst_size=100\ntype=dscp_remark rate=2000 burst_size=0 prec_level=1",
  },
  { name: 'meter mod delete', message: { type: 'meter_mod', xid: next(), command: 'delete', flags: 0, meterId: 1, bands: [] }, expected:
      "OFPT_METER_MOD (OF1.3) (xid=0x120): DEL meter=1 bands=" },
  { name: 'mp desc request', message: { type: 'multipart_request', xid: next(), flags: 0, body: { kind: 'desc' } }, expected:
      "OFPST_DESC request (OF1.3) (xid=0x121):" },
  {
    name: 'mp flow request',
    message: {
      type: 'multipart_request',
      xid: next(),
      flags: 0,
      body: { kind: 'flow', tableId: OFPTT_ALL, outPort: OFPP.ANY, outGroup: OFPG.ANY, cookie: 0x5n, cookieMask: 0xffn, match: [{ field: 'reg0', value: 1 }] },
    },
    expected:
      "OFPST_FLOW request (OF1.3) (xid=0x122): reg0=0x1",
  },
  {
    name: 'mp aggregate request',
    message: {
      type: 'multipart_request',
      xid: next(),
      flags: 0,
      body: { kind: 'aggregate', tableId: 3, outPort: OFPP.ANY, outGroup: OFPG.ANY, cookie: 0n, cookieMask: 0n, match: [] },
    },
    expected:
      "OFPST_AGGREGATE request (OF1.3) (xid=0x123): table=3",
  },
  { name: 'mp table request', message: { type: 'multipart_request', xid: next(), flags: 0, body: { kind: 'table' } }, expected:
      "OFPST_TABLE request (OF1.3) (xid=0x124):" },
  { name: 'mp port stats request', message: { type: 'multipart_request', xid: next(), flags: 0, body: { kind: 'port_stats', portNo: OFPP.ANY } }, expected:
      "OFPST_PORT request (OF1.3) (xid=0x125): port_no=ANY" },
  { name: 'mp port desc request', message: { type: 'multipart_request', xid: next(), flags: 0, body: { kind: 'port_desc' } }, expected:
      "OFPST_PORT_DESC request (OF1.3) (xid=0x126): port=ANY" },
  { name: 'mp group desc request', message: { type: 'multipart_request', xid: next(), flags: 0, body: { kind: 'group_desc' } }, expected:
      "OFPST_GROUP_DESC request (OF1.3) (xid=0x127): group_id=ALL" },
  { name: 'mp group stats request', message: { type: 'multipart_request', xid: next(), flags: 0, body: { kind: 'group', groupId: OFPG.ALL } }, expected:
      "OFPST_GROUP request (OF1.3) (xid=0x128): group_id=ALL" },
  { name: 'mp meter stats request', message: { type: 'multipart_request', xid: next(), flags: 0, body: { kind: 'meter', meterId: 0xffffffff } }, expected:
      "OFPST_METER request (OF1.3) (xid=0x129): meter=all" },
  { name: 'mp meter config request', message: { type: 'multipart_request', xid: next(), flags: 0, body: { kind: 'meter_config', meterId: 1 } }, expected:
      "OFPST_METER_CONFIG request (OF1.3) (xid=0x12a): meter=1" },
  {
    name: 'mp desc reply',
    message: {
      type: 'multipart_reply',
      xid: next(),
      flags: 0,
      body: { kind: 'desc', desc: { mfrDesc: 'Nicira, Inc.', hwDesc: 'Open vSwitch', swDesc: '3.1.0', serialNum: 'None', dpDesc: 'br0' } },
    },
    expected:
      "OFPST_DESC reply (OF1.3) (xid=0x12b):\nManufacturer: Nicira, Inc.\nHardware: Open vSwitch\nSoftware: 3.1.0\nSerial Num: None\nDP Description: br0",
  },
  {
    name: 'mp flow reply',
    message: {
      type: 'multipart_reply',
      xid: next(),
      flags: 0,
      body: {
        kind: 'flow',
        flows: [
          {
            tableId: 1,
            durationSec: 5,
            durationNsec: 0,
            priority: 100,
            idleTimeout: 0,
            hardTimeout: 0,
            flags: 0,
            cookie: 0x7n,
            packetCount: 1n,
            byteCount: 64n,
            match: [{ field: 'eth_type', value: 0x0800 }],
            instructions: [{ type: 'apply_actions', actions: [{ type: 'output', port: 1, maxLen: 0 }] }],
          },
        ],
      },
    },
    expected:
      "OFPST_FLOW reply (OF1.3) (xid=0x12c):\n cookie=0x7, duration=5s, table=1, n_packets=1, n_bytes=64, priority=100,ip actions=output:1",
  },
  {
    name: 'mp aggregate reply',
    message: { type: 'multipart_reply', xid: next(), flags: 0, body: { kind: 'aggregate', packetCount: 10n, byteCount: 1000n, flowCount: 3 } },
    expected:
      "OFPST_AGGREGATE reply (OF1.3) (xid=0x12d): packet_count=10 byte_count=1000 flow_count=3",
  },
  {
    name: 'mp table reply',
    message: { type: 'multipart_reply', xid: next(), flags: 0, body: { kind: 'table', tables: [{ tableId: 0, activeCount: 4, lookupCount: 10n, matchedCount: 8n }] } },
    expected:
      "OFPST_TABLE reply (OF1.3) (xid=0x12e):\n  table 0:\n    active=4, lookup=10, matched=8",
  },
  {
    name: 'mp port stats reply',
    message: {
      type: 'multipart_reply',
      xid: next(),
      flags: 0,
      body: {
        kind: 'port_stats',
        ports: [
          {
            portNo: 1,
            rxPackets: 1n,
            txPackets: 2n,
            rxBytes: 3n,
            txBytes: 4n,
            rxDropped: 0n,
            txDropped: 0n,
            rxErrors: 0n,
            txErrors: 0n,
            rxFrameErr: 0n,
            rxOverErr: 0n,
            rxCrcErr: 0n,
            collisions: 0n,
            durationSec: 1,
            durationNsec: 0,
          },
        ],
      },
    },
    expected:
      "OFPST_PORT reply (OF1.3) (xid=0x12f): 1 ports\n  port  1: rx pkts=1, bytes=3, drop=0, errs=0, frame=0, over=0, crc=0\n           tx pkts=2, bytes=4, drop=0, errs=0, coll=0\n           duration=1s",
  },
  { name: 'mp port desc reply', message: { type: 'multipart_reply', xid: next(), flags: 0, body: { kind: 'port_desc', ports: [port] } }, expected:
      "OFPST_PORT_DESC reply (OF1.3) (xid=0x130):\n 1(vm1): addr:aa:bb:cc:00:00:01\n     config:     0\n     state:      LIVE\n     current:    10GB-FD COPPER\n     speed: 10000 Mbps now, 0 Mbps max" },
  {
    name: 'mp group desc reply',
    message: {
      type: 'multipart_reply',
      xid: next(),
      flags: 0,
      body: { kind: 'group_desc', groups: [{ groupType: 'select', groupId: 1, buckets: [bucket([{ type: 'output', port: 1, maxLen: 0 }], { weight: 5 })] }] },
    },
    expected:
      "OFPST_GROUP_DESC reply (OF1.3) (xid=0x131):\n group_id=1,type=select,bucket=weight:5,actions=output:1",
  },
  {
    name: 'mp group stats reply',
    message: {
      type: 'multipart_reply',
      xid: next(),
      flags: 0,
      body: {
        kind: 'group',
        groups: [{ groupId: 1, refCount: 2, packetCount: 3n, byteCount: 4n, durationSec: 5, durationNsec: 6, buckets: [{ packetCount: 1n, byteCount: 2n }] }],
      },
    },
    expected:
      "OFPST_GROUP reply (OF1.3) (xid=0x132):\n group_id=1,duration=5.000000006s,ref_count=2,packet_count=3,byte_count=4,bucket0:packet_count=1,byte_count=2",
  },
  {
    name: 'mp meter stats reply',
    message: {
      type: 'multipart_reply',
      xid: next(),
      flags: 0,
      body: {
        kind: 'meter',
        meters: [{ meterId: 1, flowCount: 2, packetInCount: 3n, byteInCount: 4n, durationSec: 5, durationNsec: 6, bands: [{ packetCount: 1n, byteCount: 2n }] }],
      },
    },
    expected:
      "OFPST_METER reply (OF1.3) (xid=0x133):\nmeter:1 flow_count:2 packet_in_count:3 byte_in_count:4 duration:5.000000006s bands:\n0: packet_count:1 byte_count:2",
  },
  {
    name: 'mp meter config reply',
    message: {
      type: 'multipart_reply',
      xid: next(),
      flags: 0,
      body: { kind: 'meter_config', meters: [{ flags: MeterFlags.PKTPS, meterId: 1, bands: [{ type: 'drop', rate: 10, burstSize: 0 }] }] },
    },
    expected:
      "OFPST_METER_CONFIG reply (OF1.3) (xid=0x134):\nmeter=1 pktps bands=\ntype=drop rate=10",
  },
  { name: 'barrier request', message: { type: 'barrier_request', xid: next() }, expected:
      "OFPT_BARRIER_REQUEST (OF1.3) (xid=0x135):" },
  { name: 'barrier reply', message: { type: 'barrier_reply', xid: next() }, expected:
      "OFPT_BARRIER_REPLY (OF1.3) (xid=0x136):" },
  { name: 'role request', message: { type: 'role_request', xid: next(), role: 'master', generationId: 5n }, expected:
      "OFPT_ROLE_REQUEST (OF1.3) (xid=0x137): role=primary generation_id=5" },
  { name: 'role reply', message: { type: 'role_reply', xid: next(), role: 'equal', generationId: 0n }, expected:
      "OFPT_ROLE_REPLY (OF1.3) (xid=0x138): role=equal generation_id=0" },
  { name: 'get async', message: { type: 'get_async_request', xid: next() }, expected:
      "OFPT_GET_ASYNC_REQUEST (OF1.3) (xid=0x139):" },
  {
    name: 'set async',
    message: { type: 'set_async', xid: next(), packetInMask: [0x3, 0], portStatusMask: [0x7, 0x7], flowRemovedMask: [0xf, 0] },
    expected:
      "OFPT_SET_ASYNC (OF1.3) (xid=0x13a):\n primary:\n       PACKET_IN: no_match action\n     PORT_STATUS: add delete modify\n    FLOW_REMOVED: idle hard delete group_delete\n     ROLE_STATUS: (off)\n    TABLE_STATUS: (off)\n  REQUESTFORWARD: (off)\n secondary:\n       PACKET_IN: (off)\n     PORT_STATUS: add delete modify\n    FLOW_REMOVED: (off)\n     ROLE_STATUS: (off)\n    TABLE_STATUS: (off)\n  REQUESTFORWARD: (off)",
  },
  {
    name: 'bundle open',
    message: { type: 'bundle_control', xid: next(), bundleId: 1, controlType: 'open_request', flags: BundleFlags.ATOMIC, properties: Buffer.alloc(0) },
    expected:
      "ONFT_BUNDLE_CONTROL (OF1.3) (xid=0x13b):\n bundle_id=0x1 type=OPEN_REQUEST flags=atomic",
  },
  {
    name: 'bundle commit',
    message: {
      type: 'bundle_control',
      xid: next(),
      bundleId: 1,
      controlType: 'commit_request',
      flags: BundleFlags.ATOMIC | BundleFlags.ORDERED,
      properties: Buffer.alloc(0),
    },
    expected:
      "ONFT_BUNDLE_CONTROL (OF1.3) (xid=0x13c):\n bundle_id=0x1 type=COMMIT_REQUEST flags=atomic ordered",
  },
  {
    name: 'bundle commit reply',
    message: { type: 'bundle_control', xid: next(), bundleId: 1, controlType: 'commit_reply', flags: 0, properties: Buffer.alloc(0) },
    expected:
      "ONFT_BUNDLE_CONTROL (OF1.3) (xid=0x13d):\n bundle_id=0x1 type=COMMIT_REPLY flags=0",
  },
  {
    name: 'bundle discard',
    message: { type: 'bundle_control', xid: next(), bundleId: 9, controlType: 'discard_request', flags: 0, properties: Buffer.alloc(0) },
    expected:
      "ONFT_BUNDLE_CONTROL (OF1.3) (xid=0x13e):\n bundle_id=0x9 type=DISCARD_REQUEST flags=0",
  },
  {
    name: 'bundle add flow',
    message: {
      type: 'bundle_add',
      xid: (xid += 1),
      bundleId: 1,
      flags: BundleFlags.ATOMIC,
      properties: Buffer.alloc(0),
      message: flowMod({
        command: 'add',
        xid,
        tableId: 1,
        priority: 1,
        match: [{ field: 'reg0', value: 1 }],
        instructions: [{ type: 'goto_table', tableId: 2 }],
      }),
    },
    expected:
      "ONFT_BUNDLE_ADD_MESSAGE (OF1.3) (xid=0x13f):\n bundle_id=0x1 flags=atomic\nOFPT_FLOW_MOD (OF1.3) (xid=0x13f): ADD table:1 priority=1,reg0=0x1 actions=goto_table:2",
  },
  {
    // The load balancer's slot hash: one per listener, stable across backend changes.
    name: 'flow mod multipath',
    message: flowMod({
      command: 'add',
      xid: next(),
      tableId: 4,
      priority: 110,
      match: [{ field: 'eth_type', value: 0x0800 }, { field: 'ip_proto', value: 6 }, { field: 'ipv4_dst', value: '10.0.0.9' }, { field: 'tcp_dst', value: 80 }],
      instructions: [
        {
          type: 'apply_actions',
          actions: [
            { type: 'multipath', fields: 'symmetric_l3l4+udp', basis: 0, algorithm: 'modulo_n', nLinks: 256, arg: 0, dst: { field: 'reg2', ofs: 0, nbits: 8 } },
            { type: 'multipath', fields: 'nw_src', basis: 7, algorithm: 'hrw', nLinks: 3, arg: 0, dst: { field: 'reg3', ofs: 4, nbits: 4 } },
          ],
        },
        { type: 'goto_table', tableId: 7 },
      ],
    }),
    expected:
      'OFPT_FLOW_MOD (OF1.3) (xid=0x140): ADD table:4 priority=110,tcp,nw_dst=10.0.0.9,tp_dst=80 actions=multipath(symmetric_l3l4+udp,0,modulo_n,256,0,NXM_NX_REG2[0..7]),multipath(nw_src,7,hrw,3,0,NXM_NX_REG3[4..7]),goto_table:7',
  },
  {
    // OVS tells a demoted master this way in OpenFlow 1.3: the fencing of a deposed leader.
    name: 'role status',
    message: { type: 'role_status', xid: next(), role: 'slave', reason: 'master_request', generationId: 7n },
    expected: 'ONFT_ROLE_STATUS (OF1.3) (xid=0x141): role=secondary generation_id=7 reason=primary_request',
  },
  {
    // Clearing flags set on a port by hand (ovs-ofctl mod-port br-int vxlan0 no-receive).
    name: 'port mod',
    message: { type: 'port_mod', xid: next(), portNo: 5, hwAddr: 'aa:bb:cc:00:00:05', config: 0, mask: 0x64, advertise: 0 },
    expected: 'OFPT_PORT_MOD (OF1.3) (xid=0x142): port: 5: addr:aa:bb:cc:00:00:05\n     config: 0\n     mask:   NO_RECV NO_FWD NO_PACKET_IN\n     advertise: UNCHANGED',
  },
];
