import { OFP13_VERSION } from '../constants';
import { Reader } from '../wire/reader';
import { Writer } from '../wire/writer';

export interface HelloMessage {
  type: 'hello';
  xid: number;
  /** Versions offered in the OFPHET_VERSIONBITMAP element, ascending; empty = no element. */
  versions: number[];
  /**
   * The header's version, when it is not 1.3's: without a bitmap it is the highest version
   * the peer speaks (OVS configured for OpenFlow 1.0 only sends a bare 1.0 HELLO).
   */
  headerVersion?: number;
}

const OFPHET_VERSIONBITMAP = 1;

export function encodeHello(w: Writer, m: HelloMessage): void {
  if (m.versions.length === 0) return;
  const start = w.length;
  const words = Math.floor(Math.max(...m.versions) / 32) + 1;
  const bitmap = new Array<number>(words).fill(0);
  for (const v of m.versions) {
    const i = Math.floor(v / 32);
    bitmap[i] = ((bitmap[i] as number) | (1 << v % 32)) >>> 0;
  }
  w.u16(OFPHET_VERSIONBITMAP).u16(4 + 4 * words);
  for (const b of bitmap) w.u32(b);
  w.pad8(start);
}

export function decodeHello(r: Reader, xid: number, headerVersion: number): HelloMessage {
  const versions: number[] = [];
  // Elements are TLVs padded to 8; unknown ones are skipped as the spec asks.
  while (r.remaining >= 4) {
    const type = r.u16('hello element type');
    const len = r.u16('hello element length');
    if (len < 4) r.fail(`bad hello element length ${len}`);
    const body = r.sub(len - 4, 'hello element');
    r.skip(Math.min(r.remaining, (8 - (len % 8)) % 8));
    if (type !== OFPHET_VERSIONBITMAP) continue;
    for (let word = 0; body.remaining >= 4; word++) {
      const bits = body.u32('version bitmap');
      for (let b = 0; b < 32; b++) if (bits & (1 << b)) versions.push(word * 32 + b);
    }
  }
  return headerVersion === OFP13_VERSION ? { type: 'hello', xid, versions } : { type: 'hello', xid, versions, headerVersion };
}
