/**
 * Conversions between the Store's model and etcd's wire types, shared by EtcdStore and its
 * watch. Kept free of I/O so the mapping rules live in one place.
 *
 * Revision offset: a fresh etcd is at revision 1, the Store contract says an empty store is
 * at 0. Every revision crossing the boundary is shifted by ETCD_REVISION_OFFSET, in both
 * directions, for kv revisions, list/compact/watch revisions and compacted revisions alike,
 * so relative arithmetic (a txn is "current + 1") holds exactly as on SQLite.
 */
import type { IKeyValue } from 'etcd3';
import { StoreError, type KeyValue } from './store';

export const ETCD_REVISION_OFFSET = 1;

export const toStoreRevision = (etcdRevision: string | number): number => Number(etcdRevision) - ETCD_REVISION_OFFSET;
export const toEtcdRevision = (storeRevision: number): number => storeRevision + ETCD_REVISION_OFFSET;

/** Maps Store keys into (and out of) one key prefix, so several stores share one etcd. */
export class KeyCodec {
  private readonly prefixBytes: Buffer;

  constructor(readonly keyPrefix: string) {
    this.prefixBytes = Buffer.from(keyPrefix, 'utf8');
  }

  encode(key: string): Buffer {
    return Buffer.from(this.keyPrefix + key, 'utf8');
  }

  decode(raw: Buffer): string {
    return raw.subarray(this.prefixBytes.length).toString('utf8');
  }

  /**
   * etcd range [key, range_end) of every key starting with prefix. etcd's convention:
   * range_end '\0' means "to the end of the keyspace"; key '\0' with it means "all keys".
   */
  prefixRange(prefix: string): { key: Buffer; rangeEnd: Buffer } {
    const key = this.encode(prefix);
    const end = prefixEndBytes(key);
    if (key.length === 0) return { key: Buffer.from([0]), rangeEnd: Buffer.from([0]) };
    return { key, rangeEnd: end ?? Buffer.from([0]) };
  }
}

/** Smallest byte string greater than every string starting with prefix; undefined if none. */
export function prefixEndBytes(prefix: Buffer): Buffer | undefined {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i]! += 1;
      return end.subarray(0, i + 1);
    }
  }
  return undefined;
}

export function serialize(key: string, value: unknown): Buffer {
  const json = JSON.stringify(value);
  if (json === undefined) throw new StoreError(`value of ${key} is not JSON-serialisable`);
  return Buffer.from(json, 'utf8');
}

/** Parses afresh on every call: callers may mutate what they get. */
export function decodeValue<V>(raw: Buffer): V {
  return JSON.parse(raw.toString('utf8')) as V;
}

export function toKeyValue<V>(keys: KeyCodec, kv: IKeyValue): KeyValue<V> {
  return {
    key: keys.decode(kv.key),
    value: decodeValue<V>(kv.value),
    createRevision: toStoreRevision(kv.create_revision),
    modRevision: toStoreRevision(kv.mod_revision),
  };
}

export function checkRevision(what: string, revision: number): void {
  if (!Number.isSafeInteger(revision) || revision < 0) {
    throw new StoreError(`${what} must be a non-negative integer, got ${revision}`);
  }
}

/** etcd reports these as gRPC OUT_OF_RANGE / INVALID_ARGUMENT with fixed texts. */
export const isCompactedError = (err: unknown): boolean =>
  err instanceof Error && err.message.includes('required revision has been compacted');
export const isFutureRevisionError = (err: unknown): boolean =>
  err instanceof Error && err.message.includes('required revision is a future revision');
