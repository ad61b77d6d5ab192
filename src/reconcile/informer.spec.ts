import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { SqliteStore } from '../store/sqlite-store';
import { GoneError, type KeyValue, type ListOptions, type ListResult, type Store, type TxnOp } from '../store/store';
import { Informer, type InformerOptions } from './informer';
import { EndingStore } from './testing/ending-store';
import { MemoryStore } from './testing/memory-store';
import { settle, until } from './testing/until';

interface Obj {
  key: string;
  n: number;
  net?: string;
  rv: number;
}

const P = '/registry/things/';
const decode = (kv: KeyValue<unknown>): Obj => {
  const v = kv.value as { n: number; net?: string };
  if (typeof v.n !== 'number') throw new Error('bad value');
  return { key: kv.key, n: v.n, net: v.net, rv: kv.modRevision };
};

/** An informer plus a log of its events as short strings. */
function harness(store: Store, extra: Partial<InformerOptions<Obj>> = {}) {
  const events: string[] = [];
  const inf = new Informer<Obj>({ store, prefix: P, decode, pageSize: 2, retryDelayMs: 2, ...extra });
  inf.addEventHandler({
    onAdd: (o) => events.push(`add ${o.key.slice(P.length)}=${o.n}`),
    onUpdate: (a, b) => events.push(`update ${b.key.slice(P.length)} ${a.n}->${b.n}`),
    onDelete: (o) => events.push(`delete ${o.key.slice(P.length)}`),
  });
  return { inf, events };
}

const put = (key: string, n: number, net?: string): TxnOp => ({ type: 'create', key: P + key, value: { n, net } });
const upd = (key: string, n: number, net?: string): TxnOp => ({ type: 'update', key: P + key, value: { n, net } });
const del = (key: string): TxnOp => ({ type: 'delete', key: P + key });

function describeInformer(name: string, open: () => Promise<Store>): void {
  describe(`Informer on ${name}`, () => {
    let store: Store;
    let informer: Informer<Obj> | undefined;
    beforeEach(async () => {
      store = await open();
    });
    afterEach(async () => {
      informer?.stop();
      informer = undefined;
      await store.close();
    });

    it('lists every page at one revision, then syncs', async () => {
      for (const k of ['a', 'b', 'c', 'd', 'e']) await store.txn([put(k, 1)]);
      await store.txn([{ type: 'create', key: '/registry/other/x', value: { n: 9 } }]);
      const { inf, events } = harness(store);
      informer = inf;
      expect(inf.hasSynced()).toBe(false);
      inf.start();
      expect(await inf.waitForSync()).toBe(true);
      expect(events).toEqual(['add a=1', 'add b=1', 'add c=1', 'add d=1', 'add e=1']);
      expect(inf.size).toBe(5);
      expect(inf.get(P + 'c')?.n).toBe(1);
      expect(inf.get('/registry/other/x')).toBeUndefined();
      expect(inf.lastRevision).toBe(await store.currentRevision());
    });

    it('emits watch events in order, including every op of one transaction', async () => {
      await store.txn([put('a', 1)]);
      const { inf, events } = harness(store);
      informer = inf;
      inf.start();
      await inf.waitForSync();
      await store.txn([upd('a', 2)]);
      await store.txn([put('b', 1), put('c', 1), del('a')]);
      await store.txn([upd('b', 2)]);
      await until(() => events.length >= 6, 2000, 'events');
      expect(events).toEqual(['add a=1', 'update a 1->2', 'add b=1', 'add c=1', 'delete a', 'update b 1->2']);
      expect(inf.keys().sort()).toEqual([P + 'b', P + 'c']);
      expect(inf.modRevision(P + 'b')).toBe(await store.currentRevision());
    });

    it('maintains indexes through add, update and delete', async () => {
      await store.txn([put('a', 1, 'red'), put('b', 1, 'red'), put('c', 1, 'blue')]);
      const { inf, events } = harness(store);
      informer = inf;
      inf.addIndex('net', (o) => (o.net ? [o.net] : []));
      inf.start();
      await inf.waitForSync();
      expect(inf.byIndex('net', 'red').map((o) => o.key).sort()).toEqual([P + 'a', P + 'b']);
      await store.txn([upd('a', 2, 'blue')]);
      await store.txn([del('b')]);
      await until(() => events.length >= 5);
      expect(inf.indexKeys('net', 'red')).toEqual([]);
      expect(inf.byIndex('net', 'blue').map((o) => o.key).sort()).toEqual([P + 'a', P + 'c']);
      // An index added late covers what is already cached.
      inf.addIndex('n', (o) => [String(o.n)]);
      expect(inf.indexKeys('n', '2')).toEqual([P + 'a']);
      expect(() => inf.byIndex('nope', 'x')).toThrow('no index named nope');
    });

    it('after a restart past a compaction, relists and emits only the real differences', async () => {
      await store.txn([put('keep', 1), put('change', 1), put('gone', 1)]);
      const { inf, events } = harness(store);
      informer = inf;
      inf.start();
      await inf.waitForSync();
      inf.stop();
      events.length = 0;

      await store.txn([upd('change', 2)]);
      await store.txn([del('gone')]);
      await store.txn([put('new', 1)]);
      await store.txn([put('transient', 1)]);
      await store.txn([del('transient')]);
      await store.compact(await store.currentRevision());

      inf.start();
      await until(() => events.length >= 3, 2000, 'relist events');
      await settle();
      expect(events.sort()).toEqual(['add new=1', 'delete gone', 'update change 1->2']);
      expect(inf.keys().sort()).toEqual([P + 'change', P + 'keep', P + 'new']);

      // And it watches again afterwards.
      await store.txn([upd('keep', 5)]);
      await until(() => events.includes('update keep 1->5'));
    });

    it('resumes from its last revision when history is still there', async () => {
      await store.txn([put('a', 1)]);
      const { inf, events } = harness(store);
      informer = inf;
      inf.start();
      await inf.waitForSync();
      inf.stop();
      await store.txn([upd('a', 2)]);
      await store.txn([put('b', 1)]);
      await store.txn([del('b')]);
      inf.start();
      await until(() => events.length >= 4);
      await settle();
      // The transient key shows up because the watch replays history, unlike a relist.
      expect(events).toEqual(['add a=1', 'update a 1->2', 'add b=1', 'delete b']);
    });

    it('relist() without changes emits nothing', async () => {
      await store.txn([put('a', 1), put('b', 1), put('c', 1)]);
      const { inf, events } = harness(store);
      informer = inf;
      inf.start();
      await inf.waitForSync();
      await inf.relist();
      await settle();
      expect(events).toHaveLength(3);
    });

    it('replays the cache to a late handler and survives a throwing one', async () => {
      await store.txn([put('a', 1), put('b', 2)]);
      const { inf, events } = harness(store);
      informer = inf;
      inf.start();
      await inf.waitForSync();
      const late: string[] = [];
      inf.addEventHandler({
        onAdd: (o) => {
          late.push(o.key);
          throw new Error('handler bug');
        },
      });
      expect(late.sort()).toEqual([P + 'a', P + 'b']);
      await store.txn([put('c', 3)]);
      await until(() => events.length === 3 && late.length === 3);
    });

    it('treats an undecodable value as absent', async () => {
      await store.txn([put('a', 1), { type: 'create', key: P + 'bad', value: { n: 'x' } }]);
      const logger = pino({ level: 'silent' });
      const { inf, events } = harness(store, { logger });
      informer = inf;
      inf.start();
      await inf.waitForSync();
      expect(events).toEqual(['add a=1']);
      await store.txn([{ type: 'update', key: P + 'a', value: { n: 'broken' } }]);
      await until(() => events.length === 2);
      expect(events[1]).toBe('delete a');
    });
  });
}

describeInformer('MemoryStore', async () => new MemoryStore());

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vnetd-informer-'));
let fileCounter = 0;
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
describeInformer('SqliteStore', async () => SqliteStore.open(path.join(tmp, `s${++fileCounter}.db`)));

describe('Informer fault handling (MemoryStore)', () => {
  /** Delegates to a MemoryStore, failing list calls as told. */
  class FlakyStore extends MemoryStore {
    failures: Array<(opts: ListOptions) => Error | undefined> = [];
    listCalls = 0;
    override async list<V = unknown>(prefix: string, options: ListOptions = {}): Promise<ListResult<V>> {
      this.listCalls++;
      const fail = this.failures.shift()?.(options);
      if (fail) throw fail;
      return super.list<V>(prefix, options);
    }
  }

  it('retries a failed list with backoff', async () => {
    const store = new FlakyStore();
    await store.txn([put('a', 1)]);
    store.failures.push(() => new Error('disk on fire'), () => new Error('still on fire'));
    const { inf, events } = harness(store, { logger: pino({ level: 'silent' }) });
    inf.start();
    expect(await inf.waitForSync()).toBe(true);
    expect(store.listCalls).toBe(3);
    expect(events).toEqual(['add a=1']);
    inf.stop();
  });

  it('restarts a paginated list that hits Gone between pages', async () => {
    const store = new FlakyStore();
    for (const k of ['a', 'b', 'c', 'd']) await store.txn([put(k, 1)]);
    // Page 2 (which carries the first page's revision) finds it compacted.
    store.failures.push(
      () => undefined,
      (o) => (o.revision !== undefined ? new GoneError(o.revision, o.revision + 1) : undefined),
    );
    const { inf, events } = harness(store);
    inf.start();
    expect(await inf.waitForSync()).toBe(true);
    expect(events).toEqual(['add a=1', 'add b=1', 'add c=1', 'add d=1']);
    inf.stop();
  });

  it('relist() cuts a retry pause short', async () => {
    const store = new FlakyStore();
    await store.txn([put('a', 1)]);
    store.failures.push(() => new Error('down'));
    const { inf, events } = harness(store, { retryDelayMs: 60_000, logger: pino({ level: 'silent' }) });
    inf.start();
    await until(() => store.listCalls === 1);
    await settle();
    await inf.relist();
    expect(inf.hasSynced()).toBe(true);
    expect(events).toEqual(['add a=1']);
    await settle();
    expect(store.listCalls).toBe(2); // the abandoned loop did not list again
    inf.stop();
  });

  it('lists again when the store ends its watch (etcd after a compaction), emitting only what changed meanwhile', async () => {
    const store = new EndingStore();
    await store.txn([put('a', 1)]);
    await store.txn([put('b', 1)]);
    const { inf, events } = harness(store, { logger: pino({ level: 'silent' }) });
    inf.start();
    expect(await inf.waitForSync()).toBe(true);
    await store.endWatches([upd('a', 2), del('b'), put('c', 1)]);
    await until(() => events.length === 5);
    expect(events).toEqual(['add a=1', 'add b=1', 'update a 1->2', 'add c=1', 'delete b']);
    // Following again: a later write arrives through the new watch.
    await store.txn([upd('c', 2)]);
    await until(() => events.length === 6);
    expect(events[5]).toBe('update c 1->2');
    inf.stop();
  });

  it('stop() before sync resolves waitForSync(false) and leaves no watch behind', async () => {
    const store = new FlakyStore();
    store.failures.push(() => new Error('down'));
    const { inf } = harness(store, { retryDelayMs: 10_000 });
    inf.start();
    const synced = inf.waitForSync();
    inf.stop();
    expect(await synced).toBe(false);
    expect(store.watchCount).toBe(0);
    await settle();
    expect(inf.hasSynced()).toBe(false);
  });
});
