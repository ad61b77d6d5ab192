/**
 * npm run bench:store - the two Store backends side by side in one run, same workload:
 *   1. writes/s: N single-create txns, sequential (await each) and with 32 in flight;
 *   2. list latency: a 1,000-key prefix, whole list and a 100-key page (p50/p99);
 *   3. watch-event latency: txn() issued -> handler called, sequential writes (p50/p99).
 * SQLite is a file in a temp dir (WAL, synchronous=FULL, as vnetd runs it); etcd is a private
 * single-member etcd 3.4 on loopback (fsync on its WAL, as etcd always does). Ratios are
 * etcd / SQLite for times (>1: etcd slower) and SQLite / etcd for rates. Compare only
 * within a run: both share the same 2 cores and disk.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { EtcdStore } from '../../src/store/etcd-store';
import { SqliteStore } from '../../src/store/sqlite-store';
import type { Store } from '../../src/store/store';
import { etcdAvailability, startEtcd } from '../harness/etcd';

const N = Number(process.env.STORE_BENCH_N ?? 2000);
const LIST_KEYS = 1000;
const LIST_ROUNDS = 100;
const WATCH_N = Number(process.env.STORE_BENCH_WATCH_N ?? 500);

const out = (s: string) => process.stdout.write(`${s}\n`);
const now = () => Number(process.hrtime.bigint()) / 1e6;
const value = (i: number) => ({ spec: { cidr: `10.${(i >> 8) & 255}.${i & 255}.0/24`, vni: 1000 + i }, metadata: { name: `net-${i}` } });

function pct(samples: number[], p: number): number {
  const s = [...samples].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

interface Figures {
  seqWritesPerSec: number;
  parWritesPerSec: number;
  listAll: { p50: number; p99: number };
  listPage: { p50: number; p99: number };
  watch: { p50: number; p99: number };
}

async function writes(store: Store, prefix: string, n: number, inFlight: number): Promise<number> {
  const t0 = now();
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < n; i = next++) await store.txn([{ type: 'create', key: `${prefix}${i}`, value: value(i) }]);
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  return n / ((now() - t0) / 1000);
}

async function listLatency(store: Store, prefix: string, limit: number): Promise<{ p50: number; p99: number }> {
  const samples: number[] = [];
  for (let r = 0; r < LIST_ROUNDS; r++) {
    const t0 = now();
    const l = await store.list(prefix, { limit });
    samples.push(now() - t0);
    if (l.items.length !== (limit || LIST_KEYS)) throw new Error(`list returned ${l.items.length}`);
  }
  return { p50: pct(samples, 50), p99: pct(samples, 99) };
}

async function watchLatency(store: Store): Promise<{ p50: number; p99: number }> {
  const issued = new Map<string, number>();
  const samples: number[] = [];
  let waiting: (() => void) | undefined;
  const w = store.watch('/bench/w/', (e) => {
    const t = issued.get(e.kv.key);
    if (t !== undefined) samples.push(now() - t);
    waiting?.();
  });
  for (let i = 0; i < WATCH_N; i++) {
    const key = `/bench/w/${i}`;
    const seen = new Promise<void>((resolve) => (waiting = resolve));
    issued.set(key, now());
    await store.txn([{ type: 'create', key, value: value(i) }]);
    await seen;
  }
  w.stop();
  return { p50: pct(samples, 50), p99: pct(samples, 99) };
}

async function measure(store: Store): Promise<Figures> {
  const seqWritesPerSec = await writes(store, '/bench/seq/', N, 1);
  const parWritesPerSec = await writes(store, '/bench/par/', N, 32);
  await writes(store, '/bench/list/', LIST_KEYS, 16);
  const listAll = await listLatency(store, '/bench/list/', 0);
  const listPage = await listLatency(store, '/bench/list/', 100);
  const watch = await watchLatency(store);
  return { seqWritesPerSec, parWritesPerSec, listAll, listPage, watch };
}

function report(sqlite: Figures, etcd: Figures): void {
  const rate = (name: string, s: number, e: number) =>
    out(`${name.padEnd(34)} sqlite ${s.toFixed(0).padStart(8)}/s   etcd ${e.toFixed(0).padStart(8)}/s   sqlite/etcd ${(s / e).toFixed(2)}`);
  const lat = (name: string, s: { p50: number; p99: number }, e: { p50: number; p99: number }) =>
    out(
      `${name.padEnd(34)} sqlite p50 ${s.p50.toFixed(3)} p99 ${s.p99.toFixed(3)} ms   etcd p50 ${e.p50.toFixed(3)} p99 ${e.p99.toFixed(3)} ms   etcd/sqlite p50 ${(e.p50 / s.p50).toFixed(1)} p99 ${(e.p99 / s.p99).toFixed(1)}`,
    );
  rate(`writes, sequential (N=${N})`, sqlite.seqWritesPerSec, etcd.seqWritesPerSec);
  rate('writes, 32 in flight', sqlite.parWritesPerSec, etcd.parWritesPerSec);
  lat(`list ${LIST_KEYS} keys`, sqlite.listAll, etcd.listAll);
  lat('list page of 100', sqlite.listPage, etcd.listPage);
  lat(`watch event latency (N=${WATCH_N})`, sqlite.watch, etcd.watch);
}

async function main(): Promise<void> {
  const unavailable = etcdAvailability();
  if (unavailable) {
    out(`bench:store skipped: ${unavailable}`);
    return;
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vnetd-store-bench-'));
  const etcd = await startEtcd();
  try {
    const sqliteStore = SqliteStore.open(path.join(dir, 'bench.db'));
    const sqlite = await measure(sqliteStore).finally(() => sqliteStore.close());
    const etcdStore = await EtcdStore.open({ endpoints: [etcd.endpoint], keyPrefix: '/vnetd' });
    const etcdFigures = await measure(etcdStore).finally(() => etcdStore.close());
    out(`bench:store  node ${process.version}, ${os.cpus().length} cores, etcd pid ${etcd.pid}`);
    report(sqlite, etcdFigures);
  } finally {
    await etcd.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
