/**
 * Store txn() as one etcd Txn. etcd only says "some compare failed"; to raise the typed
 * error the Store contract wants, the failure branch reads every key of the txn, so the
 * state we diagnose is exactly the state the compares were evaluated against.
 */
import type { Etcd3, ICompare, IKeyValue, IRequestOp, ITxnResponse } from 'etcd3';
import { decodeValue, KeyCodec, serialize, toEtcdRevision, toKeyValue, toStoreRevision } from './etcd-codec';
import {
  ConflictError,
  FencedOffError,
  KeyExistsError,
  KeyNotFoundError,
  StoreError,
  type KeyValue,
  type TxnOp,
  type TxnResult,
} from './store';

interface Encoded {
  op: TxnOp;
  key: Buffer;
  value?: Buffer;
}

function validate<V>(ops: TxnOp<V>[]): void {
  if (!Array.isArray(ops) || ops.length === 0) throw new StoreError('a transaction needs at least one op');
  if (ops.every((op) => op.type === 'check')) throw new StoreError('a transaction needs at least one op that writes');
  const seen = new Set<string>();
  for (const op of ops) {
    if (typeof op.key !== 'string' || op.key === '') throw new StoreError('keys must be non-empty strings');
    // etcd rejects it too ("duplicate key given in txn request"); say so in our terms.
    if (seen.has(op.key)) throw new StoreError(`key ${op.key} appears twice in one transaction`);
    seen.add(op.key);
    if (op.type !== 'create' && op.type !== 'update' && op.type !== 'delete' && op.type !== 'check') {
      throw new StoreError(`unknown op type ${(op as { type: unknown }).type}`);
    }
  }
}

function compares(e: Encoded): ICompare[] {
  if (e.op.type === 'create') return [{ key: e.key, target: 'Version', result: 'Equal', version: 0 }];
  if (e.op.type === 'check') {
    // Absent: version 0 (store revisions are not etcd's, so no mod_revision stands for absent).
    return e.op.expectedModRevision === 0
      ? [{ key: e.key, target: 'Version', result: 'Equal', version: 0 }]
      : [{ key: e.key, target: 'Mod', result: 'Equal', mod_revision: toEtcdRevision(e.op.expectedModRevision) }];
  }
  const out: ICompare[] = [{ key: e.key, target: 'Version', result: 'Greater', version: 0 }];
  if (e.op.expectedModRevision !== undefined) {
    out.push({ key: e.key, target: 'Mod', result: 'Equal', mod_revision: toEtcdRevision(e.op.expectedModRevision) });
  }
  return out;
}

function request(e: Encoded): IRequestOp {
  if (e.op.type === 'check') return { request_range: { key: e.key } };
  return e.op.type === 'delete'
    ? { request_delete_range: { key: e.key, prev_kv: true } }
    : { request_put: { key: e.key, value: e.value, prev_kv: true } };
}

/** The first op (in op order) whose precondition the read state violates; a lost fence first. */
function diagnose(keys: KeyCodec, encoded: Encoded[], res: ITxnResponse, fence?: string): StoreError {
  if (fence !== undefined && !res.responses[encoded.length]?.response_range.kvs[0]) return new FencedOffError(fence);
  for (const [i, e] of encoded.entries()) {
    const cur: IKeyValue | undefined = res.responses[i]?.response_range.kvs[0];
    const { op } = e;
    if (op.type === 'create') {
      if (cur) return new KeyExistsError(op.key);
      continue;
    }
    if (op.type === 'check') {
      const actual = cur ? toKeyValue(keys, cur).modRevision : 0;
      if (actual !== op.expectedModRevision) return new ConflictError(op.key, op.expectedModRevision, actual);
      continue;
    }
    if (!cur) return new KeyNotFoundError(op.key);
    const actual = toKeyValue(keys, cur).modRevision;
    if (op.expectedModRevision !== undefined && op.expectedModRevision !== actual) {
      return new ConflictError(op.key, op.expectedModRevision, actual);
    }
  }
  return new StoreError('etcd transaction failed but no precondition is violated');
}

function result<V>(keys: KeyCodec, e: Encoded, res: ITxnResponse, i: number, revision: number): KeyValue<V> {
  const r = res.responses[i];
  if (e.op.type === 'check') {
    const cur = r?.response_range.kvs[0];
    return cur ? toKeyValue<V>(keys, cur) : { key: e.op.key, value: undefined as V, createRevision: 0, modRevision: 0 };
  }
  if (e.op.type === 'delete') {
    const prev = r?.response_delete_range.prev_kvs[0];
    if (!prev) throw new StoreError(`etcd did not return the deleted value of ${e.op.key}`);
    return toKeyValue<V>(keys, prev);
  }
  const prev = r?.response_put.prev_kv;
  return {
    key: e.op.key,
    value: decodeValue<V>(e.value!),
    createRevision: prev ? toStoreRevision(prev.create_revision) : revision,
    modRevision: revision,
  };
}

/**
 * fence: a raw etcd key (outside the store's key space) that must exist for the txn to
 * apply: a leader's election key, which etcd deletes with its lease. A replica that was
 * deposed while it stalled (GC, CPU starvation, a partition) then cannot write what it
 * computed as leader over what the new leader writes.
 */
export async function runTxn<V>(client: Etcd3, keys: KeyCodec, ops: TxnOp<V>[], fence?: string): Promise<TxnResult<V>> {
  validate(ops);
  const encoded: Encoded[] = ops.map((op) => ({
    op: op as TxnOp,
    key: keys.encode(op.key),
    ...(op.type === 'delete' || op.type === 'check' ? {} : { value: serialize(op.key, op.value) }),
  }));
  let res: ITxnResponse;
  try {
    const fenceKey = fence === undefined ? undefined : Buffer.from(fence);
    res = await client.kv.txn({
      compare: [...encoded.flatMap(compares), ...(fenceKey ? [{ key: fenceKey, target: 'Version', result: 'Greater', version: 0 } as ICompare] : [])],
      success: encoded.map(request),
      failure: [...encoded.map((e) => ({ request_range: { key: e.key } })), ...(fenceKey ? [{ request_range: { key: fenceKey } }] : [])],
    });
  } catch (err) {
    const e = new StoreError(`etcd: ${err instanceof Error ? err.message : String(err)}`);
    e.cause = err;
    throw e;
  }
  if (!res.succeeded) throw diagnose(keys, encoded, res, fence);
  const revision = toStoreRevision(res.header.revision);
  return { revision, results: encoded.map((e, i) => result<V>(keys, e, res, i, revision)) };
}
