/** ofp_type values of OpenFlow 1.3. */
export const OFPT = {
  HELLO: 0,
  ERROR: 1,
  ECHO_REQUEST: 2,
  ECHO_REPLY: 3,
  EXPERIMENTER: 4,
  FEATURES_REQUEST: 5,
  FEATURES_REPLY: 6,
  GET_CONFIG_REQUEST: 7,
  GET_CONFIG_REPLY: 8,
  SET_CONFIG: 9,
  PACKET_IN: 10,
  FLOW_REMOVED: 11,
  PORT_STATUS: 12,
  PACKET_OUT: 13,
  FLOW_MOD: 14,
  GROUP_MOD: 15,
  PORT_MOD: 16,
  TABLE_MOD: 17,
  MULTIPART_REQUEST: 18,
  MULTIPART_REPLY: 19,
  BARRIER_REQUEST: 20,
  BARRIER_REPLY: 21,
  ROLE_REQUEST: 24,
  ROLE_REPLY: 25,
  GET_ASYNC_REQUEST: 26,
  GET_ASYNC_REPLY: 27,
  SET_ASYNC: 28,
  METER_MOD: 29,
} as const;

export interface OfpHeader {
  version: number;
  type: number;
  length: number;
  xid: number;
}

/** Reads the 8-byte header from the start of a buffer (used for stream framing too). */
export function peekHeader(buf: Buffer): OfpHeader | undefined {
  if (buf.length < 8) return undefined;
  return { version: buf[0] as number, type: buf[1] as number, length: buf.readUInt16BE(2), xid: buf.readUInt32BE(4) };
}
