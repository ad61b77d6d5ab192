/**
 * br-phy's switching flow on real Open vSwitch: deleted by hand (ovs-ofctl del-flows br-phy),
 * vnetd puts OVS's own "priority=0 actions=NORMAL" back within an audit period and says so;
 * before, nothing crossed the underlay until someone restored it (QA-155 F3: 27 s, by hand).
 * Traffic between two hypervisors' VMs comes back with it.
 */
import pino from 'pino';
import type { VirtualNetwork } from '../../src/resources/kinds';
import { NETWORKS } from '../../src/store/kinds';
import { eventually } from '../support/vnetd';
import { describeOvs } from './ovsdb-helpers';
import { portWithVm, startPipelineBed, type PipelineBed } from './pipeline-bed';

describeOvs('pipeline: br-phy without flows gets its switching flow back', () => {
  let pb: PipelineBed | undefined;
  afterAll(async () => {
    await pb?.stop();
  }, 60_000);

  it('puts priority=0 actions=NORMAL back on a br-phy left with no flow, and the overlay works again', async () => {
    const lines: string[] = [];
    pb = await startPipelineBed({ hypervisors: 2, pipeline: { flowAuditMs: 300, logger: pino({ level: 'info' }, { write: (l: string) => void lines.push(l) }) } });
    await pb.bed.underlayReady();
    const [hv1, hv2] = pb.bed.hypervisors as [(typeof pb.bed.hypervisors)[0], (typeof pb.bed.hypervisors)[0]];
    await pb.objects.create<VirtualNetwork>(NETWORKS, { apiVersion: 'vnet.dev/v1alpha1', kind: 'VirtualNetwork', metadata: { name: 'net', namespace: 'ubg' }, spec: { subnets: [{ cidr: '10.83.0.0/24' }], vni: 8301 } } as VirtualNetwork);
    const a = await portWithVm(pb, hv1, 'ubg', 'a', '0a:83:00:00:00:05', '10.83.0.5');
    await portWithVm(pb, hv2, 'ubg', 'b', '0a:83:00:00:00:06', '10.83.0.6');
    const ping = () => a.exec(['ping', '-c1', '-W1', '10.83.0.6']).then(() => true, () => false);
    await eventually(ping, 20_000, 200);

    const phy = `unix:${hv2.ovs.bridgeMgmtSocket('br-phy')}`;
    const t0 = performance.now();
    await hv2.ovs.ofctl(['-O', 'OpenFlow13', 'del-flows', phy]);
    // (Not looked at in between: the guard, every 300 ms here, put it back within 4 ms in a CI run.)
    await eventually(async () => (await hv2.ovs.ofctl(['-O', 'OpenFlow13', 'dump-flows', phy])).includes('priority=0 actions=NORMAL'), 10_000, 50);
    await eventually(ping, 10_000, 100);
    process.stdout.write(`[underlay-flows] br-phy's flows deleted on hv2: NORMAL back and a ping across after ${(performance.now() - t0).toFixed(0)} ms\n`);
    expect(lines.map((l) => (JSON.parse(l) as { event?: string }).event).filter((e) => e === 'chassis.underlay_flows_repaired')).toHaveLength(1);
  }, 90_000);
});
