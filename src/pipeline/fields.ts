/**
 * Register fields and marks of the pipeline, named once (Antrea's fields file).
 * Flow code uses these helpers; no raw register number appears anywhere else.
 */
import type { Action, KnownOxm, Oxm, Subfield } from '../openflow';
import { SharedParts } from './shared-parts';

export interface RegField {
  readonly name: string;
  readonly sub: Subfield;
}

export interface RegMark {
  readonly name: string;
  readonly field: RegField;
  readonly value: number;
}

function regField(name: string, reg: 'reg0' | 'reg1' | 'reg2' | 'reg3' | 'reg4', ofs: number, nbits: number): RegField {
  return Object.freeze({ name, sub: Object.freeze({ field: reg, ofs, nbits }) });
}

/** The packet's network: its VNI (24 bits, unique across tenants). */
export const NetworkField = regField('Network', 'reg0', 0, 24);
/** Flags register; bit 0 = the packet came in on a tunnel port. */
export const FromTunnelField = regField('FromTunnel', 'reg1', 0, 1);
export const FromTunnelMark: RegMark = Object.freeze({ name: 'FromTunnel', field: FromTunnelField, value: 1 });
export const FromLocalMark: RegMark = Object.freeze({ name: 'FromLocal', field: FromTunnelField, value: 0 });
/** Flags register; bit 1 = this packet is an ND solicitation being turned into its answer. */
export const NdReplyField = regField('NdReply', 'reg1', 1, 1);
export const NdReplyMark: RegMark = Object.freeze({ name: 'NdReply', field: NdReplyField, value: 1 });
/** Flags register; bit 2 = the packet came from a local port with port security (router-guard.ts). */
export const PortSecuredField = regField('PortSecured', 'reg1', 2, 1);
export const PortSecuredMark: RegMark = Object.freeze({ name: 'PortSecured', field: PortSecuredField, value: 1 });

function mask(f: RegField): number {
  return f.sub.nbits >= 32 ? 0xffffffff : ((1 << f.sub.nbits) - 1) * 2 ** f.sub.ofs;
}

const matches = new SharedParts<KnownOxm>();
const loads = new SharedParts<Action>();

/** A match on a register field (masked when the field is narrower than its register); shared, frozen. */
export function matchField(f: RegField, value: number): KnownOxm {
  return matches.get(`${f.name}/${value}`, () => {
    const m = mask(f);
    const v = value * 2 ** f.sub.ofs;
    if (m === 0xffffffff) return { field: f.sub.field, value: v } as KnownOxm;
    return { field: f.sub.field, value: v, mask: m } as KnownOxm;
  });
}

/** One match on several fields of the same register (a match may name a register once); shared, frozen. */
export function matchFields(...fields: Array<[RegField, number]>): KnownOxm {
  const reg = fields[0]![0].sub.field;
  if (fields.some(([f]) => f.sub.field !== reg)) throw new Error(`matchFields: ${fields.map(([f]) => f.name).join(', ')} are not all in ${reg}`);
  return matches.get(fields.map(([f, v]) => `${f.name}/${v}`).join('+'), () => {
    let m = 0;
    let v = 0;
    for (const [f, value] of fields) {
      m += mask(f);
      v += value * 2 ** f.sub.ofs;
    }
    return (m >>> 0 === 0xffffffff ? { field: reg, value: v } : { field: reg, value: v, mask: m }) as KnownOxm;
  });
}

export function matchMark(m: RegMark): KnownOxm {
  return matchField(m.field, m.value);
}

/** Loads a value into a register field; shared, frozen. */
export function loadField(f: RegField, value: number): Action {
  return loads.get(`${f.name}/${value}`, () => ({ type: 'reg_load', dst: f.sub, value: BigInt(value) }));
}

export function loadMark(m: RegMark): Action {
  return loadField(m.field, m.value);
}

/**
 * A register field's value in a match the switch sent, such as a packet-in's (OVS lists every
 * nonzero register there, exact); undefined when its register is absent, i.e. zero.
 */
export function fieldIn(f: RegField, match: readonly Oxm[]): number | undefined {
  for (const m of match) if (m.field === f.sub.field) return Math.floor(Number(m.value) / 2 ** f.sub.ofs) % 2 ** f.sub.nbits;
  return undefined;
}

/** A new connection's load balancer slot (multipath's result; LB_SLOTS_MAX = 8192 fits 16 bits). */
export const LbSlotField = regField('LbSlot', 'reg2', 0, 16);
/** The backend its slot chose, as an IPv4 address (stable across backend list changes). */
export const LbBackendField = regField('LbBackend', 'reg3', 0, 32);

/** Which flood chunk of the network's local ports the Flood table hands a packet to (compiler.ts: FLOOD_CHUNKS fits 8 bits). */
export const FloodChunkField = regField('FloodChunk', 'reg4', 0, 8);
/** Set: the FloodChunk table outputs to the chunk's ports without port security only (unicast to a MAC no entry knows). */
export const UnknownChunkField = regField('UnknownChunk', 'reg4', 8, 1);
export const UnknownChunkMark: RegMark = Object.freeze({ name: 'UnknownChunk', field: UnknownChunkField, value: 1 });

/** Register names for readable dumps: "NXM_NX_REG0[0..23]" -> "Network". */
export const FIELD_NAMES: readonly RegField[] = [NetworkField, FromTunnelField, NdReplyField, PortSecuredField, LbSlotField, LbBackendField, FloodChunkField, UnknownChunkField];
