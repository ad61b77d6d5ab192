/**
 * CIDRs and the subnets of a VirtualNetwork: parsing, canonical forms, containment,
 * overlap, gateway and excluded ranges, and which addresses are reserved.
 *
 * Reservation rules (the same as OpenStack Neutron's default allocation pools):
 * - IPv4: the network and broadcast addresses are never allocatable.
 * - IPv6: the network address (the subnet-router anycast address, RFC 4291 2.6.1) is
 *   never allocatable; there is no broadcast, so the last address is a host.
 * - The gateway (default: the first host address) is never allocatable.
 * Decision on tiny subnets: a subnet must leave at least one allocatable address after
 * those reservations, so IPv4 /31 and /32 (RFC 3021 point-to-point links have no place
 * in a tenant L2 network) and IPv6 /127 and /128 are rejected. The largest prefixes
 * accepted are /30 and /126.
 */
import type { IpRange, Subnet } from '../resources/kinds';
import { ADDRESS_BITS, formatIp, familyName, parseIp, tryParseIp, type IpAddress, type IpFamily } from './address';
import { IpamError, IpamValidationError, type IpamIssue } from './errors';

export interface Cidr {
  family: IpFamily;
  prefix: number;
  /** The network (first) address. */
  network: bigint;
  /** The last address (IPv4 broadcast). */
  last: bigint;
  /** Number of addresses, including reserved ones. */
  size: bigint;
  /** Canonical text, e.g. "10.0.0.0/24", "fd00::/64". */
  text: string;
}

/** An inclusive range of addresses of one family. */
export interface AddressRange {
  start: bigint;
  end: bigint;
}

export const MAX_SUBNET_PREFIX: Record<IpFamily, number> = { 4: 30, 6: 126 };

const PREFIX_RE = /^(0|[1-9][0-9]{0,2})$/;

/**
 * Address space no tenant subnet may overlap (RFC 6890): VMs there could not be reached,
 * or would answer for the hypervisor's own loopback. Link-local and private space stay
 * allowed, as in Neutron and OVN.
 */
const RESERVED: ReadonlyArray<readonly [string, string]> = [
  ['0.0.0.0/8', '"this network" (0.0.0.0/8)'],
  ['127.0.0.0/8', 'loopback (127.0.0.0/8)'],
  ['224.0.0.0/4', 'multicast (224.0.0.0/4)'],
  ['240.0.0.0/4', 'reserved and broadcast (240.0.0.0/4)'],
  // The unspecified and loopback addresses, and the deprecated IPv4-compatible ones (RFC 4291
  // 2.5.5.1): QA-116 took ::10.0.0.0/104 as a tenant subnet.
  ['::/96', 'the unspecified, loopback and IPv4-compatible addresses (::/96)'],
  ['ff00::/8', 'multicast (ff00::/8)'],
  // IPv4 written as IPv6 (RFC 4291 2.5.5.2): the dataplane sees them as IPv4, and nodes refuse them too.
  ['::ffff:0:0/96', 'IPv4-mapped addresses (::ffff:0:0/96)'],
  ['fe80::/10', 'link-local addresses (fe80::/10): every port has its own there'],
];
let reservedCidrs: Array<{ cidr: Cidr; name: string }> | undefined;

/**
 * What reserved space `cidr` overlaps, if any. Checked when a subnet is declared
 * (admission), not whenever one is read: a network stored before the check keeps working.
 */
export function reservedOverlap(cidr: Cidr): string | undefined {
  reservedCidrs ??= RESERVED.map(([text, name]) => ({ cidr: parseCidr(text), name }));
  return reservedCidrs.find(({ cidr: r }) => r.family === cidr.family && r.network <= cidr.last && cidr.network <= r.last)?.name;
}

/** Parses "addr/prefix". Rejects host bits set, naming the network the user probably meant. */
export function parseCidr(text: string, field?: string): Cidr {
  if (typeof text !== 'string') throw new IpamError('must be a CIDR such as 10.0.0.0/24', field);
  const slash = text.indexOf('/');
  if (slash < 0) throw new IpamError(`"${text}" is not a CIDR: missing "/prefix"`, field);
  const ip = parseIp(text.slice(0, slash), field);
  const prefixText = text.slice(slash + 1);
  const bits = ADDRESS_BITS[ip.family];
  // ip-address accepts "/024"; a prefix has one spelling here.
  if (!PREFIX_RE.test(prefixText) || Number(prefixText) > bits) {
    throw new IpamError(`"${text}": prefix length must be an integer from 0 to ${bits}`, field);
  }
  const prefix = Number(prefixText);
  const size = 1n << BigInt(bits - prefix);
  const network = ip.value & ~(size - 1n);
  const canonical = `${formatIp(ip.family, network)}/${prefix}`;
  if (network !== ip.value) {
    throw new IpamError(`"${text}" has host bits set: the network is ${canonical}`, field);
  }
  return { family: ip.family, prefix, network, last: network + size - 1n, size, text: canonical };
}

export function tryParseCidr(text: string): Cidr | undefined {
  try {
    return parseCidr(text);
  } catch {
    return undefined;
  }
}

export function canonicalCidr(text: string, field?: string): string {
  return parseCidr(text, field).text;
}

export function cidrContains(cidr: Cidr, ip: IpAddress): boolean {
  return ip.family === cidr.family && ip.value >= cidr.network && ip.value <= cidr.last;
}

/**
 * Whether `addressOrCidr` (an address, or a CIDR: an allowed address pair's form) covers
 * the address `ip`; false for text that parses as neither.
 */
export function coversAddress(addressOrCidr: string, ip: string): boolean {
  const addr = tryParseIp(ip);
  if (!addr) return false;
  const cidr = tryParseCidr(addressOrCidr.includes('/') ? addressOrCidr : `${addressOrCidr}/${addr.family === 4 ? 32 : 128}`);
  return cidr !== undefined && cidrContains(cidr, addr);
}

/** True when every address of inner is in outer. */
export function cidrContainsCidr(outer: Cidr, inner: Cidr): boolean {
  return outer.family === inner.family && inner.network >= outer.network && inner.last <= outer.last;
}

/** CIDRs either nest or are disjoint, so overlap means one contains the other. */
export function cidrsOverlap(a: Cidr, b: Cidr): boolean {
  return cidrContainsCidr(a, b) || cidrContainsCidr(b, a);
}

/** The first pair of overlapping CIDRs (indexes into the input), if any. */
export function findOverlap(cidrs: readonly Cidr[]): [number, number] | undefined {
  for (let i = 0; i < cidrs.length; i++) {
    for (let j = i + 1; j < cidrs.length; j++) {
      if (cidrsOverlap(cidrs[i], cidrs[j])) return [i, j];
    }
  }
  return undefined;
}

export function networkReserved(cidr: Cidr): bigint {
  return cidr.network;
}

/** IPv4 only: the broadcast address. */
export function broadcastAddress(cidr: Cidr): bigint | undefined {
  return cidr.family === 4 ? cidr.last : undefined;
}

/** First address a host (or the gateway) may use. */
export function firstHost(cidr: Cidr): bigint {
  return cidr.network + 1n;
}

/** Last address a host may use. */
export function lastHost(cidr: Cidr): bigint {
  return cidr.family === 4 ? cidr.last - 1n : cidr.last;
}

/** Addresses usable by hosts and the gateway: size minus network (and broadcast for IPv4). */
export function hostCount(cidr: Cidr): bigint {
  const n = lastHost(cidr) - firstHost(cidr) + 1n;
  return n > 0n ? n : 0n;
}

/** Default gateway: the first host address, as Neutron, OVN-Kubernetes and most DHCP set-ups do. */
export function defaultGateway(cidr: Cidr): bigint {
  return firstHost(cidr);
}

/** Why an address of the CIDR's family cannot be a host here, or undefined if it can. */
export function hostReservedReason(cidr: Cidr, ip: IpAddress): string | undefined {
  const text = formatIp(ip.family, ip.value);
  if (ip.family !== cidr.family) return `${text} is ${familyName(ip.family)} but ${cidr.text} is ${familyName(cidr.family)}`;
  if (!cidrContains(cidr, ip)) return `${text} is outside ${cidr.text}`;
  if (ip.value === cidr.network) return `${text} is the network address of ${cidr.text}`;
  if (cidr.family === 4 && ip.value === cidr.last) return `${text} is the broadcast address of ${cidr.text}`;
  return undefined;
}

/** A subnet after validation: everything as numbers, excludes merged and sorted. */
export interface ResolvedSubnet {
  cidr: Cidr;
  gateway: bigint;
  /** Sorted, non-overlapping, non-adjacent inclusive ranges, clipped to the CIDR. */
  excludes: AddressRange[];
}

/** Every problem with a Subnet spec; field paths are relative to the subnet object. */
export function validateSubnet(spec: Subnet): IpamIssue[] {
  try {
    resolveSubnet(spec);
    return [];
  } catch (err) {
    if (err instanceof IpamValidationError) return err.issues;
    if (err instanceof IpamError) return [{ field: err.field, message: err.message }];
    throw err;
  }
}

/** Validates and resolves a Subnet spec; throws IpamValidationError listing every problem. */
export function resolveSubnet(spec: Subnet): ResolvedSubnet {
  const issues: IpamIssue[] = [];
  let cidr: Cidr;
  try {
    cidr = parseCidr(spec.cidr, 'cidr');
  } catch (err) {
    throw new IpamValidationError([asIssue(err, 'cidr')]);
  }
  if (cidr.prefix > MAX_SUBNET_PREFIX[cidr.family]) {
    issues.push({
      field: 'cidr',
      message: `${cidr.text} is too small: ${familyName(cidr.family)} subnets need a prefix of /${MAX_SUBNET_PREFIX[cidr.family]} or shorter to leave room for hosts`,
    });
    throw new IpamValidationError(issues);
  }

  let gateway = defaultGateway(cidr);
  if (spec.gateway !== undefined) {
    const reason = addressInSubnetIssue(cidr, spec.gateway, 'gateway');
    if (reason) issues.push(reason);
    else gateway = parseIp(spec.gateway).value;
  }

  const ranges: AddressRange[] = [];
  (spec.excludeRanges ?? []).forEach((r: IpRange, i) => {
    const base = `excludeRanges[${i}]`;
    const startIssue = addressInCidrIssue(cidr, r?.start, `${base}.start`);
    const endIssue = addressInCidrIssue(cidr, r?.end, `${base}.end`);
    if (startIssue) issues.push(startIssue);
    if (endIssue) issues.push(endIssue);
    if (startIssue || endIssue) return;
    const start = parseIp(r.start).value;
    const end = parseIp(r.end).value;
    if (start > end) {
      issues.push({ field: base, message: `start ${r.start} is after end ${r.end}` });
      return;
    }
    ranges.push({ start, end });
  });

  if (issues.length > 0) throw new IpamValidationError(issues);
  return { cidr, gateway, excludes: mergeRanges(ranges) };
}

/**
 * Addresses that can be handed out: hosts minus the gateway minus excluded ranges.
 * This is the "free" figure in VirtualNetwork status before subtracting allocations.
 */
export function allocatableCount(subnet: ResolvedSubnet): bigint {
  return allocatableRanges(subnet).reduce((n, r) => n + (r.end - r.start + 1n), 0n);
}

/** The allocatable addresses as sorted inclusive ranges (host range minus gateway and excludes). */
export function allocatableRanges(subnet: ResolvedSubnet): AddressRange[] {
  const holes = mergeRanges([...subnet.excludes, { start: subnet.gateway, end: subnet.gateway }]);
  const out: AddressRange[] = [];
  let cursor = firstHost(subnet.cidr);
  const hi = lastHost(subnet.cidr);
  for (const h of holes) {
    if (h.start > cursor) out.push({ start: cursor, end: (h.start - 1n < hi ? h.start - 1n : hi) });
    if (h.end + 1n > cursor) cursor = h.end + 1n;
    if (cursor > hi) break;
  }
  if (cursor <= hi) out.push({ start: cursor, end: hi });
  return out.filter((r) => r.start <= r.end);
}

/** Sorts and merges overlapping or adjacent ranges. */
export function mergeRanges(ranges: readonly AddressRange[]): AddressRange[] {
  const sorted = [...ranges].sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
  const out: AddressRange[] = [];
  for (const r of sorted) {
    const prev = out[out.length - 1];
    if (prev && r.start <= prev.end + 1n) {
      if (r.end > prev.end) prev.end = r.end;
    } else {
      out.push({ start: r.start, end: r.end });
    }
  }
  return out;
}

function addressInCidrIssue(cidr: Cidr, text: unknown, field: string): IpamIssue | undefined {
  let ip: IpAddress;
  try {
    ip = parseIp(text as string, field);
  } catch (err) {
    return asIssue(err, field);
  }
  if (ip.family !== cidr.family || !cidrContains(cidr, ip)) {
    return { field, message: hostReservedReason(cidr, ip) ?? `${String(text)} is outside ${cidr.text}` };
  }
  return undefined;
}

/** A gateway must be inside the CIDR and a usable host address. */
function addressInSubnetIssue(cidr: Cidr, text: string, field: string): IpamIssue | undefined {
  let ip: IpAddress;
  try {
    ip = parseIp(text, field);
  } catch (err) {
    return asIssue(err, field);
  }
  const reason = hostReservedReason(cidr, ip);
  return reason ? { field, message: reason } : undefined;
}

function asIssue(err: unknown, field: string): IpamIssue {
  if (err instanceof IpamError) return { field: err.field ?? field, message: err.message };
  throw err;
}
