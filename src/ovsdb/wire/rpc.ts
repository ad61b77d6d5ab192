/**
 * Wire shapes of RFC 7047 JSON-RPC 1.0 messages and of the OVSDB methods' parameters
 * and results (including the ovsdb-server extensions monitor_cond, monitor_cond_since,
 * update2/update3, documented in ovsdb-server(7)). Plain data, no behaviour.
 */
import type { Json, JsonObject } from './json';

export type RpcId = string | number;

export interface RpcRequest {
  method: string;
  params: Json[];
  id: RpcId;
}
export interface RpcNotification {
  method: string;
  params: Json[];
  id: null;
}
export interface RpcResponse {
  result: Json;
  error: Json;
  id: RpcId | null;
}
export type RpcMessage = RpcRequest | RpcNotification | RpcResponse;

/** A wire atom: scalars, ["uuid", s] or ["named-uuid", s]. */
export type WireAtom = string | number | boolean | ['uuid', string] | ['named-uuid', string];
/** A wire datum: an atom, ["set", [atoms]] or ["map", [[k, v], ...]]. */
export type WireValue = WireAtom | ['set', WireAtom[]] | ['map', [WireAtom, WireAtom][]];
/** A row as sent by the server or in operations: column name -> wire value. */
export type WireRow = { [column: string]: WireValue };

/** Condition functions of RFC 7047 section 5.1. */
export type ConditionFunction = '<' | '<=' | '==' | '!=' | '>=' | '>' | 'includes' | 'excludes';
/** [column, function, value], or a literal true/false (monitor_cond only). */
export type WireCondition = [string, ConditionFunction, WireValue] | boolean;

export type Mutator = '+=' | '-=' | '*=' | '/=' | '%=' | 'insert' | 'delete';
export type WireMutation = [string, Mutator, WireValue];

/** monitor-select of RFC 7047 4.1.5. */
export interface MonitorSelect {
  initial?: boolean;
  insert?: boolean;
  delete?: boolean;
  modify?: boolean;
}
/** monitor-cond-request of ovsdb-server(7) 4.1.12. */
export interface WireMonitorCondRequest {
  columns?: string[];
  where?: WireCondition[];
  select?: MonitorSelect;
}
export type WireMonitorCondRequests = { [table: string]: WireMonitorCondRequest[] };

/** row-update2: exactly one member is present. */
export interface RowUpdate2 {
  initial?: WireRow;
  insert?: WireRow;
  modify?: WireRow;
  delete?: null | WireRow;
}
export type TableUpdates2 = { [table: string]: { [uuid: string]: RowUpdate2 } };

/** One element of a transact reply. */
export interface OperationResult {
  uuid?: ['uuid', string];
  rows?: WireRow[];
  count?: number;
  error?: string;
  details?: string;
  [extra: string]: Json | undefined;
}

export const ZERO_UUID = '00000000-0000-0000-0000-000000000000';

export function isRequest(m: JsonObject): boolean {
  return typeof m.method === 'string' && m.id !== null && m.id !== undefined;
}
