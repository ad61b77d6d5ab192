/** Mutations (RFC 7047 5.1 <mutation>) and their schema-driven wire conversion. */
import type { Mutator, WireMutation } from '../wire/rpc';
import { atomToWire, datumToWire } from '../schema/atoms';
import { columnKind, columnSchema, type TableSchema } from '../schema/schema';

export interface Mutation<C extends string = string> {
  column: C;
  mutator: Mutator;
  value: unknown;
}

/** mutation('ports', 'insert', [namedUuid('p')]), mutation('external_ids', 'delete', ['k']). */
export function mutation<C extends string>(column: C, mutator: Mutator, value: unknown): Mutation<C> {
  return { column, mutator, value };
}

export function mutationToWire(t: TableSchema, m: Mutation): WireMutation {
  const type = columnSchema(t, m.column).type;
  const where = `${t.name}.${m.column} ${m.mutator}`;
  if (m.mutator !== 'insert' && m.mutator !== 'delete') {
    // Arithmetic applies one scalar to every element (RFC 7047 5.1).
    return [m.column, m.mutator, atomToWire(type.key, m.value, where)];
  }
  // Insert/delete take a set or map of the column's element type, whatever its min/max.
  const loose = { ...type, min: 0, max: Infinity };
  if (columnKind(type) === 'map' && m.mutator === 'delete' && Array.isArray(m.value)) {
    // Deleting from a map by keys: the value is a set of keys.
    return [m.column, m.mutator, datumToWire({ key: type.key, min: 0, max: Infinity }, m.value, where)];
  }
  const value = columnKind(type) !== 'map' && !Array.isArray(m.value) ? [m.value] : m.value;
  return [m.column, m.mutator, datumToWire(loose, value, where)];
}
