/**
 * Tunnel probes over fake node connections: a "wire" delivers each packet-out into the
 * tunnel to the node whose tunnel IP it names, unless the test cuts either end off. There the
 * node's "switch" does what the probe flows do (pipeline/tunnel-probe.ts): a probe to reflect
 * goes back to its sender's controller as an echo (ECHO_MAC), without the peer's controller;
 * anything else goes to the peer's controller as a packet-in of the Classifier table, unless
 * that controller is hung. Each node's TunnelsUp outcome follows the round trips.
 */
import { EventEmitter } from 'node:events';
import pino from 'pino';
import type { OfMessage, OpenFlowConnection } from '../../openflow';
import { TABLES, type LogicalModel } from '../../pipeline';
import { TunnelProber, parseProbe, probeFrame, type TunnelsOutcome } from './tunnel-probes';

type Sent = Extract<OfMessage, { type: 'packet_out' }>;

function bed(names: string[]) {
  const model: LogicalModel = {
    networks: new Map(),
    ports: new Map(),
    nodes: new Map(names.map((n, i) => [n, { name: n, tunnelIP: `198.18.0.${i + 1}`, tunnelPorts: { vxlan: 1, geneve: 2 } }])),
  };
  let now = 1_000_000;
  const reports = new Map<string, TunnelsOutcome>();
  const ready = new Set(names);
  const prober = new TunnelProber({ logger: pino({ level: 'silent' }), model: () => model, report: (n, o) => reports.set(n, o), intervalMs: 1000, now: () => now, peerReady: (n) => ready.has(n) });
  const cut = new Set<string>();
  /** Nodes whose controller (or agent) reads and answers nothing: their switch still reflects probes. */
  const hung = new Set<string>();
  /** Nodes of an earlier release: their switch reflects nothing, their controller echoes. */
  const legacy = new Set<string>();
  /** "node/ofport": what the node sends out of that tunnel port is lost (one tunnel type filtered). */
  const cutPorts = new Set<string>();
  const conns = new Map<string, EventEmitter & { connected: boolean; send(m: OfMessage): Promise<void> }>();
  const sent: Array<{ from: string; m: Sent }> = [];
  for (const name of names) {
    const conn = Object.assign(new EventEmitter(), {
      connected: true,
      send: (m: OfMessage) => {
        if (m.type !== 'packet_out') return Promise.resolve();
        sent.push({ from: name, m });
        const dst = m.actions.find((a) => a.type === 'set_field' && a.field === 'tun_ipv4_dst');
        const to = [...model.nodes.values()].find((n) => dst && 'value' in dst && n.tunnelIP === dst.value);
        // Delivered later (a packet-out is not a synchronous call), unless either end is cut off.
        const out = m.actions.find((a) => a.type === 'output');
        const passes = (from: string, port: unknown) => !cut.has(from) && !cutPorts.has(`${from}/${String(port)}`);
        const packetIn = (node: string, data: Buffer) => setImmediate(() => !hung.has(node) && conns.get(node)!.emit('message', { type: 'packet_in', xid: 0, bufferId: 0xffffffff, totalLen: data.length, reason: 1, tableId: TABLES.Classifier.id, cookie: 0n, match: [], data } as OfMessage));
        if (!to || cut.has(to.name) || !passes(name, out && 'port' in out ? out.port : undefined)) return Promise.resolve();
        if (!legacy.has(to.name) && m.data.subarray(0, 6).equals(Buffer.from([0x02, 0x76, 0x6e, 0x65, 0x74, 0x72]))) {
          // The peer's switch reflects it, out the same port (the same number on every node here).
          if (passes(to.name, out && 'port' in out ? out.port : undefined)) packetIn(name, Buffer.concat([Buffer.from([0x02, 0x76, 0x6e, 0x65, 0x74, 0x65]), m.data.subarray(6)]));
        } else packetIn(to.name, m.data);
        return Promise.resolve();
      },
    });
    conns.set(name, conn);
    prober.attach(name, conn as unknown as OpenFlowConnection);
  }
  const settle = () => new Promise((r) => setImmediate(() => setImmediate(r)));
  /** One probing round, its deliveries and echoes, then the clock moves on a second. */
  const round = async () => {
    prober.tick();
    await settle();
    await settle();
    now += 1000;
  };
  return { prober, reports, cut, cutPorts, hung, legacy, sent, round, ready, conns, model, settle };
}

describe('tunnel probes', () => {
  it('a probe frame carries who sent it to whom over which tunnel; anything else is not one', () => {
    const f = probeFrame({ kind: 'probe', from: 'hv1', to: 'hv2', encap: 'geneve', nonce: 'ab12' });
    expect(f.readUInt16BE(12)).toBe(0x88b5);
    expect(parseProbe(f)).toEqual({ kind: 'probe', from: 'hv1', to: 'hv2', encap: 'geneve', nonce: 'ab12', reflected: false });
    // For the peer's switch to reflect (REFLECT_MAC); reflected, it comes back to ECHO_MAC.
    expect(f.subarray(0, 6).toString('hex')).toBe('02766e657472');
    expect(parseProbe(Buffer.concat([Buffer.from('02766e657465', 'hex'), f.subarray(6)]))).toMatchObject({ kind: 'probe', reflected: true });
    // An echo, of an earlier release's probe, goes as that release's were (LEGACY_PROBE_MAC).
    expect(probeFrame({ kind: 'echo', from: 'hv1', to: 'hv2', encap: 'geneve', nonce: 'ab12' }).subarray(0, 6).toString('hex')).toBe('02766e657470');
    expect(parseProbe(Buffer.concat([f.subarray(0, 14), Buffer.from('{"vnetdProbe":1,"kind":"probe"}')]))).toBeUndefined();
    expect(parseProbe(Buffer.concat([f.subarray(0, 14), Buffer.from('not json')]))).toBeUndefined();
    const arp = Buffer.from(f);
    arp.writeUInt16BE(0x0806, 12);
    expect(parseProbe(arp)).toBeUndefined();
  });

  it('sends each peer a probe through each tunnel type, with tunnel id 0 to its tunnel IP; reports Unknown Probing before the first ones could come back (so that its peers probe it at once), then TunnelsUp True', async () => {
    const { prober, reports, sent, round } = bed(['hv1', 'hv2', 'hv3']);
    try {
      await round();
      const probes = sent.filter((s) => parseProbe(s.m.data)?.kind === 'probe');
      // 3 nodes x 2 peers x 2 tunnel types.
      expect(probes).toHaveLength(12);
      const p = probes.find((s) => s.from === 'hv1' && parseProbe(s.m.data)!.to === 'hv3' && parseProbe(s.m.data)!.encap === 'geneve')!;
      expect(p.m.actions).toEqual([
        { type: 'set_field', field: 'tun_ipv4_dst', value: '198.18.0.3' },
        { type: 'set_field', field: 'tunnel_id', value: 0n },
        { type: 'output', port: 2, maxLen: 0 },
      ]);
      // Every probe was reflected by its peer's switch: no controller sent an echo.
      expect(sent.filter((s) => parseProbe(s.m.data)?.kind === 'echo')).toHaveLength(0);
      // Said at once: peers probe a node once it reports TunnelsUp (two agents started together
      // each waited for the other's first verdict: 25-35 s to ProbesAnswered, not 11 s).
      expect([...reports.values()]).toEqual([0, 1, 2].map(() => ({ status: 'Unknown', reason: 'Probing', message: 'tunnel probes to 2 peer(s) are out: judged within two rounds' })));
      for (let i = 0; i < 3; i++) await round();
      expect(reports.get('hv1')).toEqual({ status: 'True', reason: 'ProbesAnswered', message: 'tunnel probes to every Ready peer come back' });
      expect(reports.get('hv3')?.status).toBe('True');
    } finally {
      prober.stop();
    }
  });

  it('a node cut off from the underlay (its tunnel IP gone): False on it naming every peer, and on its peers naming it alone; True again once it is back', async () => {
    const { prober, reports, cut, round } = bed(['hv1', 'hv2', 'hv3']);
    try {
      for (let i = 0; i < 4; i++) await round();
      expect(reports.get('hv2')?.status).toBe('True');
      cut.add('hv2');
      for (let i = 0; i < 4; i++) await round();
      expect(reports.get('hv2')).toMatchObject({ status: 'False', reason: 'NoProbeAnswered' });
      expect(reports.get('hv2')!.message).toBe('no tunnel probe came back in 3 s from hv1 (geneve), hv1 (vxlan), hv3 (geneve), hv3 (vxlan): check that this host holds its tunnel IP 198.18.0.2, routes to its peers, that UDP 4789 (VXLAN) and 6081 (GENEVE) pass, and that Open vSwitch runs there (its switch answers the probes)');
      expect(reports.get('hv1')).toMatchObject({ status: 'False', reason: 'ProbesUnanswered' });
      expect(reports.get('hv1')!.message).toMatch(/^no tunnel probe came back in 3 s from hv2 \(geneve\), hv2 \(vxlan\): check that those hosts hold their tunnel IPs, this host routes to them/);
      // The peers lost on every tunnel type, by name: what the leader reads to tell a dead hypervisor (lost-by-peers.ts).
      expect(reports.get('hv2')!.unansweredPeers).toEqual(['hv1', 'hv3']);
      expect(reports.get('hv1')!.unansweredPeers).toEqual(['hv2']);
      expect(reports.get('hv3')!.unansweredPeers).toEqual(['hv2']);
      cut.delete('hv2');
      for (let i = 0; i < 2; i++) await round();
      expect([...reports.values()].map((r) => r.status)).toEqual(['True', 'True', 'True']);
      expect([...reports.values()].map((r) => r.unansweredPeers)).toEqual([undefined, undefined, undefined]);
    } finally {
      prober.stop();
    }
  });

  it("a peer whose controller (or agent) hangs is still answered by its switch: its peers' tunnels stay up (QA-146 F1: they said False, blaming the underlay, while the tunnels carried traffic)", async () => {
    const { prober, reports, hung, round } = bed(['hv1', 'hv2', 'hv3']);
    try {
      for (let i = 0; i < 4; i++) await round();
      hung.add('hv2');
      for (let i = 0; i < 6; i++) await round();
      expect(reports.get('hv1')).toMatchObject({ status: 'True', reason: 'ProbesAnswered' });
      expect(reports.get('hv3')).toMatchObject({ status: 'True', reason: 'ProbesAnswered' });
    } finally {
      prober.stop();
    }
  });

  it("a peer of an earlier release (its switch reflects nothing, its controller echoes) answers as before, and is answered", async () => {
    const { prober, reports, legacy, sent, round } = bed(['hv1', 'hv2']);
    try {
      legacy.add('hv2');
      for (let i = 0; i < 4; i++) await round();
      expect(sent.filter((s) => s.from === 'hv2' && parseProbe(s.m.data)?.kind === 'echo').length).toBeGreaterThan(0);
      expect(reports.get('hv1')).toMatchObject({ status: 'True', reason: 'ProbesAnswered' });
      expect(reports.get('hv2')).toMatchObject({ status: 'True', reason: 'ProbesAnswered' });
    } finally {
      prober.stop();
    }
  });

  it('a peer unanswered on one tunnel type only (UDP 4789 filtered) is named in TunnelsUp but not lost: it still carries the other type', async () => {
    const { prober, reports, cutPorts, round } = bed(['hv1', 'hv2', 'hv3']);
    try {
      for (let i = 0; i < 4; i++) await round();
      // hv2's VXLAN port (1) sends nothing that arrives: its probes and its echoes on VXLAN.
      cutPorts.add('hv2/1');
      for (let i = 0; i < 4; i++) await round();
      expect(reports.get('hv1')).toMatchObject({ status: 'False', reason: 'ProbesUnanswered', message: expect.stringMatching(/^no tunnel probe came back in 3 s from hv2 \(vxlan\):/) });
      expect(reports.get('hv1')!.unansweredPeers).toBeUndefined();
      expect(reports.get('hv2')!.unansweredPeers).toBeUndefined();
    } finally {
      prober.stop();
    }
  });

  it('a peer whose Node is not Ready (its switch or its agent down) is neither probed nor counted missing', async () => {
    const { prober, reports, cut, sent, round, ready } = bed(['hv1', 'hv2']);
    try {
      cut.add('hv2');
      ready.delete('hv2');
      for (let i = 0; i < 4; i++) await round();
      expect(sent.filter((s) => s.from === 'hv1')).toEqual([]);
      expect(reports.get('hv1')).toEqual({ status: 'True', reason: 'NoPeers', message: 'no other Ready node with a tunnel IP answers tunnel probes (yet)' });
    } finally {
      prober.stop();
    }
  });

  it('a peer that becomes Ready, a node whose connection comes back: judged only once their probes have had two rounds, so nobody flips False meanwhile', async () => {
    const { prober, reports, cut, round, ready, conns } = bed(['hv1', 'hv2', 'hv3']);
    try {
      ready.delete('hv3');
      cut.add('hv3');
      for (let i = 0; i < 4; i++) await round();
      expect(reports.get('hv1')?.status).toBe('True');
      // hv3 comes up: Ready at once, its echoes a round later (its controller is starting).
      ready.add('hv3');
      await round();
      cut.delete('hv3');
      for (let i = 0; i < 4; i++) {
        await round();
        expect(reports.get('hv1')?.status).toBe('True');
      }
      // hv1's connection drops and comes back: it starts over, never reporting what it could not yet see.
      conns.get('hv1')!.emit('connected');
      for (let i = 0; i < 4; i++) {
        await round();
        expect(reports.get('hv1')?.status).toBe('True');
      }
    } finally {
      prober.stop();
    }
  });

  it('after rounds missed (the process stalled) it starts over instead of counting the unread echoes as lost', async () => {
    const { prober, reports, round } = bed(['hv1', 'hv2']);
    try {
      for (let i = 0; i < 4; i++) await round();
      expect(reports.get('hv1')?.status).toBe('True');
      reports.clear();
      // 15 s without a round: the process was stopped.
      (prober as unknown as { now: () => number }).now = ((base) => () => base() + 15_000)((prober as unknown as { now: () => number }).now);
      for (let i = 0; i < 4; i++) {
        await round();
        expect(reports.get('hv1')?.status ?? 'True').toBe('True');
      }
      expect(reports.get('hv1')?.status).toBe('True');
    } finally {
      prober.stop();
    }
  });

  it('an echo counts only with the node\'s nonce and for a peer it probes; a probe is echoed only from its sender\'s tunnel IP, once per 200 ms', async () => {
    const { prober, reports, cut, sent, round, conns, settle } = bed(['hv1', 'hv2']);
    try {
      cut.add('hv2');
      const inject = (node: string, frame: Buffer, tunSrc?: string) =>
        conns.get(node)!.emit('message', { type: 'packet_in', xid: 0, bufferId: 0xffffffff, totalLen: frame.length, reason: 1, tableId: TABLES.Classifier.id, cookie: 0n, match: tunSrc ? [{ field: 'tun_ipv4_src', value: tunSrc }] : [], data: frame } as OfMessage);
      // Forged echoes to hv1 every round (no nonce of hv1's, or for a node it does not probe): still False.
      for (let i = 0; i < 5; i++) {
        for (const e of ['vxlan', 'geneve'] as const) inject('hv1', probeFrame({ kind: 'echo', from: 'hv1', to: 'hv2', encap: e, nonce: 'forged' }));
        inject('hv1', probeFrame({ kind: 'echo', from: 'hv1', to: `x${i}`, encap: 'vxlan', nonce: 'forged' }));
        await round();
      }
      expect(reports.get('hv1')).toMatchObject({ status: 'False', reason: 'NoProbeAnswered' });
      // A flood of probes "from hv1" to hv2: one echo per tunnel type, and none from another address.
      sent.length = 0;
      for (let i = 0; i < 50; i++) inject('hv2', probeFrame({ kind: 'probe', from: 'hv1', to: 'hv2', encap: 'vxlan', nonce: 'n' }));
      inject('hv2', probeFrame({ kind: 'probe', from: 'hv1', to: 'hv2', encap: 'geneve', nonce: 'n' }), '203.0.113.9');
      await settle();
      expect(sent.filter((x) => x.from === 'hv2' && parseProbe(x.m.data)?.kind === 'echo')).toHaveLength(1);
    } finally {
      prober.stop();
    }
  });
});
