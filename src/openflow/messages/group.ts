import { decodeActions, encodeActions } from '../actions/codec';
import { Action } from '../actions/types';
import { OFPG, OFPP } from '../constants';
import { Reader } from '../wire/reader';
import { Writer } from '../wire/writer';

export type GroupType = 'all' | 'select' | 'indirect' | 'ff';
const GROUP_TYPES: readonly GroupType[] = ['all', 'select', 'indirect', 'ff'];
export type GroupModCommand = 'add' | 'modify' | 'delete';
const GROUP_COMMANDS: readonly GroupModCommand[] = ['add', 'modify', 'delete'];

export interface Bucket {
  /** Relative weight for select groups (0 for others). */
  weight: number;
  /** Liveness port for fast-failover groups (OFPP_ANY = none). */
  watchPort: number;
  /** Liveness group for fast-failover groups (OFPG_ANY = none). */
  watchGroup: number;
  actions: Action[];
}

export function bucket(actions: Action[], opts: Partial<Omit<Bucket, 'actions'>> = {}): Bucket {
  return { weight: 0, watchPort: OFPP.ANY, watchGroup: OFPG.ANY, actions, ...opts };
}

export interface GroupModMessage {
  type: 'group_mod';
  xid: number;
  command: GroupModCommand;
  groupType: GroupType;
  groupId: number;
  buckets: Bucket[];
}

export function groupTypeToWire(t: GroupType): number {
  return GROUP_TYPES.indexOf(t) >>> 0;
}

export function groupTypeFromWire(r: Reader, n: number): GroupType {
  const t = GROUP_TYPES[n];
  if (t === undefined) r.fail(`unknown group type ${n}`);
  return t;
}

/** struct ofp_bucket: len, weight, watch_port, watch_group, pad, actions. */
export function encodeBuckets(w: Writer, buckets: readonly Bucket[]): void {
  for (const b of buckets) {
    const start = w.length;
    w.u16(0).u16(b.weight, 'bucket weight').u32(b.watchPort, 'watch_port').u32(b.watchGroup, 'watch_group').zeros(4);
    encodeActions(w, b.actions);
    w.patchLength(start, start);
  }
}

export function decodeBuckets(r: Reader): Bucket[] {
  const out: Bucket[] = [];
  while (r.remaining > 0) {
    const len = r.u16('bucket length');
    if (len < 16) r.fail(`bad bucket length ${len}`);
    const body = r.sub(len - 2, 'bucket');
    const weight = body.u16('weight');
    const watchPort = body.u32('watch_port');
    const watchGroup = body.u32('watch_group');
    body.skip(4);
    out.push({ weight, watchPort, watchGroup, actions: decodeActions(body) });
  }
  return out;
}

export function encodeGroupMod(w: Writer, m: GroupModMessage): void {
  w.u16(GROUP_COMMANDS.indexOf(m.command) >>> 0, 'group command').u8(groupTypeToWire(m.groupType), 'group type');
  w.zeros(1).u32(m.groupId, 'group id');
  encodeBuckets(w, m.buckets);
}

export function decodeGroupMod(r: Reader, xid: number): GroupModMessage {
  const c = r.u16('group command');
  const command = GROUP_COMMANDS[c];
  if (command === undefined) r.fail(`unknown group_mod command ${c}`);
  const groupType = groupTypeFromWire(r, r.u8('group type'));
  r.skip(1);
  const groupId = r.u32('group id');
  return { type: 'group_mod', xid, command, groupType, groupId, buckets: decodeBuckets(r) };
}
