import { AllocationRegistry, CT_ZONE_PREFIX, VNI_PREFIX, ctZoneKey, vniKey } from '../ipam/allocation-registry';
import { ctZone } from '../pipeline/owners';
import type { VirtualNetwork } from '../resources/kinds';
import { CountingStore } from '../reconcile/testing/counting-store';
import { NETWORKS, NODES } from '../store/kinds';
import type { KubeObject } from '../resources/object';
import { ObjectStore } from '../store/object-store';
import { AdmissionError, type AdmissionContext } from './admission';
import { VirtualNetworkAdmission } from './virtual-network.admission';

const ZONES = 65535;
const net = (name: string, vni?: number): VirtualNetwork =>
  ({ apiVersion: 'vnet.dev/v1alpha1', kind: 'VirtualNetwork', metadata: { name, namespace: 't', uid: `u-${name}` }, spec: { subnets: [{ cidr: '10.0.0.0/24' }], ...(vni !== undefined ? { vni } : {}) } }) as VirtualNetwork;

async function setup() {
  const store = new CountingStore();
  const objects = new ObjectStore(store);
  const ctx: AdmissionContext = { objects, allocations: new AllocationRegistry(store) };
  const owner = (name: string) => ({ kind: 'VirtualNetwork', namespace: 't', name, uid: `u-${name}` });
  // A network stored before zones were claimed (its VNI claimed, its zone not), and one since.
  await store.txn([AllocationRegistry.claim(vniKey(4242), owner('legacy'))]);
  await objects.create(NETWORKS, net('modern', 100), [AllocationRegistry.claim(vniKey(100), owner('modern')), AllocationRegistry.claim(ctZoneKey(ctZone(100)), owner('modern'))]);
  return { store, ctx, admission: new VirtualNetworkAdmission() };
}

const causeOf = async (p: Promise<unknown>): Promise<string> => {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(AdmissionError);
  return (err as AdmissionError).causes[0]!.message;
};

describe('VirtualNetworkAdmission: VNIs and conntrack zones', () => {
  it('refuses a VNI in the zone of a network stored before zones were claimed, or of one since, naming its VNI', async () => {
    const { ctx, admission } = await setup();
    expect(await causeOf(admission.create(net('a', 4242 + ZONES), ctx))).toContain("is another network's (VNI 4242)");
    expect(await causeOf(admission.create(net('b', 100 + ZONES), ctx))).toContain("is another network's (VNI 100)");
    expect(await causeOf(admission.create(net('c', 100), ctx))).toBe('Invalid value: 100: VNI is already allocated to VirtualNetwork "modern"; leave spec.vni out to get a free one');
    // Another tenant's network is not named.
    const elsewhere = { ...net('c', 100), metadata: { ...net('c', 100).metadata, namespace: 'other' } };
    expect(await causeOf(admission.create(elsewhere, ctx))).toBe('Invalid value: 100: VNI is already allocated to a VirtualNetwork in another namespace; leave spec.vni out to get a free one');
    // Nor its VNI through the zone it holds (QA-151 F5: one guess a zone handed it out).
    for (const vni of [4242 + ZONES, 100 + ZONES]) {
      const zoneElsewhere = { ...net('d', vni), metadata: { ...net('d', vni).metadata, namespace: 'other' } };
      const said = await causeOf(admission.create(zoneElsewhere, ctx));
      expect(said).toContain("is another network's (a network in another namespace)");
      expect(said).not.toMatch(/VNI (4242|100)\b/);
    }
    expect((await admission.create(net('d', 100 + 1), ctx)).object.spec!.vni).toBe(101);
  });

  it('two creates racing for one VNI: the one that lost is told the VNI is taken, not that its conntrack zone is shared', async () => {
    const { store, ctx, admission } = await setup();
    const allocations = ctx.allocations;
    const owner = { kind: 'VirtualNetwork', namespace: 't', name: 'winner', uid: 'u-winner' };
    let raced = false;
    // The winner's transaction commits just after this create's first read of the VNI.
    const get = allocations.get.bind(allocations);
    allocations.get = async (key: string) => {
      const found = await get(key);
      if (key === vniKey(777) && !raced) {
        raced = true;
        await store.txn([AllocationRegistry.claim(vniKey(777), owner), AllocationRegistry.claim(ctZoneKey(ctZone(777)), owner)]);
      }
      return found;
    };
    expect(await causeOf(admission.create(net('loser', 777), ctx))).toBe('Invalid value: 777: VNI is already allocated to VirtualNetwork "winner"; leave spec.vni out to get a free one');
    expect(raced).toBe(true);
  });

  it('picks VNIs of free zones by point reads: the claims are read in full once per process (for the zones stored before they were claimed), not per create', async () => {
    const { store, ctx, admission } = await setup();
    const zones = new Set<number>();
    for (let i = 0; i < 200; i++) {
      const admitted = await admission.create(net(`n${i}`), ctx);
      await store.txn(admitted.ops);
      zones.add(ctZone(admitted.object.spec!.vni!));
    }
    expect(zones.size).toBe(200);
    expect(zones.has(ctZone(4242)) || zones.has(ctZone(100))).toBe(false);
    expect(store.lists.get(VNI_PREFIX)).toBe(1);
    expect(store.lists.get(CT_ZONE_PREFIX)).toBe(1);
  });
});

describe('VirtualNetworkAdmission: the MTU fits the underlay (QA-135 F4)', () => {
  const withMtu = (name: string, mtu?: number, encapsulation?: 'vxlan' | 'geneve'): VirtualNetwork => ({ ...net(name), spec: { ...net(name).spec!, ...(mtu !== undefined ? { mtu } : {}), ...(encapsulation ? { encapsulation } : {}) } });

  it('refuses an MTU whose encapsulated frames do not fit in the underlay, saying the most it may be; defaults to that most', async () => {
    const { ctx, admission } = await setup();
    expect(await causeOf(admission.create(withMtu('jumbo', 1500), ctx))).toBe('Invalid value: 1500: must be at most 1450: VXLAN takes 50 bytes of each frame on the 1500-byte underlay (VNETD_UNDERLAY_MTU), and vnetd neither fragments nor answers too-big, so larger frames between hypervisors are lost');
    expect(await causeOf(admission.create(withMtu('g', 1451, 'geneve'), ctx))).toContain('GENEVE takes 50 bytes');
    expect((await admission.create(withMtu('fits', 1450), ctx)).object.spec!.mtu).toBe(1450);
    expect((await admission.create(withMtu('dflt'), ctx)).object.spec!.mtu).toBe(1450);
  });

  it('follows VNETD_UNDERLAY_MTU (a jumbo underlay), and judges an update only when the MTU changes', async () => {
    const { ctx } = await setup();
    const jumbo = new VirtualNetworkAdmission(9000);
    expect((await jumbo.create(withMtu('big', 8950), ctx)).object.spec!.mtu).toBe(8950);
    expect((await jumbo.create(withMtu('dflt9k'), ctx)).object.spec!.mtu).toBe(8950);
    const small = new VirtualNetworkAdmission(1500);
    // Stored when the underlay was jumbo: a label changes, the MTU stays, nothing refused.
    const stored = { ...withMtu('big', 8950), spec: { ...withMtu('big', 8950).spec!, vni: 7 } };
    const relabelled = { ...stored, metadata: { ...stored.metadata, labels: { x: '1' } } };
    expect((await small.update(stored, structuredClone(relabelled), ctx)).object.spec!.mtu).toBe(8950);
    expect(await causeOf(small.update(stored, { ...relabelled, spec: { ...relabelled.spec!, mtu: 8000 } }, ctx))).toContain('must be at most 1450');
    // Never above the schema's 9000, or the stored default could not be written back (review).
    expect((await new VirtualNetworkAdmission(9216).create(withMtu('cap'), ctx)).object.spec!.mtu).toBe(9000);
  });

  it('refuses an MTU below IPv6\'s 1280 for a network with an IPv6 subnet, on create and when an IPv6 subnet is added; one stored before keeps its MTU (QA-156 F3)', async () => {
    const { ctx, admission } = await setup();
    const v6 = (name: string, mtu: number, cidrs: string[]): VirtualNetwork => ({ ...net(name), spec: { subnets: cidrs.map((cidr) => ({ cidr })), mtu } });
    for (const mtu of [576, 1000, 1279]) expect(await causeOf(admission.create(v6(`s${mtu}`, mtu, ['fd56:c2::/64']), ctx))).toBe(`Invalid value: ${mtu}: a network with an IPv6 subnet needs an MTU of at least 1280 (IPv6's minimum link MTU, RFC 8200): a VM's kernel turns IPv6 off on a smaller link`);
    expect((await admission.create(v6('ok', 1280, ['fd56:c3::/64']), ctx)).object.spec!.mtu).toBe(1280);
    // IPv4 only: a small MTU is the tenant's to choose.
    expect((await admission.create(v6('v4', 1000, ['10.9.0.0/24']), ctx)).object.spec!.mtu).toBe(1000);
    const stored = { ...v6('v4', 1200, ['10.9.1.0/24']), spec: { ...v6('v4', 1200, ['10.9.1.0/24']).spec!, vni: 9 } };
    expect(await causeOf(admission.update(stored, { ...stored, spec: { ...stored.spec!, subnets: [{ cidr: '10.9.1.0/24' }, { cidr: 'fd56:c4::/64' }] } }, ctx))).toContain('needs an MTU of at least 1280');
    // Stored before the check: a label change passes.
    const old = { ...v6('old', 1200, ['fd56:c5::/64']), spec: { ...v6('old', 1200, ['fd56:c5::/64']).spec!, vni: 10 } };
    expect((await admission.update(old, { ...structuredClone(old), metadata: { ...old.metadata, labels: { x: '1' } } }, ctx)).object.spec!.mtu).toBe(1200);
  });

  it('counts IPv6\'s 20 more bytes once a Node tunnels over IPv6', async () => {
    const { ctx, admission } = await setup();
    await ctx.objects.create(NODES, { apiVersion: 'vnet.dev/v1alpha1', kind: 'Node', metadata: { name: 'hv6' }, spec: { tunnelIP: 'fd00::1', ovsdb: 'unix:/x' } } as KubeObject);
    expect(await causeOf(admission.create(withMtu('v6', 1450), ctx))).toBe('Invalid value: 1450: must be at most 1430: VXLAN over IPv6 (a Node tunnels over IPv6) takes 70 bytes of each frame on the 1500-byte underlay (VNETD_UNDERLAY_MTU), and vnetd neither fragments nor answers too-big, so larger frames between hypervisors are lost');
    expect((await admission.create(withMtu('v6d'), ctx)).object.spec!.mtu).toBe(1430);
  });
});
