/**
 * The test bed with vnetd managing it: 2 hypervisors become Ready Nodes, the underlay
 * carries traffic between their VTEP addresses, a VM on each binds its VirtualPort, and
 * stop() leaves no namespace behind.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { NODES, PORTS as VIRTUAL_PORTS } from '../../src/store/kinds';
import type { HypervisorNode, VirtualPort } from '../../src/resources/kinds';
import { startTestbed, type Testbed } from '../harness/testbed';
import { startTestVnetd, eventually, type TestVnetd } from '../support/vnetd';
import { describeOvs } from './ovsdb-helpers';

const G = '/apis/vnet.dev/v1alpha1';
const isTrue = (o: { status?: { conditions?: Array<{ type: string; status: string }> } } | undefined, t: string) =>
  o?.status?.conditions?.some((c) => c.type === t && c.status === 'True') ?? false;

describeOvs('test bed: simulated hypervisors under vnetd', () => {
  let v: TestVnetd;
  let bed: Testbed | undefined;

  beforeAll(async () => {
    v = await startTestVnetd({ chassis: true });
  });
  afterAll(async () => {
    await bed?.stop();
    await v?.stop();
  });

  it('brings up 2 hypervisors + 1 VM each, binds them, and tears down leaving no netns', async () => {
    bed = await startTestbed({ hypervisors: 2 });
    const names = bed.namespaces();
    expect(names).toHaveLength(3); // underlay + 2 hypervisors
    for (const hv of bed.hypervisors) {
      expect((await v.call('POST', `${G}/nodes`, { metadata: { name: hv.name }, spec: hv.nodeSpec() })).status).toBe(201);
    }
    for (const hv of bed.hypervisors) {
      await eventually(async () => isTrue(await v.objects.get<HypervisorNode>(NODES, undefined, hv.name), 'Ready'), 20_000);
    }
    await bed.underlayReady();
    // The underlay works through each br-phy: VTEP to VTEP.
    const [hv1, hv2] = bed.hypervisors as [Testbed['hypervisors'][0], Testbed['hypervisors'][0]];
    expect(await hv1.exec(['ping', '-c', '1', '-W', '5', hv2.tunnelIP])).toContain('1 received');

    expect((await v.call('POST', `${G}/namespaces/default/virtualnetworks`, { metadata: { name: 'bednet' }, spec: { subnets: [{ cidr: '10.77.0.0/24' }] } })).status).toBe(201);
    const vms = [];
    for (const hv of bed.hypervisors) {
      const res = await v.call('POST', `${G}/namespaces/default/virtualports`, { metadata: { name: `vm-${hv.name}` }, spec: { network: 'bednet', node: hv.name } });
      expect(res.status).toBe(201);
      const port = res.json as VirtualPort;
      const vm = await bed.addVm(hv.name, { name: `vm-${hv.name}`, ifaceId: port.spec!.interfaceId!, mac: port.spec!.mac, ip: `${port.spec!.ips![0]}/24` });
      expect(vm.iface.length).toBeLessThanOrEqual(15);
      vms.push(vm);
    }
    for (const vm of vms) {
      const p = await eventually(async () => {
        const x = await v.objects.get<VirtualPort>(VIRTUAL_PORTS, 'default', vm.name);
        return isTrue(x, 'Bound') ? x : undefined;
      }, 10_000);
      expect(p.status).toMatchObject({ node: vm.hypervisor.name, ofport: await vm.ofport() });
    }
    expect(bed.namespaces()).toHaveLength(5);

    const all = bed.namespaces();
    await bed.stop();
    bed = undefined;
    const left = execFileSync('ip', ['netns', 'list']).toString();
    for (const ns of all) {
      expect(left).not.toContain(ns);
      expect(existsSync(`/run/netns/${ns}`)).toBe(false);
    }
  }, 60_000);
});
