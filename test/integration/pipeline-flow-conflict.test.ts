/**
 * One object's clashing flows cannot hold a node back (on real Open vSwitch): two load
 * balancers of one network stored with the same MAC (admission refuses that now; objects
 * stored before it did, or written past it, may still) want the same flows. Before, every
 * update of the node then failed as a whole and was retried forever: no other tenant's
 * port got its flows on that node. Now the later load balancer's flows are left out (its
 * Ready says FlowConflict), every other object's go in, and the left-out flows go in once
 * the other load balancer is gone.
 */
import type { LoadBalancer, VirtualNetwork, VirtualPort } from '../../src/resources/kinds';
import { LOAD_BALANCERS, NETWORKS, PORTS } from '../../src/store/kinds';
import type { ObjectStore } from '../../src/store/object-store';
import { eventually } from '../support/vnetd';
import { describeOvs } from './ovsdb-helpers';
import { brIntFlows as flows, plugNic, startPipelineBed, type PipelineBed } from './pipeline-bed';

/** A load balancer of network "net" in ns stored with this MAC, past admission (which refuses a MAC another holds). */
function lbWithMac(objects: ObjectStore, ns: string, name: string, vip: string, mac: string): Promise<unknown> {
  return objects.create<LoadBalancer>(LOAD_BALANCERS, {
    apiVersion: 'vnet.dev/v1alpha1',
    kind: 'LoadBalancer',
    metadata: { name, namespace: ns },
    spec: { network: 'net', vip, mac, listeners: [{ protocol: 'TCP', port: 80, targetPort: 8080 }], backends: [] },
  } as LoadBalancer);
}

describeOvs('pipeline: an object whose flows clash with another\'s is left out; the node goes on', () => {
  let pb: PipelineBed | undefined;
  let pb2: PipelineBed | undefined;
  afterAll(async () => {
    await pb?.stop();
    await pb2?.stop();
  }, 60_000);

  it('two load balancers with one MAC: the later one is left out, another tenant\'s port still gets its flows, and the left-out one goes in once the first is deleted', async () => {
    pb = await startPipelineBed({ hypervisors: 1 });
    const { bed, objects } = pb;
    const hv = bed.hypervisors[0]!;

    const network = (ns: string, cidr: string, vni: number) =>
      objects.create<VirtualNetwork>(NETWORKS, { apiVersion: 'vnet.dev/v1alpha1', kind: 'VirtualNetwork', metadata: { name: 'net', namespace: ns }, spec: { subnets: [{ cidr }], vni } } as VirtualNetwork);
    const port = async (ns: string, name: string, mac: string, ip: string): Promise<number> => {
      await objects.create<VirtualPort>(PORTS, { apiVersion: 'vnet.dev/v1alpha1', kind: 'VirtualPort', metadata: { name, namespace: ns }, spec: { network: 'net', node: hv.name, mac, ips: [ip], interfaceId: `${bed.prefix}-${ns}-${name}` } } as VirtualPort);
      return plugNic(hv, `${bed.prefix}${ns.slice(0, 1)}${name}`, `${bed.prefix}-${ns}-${name}`);
    };
    const lb = (name: string, vip: string) => lbWithMac(objects, 'a', name, vip, '02:4c:42:00:00:aa');

    // Tenant a: a port (so its network is on the node) and two load balancers sharing a MAC.
    await network('a', '10.71.0.0/24', 7101);
    await port('a', 'p', '0a:71:00:00:00:01', '10.71.0.10');
    await lb('first', '10.71.0.100');
    await eventually(async () => (await flows(hv)).some((f) => f.includes('arp_tpa=10.71.0.100')), 15_000, 50);
    await lb('second', '10.71.0.101');
    // Tenant b, afterwards, on the same node: its port's flows go in all the same.
    await network('b', '10.72.0.0/24', 7201);
    const ofB = await port('b', 'q', '0a:72:00:00:00:01', '10.72.0.10');
    await eventually(async () => (await flows(hv)).some((f) => f.includes(`in_port=${ofB}`)), 15_000, 50);
    // The second load balancer's flows are left out (its VIP is not answered); the first's stay.
    const now = await flows(hv);
    expect(now.some((f) => f.includes('arp_tpa=10.71.0.100'))).toBe(true);
    expect(now.some((f) => f.includes('arp_tpa=10.71.0.101'))).toBe(false);

    // The first one goes: within a retry (5 s) the second's flows go in.
    await objects.delete<LoadBalancer>(LOAD_BALANCERS, 'a', 'first');
    await eventually(async () => {
      const f = await flows(hv);
      return f.some((l) => l.includes('arp_tpa=10.71.0.101')) && !f.some((l) => l.includes('arp_tpa=10.71.0.100'));
    }, 15_000, 100);
  }, 120_000);
  it('a left-out load balancer deleted: the node is no longer retried, and its owner id goes (review 121: retried in full every 5 s for ever)', async () => {
    pb2 = await startPipelineBed({ hypervisors: 1, pipeline: { ownerIdSweepMs: 200 } });
    const { bed, objects, pipeline } = pb2;
    const hv = bed.hypervisors[0]!;
    await objects.create<VirtualNetwork>(NETWORKS, { apiVersion: 'vnet.dev/v1alpha1', kind: 'VirtualNetwork', metadata: { name: 'net', namespace: 'c' }, spec: { subnets: [{ cidr: '10.73.0.0/24' }], vni: 7301 } } as VirtualNetwork);
    await objects.create<VirtualPort>(PORTS, { apiVersion: 'vnet.dev/v1alpha1', kind: 'VirtualPort', metadata: { name: 'p', namespace: 'c' }, spec: { network: 'net', node: hv.name, mac: '0a:73:00:00:00:01', ips: ['10.73.0.10'], interfaceId: `${bed.prefix}-c-p` } } as VirtualPort);
    await plugNic(hv, `${bed.prefix}cp`, `${bed.prefix}-c-p`);
    const lb = (name: string, vip: string) => lbWithMac(objects, 'c', name, vip, '02:4c:42:00:00:cc');
    await lb('held', '10.73.0.100');
    await eventually(async () => (await flows(hv)).some((f) => f.includes('arp_tpa=10.73.0.100')), 15_000, 50);
    const idsBefore = pipeline.ownerIdCount();
    await lb('clash', '10.73.0.101');
    // Left out from its first flows, and retried (a full compile each time) while it clashes.
    const full = () => pipeline.agent(hv.name)!.compiles.full;
    const f0 = full();
    await eventually(async () => full() > f0 + 1, 15_000, 100);
    expect((await flows(hv)).some((f) => f.includes('arp_tpa=10.73.0.101'))).toBe(false);
    await objects.delete<LoadBalancer>(LOAD_BALANCERS, 'c', 'clash');
    await eventually(async () => pipeline.ownerIdCount() === idsBefore, 10_000, 100);
    // No more retries: after the one already queued (within a retry period, 5 s), no full
    // compile over more than a retry period.
    await new Promise((r) => setTimeout(r, 5500));
    const f1 = full();
    await new Promise((r) => setTimeout(r, 6000));
    expect(full()).toBe(f1);
    expect((await flows(hv)).some((f) => f.includes('arp_tpa=10.73.0.100'))).toBe(true);
  }, 120_000);
});
