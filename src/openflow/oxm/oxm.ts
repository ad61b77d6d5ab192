import { OpenFlowEncodeError } from '../errors';
import { Reader } from '../wire/reader';
import { Writer } from '../wire/writer';
import { FIELDS, FieldDef, KIND_BYTES, OXM_CLASS, Oxm, fieldByHeader } from './fields';
import { readValue, writeValue } from './value';

/**
 * One OXM TLV: class(16) field(7) hasmask(1) length(8), then for class 0xffff a
 * 32-bit experimenter id (counted in length), then value and optional mask.
 */
export function encodeOxm(w: Writer, f: Oxm): void {
  if (f.field === 'unknown') {
    const exp = f.oxmClass === OXM_CLASS.EXPERIMENTER ? 4 : 0;
    const len = exp + f.value.length + (f.mask?.length ?? 0);
    writeHeader(w, f.oxmClass, f.oxmField, f.mask !== undefined, len);
    if (exp) w.u32(f.experimenter ?? 0);
    w.bytes(f.value);
    if (f.mask) w.bytes(f.mask);
    return;
  }
  const def: FieldDef = FIELDS[f.field];
  const masked = f.mask !== undefined;
  if (masked && !def.maskable) throw new OpenFlowEncodeError(`field ${f.field} cannot be masked`);
  const exp = def.experimenter === undefined ? 0 : 4;
  writeHeader(w, def.oxmClass, def.oxmField, masked, exp + KIND_BYTES[def.kind] * (masked ? 2 : 1));
  if (def.experimenter !== undefined) w.u32(def.experimenter);
  writeValue(w, def.kind, f.value, f.field);
  if (masked) writeValue(w, def.kind, f.mask as NonNullable<typeof f.mask>, `${f.field} mask`);
}

function writeHeader(w: Writer, cls: number, field: number, hasMask: boolean, len: number): void {
  if (len > 255) throw new OpenFlowEncodeError(`OXM payload too long: ${len}`);
  w.u16(cls).u8(((field & 0x7f) << 1) | (hasMask ? 1 : 0)).u8(len);
}

export function decodeOxm(r: Reader): Oxm {
  const cls = r.u16('oxm class');
  const fh = r.u8('oxm field');
  const len = r.u8('oxm length');
  const oxmField = fh >> 1;
  const hasMask = (fh & 1) === 1;
  // The common case, a known field of its exact size, is read in place: no sub-reader.
  const known = cls === OXM_CLASS.EXPERIMENTER ? undefined : fieldByHeader(cls, oxmField, undefined);
  if (known !== undefined && len <= r.remaining) {
    const kind = FIELDS[known].kind;
    if (len === KIND_BYTES[kind] * (hasMask ? 2 : 1)) {
      const value = readValue(r, kind, 'oxm value');
      if (!hasMask) return { field: known, value } as Oxm;
      return { field: known, value, mask: readValue(r, kind, 'oxm mask') } as Oxm;
    }
  }
  const body = r.sub(len, 'oxm payload');
  let experimenter: number | undefined;
  if (cls === OXM_CLASS.EXPERIMENTER) experimenter = body.u32('oxm experimenter');
  const payload = body.remaining;
  if (hasMask && payload % 2 !== 0) body.fail(`odd masked OXM payload length ${payload}`);
  const name = fieldByHeader(cls, oxmField, experimenter);
  const n = hasMask ? payload / 2 : payload;
  if (name === undefined || KIND_BYTES[FIELDS[name].kind] !== n) {
    const value = body.bytes(n, 'oxm value');
    const out: Oxm = { field: 'unknown', oxmClass: cls, oxmField, value };
    if (experimenter !== undefined) out.experimenter = experimenter;
    if (hasMask) out.mask = body.bytes(n, 'oxm mask');
    return out;
  }
  const kind = FIELDS[name].kind;
  const value = readValue(body, kind, 'oxm value');
  if (!hasMask) return { field: name, value } as Oxm;
  return { field: name, value, mask: readValue(body, kind, 'oxm mask') } as Oxm;
}

/**
 * The 32-bit NXM/OXM header alone (no experimenter id), as used inside
 * reg_load / reg_move / ct zone_src. Experimenter fields need 64-bit headers
 * there, which those actions do not support in this library.
 */
export function fieldHeader32(def: FieldDef, name: string): number {
  if (def.experimenter !== undefined) {
    throw new OpenFlowEncodeError(`field ${name} has an experimenter header and cannot be used here`);
  }
  return ((def.oxmClass << 16) | (def.oxmField << 9) | KIND_BYTES[def.kind]) >>> 0;
}
