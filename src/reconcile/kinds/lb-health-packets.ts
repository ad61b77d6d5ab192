/**
 * The frames of an active TCP health check (OVN's service monitor): a SYN from the VIP
 * (and the load balancer's MAC) to a backend, the backend's SYN-ACK or RST, and the RST
 * that closes the half-open connection afterwards; and the IP headers and checksums they
 * share with the answers to refused connections (lb-reject.ts).
 */
import { IP_PROTO, ipv4ToBytes, ipv6FromBytes, ipv6ToBytes, macFromBytes, macToBytes } from '../../openflow';

export const TCP_FLAGS = { FIN: 0x01, SYN: 0x02, RST: 0x04, ACK: 0x10 } as const;

export interface TcpSegment extends FrameAddresses {
  srcPort: number;
  dstPort: number;
  seq: number;
  ack: number;
  flags: number;
}

/** The Internet checksum (RFC 1071) of b. */
export function checksum(b: Buffer): number {
  let s = 0;
  for (let i = 0; i + 1 < b.length; i += 2) s += b.readUInt16BE(i);
  if (b.length & 1) s += b[b.length - 1]! << 8;
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

const ipText = (n: number): string => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');

/** The checksum of an IPv6 upper-layer payload: RFC 8200 8.1's pseudo-header (source, destination, 32-bit length, next header) before it. */
export function ipv6PayloadChecksum(src: Buffer, dst: Buffer, nextHeader: number, payload: Buffer): number {
  const pseudo = Buffer.alloc(40);
  src.copy(pseudo, 0);
  dst.copy(pseudo, 16);
  pseudo.writeUInt32BE(payload.length, 32);
  pseudo[39] = nextHeader;
  return checksum(Buffer.concat([pseudo, payload]));
}

/** A fixed IPv6 header, hop limit 64. */
export function ipv6Header(src: Buffer, dst: Buffer, nextHeader: number, payloadLength: number): Buffer {
  const ip = Buffer.alloc(40);
  ip[0] = 0x60;
  ip.writeUInt16BE(payloadLength, 4);
  ip[6] = nextHeader;
  ip[7] = 64;
  src.copy(ip, 8);
  dst.copy(ip, 24);
  return ip;
}

/** An IPv4 header without options, TTL 64, its checksum filled in (addresses as 4 bytes). */
export function ipv4Header(src: Buffer, dst: Buffer, protocol: number, payloadLength: number, dontFragment: boolean): Buffer {
  const ip = Buffer.alloc(20);
  ip[0] = 0x45;
  ip.writeUInt16BE(20 + payloadLength, 2);
  if (dontFragment) ip.writeUInt16BE(0x4000, 6);
  ip[8] = 64;
  ip[9] = protocol;
  src.copy(ip, 12);
  dst.copy(ip, 16);
  ip.writeUInt16BE(checksum(ip), 10);
  return ip;
}

/** The Ethernet and IP headers a probe travels in. */
export interface FrameAddresses {
  srcMac: string;
  dstMac: string;
  srcIp: string;
  dstIp: string;
}

/**
 * An Ethernet/IPv4 or Ethernet/IPv6 frame (by the addresses' family) around an L4 segment,
 * whose checksum (at `checksumAt`) is filled in from the pseudo-header. `zeroAs`: what a
 * computed 0 is sent as (UDP over IPv4 sends 0xffff: 0 means "no checksum", RFC 768).
 */
export function ipFrame(a: FrameAddresses, protocol: number, l4: Buffer, checksumAt: number, o: { dontFragment: boolean; zeroAs?: number }): Buffer {
  const mac = macToBytes;
  if (a.srcIp.includes(':')) {
    const src = ipv6ToBytes(a.srcIp);
    const dst = ipv6ToBytes(a.dstIp);
    l4.writeUInt16BE(ipv6PayloadChecksum(src, dst, protocol, l4) || (o.zeroAs ?? 0), checksumAt);
    return Buffer.concat([mac(a.dstMac), mac(a.srcMac), Buffer.from([0x86, 0xdd]), ipv6Header(src, dst, protocol, l4.length), l4]);
  }
  const src = ipv4ToBytes(a.srcIp);
  const dst = ipv4ToBytes(a.dstIp);
  const pseudo = Buffer.alloc(12);
  src.copy(pseudo, 0);
  dst.copy(pseudo, 4);
  pseudo[9] = protocol;
  pseudo.writeUInt16BE(l4.length, 10);
  l4.writeUInt16BE(checksum(Buffer.concat([pseudo, l4])) || (o.zeroAs ?? 0), checksumAt);
  return Buffer.concat([mac(a.dstMac), mac(a.srcMac), Buffer.from([0x08, 0x00]), ipv4Header(src, dst, protocol, l4.length, o.dontFragment), l4]);
}

/** An Ethernet/IPv4 or Ethernet/IPv6 TCP frame (by the addresses' family) without options or payload, checksums filled in. */
export function buildTcpFrame(s: TcpSegment): Buffer {
  const tcp = Buffer.alloc(20);
  tcp.writeUInt16BE(s.srcPort, 0);
  tcp.writeUInt16BE(s.dstPort, 2);
  tcp.writeUInt32BE(s.seq >>> 0, 4);
  tcp.writeUInt32BE(s.ack >>> 0, 8);
  tcp[12] = 5 << 4;
  tcp[13] = s.flags;
  tcp.writeUInt16BE(s.flags & TCP_FLAGS.RST ? 0 : 64240, 14);
  return ipFrame(s, IP_PROTO.TCP, tcp, 16, { dontFragment: true });
}

/**
 * The addresses of an untagged Ethernet/IPv4 or Ethernet/IPv6 frame whose IP payload is
 * `protocol` (`v6NextHeader` over IPv6, right after the fixed header, as a backend sends its
 * answers: no extension headers), and where that payload starts; undefined for anything else,
 * and for an IPv4 fragment other than the first (it holds no header of that protocol). The
 * caller checks that the frame is long enough for the header it reads at `at`.
 */
export function ipPacketOf(f: Buffer, protocol: number, v6NextHeader = protocol): { srcIp: string; dstIp: string; at: number } | undefined {
  if (f.length < 14) return undefined;
  const type = f.readUInt16BE(12);
  if (type === 0x0800) {
    if (f.length < 14 + 20 || f[14]! >> 4 !== 4) return undefined;
    const ihl = (f[14]! & 0x0f) * 4;
    if (ihl < 20 || f[23] !== protocol || (f.readUInt16BE(20) & 0x1fff) !== 0) return undefined;
    return { srcIp: ipText(f.readUInt32BE(26)), dstIp: ipText(f.readUInt32BE(30)), at: 14 + ihl };
  }
  if (type === 0x86dd) {
    if (f.length < 14 + 40 || f[14]! >> 4 !== 6 || f[20] !== v6NextHeader) return undefined;
    return { srcIp: ipv6FromBytes(f.subarray(22, 38)), dstIp: ipv6FromBytes(f.subarray(38, 54)), at: 14 + 40 };
  }
  return undefined;
}

/** The TCP header of an untagged Ethernet/IPv4 or Ethernet/IPv6 frame (ipPacketOf); undefined for anything else. */
export function parseTcpFrame(f: Buffer): TcpSegment | undefined {
  const ip = ipPacketOf(f, IP_PROTO.TCP);
  if (!ip || f.length < ip.at + 20) return undefined;
  const t = ip.at;
  return {
    dstMac: macFromBytes(f.subarray(0, 6)),
    srcMac: macFromBytes(f.subarray(6, 12)),
    srcIp: ip.srcIp,
    dstIp: ip.dstIp,
    srcPort: f.readUInt16BE(t),
    dstPort: f.readUInt16BE(t + 2),
    seq: f.readUInt32BE(t + 4),
    ack: f.readUInt32BE(t + 8),
    flags: f[t + 13]!,
  };
}
