import { ONF_VENDOR_ID } from '../constants';
import { Reader } from '../wire/reader';
import { Writer } from '../wire/writer';

/** Messages with no body, or a small fixed one. */

export interface EmptyMessage {
  type: 'features_request' | 'get_config_request' | 'barrier_request' | 'barrier_reply' | 'get_async_request';
  xid: number;
}

export interface EchoMessage {
  type: 'echo_request' | 'echo_reply';
  xid: number;
  data: Buffer;
}

export interface FeaturesReply {
  type: 'features_reply';
  xid: number;
  datapathId: bigint;
  nBuffers: number;
  nTables: number;
  auxiliaryId: number;
  /** ofp_capabilities bits. */
  capabilities: number;
}

export interface SwitchConfigMessage {
  type: 'get_config_reply' | 'set_config';
  xid: number;
  /** ofp_config_flags (fragment handling). */
  flags: number;
  missSendLen: number;
}

export type ControllerRole = 'nochange' | 'equal' | 'master' | 'slave';
const ROLES: readonly ControllerRole[] = ['nochange', 'equal', 'master', 'slave'];

export interface RoleMessage {
  type: 'role_request' | 'role_reply';
  xid: number;
  role: ControllerRole;
  generationId: bigint;
}

/** Why the switch changed a connection's role (ofp14_controller_role_reason). */
export type RoleStatusReason = 'master_request' | 'config' | 'experimenter';
const ROLE_STATUS_REASONS: readonly RoleStatusReason[] = ['master_request', 'config', 'experimenter'];

/** ONF's exp_type of OpenFlow 1.4's OFPT_ROLE_STATUS carried in OpenFlow 1.3 (OVS sends it). */
export const ONFT_ROLE_STATUS = 1911;

/**
 * The switch changed this connection's role by itself: another connection claimed the
 * master role (this one is now a slave), or the switch's configuration did.
 */
export interface RoleStatusMessage {
  type: 'role_status';
  xid: number;
  role: ControllerRole;
  reason: RoleStatusReason;
  /** The master's generation id the switch now holds. */
  generationId: bigint;
}

/**
 * Which asynchronous messages the switch sends to this connection, as bitmaps
 * indexed by reason; element 0 applies when master/equal, element 1 when slave.
 */
export interface AsyncConfigMessage {
  type: 'set_async' | 'get_async_reply';
  xid: number;
  packetInMask: [number, number];
  portStatusMask: [number, number];
  flowRemovedMask: [number, number];
}

/** A generic experimenter message whose experimenter/exp_type we do not model. */
export interface ExperimenterMessage {
  type: 'experimenter';
  xid: number;
  experimenter: number;
  expType: number;
  data: Buffer;
}

export function encodeFeaturesReply(w: Writer, m: FeaturesReply): void {
  w.u64(m.datapathId, 'datapath id').u32(m.nBuffers).u8(m.nTables).u8(m.auxiliaryId).zeros(2);
  w.u32(m.capabilities).u32(0);
}

export function decodeFeaturesReply(r: Reader, xid: number): FeaturesReply {
  const datapathId = r.u64('datapath id');
  const nBuffers = r.u32('n_buffers');
  const nTables = r.u8('n_tables');
  const auxiliaryId = r.u8('auxiliary_id');
  r.skip(2);
  const capabilities = r.u32('capabilities');
  r.skip(4, 'reserved');
  return { type: 'features_reply', xid, datapathId, nBuffers, nTables, auxiliaryId, capabilities };
}

export function encodeSwitchConfig(w: Writer, m: SwitchConfigMessage): void {
  w.u16(m.flags, 'config flags').u16(m.missSendLen, 'miss_send_len');
}

export function decodeSwitchConfig(r: Reader, xid: number, type: SwitchConfigMessage['type']): SwitchConfigMessage {
  const flags = r.u16('config flags');
  return { type, xid, flags, missSendLen: r.u16('miss_send_len') };
}

export function encodeRole(w: Writer, m: RoleMessage): void {
  w.u32(ROLES.indexOf(m.role) >>> 0, 'role').zeros(4).u64(m.generationId, 'generation id');
}

export function decodeRole(r: Reader, xid: number, type: RoleMessage['type']): RoleMessage {
  const n = r.u32('role');
  const role = ROLES[n];
  if (role === undefined) r.fail(`unknown controller role ${n}`);
  r.skip(4);
  return { type, xid, role, generationId: r.u64('generation id') };
}

export function encodeRoleStatus(w: Writer, m: RoleStatusMessage): void {
  w.u32(ONF_VENDOR_ID).u32(ONFT_ROLE_STATUS);
  w.u32(ROLES.indexOf(m.role) >>> 0, 'role').u8(ROLE_STATUS_REASONS.indexOf(m.reason) >>> 0, 'reason').zeros(3).u64(m.generationId, 'generation id');
}

/** The body after the experimenter header; role properties (experimenter data only) are skipped. */
export function decodeRoleStatus(r: Reader, xid: number): RoleStatusMessage {
  const n = r.u32('role');
  const role = ROLES[n];
  if (role === undefined) r.fail(`unknown controller role ${n}`);
  const why = r.u8('reason');
  const reason = ROLE_STATUS_REASONS[why];
  if (reason === undefined) r.fail(`unknown role status reason ${why}`);
  r.skip(3);
  const generationId = r.u64('generation id');
  r.rest();
  return { type: 'role_status', xid, role, reason, generationId };
}

export function encodeAsyncConfig(w: Writer, m: AsyncConfigMessage): void {
  for (const pair of [m.packetInMask, m.portStatusMask, m.flowRemovedMask]) w.u32(pair[0]).u32(pair[1]);
}

export function decodeAsyncConfig(r: Reader, xid: number, type: AsyncConfigMessage['type']): AsyncConfigMessage {
  const pair = (what: string): [number, number] => [r.u32(what), r.u32(what)];
  return {
    type,
    xid,
    packetInMask: pair('packet_in_mask'),
    portStatusMask: pair('port_status_mask'),
    flowRemovedMask: pair('flow_removed_mask'),
  };
}
