import { EventEmitter } from 'node:events';
import pino from 'pino';
import type { OfMessage, OpenFlowConnection } from '../../openflow';
import type { LogicalModel } from '../../pipeline';
import type { LoadBalancer } from '../../resources/kinds';
import { LbHealthMonitor, UDP_LINK_DOWN, UDP_PORT_UNREACHABLE, checkedPorts, checkedPortsOf, healthTargets, udpCheckedPorts, type HealthTarget } from './lb-health';
import { checksum, ipv6PayloadChecksum } from './lb-health-packets';
import { buildUdpProbeFrame, parsePortUnreachable } from './lb-health-udp-packets';
import { refusalFor } from './lb-reject';

/** The addresses and ports of a UDP probe frame as it went out (IPv4 or IPv6, no options). */
function probeOf(f: Buffer): { srcIp: string; dstIp: string; srcPort: number; dstPort: number; length: number } | undefined {
  const v6 = f.readUInt16BE(12) === 0x86dd;
  const l4 = v6 ? 54 : 34;
  if ((v6 ? f[20] : f[23]) !== 17) return undefined;
  const ip = (o: number) => (v6 ? [...Array(8).keys()].map((i) => f.readUInt16BE(o + 2 * i).toString(16)).join(':') : [...f.subarray(o, o + 4)].join('.'));
  return { srcIp: v6 ? ip(22) : ip(26), dstIp: v6 ? ip(38) : ip(30), srcPort: f.readUInt16BE(l4), dstPort: f.readUInt16BE(l4 + 2), length: f.readUInt16BE(l4 + 4) };
}

const v4: HealthTarget = {
  lbUid: 'lb1',
  vip: '10.0.0.100',
  lbMac: '02:4c:42:00:00:01',
  ip: '10.0.0.5',
  mac: '02:00:00:00:00:05',
  port: 5353,
  protocol: 'UDP',
  node: 'hv1',
  ofport: 7,
  vni: 100,
  timing: { intervalMs: 1000, timeoutMs: 500, healthyThreshold: 2, unhealthyThreshold: 2 },
  listenerPorts: [53],
};

describe('UDP probe frames', () => {
  it('are empty datagrams from the VIP with valid checksums (a backend drops a bad one silently, which would pass)', () => {
    const f = buildUdpProbeFrame({ srcMac: v4.lbMac, dstMac: v4.mac, srcIp: v4.vip, dstIp: v4.ip, srcPort: 40000, dstPort: 5353 });
    expect(f).toHaveLength(14 + 20 + 8);
    expect(probeOf(f)).toEqual({ srcIp: '10.0.0.100', dstIp: '10.0.0.5', srcPort: 40000, dstPort: 5353, length: 8 });
    expect(checksum(f.subarray(14, 34))).toBe(0);
    const pseudo = Buffer.concat([f.subarray(26, 34), Buffer.from([0, 17, 0, 8])]);
    expect(checksum(Buffer.concat([pseudo, f.subarray(34)]))).toBe(0);
    const f6 = buildUdpProbeFrame({ srcMac: v4.lbMac, dstMac: v4.mac, srcIp: 'fd00::64', dstIp: 'fd00::5', srcPort: 40000, dstPort: 5353 });
    expect(f6).toHaveLength(14 + 40 + 8);
    expect(probeOf(f6)).toMatchObject({ srcPort: 40000, dstPort: 5353, length: 8 });
    expect(ipv6PayloadChecksum(f6.subarray(22, 38), f6.subarray(38, 54), 17, f6.subarray(54))).toBe(0);
  });

  it('are quoted back by a port unreachable (IPv4 and IPv6), read with the quote\'s addresses and ports', () => {
    const f = buildUdpProbeFrame({ srcMac: v4.lbMac, dstMac: v4.mac, srcIp: v4.vip, dstIp: v4.ip, srcPort: 40000, dstPort: 5353 });
    // lb-reject answers a datagram as a host without the port does: from its destination.
    const icmp = refusalFor(f)!;
    expect(parsePortUnreachable(icmp)).toEqual({ srcIp: '10.0.0.5', dstIp: '10.0.0.100', quoted: { srcIp: '10.0.0.100', dstIp: '10.0.0.5', srcPort: 40000, dstPort: 5353 } });
    const f6 = buildUdpProbeFrame({ srcMac: v4.lbMac, dstMac: v4.mac, srcIp: 'fd00::64', dstIp: 'fd00::5', srcPort: 40001, dstPort: 53 });
    expect(parsePortUnreachable(refusalFor(f6)!)).toEqual({ srcIp: 'fd00::5', dstIp: 'fd00::64', quoted: { srcIp: 'fd00::64', dstIp: 'fd00::5', srcPort: 40001, dstPort: 53 } });
  });

  it('reads nothing from a truncated error, another type or code, a quote of TCP, or a non-first fragment', () => {
    const f = buildUdpProbeFrame({ srcMac: v4.lbMac, dstMac: v4.mac, srcIp: v4.vip, dstIp: v4.ip, srcPort: 40000, dstPort: 5353 });
    const icmp = refusalFor(f)!;
    // Cut inside the quoted UDP ports.
    expect(parsePortUnreachable(icmp.subarray(0, icmp.length - 6))).toBeUndefined();
    expect(parsePortUnreachable(icmp.subarray(0, 14 + 20 + 4))).toBeUndefined();
    const hostUnreachable = Buffer.from(icmp);
    hostUnreachable[34 + 1] = 1;
    expect(parsePortUnreachable(hostUnreachable)).toBeUndefined();
    const echo = Buffer.from(icmp);
    echo[34] = 0;
    expect(parsePortUnreachable(echo)).toBeUndefined();
    const tcpQuote = Buffer.from(icmp);
    tcpQuote[42 + 9] = 6;
    expect(parsePortUnreachable(tcpQuote)).toBeUndefined();
    const fragment = Buffer.from(icmp);
    fragment.writeUInt16BE(100, 20);
    expect(parsePortUnreachable(fragment)).toBeUndefined();
    const f6 = buildUdpProbeFrame({ srcMac: v4.lbMac, dstMac: v4.mac, srcIp: 'fd00::64', dstIp: 'fd00::5', srcPort: 40001, dstPort: 53 });
    const icmp6 = refusalFor(f6)!;
    expect(parsePortUnreachable(icmp6.subarray(0, icmp6.length - 5))).toBeUndefined();
    const noRoute = Buffer.from(icmp6);
    noRoute[55] = 0;
    expect(parsePortUnreachable(noRoute)).toBeUndefined();
    expect(parsePortUnreachable(Buffer.alloc(10))).toBeUndefined();
  });
});

/** A switch stand-in for UDP probes: records packet-outs; the test plays the backend. */
class FakeConn extends EventEmitter {
  connected = true;
  hung = false;
  sent: OfMessage[] = [];
  send(m: OfMessage): Promise<number> {
    this.sent.push(m);
    return Promise.resolve(0);
  }
  barrier(): Promise<void> {
    return this.hung ? new Promise(() => undefined) : Promise.resolve();
  }
  probes(): Buffer[] {
    return this.sent.flatMap((m) => (m.type === 'packet_out' ? [m.data] : []));
  }
  /** The backend's port unreachable for the last probe, from `inPort` (default its port 7) in network 100; `edit` changes its bytes first. */
  unreachable(edit: (icmp: Buffer) => void = () => undefined, inPort = 7): void {
    const icmp = Buffer.from(refusalFor(this.probes().pop()!)!);
    edit(icmp);
    this.emit('message', { type: 'packet_in', xid: 0, bufferId: 0xffffffff, totalLen: icmp.length, reason: 1, tableId: 4, cookie: 0n, match: [{ field: 'in_port', value: inPort }, { field: 'reg0', value: 100 }], data: icmp });
  }
}

function setup(targets: HealthTarget[] = [v4]) {
  const conn = new FakeConn();
  let changes = 0;
  const mon = new LbHealthMonitor({ logger: pino({ level: 'silent' }), targets: () => targets, connection: () => conn as unknown as OpenFlowConnection, onChange: () => changes++ });
  return { conn, mon, changes: () => changes };
}

const flush = () => new Promise((r) => setImmediate(r));

describe('LbHealthMonitor with UDP checks', () => {
  it('sends an empty datagram from the VIP to the checked port, never from a listener port, out of the backend\'s OpenFlow port', () => {
    const { conn, mon } = setup();
    mon.tick(0);
    expect(conn.sent[1]).toMatchObject({ type: 'packet_out', actions: [{ type: 'output', port: 7 }] });
    const p = probeOf(conn.probes()[0]!)!;
    expect(p).toMatchObject({ srcIp: '10.0.0.100', dstIp: '10.0.0.5', dstPort: 5353, length: 8 });
    expect(p.srcPort).toBeGreaterThanOrEqual(32768);
    expect(p.srcPort).not.toBe(53);
  });

  it('counts a port unreachable quoting the probe as a failure, silence as a success: out after unhealthyThreshold, in after healthyThreshold', async () => {
    const { conn, mon, changes } = setup();
    mon.tick(0);
    conn.unreachable();
    expect(mon.healthy('lb1', '10.0.0.5')).toBe(true);
    mon.tick(1000);
    conn.unreachable();
    expect(mon.healthy('lb1', '10.0.0.5')).toBe(false);
    expect(changes()).toBe(1);
    expect(mon.failing()).toEqual([{ loadBalancer: 'lb1', ip: '10.0.0.5', reason: UDP_PORT_UNREACHABLE, since: expect.any(String) }]);
    expect(UDP_PORT_UNREACHABLE).toBe('UDP check: ICMP port unreachable');
    // The server is back: its probes go unanswered (or answered with a datagram, which a flow drops).
    for (const t of [2000, 2600, 3000, 3600]) {
      mon.tick(t);
      await flush();
    }
    expect(mon.healthy('lb1', '10.0.0.5')).toBe(true);
    expect(changes()).toBe(2);
  });

  it('ignores an error that does not quote the pending probe: another source port, another checked port, another backend, or from another OpenFlow port', async () => {
    const strict = { ...v4, timing: { ...v4.timing, unhealthyThreshold: 1 } };
    const { conn, mon } = setup([strict]);
    // Ethernet 14 + IPv4 20 + ICMP 8 + the quoted IPv4 header 20: the quoted UDP header.
    const quotedUdp = 62;
    let now = 0;
    const attempt = async (edit: (icmp: Buffer) => void, inPort = 7) => {
      mon.tick(now);
      await flush();
      conn.unreachable(edit, inPort);
      now += 1000;
      mon.tick(now - 400); // timed out unanswered: a success
      await flush();
    };
    await attempt((i) => i.writeUInt16BE((i.readUInt16BE(quotedUdp) + 1) & 0xffff, quotedUdp));
    await attempt((i) => i.writeUInt16BE(5354, quotedUdp + 2));
    await attempt((i) => (i[42 + 19] = 6)); // quotes a datagram to 10.0.0.6
    await attempt((i) => (i[14 + 15] = 6)); // sent by 10.0.0.6
    await attempt(() => undefined, 8);
    expect(mon.healthy('lb1', '10.0.0.5')).toBe(true);
    // The same error unedited counts.
    await attempt(() => undefined);
    expect(mon.failing()[0]?.reason).toBe(UDP_PORT_UNREACHABLE);
  });

  it('counts silence as a failure while the backend\'s NIC link is down (no ICMP can come back), and as a pass again once it is up (QA-152 F2)', async () => {
    const conn = new FakeConn();
    let down = false;
    const asked: Array<string | undefined> = [];
    const mon = new LbHealthMonitor({
      logger: pino({ level: 'silent' }),
      targets: () => [{ ...v4, portKey: 't1/w3' }],
      connection: () => conn as unknown as OpenFlowConnection,
      onChange: () => undefined,
      linkDown: (t) => (asked.push(t.portKey), down),
    });
    const silentRound = async (t: number) => {
      mon.tick(t);
      await flush();
      mon.tick(t + 600); // timed out, unanswered
    };
    await silentRound(0);
    expect(mon.healthy('lb1', '10.0.0.5')).toBe(true);
    down = true;
    await silentRound(1000);
    await silentRound(2000);
    // Before: "no ICMP", a pass, for as long as the link stayed down.
    expect(mon.healthy('lb1', '10.0.0.5')).toBe(false);
    expect(mon.failing()).toEqual([{ loadBalancer: 'lb1', ip: '10.0.0.5', reason: UDP_LINK_DOWN, since: expect.any(String) }]);
    expect(asked.every((k) => k === 't1/w3')).toBe(true);
    down = false;
    await silentRound(3000);
    await silentRound(4000);
    expect(mon.healthy('lb1', '10.0.0.5')).toBe(true);
  });

  it('does not count silence as a success when the switch did not answer either', async () => {
    const { conn, mon } = setup([{ ...v4, timing: { ...v4.timing, unhealthyThreshold: 1 } }]);
    conn.hung = true;
    mon.tick(0);
    await flush();
    mon.tick(600);
    expect(mon.failing()[0]?.reason).toMatch(/^not checked: the switch of node hv1 did not answer/);
  });

  it('keeps TCP and UDP probes of one address and port apart: a TCP target is still checked with a SYN', () => {
    const { conn, mon } = setup([{ ...v4, protocol: 'TCP' }]);
    mon.tick(0);
    const f = conn.probes()[0]!;
    expect(f[23]).toBe(6);
    // A port unreachable for a datagram never sent settles nothing.
    conn.sent.push({ type: 'packet_out', xid: 0, bufferId: 0, inPort: 0, actions: [], data: buildUdpProbeFrame({ srcMac: v4.lbMac, dstMac: v4.mac, srcIp: v4.vip, dstIp: v4.ip, srcPort: f.readUInt16BE(34), dstPort: 5353 }) } as OfMessage);
    conn.unreachable();
    expect(mon.failing()).toEqual([]);
  });
});

describe('checked ports', () => {
  const lb = (healthCheck: NonNullable<LoadBalancer['spec']>['healthCheck']): LoadBalancer =>
    ({
      apiVersion: 'vnet.dev/v1alpha1',
      kind: 'LoadBalancer',
      metadata: { name: 'mix', namespace: 't', uid: 'u1' },
      spec: { network: 'n', listeners: [{ port: 53, protocol: 'UDP', targetPort: 5353 }, { port: 53, protocol: 'TCP', targetPort: 5300 }, { port: 80, protocol: 'TCP' }], healthCheck },
    }) as LoadBalancer;

  it('a mixed load balancer checked over TCP (the default) checks its TCP target ports, over UDP its UDP ones, and a port replaces them', () => {
    expect(checkedPortsOf(lb({}))).toEqual({ protocol: 'TCP', ports: [80, 5300] });
    expect(checkedPorts(lb({ protocol: 'TCP' }))).toEqual([80, 5300]);
    expect(udpCheckedPorts(lb({ protocol: 'TCP' }))).toEqual([]);
    expect(checkedPortsOf(lb({ protocol: 'UDP' }))).toEqual({ protocol: 'UDP', ports: [5353] });
    expect(checkedPorts(lb({ protocol: 'UDP' }))).toEqual([]);
    expect(checkedPortsOf(lb({ protocol: 'TCP', port: 8053 }))).toEqual({ protocol: 'TCP', ports: [8053] });
    expect(checkedPortsOf(lb({ protocol: 'UDP', port: 9 }))).toEqual({ protocol: 'UDP', ports: [9] });
    expect(checkedPortsOf(lb(undefined))).toEqual({ protocol: 'TCP', ports: [] });
  });

  it('targets carry the protocol, and every listener port (TCP and UDP) is kept from being a source port', () => {
    const model = {
      networks: new Map([['n-uid', { uid: 'n-uid', key: 't/n', version: '1', vni: 100, encapsulation: 'geneve' }]]),
      loadBalancers: new Map([
        ['u1', { uid: 'u1', key: 't/mix', version: '1', network: 'n-uid', vip: '10.0.0.100', mac: v4.lbMac, listeners: [{ protocol: 'UDP', port: 53, targetPort: 5353 }, { protocol: 'TCP', port: 80, targetPort: 80 }], backends: [{ name: 'a', ip: '10.0.0.5', mac: v4.mac, weight: 1, healthy: true, node: 'hv1', ofport: 7 }] }],
      ]),
    } as unknown as LogicalModel;
    expect(healthTargets([lb({ protocol: 'UDP' })], model)).toEqual([expect.objectContaining({ protocol: 'UDP', port: 5353, listenerPorts: [53, 80] })]);
  });
});
