/**
 * Kubernetes object semantics on top of the key/value Store: uid, generation,
 * creationTimestamp, resourceVersion (= modRevision), optimistic concurrency, the
 * status subresource, and graceful deletion through finalizers. The API and the
 * reconcilers both write through this class, so the rules hold for every writer.
 */
import { WriteRefusals, trackWriteRefusals } from './write-refusals';
import { randomUUID } from 'node:crypto';
import { kubeTime, type KubeObject } from '../resources/object';
import { cloneJson } from '../resources/clone-json';
import { sameValue } from '../resources/same-value';
import { sameObject } from '../resources/same-object';
import { listPrefix, objectKey, typePrefix, type StoredType } from './keys';
import { StatusCoalescer, type PendingStatus, type StatusMutation } from './status-coalescer';
import {
  ConflictError,
  KeyNotFoundError,
  type KeyValue,
  type Store,
  type TxnOp,
  type Watch,
  type WatchEvent,
  type StoreError,
  type WatchRoute,
} from './store';

export type Subresource = 'main' | 'status';

export interface ObjectListResult<T> {
  items: T[];
  resourceVersion: string;
  /** Key to pass as startAfter for the next page, when more follow. */
  nextStartAfter?: string;
}

export interface WriteResult<T> {
  object: T;
  /** True when the write removed the object from the store (last finalizer gone, or plain delete). */
  deleted: boolean;
}

export type ObjectEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface ObjectEvent<T> {
  type: ObjectEventType;
  object: T;
  /** The store revision of the event (also the object's resourceVersion, for DELETED the deletion revision). */
  revision: number;
  /** The object before the change (MODIFIED, DELETED). */
  old?: T;
}

/** Extra key/value writes that must commit atomically with an object write (e.g. IP allocations). */
export type ExtraOps = TxnOp[];

/**
 * `finalizers`: added as the deletion starts (the garbage collector's foregroundDeletion or
 * orphan), never to an object already being deleted. `deleting`: changes the object makes
 * in the write that starts its deletion (a Namespace's phase turns Terminating);
 * `startingOps`: ops committed with that write only (a DELETE of an object already being
 * deleted commits none of them, and writes nothing).
 */
export interface DeleteOptions<T> {
  preconditions?: Preconditions;
  extraOps?: ExtraOps;
  startingOps?: ExtraOps;
  dryRun?: boolean;
  finalizers?: readonly string[];
  deleting?: (next: T) => void;
}

/** A precondition on the stored object; mismatch is a ConflictError. */
export interface Preconditions {
  resourceVersion?: string;
  uid?: string;
}

export class UidPreconditionError extends Error {
  constructor(readonly key: string, readonly expected: string, readonly actual: string) {
    super(`precondition failed: uid in precondition: ${expected}, uid in object meta: ${actual}`);
  }
}

/**
 * One key as of a snapshot (absent revision: the latest), and the revision read. The Store
 * reads at a revision only by listing, so this lists the key as a prefix, one item, and
 * keeps it only if it is the key itself (not a longer one that starts with it).
 */
export async function readKeyAt<V>(kv: Store, key: string, revision?: number): Promise<{ kv?: KeyValue<V>; revision: number }> {
  const res = await kv.list<V>(key, { revision, limit: 1 });
  return { kv: res.items[0]?.key === key ? res.items[0] : undefined, revision: res.revision };
}

/**
 * The object as clients see it. get/list/txn results are fresh copies from the store, so
 * they are used as they are (watch events share one value: see sharedWithRevision).
 */
function withRevision<T extends KubeObject>(kv: KeyValue<T>): T {
  const obj = kv.value;
  obj.metadata.resourceVersion = String(kv.modRevision);
  return obj;
}

/** Store events the stores share between their watchers (SQLite's hub does), each converted once. */
const objectEvents = new WeakMap<WatchEvent, ObjectEvent<KubeObject>>();

function objectEventOf<T extends KubeObject>(ev: WatchEvent<T>): ObjectEvent<T> {
  const known = objectEvents.get(ev);
  if (known) return known as ObjectEvent<T>;
  let out: ObjectEvent<T>;
  if (ev.type === 'delete') {
    const last = sharedWithRevision((ev.prevKv ?? ev.kv).value, ev.kv.modRevision);
    out = { type: 'DELETED', object: last, revision: ev.kv.modRevision, old: last };
  } else {
    out = {
      type: ev.created ? 'ADDED' : 'MODIFIED',
      object: sharedWithRevision(ev.kv.value, ev.kv.modRevision),
      revision: ev.kv.modRevision,
      old: ev.prevKv ? sharedWithRevision(ev.prevKv.value, ev.prevKv.modRevision) : undefined,
    };
  }
  objectEvents.set(ev, out as ObjectEvent<KubeObject>);
  return out;
}

/**
 * A watch event's object: the store's value is shared by every watcher, so only the top
 * level and metadata are copied (to set resourceVersion); handlers treat it as read-only.
 */
function sharedWithRevision<T extends KubeObject>(value: T, modRevision: number): T {
  return { ...value, metadata: { ...value.metadata, resourceVersion: String(modRevision) } };
}

/** What is persisted: resourceVersion is derived from the store's modRevision, never stored. */
function toStored<T extends KubeObject>(obj: T): T {
  // Shallow: the store serialises the value when the txn is issued, and the merged object
  // is not kept; only metadata is changed here, so only it is copied.
  const copy = { ...obj, metadata: { ...obj.metadata } };
  delete copy.metadata.resourceVersion;
  return copy;
}

/** A resourceVersion precondition as the store reads it: none (unset, "" or "0"), a revision, or InvalidResourceVersionError. */
export function parseRv(rv: string | undefined): number | undefined {
  if (rv === undefined || rv === '' || rv === '0') return undefined;
  const n = Number(rv);
  if (!Number.isSafeInteger(n) || n < 0) throw new InvalidResourceVersionError(rv);
  return n;
}

/** Attempts of a write without a resourceVersion precondition before a conflict reaches the caller. */
const UNCONDITIONAL_ATTEMPTS = 10;

export class InvalidResourceVersionError extends Error {
  constructor(readonly resourceVersion: string) {
    super(`invalid resourceVersion "${resourceVersion}"`);
  }
}

interface StatusTarget {
  type: StoredType;
  namespace: string | undefined;
  name: string;
}

export class ObjectStore {
  private readonly statusWrites = new StatusCoalescer<WriteResult<KubeObject> | undefined, StatusTarget>((p) => this.writeCoalesced(p));

  /** Every write through this store (and through kv) tells it whether the store took it. */
  readonly kv: Store;

  constructor(
    kv: Store,
    private readonly now: () => Date = () => new Date(),
    /** Shared by the stores of one process (the leader's fenced view and the API's). */
    readonly writeRefusals: WriteRefusals = new WriteRefusals(),
  ) {
    this.kv = trackWriteRefusals(kv, writeRefusals);
  }

  key(type: StoredType, namespace: string | undefined, name: string): string {
    return objectKey(type, namespace, name);
  }

  async get<T extends KubeObject>(type: StoredType, namespace: string | undefined, name: string): Promise<T | undefined> {
    const kv = await this.kv.get<T>(objectKey(type, namespace, name));
    return kv ? withRevision(kv) : undefined;
  }

  /**
   * One object as of a snapshot (absent revision: the latest), and the revision read: what a
   * list that can only select this one object returns, without reading the kind.
   */
  async getAt<T extends KubeObject>(type: StoredType, namespace: string | undefined, name: string, revision?: number): Promise<{ object?: T; revision: number }> {
    const read = await readKeyAt<T>(this.kv, objectKey(type, namespace, name), revision);
    return { object: read.kv ? withRevision(read.kv) : undefined, revision: read.revision };
  }

  async list<T extends KubeObject>(
    type: StoredType,
    namespace: string | undefined,
    options: { limit?: number; startAfter?: string; revision?: number } = {},
  ): Promise<ObjectListResult<T>> {
    const prefix = listPrefix(type, namespace);
    const res = await this.kv.list<T>(prefix, options);
    const items = res.items.map((kv) => withRevision(kv));
    const last = res.items[res.items.length - 1];
    return {
      items,
      resourceVersion: String(res.revision),
      nextStartAfter: res.more && last ? last.key : undefined,
    };
  }

  async count(type: StoredType): Promise<number> {
    return this.kv.count(typePrefix(type));
  }

  /**
   * A write of `obj`'s status as it was read (its resourceVersion the precondition), to commit
   * in the transaction of another object's write: a ResourceQuota's usage with the object
   * that uses it (quota/quota-gate.ts).
   */
  statusWriteOp<T extends KubeObject>(type: StoredType, obj: T, status: T['status']): TxnOp {
    const key = objectKey(type, obj.metadata.namespace, obj.metadata.name);
    return { type: 'update', key, value: toStored({ ...obj, status }), expectedModRevision: Number(obj.metadata.resourceVersion) };
  }

  /** Stores a new object; the caller has validated it. Server-owned metadata is set here. */
  async create<T extends KubeObject>(type: StoredType, obj: T, extraOps: ExtraOps = []): Promise<T> {
    const stored = toStored(obj);
    const meta = stored.metadata;
    meta.uid ??= randomUUID();
    meta.generation = 1;
    meta.creationTimestamp = kubeTime(this.now());
    delete meta.deletionTimestamp;
    delete meta.deletionGracePeriodSeconds;
    const key = objectKey(type, meta.namespace, meta.name);
    const res = await this.kv.txn<T>([{ type: 'create', key, value: stored }, ...(extraOps as TxnOp<T>[])]);
    return withRevision(res.results[0]!);
  }

  /**
   * Replaces an object (PUT semantics). For the main resource, status is kept from the
   * stored object and generation advances when spec changes; for the status
   * subresource, only status is taken from `obj`. Removing the last finalizer of an
   * object being deleted deletes it.
   */
  async update<T extends KubeObject>(
    type: StoredType,
    obj: T,
    options: { subresource?: Subresource; extraOps?: ExtraOps; requireResourceVersion?: boolean; dryRun?: boolean } = {},
  ): Promise<WriteResult<T>> {
    const key = objectKey(type, obj.metadata.namespace, obj.metadata.name);
    const current = await this.kv.get<T>(key);
    if (!current) throw new KeyNotFoundError(key);
    return this.updateFrom(key, current, obj, options);
  }

  /** update() on a state just read (a fresh copy, which this takes over). */
  private async updateFrom<T extends KubeObject>(
    key: string,
    current: KeyValue<T>,
    obj: T,
    options: { subresource?: Subresource; extraOps?: ExtraOps; dryRun?: boolean },
  ): Promise<WriteResult<T>> {
    const subresource = options.subresource ?? 'main';
    const expected = parseRv(obj.metadata.resourceVersion);
    if (expected !== undefined && expected !== current.modRevision) {
      throw new ConflictError(key, expected, current.modRevision);
    }
    if (obj.metadata.uid && obj.metadata.uid !== current.value.metadata.uid) {
      throw new UidPreconditionError(key, obj.metadata.uid, current.value.metadata.uid ?? '');
    }
    const next = this.merge(current.value, toStored(obj), subresource);
    // Through /status only status can change: compare just that. A write that changes nothing
    // but when its field manager wrote is none either (kube-apiserver's rule): no revision, no event.
    if (subresource === 'status' ? sameValue(next.status, current.value.status) : sameObject(next, current.value)) {
      return { object: withRevision(current), deleted: false };
    }
    const finalizersGone = !next.metadata.finalizers || next.metadata.finalizers.length === 0;
    // A dry run answers what the write would store, after the same checks, and writes nothing.
    if (options.dryRun) return { object: withRevision({ ...current, value: next }), deleted: !!next.metadata.deletionTimestamp && finalizersGone };
    const extra = (options.extraOps ?? []) as TxnOp<T>[];
    if (next.metadata.deletionTimestamp && finalizersGone) {
      const res = await this.kv.txn<T>([{ type: 'delete', key, expectedModRevision: current.modRevision }, ...extra]);
      const gone = withRevision({ ...res.results[0]!, value: next, modRevision: res.revision });
      return { object: gone, deleted: true };
    }
    const res = await this.kv.txn<T>([
      { type: 'update', key, value: next, expectedModRevision: current.modRevision },
      ...extra,
    ]);
    return { object: withRevision(res.results[0]!), deleted: false };
  }

  /**
   * Deletes gracefully: with finalizers the object only gains a deletionTimestamp (and a
   * generation bump, as Kubernetes does); without, it is removed at once.
   */
  async delete<T extends KubeObject>(
    type: StoredType,
    namespace: string | undefined,
    name: string,
    options: DeleteOptions<T> = {},
  ): Promise<WriteResult<T>> {
    const key = objectKey(type, namespace, name);
    // Without a resourceVersion precondition the caller asked for no particular version:
    // a write that landed between our read and our delete (a reconciler's status, queued in
    // the same group commit) is not a conflict of theirs, so read again and retry, as the
    // apiserver's GuaranteedUpdate does.
    const unconditional = parseRv(options.preconditions?.resourceVersion) === undefined;
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.deleteOnce<T>(key, options);
      } catch (err) {
        if (unconditional && err instanceof ConflictError && err.key === key && attempt < UNCONDITIONAL_ATTEMPTS) continue;
        throw err;
      }
    }
  }

  private async deleteOnce<T extends KubeObject>(key: string, options: DeleteOptions<T>): Promise<WriteResult<T>> {
    const current = await this.kv.get<T>(key);
    if (!current) throw new KeyNotFoundError(key);
    const pre = options.preconditions ?? {};
    const expected = parseRv(pre.resourceVersion);
    if (expected !== undefined && expected !== current.modRevision) {
      throw new ConflictError(key, expected, current.modRevision);
    }
    if (pre.uid && pre.uid !== current.value.metadata.uid) {
      throw new UidPreconditionError(key, pre.uid, current.value.metadata.uid ?? '');
    }
    const deleting = current.value.metadata.deletionTimestamp !== undefined;
    const extra = [...(options.extraOps ?? []), ...(deleting ? [] : (options.startingOps ?? []))] as TxnOp<T>[];
    const added = deleting ? [] : (options.finalizers ?? []).filter((f) => !(current.value.metadata.finalizers ?? []).includes(f));
    const finalizers = [...(current.value.metadata.finalizers ?? []), ...added];
    if (finalizers.length > 0) {
      if (deleting && extra.length === 0) {
        return { object: withRevision(current), deleted: false };
      }
      const next = cloneJson(current.value);
      if (added.length > 0) next.metadata.finalizers = finalizers;
      next.metadata.deletionTimestamp ??= kubeTime(this.now());
      next.metadata.deletionGracePeriodSeconds ??= 0;
      next.metadata.generation = (next.metadata.generation ?? 1) + 1;
      if (!deleting) options.deleting?.(next);
      if (options.dryRun) return { object: withRevision({ ...current, value: next }), deleted: false };
      const res = await this.kv.txn<T>([
        { type: 'update', key, value: next, expectedModRevision: current.modRevision },
        ...extra,
      ]);
      return { object: withRevision(res.results[0]!), deleted: false };
    }
    if (options.dryRun) return { object: withRevision(current), deleted: true };
    const res = await this.kv.txn<T>([{ type: 'delete', key, expectedModRevision: current.modRevision }, ...extra]);
    return { object: withRevision({ ...current, modRevision: res.revision }), deleted: true };
  }

  /**
   * Read-modify-write with retries on conflict: the way reconcilers write. `mutate`
   * returns the new object, or undefined to leave it alone.
   *
   * Status writes (without extraOps) of one object requested in the same event-loop turn
   * are coalesced (see StatusCoalescer): the mutations run in request order on one read,
   * one write stores them all, and each caller gets that write's result.
   */
  async modify<T extends KubeObject>(
    type: StoredType,
    namespace: string | undefined,
    name: string,
    mutate: (current: T) => T | undefined | Promise<T | undefined>,
    options: { subresource?: Subresource; extraOps?: (current: T) => ExtraOps; attempts?: number } = {},
  ): Promise<WriteResult<T> | undefined> {
    const attempts = options.attempts ?? 10;
    if (options.subresource === 'status' && !options.extraOps) {
      const pending = this.statusWrites.enqueue(objectKey(type, namespace, name), { type, namespace, name }, mutate as StatusMutation<KubeObject>, attempts);
      return pending as Promise<WriteResult<T> | undefined>;
    }
    for (let i = 0; ; i++) {
      const current = await this.get<T>(type, namespace, name);
      if (!current) return undefined;
      const next = await mutate(cloneJson(current));
      if (!next) return { object: current, deleted: false };
      next.metadata.resourceVersion = current.metadata.resourceVersion;
      try {
        return await this.update(type, next, {
          subresource: options.subresource,
          extraOps: options.extraOps?.(current),
        });
      } catch (err) {
        if (err instanceof ConflictError && err.key === this.key(type, namespace, name) && i + 1 < attempts) continue;
        if (err instanceof KeyNotFoundError && err.key === this.key(type, namespace, name)) return undefined;
        throw err;
      }
    }
  }

  /** One coalesced status write: every waiter's mutation on one read, one update, all settled with its result. */
  private async writeCoalesced(p: PendingStatus<WriteResult<KubeObject> | undefined, StatusTarget>): Promise<void> {
    const { type, namespace, name } = p.target;
    let waiters = p.waiters;
    const key = this.key(type, namespace, name);
    for (let i = 0; ; i++) {
      const read = await this.kv.get<KubeObject>(key);
      if (!read) {
        for (const w of waiters) w.resolve(undefined);
        return;
      }
      // `read` itself stays as stored (no resourceVersion): it is what updateFrom merges into.
      const current = sharedWithRevision(read.value, read.modRevision);
      let next = current;
      let changed = false;
      const live: typeof waiters = [];
      for (const w of waiters) {
        try {
          // cloneJson, not structuredClone: a fraction of its cost on decoded JSON, and this runs per status write.
          const input = cloneJson(next);
          // Changed by an earlier mutation: no longer the stored revision, so it does not say it
          // is (answers memoised by revision, the chassis layer's binding, would drop that change).
          if (changed) delete input.metadata.resourceVersion;
          const r = await w.mutate(input);
          if (r) {
            next = r;
            changed = true;
          }
          live.push(w);
        } catch (err) {
          w.reject(err);
        }
      }
      waiters = live;
      if (!changed) {
        for (const w of waiters) w.resolve({ object: current, deleted: false });
        return;
      }
      next.metadata.resourceVersion = current.metadata.resourceVersion;
      try {
        // The mutations ran on clones: `read` is still the state they started from.
        const res = await this.updateFrom(key, read, next, { subresource: 'status' });
        for (const w of waiters) w.resolve(res);
        return;
      } catch (err) {
        if (err instanceof ConflictError && err.key === key && i + 1 < p.attempts) continue;
        if (err instanceof KeyNotFoundError && err.key === key) {
          for (const w of waiters) w.resolve(undefined);
          return;
        }
        throw err;
      }
    }
  }

  /**
   * Watches one type (optionally one namespace) from a resourceVersion; see Store.watch.
   * The event and its objects are shared with every other watcher of the same store event
   * (read-only): with many watchers (an agent holds several per network), copying each
   * object once per watcher was most of what an event cost the ones it did not concern.
   * Shared where the store hands all its watchers one event object (SQLite's hub); etcd's
   * watches decode their own, and then each converts its own. `route` is the store's hint
   * (see WatchOptions.route): the handler may still receive events outside it; `onError`
   * hears of the store ending the watch (WatchOptions.onError).
   */
  watch<T extends KubeObject>(
    type: StoredType,
    namespace: string | undefined,
    afterRevision: number | undefined,
    handler: (event: ObjectEvent<T>) => void,
    options: { route?: WatchRoute; onError?: (err: StoreError) => void } = {},
  ): Watch {
    const prefix = listPrefix(type, namespace);
    return this.kv.watch<T>(prefix, (ev) => handler(objectEventOf(ev)), { afterRevision, ...options });
  }

  /** current is a fresh copy owned by the caller; the result shares its unchanged parts. */
  private merge<T extends KubeObject>(current: T, incoming: T, subresource: Subresource): T {
    const next = { ...current };
    if (subresource === 'status') {
      next.status = incoming.status;
      return next;
    }
    // Server-owned metadata stays; user-owned metadata and spec come from the request.
    next.metadata = {
      ...incoming.metadata,
      name: current.metadata.name,
      namespace: current.metadata.namespace,
      uid: current.metadata.uid,
      generation: current.metadata.generation,
      creationTimestamp: current.metadata.creationTimestamp,
      deletionTimestamp: current.metadata.deletionTimestamp,
      deletionGracePeriodSeconds: current.metadata.deletionGracePeriodSeconds,
    };
    for (const k of Object.keys(next.metadata) as (keyof typeof next.metadata)[]) {
      if (next.metadata[k] === undefined) delete next.metadata[k];
    }
    next.spec = incoming.spec;
    if (next.spec === undefined) delete next.spec;
    if (!sameValue(current.spec, next.spec)) {
      next.metadata.generation = (current.metadata.generation ?? 1) + 1;
    }
    return next;
  }
}
