/**
 * Single IP addresses as (family, bigint) pairs. ip-address does the parsing (it already
 * rejects leading zeros such as "10.000.0.1", which some libcs read as octal); we do the
 * formatting ourselves so the canonical text is exactly RFC 5952 and never depends on
 * the library's choices, because canonical strings are what callers store and compare.
 */
import { Address4, Address6 } from 'ip-address';
import { IpamError } from './errors';

export type IpFamily = 4 | 6;

export interface IpAddress {
  family: IpFamily;
  value: bigint;
}

export const ADDRESS_BITS: Record<IpFamily, number> = { 4: 32, 6: 128 };

/** Parses one address (no prefix, no zone). Throws IpamError with a human message. */
export function parseIp(text: string, field?: string): IpAddress {
  if (typeof text !== 'string' || text.length === 0) {
    throw new IpamError('must be an IP address', field);
  }
  if (text.includes('/')) {
    throw new IpamError(`"${text}" is a CIDR, expected a single address`, field);
  }
  if (text.includes(':')) {
    // Zones name a local interface; they mean nothing in a tenant's network.
    if (text.includes('%')) throw new IpamError(`"${text}": IPv6 zone identifiers are not allowed`, field);
    try {
      return { family: 6, value: new Address6(text).bigInt() };
    } catch (err) {
      throw new IpamError(`"${text}" is not a valid IPv6 address: ${reason(err)}`, field);
    }
  }
  try {
    return { family: 4, value: new Address4(text).bigInt() };
  } catch (err) {
    throw new IpamError(`"${text}" is not a valid IPv4 address: ${reason(err)}`, field);
  }
}

/** Like parseIp but returns undefined instead of throwing. */
export function tryParseIp(text: string): IpAddress | undefined {
  try {
    return parseIp(text);
  } catch {
    return undefined;
  }
}

export function isValidIp(text: string): boolean {
  return tryParseIp(text) !== undefined;
}

/** The canonical text of an address: dotted quad, or RFC 5952 (lower case, longest zero run compressed). */
export function formatIp(family: IpFamily, value: bigint): string {
  return family === 4 ? formatV4(value) : formatV6(value);
}

export function canonicalIp(text: string, field?: string): string {
  const ip = parseIp(text, field);
  return formatIp(ip.family, ip.value);
}

/** The canonical text of an address; text that is no address, as it is (to compare what users typed). */
export function canonicalIfIp(text: string): string {
  const ip = tryParseIp(text);
  return ip ? formatIp(ip.family, ip.value) : text;
}

export function familyName(family: IpFamily): string {
  return family === 4 ? 'IPv4' : 'IPv6';
}

function formatV4(v: bigint): string {
  // One Number (exact below 2^32) instead of a BigInt per octet: a pick formats every
  // address it walks past, a dozen per port in a burst.
  const n = Number(v);
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

const V4_MAPPED_PREFIX = 0xffffn << 32n;

function formatV6(v: bigint): string {
  // RFC 5952 section 5: IPv4-mapped addresses keep the dotted quad.
  if (v >> 32n === 0xffffn) return `::ffff:${formatV4(v - V4_MAPPED_PREFIX)}`;
  const groups: number[] = [];
  for (let i = 7; i >= 0; i--) groups.push(Number((v >> BigInt(i * 16)) & 0xffffn));
  // Longest run of zero groups, leftmost on ties, only if at least two long (RFC 5952 4.2).
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

function reason(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.replace(/\.$/, '').replace(/^./, (c) => c.toLowerCase());
}
