import { decodeActions, encodeActions } from '../actions/codec';
import { Action } from '../actions/types';
import { Match, decodeMatch, encodeMatch } from '../oxm/match';
import { Reader } from '../wire/reader';
import { Writer } from '../wire/writer';

export interface PacketInMessage {
  type: 'packet_in';
  xid: number;
  bufferId: number;
  totalLen: number;
  /** ofp_packet_in_reason: 0 no_match (table miss), 1 action, 2 invalid_ttl. */
  reason: number;
  tableId: number;
  cookie: bigint;
  /** Pipeline fields (in_port, metadata, registers, tunnel fields...). */
  match: Match;
  data: Buffer;
}

export interface PacketOutMessage {
  type: 'packet_out';
  xid: number;
  bufferId: number;
  inPort: number;
  actions: Action[];
  data: Buffer;
}

export function encodePacketIn(w: Writer, m: PacketInMessage): void {
  w.u32(m.bufferId).u16(m.totalLen).u8(m.reason).u8(m.tableId).u64(m.cookie, 'cookie');
  encodeMatch(w, m.match, false);
  w.zeros(2).bytes(m.data);
}

export function decodePacketIn(r: Reader, xid: number): PacketInMessage {
  const bufferId = r.u32('buffer_id');
  const totalLen = r.u16('total_len');
  const reason = r.u8('reason');
  const tableId = r.u8('table_id');
  const cookie = r.u64('cookie');
  const match = decodeMatch(r);
  r.skip(2);
  return { type: 'packet_in', xid, bufferId, totalLen, reason, tableId, cookie, match, data: r.rest() };
}

export function encodePacketOut(w: Writer, m: PacketOutMessage): void {
  w.u32(m.bufferId, 'buffer_id').u32(m.inPort, 'in_port');
  const lenAt = w.length;
  w.u16(0).zeros(6);
  const start = w.length;
  encodeActions(w, m.actions);
  w.patchU16(lenAt, w.length - start, 'actions_len');
  w.bytes(m.data);
}

export function decodePacketOut(r: Reader, xid: number): PacketOutMessage {
  const bufferId = r.u32('buffer_id');
  const inPort = r.u32('in_port');
  const actionsLen = r.u16('actions_len');
  r.skip(6);
  const actions = decodeActions(r.sub(actionsLen, 'packet_out actions'));
  return { type: 'packet_out', xid, bufferId, inPort, actions, data: r.rest() };
}
