import { EventEmitter } from 'node:events';
import pino from 'pino';
import type { OfMessage, OpenFlowConnection } from '../../openflow';
import type { LogicalModel } from '../../pipeline';
import type { LoadBalancer } from '../../resources/kinds';
import { LbHealthMonitor, UDP_NO_REPLY, UDP_PORT_UNREACHABLE, healthTargets, udpExpectsReply, type HealthTarget } from './lb-health';
import { ipv6PayloadChecksum, checksum } from './lb-health-packets';
import { buildUdpProbeFrame, parseUdpDatagram } from './lb-health-udp-packets';
import { refusalFor } from './lb-reject';

const target: HealthTarget = {
  lbUid: 'lb1',
  vip: '10.0.0.100',
  lbMac: '02:4c:42:00:00:01',
  ip: '10.0.0.5',
  mac: '02:00:00:00:00:05',
  port: 5353,
  protocol: 'UDP',
  payload: Buffer.from('ping'),
  expectReply: true,
  node: 'hv1',
  ofport: 7,
  vni: 100,
  timing: { intervalMs: 1000, timeoutMs: 500, healthyThreshold: 2, unhealthyThreshold: 2 },
  listenerPorts: [53],
};

describe('UDP probe payloads and answers', () => {
  it('a probe carries its payload, lengths and checksums covering it (IPv4 and IPv6)', () => {
    const payload = Buffer.from('hello, odd');
    const f = buildUdpProbeFrame({ srcMac: target.lbMac, dstMac: target.mac, srcIp: target.vip, dstIp: target.ip, srcPort: 40000, dstPort: 5353, payload });
    expect(f).toHaveLength(14 + 20 + 8 + payload.length);
    expect(f.readUInt16BE(16)).toBe(20 + 8 + payload.length);
    expect(f.readUInt16BE(38)).toBe(8 + payload.length);
    expect(f.subarray(42)).toEqual(payload);
    expect(checksum(f.subarray(14, 34))).toBe(0);
    const pseudo = Buffer.concat([f.subarray(26, 34), Buffer.from([0, 17]), Buffer.from([0, 8 + payload.length])]);
    expect(checksum(Buffer.concat([pseudo, f.subarray(34)]))).toBe(0);
    const f6 = buildUdpProbeFrame({ srcMac: target.lbMac, dstMac: target.mac, srcIp: 'fd00::64', dstIp: 'fd00::5', srcPort: 40000, dstPort: 53, payload });
    expect(f6.readUInt16BE(18)).toBe(8 + payload.length);
    expect(f6.subarray(62)).toEqual(payload);
    expect(ipv6PayloadChecksum(f6.subarray(22, 38), f6.subarray(38, 54), 17, f6.subarray(54))).toBe(0);
  });

  it('reads a UDP datagram\'s addresses and ports, cut after its header or not; nothing from another protocol or a later fragment', () => {
    const answer = buildUdpProbeFrame({ srcMac: target.mac, dstMac: target.lbMac, srcIp: target.ip, dstIp: target.vip, srcPort: 5353, dstPort: 40000, payload: Buffer.alloc(300) });
    expect(parseUdpDatagram(answer)).toEqual({ srcIp: '10.0.0.5', dstIp: '10.0.0.100', srcPort: 5353, dstPort: 40000 });
    expect(parseUdpDatagram(answer.subarray(0, 128))).toEqual({ srcIp: '10.0.0.5', dstIp: '10.0.0.100', srcPort: 5353, dstPort: 40000 });
    expect(parseUdpDatagram(answer.subarray(0, 14 + 20 + 4))).toBeUndefined();
    const later = Buffer.from(answer);
    later.writeUInt16BE(185, 20);
    expect(parseUdpDatagram(later)).toBeUndefined();
    const icmp = refusalFor(buildUdpProbeFrame({ srcMac: target.lbMac, dstMac: target.mac, srcIp: target.vip, dstIp: target.ip, srcPort: 40000, dstPort: 5353 }))!;
    expect(parseUdpDatagram(icmp)).toBeUndefined();
    const a6 = buildUdpProbeFrame({ srcMac: target.mac, dstMac: target.lbMac, srcIp: 'fd00::5', dstIp: 'fd00::64', srcPort: 53, dstPort: 40001 });
    expect(parseUdpDatagram(a6)).toEqual({ srcIp: 'fd00::5', dstIp: 'fd00::64', srcPort: 53, dstPort: 40001 });
  });
});

/** A switch stand-in: records packet-outs; the test plays the backend, answering the last probe. */
class FakeConn extends EventEmitter {
  connected = true;
  sent: OfMessage[] = [];
  send(m: OfMessage): Promise<number> {
    this.sent.push(m);
    return Promise.resolve(0);
  }
  barrier(): Promise<void> {
    return Promise.resolve();
  }
  lastProbe(): Buffer {
    return this.sent.flatMap((m) => (m.type === 'packet_out' ? [m.data] : [])).pop()!;
  }
  packetIn(data: Buffer, inPort = 7): void {
    this.emit('message', { type: 'packet_in', xid: 0, bufferId: 0xffffffff, totalLen: data.length, reason: 1, tableId: 4, cookie: 0n, match: [{ field: 'in_port', value: inPort }, { field: 'reg0', value: 100 }], data });
  }
  /** The backend's datagram back to the last probe's source; `edit` changes its addresses or ports. */
  reply(edit: Partial<{ srcIp: string; srcPort: number; dstPort: number }> = {}, inPort = 7): void {
    const p = this.lastProbe();
    this.packetIn(buildUdpProbeFrame({ srcMac: target.mac, dstMac: target.lbMac, srcIp: edit.srcIp ?? target.ip, dstIp: target.vip, srcPort: edit.srcPort ?? p.readUInt16BE(36), dstPort: edit.dstPort ?? p.readUInt16BE(34), payload: Buffer.from('pong') }), inPort);
  }
}

function setup(targets: HealthTarget[]) {
  const conn = new FakeConn();
  let changes = 0;
  const mon = new LbHealthMonitor({ logger: pino({ level: 'silent' }), targets: () => targets, connection: () => conn as unknown as OpenFlowConnection, onChange: () => changes++ });
  return { conn, mon, changes: () => changes };
}

const flush = () => new Promise((r) => setImmediate(r));

describe('LbHealthMonitor with UDP checks that demand an answer (udp.expectReply)', () => {
  it('sends the payload; silence fails (out after unhealthyThreshold), a reply from the checked port to the probe\'s source port passes (in after healthyThreshold)', async () => {
    const { conn, mon, changes } = setup([target]);
    mon.tick(0);
    expect(conn.lastProbe().subarray(42).toString()).toBe('ping');
    await flush();
    mon.tick(600);
    expect(mon.healthy('lb1', '10.0.0.5')).toBe(true);
    mon.tick(1000);
    await flush();
    mon.tick(1600);
    expect(mon.healthy('lb1', '10.0.0.5')).toBe(false);
    expect(mon.failing()).toEqual([{ loadBalancer: 'lb1', ip: '10.0.0.5', reason: UDP_NO_REPLY, since: expect.any(String) }]);
    expect(changes()).toBe(1);
    mon.tick(2000);
    conn.reply();
    mon.tick(3000);
    conn.reply();
    expect(mon.healthy('lb1', '10.0.0.5')).toBe(true);
    expect(changes()).toBe(2);
  });

  it('an ICMP port unreachable still fails it', () => {
    const { conn, mon } = setup([{ ...target, timing: { ...target.timing, unhealthyThreshold: 1 } }]);
    mon.tick(0);
    conn.packetIn(refusalFor(conn.lastProbe())!);
    expect(mon.failing()[0]?.reason).toBe(UDP_PORT_UNREACHABLE);
  });

  it('ignores a datagram that does not answer the pending probe: another source port of the backend, another destination port, another backend, another OpenFlow port', async () => {
    const { conn, mon } = setup([{ ...target, timing: { ...target.timing, unhealthyThreshold: 5 } }]);
    let now = 0;
    const attempt = async (answer: () => void) => {
      mon.tick(now);
      await flush();
      answer();
      now += 1000;
      mon.tick(now - 400);
      await flush();
    };
    await attempt(() => conn.reply({ srcPort: 5354 }));
    await attempt(() => conn.reply({ dstPort: 40 }));
    await attempt(() => conn.reply({ srcIp: '10.0.0.6' }));
    await attempt(() => conn.reply({}, 8));
    expect(mon.healthy('lb1', '10.0.0.5')).toBe(true);
    await attempt(() => undefined);
    // Five unanswered in a row: none of the four counted.
    expect(mon.failing()[0]?.reason).toBe(UDP_NO_REPLY);
  });

  it('without expectReply a reply settles nothing: silence passes as before', async () => {
    const { conn, mon } = setup([{ ...target, expectReply: undefined, timing: { ...target.timing, unhealthyThreshold: 1 } }]);
    mon.tick(0);
    conn.reply();
    await flush();
    mon.tick(600);
    expect(mon.healthy('lb1', '10.0.0.5')).toBe(true);
    expect(mon.failing()).toEqual([]);
  });
});

describe('targets of a UDP check with udp', () => {
  const lb = (healthCheck: NonNullable<LoadBalancer['spec']>['healthCheck']): LoadBalancer =>
    ({ apiVersion: 'vnet.dev/v1alpha1', kind: 'LoadBalancer', metadata: { name: 'dns', namespace: 't', uid: 'u1' }, spec: { network: 'n', listeners: [{ port: 53, protocol: 'UDP', targetPort: 5353 }], healthCheck } }) as LoadBalancer;
  const model = {
    networks: new Map([['n-uid', { uid: 'n-uid', key: 't/n', version: '1', vni: 100, encapsulation: 'geneve' }]]),
    loadBalancers: new Map([['u1', { uid: 'u1', key: 't/dns', version: '1', network: 'n-uid', vip: '10.0.0.100', mac: target.lbMac, listeners: [{ protocol: 'UDP', port: 53, targetPort: 5353 }], backends: [{ name: 'a', ip: '10.0.0.5', mac: target.mac, weight: 1, healthy: true, node: 'hv1', ofport: 7 }] }]]),
  } as unknown as LogicalModel;

  it('carry the decoded payload and expectReply; neither without udp', () => {
    const payload = Buffer.from('a DNS query, or any bytes');
    expect(healthTargets([lb({ protocol: 'UDP', udp: { payload: payload.toString('base64'), expectReply: true } })], model)).toEqual([expect.objectContaining({ port: 5353, payload, expectReply: true })]);
    const plain = healthTargets([lb({ protocol: 'UDP' })], model)[0]!;
    expect(plain.payload).toBeUndefined();
    expect(plain.expectReply).toBeUndefined();
    expect(udpExpectsReply(lb({ protocol: 'UDP', udp: { expectReply: true } }))).toBe(true);
    expect(udpExpectsReply(lb({ protocol: 'UDP', udp: { expectReply: false } }))).toBe(false);
    expect(udpExpectsReply(lb({ protocol: 'TCP', port: 80, udp: { expectReply: true } }))).toBe(false);
  });
});
