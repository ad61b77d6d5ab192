/**
 * A hypervisor whose ovsdb-server dies forwards nothing on the userspace datapath (its
 * ovs-vswitchd spins without its database, and its OpenFlow connection goes with it): on real
 * Open vSwitch, the Node says SwitchUnreachable (not only NotConnected) and the port bound there
 * is not Ready, saying so; with ovsdb-server back, both are Ready again. Before, the Node said
 * NotConnected and its ports, networks and load balancers stayed Ready=True while nothing got
 * through (QA-131).
 */
import { getCondition, setCondition } from '../../src/reconcile/conditions';
import type { Condition, KubeObject } from '../../src/resources/object';
import type { HypervisorNode, VirtualNetwork, VirtualPort } from '../../src/resources/kinds';
import { NETWORKS, NODES, PORTS } from '../../src/store/kinds';
import { eventually } from '../support/vnetd';
import { describeOvs } from './ovsdb-helpers';
import { plugNic, startPipelineBed, type PipelineBed } from './pipeline-bed';

const NS = 'dblost';

describeOvs('pipeline: a node whose ovsdb-server dies', () => {
  let pb: PipelineBed | undefined;
  let down = false;
  afterAll(async () => {
    if (down) await pb?.bed.hypervisors[0]!.ovs.restartOvsdbServer().catch(() => undefined);
    await pb?.stop();
  }, 60_000);

  it('says SwitchUnreachable, and its port is not Ready until ovsdb-server is back (QA-131: Ready=True while nothing got through)', async () => {
    pb = await startPipelineBed({ hypervisors: 1, pipeline: { readiness: 'local' } });
    const { bed, objects } = pb;
    const hv = bed.hypervisors[0]!;
    type WithConditions = KubeObject<unknown, { conditions?: Condition[] }>;
    await objects.create<VirtualNetwork>(NETWORKS, { apiVersion: 'vnet.dev/v1alpha1', kind: 'VirtualNetwork', metadata: { name: 'net', namespace: NS }, spec: { subnets: [{ cidr: '10.81.0.0/24' }], vni: 8101 } } as VirtualNetwork);
    await objects.create<VirtualPort>(PORTS, { apiVersion: 'vnet.dev/v1alpha1', kind: 'VirtualPort', metadata: { name: 'p', namespace: NS }, spec: { network: 'net', node: hv.name, mac: '0a:81:00:00:00:01', ips: ['10.81.0.10'], interfaceId: `${bed.prefix}-p` } } as VirtualPort);
    // Addresses as IPAM would say (there is no IPAM here).
    await objects.modify<WithConditions>(PORTS, NS, 'p', (cur) => ({ ...cur, status: { ...cur.status, conditions: setCondition(cur.status?.conditions, { type: 'AddressesAllocated', status: 'True', reason: 'Allocated', message: 'allocated' }) } }), { subresource: 'status' });
    await plugNic(hv, `${bed.prefix}p`, `${bed.prefix}-p`);
    const portReady = async () => getCondition((await objects.get<WithConditions>(PORTS, NS, 'p'))?.status?.conditions, 'Ready');
    const nodeReady = async () => getCondition((await objects.get<HypervisorNode>(NODES, undefined, hv.name))?.status?.conditions, 'Ready');
    await eventually(async () => (await portReady())?.status === 'True', 15_000, 50);

    const t0 = performance.now();
    down = true;
    await hv.ovs.killOvsdbServer('SIGKILL');
    const node = await eventually(async () => ((await nodeReady())?.reason === 'SwitchUnreachable' ? nodeReady() : undefined), 30_000, 100);
    const port = await eventually(async () => ((await portReady())?.status === 'False' ? portReady() : undefined), 15_000, 100);
    const saidMs = performance.now() - t0;
    process.stdout.write(`[ovsdb-lost] ovsdb-server killed: Node ${node?.reason} and port Ready=${port?.status} ${port?.reason} after ${saidMs.toFixed(0)} ms (${node?.message})\n`);
    expect(node).toMatchObject({ status: 'False', reason: 'SwitchUnreachable', message: expect.stringContaining('its OVSDB connection is lost') });
    expect(port).toMatchObject({ status: 'False', reason: 'SwitchUnreachable' });

    await hv.ovs.restartOvsdbServer();
    down = false;
    await eventually(async () => (await nodeReady())?.status === 'True' && (await portReady())?.status === 'True', 30_000, 100);
  }, 90_000);
});
