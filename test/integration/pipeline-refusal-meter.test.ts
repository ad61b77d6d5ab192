/**
 * The refusal meter on real Open vSwitch: a load balancer without backends sends new
 * connections to vnetd through meter 1 (1,000 packets a second, burst 200), which vnetd puts
 * on the bridge before its flows; the flows that use it stay as they are through verifies (a
 * dump compared with the desired flows: no repair), and a vnetd restart modifies the meter the
 * bridge kept rather than failing to add it (QA-133 F2: a VM's flood reached vnetd whole).
 */
import pino from 'pino';
import type { LoadBalancer, VirtualNetwork } from '../../src/resources/kinds';
import { LOAD_BALANCERS, NETWORKS } from '../../src/store/kinds';
import { eventually } from '../support/vnetd';
import { describeOvs } from './ovsdb-helpers';
import { brIntFlows, portWithVm, startPipelineBed, type PipelineBed } from './pipeline-bed';

const NS = 'rfm';

describeOvs('pipeline: refusals go to vnetd through a meter', () => {
  let pb: PipelineBed | undefined;
  const warnings: string[] = [];
  afterAll(async () => {
    await pb?.stop();
  }, 60_000);

  it('puts the meter on the bridge before the refusal flows, which verifies leave alone; a restarted pipeline keeps it', async () => {
    pb = await startPipelineBed({ hypervisors: 1, pipeline: { flowVerifyMs: 300, logger: pino({ level: 'warn' }, { write: (line: string) => void warnings.push(line) }) } });
    const { bed, objects } = pb;
    const hv = bed.hypervisors[0]!;
    await objects.create<VirtualNetwork>(NETWORKS, { apiVersion: 'vnet.dev/v1alpha1', kind: 'VirtualNetwork', metadata: { name: 'net', namespace: NS }, spec: { subnets: [{ cidr: '10.77.0.0/24' }], vni: 7701 } } as VirtualNetwork);
    await objects.create<LoadBalancer>(LOAD_BALANCERS, {
      apiVersion: 'vnet.dev/v1alpha1',
      kind: 'LoadBalancer',
      metadata: { name: 'empty', namespace: NS },
      spec: { network: 'net', vip: '10.77.0.100', mac: '0a:77:00:00:00:64', listeners: [{ protocol: 'UDP', port: 53, targetPort: 5353 }], backends: [] },
    } as LoadBalancer);
    // A port of the network on the node: the load balancer is installed where its network is.
    await portWithVm(pb, hv, NS, 'client', '0a:77:00:00:00:05', '10.77.0.5');
    const refusals = async () => (await brIntFlows(hv)).filter((l) => l.includes('nw_dst=10.77.0.100') && l.includes('CONTROLLER'));
    const installed = await eventually(async () => ((await refusals()).length >= 4 ? refusals() : undefined), 15_000, 50).catch(() => {
      throw new Error(`refusal flows not installed: ${warnings.join('')}`);
    });
    // The listener's refusal and the three of ports no listener has: each through the meter.
    for (const l of installed) expect(l).toMatch(/actions=meter:1,CONTROLLER:128$/);
    const meters = await hv.ovs.ofctl(['-O', 'OpenFlow13', 'dump-meters', `unix:${hv.ovs.bridgeMgmtSocket('br-int')}`]);
    expect(meters).toMatch(/meter=1 pktps burst stats bands=\s*type=drop rate=1000 burst_size=200/);
    // Several verifies later: nothing repaired (the dumped meter instruction is the desired one).
    await new Promise((r) => setTimeout(r, 1500));
    expect(warnings.filter((w) => w.includes('drift_repaired'))).toEqual([]);

    // A pipeline of a restarted vnetd finds the meter there: modified, not refused, flows kept.
    await pb.pipeline.stop();
    const { PipelineReconciler } = await import('../../src/reconcile/kinds/pipeline.reconciler');
    const again = new PipelineReconciler({ objects, logger: pino({ level: 'warn' }, { write: (line: string) => void warnings.push(line) }), chassis: pb.chassis, readiness: 'off', echoIntervalMs: 500, flowVerifyMs: 300 });
    await again.start();
    try {
      await new Promise((r) => setTimeout(r, 1500));
      expect((await refusals()).filter((l) => l.endsWith('actions=meter:1,CONTROLLER:128'))).toHaveLength(4);
      expect(warnings.filter((w) => w.includes('meter_failed') || w.includes('drift_repaired'))).toEqual([]);
    } finally {
      await again.stop();
    }
  }, 90_000);

  it('puts back meters deleted by hand, and the flows that use them, within seconds: the audit\'s full sync failed on the missing meters for good (QA-155 F1)', async () => {
    await pb?.stop();
    const lines: string[] = [];
    pb = await startPipelineBed({ hypervisors: 1, pipeline: { flowAuditMs: 300, logger: pino({ level: 'info' }, { write: (line: string) => void lines.push(line) }) } });
    const { bed, objects } = pb;
    const hv = bed.hypervisors[0]!;
    await objects.create<VirtualNetwork>(NETWORKS, { apiVersion: 'vnet.dev/v1alpha1', kind: 'VirtualNetwork', metadata: { name: 'net', namespace: NS }, spec: { subnets: [{ cidr: '10.78.0.0/24' }], vni: 7801 } } as VirtualNetwork);
    await objects.create<LoadBalancer>(LOAD_BALANCERS, {
      apiVersion: 'vnet.dev/v1alpha1',
      kind: 'LoadBalancer',
      metadata: { name: 'empty', namespace: NS },
      spec: { network: 'net', vip: '10.78.0.100', mac: '0a:78:00:00:00:64', listeners: [{ protocol: 'UDP', port: 53, targetPort: 5353 }], backends: [] },
    } as LoadBalancer);
    await portWithVm(pb, hv, NS, 'client', '0a:78:00:00:00:05', '10.78.0.5');
    const sock = `unix:${hv.ovs.bridgeMgmtSocket('br-int')}`;
    const metered = async () => (await brIntFlows(hv)).filter((l) => l.includes('meter:1')).length;
    const before = await eventually(async () => ((await metered()) >= 4 ? metered() : undefined), 15_000, 50);
    // A colleague's clean-up: OVS deletes the flows that use the meters too; nothing reconnects.
    const t0 = performance.now();
    await hv.ovs.ofctl(['-O', 'OpenFlow13', 'del-meters', sock]);
    expect(await metered()).toBe(0);
    await eventually(async () => (await metered()) === before, 15_000, 100);
    const backMs = performance.now() - t0;
    expect(await hv.ovs.ofctl(['-O', 'OpenFlow13', 'dump-meters', sock])).toMatch(/meter=1 pktps/);
    const events = lines.map((l) => (JSON.parse(l) as { event?: string }).event);
    process.stdout.write(`[refusal-meter] meters deleted by hand: meters and ${before} metered flows back in ${backMs.toFixed(0)} ms; sync_failed logged ${events.filter((e) => e === 'pipeline.sync_failed').length}x\n`);
    // Said at warn once, and its end.
    expect(events.filter((e) => e === 'pipeline.sync_failed').length).toBeGreaterThanOrEqual(1);
    expect(events.filter((e) => e === 'pipeline.sync_failed').length).toBeLessThanOrEqual(2);
    expect(events).toContain('pipeline.sync_recovered');
    expect(pb.pipeline.agent(hv.name)?.inSync).toBe(true);
  }, 90_000);
});
