/**
 * NXT_CT_FLUSH (Nicira subtype 32, OVS 3.1+): flushes the conntrack entries of a zone that
 * match an original and/or reply tuple, as `ovs-ofctl ct-flush` does. Sent as an
 * OFPT_EXPERIMENTER message: struct nx_ct_flush (ip_proto, 7 pad bytes), then OpenFlow
 * properties (type, length, value, padded to 8): the zone (be16), and each tuple as a
 * nested property (4 pad bytes after its header) of addresses (16 bytes, IPv4 mapped into
 * IPv6) and ports (be16). Layout from include/openflow/nicira-ext.h and lib/ofp-ct.c.
 */
import { NX_VENDOR_ID } from '../constants';
import { ipv4ToBytes, ipv6ToBytes } from '../wire/addr';
import type { OfMessage } from '../message';

const NXT_CT_FLUSH = 32;
const NXT_CT_ORIG_TUPLE = 0;
const NXT_CT_REPLY_TUPLE = 1;
const NXT_CT_ZONE_ID = 2;
const NXT_CT_TUPLE_SRC = 0;
const NXT_CT_TUPLE_DST = 1;
const NXT_CT_TUPLE_SRC_PORT = 2;
const NXT_CT_TUPLE_DST_PORT = 3;

export interface CtTuple {
  src?: string;
  dst?: string;
  srcPort?: number;
  dstPort?: number;
}

export interface CtFlush {
  zone?: number;
  /** IP protocol (6, 17, 132...); 0 or absent: any (then no ports may be given). */
  ipProto?: number;
  orig?: CtTuple;
  reply?: CtTuple;
}

const pad8 = (n: number): number => (n + 7) & ~7;

function property(type: number, value: Buffer, nested = false): Buffer {
  // A nested property's own properties start on the next 8-byte boundary after its header.
  const head = nested ? 8 : 4;
  const len = head + value.length;
  const out = Buffer.alloc(pad8(len));
  out.writeUInt16BE(type, 0);
  out.writeUInt16BE(len, 2);
  value.copy(out, head);
  return out;
}

function be16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n, 0);
  return b;
}

/** An address as the flush wants it: IPv6, or IPv4 mapped into IPv6 (::ffff:a.b.c.d). */
function address(ip: string): Buffer {
  if (ip.includes(':')) return ipv6ToBytes(ip);
  return Buffer.concat([Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff]), ipv4ToBytes(ip)]);
}

function tuple(type: number, t: CtTuple): Buffer {
  const inner: Buffer[] = [];
  if (t.src !== undefined) inner.push(property(NXT_CT_TUPLE_SRC, address(t.src)));
  if (t.dst !== undefined) inner.push(property(NXT_CT_TUPLE_DST, address(t.dst)));
  if (t.srcPort !== undefined) inner.push(property(NXT_CT_TUPLE_SRC_PORT, be16(t.srcPort)));
  if (t.dstPort !== undefined) inner.push(property(NXT_CT_TUPLE_DST_PORT, be16(t.dstPort)));
  return property(type, Buffer.concat(inner), true);
}

/** The experimenter message that flushes what `f` selects. */
export function ctFlushMessage(f: CtFlush): OfMessage {
  const ports = [f.orig, f.reply].some((t) => t?.srcPort !== undefined || t?.dstPort !== undefined);
  if (ports && !f.ipProto) throw new RangeError('ct flush: ports need an IP protocol');
  const head = Buffer.alloc(8);
  head[0] = f.ipProto ?? 0;
  const props = [
    ...(f.orig ? [tuple(NXT_CT_ORIG_TUPLE, f.orig)] : []),
    ...(f.reply ? [tuple(NXT_CT_REPLY_TUPLE, f.reply)] : []),
    ...(f.zone !== undefined ? [property(NXT_CT_ZONE_ID, be16(f.zone))] : []),
  ];
  return { type: 'experimenter', xid: 0, experimenter: NX_VENDOR_ID, expType: NXT_CT_FLUSH, data: Buffer.concat([head, ...props]) };
}
