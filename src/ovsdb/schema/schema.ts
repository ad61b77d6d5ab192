/**
 * Database schema (RFC 7047 section 3.2), parsed into a normalised form: every column
 * type has an explicit key base type, optional value base type, min and max. The raw
 * JSON allows several shorthands ("type": "string", "max": "unlimited", enums as
 * sets); resolving them once here keeps every consumer simple.
 */
import { SchemaError } from '../errors';
import { isJsonObject, type Json, type JsonObject } from '../wire/json';

export type AtomicType = 'integer' | 'real' | 'boolean' | 'string' | 'uuid';

export interface BaseType {
  type: AtomicType;
  /** Allowed values, when the schema restricts the atom to an enumeration. */
  enum?: Array<string | number | boolean>;
  minInteger?: number;
  maxInteger?: number;
  minReal?: number;
  maxReal?: number;
  minLength?: number;
  maxLength?: number;
  refTable?: string;
  refType?: 'strong' | 'weak';
}

export interface ColumnType {
  key: BaseType;
  value?: BaseType;
  min: number;
  /** Infinity for "unlimited". */
  max: number;
}

export interface ColumnSchema {
  type: ColumnType;
  ephemeral: boolean;
  mutable: boolean;
}

export interface TableSchema {
  name: string;
  columns: Record<string, ColumnSchema>;
  maxRows?: number;
  isRoot: boolean;
  indexes: string[][];
}

export interface DatabaseSchema {
  name: string;
  version: string;
  cksum?: string;
  tables: Record<string, TableSchema>;
  /** The raw JSON, kept for round-tripping (e.g. writing a schema file). */
  raw: JsonObject;
}

/** What a row value looks like in TypeScript for this column (see schema/atoms.ts). */
export type ColumnKind = 'scalar' | 'optional' | 'set' | 'map';

export function columnKind(t: ColumnType): ColumnKind {
  if (t.value) return 'map';
  if (t.min === 1 && t.max === 1) return 'scalar';
  if (t.min === 0 && t.max === 1) return 'optional';
  return 'set';
}

/** The implicit columns every table has (RFC 7047 3.2 <table-schema>). */
export const UUID_COLUMN: ColumnSchema = {
  type: { key: { type: 'uuid' }, min: 1, max: 1 },
  ephemeral: false,
  mutable: false,
};

const ATOMIC: ReadonlySet<string> = new Set(['integer', 'real', 'boolean', 'string', 'uuid']);

function parseBase(j: Json, where: string): BaseType {
  if (typeof j === 'string') {
    if (!ATOMIC.has(j)) throw new SchemaError(`${where}: unknown atomic type ${j}`);
    return { type: j as AtomicType };
  }
  if (!isJsonObject(j) || typeof j.type !== 'string' || !ATOMIC.has(j.type)) {
    throw new SchemaError(`${where}: bad base type ${JSON.stringify(j)}`);
  }
  const b: BaseType = { type: j.type as AtomicType };
  if (j.enum !== undefined) {
    // An enum is a set datum: either one atom or ["set", [atoms]].
    const e = j.enum;
    const atoms = Array.isArray(e) && e[0] === 'set' && Array.isArray(e[1]) ? e[1] : [e];
    b.enum = atoms.filter(
      (a): a is string | number | boolean => typeof a === 'string' || typeof a === 'number' || typeof a === 'boolean',
    );
  }
  for (const k of ['minInteger', 'maxInteger', 'minReal', 'maxReal', 'minLength', 'maxLength'] as const) {
    const v = j[k];
    if (typeof v === 'number') b[k] = v;
  }
  if (typeof j.refTable === 'string') {
    b.refTable = j.refTable;
    b.refType = j.refType === 'weak' ? 'weak' : 'strong';
  }
  return b;
}

export function parseColumnType(j: Json, where: string): ColumnType {
  if (typeof j === 'string') return { key: parseBase(j, where), min: 1, max: 1 };
  if (!isJsonObject(j)) throw new SchemaError(`${where}: bad column type`);
  const t: ColumnType = {
    key: parseBase(j.key ?? null, `${where}.key`),
    min: typeof j.min === 'number' ? j.min : 1,
    max: j.max === 'unlimited' ? Infinity : typeof j.max === 'number' ? j.max : 1,
  };
  if (j.value !== undefined) t.value = parseBase(j.value, `${where}.value`);
  return t;
}

export function parseSchema(j: Json): DatabaseSchema {
  if (!isJsonObject(j) || typeof j.name !== 'string' || !isJsonObject(j.tables)) {
    throw new SchemaError('not a database schema (need name and tables)');
  }
  const tables: Record<string, TableSchema> = {};
  for (const [tname, tj] of Object.entries(j.tables)) {
    if (!isJsonObject(tj) || !isJsonObject(tj.columns)) throw new SchemaError(`table ${tname}: no columns`);
    const columns: Record<string, ColumnSchema> = {};
    for (const [cname, cj] of Object.entries(tj.columns)) {
      if (!isJsonObject(cj)) throw new SchemaError(`${tname}.${cname}: bad column`);
      columns[cname] = {
        type: parseColumnType(cj.type ?? null, `${tname}.${cname}`),
        ephemeral: cj.ephemeral === true,
        mutable: cj.mutable !== false,
      };
    }
    tables[tname] = {
      name: tname,
      columns,
      maxRows: typeof tj.maxRows === 'number' ? tj.maxRows : undefined,
      // RFC 7047: isRoot defaults to false, but before version 5 all tables were roots;
      // ovsdb-server treats a missing isRoot as true for those. Matter only for GC.
      isRoot: tj.isRoot === true,
      indexes: Array.isArray(tj.indexes)
        ? tj.indexes.filter(Array.isArray).map((ix) => ix.filter((c): c is string => typeof c === 'string'))
        : [],
    };
  }
  return {
    name: j.name,
    version: typeof j.version === 'string' ? j.version : '',
    cksum: typeof j.cksum === 'string' ? j.cksum : undefined,
    tables,
    raw: j,
  };
}

export function tableSchema(db: DatabaseSchema, table: string): TableSchema {
  const t = db.tables[table];
  if (!t) throw new SchemaError(`unknown table ${table} in database ${db.name}`);
  return t;
}

/** Column schema including the implicit _uuid / _version columns. */
export function columnSchema(t: TableSchema, column: string): ColumnSchema {
  if (column === '_uuid' || column === '_version') return UUID_COLUMN;
  const c = t.columns[column];
  if (!c) throw new SchemaError(`unknown column ${t.name}.${column}`);
  return c;
}
