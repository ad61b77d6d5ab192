/**
 * `npm run bench:agents`: what unpinned ports (libvirt style: no spec.node, bound wherever
 * their NIC appears) cost a controller of many agents. K agents' views of the API run in
 * this process as `vnetd agent` builds them (NodeScopedStore over ApiStore, each agent on
 * its own HTTP/2 session to an in-process controller), each serving a pinned port of its own
 * network. Then P unpinned ports are created in another network, with their NICs on agent
 * 0's switch only. Measured until every port has its address and agent 0 holds them all:
 * wall time, this process's CPU (controller, agents and the bench's clients) and the events
 * the agents' views received.
 *
 * The peer, in the same run, alternating: the same views, each with a watch of every unpinned
 * port added (spec.node=, what an agent watched before it learned of unpinned ports from its
 * NICs). BENCH_PREV=DIR adds a third: a checkout of an earlier vnetd (node_modules linked)
 * whose own agent views run the same phase against the same controller.
 *
 * Env: BENCH_AGENTS (K, default 50), BENCH_PORTS (P, default 600), BENCH_DATA_DIR.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import pino from 'pino';
import { ApiClient } from '../../src/agent/api-client';
import { ApiStore } from '../../src/agent/api-store';
import { NODE_SCOPED_KINDS } from '../../src/agent/node-scope';
import { PORTS } from '../../src/store/kinds';
import { startTestVnetd, type TestVnetd } from '../support/vnetd';

const K = Number(process.env.BENCH_AGENTS ?? 50);
const P = Number(process.env.BENCH_PORTS ?? 600);
const CONCURRENCY = 8;
const G = '/apis/vnet.dev/v1alpha1';
const log = pino({ level: 'silent' });
const out = (s: string) => process.stdout.write(`${s}\n`);

/** What a tree's agent modules offer this bench (the same shape in every version). */
interface AgentView {
  list(prefix: string): Promise<{ items: unknown[] }>;
  watch(prefix: string, handler: () => void): { stop(): void };
  close(): Promise<void>;
}
interface Tree {
  label: string;
  view(kubeconfig: string, node: string, interfaceIds: string[]): AgentView;
  portsPrefix: string;
}

async function loadTree(label: string, root: string): Promise<Tree> {
  const scope = (await import(join(root, 'src/agent/node-scope.ts'))) as typeof import('../../src/agent/node-scope');
  const store = (await import(join(root, 'src/agent/api-store.ts'))) as typeof import('../../src/agent/api-store');
  const client = (await import(join(root, 'src/agent/api-client.ts'))) as typeof import('../../src/agent/api-client');
  const keys = (await import(join(root, 'src/store/keys.ts'))) as typeof import('../../src/store/keys');
  const kinds = (await import(join(root, 'src/store/kinds.ts'))) as typeof import('../../src/store/kinds');
  return {
    label,
    portsPrefix: keys.typePrefix(kinds.PORTS),
    view: (kubeconfig, node, interfaceIds) =>
      new scope.NodeScopedStore(new store.ApiStore(client.ApiClient.fromKubeconfig(kubeconfig), scope.NODE_SCOPED_KINDS, log), node, log, { interfaceIds: Promise.resolve(interfaceIds) }),
  };
}

/** This tree's views, each with a watch of every unpinned port beside it (on its own session). */
function everyUnpinned(tree: Tree): Tree {
  return {
    label: 'all unpinned',
    portsPrefix: tree.portsPrefix,
    view: (kubeconfig, node, interfaceIds) => {
      const view = tree.view(kubeconfig, node, interfaceIds);
      const api = new ApiStore(ApiClient.fromKubeconfig(kubeconfig), NODE_SCOPED_KINDS, log);
      let listed!: () => void;
      const synced = new Promise<void>((r) => (listed = r));
      const handlers = new Set<() => void>();
      const all = api.watchScope(PORTS, { fieldSelector: 'spec.node=' }, () => handlers.forEach((h) => h()), undefined, [], listed);
      return {
        list: async (prefix) => (await Promise.all([view.list(prefix), synced]))[0],
        watch: (prefix, handler) => {
          const inner = view.watch(prefix, handler);
          handlers.add(handler);
          return { stop: () => (inner.stop(), handlers.delete(handler)) };
        },
        close: async () => {
          all.stop();
          await Promise.all([view.close(), api.close()]);
        },
      };
    },
  };
}

interface Phase {
  label: string;
  ms: number;
  cpuMs: number;
  events: number;
  eventsOfOthers: number;
}

async function phase(v: TestVnetd, tree: Tree, round: number): Promise<Phase> {
  const ns = `b-${tree.label}-${round}`.toLowerCase().replace(/[^a-z0-9-]/g, '-');
  const must = async (method: string, path: string, body?: unknown) => {
    const r = await v.call(method, path, body);
    if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${r.text}`);
    return r.json;
  };
  await must('POST', '/api/v1/namespaces', { metadata: { name: ns } });
  await must('POST', `${G}/namespaces/${ns}/virtualnetworks`, { metadata: { name: 'shared' }, spec: { subnets: [{ cidr: '10.0.0.0/16' }] } });
  for (let k = 0; k < K; k++) {
    await must('POST', `${G}/namespaces/${ns}/virtualnetworks`, { metadata: { name: `own-${k}` }, spec: { subnets: [{ cidr: '10.1.0.0/24' }] } });
    await must('POST', `${G}/namespaces/${ns}/virtualports`, { metadata: { name: `own-${k}` }, spec: { network: `own-${k}`, node: `${ns}-hv${k}` } });
  }
  const nics = Array.from({ length: P }, (_, i) => `${ns}-nic-${i}`);
  const views = Array.from({ length: K }, (_, k) => tree.view(v.kubeconfigPath, `${ns}-hv${k}`, k === 0 ? nics : []));
  const counts = new Array<number>(K).fill(0);
  const watches: Array<{ stop(): void }> = [];
  try {
    // Each view has listed (its agent would compile now); then count what reaches it.
    await Promise.all(views.map((w) => w.list(tree.portsPrefix)));
    views.forEach((w, k) => watches.push(w.watch(tree.portsPrefix, () => counts[k]!++)));
    const cpu0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    let next = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        for (let i = next++; i < P; i = next++) await must('POST', `${G}/namespaces/${ns}/virtualports`, { metadata: { name: `u${i}` }, spec: { network: 'shared', interfaceId: nics[i] } });
      }),
    );
    for (const deadline = Date.now() + 120_000; ; ) {
      if (Date.now() > deadline) throw new Error(`${tree.label}: not settled after 120 s`);
      const r = await v.call('GET', `${G}/namespaces/${ns}/virtualports?fieldSelector=spec.network%3Dshared`);
      const items = r.json.items as Array<{ status?: { ips?: unknown[] } }>;
      const held = (await views[0]!.list(tree.portsPrefix)).items.length;
      if (items.length === P && items.every((p) => (p.status?.ips?.length ?? 0) > 0) && held >= P + 1) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    const cpu = process.cpuUsage(cpu0);
    return { label: tree.label, ms, cpuMs: (cpu.user + cpu.system) / 1000, events: counts.reduce((a, b) => a + b, 0), eventsOfOthers: counts.slice(1).reduce((a, b) => a + b, 0) };
  } finally {
    for (const w of watches) w.stop();
    await Promise.all(views.map((w) => w.close()));
  }
}

async function main(): Promise<void> {
  const dataDir = mkdtempSync(join(process.env.BENCH_DATA_DIR ?? tmpdir(), 'vnetd-bench-agents-'));
  const v = await startTestVnetd({ dataDir, role: 'controller' });
  try {
    const mine = await loadTree('this tree', resolve(__dirname, '../..'));
    const trees = [everyUnpinned(mine), mine];
    if (process.env.BENCH_PREV) trees.unshift(await loadTree('BENCH_PREV', resolve(process.env.BENCH_PREV)));
    const phases: Phase[] = [];
    for (let round = 0; round < 2; round++) for (const t of trees) phases.push(await phase(v, t, round));
    out(`\nbench:agents  ${K} agents, ${P} unpinned ports whose NICs are on one agent's switch, in-process controller (SQLite in ${process.env.BENCH_DATA_DIR ?? tmpdir()})`);
    out(`${'agents of'.padEnd(12)} ${'wall ms'.padStart(8)} ${'CPU ms'.padStart(8)} ${'CPU/port'.padStart(9)} ${'events to agents'.padStart(17)} ${'to the other agents'.padStart(20)}`);
    for (const p of phases) out(`${p.label.padEnd(12)} ${p.ms.toFixed(0).padStart(8)} ${p.cpuMs.toFixed(0).padStart(8)} ${(p.cpuMs / P).toFixed(2).padStart(9)} ${String(p.events).padStart(17)} ${String(p.eventsOfOthers).padStart(20)}`);
    const sum = (label: string, f: (p: Phase) => number) => phases.filter((p) => p.label === label).reduce((a, p) => a + f(p), 0);
    for (const peer of trees.filter((t) => t !== mine)) {
      const r = (f: (p: Phase) => number) => (sum(mine.label, f) / sum(peer.label, f)).toFixed(2);
      out(`ratio this tree / ${peer.label}: wall ${r((p) => p.ms)}x, CPU ${r((p) => p.cpuMs)}x, events ${(sum(mine.label, (p) => p.events) / sum(peer.label, (p) => p.events)).toFixed(3)}x`);
    }
  } finally {
    await v.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:agents failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
