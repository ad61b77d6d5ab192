import { OpenFlowEncodeError } from '../errors';
import { FIELDS, KIND_BYTES, fieldByHeader } from '../oxm/fields';
import { fieldHeader32 } from '../oxm/oxm';
import { Reader } from '../wire/reader';
import { Subfield } from './types';

/** Bit width of a field. */
export function fieldBits(sf: Pick<Subfield, 'field'>): number {
  return KIND_BYTES[FIELDS[sf.field].kind] * 8;
}

export function checkSubfield(sf: Subfield, what: string): void {
  const bits = fieldBits(sf);
  if (!Number.isInteger(sf.ofs) || !Number.isInteger(sf.nbits) || sf.nbits < 1 || sf.ofs < 0 || sf.ofs + sf.nbits > bits) {
    throw new OpenFlowEncodeError(`${what}: ${sf.field}[${sf.ofs}..${sf.ofs + sf.nbits - 1}] exceeds ${bits} bits`);
  }
}

export function subfieldHeader(sf: Subfield): number {
  return fieldHeader32(FIELDS[sf.field], sf.field);
}

/** ofs_nbits packs a range into 16 bits: ofs << 6 | (nbits - 1). */
export function encodeOfsNbits(sf: Subfield, what: string): number {
  checkSubfield(sf, what);
  return (sf.ofs << 6) | (sf.nbits - 1);
}

/** Resolves a 32-bit NXM/OXM header read from an action back to a field name. */
export function fieldFromHeader32(r: Reader, header: number, what: string): Subfield['field'] {
  const cls = header >>> 16;
  const field = (header >>> 9) & 0x7f;
  const name = fieldByHeader(cls, field);
  if (name === undefined || FIELDS[name].experimenter !== undefined) {
    r.fail(`${what}: unsupported field header 0x${header.toString(16)}`);
  }
  return name;
}

export function decodeSubfield(r: Reader, header: number, ofs: number, nbits: number, what: string): Subfield {
  const sf: Subfield = { field: fieldFromHeader32(r, header, what), ofs, nbits };
  if (nbits < 1 || ofs + nbits > fieldBits(sf)) r.fail(`${what}: bit range ${ofs}+${nbits} exceeds ${sf.field}`);
  return sf;
}
