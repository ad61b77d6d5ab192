/**
 * A node's connection-tracking table filling up, on real Open vSwitch: load-balancer
 * connections from a VM fill a table whose limit was lowered (ovs-appctl
 * dpctl/ct-set-maxconns), and the Node says so (ConntrackPressure True, ConntrackTableFull),
 * with the counts for /metrics; raised again, it has room. Before, a full table dropped new
 * connections to every VIP of the node with nothing saying why (QA-126 H4).
 */
import type { HypervisorNode, LoadBalancer, VirtualNetwork } from '../../src/resources/kinds';
import { LOAD_BALANCERS, NETWORKS, NODES } from '../../src/store/kinds';
import { eventually } from '../support/vnetd';
import { describeOvs } from './ovsdb-helpers';
import { brIntFlows, portWithVm, startPipelineBed, type PipelineBed } from './pipeline-bed';

const NS = 'ctp';

describeOvs('chassis: a node whose connection-tracking table is full says so', () => {
  let pb: PipelineBed | undefined;
  afterAll(async () => {
    await pb?.stop();
  }, 60_000);

  it('ConntrackPressure goes True (ConntrackTableFull) when load-balancer connections reach the limit, and False again once it is raised', async () => {
    pb = await startPipelineBed({ hypervisors: 1 });
    const { bed, objects, chassis } = pb;
    const hv = bed.hypervisors[0]!;
    await objects.create<VirtualNetwork>(NETWORKS, { apiVersion: 'vnet.dev/v1alpha1', kind: 'VirtualNetwork', metadata: { name: 'net', namespace: NS }, spec: { subnets: [{ cidr: '10.79.0.0/24' }], vni: 7901 } } as VirtualNetwork);
    await objects.create<LoadBalancer>(LOAD_BALANCERS, {
      apiVersion: 'vnet.dev/v1alpha1',
      kind: 'LoadBalancer',
      metadata: { name: 'dns', namespace: NS },
      spec: { network: 'net', vip: '10.79.0.100', mac: '0a:79:00:00:00:64', listeners: [{ protocol: 'UDP', port: 53, targetPort: 5353 }], backends: [{ port: 'backend' }] },
    } as LoadBalancer);
    const client = await portWithVm(pb, hv, NS, 'client', '0a:79:00:00:00:05', '10.79.0.5');
    const backend = await portWithVm(pb, hv, NS, 'backend', '0a:79:00:00:00:06', '10.79.0.6');
    const ofB = await backend.ofport();
    await eventually(async () => (await brIntFlows(hv)).some((l) => l.includes('nat(dst=10.79.0.6:5353)')) && (await brIntFlows(hv)).some((l) => l.includes(`in_port=${ofB}`)), 15_000, 50);
    const pressure = async () => (await objects.get<HypervisorNode>(NODES, undefined, hv.name))?.status?.conditions?.find((c) => c.type === 'ConntrackPressure');

    await hv.ovs.appctl('ovs-vswitchd', ['dpctl/flush-conntrack']);
    await hv.ovs.appctl('ovs-vswitchd', ['dpctl/ct-set-maxconns', '8']);
    await chassis.conntrack.poll();
    // Read at start already (limit 3000000): the new limit is said once this reading is written.
    await eventually(async () => (await pressure())?.message === 'under 90% of the 8 connection-tracking entries in use', 10_000, 50);
    expect(await pressure()).toMatchObject({ status: 'False', reason: 'ConntrackTableHasRoom' });

    // 20 datagrams, each from a socket of its own (its own source port): a connection each, past the limit of 8.
    await client.exec(['bash', '-c', 'for i in $(seq 1 20); do echo x > /dev/udp/10.79.0.100/53; done']);
    const entries = Number((await hv.ovs.appctl('ovs-vswitchd', ['dpctl/ct-get-nconns'])).trim());
    await chassis.conntrack.poll();
    await eventually(async () => (await pressure())?.status === 'True', 10_000, 50);
    const full = (await pressure())!;
    process.stdout.write(`[conntrack-pressure] limit 8, 20 connections sent: ${entries} entries; Node ${full.type}=${full.status} ${full.reason}\n`);
    expect(entries).toBe(8);
    expect(full).toMatchObject({ status: 'True', reason: 'ConntrackTableFull' });
    expect(full.message).toMatch(/^all 8 connection-tracking entries are in use: new connections to load balancers on this node are dropped/);
    expect(chassis.conntrack.usage()).toEqual([{ node: hv.name, entries: 8, max: 8 }]);

    // Raised: room again, at the next reading.
    await hv.ovs.appctl('ovs-vswitchd', ['dpctl/ct-set-maxconns', '3000000']);
    await chassis.conntrack.poll();
    await eventually(async () => (await pressure())?.status === 'False', 10_000, 50);
    expect(await pressure()).toMatchObject({ reason: 'ConntrackTableHasRoom', message: 'under 90% of the 3000000 connection-tracking entries in use' });
  }, 90_000);
});
