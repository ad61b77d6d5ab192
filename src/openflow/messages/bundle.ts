import { ONF_VENDOR_ID } from '../constants';
import { Reader } from '../wire/reader';
import { Writer } from '../wire/writer';

/**
 * Bundles in OpenFlow 1.3 are the ONF extension (EXT-230) that OVS accepts:
 * an OFPT_EXPERIMENTER message with experimenter ONF_VENDOR_ID and exp_type
 * ONFT_BUNDLE_CONTROL (2300) or ONFT_BUNDLE_ADD_MESSAGE (2301), followed by the
 * same body OpenFlow 1.4 uses (struct ofp14_bundle_ctrl_msg): bundle_id(32),
 * type(16), flags(16), then for ADD the complete inner message (whose xid must
 * equal the outer one), then optional properties.
 */
export const ONFT_BUNDLE_CONTROL = 2300;
export const ONFT_BUNDLE_ADD_MESSAGE = 2301;

export const BundleFlags = { ATOMIC: 1, ORDERED: 2 } as const;

export type BundleControlType =
  | 'open_request'
  | 'open_reply'
  | 'close_request'
  | 'close_reply'
  | 'commit_request'
  | 'commit_reply'
  | 'discard_request'
  | 'discard_reply';
const CONTROL_TYPES: readonly BundleControlType[] = [
  'open_request',
  'open_reply',
  'close_request',
  'close_reply',
  'commit_request',
  'commit_reply',
  'discard_request',
  'discard_reply',
];

export interface BundleControlMessage {
  type: 'bundle_control';
  xid: number;
  bundleId: number;
  controlType: BundleControlType;
  /** BundleFlags bits. */
  flags: number;
  /** Raw bundle properties (none are defined that OVS acts on). */
  properties: Buffer;
}

/** `M` is the message union; kept generic so this module does not import it. */
export interface BundleAddMessage<M> {
  type: 'bundle_add';
  xid: number;
  bundleId: number;
  flags: number;
  message: M;
  properties: Buffer;
}

export function encodeBundleControl(w: Writer, m: BundleControlMessage): void {
  w.u32(ONF_VENDOR_ID).u32(ONFT_BUNDLE_CONTROL);
  w.u32(m.bundleId, 'bundle id').u16(CONTROL_TYPES.indexOf(m.controlType) >>> 0, 'bundle control type');
  w.u16(m.flags, 'bundle flags').bytes(m.properties);
}

/** `encodeInner` appends the complete inner message (with the outer xid) to the same writer. */
export function encodeBundleAdd<M>(w: Writer, m: BundleAddMessage<M>, messageStart: number, encodeInner: (inner: M, xid: number) => void): void {
  w.u32(ONF_VENDOR_ID).u32(ONFT_BUNDLE_ADD_MESSAGE);
  w.u32(m.bundleId, 'bundle id').u16(0).u16(m.flags, 'bundle flags');
  encodeInner(m.message, m.xid);
  if (m.properties.length > 0) w.pad8(messageStart).bytes(m.properties);
}

/** Decodes the body after the 8-byte experimenter/exp_type words. */
export function decodeBundleControl(r: Reader, xid: number): BundleControlMessage {
  const bundleId = r.u32('bundle id');
  const t = r.u16('bundle control type');
  const controlType = CONTROL_TYPES[t];
  if (controlType === undefined) r.fail(`unknown bundle control type ${t}`);
  const flags = r.u16('bundle flags');
  return { type: 'bundle_control', xid, bundleId, controlType, flags, properties: r.rest() };
}

export function decodeBundleAdd<M>(r: Reader, xid: number, decodeInner: (buf: Buffer, base: number) => M): BundleAddMessage<M> {
  const bundleId = r.u32('bundle id');
  r.skip(2);
  const flags = r.u16('bundle flags');
  const innerLen = r.peekU16(2, 'inner message length');
  const base = r.absolute;
  const inner = r.bytes(innerLen, 'inner message');
  const message = decodeInner(inner, base);
  // Properties, when present, start at the next 8-byte boundary of the whole message.
  const padding = Math.min(r.remaining, (8 - ((16 + 8 + innerLen) % 8)) % 8);
  r.skip(padding);
  return { type: 'bundle_add', xid, bundleId, flags, message, properties: r.rest() };
}
