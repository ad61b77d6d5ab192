/**
 * The classifier works on a batch in stages (native/src/classify.c): it parses and hashes
 * every frame and prefetches the table slots first, and decides afterwards. A batch must
 * decide exactly as the same frames one call each. Two classifiers on one snapshot are fed
 * the same frames in the same order (so their LRUs evolve alike), one as batches, one frame
 * per call, and compared frame by frame: verdicts, forwarded bytes, and counters. The mix
 * has hits, misses, VIPs (the same connections several times in one batch, a conntrack
 * VIP's SYN then its later packets and the backend's replies), broadcast, ARP, malformed,
 * IPv6, VLAN and underlay frames, in batches longer than one stage and not a multiple of it.
 */
import { FastPath, FrameBatch, openFastPath, type Classifier } from './fastpath';
import { arp, eth, ipv4, ipv4Packet, ipv6Packet, mac, mapped, referenceEncap, tcp, udp } from './reference';
import { Encap, PORT_UNDERLAY, SlowReason, VerdictKind, VIP_CLIENT_IP, VIP_CONNTRACK, type Verdict } from './types';

const opened = openFastPath((m) => console.warn(m));
if (!opened.fastPath) throw new Error(`libvnetfp must build for the tests: ${JSON.stringify(opened.status)}`);
const fp: FastPath = opened.fastPath;

const NET = 100, VNI = 5000;
const local = mac('02:00:00:00:00:01'), local2 = mac('02:00:00:00:00:04');
const remoteVx = mac('02:00:00:00:00:02'), remoteGe = mac('02:00:00:00:00:03');
const lostVtep = mac('02:00:00:00:00:05'); // a remote MAC whose VTEP is not in the tables
const client = mac('02:00:00:00:00:09'), nh = mac('02:00:00:00:00:fe');
const LOCAL_IP = ipv4('192.168.0.1'), LOCAL_MAC = mac('02:00:00:00:00:fd');
const VIP = ipv4('10.96.0.1'), CT_VIP = ipv4('10.96.0.2');
const CLIENT_IP = ipv4('10.0.0.9');
const backend = (i: number) => ipv4('10.1.0.0') + i;

function tables() {
  const b = fp.builder()
    .localVtep(LOCAL_IP, LOCAL_MAC)
    .port(1, NET).port(2, NET).port(3, 0, PORT_UNDERLAY)
    .vni(VNI, NET)
    .vtep({ id: 7, ip: ipv4('192.168.0.2'), nextHopMac: nh, encap: Encap.Vxlan })
    .vtep({ id: 8, ip: ipv4('192.168.0.3'), nextHopMac: nh, encap: Encap.Geneve })
    .localMac(NET, local, 1)
    .localMac(NET, local2, 2)
    .remoteMac(NET, remoteVx, 7, VNI)
    .remoteMac(NET, remoteGe, 8, VNI + 1)
    .remoteMac(NET, lostVtep, 99, VNI);
  b.vip({ network: NET, proto: 17, addr: mapped(VIP), port: 53, backends: [0, 1, 2, 3].map((i) => ({ id: i, addr: mapped(backend(i)), port: 8053, weight: 1 + i })) });
  b.vip({ network: NET, proto: 6, addr: mapped(VIP), port: 80, flags: VIP_CLIENT_IP, backends: [4, 5].map((i) => ({ id: i, addr: mapped(backend(i)), port: 8080, weight: 1 })) });
  b.vip({ network: NET, proto: 17, addr: mapped(VIP), port: 54, backends: [] }); // known, no backend
  // Conntrack VIP: backends reached by L2 (one local MAC, one behind a VTEP).
  b.vip({
    network: NET, proto: 6, addr: mapped(CT_VIP), port: 443, flags: VIP_CONNTRACK, backends: [
      { id: 20, addr: mapped(backend(20)), port: 8443, weight: 1, mac: local2 },
      { id: 21, addr: mapped(backend(21)), port: 8443, weight: 1, mac: remoteVx },
    ],
  });
  return b;
}

const udp4 = (dst: Uint8Array, dIp: number, dport: number, sport = 40000, sIp = CLIENT_IP) =>
  eth(dst, client, 0x0800, ipv4Packet(sIp, dIp, 17, udp(sport, dport, Buffer.from('payload'))));
const tcp4 = (dst: Uint8Array, dIp: number, dport: number, sport: number, flags: number, src = client, sIp = CLIENT_IP) =>
  eth(dst, src, 0x0800, ipv4Packet(sIp, dIp, 6, tcp(sport, dport, flags)));

/** [in_port, frame, what one call alone decides (checked, so the reference is not vacuous)]. */
type Case = [number, Buffer, Partial<Verdict>];
function cases(): Case[] {
  const s6 = Buffer.from('fd000000000000000000000000000001', 'hex'), d6 = Buffer.from('fd000000000000000000000000000002', 'hex');
  const badSum = udp4(local, ipv4('10.0.0.5'), 1000);
  badSum[24] ^= 0xff;
  const inner = udp4(local, ipv4('10.0.0.5'), 1000);
  const outer = (vni: number) => referenceEncap({ type: Encap.Vxlan, ttl: 64, srcPort: 50000, vni, srcIp: ipv4('192.168.0.2'), dstIp: LOCAL_IP, srcMac: nh, dstMac: LOCAL_MAC, ipId: 0 }, inner);
  const out: Case[] = [
    [1, udp4(local, ipv4('10.0.0.5'), 1000), { kind: VerdictKind.Local, port: 1 }],
    [1, udp4(local2, ipv4('10.0.0.6'), 1000), { kind: VerdictKind.Local, port: 2 }],
    [1, udp4(remoteVx, ipv4('10.0.0.7'), 1000), { kind: VerdictKind.Encap, port: 7, vni: VNI, encap: Encap.Vxlan }],
    [2, tcp4(remoteGe, ipv4('10.0.0.8'), 22, 5555, 0x10), { kind: VerdictKind.Encap, port: 8, vni: VNI + 1, encap: Encap.Geneve }],
    [1, udp4(lostVtep, ipv4('10.0.0.7'), 1000), { kind: VerdictKind.Slow, reason: SlowReason.MacMiss }],
    [1, udp4(mac('02:aa:00:00:00:01'), ipv4('10.0.0.5'), 1000), { kind: VerdictKind.Slow, reason: SlowReason.MacMiss }],
    [9, udp4(local, ipv4('10.0.0.5'), 1000), { kind: VerdictKind.Slow, reason: SlowReason.PortMiss }],
    [1, udp4(mac('ff:ff:ff:ff:ff:ff'), ipv4('10.0.0.5'), 1000), { kind: VerdictKind.Slow, reason: SlowReason.Broadcast }],
    [1, eth(local, client, 0x0806, arp()), { kind: VerdictKind.Slow, reason: SlowReason.Arp }],
    // Sound addresses, bad IPv4 checksum or UDP length: switched by MAC, as OVS switches them.
    [1, badSum, { kind: VerdictKind.Local, port: 1 }],
    [1, eth(local, client, 0x0800, ipv4Packet(CLIENT_IP, ipv4('10.0.0.5'), 17, Buffer.from([0, 1, 0, 2, 0, 4, 0, 0]))), { kind: VerdictKind.Local, port: 1 }],
    [1, udp4(local, ipv4('10.0.0.5'), 1000).subarray(0, 30), { kind: VerdictKind.Slow, reason: SlowReason.Malformed }],
    [1, eth(local, client, 0x0800, ipv4Packet(CLIENT_IP, VIP, 17, udp(1, 53)), [5]), { kind: VerdictKind.Vip }],
    [1, eth(local, client, 0x86dd, ipv6Packet(s6, d6, 17, udp(1, 2))), { kind: VerdictKind.Local, port: 1 }],
    [1, eth(local, client, 0x0800, ipv4Packet(CLIENT_IP, VIP, 17, udp(1, 53), { frag: 0x2000 })), { kind: VerdictKind.Slow, reason: SlowReason.VipFragment }],
    // A later fragment has no ports: it cannot match a VIP and goes by MAC.
    [1, eth(local, client, 0x0800, ipv4Packet(CLIENT_IP, VIP, 17, udp(1, 53), { frag: 0x0004 })), { kind: VerdictKind.Local, port: 1 }],
    [1, udp4(local, VIP, 54), { kind: VerdictKind.Slow, reason: SlowReason.VipEmpty }],
    [1, udp4(remoteVx, VIP, 55), { kind: VerdictKind.Encap, port: 7 }], // VIP address, other port: by MAC
    [3, outer(VNI), { kind: VerdictKind.Local, port: 1, vni: VNI }],
    [3, outer(VNI + 9), { kind: VerdictKind.Slow, reason: SlowReason.VniMiss }],
  ];
  // VIP connections, each several times (the LRU's first entry, then hits).
  for (let c = 0; c < 12; c++) out.push([1, udp4(local, VIP, 53, 41000 + c, CLIENT_IP + (c % 3)), { kind: VerdictKind.Vip, l4port: 8053 }]);
  for (let c = 0; c < 4; c++) out.push([1, tcp4(local, VIP, 80, 42000 + c, 0x10), { kind: VerdictKind.Vip, l4port: 8080 }]);
  return out;
}

/** Conntrack connections in frame order: SYN, then ACKs (ours only after the SYN). */
function conntrackFrames(): Array<[number, Buffer]> {
  const out: Array<[number, Buffer]> = [];
  for (let c = 0; c < 6; c++) {
    out.push([1, tcp4(local, CT_VIP, 443, 43000 + c, 0x02)]);
    out.push([1, tcp4(local, CT_VIP, 443, 43000 + c, 0x10)]);
  }
  out.push([1, tcp4(local, CT_VIP, 443, 44000, 0x10)]); // never saw its SYN: OVS's
  return out;
}

function rng(seed: number) {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

/** The mix: the cases many times in a seeded order, conntrack frames kept in their order. */
function mix(seed: number): Array<[number, Buffer]> {
  const r = rng(seed), base = cases(), ct = conntrackFrames();
  const out: Array<[number, Buffer]> = [];
  let ci = 0;
  for (let k = 0; k < 150; k++) {
    if (ci < ct.length && r() < 0.15) out.push(ct[ci++]!);
    let [port, f] = base[Math.floor(r() * base.length)]!;
    // Mostly port 1, so that runs on one port make batches longer than a stage.
    while (port !== 1 && r() < 0.8) [port, f] = base[Math.floor(r() * base.length)]!;
    out.push([port, f]);
  }
  while (ci < ct.length) out.push(ct[ci++]!);
  return out;
}

/** Runs of consecutive frames with the same in_port: one classify call per run (a batch is per port). */
function runs(frames: Array<[number, Buffer]>): Array<{ port: number; frames: Buffer[] }> {
  const out: Array<{ port: number; frames: Buffer[] }> = [];
  for (const [port, f] of frames) {
    const last = out[out.length - 1];
    if (last && last.port === port && last.frames.length < 100) last.frames.push(f);
    else out.push({ port, frames: [f] });
  }
  return out;
}

function classifyOne(c: Classifier, inPort: number, frame: Uint8Array): Verdict {
  const b = FrameBatch.of([frame]);
  c.classify(inPort, b);
  return b.verdict(0);
}

function forwardOne(c: Classifier, inPort: number, frame: Uint8Array): { v: Verdict; out: string } {
  const b = FrameBatch.withHeadroom([frame]);
  c.forward(inPort, b);
  return { v: b.verdict(0), out: b.frame(0).toString('hex') };
}

const withoutBatches = (c: Classifier) => ({ ...c.counters(), batches: 0n });

describe('a batch decides as its frames one by one', () => {
  let batched: Classifier, single: Classifier;
  beforeAll(() => {
    const b = tables();
    fp.commit(b);
    b.free();
  });
  beforeEach(() => {
    batched = fp.classifier(1024);
    single = fp.classifier(1024);
  });
  afterEach(() => {
    batched.free();
    single.free();
  });

  it('one call per frame decides each case as expected (the reference)', () => {
    for (const [port, f, want] of cases()) expect(classifyOne(single, port, f)).toMatchObject(want);
  });

  it.each([1, 2, 3])('classify: mixed batches (seed %i), verdicts and counters', (seed) => {
    const frames = mix(seed);
    let at = 0, long = 0;
    for (const run of runs(frames)) {
      const b = FrameBatch.of(run.frames);
      batched.classify(run.port, b);
      if (run.frames.length > 32) long++;
      run.frames.forEach((f, i) => {
        const want = classifyOne(single, run.port, f);
        expect({ frame: at + i, v: b.verdict(i) }).toEqual({ frame: at + i, v: want });
      });
      at += run.frames.length;
    }
    expect(long).toBeGreaterThan(0); // batches longer than one stage were compared
    const c = withoutBatches(batched);
    expect(c).toEqual(withoutBatches(single));
    expect(c.lruHit).toBeGreaterThan(0n);
    expect(c.connNew).toBe(6n);
  });

  it('forward: same verdicts and the same bytes on the wire (encap, VIP rewrite, DNAT, reverse NAT, decap)', () => {
    const frames = mix(7);
    // Backend replies of the conntrack connections come back after their SYNs.
    for (let c = 0; c < 6; c++) frames.push([2, tcp4(client, CLIENT_IP, 43000 + c, 8443, 0x12, local2, backend(20))]);
    let at = 0;
    for (const run of runs(frames)) {
      const b = FrameBatch.withHeadroom(run.frames);
      batched.forward(run.port, b);
      run.frames.forEach((f, i) => {
        const want = forwardOne(single, run.port, f);
        expect({ frame: at + i, v: b.verdict(i), out: b.frame(i).toString('hex') }).toEqual({ frame: at + i, ...want });
      });
      at += run.frames.length;
    }
    expect(withoutBatches(batched)).toEqual(withoutBatches(single));
  });
});
