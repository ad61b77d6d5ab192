/**
 * Transaction operations (RFC 7047 5.2). The builder only converts TypeScript values
 * to wire form using the schema and returns plain objects; nothing here does I/O, so
 * operations can be inspected, logged, combined and sent later with transact().
 */
import type { WireCondition, WireMutation, WireRow } from '../wire/rpc';
import { rowToWire } from '../schema/row';
import type { NamedUuid } from '../schema/atoms';
import { tableSchema, type DatabaseSchema } from '../schema/schema';
import { conditionToWire, type AnyCondition } from './condition';
import { mutationToWire, type Mutation } from './mutation';

export interface InsertOp {
  op: 'insert';
  table: string;
  row: WireRow;
  'uuid-name'?: string;
  /** ovsdb-server >= 2.13 extension: choose the new row's uuid. */
  uuid?: string;
}
export interface SelectOp {
  op: 'select';
  table: string;
  where: WireCondition[];
  columns?: string[];
}
export interface UpdateOp {
  op: 'update';
  table: string;
  where: WireCondition[];
  row: WireRow;
}
export interface MutateOp {
  op: 'mutate';
  table: string;
  where: WireCondition[];
  mutations: WireMutation[];
}
export interface DeleteOp {
  op: 'delete';
  table: string;
  where: WireCondition[];
}
export interface WaitOp {
  op: 'wait';
  table: string;
  where: WireCondition[];
  columns: string[];
  until: '==' | '!=';
  rows: WireRow[];
  timeout?: number;
}
export interface CommitOp {
  op: 'commit';
  durable: boolean;
}
export interface AbortOp {
  op: 'abort';
}
export interface CommentOp {
  op: 'comment';
  comment: string;
}
export interface AssertOp {
  op: 'assert';
  lock: string;
}
export type Operation =
  | InsertOp
  | SelectOp
  | UpdateOp
  | MutateOp
  | DeleteOp
  | WaitOp
  | CommitOp
  | AbortOp
  | CommentOp
  | AssertOp;

/** Table name -> row interface, as produced by modelgen (an interface, so no index signature). */
export type ModelMap = object;
/** The model when none is given: any table, any column. */
export type AnyModel = { [table: string]: { [column: string]: unknown } };
export type TableName<M extends ModelMap> = keyof M & string;
export type ColumnName<M extends ModelMap, T extends TableName<M>> = Exclude<keyof M[T] & string, '_uuid'>;
/** Columns a caller may write: everything but the server-assigned ones. */
export type RowInput<M extends ModelMap, T extends TableName<M>> = {
  [C in Exclude<keyof M[T], '_uuid' | '_version'>]?: Input<M[T][C]>;
};
/**
 * A column value as written: uuids may also be namedUuid() references. Generated models
 * type uuids as string, so every string position accepts a NamedUuid; the schema-driven
 * conversion rejects one in a non-uuid column.
 */
export type Input<V> = V extends string
  ? V | NamedUuid
  : V extends ReadonlyArray<infer E>
    ? ReadonlyArray<Input<E>>
    : V extends Map<infer K, infer X>
      ? Map<K, Input<X>>
      : V extends object
        ? { [K in keyof V]: Input<V[K]> }
        : V;
type Where<M extends ModelMap, T extends TableName<M>> = ReadonlyArray<AnyCondition<ColumnName<M, T> | '_uuid'>>;

export class OperationBuilder<M extends ModelMap = AnyModel> {
  constructor(readonly schema: DatabaseSchema) {}

  insert<T extends TableName<M>>(table: T, row: RowInput<M, T>, opts: { uuidName?: string; uuid?: string } = {}): InsertOp {
    const op: InsertOp = { op: 'insert', table, row: rowToWire(tableSchema(this.schema, table), row) };
    if (opts.uuidName) op['uuid-name'] = opts.uuidName;
    if (opts.uuid) op.uuid = opts.uuid;
    return op;
  }

  select<T extends TableName<M>>(table: T, where: Where<M, T> = [], columns?: Array<ColumnName<M, T> | '_uuid'>): SelectOp {
    const op: SelectOp = { op: 'select', table, where: this.where(table, where) };
    if (columns) op.columns = columns;
    return op;
  }

  update<T extends TableName<M>>(table: T, where: Where<M, T>, row: RowInput<M, T>): UpdateOp {
    return { op: 'update', table, where: this.where(table, where), row: rowToWire(tableSchema(this.schema, table), row) };
  }

  mutate<T extends TableName<M>>(table: T, where: Where<M, T>, mutations: ReadonlyArray<Mutation<ColumnName<M, T>>>): MutateOp {
    const ts = tableSchema(this.schema, table);
    return { op: 'mutate', table, where: this.where(table, where), mutations: mutations.map((m) => mutationToWire(ts, m)) };
  }

  delete<T extends TableName<M>>(table: T, where: Where<M, T>): DeleteOp {
    return { op: 'delete', table, where: this.where(table, where) };
  }

  /**
   * Blocks (up to `timeout` ms, forever if omitted) until the selected rows' `columns`
   * are == (or !=) `rows`. A timeout of 0 makes it an immediate precondition check.
   */
  wait<T extends TableName<M>>(
    table: T,
    where: Where<M, T>,
    opts: { columns: Array<ColumnName<M, T>>; until: '==' | '!='; rows: Array<RowInput<M, T>>; timeout?: number },
  ): WaitOp {
    const ts = tableSchema(this.schema, table);
    const op: WaitOp = {
      op: 'wait',
      table,
      where: this.where(table, where),
      columns: opts.columns,
      until: opts.until,
      rows: opts.rows.map((r) => rowToWire(ts, r)),
    };
    if (opts.timeout !== undefined) op.timeout = opts.timeout;
    return op;
  }

  commit(durable = false): CommitOp {
    return { op: 'commit', durable };
  }
  abort(): AbortOp {
    return { op: 'abort' };
  }
  comment(comment: string): CommentOp {
    return { op: 'comment', comment };
  }
  /** Fails the transaction with "not owner" unless this session holds `lock`. */
  assert(lock: string): AssertOp {
    return { op: 'assert', lock };
  }

  private where(table: string, where: ReadonlyArray<AnyCondition>): WireCondition[] {
    const ts = tableSchema(this.schema, table);
    return where.map((c) => conditionToWire(ts, c));
  }
}
