/**
 * A node's underlay MTU against its networks', on real Open vSwitch: an uplink of br-phy set
 * smaller than the largest network MTU plus VXLAN's 50 bytes turns the Node's UnderlayMTU
 * False, naming the uplink, the network and the fix; put back, True again. Before, full-size
 * frames between hypervisors were dropped while the Node, its tunnels and trace all said
 * fine (QA-155 F4).
 */
import type { HypervisorNode, VirtualNetwork } from '../../src/resources/kinds';
import { NETWORKS, NODES } from '../../src/store/kinds';
import { eventually } from '../support/vnetd';
import { describeOvs } from './ovsdb-helpers';
import { startPipelineBed, type PipelineBed } from './pipeline-bed';

describeOvs('chassis: a Node says whether its underlay carries its networks\' frames', () => {
  let pb: PipelineBed | undefined;
  afterAll(async () => {
    await pb?.stop();
  }, 60_000);

  it('UnderlayMTU goes False when an uplink is smaller than the largest network MTU encapsulated, and True again when it is raised', async () => {
    pb = await startPipelineBed({ hypervisors: 1 });
    const { bed, objects } = pb;
    await bed.underlayReady();
    const hv = bed.hypervisors[0]!;
    await objects.create<VirtualNetwork>(NETWORKS, { apiVersion: 'vnet.dev/v1alpha1', kind: 'VirtualNetwork', metadata: { name: 'big', namespace: 'mtu' }, spec: { subnets: [{ cidr: '10.81.0.0/24' }], vni: 8101, mtu: 1450 } } as VirtualNetwork);
    const condition = async () => (await objects.get<HypervisorNode>(NODES, undefined, hv.name))?.status?.conditions?.find((c) => c.type === 'UnderlayMTU');
    await eventually(async () => (await condition())?.status === 'True', 15_000, 100).catch(async (e: unknown) => {
      process.stdout.write(`[underlay-mtu] UnderlayMTU not True: ${JSON.stringify((await objects.get<HypervisorNode>(NODES, undefined, hv.name))?.status?.conditions)} ${await hv.ovs.vsctl(['--columns=name,type,mtu', 'list', 'Interface'])}\n`);
      throw e;
    });
    expect((await condition())?.message).toContain(`${hv.uplink} 1500`);

    const t0 = performance.now();
    await hv.exec(['ip', 'link', 'set', hv.uplink, 'mtu', '1400']);
    try {
      const small = await eventually(async () => {
        const c = await condition();
        return c?.status === 'False' ? c : undefined;
      }, 15_000, 100);
      process.stdout.write(`[underlay-mtu] uplink at 1400: Node UnderlayMTU=False ${small.reason} after ${(performance.now() - t0).toFixed(0)} ms: ${small.message}\n`);
      expect(small.reason).toBe('UnderlayMTUTooSmall');
      expect(small.message).toBe(`${hv.uplink} has MTU 1400 on br-phy, but network mtu/big's MTU 1450 needs 1500 on the underlay (VXLAN or GENEVE adds 50): frames larger than 1350 bytes between hypervisors are dropped (vnetd neither fragments nor answers too-big); raise it (ip link set ${hv.uplink} mtu 1500) or lower the network's spec.mtu`);
      // The network made to fit instead: True again.
      await objects.modify<VirtualNetwork>(NETWORKS, 'mtu', 'big', (n) => ({ ...n, spec: { ...n.spec!, mtu: 1350 } }));
      await eventually(async () => (await condition())?.status === 'True', 15_000, 100);
    } finally {
      await hv.exec(['ip', 'link', 'set', hv.uplink, 'mtu', '1500']);
    }
  }, 90_000);
});
