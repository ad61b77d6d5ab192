/**
 * Behaviour every Store backend must show (SQLite now, etcd later). A backend's spec calls
 * describeStoreConformance with a factory returning a fresh, empty store used by this test
 * alone; the suite closes it afterwards.
 *
 * Revisions are asserted relative to the store's revision at the start of each test, so a
 * backend whose empty store does not start at 0 still passes. Watch assertions wait for
 * events (delivery may be asynchronous) and never rely on timing for ordering.
 *
 * Prefixes are plain string prefixes: '/a/b' matches '/a/bc/x'. Callers that mean a
 * directory must end the prefix with '/', as every test here does.
 */
import {
  ConflictError,
  GoneError,
  KeyExistsError,
  KeyNotFoundError,
  StoreClosedError,
  StoreError,
  type KeyValue,
  type Store,
  type Watch,
  type WatchEvent,
  type WatchOptions,
  type WatchRoute,
} from './store';

interface Val {
  n: number;
  tag?: string;
}

const FLUSH = '~flush~';

/** Records one watch's events and checks their order as they arrive. */
class Recorder {
  readonly all: WatchEvent<Val>[] = [];
  readonly watch: Watch;
  orderViolations = 0;

  constructor(
    store: Store,
    readonly prefix: string,
    options?: WatchOptions,
    onEvent?: (e: WatchEvent<Val>) => void,
  ) {
    this.watch = store.watch<Val>(
      prefix,
      (e) => {
        const last = this.all[this.all.length - 1];
        if (last && e.kv.modRevision < last.kv.modRevision) this.orderViolations++;
        this.all.push(e);
        onEvent?.(e);
      },
      options,
    );
  }

  /** Events except the flush markers. */
  get events(): WatchEvent<Val>[] {
    return this.all.filter((e) => !e.kv.key.includes(FLUSH));
  }

  summary(): string[] {
    return this.events.map((e) => `${e.type} ${e.kv.key} @${e.kv.modRevision}`);
  }
}

async function waitFor(cond: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

let flushCounter = 0;

/**
 * Writes a marker key under the recorder's prefix and waits for it: since each watch
 * delivers in revision order, every earlier event has then been delivered too.
 */
async function flush(store: Store, rec: Recorder): Promise<void> {
  const key = `${rec.prefix}${FLUSH}${++flushCounter}`;
  await store.txn([{ type: 'create', key, value: { n: -1 } }]);
  await waitFor(() => rec.all.some((e) => e.kv.key === key), `flush marker ${key}`);
}

function bytewiseSorted(keys: string[]): string[] {
  return [...keys].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
}

export function describeStoreConformance(name: string, open: () => Promise<Store>): void {
  describe(`Store conformance: ${name}`, () => {
    let store: Store;
    let base: number;

    const put = async (key: string, n: number) => {
      const cur = await store.get(key);
      const r = await store.txn<Val>([cur ? { type: 'update', key, value: { n } } : { type: 'create', key, value: { n } }]);
      return r.revision;
    };
    const del = async (key: string) => (await store.txn([{ type: 'delete', key }])).revision;
    const rel = (r: number) => r - base;

    beforeEach(async () => {
      store = await open();
      base = await store.currentRevision();
    });

    afterEach(async () => {
      await store.close();
    });

    describe('basic operations', () => {
      it('starts empty and uncompacted', async () => {
        expect(Number.isSafeInteger(base) && base >= 0).toBe(true);
        expect(await store.compactedRevision()).toBeLessThanOrEqual(base);
        expect(await store.get('/t/x')).toBeUndefined();
        const l = await store.list('/t/');
        expect(l).toEqual({ items: [], revision: base, more: false });
        expect(await store.count('/t/')).toBe(0);
      });

      it('creates, reads, updates and deletes with etcd revision rules', async () => {
        const c = await store.txn<Val>([{ type: 'create', key: '/t/a', value: { n: 1, tag: 'é✓' } }]);
        expect(rel(c.revision)).toBe(1);
        expect(c.results).toEqual([{ key: '/t/a', value: { n: 1, tag: 'é✓' }, createRevision: c.revision, modRevision: c.revision }]);
        expect(await store.get('/t/a')).toEqual(c.results[0]);
        expect(await store.currentRevision()).toBe(c.revision);

        const u = await store.txn<Val>([{ type: 'update', key: '/t/a', value: { n: 2 } }]);
        expect(u.revision).toBe(c.revision + 1);
        expect(u.results[0]).toEqual({ key: '/t/a', value: { n: 2 }, createRevision: c.revision, modRevision: u.revision });
        expect(await store.get('/t/a')).toEqual(u.results[0]);

        const d = await store.txn<Val>([{ type: 'delete', key: '/t/a' }]);
        expect(d.revision).toBe(u.revision + 1);
        // A delete reports the state before it.
        expect(d.results[0]).toEqual(u.results[0]);
        expect(await store.get('/t/a')).toBeUndefined();
        expect(await store.currentRevision()).toBe(d.revision);

        // Re-creation starts a new life: a new createRevision.
        const again = await store.txn<Val>([{ type: 'create', key: '/t/a', value: { n: 3 } }]);
        expect(again.results[0]).toMatchObject({ createRevision: again.revision, modRevision: again.revision });
      });

      it('returns copies of values: mutating a result does not change the store', async () => {
        const c = await store.txn<Val>([{ type: 'create', key: '/t/a', value: { n: 1 } }]);
        c.results[0]!.value.n = 99;
        const g = await store.get<Val>('/t/a');
        g!.value.n = 98;
        expect((await store.get<Val>('/t/a'))!.value).toEqual({ n: 1 });
      });

      it('rejects create of an existing key with KeyExistsError', async () => {
        await put('/t/a', 1);
        const rev = await store.currentRevision();
        const err = await store.txn([{ type: 'create', key: '/t/a', value: { n: 2 } }]).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(KeyExistsError);
        expect(err).toBeInstanceOf(StoreError);
        expect((err as KeyExistsError).key).toBe('/t/a');
        expect(await store.currentRevision()).toBe(rev);
        expect((await store.get<Val>('/t/a'))!.value.n).toBe(1);
      });

      it('rejects update and delete of an absent key with KeyNotFoundError', async () => {
        await expect(store.txn([{ type: 'update', key: '/t/nope', value: { n: 1 } }])).rejects.toBeInstanceOf(KeyNotFoundError);
        await expect(store.txn([{ type: 'delete', key: '/t/nope' }])).rejects.toBeInstanceOf(KeyNotFoundError);
        await expect(store.txn([{ type: 'delete', key: '/t/nope', expectedModRevision: 5 }])).rejects.toBeInstanceOf(KeyNotFoundError);
        expect(await store.currentRevision()).toBe(base);
      });

      it('checks expectedModRevision with ConflictError', async () => {
        const r1 = await put('/t/a', 1);
        const r2 = await put('/t/a', 2);
        const err = await store.txn([{ type: 'update', key: '/t/a', value: { n: 3 }, expectedModRevision: r1 }]).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(ConflictError);
        expect(err).toMatchObject({ key: '/t/a', expectedModRevision: r1, actualModRevision: r2 });
        await expect(store.txn([{ type: 'delete', key: '/t/a', expectedModRevision: r1 }])).rejects.toBeInstanceOf(ConflictError);
        expect(await store.currentRevision()).toBe(r2);

        const ok = await store.txn<Val>([{ type: 'update', key: '/t/a', value: { n: 3 }, expectedModRevision: r2 }]);
        expect(ok.results[0]!.modRevision).toBe(r2 + 1);
        await store.txn([{ type: 'delete', key: '/t/a', expectedModRevision: ok.revision }]);
        expect(await store.get('/t/a')).toBeUndefined();
      });

      it('rejects an empty transaction and a key given twice', async () => {
        await expect(store.txn([])).rejects.toBeInstanceOf(StoreError);
        await expect(
          store.txn([
            { type: 'create', key: '/t/a', value: { n: 1 } },
            { type: 'update', key: '/t/a', value: { n: 2 } },
          ]),
        ).rejects.toBeInstanceOf(StoreError);
        expect(await store.get('/t/a')).toBeUndefined();
        expect(await store.currentRevision()).toBe(base);
      });

      it('rejects every operation after close()', async () => {
        await store.close();
        await expect(store.get('/t/a')).rejects.toBeInstanceOf(StoreClosedError);
        await expect(store.list('/t/')).rejects.toBeInstanceOf(StoreClosedError);
        await expect(store.txn([{ type: 'create', key: '/t/a', value: {} }])).rejects.toBeInstanceOf(StoreClosedError);
        expect(() => store.watch('/t/', () => undefined)).toThrow(StoreClosedError);
        await store.close(); // idempotent
      });
    });

    describe('transactions', () => {
      it('writes all ops at one revision, results in op order', async () => {
        await put('/t/u', 1);
        await put('/t/d', 1);
        const before = await store.currentRevision();
        const r = await store.txn<Val>([
          { type: 'create', key: '/t/c', value: { n: 10 } },
          { type: 'update', key: '/t/u', value: { n: 20 } },
          { type: 'delete', key: '/t/d' },
        ]);
        expect(r.revision).toBe(before + 1);
        expect(r.results.map((x) => x.key)).toEqual(['/t/c', '/t/u', '/t/d']);
        expect(r.results[0]).toMatchObject({ createRevision: r.revision, modRevision: r.revision });
        expect(r.results[1]).toMatchObject({ createRevision: before - 1, modRevision: r.revision, value: { n: 20 } });
        expect(r.results[2]).toMatchObject({ modRevision: before, value: { n: 1 } });
        const l = await store.list<Val>('/t/');
        expect(l.items.map((i) => [i.key, i.modRevision])).toEqual([
          ['/t/c', r.revision],
          ['/t/u', r.revision],
        ]);
      });

      it('is atomic: a failing op (any position) leaves nothing written and the revision unchanged', async () => {
        const r1 = await put('/t/x', 1);
        await put('/t/y', 1);
        const rev = await store.currentRevision();
        const rec = new Recorder(store, '/t/');
        const failing = [
          [{ type: 'create', key: '/t/new', value: { n: 1 } }, { type: 'create', key: '/t/y', value: { n: 2 } }],
          [{ type: 'update', key: '/t/x', value: { n: 2 } }, { type: 'delete', key: '/t/absent' }],
          [{ type: 'delete', key: '/t/y' }, { type: 'update', key: '/t/x', value: { n: 3 }, expectedModRevision: r1 - 1 }],
        ] as const;
        for (const ops of failing) {
          await expect(store.txn<Val>([...ops])).rejects.toBeInstanceOf(StoreError);
          expect(await store.currentRevision()).toBe(rev);
        }
        expect(await store.get('/t/new')).toBeUndefined();
        expect((await store.get<Val>('/t/x'))!.value.n).toBe(1);
        expect((await store.get<Val>('/t/y'))!.value.n).toBe(1);
        await flush(store, rec);
        expect(rec.events).toEqual([]);
        rec.watch.stop();
      });

      it('a check guards a key it does not write: the txn applies only while the key is at that revision (0: absent), and no event names it', async () => {
        const r1 = await put('/t/guard', 1);
        const rec = new Recorder(store, '/t/', { afterRevision: r1 });
        const ok = await store.txn<Val>([{ type: 'check', key: '/t/guard', expectedModRevision: r1 }, { type: 'create', key: '/t/w1', value: { n: 1 } }, { type: 'check', key: '/t/none', expectedModRevision: 0 }]);
        expect(ok.results.map((r) => [r.key, r.modRevision])).toEqual([['/t/guard', r1], ['/t/w1', ok.revision], ['/t/none', 0]]);
        expect(ok.results[0]!.value).toEqual({ n: 1 });
        const r2 = await put('/t/guard', 2);
        const stale = await store.txn([{ type: 'check', key: '/t/guard', expectedModRevision: r1 }, { type: 'create', key: '/t/w2', value: { n: 2 } }]).catch((e: unknown) => e);
        expect(stale).toBeInstanceOf(ConflictError);
        expect(await store.get('/t/w2')).toBeUndefined();
        await expect(store.txn([{ type: 'check', key: '/t/guard', expectedModRevision: 0 }, { type: 'create', key: '/t/w3', value: {} }])).rejects.toBeInstanceOf(ConflictError);
        await expect(store.txn([{ type: 'check', key: '/t/none', expectedModRevision: r2 }, { type: 'create', key: '/t/w4', value: {} }])).rejects.toBeInstanceOf(ConflictError);
        // Nothing to write: refused, as a txn of no ops is.
        await expect(store.txn([{ type: 'check', key: '/t/guard', expectedModRevision: r2 }])).rejects.toBeInstanceOf(StoreError);
        // Checks do not conflict with each other.
        const both = await Promise.all([1, 2].map((i) => store.txn([{ type: 'check', key: '/t/guard', expectedModRevision: r2 }, { type: 'create', key: `/t/c${i}`, value: {} }])));
        expect(both).toHaveLength(2);
        await flush(store, rec);
        // Only the writes: w1, guard's second put, c1 and c2 (in either order).
        expect(rec.events.map((e) => e.kv.key).sort()).toEqual(['/t/c1', '/t/c2', '/t/guard', '/t/w1']);
        rec.watch.stop();
      });

      it('reports the first failing op in op order', async () => {
        await put('/t/a', 1);
        await expect(
          store.txn([
            { type: 'update', key: '/t/missing', value: {} },
            { type: 'create', key: '/t/a', value: {} },
          ]),
        ).rejects.toBeInstanceOf(KeyNotFoundError);
      });
    });

    describe('list', () => {
      it('matches a plain prefix: a trailing / excludes sibling keys', async () => {
        for (const k of ['/a/b', '/a/b/1', '/a/b/2', '/a/bc/1', '/a/c/1']) await put(k, 0);
        expect((await store.list('/a/b/')).items.map((i) => i.key)).toEqual(['/a/b/1', '/a/b/2']);
        expect(await store.count('/a/b/')).toBe(2);
        // Without the trailing '/', siblings match: that is the documented contract.
        expect((await store.list('/a/b')).items.map((i) => i.key)).toEqual(['/a/b', '/a/b/1', '/a/b/2', '/a/bc/1']);
        expect(await store.count('/a/')).toBe(5);
        expect(await store.count('')).toBe(5);
      });

      it('orders keys by byte order', async () => {
        const keys = ['/o/b', '/o/B', '/o/a/z', '/o/a', '/o/é', '/o/~', '/o/a0', '/o/a-', '/o/\u{1F600}', '/o/\uFFFD'];
        for (const k of keys) await put(k, 0);
        const l = await store.list('/o/');
        expect(l.items.map((i) => i.key)).toEqual(bytewiseSorted(keys));
        expect((await store.list('/o/a')).items.map((i) => i.key)).toEqual(['/o/a', '/o/a-', '/o/a/z', '/o/a0']);
      });

      it('pages with limit, startAfter and more', async () => {
        const keys = ['/p/1', '/p/2', '/p/3', '/p/4', '/p/5'];
        for (const k of keys) await put(k, 0);
        await put('/q/outside', 0);
        const p1 = await store.list('/p/', { limit: 2 });
        expect(p1.items.map((i) => i.key)).toEqual(['/p/1', '/p/2']);
        expect(p1.more).toBe(true);
        const p2 = await store.list('/p/', { limit: 2, startAfter: '/p/2', revision: p1.revision });
        expect(p2.items.map((i) => i.key)).toEqual(['/p/3', '/p/4']);
        expect(p2.more).toBe(true);
        const p3 = await store.list('/p/', { limit: 2, startAfter: '/p/4', revision: p1.revision });
        expect(p3.items.map((i) => i.key)).toEqual(['/p/5']);
        expect(p3.more).toBe(false);
        expect((await store.list('/p/', { limit: 5 })).more).toBe(false);
        expect((await store.list('/p/', { limit: 4 })).more).toBe(true);
        expect((await store.list('/p/', { limit: 0 })).items).toHaveLength(5);
        // startAfter between keys or before the prefix.
        expect((await store.list('/p/', { startAfter: '/p/25' })).items.map((i) => i.key)).toEqual(['/p/3', '/p/4', '/p/5']);
        expect((await store.list('/p/', { startAfter: '/a' })).items).toHaveLength(5);
        expect((await store.list('/p/', { startAfter: '/p/5' })).items).toEqual([]);
      });

      it('reads a consistent snapshot at an older revision after later writes and deletes', async () => {
        const ra = await put('/s/a', 1);
        const rb = await put('/s/b', 1);
        await put('/s/c', 1);
        const rb2 = await put('/s/b', 2);
        const snapshot = await store.currentRevision();
        const before = await store.list<Val>('/s/');

        await put('/s/a', 2);
        await del('/s/b');
        await put('/s/d', 1);
        await del('/s/c');
        await put('/s/c', 5); // re-created: a new life after the snapshot

        const at = await store.list<Val>('/s/', { revision: snapshot });
        expect(at).toEqual(before);
        expect(at.revision).toBe(snapshot);
        expect(at.items.map((i) => [i.key, i.value.n, i.createRevision, i.modRevision])).toEqual([
          ['/s/a', 1, ra, ra],
          ['/s/b', 2, rb, rb2],
          ['/s/c', 1, snapshot - 1, snapshot - 1],
        ]);
        const page = await store.list<Val>('/s/', { revision: snapshot, limit: 1, startAfter: '/s/a' });
        expect(page.items.map((i) => i.key)).toEqual(['/s/b']);
        expect(page.more).toBe(true);
        expect((await store.list('/s/', { revision: base })).items).toEqual([]);

        const latest = await store.list<Val>('/s/');
        expect(latest.items.map((i) => [i.key, i.value.n])).toEqual([
          ['/s/a', 2],
          ['/s/c', 5],
          ['/s/d', 1],
        ]);
        expect(latest.revision).toBe(await store.currentRevision());
      });

      it('rejects a revision newer than the current one', async () => {
        await put('/t/a', 1);
        await expect(store.list('/t/', { revision: (await store.currentRevision()) + 1 })).rejects.toBeInstanceOf(StoreError);
      });
    });

    describe('compaction', () => {
      /** A history with overwrites, deletes and re-creations around the compaction point. */
      async function history(): Promise<number> {
        await put('/h/a', 1);
        await put('/h/b', 1);
        await put('/h/a', 2);
        await put('/h/c', 1);
        await del('/h/b');
        await put('/h/a', 3);
        const mid = await store.currentRevision();
        await put('/h/c', 2);
        await del('/h/a');
        await put('/h/b', 9);
        await put('/h/d', 1);
        return mid;
      }

      it('makes lists and watches below the compacted revision Gone, keeps everything at or above it', async () => {
        const mid = await history();
        const snapshot = await store.list('/h/', { revision: mid });
        const replay = new Recorder(store, '/h/', { afterRevision: mid });
        await flush(store, replay);
        replay.watch.stop();
        const latest = await store.list('/h/');

        await store.compact(mid);
        expect(await store.compactedRevision()).toBe(mid);

        const err = await store.list('/h/', { revision: mid - 1 }).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(GoneError);
        expect(err).toMatchObject({ requestedRevision: mid - 1, compactedRevision: mid });
        expect(() => store.watch('/h/', () => undefined, { afterRevision: mid - 1 })).toThrow(GoneError);

        expect(await store.list('/h/', { revision: mid })).toEqual(snapshot);
        const latestAfter = await store.list('/h/');
        expect(latestAfter.items).toEqual(latest.items);

        const again = new Recorder(store, '/h/', { afterRevision: mid });
        await flush(store, again);
        again.watch.stop();
        expect(again.events).toEqual(replay.events);
      });

      it('is idempotent, ignores older revisions and refuses future ones', async () => {
        const mid = await history();
        await store.compact(mid);
        await store.compact(mid);
        await store.compact(mid - 2);
        expect(await store.compactedRevision()).toBe(mid);
        const cur = await store.currentRevision();
        await expect(store.compact(cur + 1)).rejects.toBeInstanceOf(StoreError);
        await store.compact(cur);
        expect(await store.compactedRevision()).toBe(cur);
        expect((await store.list<Val>('/h/')).items.map((i) => [i.key, i.value.n])).toEqual([
          ['/h/b', 9],
          ['/h/c', 2],
          ['/h/d', 1],
        ]);
        expect(await store.list('/h/', { revision: cur })).toEqual(await store.list('/h/'));
      });
    });

    describe('model check', () => {
      /** Deterministic PRNG (mulberry32) so a failure reproduces. */
      function rng(seed: number): () => number {
        let a = seed;
        return () => {
          a = (a + 0x6d2b79f5) | 0;
          let t = Math.imul(a ^ (a >>> 15), 1 | a);
          t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
          return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
        };
      }

      it('agrees with a model on snapshots, compaction and watch replay over random txns', async () => {
        const random = rng(42);
        const keys = Array.from({ length: 8 }, (_, i) => `/m/k${i}`);
        const state = new Map<string, KeyValue<Val>>();
        const snapshots = new Map<number, KeyValue<Val>[]>();
        const snap = () => [...state.values()].sort((a, b) => Buffer.compare(Buffer.from(a.key), Buffer.from(b.key)));
        snapshots.set(base, snap());

        for (let i = 0; i < 150; i++) {
          const chosen = keys.filter(() => random() < 0.3).slice(0, 3);
          if (chosen.length === 0) continue;
          const ops = chosen.map((key) => {
            const cur = state.get(key);
            if (!cur) return { type: 'create' as const, key, value: { n: i } };
            return random() < 0.7
              ? { type: 'update' as const, key, value: { n: i }, expectedModRevision: cur.modRevision }
              : { type: 'delete' as const, key };
          });
          const first = ops[0]!;
          if (first.type === 'update' && random() < 0.1) {
            // A stale precondition on the last op must undo the whole txn.
            await expect(store.txn<Val>([...ops.slice(1), { ...first, expectedModRevision: 0 }])).rejects.toBeInstanceOf(ConflictError);
            continue;
          }
          const r = await store.txn<Val>(ops);
          for (const op of ops) {
            const prev = state.get(op.key);
            if (op.type === 'delete') state.delete(op.key);
            else state.set(op.key, { key: op.key, value: op.value, createRevision: prev?.createRevision ?? r.revision, modRevision: r.revision });
          }
          snapshots.set(r.revision, snap());
        }
        const cur = await store.currentRevision();
        expect(snapshots.has(cur)).toBe(true);
        expect(cur - base).toBeGreaterThan(100);

        const check = async (from: number) => {
          for (let r = from; r <= cur; r++) {
            expect({ r, items: (await store.list<Val>('/m/', { revision: r })).items }).toEqual({ r, items: snapshots.get(r) });
          }
        };
        await check(base);

        const mid = base + Math.floor((cur - base) / 2);
        await store.compact(mid);
        await expect(store.list('/m/', { revision: mid - 1 })).rejects.toBeInstanceOf(GoneError);
        await check(mid);

        // Replaying events from mid onto the snapshot at mid reproduces every later snapshot.
        const rec = new Recorder(store, '/m/', { afterRevision: mid });
        await waitFor(() => rec.events.length > 0 && rec.events[rec.events.length - 1]!.kv.modRevision === cur, 'replay to the end');
        rec.watch.stop();
        const replayed = new Map(snapshots.get(mid)!.map((kv) => [kv.key, kv]));
        const events = rec.events;
        for (let i = 0; i < events.length; i++) {
          const e = events[i]!;
          const prev = replayed.get(e.kv.key);
          expect(e.prevKv).toEqual(prev);
          expect(e.created).toBe(e.type === 'put' && !prev);
          if (e.type === 'delete') replayed.delete(e.kv.key);
          else replayed.set(e.kv.key, e.kv);
          const r = e.kv.modRevision;
          if (events[i + 1]?.kv.modRevision !== r) {
            const got = [...replayed.values()].sort((a, b) => Buffer.compare(Buffer.from(a.key), Buffer.from(b.key)));
            expect({ r, items: got }).toEqual({ r, items: snapshots.get(r) });
          }
        }
      });
    });

    describe('watch', () => {
      it('without a revision delivers only new events', async () => {
        await put('/w/old', 1);
        const rec = new Recorder(store, '/w/');
        const r = await put('/w/new', 1);
        await flush(store, rec);
        expect(rec.summary()).toEqual([`put /w/new @${r}`]);
        rec.watch.stop();
      });

      it('from a revision replays history, then live events, each exactly once and in order', async () => {
        const revs: number[] = [];
        for (let i = 0; i < 5; i++) revs.push(await put(`/w/k${i}`, i));
        const rec = new Recorder(store, '/w/', { afterRevision: revs[1] });
        // Writes issued right after watch(), before any replay can have been delivered.
        const live = [put('/w/k0', 100), put('/w/k9', 9), del('/w/k1')];
        await Promise.all(live);
        await flush(store, rec);
        const got = rec.events.map((e) => e.kv.modRevision);
        const cur = await store.currentRevision();
        const expected: number[] = [];
        for (let r = revs[2]!; r < cur; r++) expected.push(r);
        expect(got).toEqual(expected);
        expect(rec.orderViolations).toBe(0);
        expect(rec.events.slice(3).map((e) => `${e.type} ${e.kv.key}`).sort()).toEqual(['delete /w/k1', 'put /w/k0', 'put /w/k9']);
        rec.watch.stop();
      });

      it('from the current revision or a future one delivers only later revisions', async () => {
        await put('/w/a', 1);
        const cur = await store.currentRevision();
        const now = new Recorder(store, '/w/', { afterRevision: cur });
        const future = new Recorder(store, '/w/', { afterRevision: cur + 2 });
        const r1 = await put('/w/a', 2);
        const r2 = await put('/w/a', 3);
        const r3 = await put('/w/a', 4);
        await flush(store, now);
        await flush(store, future);
        expect(now.events.map((e) => e.kv.modRevision)).toEqual([r1, r2, r3]);
        expect(future.events.map((e) => e.kv.modRevision)).toEqual([r3]);
        now.watch.stop();
        future.watch.stop();
      });

      for (const mode of ['live', 'replayed'] as const) {
        it(`describes puts and deletes with created and prevKv (${mode})`, async () => {
          const start = await store.currentRevision();
          const live = mode === 'live' ? new Recorder(store, '/e/') : undefined;
          const c = await store.txn<Val>([{ type: 'create', key: '/e/a', value: { n: 1 } }]);
          const u = await store.txn<Val>([{ type: 'update', key: '/e/a', value: { n: 2 } }]);
          const d = await store.txn<Val>([{ type: 'delete', key: '/e/a' }]);
          const c2 = await store.txn<Val>([{ type: 'create', key: '/e/a', value: { n: 3 } }]);
          const rec = live ?? new Recorder(store, '/e/', { afterRevision: start });
          await flush(store, rec);
          rec.watch.stop();
          const kv = (n: number, create: number, mod: number): KeyValue<Val> => ({ key: '/e/a', value: { n }, createRevision: create, modRevision: mod });
          expect(rec.events).toEqual([
            { type: 'put', kv: kv(1, c.revision, c.revision), created: true },
            { type: 'put', kv: kv(2, c.revision, u.revision), prevKv: kv(1, c.revision, c.revision), created: false },
            { type: 'delete', kv: kv(2, c.revision, d.revision), prevKv: kv(2, c.revision, u.revision), created: false },
            { type: 'put', kv: kv(3, c2.revision, c2.revision), created: true },
          ]);
        });

        it(`delivers the events of one txn in op order at one revision (${mode})`, async () => {
          await put('/e/u', 1);
          await put('/e/d', 1);
          const start = await store.currentRevision();
          const live = mode === 'live' ? new Recorder(store, '/e/') : undefined;
          const r = await store.txn<Val>([
            { type: 'update', key: '/e/u', value: { n: 2 } },
            { type: 'create', key: '/e/c', value: { n: 1 } },
            { type: 'delete', key: '/e/d' },
          ]);
          const rec = live ?? new Recorder(store, '/e/', { afterRevision: start });
          await flush(store, rec);
          rec.watch.stop();
          expect(rec.summary()).toEqual([`put /e/u @${r.revision}`, `put /e/c @${r.revision}`, `delete /e/d @${r.revision}`]);
        });
      }

      it('filters by prefix', async () => {
        const rec = new Recorder(store, '/a/b/');
        await put('/a/bc/x', 1);
        await put('/a/b', 1);
        const r = await put('/a/b/x', 1);
        await put('/z', 1);
        await flush(store, rec);
        expect(rec.summary()).toEqual([`put /a/b/x @${r}`]);
        rec.watch.stop();
      });

      it('stop() ends delivery, is idempotent, and works from inside a handler during replay', async () => {
        for (let i = 0; i < 5; i++) await put(`/w/k${i}`, i);
        const stopped = new Recorder(store, '/w/');
        const control = new Recorder(store, '/w/');
        await put('/w/k0', 10);
        stopped.watch.stop();
        stopped.watch.stop();
        await put('/w/k0', 11);
        await flush(store, control);
        await new Promise((r) => setTimeout(r, 20));
        expect(stopped.events).toHaveLength(1);
        expect(control.events).toHaveLength(2);
        control.watch.stop();

        let self: Recorder | undefined = undefined;
        const first: Recorder = new Recorder(store, '/w/', { afterRevision: base }, () => self?.watch.stop());
        self = first;
        await put('/w/k1', 12);
        await new Promise((r) => setTimeout(r, 20));
        expect(first.all).toHaveLength(1);
      });

      it('rejects a compacted revision with GoneError, synchronously', async () => {
        for (let i = 0; i < 4; i++) await put('/w/a', i);
        const cur = await store.currentRevision();
        await store.compact(cur - 1);
        expect(() => store.watch('/w/', () => undefined, { afterRevision: cur - 2 })).toThrow(GoneError);
        const ok = new Recorder(store, '/w/', { afterRevision: cur - 1 });
        await flush(store, ok);
        expect(ok.events.map((e) => e.kv.modRevision)).toEqual([cur]);
        expect(ok.events[0]!.prevKv?.modRevision).toBe(cur - 1);
        ok.watch.stop();
      });

      it('isolates a throwing handler from other watchers and from the writer', async () => {
        let thrown = 0;
        const bad = store.watch('/w/', () => {
          thrown++;
          throw new Error('handler failure (expected by the test)');
        });
        const good = new Recorder(store, '/w/');
        const r1 = await put('/w/a', 1);
        const r2 = await put('/w/a', 2);
        await flush(store, good);
        await waitFor(() => thrown === 3, 'the throwing handler to see the flush marker');
        expect(good.events.map((e) => e.kv.modRevision)).toEqual([r1, r2]);
        expect(thrown).toBe(3); // two puts and the flush marker: it keeps receiving
        bad.stop();
        good.watch.stop();
      });

      it('delivers to a routed watch every event of its value: entering, within, leaving, deleted', async () => {
        const route: WatchRoute = { index: 'tag', of: (v) => (v as Val | undefined)?.tag, value: 'blue' };
        const routed = new Recorder(store, '/rt/', { route });
        const write = async (key: string, n: number, tag: string) => {
          const cur = await store.get(key);
          return (await store.txn<Val>([{ type: cur ? 'update' : 'create', key, value: { n, tag } }])).revision;
        };
        const want = [await write('/rt/a', 1, 'blue')];
        await write('/rt/b', 2, 'red');
        want.push(await write('/rt/a', 3, 'blue'));
        want.push(await write('/rt/a', 4, 'red')); // leaves: the watcher must hear of it
        await write('/rt/c', 5, 'red');
        want.push(await write('/rt/c', 6, 'blue')); // enters by an update
        want.push(await del('/rt/c'));
        await write('/rt/b', 7, 'red');
        want.push(await write('/rt/end', 8, 'blue'));
        await waitFor(() => routed.all.some((e) => e.kv.key === '/rt/end'), 'the last blue write');
        const blue = (kv: KeyValue<Val> | undefined) => kv?.value.tag === 'blue';
        // A store may offer more than the route (etcd does): what it must not do is miss one.
        expect(routed.events.filter((e) => blue(e.kv) || blue(e.prevKv)).map((e) => e.kv.modRevision)).toEqual(want);
        expect(routed.orderViolations).toBe(0);
        routed.watch.stop();
      });

      it('keeps every watcher in revision order when a handler writes', async () => {
        const reactor = new Recorder(store, '/r/', undefined, (e) => {
          if (e.kv.key === '/r/ping') void store.txn([{ type: 'create', key: '/r/pong', value: { n: 2 } }]);
        });
        const observer = new Recorder(store, '/r/');
        const ping = await put('/r/ping', 1);
        const after = await put('/r/after', 3);
        await waitFor(() => observer.events.some((e) => e.kv.key === '/r/pong'), 'pong');
        await flush(store, observer);
        await flush(store, reactor);
        expect(observer.orderViolations).toBe(0);
        expect(reactor.orderViolations).toBe(0);
        const keys = observer.events.map((e) => e.kv.key);
        expect(new Set(keys).size).toBe(3);
        expect(observer.events[0]!.kv.modRevision).toBe(ping);
        expect(observer.events.find((e) => e.kv.key === '/r/after')!.kv.modRevision).toBe(after);
        expect(reactor.events.map((e) => e.kv.key).sort()).toEqual([...keys].sort());
        observer.watch.stop();
        reactor.watch.stop();
      });
    });
  });
}
