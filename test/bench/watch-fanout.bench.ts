/**
 * `npm run bench:watch`: what idle watches cost the controller's writes. Agents hold three
 * watches per network they serve (the network, its ports, its load balancers: spec.network=N
 * or metadata.name=N), so a controller of many agents holds thousands of watches, nearly all
 * of them idle for any one write. The same vnetd, in one run, creates ports in one network
 * with no other watch open and then with W idle watches of other networks open; the ratio
 * (with / without) is what those watches add to a write. Phases alternate to show the noise.
 *
 * Env: BENCH_WATCHES (W, default 3000), BENCH_PORTS (per phase, default 600),
 * BENCH_DATA_DIR (the store's directory: /dev/shm keeps the disk out of it), BENCH_STORE=etcd
 * (a controller on a private etcd, the harness's, instead of SQLite).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import type { ClientRequest } from 'node:http';
import { Agent, request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEtcd } from '../harness/etcd';
import { startTestVnetd, type TestVnetd } from '../support/vnetd';

const W = Number(process.env.BENCH_WATCHES ?? 3000);
const P = Number(process.env.BENCH_PORTS ?? 600);
const CONCURRENCY = 8;
const G = '/apis/vnet.dev/v1alpha1';

const out = (s: string) => process.stdout.write(`${s}\n`);

/** Opens W idle watches (three kinds per idle network) and resolves once all are streaming. */
async function openIdleWatches(v: TestVnetd, count: number): Promise<ClientRequest[]> {
  const agent = new Agent({ keepAlive: false, maxSockets: Infinity });
  const paths = (k: number) => [
    `${G}/namespaces/bench/virtualports?watch=true&fieldSelector=spec.network%3Didle-${k}`,
    `${G}/namespaces/bench/loadbalancers?watch=true&fieldSelector=spec.network%3Didle-${k}`,
    `${G}/namespaces/bench/virtualnetworks?watch=true&fieldSelector=metadata.name%3Didle-${k}`,
  ];
  const all = Array.from({ length: Math.ceil(count / 3) }, (_, k) => paths(k)).flat().slice(0, count);
  const reqs: ClientRequest[] = [];
  for (let i = 0; i < all.length; i += 50) {
    await Promise.all(
      all.slice(i, i + 50).map(
        (p) =>
          new Promise<void>((resolve, reject) => {
            const req = request(new URL(p, v.url), { agent, ca: v.caCertPem, headers: { authorization: `Bearer ${v.adminToken}` } }, (res) => {
              if (res.statusCode !== 200) reject(new Error(`watch ${p} answered ${res.statusCode}`));
              res.on('data', () => undefined);
              resolve();
            });
            req.on('error', (err) => (req.destroyed ? undefined : reject(err)));
            req.end();
            reqs.push(req);
          }),
      ),
    );
  }
  return reqs;
}

interface Phase {
  label: string;
  ms: number;
  cpuMs: number;
}

async function createPorts(v: TestVnetd, network: string, label: string): Promise<Phase> {
  const must = async (method: string, path: string, body: unknown) => {
    const r = await v.call(method, path, body);
    if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${r.text}`);
  };
  await must('POST', `${G}/namespaces/bench/virtualnetworks`, { metadata: { name: network }, spec: { subnets: [{ cidr: '10.0.0.0/16' }] } });
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      for (let i = next++; i < P; i = next++) await must('POST', `${G}/namespaces/bench/virtualports`, { metadata: { name: `${network}-p${i}` }, spec: { network, node: 'hv1' } });
    }),
  );
  // The IPAM reconciler's status writes are events too: wait until every port has its address.
  for (const deadline = Date.now() + 120_000; ; ) {
    if (Date.now() > deadline) throw new Error(`${network}: ports without addresses after 120 s`);
    const r = await v.call('GET', `${G}/namespaces/bench/virtualports?fieldSelector=spec.network%3D${network}`);
    const items = r.json.items as Array<{ status?: { ips?: unknown[] } }>;
    if (items.length === P && items.every((p) => (p.status?.ips?.length ?? 0) > 0)) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  const cpu = process.cpuUsage(cpu0);
  return { label, ms, cpuMs: (cpu.user + cpu.system) / 1000 };
}

async function main(): Promise<void> {
  const dataDir = mkdtempSync(join(process.env.BENCH_DATA_DIR ?? tmpdir(), 'vnetd-bench-watch-'));
  const onEtcd = process.env.BENCH_STORE === 'etcd';
  const etcd = onEtcd ? await startEtcd() : undefined;
  const v = await startTestVnetd(etcd ? { dataDir, role: 'controller', store: { kind: 'etcd', endpoints: [etcd.endpoint] } } : { dataDir });
  try {
    await v.call('POST', '/api/v1/namespaces', { metadata: { name: 'bench' } });
    await v.call('POST', `${G}/nodes`, { metadata: { name: 'hv1' }, spec: { tunnelIP: '192.0.2.1' } });
    await createPorts(v, 'warmup', 'warm-up');
    const phases: Phase[] = [];
    let watches: ClientRequest[] = [];
    for (let round = 0; round < 2; round++) {
      phases.push(await createPorts(v, `quiet-${round}`, 'no other watch'));
      watches = await openIdleWatches(v, W);
      phases.push(await createPorts(v, `busy-${round}`, `${W} idle watches`));
      for (const w of watches) w.destroy();
      await new Promise((r) => setTimeout(r, 500));
    }
    out(`\nbench:watch  ${P} ports per phase, concurrency ${CONCURRENCY}, in-process vnetd (${onEtcd ? 'etcd' : 'SQLite'} in ${process.env.BENCH_DATA_DIR ?? tmpdir()})`);
    out(`${'phase'.padEnd(22)} ${'wall ms'.padStart(8)} ${'CPU ms'.padStart(8)} ${'CPU/port'.padStart(9)}`);
    for (const p of phases) out(`${p.label.padEnd(22)} ${p.ms.toFixed(0).padStart(8)} ${p.cpuMs.toFixed(0).padStart(8)} ${(p.cpuMs / P).toFixed(2).padStart(9)}`);
    const sum = (label: string, f: (p: Phase) => number) => phases.filter((p) => p.label === label).reduce((a, p) => a + f(p), 0);
    const busy = `${W} idle watches`;
    out(`ratio with / without idle watches: wall ${(sum(busy, (p) => p.ms) / sum('no other watch', (p) => p.ms)).toFixed(2)}x, CPU ${(sum(busy, (p) => p.cpuMs) / sum('no other watch', (p) => p.cpuMs)).toFixed(2)}x`);
  } finally {
    await v.stop();
    await etcd?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:watch failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
