import { OFPG, OFPP, OFPTT_ALL, OFP_NO_BUFFER } from '../constants';
import { Instruction, decodeInstructions, encodeInstructions } from '../instructions';
import { Match, decodeMatch, encodeMatch } from '../oxm/match';
import { Reader } from '../wire/reader';
import { Writer } from '../wire/writer';

export type FlowModCommand = 'add' | 'modify' | 'modify_strict' | 'delete' | 'delete_strict';
const COMMANDS: readonly FlowModCommand[] = ['add', 'modify', 'modify_strict', 'delete', 'delete_strict'];

export interface FlowModMessage {
  type: 'flow_mod';
  xid: number;
  command: FlowModCommand;
  cookie: bigint;
  /** For modify/delete: only flows whose cookie matches under this mask. */
  cookieMask: bigint;
  tableId: number;
  idleTimeout: number;
  hardTimeout: number;
  priority: number;
  bufferId: number;
  /** For delete: only flows that output to this port (OFPP_ANY = any). */
  outPort: number;
  /** For delete: only flows that output to this group (OFPG_ANY = any). */
  outGroup: number;
  /** FlowModFlags bits. */
  flags: number;
  match: Match;
  instructions: Instruction[];
}

/** A flow_mod with the defaults ovs-ofctl uses; override what matters. */
export function flowMod(
  fields: Partial<Omit<FlowModMessage, 'type'>> & Pick<FlowModMessage, 'command'>,
): FlowModMessage {
  return {
    type: 'flow_mod',
    xid: 0,
    cookie: 0n,
    cookieMask: 0n,
    tableId: fields.command.startsWith('delete') ? OFPTT_ALL : 0,
    idleTimeout: 0,
    hardTimeout: 0,
    priority: 0x8000,
    bufferId: OFP_NO_BUFFER,
    outPort: OFPP.ANY,
    outGroup: OFPG.ANY,
    flags: 0,
    match: [],
    instructions: [],
    ...fields,
  };
}

export function encodeFlowMod(w: Writer, m: FlowModMessage): void {
  w.u64(m.cookie, 'cookie').u64(m.cookieMask, 'cookie_mask').u8(m.tableId, 'table_id');
  w.u8(COMMANDS.indexOf(m.command) >>> 0, 'flow_mod command');
  w.u16(m.idleTimeout, 'idle_timeout').u16(m.hardTimeout, 'hard_timeout').u16(m.priority, 'priority');
  w.u32(m.bufferId, 'buffer_id').u32(m.outPort, 'out_port').u32(m.outGroup, 'out_group');
  w.u16(m.flags, 'flags').zeros(2);
  // Deletes match loosely; prerequisites still apply to them in OVS.
  encodeMatch(w, m.match);
  encodeInstructions(w, m.instructions);
}

export function decodeFlowMod(r: Reader, xid: number): FlowModMessage {
  const cookie = r.u64('cookie');
  const cookieMask = r.u64('cookie_mask');
  const tableId = r.u8('table_id');
  const c = r.u8('command');
  const command = COMMANDS[c];
  if (command === undefined) r.fail(`unknown flow_mod command ${c}`);
  const idleTimeout = r.u16('idle_timeout');
  const hardTimeout = r.u16('hard_timeout');
  const priority = r.u16('priority');
  const bufferId = r.u32('buffer_id');
  const outPort = r.u32('out_port');
  const outGroup = r.u32('out_group');
  const flags = r.u16('flags');
  r.skip(2);
  const match = decodeMatch(r);
  const instructions = decodeInstructions(r);
  return {
    type: 'flow_mod',
    xid,
    command,
    cookie,
    cookieMask,
    tableId,
    idleTimeout,
    hardTimeout,
    priority,
    bufferId,
    outPort,
    outGroup,
    flags,
    match,
    instructions,
  };
}

export interface FlowRemovedMessage {
  type: 'flow_removed';
  xid: number;
  cookie: bigint;
  priority: number;
  /** ofp_flow_removed_reason: 0 idle_timeout, 1 hard_timeout, 2 delete, 3 group_delete, 4 meter_delete. */
  reason: number;
  tableId: number;
  durationSec: number;
  durationNsec: number;
  idleTimeout: number;
  hardTimeout: number;
  packetCount: bigint;
  byteCount: bigint;
  match: Match;
}

export function encodeFlowRemoved(w: Writer, m: FlowRemovedMessage): void {
  w.u64(m.cookie).u16(m.priority).u8(m.reason).u8(m.tableId).u32(m.durationSec).u32(m.durationNsec);
  w.u16(m.idleTimeout).u16(m.hardTimeout).u64(m.packetCount).u64(m.byteCount);
  encodeMatch(w, m.match, false);
}

export function decodeFlowRemoved(r: Reader, xid: number): FlowRemovedMessage {
  return {
    type: 'flow_removed',
    xid,
    cookie: r.u64('cookie'),
    priority: r.u16('priority'),
    reason: r.u8('reason'),
    tableId: r.u8('table_id'),
    durationSec: r.u32('duration_sec'),
    durationNsec: r.u32('duration_nsec'),
    idleTimeout: r.u16('idle_timeout'),
    hardTimeout: r.u16('hard_timeout'),
    packetCount: r.u64('packet_count'),
    byteCount: r.u64('byte_count'),
    match: decodeMatch(r),
  };
}
