import { OpenFlowEncodeError } from '../errors';
import { ipv4FromBytes, ipv4ToBytes, ipv6FromBytes, ipv6ToBytes, macFromBytes, macToBytes, parseIpv4 } from '../wire/addr';
import type { Reader } from '../wire/reader';
import { Writer } from '../wire/writer';
import { FieldKind, KIND_BYTES, KindValues } from './fields';

/** The all-ones value of the integer kinds JavaScript's 32-bit operators cover. */
const UINT_ALL_ONES: Partial<Record<FieldKind, number>> = { u8: 0xff, u16: 0xffff, u32: 0xffffffff };

/** The all-ones value of a u8, u16 or u32 field; undefined for wider or non-integer kinds. */
export function uintAllOnes(kind: FieldKind): number | undefined {
  return UINT_ALL_ONES[kind];
}

/**
 * v is a valid value of a u8, u16 or u32 field (what valueToBytes accepts for it): callers
 * then work on the number itself, without a Buffer; anything else takes valueToBytes.
 */
export function isUintOf(v: unknown, kind: FieldKind): v is number {
  const all = UINT_ALL_ONES[kind];
  return all !== undefined && typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= all;
}

/** Converts a field value between its typed form and its fixed-width wire bytes. */
export function valueToBytes(kind: FieldKind, v: KindValues[FieldKind], what: string): Buffer {
  const n = KIND_BYTES[kind];
  switch (kind) {
    case 'mac':
      return macToBytes(asString(v, what));
    case 'ipv4':
      return ipv4ToBytes(asString(v, what));
    case 'ipv6':
      return ipv6ToBytes(asString(v, what));
    case 'u64':
    case 'u128': {
      if (typeof v !== 'bigint' || v < 0n || v >= 1n << BigInt(n * 8)) {
        throw new OpenFlowEncodeError(`${what}: expected a ${n * 8}-bit bigint, got ${String(v)}`);
      }
      const b = Buffer.alloc(n);
      let x = v;
      for (let i = n - 1; i >= 0; i--) {
        b[i] = Number(x & 0xffn);
        x >>= 8n;
      }
      return b;
    }
    default: {
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v >= 2 ** (n * 8)) {
        throw new OpenFlowEncodeError(`${what}: expected a ${n * 8}-bit integer, got ${String(v)}`);
      }
      const b = Buffer.alloc(n);
      b.writeUIntBE(v, 0, n);
      return b;
    }
  }
}

/**
 * Writes a value straight into the writer: the same bytes as valueToBytes
 * without a Buffer per field, since every match field and set_field of every
 * flow_mod goes through here.
 */
export function writeValue(w: Writer, kind: FieldKind, v: KindValues[FieldKind], what: string): void {
  switch (kind) {
    case 'u8':
      w.u8(asNumber(v, 8, what), what);
      return;
    case 'u16':
      w.u16(asNumber(v, 16, what), what);
      return;
    case 'u32':
      w.u32(asNumber(v, 32, what), what);
      return;
    case 'u64':
      if (typeof v !== 'bigint') throw new OpenFlowEncodeError(`${what}: expected a 64-bit bigint, got ${String(v)}`);
      w.u64(v, what);
      return;
    case 'ipv4':
      w.u32(parseIpv4(asString(v, what)));
      return;
    case 'mac':
      w.mac(asString(v, what));
      return;
    default:
      w.bytes(valueToBytes(kind, v, what));
  }
}

function asNumber(v: unknown, bits: number, what: string): number {
  if (typeof v !== 'number') throw new OpenFlowEncodeError(`${what}: expected a ${bits}-bit integer, got ${String(v)}`);
  return v;
}

export function valueFromBytes(kind: FieldKind, b: Buffer): KindValues[FieldKind] {
  switch (kind) {
    case 'mac':
      return macFromBytes(b);
    case 'ipv4':
      return ipv4FromBytes(b);
    case 'ipv6':
      return ipv6FromBytes(b);
    case 'u64':
    case 'u128':
      return bytesToBigint(b);
    default:
      return b.readUIntBE(0, b.length);
  }
}

/** A value of `kind` read from the wire as valueFromBytes would decode it, without a copy for the common kinds. */
export function readValue(r: Reader, kind: FieldKind, what: string): KindValues[FieldKind] {
  switch (kind) {
    case 'mac':
      return r.mac(what);
    case 'ipv4':
      return r.ipv4(what);
    case 'u8':
    case 'u16':
    case 'u32':
      return r.uintBE(KIND_BYTES[kind], what);
    default:
      return valueFromBytes(kind, r.bytes(KIND_BYTES[kind], what));
  }
}

export function bytesToBigint(b: Buffer): bigint {
  let x = 0n;
  for (const byte of b) x = (x << 8n) | BigInt(byte);
  return x;
}

function asString(v: unknown, what: string): string {
  if (typeof v !== 'string') throw new OpenFlowEncodeError(`${what}: expected a string, got ${String(v)}`);
  return v;
}
