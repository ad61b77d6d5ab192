import { isIPv6 } from 'node:net';
import { OpenFlowEncodeError } from '../errors';

/**
 * Addresses travel as canonical strings (lower-case MAC, dotted IPv4, RFC 5952
 * IPv6) so decoded objects are readable and deep-equal comparable.
 */

function hexDigit(c: number): number {
  if (c >= 48 && c <= 57) return c - 48; // 0-9
  const l = c | 0x20; // fold to lower case
  return l >= 97 && l <= 102 ? l - 87 : -1; // a-f
}

/**
 * Writes "aa:bb:cc:dd:ee:ff" as 6 bytes into `out` at `at` without allocating
 * (this runs for every MAC of every flow_mod); throws on anything else.
 */
export function writeMac(mac: string, out: Uint8Array, at: number): void {
  if (mac.length !== 17) throw new OpenFlowEncodeError(`invalid MAC address: ${mac}`);
  for (let i = 0; i < 6; i++) {
    const hi = hexDigit(mac.charCodeAt(i * 3));
    const lo = hexDigit(mac.charCodeAt(i * 3 + 1));
    if (hi < 0 || lo < 0 || (i < 5 && mac.charCodeAt(i * 3 + 2) !== 58)) throw new OpenFlowEncodeError(`invalid MAC address: ${mac}`);
    out[at + i] = (hi << 4) | lo;
  }
}

export function macToBytes(mac: string): Buffer {
  const b = Buffer.alloc(6);
  writeMac(mac, b, 0);
  return b;
}

/** Dotted quad to a 32-bit number, strictly (no leading zeros, 0..255 each), without allocating. */
export function parseIpv4(ip: string): number {
  let value = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i <= ip.length; i++) {
    const c = i < ip.length ? ip.charCodeAt(i) : 46;
    if (c === 46) {
      if (digits === 0 || part > 255) throw new OpenFlowEncodeError(`invalid IPv4 address: ${ip}`);
      value = value * 256 + part;
      if (i < ip.length) dots++;
      part = 0;
      digits = 0;
    } else if (c >= 48 && c <= 57) {
      if (digits > 0 && part === 0) throw new OpenFlowEncodeError(`invalid IPv4 address: ${ip}`);
      part = part * 10 + (c - 48);
      digits++;
    } else {
      throw new OpenFlowEncodeError(`invalid IPv4 address: ${ip}`);
    }
  }
  if (dots !== 3) throw new OpenFlowEncodeError(`invalid IPv4 address: ${ip}`);
  return value;
}

/** Two lower-case hex digits per byte value. */
const HEX2 = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** Char codes of the lower-case hex digits. */
const HEX_CODES = Array.from('0123456789abcdef', (c) => c.charCodeAt(0));
const COLON = 58;

/**
 * The MAC in buf[at, at + 6). A flow dump reads tens of thousands: built as one flat
 * 17-character string (a template literal would allocate a rope of ten pieces).
 */
export function macAt(buf: Uint8Array, at: number): string {
  const h = HEX_CODES;
  const b0 = buf[at]!, b1 = buf[at + 1]!, b2 = buf[at + 2]!, b3 = buf[at + 3]!, b4 = buf[at + 4]!, b5 = buf[at + 5]!;
  return String.fromCharCode(
    h[b0 >> 4]!, h[b0 & 15]!, COLON, h[b1 >> 4]!, h[b1 & 15]!, COLON, h[b2 >> 4]!, h[b2 & 15]!, COLON,
    h[b3 >> 4]!, h[b3 & 15]!, COLON, h[b4 >> 4]!, h[b4 & 15]!, COLON, h[b5 >> 4]!, h[b5 & 15]!,
  );
}

/** The dotted IPv4 address in buf[at, at + 4), as a flat string (keys and encoders read it whole). */
export function ipv4At(buf: Uint8Array, at: number): string {
  return [buf[at], buf[at + 1], buf[at + 2], buf[at + 3]].join('.');
}

export function macFromBytes(b: Buffer): string {
  if (b.length === 6) return macAt(b, 0);
  return [...b].map((x) => HEX2[x]!).join(':');
}

export function ipv4ToBytes(ip: string): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(parseIpv4(ip), 0);
  return b;
}

export function ipv4FromBytes(b: Buffer): string {
  return b.length === 4 ? ipv4At(b, 0) : [...b].join('.');
}

export function ipv6ToBytes(ip: string): Buffer {
  if (!isIPv6(ip)) throw new OpenFlowEncodeError(`invalid IPv6 address: ${ip}`);
  let s = ip;
  // An embedded dotted quad (::ffff:1.2.3.4) becomes two hex groups.
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (v4?.[1]) {
    const b = ipv4ToBytes(v4[1]);
    s = s.slice(0, -v4[1].length) + `${b.readUInt16BE(0).toString(16)}:${b.readUInt16BE(2).toString(16)}`;
  }
  const [head, tail] = s.includes('::') ? s.split('::') : [s, undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}

/** RFC 5952: lower case, leading zeros dropped, longest run (>=2) of zero groups as "::". */
export function ipv6FromBytes(b: Buffer): string {
  const g: number[] = [];
  for (let i = 0; i < 16; i += 2) g.push(b.readUInt16BE(i));
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (xs: number[]): string => xs.map((x) => x.toString(16)).join(':');
  if (bestStart < 0) return hex(g);
  return `${hex(g.slice(0, bestStart))}::${hex(g.slice(bestStart + bestLen))}`;
}
