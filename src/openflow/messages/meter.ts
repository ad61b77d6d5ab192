import { Reader } from '../wire/reader';
import { Writer } from '../wire/writer';

export type MeterBand =
  | { type: 'drop'; rate: number; burstSize: number }
  | { type: 'dscp_remark'; rate: number; burstSize: number; precLevel: number }
  | { type: 'experimenter'; rate: number; burstSize: number; experimenter: number };

export type MeterModCommand = 'add' | 'modify' | 'delete';
const METER_COMMANDS: readonly MeterModCommand[] = ['add', 'modify', 'delete'];

export interface MeterModMessage {
  type: 'meter_mod';
  xid: number;
  command: MeterModCommand;
  /** MeterFlags bits (KBPS, PKTPS, BURST, STATS). */
  flags: number;
  meterId: number;
  bands: MeterBand[];
}

const OFPMBT = { drop: 1, dscp_remark: 2, experimenter: 0xffff } as const;

/** struct ofp_meter_band_*: type, len(16), rate, burst_size, 4 type-specific bytes. */
export function encodeBands(w: Writer, bands: readonly MeterBand[]): void {
  for (const b of bands) {
    w.u16(OFPMBT[b.type]).u16(16).u32(b.rate, 'band rate').u32(b.burstSize, 'band burst_size');
    if (b.type === 'drop') w.zeros(4);
    else if (b.type === 'dscp_remark') w.u8(b.precLevel, 'prec_level').zeros(3);
    else w.u32(b.experimenter, 'band experimenter');
  }
}

export function decodeBands(r: Reader): MeterBand[] {
  const out: MeterBand[] = [];
  while (r.remaining > 0) {
    const type = r.u16('band type');
    const len = r.u16('band length');
    if (len < 16) r.fail(`bad meter band length ${len}`);
    const body = r.sub(len - 4, 'meter band');
    const rate = body.u32('rate');
    const burstSize = body.u32('burst_size');
    if (type === OFPMBT.drop) out.push({ type: 'drop', rate, burstSize });
    else if (type === OFPMBT.dscp_remark) out.push({ type: 'dscp_remark', rate, burstSize, precLevel: body.u8('prec_level') });
    else if (type === OFPMBT.experimenter) out.push({ type: 'experimenter', rate, burstSize, experimenter: body.u32('experimenter') });
    else r.fail(`unknown meter band type ${type}`);
  }
  return out;
}

export function encodeMeterMod(w: Writer, m: MeterModMessage): void {
  w.u16(METER_COMMANDS.indexOf(m.command) >>> 0, 'meter command').u16(m.flags, 'meter flags').u32(m.meterId, 'meter id');
  encodeBands(w, m.bands);
}

export function decodeMeterMod(r: Reader, xid: number): MeterModMessage {
  const c = r.u16('meter command');
  const command = METER_COMMANDS[c];
  if (command === undefined) r.fail(`unknown meter_mod command ${c}`);
  const flags = r.u16('meter flags');
  const meterId = r.u32('meter id');
  return { type: 'meter_mod', xid, command, flags, meterId, bands: decodeBands(r) };
}
