/**
 * EtcdStore against a real, private etcd: the same conformance suite as SQLite (each test on
 * its own key prefix of one shared etcd), plus what only a distributed store shows: two
 * stores ("controllers") on one etcd, and compaction done by etcd itself.
 */
import fs from 'node:fs';
import pino from 'pino';
import { etcdClientOptions, openStore, tlsMismatchHint } from '../../src/app/open-store';
import type { StoreConfig } from '../../src/app/config';
import { EtcdStore } from '../../src/store/etcd-store';
import { storeFailure, storeMessage } from '../../src/store/unavailable';
import { ensureTlsMaterial } from '../../src/pki/certificates';
import { scratchDir } from '../support/scratch';
import { describeStoreConformance } from '../../src/store/store.conformance';
import { GoneError, type Store, type StoreError, type WatchEvent } from '../../src/store/store';
import { etcdAvailability, startEtcd, type EtcdInstance } from '../harness/etcd';

const unavailable = etcdAvailability();
if (unavailable) {
  // Printed, not silent: CI must not mistake a skip for a pass.
  console.warn(`SKIPPED etcd store tests: ${unavailable}`);
}
const describeEtcd = unavailable ? describe.skip : describe;

async function waitFor(cond: () => boolean | Promise<boolean>, what: string, timeoutMs = 10000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A private etcd for the enclosing describe block, started before its tests and stopped after. */
function ownEtcd(options?: Parameters<typeof startEtcd>[0]): () => EtcdInstance {
  let etcd: EtcdInstance | undefined;
  beforeAll(async () => {
    etcd = await startEtcd(options);
  });
  afterAll(async () => {
    await etcd?.stop();
  });
  return () => etcd!;
}

describeEtcd('EtcdStore', () => {
  const etcd = ownEtcd();
  let prefixes = 0;
  const open = (keyPrefix = `/vnetd-test/${++prefixes}`) => EtcdStore.open({ endpoints: [etcd().endpoint], keyPrefix });

  describe('on a fresh etcd', () => {
    it('reports revision 0 and nothing compacted', async () => {
      const s = await open('');
      try {
        expect(await s.currentRevision()).toBe(0);
        expect(await s.compactedRevision()).toBe(0);
        expect((await s.list('/')).revision).toBe(0);
      } finally {
        await s.close();
      }
    });
  });

  describeStoreConformance('etcd', () => open());

  it('routed watches of one prefix share one etcd watch; each gets its own events, from its own revision', async () => {
    const s = await open();
    try {
      const route = (value: string) => ({ index: 'net', of: (v: unknown) => (v as { net?: string } | undefined)?.net, value });
      const seen = new Map<string, string[]>();
      const record = (name: string) => (e: WatchEvent) => seen.set(name, [...(seen.get(name) ?? []), `${e.type} ${e.kv.key}@${e.kv.modRevision}`]);
      await s.txn([{ type: 'create', key: '/seed', value: {} }]);
      const start = await s.currentRevision();
      const watches = Array.from({ length: 40 }, (_, i) => s.watch('/p/', record(`n${i}`), { afterRevision: start, route: route(`n${i}`) }));
      expect(s.watchCounts()).toEqual({ etcd: 1, shared: 1 });

      const a = await s.txn([{ type: 'create', key: '/p/a', value: { net: 'n7' } }]);
      const b = await s.txn([{ type: 'create', key: '/p/b', value: { net: 'n8' } }, { type: 'create', key: '/p/c', value: { net: 'n7' } }]);
      const moved = await s.txn([{ type: 'update', key: '/p/a', value: { net: 'n9' } }]);
      await waitFor(() => (seen.get('n9') ?? []).length === 1, 'the move to reach n9');
      expect(seen.get('n7')).toEqual([`put /p/a@${a.revision}`, `put /p/c@${b.revision}`, `put /p/a@${moved.revision}`]);
      expect(seen.get('n8')).toEqual([`put /p/b@${b.revision}`]);
      expect(seen.get('n9')).toEqual([`put /p/a@${moved.revision}`]);
      expect(seen.has('n0')).toBe(false);

      // A watch starting behind the channel replays from its memory, exactly from its revision.
      s.watch('/p/', record('late'), { afterRevision: a.revision, route: route('n7') });
      // One starting before the channel began gets an etcd watch of its own until it has
      // caught up, then joins the shared one: the same events, once each.
      s.watch('/p/', record('older'), { afterRevision: start - 1, route: route('n7') });
      expect(s.watchCounts()).toEqual({ etcd: 2, shared: 1 });
      await waitFor(() => (seen.get('late') ?? []).length >= 2 && (seen.get('older') ?? []).length >= 3, 'the late watches');
      await waitFor(() => s.watchCounts().etcd === 1, 'the older watch to join the shared one');
      const after = await s.txn([{ type: 'create', key: '/p/d', value: { net: 'n7' } }]);
      await waitFor(() => (seen.get('older') ?? []).some((x) => x.includes('/p/d')), 'an event after the join');
      const of7 = (name: string) => (seen.get(name) ?? []).filter((x) => /\/p\/[acd]@/.test(x));
      expect(of7('late')).toEqual([`put /p/c@${b.revision}`, `put /p/a@${moved.revision}`, `put /p/d@${after.revision}`]);
      expect(of7('older')).toEqual([...(seen.get('n7') ?? [])]);
      expect(of7('older').at(-1)).toBe(`put /p/d@${after.revision}`);

      for (const w of watches) w.stop();
      expect(s.watchCounts().shared).toBe(1); // 'late' still holds the channel
    } finally {
      await s.close();
    }
    expect(s.watchCounts()).toEqual({ etcd: 0, shared: 0 });
  });

  it('a write waits for its own watchers only: a check of a watched key (a create guarded by its namespace) does not wait for an event that never comes (QA-117: 2 s per create)', async () => {
    const s = await open();
    try {
      await s.txn([{ type: 'create', key: '/ns/a', value: {} }]);
      const nsEvents: WatchEvent[] = [];
      const objEvents: WatchEvent[] = [];
      const w1 = s.watch('/ns/', (e) => void nsEvents.push(e));
      const w2 = s.watch('/obj/', (e) => void objEvents.push(e));
      const times: number[] = [];
      for (let i = 0; i < 3; i++) {
        const t0 = performance.now();
        const nsRev = (await s.get('/ns/a'))!.modRevision;
        const r = await s.txn([{ type: 'check', key: '/ns/a', expectedModRevision: nsRev }, { type: 'create', key: `/obj/x${i}`, value: {} }]);
        times.push(performance.now() - t0);
        // Its own watcher has it when the write resolves, as before.
        expect(objEvents.at(-1)?.kv.modRevision).toBe(r.revision);
      }
      expect(nsEvents).toEqual([]);
      expect(Math.max(...times)).toBeLessThan(1000);
      w1.stop();
      w2.stop();
    } finally {
      await s.close();
    }
  });

  it('two stores on one etcd see each other through watch, with shared revisions', async () => {
    const prefix = `/vnetd-test/shared-${++prefixes}`;
    const [a, b] = [await open(prefix), await open(prefix)];
    try {
      const seenByA: WatchEvent[] = [];
      const seenByB: WatchEvent[] = [];
      const start = await a.currentRevision();
      const wa = a.watch('/r/', (e) => seenByA.push(e), { afterRevision: start });
      const wb = b.watch('/r/', (e) => seenByB.push(e), { afterRevision: start });
      const fromA = await a.txn([{ type: 'create', key: '/r/x', value: { by: 'a' } }]);
      const fromB = await b.txn([{ type: 'update', key: '/r/x', value: { by: 'b' }, expectedModRevision: fromA.revision }]);
      // A's stale precondition now loses against B's write: optimistic concurrency across replicas.
      await expect(a.txn([{ type: 'update', key: '/r/x', value: { by: 'a2' }, expectedModRevision: fromA.revision }])).rejects.toMatchObject({
        name: 'ConflictError',
        actualModRevision: fromB.revision,
      });
      await waitFor(() => seenByA.length === 2 && seenByB.length === 2, 'both watchers to see both writes');
      const summary = (es: WatchEvent[]) => es.map((e) => [e.kv.modRevision, e.kv.value]);
      expect(summary(seenByA)).toEqual([
        [fromA.revision, { by: 'a' }],
        [fromB.revision, { by: 'b' }],
      ]);
      expect(summary(seenByB)).toEqual(summary(seenByA));
      expect(await b.get('/r/x')).toEqual(await a.get('/r/x'));
      wa.stop();
      wb.stop();
    } finally {
      await a.close();
      await b.close();
    }
  });
});

describeEtcd('EtcdStore with etcd auto-compaction', () => {
  // etcd 3.4 periodic mode with a retention under an hour compacts every retention period.
  const etcd = ownEtcd({ extraArgs: ['--auto-compaction-mode=periodic', '--auto-compaction-retention=1s'] });

  it('surfaces compaction by etcd itself as GoneError (list, watch(), and a watch opened by a store that had not learned of it)', async () => {
    const s = await EtcdStore.open({ endpoints: [etcd().endpoint], keyPrefix: '/auto' });
    // Opened now, before any compaction: it learns of it only through its failing watch.
    const other = await EtcdStore.open({ endpoints: [etcd().endpoint], keyPrefix: '/auto' });
    const third = await EtcdStore.open({ endpoints: [etcd().endpoint], keyPrefix: '/auto' });
    try {
      const first = await s.txn([{ type: 'create', key: '/k/a', value: { n: 0 } }]);
      // Keep writing so the compactor has revisions to drop; stop once it dropped `first`.
      let n = 0;
      await waitFor(
        async () => {
          await s.txn([{ type: 'update', key: '/k/a', value: { n: ++n } }]);
          return (await s.compactedRevision()) > first.revision;
        },
        'etcd to compact on its own',
        20000,
      );
      const compacted = await s.compactedRevision();
      const stale = first.revision - 1;
      const err = await s.list('/k/', { revision: stale }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(GoneError);
      expect(err).toMatchObject({ requestedRevision: stale });
      expect((err as GoneError).compactedRevision).toBeGreaterThanOrEqual(compacted);
      // Known to this store: watch() throws synchronously.
      expect(() => s.watch('/k/', () => undefined, { afterRevision: stale })).toThrow(GoneError);

      // Not yet known to the other store: watch() returns, then fails through onError.
      const failures: StoreError[] = [];
      const events: WatchEvent[] = [];
      other.watch('/k/', (e) => events.push(e), { afterRevision: stale, onError: (e) => failures.push(e) });
      await waitFor(() => failures.length === 1, 'the watch to fail');
      expect(failures[0]).toBeInstanceOf(GoneError);
      expect(failures[0]).toMatchObject({ requestedRevision: stale });
      expect(events).toEqual([]);
      // ...and from then on it knows synchronously too.
      expect(() => other.watch('/k/', () => undefined, { afterRevision: stale })).toThrow(GoneError);

      // Routed watches sharing one etcd watch: its end reaches each of them, as Gone from its own revision.
      const routedFailures: StoreError[] = [];
      const route = (value: string) => ({ index: 'n', of: (v: unknown) => String((v as { n?: number } | undefined)?.n), value });
      third.watch('/k/', () => undefined, { afterRevision: stale, route: route('1'), onError: (e) => routedFailures.push(e) });
      third.watch('/k/', () => undefined, { afterRevision: stale + 1, route: route('2'), onError: (e) => routedFailures.push(e) });
      expect(third.watchCounts()).toEqual({ etcd: 1, shared: 1 });
      await waitFor(() => routedFailures.length === 2, 'both routed watches to fail');
      expect(routedFailures.map((e) => [e.constructor.name, (e as GoneError).requestedRevision])).toEqual([
        ['GoneError', stale],
        ['GoneError', stale + 1],
      ]);
      expect(third.watchCounts()).toEqual({ etcd: 0, shared: 0 });
    } finally {
      await third.close();
      await other.close();
      await s.close();
    }
  });
});


describeEtcd('EtcdStore across an etcd restart', () => {
  const etcd = ownEtcd();

  it('resumes a watch exactly once and in order after etcd restarts', async () => {
    const s = await EtcdStore.open({ endpoints: [etcd().endpoint], keyPrefix: '/restart' });
    try {
      const base = await s.currentRevision();
      // History long enough that etcd replays it in several responses (1,000 revisions
      // each), and a slow handler, so the restart lands mid-replay: the etcd3 client alone
      // would resume after the header revision and skip the rest of the replay.
      const HISTORY = 2500;
      let next = 0;
      const writer = async () => {
        for (let i = next++; i < HISTORY; i = next++) await s.txn([{ type: 'create', key: `/k/${i}`, value: { i } }]);
      };
      await Promise.all(Array.from({ length: 32 }, writer));
      const seen: number[] = [];
      const failures: StoreError[] = [];
      const w = s.watch(
        '/k/',
        (e) => {
          seen.push(e.kv.modRevision);
          const until = Date.now() + 1;
          while (Date.now() < until); // a slow consumer
        },
        { afterRevision: base, onError: (e) => failures.push(e) },
      );
      await waitFor(() => seen.length > 0, 'the replay to start');
      await etcd().restart();
      const seenAtRestart = seen.length;
      // The client reconnects on its own; the first write may need its retries.
      let last = 0;
      for (let i = 0; i < 10; i++) last = (await s.txn([{ type: 'create', key: `/after/${i}`, value: { i } }])).revision;
      await s.txn([{ type: 'create', key: '/k/last', value: { n: 0 } }]);
      last += 1;
      await waitFor(() => seen[seen.length - 1] === last, 'the watch to catch up after the restart', 30000);
      const expected: number[] = [];
      for (let r = base + 1; r <= base + HISTORY; r++) expected.push(r);
      expected.push(last);
      console.log(`restart after ${seenAtRestart} of ${HISTORY} replayed events`);
      expect(seen).toEqual(expected);
      expect(failures).toEqual([]);
      w.stop();
    } finally {
      await s.close();
    }
  });
});

describeEtcd('EtcdStore on a single etcd that was down', () => {
  const etcd = ownEtcd();

  it('answers as soon as etcd is back: failed calls during the outage open no breaker (there is no other host)', async () => {
    const s = await EtcdStore.open({ endpoints: [etcd().endpoint], keyPrefix: '/down' });
    try {
      await s.txn([{ type: 'create', key: '/k/before', value: { n: 0 } }]);
      await etcd().crash();
      // Silent for over a second: a breaker would take the failures below for a host gone.
      await new Promise((r) => setTimeout(r, 1_100));
      const refusals: (string | undefined)[] = [];
      for (let i = 0; i < 5; i++) refusals.push(await s.get('/k/before').then(() => 'answered', (e: unknown) => storeFailure(e)));
      expect(refusals).toEqual(Array(5).fill('unavailable'));
      await etcd().restart();
      const t0 = performance.now();
      // The first call after it is back: before, the breaker opened by the calls above refused it (and every other for 5 s).
      await s.txn([{ type: 'create', key: '/k/after', value: { n: 1 } }]);
      console.log(`etcd back: first write done ${(performance.now() - t0).toFixed(0)} ms after it answered /health`);
      expect((await s.get('/k/after'))?.value).toEqual({ n: 1 });
    } finally {
      await s.close();
    }
  });
});

describeEtcd('EtcdStore when etcd is restored from a backup', () => {
  const etcd = ownEtcd();

  it('ends every watch with Gone (its owner lists again) once etcd\'s revision went back, and follows the restored history', async () => {
    const s = await EtcdStore.open({ endpoints: [etcd().endpoint], keyPrefix: '/restore', restoreCheckMs: 200 });
    const backup = `${etcd().dataDir}.backup`;
    try {
      await s.txn([{ type: 'create', key: '/k/a', value: { n: 1 } }]);
      // The backup: etcd stopped, its data copied (as a snapshot restore brings it back).
      await etcd().crash();
      fs.cpSync(etcd().dataDir, backup, { recursive: true });
      await etcd().restart();
      for (let i = 0; i < 20; i++) await s.txn([{ type: 'create', key: `/k/later-${i}`, value: { i } }]);
      const before = await s.currentRevision();
      const seen: string[] = [];
      const failures: StoreError[] = [];
      const route = { index: 'n', of: (v: unknown) => (v as { n?: number } | undefined)?.n?.toString(), value: '1' };
      s.watch('/k/', (e) => seen.push(e.kv.key), { afterRevision: before, onError: (e) => failures.push(e) });
      s.watch('/k/', () => undefined, { afterRevision: before, route, onError: (e) => failures.push(e) });
      // Restored: etcd's revision is back where the backup was taken.
      await etcd().crash();
      fs.rmSync(etcd().dataDir, { recursive: true, force: true });
      fs.cpSync(backup, etcd().dataDir, { recursive: true });
      await etcd().restart();
      const t0 = performance.now();
      // Nobody reads or writes: the store's own check learns it.
      await waitFor(() => failures.length === 2, 'both watches to end', 15_000);
      console.log(`etcd restored (revision ${before} -> ${await s.currentRevision()}): watches ended ${(performance.now() - t0).toFixed(0)} ms after etcd answered again`);
      for (const f of failures) {
        expect(f).toBeInstanceOf(GoneError);
        expect(f.message).toMatch(/^etcd's revision went back from \d+ to \d+ \(restored from a backup\)/);
        // What a watch's 410 says of it: not "too old" (QA-146 F2: "too old resource version: 1081 (1057)").
        expect((f as GoneError).statusMessage(before)).toMatch(new RegExp(`^resource version ${before} is not in the store's history: its revision went back from \\d+ to \\d+ \\(etcd restored from a backup\\); list again$`));
      }
      // A list sees the restored history, and a watch from it sees what is written next.
      const listed = await s.list('/k/');
      expect(listed.items.map((kv) => kv.key)).toEqual(['/k/a']);
      expect(listed.revision).toBeLessThan(before);
      s.watch('/k/', (e) => seen.push(e.kv.key), { afterRevision: listed.revision });
      await s.txn([{ type: 'create', key: '/k/b', value: { n: 2 } }]);
      await waitFor(() => seen.includes('/k/b'), 'the write after the restore');
      expect(seen).toEqual(['/k/b']);
    } finally {
      await s.close();
      fs.rmSync(backup, { recursive: true, force: true });
    }
  }, 60_000);
});

describeEtcd('EtcdStore on an etcd whose database is full', () => {
  const etcd = ownEtcd({ extraArgs: ['--quota-backend-bytes=2097152'] });

  it('refuses writes as "full" (not retried, not "unavailable"), and reads go on however many writes it refused', async () => {
    const s = await EtcdStore.open({ endpoints: [etcd().endpoint], keyPrefix: '/full' });
    try {
      await s.txn([{ type: 'create', key: '/k/small', value: { n: 1 } }]);
      const big = 'x'.repeat(100_000);
      let refused: unknown;
      for (let i = 0; i < 200 && refused === undefined; i++) {
        await s.txn([{ type: 'create', key: `/big/${i}`, value: { big, i } }]).catch((err: unknown) => (refused = err));
      }
      expect(storeFailure(refused)).toBe('full');
      // More refused writes than the per-host breaker's three: it must not open for them.
      for (let i = 0; i < 5; i++) expect(storeFailure(await s.txn([{ type: 'create', key: `/k/more-${i}`, value: {} }]).then(() => undefined, (err: unknown) => err))).toBe('full');
      expect((await s.get<{ n: number }>('/k/small'))?.value).toEqual({ n: 1 });
      expect((await s.list('/k/')).items.map((kv) => kv.key)).toContain('/k/small');
      expect(await s.count('/k/')).toBeGreaterThanOrEqual(1);
    } finally {
      await s.close();
    }
  }, 60_000);
});

describeEtcd('a controller started before its etcd', () => {
  let etcd: EtcdInstance;
  afterAll(async () => {
    await etcd?.stop();
  });

  it('waits for etcd to answer instead of exiting (as an agent waits for its controller)', async () => {
    etcd = await startEtcd();
    await etcd.crash();
    const logs: string[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => void logs.push(line) });
    let opened: Store | undefined;
    const opening = openStore({ kind: 'etcd', endpoints: [etcd.endpoint] } satisfies StoreConfig, '/nonexistent', logger).then((s) => (opened = s));
    await new Promise((r) => setTimeout(r, 1500));
    expect(opened).toBeUndefined();
    expect(logs.join('')).toContain('store.etcd_unreachable');
    expect(logs.join('')).not.toContain('Resolution note');
    await etcd.restart();
    await opening;
    expect(logs.join('')).toContain('store.etcd_reachable');
    await opened!.close();
  }, 40_000);

  it('with TLS settings against an etcd that speaks plain text, says which end is likely wrong (QA-146 F5: only "read ECONNRESET")', async () => {
    etcd ??= await startEtcd();
    const { caCertPem } = ensureTlsMaterial(scratchDir('etcd-tls-mismatch'), ['127.0.0.1']);
    const { hosts, credentials } = etcdClientOptions({ kind: 'etcd', endpoints: [etcd.endpoint], tls: { ca: Buffer.from(caCertPem) } });
    const why = await EtcdStore.open({ endpoints: hosts, keyPrefix: '/tls-mismatch/', client: { credentials } }).then(
      async (s) => {
        await s.close();
        return 'opened';
      },
      (err: Error) => storeMessage(err.message),
    );
    expect(why).not.toBe('opened');
    expect(tlsMismatchHint(why, true)).toContain('is etcd serving TLS?');
    expect(tlsMismatchHint(why, false)).toBe('');
  }, 40_000);
});
