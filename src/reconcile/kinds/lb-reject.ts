/**
 * Refused connections: a load balancer listener without a healthy backend sends a local
 * VM's TCP SYN, UDP datagram or SCTP packet to the controller (load-balancer.ts,
 * refuseFlows), and vnetd answers it from the VIP with a TCP RST, an ICMP port unreachable
 * or an SCTP ABORT, as kube-proxy's REJECT and OVN's reject option do: the client's connect()
 * fails at once with "connection refused" instead of timing out after its retries.
 *
 * The answers go straight back out of the port the packet came in on (packet-out). They are
 * paced per node (a token bucket), so a client hammering a dead VIP costs bounded work.
 */
import { buf as crc32c } from 'crc-32/crc32c';
import type { Logger } from 'pino';
import { ETH_TYPE, IP_PROTO, OFPP, OFP_NO_BUFFER, type OfMessage, type OpenFlowConnection } from '../../openflow';
import { TABLES } from '../../pipeline/tables';
import { TCP_FLAGS, buildTcpFrame, checksum, ipv4Header, ipv6Header, ipv6PayloadChecksum, parseTcpFrame } from './lb-health-packets';
import { inPortOf } from './packet-ins';
import { configureSwitch } from './switch-config';

/** RFC 1812 4.3.2.3: an ICMP error quotes as much of the packet as fits in 576 bytes. */
const ICMP_QUOTE_MAX = 576 - 20 - 8;

/** Answers per node per second (and the burst), beyond which refused packets are only dropped. */
const ANSWERS_PER_SECOND = 200;
/**
 * Answers per second to one ingress port (one VM), within the node's: a VM flooding its own
 * backend-less VIP took the node's whole budget, and another tenant's clients on that node
 * waited out their connect timeouts instead of being refused (QA-133 F2).
 */
const ANSWERS_PER_PORT_PER_SECOND = 50;
/** How often a port being paced is named in the log, at most. */
const PACED_LOG_MS = 10_000;

/** The IP protocol and the IP packet (from its header on, as far as captured) of an untagged frame; undefined when neither IPv4 nor IPv6. */
function ipOf(frame: Buffer): { v6: boolean; proto: number; ip: Buffer; l4: Buffer } | undefined {
  const type = frame.length >= 14 ? frame.readUInt16BE(12) : 0;
  if (type === ETH_TYPE.IPV4 && frame.length >= 34 && frame[14]! >> 4 === 4) {
    const ihl = (frame[14]! & 0x0f) * 4;
    // Only first fragments carry the ports an answer needs.
    if (ihl < 20 || frame.length < 14 + ihl || (frame.readUInt16BE(20) & 0x1fff) !== 0) return undefined;
    const ip = frame.subarray(14, 14 + Math.min(frame.readUInt16BE(16), frame.length - 14));
    return { v6: false, proto: frame[23]!, ip, l4: ip.subarray(ihl) };
  }
  if (type === ETH_TYPE.IPV6 && frame.length >= 54 && frame[14]! >> 4 === 6) {
    const ip = frame.subarray(14, 14 + Math.min(40 + frame.readUInt16BE(18), frame.length - 14));
    return { v6: true, proto: frame[20]!, ip, l4: ip.subarray(40) };
  }
  return undefined;
}

/** TCP: RST+ACK acknowledging the SYN (RFC 9293 3.10.7.1: a segment without ACK gets SEQ 0, ACK SEG.SEQ + SEG.LEN). */
function resetFor(frame: Buffer, ip: Buffer, l4: Buffer, v6: boolean): Buffer | undefined {
  const seg = parseTcpFrame(frame);
  if (!seg || (seg.flags & (TCP_FLAGS.SYN | TCP_FLAGS.ACK | TCP_FLAGS.RST)) !== TCP_FLAGS.SYN || l4.length < 20) return undefined;
  const ipLen = v6 ? 40 + frame.readUInt16BE(18) : frame.readUInt16BE(16);
  const dataLen = Math.max(0, ipLen - (v6 ? 40 : ip.length - l4.length) - (l4[12]! >> 4) * 4);
  return buildTcpFrame({
    srcMac: seg.dstMac,
    dstMac: seg.srcMac,
    srcIp: seg.dstIp,
    dstIp: seg.srcIp,
    srcPort: seg.dstPort,
    dstPort: seg.srcPort,
    seq: 0,
    ack: (seg.seq + 1 + dataLen) >>> 0,
    flags: TCP_FLAGS.RST | TCP_FLAGS.ACK,
  });
}

/** The frame that carries payload back to the sender of `frame` (IP packet `ip`), from the address and MAC it was sent to. */
function answerFrame(frame: Buffer, ip: Buffer, v6: boolean, proto: number, payload: Buffer): Buffer {
  const eth = Buffer.concat([frame.subarray(6, 12), frame.subarray(0, 6), frame.subarray(12, 14)]);
  const header = v6 ? ipv6Header(ip.subarray(24, 40), ip.subarray(8, 24), proto, payload.length) : ipv4Header(ip.subarray(16, 20), ip.subarray(12, 16), proto, payload.length, false);
  return Buffer.concat([eth, header, payload]);
}

/** UDP: ICMP (type 3 code 3) or ICMPv6 (type 1 code 4) port unreachable from the VIP, quoting the datagram. */
function unreachableFor(frame: Buffer, ip: Buffer, v6: boolean): Buffer {
  const quote = ip.subarray(0, Math.min(ip.length, ICMP_QUOTE_MAX));
  const icmp = Buffer.concat([Buffer.from(v6 ? [1, 4, 0, 0, 0, 0, 0, 0] : [3, 3, 0, 0, 0, 0, 0, 0]), quote]);
  // ICMPv6's checksum covers the answer's addresses: from the VIP the datagram was sent to, to its sender.
  icmp.writeUInt16BE(v6 ? ipv6PayloadChecksum(ip.subarray(24, 40), ip.subarray(8, 24), IP_PROTO.ICMPV6, icmp) : checksum(icmp), 2);
  return answerFrame(frame, ip, v6, v6 ? IP_PROTO.ICMPV6 : IP_PROTO.ICMP, icmp);
}

const SCTP_CHUNK = { INIT: 1, ABORT: 6, SHUTDOWN_ACK: 8, ERROR: 9, COOKIE_ACK: 11, SHUTDOWN_COMPLETE: 14 } as const;
/** The T bit of ABORT and SHUTDOWN COMPLETE: the verification tag is the received packet's own, reflected. */
const SCTP_T_BIT = 1;

/** Whether any chunk of the SCTP packet, as far as captured, is an ABORT (RFC 9260 8.4 rule 2: then no answer). */
function carriesAbort(l4: Buffer): boolean {
  for (let at = 12; at + 4 <= l4.length; ) {
    if (l4[at] === SCTP_CHUNK.ABORT) return true;
    const len = l4.readUInt16BE(at + 2);
    if (len < 4) return false;
    at += (len + 3) & ~3;
  }
  return false;
}

/**
 * SCTP, RFC 9260 8.4 (an "out of the blue" packet: no association here): an INIT gets an
 * ABORT tagged with the INIT's Initiate Tag; a SHUTDOWN ACK a SHUTDOWN COMPLETE and anything
 * else an ABORT, both reflecting the packet's tag. Nothing for a packet with an ABORT chunk, a
 * first chunk SHUTDOWN COMPLETE, COOKIE ACK or ERROR, an INIT not tagged 0 or with Initiate
 * Tag 0 (8.5.1, 3.3.2), or another packet tagged 0. (Its CRC32c is not checked: the switch
 * captures only the packet's start.) Linux fails the client's connect() with ECONNREFUSED on
 * the ABORT (an ICMP port unreachable it would only note, and retry its INIT for a minute).
 */
function abortFor(frame: Buffer, ip: Buffer, l4: Buffer, v6: boolean): Buffer | undefined {
  if (l4.length < 16 || carriesAbort(l4)) return undefined;
  const first = l4[12]!;
  if (first === SCTP_CHUNK.SHUTDOWN_COMPLETE || first === SCTP_CHUNK.COOKIE_ACK || first === SCTP_CHUNK.ERROR) return undefined;
  const init = first === SCTP_CHUNK.INIT;
  const tag = l4.readUInt32BE(4);
  if (init ? l4.length < 20 || tag !== 0 || l4.readUInt32BE(16) === 0 : tag === 0) return undefined;
  const sctp = Buffer.alloc(16);
  sctp.writeUInt16BE(l4.readUInt16BE(2), 0); // from the VIP's port
  sctp.writeUInt16BE(l4.readUInt16BE(0), 2); // to the client's
  sctp.writeUInt32BE(init ? l4.readUInt32BE(16) : tag, 4);
  sctp[12] = first === SCTP_CHUNK.SHUTDOWN_ACK ? SCTP_CHUNK.SHUTDOWN_COMPLETE : SCTP_CHUNK.ABORT;
  sctp[13] = init ? 0 : SCTP_T_BIT;
  sctp.writeUInt16BE(4, 14);
  // CRC32c over the packet with its checksum field 0, stored little-endian (RFC 9260 appendix A).
  sctp.writeInt32LE(crc32c(sctp), 8);
  return answerFrame(frame, ip, v6, IP_PROTO.SCTP, sctp);
}

/**
 * The answer to a refused packet (as the switch captured it): RST for a TCP SYN, port
 * unreachable for UDP, ABORT for SCTP (abortFor); undefined for anything else (a health
 * check's answer, a TCP segment that is not an opening SYN, a later fragment).
 */
export function refusalFor(frame: Buffer): Buffer | undefined {
  const p = ipOf(frame);
  if (!p) return undefined;
  if (p.proto === IP_PROTO.TCP) return resetFor(frame, p.ip, p.l4, p.v6);
  if (p.proto === IP_PROTO.UDP && p.l4.length >= 8) return unreachableFor(frame, p.ip, p.v6);
  if (p.proto === IP_PROTO.SCTP) return abortFor(frame, p.ip, p.l4, p.v6);
  return undefined;
}

export interface RefusalCounts {
  answered: number;
  /** Refused packets left unanswered: over the node's pace. */
  paced: number;
}

/** The port (namespace/name) bound at an ofport of a node, for the log; undefined when none is known. */
export type PortAt = (node: string, ofport: number) => string | undefined;

export class LbRejecter {
  /** By node, and by node and ingress port (`${node}/${ofport}`). */
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  /** Per node and ingress port being paced: packets paced since it was last named, and when that was. */
  private readonly pacedPorts = new Map<string, { paced: number; namedAt: number }>();
  private readonly attached = new WeakSet<OpenFlowConnection>();
  private readonly log: Logger;
  private readonly perNode = new Map<string, RefusalCounts>();

  constructor(
    logger: Logger,
    private readonly perSecond = ANSWERS_PER_SECOND,
    private readonly perPortPerSecond = ANSWERS_PER_PORT_PER_SECOND,
    private readonly portAt: PortAt = () => undefined,
  ) {
    this.log = logger.child({ component: 'lb-reject' });
  }

  /** Answers the refused packets a node's (main) connection reports. */
  attach(node: string, conn: OpenFlowConnection): void {
    if (this.attached.has(conn)) return;
    this.attached.add(conn);
    // Refused packets come as packet-ins, which the switch sends only once configured (miss_send_len).
    configureSwitch(conn, this.log);
    conn.on('message', (m: OfMessage) => {
      // Only from the load-balancing table (the refuse flows, and a checked port's answers, which are never opening SYNs).
      if (m.type !== 'packet_in' || m.tableId !== TABLES.LbNat.id) return;
      const inPort = inPortOf(m.match);
      if (inPort === undefined) return;
      const answer = refusalFor(m.data);
      if (!answer) return;
      const counts = this.counts(node);
      // The port's own share first: what one VM's flood takes, no other VM loses.
      if (!this.take(`${node}/${inPort}`, this.perPortPerSecond) || !this.take(node, this.perSecond)) {
        counts.paced++;
        this.notePaced(node, inPort);
        return;
      }
      counts.answered++;
      void conn
        .send({ type: 'packet_out', bufferId: OFP_NO_BUFFER, inPort: OFPP.CONTROLLER, actions: [{ type: 'output', port: inPort, maxLen: 0 }], data: answer })
        .catch((err: unknown) => this.log.debug({ node, err }, 'refusal not sent'));
    });
  }

  /** What this process answered on a node (and dropped for the pace), since it started. */
  counts(node: string): RefusalCounts {
    let c = this.perNode.get(node);
    if (!c) this.perNode.set(node, (c = { answered: 0, paced: 0 }));
    return c;
  }

  /** A token from the bucket `key` of `rate` a second (and as many at once). */
  private take(key: string, rate: number, now = Date.now()): boolean {
    let b = this.buckets.get(key);
    if (!b) this.buckets.set(key, (b = { tokens: rate, at: now }));
    b.tokens = Math.min(rate, b.tokens + ((now - b.at) * rate) / 1000);
    b.at = now;
    if (b.tokens < 1) return false;
    b.tokens--;
    return true;
  }

  /**
   * Names the port whose refused connections go unanswered, at most every PACED_LOG_MS: the
   * node's count alone did not say who floods (QA-133 F2).
   */
  private notePaced(node: string, ofport: number, now = Date.now()): void {
    const key = `${node}/${ofport}`;
    let p = this.pacedPorts.get(key);
    if (!p) {
      // Bounded: a node has as many entries as ports that ever flooded; forgotten once quiet.
      if (this.pacedPorts.size >= 4096) for (const [k, v] of this.pacedPorts) if (now - v.namedAt > PACED_LOG_MS) this.pacedPorts.delete(k);
      this.pacedPorts.set(key, (p = { paced: 0, namedAt: -Infinity }));
    }
    p.paced++;
    if (now - p.namedAt < PACED_LOG_MS) return;
    const port = this.portAt(node, ofport);
    this.log.warn(
      { event: 'lb.refusals_paced', node, ofport, port: port ?? null, paced: p.paced },
      `node ${node}: ${port ? `port ${port}` : `ofport ${ofport}`} opens connections to load balancer listeners without a healthy backend faster than they are answered (${this.perPortPerSecond}/s for one port, ${this.perSecond}/s for the node): ${p.paced} left unanswered${Number.isFinite(p.namedAt) ? ` in the last ${Math.round((now - p.namedAt) / 1000)} s` : ''}; its clients time out instead of being refused`,
    );
    p.paced = 0;
    p.namedAt = now;
  }
}
