/**
 * A Node deleted and created again (the same spec) with a port pinned to it whose NIC stays
 * plugged: the port must be Bound=True again at once, every time. The overlay e2e's
 * "deleting a Node" case once waited 30 s with the port at Bound=False NodeNotFound while
 * the new Node was Connected and Ready. Two things had to meet:
 *  - the chassis leaves a binding it finds to the pipeline's Ready write (boundWithReadyMs)
 *    and writes it itself only when that wait is up; the new session's first Interface rows
 *    queue the port's check 50 ms later, before the wait begins, and a key keeps only the
 *    earliest of its delays: the check at the end of the wait was never set, so without a
 *    Ready write the binding was never written (second describe: no pipeline at all);
 *  - the pipeline writes that Ready only when what a node realizes changes. Its reconcile of
 *    the node waits for the bundle pacing (100 ms after its last bundle): a Node deleted and
 *    created again within that wait kept its agent, which realized the same as before, so
 *    nothing queued the port's status (first describe: flows change just before the delete).
 */
import pino from 'pino';
import { ChassisManager } from '../../src/chassis/chassis-manager';
import { MemoryStore } from '../../src/reconcile/testing/memory-store';
import type { HypervisorNode, VirtualPort } from '../../src/resources/kinds';
import { NODES, PORTS } from '../../src/store/kinds';
import { ObjectStore } from '../../src/store/object-store';
import { startOvs, type OvsInstance } from '../harness/ovs';
import { eventually, startTestVnetd, type TestVnetd } from '../support/vnetd';
import { describeOvs } from './ovsdb-helpers';

const G = '/apis/vnet.dev/v1alpha1';
const NS = 'recreate';
const ROUNDS = Number(process.env.NODE_RECREATE_ROUNDS ?? 10);

type Cond = { type: string; status: string; reason?: string; message?: string };
const cond = (o: { status?: { conditions?: Cond[] } } | undefined, t: string) => o?.status?.conditions?.find((c) => c.type === t);
/** Netns and interface names of this file: short, and apart from every other run's. */
const tag = () => `nb1${process.pid.toString(36).slice(-4)}`;

describeOvs('a Node deleted and created again: its pinned port is bound again', () => {
  let v: TestVnetd | undefined;
  let ovs: OvsInstance | undefined;

  afterAll(async () => {
    await v?.stop();
    await ovs?.stop();
  }, 60_000);

  it(`binds the port again within 5 s after each of ${ROUNDS} re-creations, the last bundle to the node just sent`, async () => {
    [v, ovs] = await Promise.all([startTestVnetd({ chassis: true }), startOvs({ name: `${tag()}-rc`, netns: `${tag()}-rc` })]);
    const api = async (method: string, path: string, body?: unknown) => {
      const r = await v!.call(method, path, body);
      if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${r.text}`);
      return r.json;
    };
    const spec = { tunnelIP: '192.168.251.1', ovsdb: `unix:${ovs.dbSocket}` };
    await api('POST', `${G}/nodes`, { metadata: { name: 'hv1' }, spec });
    await eventually(async () => cond((await api('GET', `${G}/nodes/hv1`)) as HypervisorNode, 'Ready')?.status === 'True', 15_000, 50);
    await v.call('POST', '/api/v1/namespaces', { metadata: { name: NS } });
    await api('POST', `${G}/namespaces/${NS}/virtualnetworks`, { metadata: { name: 'net' }, spec: { subnets: [{ cidr: '10.53.0.0/24' }] } });
    const plug = (nic: string, p: VirtualPort) => ovs!.vsctl(['add-port', 'br-int', nic, '--', 'set', 'Interface', nic, 'type=internal', `external_ids:iface-id=${p.spec!.interfaceId}`]);
    const port = (name: string) => api('POST', `${G}/namespaces/${NS}/virtualports`, { metadata: { name }, spec: { network: 'net', node: 'hv1' } }) as Promise<VirtualPort>;
    await plug(`${tag()}a`, await port('a'));
    // A second port on hv1, its NIC unplugged and plugged by turns: a change of hv1's flows.
    const y = await port('y');
    const nicY = `${tag()}y`;
    await plug(nicY, y);
    const getPort = () => v!.objects.get<VirtualPort>(PORTS, NS, 'a');
    await eventually(async () => cond(await getPort(), 'Ready')?.status === 'True', 15_000, 50);

    const failures: string[] = [];
    const tookMs: number[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      // hv1's flows change: the pipeline's next reconcile of hv1 waits for its bundle pacing.
      const compiled = v.pipeline.agent('hv1')!.compiles.incremental;
      await (round % 2 ? ovs.vsctl(['del-port', 'br-int', nicY]) : plug(nicY, y));
      await eventually(async () => v!.pipeline.agent('hv1')!.compiles.incremental > compiled, 5000, 1);
      await api('DELETE', `${G}/nodes/hv1`);
      // Created again the moment the chassis has closed the node's OVSDB session.
      while (v.chassis!.session('hv1')) await new Promise((r) => setImmediate(r));
      await v.objects.create<HypervisorNode>(NODES, { apiVersion: 'vnet.dev/v1alpha1', kind: 'Node', metadata: { name: 'hv1' }, spec } as HypervisorNode);
      const t0 = performance.now();
      try {
        await eventually(async () => cond(await getPort(), 'Bound')?.status === 'True', 5000, 20);
        tookMs.push(performance.now() - t0);
      } catch {
        const p = await getPort();
        const n = await v.objects.get<HypervisorNode>(NODES, undefined, 'hv1');
        failures.push(`round ${round}: port Bound ${JSON.stringify(cond(p, 'Bound'))}, Ready ${JSON.stringify(cond(p, 'Ready'))}; node Connected ${cond(n, 'Connected')?.status}, Ready ${cond(n, 'Ready')?.status}`);
        // Bound by now or not, the next round starts from a bound port (any write queues it again).
        await v.objects.modify<VirtualPort>(PORTS, NS, 'a', (cur) => ({ ...cur, metadata: { ...cur.metadata, labels: { round: String(round) } } }));
        await eventually(async () => cond(await getPort(), 'Bound')?.status === 'True', 15_000, 50);
      }
      await eventually(async () => cond(await getPort(), 'Ready')?.status === 'True', 15_000, 50);
    }
    process.stdout.write(`[node-recreate] ${ROUNDS - failures.length}/${ROUNDS} re-creations: port bound again within 5 s (in ${tookMs.map((t) => t.toFixed(0)).join(', ')} ms)\n${failures.join('\n')}${failures.length ? '\n' : ''}`);
    expect(failures).toEqual([]);
  }, 300_000);
});

describeOvs('chassis: a Node deleted and created again, and no Ready write to carry the binding', () => {
  let chassis: ChassisManager | undefined;
  let ovs: OvsInstance | undefined;

  afterAll(async () => {
    await chassis?.stop();
    await ovs?.stop();
  }, 60_000);

  it(`writes Bound=True itself once boundWithReadyMs is up, after each of ${ROUNDS} re-creations`, async () => {
    ovs = await startOvs({ name: `${tag()}-rd`, netns: `${tag()}-rd` });
    const objects = new ObjectStore(new MemoryStore());
    const node = () => ({ apiVersion: 'vnet.dev/v1alpha1', kind: 'Node', metadata: { name: 'hv1' }, spec: { tunnelIP: '192.168.251.2', ovsdb: `unix:${ovs!.dbSocket}` } }) as HypervisorNode;
    await objects.create<HypervisorNode>(NODES, node());
    // No pipeline: nothing carries a binding in a Ready write, the chassis writes it itself.
    const waitMs = 500;
    chassis = new ChassisManager({ objects, logger: pino({ level: 'silent' }), boundWithReadyMs: waitMs });
    await chassis.start();
    await eventually(async () => chassis!.session('hv1')?.ready, 30_000, 50);
    await eventually(async () => (await ovs!.vsctl(['list-br'])).includes('br-int'), 15_000, 50);
    const nic = `${tag()}b`;
    await ovs.vsctl(['add-port', 'br-int', nic, '--', 'set', 'Interface', nic, 'type=internal', 'external_ids:iface-id=if-b']);
    await objects.create<VirtualPort>(PORTS, { apiVersion: 'vnet.dev/v1alpha1', kind: 'VirtualPort', metadata: { name: 'b', namespace: NS }, spec: { network: 'net', node: 'hv1', interfaceId: 'if-b' } } as VirtualPort);
    const bound = async () => cond(await objects.get<VirtualPort>(PORTS, NS, 'b'), 'Bound');
    await eventually(async () => (await bound())?.status === 'True', waitMs + 10_000, 20);

    const failures: string[] = [];
    const tookMs: number[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      await objects.delete(NODES, undefined, 'hv1');
      await eventually(async () => (await bound())?.reason === 'NodeNotFound', 5000, 20);
      await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 500)));
      await objects.create<HypervisorNode>(NODES, node());
      const t0 = performance.now();
      try {
        await eventually(async () => (await bound())?.status === 'True', waitMs + 3000, 20);
        tookMs.push(performance.now() - t0);
      } catch {
        failures.push(`round ${round}: Bound ${JSON.stringify(await bound())}, session ready ${chassis.session('hv1')?.ready}`);
        await objects.modify<VirtualPort>(PORTS, NS, 'b', (cur) => ({ ...cur, metadata: { ...cur.metadata, labels: { round: String(round) } } }));
        await eventually(async () => (await bound())?.status === 'True', waitMs + 10_000, 20);
      }
    }
    process.stdout.write(`[node-recreate] chassis alone: ${ROUNDS - failures.length}/${ROUNDS} re-creations: port bound again within ${waitMs + 3000} ms (in ${tookMs.map((t) => t.toFixed(0)).join(', ')} ms)\n${failures.join('\n')}${failures.length ? '\n' : ''}`);
    expect(failures).toEqual([]);
  }, 300_000);
});
