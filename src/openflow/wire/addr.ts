import { isIPv4, isIPv6 } from 'node:net';
import { OpenFlowEncodeError } from '../errors';

/**
 * Addresses travel as canonical strings (lower-case MAC, dotted IPv4, RFC 5952
 * IPv6) so decoded objects are readable and deep-equal comparable.
 */

export function macToBytes(mac: string): Buffer {
  const parts = mac.split(':');
  if (parts.length !== 6 || parts.some((p) => !/^[0-9a-fA-F]{2}$/.test(p))) {
    throw new OpenFlowEncodeError(`invalid MAC address: ${mac}`);
  }
  return Buffer.from(parts.map((p) => parseInt(p, 16)));
}

export function macFromBytes(b: Buffer): string {
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join(':');
}

export function ipv4ToBytes(ip: string): Buffer {
  if (!isIPv4(ip)) throw new OpenFlowEncodeError(`invalid IPv4 address: ${ip}`);
  return Buffer.from(ip.split('.').map((p) => Number(p)));
}

export function ipv4FromBytes(b: Buffer): string {
  return [...b].join('.');
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
