import { Match, decodeMatch, encodeMatch } from '../oxm/match';
import { Reader } from '../wire/reader';
import { Writer } from '../wire/writer';

/** ofp_multipart_type values this library models. */
export const OFPMP = {
  DESC: 0,
  FLOW: 1,
  AGGREGATE: 2,
  TABLE: 3,
  PORT_STATS: 4,
  GROUP: 6,
  GROUP_DESC: 7,
  METER: 9,
  METER_CONFIG: 10,
  PORT_DESC: 13,
} as const;

/** Selection shared by flow and aggregate stats requests. */
export interface FlowStatsSelector {
  /** OFPTT_ALL (255) for all tables. */
  tableId: number;
  outPort: number;
  outGroup: number;
  cookie: bigint;
  cookieMask: bigint;
  match: Match;
}

export type MultipartRequestBody =
  | { kind: 'desc' }
  | ({ kind: 'flow' } & FlowStatsSelector)
  | ({ kind: 'aggregate' } & FlowStatsSelector)
  | { kind: 'table' }
  | { kind: 'port_stats'; portNo: number }
  | { kind: 'port_desc' }
  | { kind: 'group'; groupId: number }
  | { kind: 'group_desc' }
  | { kind: 'meter'; meterId: number }
  | { kind: 'meter_config'; meterId: number }
  | { kind: 'unknown'; mpType: number; data: Buffer };

export interface MultipartRequestMessage {
  type: 'multipart_request';
  xid: number;
  /** OFPMPF_REQ_MORE when a request spans several messages (rare). */
  flags: number;
  body: MultipartRequestBody;
}

const KIND_TO_TYPE = {
  desc: OFPMP.DESC,
  flow: OFPMP.FLOW,
  aggregate: OFPMP.AGGREGATE,
  table: OFPMP.TABLE,
  port_stats: OFPMP.PORT_STATS,
  port_desc: OFPMP.PORT_DESC,
  group: OFPMP.GROUP,
  group_desc: OFPMP.GROUP_DESC,
  meter: OFPMP.METER,
  meter_config: OFPMP.METER_CONFIG,
} as const;

export type MultipartKind = keyof typeof KIND_TO_TYPE;

export function multipartTypeOf(kind: MultipartKind): number {
  return KIND_TO_TYPE[kind];
}

export function multipartKindOf(type: number): MultipartKind | undefined {
  for (const [k, v] of Object.entries(KIND_TO_TYPE)) if (v === type) return k as MultipartKind;
  return undefined;
}

export function encodeMultipartRequest(w: Writer, m: MultipartRequestMessage): void {
  const b = m.body;
  w.u16(b.kind === 'unknown' ? b.mpType : multipartTypeOf(b.kind), 'multipart type').u16(m.flags).zeros(4);
  switch (b.kind) {
    case 'flow':
    case 'aggregate':
      w.u8(b.tableId, 'table_id').zeros(3).u32(b.outPort, 'out_port').u32(b.outGroup, 'out_group').zeros(4);
      w.u64(b.cookie, 'cookie').u64(b.cookieMask, 'cookie_mask');
      encodeMatch(w, b.match);
      return;
    case 'port_stats':
      w.u32(b.portNo, 'port_no').zeros(4);
      return;
    case 'group':
      w.u32(b.groupId, 'group_id').zeros(4);
      return;
    case 'meter':
    case 'meter_config':
      w.u32(b.meterId, 'meter_id').zeros(4);
      return;
    case 'unknown':
      w.bytes(b.data);
      return;
    default:
      return;
  }
}

export function decodeMultipartRequest(r: Reader, xid: number): MultipartRequestMessage {
  const mpType = r.u16('multipart type');
  const flags = r.u16('multipart flags');
  r.skip(4);
  const kind = multipartKindOf(mpType);
  let body: MultipartRequestBody;
  switch (kind) {
    case 'flow':
    case 'aggregate': {
      const tableId = r.u8('table_id');
      r.skip(3);
      const outPort = r.u32('out_port');
      const outGroup = r.u32('out_group');
      r.skip(4);
      const cookie = r.u64('cookie');
      const cookieMask = r.u64('cookie_mask');
      body = { kind, tableId, outPort, outGroup, cookie, cookieMask, match: decodeMatch(r) };
      break;
    }
    case 'port_stats':
      body = { kind, portNo: r.u32('port_no') };
      break;
    case 'group':
      body = { kind, groupId: r.u32('group_id') };
      break;
    case 'meter':
    case 'meter_config':
      body = { kind, meterId: r.u32('meter_id') };
      break;
    case undefined:
      body = { kind: 'unknown', mpType, data: r.rest() };
      break;
    default:
      body = { kind };
  }
  return { type: 'multipart_request', xid, flags, body };
}
