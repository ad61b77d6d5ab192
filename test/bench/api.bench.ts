/**
 * `npm run bench:api`: latency of create, get, list and watch-event delivery against
 * vnetd on its SQLite store, beside a bare Fastify HTTPS endpoint doing the nearest
 * equivalent work in the same process and run (JSON in, JSON out, an in-memory event
 * fan-out). The ratio is vnetd's overhead: auth, validation, admission, the store
 * (with an fsync per write), Kubernetes semantics.
 */
import { EventEmitter } from 'node:events';
import { Agent, request } from 'node:https';
import Fastify from 'fastify';
import { startTestVnetd } from '../support/vnetd';

const N = Number(process.env.BENCH_N ?? 1000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 8);

interface Target {
  base: string;
  ca: string;
  token: string;
}

const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY * 2 });

function call(t: Target, method: string, path: string, body?: unknown): Promise<number> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, t.base), { method, agent, ca: t.ca, headers: { authorization: `Bearer ${t.token}`, ...(payload ? { 'content-type': 'application/json' } : {}) } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    if (payload) req.write(payload);
    req.end();
  });
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function measure(label: string, n: number, op: (i: number) => Promise<number>): Promise<{ p50: number; p99: number; rps: number }> {
  const lat: number[] = [];
  let next = 0;
  const t0 = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < n) {
        const i = next++;
        const s = process.hrtime.bigint();
        const code = await op(i);
        if (code >= 300) throw new Error(`${label}: request ${i} answered ${code}`);
        lat.push(Number(process.hrtime.bigint() - s) / 1e6);
      }
    }),
  );
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  lat.sort((a, b) => a - b);
  return { p50: percentile(lat, 50), p99: percentile(lat, 99), rps: n / secs };
}

/** Time from issuing a write to receiving its watch event, for n sequential writes. */
async function watchLatency(t: Target, watchPath: string, write: (i: number) => Promise<number>, n: number): Promise<{ p50: number; p99: number }> {
  const pending = new Map<string, bigint>();
  const lat: number[] = [];
  let watchReq: ReturnType<typeof request> | undefined;
  await new Promise<void>((ready, fail) => {
    const req = (watchReq = request(new URL(watchPath, t.base), { ca: t.ca, headers: { authorization: `Bearer ${t.token}` } }, (res) => {
      let buf = '';
      res.on('data', (d: Buffer) => {
        buf += d.toString();
        let k;
        while ((k = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, k);
          buf = buf.slice(k + 1);
          const ev = JSON.parse(line) as { type: string; object: { metadata: { name: string } } };
          const started = ev.type === 'ADDED' ? pending.get(ev.object.metadata.name) : undefined;
          if (started !== undefined) {
            lat.push(Number(process.hrtime.bigint() - started) / 1e6);
            pending.delete(ev.object.metadata.name);
          }
        }
      });
      ready();
    }));
    req.on('error', fail);
    req.end();
  });
  for (let i = 0; i < n; i++) {
    pending.set(`w${i}`, process.hrtime.bigint());
    await write(i);
  }
  const deadline = Date.now() + 10_000;
  while (pending.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  watchReq?.destroy();
  lat.sort((a, b) => a - b);
  return { p50: percentile(lat, 50), p99: percentile(lat, 99) };
}

async function bareFastify(tls: { key: string; cert: string }): Promise<{ base: string; close: () => Promise<void> }> {
  const app = Fastify({ https: tls });
  const bus = new EventEmitter();
  const objects = new Map<string, unknown>();
  app.post('/objects', async (req, reply) => {
    const body = req.body as { metadata: { name: string } };
    objects.set(body.metadata.name, body);
    bus.emit('event', JSON.stringify({ type: 'ADDED', object: body }));
    return reply.code(201).send(body);
  });
  app.get('/objects/:name', async (req) => objects.get((req.params as { name: string }).name) ?? {});
  app.get('/objects', async () => ({ items: [...objects.values()].slice(0, 100) }));
  app.get('/watch', (_req, reply) => {
    reply.hijack();
    reply.raw.writeHead(200, { 'content-type': 'application/json' });
    reply.raw.flushHeaders();
    const on = (line: string) => reply.raw.write(`${line}\n`);
    bus.on('event', on);
    reply.raw.on('close', () => bus.off('event', on));
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const addr = app.server.address() as { port: number };
  return { base: `https://127.0.0.1:${addr.port}`, close: () => app.close() };
}

async function main(): Promise<void> {
  const v = await startTestVnetd();
  const { readFileSync } = await import('node:fs');
  const { join } = await import('node:path');
  const tls = { key: readFileSync(join(v.dataDir, 'pki/server.key'), 'utf8'), cert: readFileSync(join(v.dataDir, 'pki/server.crt'), 'utf8') };
  const bare = await bareFastify(tls);
  const vt: Target = { base: v.url, ca: v.caCertPem, token: v.adminToken };
  const bt: Target = { base: bare.base, ca: v.caCertPem, token: 'none' };
  await call(vt, 'POST', '/api/v1/namespaces', { metadata: { name: 'bench' } });
  await call(vt, 'POST', '/apis/vnet.dev/v1alpha1/namespaces/bench/virtualnetworks', { metadata: { name: 'net' }, spec: { subnets: [{ cidr: '10.0.0.0/16' }] } });
  const G = '/apis/vnet.dev/v1alpha1/namespaces/bench/virtualnetworks';
  const net = (name: string) => ({ apiVersion: 'vnet.dev/v1alpha1', kind: 'VirtualNetwork', metadata: { name }, spec: { subnets: [{ cidr: '10.1.0.0/24' }] } });

  const rows: [string, { p50: number; p99: number; rps?: number }, { p50: number; p99: number; rps?: number }][] = [];
  rows.push(['create VirtualNetwork', await measure('vnetd create', N, (i) => call(vt, 'POST', G, net(`n${i}`))), await measure('bare create', N, (i) => call(bt, 'POST', '/objects', net(`n${i}`)))]);
  rows.push(['get', await measure('vnetd get', N * 2, (i) => call(vt, 'GET', `${G}/n${i % N}`)), await measure('bare get', N * 2, (i) => call(bt, 'GET', `/objects/n${i % N}`))]);
  rows.push(['list (limit=100)', await measure('vnetd list', 200, () => call(vt, 'GET', `${G}?limit=100`)), await measure('bare list', 200, () => call(bt, 'GET', '/objects'))]);
  rows.push([
    'watch event (write -> event)',
    await watchLatency(vt, `${G}?watch=true&resourceVersion=${0}`, (i) => call(vt, 'POST', G, net(`w${i}`)), 200),
    await watchLatency(bt, '/watch', (i) => call(bt, 'POST', '/objects', net(`w${i}`)), 200),
  ]);

  const fmt = (x: number) => x.toFixed(2).padStart(7);
  process.stdout.write(`\nbench:api  N=${N} concurrency=${CONCURRENCY}  (ms; ratio = vnetd / bare Fastify, same process, same run)\n`);
  process.stdout.write(`${'operation'.padEnd(30)} ${'vnetd p50'.padStart(9)} ${'p99'.padStart(7)} ${'req/s'.padStart(7)} | ${'bare p50'.padStart(8)} ${'p99'.padStart(7)} ${'req/s'.padStart(7)} | ratio p50\n`);
  for (const [name, a, b] of rows) {
    process.stdout.write(`${name.padEnd(30)} ${fmt(a.p50).padStart(9)} ${fmt(a.p99)} ${a.rps ? a.rps.toFixed(0).padStart(7) : '      -'} | ${fmt(b.p50).padStart(8)} ${fmt(b.p99)} ${b.rps ? b.rps.toFixed(0).padStart(7) : '      -'} | ${(a.p50 / b.p50).toFixed(1)}x\n`);
  }
  agent.destroy();
  await bare.close();
  await v.stop();
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:api failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
