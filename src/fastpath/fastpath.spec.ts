/**
 * libvnetfp through koffi: parser verdicts for every frame type, encap/decap against a
 * TS reference, Maglev against the naive version, and tables swapped under traffic.
 */
import { encapsulate, decapsulate, FastPath, FrameBatch, maglevRing, openFastPath, type Classifier } from './fastpath';
import {
  arp, checksum, eth, icmpEcho, ipv4, ipv4Packet, ipv6Packet, mac, mapped, naiveMaglev, referenceEncap, tcp, udp, withL4Checksum,
} from './reference';
import { Encap, ParseError, PORT_UNDERLAY, SlowReason, VerdictKind, type BackendSpec, type EncapParams } from './types';

const opened = openFastPath((m) => console.warn(m));
if (!opened.fastPath) throw new Error(`libvnetfp must build for the tests: ${JSON.stringify(opened.status)}`);
const fp: FastPath = opened.fastPath;
const lib = fp.lib;

const NET = 100, VNI = 5000;
const vmA = mac('02:00:00:00:00:01'), vmB = mac('02:00:00:00:00:02'), vmC = mac('02:00:00:00:00:03');
const src = mac('02:00:00:00:00:09'), nh = mac('02:00:00:00:00:fe'), bcast = mac('ff:ff:ff:ff:ff:ff');
const VIP = ipv4('10.96.0.1');
const backends = (n: number, base = 0, weight = 1): BackendSpec[] =>
  Array.from({ length: n }, (_, i) => ({ id: base + i, addr: mapped(ipv4('10.1.0.0') + base + i), port: 8080, weight }));

function baseTables(vipBackends = backends(4)) {
  return fp.builder()
    .port(1, NET).port(2, NET).port(3, 0, PORT_UNDERLAY)
    .vni(VNI, NET)
    .vtep({ id: 7, ip: ipv4('192.168.0.2'), nextHopMac: nh, encap: Encap.Vxlan })
    .vtep({ id: 8, ip: ipv4('192.168.0.3'), nextHopMac: nh, encap: Encap.Geneve })
    .localMac(NET, vmA, 1)
    .remoteMac(NET, vmB, 7, VNI)
    .remoteMac(NET, vmC, 8, VNI + 1)
    .vip({ network: NET, proto: 17, addr: mapped(VIP), port: 53, backends: vipBackends });
}

const udp4 = (dst: Uint8Array, d = ipv4('10.0.0.5'), dport = 1000) =>
  eth(dst, src, 0x0800, ipv4Packet(ipv4('10.0.0.9'), d, 17, udp(40000, dport, Buffer.from('hello'))));

function classifyOne(c: Classifier, inPort: number, frame: Uint8Array) {
  const b = FrameBatch.of([frame]);
  c.classify(inPort, b);
  return b.verdict(0);
}

describe('fastpath status', () => {
  it('loads the library and reports available', () => {
    expect(opened.status.available).toBe(true);
  });
  it('reports a typed reason when the library is missing', () => {
    const old = process.env.VNETD_FASTPATH_LIB;
    process.env.VNETD_FASTPATH_LIB = '/nonexistent/libvnetfp.so';
    try {
      const r = openFastPath();
      expect(r.fastPath).toBeNull();
      expect(r.status).toMatchObject({ available: false, component: 'library' });
    } finally {
      if (old === undefined) delete process.env.VNETD_FASTPATH_LIB;
      else process.env.VNETD_FASTPATH_LIB = old;
    }
  });
});

describe('classifier', () => {
  let c: Classifier;
  beforeAll(() => {
    const b = baseTables();
    fp.commit(b);
    b.free();
    c = fp.classifier(1024);
  });
  afterAll(() => c.free());

  it('local delivery, IPv4 UDP/TCP/ICMP', () => {
    for (const l4 of [
      ipv4Packet(1, 2, 17, udp(1, 2)), ipv4Packet(1, 2, 6, tcp(1, 2)), ipv4Packet(1, 2, 1, icmpEcho()),
    ]) {
      expect(classifyOne(c, 2, eth(vmA, src, 0x0800, l4))).toMatchObject({ kind: VerdictKind.Local, port: 1, network: NET });
    }
  });
  it('VLAN tagged (single and double) and non-IP unicast', () => {
    expect(classifyOne(c, 2, eth(vmA, src, 0x0800, ipv4Packet(1, 2, 17, udp(1, 2)), [5]))).toMatchObject({ kind: VerdictKind.Local, port: 1 });
    expect(classifyOne(c, 2, eth(vmA, src, 0x0800, ipv4Packet(1, 2, 17, udp(1, 2)), [5, 6]))).toMatchObject({ kind: VerdictKind.Local });
    expect(classifyOne(c, 2, eth(vmA, src, 0x0800, ipv4Packet(1, 2, 17, udp(1, 2)), [5, 6, 7]))).toMatchObject({ kind: VerdictKind.Slow, err: ParseError.TooManyVlans });
    expect(classifyOne(c, 2, eth(vmA, src, 0x88b5, Buffer.alloc(46)))).toMatchObject({ kind: VerdictKind.Local });
  });
  it('IPv6 UDP/TCP/ICMPv6, with an extension header', () => {
    const s6 = Buffer.from('fd000000000000000000000000000001', 'hex'), d6 = Buffer.from('fd000000000000000000000000000002', 'hex');
    expect(classifyOne(c, 2, eth(vmA, src, 0x86dd, ipv6Packet(s6, d6, 17, udp(1, 2))))).toMatchObject({ kind: VerdictKind.Local });
    expect(classifyOne(c, 2, eth(vmA, src, 0x86dd, ipv6Packet(s6, d6, 6, tcp(1, 2))))).toMatchObject({ kind: VerdictKind.Local });
    expect(classifyOne(c, 2, eth(vmA, src, 0x86dd, ipv6Packet(s6, d6, 58, Buffer.from([128, 0, 0, 0]))))).toMatchObject({ kind: VerdictKind.Local });
    const hbh = Buffer.concat([Buffer.from([17, 0, 1, 4, 0, 0, 0, 0]), udp(1, 2)]);
    expect(classifyOne(c, 2, eth(vmA, src, 0x86dd, ipv6Packet(s6, d6, 0, hbh)))).toMatchObject({ kind: VerdictKind.Local });
    const bad = Buffer.concat([Buffer.from([17, 9, 1, 4, 0, 0, 0, 0]), udp(1, 2)]);
    expect(classifyOne(c, 2, eth(vmA, src, 0x86dd, ipv6Packet(s6, d6, 0, bad)))).toMatchObject({ kind: VerdictKind.Slow, err: ParseError.TruncIpv6 });
  });
  it('encap verdicts toward VXLAN and GENEVE VTEPs', () => {
    const v = classifyOne(c, 1, udp4(vmB));
    expect(v).toMatchObject({ kind: VerdictKind.Encap, port: 7, vni: VNI, encap: Encap.Vxlan });
    expect(Buffer.from(v.addr)).toEqual(Buffer.from(mapped(ipv4('192.168.0.2'))));
    expect(classifyOne(c, 1, udp4(vmC))).toMatchObject({ kind: VerdictKind.Encap, port: 8, vni: VNI + 1, encap: Encap.Geneve });
  });
  it('slow path: ARP, broadcast, multicast, MAC miss, port miss', () => {
    expect(classifyOne(c, 1, eth(bcast, src, 0x0806, arp()))).toMatchObject({ kind: VerdictKind.Slow, reason: SlowReason.Broadcast });
    expect(classifyOne(c, 1, eth(vmA, src, 0x0806, arp()))).toMatchObject({ kind: VerdictKind.Slow, reason: SlowReason.Arp });
    expect(classifyOne(c, 1, udp4(mac('01:00:5e:00:00:01')))).toMatchObject({ kind: VerdictKind.Slow, reason: SlowReason.Broadcast });
    expect(classifyOne(c, 1, udp4(mac('02:aa:00:00:00:01')))).toMatchObject({ kind: VerdictKind.Slow, reason: SlowReason.MacMiss });
    expect(classifyOne(c, 9, udp4(vmA))).toMatchObject({ kind: VerdictKind.Slow, reason: SlowReason.PortMiss });
  });
  it('a VM\'s router advertisements, ICMPv6 redirects and DHCP server replies go to the slow path, whose port security decides; the rest of its DHCP and ICMPv6 is switched', () => {
    const s6 = Buffer.from('fe800000000000000000000000000009', 'hex'), d6 = Buffer.from('fe800000000000000000000000000001', 'hex');
    const icmp6 = (type: number) => eth(vmA, src, 0x86dd, ipv6Packet(s6, d6, 58, Buffer.from([type, 0, 0, 0, 0, 0, 0, 0])));
    const udp6 = (sport: number, dport: number) => eth(vmA, src, 0x86dd, ipv6Packet(s6, d6, 17, udp(sport, dport, Buffer.from('x'))));
    const udp4From = (sport: number, dport: number) => eth(vmA, src, 0x0800, ipv4Packet(ipv4('10.0.0.9'), ipv4('10.0.0.5'), 17, udp(sport, dport, Buffer.from('offer'))));
    const guarded = { kind: VerdictKind.Slow, reason: SlowReason.RouterGuard };
    expect(classifyOne(c, 1, icmp6(134))).toMatchObject(guarded); // router advertisement
    expect(classifyOne(c, 1, icmp6(137))).toMatchObject(guarded); // redirect
    expect(classifyOne(c, 1, udp4From(67, 68))).toMatchObject(guarded); // DHCP offer / ack (unicast to a known MAC)
    expect(classifyOne(c, 1, udp6(547, 546))).toMatchObject(guarded); // DHCPv6 advertise / reply
    expect(classifyOne(c, 1, icmp6(128))).toMatchObject({ kind: VerdictKind.Local }); // echo request
    expect(classifyOne(c, 1, icmp6(133))).toMatchObject({ kind: VerdictKind.Local }); // router solicitation: a client's
    expect(classifyOne(c, 1, udp4From(68, 67))).toMatchObject({ kind: VerdictKind.Local }); // a client's DHCP request
    expect(classifyOne(c, 1, udp6(546, 547))).toMatchObject({ kind: VerdictKind.Local });
    expect(classifyOne(c, 1, udp4From(67, 9999))).toMatchObject(guarded);
    // In a batch beside frames of the common kind (the hinted path decides those).
    const b = FrameBatch.of([udp4(vmA), udp4From(67, 68), udp4(vmB), icmp6(134), udp4(vmA)]);
    c.classify(1, b);
    expect([0, 1, 2, 3, 4].map((i) => b.verdict(i).kind)).toEqual([VerdictKind.Local, VerdictKind.Slow, VerdictKind.Encap, VerdictKind.Slow, VerdictKind.Local]);
    expect(b.verdict(1).reason).toBe(SlowReason.RouterGuard);
  });

  it('malformed: truncation at every length and bad IP lengths go to the slow path; sound addresses with a bad checksum or L4 header are switched, as OVS switches them', () => {
    const good = udp4(vmA);
    for (let n = 0; n < good.length; n++) {
      const v = classifyOne(c, 1, good.subarray(0, n));
      expect(v.kind).toBe(VerdictKind.Slow);
      expect(v.reason).toBe(SlowReason.Malformed);
    }
    expect(classifyOne(c, 1, eth(vmA, src, 0x0806, arp().subarray(0, 27)))).toMatchObject({ err: ParseError.TruncArp });
    const longer = Buffer.from(good);
    longer.writeUInt16BE(longer.readUInt16BE(16) + 1, 16); // total length past the frame
    expect(classifyOne(c, 1, longer)).toMatchObject({ kind: VerdictKind.Slow, err: ParseError.TruncIpv4 });
    // QA: each of these was dropped by the fast path (taken, then slow) while OVS delivers it.
    const badSum = Buffer.from(good);
    badSum[14 + 10] ^= 0xff;
    const badUdp = eth(vmA, src, 0x0800, ipv4Packet(1, 2, 17, Buffer.from([0, 1, 0, 2, 0, 4, 0, 0])));
    const badTcp = Buffer.from(tcp(1, 2));
    badTcp[12] = 2 << 4;
    const cutTcp = eth(vmA, src, 0x0800, ipv4Packet(1, 2, 6, tcp(1, 2).subarray(0, 12)));
    // The first fragment of a 3,000-byte datagram: its UDP length counts every fragment.
    const firstFrag = eth(vmA, src, 0x0800, ipv4Packet(1, 2, 17, udp(1, 2, Buffer.alloc(2992)).subarray(0, 1400), { frag: 0x2000 }));
    for (const [what, f] of [['bad IPv4 checksum', badSum], ['UDP length too short', badUdp], ['TCP data offset 2', eth(vmA, src, 0x0800, ipv4Packet(1, 2, 6, badTcp))], ['TCP header cut', cutTcp], ['first UDP fragment', firstFrag]] as const) {
      expect({ what, ...classifyOne(c, 1, f) }).toMatchObject({ what, kind: VerdictKind.Local, port: 1, network: NET });
      expect({ what, ...classifyOne(c, 1, Buffer.from(f).fill(vmB[5]!, 5, 6)) }).toMatchObject({ what, kind: VerdictKind.Encap, port: 7 });
    }
    // Never to a VIP: a frame whose ports cannot be read is switched by its MAC alone.
    const toVip = Buffer.from(udp4(vmA, VIP, 53));
    toVip[14 + 10] ^= 0xff;
    expect(classifyOne(c, 1, toVip)).toMatchObject({ kind: VerdictKind.Local, port: 1 });
    // Ethernet padding after the IP packet is fine.
    expect(classifyOne(c, 1, Buffer.concat([good, Buffer.alloc(10)]))).toMatchObject({ kind: VerdictKind.Local });
  });
  it('VIP: rewrite to a backend, same connection same backend, fragments to slow path', () => {
    const f = udp4(vmA, VIP, 53);
    const v1 = classifyOne(c, 1, f), v2 = classifyOne(c, 1, f);
    expect(v1).toMatchObject({ kind: VerdictKind.Vip, l4port: 8080 });
    expect(v1.port).toBeGreaterThanOrEqual(0);
    expect(v1.port).toBeLessThan(4);
    expect(v2.port).toBe(v1.port);
    const frag = eth(vmA, src, 0x0800, ipv4Packet(1, VIP, 17, udp(1, 53), { frag: 0x2000 }));
    expect(classifyOne(c, 1, frag)).toMatchObject({ kind: VerdictKind.Slow, reason: SlowReason.VipFragment });
    // Many source ports spread over all backends.
    const seen = new Set<number>();
    for (let p = 0; p < 200; p++) seen.add(classifyOne(c, 1, eth(vmA, src, 0x0800, ipv4Packet(1, VIP, 17, udp(1000 + p, 53)))).port);
    expect(seen.size).toBe(4);
  });
  it('decap from the underlay: VXLAN and GENEVE to the local VM, unknown VNI and non-tunnel to slow path', () => {
    const inner = udp4(vmA);
    const params = (type: Encap, vni = VNI): EncapParams => ({
      type, ttl: 64, srcPort: 50000, vni, srcIp: ipv4('192.168.0.2'), dstIp: ipv4('192.168.0.1'), srcMac: nh, dstMac: src, ipId: 0,
    });
    for (const t of [Encap.Vxlan, Encap.Geneve]) {
      const outer = referenceEncap(params(t), inner);
      expect(classifyOne(c, 3, outer)).toMatchObject({ kind: VerdictKind.Local, port: 1, innerOff: 50, vni: VNI, network: NET });
    }
    expect(classifyOne(c, 3, referenceEncap(params(Encap.Vxlan, 42), inner))).toMatchObject({ kind: VerdictKind.Slow, reason: SlowReason.VniMiss });
    expect(classifyOne(c, 3, udp4(vmA))).toMatchObject({ kind: VerdictKind.Slow, reason: SlowReason.Underlay });
  });
  it('decap takes only what OVS\'s tunnel port takes: to this VTEP, exact headers, a right UDP checksum, the network\'s own encapsulation', () => {
    const here = mac('02:00:00:00:00:aa');
    const b = baseTables().localVtep(ipv4('192.168.0.1'), here).vni(VNI + 7, NET + 7, Encap.Vxlan).port(4, NET + 7).localMac(NET + 7, vmA, 4);
    const strict = new FastPath(lib);
    strict.commit(b);
    b.free();
    const sc = strict.classifier(64);
    try {
      const inner = udp4(vmA);
      const params = (type: Encap, vni = VNI): EncapParams => ({
        type, ttl: 64, srcPort: 50000, vni, srcIp: ipv4('192.168.0.2'), dstIp: ipv4('192.168.0.1'), srcMac: nh, dstMac: here, ipId: 0,
      });
      const vx = referenceEncap(params(Encap.Vxlan), inner);
      expect(classifyOne(sc, 3, vx)).toMatchObject({ kind: VerdictKind.Local, port: 1 });
      expect(classifyOne(sc, 3, referenceEncap(params(Encap.Geneve), inner))).toMatchObject({ kind: VerdictKind.Local, port: 1 });
      const edited = (edit: (f: Buffer) => void, from = vx) => {
        const f = Buffer.from(from);
        edit(f);
        return f;
      };
      const UDP = 34, TUN = 42;
      // A right UDP checksum is taken; a wrong one is not.
      const summed = edited((f) => withL4Checksum(ipv4('192.168.0.2'), ipv4('192.168.0.1'), 17, f.subarray(UDP)).copy(f, UDP));
      expect(classifyOne(sc, 3, summed)).toMatchObject({ kind: VerdictKind.Local, port: 1 });
      const refused: Array<[string, Buffer, SlowReason]> = [
        ['UDP checksum wrong', edited((f) => f.writeUInt16BE(summed.readUInt16BE(UDP + 6) ^ 0x0101, UDP + 6)), SlowReason.Underlay],
        ['VXLAN flags 0x0c', edited((f) => (f[TUN] = 0x0c)), SlowReason.Underlay],
        ['VXLAN flags 0x88', edited((f) => (f[TUN] = 0x88)), SlowReason.Underlay],
        ['VXLAN reserved byte after the VNI', edited((f) => (f[TUN + 7] = 1)), SlowReason.Underlay],
        ['outer destination another host\'s MAC', edited((f) => f.set(nh, 0)), SlowReason.Underlay],
        ['outer destination broadcast', edited((f) => f.set(bcast, 0)), SlowReason.Underlay],
        ['outer destination another address', edited((f) => { f.writeUInt32BE(ipv4('192.168.0.77'), 30); f.writeUInt16BE(0, 24); f.writeUInt16BE(checksum(f.subarray(14, 34)), 24); }), SlowReason.Underlay],
        ['GENEVE critical option', edited((f) => (f[TUN + 1] |= 0x40), referenceEncap(params(Encap.Geneve), inner)), SlowReason.Underlay],
        ['GENEVE carrying a VXLAN network\'s VNI', referenceEncap(params(Encap.Geneve, VNI + 7), inner), SlowReason.VniMiss],
      ];
      for (const [what, f, reason] of refused) expect({ what, ...classifyOne(sc, 3, f) }).toMatchObject({ what, kind: VerdictKind.Slow, reason });
      expect(classifyOne(sc, 3, referenceEncap(params(Encap.Vxlan, VNI + 7), inner))).toMatchObject({ kind: VerdictKind.Local, port: 4 });
    } finally {
      sc.free();
      strict.close();
    }
  });
  it('a batch decodes to the same verdicts as frames classified one by one', () => {
    const frames = [udp4(vmA), udp4(vmB), udp4(vmC), eth(vmA, src, 0x0806, arp()), Buffer.alloc(5),
      udp4(vmA, VIP, 53), udp4(bcast), udp4(vmA, VIP, 53).fill(7, 34, 35)];
    const b = FrameBatch.of(frames);
    c.classify(1, b);
    expect(b.verdicts()).toEqual(frames.map((f) => classifyOne(c, 1, f)));
    expect(b.verdicts().map((v) => v.kind)).toEqual([1, 2, 2, 0, 0, 3, 0, 3]);
  });
  it('counters move per table and per interface', () => {
    const before = c.counters(), ib = c.ifaceCounters(1);
    const b = FrameBatch.of([udp4(vmA), udp4(vmB), udp4(mac('02:aa:00:00:00:01')), Buffer.alloc(5)]);
    c.classify(1, b);
    const after = c.counters(), ia = c.ifaceCounters(1);
    expect(after.macHit - before.macHit).toBe(2n);
    expect(after.macMiss - before.macMiss).toBe(1n);
    expect(after.parseErrors - before.parseErrors).toBe(1n);
    expect(after.batches - before.batches).toBe(1n);
    expect(ia.rx - ib.rx).toBe(4n);
    expect(ia.fast - ib.fast).toBe(2n);
    expect(ia.slow - ib.slow).toBe(2n);
    expect(ia.errors - ib.errors).toBe(1n);
  });
});

describe('encap/decap byte-exact against the TS reference', () => {
  it.each([Encap.Vxlan, Encap.Geneve])('type %s', (type) => {
    for (const len of [14, 60, 64, 1000, 1500]) {
      const inner = Buffer.alloc(len, 0);
      for (let i = 0; i < len; i++) inner[i] = (i * 7 + len) & 0xff;
      const p: EncapParams = {
        type, ttl: 63, srcPort: 49152 + len, vni: 0xabcdef, srcIp: ipv4('10.0.0.1'), dstIp: ipv4('10.0.0.2'),
        srcMac: mac('0a:00:00:00:00:01'), dstMac: mac('0a:00:00:00:00:02'), ipId: len,
      };
      const got = encapsulate(lib, p, inner);
      expect(got.toString('hex')).toBe(referenceEncap(p, inner).toString('hex'));
      expect(decapsulate(lib, got)).toEqual({ type, innerOff: 50, vni: 0xabcdef });
    }
  });
  it('refuses non-tunnel frames', () => {
    expect(decapsulate(lib, udp4(vmA))).toBeNull();
  });
});

describe('Maglev', () => {
  it('optimised ring equals the naive reference (weighted, any input order)', () => {
    const be = backends(5).map((b, i) => ({ ...b, weight: [1, 2, 3, 1, 5][i] }));
    const ref = naiveMaglev(be);
    expect(Buffer.from(maglevRing(lib, be).buffer).equals(Buffer.from(ref.buffer))).toBe(true);
    expect(Buffer.from(maglevRing(lib, [...be].reverse()).buffer).equals(Buffer.from(ref.buffer))).toBe(true);
  });
  it('weights are respected within 2%', () => {
    const w = [1, 2, 4, 8];
    const be = backends(4).map((b, i) => ({ ...b, weight: w[i] }));
    const ring = maglevRing(lib, be);
    const count = [0, 0, 0, 0];
    for (const i of ring) count[i]++;
    const total = w.reduce((a, b) => a + b);
    w.forEach((wi, i) => expect(Math.abs(count[i] / 65537 - wi / total)).toBeLessThan(0.02));
  });
  it('equal weights: each backend within 1% of 1/N', () => {
    const ring = maglevRing(lib, backends(10));
    const count = new Array<number>(10).fill(0);
    for (const i of ring) count[i]++;
    for (const n of count) expect(Math.abs(n / 65537 - 0.1)).toBeLessThan(0.01);
  });
  it.each([10, 50, 100])('removing one of %i backends moves ~1/N of the entries plus < 1%% others', (n) => {
    const be = backends(n);
    const before = maglevRing(lib, be);
    const gone = Math.floor(n / 3);
    const after = maglevRing(lib, be.filter((b) => b.id !== gone));
    const afterId = (i: number) => be.filter((b) => b.id !== gone)[i].id;
    let owned = 0, moved = 0;
    for (let s = 0; s < 65537; s++) {
      if (be[before[s]].id === gone) owned++;
      else if (afterId(after[s]) !== be[before[s]].id) moved++;
    }
    expect(Math.abs(owned / 65537 - 1 / n)).toBeLessThan(0.01 / n + 0.001);
    expect(moved / 65537).toBeLessThan(0.01);
  });
});

describe('tables changing under traffic', () => {
  it('a C thread classifies while JS swaps tables A/B: every verdict is A or B, one snapshot per batch', () => {
    // A and B differ on every kind: vmA moves port, vmB moves VTEP, the VIP changes backends.
    const build = (which: 'a' | 'b') => {
      const b = fp.builder().port(1, NET)
        .vtep({ id: 7, ip: ipv4('192.168.0.2'), nextHopMac: nh, encap: Encap.Vxlan })
        .vtep({ id: 8, ip: ipv4('192.168.0.3'), nextHopMac: nh, encap: Encap.Geneve })
        .localMac(NET, vmA, which === 'a' ? 1 : 2)
        .remoteMac(NET, vmB, which === 'a' ? 7 : 8, VNI)
        .vip({ network: NET, proto: 17, addr: mapped(VIP), port: 53, backends: which === 'a' ? backends(3) : backends(5, 100) });
      for (let i = 0; i < 2000; i++) b.localMac(NET, mac(`02:10:00:00:${(i >> 8).toString(16)}:${(i & 255).toString(16)}`), which === 'a' ? 1 : 2);
      return b;
    };
    const frames: Buffer[] = [];
    for (let i = 0; i < 256; i++) {
      const k = i % 4;
      frames.push(k === 0 ? udp4(vmA) : k === 1 ? udp4(vmB) : k === 2 ? udp4(vmA, VIP, 53).fill(i, 34, 36) : udp4(mac('02:aa:00:00:00:01')));
    }
    // Bytes 34..35 are the UDP source port (Ethernet 14 + IPv4 20): many VIP connections.
    const batch = FrameBatch.of(frames);
    const ctx = fp.classifier(0);
    const a = build('a'), b = build('b');
    fp.commit(a);
    ctx.classify(1, batch);
    const expA = Buffer.from(batch.verdictBuf);
    fp.commit(b);
    ctx.classify(1, batch);
    const expB = Buffer.from(batch.verdictBuf);
    expect(expA.equals(expB)).toBe(false);

    const s = lib.stressStart(fp.handle, 1, batch.buf, batch.offs, batch.lens, frames.length, expA, expB);
    expect(s).not.toBeNull();
    const mine = FrameBatch.of(frames);
    let jsBad = 0;
    const t0 = Date.now();
    let commits = 0;
    while (Date.now() - t0 < 1500) {
      fp.commit(commits++ % 2 === 0 ? a : b);
      ctx.classify(1, mine);
      const got = mine.verdictBuf;
      if (!got.equals(expA) && !got.equals(expB)) jsBad++;
    }
    const out = new BigUint64Array(6);
    lib.stressStop(s!, out);
    const [batches, , mismatches, mixed, aBatches, bBatches] = out;
    console.log(`stress: ${commits} commits, ${batches} C batches (A ${aBatches}, B ${bBatches}), mismatches ${mismatches}, mixed ${mixed}`);
    expect(mismatches).toBe(0n);
    expect(mixed).toBe(0n);
    expect(jsBad).toBe(0);
    expect(commits).toBeGreaterThan(20);
    expect(batches).toBeGreaterThan(100n);
    expect(aBatches).toBeGreaterThan(0n);
    expect(bBatches).toBeGreaterThan(0n);
    a.free();
    b.free();
    ctx.free();
  });
});

describe('forward: acting on verdicts in place', () => {
  const LOCAL_IP = ipv4('192.168.0.1'), LOCAL_MAC = mac('0a:00:00:00:00:01');
  let c: Classifier;
  beforeAll(() => {
    const b = baseTables([{ id: 42, addr: mapped(ipv4('10.1.0.42')), port: 8053, weight: 1 }]).localVtep(LOCAL_IP, LOCAL_MAC);
    b.vip({ network: NET, proto: 6, addr: mapped(VIP), port: 80, backends: [{ id: 43, addr: mapped(ipv4('10.1.0.43')), port: 8080, weight: 1 }] });
    fp.commit(b);
    b.free();
    c = fp.classifier(1024);
  });
  afterAll(() => c.free());

  it.each([[vmB, 7, Encap.Vxlan, VNI], [vmC, 8, Encap.Geneve, VNI + 1]] as const)(
    'encapsulates into the headroom, byte-exact (%#)', (dst, vtep, type, vni) => {
      const inner = udp4(dst);
      const batch = FrameBatch.withHeadroom([inner]);
      expect(c.forward(1, batch)).toBe(1);
      const expected = referenceEncap({
        type, ttl: 64, srcPort: 0xc000 | (lib.flowHash(inner, inner.length) & 0x3fff), vni,
        srcIp: LOCAL_IP, dstIp: vtep === 7 ? ipv4('192.168.0.2') : ipv4('192.168.0.3'), srcMac: LOCAL_MAC, dstMac: nh, ipId: 0,
      }, inner);
      expect(batch.frame(0).toString('hex')).toBe(expected.toString('hex'));
    });
  it('decapsulates to the inner frame (outer padding dropped)', () => {
    const inner = udp4(vmA);
    const outer = referenceEncap({ type: Encap.Geneve, ttl: 64, srcPort: 50000, vni: VNI, srcIp: 1, dstIp: LOCAL_IP, srcMac: nh, dstMac: LOCAL_MAC, ipId: 0 }, inner);
    const batch = FrameBatch.withHeadroom([Buffer.concat([outer, Buffer.alloc(6)])]);
    expect(c.forward(3, batch)).toBe(1);
    expect(batch.frame(0).toString('hex')).toBe(inner.toString('hex'));
  });
  it.each([17, 6])('rewrites toward the VIP backend with correct checksums (proto %i)', (proto) => {
    const cli = ipv4('10.0.0.9');
    const seg = (dst: number, dport: number) => withL4Checksum(cli, dst, proto,
      proto === 17 ? udp(40000, dport, Buffer.from('query')) : tcp(40000, dport));
    const vport = proto === 17 ? 53 : 80, be = proto === 17 ? ipv4('10.1.0.42') : ipv4('10.1.0.43');
    const bport = proto === 17 ? 8053 : 8080;
    const batch = FrameBatch.withHeadroom([eth(vmA, src, 0x0800, ipv4Packet(cli, VIP, proto, seg(VIP, vport)))]);
    expect(c.forward(1, batch)).toBe(1);
    expect(batch.verdict(0)).toMatchObject({ kind: VerdictKind.Vip, l4port: bport });
    const expected = eth(vmA, src, 0x0800, ipv4Packet(cli, be, proto, seg(be, bport)));
    expect(batch.frame(0).toString('hex')).toBe(expected.toString('hex'));
  });
  it('without headroom an encap frame is dropped to the slow path and counted', () => {
    const before = c.ifaceCounters(1).drops;
    const batch = FrameBatch.of([udp4(vmB)]);
    expect(c.forward(1, batch)).toBe(0);
    expect(batch.verdict(0)).toMatchObject({ kind: VerdictKind.Slow, reason: SlowReason.NoHeadroom });
    expect(c.ifaceCounters(1).drops - before).toBe(1n);
  });
});

describe('connection affinity (LRU)', () => {
  it('connections keep their backend when one is added, and leave one that is removed', () => {
    const conns = FrameBatch.of(Array.from({ length: 512 }, (_, i) => eth(vmA, src, 0x0800,
      ipv4Packet(ipv4('10.0.0.9') + (i >> 8), VIP, 17, udp(20000 + i, 53)))));
    const commitWith = (be: BackendSpec[]) => {
      const b = baseTables(be);
      fp.commit(b);
      b.free();
    };
    const ids = (c: Classifier) => {
      c.classify(1, conns);
      return Array.from({ length: conns.count }, (_, i) => conns.port(i));
    };
    const sticky = fp.classifier(4096), fresh = fp.classifier(0);
    try {
      commitWith(backends(4));
      const first = ids(sticky);
      commitWith(backends(5));
      expect(ids(sticky)).toEqual(first); // affinity: nobody moved
      const moved = ids(fresh).filter((id, i) => id !== first[i]).length;
      expect(moved).toBeGreaterThan(0); // without the LRU, Maglev moves ~1/5 to the new one
      commitWith(backends(5).filter((b) => b.id !== 1));
      const after = ids(sticky);
      first.forEach((id, i) => (id === 1 ? expect(after[i]).not.toBe(1) : expect(after[i]).toBe(id)));
      expect(sticky.counters().lruHit).toBeGreaterThan(0n);
    } finally {
      sticky.free();
      fresh.free();
    }
  });
});
