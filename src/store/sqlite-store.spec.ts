import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Compactor } from './compactor';
import { SqliteStore, prefixEnd } from './sqlite-store';
import { describeStoreConformance } from './store.conformance';
import { KeyExistsError, StoreClosedError, type WatchEvent, type WatchOptions, type WatchRoute } from './store';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vnetd-store-'));
let fileCounter = 0;
const tempPath = () => path.join(tmp, `store-${++fileCounter}.db`);

afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describeStoreConformance('sqlite :memory:', async () => SqliteStore.open(':memory:'));
describeStoreConformance('sqlite file', async () => SqliteStore.open(tempPath()));

describe('SqliteStore (SQLite-specific)', () => {
  it('keeps data, revision and compaction across reopen', async () => {
    const file = tempPath();
    const s1 = SqliteStore.open(file);
    await s1.txn([{ type: 'create', key: '/k/a', value: { n: 1 } }]);
    await s1.txn([{ type: 'create', key: '/k/b', value: { n: 1 } }]);
    await s1.txn([{ type: 'update', key: '/k/a', value: { n: 2 } }]);
    await s1.txn([{ type: 'delete', key: '/k/b' }]);
    await s1.compact(2);
    await s1.close();

    const s2 = SqliteStore.open(file);
    try {
      expect(await s2.currentRevision()).toBe(4);
      expect(await s2.compactedRevision()).toBe(2);
      expect(await s2.get('/k/a')).toEqual({ key: '/k/a', value: { n: 2 }, createRevision: 1, modRevision: 3 });
      expect(await s2.get('/k/b')).toBeUndefined();
      expect((await s2.list('/k/', { revision: 3 })).items.map((i) => i.key)).toEqual(['/k/a', '/k/b']);
      const r = await s2.txn([{ type: 'create', key: '/k/c', value: {} }]);
      expect(r.revision).toBe(5);
    } finally {
      await s2.close();
    }
  });

  it('holds the file exclusively while open', async () => {
    const file = tempPath();
    const s1 = SqliteStore.open(file);
    try {
      expect(() => SqliteStore.open(file, { busyTimeoutMs: 20 })).toThrow(/locked|busy/i);
    } finally {
      await s1.close();
    }
    const s3 = SqliteStore.open(file);
    await s3.close();
  });

  it('computes exact prefix upper bounds', () => {
    expect(prefixEnd('')).toBeUndefined();
    expect(prefixEnd('/a/')).toBe('/a0');
    expect(prefixEnd('/a\u{10FFFF}')).toBe('/b');
    expect(prefixEnd('/\uD7FF')).toBe('/\uE000');
    expect(prefixEnd('\u{10FFFF}')).toBeUndefined();
  });
});

describe('SqliteStore group commit', () => {
  it('commits concurrent txns together: fewer SQLite commits than txns, each with its own revision, result and error, in order', async () => {
    const s = SqliteStore.open(tempPath());
    try {
      await s.txn([{ type: 'create', key: '/g/taken', value: { n: 0 } }]);
      const base = await s.currentRevision();
      const before = s.commitStats();
      const events: Array<{ key: string; rev: number }> = [];
      const w = s.watch('/g/', (e) => events.push({ key: e.kv.key, rev: e.kv.modRevision }));
      // 20 txns issued in one turn; the 8th fails its precondition and must fail alone.
      type Outcome = { i: number; revision: number; value: unknown; rv: number } | { i: number; err: unknown };
      const calls = Array.from({ length: 20 }, (_, i): Promise<Outcome> =>
        s.txn([{ type: 'create', key: i === 7 ? '/g/taken' : `/g/k${i}`, value: { i } }]).then(
          (r) => ({ i, revision: r.revision, value: r.results[0]!.value, rv: r.results[0]!.modRevision }),
          (err: unknown) => ({ i, err }),
        ),
      );
      const outcomes = await Promise.all(calls);
      const after = s.commitStats();
      expect(after.txns - before.txns).toBe(19);
      expect(after.commits - before.commits).toBeLessThan(19);
      expect(outcomes[7]).toMatchObject({ err: expect.any(KeyExistsError) });
      const ok = outcomes.filter((o): o is { i: number; revision: number; value: unknown; rv: number } => 'revision' in o);
      // Arrival order is revision order, one revision per txn, no gap left by the failed one.
      expect(ok.map((o) => o.revision)).toEqual(Array.from({ length: 19 }, (_, k) => base + 1 + k));
      for (const o of ok) {
        expect(o.rv).toBe(o.revision);
        expect(o.value).toEqual({ i: o.i });
      }
      expect(await s.currentRevision()).toBe(base + 19);
      expect(events.map((e) => e.rev)).toEqual(ok.map((o) => o.revision));
      expect(events.map((e) => e.key)).toEqual(ok.map((o) => `/g/k${o.i}`));
      expect((await s.get('/g/taken'))!.value).toEqual({ n: 0 });
      w.stop();
    } finally {
      await s.close();
    }
  });

  it('acknowledges a txn only once it is on disk, and close() commits what was queued', async () => {
    const file = tempPath();
    const s1 = SqliteStore.open(file);
    const pending = s1.txn([{ type: 'create', key: '/q/a', value: { n: 1 } }]);
    await s1.close();
    expect((await pending).revision).toBe(1);
    await expect(s1.txn([{ type: 'create', key: '/q/b', value: {} }])).rejects.toBeInstanceOf(StoreClosedError);
    const s2 = SqliteStore.open(file);
    try {
      expect(await s2.get('/q/a')).toMatchObject({ value: { n: 1 }, modRevision: 1 });
    } finally {
      await s2.close();
    }
  });
});

describe('SqliteStore point reads of keys just written', () => {
  it('answers them from the committed rows without a query, exactly as a query would', async () => {
    const file = tempPath();
    const s = SqliteStore.open(file);
    try {
      const created = await s.txn([{ type: 'create', key: '/r/a', value: { n: 1 } }]);
      await s.txn([{ type: 'update', key: '/r/a', value: { n: 2 }, expectedModRevision: created.revision }]);
      // A failed precondition and a failed batch member leave the committed row in place.
      await expect(s.txn([{ type: 'update', key: '/r/a', value: { n: 99 }, expectedModRevision: created.revision }])).rejects.toThrow();
      await expect(s.txn([{ type: 'update', key: '/r/a', value: { n: 98 } }, { type: 'create', key: '/r/a2', value: {} }, { type: 'create', key: '/r/a2', value: {} }])).rejects.toThrow();
      const before = s.readStats();
      const got = await s.get<{ n: number }>('/r/a');
      expect(s.readStats()).toEqual({ recent: before.recent + 1, queried: before.queried });
      expect(got).toEqual({ key: '/r/a', value: { n: 2 }, createRevision: created.revision, modRevision: created.revision + 1 });
      // A fresh copy each time: a caller's change does not reach the next reader.
      got!.value.n = 7;
      expect((await s.get<{ n: number }>('/r/a'))!.value.n).toBe(2);
      expect(await s.get('/r/a2')).toBeUndefined();

      await s.txn([{ type: 'delete', key: '/r/a' }]);
      const q = s.readStats().queried;
      expect(await s.get('/r/a')).toBeUndefined();
      expect(s.readStats().queried).toBe(q + 1);
    } finally {
      await s.close();
    }
    // What another process reads from the file is what was answered.
    const again = SqliteStore.open(file);
    try {
      expect(await again.get('/r/a')).toBeUndefined();
      expect(again.readStats().recent).toBe(0);
    } finally {
      await again.close();
    }
  });

  it('sees every txn of a batch in order, the last write of a key winning', async () => {
    const s = SqliteStore.open(':memory:');
    try {
      await s.txn([{ type: 'create', key: '/b/k', value: { v: 0 } }]);
      const writes = [1, 2, 3].map((v) => s.txn([{ type: 'update', key: '/b/k', value: { v } }]));
      const last = (await Promise.all(writes)).at(-1)!;
      expect(await s.get('/b/k')).toMatchObject({ value: { v: 3 }, modRevision: last.revision });
    } finally {
      await s.close();
    }
  });
});

describe('SqliteStore routed watches', () => {
  const route = (value: string): WatchRoute => ({ index: 'tag', of: (v) => (v as { tag?: string } | undefined)?.tag, value });
  const settled = () => new Promise((r) => setTimeout(r, 10));

  it('offers a routed watch only the events of its value (new or previous), in order, even within one txn', async () => {
    const s = SqliteStore.open(':memory:');
    try {
      const seen: Record<'blue' | 'red' | 'all', string[]> = { blue: [], red: [], all: [] };
      const record = (into: string[]) => (e: { type: string; kv: { key: string } }) => into.push(`${e.type} ${e.kv.key}`);
      const blue = s.watch('/t/', record(seen.blue), { route: route('blue') });
      const red = s.watch('/t/', record(seen.red), { route: route('red') });
      const all = s.watch('/t/', record(seen.all));
      await s.txn([
        { type: 'create', key: '/t/a', value: { tag: 'blue' } },
        { type: 'create', key: '/t/b', value: { tag: 'red' } },
        { type: 'create', key: '/t/c', value: { tag: 'blue' } },
        { type: 'create', key: '/u/d', value: { tag: 'blue' } },
        { type: 'create', key: '/t/plain', value: 'no fields' as unknown },
      ]);
      await s.txn([{ type: 'update', key: '/t/b', value: { tag: 'blue' } }]);
      await s.txn([{ type: 'delete', key: '/t/a' }]);
      await settled();
      expect(seen.blue).toEqual(['put /t/a', 'put /t/c', 'put /t/b', 'delete /t/a']);
      expect(seen.red).toEqual(['put /t/b', 'put /t/b']);
      expect(seen.all).toEqual(['put /t/a', 'put /t/b', 'put /t/c', 'put /t/plain', 'put /t/b', 'delete /t/a']);

      // A stopped watch is out of the index; another of the same value still gets its events.
      blue.stop();
      const blue2 = s.watch('/t/', record(seen.blue), { route: route('blue') });
      await s.txn([{ type: 'update', key: '/t/c', value: { tag: 'blue', n: 2 } }]);
      await settled();
      expect(seen.blue.slice(4)).toEqual(['put /t/c']);
      for (const w of [blue2, red, all]) w.stop();
    } finally {
      await s.close();
    }
  });

  it('leaves events under no routed watcher prefix alone: neither routed nor their previous value read', async () => {
    const s = SqliteStore.open(':memory:');
    try {
      const read: string[] = [];
      const w = s.watch('/t/', () => undefined, { route: { index: 'tag', of: (v) => (read.push(JSON.stringify(v)), (v as { tag?: string }).tag), value: 'blue' } });
      await s.txn([{ type: 'create', key: '/u/report', value: { tag: 'blue', n: 1 } }]);
      await s.txn([{ type: 'update', key: '/u/report', value: { tag: 'blue', n: 2 } }]);
      await s.txn([{ type: 'create', key: '/t/a', value: { tag: 'red' } }]);
      await settled();
      expect(read).toEqual([JSON.stringify({ tag: 'red' })]);
      w.stop();
    } finally {
      await s.close();
    }
  });

  it('gives a routed watch opened by a handler mid-batch the rest from history, once', async () => {
    const s = SqliteStore.open(':memory:');
    try {
      const late: string[] = [];
      let opened = false;
      const opener = s.watch('/t/', (e) => {
        if (opened || e.kv.key !== '/t/1') return;
        opened = true;
        s.watch('/t/', (ev) => late.push(`${ev.kv.key}@${ev.kv.modRevision}`), { route: route('blue'), afterRevision: e.kv.modRevision - 1 });
      });
      const first = await s.txn([{ type: 'create', key: '/t/1', value: { tag: 'blue' } }]);
      const second = await s.txn([{ type: 'create', key: '/t/2', value: { tag: 'blue' } }]);
      await settled();
      expect(late).toEqual([`/t/1@${first.revision}`, `/t/2@${second.revision}`]);
      opener.stop();
    } finally {
      await s.close();
    }
  });
});

describe('SqliteStore watch history', () => {
  it('replays from the log the events after a start far back as after a recent one', async () => {
    const kv = SqliteStore.open(':memory:');
    try {
      // 2,500 revisions of another prefix between two writes under /a/, nobody watching (so
      // nothing is kept in memory): a start before the first is far back, one between them recent.
      await kv.txn([{ type: 'create', key: '/a/1', value: { v: 1 } }]);
      const afterFirst = await kv.currentRevision();
      for (let i = 0; i < 2500; i++) await kv.txn([{ type: 'create', key: `/b/${i}`, value: { i } }]);
      const mid = await kv.currentRevision();
      await kv.txn([{ type: 'update', key: '/a/1', value: { v: 2 } }]);
      await kv.txn([{ type: 'create', key: '/a/2', value: { v: 1 } }, { type: 'delete', key: '/a/1' }]);
      const replay = (after: number) => replayed(kv, '/a/', { afterRevision: after }, (ev) => `${ev.type} ${ev.kv.key} ${ev.kv.modRevision} ${JSON.stringify(ev.prevKv?.value ?? null)}`);
      const tail = [`put /a/1 ${mid + 1} {"v":1}`, `put /a/2 ${mid + 2} null`, `delete /a/1 ${mid + 2} {"v":2}`];
      expect(await replay(mid)).toEqual(tail);
      expect(await replay(afterFirst - 1)).toEqual([`put /a/1 ${afterFirst} null`, ...tail]);
    } finally {
      await kv.close();
    }
  });
});

describe('SqliteStore recent batches', () => {
  it('replays a watch that starts a little behind from memory, prefix and route applied as the hub applies them, and from the log otherwise', async () => {
    const kv = SqliteStore.open(':memory:');
    try {
      const keep = kv.watch('/', () => undefined); // batches are kept while anyone watches
      const start = await kv.currentRevision();
      await kv.txn([{ type: 'create', key: '/p/1', value: { net: 'a' } }, { type: 'create', key: '/q/1', value: { net: 'a' } }]);
      await kv.txn([{ type: 'create', key: '/p/2', value: { net: 'b' } }]);
      await kv.txn([{ type: 'update', key: '/p/1', value: { net: 'b' } }]);
      const route = { index: 'net', of: (v: unknown) => (v as { net?: string }).net, value: 'a' };
      const replay = (after: number, withRoute: boolean) => replayed(kv, '/p/', { afterRevision: after, ...(withRoute ? { route } : {}) }, (ev) => `${ev.type} ${ev.kv.key} ${ev.kv.modRevision}`);
      const queries = countQueries(kv);
      expect(await replay(start, false)).toEqual([`put /p/1 ${start + 1}`, `put /p/2 ${start + 2}`, `put /p/1 ${start + 3}`]);
      // Routed to net=a: /p/1 entering it and leaving it (its previous value was a), not /p/2.
      expect(await replay(start, true)).toEqual([`put /p/1 ${start + 1}`, `put /p/1 ${start + 3}`]);
      expect(queries()).toBe(0);
      keep.stop();
      // Written with nobody watching: not kept, so a replay over it reads the log.
      await kv.txn([{ type: 'delete', key: '/p/2' }]);
      expect(await replay(start + 2, false)).toEqual([`put /p/1 ${start + 3}`, `delete /p/2 ${start + 4}`]);
      expect(queries()).toBeGreaterThan(0);
    } finally {
      await kv.close();
    }
  });
});

/** What a watch of prefix replays (its history, delivered on the next turn), each event as `line` renders it. */
async function replayed(kv: SqliteStore, prefix: string, options: WatchOptions, line: (ev: WatchEvent) => string): Promise<string[]> {
  const seen: string[] = [];
  const w = kv.watch(prefix, (ev) => seen.push(line(ev)), options);
  await new Promise((r) => setImmediate(r));
  w.stop();
  return seen;
}

/** Counts the SQL statements the store prepares or runs from here on (history reads prepare theirs). */
function countQueries(kv: SqliteStore): () => number {
  let n = 0;
  const store = kv as unknown as { prepareCached: (sql: string) => unknown };
  const prepare = store.prepareCached.bind(kv);
  store.prepareCached = (sql: string) => (n++, prepare(sql));
  return () => n;
}

describe('Compactor', () => {
  async function storeAt(revision: number): Promise<SqliteStore> {
    const s = SqliteStore.open(':memory:');
    await writes(s, revision);
    return s;
  }
  async function writes(s: SqliteStore, n: number): Promise<void> {
    for (let i = 0; i < n; i++) {
      const key = `/c/k${i % 3}`;
      const cur = await s.get(key);
      await s.txn([cur ? { type: 'update', key, value: { i } } : { type: 'create', key, value: { i } }]);
    }
  }

  it('compacts only history that is both N revisions behind and older than retainMs', async () => {
    const s = await storeAt(20);
    let now = 0;
    const c = new Compactor(s, { retainRevisions: 5, retainMs: 1000, now: () => now });
    try {
      expect(await c.runOnce()).toBeUndefined(); // nothing is old enough yet
      await writes(s, 10); // revision 30
      now = 1500;
      expect(await c.runOnce()).toBe(20); // the revision current at t=0 is now old enough
      expect(await s.compactedRevision()).toBe(20);
      now = 1600;
      expect(await c.runOnce()).toBeUndefined();
      now = 2600;
      expect(await c.runOnce()).toBe(25); // t=1500's revision 30 is old, but keep the last 5
      expect((await s.list('/c/', { revision: 25 })).items).toHaveLength(3);
    } finally {
      await c.stop();
      await s.close();
    }
  });

  it('runs on its timer until stopped, and survives a failing store', async () => {
    const s = await storeAt(10);
    const c = new Compactor(s, { retainRevisions: 2, retainMs: 0, intervalMs: 5 });
    c.start();
    c.start(); // idempotent
    const deadline = Date.now() + 5000;
    while ((await s.compactedRevision()) !== 8 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    await c.stop();
    expect(await s.compactedRevision()).toBe(8);
    await s.close();
    // Closed store: the tick logs and resolves instead of rejecting.
    await expect(s.currentRevision()).rejects.toBeInstanceOf(StoreClosedError);
    expect(await new Compactor(s, { retainMs: 0 }).runOnce()).toBeUndefined();
  });
});

describe('SqliteStore durability off the event loop', () => {
  /** An fsync that waits until the test releases it (or fails it), counting calls. */
  function heldFsync() {
    const pending: Array<(err: NodeJS.ErrnoException | null) => void> = [];
    let calls = 0;
    return {
      fsync: (fd: number, cb: (err: NodeJS.ErrnoException | null) => void) => {
        calls++;
        expect(typeof fd).toBe('number');
        pending.push(cb);
      },
      get calls() {
        return calls;
      },
      release(err: NodeJS.ErrnoException | null = null) {
        pending.shift()!(err);
      },
      /** Closes the store, releasing every fsync it still waits for. */
      async close(store: SqliteStore) {
        const closing = store.close();
        while (pending.length > 0) pending.shift()!(null);
        await closing;
      },
    };
  }
  const tick = () => new Promise((r) => setImmediate(r));

  it('acknowledges and publishes a batch only after the WAL fsync returns, without blocking the event loop', async () => {
    const disk = heldFsync();
    const s = SqliteStore.open(tempPath(), { fsync: disk.fsync });
    try {
      const events: number[] = [];
      s.watch('/d/', (e) => events.push(e.kv.modRevision));
      let acked = false;
      const first = s.txn([{ type: 'create', key: '/d/a', value: { n: 1 } }]).then((r) => ((acked = true), r));
      // The event loop turns while the fsync is out: timers run, reads see the commit.
      for (let i = 0; i < 5; i++) await tick();
      expect(disk.calls).toBe(1);
      expect(acked).toBe(false);
      expect(events).toEqual([]);
      expect((await s.get('/d/a'))?.modRevision).toBe(1);
      // A batch committed during that fsync waits for a second one, started after it.
      const second = s.txn([{ type: 'create', key: '/d/b', value: { n: 2 } }]);
      for (let i = 0; i < 3; i++) await tick();
      expect(disk.calls).toBe(1);
      disk.release();
      expect((await first).revision).toBe(1);
      expect(events).toEqual([1]);
      await tick();
      expect(disk.calls).toBe(2);
      disk.release();
      expect((await second).revision).toBe(2);
      expect(events).toEqual([1, 2]);
    } finally {
      await disk.close(s);
    }
  });

  it('rejects the txns of a batch whose fsync failed, with a clear error, and still tells watchers what readers can see', async () => {
    const disk = heldFsync();
    const s = SqliteStore.open(tempPath(), { fsync: disk.fsync });
    try {
      const events: string[] = [];
      s.watch('/e/', (e) => events.push(e.kv.key));
      const failed = s.txn([{ type: 'create', key: '/e/a', value: {} }]);
      await tick();
      disk.release(Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' }));
      await expect(failed).rejects.toThrow(/revision 1 was committed but the disk did not confirm it \(fsync: EIO/);
      expect(events).toEqual(['/e/a']);
      // The next batch has its own fsync and succeeds.
      const ok = s.txn([{ type: 'create', key: '/e/b', value: {} }]);
      await tick();
      disk.release();
      expect((await ok).revision).toBe(2);
    } finally {
      await disk.close(s);
    }
  });

  it('close() lets committed batches settle before the file closes', async () => {
    const disk = heldFsync();
    const file = tempPath();
    const s = SqliteStore.open(file, { fsync: disk.fsync });
    const write = s.txn([{ type: 'create', key: '/f/a', value: { n: 1 } }]);
    const closing = s.close();
    let closed = false;
    void closing.then(() => (closed = true));
    await tick();
    expect(closed).toBe(false);
    disk.release();
    await closing;
    expect((await write).revision).toBe(1);
    const again = SqliteStore.open(file);
    try {
      expect((await again.get('/f/a'))?.value).toEqual({ n: 1 });
    } finally {
      await again.close();
    }
  });

  it('an in-memory store has no WAL file and settles at once', async () => {
    const disk = heldFsync();
    const s = SqliteStore.open(':memory:', { fsync: disk.fsync });
    try {
      expect((await s.txn([{ type: 'create', key: '/m/a', value: {} }])).revision).toBe(1);
      expect(disk.calls).toBe(0);
    } finally {
      await s.close();
    }
  });
});
