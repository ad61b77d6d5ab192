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
import { Writer } from '../wire/writer';
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

/** One OpenFlow property (type, length, value, padded to 8); a nested one's properties start 8 bytes in. */
function property(w: Writer, type: number, value: (w: Writer) => void, nested = false): void {
  const start = w.length;
  w.u16(type).u16(0);
  if (nested) w.zeros(4);
  value(w);
  w.patchLength(start + 2, start);
  w.pad8(start);
}

/** An address as the flush wants it: IPv6, or IPv4 mapped into IPv6 (::ffff:a.b.c.d). */
function address(w: Writer, ip: string): void {
  if (ip.includes(':')) w.bytes(ipv6ToBytes(ip));
  else w.zeros(10).u16(0xffff).bytes(ipv4ToBytes(ip));
}

function tuple(w: Writer, type: number, t: CtTuple): void {
  property(
    w,
    type,
    (w) => {
      if (t.src !== undefined) property(w, NXT_CT_TUPLE_SRC, (w) => address(w, t.src!));
      if (t.dst !== undefined) property(w, NXT_CT_TUPLE_DST, (w) => address(w, t.dst!));
      if (t.srcPort !== undefined) property(w, NXT_CT_TUPLE_SRC_PORT, (w) => w.u16(t.srcPort!));
      if (t.dstPort !== undefined) property(w, NXT_CT_TUPLE_DST_PORT, (w) => w.u16(t.dstPort!));
    },
    true,
  );
}

/** The experimenter message that flushes what `f` selects. */
export function ctFlushMessage(f: CtFlush): OfMessage {
  const ports = [f.orig, f.reply].some((t) => t?.srcPort !== undefined || t?.dstPort !== undefined);
  if (ports && !f.ipProto) throw new RangeError('ct flush: ports need an IP protocol');
  const w = new Writer(128);
  w.u8(f.ipProto ?? 0).zeros(7);
  if (f.orig) tuple(w, NXT_CT_ORIG_TUPLE, f.orig);
  if (f.reply) tuple(w, NXT_CT_REPLY_TUPLE, f.reply);
  if (f.zone !== undefined) property(w, NXT_CT_ZONE_ID, (w) => w.u16(f.zone!));
  return { type: 'experimenter', xid: 0, experimenter: NX_VENDOR_ID, expType: NXT_CT_FLUSH, data: w.detach() };
}
