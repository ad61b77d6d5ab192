/**
 * npm run bench:lbscale - what one change costs the pipeline in a network with many load
 * balancers (QA-124 F2: with 1000, a new port took 3.6 s to Ready, every load balancer of
 * the network recompiled). For N = 100 and 1000 load balancers (3 port backends each) over
 * 2,000 bound ports on two nodes: the model update and scoped compile of (1) a new port,
 * (2) a backend's port bound again elsewhere, against the peer measured in the same run, a
 * full compile of the node (what a change cost when it recompiled the network's load
 * balancers). Median of 5 of each. Ratios: change / full compile (lower is better). Before
 * those, one big load balancer's backend health change, reused flows against none
 * (bigLoadBalancer). Then the
 * heap one node's flows hold (lb-memory.ts), against an earlier checkout's with BENCH_PREV=DIR.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { DesiredState } from '../../src/openflow/sync/desired-state';
import { planIncremental } from '../../src/openflow/sync/diff';
import { OwnerIds, compileNode, compileScope, lbFlows, setLbFlowReuse, type LoadBalancerModel, type NetworkModel } from '../../src/pipeline';
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

/**
 * One big load balancer (64 TCP listeners x 1,024 backends, 8,192 slots: 77,893 flows): a
 * backend's health changing, as a flapping health check makes it, costs the compile and the
 * flow-table manager's prepare, plan and commit (what runs before the flow_mods go out, on
 * every node). Against the peer in the same run: the same with nothing reused (the
 * implementation before lb-flow-reuse.ts). Median of 5 changes after a first install.
 */
function bigLoadBalancer(): void {
  const net: NetworkModel = { uid: 'n', key: 't/n', version: '1', vni: 100, encapsulation: 'vxlan' };
  const backends = Array.from({ length: 1024 }, (_, i) => ({ name: `b${i}`, ip: `10.1.${i >> 8}.${i & 255}`, mac: `02:00:00:01:${hex(i >> 8)}:${hex(i & 255)}`, weight: 1, healthy: true }));
  const model = (flapped: number): LoadBalancerModel => ({
    uid: 'big',
    key: 't/big',
    version: '1',
    network: 'n',
    vip: '10.0.0.1',
    mac: '0a:00:00:00:00:01',
    listeners: Array.from({ length: 64 }, (_, i) => ({ protocol: 'TCP' as const, port: 1000 + i, targetPort: 8080 })),
    backends: backends.map((b, i) => (i === flapped ? { ...b, healthy: false } : b)),
    slots: 8192,
  });
  const owner = new OwnerIds().lbOwner('big');
  const measure = (reuse: boolean) => {
    setLbFlowReuse(reuse);
    const desired = new DesiredState({ min: 1, max: 1 << 20 });
    const compileMs: number[] = [];
    const tableMs: number[] = [];
    let flowCount = 0;
    let mods = 0;
    for (let r = 0; r <= 5; r++) {
      let t0 = process.hrtime.bigint();
      const { flows, groups } = lbFlows(model(r === 0 ? -1 : r), net);
      const c = ms(t0);
      t0 = process.hrtime.bigint();
      const prepared = desired.prepare([{ owner, flows, groups }]);
      const plan = planIncremental(prepared, { round: 1, app: 1 });
      desired.commit(prepared);
      const t = ms(t0);
      flowCount = flows.length;
      if (r > 0) (compileMs.push(c), tableMs.push(t), (mods = plan.flowAdds.length + plan.flowModifies.length + plan.flowDeletes.length));
    }
    return { compile: median(compileMs), table: median(tableMs), flowCount, mods };
  };
  const before = measure(false);
  const now = measure(true);
  setLbFlowReuse(true);
  const total = (x: { compile: number; table: number }) => x.compile + x.table;
  out(
    `one load balancer of 64 listeners x 1024 backends (${now.flowCount} flows), a backend's health changing (${now.mods} flow_mods): compile ${now.compile.toFixed(0)} ms + flow table ${now.table.toFixed(0)} ms = ${total(now).toFixed(0)} ms; ` +
      `nothing reused (peer, same run): ${before.compile.toFixed(0)} + ${before.table.toFixed(0)} = ${total(before).toFixed(0)} ms; ratio ${(total(now) / total(before)).toFixed(2)}x`,
  );
}

bigLoadBalancer();
for (const n of [100, 1000]) run(n);
const prev = process.env.BENCH_PREV;
for (const n of [100, 1000]) {
  const mine = memory(n);
  const perFlow = (x: { flows: number; heapBytes: number }) => x.heapBytes / x.flows;
  const was = prev ? memory(n, prev) : undefined;
  out(`N=${n} load balancers: one node's ${mine.flows} flows hold ${(mine.heapBytes / 1e6).toFixed(1)} MB of heap (compiled + desired state), ${perFlow(mine).toFixed(0)} B a flow${was ? `; ${prev}: ${(was.heapBytes / 1e6).toFixed(1)} MB, ${perFlow(was).toFixed(0)} B a flow = ${(perFlow(mine) / perFlow(was)).toFixed(2)}x` : ''}`);
}
