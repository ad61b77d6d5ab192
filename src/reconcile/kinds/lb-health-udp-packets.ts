/**
 * The frames of an active UDP health check (OVN's UDP service monitor, Octavia's
 * UDP-CONNECT): a datagram from the VIP (and the load balancer's MAC) to a backend's port,
 * and the ICMP (type 3 code 3) or ICMPv6 (type 1 code 4) port unreachable a backend with
 * nothing listening there sends back, quoting it. Empty by default, as OVN's: a DNS or
 * syslog server drops it without a word, and a server that answers anything passes anyway.
 * With spec.healthCheck.udp it carries a payload (e.g. a DNS query: vnetctl's --health-dns-query) and, with
 * expectReply, the backend's datagram back to the VIP (parseUdpDatagram) is what passes it.
 */
import { IP_PROTO, ipv6FromBytes } from '../../openflow';
import { ipFrame, ipPacketOf, type FrameAddresses } from './lb-health-packets';

export interface UdpProbe extends FrameAddresses {
  srcPort: number;
  dstPort: number;
  /** The datagram's payload (absent: empty). */
  payload?: Buffer;
}

/** A UDP datagram's addresses and ports (its payload is not needed: any answer passes). */
export interface UdpDatagram {
  srcIp: string;
  dstIp: string;
  srcPort: number;
  dstPort: number;
}

/** What a port unreachable says: who sent it, to whom, and the datagram it quotes (addresses and ports). */
export interface PortUnreachable {
  srcIp: string;
  dstIp: string;
  quoted: { srcIp: string; dstIp: string; srcPort: number; dstPort: number };
}

const ipText = (b: Buffer): string => [...b.subarray(0, 4)].join('.');

/** An Ethernet/IPv4 or Ethernet/IPv6 frame (by the addresses' family) of a UDP datagram (empty unless `payload`), checksums filled in: a backend drops a datagram whose checksum is wrong without a word, which would pass the check. */
export function buildUdpProbeFrame(p: UdpProbe): Buffer {
  const payload = p.payload ?? Buffer.alloc(0);
  const udp = Buffer.alloc(8 + payload.length);
  udp.writeUInt16BE(p.srcPort, 0);
  udp.writeUInt16BE(p.dstPort, 2);
  udp.writeUInt16BE(udp.length, 4);
  payload.copy(udp, 8);
  // 0 means "no checksum" in UDP over IPv4 (RFC 768), and is not allowed over IPv6: a computed 0 is sent as 0xffff.
  return ipFrame(p, IP_PROTO.UDP, udp, 6, { dontFragment: false, zeroAs: 0xffff });
}

/**
 * The UDP header of an untagged Ethernet/IPv4 or Ethernet/IPv6 frame (UDP right after the
 * fixed IPv6 header, as a backend sends its answer); undefined for anything else, and for an
 * IPv4 fragment other than the first (no UDP header). The packet-in may be cut short after
 * the headers (the flow's max_len), so the payload is neither read nor checksummed.
 */
export function parseUdpDatagram(f: Buffer): UdpDatagram | undefined {
  const ip = ipPacketOf(f, IP_PROTO.UDP);
  if (!ip || f.length < ip.at + 8) return undefined;
  return { srcIp: ip.srcIp, dstIp: ip.dstIp, srcPort: f.readUInt16BE(ip.at), dstPort: f.readUInt16BE(ip.at + 2) };
}

/**
 * The ICMP or ICMPv6 port unreachable in an untagged frame, with the addresses and ports of
 * the UDP datagram it quotes; undefined for anything else: another ICMP type or code, a quote
 * of something other than UDP, or one too short to hold the quoted UDP ports (RFC 792 and
 * RFC 4443 3.1 quote at least the IP header and 8 bytes after it).
 */
export function parsePortUnreachable(f: Buffer): PortUnreachable | undefined {
  const ip = ipPacketOf(f, IP_PROTO.ICMP, IP_PROTO.ICMPV6);
  if (!ip || f.length < ip.at + 8) return undefined;
  const icmp = ip.at;
  const q = icmp + 8;
  if (f.readUInt16BE(12) === 0x0800) {
    if (f[icmp] !== 3 || f[icmp + 1] !== 3) return undefined;
    if (f.length < q + 20 || f[q]! >> 4 !== 4) return undefined;
    const qihl = (f[q]! & 0x0f) * 4;
    if (qihl < 20 || f[q + 9] !== IP_PROTO.UDP || f.length < q + qihl + 8) return undefined;
    return { srcIp: ip.srcIp, dstIp: ip.dstIp, quoted: { srcIp: ipText(f.subarray(q + 12)), dstIp: ipText(f.subarray(q + 16)), srcPort: f.readUInt16BE(q + qihl), dstPort: f.readUInt16BE(q + qihl + 2) } };
  }
  // The quote follows the ICMPv6 header likewise (the probe has no extension headers).
  if (f[icmp] !== 1 || f[icmp + 1] !== 4) return undefined;
  if (f.length < q + 40 + 8 || f[q]! >> 4 !== 6 || f[q + 6] !== IP_PROTO.UDP) return undefined;
  return { srcIp: ip.srcIp, dstIp: ip.dstIp, quoted: { srcIp: ipv6FromBytes(f.subarray(q + 8, q + 24)), dstIp: ipv6FromBytes(f.subarray(q + 24, q + 40)), srcPort: f.readUInt16BE(q + 40), dstPort: f.readUInt16BE(q + 42) } };
}
