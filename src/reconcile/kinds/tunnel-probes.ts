/**
 * Tunnel probes (pipeline/tunnel-probe.ts): every intervalMs, each node this process programs
 * sends a probe through each tunnel port it shares with each peer, to the peer's tunnel IP;
 * the peer's controller sends it back the same way, and the round trip is what a Node's
 * TunnelsUp condition reports. A node that does not hold its tunnel IP, cannot route to a
 * peer, or whose UDP 4789/6081 is filtered has its flows installed (Ready) and yet carries no
 * overlay traffic: before, nothing said so (QA: "a tunnelIP the host does not have is still
 * Ready").
 *
 * Works the same where an agent programs a single node: a probe's echo is sent by whoever
 * programs the peer, and only the sender reads it. Costs per node and interval one packet-out
 * per peer and tunnel type, and one packet-in and one packet-out per probe it echoes (paced).
 */
import type { Logger } from 'pino';
import { OFPP, OFP_NO_BUFFER, type OfMessage, type OpenFlowConnection } from '../../openflow';
import { PROBE_ETHERTYPE, PROBE_TUNNEL_ID, TABLES, type LogicalModel } from '../../pipeline';
import type { Encapsulation } from '../../resources/kinds';

export const TUNNEL_PROBE_INTERVAL_MS = 5000;
/** Echoes a node sends per second at most: probes arrive from the underlay, which anyone on it can send. */
const ECHOES_PER_SECOND = 100;
export const TUNNELS_UP = 'TunnelsUp';

export interface TunnelsOutcome {
  status: 'True' | 'False';
  reason: string;
  message: string;
}

interface Probe {
  kind: 'probe' | 'echo';
  /** The node that sent the probe (an echo keeps it). */
  from: string;
  /** The node it was sent to. */
  to: string;
  encap: Encapsulation;
  sentAt: number;
}

const SRC_MAC = Buffer.from([0x02, 0x76, 0x6e, 0x65, 0x74, 0x64]);
const DST_MAC = Buffer.from([0x02, 0x76, 0x6e, 0x65, 0x74, 0x70]);

export function probeFrame(p: Probe): Buffer {
  const type = Buffer.alloc(2);
  type.writeUInt16BE(PROBE_ETHERTYPE);
  return Buffer.concat([DST_MAC, SRC_MAC, type, Buffer.from(JSON.stringify({ vnetdProbe: 1, ...p }))]);
}

export function parseProbe(frame: Buffer): Probe | undefined {
  if (frame.length < 15 || frame.readUInt16BE(12) !== PROBE_ETHERTYPE) return undefined;
  try {
    const o = JSON.parse(frame.subarray(14).toString('utf8')) as Partial<Probe> & { vnetdProbe?: number };
    if (o.vnetdProbe !== 1 || (o.kind !== 'probe' && o.kind !== 'echo') || typeof o.from !== 'string' || typeof o.to !== 'string' || (o.encap !== 'vxlan' && o.encap !== 'geneve') || typeof o.sentAt !== 'number') return undefined;
    return { kind: o.kind, from: o.from, to: o.to, encap: o.encap, sentAt: o.sentAt };
  } catch {
    return undefined;
  }
}

interface NodeProbes {
  conn: OpenFlowConnection;
  since: number;
  /** "peer/encap" -> when its echo last came back, and the round trip then. */
  echoes: Map<string, { at: number; rttMs: number }>;
  tokens: number;
  tokensAt: number;
  last?: string;
}

export interface TunnelProberOptions {
  logger: Logger;
  model(): LogicalModel | undefined;
  /** Where each node's outcome goes (the chassis layer writes it into Node status). */
  report(node: string, outcome: TunnelsOutcome): void;
  /**
   * Whether a peer is up (its Node Ready): one that is not echoes nothing (its switch or its
   * agent is down, which its own Ready already says), so it is not probed, nor counted missing.
   */
  peerReady?(node: string): boolean;
  intervalMs?: number;
  now?(): number;
}

export class TunnelProber {
  private readonly nodes = new Map<string, NodeProbes>();
  private readonly log: Logger;
  private readonly intervalMs: number;
  private readonly now: () => number;
  private timer?: NodeJS.Timeout;

  constructor(private readonly opts: TunnelProberOptions) {
    this.log = opts.logger.child({ component: 'tunnel-probes' });
    this.intervalMs = opts.intervalMs ?? TUNNEL_PROBE_INTERVAL_MS;
    this.now = opts.now ?? Date.now;
  }

  /** Starts probing from node over conn (the node's main connection, which receives packet-ins). */
  attach(node: string, conn: OpenFlowConnection): void {
    if (this.nodes.get(node)?.conn === conn) return;
    const st: NodeProbes = { conn, since: this.now(), echoes: new Map(), tokens: ECHOES_PER_SECOND, tokensAt: this.now() };
    this.nodes.set(node, st);
    conn.on('message', (m: OfMessage) => {
      if (this.nodes.get(node) !== st || m.type !== 'packet_in' || m.tableId !== TABLES.Classifier.id) return;
      const p = parseProbe(m.data);
      if (p) this.received(node, st, p);
    });
    if (!this.timer) {
      this.timer = setInterval(() => this.tick(), this.intervalMs);
      this.timer.unref();
    }
  }

  detach(node: string): void {
    this.nodes.delete(node);
    if (!this.nodes.size && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  stop(): void {
    for (const n of [...this.nodes.keys()]) this.detach(n);
  }

  /** Sends this round's probes, then reports each node's round trips (the previous rounds'). */
  tick(): void {
    const model = this.opts.model();
    if (!model) return;
    const now = this.now();
    for (const [name, st] of this.nodes) {
      const self = model.nodes.get(name);
      if (!self?.tunnelIP || !st.conn.connected) continue;
      for (const peer of this.peersOf(model, name)) {
        for (const encap of peer.encaps) this.send(st, self.tunnelPorts![encap]!, peer.tunnelIP, { kind: 'probe', from: name, to: peer.name, encap, sentAt: now });
      }
      this.evaluate(name, st, model, now);
    }
  }

  /** The peers a node has tunnels to, and the tunnel types both ends have. */
  private peersOf(model: LogicalModel, name: string): Array<{ name: string; tunnelIP: string; encaps: Encapsulation[] }> {
    const self = model.nodes.get(name);
    const mine = Object.keys(self?.tunnelPorts ?? {}) as Encapsulation[];
    const out: Array<{ name: string; tunnelIP: string; encaps: Encapsulation[] }> = [];
    for (const n of [...model.nodes.values()].sort((a, b) => (a.name < b.name ? -1 : 1))) {
      if (n.name === name || !n.tunnelIP || n.tunnelIP === self?.tunnelIP || this.opts.peerReady?.(n.name) === false) continue;
      // A peer whose tunnel ports are not known here (another agent's node): it has the same layout.
      const theirs = n.tunnelPorts ? (Object.keys(n.tunnelPorts) as Encapsulation[]) : mine;
      const encaps = mine.filter((e) => theirs.includes(e)).sort();
      if (encaps.length) out.push({ name: n.name, tunnelIP: n.tunnelIP, encaps });
    }
    return out;
  }

  private send(st: NodeProbes, ofport: number, tunnelIP: string, p: Probe): void {
    void st.conn
      .send({
        type: 'packet_out',
        bufferId: OFP_NO_BUFFER,
        inPort: OFPP.CONTROLLER,
        actions: [
          { type: 'set_field', field: 'tun_ipv4_dst', value: tunnelIP },
          { type: 'set_field', field: 'tunnel_id', value: PROBE_TUNNEL_ID },
          { type: 'output', port: ofport, maxLen: 0 },
        ],
        data: probeFrame(p),
      })
      .catch((err: unknown) => this.log.debug({ err, to: p.to }, 'tunnel probe not sent'));
  }

  private received(node: string, st: NodeProbes, p: Probe): void {
    const now = this.now();
    if (p.kind === 'echo') {
      if (p.from !== node) return;
      st.echoes.set(`${p.to}/${p.encap}`, { at: now, rttMs: Math.max(0, now - p.sentAt) });
      return;
    }
    // A probe for this node: back to its sender, through the same kind of tunnel.
    if (p.to !== node) return;
    const model = this.opts.model();
    const sender = model?.nodes.get(p.from);
    const ofport = model?.nodes.get(node)?.tunnelPorts?.[p.encap];
    if (!sender?.tunnelIP || ofport === undefined) return;
    st.tokens = Math.min(ECHOES_PER_SECOND, st.tokens + ((now - st.tokensAt) * ECHOES_PER_SECOND) / 1000);
    st.tokensAt = now;
    if (st.tokens < 1) return;
    st.tokens--;
    this.send(st, ofport, sender.tunnelIP, { ...p, kind: 'echo' });
  }

  /** A node's outcome: every peer's echo within the last few intervals, or which are missing. */
  private evaluate(name: string, st: NodeProbes, model: LogicalModel, now: number): void {
    const stale = 2 * this.intervalMs + 1000;
    // The first probes have not had the time to come back.
    if (now - st.since < stale) return;
    const peers = this.peersOf(model, name);
    const missing = peers.flatMap((p) => p.encaps.filter((e) => (st.echoes.get(`${p.name}/${e}`)?.at ?? -Infinity) < now - stale).map((e) => `${p.name} (${e})`));
    const self = model.nodes.get(name)!;
    let outcome: TunnelsOutcome;
    if (!peers.length) outcome = { status: 'True', reason: 'NoPeers', message: 'no other Ready node with a tunnel IP to probe' };
    // (No round-trip time in it: the Node would be written at every round.)
    else if (!missing.length) outcome = { status: 'True', reason: 'ProbesAnswered', message: `tunnel probes to all ${peers.length} peers come back` };
    else {
      const all = missing.length === peers.reduce((n, p) => n + p.encaps.length, 0);
      // Which end to suspect: this one when no peer answers (of several), those when others do.
      const suspect =
        all && peers.length === 1
          ? `this host and ${peers[0]!.name} hold their tunnel IPs (${self.tunnelIP}, ${peers[0]!.tunnelIP}), route to each other`
          : all
            ? `this host holds its tunnel IP ${self.tunnelIP}, routes to its peers`
            : 'those hosts hold their tunnel IPs, this host routes to them';
      outcome = {
        status: 'False',
        reason: all ? 'NoProbeAnswered' : 'ProbesUnanswered',
        message: `no tunnel probe came back in ${Math.round(stale / 1000)} s from ${missing.join(', ')}: check that ${suspect}, and that UDP 4789 (VXLAN) and 6081 (GENEVE) pass`,
      };
    }
    const key = `${outcome.status}|${outcome.reason}|${outcome.status === 'False' ? outcome.message : ''}`;
    if (key !== st.last) {
      st.last = key;
      const fields = { event: 'node.tunnels', node: name, status: outcome.status, reason: outcome.reason };
      if (outcome.status === 'False') this.log.warn(fields, `node ${name}: ${outcome.message}`);
      else this.log.info(fields, `node ${name}: ${outcome.message}`);
    }
    this.opts.report(name, outcome);
  }
}
