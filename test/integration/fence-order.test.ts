/**
 * The order of a fenced leader's two claims on a hypervisor: its database first, its
 * switch's OpenFlow master role only once the database records the generation. So the
 * generation a database records is never below the switch's, and a leader or agent that
 * reads the database alone before claiming (agents do: node-claim.ts) claims above both.
 *
 * The case that shows it: a newer agent recorded generation 9 in the database and died
 * before it claimed the switch, which still holds 5. An older process, generation 7, then
 * starts on the node. Its database claim is refused (fenced), and it must not claim the
 * switch either: 7 is above the switch's 5, which the switch would accept, and its first
 * bundle would overwrite the flows with what a stale process compiled. Then a process
 * with generation 10 claims both and adopts the flows in place.
 *
 * The production ChassisManager and PipelineReconciler over an in-memory store, real
 * ovsdb-server and ovs-vswitchd.
 */
import pino from 'pino';
import { ChassisManager } from '../../src/chassis/chassis-manager';
import type { OvsdbFencedError } from '../../src/chassis/ovsdb-fence';
import { createConnection, type OpenFlowConnection, type RoleMessage } from '../../src/openflow';
import { PipelineReconciler } from '../../src/reconcile/kinds/pipeline.reconciler';
import { MemoryStore } from '../../src/reconcile/testing/memory-store';
import type { HypervisorNode } from '../../src/resources/kinds';
import { NODES } from '../../src/store/kinds';
import { ObjectStore } from '../../src/store/object-store';
import { runPrefix, startOvs, type OvsInstance } from '../harness/ovs';
import { eventually } from '../support/vnetd';
import { describeOvs } from './ovsdb-helpers';

describeOvs('fencing order: a database claim before the switch claim', () => {
  let ovs: OvsInstance;
  let probe: OpenFlowConnection | undefined;
  const running: Array<{ chassis: ChassisManager; pipeline: PipelineReconciler }> = [];
  const objects = new ObjectStore(new MemoryStore());
  const logger = pino({ level: 'silent' });

  beforeAll(async () => {
    ovs = await startOvs({ name: 'fence-order', netns: `${runPrefix()}-fo` });
    await objects.create<HypervisorNode>(NODES, { apiVersion: 'vnet.dev/v1alpha1', kind: 'Node', metadata: { name: 'hv1' }, spec: { tunnelIP: '192.168.252.1', ovsdb: `unix:${ovs.dbSocket}` } } as HypervisorNode);
  }, 60_000);
  afterAll(async () => {
    await probe?.close();
    for (const r of running) await stop(r);
    await ovs?.stop();
  });

  const stop = async (r: (typeof running)[number]) => {
    await r.pipeline.stop();
    await r.chassis.stop();
  };
  const start = async (generation: bigint, onFenced?: (err: OvsdbFencedError) => void) => {
    const chassis = new ChassisManager({ objects, logger, generation, onFenced: (_node, err) => onFenced?.(err) });
    const pipeline = new PipelineReconciler({ objects, logger, chassis, readiness: 'off', openflowGeneration: generation, echoIntervalMs: 500 });
    const r = { chassis, pipeline };
    running.push(r);
    await chassis.start();
    await pipeline.start();
    return r;
  };
  const switchGeneration = async (): Promise<bigint> => {
    probe ??= createConnection(`unix:${ovs.runDir}/br-int.vnetd`);
    await probe.ready();
    return (await probe.request<RoleMessage>({ type: 'role_request', role: 'nochange', generationId: 0n })).generationId;
  };
  const recorded = async (): Promise<string> => (await ovs.vsctl(['get', 'Open_vSwitch', '.', 'external_ids:vnetd-generation'])).trim().replace(/"/g, '');
  const flows = async (): Promise<string[]> =>
    (await ovs.ofctl(['-O', 'OpenFlow13', 'dump-flows', '--no-stats', `unix:${ovs.bridgeMgmtSocket('br-int')}`])).split('\n').filter((l) => l.includes('actions='));

  it('a process fenced by the database never claims the switch, even with a generation above the switch\'s', async () => {
    const first = await start(5n);
    await eventually(async () => first.pipeline.agent('hv1')?.inSync === true, 30_000, 50);
    expect(await recorded()).toBe('5');
    expect(await switchGeneration()).toBe(5n);
    const installed = await flows();
    expect(installed.length).toBeGreaterThan(0);
    await stop(first);

    // A newer process recorded 9 and died before it claimed the switch.
    await ovs.vsctl(['set', 'Open_vSwitch', '.', 'external_ids:vnetd-generation=9']);
    const fencedBy: OvsdbFencedError[] = [];
    const stale = await start(7n, (err) => fencedBy.push(err));
    await eventually(async () => fencedBy.length > 0, 15_000, 20);
    expect(fencedBy[0]).toMatchObject({ generation: 7n, databaseGeneration: 9n });
    // Long enough for a pipeline that does not wait to connect, compile and claim (tens of ms here).
    await new Promise((r) => setTimeout(r, 1500));
    expect(await switchGeneration()).toBe(5n);
    expect(stale.pipeline.agent('hv1')).toBeUndefined();
    expect(await flows()).toEqual(installed);
    await stop(stale);

    // Above both: claims the database, then the switch, and finds every flow right.
    const next = await start(10n);
    await eventually(async () => next.pipeline.agent('hv1')?.inSync === true, 30_000, 50);
    expect(await recorded()).toBe('10');
    expect(await switchGeneration()).toBe(10n);
    expect(await flows()).toEqual(installed);
    expect(next.pipeline.agent('hv1')?.manager.counters().lastSyncUnchangedFlows).toBe(installed.length);
    process.stdout.write(`[fence-order] generation 7 fenced by 9 in the database left the switch at 5 and ${installed.length} flows untouched; 10 claimed both and adopted them\n`);
  }, 90_000);
});
