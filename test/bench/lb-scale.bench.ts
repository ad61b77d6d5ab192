/**
 * npm run bench:lbscale - what one change costs the pipeline in a network with many load
 * balancers (QA-124 F2: with 1000, a new port took 3.6 s to Ready, every load balancer of
 * the network recompiled). For N = 100 and 1000 load balancers (3 port backends each) over
 * 2,000 bound ports on two nodes: the model update and scoped compile of (1) a new port,
 * (2) a backend's port bound again elsewhere, against the peer measured in the same run, a
 * full compile of the node (what a change cost when it recompiled the network's load
 * balancers). Median of 5 of each. Ratios: change / full compile (lower is better). Then the
 * heap one node's flows hold (lb-memory.ts), against an earlier checkout's with BENCH_PREV=DIR.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { OwnerIds, compileNode, compileScope } from '../../src/pipeline';
import { resolveBackends } from '../../src/reconcile/kinds/lb-backends';
import { LiveModel } from '../../src/reconcile/kinds/pipeline-model';
import type { HypervisorNode, LoadBalancer, VirtualNetwork, VirtualPort } from '../../src/resources/kinds';

const out = (s: string) => process.stdout.write(`${s}\n`);
const ms = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const PORTS = 2000;

const network = { apiVersion: 'vnet.dev/v1alpha1', kind: 'VirtualNetwork', metadata: { name: 'net', namespace: 't', uid: 'net-uid', generation: 1 }, spec: { subnets: [{ cidr: '10.0.0.0/16' }], vni: 100 } } as VirtualNetwork;
const nodes = ['hv1', 'hv2'].map((name, i) => ({ apiVersion: 'vnet.dev/v1alpha1', kind: 'Node', metadata: { name, uid: name }, spec: { tunnelIP: `198.18.0.${i + 1}` } }) as HypervisorNode);
const hex = (n: number) => n.toString(16).padStart(2, '0');
const port = (i: number, bound?: { node: string; ofport: number }): VirtualPort =>
  ({
    apiVersion: 'vnet.dev/v1alpha1',
    kind: 'VirtualPort',
    metadata: { name: `p${i}`, namespace: 't', uid: `p${i}-uid`, generation: 1 },
    spec: { network: 'net', mac: `02:00:00:00:${hex(i >> 8)}:${hex(i & 255)}`, ips: [`10.0.${i >> 8}.${i & 255}`] },
    status: bound ? { node: bound.node, ofport: bound.ofport, conditions: [{ type: 'Bound', status: 'True', reason: 'InterfaceFound', message: '', lastTransitionTime: '' }] } : {},
  }) as VirtualPort;
const lb = (i: number): LoadBalancer =>
  ({
    apiVersion: 'vnet.dev/v1alpha1',
    kind: 'LoadBalancer',
    metadata: { name: `lb${i}`, namespace: 't', uid: `lb${i}-uid`, generation: 1 },
    spec: { network: 'net', vip: `10.1.${i >> 8}.${i & 255}`, listeners: [{ port: 80, protocol: 'TCP' }], backends: [1, 2, 3].map((k) => ({ port: `p${1 + ((i * 3 + k) % PORTS)}` })) },
  }) as LoadBalancer;
const key = (i: number) => `/registry/vnet.dev/virtualports/t/p${i}`;

function run(n: number): void {
  const m = new LiveModel(resolveBackends, () => ({ vxlan: 1 }));
  m.rebuild([network], Array.from({ length: PORTS }, (_, i) => port(i + 1, { node: i % 2 ? 'hv1' : 'hv2', ofport: 10 + i })), nodes, Array.from({ length: n }, (_, i) => lb(i)));
  const ids = new OwnerIds();
  const full: number[] = [];
  const newPort: number[] = [];
  const rebound: number[] = [];
  let touched = { newPort: 0, rebound: 0 };
  for (let r = 0; r < 6; r++) {
    let t0 = process.hrtime.bigint();
    compileNode(m.model, 'hv1', ids, m.index());
    const f = ms(t0);
    t0 = process.hrtime.bigint();
    const a = m.portChanged(key(5000 + r), port(5000 + r, { node: 'hv1', ofport: 3000 + r }));
    compileScope(m.model, 'hv1', ids, m, a, () => true);
    const np = ms(t0);
    t0 = process.hrtime.bigint();
    const b = m.portChanged(key(2 + r), port(2 + r, { node: 'hv1', ofport: 4000 + r }));
    compileScope(m.model, 'hv1', ids, m, b, () => true);
    const rb = ms(t0);
    touched = { newPort: a.loadBalancers.size, rebound: b.loadBalancers.size };
    // The first round warms the JIT.
    if (r > 0) (full.push(f), newPort.push(np), rebound.push(rb));
  }
  const [f, np, rb] = [median(full), median(newPort), median(rebound)];
  out(`N=${n} load balancers, ${PORTS} ports: full compile of hv1 ${f.toFixed(1)} ms (peer); a new port ${np.toFixed(2)} ms = ${(np / f).toFixed(4)}x (${touched.newPort} load balancers touched); a backend's port bound again ${rb.toFixed(2)} ms = ${(rb / f).toFixed(4)}x (${touched.rebound} touched)`);
}

/** The heap a node's flows hold at n load balancers (lb-memory.ts, in a child with --expose-gc), for this checkout or another's. */
function memory(n: number, root?: string): { flows: number; heapBytes: number } {
  const r = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', join(__dirname, 'lb-memory.ts'), String(n), ...(root ? [root] : [])], { encoding: 'utf8' });
  const line = r.stdout.trim().split('\n').pop() ?? '';
  if (r.status !== 0 || !line.startsWith('{')) throw new Error(`lb-memory.ts failed: ${r.stderr || r.stdout}`);
  return JSON.parse(line) as { flows: number; heapBytes: number };
}

for (const n of [100, 1000]) run(n);
const prev = process.env.BENCH_PREV;
for (const n of [100, 1000]) {
  const mine = memory(n);
  const perFlow = (x: { flows: number; heapBytes: number }) => x.heapBytes / x.flows;
  const was = prev ? memory(n, prev) : undefined;
  out(`N=${n} load balancers: one node's ${mine.flows} flows hold ${(mine.heapBytes / 1e6).toFixed(1)} MB of heap (compiled + desired state), ${perFlow(mine).toFixed(0)} B a flow${was ? `; ${prev}: ${(was.heapBytes / 1e6).toFixed(1)} MB, ${perFlow(was).toFixed(0)} B a flow = ${(perFlow(mine) / perFlow(was)).toFixed(2)}x` : ''}`);
}
