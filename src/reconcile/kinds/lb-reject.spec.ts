import { EventEmitter } from 'node:events';
import pino from 'pino';
import type { OfMessage, OpenFlowConnection } from '../../openflow';
import { ipv6ToBytes } from '../../openflow';
import { TCP_FLAGS, buildTcpFrame, checksum, parseTcpFrame } from './lb-health-packets';
import { TABLES } from '../../pipeline/tables';
import { LbRejecter, refusalFor } from './lb-reject';

const CLIENT_MAC = '02:00:00:00:00:05';
const LB_MAC = '02:4c:42:00:00:01';
const syn = (srcIp: string, dstIp: string, flags: number = TCP_FLAGS.SYN) =>
  buildTcpFrame({ srcMac: CLIENT_MAC, dstMac: LB_MAC, srcIp, dstIp, srcPort: 41000, dstPort: 80, seq: 0xfffffff0, ack: 0, flags });

/** An untagged Ethernet/IPv4 or IPv6 UDP datagram with `n` bytes of payload (UDP checksum left 0: not checked here). */
function udp(srcIp: string, dstIp: string, n: number): Buffer {
  const l4 = Buffer.alloc(8 + n, 0x61);
  l4.writeUInt16BE(5353, 0);
  l4.writeUInt16BE(53, 2);
  l4.writeUInt16BE(8 + n, 4);
  l4.writeUInt16BE(0, 6);
  const eth = (type: number) => Buffer.concat([Buffer.from(LB_MAC.split(':').map((h) => parseInt(h, 16))), Buffer.from(CLIENT_MAC.split(':').map((h) => parseInt(h, 16))), Buffer.from([type >> 8, type & 255])]);
  if (srcIp.includes(':')) {
    const ip = Buffer.alloc(40);
    ip[0] = 0x60;
    ip.writeUInt16BE(l4.length, 4);
    ip[6] = 17;
    ip[7] = 64;
    ipv6ToBytes(srcIp).copy(ip, 8);
    ipv6ToBytes(dstIp).copy(ip, 24);
    return Buffer.concat([eth(0x86dd), ip, l4]);
  }
  const ip = Buffer.alloc(20);
  ip[0] = 0x45;
  ip.writeUInt16BE(20 + l4.length, 2);
  ip[8] = 64;
  ip[9] = 17;
  Buffer.from(srcIp.split('.').map(Number)).copy(ip, 12);
  Buffer.from(dstIp.split('.').map(Number)).copy(ip, 16);
  ip.writeUInt16BE(checksum(ip), 10);
  return Buffer.concat([eth(0x0800), ip, l4]);
}

/** CRC32c, bit by bit (RFC 9260 appendix A's algorithm, not the table the code uses). */
function crc32cSlow(data: Buffer): number {
  let c = 0xffffffff;
  for (const byte of data) {
    c ^= byte;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}

/** An Ethernet/IPv4 or IPv6 SCTP packet from the client's port 40000 to the VIP's 38412: one chunk (type, flags, value), verification tag vtag. */
function sctp(srcIp: string, dstIp: string, type: number, value: Buffer, vtag = 0): Buffer {
  const l4 = Buffer.alloc(16 + value.length);
  l4.writeUInt16BE(40000, 0);
  l4.writeUInt16BE(38412, 2);
  l4.writeUInt32BE(vtag, 4);
  l4[12] = type;
  l4.writeUInt16BE(4 + value.length, 14);
  value.copy(l4, 16);
  l4.writeUInt32LE(crc32cSlow(l4), 8);
  const d = udp(srcIp, dstIp, l4.length - 8);
  const ipLen = srcIp.includes(':') ? 40 : 20;
  d[srcIp.includes(':') ? 20 : 23] = 132;
  if (!srcIp.includes(':')) {
    d.writeUInt16BE(0, 24);
    d.writeUInt16BE(checksum(d.subarray(14, 34)), 24);
  }
  l4.copy(d, 14 + ipLen);
  return d;
}

/** The answer's SCTP part, its checksum checked. */
function sctpAnswer(frame: Buffer, ipLen = 20): { sport: number; dport: number; vtag: number; chunk: number; flags: number; length: number; crcOk: boolean } {
  const l4 = Buffer.from(frame.subarray(14 + ipLen));
  const crc = l4.readUInt32LE(8);
  l4.writeUInt32LE(0, 8);
  return { sport: l4.readUInt16BE(0), dport: l4.readUInt16BE(2), vtag: l4.readUInt32BE(4), chunk: l4[12]!, flags: l4[13]!, length: l4.readUInt16BE(14), crcOk: crc === crc32cSlow(l4) };
}

describe('refused connections: the answers', () => {
  it('SCTP: an INIT gets an ABORT from the VIP tagged with its Initiate Tag (T clear); other chunks an ABORT reflecting their tag; a SHUTDOWN ACK a SHUTDOWN COMPLETE; an ABORT nothing', () => {
    // INIT: initiate tag 0xcafe0001, a_rwnd, streams, initial TSN.
    const initValue = Buffer.from('cafe0001000100000a000a0000000001', 'hex');
    const a = refusalFor(sctp('10.0.0.5', '10.0.0.100', 1, initValue))!;
    expect(a.subarray(0, 12).toString('hex')).toBe(`${CLIENT_MAC}${LB_MAC}`.replace(/:/g, ''));
    expect(a[23]).toBe(132);
    expect(a.subarray(26, 34).equals(Buffer.from([10, 0, 0, 100, 10, 0, 0, 5]))).toBe(true);
    expect(checksum(a.subarray(14, 34))).toBe(0);
    expect(sctpAnswer(a)).toEqual({ sport: 38412, dport: 40000, vtag: 0xcafe0001, chunk: 6, flags: 0, length: 4, crcOk: true });
    // A COOKIE ECHO (type 10) of an association the VIP never had: ABORT, T set, its own tag.
    expect(sctpAnswer(refusalFor(sctp('10.0.0.5', '10.0.0.100', 10, Buffer.alloc(8), 0x1234))!)).toMatchObject({ vtag: 0x1234, chunk: 6, flags: 1, crcOk: true });
    expect(sctpAnswer(refusalFor(sctp('10.0.0.5', '10.0.0.100', 8, Buffer.alloc(0), 0x99))!)).toMatchObject({ vtag: 0x99, chunk: 14, flags: 1, crcOk: true });
    for (const quiet of [6, 14, 11, 9]) expect(refusalFor(sctp('10.0.0.5', '10.0.0.100', quiet, Buffer.alloc(0), 7))).toBeUndefined();
    // Nothing for: an INIT too short to carry its Initiate Tag, one not tagged 0, one whose
    // Initiate Tag is 0; another chunk tagged 0; a packet with an ABORT bundled after its first chunk.
    expect(refusalFor(sctp('10.0.0.5', '10.0.0.100', 1, Buffer.alloc(0)))).toBeUndefined();
    expect(refusalFor(sctp('10.0.0.5', '10.0.0.100', 1, initValue, 5))).toBeUndefined();
    expect(refusalFor(sctp('10.0.0.5', '10.0.0.100', 1, Buffer.alloc(16)))).toBeUndefined();
    expect(refusalFor(sctp('10.0.0.5', '10.0.0.100', 10, Buffer.alloc(8), 0))).toBeUndefined();
    // DATA (type 0, 16 bytes) then an ABORT chunk.
    const bundled = sctp('10.0.0.5', '10.0.0.100', 0, Buffer.concat([Buffer.alloc(12), Buffer.from([6, 0, 0, 4])]), 0x1234);
    bundled.writeUInt16BE(16, 14 + 20 + 14); // the DATA chunk ends where the ABORT begins
    expect(refusalFor(bundled)).toBeUndefined();
    expect(sctpAnswer(refusalFor(sctp('10.0.0.5', '10.0.0.100', 0, Buffer.alloc(12), 0x1234))!)).toMatchObject({ vtag: 0x1234, chunk: 6, flags: 1 });
    // IPv6.
    const a6 = refusalFor(sctp('fd00::5', 'fd00::100', 1, initValue))!;
    expect(a6[20]).toBe(132);
    expect(a6.subarray(22, 38).equals(ipv6ToBytes('fd00::100'))).toBe(true);
    expect(sctpAnswer(a6, 40)).toEqual({ sport: 38412, dport: 40000, vtag: 0xcafe0001, chunk: 6, flags: 0, length: 4, crcOk: true });
  });

  it('a TCP SYN gets RST+ACK from the VIP acknowledging it (SEQ 0, ACK = SYN seq + 1 + data), checksums right', () => {
    const answer = refusalFor(syn('10.0.0.5', '10.0.0.100'))!;
    const rst = parseTcpFrame(answer)!;
    expect(rst).toEqual({ srcMac: LB_MAC, dstMac: CLIENT_MAC, srcIp: '10.0.0.100', dstIp: '10.0.0.5', srcPort: 80, dstPort: 41000, seq: 0, ack: 0xfffffff1, flags: TCP_FLAGS.RST | TCP_FLAGS.ACK });
    expect(checksum(answer.subarray(14, 34))).toBe(0);
    // The same answer buildTcpFrame makes (whose TCP checksum the health checks rely on).
    expect(answer.equals(buildTcpFrame(rst))).toBe(true);
    // A SYN carrying 10 bytes (TCP Fast Open): they are acknowledged too.
    const withData = Buffer.concat([syn('10.0.0.5', '10.0.0.100'), Buffer.alloc(10)]);
    withData.writeUInt16BE(withData.readUInt16BE(16) + 10, 16);
    expect(parseTcpFrame(refusalFor(withData)!)!.ack).toBe(0xfffffffb);
  });

  it('IPv6: RST+ACK from the VIP', () => {
    const rst = parseTcpFrame(refusalFor(syn('fd00::5', 'fd00::100'))!)!;
    expect(rst).toMatchObject({ srcIp: 'fd00::100', dstIp: 'fd00::5', srcPort: 80, dstPort: 41000, ack: 0xfffffff1, flags: TCP_FLAGS.RST | TCP_FLAGS.ACK });
  });

  it('only an opening SYN is answered: never a health check\'s SYN-ACK or RST, nor an ACK', () => {
    for (const flags of [TCP_FLAGS.SYN | TCP_FLAGS.ACK, TCP_FLAGS.RST, TCP_FLAGS.ACK, TCP_FLAGS.RST | TCP_FLAGS.ACK]) expect(refusalFor(syn('10.0.0.5', '10.0.0.100', flags))).toBeUndefined();
  });

  it('UDP gets ICMP port unreachable from the VIP quoting the datagram; IPv6 gets ICMPv6 port unreachable', () => {
    const dgram = udp('10.0.0.5', '10.0.0.100', 30);
    const a = refusalFor(dgram)!;
    expect(a.subarray(0, 6).equals(dgram.subarray(6, 12))).toBe(true);
    expect(a.subarray(6, 12).equals(dgram.subarray(0, 6))).toBe(true);
    const ip = a.subarray(14, 34);
    expect(checksum(ip)).toBe(0);
    expect([ip[9], [...ip.subarray(12, 16)].join('.'), [...ip.subarray(16, 20)].join('.')]).toEqual([1, '10.0.0.100', '10.0.0.5']);
    const icmp = a.subarray(34);
    expect([icmp[0], icmp[1]]).toEqual([3, 3]);
    expect(checksum(icmp)).toBe(0);
    expect(icmp.subarray(8).equals(dgram.subarray(14))).toBe(true);

    const d6 = udp('fd00::5', 'fd00::100', 30);
    const a6 = refusalFor(d6)!;
    const ip6 = a6.subarray(14, 54);
    expect(ip6[6]).toBe(58);
    expect(ip6.subarray(8, 24).equals(ipv6ToBytes('fd00::100'))).toBe(true);
    expect(ip6.subarray(24, 40).equals(ipv6ToBytes('fd00::5'))).toBe(true);
    const icmp6 = a6.subarray(54);
    expect([icmp6[0], icmp6[1]]).toEqual([1, 4]);
    const pseudo = Buffer.alloc(40);
    ip6.copy(pseudo, 0, 8, 40);
    pseudo.writeUInt32BE(icmp6.length, 32);
    pseudo[39] = 58;
    expect(checksum(Buffer.concat([pseudo, icmp6]))).toBe(0);
    expect(icmp6.subarray(8).equals(d6.subarray(14))).toBe(true);
  });

  it('nothing for later fragments, truncated frames, ARP or other protocols', () => {
    const frag = udp('10.0.0.5', '10.0.0.100', 30);
    frag.writeUInt16BE(185, 20); // fragment offset 185 x 8
    expect(refusalFor(frag)).toBeUndefined();
    expect(refusalFor(syn('10.0.0.5', '10.0.0.100').subarray(0, 40))).toBeUndefined();
    expect(refusalFor(udp('10.0.0.5', '10.0.0.100', 0).subarray(0, 38))).toBeUndefined();
    const arp = Buffer.alloc(42);
    arp.writeUInt16BE(0x0806, 12);
    expect(refusalFor(arp)).toBeUndefined();
    const icmp = udp('10.0.0.5', '10.0.0.100', 30);
    icmp[23] = 1;
    expect(refusalFor(icmp)).toBeUndefined();
  });
});

describe('LbRejecter', () => {
  /** The part of a connection the rejecter uses: its messages and packet-outs. */
  function fakeConnection() {
    const sent: OfMessage[] = [];
    const conn = Object.assign(new EventEmitter(), { connected: false, send: (m: OfMessage) => (sent.push(m), Promise.resolve()) });
    return { conn: conn as unknown as OpenFlowConnection, emitter: conn, sent };
  }
  const packetIn = (data: Buffer): OfMessage => ({ type: 'packet_in', xid: 0, bufferId: 0xffffffff, totalLen: data.length, reason: 1, tableId: TABLES.LbNat.id, cookie: 0n, match: [{ field: 'in_port', value: 7 }], data }) as OfMessage;

  it('answers out of the ingress port, paced per node: a burst beyond the rate is counted, not answered', () => {
    const r = new LbRejecter(pino({ level: 'silent' }), 5);
    const { conn, emitter, sent } = fakeConnection();
    r.attach('hv1', conn);
    emitter.emit('connected');
    expect(sent.map((m) => m.type)).toEqual(['set_config']); // packet-ins enabled on connect
    for (let i = 0; i < 8; i++) emitter.emit('message', packetIn(syn('10.0.0.5', '10.0.0.100')));
    emitter.emit('message', packetIn(syn('10.0.0.5', '10.0.0.100', TCP_FLAGS.SYN | TCP_FLAGS.ACK))); // not ours
    const outs = sent.filter((m) => m.type === 'packet_out');
    expect(outs).toHaveLength(5);
    expect(outs[0]).toMatchObject({ actions: [{ type: 'output', port: 7 }] });
    expect(r.counts('hv1')).toEqual({ answered: 5, paced: 3 });
    expect(r.counts('hv2')).toEqual({ answered: 0, paced: 0 });
  });

  it("paces each ingress port within the node's rate: one VM's flood leaves the others' refusals answered, and the flooding port is named (QA-133 F2)", () => {
    const lines: string[] = [];
    const r = new LbRejecter(pino({ level: 'warn' }, { write: (l: string) => void lines.push(l) }), 200, 50, (node, ofport) => (node === 'hv1' && ofport === 7 ? 'tenant-a/flooder' : undefined));
    const { conn, emitter, sent } = fakeConnection();
    r.attach('hv1', conn);
    const from = (port: number) => ({ ...packetIn(syn('10.0.0.5', '10.0.0.100')), match: [{ field: 'in_port' as const, value: port }] }) as OfMessage;
    for (let i = 0; i < 300; i++) emitter.emit('message', from(7));
    for (let i = 0; i < 3; i++) emitter.emit('message', from(9));
    const outs = sent.filter((m): m is Extract<OfMessage, { type: 'packet_out' }> => m.type === 'packet_out');
    const to = (port: number) => outs.filter((m) => m.actions.some((a) => a.type === 'output' && a.port === port)).length;
    // Before: the flood took the node's 200, and port 9's clients got nothing. (The port's
    // bucket refills at 50/s while the loop runs: a few more than its burst of 50.)
    expect(to(9)).toBe(3);
    expect(to(7)).toBeGreaterThanOrEqual(50);
    expect(to(7)).toBeLessThan(80);
    expect(r.counts('hv1')).toEqual({ answered: to(7) + 3, paced: 300 - to(7) });
    const warned = lines.map((l) => JSON.parse(l) as { event: string; port: string | null; msg: string });
    expect(warned).toHaveLength(1);
    expect(warned[0]).toMatchObject({ event: 'lb.refusals_paced', port: 'tenant-a/flooder', msg: expect.stringMatching(/^node hv1: port tenant-a\/flooder opens connections to load balancer listeners without a healthy backend faster than they are answered \(50\/s for one port, 200\/s for the node\): 1 left unanswered; its clients time out instead of being refused$/) });
  });
});
