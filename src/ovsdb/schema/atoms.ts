/**
 * Schema-driven conversion between wire datums and TypeScript values.
 *
 *   column kind (schema.ts)     TypeScript value
 *   scalar  (min 1, max 1)      atom
 *   optional (min 0, max 1)     atom | null
 *   set     (max > 1)           atom[]
 *   map, string keys            Record<string, atom>
 *   map, other keys             Map<atom, atom>
 *
 * Atoms are primitives: integer/real -> number, boolean, string, and uuid -> its string
 * form, so values compare with === and serialise as plain JSON. A reference to a row
 * inserted earlier in the same transaction is written namedUuid("name").
 *
 * Integers are exact up to 2^53 (Number.MAX_SAFE_INTEGER); larger ones arrive rounded to
 * the nearest double, as JSON.parse reads them. In vswitch.ovsschema only statistics
 * counters grow that large (Interface.statistics after about 9 PB). Values outside the
 * 64-bit range (a rounded 2^63 written back) are refused here rather than by the server.
 */
import { SchemaError } from '../errors';
import type { Json } from '../wire/json';
import type { WireAtom, WireValue } from '../wire/rpc';
import { columnKind, type BaseType, type ColumnType } from './schema';

export type Atom = string | number | boolean;
export type Value = Atom | null | Atom[] | Map<Atom, Atom> | { [key: string]: Atom };

/** A reference to the uuid-name of a row inserted in the same transaction. */
export class NamedUuid {
  constructor(readonly name: string) {}
}
export function namedUuid(name: string): NamedUuid {
  return new NamedUuid(name);
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export function isUuid(s: unknown): s is string {
  return typeof s === 'string' && UUID_RE.test(s);
}

/**
 * Why ovsdb-server's JSON reader would refuse this value, or undefined. It refuses them by
 * dropping the whole session (a protocol error, not an error for the operation), failing
 * every other request in flight on it, so they are refused here first.
 */
function unreadableByServer(v: number | string): string | undefined {
  if (typeof v === 'string') {
    if (v.includes('\0')) return 'holds a NUL character, which OVSDB strings cannot';
    if (LONE_SURROGATE.test(v)) return 'holds a lone UTF-16 surrogate, which is not Unicode text';
    return undefined;
  }
  // strtod() reports ERANGE for subnormal doubles and the server calls them out of range;
  // the smallest normal double itself made ovsdb-server 3.1 drop the session too (measured).
  if (v !== 0 && Math.abs(v) <= DBL_MIN) return 'is subnormal (at most 2.2250738585072014e-308 from zero), which ovsdb-server reads as out of range';
  return undefined;
}
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const DBL_MIN = 2.2250738585072014e-308;
/** OVSDB integers are 64-bit signed. */
const INT64_LIMIT = 2 ** 63;

export function atomToWire(base: BaseType, v: unknown, where: string): WireAtom {
  switch (base.type) {
    case 'integer':
      if (typeof v === 'number' && Number.isInteger(v)) {
        if (v >= -INT64_LIMIT && v < INT64_LIMIT) return v;
        throw new SchemaError(`${where}: ${v} is outside the 64-bit integers OVSDB holds`);
      }
      break;
    case 'real':
      if (typeof v === 'number' && Number.isFinite(v)) {
        const why = unreadableByServer(v);
        if (why) throw new SchemaError(`${where}: ${v} ${why}`);
        return v;
      }
      break;
    case 'boolean':
      if (typeof v === 'boolean') return v;
      break;
    case 'string':
      if (typeof v === 'string') {
        const why = unreadableByServer(v);
        if (why) throw new SchemaError(`${where}: ${JSON.stringify(v)} ${why}`);
        return v;
      }
      break;
    case 'uuid':
      if (v instanceof NamedUuid) return ['named-uuid', v.name];
      if (isUuid(v)) return ['uuid', v];
      break;
  }
  throw new SchemaError(`${where}: ${JSON.stringify(v)} is not a valid ${base.type}`);
}

export function atomFromWire(base: BaseType, w: Json, where: string): Atom {
  if (base.type === 'uuid') {
    if (Array.isArray(w) && (w[0] === 'uuid' || w[0] === 'named-uuid') && typeof w[1] === 'string') return w[1];
  } else if (base.type === 'boolean' ? typeof w === 'boolean' : base.type === 'string' ? typeof w === 'string' : typeof w === 'number') {
    return w as Atom;
  }
  throw new SchemaError(`${where}: wire value ${JSON.stringify(w)} is not a ${base.type}`);
}

/** The elements of a wire set datum (a bare atom is a one-element set). */
function wireSetElements(w: Json): Json[] {
  if (Array.isArray(w) && w[0] === 'set' && Array.isArray(w[1])) return w[1];
  return [w];
}

function mapEntries(v: unknown, where: string): Array<[unknown, unknown]> {
  if (v instanceof Map) return [...v.entries()];
  if (typeof v === 'object' && v !== null && !Array.isArray(v)) return Object.entries(v);
  throw new SchemaError(`${where}: expected a Map or a plain object for a map column`);
}

export function datumToWire(type: ColumnType, v: unknown, where: string): WireValue {
  const kind = columnKind(type);
  if (kind === 'map') {
    const vt = type.value!;
    return ['map', mapEntries(v, where).map(([k, x]) => [atomToWire(type.key, k, where), atomToWire(vt, x, where)])];
  }
  if (kind === 'scalar' && !Array.isArray(v)) return atomToWire(type.key, v, where);
  if (v === null || v === undefined) return ['set', []];
  if (Array.isArray(v)) return ['set', v.map((a) => atomToWire(type.key, a, where))];
  return atomToWire(type.key, v, where);
}

export function datumFromWire(type: ColumnType, w: Json, where: string): Value {
  const kind = columnKind(type);
  if (kind === 'map') {
    if (!Array.isArray(w) || w[0] !== 'map' || !Array.isArray(w[1])) {
      throw new SchemaError(`${where}: expected ["map", ...], got ${JSON.stringify(w)}`);
    }
    const vt = type.value!;
    const pairs = w[1].map((p): [Atom, Atom] => {
      if (!Array.isArray(p) || p.length !== 2) throw new SchemaError(`${where}: bad map pair`);
      return [atomFromWire(type.key, p[0]!, where), atomFromWire(vt, p[1]!, where)];
    });
    return type.key.type === 'string' ? Object.fromEntries(pairs) : new Map(pairs);
  }
  const atoms = wireSetElements(w).map((a) => atomFromWire(type.key, a, where));
  if (kind === 'set') return atoms;
  if (kind === 'optional') return atoms.length ? atoms[0]! : null;
  if (atoms.length !== 1) throw new SchemaError(`${where}: scalar column got ${atoms.length} values`);
  return atoms[0]!;
}

function defaultAtom(base: BaseType): Atom {
  switch (base.type) {
    case 'integer':
    case 'real':
      return 0;
    case 'boolean':
      return false;
    case 'string':
      return '';
    case 'uuid':
      return '00000000-0000-0000-0000-000000000000';
  }
}

/** The value ovsdb-server omits from initial/insert row updates (RFC 7047 5.1). */
export function defaultValue(type: ColumnType): Value {
  switch (columnKind(type)) {
    case 'scalar':
      return defaultAtom(type.key);
    case 'optional':
      return null;
    // A set or map that must hold one element defaults to one of default atoms (RFC 7047 5.1).
    case 'set':
      return type.min >= 1 ? [defaultAtom(type.key)] : [];
    case 'map': {
      const pair: Array<[Atom, Atom]> = type.min >= 1 ? [[defaultAtom(type.key), defaultAtom(type.value!)]] : [];
      return type.key.type === 'string' ? Object.fromEntries(pair) : new Map(pair);
    }
  }
}

/** Set-like view of a non-map value: the atoms it holds. */
export function setAtoms(type: ColumnType, v: Value): Atom[] {
  const kind = columnKind(type);
  if (kind === 'scalar') return [v as Atom];
  if (kind === 'optional') return v === null || v === undefined ? [] : [v as Atom];
  return (v as Atom[] | undefined) ?? [];
}

/** Inverse of setAtoms. */
export function fromSetAtoms(type: ColumnType, atoms: Atom[]): Value {
  const kind = columnKind(type);
  if (kind === 'set') return atoms;
  if (kind === 'optional') return atoms.length ? atoms[0]! : null;
  return atoms[0] ?? defaultAtom(type.key);
}

/** Map view of a map value, whichever representation it uses. */
export function mapOf(v: Value): Map<Atom, Atom> {
  if (v instanceof Map) return v;
  if (typeof v === 'object' && v !== null && !Array.isArray(v)) return new Map(Object.entries(v));
  return new Map();
}

export function fromMap(type: ColumnType, m: Map<Atom, Atom>): Value {
  return type.key.type === 'string' ? Object.fromEntries(m) : m;
}

/** Equality under OVSDB semantics: sets and maps are unordered. */
export function datumEquals(type: ColumnType, a: Value, b: Value): boolean {
  const kind = columnKind(type);
  if (kind === 'map') {
    const ma = mapOf(a);
    const mb = mapOf(b);
    if (ma.size !== mb.size) return false;
    for (const [k, x] of ma) if (!mb.has(k) || mb.get(k) !== x) return false;
    return true;
  }
  const sa = setAtoms(type, a);
  const sb = setAtoms(type, b);
  if (sa.length !== sb.length) return false;
  const set = new Set(sa);
  return sb.every((x) => set.has(x));
}
