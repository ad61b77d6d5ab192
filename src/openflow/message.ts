import { NX_VENDOR_ID, OFP13_VERSION, OFP_HEADER_LEN, ONF_VENDOR_ID } from './constants';
import { OpenFlowDecodeError, OpenFlowEncodeError } from './errors';
import {
  BundleAddMessage,
  BundleControlMessage,
  ONFT_BUNDLE_ADD_MESSAGE,
  ONFT_BUNDLE_CONTROL,
  decodeBundleAdd,
  decodeBundleControl,
  encodeBundleAdd,
  encodeBundleControl,
} from './messages/bundle';
import { ErrorMessage, decodeError, encodeError } from './messages/error';
import { FlowModMessage, FlowRemovedMessage, decodeFlowMod, decodeFlowRemoved, encodeFlowMod, encodeFlowRemoved } from './messages/flow-mod';
import { GroupModMessage, decodeGroupMod, encodeGroupMod } from './messages/group';
import { OFPT } from './messages/header';
import { HelloMessage, decodeHello, encodeHello } from './messages/hello';
import { MeterModMessage, decodeMeterMod, encodeMeterMod } from './messages/meter';
import { MultipartReplyMessage, decodeMultipartReply, encodeMultipartReply } from './messages/multipart-reply';
import { MultipartRequestMessage, decodeMultipartRequest, encodeMultipartRequest } from './messages/multipart-request';
import { PacketInMessage, PacketOutMessage, decodePacketIn, decodePacketOut, encodePacketIn, encodePacketOut } from './messages/packet';
import { PortModMessage, PortStatusMessage, decodePortMod, decodePortStatus, encodePortMod, encodePortStatus } from './messages/port';
import {
  AsyncConfigMessage,
  EchoMessage,
  EmptyMessage,
  ExperimenterMessage,
  FeaturesReply,
  ONFT_ROLE_STATUS,
  RoleMessage,
  RoleStatusMessage,
  SwitchConfigMessage,
  decodeAsyncConfig,
  decodeFeaturesReply,
  decodeRole,
  decodeRoleStatus,
  decodeSwitchConfig,
  encodeAsyncConfig,
  encodeFeaturesReply,
  encodeRole,
  encodeRoleStatus,
  encodeSwitchConfig,
} from './messages/simple';
import { Reader } from './wire/reader';
import { Writer } from './wire/writer';

/** Every OpenFlow 1.3 message this library encodes and decodes, discriminated by `type`. */
export type OfMessage =
  | HelloMessage
  | ErrorMessage
  | EchoMessage
  | ExperimenterMessage
  | EmptyMessage
  | FeaturesReply
  | SwitchConfigMessage
  | PacketInMessage
  | FlowRemovedMessage
  | PortStatusMessage
  | PortModMessage
  | PacketOutMessage
  | FlowModMessage
  | GroupModMessage
  | MultipartRequestMessage
  | MultipartReplyMessage
  | RoleMessage
  | RoleStatusMessage
  | AsyncConfigMessage
  | MeterModMessage
  | BundleControlMessage
  | OfBundleAdd;

export interface OfBundleAdd extends BundleAddMessage<OfMessage> {}

export type OfMessageType = OfMessage['type'];
export type MessageOf<T extends OfMessageType> = Extract<OfMessage, { type: T }>;

const EMPTY: Record<EmptyMessage['type'], number> = {
  features_request: OFPT.FEATURES_REQUEST,
  get_config_request: OFPT.GET_CONFIG_REQUEST,
  barrier_request: OFPT.BARRIER_REQUEST,
  barrier_reply: OFPT.BARRIER_REPLY,
  get_async_request: OFPT.GET_ASYNC_REQUEST,
};

/** Writes the body and returns the ofp_type; `start` is where the message's header begins. */
function encodeBody(w: Writer, m: OfMessage, start: number): number {
  switch (m.type) {
    case 'hello':
      encodeHello(w, m);
      return OFPT.HELLO;
    case 'error':
      encodeError(w, m);
      return OFPT.ERROR;
    case 'echo_request':
    case 'echo_reply':
      w.bytes(m.data);
      return m.type === 'echo_request' ? OFPT.ECHO_REQUEST : OFPT.ECHO_REPLY;
    case 'experimenter':
      w.u32(m.experimenter).u32(m.expType).bytes(m.data);
      return OFPT.EXPERIMENTER;
    case 'features_request':
    case 'get_config_request':
    case 'barrier_request':
    case 'barrier_reply':
    case 'get_async_request':
      return EMPTY[m.type];
    case 'features_reply':
      encodeFeaturesReply(w, m);
      return OFPT.FEATURES_REPLY;
    case 'get_config_reply':
    case 'set_config':
      encodeSwitchConfig(w, m);
      return m.type === 'set_config' ? OFPT.SET_CONFIG : OFPT.GET_CONFIG_REPLY;
    case 'packet_in':
      encodePacketIn(w, m);
      return OFPT.PACKET_IN;
    case 'flow_removed':
      encodeFlowRemoved(w, m);
      return OFPT.FLOW_REMOVED;
    case 'port_status':
      encodePortStatus(w, m);
      return OFPT.PORT_STATUS;
    case 'port_mod':
      encodePortMod(w, m);
      return OFPT.PORT_MOD;
    case 'packet_out':
      encodePacketOut(w, m);
      return OFPT.PACKET_OUT;
    case 'flow_mod':
      encodeFlowMod(w, m);
      return OFPT.FLOW_MOD;
    case 'group_mod':
      encodeGroupMod(w, m);
      return OFPT.GROUP_MOD;
    case 'meter_mod':
      encodeMeterMod(w, m);
      return OFPT.METER_MOD;
    case 'multipart_request':
      encodeMultipartRequest(w, m);
      return OFPT.MULTIPART_REQUEST;
    case 'multipart_reply':
      encodeMultipartReply(w, m);
      return OFPT.MULTIPART_REPLY;
    case 'role_request':
    case 'role_reply':
      encodeRole(w, m);
      return m.type === 'role_request' ? OFPT.ROLE_REQUEST : OFPT.ROLE_REPLY;
    case 'role_status':
      encodeRoleStatus(w, m);
      return OFPT.EXPERIMENTER;
    case 'set_async':
    case 'get_async_reply':
      encodeAsyncConfig(w, m);
      return m.type === 'set_async' ? OFPT.SET_ASYNC : OFPT.GET_ASYNC_REPLY;
    case 'bundle_control':
      encodeBundleControl(w, m);
      return OFPT.EXPERIMENTER;
    case 'bundle_add':
      if (m.message.type === 'bundle_add' || m.message.type === 'bundle_control') {
        throw new OpenFlowEncodeError('bundles cannot nest');
      }
      // OVS insists the inner xid equals the outer one (OFPBFC_MSG_BAD_XID otherwise);
      // the inner message is written in place, not encoded apart and copied.
      encodeBundleAdd(w, m, start, (inner, xid) => encodeMessageInto(w, inner, xid));
      return OFPT.EXPERIMENTER;
    default:
      throw new OpenFlowEncodeError(`cannot encode message type ${(m as { type: string }).type}`);
  }
}

/** Encodes one complete message (header included) for OpenFlow 1.3. */
export function encodeMessage(m: OfMessage): Buffer {
  // One scratch writer for all calls (encoding is synchronous and never nests
  // through here); finish() copies the bytes out, so callers own their Buffer.
  scratch.reset();
  encodeMessageInto(scratch, m);
  return scratch.finish();
}

const scratch = new Writer(64 * 1024);

/**
 * Appends one complete message to `w`, so a batch of messages can share one
 * buffer. `xid` overrides the message's own. On an encode error the writer is
 * left as it was before the call.
 */
export function encodeMessageInto(w: Writer, m: OfMessage, xid = m.xid): void {
  const start = w.length;
  try {
    w.u8(OFP13_VERSION).u8(0).u16(0).u32(xid >>> 0, 'xid');
    const type = encodeBody(w, m, start);
    if (m.type === 'hello' && m.headerVersion !== undefined) w.patchU8(start, m.headerVersion);
    const len = w.length - start;
    if (len > 0xffff) throw new OpenFlowEncodeError(`message too long: ${len} bytes (max 65535)`);
    w.patchU8(start + 1, type);
    w.patchU16(start + 2, len);
  } catch (e) {
    w.truncate(start);
    throw e;
  }
}

/**
 * Decodes exactly one complete message. Throws OpenFlowDecodeError (and only
 * that) for anything malformed, including a version other than 1.3 except for
 * HELLO and ERROR, which must be readable during version negotiation.
 */
export function decodeMessage(buf: Buffer, base = 0): OfMessage {
  try {
    return decodeUnchecked(buf, base);
  } catch (e) {
    if (e instanceof OpenFlowDecodeError) throw e;
    // A decoder bug must still surface as the documented error type.
    throw new OpenFlowDecodeError(`malformed message: ${(e as Error).message}`, base);
  }
}

function decodeUnchecked(buf: Buffer, base: number): OfMessage {
  const r = new Reader(buf, base);
  const version = r.u8('version');
  const type = r.u8('type');
  const length = r.u16('length');
  const xid = r.u32('xid');
  if (length < OFP_HEADER_LEN) r.fail(`header length ${length} < 8`);
  if (length !== buf.length) throw new OpenFlowDecodeError(`header length ${length} != buffer length ${buf.length}`, base);
  if (version !== OFP13_VERSION && type !== OFPT.HELLO && type !== OFPT.ERROR) {
    throw new OpenFlowDecodeError(`unsupported OpenFlow version 0x${version.toString(16)}`, base);
  }
  const b = r.sub(length - OFP_HEADER_LEN, 'body');
  switch (type) {
    case OFPT.HELLO:
      return decodeHello(b, xid, version);
    case OFPT.ERROR:
      return decodeError(b, xid);
    case OFPT.ECHO_REQUEST:
      return { type: 'echo_request', xid, data: b.rest() };
    case OFPT.ECHO_REPLY:
      return { type: 'echo_reply', xid, data: b.rest() };
    case OFPT.EXPERIMENTER:
      return decodeExperimenter(b, xid);
    case OFPT.FEATURES_REQUEST:
      return { type: 'features_request', xid };
    case OFPT.FEATURES_REPLY:
      return decodeFeaturesReply(b, xid);
    case OFPT.GET_CONFIG_REQUEST:
      return { type: 'get_config_request', xid };
    case OFPT.GET_CONFIG_REPLY:
      return decodeSwitchConfig(b, xid, 'get_config_reply');
    case OFPT.SET_CONFIG:
      return decodeSwitchConfig(b, xid, 'set_config');
    case OFPT.PACKET_IN:
      return decodePacketIn(b, xid);
    case OFPT.FLOW_REMOVED:
      return decodeFlowRemoved(b, xid);
    case OFPT.PORT_STATUS:
      return decodePortStatus(b, xid);
    case OFPT.PORT_MOD:
      return decodePortMod(b, xid);
    case OFPT.PACKET_OUT:
      return decodePacketOut(b, xid);
    case OFPT.FLOW_MOD:
      return decodeFlowMod(b, xid);
    case OFPT.GROUP_MOD:
      return decodeGroupMod(b, xid);
    case OFPT.METER_MOD:
      return decodeMeterMod(b, xid);
    case OFPT.MULTIPART_REQUEST:
      return decodeMultipartRequest(b, xid);
    case OFPT.MULTIPART_REPLY:
      return decodeMultipartReply(b, xid);
    case OFPT.BARRIER_REQUEST:
      return { type: 'barrier_request', xid };
    case OFPT.BARRIER_REPLY:
      return { type: 'barrier_reply', xid };
    case OFPT.ROLE_REQUEST:
      return decodeRole(b, xid, 'role_request');
    case OFPT.ROLE_REPLY:
      return decodeRole(b, xid, 'role_reply');
    case OFPT.GET_ASYNC_REQUEST:
      return { type: 'get_async_request', xid };
    case OFPT.GET_ASYNC_REPLY:
      return decodeAsyncConfig(b, xid, 'get_async_reply');
    case OFPT.SET_ASYNC:
      return decodeAsyncConfig(b, xid, 'set_async');
    default:
      return r.fail(`unsupported message type ${type}`);
  }
}

function decodeExperimenter(r: Reader, xid: number): OfMessage {
  const experimenter = r.u32('experimenter');
  const expType = r.u32('exp_type');
  if (experimenter === ONF_VENDOR_ID && expType === ONFT_BUNDLE_CONTROL) return decodeBundleControl(r, xid);
  if (experimenter === ONF_VENDOR_ID && expType === ONFT_ROLE_STATUS) return decodeRoleStatus(r, xid);
  if (experimenter === ONF_VENDOR_ID && expType === ONFT_BUNDLE_ADD_MESSAGE) {
    const add = decodeBundleAdd(r, xid, (inner, base) => decodeMessage(inner, base));
    if (add.message.type === 'bundle_add' || add.message.type === 'bundle_control') r.fail('nested bundle message');
    return add;
  }
  return { type: 'experimenter', xid, experimenter, expType, data: r.rest() };
}

/** Nicira's id, re-exported for callers building raw experimenter messages. */
export { NX_VENDOR_ID };
