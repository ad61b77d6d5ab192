/**
 * A load balancer with an IPv6 VIP, stored before admission refused them (or written past
 * it), on real Open vSwitch. The OpenFlow pipeline balances IPv4 only: such a VIP's flows
 * do not encode, and before the model left it out, that one object stopped its node's
 * whole flow table (every later change on the node failed to compile: a new port there
 * was never Ready). Now it compiles to nothing and says why in its Ready condition, and
 * the node carries on.
 */
import { randomUUID } from 'node:crypto';
import { AllocationRegistry, ipKey } from '../../src/ipam/allocation-registry';
import type { LoadBalancer } from '../../src/resources/kinds';
import { LOAD_BALANCERS } from '../../src/store/kinds';
import { G, overlayApi, overlayBed, plugInternalNic } from '../e2e/overlay-support';
import { eventually } from '../support/vnetd';
import { describeOvs } from './ovsdb-helpers';

const NS = 'v6lb';

describeOvs('a stored IPv6 VIP', () => {
  const { vnetd, bed } = overlayBed();
  const api = overlayApi(vnetd);

  beforeAll(async () => {
    await api.network(NS, 'net', { subnets: [{ cidr: '10.79.0.0/24' }, { cidr: 'fd79::/64' }] });
    await api.waitReady(NS, 'virtualnetworks', 'net', 30_000);
  }, 60_000);

  it('compiles to nothing, says why, and leaves the rest of the node working', async () => {
    const hv = bed().hypervisors[0]!;
    await plugInternalNic(hv, 'v6a', 'if-v6a');
    await api.call('POST', `${G}/namespaces/${NS}/virtualports`, { metadata: { name: 'a' }, spec: { network: 'net', node: hv.name, interfaceId: 'if-v6a' } });
    await api.waitReady(NS, 'virtualports', 'a', 20_000);

    // Past admission, as an earlier release stored it.
    const stored: LoadBalancer = {
      apiVersion: 'vnet.dev/v1alpha1',
      kind: 'LoadBalancer',
      metadata: { name: 'six', namespace: NS, uid: randomUUID(), finalizers: ['vnet.dev/ipam'] },
      spec: { network: 'net', vip: 'fd79::100', listeners: [{ port: 80, protocol: 'TCP', targetPort: 80 }], backends: [{ port: 'a', weight: 1 }] },
    };
    const owner = { kind: 'LoadBalancer', namespace: NS, name: 'six', uid: stored.metadata.uid! };
    await vnetd().objects.create(LOAD_BALANCERS, stored, [AllocationRegistry.claim(ipKey(NS, 'net', 'fd79::100'), owner)]);

    // The node still takes changes: a new port and an IPv4 load balancer become Ready.
    await plugInternalNic(hv, 'v6b', 'if-v6b');
    await api.call('POST', `${G}/namespaces/${NS}/virtualports`, { metadata: { name: 'b' }, spec: { network: 'net', node: hv.name, interfaceId: 'if-v6b' } });
    await api.call('POST', `${G}/namespaces/${NS}/loadbalancers`, { metadata: { name: 'four' }, spec: { network: 'net', listeners: [{ port: 80 }], backends: [{ port: 'a' }, { port: 'b' }] } });
    await api.waitReady(NS, 'virtualports', 'b', 20_000);
    await api.waitReady(NS, 'loadbalancers', 'four', 20_000);

    // The IPv6 one says why it is not Ready, and has no flow.
    const ready = async (kind: string, name: string) =>
      ((await api.call('GET', `${G}/namespaces/${NS}/${kind}/${name}`)) as { status?: { conditions?: Array<{ type: string; status: string; reason?: string; message?: string }> } }).status?.conditions?.find((c) => c.type === 'Ready');
    const six = await eventually(async () => {
      const c = await ready('loadbalancers', 'six');
      return c?.reason === 'UnsupportedVIP' ? c : undefined;
    }, 20_000);
    expect(six).toMatchObject({ status: 'False', message: expect.stringContaining('IPv6 load balancing is not implemented') });
    const flows = await hv.ovs.ofctl(['-O', 'OpenFlow13', 'dump-flows', `unix:${hv.ovs.bridgeMgmtSocket('br-int')}`]);
    expect(flows).not.toContain('fd79::100');
  }, 90_000);
});
