import { NX_VENDOR_ID, ONF_VENDOR_ID } from '../constants';
import { OpenFlowEncodeError } from '../errors';
import { Reader } from '../wire/reader';
import { Writer } from '../wire/writer';
import { EXPERIMENTER_ERRORS, STANDARD_ERRORS } from './error-names.generated';

/** ofp_error_type OFPET_HELLO_FAILED: the peer refused version negotiation; data is text. */
export const OFPET_HELLO_FAILED = 0;
/** ofp_error_type OFPET_EXPERIMENTER: code and experimenter id follow. */
export const OFPET_EXPERIMENTER = 0xffff;

export interface ErrorMessage {
  type: 'error';
  xid: number;
  errorType: number;
  code: number;
  /** Only for errorType 0xffff (Nicira, ONF bundle errors in OF1.3, ...). */
  experimenter?: number;
  /**
   * The name ovs-ofctl prints (OFPBRC_BAD_TABLE_ID, OFPBFC_MSG_FAILED), or
   * "OFPET(type,code)" when unknown. Derived from the numbers, ignored on encode.
   */
  name: string;
  /** The start of the offending request (usually all of it in OVS). */
  data: Buffer;
}

const std = new Map(STANDARD_ERRORS.map(([t, c, n]) => [`${t},${c}`, n]));
const exp = new Map(EXPERIMENTER_ERRORS.map(([e, t, n]) => [`${e},${t}`, n]));
const byName = new Map<string, { errorType: number; code: number; experimenter?: number }>();
for (const [t, c, n] of STANDARD_ERRORS) byName.set(n, { errorType: t, code: c });
for (const [e, t, n] of EXPERIMENTER_ERRORS) byName.set(n, { errorType: OFPET_EXPERIMENTER, code: t, experimenter: e });

export function errorName(errorType: number, code: number, experimenter?: number): string {
  if (errorType === OFPET_EXPERIMENTER) {
    const n = exp.get(`${experimenter ?? 0},${code}`);
    if (n) return n;
    const who = experimenter === NX_VENDOR_ID ? 'NX' : experimenter === ONF_VENDOR_ID ? 'ONF' : `0x${(experimenter ?? 0).toString(16)}`;
    return `OFPET_EXPERIMENTER(${who},${code})`;
  }
  return std.get(`${errorType},${code}`) ?? `OFPET(${errorType},${code})`;
}

/** Builds an error message from an OVS error name, e.g. for tests and fake switches. */
export function errorFromName(name: string, xid: number, data: Buffer = Buffer.alloc(0)): ErrorMessage {
  const e = byName.get(name);
  if (!e) throw new OpenFlowEncodeError(`unknown OpenFlow error name ${name}`);
  return { type: 'error', xid, ...e, name, data };
}

export function encodeError(w: Writer, m: ErrorMessage): void {
  w.u16(m.errorType, 'error type').u16(m.code, 'error code');
  if (m.errorType === OFPET_EXPERIMENTER) w.u32(m.experimenter ?? 0, 'error experimenter');
  w.bytes(m.data);
}

export function decodeError(r: Reader, xid: number): ErrorMessage {
  const errorType = r.u16('error type');
  const code = r.u16('error code');
  if (errorType === OFPET_EXPERIMENTER) {
    const experimenter = r.u32('error experimenter');
    return { type: 'error', xid, errorType, code, experimenter, name: errorName(errorType, code, experimenter), data: r.rest() };
  }
  return { type: 'error', xid, errorType, code, name: errorName(errorType, code), data: r.rest() };
}
