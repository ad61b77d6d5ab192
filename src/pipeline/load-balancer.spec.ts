import { checkMatch, decodeMessage, encodeMessage, flowMod, type FlowModMessage } from '../openflow';
import { backendRegisterValues, lbFlows } from './load-balancer';
import { lbMac } from './owners';
import { formatPipelineFlow } from './format';
import type { LbBackendModel, LoadBalancerModel, NetworkModel } from './model';
import { TABLES } from './tables';

const net: NetworkModel = { uid: 'n', key: 't/n', version: '1', vni: 4242, encapsulation: 'geneve' };
const lb6 = (ips: string[]): LoadBalancerModel => ({
  uid: 'lb6',
  key: 't/lb6',
  version: '1',
  network: 'n',
  vip: 'fd00:10::64',
  mac: lbMac('lb6'),
  listeners: [{ protocol: 'TCP', port: 80, targetPort: 8080 }],
  backends: ips.map((ip, i) => ({ name: `b${i}`, ip, mac: `02:00:00:00:00:0${i + 1}`, weight: 1, healthy: true })),
  healthCheckPorts: [33000],
});

describe('lbFlows for an IPv6 VIP', () => {
  const flows = lbFlows(lb6(['fd00:10::5', 'fd00:10::6', 'fd00:10::7']), net).flows;

  it('answers Neighbor Solicitations for the VIP (no ARP) and matches IPv6 throughout', () => {
    const fields = (t: number) => flows.filter((f) => f.tableId === t).flatMap((f) => f.match.map((m) => m.field));
    expect(fields(TABLES.ArpResponder.id)).toEqual(expect.arrayContaining(['icmpv6_type', 'ipv6_nd_target']));
    expect(fields(TABLES.ArpResponder.id)).not.toContain('arp_tpa');
    for (const t of [TABLES.LbNat.id, TABLES.LbSlot.id, TABLES.LbDnat.id]) expect(fields(t)).not.toContain('ipv4_dst');
    const dnat = flows.filter((f) => f.tableId === TABLES.LbDnat.id);
    expect(dnat).toHaveLength(3);
    const natTo = dnat.map((f) => JSON.stringify(f.instructions)).map((j) => /"ipMin":"([^"]+)"/.exec(j)?.[1]).sort();
    expect(natTo).toEqual(['fd00:10::5', 'fd00:10::6', 'fd00:10::7']);
  });

  it('every flow is valid OpenFlow and survives an encode/decode round trip (an IPv6 VIP once failed to encode and stopped a node)', () => {
    for (const f of flows) {
      checkMatch(f.match);
      const m = flowMod({ command: 'add', tableId: f.tableId, priority: f.priority, match: f.match, instructions: f.instructions });
      const back = decodeMessage(encodeMessage(m)) as FlowModMessage;
      expect(back.match).toEqual(m.match);
    }
  });

  it('gives each backend a register value of its own that does not move when others come and go', () => {
    const all = backendRegisterValues(lb6(['fd00:10::5', 'fd00:10::6', 'fd00:10::7']).backends);
    const fewer = backendRegisterValues(lb6(['fd00:10::7', 'fd00:10::5']).backends);
    expect(new Set(all.values()).size).toBe(3);
    expect(fewer.get('fd00:10::5')).toBe(all.get('fd00:10::5'));
    expect(fewer.get('fd00:10::7')).toBe(all.get('fd00:10::7'));
    // IPv4 backends keep their address as the value (what counting and tracing read).
    expect([...backendRegisterValues([{ name: 'a', ip: '10.0.0.5', mac: '02:00:00:00:00:05', weight: 1, healthy: true }]).values()]).toEqual([0x0a000005]);
  });
});

describe('lbFlows for an SCTP listener', () => {
  const sctp = (listeners: LoadBalancerModel['listeners'], backends = ['10.0.10.5', '10.0.10.6']): LoadBalancerModel => ({
    uid: 'lbs',
    key: 't/lbs',
    version: '1',
    network: 'n',
    vip: '10.0.10.100',
    mac: lbMac('lbs'),
    listeners,
    backends: backends.map((ip, i) => ({ name: `b${i}`, ip, mac: `02:00:00:00:00:0${i + 1}`, weight: 1, healthy: true })),
  });
  const text = (v: unknown) => JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? x.toString() : x));
  const setsOf = (f: { instructions: unknown[] }) => text(f.instructions).match(/"field":"sctp_(src|dst)","value":\d+/g) ?? [];
  const portFlows = (lb: LoadBalancerModel) => lbFlows(lb, net).flows.filter((f) => setsOf(f).length > 0);

  it('translates the port in flows where the conntrack does not (OVS before 3.2): toward each backend, and back from the VIP', () => {
    const flows = portFlows(sctp([{ protocol: 'SCTP', port: 38412, targetPort: 9000 }]));
    // One per backend (to the target port, with its MAC), one for the replies (from the listener's port).
    expect(flows.map(setsOf)).toEqual([['"field":"sctp_dst","value":9000'], ['"field":"sctp_dst","value":9000'], ['"field":"sctp_src","value":38412']]);
    const fwd = flows[0]!;
    expect(fwd.match).toEqual(expect.arrayContaining([{ field: 'ipv4_dst', value: '10.0.10.5' }, { field: 'sctp_dst', value: 38412 }, { field: 'eth_dst', value: lbMac('lbs') }]));
    expect(text(fwd.instructions)).toContain('"field":"eth_dst","value":"02:00:00:00:00:01"');
    const back = flows[2]!;
    expect(back.match).toEqual(expect.arrayContaining([{ field: 'ipv4_src', value: '10.0.10.100' }, { field: 'sctp_src', value: 9000 }]));
    for (const f of flows) {
      checkMatch(f.match);
      const m = flowMod({ command: 'add', tableId: f.tableId, priority: f.priority, match: f.match, instructions: f.instructions });
      expect((decodeMessage(encodeMessage(m)) as FlowModMessage).match).toEqual(m.match);
    }
  });

  it('a backend no longer active (unhealthy, drained) keeps the translation of the associations it has, even when none is active', () => {
    const lb = sctp([{ protocol: 'SCTP', port: 38412, targetPort: 9000 }], ['10.0.10.5', '10.0.10.6']);
    const sick = { ...lb, backends: lb.backends.map((b, i) => (i === 1 ? { ...b, healthy: false } : b)) };
    expect(portFlows(sick).filter((f) => f.match.some((m) => m.field === 'ipv4_dst' && m.value === '10.0.10.6'))).toHaveLength(1);
    const none = { ...lb, backends: lb.backends.map((b) => ({ ...b, healthy: false })) };
    expect(portFlows(none).map(setsOf)).toEqual([['"field":"sctp_dst","value":9000'], ['"field":"sctp_dst","value":9000'], ['"field":"sctp_src","value":38412']]);
  });

  it('no port flows where there is nothing to translate, nor where two SCTP listeners\' ports would make them ambiguous', () => {
    expect(portFlows(sctp([{ protocol: 'SCTP', port: 38412, targetPort: 38412 }]))).toEqual([]);
    expect(portFlows(sctp([{ protocol: 'TCP', port: 80, targetPort: 8080 }]))).toEqual([]);
    // 38412 -> 9000 and 9000 -> 9001: after OVS 3.2's own translation, the second's packets to
    // the backend are on 9000, its replies from 9000: the first's flows would take them.
    expect(portFlows(sctp([{ protocol: 'SCTP', port: 38412, targetPort: 9000 }, { protocol: 'SCTP', port: 9000, targetPort: 9001 }]))).toEqual([]);
    // Two listeners to one target port: a reply cannot tell which port it answers.
    expect(portFlows(sctp([{ protocol: 'SCTP', port: 38412, targetPort: 9000 }, { protocol: 'SCTP', port: 38413, targetPort: 9000 }]))).toEqual([]);
    // A TCP listener beside it changes nothing.
    expect(portFlows(sctp([{ protocol: 'SCTP', port: 38412, targetPort: 9000 }, { protocol: 'TCP', port: 9000, targetPort: 38412 }]))).toHaveLength(3);
  });

  it('without a backend, a local client\'s SCTP packet goes to the controller (answered with an ABORT), as TCP and UDP do', () => {
    const flows = lbFlows(sctp([{ protocol: 'SCTP', port: 38412, targetPort: 9000 }], []), net).flows;
    const toController = flows.filter((f) => f.tableId === TABLES.LbNat.id && text(f.instructions).includes('"type":"output"') && f.match.some((m) => m.field === 'sctp_dst'));
    expect(toController).toHaveLength(1);
  });
});

describe('lbFlows: hairpin from another address of the backend\'s port (QA-113 F3)', () => {
  const m = lbMac('lbh');
  const lbh = (peers?: LbBackendModel['peers']): LoadBalancerModel => ({
    uid: 'lbh',
    key: 't/lbh',
    version: '1',
    network: 'n',
    vip: '10.0.20.100',
    mac: m,
    listeners: [{ protocol: 'TCP', port: 80, targetPort: 8080 }],
    backends: [
      { name: '10.0.20.60', ip: '10.0.20.60', mac: '02:00:00:00:00:05', weight: 1, healthy: true, ...(peers ? { peers } : {}) },
      { name: 'b6', ip: '10.0.20.6', mac: '02:00:00:00:00:06', weight: 1, healthy: true },
    ],
  });
  const hairpins = (lb: LoadBalancerModel) => lbFlows(lb, net).flows.map(formatPipelineFlow).filter((f) => /priority=10[45],/.test(f));

  it('a client address of the port and a CIDR pair of it each get the two NATs and the way back, tied to the port by source MAC', () => {
    const peers = [
      { family: 4 as const, mac: '02:00:00:00:00:05', ip: '10.0.20.5' },
      { family: 4 as const, mac: '02:00:00:00:99:05', ip: '10.0.20.48', mask: '255.255.255.248' },
    ];
    const withPeers = hairpins(lbh(peers));
    const without = hairpins(lbh());
    expect(without).toHaveLength(6);
    expect(withPeers.filter((f) => !without.includes(f))).toEqual([
      `LbNat, priority=104, Network=4242, ct_state=-rpl+trk,dl_src=02:00:00:00:00:05,dl_dst=${m},ip,nw_src=10.0.20.5,nw_dst=10.0.20.60 actions=ct_clear,ct(commit,table=LbNat,zone=4243,nat(src=10.0.20.100))`,
      `LbNat, priority=104, Network=4242, ct_state=+rpl+trk,dl_src=02:00:00:00:00:05,dl_dst=${m},ip,nw_src=10.0.20.60,nw_dst=10.0.20.5 actions=ct_clear,ct(table=LbNat,zone=4243,nat)`,
      `LbNat, priority=104, Network=4242, ct_state=+trk,dl_src=02:00:00:00:00:05,dl_dst=${m},ip,nw_src=10.0.20.100,nw_dst=10.0.20.5 actions=set_field:${m}->eth_src,set_field:02:00:00:00:00:05->eth_dst,IN_PORT`,
      `LbNat, priority=104, Network=4242, ct_state=-rpl+trk,dl_src=02:00:00:00:99:05,dl_dst=${m},ip,nw_src=10.0.20.48/29,nw_dst=10.0.20.60 actions=ct_clear,ct(commit,table=LbNat,zone=4243,nat(src=10.0.20.100))`,
      `LbNat, priority=104, Network=4242, ct_state=+rpl+trk,dl_src=02:00:00:00:00:05,dl_dst=${m},ip,nw_src=10.0.20.60,nw_dst=10.0.20.48/29 actions=ct_clear,ct(table=LbNat,zone=4243,nat)`,
      `LbNat, priority=104, Network=4242, ct_state=+trk,dl_src=02:00:00:00:00:05,dl_dst=${m},ip,nw_src=10.0.20.100,nw_dst=10.0.20.48/29 actions=set_field:${m}->eth_src,set_field:02:00:00:00:99:05->eth_dst,IN_PORT`,
    ]);
    for (const f of lbFlows(lbh(peers), net).flows) expect(() => checkMatch(f.match)).not.toThrow();
  });

  it('two backends of one port, each the other\'s peer: flows for each direction once, none repeated', () => {
    const lb = lbh([{ family: 4, mac: '02:00:00:00:00:05', ip: '10.0.20.5' }]);
    const both: LoadBalancerModel = { ...lb, backends: [lb.backends[0]!, { name: 'p5', ip: '10.0.20.5', mac: '02:00:00:00:00:05', weight: 1, healthy: true, peers: [{ family: 4, mac: '02:00:00:00:00:05', ip: '10.0.20.60' }] }] };
    const flows = lbFlows(both, net).flows.map(formatPipelineFlow);
    expect(new Set(flows).size).toBe(flows.length);
    expect(flows.filter((f) => f.includes('priority=104,'))).toHaveLength(6);
  });

  it('three addresses of one port, each a backend: every flow once (its match at most once per priority), or the switch refuses the whole update', () => {
    const mac = '02:00:00:00:00:05';
    const ips = ['10.0.20.5', '10.0.20.201', '10.0.20.202'];
    const lb: LoadBalancerModel = {
      ...lbh(),
      backends: ips.map((ip) => ({ name: ip, ip, mac, weight: 1, healthy: true, peers: ips.filter((x) => x !== ip).map((x) => ({ family: 4 as const, mac, ip: x })) })),
    };
    const flows = lbFlows(lb, net).flows;
    const keys = flows.map((f) => `${f.tableId}|${f.priority}|${JSON.stringify(f.match)}`);
    expect(new Set(keys).size).toBe(keys.length);
    // Per ordered pair of addresses a forward and a reply flow, per address one way back.
    expect(flows.filter((f) => f.priority === 104)).toHaveLength(6 + 6 + 3);
  });
});

describe('lbFlows: UDP datagrams too big for one frame (QA-116 F1)', () => {
  const m = lbMac('lbf');
  const lbf = (listeners: LoadBalancerModel['listeners'], vip = '10.0.30.100', ips = ['10.0.30.5', '10.0.30.6']): LoadBalancerModel => ({
    uid: 'lbf',
    key: 't/lbf',
    version: '1',
    network: 'n',
    vip,
    mac: m,
    listeners,
    backends: ips.map((ip, i) => ({ name: `b${i}`, ip, mac: `02:00:00:00:00:0${i + 5}`, weight: 1, healthy: true })),
  });
  // Fragment flows (nw_frag first or later; the VIP's refusals of other ports match nw_frag=no).
  const fragmentFlows = (lb: LoadBalancerModel) => lbFlows(lb, net).flows.map(formatPipelineFlow).filter((f) => /nw_frag=(first|later)/.test(f));

  it('a UDP listener takes first fragments by their connection\'s port and later ones by the VIP, hashed by client address, DNATed as the listener does', () => {
    expect(fragmentFlows(lbf([{ protocol: 'UDP', port: 53, targetPort: 5353 }]))).toEqual([
      'LbNat, priority=112, Network=4242, ct_state=+new+trk,udp,nw_dst=10.0.30.100,nw_frag=first,ct_nw_proto=17,ct_tp_dst=53 actions=multipath(nw_src,0,modulo_n,256,0,LbSlot),goto_table:LbSlot',
      'LbDnat, priority=100, Network=4242,LbBackend=167779845, ct_state=+new+trk,udp,nw_dst=10.0.30.100,nw_frag=first,ct_nw_proto=17,ct_tp_dst=53 actions=ct(commit,table=LbNat,zone=4243,nat(dst=10.0.30.5:5353))',
      'LbDnat, priority=100, Network=4242,LbBackend=167779846, ct_state=+new+trk,udp,nw_dst=10.0.30.100,nw_frag=first,ct_nw_proto=17,ct_tp_dst=53 actions=ct(commit,table=LbNat,zone=4243,nat(dst=10.0.30.6:5353))',
      'LbNat, priority=112, Network=4242, ct_state=+new+trk,udp,nw_dst=10.0.30.100,nw_frag=later actions=multipath(nw_src,0,modulo_n,256,0,LbSlot),goto_table:LbSlot',
      'LbDnat, priority=100, Network=4242,LbBackend=167779845, ct_state=+new+trk,udp,nw_dst=10.0.30.100,nw_frag=later actions=ct(commit,table=LbNat,zone=4243,nat(dst=10.0.30.5:5353))',
      'LbDnat, priority=100, Network=4242,LbBackend=167779846, ct_state=+new+trk,udp,nw_dst=10.0.30.100,nw_frag=later actions=ct(commit,table=LbNat,zone=4243,nat(dst=10.0.30.6:5353))',
    ]);
    for (const f of lbFlows(lbf([{ protocol: 'UDP', port: 53, targetPort: 5353 }]), net).flows) {
      checkMatch(f.match);
      const back = decodeMessage(encodeMessage(flowMod({ command: 'add', tableId: f.tableId, priority: f.priority, match: f.match, instructions: f.instructions }))) as FlowModMessage;
      expect(back.match).toEqual(f.match);
    }
  });

  it('none for TCP; none where two UDP listeners translate to different ports (the datagram\'s NAT is decided once, by whichever fragment completes it; a first fragment alone would wait in reassembly)', () => {
    expect(fragmentFlows(lbf([{ protocol: 'TCP', port: 80, targetPort: 8080 }]))).toEqual([]);
    expect(fragmentFlows(lbf([{ protocol: 'UDP', port: 53, targetPort: 5353 }, { protocol: 'UDP', port: 54, targetPort: 5354 }]))).toEqual([]);
    const same = fragmentFlows(lbf([{ protocol: 'UDP', port: 53, targetPort: 5353 }, { protocol: 'UDP', port: 54, targetPort: 5353 }]));
    expect(same.filter((f) => f.includes('nw_frag=later'))).toHaveLength(3);
  });

  it('an IPv6 VIP\'s later fragments are matched without a protocol (OVS reads the fragment header\'s)', () => {
    const later = fragmentFlows(lbf([{ protocol: 'UDP', port: 53, targetPort: 5353 }], 'fd00:30::100', ['fd00:30::5'])).filter((f) => f.includes('nw_frag=later'));
    expect(later).toHaveLength(2);
    for (const f of later) expect(f).toMatch(/ ct_state=\+new\+trk,ipv6,ipv6_dst=fd00:30::100,nw_frag=later /);
  });
});
