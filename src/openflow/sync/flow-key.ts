import { encodeActions } from '../actions/codec';
import { FlowModFlags } from '../constants';
import { Instruction, encodeInstructions } from '../instructions';
import { FIELDS, Oxm } from '../oxm/fields';
import { encodeOxm } from '../oxm/oxm';
import { isUintOf, uintAllOnes, valueFromBytes, valueToBytes } from '../oxm/value';
import { Bucket } from '../messages/group';
import { Writer } from '../wire/writer';

/**
 * Canonical forms used to compare what we want with what a switch dump
 * returns. OVS reorders match fields, drops all-zero masks and turns all-ones
 * masks into exact matches, and emits instructions in the spec's order; two
 * flows that differ only in those ways must compare equal, or every resync
 * would rewrite flows that are already right.
 */

/** Spec order of instructions (OpenFlow 1.3, 5.9), which is how OVS dumps them. */
const INSTRUCTION_RANK: Record<Instruction['type'], number> = {
  meter: 0,
  apply_actions: 1,
  clear_actions: 2,
  write_actions: 3,
  write_metadata: 4,
  goto_table: 5,
  unknown: 6,
};

const keyScratch = new Writer(256);

/**
 * One field as a string: its wire TLV (latin1) when unmasked, which costs no
 * allocation but the string; masked fields are normalised the way OVS
 * normalises them first.
 */
function fieldToken(f: Oxm): string | undefined {
  if (f.field === 'unknown' || f.mask === undefined) {
    keyScratch.reset();
    encodeOxm(keyScratch, f);
    return keyScratch.toLatin1();
  }
  const kind = FIELDS[f.field].kind;
  // nw_frag has two bits: OVS dumps a match of both as exact.
  if (f.field === 'ip_frag' && typeof f.mask === 'number' && (f.mask & 3) === 3) return fieldToken({ field: 'ip_frag', value: f.value & 3 } as Oxm);
  // u8..u32 (registers, VLAN, ports): the same normalisation on numbers, no Buffers.
  if (isUintOf(f.value, kind) && isUintOf(f.mask, kind)) {
    if (f.mask === 0) return undefined;
    if (f.mask === uintAllOnes(kind)) return fieldToken({ field: f.field, value: f.value } as Oxm);
    keyScratch.reset();
    encodeOxm(keyScratch, { field: f.field, value: (f.value & f.mask) >>> 0, mask: f.mask } as Oxm);
    return keyScratch.toLatin1();
  }
  const value = valueToBytes(kind, f.value, f.field);
  const mask = valueToBytes(kind, f.mask, f.field);
  let allOnes = true;
  let allZero = true;
  for (let i = 0; i < mask.length; i++) {
    const m = mask[i] as number;
    if (m !== 0xff) allOnes = false;
    if (m !== 0) allZero = false;
    value[i] = (value[i] as number) & m;
  }
  if (allZero) return undefined; // a fully wildcarded field is no match at all
  if (allOnes) return fieldToken({ field: f.field, value: f.value } as Oxm);
  keyScratch.reset();
  encodeOxm(keyScratch, { field: f.field, value: valueFromBytes(kind, value), mask: f.mask } as Oxm);
  return keyScratch.toLatin1();
}

/**
 * Tokens of frozen fields: a frozen field cannot change, and callers that share one
 * field object between many flows (the pipeline's network match, eth_type) freeze it.
 */
const frozenTokens = new WeakMap<object, string | null>();

function cachedToken(f: Oxm): string | undefined {
  // Scalar values only: freezing an object does not freeze the bytes of a Buffer it holds.
  if (!Object.isFrozen(f) || typeof f.value === 'object' || typeof f.mask === 'object') return fieldToken(f);
  let t = frozenTokens.get(f);
  if (t === undefined) frozenTokens.set(f, (t = fieldToken(f) ?? null));
  return t ?? undefined;
}

/** The match as an order-independent string. */
export function matchKey(match: readonly Oxm[]): string {
  if (match.length === 0) return '';
  if (match.length === 1) return cachedToken(match[0] as Oxm) ?? '';
  const tokens: string[] = [];
  for (const f of match) {
    const t = cachedToken(f);
    if (t === undefined) continue;
    // Insertion sort (matches hold a handful of fields): Array.prototype.sort's set-up
    // allocated more than the tokens themselves. Same order: UTF-16 code units.
    let i = tokens.length;
    tokens.push(t);
    for (; i > 0 && (tokens[i - 1] as string) > t; i--) tokens[i] = tokens[i - 1] as string;
    tokens[i] = t;
  }
  return tokens.join('');
}

/** OpenFlow identifies a flow by table, priority and match: so do we. */
export function flowKey(tableId: number, priority: number, match: readonly Oxm[]): string {
  // join, not a template: it builds a flat string; a template left each key a tree of
  // concatenations (a few heap objects per key, for as long as the flow is wanted).
  return [tableId, priority, matchKey(match)].join('/');
}

/** Only these flags are kept by OVS and reported back in flow stats. */
export const REPORTED_FLOW_FLAGS = FlowModFlags.SEND_FLOW_REM | FlowModFlags.NO_PKT_COUNTS | FlowModFlags.NO_BYT_COUNTS;

// One writer reused for every signature: the bytes are copied out as a string.
const scratch = new Writer(1024);

/**
 * Everything about a flow that a modify can change, as a compact string:
 * timeouts, reported flags and the instructions in spec order, encoded as wire
 * bytes so that equal actions spelled differently in JavaScript compare equal.
 */
export function flowSignature(f: { idleTimeout: number; hardTimeout: number; flags: number; instructions: readonly Instruction[] }): string {
  const list = f.instructions.length > 1 ? [...f.instructions].sort((a, b) => INSTRUCTION_RANK[a.type] - INSTRUCTION_RANK[b.type]) : f.instructions;
  scratch.reset();
  encodeInstructions(scratch, list);
  return `${f.idleTimeout}/${f.hardTimeout}/${f.flags & REPORTED_FLOW_FLAGS}/${scratch.toLatin1()}`;
}

/**
 * A group's type and buckets as a compact string. OVS reports weight 1 for
 * buckets of non-select groups whatever was sent, and watch port/group only
 * matter to fast-failover groups, so those are left out where meaningless.
 */
export function groupSignature(g: { groupType: string; buckets: readonly Bucket[] }): string {
  scratch.reset();
  for (const b of g.buckets) {
    const start = scratch.length;
    scratch.u16(0).u16(g.groupType === 'select' ? b.weight : 0);
    if (g.groupType === 'ff') scratch.u32(b.watchPort).u32(b.watchGroup);
    encodeActions(scratch, b.actions);
    scratch.patchLength(start, start);
  }
  return `${g.groupType}/${scratch.toLatin1()}`;
}
