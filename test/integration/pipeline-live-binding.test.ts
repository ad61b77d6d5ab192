/**
 * A new port's flows without the store round trip, on real Open vSwitch (two
 * hypervisors): the production ChassisManager and PipelineReconciler over an in-memory
 * store whose VirtualPort status writes are held at a gate, so no binding ever reaches
 * the store while the gate is closed. Then:
 *  - a port declared on hv2 (spec.node) and not plugged has its remote entries (ARP
 *    answer, L2 entry to hv2's VTEP) on hv1 already;
 *  - plugging its NIC on hv2 installs its local flows there from the OVSDB row alone
 *    (its status in the store still says nothing);
 *  - unplugging it removes them (the remote entries on hv1 stay: it is still declared);
 *  - deleting a port removes its remote entries;
 *  - moving a port to another node removes its local flows where its NIC is.
 * Without live binding, step 2 never happens (nothing writes Bound); without declared
 * nodes, step 1 fails.
 */
import { MemoryStore } from '../../src/reconcile/testing/memory-store';
import type { KubeObject } from '../../src/resources/object';
import type { VirtualNetwork, VirtualPort } from '../../src/resources/kinds';
import { NETWORKS, PORTS } from '../../src/store/kinds';
import type { StoredType } from '../../src/store/keys';
import { ObjectStore, type WriteResult } from '../../src/store/object-store';
import type { Hypervisor } from '../harness/testbed';
import { eventually } from '../support/vnetd';
import { describeOvs } from './ovsdb-helpers';
import { brIntFlows as flows, plugNic as plug, startPipelineBed, type PipelineBed } from './pipeline-bed';

const NS = 'live';

/** Holds VirtualPort status writes (the chassis layer's binding) until open() is called. */
class GatedObjectStore extends ObjectStore {
  private release!: () => void;
  private readonly gate = new Promise<void>((r) => (this.release = r));
  held = 0;

  open(): void {
    this.release();
  }

  override async modify<T extends KubeObject>(
    type: StoredType,
    namespace: string | undefined,
    name: string,
    mutate: (current: T) => T | undefined | Promise<T | undefined>,
    options: Parameters<ObjectStore['modify']>[4] = {},
  ): Promise<WriteResult<T> | undefined> {
    if (type === PORTS && options.subresource === 'status') {
      this.held++;
      await this.gate;
    }
    return super.modify<T>(type, namespace, name, mutate, options);
  }
}

describeOvs('pipeline: flows follow the hypervisor\'s OVSDB rows, remote entries follow spec.node', () => {
  let objects: GatedObjectStore | undefined;
  let pb: PipelineBed | undefined;

  afterAll(async () => {
    objects?.open();
    await pb?.stop();
  }, 60_000);

  it('installs remote entries before the plug, local flows from the OVSDB row, and removes them on unplug, move and delete', async () => {
    objects = new GatedObjectStore(new MemoryStore());
    pb = await startPipelineBed({ hypervisors: 2, objects });
    const { bed } = pb;
    const [hv1, hv2] = bed.hypervisors as [Hypervisor, Hypervisor];

    await objects.create<VirtualNetwork>(NETWORKS, { apiVersion: 'vnet.dev/v1alpha1', kind: 'VirtualNetwork', metadata: { name: 'net', namespace: NS }, spec: { subnets: [{ cidr: '10.77.0.0/24' }], vni: 7701 } } as VirtualNetwork);
    const port = (name: string, node: string, mac: string, ip: string) =>
      objects!.create<VirtualPort>(PORTS, {
        apiVersion: 'vnet.dev/v1alpha1',
        kind: 'VirtualPort',
        metadata: { name, namespace: NS },
        spec: { network: 'net', node, mac, ips: [ip], interfaceId: `${bed.prefix}-${name}` },
      } as VirtualPort);
    const tunDst = (hv: Hypervisor) => `set_field:${hv.tunnelIP}->tun_dst`;

    // a bound on hv1 (the network is present there), b declared on hv2, not plugged.
    await port('a', hv1.name, '0a:77:00:00:00:0a', '10.77.0.10');
    const ofA = await plug(hv1, `${bed.prefix}a`, `${bed.prefix}-a`);
    await eventually(async () => (await flows(hv1)).some((f) => f.includes(`in_port=${ofA}`) && f.includes('actions=')), 15_000, 50);
    await port('b', hv2.name, '0a:77:00:00:00:0b', '10.77.0.11');
    await eventually(async () => {
      const f = await flows(hv1);
      return f.some((l) => l.includes('dl_dst=0a:77:00:00:00:0b') && l.includes(tunDst(hv2))) && f.some((l) => l.includes('arp_tpa=10.77.0.11') && l.includes('actions='));
    }, 15_000, 50);
    // Nothing of b on hv2 yet: no NIC.
    expect((await flows(hv2)).filter((l) => l.includes('0a:77:00:00:00:0b'))).toEqual([]);

    // Plug b: its local flows come from the OVSDB row; the store has not heard of it.
    const ofB = await plug(hv2, `${bed.prefix}b`, `${bed.prefix}-b`);
    await eventually(async () => (await flows(hv2)).some((l) => l.includes(`in_port=${ofB}`)), 15_000, 50);
    expect((await objects.get<VirtualPort>(PORTS, NS, 'b'))?.status?.node).toBeUndefined();
    expect(objects.held).toBeGreaterThan(0);

    // Unplug b: its local flows go; hv1 keeps routing b to hv2 (still declared there).
    await hv2.ovs.vsctl(['del-port', 'br-int', `${bed.prefix}b`]);
    await eventually(async () => !(await flows(hv2)).some((l) => l.includes(`in_port=${ofB}`) || (l.includes('dl_dst=0a:77:00:00:00:0b') && l.includes(`output:${ofB}`))), 15_000, 50);
    expect((await flows(hv1)).some((l) => l.includes('dl_dst=0a:77:00:00:00:0b') && l.includes(tunDst(hv2)))).toBe(true);

    // Delete b: its remote entries go from hv1.
    await objects.delete<VirtualPort>(PORTS, NS, 'b');
    await eventually(async () => !(await flows(hv1)).some((l) => l.includes('0a:77:00:00:00:0b') || l.includes('10.77.0.11')), 15_000, 50);
    expect((await flows(hv1)).some((l) => l.includes(`in_port=${ofA}`))).toBe(true);

    // Move a to hv2 while its NIC stays on hv1: a is bound nowhere now, hv1 drops its flows.
    await objects.modify<VirtualPort>(PORTS, NS, 'a', (cur) => ({ ...cur, spec: { ...cur.spec!, node: hv2.name } }));
    await eventually(async () => !(await flows(hv1)).some((l) => l.includes(`in_port=${ofA}`) || l.includes('0a:77:00:00:00:0a')), 15_000, 50);
  }, 120_000);
});
