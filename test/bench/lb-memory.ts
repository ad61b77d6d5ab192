/**
 * Part of npm run bench:lbscale (run in a child process with --expose-gc): the heap one node's
 * flows hold in a network of N load balancers (3 port backends each, 30 bound ports): the
 * compiled flows and the flow-table manager's desired state (DesiredState, each entry's
 * signature computed as a full sync does), measured after GC. argv: N, then the checkout whose
 * src/ to load (default this one: BENCH_PREV compares an earlier checkout in the same run).
 */
import { resolve } from 'node:path';

declare const gc: () => void;

async function main(): Promise<void> {
  const n = Number(process.argv[2] ?? 1000);
  const root = resolve(process.argv[3] ?? `${__dirname}/../..`);
  const { LiveModel } = await import(`${root}/src/reconcile/kinds/pipeline-model`);
  const { resolveBackends } = await import(`${root}/src/reconcile/kinds/lb-backends`);
  const { OwnerIds, compileNode } = await import(`${root}/src/pipeline`);
  const { DesiredState, entrySignature } = await import(`${root}/src/openflow/sync/desired-state`);
  const hex = (i: number) => i.toString(16).padStart(2, '0');
  const network = { apiVersion: 'vnet.dev/v1alpha1', kind: 'VirtualNetwork', metadata: { name: 'net', namespace: 't', uid: 'net-uid', generation: 1 }, spec: { subnets: [{ cidr: '10.0.0.0/16' }], vni: 100 } };
  const nodes = ['hv1', 'hv2'].map((name, i) => ({ apiVersion: 'vnet.dev/v1alpha1', kind: 'Node', metadata: { name, uid: name }, spec: { tunnelIP: `198.18.0.${i + 1}` } }));
  const ports = Array.from({ length: 30 }, (_, i) => ({
    apiVersion: 'vnet.dev/v1alpha1',
    kind: 'VirtualPort',
    metadata: { name: `p${i + 1}`, namespace: 't', uid: `p${i + 1}-uid`, generation: 1 },
    spec: { network: 'net', mac: `02:00:00:00:00:${hex(i + 1)}`, ips: [`10.0.0.${i + 1}`] },
    status: { node: 'hv1', ofport: 10 + i, conditions: [{ type: 'Bound', status: 'True', reason: 'InterfaceFound', message: '', lastTransitionTime: '' }] },
  }));
  const lbs = Array.from({ length: n }, (_, i) => ({
    apiVersion: 'vnet.dev/v1alpha1',
    kind: 'LoadBalancer',
    metadata: { name: `lb${i}`, namespace: 't', uid: `lb${i}-uid`, generation: 1 },
    spec: { network: 'net', vip: `10.1.${i >> 8}.${i & 255}`, listeners: [{ port: 80, protocol: 'TCP', targetPort: 8080 }], backends: [1, 2, 3].map((k) => ({ port: `p${1 + ((i * 3 + k) % 30)}` })) },
  }));
  const m = new LiveModel(resolveBackends, () => ({ vxlan: 1 }));
  m.rebuild([network], ports, nodes, lbs);
  gc();
  gc();
  const before = process.memoryUsage().heapUsed;
  const compiled = compileNode(m.model, 'hv1', new OwnerIds());
  const desired = new DesiredState({ min: 1, max: 0xfffffff0 });
  desired.commit(desired.prepare([...compiled.owners.values()].map((o: { owner: unknown; flows: unknown; groups?: unknown }) => ({ owner: o.owner, flows: o.flows, groups: o.groups }))));
  let flows = 0;
  for (const e of desired.flows()) (entrySignature(e), flows++);
  gc();
  gc();
  const held = process.memoryUsage().heapUsed - before;
  process.stdout.write(`${JSON.stringify({ n, flows, heapBytes: held, keep: compiled.owners.size + desired.flowCount > 0 })}\n`);
}

void main();
