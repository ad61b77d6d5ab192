import { NX_VENDOR_ID, OFPTT_ALL } from '../constants';
import { OpenFlowEncodeError } from '../errors';
import { ipv4FromBytes, ipv4ToBytes, ipv6FromBytes, ipv6ToBytes } from '../wire/addr';
import { Reader } from '../wire/reader';
import { Writer } from '../wire/writer';
import { checkSubfield, decodeSubfield, encodeOfsNbits, subfieldHeader } from './subfield';
import { Action, CtAction, MULTIPATH_ALGORITHMS, MULTIPATH_FIELDS, MultipathAction, NatAction } from './types';

/** NXAST_* subtypes (nicira-ext.h / ofp-actions.c raw action table). */
export const NXAST = {
  REG_MOVE: 6,
  REG_LOAD: 7,
  NOTE: 8,
  MULTIPATH: 10,
  RESUBMIT_TABLE: 14,
  CONTROLLER: 20,
  CONJUNCTION: 34,
  CT: 35,
  NAT: 36,
  CT_CLEAR: 43,
} as const;

const NX_CT_F = { COMMIT: 1, FORCE: 2 } as const;
const NX_NAT_F = { SRC: 1, DST: 2, PERSISTENT: 4, PROTO_HASH: 8, PROTO_RANDOM: 16 } as const;
const NX_NAT_RANGE = { IPV4_MIN: 1, IPV4_MAX: 2, IPV6_MIN: 4, IPV6_MAX: 8, PROTO_MIN: 16, PROTO_MAX: 32 } as const;

export type NiciraAction = Extract<
  Action,
  { type: 'resubmit' | 'reg_load' | 'reg_move' | 'conjunction' | 'ct' | 'ct_clear' | 'nat' | 'controller' | 'note' | 'multipath' }
>;

const NICIRA_TYPES = new Set<string>(['resubmit', 'reg_load', 'reg_move', 'conjunction', 'ct', 'ct_clear', 'nat', 'controller', 'note', 'multipath']);
export function isNicira(a: Action): a is NiciraAction {
  return NICIRA_TYPES.has(a.type);
}

type ListEncoder = (w: Writer, actions: readonly Action[]) => void;
type ListDecoder = (r: Reader) => Action[];

/**
 * Writes vendor id, subtype and body of a Nicira action; the caller has written
 * the 4-byte experimenter action header and pads to 8 afterwards. `encodeList`
 * encodes the actions nested in ct (passed in to avoid an import cycle).
 */
export function encodeNicira(w: Writer, a: NiciraAction, encodeList: ListEncoder): void {
  w.u32(NX_VENDOR_ID);
  switch (a.type) {
    case 'resubmit':
      w.u16(NXAST.RESUBMIT_TABLE).u16(a.port, 'resubmit port').u8(a.table, 'resubmit table').zeros(3);
      return;
    case 'reg_load': {
      const ofsNbits = encodeOfsNbits(a.dst, 'reg_load');
      if (a.dst.nbits > 64 || a.value < 0n || a.value >= 1n << BigInt(a.dst.nbits)) {
        throw new OpenFlowEncodeError(`reg_load: value ${a.value} does not fit in ${a.dst.nbits} bits`);
      }
      w.u16(NXAST.REG_LOAD).u16(ofsNbits).u32(subfieldHeader(a.dst)).u64(a.value);
      return;
    }
    case 'reg_move':
      checkSubfield(a.src, 'reg_move src');
      checkSubfield(a.dst, 'reg_move dst');
      if (a.src.nbits !== a.dst.nbits) throw new OpenFlowEncodeError('reg_move: src and dst widths differ');
      w.u16(NXAST.REG_MOVE).u16(a.src.nbits).u16(a.src.ofs).u16(a.dst.ofs);
      w.u32(subfieldHeader(a.src)).u32(subfieldHeader(a.dst));
      return;
    case 'conjunction':
      if (a.nClauses < 2 || a.nClauses > 64 || a.clause < 1 || a.clause > a.nClauses) {
        throw new OpenFlowEncodeError(`conjunction: clause ${a.clause}/${a.nClauses} out of range (2..64 clauses)`);
      }
      w.u16(NXAST.CONJUNCTION).u8(a.clause - 1).u8(a.nClauses).u32(a.id, 'conjunction id');
      return;
    case 'ct':
      encodeCt(w, a, encodeList);
      return;
    case 'nat':
      encodeNat(w, a);
      return;
    case 'ct_clear':
      // No body: OVS's ext_action_header, 16 bytes with its 6 bytes of padding.
      w.u16(NXAST.CT_CLEAR).zeros(6);
      return;
    case 'controller':
      w.u16(NXAST.CONTROLLER).u16(a.maxLen, 'controller max_len').u16(a.controllerId, 'controller id');
      w.u8(a.reason, 'controller reason').u8(0);
      return;
    case 'note':
      w.u16(NXAST.NOTE).bytes(a.data);
      // The fixed struct has room for 6 note bytes: never emit less than 16.
      if (a.data.length < 6) w.zeros(6 - a.data.length);
      return;
    case 'multipath':
      encodeMultipath(w, a);
      return;
  }
}

/** struct nx_action_multipath (32 bytes): fields, basis, pad, algorithm, max_link, arg, pad, ofs_nbits, dst. */
function encodeMultipath(w: Writer, a: MultipathAction): void {
  const fields = MULTIPATH_FIELDS.indexOf(a.fields);
  const algorithm = MULTIPATH_ALGORITHMS.indexOf(a.algorithm);
  if (fields < 0) throw new OpenFlowEncodeError(`multipath: unknown fields ${String(a.fields)}`);
  if (algorithm < 0) throw new OpenFlowEncodeError(`multipath: unknown algorithm ${String(a.algorithm)}`);
  if (!Number.isInteger(a.nLinks) || a.nLinks < 1 || a.nLinks > 0x10000) throw new OpenFlowEncodeError(`multipath: nLinks ${a.nLinks} not in 1..65536`);
  // OVS refuses a destination too narrow for the highest link number.
  if (a.dst.nbits < Math.ceil(Math.log2(a.nLinks))) throw new OpenFlowEncodeError(`multipath: ${a.dst.nbits} bits cannot hold ${a.nLinks} links`);
  const ofsNbits = encodeOfsNbits(a.dst, 'multipath');
  w.u16(NXAST.MULTIPATH).u16(fields).u16(a.basis, 'multipath basis').zeros(2);
  w.u16(algorithm).u16(a.nLinks - 1).u32(a.arg, 'multipath arg').zeros(2);
  w.u16(ofsNbits).u32(subfieldHeader(a.dst));
}

function decodeMultipath(r: Reader): MultipathAction {
  const f = r.u16('multipath fields');
  const basis = r.u16('multipath basis');
  r.skip(2);
  const alg = r.u16('multipath algorithm');
  const nLinks = r.u16('multipath max_link') + 1;
  const arg = r.u32('multipath arg');
  r.skip(2);
  const ofsNbits = r.u16('multipath ofs_nbits');
  const dst = decodeSubfield(r, r.u32('multipath dst'), ofsNbits >> 6, (ofsNbits & 0x3f) + 1, 'multipath');
  const fields = MULTIPATH_FIELDS[f];
  const algorithm = MULTIPATH_ALGORITHMS[alg];
  if (fields === undefined) r.fail(`multipath: unknown fields ${f}`);
  if (algorithm === undefined) r.fail(`multipath: unknown algorithm ${alg}`);
  return { type: 'multipath', fields, basis, algorithm, nLinks, arg, dst };
}

function encodeCt(w: Writer, a: CtAction, encodeList: ListEncoder): void {
  const flags = (a.commit ? NX_CT_F.COMMIT : 0) | (a.force ? NX_CT_F.FORCE : 0);
  w.u16(NXAST.CT).u16(flags);
  if (typeof a.zone === 'object') {
    w.u32(subfieldHeader(a.zone)).u16(encodeOfsNbits(a.zone, 'ct zone'));
  } else {
    w.u32(0).u16(a.zone ?? 0, 'ct zone');
  }
  w.u8(a.table ?? OFPTT_ALL, 'ct table').zeros(3).u16(a.alg ?? 0, 'ct alg');
  encodeList(w, a.actions);
}

function encodeNat(w: Writer, a: NatAction): void {
  let flags = a.direction === 'src' ? NX_NAT_F.SRC : a.direction === 'dst' ? NX_NAT_F.DST : 0;
  if (a.persistent) flags |= NX_NAT_F.PERSISTENT;
  if (a.portHash) flags |= NX_NAT_F.PROTO_HASH;
  if (a.portRandom) flags |= NX_NAT_F.PROTO_RANDOM;
  w.u16(NXAST.NAT).zeros(2).u16(flags);
  const rangeAt = w.length;
  w.u16(0);
  let present = 0;
  const v6 = (a.ipMin ?? a.ipMax ?? '').includes(':');
  if (a.ipMin !== undefined) {
    w.bytes(v6 ? ipv6ToBytes(a.ipMin) : ipv4ToBytes(a.ipMin));
    present |= v6 ? NX_NAT_RANGE.IPV6_MIN : NX_NAT_RANGE.IPV4_MIN;
  }
  if (a.ipMax !== undefined) {
    if (a.ipMax.includes(':') !== v6) throw new OpenFlowEncodeError('nat: ipMin and ipMax in different families');
    w.bytes(v6 ? ipv6ToBytes(a.ipMax) : ipv4ToBytes(a.ipMax));
    present |= v6 ? NX_NAT_RANGE.IPV6_MAX : NX_NAT_RANGE.IPV4_MAX;
  }
  // OVS only keeps a port range together with an address range.
  if ((a.portMin !== undefined || a.portMax !== undefined) && a.ipMin === undefined) {
    throw new OpenFlowEncodeError('nat: a port range needs an address range');
  }
  if (a.portMin !== undefined) {
    w.u16(a.portMin, 'nat port min');
    present |= NX_NAT_RANGE.PROTO_MIN;
  }
  if (a.portMax !== undefined) {
    w.u16(a.portMax, 'nat port max');
    present |= NX_NAT_RANGE.PROTO_MAX;
  }
  w.patchU16(rangeAt, present);
}

/** Decodes a Nicira action body (after vendor id); undefined for subtypes we do not model. */
export function decodeNicira(r: Reader, decodeList: ListDecoder): NiciraAction | undefined {
  const subtype = r.u16('nx subtype');
  switch (subtype) {
    case NXAST.RESUBMIT_TABLE: {
      const port = r.u16('resubmit port');
      return { type: 'resubmit', port, table: r.u8('resubmit table') };
    }
    case NXAST.REG_LOAD: {
      const ofsNbits = r.u16('reg_load ofs_nbits');
      const header = r.u32('reg_load dst');
      const dst = decodeSubfield(r, header, ofsNbits >> 6, (ofsNbits & 0x3f) + 1, 'reg_load');
      const value = r.u64('reg_load value');
      if (dst.nbits < 64 && value >> BigInt(dst.nbits) !== 0n) r.fail('reg_load value wider than its destination');
      return { type: 'reg_load', dst, value };
    }
    case NXAST.REG_MOVE: {
      const nbits = r.u16('reg_move n_bits');
      const srcOfs = r.u16('reg_move src_ofs');
      const dstOfs = r.u16('reg_move dst_ofs');
      const src = decodeSubfield(r, r.u32('reg_move src'), srcOfs, nbits, 'reg_move src');
      const dst = decodeSubfield(r, r.u32('reg_move dst'), dstOfs, nbits, 'reg_move dst');
      return { type: 'reg_move', src, dst };
    }
    case NXAST.CONJUNCTION: {
      const clause = r.u8('conjunction clause') + 1;
      const nClauses = r.u8('conjunction n_clauses');
      return { type: 'conjunction', id: r.u32('conjunction id'), clause, nClauses };
    }
    case NXAST.CT:
      return decodeCt(r, decodeList);
    case NXAST.NAT:
      return decodeNat(r);
    case NXAST.CT_CLEAR:
      return { type: 'ct_clear' };
    case NXAST.CONTROLLER: {
      const maxLen = r.u16('controller max_len');
      const controllerId = r.u16('controller id');
      return { type: 'controller', maxLen, controllerId, reason: r.u8('controller reason') };
    }
    case NXAST.NOTE:
      return { type: 'note', data: r.rest() };
    case NXAST.MULTIPATH:
      return decodeMultipath(r);
    default:
      return undefined;
  }
}

function decodeCt(r: Reader, decodeList: ListDecoder): CtAction {
  const flags = r.u16('ct flags');
  const zoneSrc = r.u32('ct zone_src');
  const zoneWord = r.u16('ct zone');
  const table = r.u8('ct table');
  r.skip(3);
  const alg = r.u16('ct alg');
  const out: CtAction = { type: 'ct', actions: [] };
  if (flags & NX_CT_F.COMMIT) out.commit = true;
  if (flags & NX_CT_F.FORCE) out.force = true;
  if (zoneSrc !== 0) {
    out.zone = decodeSubfield(r, zoneSrc, zoneWord >> 6, (zoneWord & 0x3f) + 1, 'ct zone');
  } else if (zoneWord !== 0) {
    out.zone = zoneWord;
  }
  if (table !== OFPTT_ALL) out.table = table;
  if (alg !== 0) out.alg = alg;
  out.actions = decodeList(r);
  return out;
}

function decodeNat(r: Reader): NatAction {
  r.skip(2);
  const flags = r.u16('nat flags');
  const present = r.u16('nat range_present');
  const out: NatAction = { type: 'nat' };
  if (flags & NX_NAT_F.SRC) out.direction = 'src';
  else if (flags & NX_NAT_F.DST) out.direction = 'dst';
  if (flags & NX_NAT_F.PERSISTENT) out.persistent = true;
  if (flags & NX_NAT_F.PROTO_HASH) out.portHash = true;
  if (flags & NX_NAT_F.PROTO_RANDOM) out.portRandom = true;
  if (present & NX_NAT_RANGE.IPV4_MIN) out.ipMin = ipv4FromBytes(r.bytes(4, 'nat ipv4 min'));
  if (present & NX_NAT_RANGE.IPV4_MAX) out.ipMax = ipv4FromBytes(r.bytes(4, 'nat ipv4 max'));
  if (present & NX_NAT_RANGE.IPV6_MIN) out.ipMin = ipv6FromBytes(r.bytes(16, 'nat ipv6 min'));
  if (present & NX_NAT_RANGE.IPV6_MAX) out.ipMax = ipv6FromBytes(r.bytes(16, 'nat ipv6 max'));
  if (present & NX_NAT_RANGE.PROTO_MIN) out.portMin = r.u16('nat port min');
  if (present & NX_NAT_RANGE.PROTO_MAX) out.portMax = r.u16('nat port max');
  return out;
}

