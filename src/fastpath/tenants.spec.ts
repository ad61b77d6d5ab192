/**
 * Tenants in the C classifier: two networks with the same addresses (both 10.40.0.0/24, the
 * same VIP, client and backend addresses, even the same 4-tuples at once) share no VIP, no
 * connection entry and no XDP key. Before, the VIP table was keyed by (protocol, address,
 * port) alone (the later network's VIP won: the other's SYNs were decided toward backends
 * its network does not have, and lost), and connection entries and the underlay's keys by
 * the 4-tuple alone (a second tenant's connection on the same 4-tuple took the first's).
 */
import { FastPath, FrameBatch, PORT_VIA_UNDERLAY, openFastPath, type Classifier } from './fastpath';
import { eth, ipv4, ipv4Packet, mac, mapped, referenceEncap, tcp, udp, withL4Checksum } from './reference';
import { Encap, LB_SLOTS, PORT_CONNTRACK, PORT_UNDERLAY, VIP_CONNTRACK, VerdictKind, type BackendSpec } from './types';

const opened = openFastPath();
if (!opened.fastPath) throw new Error(`libvnetfp must build for the tests: ${JSON.stringify(opened.status)}`);
const fp: FastPath = opened.fastPath;

const UNDERLAY = 9;
const LOCAL_IP = ipv4('192.168.0.1'), PEER_IP = ipv4('192.168.0.2'), LOCAL_MAC = mac('0a:00:00:00:00:01'), NH = mac('0a:00:00:00:00:02');
const CLI = ipv4('10.40.0.5'), VIP = ipv4('10.40.0.200'), RCLI = ipv4('10.40.0.77');
const SYN = 0x02, ACK = 0x10, SYNACK = 0x12, FIN_ACK = 0x11;

/**
 * A tenant: its network and VNI, its client's NIC and local backend's NIC on this node, a
 * remote backend and a remote client behind the peer VTEP. Same client and VIP addresses in
 * both tenants; MACs differ (as vnetd allocates them), backend addresses as each says. The
 * tables' network ids are not the VNIs here (vnetd's are), so neither can stand for the other.
 */
interface Tenant { net: number; vni: number; clientPort: number; bePort: number; cliMac: Uint8Array; beMacs: [Uint8Array, Uint8Array]; rcliMac: Uint8Array; be: [number, number] }
const A: Tenant = { net: 7, vni: 5007, clientPort: 1, bePort: 2, cliMac: mac('02:0a:00:00:01:01'), beMacs: [mac('02:0a:00:00:02:01'), mac('02:0a:00:00:02:02')], rcliMac: mac('02:0a:00:00:03:01'), be: [ipv4('10.40.0.11'), ipv4('10.40.0.12')] };
const B: Tenant = { net: 8, vni: 5008, clientPort: 3, bePort: 4, cliMac: mac('02:0b:00:00:01:01'), beMacs: [mac('02:0b:00:00:02:01'), mac('02:0b:00:00:02:02')], rcliMac: mac('02:0b:00:00:03:01'), be: [ipv4('10.40.0.21'), ipv4('10.40.0.22')] };

const backends = (t: Tenant): BackendSpec[] => t.be.map((ip, i) => ({ id: ip, addr: mapped(ip), port: 8080, weight: 1, mac: t.beMacs[i]! }));
/** OVS's slot table with every slot on one backend of the tenant (0: this node, 1: the peer). */
const allTo = (t: Tenant, i: 0 | 1) => Array.from({ length: LB_SLOTS }, () => t.be[i]);

function commit(slots: { a: 0 | 1; b: 0 | 1 }, tenants: Tenant[] = [A, B]): void {
  const b = fp.builder().localVtep(LOCAL_IP, LOCAL_MAC).port(UNDERLAY, 0, PORT_UNDERLAY).vtep({ id: 1, ip: PEER_IP, nextHopMac: NH, encap: Encap.Vxlan });
  for (const t of tenants) {
    b.port(t.clientPort, t.net, PORT_CONNTRACK).port(t.bePort, t.net, PORT_CONNTRACK).vni(t.vni, t.net)
      .localMac(t.net, t.cliMac, t.clientPort).localMac(t.net, t.beMacs[0], t.bePort)
      .remoteMac(t.net, t.beMacs[1], 1, t.vni).remoteMac(t.net, t.rcliMac, 1, t.vni);
    const to = t === A ? slots.a : slots.b;
    for (const proto of [6, 17]) b.vip({ network: t.net, proto, addr: mapped(VIP), port: 80, backends: backends(t), flags: VIP_CONNTRACK, slots: allTo(t, to) });
  }
  fp.commit(b);
  b.free();
}

const l4 = (src: number, dst: number, sport: number, dport: number, flags: number, proto: number) =>
  proto === 6 ? withL4Checksum(src, dst, 6, tcp(sport, dport, flags)) : withL4Checksum(src, dst, 17, udp(sport, dport, Buffer.from('q')));
const toVip = (t: Tenant, sport: number, flags: number, proto = 6) => eth(mac('02:4c:42:00:00:01'), t.cliMac, 0x0800, ipv4Packet(CLI, VIP, proto, l4(CLI, VIP, sport, 80, flags, proto)));
const atBackend = (t: Tenant, i: 0 | 1, sport: number, flags: number, proto = 6) => eth(t.beMacs[i], t.cliMac, 0x0800, ipv4Packet(CLI, t.be[i], proto, l4(CLI, t.be[i], sport, 8080, flags, proto)));
const fromBackend = (t: Tenant, i: 0 | 1, dport: number, flags: number, proto = 6) => eth(t.cliMac, t.beMacs[i], 0x0800, ipv4Packet(t.be[i], CLI, proto, l4(t.be[i], CLI, 8080, dport, flags, proto)));
const atClient = (t: Tenant, i: 0 | 1, dport: number, flags: number, proto = 6) => eth(t.cliMac, t.beMacs[i], 0x0800, ipv4Packet(VIP, CLI, proto, l4(VIP, CLI, 80, dport, flags, proto)));
const tunnelled = (t: Tenant, frame: Uint8Array) => referenceEncap({ type: Encap.Vxlan, ttl: 64, srcPort: 50001, vni: t.vni, srcIp: PEER_IP, dstIp: LOCAL_IP, srcMac: NH, dstMac: LOCAL_MAC, ipId: 0 }, frame);

function forwardOne(c: Classifier, inPort: number, frame: Uint8Array) {
  const b = FrameBatch.withHeadroom([frame]);
  c.forward(inPort, b);
  return { v: b.verdict(0), out: Buffer.from(b.frame(0)) };
}
const hex = (x: Uint8Array) => Buffer.from(x).toString('hex');
const inner = (out: Buffer) => out.subarray(50);

describe('tenants with the same addresses share nothing in the fast path', () => {
  let c: Classifier;
  afterEach(() => c.free());

  it('the same VIP in two networks: each network\'s clients reach its own backends (locally and over the tunnel, in its own VNI)', () => {
    commit({ a: 0, b: 0 });
    c = fp.classifier(4096);
    for (const t of [A, B]) {
      const syn = forwardOne(c, t.clientPort, toVip(t, 40000, SYN));
      expect(syn.v).toMatchObject({ kind: VerdictKind.Local, port: t.bePort });
      expect(hex(syn.out)).toBe(hex(atBackend(t, 0, 40000, SYN)));
    }
    commit({ a: 1, b: 1 });
    for (const t of [A, B]) {
      const syn = forwardOne(c, t.clientPort, toVip(t, 40001, SYN));
      expect(syn.v).toMatchObject({ kind: VerdictKind.Encap, port: 1, vni: t.vni });
      expect(hex(inner(syn.out))).toBe(hex(atBackend(t, 1, 40001, SYN)));
    }
    // A network without the VIP does not meet it: its frame to that address goes by MAC.
    const b = fp.builder().localVtep(LOCAL_IP, LOCAL_MAC).port(UNDERLAY, 0, PORT_UNDERLAY).port(A.clientPort, A.net).port(B.clientPort, B.net)
      .localMac(A.net, A.beMacs[0], A.bePort).localMac(B.net, B.beMacs[0], B.bePort).port(A.bePort, A.net).port(B.bePort, B.net);
    b.vip({ network: A.net, proto: 6, addr: mapped(VIP), port: 80, backends: backends(A), flags: VIP_CONNTRACK, slots: allTo(A, 0) });
    fp.commit(b);
    b.free();
    const plain = eth(B.beMacs[0], B.cliMac, 0x0800, ipv4Packet(CLI, VIP, 6, l4(CLI, VIP, 40002, 80, SYN, 6)));
    const byMac = forwardOne(c, B.clientPort, plain);
    expect(byMac.v).toMatchObject({ kind: VerdictKind.Local, port: B.bePort });
    expect(hex(byMac.out)).toBe(hex(plain));
  });

  it('the same 4-tuple open in both networks at once (TCP and UDP): two connections, each with its own backend, replies and end; per-network counts', () => {
    commit({ a: 0, b: 1 });
    c = fp.classifier(4096);
    for (const proto of [6, 17]) {
      const sport = proto === 6 ? 41000 : 41001;
      // A's connection to its local backend, then B's on the very same 4-tuple to its remote one.
      expect(forwardOne(c, A.clientPort, toVip(A, sport, SYN, proto)).v).toMatchObject({ kind: VerdictKind.Local, port: A.bePort });
      expect(forwardOne(c, B.clientPort, toVip(B, sport, SYN, proto)).v).toMatchObject({ kind: VerdictKind.Encap, vni: B.vni });
      for (let k = 0; k < 3; k++) {
        const a = forwardOne(c, A.clientPort, toVip(A, sport, ACK, proto));
        expect(a.v).toMatchObject({ kind: VerdictKind.Local, port: A.bePort });
        expect(hex(a.out)).toBe(hex(atBackend(A, 0, sport, ACK, proto)));
        const b = forwardOne(c, B.clientPort, toVip(B, sport, ACK, proto));
        expect(b.v).toMatchObject({ kind: VerdictKind.Encap, vni: B.vni });
        expect(hex(inner(b.out))).toBe(hex(atBackend(B, 1, sport, ACK, proto)));
        // Each backend's reply reaches its own client from the VIP: A's from its NIC, B's off the tunnel in B's VNI.
        const ra = forwardOne(c, A.bePort, fromBackend(A, 0, sport, SYNACK, proto));
        expect(ra.v).toMatchObject({ kind: VerdictKind.Local, port: A.clientPort });
        expect(hex(ra.out)).toBe(hex(atClient(A, 0, sport, SYNACK, proto)));
        const rb = forwardOne(c, UNDERLAY, tunnelled(B, fromBackend(B, 1, sport, SYNACK, proto)));
        expect(rb.v).toMatchObject({ kind: VerdictKind.Local, port: B.clientPort });
        expect(hex(rb.out)).toBe(hex(atClient(B, 1, sport, SYNACK, proto)));
      }
      // B's backend's key at the underlay names B's VNI: not A's, nor none.
      const rev = { src: B.be[1], dst: CLI, sport: 8080, dport: sport, proto };
      expect([B.vni, A.vni, 0].map((vni) => c.ownsConnection(PORT_VIA_UNDERLAY, { ...rev, vni }, { reverse: true }))).toEqual([true, false, false]);
      expect(c.ownsConnection(A.bePort, { src: A.be[0], dst: CLI, sport: 8080, dport: sport, proto }, { reverse: true })).toBe(true);
    }
    // A's TCP connection ends (FINs both ways); B's, on the same 4-tuple, goes on.
    forwardOne(c, A.clientPort, toVip(A, 41000, FIN_ACK));
    forwardOne(c, A.bePort, fromBackend(A, 0, 41000, FIN_ACK));
    expect(c.counters().connClosed).toBe(1n);
    const b = forwardOne(c, B.clientPort, toVip(B, 41000, ACK));
    expect(hex(inner(b.out))).toBe(hex(atBackend(B, 1, 41000, ACK)));
    expect(c.counters()).toMatchObject({ connNew: 4n, connClosed: 1n });
    // Dispatch counts per network: what each tenant's load balancer status adds up.
    const per = c.connCounts().map((x) => `${x.network}/${x.backend}/${x.proto}=${x.connections}`).sort();
    expect(per).toEqual(['7/10.40.0.11/17=1', '7/10.40.0.11/6=1', '8/10.40.0.22/17=1', '8/10.40.0.22/6=1']);
  });

  it('passthrough: remote clients of both networks with the same 4-tuple to a local backend each: two connections, keys in their own VNI', () => {
    // Both tenants' local backends at one address here (overlapping networks).
    const same: Tenant = { ...B, be: [A.be[0], B.be[1]] };
    commit({ a: 0, b: 0 }, [A, same]);
    c = fp.classifier(4096);
    const toBe = (t: Tenant, flags: number) => eth(t.beMacs[0], t.rcliMac, 0x0800, ipv4Packet(RCLI, t.be[0], 6, l4(RCLI, t.be[0], 42000, 8080, flags, 6)));
    const back = (t: Tenant, flags: number) => eth(t.rcliMac, t.beMacs[0], 0x0800, ipv4Packet(t.be[0], RCLI, 6, l4(t.be[0], RCLI, 8080, 42000, flags, 6)));
    for (const t of [A, same]) {
      const syn = forwardOne(c, UNDERLAY, tunnelled(t, toBe(t, SYN)));
      expect(syn.v).toMatchObject({ kind: VerdictKind.Local, port: t.bePort });
    }
    expect(c.counters().connPass).toBe(2n);
    const fwd = { src: RCLI, dst: A.be[0], sport: 42000, dport: 8080, proto: 6 };
    expect([A.vni, same.vni, 0].map((vni) => c.ownsConnection(PORT_VIA_UNDERLAY, { ...fwd, vni }, { passthrough: true }))).toEqual([true, true, false]);
    // A's ends; B's goes on, its key still published.
    forwardOne(c, UNDERLAY, tunnelled(A, toBe(A, FIN_ACK)));
    forwardOne(c, A.bePort, back(A, FIN_ACK));
    expect(c.counters().connClosed).toBe(1n);
    const rb = forwardOne(c, same.bePort, back(same, ACK));
    expect(rb.v).toMatchObject({ kind: VerdictKind.Encap, vni: same.vni });
    expect(c.ownsConnection(PORT_VIA_UNDERLAY, { ...fwd, vni: same.vni }, { passthrough: true })).toBe(true);
    // B's end is its own: its FINs close it now, counted once more.
    forwardOne(c, UNDERLAY, tunnelled(same, toBe(same, FIN_ACK)));
    forwardOne(c, same.bePort, back(same, FIN_ACK));
    expect(c.counters().connClosed).toBe(2n);
  });

  it('taken over after a restart in its own network: its keys published again where they were, an underlay key in its network\'s VNI', () => {
    commit({ a: 0, b: 0 });
    c = fp.classifier(4096);
    // The earlier process's forward keys, one per tenant on the same 4-tuples, at each client's
    // NIC: to the local backend (43000) and to the remote one (43001).
    for (const t of [A, B]) {
      for (const [sport, i] of [[43000, 0], [43001, 1]] as const) {
        expect(c.adoptConnection(t.clientPort, { client: CLI, sport, vip: VIP, vport: 80, proto: 6, backend: t.be[i], bport: 8080 })).toBe(0);
      }
    }
    for (const t of [A, B]) {
      const local = forwardOne(c, t.clientPort, toVip(t, 43000, ACK));
      expect(local.v).toMatchObject({ kind: VerdictKind.Local, port: t.bePort });
      expect(hex(local.out)).toBe(hex(atBackend(t, 0, 43000, ACK)));
      const remote = forwardOne(c, t.clientPort, toVip(t, 43001, ACK));
      expect(remote.v).toMatchObject({ kind: VerdictKind.Encap, vni: t.vni });
      expect(hex(inner(remote.out))).toBe(hex(atBackend(t, 1, 43001, ACK)));
      expect(c.ownsConnection(t.bePort, { src: t.be[0], dst: CLI, sport: 8080, dport: 43000, proto: 6 }, { reverse: true })).toBe(true);
      const rev = { src: t.be[1], dst: CLI, sport: 8080, dport: 43001, proto: 6 };
      const other = t === A ? B : A;
      expect([t.vni, other.vni, t.net, 0].map((vni) => c.ownsConnection(PORT_VIA_UNDERLAY, { ...rev, vni }, { reverse: true }))).toEqual([true, false, false, false]);
      // The remote backend's reply, off the tunnel in the tenant's VNI, reaches its client from the VIP.
      const r = forwardOne(c, UNDERLAY, tunnelled(t, fromBackend(t, 1, 43001, ACK)));
      expect(r.v).toMatchObject({ kind: VerdictKind.Local, port: t.clientPort });
      expect(hex(r.out)).toBe(hex(atClient(t, 1, 43001, ACK)));
    }
    // A passthrough connection, from its backend's key at the backend's NIC: the client's key
    // goes back to the underlay in the backend's network's VNI.
    for (const t of [A, B]) {
      expect(c.adoptConnection(t.bePort, { client: RCLI, sport: 44000, vip: 0, vport: 0, proto: 6, backend: t.be[0], bport: 8080, passthrough: true })).toBe(0);
      const fwd = { src: RCLI, dst: t.be[0], sport: 44000, dport: 8080, proto: 6 };
      expect([t.vni, t.net, 0].map((vni) => c.ownsConnection(PORT_VIA_UNDERLAY, { ...fwd, vni }, { passthrough: true }))).toEqual([true, false, false]);
    }
  });
});
