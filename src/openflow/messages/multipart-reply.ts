import { Instruction, decodeInstructions, encodeInstructions } from '../instructions';
import { Match, decodeMatch, encodeMatch } from '../oxm/match';
import { Reader } from '../wire/reader';
import { Writer } from '../wire/writer';
import { Bucket, GroupType, decodeBuckets, encodeBuckets, groupTypeFromWire, groupTypeToWire } from './group';
import { MeterBand, decodeBands, encodeBands } from './meter';
import { MultipartKind, multipartKindOf, multipartTypeOf } from './multipart-request';
import { PortDesc, decodePortDesc, encodePortDesc, fixedString, readFixedString } from './port';

export interface SwitchDesc {
  mfrDesc: string;
  hwDesc: string;
  swDesc: string;
  serialNum: string;
  dpDesc: string;
}

export interface FlowStats {
  tableId: number;
  durationSec: number;
  durationNsec: number;
  priority: number;
  idleTimeout: number;
  hardTimeout: number;
  flags: number;
  cookie: bigint;
  packetCount: bigint;
  byteCount: bigint;
  match: Match;
  instructions: Instruction[];
}

export interface TableStats {
  tableId: number;
  activeCount: number;
  lookupCount: bigint;
  matchedCount: bigint;
}

export const PORT_COUNTERS = [
  'rxPackets',
  'txPackets',
  'rxBytes',
  'txBytes',
  'rxDropped',
  'txDropped',
  'rxErrors',
  'txErrors',
  'rxFrameErr',
  'rxOverErr',
  'rxCrcErr',
  'collisions',
] as const;

export type PortStats = { portNo: number; durationSec: number; durationNsec: number } & Record<
  (typeof PORT_COUNTERS)[number],
  bigint
>;

export interface GroupDesc {
  groupType: GroupType;
  groupId: number;
  buckets: Bucket[];
}

export interface GroupStats {
  groupId: number;
  refCount: number;
  packetCount: bigint;
  byteCount: bigint;
  durationSec: number;
  durationNsec: number;
  buckets: { packetCount: bigint; byteCount: bigint }[];
}

export interface MeterStats {
  meterId: number;
  flowCount: number;
  packetInCount: bigint;
  byteInCount: bigint;
  durationSec: number;
  durationNsec: number;
  bands: { packetCount: bigint; byteCount: bigint }[];
}

export interface MeterConfig {
  flags: number;
  meterId: number;
  bands: MeterBand[];
}

export type MultipartReplyBody =
  | { kind: 'desc'; desc: SwitchDesc }
  | { kind: 'flow'; flows: FlowStats[] }
  | { kind: 'aggregate'; packetCount: bigint; byteCount: bigint; flowCount: number }
  | { kind: 'table'; tables: TableStats[] }
  | { kind: 'port_stats'; ports: PortStats[] }
  | { kind: 'port_desc'; ports: PortDesc[] }
  | { kind: 'group'; groups: GroupStats[] }
  | { kind: 'group_desc'; groups: GroupDesc[] }
  | { kind: 'meter'; meters: MeterStats[] }
  | { kind: 'meter_config'; meters: MeterConfig[] }
  | { kind: 'unknown'; mpType: number; data: Buffer };

export interface MultipartReplyMessage {
  type: 'multipart_reply';
  xid: number;
  /** OFPMPF_REPLY_MORE: more replies with this xid follow. */
  flags: number;
  body: MultipartReplyBody;
}

const DESC_STR_LEN = 256;
const SERIAL_NUM_LEN = 32;

export function encodeMultipartReply(w: Writer, m: MultipartReplyMessage): void {
  const b = m.body;
  w.u16(b.kind === 'unknown' ? b.mpType : multipartTypeOf(b.kind), 'multipart type').u16(m.flags).zeros(4);
  switch (b.kind) {
    case 'desc':
      w.bytes(fixedString(b.desc.mfrDesc, DESC_STR_LEN)).bytes(fixedString(b.desc.hwDesc, DESC_STR_LEN));
      w.bytes(fixedString(b.desc.swDesc, DESC_STR_LEN)).bytes(fixedString(b.desc.serialNum, SERIAL_NUM_LEN));
      w.bytes(fixedString(b.desc.dpDesc, DESC_STR_LEN));
      return;
    case 'flow':
      for (const f of b.flows) encodeFlowStats(w, f);
      return;
    case 'aggregate':
      w.u64(b.packetCount).u64(b.byteCount).u32(b.flowCount).zeros(4);
      return;
    case 'table':
      for (const t of b.tables) w.u8(t.tableId).zeros(3).u32(t.activeCount).u64(t.lookupCount).u64(t.matchedCount);
      return;
    case 'port_stats':
      for (const p of b.ports) {
        w.u32(p.portNo).zeros(4);
        for (const c of PORT_COUNTERS) w.u64(p[c], c);
        w.u32(p.durationSec).u32(p.durationNsec);
      }
      return;
    case 'port_desc':
      for (const p of b.ports) encodePortDesc(w, p);
      return;
    case 'group':
      for (const g of b.groups) {
        const start = w.length;
        w.u16(0).zeros(2).u32(g.groupId).u32(g.refCount).zeros(4).u64(g.packetCount).u64(g.byteCount);
        w.u32(g.durationSec).u32(g.durationNsec);
        for (const c of g.buckets) w.u64(c.packetCount).u64(c.byteCount);
        w.patchLength(start, start);
      }
      return;
    case 'group_desc':
      for (const g of b.groups) {
        const start = w.length;
        w.u16(0).u8(groupTypeToWire(g.groupType)).zeros(1).u32(g.groupId);
        encodeBuckets(w, g.buckets);
        w.patchLength(start, start);
      }
      return;
    case 'meter':
      for (const s of b.meters) {
        const start = w.length;
        w.u32(s.meterId).u16(0).zeros(6).u32(s.flowCount).u64(s.packetInCount).u64(s.byteInCount);
        w.u32(s.durationSec).u32(s.durationNsec);
        for (const c of s.bands) w.u64(c.packetCount).u64(c.byteCount);
        w.patchLength(start + 4, start);
      }
      return;
    case 'meter_config':
      for (const c of b.meters) {
        const start = w.length;
        w.u16(0).u16(c.flags).u32(c.meterId);
        encodeBands(w, c.bands);
        w.patchLength(start, start);
      }
      return;
    case 'unknown':
      w.bytes(b.data);
      return;
  }
}

function encodeFlowStats(w: Writer, f: FlowStats): void {
  const start = w.length;
  w.u16(0).u8(f.tableId).zeros(1).u32(f.durationSec).u32(f.durationNsec).u16(f.priority);
  w.u16(f.idleTimeout).u16(f.hardTimeout).u16(f.flags).zeros(4).u64(f.cookie).u64(f.packetCount).u64(f.byteCount);
  encodeMatch(w, f.match, false);
  encodeInstructions(w, f.instructions);
  w.patchLength(start, start);
}

/** Splits a reply body into length-prefixed records (length at byte `lenAt`). */
function records(r: Reader, lenAt: number, minLen: number, what: string): Reader[] {
  const out: Reader[] = [];
  while (r.remaining > 0) {
    const len = r.peekU16(lenAt, `${what} length`);
    if (len < minLen) r.fail(`bad ${what} length ${len}`);
    out.push(r.sub(len, what));
  }
  return out;
}

export function decodeMultipartReply(r: Reader, xid: number): MultipartReplyMessage {
  const mpType = r.u16('multipart type');
  const flags = r.u16('multipart flags');
  r.skip(4);
  const kind: MultipartKind | undefined = multipartKindOf(mpType);
  return { type: 'multipart_reply', xid, flags, body: decodeReplyBody(r, kind, mpType) };
}

function decodeReplyBody(r: Reader, kind: MultipartKind | undefined, mpType: number): MultipartReplyBody {
  switch (kind) {
    case 'desc': {
      const s = (n: number): string => readFixedString(r, n);
      return {
        kind,
        desc: { mfrDesc: s(DESC_STR_LEN), hwDesc: s(DESC_STR_LEN), swDesc: s(DESC_STR_LEN), serialNum: s(SERIAL_NUM_LEN), dpDesc: s(DESC_STR_LEN) },
      };
    }
    case 'flow':
      return { kind, flows: records(r, 0, 56, 'flow stats').map(decodeFlowStats) };
    case 'aggregate': {
      const packetCount = r.u64('packet_count');
      const byteCount = r.u64('byte_count');
      return { kind, packetCount, byteCount, flowCount: r.u32('flow_count') };
    }
    case 'table': {
      const tables: TableStats[] = [];
      while (r.remaining > 0) {
        const tableId = r.u8('table_id');
        r.skip(3);
        tables.push({ tableId, activeCount: r.u32('active_count'), lookupCount: r.u64('lookup_count'), matchedCount: r.u64('matched_count') });
      }
      return { kind, tables };
    }
    case 'port_stats': {
      const ports: PortStats[] = [];
      while (r.remaining > 0) {
        const portNo = r.u32('port_no');
        r.skip(4);
        const counters = Object.fromEntries(PORT_COUNTERS.map((c) => [c, r.u64(c)])) as Record<(typeof PORT_COUNTERS)[number], bigint>;
        ports.push({ portNo, ...counters, durationSec: r.u32('duration_sec'), durationNsec: r.u32('duration_nsec') });
      }
      return { kind, ports };
    }
    case 'port_desc': {
      const ports: PortDesc[] = [];
      while (r.remaining > 0) ports.push(decodePortDesc(r));
      return { kind, ports };
    }
    case 'group':
      return {
        kind,
        groups: records(r, 0, 40, 'group stats').map((g) => {
          g.skip(4);
          const groupId = g.u32('group_id');
          const refCount = g.u32('ref_count');
          g.skip(4);
          const packetCount = g.u64('packet_count');
          const byteCount = g.u64('byte_count');
          const durationSec = g.u32('duration_sec');
          const durationNsec = g.u32('duration_nsec');
          const buckets: GroupStats['buckets'] = [];
          while (g.remaining > 0) buckets.push({ packetCount: g.u64('bucket packets'), byteCount: g.u64('bucket bytes') });
          return { groupId, refCount, packetCount, byteCount, durationSec, durationNsec, buckets };
        }),
      };
    case 'group_desc':
      return {
        kind,
        groups: records(r, 0, 8, 'group desc').map((g) => {
          g.skip(2);
          const groupType = groupTypeFromWire(g, g.u8('group type'));
          g.skip(1);
          const groupId = g.u32('group_id');
          return { groupType, groupId, buckets: decodeBuckets(g) };
        }),
      };
    case 'meter':
      return {
        kind,
        meters: records(r, 4, 40, 'meter stats').map((m) => {
          const meterId = m.u32('meter_id');
          m.skip(8);
          const flowCount = m.u32('flow_count');
          const packetInCount = m.u64('packet_in_count');
          const byteInCount = m.u64('byte_in_count');
          const durationSec = m.u32('duration_sec');
          const durationNsec = m.u32('duration_nsec');
          const bands: MeterStats['bands'] = [];
          while (m.remaining > 0) bands.push({ packetCount: m.u64('band packets'), byteCount: m.u64('band bytes') });
          return { meterId, flowCount, packetInCount, byteInCount, durationSec, durationNsec, bands };
        }),
      };
    case 'meter_config':
      return {
        kind,
        meters: records(r, 0, 8, 'meter config').map((m) => {
          m.skip(2);
          const flags = m.u16('flags');
          const meterId = m.u32('meter_id');
          return { flags, meterId, bands: decodeBands(m) };
        }),
      };
    case undefined:
      return { kind: 'unknown', mpType, data: r.rest() };
  }
}

function decodeFlowStats(r: Reader): FlowStats {
  r.skip(2, 'length');
  const tableId = r.u8('table_id');
  r.skip(1);
  const durationSec = r.u32('duration_sec');
  const durationNsec = r.u32('duration_nsec');
  const priority = r.u16('priority');
  const idleTimeout = r.u16('idle_timeout');
  const hardTimeout = r.u16('hard_timeout');
  const flags = r.u16('flags');
  r.skip(4);
  const cookie = r.u64('cookie');
  const packetCount = r.u64('packet_count');
  const byteCount = r.u64('byte_count');
  const match = decodeMatch(r);
  return {
    tableId,
    durationSec,
    durationNsec,
    priority,
    idleTimeout,
    hardTimeout,
    flags,
    cookie,
    packetCount,
    byteCount,
    match,
    instructions: decodeInstructions(r),
  };
}
