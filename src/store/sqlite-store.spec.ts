import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Compactor } from './compactor';
import { SqliteStore, prefixEnd } from './sqlite-store';
import { describeStoreConformance } from './store.conformance';
import { StoreClosedError } from './store';

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
