/**
 * A node's connection-tracking table filling up, on real Open vSwitch: load-balancer
 * connections from a VM fill a table whose limit was lowered (ovs-appctl
 * dpctl/ct-set-maxconns), and the Node says so (ConntrackPressure True, ConntrackTableFull),
 * with the counts for /metrics; raised again, it has room. Before, a full table dropped new
 * connections to every VIP of the node with nothing saying why (QA-126 H4). And a network
 * holds at most its share of the table (spec.conntrack.networkShare, default 50%), so one
 * tenant filling it leaves another room (QA-133 F3).
 */
import type { HypervisorNode, LoadBalancer, VirtualNetwork } from '../../src/resources/kinds';
import { ctZone } from '../../src/pipeline/owners';
import { LOAD_BALANCERS, NETWORKS, NODES } from '../../src/store/kinds';
import { eventually } from '../support/vnetd';
import { describeOvs } from './ovsdb-helpers';
import { brIntFlows, portWithVm, startPipelineBed, type PipelineBed } from './pipeline-bed';

const NS = 'ctp';
const NS2 = 'ctp2';

/** A network with a UDP load balancer (VIP .100:53 to a backend port's 5353) in namespace ns. */
async function dnsNetwork(pb: PipelineBed, ns: string, octet: number, vni: number, suffix = '') {
  const hv = pb.bed.hypervisors[0]!;
  const net = `10.${octet}.0`;
  const hex = octet.toString(16).padStart(2, '0');
  await pb.objects.create<VirtualNetwork>(NETWORKS, { apiVersion: 'vnet.dev/v1alpha1', kind: 'VirtualNetwork', metadata: { name: 'net', namespace: ns }, spec: { subnets: [{ cidr: `${net}.0/24` }], vni } } as VirtualNetwork);
  await pb.objects.create<LoadBalancer>(LOAD_BALANCERS, {
    apiVersion: 'vnet.dev/v1alpha1',
    kind: 'LoadBalancer',
    metadata: { name: 'dns', namespace: ns },
    spec: { network: 'net', vip: `${net}.100`, mac: `0a:${hex}:00:00:00:64`, listeners: [{ protocol: 'UDP', port: 53, targetPort: 5353 }], backends: [{ port: `backend${suffix}` }] },
  } as LoadBalancer);
  const client = await portWithVm(pb, hv, ns, `client${suffix}`, `0a:${hex}:00:00:00:05`, `${net}.5`);
  const backend = await portWithVm(pb, hv, ns, `backend${suffix}`, `0a:${hex}:00:00:00:06`, `${net}.6`);
  const ofB = await backend.ofport();
  await eventually(async () => (await brIntFlows(hv)).some((l) => l.includes(`nat(dst=${net}.6:5353)`)) && (await brIntFlows(hv)).some((l) => l.includes(`in_port=${ofB}`)), 15_000, 50);
  return { client, vip: `${net}.100` };
}

describeOvs('chassis: a node whose connection-tracking table is full says so', () => {
  let pb: PipelineBed | undefined;
  /** The first network's client (the first test's). */
  let firstClient: Awaited<ReturnType<typeof dnsNetwork>>['client'] | undefined;
  /** Networks whose zone the chassis found at its limit (for their events). */
  const fullNetworks: string[] = [];
  afterAll(async () => {
    await pb?.stop();
  }, 60_000);

  it('ConntrackPressure goes True (ConntrackTableFull) when load-balancer connections reach the limit, and False again once it is raised', async () => {
    pb = await startPipelineBed({ hypervisors: 1, chassis: { onNetworkConntrackFull: (net, node, limit) => void fullNetworks.push(`${net.metadata.namespace}/${net.metadata.name} on ${node}: ${limit}`) } });
    const { bed, objects, chassis } = pb;
    const hv = bed.hypervisors[0]!;
    const { client } = await dnsNetwork(pb, NS, 79, 7901);
    firstClient = client;
    // One network may fill the whole table here (no limit per network or per namespace; the next test limits it).
    await objects.modify<HypervisorNode>(NODES, undefined, hv.name, (n) => ({ ...n, spec: { ...n.spec!, conntrack: { networkShare: 100, namespaceShare: 100 } } }));
    const pressure = async () => (await objects.get<HypervisorNode>(NODES, undefined, hv.name))?.status?.conditions?.find((c) => c.type === 'ConntrackPressure');

    await hv.ovs.appctl('ovs-vswitchd', ['dpctl/flush-conntrack']);
    await hv.ovs.appctl('ovs-vswitchd', ['dpctl/ct-set-maxconns', '8']);
    // The share reaches the watch through the Node informer: read until it has.
    await eventually(async () => (await chassis.conntrack.poll(), chassis.conntrack.usage()[0]?.networkLimit === 0), 10_000, 50);
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
    expect(chassis.conntrack.usage()).toEqual([{ node: hv.name, entries: 8, max: 8, networkLimit: 0 }]);

    // Raised: room again, at the next reading.
    await hv.ovs.appctl('ovs-vswitchd', ['dpctl/ct-set-maxconns', '3000000']);
    await chassis.conntrack.poll();
    await eventually(async () => (await pressure())?.status === 'False', 10_000, 50);
    expect(await pressure()).toMatchObject({ reason: 'ConntrackTableHasRoom', message: 'under 90% of the 3000000 connection-tracking entries in use' });
  }, 90_000);

  it('a network holds at most its share of the table: one filling its own leaves another room (QA-133 F3)', async () => {
    const { objects, chassis } = pb!;
    const hv = pb!.bed.hypervisors[0]!;
    const first = firstClient!;
    const other = await dnsNetwork(pb!, NS2, 78, 7902, '2');
    await hv.ovs.appctl('ovs-vswitchd', ['dpctl/ct-set-maxconns', '8']);
    // The default share, 50%: each network's zone may hold 4 of the 8.
    await objects.modify<HypervisorNode>(NODES, undefined, hv.name, (n) => ({ ...n, spec: { ...n.spec!, conntrack: undefined } }));
    await eventually(async () => (await chassis.conntrack.poll(), chassis.conntrack.usage()[0]?.networkLimit === 4), 10_000, 50);
    // A limit per network's zone: ovs-vswitchd 3.1 counts every zone without one against one shared default.
    expect((await hv.ovs.appctl('ovs-vswitchd', ['dpctl/ct-get-limits'])).split('\n').filter((l) => l.startsWith('zone=')).map((l) => l.replace(/,count=\d+$/, ''))).toEqual([`zone=${ctZone(7901)},limit=4`, `zone=${ctZone(7902)},limit=4`]);
    await hv.ovs.appctl('ovs-vswitchd', ['dpctl/flush-conntrack']);

    // The first network's client opens 20 connections; then the other's 3.
    await first.exec(['bash', '-c', 'for i in $(seq 1 20); do echo x > /dev/udp/10.79.0.100/53; done']);
    await other.client.exec(['bash', '-c', 'for i in $(seq 1 3); do echo x > /dev/udp/10.78.0.100/53; done']);
    const zones = await hv.ovs.appctl('ovs-vswitchd', ['dpctl/ct-get-limits', `zone=${ctZone(7901)},${ctZone(7902)}`]);
    const countOf = (vni: number) => Number(new RegExp(`zone=${ctZone(vni)},limit=\\d+,count=(\\d+)`).exec(zones)?.[1]);
    process.stdout.write(`[conntrack-pressure] limit 8, share 50%: 20 connections in one network, 3 in another: ${countOf(7901)} and ${countOf(7902)} entries\n`);
    // Without the limit the first took all 8, and the other's connections were dropped.
    expect(countOf(7901)).toBe(4);
    expect(countOf(7902)).toBe(3);
    // The full one is named at the next reading (for a Warning event on it); the other is not.
    await chassis.conntrack.poll();
    expect(fullNetworks).toEqual([`${NS}/net on ${hv.name}: 4`]);

    // A second network of the first namespace: the two split its 50% (QA-151 F2: a tenant with two networks held the whole table).
    await objects.create<VirtualNetwork>(NETWORKS, { apiVersion: 'vnet.dev/v1alpha1', kind: 'VirtualNetwork', metadata: { name: 'net2', namespace: NS }, spec: { subnets: [{ cidr: '10.77.0.0/24' }], vni: 7903 } } as VirtualNetwork);
    const limits = async () => (await hv.ovs.appctl('ovs-vswitchd', ['dpctl/ct-get-limits'])).split('\n').filter((l) => l.startsWith('zone=')).map((l) => l.replace(/,count=\d+$/, '')).sort();
    const split = [`zone=${ctZone(7901)},limit=2`, `zone=${ctZone(7902)},limit=4`, `zone=${ctZone(7903)},limit=2`].sort();
    await eventually(async () => (await chassis.conntrack.poll(), JSON.stringify(await limits()) === JSON.stringify(split)), 10_000, 50);
    process.stdout.write(`[conntrack-pressure] limit 8, a second network in ${NS}: ${(await limits()).join(' ')}\n`);
    await hv.ovs.appctl('ovs-vswitchd', ['dpctl/ct-set-maxconns', '3000000']);
    await eventually(async () => (await chassis.conntrack.poll(), chassis.conntrack.usage()[0]?.networkLimit === 1_500_000), 10_000, 50);
  }, 90_000);
});
