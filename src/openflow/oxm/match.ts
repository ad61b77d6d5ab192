import { Reader } from '../wire/reader';
import { Writer } from '../wire/writer';
import { Oxm } from './fields';
import { decodeOxm, encodeOxm } from './oxm';
import { checkMatch } from './prereq';

/** ofp_match type OFPMT_OXM: the only match type OpenFlow 1.3 switches speak. */
const OFPMT_OXM = 1;

export type Match = Oxm[];

/**
 * struct ofp_match: type, length (header + TLVs, without padding), TLVs, padding
 * to 8. `check` runs the prerequisite checks; decoding never checks (a switch's
 * flow dump is what it is).
 */
export function encodeMatch(w: Writer, match: readonly Oxm[], check = true): void {
  if (check) checkMatch(match);
  const start = w.length;
  w.u16(OFPMT_OXM).u16(0);
  for (const f of match) encodeOxm(w, f);
  w.patchLength(start + 2, start);
  w.pad8(start);
}

export function decodeMatch(r: Reader): Match {
  const type = r.u16('match type');
  if (type !== OFPMT_OXM) r.fail(`unsupported match type ${type}`);
  const len = r.u16('match length');
  if (len < 4) r.fail(`match length ${len} < 4`);
  const body = r.sub(len - 4, 'match fields');
  r.skip((8 - (len % 8)) % 8, 'match padding');
  const out: Oxm[] = [];
  while (body.remaining > 0) out.push(decodeOxm(body));
  return out;
}
