/**
 * Pairs a transact reply with the operations that produced it (libovsdb's
 * CheckOperationResults). ovsdb-server answers with one result per operation, null
 * after the first failure, and one extra element when the commit itself failed
 * (e.g. a referential integrity violation detected at commit time).
 */
import { OvsdbError, TransactionError, operationError, type OperationError } from '../errors';
import { isJsonObject, type Json } from '../wire/json';
import type { OperationResult } from '../wire/rpc';
import type { Operation } from './operations';

export function parseResults(reply: Json, nOps: number): OperationResult[] {
  if (!Array.isArray(reply)) throw new OvsdbError('transact reply is not an array');
  if (reply.length < nOps) throw new OvsdbError(`transact reply has ${reply.length} results for ${nOps} operations`);
  return reply.map((r) => (isJsonObject(r) ? (r as OperationResult) : {}));
}

export function checkOperationResults(results: readonly OperationResult[], ops: readonly Operation[]): OperationError[] {
  const errors: OperationError[] = [];
  results.forEach((r, i) => {
    if (typeof r.error === 'string') errors.push(operationError(r.error, r.details, ops[i], i));
  });
  return errors;
}

/** Throws TransactionError when any result carries an error. */
export function assertOperationResults(results: OperationResult[], ops: readonly Operation[]): OperationResult[] {
  const errors = checkOperationResults(results, ops);
  if (errors.length) throw new TransactionError(errors, results);
  return results;
}
