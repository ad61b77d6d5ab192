import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Compactor } from './compactor';
import { SqliteStore, prefixEnd } from './sqlite-store';
import { describeStoreConformance } from './store.conformance';
import { KeyExistsError, StoreClosedError } from './store';

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
