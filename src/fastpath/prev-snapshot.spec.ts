/**
 * A frame the XDP filter took under one table snapshot and the runner classifies after the
 * next commit (it sat in the rx ring while node-runner.ts withdrew its key and committed):
 * AF_XDP cannot hand it back to OVS, so the snapshot it was taken under decides it
 * (native/src/classify.c, retry_prev). One generation back only, L2 decisions only.
 */
import { FastPath, FrameBatch, openFastPath, type Classifier } from './fastpath';
import { eth, ipv4, ipv4Packet, mac, mapped, referenceEncap, tcp, udp } from './reference';
import { Encap, VIP_CONNTRACK, SlowReason, VerdictKind } from './types';

const opened = openFastPath();
if (!opened.fastPath) throw new Error(`libvnetfp must build for the tests: ${JSON.stringify(opened.status)}`);
const fp: FastPath = opened.fastPath;

const NET = 3, VNI = 3;
const X = mac('02:00:00:00:00:0a'), Y = mac('02:00:00:00:00:0b'), S = mac('02:00:00:00:00:01'), NH = mac('0a:00:00:00:00:02');
const LOCAL_IP = ipv4('192.168.0.1'), LOCAL_MAC = mac('0a:00:00:00:00:01'), PEER = ipv4('192.168.0.2');
const toMac = (dst: Uint8Array) => eth(dst, S, 0x0800, ipv4Packet(ipv4('10.0.0.1'), ipv4('10.0.0.2'), 17, udp(1000, 2000, Buffer.from('x'))));

function commit(withX: boolean, withY: boolean, extra?: (b: ReturnType<FastPath['builder']>) => void): void {
  const b = fp.builder().localVtep(LOCAL_IP, LOCAL_MAC).port(1, NET).port(2, NET);
  if (withX) b.localMac(NET, X, 2);
  if (withY) b.vtep({ id: 7, ip: PEER, nextHopMac: NH, encap: Encap.Vxlan }).remoteMac(NET, Y, 7, VNI);
  extra?.(b);
  fp.commit(b);
  b.free();
}

describe('a frame taken under the previous table snapshot', () => {
  let c: Classifier;
  beforeEach(() => (c = fp.classifier(1024)));
  afterEach(() => c.free());

  it('is delivered as that snapshot says, after one commit; after a second commit it misses', () => {
    commit(true, false);
    const one = () => {
      const b = FrameBatch.withHeadroom([toMac(X)]);
      c.forward(1, b);
      return b.verdict(0);
    };
    expect(one()).toMatchObject({ kind: VerdictKind.Local, port: 2 });
    commit(false, false); // X's key withdrawn, then the tables without X
    expect(one()).toMatchObject({ kind: VerdictKind.Local, port: 2 });
    expect(c.counters().prevHit).toBe(1n);
    commit(false, false); // one more generation: nothing in flight can be that old
    expect(one()).toMatchObject({ kind: VerdictKind.Slow, reason: SlowReason.MacMiss });
  });

  it('is encapsulated toward a VTEP that only the previous snapshot knows', () => {
    commit(false, true);
    commit(false, false);
    const inner = toMac(Y);
    const b = FrameBatch.withHeadroom([inner]);
    expect(c.forward(1, b)).toBe(1);
    expect(b.verdict(0)).toMatchObject({ kind: VerdictKind.Encap, port: 7, vni: VNI });
    const expected = referenceEncap({ type: Encap.Vxlan, ttl: 64, srcPort: 0xc000 | (fp.lib.flowHash(inner, inner.length) & 0x3fff), vni: VNI, srcIp: LOCAL_IP, dstIp: PEER, srcMac: LOCAL_MAC, dstMac: NH, ipId: 0 }, inner);
    expect(b.frame(0).toString('hex')).toBe(expected.toString('hex'));
  });

  it('never takes a VIP decision (or a connection) from the previous snapshot', () => {
    const VIP = ipv4('10.0.0.200');
    commit(true, false, (b) => b.vip({ network: NET, proto: 6, addr: mapped(VIP), port: 80, flags: VIP_CONNTRACK, backends: [{ id: 1, addr: mapped(ipv4('10.0.0.10')), port: 8080, weight: 1, mac: X }] }));
    commit(false, false);
    const b = FrameBatch.withHeadroom([eth(mac('02:4c:42:00:00:01'), S, 0x0800, ipv4Packet(ipv4('10.0.0.1'), VIP, 6, tcp(40000, 80, 0x02)))]);
    expect(c.forward(1, b)).toBe(0);
    expect(b.verdict(0).kind).toBe(VerdictKind.Slow);
    expect(c.counters().connNew).toBe(0n);
  });
});
