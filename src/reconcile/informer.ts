/**
 * A cache of one key prefix kept in step with the store, like client-go's informer:
 * list (paginated, at one consistent revision), then watch from that revision. Handlers
 * see add/update/delete in revision order. When the watch cannot resume (GoneError after
 * compaction) the informer lists again and emits only real differences, synthesising
 * deletes for keys that vanished while it was not watching, so handlers never need to
 * know a relist happened.
 *
 * Objects handed out are shared with the cache: treat them as read-only (the helpers in
 * conditions.ts and finalizers.ts return copies for exactly this reason).
 */
import type { Logger } from 'pino';
import { GoneError, type KeyValue, type Store, type Watch, type WatchEvent } from '../store/store';

export interface InformerHandlers<T> {
  onAdd?(obj: T, key: string): void;
  onUpdate?(oldObj: T, newObj: T, key: string): void;
  onDelete?(obj: T, key: string): void;
}

/** Values an object is indexed under (e.g. a port's network name). */
export type IndexFunc<T> = (obj: T) => readonly string[];

export interface InformerOptions<T> {
  store: Store;
  /** Key prefix to mirror, e.g. "/registry/vnet.dev/virtualports/". */
  prefix: string;
  /** Turns a stored value into T; throwing marks the value as unreadable (logged, treated as absent). */
  decode: (kv: KeyValue<unknown>) => T;
  /** List page size; default 500. */
  pageSize?: number;
  /** First delay before retrying a failed list; doubles up to maxRetryDelayMs. Default 100 ms. */
  retryDelayMs?: number;
  maxRetryDelayMs?: number;
  logger?: Logger;
}

const NO_VALUES: readonly string[] = [];

function sameValues(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

interface Entry<T> {
  obj: T;
  modRevision: number;
}

export class Informer<T> {
  private readonly cache = new Map<string, Entry<T>>();
  private readonly handlers = new Set<InformerHandlers<T>>();
  private readonly indexers = new Map<string, IndexFunc<T>>();
  private readonly indexes = new Map<string, Map<string, Set<string>>>();
  private readonly syncWaiters: Array<(synced: boolean) => void> = [];
  private watch?: Watch;
  private retryWake?: () => void;
  /** Bumped by start/stop/relist so callbacks of an abandoned list or watch do nothing. */
  private epoch = 0;
  private running = false;
  private synced = false;
  private revision = 0;

  constructor(private readonly options: InformerOptions<T>) {}

  /** Registers handlers; a late handler first receives an add for every cached object. */
  addEventHandler(handlers: InformerHandlers<T>): () => void {
    this.handlers.add(handlers);
    if (this.synced) {
      for (const [key, e] of this.cache) this.call('onAdd', () => handlers.onAdd?.(e.obj, key));
    }
    return () => this.handlers.delete(handlers);
  }

  /**
   * addIndex unless an index of that name exists. For readers of a shared informer
   * (shared-informers.ts), which agree that one name is one index function.
   */
  ensureIndex(name: string, fn: IndexFunc<T>): void {
    if (!this.indexers.has(name)) this.addIndex(name, fn);
  }

  addIndex(name: string, fn: IndexFunc<T>): void {
    if (this.indexers.has(name)) throw new Error(`index ${name} already exists`);
    this.indexers.set(name, fn);
    this.indexes.set(name, new Map());
    for (const [key, e] of this.cache) this.indexAdd(name, fn, key, e.obj);
  }

  get(key: string): T | undefined {
    return this.cache.get(key)?.obj;
  }

  /** The cached store modRevision of key (its resourceVersion). */
  modRevision(key: string): number | undefined {
    return this.cache.get(key)?.modRevision;
  }

  list(): T[] {
    return [...this.cache.values()].map((e) => e.obj);
  }

  keys(): string[] {
    return [...this.cache.keys()];
  }

  get size(): number {
    return this.cache.size;
  }

  /** Objects whose index function returned value. */
  byIndex(name: string, value: string): T[] {
    return this.indexKeys(name, value).map((k) => (this.cache.get(k) as Entry<T>).obj);
  }

  indexKeys(name: string, value: string): string[] {
    const index = this.indexes.get(name);
    if (!index) throw new Error(`no index named ${name}`);
    return [...(index.get(value) ?? [])];
  }

  /** The store revision the cache reflects. */
  get lastRevision(): number {
    return this.revision;
  }

  hasSynced(): boolean {
    return this.synced;
  }

  /** Resolves true once the first list is in the cache, or false if stopped before. */
  waitForSync(): Promise<boolean> {
    if (this.synced) return Promise.resolve(true);
    if (!this.running) return Promise.resolve(false);
    return new Promise((resolve) => this.syncWaiters.push(resolve));
  }

  /**
   * Starts (or restarts after stop) mirroring. A restart keeps the cache and resumes
   * watching from the last revision seen, falling back to a relist if that is gone.
   */
  start(): void {
    if (this.running) return;
    this.running = true;
    const epoch = ++this.epoch;
    if (this.synced) {
      try {
        if (this.tryWatch(epoch, this.revision)) return;
      } catch (err) {
        this.options.logger?.warn({ prefix: this.options.prefix, err }, 'cannot resume watch, relisting');
      }
    }
    void this.listAndWatch(epoch);
  }

  stop(): void {
    if (!this.running) return;
    this.running = false;
    this.epoch++;
    this.watch?.stop();
    this.watch = undefined;
    this.retryWake?.();
    if (!this.synced) this.syncWaiters.splice(0).forEach((r) => r(false));
  }

  /** Drops the watch and lists again, emitting the differences (also when the store ends the watch). */
  relist(): Promise<void> {
    if (!this.running) return Promise.resolve();
    const epoch = ++this.epoch;
    this.watch?.stop();
    this.watch = undefined;
    this.retryWake?.();
    return this.listAndWatch(epoch);
  }

  private async listAndWatch(epoch: number): Promise<void> {
    let delay = this.options.retryDelayMs ?? 100;
    const maxDelay = this.options.maxRetryDelayMs ?? 30_000;
    // Gone is normally cured by listing again at once; a few in a row means something is
    // compacting faster than we can list, so back off like any other failure.
    let gone = 0;
    while (epoch === this.epoch) {
      try {
        const { items, revision } = await this.listAll();
        if (epoch !== this.epoch) return;
        this.replace(items, revision);
        if (this.tryWatch(epoch, revision)) return;
        // Compacted between list and watch.
        if (++gone <= 3) continue;
      } catch (err) {
        if (epoch !== this.epoch) return;
        // A page below the compacted revision: the next attempt lists at the latest one.
        if (err instanceof GoneError && ++gone <= 3) {
          this.options.logger?.debug({ prefix: this.options.prefix, err }, 'list was compacted, listing again');
          continue;
        }
        this.options.logger?.warn({ prefix: this.options.prefix, err, retryInMs: delay }, 'list failed, will retry');
      }
      gone = 0;
      await this.sleep(delay);
      delay = Math.min(delay * 2, maxDelay);
    }
  }

  private async listAll(): Promise<{ items: KeyValue<unknown>[]; revision: number }> {
    const limit = this.options.pageSize ?? 500;
    const first = await this.options.store.list<unknown>(this.options.prefix, { limit });
    const items = [...first.items];
    let more = first.more;
    while (more) {
      const page = await this.options.store.list<unknown>(this.options.prefix, {
        limit,
        revision: first.revision,
        startAfter: items[items.length - 1].key,
      });
      items.push(...page.items);
      more = page.more;
    }
    return { items, revision: first.revision };
  }

  /** Watches from revision; false if that revision is already compacted. */
  private tryWatch(epoch: number, revision: number): boolean {
    try {
      this.watch = this.options.store.watch<unknown>(this.options.prefix, (ev) => this.onEvent(epoch, ev), {
        afterRevision: revision,
        // etcd ended the watch (its history compacted while it was away): list again, or
        // the cache would stop following the store without anyone knowing.
        onError: (err) => {
          if (epoch !== this.epoch) return;
          this.options.logger?.warn({ prefix: this.options.prefix, err }, 'the store ended the watch, relisting');
          void this.relist();
        },
      });
      return true;
    } catch (err) {
      if (!(err instanceof GoneError)) throw err;
      this.options.logger?.info({ prefix: this.options.prefix, revision, err }, 'watch revision compacted, relisting');
      return false;
    }
  }

  private onEvent(epoch: number, ev: WatchEvent<unknown>): void {
    if (epoch !== this.epoch) return;
    const key = ev.kv.key;
    const cur = this.cache.get(key);
    if (ev.kv.modRevision > this.revision) this.revision = ev.kv.modRevision;
    // Replays can overlap what a list already showed; the cache's revision is authoritative.
    if (cur && cur.modRevision >= ev.kv.modRevision) return;
    if (ev.type === 'delete') {
      if (cur) this.remove(key, cur);
      return;
    }
    this.upsert(ev.kv, cur);
  }

  /** Applies a full list: adds, updates where the revision moved, deletes for vanished keys. */
  private replace(items: KeyValue<unknown>[], revision: number): void {
    const seen = new Set<string>();
    for (const kv of items) {
      seen.add(kv.key);
      const cur = this.cache.get(kv.key);
      if (cur && cur.modRevision === kv.modRevision) continue;
      this.upsert(kv, cur);
    }
    for (const [key, e] of [...this.cache]) if (!seen.has(key)) this.remove(key, e);
    this.revision = revision;
    if (!this.synced) {
      this.synced = true;
      this.syncWaiters.splice(0).forEach((r) => r(true));
    }
  }

  private upsert(kv: KeyValue<unknown>, cur: Entry<T> | undefined): void {
    let obj: T;
    try {
      obj = this.options.decode(kv);
    } catch (err) {
      this.options.logger?.error({ key: kv.key, modRevision: kv.modRevision, err }, 'cannot decode stored value; ignoring it');
      if (cur) this.remove(kv.key, cur);
      return;
    }
    const key = kv.key;
    this.cache.set(key, { obj, modRevision: kv.modRevision });
    this.reindex(key, cur?.obj, obj);
    // No closure per handler and event (as call() takes): this runs for every write of every watched object.
    for (const h of this.handlers) {
      try {
        if (cur) h.onUpdate?.(cur.obj, obj, key);
        else h.onAdd?.(obj, key);
      } catch (err) {
        this.handlerThrew(cur ? 'onUpdate' : 'onAdd', err);
      }
    }
  }

  private remove(key: string, cur: Entry<T>): void {
    this.cache.delete(key);
    this.reindex(key, cur.obj, undefined);
    for (const h of this.handlers) this.call('onDelete', () => h.onDelete?.(cur.obj, key));
  }

  private reindex(key: string, oldObj: T | undefined, newObj: T | undefined): void {
    for (const [name, fn] of this.indexers) {
      const before = oldObj === undefined ? NO_VALUES : this.indexValues(name, fn, key, oldObj);
      const after = newObj === undefined ? NO_VALUES : this.indexValues(name, fn, key, newObj);
      // Most updates (status writes) keep the values: no set emptied and made again.
      if (sameValues(before, after)) continue;
      const index = this.indexes.get(name) as Map<string, Set<string>>;
      this.indexRemoveValues(index, key, before);
      this.indexAddValues(index, key, after);
    }
  }

  private indexAdd(name: string, fn: IndexFunc<T>, key: string, obj: T): void {
    this.indexAddValues(this.indexes.get(name) as Map<string, Set<string>>, key, this.indexValues(name, fn, key, obj));
  }

  private indexAddValues(index: Map<string, Set<string>>, key: string, values: readonly string[]): void {
    for (const v of values) {
      let keys = index.get(v);
      if (!keys) index.set(v, (keys = new Set()));
      keys.add(key);
    }
  }

  private indexRemoveValues(index: Map<string, Set<string>>, key: string, values: readonly string[]): void {
    for (const v of values) {
      const keys = index.get(v);
      keys?.delete(key);
      if (keys?.size === 0) index.delete(v);
    }
  }

  private indexValues(name: string, fn: IndexFunc<T>, key: string, obj: T): readonly string[] {
    try {
      return fn(obj);
    } catch (err) {
      this.options.logger?.error({ index: name, key, err }, 'index function threw');
      return [];
    }
  }

  /** A throwing handler must not break the cache or starve the other handlers. */
  private call(what: string, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.handlerThrew(what, err);
    }
  }

  private handlerThrew(what: string, err: unknown): void {
    this.options.logger?.error({ prefix: this.options.prefix, handler: what, err }, 'informer handler threw');
  }

  /** A retry pause that stop() and relist() can cut short. */
  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        if (this.retryWake === wake) this.retryWake = undefined;
        resolve();
      };
      const timer = setTimeout(wake, ms);
      timer.unref();
      this.retryWake = wake;
    });
  }
}
