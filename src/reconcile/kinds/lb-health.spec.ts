import { EventEmitter } from 'node:events';
import pino from 'pino';
import type { OfMessage, OpenFlowConnection } from '../../openflow';
import { AWAITING_FIRST_CHECK, LbHealthMonitor, backendKey, probeAnswer, type HealthTarget } from './lb-health';
import { TCP_FLAGS, buildTcpFrame, parseTcpFrame, type TcpSegment } from './lb-health-packets';

/** A probe as it went out: the SYN and the OpenFlow port it was sent out of. */
interface SentProbe {
  syn: TcpSegment;
  port: number;
}

/** A switch stand-in: records what vnetd sends; the test plays the backend. */
class FakeConn extends EventEmitter {
  connected = true;
  sent: OfMessage[] = [];
  /** A hung ovs-vswitchd: its connection still up, nothing answered. */
  hung = false;
  /** vniOf: each VM port's network, as the Classifier loads it into the Network register (reg0) from in_port. */
  constructor(private readonly vniOf: Record<number, number> = { 7: 100 }) {
    super();
  }
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
  /** Every probe (SYN) sent so far, oldest first. */
  probes(): SentProbe[] {
    const out: SentProbe[] = [];
    for (const m of this.sent) {
      const syn = m.type === 'packet_out' ? parseTcpFrame(m.data) : undefined;
      if (m.type === 'packet_out' && syn?.flags === TCP_FLAGS.SYN && m.actions[0]?.type === 'output') out.push({ syn, port: m.actions[0].port });
    }
    return out;
  }
  /** The backend answers the last probe (SYN-ACK or RST), as the LbNat health flow would deliver it. */
  answer(flags: number, change: { ack?: number; inPort?: number; network?: number } = {}) {
    this.reply(this.probes().pop()!, flags, change);
  }
  /**
   * An answer to `to` from the port it went out of, in that port's network (OVS puts in_port and
   * every nonzero register in a packet-in's match), acknowledging its SYN; `change` says otherwise.
   */
  reply(to: SentProbe, flags: number, change: { ack?: number; inPort?: number; network?: number } = {}) {
    const { syn } = to;
    const inPort = change.inPort ?? to.port;
    const network = change.network ?? this.vniOf[inPort];
    const data = buildTcpFrame({ srcMac: syn.dstMac, dstMac: syn.srcMac, srcIp: syn.dstIp, dstIp: syn.srcIp, srcPort: syn.dstPort, dstPort: syn.srcPort, seq: 77, ack: change.ack ?? (syn.seq + 1) >>> 0, flags });
    const match = network === undefined ? [{ field: 'in_port', value: inPort }] : [{ field: 'in_port', value: inPort }, { field: 'reg0', value: network }];
    this.emit('message', { type: 'packet_in', xid: 0, bufferId: 0xffffffff, totalLen: data.length, reason: 1, tableId: 4, cookie: 0n, match, data });
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
  vni: 100,
  timing: { intervalMs: 1000, timeoutMs: 500, healthyThreshold: 2, unhealthyThreshold: 2 },
};

/** One answer decides: the checks below need no series. */
const strict = { ...target.timing, healthyThreshold: 1, unhealthyThreshold: 1 };

function setup(targets: HealthTarget[] = [target], vniOf?: Record<number, number>, lines: string[] = []) {
  const conn = new FakeConn(vniOf);
  let changes = 0;
  const mon = new LbHealthMonitor({
    logger: pino({ level: 'info' }, { write: (l: string) => void lines.push(l) }),
    targets: () => targets,
    connection: () => conn as unknown as OpenFlowConnection,
    onChange: () => changes++,
  });
  return { conn, mon, changes: () => changes };
}

const flush = () => new Promise((r) => setImmediate(r));

describe('LbHealthMonitor', () => {
  it('sends at most probesPerSecond probes, oldest due first: a load balancer with many targets slows every check and fails none (QA-151 F1)', async () => {
    // A tenant's load balancer of 40 targets checked every second, and another's single backend, at 20 probes a second.
    const storm = Array.from({ length: 40 }, (_, i) => ({ ...target, lbUid: 'storm', ip: `10.0.1.${i + 1}`, mac: `02:00:00:00:01:${(i + 1).toString(16).padStart(2, '0')}` }));
    const victim = { ...target, lbUid: 'victim' };
    const conn = new FakeConn();
    const lines: string[] = [];
    const mon = new LbHealthMonitor({ logger: pino({ level: 'info' }, { write: (l: string) => void lines.push(l) }), targets: () => [...storm, victim], connection: () => conn as unknown as OpenFlowConnection, onChange: () => undefined, probesPerSecond: 20 });
    const probedAt = new Map<string, number[]>();
    for (let t = 0; t <= 5000; t += 200) {
      const before = conn.sent.length;
      mon.tick(t);
      await flush();
      const syns = conn.sent.slice(before).filter((m) => m.type === 'packet_out').map((m) => (m.type === 'packet_out' ? parseTcpFrame(m.data) : undefined));
      // 20 a second: 4 a tick of 200 ms (before: all 41 at once, every second).
      expect(syns.length).toBeLessThanOrEqual(4);
      for (const s of syns) if (s && s.flags === TCP_FLAGS.SYN) probedAt.set(s.dstIp, [...(probedAt.get(s.dstIp) ?? []), t]);
      // Every probe is answered at once: each target passes whenever it is probed.
      for (const s of syns) if (s) conn.emit('message', { type: 'packet_in', xid: 0, bufferId: 0, totalLen: 0, reason: 1, tableId: 4, cookie: 0n, match: [{ field: 'in_port', value: 7 }, { field: 'reg0', value: 100 }], data: buildTcpFrame({ srcMac: s.dstMac, dstMac: s.srcMac, srcIp: s.dstIp, dstIp: s.srcIp, srcPort: s.dstPort, dstPort: s.srcPort, seq: 1, ack: (s.seq + 1) >>> 0, flags: TCP_FLAGS.SYN | TCP_FLAGS.ACK }) });
    }
    // The victim's backend is probed in its turn (twice in 5 s, where 41 targets share 20 a second), and nobody fails.
    expect((probedAt.get(victim.ip) ?? []).length).toBeGreaterThanOrEqual(2);
    expect(mon.failing()).toEqual([]);
    expect(lines.filter((l) => l.includes('lb.health_probes_deferred'))).toHaveLength(1);
  });

  it('spreads the first probes of many targets over their interval, so their answers never come back all at once (QA-124 F6)', () => {
    // 500 load balancers with 3 backends each, on one node, checked every 5 s.
    const timing = { intervalMs: 5000, timeoutMs: 2000, healthyThreshold: 2, unhealthyThreshold: 3 };
    const many = Array.from({ length: 1500 }, (_, i) => ({ ...target, lbUid: `lb${Math.floor(i / 3)}`, ip: `10.0.${i >> 8}.${i & 255}`, timing }));
    const { conn, mon } = setup(many);
    const perTick: number[] = [];
    for (let now = 0; now <= 5000; now += 200) {
      const before = conn.probes().length;
      mon.tick(now);
      perTick.push(conn.probes().length - before);
    }
    // Before: 1500 SYNs in the first tick, and 1500 answers toward a packet-in queue of 100.
    expect(Math.max(...perTick)).toBeLessThanOrEqual(100);
    expect(new Set(conn.probes().map((p) => p.syn.dstIp)).size).toBe(1500);
    // A few targets are not held back at all.
    const few = setup([target, { ...target, ip: '10.0.0.6' }]);
    few.mon.tick(0);
    expect(few.conn.probes()).toHaveLength(2);
  });

  it('probes with a SYN from the VIP to the backend port, straight out of its OpenFlow port, after asking for packet-ins', () => {
    const { conn, mon } = setup();
    mon.tick(0);
    expect(conn.sent[0]).toMatchObject({ type: 'set_config', missSendLen: 128 });
    const out = conn.sent[1]!;
    expect(out).toMatchObject({ type: 'packet_out', actions: [{ type: 'output', port: 7 }] });
    expect(conn.lastSyn()).toMatchObject({ srcIp: '10.0.0.100', srcMac: '02:4c:42:00:00:01', dstIp: '10.0.0.5', dstMac: '02:00:00:00:00:05', dstPort: 8080, flags: TCP_FLAGS.SYN });
  });

  it('goes unhealthy after unhealthyThreshold failures (RST or timeout) and back after healthyThreshold SYN-ACKs, resetting each accepted probe', async () => {
    const lines: string[] = [];
    const { conn, mon, changes } = setup([{ ...target, lbKey: 't/web', backendName: 'vm2' }], undefined, lines);
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
    // Each flip one line, named as status names it; going out is a warning (QA-131: info, by uid only).
    const said = lines.map((l) => JSON.parse(l) as { level: number; event: string; loadBalancer: string; backend: string; msg: string });
    expect(said.map((l) => [l.level, l.event, l.loadBalancer, l.backend])).toEqual([
      [40, 'lb.backend_unhealthy', 't/web', 'vm2'],
      [30, 'lb.backend_healthy', 't/web', 'vm2'],
    ]);
    expect(said[0]!.msg).toMatch(/^load balancer t\/web: backend vm2 \(10\.0\.0\.5:8080 on node hv1\) unhealthy \(.+\): it gets no new connections until it passes its checks again$/);
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
    const mine: HealthTarget = { ...target, timing: strict };
    const other: HealthTarget = { ...target, lbUid: 'lb2', node: 'hv2', ofport: 9, timing: strict };
    const conns = { hv1: new FakeConn(), hv2: new FakeConn({ 9: 100 }) };
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

  describe('which answers count (QA-108 F2)', () => {
    // Two tenants on one node, both with 10.0.0.0/24: the same VIP, backend address and port, their own ports and networks.
    const tenantA: HealthTarget = { ...target, timing: strict };
    const tenantB: HealthTarget = { ...target, lbUid: 'lb2', lbMac: '02:4c:42:00:00:02', ofport: 9, vni: 200, timing: strict };
    const twoTenants = () => {
      const s = setup([tenantA, tenantB], { 7: 100, 9: 200 });
      s.mon.tick(0);
      const byPort = new Map(s.conn.probes().map((p) => [p.port, p]));
      return { ...s, probeA: byPort.get(7)!, probeB: byPort.get(9)! };
    };
    const failures = (mon: LbHealthMonitor) => mon.failing().map((f) => [f.loadBalancer, f.reason]);

    it('cross-network answer not taken: another tenant\'s backend with the same addresses answering a probe is not its answer', () => {
      const { conn, mon, probeA, probeB } = twoTenants();
      // Pending together for one (backend, port, VIP): each has its own source port, so an answer names one probe.
      expect(probeA.syn.srcPort).not.toBe(probeB.syn.srcPort);
      // Tenant B's VM answers tenant A's probe, even acknowledging its sequence number: from B's port, in B's network.
      conn.reply(probeA, TCP_FLAGS.RST | TCP_FLAGS.ACK, { inPort: 9 });
      // From A's port number but not in A's network (the port is another's now): not A's backend either.
      conn.reply(probeA, TCP_FLAGS.RST | TCP_FLAGS.ACK, { network: 200 });
      conn.reply(probeA, TCP_FLAGS.RST | TCP_FLAGS.ACK, { network: 0 });
      expect(failures(mon)).toEqual([]);
      // Each backend's own answer settles its own probe only.
      conn.reply(probeB, TCP_FLAGS.RST | TCP_FLAGS.ACK);
      expect(failures(mon)).toEqual([['lb2', 'RST']]);
      conn.reply(probeA, TCP_FLAGS.SYN | TCP_FLAGS.ACK);
      expect(mon.healthy('lb1', '10.0.0.5')).toBe(true);
      expect(failures(mon)).toEqual([['lb2', 'RST']]);
    });

    it('wrong-ack RST ignored: an RST (or SYN-ACK) that does not acknowledge the probe\'s SYN decides nothing', () => {
      const { conn, mon } = setup([{ ...target, timing: strict }]);
      mon.tick(0);
      const { syn } = conn.probes()[0]!;
      conn.answer(TCP_FLAGS.RST); // no ACK: RFC 9293 SYN-SENT drops it
      conn.answer(TCP_FLAGS.RST | TCP_FLAGS.ACK, { ack: syn.seq }); // the SYN itself not acknowledged
      conn.answer(TCP_FLAGS.RST | TCP_FLAGS.ACK, { ack: (syn.seq + 2) >>> 0 });
      conn.answer(TCP_FLAGS.SYN | TCP_FLAGS.ACK, { ack: (syn.seq + 2) >>> 0 });
      expect(mon.failing()).toEqual([]);
      // Still waiting for its answer: the right one is taken.
      conn.answer(TCP_FLAGS.RST | TCP_FLAGS.ACK);
      expect(failures(mon)).toEqual([['lb1', 'RST']]);
    });

    it('right answer still counted: a SYN-ACK or RST acknowledging the probe, from its port in its network, after stray ones', async () => {
      const { conn, mon } = setup([{ ...target, timing: strict }]);
      mon.tick(0);
      const { syn, port } = conn.probes()[0]!;
      conn.answer(TCP_FLAGS.RST, { ack: 0 }); // a stray RST first: it must not take the probe's place
      conn.answer(TCP_FLAGS.SYN | TCP_FLAGS.ACK);
      expect(mon.failing()).toEqual([]);
      // The half-open connection is reset out of the probe's port.
      const reset = conn.sent[conn.sent.length - 1]!;
      expect(reset).toMatchObject({ type: 'packet_out', actions: [{ type: 'output', port }] });
      expect(reset.type === 'packet_out' && parseTcpFrame(reset.data)).toMatchObject({ flags: TCP_FLAGS.RST, seq: (syn.seq + 1) >>> 0, srcPort: syn.srcPort });
      mon.tick(600); // answered: no timeout after it
      expect(mon.failing()).toEqual([]);
      mon.tick(1000);
      await flush();
      conn.answer(TCP_FLAGS.SYN | TCP_FLAGS.ACK, { ack: 0 }); // a stale SYN-ACK: not a success either
      conn.answer(TCP_FLAGS.RST | TCP_FLAGS.ACK); // what Linux answers on a closed port
      expect(failures(mon)).toEqual([['lb1', 'RST']]);
      mon.tick(2000);
      conn.answer(TCP_FLAGS.SYN | TCP_FLAGS.ACK);
      expect(mon.healthy('lb1', '10.0.0.5')).toBe(true);
    });

    it('a backend that moved while its probe was out is probed again where it is: that answer counts, not the old probe\'s silence', async () => {
      let now: HealthTarget = { ...target, timing: strict };
      const conn = new FakeConn({ 7: 100, 8: 100 });
      const mon = new LbHealthMonitor({ logger: pino({ level: 'silent' }), targets: () => [now], connection: () => conn as unknown as OpenFlowConnection, onChange: () => undefined });
      mon.tick(0);
      await flush();
      now = { ...now, ofport: 8 }; // its VM plugged again: another OpenFlow port
      mon.tick(100);
      const [old, moved] = conn.probes();
      expect([old?.port, moved?.port]).toEqual([7, 8]);
      conn.reply(old!, TCP_FLAGS.RST | TCP_FLAGS.ACK); // the old probe is no longer waited for
      expect(mon.failing()).toEqual([]);
      conn.reply(moved!, TCP_FLAGS.SYN | TCP_FLAGS.ACK);
      mon.tick(600);
      mon.tick(700);
      expect(mon.failing()).toEqual([]);
      expect(mon.healthy('lb1', '10.0.0.5')).toBe(true);
    });
  });

  it('reads an answer as the probing TCP in SYN-SENT would: acknowledging the SYN or nothing, RST before SYN', () => {
    const seg = (flags: number, ack: number): TcpSegment => ({ srcMac: '', dstMac: '', srcIp: '', dstIp: '', srcPort: 1, dstPort: 2, seq: 0, ack, flags });
    expect(probeAnswer(seg(TCP_FLAGS.SYN | TCP_FLAGS.ACK, 0), 0xffffffff)).toBe('SYN-ACK'); // seq + 1 wraps
    expect(probeAnswer(seg(TCP_FLAGS.RST | TCP_FLAGS.ACK, 11), 10)).toBe('RST');
    expect(probeAnswer(seg(TCP_FLAGS.SYN | TCP_FLAGS.RST | TCP_FLAGS.ACK, 11), 10)).toBe('RST');
    expect(probeAnswer(seg(TCP_FLAGS.RST, 11), 10)).toBeUndefined();
    expect(probeAnswer(seg(TCP_FLAGS.SYN, 11), 10)).toBeUndefined();
    expect(probeAnswer(seg(TCP_FLAGS.ACK, 11), 10)).toBeUndefined();
    expect(probeAnswer(seg(TCP_FLAGS.SYN | TCP_FLAGS.ACK, 10), 10)).toBeUndefined();
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
    // Checked on two ports: the failing one is named (QA-128 F8: "RST" alone, whichever port it was).
    expect(failing).toEqual([{ loadBalancer: 'lb1', ip: '10.0.0.5', reason: expect.stringMatching(/^(RST on port 9090|no answer on port 8080)$/), since: expect.any(String) }]);
    expect(Number.isNaN(Date.parse(failing[0]!.since))).toBe(false);
    // One backend's question (a status asks it of each backend out) reads as the list does.
    expect(mon.failingOf('lb1', '10.0.0.5')).toEqual(failing[0]);
    expect(mon.failingOf('lb1', '10.0.0.6')).toBeUndefined();
    expect(mon.failingOf('lb2', '10.0.0.5')).toBeUndefined();
  });

  it('a backend added to a load balancer already checked is out until its first check succeeds; a new port of a known backend is not (QA-128 F2)', () => {
    const targets: HealthTarget[] = [target];
    const { conn, mon, changes } = setup(targets);
    mon.tick(0);
    // The load balancer's own backends start healthy: it serves at once.
    expect(mon.healthy('lb1', '10.0.0.5')).toBe(true);
    conn.answer(TCP_FLAGS.SYN | TCP_FLAGS.ACK);
    const added = { ...target, ip: '10.0.0.6', mac: '02:00:00:00:00:06' };
    targets.push(added);
    // A compile before the next tick (the model changed, the monitor has not looked yet) does
    // not count it healthy either (QA-152 F3: 1-4 connections to a backend nothing listened on).
    expect(mon.healthy('lb1', '10.0.0.6', 'hv1')).toBe(false);
    expect(mon.awaitingFirstCheck('lb1', '10.0.0.6', 'hv1')).toBe(true);
    expect(mon.awaitingFirstCheck('lb1', '10.0.0.5', 'hv1')).toBe(false);
    // Unbound: not a target, passive health says it.
    expect(mon.awaitingFirstCheck('lb1', '10.0.0.6', undefined)).toBe(false);
    // A load balancer not checked here yet: its backends start healthy.
    expect(mon.healthy('lb2', '10.0.0.6', 'hv1')).toBe(true);
    expect(mon.awaitingFirstCheck('lb2', '10.0.0.6', 'hv1')).toBe(false);
    mon.tick(200);
    // Before: healthy at once, and dealt connections nothing answered until its failures counted.
    expect(mon.healthy('lb1', '10.0.0.6')).toBe(false);
    expect(changes()).toBe(1);
    expect(mon.failing()).toEqual([{ loadBalancer: 'lb1', ip: '10.0.0.6', reason: AWAITING_FIRST_CHECK, since: expect.any(String) }]);
    // Probed at once; one success brings it in, whatever healthyThreshold (2 here).
    expect(conn.lastSyn()).toMatchObject({ dstIp: '10.0.0.6' });
    conn.answer(TCP_FLAGS.SYN | TCP_FLAGS.ACK);
    expect(mon.healthy('lb1', '10.0.0.6')).toBe(true);
    expect(changes()).toBe(2);
    // A first check that fails: out, now for its own reason.
    const third = { ...target, ip: '10.0.0.7', mac: '02:00:00:00:00:07' };
    targets.push(third);
    mon.tick(400);
    conn.answer(TCP_FLAGS.RST | TCP_FLAGS.ACK);
    expect(mon.healthy('lb1', '10.0.0.7')).toBe(false);
    expect(mon.failing().find((b) => b.ip === '10.0.0.7')?.reason).toBe('RST');
    // A listener added: a known backend's new port starts healthy (else every backend left at once).
    targets.push({ ...target, port: 9090 });
    mon.tick(600);
    expect(mon.healthy('lb1', '10.0.0.5')).toBe(true);
  });

  it('an agent\'s monitor leaves another node\'s backends to that node\'s agent: not awaiting, healthy here (review: out of this node\'s slot tables for good)', () => {
    const conn = new FakeConn();
    const mon = new LbHealthMonitor({ logger: pino({ level: 'silent' }), targets: () => [target], connection: () => conn as unknown as OpenFlowConnection, onChange: () => undefined, node: 'hv1' });
    mon.tick(0);
    expect(mon.healthy('lb1', '10.0.0.9', 'hv2')).toBe(true);
    expect(mon.awaitingFirstCheck('lb1', '10.0.0.9', 'hv2')).toBe(false);
    expect(mon.healthy('lb1', '10.0.0.9', 'hv1')).toBe(false);
  });

  it('recompiles when a backend said to await its first check is not taken in after all (its load balancer\'s checks removed in the same write)', () => {
    const targets: HealthTarget[] = [target];
    const { mon, changes } = setup(targets);
    mon.tick(0);
    expect(mon.healthy('lb1', '10.0.0.6', 'hv1')).toBe(false);
    // The write that added 10.0.0.6 also removed the check: no target is left.
    targets.length = 0;
    mon.tick(200);
    expect(changes()).toBe(1);
    expect(mon.healthy('lb1', '10.0.0.6', 'hv1')).toBe(true);
    // Asked of once: told once.
    mon.tick(400);
    expect(changes()).toBe(1);
  });

  it('probes a known backend\'s new target port at once, and its first failure takes the backend out (QA-134 F4: healthy for 10 s while nothing listened there)', () => {
    const targets: HealthTarget[] = [target];
    const { conn, mon, changes } = setup(targets);
    mon.tick(0);
    conn.answer(TCP_FLAGS.SYN | TCP_FLAGS.ACK);
    expect(mon.healthy('lb1', '10.0.0.5')).toBe(true);
    // The listener's target port changed: 8080 is no longer checked, 8081 is, at this tick.
    targets[0] = { ...target, port: 8081 };
    mon.tick(100);
    expect(conn.lastSyn()).toMatchObject({ dstIp: '10.0.0.5', dstPort: 8081 });
    expect(mon.healthy('lb1', '10.0.0.5')).toBe(true);
    conn.answer(TCP_FLAGS.RST | TCP_FLAGS.ACK);
    // One failure, whatever unhealthyThreshold (3 by default): out, saying why.
    expect(mon.healthy('lb1', '10.0.0.5')).toBe(false);
    expect(changes()).toBe(1);
    expect(mon.failing()).toEqual([{ loadBalancer: 'lb1', ip: '10.0.0.5', reason: 'RST', since: expect.any(String) }]);
    // Back to a port that answers: in again after healthyThreshold successes, as any failing backend.
    targets[0] = { ...target, port: 8080 };
    for (let at = 1200; !mon.healthy('lb1', '10.0.0.5') && at < 10_000; at += 1100) {
      mon.tick(at);
      conn.answer(TCP_FLAGS.SYN | TCP_FLAGS.ACK);
    }
    expect(mon.healthy('lb1', '10.0.0.5')).toBe(true);
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

  it('parses an IPv4 segment, and nothing from a fragment other than the first, a frame cut inside the TCP header or another protocol', () => {
    const seg = { srcMac: '02:00:00:00:00:05', dstMac: '0a:00:00:00:00:01', srcIp: '10.0.0.5', dstIp: '10.0.0.100', srcPort: 8080, dstPort: 33000, seq: 1, ack: 12346, flags: TCP_FLAGS.SYN | TCP_FLAGS.ACK };
    const f = buildTcpFrame(seg);
    expect(parseTcpFrame(f)).toEqual(seg);
    const later = Buffer.from(f);
    later.writeUInt16BE(0x0003, 20); // fragment offset 24 bytes: its first bytes are no TCP header
    expect(parseTcpFrame(later)).toBeUndefined();
    expect(parseTcpFrame(f.subarray(0, 14 + 20 + 19))).toBeUndefined();
    const udp = Buffer.from(f);
    udp[23] = 17;
    expect(parseTcpFrame(udp)).toBeUndefined();
  });
});
