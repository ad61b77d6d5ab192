/**
 * Flow owner ids are forgotten once their objects are gone from the model and from every
 * node (QA-115: a controller in service kept one id per port, load balancer and shared pair
 * MAC it had ever seen, ~150 bytes each, for ever). The production PipelineReconciler over an
 * in-memory store, programming a test bed's real Open vSwitch (two hypervisors).
 */
import { MemoryStore } from '../../src/reconcile/testing/memory-store';
import type { LoadBalancer, VirtualNetwork, VirtualPort } from '../../src/resources/kinds';
import { LOAD_BALANCERS, NETWORKS, PORTS } from '../../src/store/kinds';
import { ObjectStore } from '../../src/store/object-store';
import type { Hypervisor } from '../harness/testbed';
import { eventually } from '../support/vnetd';
import { describeOvs } from './ovsdb-helpers';
import { brIntFlows as flows, plugNic as plug, startPipelineBed, type PipelineBed } from './pipeline-bed';

const NS = 'ids';

describeOvs('pipeline: flow owner ids of deleted objects', () => {
  let pb: PipelineBed | undefined;

  afterAll(async () => {
    await pb?.stop();
  }, 60_000);

  it('are released once no node has their flows, and only then; the objects left keep theirs', async () => {
    const objects = new ObjectStore(new MemoryStore());
    pb = await startPipelineBed({ hypervisors: 2, objects, pipeline: { ownerIdSweepMs: 100 } });
    const { bed, pipeline } = pb;
    const [hv1, hv2] = bed.hypervisors as [Hypervisor, Hypervisor];
    await objects.create<VirtualNetwork>(NETWORKS, { apiVersion: 'vnet.dev/v1alpha1', kind: 'VirtualNetwork', metadata: { name: 'net', namespace: NS }, spec: { subnets: [{ cidr: '10.78.0.0/24' }], vni: 7801 } } as VirtualNetwork);
    const port = (name: string, node: string, n: number, pairs: Array<{ ip: string; mac: string }> = []) =>
      objects.create<VirtualPort>(PORTS, {
        apiVersion: 'vnet.dev/v1alpha1',
        kind: 'VirtualPort',
        metadata: { name, namespace: NS },
        spec: { network: 'net', node, mac: `0a:78:00:00:00:${n.toString(16).padStart(2, '0')}`, ips: [`10.78.0.${n}`], interfaceId: `${bed.prefix}-${name}`, allowedAddressPairs: pairs },
      } as VirtualPort);
    // a bound on hv1 (the network is present there); b0..b9 declared on hv2, not plugged: their
    // remote entries are on hv1. b0 and b1 share a pair MAC (its own owner, VRRP-like).
    await port('a', hv1.name, 10);
    const ofA = await plug(hv1, `${bed.prefix}a`, `${bed.prefix}-a`);
    const vrrp = { ip: '10.78.0.200', mac: '00:00:5e:00:01:07' };
    for (let i = 0; i < 10; i++) await port(`b${i}`, hv2.name, 20 + i, i < 2 ? [vrrp] : []);
    await objects.create<LoadBalancer>(LOAD_BALANCERS, {
      apiVersion: 'vnet.dev/v1alpha1',
      kind: 'LoadBalancer',
      metadata: { name: 'web', namespace: NS },
      spec: { network: 'net', vip: '10.78.0.100', listeners: [{ protocol: 'TCP', port: 80 }], backends: [{ port: 'a' }] },
    } as LoadBalancer);
    const macsOnHv1 = async (prefix: string) => (await flows(hv1)).filter((l) => l.includes(`dl_dst=${prefix}`)).length;
    await eventually(async () => (await macsOnHv1('0a:78:00:00:00:1d')) > 0 && (await flows(hv1)).some((l) => l.includes('nw_dst=10.78.0.100')), 15_000, 50);
    expect((await flows(hv1)).some((l) => l.includes(`in_port=${ofA}`))).toBe(true);
    // a, b0..b9 and the load balancer (and, between sweeps, the pair MAC b0 and b1 share: no node has its entries while neither is bound).
    expect(pipeline.ownerIdCount()).toBeGreaterThanOrEqual(12);

    for (let i = 0; i < 10; i++) await objects.delete<VirtualPort>(PORTS, NS, `b${i}`);
    await objects.delete<LoadBalancer>(LOAD_BALANCERS, NS, 'web');
    await eventually(async () => (await macsOnHv1('0a:78:00:00:00:1')) === 0 && (await macsOnHv1('0a:78:00:00:00:2')) === 0 && !(await flows(hv1)).some((l) => l.includes('10.78.0.100')), 15_000, 50);
    await eventually(async () => pipeline.ownerIdCount() === 1, 5_000, 50);
    // a's flows are where they were, under the id it had.
    expect((await flows(hv1)).some((l) => l.includes(`in_port=${ofA}`))).toBe(true);

    await objects.delete<VirtualPort>(PORTS, NS, 'a');
    await eventually(async () => !(await flows(hv1)).some((l) => l.includes('0a:78:00:00:00:0a')), 15_000, 50);
    await eventually(async () => pipeline.ownerIdCount() === 0, 5_000, 50);
    expect((await flows(hv2)).filter((l) => l.includes('0a:78:'))).toEqual([]);
  }, 90_000);
});
