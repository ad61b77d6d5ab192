/**
 * Conditions (RFC 7047 5.1 <condition>) as TypeScript values, their schema-driven
 * conversion to the wire, and a local evaluator so the cache can answer
 * rowsByCondition() with the same semantics the server uses.
 */
import { SchemaError } from '../errors';
import type { ConditionFunction, WireCondition } from '../wire/rpc';
import { datumEquals, datumToWire, mapOf, setAtoms, type Value } from '../schema/atoms';
import { columnKind, columnSchema, type TableSchema } from '../schema/schema';
import type { Row } from '../schema/row';

export interface Condition<C extends string = string> {
  column: C;
  fn: ConditionFunction;
  /** A TypeScript value of the column's type (see schema/atoms.ts). */
  value: unknown;
}

/** cond('name', '==', 'br0'). `true`/`false` literals are allowed in monitor conditions. */
export function cond<C extends string>(column: C, fn: ConditionFunction, value: unknown): Condition<C> {
  return { column, fn, value };
}

export type AnyCondition<C extends string = string> = Condition<C> | boolean;

export function conditionToWire(t: TableSchema, c: AnyCondition): WireCondition {
  if (typeof c === 'boolean') return c;
  const type = columnSchema(t, c.column).type;
  return [c.column, c.fn, datumToWire(type, c.value, `${t.name}.${c.column} ${c.fn}`)];
}

function compareNumbers(fn: ConditionFunction, a: number, b: number): boolean {
  switch (fn) {
    case '<':
      return a < b;
    case '<=':
      return a <= b;
    case '>':
      return a > b;
    case '>=':
      return a >= b;
    default:
      return false;
  }
}

/** Evaluates one condition against a cached row. */
export function evaluateCondition(t: TableSchema, row: Row, c: AnyCondition): boolean {
  if (typeof c === 'boolean') return c;
  const type = columnSchema(t, c.column).type;
  const actual = row[c.column] as Value;
  const wanted = c.value as Value;
  switch (c.fn) {
    case '==':
      return datumEquals(type, actual, wanted);
    case '!=':
      return !datumEquals(type, actual, wanted);
    case 'includes':
    case 'excludes': {
      const want = c.fn === 'includes';
      if (columnKind(type) === 'map') {
        const have = mapOf(actual);
        const pairs = [...mapOf(wanted)];
        return want
          ? pairs.every(([k, v]) => have.has(k) && have.get(k) === v)
          : pairs.every(([k, v]) => !(have.has(k) && have.get(k) === v));
      }
      const have = new Set(setAtoms(type, actual));
      const atoms = Array.isArray(wanted) ? wanted : setAtoms(type, wanted);
      return want ? atoms.every((a) => have.has(a)) : atoms.every((a) => !have.has(a));
    }
    default: {
      const kind = columnKind(type);
      if ((type.key.type !== 'integer' && type.key.type !== 'real') || (kind !== 'scalar' && kind !== 'optional')) {
        throw new SchemaError(`${c.fn} needs an integer or real scalar column (${t.name}.${c.column})`);
      }
      // As ovsdb-server: an empty optional (Interface.ofport before it is assigned) is
      // neither less nor greater than anything.
      if (typeof actual !== 'number' || typeof wanted !== 'number') return false;
      return compareNumbers(c.fn, actual, wanted);
    }
  }
}

/** All conditions must hold (RFC 7047 "where" is a conjunction). */
export function matchesAll(t: TableSchema, row: Row, where: readonly AnyCondition[]): boolean {
  return where.every((c) => evaluateCondition(t, row, c));
}
