/**
 * NodeTables -> native tables and XDP filter keys: frames classified against what
 * fillBuilder commits go where the plan says (local port, VTEP with VNI, decap to the
 * local port), and each interface's filter lists exactly the frames the tables decide.
 */
import { FastPath, FrameBatch, openFastPath } from './fastpath';
import { FilterMap, NODE_FILTERS, dstKey, netKey, fillBuilder, innerKey, interfaceFilters, isConntrackVip, lbNetKey, src6Key, vipAddrKey, srcKey, targetKey, UNDERLAY_PORT, vipKey, type NodeTables } from './node-tables';
import { eth, icmpEcho, ipv4, ipv4Packet, mac, tcp } from './reference';
import { Encap, PORT_UNDERLAY, SlowReason, VerdictKind } from './types';

const opened = openFastPath();
if (!opened.fastPath) throw new Error(`libvnetfp must build for the tests: ${JSON.stringify(opened.status)}`);
const fp = opened.fastPath;

const A = '02:00:00:00:00:0a', B = '02:00:00:00:00:0b', C = '02:00:00:00:00:0c', LB = '02:4c:42:00:00:01';
const tables = (): NodeTables => ({
  localVtep: { ip: '198.18.0.1', mac: '02:ff:00:00:00:01' },
  underlay: { ifname: 'eth0' },
  ports: [
    { id: 3, ifname: 'tap3', network: 100, mac: A, portSecurity: true, sources: [{ mac: A, ip: '10.0.0.10' }] },
    { id: 4, ifname: 'tap4', network: 100, mac: C, portSecurity: false, sources: [] },
    { id: 5, ifname: 'tap5', network: 200, mac: '02:00:00:00:00:0d', portSecurity: true, sources: [], slowOnly: true },
  ],
  vnis: [{ vni: 100, network: 100 }, { vni: 200, network: 200 }],
  vteps: [{ id: 1, ip: '198.18.0.2', mac: '02:ff:00:00:00:02', encap: 'vxlan' }],
  macs: [
    { network: 100, mac: A, to: { kind: 'local', port: 3 } },
    { network: 100, mac: B, to: { kind: 'remote', vtep: 1, vni: 100 } },
    { network: 100, mac: C, to: { kind: 'local', port: 4 } },
    { network: 200, mac: '02:00:00:00:00:0d', to: { kind: 'local', port: 5 } },
  ],
  vips: [{ network: 100, proto: 'TCP', vip: '10.0.0.200', port: 80, backends: [{ ip: '10.0.0.11', port: 8080, weight: 1 }] }],
});

const ping = (dst: string, src: string) => eth(mac(dst), mac(src), 0x0800, ipv4Packet(ipv4('10.0.0.10'), ipv4('10.0.0.11'), 1, icmpEcho()));

describe('NodeTables', () => {
  const c = fp.classifier(0);
  const b = fp.builder();
  fillBuilder(b, tables(), PORT_UNDERLAY);
  fp.commit(b);
  afterAll(() => {
    c.free();
    b.free();
  });

  it('sends a VM frame to a remote MAC toward its VTEP and to a local MAC to its port', () => {
    const batch = FrameBatch.of([ping(B, A), ping(C, A)]);
    c.classify(3, batch);
    const [toB, toC] = batch.verdicts();
    expect([toB!.kind, toB!.port, toB!.vni, toB!.encap]).toEqual([VerdictKind.Encap, 1, 100, Encap.Vxlan]);
    expect([toC!.kind, toC!.port]).toEqual([VerdictKind.Local, 4]);
  });

  it('decapsulates tunnel frames on the underlay port to the local port', () => {
    // Encapsulate a frame for C as the peer node would, then decapsulate it on our underlay.
    const peer = fp.builder();
    peer.localVtep(ipv4('198.18.0.2'), mac('02:ff:00:00:00:02')).port(9, 100).vtep({ id: 2, ip: ipv4('198.18.0.1'), nextHopMac: mac('02:ff:00:00:00:01'), encap: Encap.Vxlan }).remoteMac(100, mac(C), 2, 100);
    const pdp = new FastPath(fp.lib);
    pdp.commit(peer);
    const pc = pdp.classifier(0);
    const wire = FrameBatch.withHeadroom([ping(C, B)]);
    expect(pc.forward(9, wire)).toBe(1);
    const rx = FrameBatch.withHeadroom([Buffer.from(wire.frame(0))]);
    expect(c.forward(UNDERLAY_PORT, rx)).toBe(1);
    expect([rx.verdict(0).kind, rx.verdict(0).port]).toEqual([VerdictKind.Local, 4]);
    pc.free();
    peer.free();
    pdp.close();
  });

  it('filters: VM NICs take unicast to other known MACs of their network (the node\'s keys of the NIC\'s network tag), with port security from their pairs; the underlay takes local MACs', () => {
    const f = new Map(interfaceFilters(tables()).map((x) => [x.ifname, x.keys]));
    // Once per network for the whole node, whatever its number of NICs; each NIC's tag carries its own MAC (not taken).
    expect(f.get(NODE_FILTERS)!.get(FilterMap.Dst)).toEqual(new Set([dstKey(100, A), dstKey(100, B), dstKey(100, C)]));
    expect(f.get('tap3')!.get(FilterMap.Net)).toEqual(new Set([netKey(100, A)]));
    // Network 100 has a VIP: A (its MAC delivered to tap3) may open connections to it too.
    expect(f.get('tap3')!.get(FilterMap.Src)).toEqual(new Set([srcKey(A, '10.0.0.10'), srcKey(A, '10.0.0.10', true)]));
    expect(f.get('tap4')!.get(FilterMap.Net)).toEqual(new Set([netKey(100, C)]));
    // No port security: no source pairs; VIP connections from its MAC, any address.
    expect(f.get('tap4')!.get(FilterMap.Src)).toEqual(new Set([srcKey(C, '0.0.0.0', true)]));
    // A network with load balancers stays with OVS (conntrack): nothing taken for it, no tag.
    expect(f.get('tap5')!.get(FilterMap.Net)).toEqual(new Set());
    expect([...f.get(NODE_FILTERS)!.get(FilterMap.Dst)!].some((k) => k.startsWith('c8000000'))).toBe(false);
    expect(f.get('eth0')!.get(FilterMap.Inner)).toEqual(new Set([innerKey(100, A), innerKey(100, C)]));
    expect([...f.get(NODE_FILTERS)!.get(FilterMap.Dst)!].some((k) => k.includes(LB.replace(/:/g, '')))).toBe(false);
    // No interface holds a node key, and the node's maps hold nothing of an interface's.
    for (const [name, keys] of f) for (const m of keys.keys()) expect(name === NODE_FILTERS).toBe(m === FilterMap.Dst || m === FilterMap.VipAddr);
  });

  it('filters: a node\'s keys grow with its MACs and NICs, not their product (1,500 NICs in a network of 3,000)', () => {
    const t = tables();
    const m = (i: number) => `02:00:00:01:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`;
    t.ports = Array.from({ length: 1500 }, (_, i) => ({ id: 10 + i, ifname: `vm${i}`, network: 300, mac: m(i), portSecurity: true, sources: [{ mac: m(i), ip: `10.3.${i >> 8}.${i & 255}` }] }));
    t.macs = Array.from({ length: 3000 }, (_, i) => ({ network: 300, mac: m(i), to: i < 1500 ? { kind: 'local' as const, port: 10 + i } : { kind: 'remote' as const, vtep: 1, vni: 300 } }));
    t.vnis = [{ vni: 300, network: 300 }];
    const t0 = performance.now();
    const f = interfaceFilters(t);
    const ms = performance.now() - t0;
    const keys = f.reduce((n, x) => n + [...x.keys.values()].reduce((k, s) => k + s.size, 0), 0);
    // 3,000 Dst, 1,500 tags and 1,500 source pairs, 1,500 Inner at the underlay; it was 4.5 million Dst keys (and 13 s).
    expect(keys).toBe(3000 + 1500 + 1500 + 1500);
    expect(ms).toBeLessThan(2000);
  });

  it('filters: IPv6 sources of a port with port security go to vfp_src6 (24-byte keys), IPv4 ones to vfp_src', () => {
    const t = tables();
    t.ports[0] = { ...t.ports[0]!, sources: [{ mac: A, ip: '10.0.0.10' }, { mac: A, ip: 'fd00::a' }, { mac: A, ip: 'fe80::ff:fe00:a' }, { mac: B, ip: 'fd00::77' }] };
    t.ports[1] = { ...t.ports[1]!, sources: [{ mac: C, ip: 'fd00::c' }] }; // no port security: no keys
    const f = new Map(interfaceFilters(t).map((x) => [x.ifname, x.keys]));
    expect(f.get('tap3')!.get(FilterMap.Src)).toEqual(new Set([srcKey(A, '10.0.0.10'), srcKey(A, '10.0.0.10', true)]));
    expect(f.get('tap3')!.get(FilterMap.Src6)).toEqual(new Set([src6Key(A, 'fd00::a'), src6Key(A, 'fe80::ff:fe00:a'), src6Key(B, 'fd00::77')]));
    expect(src6Key(A, 'fd00::a')).toBe('02000000000a0000' + 'fd00000000000000000000000000000a');
    expect(f.get('tap4')!.get(FilterMap.Src6)).toEqual(new Set());
  });

  it('a backend at an allowed pair address, by the pair\'s own MAC (delivered to its port by the tables): a conntrack VIP, and a remote client\'s first packet to it is taken at the underlay', () => {
    const D = '02:00:00:00:00:0d', P = '02:aa:00:00:00:50';
    const t = tables();
    t.ports[2] = { ...t.ports[2]!, sources: [{ mac: D, ip: '10.0.1.13' }, { mac: P, ip: '10.0.1.50' }] };
    t.macs.push({ network: 200, mac: P, to: { kind: 'local', port: 5 } });
    t.vips = [{ network: 200, proto: 'TCP', vip: '10.0.1.200', port: 80, backends: [{ ip: '10.0.1.50', port: 8080, weight: 1, mac: P }] }];
    t.lbGuards = [{ network: 200, vips: ['10.0.1.200'], backends: ['10.0.1.50'] }];
    expect(isConntrackVip(t, t.vips[0]!)).toBe(true);
    const f = new Map(interfaceFilters(t).map((x) => [x.ifname, x.keys]));
    expect(f.get('eth0')!.get(FilterMap.Target)).toContain(targetKey(200, P, '10.0.1.50', 8080, 6));
  });

  it('VIP connections only from a source whose MAC the tables deliver to the port: not from a pair MAC several ports share (VRRP, QA-122 F7), whose other traffic is still taken; without port security, from the port\'s MACs only', () => {
    const V = '00:00:5e:00:01:2f', S = '02:aa:00:00:00:51';
    const t = tables();
    // tap3 declares two pairs: V, which another port declares too (the plan gives it no MAC
    // entry: OVS sends its frames to every holder), and S, which it alone declares.
    t.ports[0] = { ...t.ports[0]!, sources: [{ mac: A, ip: '10.0.0.10' }, { mac: V, ip: '10.0.0.250' }, { mac: S, ip: '10.0.0.251' }] };
    t.macs.push({ network: 100, mac: S, to: { kind: 'local', port: 3 } });
    const f = new Map(interfaceFilters(t).map((x) => [x.ifname, x.keys]));
    expect(f.get('tap3')!.get(FilterMap.Src)).toEqual(
      new Set([srcKey(A, '10.0.0.10'), srcKey(A, '10.0.0.10', true), srcKey(V, '10.0.0.250'), srcKey(S, '10.0.0.251'), srcKey(S, '10.0.0.251', true)]),
    );
    // A port without port security may send from any MAC: VIP connections from those the tables deliver to it, any address.
    t.macs.push({ network: 100, mac: '02:aa:00:00:00:52', to: { kind: 'local', port: 4 } });
    expect(new Map(interfaceFilters(t).map((x) => [x.ifname, x.keys])).get('tap4')!.get(FilterMap.Src)).toEqual(new Set([srcKey(C, '0.0.0.0', true), srcKey('02:aa:00:00:00:52', '0.0.0.0', true)]));
    // A network without an IPv4 VIP the fast path deals: no connection keys at all.
    const noVips = new Map(interfaceFilters({ ...t, vips: [] }).map((x) => [x.ifname, x.keys]));
    expect(noVips.get('tap3')!.get(FilterMap.Src)).toEqual(new Set([srcKey(A, '10.0.0.10'), srcKey(V, '10.0.0.250'), srcKey(S, '10.0.0.251')]));
    expect(noVips.get('tap4')!.get(FilterMap.Src)).toEqual(new Set());
  });

  it('conntrack VIPs: SYN (TCP) and flow-opening (UDP) keys on the VM NICs of the VIP\'s network, only when every weighted backend is reachable by the tables', () => {
    const D = '02:00:00:00:00:0d';
    const t = tables();
    t.vips = [
      // Network 200 (load balancers: slowOnly): backend D is local, an unhealthy one at weight 0 without a MAC entry.
      { network: 200, proto: 'TCP', vip: '10.0.1.200', port: 80, affinity: 'ClientIP', backends: [{ ip: '10.0.1.13', port: 8080, weight: 1, mac: D }, { ip: '10.0.1.14', port: 8080, weight: 0, mac: '02:00:00:00:00:0e' }] },
      // A weighted backend the tables cannot reach: OVS keeps the VIP.
      { network: 200, proto: 'TCP', vip: '10.0.1.201', port: 80, backends: [{ ip: '10.0.1.13', port: 8080, weight: 1, mac: D }, { ip: '10.0.1.15', port: 8080, weight: 1, mac: '02:00:00:00:00:0f' }] },
      { network: 200, proto: 'UDP', vip: '10.0.1.200', port: 53, backends: [{ ip: '10.0.1.13', port: 53, weight: 1, mac: D }] },
    ];
    t.ports[2] = { ...t.ports[2]!, sources: [{ mac: D, ip: '10.0.1.13' }] };
    // A client of the VIPs in network 200, on tap6.
    const E = '02:00:00:00:00:0e';
    t.ports.push({ id: 6, ifname: 'tap6', network: 200, mac: E, portSecurity: true, sources: [{ mac: E, ip: '10.0.1.5' }], slowOnly: true });
    t.macs.push({ network: 200, mac: E, to: { kind: 'local', port: 6 } });
    expect(t.vips.map((v) => isConntrackVip(t, v))).toEqual([true, false, true]);
    t.lbGuards = [{ network: 200, vips: ['10.0.1.200', '10.0.1.201'], backends: ['10.0.1.13', '10.0.1.14', '10.0.1.15'] }];
    const f = new Map(interfaceFilters(t).map((x) => [x.ifname, x.keys]));
    expect(f.get('tap6')!.get(FilterMap.Vip)).toEqual(new Set([vipKey('10.0.1.200', 80, 6), vipKey('10.0.1.200', 53, 17)]));
    expect(f.get('tap6')!.get(FilterMap.Net)).toEqual(new Set()); // its other traffic stays with OVS
    expect([...f.get(NODE_FILTERS)!.get(FilterMap.Dst)!].some((k) => k.startsWith('c8000000'))).toBe(false);
    expect(f.get('tap6')!.get(FilterMap.Src)).toEqual(new Set([srcKey(E, '10.0.1.5'), srcKey(E, '10.0.1.5', true)])); // port security gates the VIP's SYNs
    // D (tap5) is a backend of the VIP: its own connections to it (hairpins among them) stay with OVS.
    expect(f.get('tap5')!.get(FilterMap.Vip)).toEqual(new Set());
    expect(f.get('tap3')!.get(FilterMap.Vip)).toEqual(new Set()); // another network
    // A backend that tap6 holds only by a CIDR pair answers through OVS (its NIC's filter takes exact sources only): the VIP is OVS's on this node (QA-122).
    const viaPrefix = { ...t, ports: t.ports.map((p) => (p.id === 6 ? { ...p, sources: [...p.sources, { mac: E, ip: '10.0.1.8/29' }] } : p)), vips: [{ network: 200, proto: 'TCP' as const, vip: '10.0.1.200', port: 80, backends: [{ ip: '10.0.1.12', port: 8080, weight: 1, mac: E }] }] };
    expect(isConntrackVip(viaPrefix, viaPrefix.vips[0]!)).toBe(false);
    expect(isConntrackVip({ ...viaPrefix, vips: [{ ...viaPrefix.vips[0]!, backends: [{ ip: '10.0.1.5', port: 8080, weight: 1, mac: E }] }] }, { ...viaPrefix.vips[0]!, backends: [{ ip: '10.0.1.5', port: 8080, weight: 1, mac: E }] })).toBe(true);
    // So does a port whose CIDR pair covers a backend: its connections from its first address may be dealt to itself (QA-113 F3).
    const covering = { ...t, ports: t.ports.map((p) => (p.id === 6 ? { ...p, sources: [...p.sources, { mac: E, ip: '10.0.1.12/30' }] } : p)) };
    expect(new Map(interfaceFilters(covering).map((x) => [x.ifname, x.keys])).get('tap6')!.get(FilterMap.Vip)).toEqual(new Set());
    expect(vipKey('10.0.1.200', 80, 6)).toBe('0a0001c800500600');
    // A network still settling (it just got its first load balancer here): no SYN key, OVS takes the new connections.
    const settling = new Map(interfaceFilters(t, new Set([200])).map((x) => [x.ifname, x.keys]));
    expect(settling.get('tap6')!.get(FilterMap.Vip)).toEqual(new Set());
    expect(settling.get('tap6')!.get(FilterMap.Src)).toEqual(f.get('tap6')!.get(FilterMap.Src));
    // The underlay takes a remote client's first packet to a local backend's listener, settling
    // or not (passthrough connections are only switched here): D's, on either VIP and protocol,
    // and the unhealthy 10.0.1.14's, whose MAC is tap6's (delivered by MAC, as OVS does); not
    // 10.0.1.15's, whose MAC has no port here. And every UDP listener of a backend, local or
    // not, with no MAC: a datagram from one is left to OVS (it may answer a flow OVS dealt
    // here); and every backend's address (port and protocol 0), for from_backend.
    const any = '00:00:00:00:00:00';
    const targets = new Set([
      targetKey(200, D, '10.0.1.13', 8080, 6), targetKey(200, D, '10.0.1.13', 53, 17), targetKey(200, E, '10.0.1.14', 8080, 6),
      targetKey(200, any, '10.0.1.13', 53, 17), ...['10.0.1.13', '10.0.1.14', '10.0.1.15'].map((ip) => targetKey(200, any, ip, 0, 0)),
    ]);
    expect(f.get('eth0')!.get(FilterMap.Target)).toEqual(targets);
    expect(settling.get('eth0')!.get(FilterMap.Target)).toEqual(targets);
    expect(f.get('eth0')!.get(FilterMap.Inner)).toEqual(new Set([innerKey(100, A), innerKey(100, C)])); // not network 200's MACs
    // The committed VIP is a conntrack one: a SYN is delivered to D rewritten, an ACK without SYN is not taken.
    const dp = new FastPath(fp.lib), bld = dp.builder(), ctx = dp.classifier(1024);
    try {
      fillBuilder(bld, t, PORT_UNDERLAY);
      dp.commit(bld);
      const syn = eth(mac(LB), mac(D), 0x0800, ipv4Packet(ipv4('10.0.1.5'), ipv4('10.0.1.200'), 6, tcp(40000, 80, 0x02)));
      const batch = FrameBatch.withHeadroom([syn, eth(mac(LB), mac(D), 0x0800, ipv4Packet(ipv4('10.0.1.5'), ipv4('10.0.1.200'), 6, tcp(40001, 80, 0x10)))]);
      ctx.forward(5, batch);
      expect(batch.verdict(0)).toMatchObject({ kind: VerdictKind.Local, port: 5, l4port: 8080 });
      expect(batch.frame(0).subarray(0, 6).toString('hex')).toBe(D.replace(/:/g, ''));
      expect(batch.verdict(1)).toMatchObject({ kind: VerdictKind.Slow, reason: SlowReason.VipNotOurs });
      // The VIP whose new connections stay with OVS is still a conntrack VIP in the tables (the
      // connections the fast path holds would go on): a stray ACK is not rewritten.
      const stray = FrameBatch.withHeadroom([eth(mac(LB), mac(D), 0x0800, ipv4Packet(ipv4('10.0.1.5'), ipv4('10.0.1.201'), 6, tcp(40002, 80, 0x10)))]);
      ctx.forward(5, stray);
      expect(stray.verdict(0)).toMatchObject({ kind: VerdictKind.Slow, reason: SlowReason.VipNotOurs });
    } finally {
      ctx.free();
      bld.free();
      dp.close();
    }
  });

  it('a load-balanced network: a port that is no backend keeps its ordinary traffic on the fast path; at the underlay its network is checked for backends\' frames', () => {
    const D = '02:00:00:00:00:0d', E = '02:00:00:00:00:0e', F = '02:00:00:00:00:0f';
    const t = tables();
    // Network 200: D (tap5) is the VIP's backend; E (tap6) and F (remote) are clients.
    t.ports[2] = { ...t.ports[2]!, sources: [{ mac: D, ip: '10.0.1.13' }] };
    t.ports.push({ id: 6, ifname: 'tap6', network: 200, mac: E, portSecurity: true, sources: [{ mac: E, ip: '10.0.1.5' }] });
    t.macs.push({ network: 200, mac: E, to: { kind: 'local', port: 6 } }, { network: 200, mac: F, to: { kind: 'remote', vtep: 1, vni: 200 } });
    t.vips = [{ network: 200, proto: 'TCP', vip: '10.0.1.200', port: 80, backends: [{ ip: '10.0.1.13', port: 8080, weight: 1, mac: D }] }];
    t.lbGuards = [{ network: 200, vips: ['10.0.1.200'], backends: ['10.0.1.13'] }];
    const f = new Map(interfaceFilters(t).map((x) => [x.ifname, x.keys]));
    // tap6: its frames to the network's other MACs, as in any network; tap5 (the backend): only its VIP connections.
    const node = f.get(NODE_FILTERS)!;
    expect([...node.get(FilterMap.Dst)!].filter((k) => k.startsWith('c8000000'))).toEqual([D, E, F].map((x) => dstKey(200, x)));
    expect(f.get('tap6')!.get(FilterMap.Net)).toEqual(new Set([netKey(200, E)]));
    expect(f.get('tap5')!.get(FilterMap.Net)).toEqual(new Set());
    // ...but not its frames to the VIP's address by a port's MAC (a router's): OVS deals those,
    // unless the connection's own keys (its SYN, here) take them.
    expect(node.get(FilterMap.VipAddr)).toEqual(new Set([vipAddrKey(200, '10.0.1.200')]));
    expect(f.get('tap6')!.get(FilterMap.Vip)).toEqual(new Set([vipKey('10.0.1.200', 80, 6)]));
    expect(vipAddrKey(200, '10.0.1.200')).toBe('c80000000a0001c8');
    // The underlay: E's tunnel frames, in a network whose frames from a backend's address stay with OVS.
    expect(f.get('eth0')!.get(FilterMap.Inner)).toEqual(new Set([innerKey(100, A), innerKey(100, C), innerKey(200, E)]));
    expect(f.get('eth0')!.get(FilterMap.LbNet)).toEqual(new Set([lbNetKey(200)]));
    expect(f.get('eth0')!.get(FilterMap.Target)).toEqual(new Set([targetKey(200, D, '10.0.1.13', 8080, 6), targetKey(200, '00:00:00:00:00:00', '10.0.1.13', 0, 0)]));
    expect(lbNetKey(200)).toBe('c8000000');
  });

  it('a load-balanced network with an IPv6 VIP and an SCTP listener: IPv4 of its ports that are no backend stays on the fast path, its IPv6 and what the SCTP VIP touches go to OVS', () => {
    const D = '02:00:00:00:00:0d', E = '02:00:00:00:00:0e';
    const t = tables();
    // Network 200: D (tap5) is a backend of both; E (tap6), dual-stack, is a client.
    t.ports[2] = { ...t.ports[2]!, slowOnly: true, sources: [{ mac: D, ip: '10.0.1.13' }, { mac: D, ip: 'fd00:1::13' }] };
    t.ports.push({ id: 6, ifname: 'tap6', network: 200, mac: E, portSecurity: true, sources: [{ mac: E, ip: '10.0.1.5' }, { mac: E, ip: 'fd00:1::5' }] });
    t.ports[0] = { ...t.ports[0]!, sources: [{ mac: A, ip: '10.0.0.10' }, { mac: A, ip: 'fd00::a' }] };
    t.macs.push({ network: 200, mac: E, to: { kind: 'local', port: 6 } });
    // Neither VIP is one the fast path deals (no TCP/UDP IPv4 listener): t.vips is empty.
    t.vips = [];
    t.lbGuards = [{ network: 200, vips: ['10.0.1.201', 'fd00:1::200'], backends: ['10.0.1.13', 'fd00:1::13'] }];
    const f = new Map(interfaceFilters(t).map((x) => [x.ifname, x.keys]));
    // tap6: its IPv4 to the network's MACs; no IPv6 source pair (its IPv6 is OVS's, which deals
    // the IPv6 VIP's connections and un-DNATs their replies); the SCTP VIP's address held back.
    expect([...f.get(NODE_FILTERS)!.get(FilterMap.Dst)!].filter((k) => k.startsWith('c8000000'))).toEqual([D, E].map((x) => dstKey(200, x)));
    expect(f.get('tap6')!.get(FilterMap.Net)).toEqual(new Set([netKey(200, E)]));
    expect(f.get('tap6')!.get(FilterMap.Src)).toEqual(new Set([srcKey(E, '10.0.1.5')]));
    expect(f.get('tap6')!.get(FilterMap.Src6)).toEqual(new Set());
    expect(f.get(NODE_FILTERS)!.get(FilterMap.VipAddr)).toEqual(new Set([vipAddrKey(200, '10.0.1.201')]));
    // Network 100 has no load balancer: its IPv6 pairs stay.
    expect(f.get('tap3')!.get(FilterMap.Src6)).toEqual(new Set([src6Key(A, 'fd00::a')]));
    // The underlay: E's tunnel frames, except IPv4 from the backend's address (the SCTP VIP's
    // backend: its replies to connections OVS dealt) and all IPv6 (the LbNet key with LBNET_IPV6).
    expect(f.get('eth0')!.get(FilterMap.Inner)).toEqual(new Set([innerKey(100, A), innerKey(100, C), innerKey(200, E)]));
    expect(f.get('eth0')!.get(FilterMap.LbNet)).toEqual(new Set([lbNetKey(200), lbNetKey(200, true)]));
    expect(lbNetKey(200, true)).toBe('c8000080');
    expect(f.get('eth0')!.get(FilterMap.Target)).toEqual(new Set([targetKey(200, '00:00:00:00:00:00', '10.0.1.13', 0, 0)]));
  });

  it('encodes filter keys as the XDP program reads them', () => {
    // struct vfp_dst_key (and a NIC's tag): network (host order), MAC, 2 pad bytes.
    expect(dstKey(0x123456, B)).toBe('5634120002000000000b0000');
    expect(srcKey(A, '10.0.0.10')).toBe('02000000000a00000a00000a');
    // The key of a source VIP connections may come from: kind VFP_SRC_CONN (1, host order).
    expect(srcKey(A, '10.0.0.10', true)).toBe('02000000000a01000a00000a');
    expect(innerKey(0x123456, A)).toBe('5634120002000000000a0000');
    // struct vfp_target_key: VNI (host order), MAC, port, address (network order), protocol, 3 pad bytes.
    expect(targetKey(0x123456, A, '10.0.0.11', 8080, 6)).toBe('5634120002000000000a1f900a00000b06000000');
    expect(() => dstKey(1, 'zz')).toThrow(/bad MAC/);
  });
});
