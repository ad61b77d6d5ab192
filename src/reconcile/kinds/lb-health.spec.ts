import { EventEmitter } from 'node:events';
import pino from 'pino';
import type { OfMessage, OpenFlowConnection } from '../../openflow';
import { LbHealthMonitor, backendKey, type HealthTarget } from './lb-health';
import { TCP_FLAGS, buildTcpFrame, parseTcpFrame } from './lb-health-packets';

/** A switch stand-in: records what vnetd sends; the test plays the backend. */
class FakeConn extends EventEmitter {
  connected = true;
  sent: OfMessage[] = [];
  /** A hung ovs-vswitchd: its connection still up, nothing answered. */
  hung = false;
  send(m: OfMessage): Promise<number> {
    this.sent.push(m);
    return Promise.resolve(0);
  }
  barrier(): Promise<void> {
    return this.hung ? new Promise(() => undefined) : Promise.resolve();
  }
  lastSyn() {
    const outs = this.sent.filter((m) => m.type === 'packet_out');
    const m = outs[outs.length - 1];
    return m?.type === 'packet_out' ? parseTcpFrame(m.data) : undefined;
  }
  /** The backend answers the last probe (SYN-ACK or RST), as the LbNat health flow would deliver it. */
  answer(flags: number, change: { ack?: number; inPort?: number } = {}) {
    const syn = this.lastSyn()!;
    const out = this.sent.filter((m) => m.type === 'packet_out').pop();
    // From the port the probe went out of (OVS puts in_port in every packet-in's match).
    const inPort = change.inPort ?? (out?.type === 'packet_out' && out.actions[0]?.type === 'output' ? out.actions[0].port : 0);
    const data = buildTcpFrame({ srcMac: syn.dstMac, dstMac: syn.srcMac, srcIp: syn.dstIp, dstIp: syn.srcIp, srcPort: syn.dstPort, dstPort: syn.srcPort, seq: 77, ack: change.ack ?? (syn.seq + 1) >>> 0, flags });
    this.emit('message', { type: 'packet_in', xid: 0, bufferId: 0xffffffff, totalLen: data.length, reason: 1, tableId: 4, cookie: 0n, match: [{ field: 'in_port', value: inPort }], data });
  }
}

const target: HealthTarget = {
  lbUid: 'lb1',
  vip: '10.0.0.100',
  lbMac: '02:4c:42:00:00:01',
  ip: '10.0.0.5',
  mac: '02:00:00:00:00:05',
  port: 8080,
  node: 'hv1',
  ofport: 7,
  timing: { intervalMs: 1000, timeoutMs: 500, healthyThreshold: 2, unhealthyThreshold: 2 },
};

function setup(targets: HealthTarget[] = [target]) {
  const conn = new FakeConn();
  let changes = 0;
  const mon = new LbHealthMonitor({
    logger: pino({ level: 'silent' }),
    targets: () => targets,
    connection: () => conn as unknown as OpenFlowConnection,
    onChange: () => changes++,
  });
  return { conn, mon, changes: () => changes };
}

const flush = () => new Promise((r) => setImmediate(r));

describe('LbHealthMonitor', () => {
  it('probes with a SYN from the VIP to the backend port, straight out of its OpenFlow port, after asking for packet-ins', () => {
    const { conn, mon } = setup();
    mon.tick(0);
    expect(conn.sent[0]).toMatchObject({ type: 'set_config', missSendLen: 128 });
    const out = conn.sent[1]!;
    expect(out).toMatchObject({ type: 'packet_out', actions: [{ type: 'output', port: 7 }] });
    expect(conn.lastSyn()).toMatchObject({ srcIp: '10.0.0.100', srcMac: '02:4c:42:00:00:01', dstIp: '10.0.0.5', dstMac: '02:00:00:00:00:05', dstPort: 8080, flags: TCP_FLAGS.SYN });
  });

  it('goes unhealthy after unhealthyThreshold failures (RST or timeout) and back after healthyThreshold SYN-ACKs, resetting each accepted probe', async () => {
    const { conn, mon, changes } = setup();
    mon.tick(0);
    conn.answer(TCP_FLAGS.RST | TCP_FLAGS.ACK);
    expect(mon.healthy('lb1', '10.0.0.5')).toBe(true);
    mon.tick(1000);
    await flush(); // the switch answers the barrier after the probe
    mon.tick(1600); // no answer within 500 ms: second failure
    expect(mon.healthy('lb1', '10.0.0.5')).toBe(false);
    expect(changes()).toBe(1);
    mon.tick(2000);
    const syn = conn.lastSyn()!;
    conn.answer(TCP_FLAGS.SYN | TCP_FLAGS.ACK);
    const rst = conn.lastSyn()!;
    // The half-open connection on the backend is reset with the sequence number it expects.
    expect(rst).toMatchObject({ flags: TCP_FLAGS.RST, seq: (syn.seq + 1) >>> 0, srcPort: syn.srcPort, dstPort: 8080 });
    expect(mon.healthy('lb1', '10.0.0.5')).toBe(false);
    mon.tick(3000);
    conn.answer(TCP_FLAGS.SYN | TCP_FLAGS.ACK);
    expect(mon.healthy('lb1', '10.0.0.5')).toBe(true);
    expect(changes()).toBe(2);
  });

  it('a hung switch (connection up, nothing answered, not even a barrier) takes its backends out naming the switch, not the backend (QA-93)', async () => {
    const { conn, mon } = setup();
    conn.hung = true;
    for (const t of [0, 600, 1000, 1600]) {
      mon.tick(t);
      await flush();
    }
    expect(mon.healthy('lb1', '10.0.0.5')).toBe(false);
    expect(mon.failing()).toEqual([{ loadBalancer: 'lb1', ip: '10.0.0.5', reason: 'not checked: the switch of node hv1 did not answer within 500 ms (neither the probe nor a barrier after it: ovs-vswitchd hung or overloaded)', since: expect.any(String) }]);
    // The switch back, the backend answering: in again after healthyThreshold (2) successes.
    conn.hung = false;
    for (const t of [2000, 3000]) {
      mon.tick(t);
      await flush();
      conn.answer(TCP_FLAGS.SYN | TCP_FLAGS.ACK);
    }
    expect(mon.healthy('lb1', '10.0.0.5')).toBe(true);
    // A switch that answers, a backend that does not: the backend's failure.
    for (const t of [4000, 4600, 5000, 5600]) {
      mon.tick(t);
      await flush();
    }
    expect(mon.failing()[0]?.reason).toBe('no answer');
  });

  it('does not count a probe lost with the connection to the node', () => {
    const { conn, mon } = setup();
    mon.tick(0);
    conn.connected = false;
    mon.tick(1000);
    mon.tick(2000);
    mon.tick(3000);
    expect(mon.healthy('lb1', '10.0.0.5')).toBe(true);
  });

  it('ignores answers that do not match the pending probe', () => {
    const { conn, mon } = setup();
    mon.tick(0);
    const syn = conn.lastSyn()!;
    const data = buildTcpFrame({ srcMac: syn.dstMac, dstMac: syn.srcMac, srcIp: syn.dstIp, dstIp: syn.srcIp, srcPort: syn.dstPort, dstPort: (syn.srcPort + 1) & 0xffff, seq: 1, ack: 0, flags: TCP_FLAGS.RST });
    conn.emit('message', { type: 'packet_in', xid: 0, bufferId: 0, totalLen: 0, reason: 1, tableId: 4, cookie: 0n, match: [], data });
    mon.tick(1000); // the real probe timed out: one failure only
    expect(mon.healthy('lb1', '10.0.0.5')).toBe(true);
  });

  it('counts only an answer that acknowledges the probe, from the backend\'s own port on the probe\'s switch (QA-108 F2)', () => {
    // Two tenants' load balancers with the same VIP and backend address, on two nodes; one answer decides.
    const strict = { ...target.timing, healthyThreshold: 1, unhealthyThreshold: 1 };
    const mine: HealthTarget = { ...target, timing: strict };
    const other: HealthTarget = { ...target, lbUid: 'lb2', node: 'hv2', ofport: 9, timing: strict };
    const conns = { hv1: new FakeConn(), hv2: new FakeConn() };
    const mon = new LbHealthMonitor({ logger: pino({ level: 'silent' }), targets: () => [mine, other], connection: (n) => conns[n as 'hv1' | 'hv2'] as unknown as OpenFlowConnection, onChange: () => undefined });
    mon.tick(0);
    expect(conns.hv1.lastSyn()!.srcPort).not.toBe(conns.hv2.lastSyn()!.srcPort);
    // RSTs that do not acknowledge the SYN (no ACK flag, another number), from another port, and
    // hv2's backend's answer delivered on hv1's connection: none counts.
    conns.hv1.answer(TCP_FLAGS.RST);
    conns.hv1.answer(TCP_FLAGS.RST | TCP_FLAGS.ACK, { ack: 12345 });
    conns.hv2.answer(TCP_FLAGS.RST | TCP_FLAGS.ACK, { inPort: 7 });
    const fromHv2 = conns.hv2.lastSyn()!;
    const data = buildTcpFrame({ srcMac: fromHv2.dstMac, dstMac: fromHv2.srcMac, srcIp: fromHv2.dstIp, dstIp: fromHv2.srcIp, srcPort: fromHv2.dstPort, dstPort: fromHv2.srcPort, seq: 1, ack: (fromHv2.seq + 1) >>> 0, flags: TCP_FLAGS.RST | TCP_FLAGS.ACK });
    conns.hv1.emit('message', { type: 'packet_in', xid: 0, bufferId: 0, totalLen: data.length, reason: 1, tableId: 4, cookie: 0n, match: [{ field: 'in_port', value: 9 }], data });
    expect(mon.failing()).toEqual([]);
    // The real answers: hv1's backend accepts, hv2's refuses; each counts for its own load balancer.
    conns.hv1.answer(TCP_FLAGS.SYN | TCP_FLAGS.ACK);
    conns.hv2.answer(TCP_FLAGS.RST | TCP_FLAGS.ACK);
    expect(mon.failing().map((f) => [f.loadBalancer, f.reason])).toEqual([['lb2', 'RST']]);
    expect(mon.healthy('lb1', '10.0.0.5')).toBe(true);
  });

  it('lists the failing backends once per (load balancer, address), with the failure that counted and since when', async () => {
    const second = { ...target, port: 9090 };
    const { conn, mon } = setup([target, second]);
    expect(mon.failing()).toEqual([]);
    for (const at of [0, 1000]) {
      mon.tick(at);
      await flush(); // the switch answers the barrier after the probes
      // Both probes are pending; the last SYN sent belongs to `second`: it answers RST, `target` never answers.
      conn.answer(TCP_FLAGS.RST | TCP_FLAGS.ACK);
    }
    mon.tick(1600);
    const failing = mon.failing();
    expect(failing).toEqual([{ loadBalancer: 'lb1', ip: '10.0.0.5', reason: expect.stringMatching(/^(RST|no answer)$/), since: expect.any(String) }]);
    expect(Number.isNaN(Date.parse(failing[0]!.since))).toBe(false);
  });

  it('starts a backend reported failing before the restart unhealthy, before and after its first probe, until healthyThreshold successes', () => {
    const { conn, mon, changes } = setup();
    const since = '2026-11-01T00:00:00.000Z';
    mon.start(new Map([[backendKey('lb1', '10.0.0.5'), { loadBalancer: 'lb1', ip: '10.0.0.5', reason: 'RST', since }]]));
    mon.stop();
    expect(mon.healthy('lb1', '10.0.0.5')).toBe(false);
    mon.tick(0);
    expect(mon.healthy('lb1', '10.0.0.5')).toBe(false);
    expect(mon.failing()).toEqual([{ loadBalancer: 'lb1', ip: '10.0.0.5', reason: 'RST', since }]);
    expect(changes()).toBe(0);
    conn.answer(TCP_FLAGS.SYN | TCP_FLAGS.ACK);
    expect(mon.healthy('lb1', '10.0.0.5')).toBe(false);
    mon.tick(1000);
    conn.answer(TCP_FLAGS.SYN | TCP_FLAGS.ACK);
    expect(mon.healthy('lb1', '10.0.0.5')).toBe(true);
    expect(mon.failing()).toEqual([]);
    expect(changes()).toBe(1);
  });

  it('drops a backend reported failing before the restart that is no longer checked, and says so once', () => {
    const { mon, changes } = setup();
    mon.start(new Map([[backendKey('gone', '10.0.0.9'), { loadBalancer: 'gone', ip: '10.0.0.9', reason: 'RST', since: '' }]]));
    mon.stop();
    expect(mon.healthy('gone', '10.0.0.9')).toBe(false);
    mon.tick(0);
    expect(mon.healthy('gone', '10.0.0.9')).toBe(true);
    expect(changes()).toBe(1);
    mon.tick(1);
    expect(changes()).toBe(1);
  });
});

describe('health-check frames over IPv6', () => {
  it('builds a SYN with a valid TCP checksum and parses it back', () => {
    const seg = { srcMac: '0a:00:00:00:00:01', dstMac: '02:00:00:00:00:05', srcIp: 'fd00:10::64', dstIp: 'fd00:10::5', srcPort: 33000, dstPort: 8080, seq: 12345, ack: 0, flags: TCP_FLAGS.SYN };
    const f = buildTcpFrame(seg);
    expect(f.readUInt16BE(12)).toBe(0x86dd);
    expect(f.length).toBe(14 + 40 + 20);
    expect(parseTcpFrame(f)).toEqual(seg);
    // The checksum over the pseudo-header and segment sums to 0xffff when right.
    const pseudo = Buffer.alloc(40);
    f.copy(pseudo, 0, 22, 54);
    pseudo.writeUInt32BE(20, 32);
    pseudo[39] = 6;
    const all = Buffer.concat([pseudo, f.subarray(54)]);
    let s = 0;
    for (let i = 0; i < all.length; i += 2) s += all.readUInt16BE(i);
    while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
    expect(s).toBe(0xffff);
  });
});
