/**
 * Conntrack VIPs in the C classifier (native/src/conn.c): connections taken only from their
 * SYN, DNAT toward the backend (MAC, IP, port) and L2 delivery, the backend's replies
 * rewritten back to the VIP (locally and after decapsulation), OVS's semantics for
 * unhealthy (weight 0) and removed backends, and ClientIP affinity. Frames are checked
 * byte for byte against frames built independently (reference.ts), checksums included.
 */
import { FastPath, FrameBatch, PORT_VIA_UNDERLAY, openFastPath, type Classifier } from './fastpath';
import { checksum, eth, ipv4, ipv4Packet, mac, mapped, referenceEncap, tcp, udp, withL4Checksum } from './reference';
import { Encap, LB_SLOTS, LB_SLOTS_MAX, NO_BACKEND, PORT_CONNTRACK, PORT_UNDERLAY, SlowReason, VIP_CLIENT_IP, VIP_CONNTRACK, VerdictKind, type BackendSpec } from './types';

const opened = openFastPath();
if (!opened.fastPath) throw new Error(`libvnetfp must build for the tests: ${JSON.stringify(opened.status)}`);
const fp: FastPath = opened.fastPath;

const NET = 7, VNI = 7;
const CLIENT_PORT = 1, LOCAL_BE_PORT = 2, UNDERLAY = 9;
const cliMac = mac('02:00:00:00:01:01'), lbMac = mac('02:4c:42:00:00:01');
const beMacs = [mac('02:00:00:00:02:01'), mac('02:00:00:00:02:02'), mac('02:00:00:00:02:03')];
const CLI = ipv4('10.40.0.5'), VIP = ipv4('10.40.0.200');
const BE = [ipv4('10.40.0.11'), ipv4('10.40.0.12'), ipv4('10.40.0.13')];
const LOCAL_IP = ipv4('192.168.0.1'), PEER_IP = ipv4('192.168.0.2'), LOCAL_MAC = mac('0a:00:00:00:00:01'), NH = mac('0a:00:00:00:00:02');
const SYN = 0x02, ACK = 0x10, SYNACK = 0x12;

const backend = (i: number, weight = 1): BackendSpec => ({ id: BE[i]!, addr: mapped(BE[i]!), port: 8080, weight, mac: beMacs[i]! });

/** Backend 0 on this node (port 2), 1 and 2 behind the peer VTEP. */
function commit(backends: BackendSpec[], flags = VIP_CONNTRACK, slots?: number[], proto = 6): void {
  commitListeners([{ proto, port: 80, backends, flags, slots }]);
}

/** The same node, with several listeners of the VIP. */
function commitListeners(ls: Array<{ proto: number; port: number; backends: BackendSpec[]; flags?: number; slots?: number[] }>): void {
  const b = fp.builder()
    .localVtep(LOCAL_IP, LOCAL_MAC)
    .port(CLIENT_PORT, NET).port(LOCAL_BE_PORT, NET).port(UNDERLAY, 0, PORT_UNDERLAY)
    .vni(VNI, NET)
    .vtep({ id: 1, ip: PEER_IP, nextHopMac: NH, encap: Encap.Vxlan })
    .localMac(NET, cliMac, CLIENT_PORT).localMac(NET, beMacs[0]!, LOCAL_BE_PORT)
    .remoteMac(NET, beMacs[1]!, 1, VNI).remoteMac(NET, beMacs[2]!, 1, VNI);
  for (const l of ls) b.vip({ network: NET, proto: l.proto, addr: mapped(VIP), port: l.port, backends: l.backends, flags: l.flags ?? VIP_CONNTRACK, ...(l.slots ? { slots: l.slots } : {}) });
  fp.commit(b);
  b.free();
}

const seg = (src: number, dst: number, sport: number, dport: number, flags: number) => withL4Checksum(src, dst, 6, tcp(sport, dport, flags));
/** Client -> VIP:80 from source port sport. */
const toVip = (sport: number, flags: number, src = CLI) => eth(lbMac, cliMac, 0x0800, ipv4Packet(src, VIP, 6, seg(src, VIP, sport, 80, flags)));
/** What the backend must receive. */
const atBackend = (i: number, sport: number, flags: number, src = CLI) => eth(beMacs[i]!, cliMac, 0x0800, ipv4Packet(src, BE[i]!, 6, seg(src, BE[i]!, sport, 8080, flags)));
/** The backend's reply, and what the client must receive (from the VIP). */
const fromBackend = (i: number, dport: number, flags: number) => eth(cliMac, beMacs[i]!, 0x0800, ipv4Packet(BE[i]!, CLI, 6, seg(BE[i]!, CLI, 8080, dport, flags)));
const atClient = (i: number, dport: number, flags: number) => eth(cliMac, beMacs[i]!, 0x0800, ipv4Packet(VIP, CLI, 6, seg(VIP, CLI, 80, dport, flags)));

function forwardOne(c: Classifier, inPort: number, frame: Uint8Array) {
  const b = FrameBatch.withHeadroom([frame]);
  c.forward(inPort, b);
  return { v: b.verdict(0), out: Buffer.from(b.frame(0)) };
}

/** A frame from a backend reaching this node: from its NIC (backend 0) or over the tunnel from the peer VTEP. */
function fromBackendSide(c: Classifier, i: number, frame: Uint8Array) {
  return i === 0 ? forwardOne(c, LOCAL_BE_PORT, frame) : forwardOne(c, UNDERLAY, referenceEncap({ type: Encap.Vxlan, ttl: 64, srcPort: 50000, vni: VNI, srcIp: PEER_IP, dstIp: LOCAL_IP, srcMac: NH, dstMac: LOCAL_MAC, ipId: 0 }, frame));
}

/** The inner frame of an ENCAP result (the outer headers are tested in fastpath.spec.ts). */
const inner = (out: Buffer) => out.subarray(50);
const backendOf = (out: Buffer, kind: VerdictKind) => BE.indexOf((kind === VerdictKind.Encap ? inner(out) : out).readUInt32BE(30));

describe('conntrack VIPs', () => {
  let c: Classifier;
  beforeEach(() => {
    commit([backend(0), backend(1), backend(2)]);
    c = fp.classifier(4096);
  });
  afterEach(() => c.free());

  it('a SYN is rewritten toward its backend (MAC, IP, port, checksums) and delivered by L2; the connection keeps it; the reply comes back from the VIP', () => {
    const seen = new Set<number>();
    for (let sport = 40000; sport < 40060; sport++) {
      const { v, out } = forwardOne(c, CLIENT_PORT, toVip(sport, SYN));
      expect([VerdictKind.Local, VerdictKind.Encap]).toContain(v.kind);
      const i = backendOf(out, v.kind);
      seen.add(i);
      expect(v.l4port).toBe(8080);
      if (i === 0) {
        expect(v).toMatchObject({ kind: VerdictKind.Local, port: LOCAL_BE_PORT });
        expect(out.toString('hex')).toBe(atBackend(0, sport, SYN).toString('hex'));
      } else {
        expect(v).toMatchObject({ kind: VerdictKind.Encap, port: 1, vni: VNI });
        expect(inner(out).toString('hex')).toBe(atBackend(i, sport, SYN).toString('hex'));
      }
      // Later packets of the connection: the same backend.
      const ack = forwardOne(c, CLIENT_PORT, toVip(sport, ACK));
      expect(backendOf(ack.out, ack.v.kind)).toBe(i);
      // The reply, from a local backend (its NIC) or a remote one (decapsulated here).
      const r = fromBackendSide(c, i, fromBackend(i, sport, SYNACK));
      expect(r.v).toMatchObject({ kind: VerdictKind.Local, port: CLIENT_PORT });
      expect(r.out.toString('hex')).toBe(atClient(i, sport, SYNACK).toString('hex'));
    }
    expect(seen).toEqual(new Set([0, 1, 2]));
    // Per (listener, backend): what the load balancer's status adds to OVS's LbDnat counts.
    const per = c.connCounts();
    expect(per.every((x) => x.vip === '10.40.0.200' && x.port === 80 && x.proto === 6)).toBe(true);
    expect(per.reduce((a, x) => a + x.connections, 0)).toBe(60);
    expect(new Set(per.map((x) => x.backend))).toEqual(new Set(['10.40.0.11', '10.40.0.12', '10.40.0.13']));
    const k = c.counters();
    expect(k.connNew).toBe(60n);
    expect(k.natReverse).toBe(60n);
    expect(k.natForward).toBe(120n);
  });

  it('a retransmitted SYN goes to the same backend and is not counted again; a SYN after the connection ended is a new one', () => {
    const first = forwardOne(c, CLIENT_PORT, toVip(44000, SYN));
    const again = forwardOne(c, CLIENT_PORT, toVip(44000, SYN));
    expect(backendOf(again.out, again.v.kind)).toBe(backendOf(first.out, first.v.kind));
    expect(c.counters().connNew).toBe(1n);
    expect(c.connCounts().reduce((n, x) => n + x.connections, 0)).toBe(1);
    // It ends (RST from the client); the 4-tuple's next SYN opens a new connection.
    forwardOne(c, CLIENT_PORT, toVip(44000, 0x04));
    forwardOne(c, CLIENT_PORT, toVip(44000, SYN));
    expect(c.counters().connNew).toBe(2n);
    expect(c.connCounts().reduce((n, x) => n + x.connections, 0)).toBe(2);
  });

  it('a connection not seen from its SYN is not taken (OVS owns it); nor is a reply the fast path did not dispatch', () => {
    expect(forwardOne(c, CLIENT_PORT, toVip(41000, ACK)).v).toMatchObject({ kind: VerdictKind.Slow, reason: SlowReason.VipNotOurs });
    expect(forwardOne(c, CLIENT_PORT, toVip(41000, SYNACK)).v).toMatchObject({ kind: VerdictKind.Slow, reason: SlowReason.VipNotOurs });
    // A reply of an OVS-dispatched connection is switched by MAC, untouched (OVS's filter keeps those anyway).
    forwardOne(c, CLIENT_PORT, toVip(41001, SYN)); // some connection exists, so replies are looked up
    const r = forwardOne(c, LOCAL_BE_PORT, fromBackend(0, 41000, SYNACK));
    expect(r.out.toString('hex')).toBe(fromBackend(0, 41000, SYNACK).toString('hex'));
    expect(c.counters().natReverse).toBe(0n);
  });

  it('with OVS\'s slot table, a SYN goes to the backend of the slot OVS\'s multipath computes (symmetric_l3l4+udp, or nw_src with ClientIP), not by Maglev', () => {
    const ids = BE.map((ip) => ip);
    // Slot s -> backend s % 3: the chosen backend tells which slot the classifier computed.
    const slots = Array.from({ length: LB_SLOTS }, (_, s) => ids[s % 3]!);
    for (const affinity of [0, VIP_CLIENT_IP]) {
      commit([backend(0), backend(1), backend(2)], VIP_CONNTRACK | affinity, slots);
      const cc = fp.classifier(4096);
      try {
        for (let sport = 43000; sport < 43100; sport++) {
          const { v, out } = forwardOne(cc, CLIENT_PORT, toVip(sport, SYN));
          const slot = fp.lib.ovsLbSlot(CLI, VIP, 6, sport, 80, affinity ? 1 : 0, LB_SLOTS);
          expect([sport, backendOf(out, v.kind)]).toEqual([sport, slot % 3]);
        }
      } finally {
        cc.free();
      }
    }
    // Every slot to backend 2: every connection goes there, whatever the ring says.
    commit([backend(0), backend(1), backend(2)], VIP_CONNTRACK, Array.from({ length: LB_SLOTS }, () => ids[2]!));
    for (let sport = 43200; sport < 43230; sport++) expect(backendOf(forwardOne(c, CLIENT_PORT, toVip(sport, SYN)).out, VerdictKind.Encap)).toBe(2);
    // No slot has a backend (none healthy in OVS's table): the SYN is left to OVS, which refuses it.
    commit([backend(0), backend(1), backend(2)], VIP_CONNTRACK, Array.from({ length: LB_SLOTS }, () => NO_BACKEND));
    expect(forwardOne(c, CLIENT_PORT, toVip(43300, SYN)).v).toMatchObject({ kind: VerdictKind.Slow, reason: SlowReason.VipEmpty });
  });

  it("takes OVS's table at any size it has (a VIP with many backends has up to 8192 slots), and no other", () => {
    const ids = BE.map((ip) => ip);
    for (const size of [512, 2048, 8192, 1000]) {
      // Slot s -> backend (s >> 7) % 3: a table read as 256 slots would give another backend.
      commit([backend(0), backend(1), backend(2)], VIP_CONNTRACK, Array.from({ length: size }, (_, s) => ids[(s >> 7) % 3]!));
      const cc = fp.classifier(4096);
      try {
        const seen = new Set<number>();
        for (let sport = 45000; sport < 45200; sport++) {
          const slot = fp.lib.ovsLbSlot(CLI, VIP, 6, sport, 80, 0, size);
          expect(slot).toBeLessThan(size);
          seen.add(slot >> 7);
          const { v, out } = forwardOne(cc, CLIENT_PORT, toVip(sport, SYN));
          expect([size, sport, backendOf(out, v.kind)]).toEqual([size, sport, (slot >> 7) % 3]);
        }
        // The connections spread over the whole table, not its first 256 slots.
        expect(seen.size).toBeGreaterThan(Math.min(size >> 7, 8) - 1);
      } finally {
        cc.free();
      }
    }
    const b = fp.builder();
    try {
      for (const size of [0, LB_SLOTS_MAX + 1]) expect(() => b.vip({ network: 1, proto: 6, addr: mapped(VIP), port: 80, backends: [], flags: VIP_CONNTRACK, slots: new Array(size).fill(NO_BACKEND) })).toThrow(/slot table has 1 to 8192 entries/);
    } finally {
      b.free();
    }
    expect(fp.lib.ovsLbSlot(CLI, VIP, 6, 1, 80, 0, 0)).toBe(NO_BACKEND);
    expect(fp.lib.ovsLbSlot(CLI, VIP, 6, 1, 80, 0, LB_SLOTS_MAX + 1)).toBe(NO_BACKEND);
  });

  it('a connection whose VIP left the tables is dropped with its keys at its next frame, so the ones after reach OVS', () => {
    const { v } = forwardOne(c, CLIENT_PORT, toVip(44000, SYN));
    expect([VerdictKind.Local, VerdictKind.Encap]).toContain(v.kind);
    const evicted = c.counters().connEvict;
    // The load balancer goes (or its VIPs go back to OVS): the VIP is no longer in the tables.
    const b = fp.builder().localVtep(LOCAL_IP, LOCAL_MAC).port(CLIENT_PORT, NET).port(LOCAL_BE_PORT, NET).port(UNDERLAY, 0, PORT_UNDERLAY).vni(VNI, NET)
      .vtep({ id: 1, ip: PEER_IP, nextHopMac: NH, encap: Encap.Vxlan }).localMac(NET, cliMac, CLIENT_PORT).localMac(NET, beMacs[0]!, LOCAL_BE_PORT);
    fp.commit(b);
    b.free();
    expect(forwardOne(c, CLIENT_PORT, toVip(44000, ACK)).v.kind).toBe(VerdictKind.Slow);
    expect(c.counters().connEvict).toBe(evicted + 1n);
    // Back with the VIP: the 4-tuple is nobody's now (its next SYN is dealt afresh, an ACK is OVS's).
    commit([backend(0), backend(1), backend(2)]);
    expect(forwardOne(c, CLIENT_PORT, toVip(44000, ACK)).v).toMatchObject({ kind: VerdictKind.Slow, reason: SlowReason.VipNotOurs });
  });

  it('a connection an earlier process published is taken over: its later packets go to the same backend and its replies come back from the VIP; what cannot be taken over is refused', () => {
    const conn = (i: number, sport: number) => ({ client: CLI, sport, vip: VIP, vport: 80, proto: 6, backend: BE[i]!, bport: 8080 });
    // Before: a mid-stream packet is not this context's (OVS's, as for any connection not seen from its SYN).
    expect(forwardOne(c, CLIENT_PORT, toVip(42000, ACK)).v).toMatchObject({ kind: VerdictKind.Slow, reason: SlowReason.VipNotOurs });
    for (const [i, sport] of [[0, 42000], [1, 42001], [2, 42002]] as const) {
      expect(c.adoptConnection(CLIENT_PORT, conn(i, sport))).toBe(0);
      const { v, out } = forwardOne(c, CLIENT_PORT, toVip(sport, ACK));
      expect(backendOf(out, v.kind)).toBe(i);
      expect((i === 0 ? out : inner(out)).toString('hex')).toBe(atBackend(i, sport, ACK).toString('hex'));
      expect(fromBackendSide(c, i, fromBackend(i, sport, ACK)).out.toString('hex')).toBe(atClient(i, sport, ACK).toString('hex'));
    }
    // A backend that is unhealthy now (weight 0) keeps its established connections, as OVS's do.
    commit([backend(0), backend(1, 0), backend(2)]);
    expect(c.adoptConnection(CLIENT_PORT, conn(1, 42003))).toBe(0);
    expect(backendOf(forwardOne(c, CLIENT_PORT, toVip(42003, ACK)).out, VerdictKind.Encap)).toBe(1);
    expect(c.counters()).toMatchObject({ connAdopted: 4n, connNew: 0n });
    // Refused, and nothing taken: a backend the VIP no longer has, another backend port, a port
    // that is not a fast-path VM port, a VIP that is gone.
    const ENOENT = -2;
    expect(c.adoptConnection(CLIENT_PORT, { ...conn(0, 42010), backend: ipv4('10.40.0.99') })).toBe(ENOENT);
    expect(c.adoptConnection(5, conn(0, 42012))).toBe(ENOENT);
    expect(c.adoptConnection(UNDERLAY, conn(0, 42013))).toBe(ENOENT);
    expect(c.adoptConnection(CLIENT_PORT, { ...conn(0, 42014), vport: 81 })).toBe(ENOENT);
    // Dealt to another port of the backend than its targetPort now (changed since): taken
    // over on the port it was dealt, both ways, as OVS's conntrack keeps it.
    expect(c.adoptConnection(CLIENT_PORT, { ...conn(0, 42011), bport: 9090 })).toBe(0);
    const moved = forwardOne(c, CLIENT_PORT, toVip(42011, ACK));
    expect(moved.v.l4port).toBe(9090);
    const from9090 = eth(cliMac, beMacs[0]!, 0x0800, ipv4Packet(BE[0]!, CLI, 6, seg(BE[0]!, CLI, 9090, 42011, ACK)));
    expect(forwardOne(c, LOCAL_BE_PORT, from9090).out.toString('hex')).toBe(atClient(0, 42011, ACK).toString('hex'));
    // A connection that had ended (its keys say so) is not taken over.
    const ESTALE = -116;
    expect(c.adoptConnection(CLIENT_PORT, { ...conn(0, 42015), closed: true })).toBe(ESTALE);
    for (const sport of [42010, 42012, 42013, 42014, 42015]) {
      expect(forwardOne(c, CLIENT_PORT, toVip(sport, ACK)).v).toMatchObject({ kind: VerdictKind.Slow, reason: SlowReason.VipNotOurs });
    }
    expect(c.counters().connAdopted).toBe(5n);
  });

  it('a backend\'s SYN to its own VIP dealt to itself is left to OVS (which SNATs the hairpin), the whole connection; dealt to another backend it is taken', () => {
    const fromBe0 = (sport: number, flags: number) => eth(lbMac, beMacs[0]!, 0x0800, ipv4Packet(BE[0]!, VIP, 6, seg(BE[0]!, VIP, sport, 80, flags)));
    const kinds = new Map<string, number>();
    for (let sport = 46000; sport < 46090; sport++) {
      const { v, out } = forwardOne(c, LOCAL_BE_PORT, fromBe0(sport, SYN));
      if (v.kind === VerdictKind.Slow) {
        expect(v.reason).toBe(SlowReason.VipHairpin);
        expect(out.toString('hex')).toBe(fromBe0(sport, SYN).toString('hex')); // untouched
        // No entry was left: its later packets are OVS's too.
        expect(forwardOne(c, LOCAL_BE_PORT, fromBe0(sport, ACK)).v).toMatchObject({ kind: VerdictKind.Slow, reason: SlowReason.VipNotOurs });
      } else {
        expect(backendOf(out, v.kind)).not.toBe(0);
      }
      kinds.set(v.kind === VerdictKind.Slow ? 'hairpin' : 'other', (kinds.get(v.kind === VerdictKind.Slow ? 'hairpin' : 'other') ?? 0) + 1);
    }
    // About a third each way round: both happened.
    expect(kinds.get('hairpin')).toBeGreaterThan(10);
    expect(kinds.get('other')).toBeGreaterThan(10);
  });

  it('unhealthy backends (weight 0) keep their connections and get no new ones; a removed backend\'s connections are not re-dispatched', () => {
    const by = new Map<number, number>();
    for (let sport = 42000; sport < 42090; sport++) {
      const { v, out } = forwardOne(c, CLIENT_PORT, toVip(sport, SYN));
      by.set(sport, backendOf(out, v.kind));
    }
    commit([backend(0), backend(1, 0), backend(2)]);
    for (const [sport, i] of by) {
      const ack = forwardOne(c, CLIENT_PORT, toVip(sport, ACK));
      expect(backendOf(ack.out, ack.v.kind)).toBe(i); // established: kept, also on backend 1
    }
    for (let sport = 43000; sport < 43090; sport++) {
      const { v, out } = forwardOne(c, CLIENT_PORT, toVip(sport, SYN));
      expect(backendOf(out, v.kind)).not.toBe(1);
    }
    // A reused 4-tuple whose backend became unhealthy gets a new one on its next SYN, and
    // its old one back when that backend is healthy again (a new connection is dispatched by
    // the ring alone, as OVS dispatches by its slot table alone).
    const onOne = [...by].find(([, i]) => i === 1)![0];
    const again = forwardOne(c, CLIENT_PORT, toVip(onOne, SYN));
    expect(backendOf(again.out, again.v.kind)).not.toBe(1);
    commit([backend(0), backend(1), backend(2)]);
    const back = forwardOne(c, CLIENT_PORT, toVip(onOne, SYN));
    expect(backendOf(back.out, back.v.kind)).toBe(1);
    commit([backend(0), backend(1, 0), backend(2)]);
    // Backend 2 removed: its established connections lose their entries at their next packet,
    // so the packets after it (a retransmission) go to OVS, which deals them anew and the new
    // backend resets them. Kept, they stayed here and every retransmission was lost (QA-88):
    // with backend 2 back, they would have gone on to it.
    commit([backend(0), backend(1, 0)]);
    const onTwo = [...by].filter(([, i]) => i === 2).map(([s]) => s);
    expect(onTwo.length).toBeGreaterThan(0);
    for (const sport of onTwo) expect(forwardOne(c, CLIENT_PORT, toVip(sport, ACK)).v).toMatchObject({ kind: VerdictKind.Slow, reason: SlowReason.VipNotOurs });
    commit([backend(0), backend(1, 0), backend(2)]);
    for (const sport of onTwo) expect(forwardOne(c, CLIENT_PORT, toVip(sport, ACK)).v).toMatchObject({ kind: VerdictKind.Slow, reason: SlowReason.VipNotOurs });
  });

  it('a connection seen to end (FIN both ways, or a RST) is counted closed, its last packets still pass, and its room goes before a live connection\'s, however long idle', () => {
    const FIN = 0x01, RST = 0x04;
    const small = fp.classifier(4); // one set of 4 ways: two connections fill it, whatever their hashes
    try {
      const reply = (i: number, sport: number, flags: number) => fromBackendSide(small, i, fromBackend(i, sport, flags));
      const open = (sport: number) => {
        const { v, out } = forwardOne(small, CLIENT_PORT, toVip(sport, SYN));
        return backendOf(out, v.kind);
      };
      // An idle live connection, then 40 short ones, each closed in the usual four steps.
      const idle = open(46000);
      for (let sport = 46001; sport <= 46040; sport++) {
        const i = open(sport);
        forwardOne(small, CLIENT_PORT, toVip(sport, FIN | ACK));
        reply(i, sport, FIN | ACK);
        // The last ACK still finds the connection: rewritten toward its backend.
        const last = forwardOne(small, CLIENT_PORT, toVip(sport, ACK));
        expect(backendOf(last.out, last.v.kind)).toBe(i);
      }
      expect(small.counters()).toMatchObject({ connNew: 41n, connClosed: 40n, connEvict: 0n });
      // Before, the idle connection was the oldest in its set and went first: cut (its next
      // packet to OVS, which never saw it).
      const later = forwardOne(small, CLIENT_PORT, toVip(46000, ACK));
      expect(later.v.kind).not.toBe(VerdictKind.Slow);
      expect(backendOf(later.out, later.v.kind)).toBe(idle);
      // A RST from either side ends a connection at once.
      const i = open(46100);
      reply(i, 46100, RST);
      expect(small.counters().connClosed).toBe(41n);
      // A 4-tuple used again after its end is a new connection, dealt afresh and live.
      open(46001);
      expect(small.counters()).toMatchObject({ connNew: 43n, connClosed: 41n, connEvict: 0n });
    } finally {
      small.free();
    }
  });

  it('an end the packets after it deny is undone: a RST answered by anything but a RST, data after the FINs; a reused 4-tuple counts its own end', () => {
    const FIN = 0x01, RST = 0x04;
    const open = (cc: Classifier, sport: number) => forwardOne(cc, CLIENT_PORT, toVip(sport, SYN)).v;
    const small = fp.classifier(4); // one set of 4 ways
    try {
      // A forged RST toward the backend: the backend's answer (a challenge ACK) makes the
      // connection live again, so 40 closed ones after it do not take its room.
      commit([backend(0)]);
      open(small, 47000);
      forwardOne(small, CLIENT_PORT, toVip(47000, RST));
      expect(small.counters().connClosed).toBe(1n);
      forwardOne(small, LOCAL_BE_PORT, fromBackend(0, 47000, ACK));
      for (let sport = 47001; sport <= 47040; sport++) {
        open(small, sport);
        forwardOne(small, CLIENT_PORT, toVip(sport, FIN | ACK));
        forwardOne(small, LOCAL_BE_PORT, fromBackend(0, sport, FIN | ACK));
      }
      const later = forwardOne(small, CLIENT_PORT, toVip(47000, ACK));
      expect(later.v).toMatchObject({ kind: VerdictKind.Local, port: LOCAL_BE_PORT });
      expect(small.counters()).toMatchObject({ connClosed: 41n, connEvict: 0n });
    } finally {
      small.free();
    }
    // A 4-tuple opened again right after its end: a FIN of one side alone does not end it.
    open(c, 47100);
    forwardOne(c, CLIENT_PORT, toVip(47100, FIN | ACK));
    forwardOne(c, LOCAL_BE_PORT, fromBackend(0, 47100, FIN | ACK));
    expect(c.counters().connClosed).toBe(1n);
    open(c, 47100);
    forwardOne(c, CLIENT_PORT, toVip(47100, FIN | ACK));
    expect(c.counters().connClosed).toBe(1n);
    forwardOne(c, LOCAL_BE_PORT, fromBackend(0, 47100, FIN | ACK));
    expect(c.counters().connClosed).toBe(2n);
  });

  it('a targetPort change keeps an established connection on the port it was dealt (as OVS\'s conntrack does); new connections get the new port', () => {
    commit([backend(0)]);
    forwardOne(c, CLIENT_PORT, toVip(48000, SYN));
    commit([{ ...backend(0), port: 9090 }]);
    const ack = forwardOne(c, CLIENT_PORT, toVip(48000, ACK));
    expect(ack.v.l4port).toBe(8080);
    expect(ack.out.toString('hex')).toBe(atBackend(0, 48000, ACK).toString('hex'));
    const reply = forwardOne(c, LOCAL_BE_PORT, fromBackend(0, 48000, ACK));
    expect(reply.out.toString('hex')).toBe(atClient(0, 48000, ACK).toString('hex'));
    expect(forwardOne(c, CLIENT_PORT, toVip(48001, SYN)).v.l4port).toBe(9090);
  });

  it('a connection whose replies would share another connection\'s reverse key (one client port to two listeners of one backend port) is refused, and the first keeps its replies', () => {
    commitListeners([{ proto: 6, port: 80, backends: [backend(0)] }, { proto: 6, port: 81, backends: [backend(0)] }]);
    forwardOne(c, CLIENT_PORT, toVip(49000, SYN));
    const to81 = (sport: number, flags: number) => eth(lbMac, cliMac, 0x0800, ipv4Packet(CLI, VIP, 6, seg(CLI, VIP, sport, 81, flags)));
    const second = forwardOne(c, CLIENT_PORT, to81(49000, SYN));
    expect(second.v.kind).toBe(VerdictKind.Slow);
    const reply = forwardOne(c, LOCAL_BE_PORT, fromBackend(0, 49000, SYNACK));
    expect(reply.out.toString('hex')).toBe(atClient(0, 49000, SYNACK).toString('hex'));
    // Once the first has ended, its key is given up: the second is taken, its replies from VIP:81.
    forwardOne(c, CLIENT_PORT, toVip(49000, 0x01 | ACK));
    forwardOne(c, LOCAL_BE_PORT, fromBackend(0, 49000, 0x01 | ACK));
    expect(forwardOne(c, CLIENT_PORT, to81(49000, SYN)).v.kind).toBe(VerdictKind.Local);
    const reply81 = forwardOne(c, LOCAL_BE_PORT, fromBackend(0, 49000, SYNACK));
    expect(reply81.out.toString('hex')).toBe(eth(cliMac, beMacs[0]!, 0x0800, ipv4Packet(VIP, CLI, 6, seg(VIP, CLI, 81, 49000, SYNACK))).toString('hex'));
  });

  it('data after both FINs (a retransmission) does not bring a closed connection back; an end is counted once, however often a RST\'s connection comes back', () => {
    const FIN = 0x01, RST = 0x04;
    commit([backend(0)]);
    const withData = (sport: number) => {
      const s = Buffer.concat([tcp(sport, 80, ACK), Buffer.from('late data')]);
      return eth(lbMac, cliMac, 0x0800, ipv4Packet(CLI, VIP, 6, withL4Checksum(CLI, VIP, 6, s)));
    };
    const small = fp.classifier(4); // one set of 4 ways
    try {
      forwardOne(small, CLIENT_PORT, toVip(50000, SYN)); // the idle live one, oldest
      forwardOne(small, CLIENT_PORT, toVip(50001, SYN));
      forwardOne(small, CLIENT_PORT, toVip(50001, FIN | ACK));
      forwardOne(small, LOCAL_BE_PORT, fromBackend(0, 50001, FIN | ACK));
      expect(forwardOne(small, CLIENT_PORT, withData(50001)).v.kind).toBe(VerdictKind.Local); // still passes
      // A new connection needs two ways: the closed one's go, not the idle one's.
      forwardOne(small, CLIENT_PORT, toVip(50002, SYN));
      expect(forwardOne(small, CLIENT_PORT, toVip(50000, ACK)).v).toMatchObject({ kind: VerdictKind.Local, port: LOCAL_BE_PORT });
      expect(small.counters()).toMatchObject({ connClosed: 1n, connEvict: 0n });
      // A RST; a packet already in flight brings the connection back; the answering RST ends it again.
      forwardOne(small, CLIENT_PORT, toVip(50002, RST));
      forwardOne(small, LOCAL_BE_PORT, fromBackend(0, 50002, ACK));
      forwardOne(small, LOCAL_BE_PORT, fromBackend(0, 50002, RST));
      expect(small.counters().connClosed).toBe(2n);
    } finally {
      small.free();
    }
  });

  it('ClientIP affinity: every connection of a client to one backend, clients spread', () => {
    commit([backend(0), backend(1), backend(2)], VIP_CONNTRACK | VIP_CLIENT_IP);
    const perClient = new Map<number, Set<number>>();
    for (let k = 0; k < 24; k++) {
      const src = CLI + k;
      for (let sport = 44000; sport < 44010; sport++) {
        const f = eth(lbMac, cliMac, 0x0800, ipv4Packet(src, VIP, 6, seg(src, VIP, sport, 80, SYN)));
        const { v, out } = forwardOne(c, CLIENT_PORT, f);
        const s = perClient.get(src) ?? new Set<number>();
        s.add(backendOf(out, v.kind));
        perClient.set(src, s);
      }
    }
    for (const s of perClient.values()) expect(s.size).toBe(1);
    expect(new Set([...perClient.values()].map((s) => [...s][0])).size).toBeGreaterThan(1);
  });

  it('a backend the tables cannot reach leaves the SYN to the slow path', () => {
    commit([{ ...backend(0), mac: mac('02:00:00:00:09:09') }]);
    expect(forwardOne(c, CLIENT_PORT, toVip(45000, SYN)).v).toMatchObject({ kind: VerdictKind.Slow, reason: SlowReason.MacMiss });
    expect(forwardOne(c, CLIENT_PORT, toVip(45000, ACK)).v).toMatchObject({ kind: VerdictKind.Slow, reason: SlowReason.VipNotOurs });
  });
});

describe('conntrack VIPs over UDP', () => {
  let c: Classifier;
  const ids = BE.map((ip) => ip);
  /** OVS's table as the pipeline would deal it to backends 0-2 (slot s -> s % 3). */
  const slots = Array.from({ length: LB_SLOTS }, (_, s) => ids[s % 3]!);
  const commitUdp = (backends: BackendSpec[], table = slots) => commit(backends, VIP_CONNTRACK, table, 17);
  beforeEach(() => {
    commitUdp([backend(0), backend(1), backend(2)]);
    c = fp.classifier(4096);
  });
  afterEach(() => c.free());

  const DATA = Buffer.from('query');
  const dgram = (src: number, dst: number, sport: number, dport: number) => withL4Checksum(src, dst, 17, udp(sport, dport, DATA));
  const toVipUdp = (sport: number) => eth(lbMac, cliMac, 0x0800, ipv4Packet(CLI, VIP, 17, dgram(CLI, VIP, sport, 80)));
  const atBackendUdp = (i: number, sport: number) => eth(beMacs[i]!, cliMac, 0x0800, ipv4Packet(CLI, BE[i]!, 17, dgram(CLI, BE[i]!, sport, 8080)));
  const fromBackendUdp = (i: number, dport: number) => eth(cliMac, beMacs[i]!, 0x0800, ipv4Packet(BE[i]!, CLI, 17, dgram(BE[i]!, CLI, 8080, dport)));
  const atClientUdp = (i: number, dport: number) => eth(cliMac, beMacs[i]!, 0x0800, ipv4Packet(VIP, CLI, 17, dgram(VIP, CLI, 80, dport)));
  const dealt = (sport: number) => {
    const { v, out } = forwardOne(c, CLIENT_PORT, toVipUdp(sport));
    return { v, out, i: backendOf(out, v.kind) };
  };

  it("a flow's first datagram is dealt by OVS's slot (as multipath computes it), rewritten toward the backend with its checksum; later datagrams keep it; replies come from the VIP", () => {
    for (let sport = 50000; sport < 50060; sport++) {
      const first = dealt(sport);
      expect(first.i).toBe(fp.lib.ovsLbSlot(CLI, VIP, 17, sport, 80, 0, LB_SLOTS) % 3);
      const atBe = (first.v.kind === VerdictKind.Encap ? inner(first.out) : first.out).toString('hex');
      expect(atBe).toBe(atBackendUdp(first.i, sport).toString('hex'));
      expect(dealt(sport).i).toBe(first.i);
      const reply = fromBackendSide(c, first.i, fromBackendUdp(first.i, sport));
      expect(reply.v).toMatchObject({ kind: VerdictKind.Local, port: CLIENT_PORT });
      expect(reply.out.toString('hex')).toBe(atClientUdp(first.i, sport).toString('hex'));
    }
    const k = c.counters();
    // One new flow per source port, not one per datagram.
    expect(k.connNew).toBe(60n);
    expect(k.natForward).toBe(120n);
    expect(k.natReverse).toBe(60n);
    expect(c.connCounts().every((x) => x.proto === 17 && x.port === 80)).toBe(true);
  });

  /** IPv4 fragments of an L4 datagram (payload chunks of `size` bytes, a multiple of 8). */
  const fragments = (src: number, dst: number, datagram: Buffer, id: number, size = 1400): Buffer[] => {
    const out: Buffer[] = [];
    for (let off = 0; off < datagram.length; off += size) {
      const more = off + size < datagram.length ? 0x2000 : 0;
      out.push(ipv4Packet(src, dst, 17, datagram.subarray(off, off + size), { id, frag: more | (off / 8) }));
    }
    return out;
  };
  /** The datagram back from fragments (IP header 20 bytes, after the Ethernet header), by offset. */
  const reassemble = (frames: Buffer[]): Buffer => {
    const parts = frames.map((f) => ({ off: (f.readUInt16BE(20) & 0x1fff) * 8, data: f.subarray(34, 14 + f.readUInt16BE(16)) }));
    return Buffer.concat(parts.sort((a, b) => a.off - b.off).map((p) => p.data));
  };
  /** UDP checksum check over the whole datagram: 0 when right (or when it carries none). */
  const udpSumOf = (src: number, dst: number, d: Buffer): number => {
    if (d.readUInt16BE(6) === 0) return 0;
    const pseudo = Buffer.alloc(12);
    pseudo.writeUInt32BE(src, 0);
    pseudo.writeUInt32BE(dst, 4);
    pseudo[9] = 17;
    pseudo.writeUInt16BE(d.length, 10);
    return checksum(Buffer.concat([pseudo, d, Buffer.alloc(d.length & 1)]));
  };
  const BIG = Buffer.alloc(3000, 0).map((_, k) => (k * 7 + 3) & 0xff);

  it('QA-116 F2: a reply too big for one frame (fragmented) to a flow the fast path dealt comes from the VIP, every fragment (IP checksums, the UDP checksum over the reassembled datagram), locally and over the tunnel', () => {
    const seen = new Set<number>();
    let id = 0x1200;
    for (let sport = 53000; sport < 53012; sport++) {
      const { i } = dealt(sport);
      seen.add(i);
      id++;
      const reply = withL4Checksum(BE[i]!, CLI, 17, udp(8080, sport, BIG));
      const frames = fragments(BE[i]!, CLI, reply, id).map((p) => eth(cliMac, beMacs[i]!, 0x0800, p));
      expect(frames).toHaveLength(3);
      const want = fragments(VIP, CLI, withL4Checksum(VIP, CLI, 17, udp(80, sport, BIG)), id).map((p) => eth(cliMac, beMacs[i]!, 0x0800, p));
      const got = frames.map((f) => fromBackendSide(c, i, f));
      for (const [k, r] of got.entries()) {
        expect(r.v).toMatchObject({ kind: VerdictKind.Local, port: CLIENT_PORT });
        expect(r.out.readUInt32BE(26)).toBe(VIP);
        expect(checksum(r.out.subarray(14, 34))).toBe(0);
        expect(r.out.toString('hex')).toBe(want[k]!.toString('hex'));
      }
      const d = reassemble(got.map((r) => r.out));
      expect(d.readUInt16BE(0)).toBe(80);
      expect(d.subarray(8)).toEqual(BIG);
      expect(udpSumOf(VIP, CLI, d)).toBe(0);
    }
    expect(seen).toEqual(new Set([0, 1, 2]));
    // Each fragment is a reply rewritten.
    expect(c.counters().natReverse).toBe(36n);
  });

  it('QA-116 F2: a fragmented reply without a UDP checksum keeps none; later fragments go as their first went (not a reply of ours, an IP ID reused, or no first seen: as they are)', () => {
    const { i } = dealt(54000);
    const noSum = udp(8080, 54000, BIG);
    const back = (src: number, d: Buffer, id: number) => fragments(src, CLI, d, id).map((p) => eth(cliMac, beMacs[i]!, 0x0800, p));
    const got = back(BE[i]!, noSum, 0x3001).map((f) => fromBackendSide(c, i, f).out);
    expect(got.map((f) => f.readUInt32BE(26))).toEqual([VIP, VIP, VIP]);
    expect(got.map((f) => checksum(f.subarray(14, 34)))).toEqual([0, 0, 0]);
    expect(reassemble(got).toString('hex')).toBe(udp(80, 54000, BIG).toString('hex'));
    // A fragment of the same addresses and IP ID but another protocol (TCP), while the entry lives: as it is.
    const tcpLater = eth(cliMac, beMacs[i]!, 0x0800, ipv4Packet(BE[i]!, CLI, 6, BIG.subarray(0, 800), { id: 0x3001, frag: 175 }));
    expect(fromBackendSide(c, i, tcpLater).out.toString('hex')).toBe(tcpLater.toString('hex'));
    // A datagram of a flow OVS dealt (another port), with the same IP ID: as it is, every fragment.
    const other = back(BE[i]!, withL4Checksum(BE[i]!, CLI, 17, udp(8080, 54001, BIG)), 0x3001);
    for (const f of other) expect(fromBackendSide(c, i, f).out.toString('hex')).toBe(f.toString('hex'));
    // Later fragments whose first was never seen: as they are.
    for (const f of back(BE[i]!, withL4Checksum(BE[i]!, CLI, 17, udp(8080, 54000, BIG)), 0x3002).slice(1)) {
      expect(fromBackendSide(c, i, f).out.toString('hex')).toBe(f.toString('hex'));
    }
  });

  /** A client's datagram to VIP:80 from sport in fragments (as its NIC sends them, to the VIP's MAC), and as backend i must get them. */
  const requestFragments = (sport: number, id: number, i: number, d = BIG) => ({
    frames: fragments(CLI, VIP, withL4Checksum(CLI, VIP, 17, udp(sport, 80, d)), id).map((p) => eth(lbMac, cliMac, 0x0800, p)),
    want: fragments(CLI, BE[i]!, withL4Checksum(CLI, BE[i]!, 17, udp(sport, 8080, d)), id).map((p) => eth(beMacs[i]!, cliMac, 0x0800, p)),
  });

  it('QA-122 F2: a request too big for one frame (fragmented) of a flow the fast path dealt reaches that flow\'s backend, every fragment (destination address and MAC, IP checksums, the UDP checksum over the reassembled datagram), locally and over the tunnel', () => {
    const seen = new Set<number>();
    let id = 0x4200;
    for (let sport = 55000; sport < 55012; sport++) {
      const { i } = dealt(sport);
      seen.add(i);
      const { frames, want } = requestFragments(sport, ++id, i);
      expect(frames).toHaveLength(3);
      const got = frames.map((f) => forwardOne(c, CLIENT_PORT, f));
      for (const [k, r] of got.entries()) {
        if (i === 0) expect(r.v).toMatchObject({ kind: VerdictKind.Local, port: LOCAL_BE_PORT });
        else expect(r.v).toMatchObject({ kind: VerdictKind.Encap, port: 1, vni: VNI });
        const at = i === 0 ? r.out : inner(r.out);
        expect(checksum(at.subarray(14, 34))).toBe(0);
        expect(at.toString('hex')).toBe(want[k]!.toString('hex'));
      }
      const d = reassemble(got.map((r) => (i === 0 ? r.out : inner(r.out))));
      expect(d.readUInt16BE(2)).toBe(8080);
      expect(d.subarray(8)).toEqual(BIG);
      expect(udpSumOf(CLI, BE[i]!, d)).toBe(0);
      // The 5-tuple's small datagrams after it: still the same backend.
      expect(dealt(sport).i).toBe(i);
    }
    expect(seen).toEqual(new Set([0, 1, 2]));
    const k = c.counters();
    // 12 flows (their first datagrams), 36 fragments and 12 small datagrams after them, each rewritten.
    expect(k.connNew).toBe(12n);
    expect(k.natForward).toBe(12n + 36n + 12n);
  });

  it('QA-122 F2: a fragmented request of a 5-tuple without a flow is not taken (OVS deals it whole); a first fragment not taken voids the IP ID\'s entry; later fragments without their first are not rewritten', () => {
    const newBefore = c.counters().connNew;
    // No flow: the first fragment goes to the slow path (it opens nothing), the later ones by MAC (the VIP's: none).
    const none = requestFragments(56000, 0x5001, 0);
    expect(forwardOne(c, CLIENT_PORT, none.frames[0]!).v).toMatchObject({ kind: VerdictKind.Slow, reason: SlowReason.VipFragment });
    for (const f of none.frames.slice(1)) expect(forwardOne(c, CLIENT_PORT, f).v).toMatchObject({ kind: VerdictKind.Slow, reason: SlowReason.MacMiss });
    expect(c.counters().connNew).toBe(newBefore);
    // A flow's fragmented datagram, then another 5-tuple's (no flow) with the same addresses and IP ID:
    // its first fragment is not taken, and its later ones do not get the first datagram's backend.
    const { i } = dealt(56001);
    const ours = requestFragments(56001, 0x5002, i);
    for (const [k, f] of ours.frames.entries()) {
      const r = forwardOne(c, CLIENT_PORT, f);
      expect((i === 0 ? r.out : inner(r.out)).toString('hex')).toBe(ours.want[k]!.toString('hex'));
    }
    const other = requestFragments(56002, 0x5002, i);
    expect(forwardOne(c, CLIENT_PORT, other.frames[0]!).v).toMatchObject({ kind: VerdictKind.Slow, reason: SlowReason.VipFragment });
    for (const f of other.frames.slice(1)) expect(forwardOne(c, CLIENT_PORT, f).v).toMatchObject({ kind: VerdictKind.Slow, reason: SlowReason.MacMiss });
    // Later fragments of the flow's next datagram whose first was never seen: not rewritten.
    for (const f of requestFragments(56001, 0x5003, i).frames.slice(1)) expect(forwardOne(c, CLIENT_PORT, f).v).toMatchObject({ kind: VerdictKind.Slow, reason: SlowReason.MacMiss });
    expect(c.counters().connNew).toBe(newBefore + 1n);
  });

  it('a datagram of a checksum-less flow (UDP checksum 0 over IPv4) is rewritten without one', () => {
    const noSum = (src: number, dst: number, sport: number, dport: number) => udp(sport, dport, DATA);
    const f = eth(lbMac, cliMac, 0x0800, ipv4Packet(CLI, VIP, 17, noSum(CLI, VIP, 51000, 80)));
    const { v, out } = forwardOne(c, CLIENT_PORT, f);
    const i = backendOf(out, v.kind);
    const want = eth(beMacs[i]!, cliMac, 0x0800, ipv4Packet(CLI, BE[i]!, 17, noSum(CLI, BE[i]!, 51000, 8080)));
    expect((v.kind === VerdictKind.Encap ? inner(out) : out).toString('hex')).toBe(want.toString('hex'));
  });

  it('a flow whose backend stops getting new flows (unhealthy) or leaves is dealt again at its next datagram, its old reply key withdrawn; a healthy backend keeps its flows', () => {
    const by = new Map<number, number>();
    for (let sport = 52000; sport < 52090; sport++) by.set(sport, dealt(sport).i);
    expect(new Set(by.values())).toEqual(new Set([0, 1, 2]));
    // Backend 1 unhealthy: OVS's table deals its slots to the others.
    const without1 = Array.from({ length: LB_SLOTS }, (_, s) => ids[s % 2 === 0 ? 0 : 2]!);
    commitUdp([backend(0), backend(1, 0), backend(2)], without1);
    const newBefore = c.counters().connNew;
    for (const [sport, i] of by) {
      const now = dealt(sport).i;
      if (i === 1) expect(now).not.toBe(1);
      else expect(now).toBe(i);
    }
    const moved = [...by.values()].filter((i) => i === 1).length;
    expect(c.counters().connNew - newBefore).toBe(BigInt(moved));
    // The old backend's late reply is not the fast path's any more (its key went with the deal).
    const onOne = [...by].find(([, i]) => i === 1)![0];
    const late = fromBackendSide(c, 1, fromBackendUdp(1, onOne));
    // Decapsulated and switched by MAC, untouched: not rewritten to the VIP.
    expect(late.out.toString('hex')).toBe(fromBackendUdp(1, onOne).toString('hex'));
    // Backend 2 removed: its flows are dealt to backend 0, the one left.
    commitUdp([backend(0), backend(1, 0)], Array.from({ length: LB_SLOTS }, () => ids[0]!));
    for (const [sport, i] of by) if (i === 2) expect(dealt(sport).i).toBe(0);
  });

  it('UDP flows never take the room of an idle TCP connection (evicting a flow costs a new deal, evicting a connection cuts it)', () => {
    commitListeners([{ proto: 6, port: 80, backends: [backend(0)] }, { proto: 17, port: 80, backends: [backend(0)] }]);
    const small = fp.classifier(4); // one set of 4 ways
    try {
      forwardOne(small, CLIENT_PORT, toVip(54000, SYN));
      for (let sport = 54001; sport <= 54040; sport++) forwardOne(small, CLIENT_PORT, toVipUdp(sport));
      expect(forwardOne(small, CLIENT_PORT, toVip(54000, ACK)).v).toMatchObject({ kind: VerdictKind.Local, port: LOCAL_BE_PORT });
      expect(small.counters()).toMatchObject({ connNew: 41n, connEvict: 0n });
    } finally {
      small.free();
    }
  });

  it('a UDP flow whose backend now listens on another port (targetPort changed) is dealt again to it at its next datagram', () => {
    const first = dealt(55000);
    commitUdp([0, 1, 2].map((i) => ({ ...backend(i), port: 9090 })));
    const { v, i } = dealt(55000);
    expect(i).toBe(first.i);
    expect(v.l4port).toBe(9090);
    // A late reply from the old port is no longer the flow's: not rewritten to the VIP.
    const old = fromBackendUdp(first.i, 55000);
    const late = fromBackendSide(c, first.i, old);
    expect(late.out.toString('hex')).toBe(old.toString('hex'));
  });

  it('no backend in the slot table: the datagram is left to the slow path and the flow dropped, so its next ones reach OVS, which refuses them', () => {
    const first = dealt(53000);
    expect([VerdictKind.Local, VerdictKind.Encap]).toContain(first.v.kind);
    commitUdp([backend(0, 0), backend(1, 0), backend(2, 0)], Array.from({ length: LB_SLOTS }, () => NO_BACKEND));
    expect(forwardOne(c, CLIENT_PORT, toVipUdp(53000)).v).toMatchObject({ kind: VerdictKind.Slow, reason: SlowReason.VipEmpty });
    // The flow went (not counted as a cut: a UDP flow's next datagram is dealt again)...
    expect(c.counters().connEvict).toBe(0n);
    // ...so with backends again its next datagram opens a new one.
    commitUdp([backend(0), backend(1), backend(2)]);
    const before = c.counters().connNew;
    expect([VerdictKind.Local, VerdictKind.Encap]).toContain(dealt(53000).v.kind);
    expect(c.counters().connNew).toBe(before + 1n);
  });
});

/**
 * Passthrough connections (conn.h): on a backend's node, a remote client's connection arrives
 * DNATed by the client's node; the fast path switches it as it is, both ways, from its first
 * packet off the tunnel, and holds nothing OVS would need (so letting it go costs nothing).
 */
describe('passthrough connections: a remote client to a local backend', () => {
  const RCLI = ipv4('10.40.0.77'), rcliMac = mac('02:00:00:00:03:01');
  /** OVS's slot table: even slots to backend 0 (this node), odd ones to backend 1 (the peer). */
  const evenToLocal = Array.from({ length: LB_SLOTS }, (_, s) => BE[s % 2]!);
  let c: Classifier;

  /** Backend 0 on this node (its port flagged as in a network with load balancers unless `plain`), the remote client behind the peer VTEP. */
  function commitPass(plain = false): void {
    const flags = plain ? 0 : PORT_CONNTRACK;
    const b = fp.builder()
      .localVtep(LOCAL_IP, LOCAL_MAC)
      .port(CLIENT_PORT, NET, flags).port(LOCAL_BE_PORT, NET, flags).port(UNDERLAY, 0, PORT_UNDERLAY)
      .vni(VNI, NET)
      .vtep({ id: 1, ip: PEER_IP, nextHopMac: NH, encap: Encap.Vxlan })
      .localMac(NET, cliMac, CLIENT_PORT).localMac(NET, beMacs[0]!, LOCAL_BE_PORT)
      .remoteMac(NET, beMacs[1]!, 1, VNI).remoteMac(NET, rcliMac, 1, VNI)
      .vip({ network: NET, proto: 6, addr: mapped(VIP), port: 80, backends: [backend(0), backend(1)], flags: VIP_CONNTRACK, slots: evenToLocal })
      .vip({ network: NET, proto: 17, addr: mapped(VIP), port: 80, backends: [backend(0), backend(1)], flags: VIP_CONNTRACK, slots: evenToLocal });
    fp.commit(b);
    b.free();
  }
  const tunnelled = (frame: Uint8Array) => referenceEncap({ type: Encap.Vxlan, ttl: 64, srcPort: 50001, vni: VNI, srcIp: PEER_IP, dstIp: LOCAL_IP, srcMac: NH, dstMac: LOCAL_MAC, ipId: 0 }, frame);
  /** The remote client's packet as its node DNATed it (to backend 0's MAC, address and target port). */
  const toBackend = (sport: number, flags: number, proto = 6) => {
    const l4 = proto === 6 ? seg(RCLI, BE[0]!, sport, 8080, flags) : withL4Checksum(RCLI, BE[0]!, 17, udp(sport, 8080, Buffer.from('q')));
    return eth(beMacs[0]!, rcliMac, 0x0800, ipv4Packet(RCLI, BE[0]!, proto, l4));
  };
  const fromBackendTo = (dport: number, flags: number, proto = 6) => {
    const l4 = proto === 6 ? seg(BE[0]!, RCLI, 8080, dport, flags) : withL4Checksum(BE[0]!, RCLI, 17, udp(8080, dport, Buffer.from('a')));
    return eth(rcliMac, beMacs[0]!, 0x0800, ipv4Packet(BE[0]!, RCLI, proto, l4));
  };
  const fwdKey = (sport: number, proto = 6) => ({ src: RCLI, dst: BE[0]!, sport, dport: 8080, proto, vni: VNI });
  const revKey = (sport: number, proto = 6) => ({ src: BE[0]!, dst: RCLI, sport: 8080, dport: sport, proto });
  const owned = (cc: Classifier, sport: number, proto = 6) =>
    [cc.ownsConnection(PORT_VIA_UNDERLAY, fwdKey(sport, proto), { passthrough: true }), cc.ownsConnection(LOCAL_BE_PORT, revKey(sport, proto), { reverse: true, passthrough: true })];

  beforeEach(() => {
    commitPass();
    c = fp.classifier(4096);
  });
  afterEach(() => c.free());

  it('a SYN off the tunnel opens one: both directions switched untouched, the client\'s key at the underlay, the backend\'s at its NIC', () => {
    const syn = forwardOne(c, UNDERLAY, tunnelled(toBackend(40000, SYN)));
    expect(syn.v).toMatchObject({ kind: VerdictKind.Local, port: LOCAL_BE_PORT });
    expect(syn.out.toString('hex')).toBe(toBackend(40000, SYN).toString('hex'));
    expect(owned(c, 40000)).toEqual([true, true]);
    const synAck = forwardOne(c, LOCAL_BE_PORT, fromBackendTo(40000, SYNACK));
    expect(synAck.v).toMatchObject({ kind: VerdictKind.Encap, port: 1, vni: VNI });
    expect(inner(synAck.out).toString('hex')).toBe(fromBackendTo(40000, SYNACK).toString('hex'));
    for (let k = 0; k < 3; k++) {
      expect(forwardOne(c, UNDERLAY, tunnelled(toBackend(40000, ACK))).out.toString('hex')).toBe(toBackend(40000, ACK).toString('hex'));
      expect(inner(forwardOne(c, LOCAL_BE_PORT, fromBackendTo(40000, ACK)).out).toString('hex')).toBe(fromBackendTo(40000, ACK).toString('hex'));
    }
    expect(c.counters()).toMatchObject({ connPass: 1n, connNew: 0n, natForward: 0n, natReverse: 0n });
  });

  it('UDP: any datagram off the tunnel opens one', () => {
    expect(forwardOne(c, UNDERLAY, tunnelled(toBackend(41000, 0, 17))).v).toMatchObject({ kind: VerdictKind.Local, port: LOCAL_BE_PORT });
    expect(forwardOne(c, UNDERLAY, tunnelled(toBackend(41000, 0, 17))).v.kind).toBe(VerdictKind.Local);
    expect(owned(c, 41000, 17)).toEqual([true, true]);
    expect(inner(forwardOne(c, LOCAL_BE_PORT, fromBackendTo(41000, 0, 17)).out).toString('hex')).toBe(fromBackendTo(41000, 0, 17).toString('hex'));
    expect(c.counters().connPass).toBe(1n);
  });

  it('not taken: a TCP packet other than a SYN (switched all the same), a port outside a network with load balancers, a client whose MAC the tables do not send to a VTEP, a reply to a flow this node dealt', () => {
    const mid = forwardOne(c, UNDERLAY, tunnelled(toBackend(42000, ACK)));
    expect(mid.v).toMatchObject({ kind: VerdictKind.Local, port: LOCAL_BE_PORT });
    expect(owned(c, 42000)).toEqual([false, false]);
    commitPass(true);
    forwardOne(c, UNDERLAY, tunnelled(toBackend(42001, SYN)));
    expect(owned(c, 42001)).toEqual([false, false]);
    commitPass();
    // From a MAC the tables do not know (its VTEP not resolved, an allowed pair's MAC): the
    // backend's replies could not be switched here, so they stay with OVS.
    const stranger = Buffer.from(toBackend(42002, SYN));
    stranger.set(mac('02:00:00:00:03:99'), 6);
    expect(forwardOne(c, UNDERLAY, tunnelled(stranger)).v).toMatchObject({ kind: VerdictKind.Local, port: LOCAL_BE_PORT });
    expect(owned(c, 42002)).toEqual([false, false]);
    // The local client's UDP flow to the VIP dealt to the remote backend 1: its reply off the
    // tunnel is un-DNATed, not passed through (to a port of this network, from a known MAC).
    const dgramTo = (src: number, dst: number, sport: number, dport: number) => withL4Checksum(src, dst, 17, udp(sport, dport, Buffer.from('x')));
    let sport = 42100;
    for (; ; sport++) if (forwardOne(c, CLIENT_PORT, eth(lbMac, cliMac, 0x0800, ipv4Packet(CLI, VIP, 17, dgramTo(CLI, VIP, sport, 80)))).v.kind === VerdictKind.Encap) break;
    const reply = fromBackendSide(c, 1, eth(cliMac, beMacs[1]!, 0x0800, ipv4Packet(BE[1]!, CLI, 17, dgramTo(BE[1]!, CLI, 8080, sport))));
    expect(reply.out.toString('hex')).toBe(eth(cliMac, beMacs[1]!, 0x0800, ipv4Packet(VIP, CLI, 17, dgramTo(VIP, CLI, 80, sport))).toString('hex'));
    expect(c.counters().connPass).toBe(0n);
  });

  it('only in room that costs nothing: 40 of them in a 4-entry table never cut a connection or a UDP flow the node dealt', () => {
    const small = fp.classifier(4);
    try {
      // The local client's connection to the VIP (dealt to backend 0 on this node) takes two
      // of the four ways: the 40 passthrough connections take turns in the other two.
      const sport = [43000, 43001, 43002, 43003, 43004, 43005, 43006, 43007].find((p) => fp.lib.ovsLbSlot(CLI, VIP, 6, p, 80, 0, LB_SLOTS) % 2 === 0)!;
      expect(forwardOne(small, CLIENT_PORT, toVip(sport, SYN)).v).toMatchObject({ kind: VerdictKind.Local, port: LOCAL_BE_PORT });
      for (let p = 43100; p < 43140; p++) forwardOne(small, UNDERLAY, tunnelled(toBackend(p, SYN)));
      expect(small.counters()).toMatchObject({ connPass: 40n, connEvict: 0n });
      // Nor a UDP flow's room (its next reply would reach OVS, which has no NAT for it).
      const flow = [44000, 44001, 44002, 44003, 44004, 44005, 44006, 44007].find((p) => fp.lib.ovsLbSlot(CLI, VIP, 17, p, 80, 0, LB_SLOTS) % 2 === 0)!;
      const dgramTo = (src: number, dst: number, sp: number, dp: number) => withL4Checksum(src, dst, 17, udp(sp, dp, Buffer.from('x')));
      expect(forwardOne(small, CLIENT_PORT, eth(lbMac, cliMac, 0x0800, ipv4Packet(CLI, VIP, 17, dgramTo(CLI, VIP, flow, 80)))).v.kind).toBe(VerdictKind.Local);
      forwardOne(small, UNDERLAY, tunnelled(toBackend(43150, SYN)));
      expect(owned(small, 43150)).toEqual([false, false]);
      expect(forwardOne(small, LOCAL_BE_PORT, eth(cliMac, beMacs[0]!, 0x0800, ipv4Packet(BE[0]!, CLI, 17, dgramTo(BE[0]!, CLI, 8080, flow)))).out.subarray(26, 30).toString('hex')).toBe(Buffer.from(mapped(VIP).subarray(12)).toString('hex'));
      // With every way a live connection's, a new one is not taken (switched all the same).
      let other = 43010;
      for (; ; other++) if (forwardOne(small, CLIENT_PORT, toVip(other, SYN)).v.kind !== VerdictKind.Slow) break;
      expect(forwardOne(small, UNDERLAY, tunnelled(toBackend(43200, SYN))).v).toMatchObject({ kind: VerdictKind.Local, port: LOCAL_BE_PORT });
      expect(owned(small, 43200)).toEqual([false, false]);
      expect(small.counters()).toMatchObject({ connPass: 40n, connEvict: 0n });
      const later = forwardOne(small, CLIENT_PORT, toVip(sport, ACK));
      expect(later.v).toMatchObject({ kind: VerdictKind.Local, port: LOCAL_BE_PORT });
      // An evicted one's next packets are still switched (OVS would switch them as well).
      expect(forwardOne(small, UNDERLAY, tunnelled(toBackend(43100, ACK))).v).toMatchObject({ kind: VerdictKind.Local, port: LOCAL_BE_PORT });
    } finally {
      small.free();
    }
  });

  it('its end is tracked as a dealt connection\'s: FINs both ways close it (reused first), a closed key is not taken over', () => {
    const FIN = 0x01;
    forwardOne(c, UNDERLAY, tunnelled(toBackend(46000, SYN)));
    forwardOne(c, LOCAL_BE_PORT, fromBackendTo(46000, SYNACK));
    forwardOne(c, UNDERLAY, tunnelled(toBackend(46000, FIN | ACK)));
    expect(c.counters().connClosed).toBe(0n);
    forwardOne(c, LOCAL_BE_PORT, fromBackendTo(46000, FIN | ACK));
    expect(c.counters().connClosed).toBe(1n);
    // The last ACK still passes (its entries stay until the room is needed).
    expect(forwardOne(c, UNDERLAY, tunnelled(toBackend(46000, ACK))).v).toMatchObject({ kind: VerdictKind.Local, port: LOCAL_BE_PORT });
    expect(owned(c, 46000)).toEqual([true, true]);
    const ESTALE = -116;
    expect(c.adoptConnection(LOCAL_BE_PORT, { client: RCLI, sport: 46001, vip: 0, vport: 0, proto: 6, backend: BE[0]!, bport: 8080, passthrough: true, closed: true })).toBe(ESTALE);
    expect(owned(c, 46001)).toEqual([false, false]);
  });

  it('taken over after a restart from its backend\'s key, while that port is still in a network with load balancers', () => {
    const conn = { client: RCLI, sport: 44000, vip: 0, vport: 0, proto: 6, backend: BE[0]!, bport: 8080, passthrough: true };
    expect(c.adoptConnection(LOCAL_BE_PORT, conn)).toBe(0);
    expect(owned(c, 44000)).toEqual([true, true]);
    expect(c.counters()).toMatchObject({ connAdopted: 1n, connPass: 0n });
    const ENOENT = -2;
    expect(c.adoptConnection(UNDERLAY, { ...conn, sport: 44001 })).toBe(ENOENT);
    commitPass(true);
    expect(c.adoptConnection(LOCAL_BE_PORT, { ...conn, sport: 44002 })).toBe(ENOENT);
    expect(owned(c, 44002)).toEqual([false, false]);
  });

  it('dropped with its keys when the backend\'s frame can no longer be switched (its client left the tables)', () => {
    forwardOne(c, UNDERLAY, tunnelled(toBackend(45000, SYN)));
    expect(owned(c, 45000)).toEqual([true, true]);
    const b = fp.builder().localVtep(LOCAL_IP, LOCAL_MAC).port(LOCAL_BE_PORT, NET, PORT_CONNTRACK).port(UNDERLAY, 0, PORT_UNDERLAY).vni(VNI, NET)
      .vtep({ id: 1, ip: PEER_IP, nextHopMac: NH, encap: Encap.Vxlan }).localMac(NET, beMacs[0]!, LOCAL_BE_PORT);
    fp.commit(b);
    b.free();
    forwardOne(c, LOCAL_BE_PORT, fromBackendTo(45000, ACK));
    forwardOne(c, LOCAL_BE_PORT, fromBackendTo(45000, ACK)); // the first was decided by the previous snapshot
    expect(owned(c, 45000)).toEqual([false, false]);
  });
});

describe('QA-152 F8 / QA-156 F2: ICMP errors about a connection the fast path dealt', () => {
  let c: Classifier;
  afterEach(() => c.free());

  const ROUTER = ipv4('10.40.0.1');
  /** An ICMP message (its checksum computed) of type/code, the 4 bytes after the checksum `rest`, quoting `quote`. */
  const icmp = (type: number, code: number, quote: Uint8Array, rest = 0): Buffer => {
    const m = Buffer.concat([Buffer.from([type, code, 0, 0, 0, 0, 0, 0]), quote]);
    m.writeUInt32BE(rest, 4);
    m.writeUInt16BE(checksum(m), 2);
    return m;
  };
  const DATA = Buffer.from('nobody listens here');
  const dgram = (src: number, dst: number, sport: number, dport: number) => ipv4Packet(src, dst, 17, withL4Checksum(src, dst, 17, udp(sport, dport, DATA)));
  /** The ICMP error frame `from` (a backend's address, or a router's) sends toward the client, quoting `quote`. */
  const errFrame = (i: number, from: number, type: number, code: number, quote: Uint8Array, rest = 0) =>
    eth(cliMac, beMacs[i]!, 0x0800, ipv4Packet(from, CLI, 1, icmp(type, code, quote, rest)));
  const dealUdp = (sport: number) => {
    const { v, out } = forwardOne(c, CLIENT_PORT, eth(lbMac, cliMac, 0x0800, dgram(CLI, VIP, sport, 80)));
    return backendOf(out, v.kind);
  };
  /** Every checksum of an ICMP error frame to the client, recomputed: outer IPv4 header, ICMP message, quoted IPv4 header, and the quoted L4 checksum when the whole datagram is quoted. */
  const checksumsOk = (f: Buffer) => {
    const ip = f.subarray(14, 14 + f.readUInt16BE(16));
    expect(checksum(ip.subarray(0, 20))).toBe(0);
    const m = ip.subarray(20);
    expect(checksum(m)).toBe(0);
    const q = m.subarray(8);
    expect(checksum(q.subarray(0, 20))).toBe(0);
    if (q[9] === 17 && q.length === q.readUInt16BE(2) && q.readUInt16BE(26) !== 0) {
      const l4 = q.subarray(20);
      const pseudo = Buffer.alloc(12);
      q.copy(pseudo, 0, 12, 20);
      pseudo[9] = 17;
      pseudo.writeUInt16BE(l4.length, 10);
      expect(checksum(Buffer.concat([pseudo, l4, Buffer.alloc(l4.length & 1)]))).toBe(0);
    }
  };

  describe('over UDP', () => {
    beforeEach(() => {
      const ids = BE.map((ip) => ip);
      commit([backend(0), backend(1), backend(2)], VIP_CONNTRACK, Array.from({ length: LB_SLOTS }, (_, s) => ids[s % 3]!), 17);
      c = fp.classifier(4096);
    });

    it('port unreachable from a backend (local, or over the tunnel) reaches the client from the VIP, quoting client -> VIP:listener port, every checksum right', () => {
      const seen = new Set<number>();
      for (let sport = 50000; sport < 50030; sport++) {
        const i = dealUdp(sport);
        seen.add(i);
        const r = fromBackendSide(c, i, errFrame(i, BE[i]!, 3, 3, dgram(CLI, BE[i]!, sport, 8080)));
        expect(r.v).toMatchObject({ kind: VerdictKind.Local, port: CLIENT_PORT });
        expect(r.out.toString('hex')).toBe(errFrame(i, VIP, 3, 3, dgram(CLI, VIP, sport, 80)).toString('hex'));
        checksumsOk(r.out);
      }
      expect(seen).toEqual(new Set([0, 1, 2]));
      expect(c.counters().icmpReverse).toBe(30n);
    });

    it('a quote cut after the UDP ports (RFC 792: 8 bytes of the datagram) or one whose datagram carries no UDP checksum: rewritten, the ICMP checksum right', () => {
      for (let sport = 50100; sport < 50106; sport++) {
        const i = dealUdp(sport);
        const full = dgram(CLI, BE[i]!, sport, 8080);
        const cut = full.subarray(0, 28);
        const r = fromBackendSide(c, i, errFrame(i, BE[i]!, 3, 3, cut));
        expect(r.out.toString('hex')).toBe(errFrame(i, VIP, 3, 3, dgram(CLI, VIP, sport, 80).subarray(0, 28)).toString('hex'));
        checksumsOk(r.out);
        const noSum = Buffer.from(full);
        noSum.writeUInt16BE(0, 26);
        const want = Buffer.from(dgram(CLI, VIP, sport, 80));
        want.writeUInt16BE(0, 26);
        const r2 = fromBackendSide(c, i, errFrame(i, BE[i]!, 3, 3, noSum));
        expect(r2.out.toString('hex')).toBe(errFrame(i, VIP, 3, 3, want).toString('hex'));
        checksumsOk(r2.out);
      }
    });

    it('time exceeded from a router on the way keeps its source (the router is not the backend) but quotes the VIP', () => {
      const i = dealUdp(50200);
      const r = fromBackendSide(c, i, errFrame(i, ROUTER, 11, 0, dgram(CLI, BE[i]!, 50200, 8080)));
      expect(r.out.toString('hex')).toBe(errFrame(i, ROUTER, 11, 0, dgram(CLI, VIP, 50200, 80)).toString('hex'));
      checksumsOk(r.out);
    });

    it('left as they are: a quote of a connection the fast path did not deal, ICMP that is no error, quotes too short for ports, malformed quotes, a quote of a later fragment', () => {
      const i = dealUdp(50300);
      const untouched = (f: Buffer) => expect(fromBackendSide(c, i, f).out.toString('hex')).toBe(f.toString('hex'));
      const q = dgram(CLI, BE[i]!, 50300, 8080);
      untouched(errFrame(i, BE[i]!, 3, 3, dgram(CLI, BE[i]!, 50301, 8080))); // another source port
      untouched(errFrame(i, BE[i]!, 3, 3, dgram(CLI, BE[i]!, 50300, 8081))); // another port of the backend
      untouched(errFrame(i, BE[i]!, 3, 3, dgram(ipv4('10.40.0.6'), BE[i]!, 50300, 8080))); // another client
      untouched(errFrame(i, BE[i]!, 0, 0, q)); // an echo reply, whatever it carries
      untouched(errFrame(i, BE[i]!, 5, 0, q)); // a redirect
      untouched(errFrame(i, BE[i]!, 3, 3, q.subarray(0, 23))); // no destination port
      untouched(errFrame(i, BE[i]!, 3, 3, q.subarray(0, 12))); // half an IP header
      untouched(errFrame(i, BE[i]!, 3, 3, Buffer.alloc(0))); // nothing quoted
      untouched(eth(cliMac, beMacs[i]!, 0x0800, ipv4Packet(BE[i]!, CLI, 1, Buffer.from([3, 3, 0, 0])))); // a bare 4-byte ICMP header
      const v6 = Buffer.from(q);
      v6[0] = 0x65;
      untouched(errFrame(i, BE[i]!, 3, 3, v6));
      const longIhl = Buffer.from(q.subarray(0, 30));
      longIhl[0] = 0x4f; // 60-byte header claimed, 30 bytes quoted
      untouched(errFrame(i, BE[i]!, 3, 3, longIhl));
      const later = Buffer.from(q);
      later.writeUInt16BE(0x0001, 6); // offset 8: no UDP header there
      untouched(errFrame(i, BE[i]!, 3, 3, later));
      // Quoted toward the client, not from it (the error is not about the client's datagram).
      untouched(errFrame(i, BE[i]!, 3, 3, dgram(BE[i]!, CLI, 8080, 50300)));
      expect(c.counters().icmpReverse).toBe(0n);
    });

    it('random bytes after an ICMP error header toward the client never crash the classifier', () => {
      let seed = 12345;
      const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) & 0xff;
      const i = dealUdp(50400);
      const q = dgram(CLI, BE[i]!, 50400, 8080);
      for (let n = 0; n < 2000; n++) {
        const b = Buffer.from(q.subarray(0, rnd() % (q.length + 1)));
        for (let k = 0; k < 3; k++) if (b.length) b[rnd() % b.length] = rnd();
        fromBackendSide(c, i, errFrame(i, BE[i]!, n & 1 ? 3 : 11, rnd() & 15, b));
      }
    });
  });

  describe('over TCP', () => {
    beforeEach(() => {
      commit([backend(0), backend(1), backend(2)]);
      c = fp.classifier(4096);
    });

    it('fragmentation needed (its MTU kept) reaches the client from the VIP quoting client -> VIP:80, with a quote of 8 bytes or of the whole segment', () => {
      const seen = new Set<number>();
      for (let sport = 43000; sport < 43024; sport++) {
        const { v, out } = forwardOne(c, CLIENT_PORT, toVip(sport, SYN));
        const i = backendOf(out, v.kind);
        seen.add(i);
        const atBe = ipv4Packet(CLI, BE[i]!, 6, seg(CLI, BE[i]!, sport, 8080, ACK));
        const atVip = ipv4Packet(CLI, VIP, 6, seg(CLI, VIP, sport, 80, ACK));
        for (const len of [28, atBe.length]) {
          const r = fromBackendSide(c, i, errFrame(i, BE[i]!, 3, 4, atBe.subarray(0, len), 1400));
          expect(r.v).toMatchObject({ kind: VerdictKind.Local, port: CLIENT_PORT });
          expect(r.out.toString('hex')).toBe(errFrame(i, VIP, 3, 4, atVip.subarray(0, len), 1400).toString('hex'));
          checksumsOk(r.out);
        }
      }
      expect(seen).toEqual(new Set([0, 1, 2]));
      expect(c.counters().icmpReverse).toBe(48n);
    });
  });
});
