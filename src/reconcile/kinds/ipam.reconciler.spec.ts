import pino from 'pino';
import { AllocationRegistry, ifaceKey, ipKey, macKey, vniKey } from '../../ipam/allocation-registry';
import { IPAM_FINALIZER } from '../../resources/finalizers';
import type { LoadBalancer, VirtualNetwork, VirtualPort } from '../../resources/kinds';
import { LOAD_BALANCERS, NETWORKS, PORTS } from '../../store/kinds';
import { ObjectStore } from '../../store/object-store';
import { MemoryStore } from '../testing/memory-store';
import { IpamReconciler } from './ipam.reconciler';

const NS = 't';

async function setup(networkStatusDelayMs: number) {
  const objects = new ObjectStore(new MemoryStore());
  const net = await objects.create<VirtualNetwork>(NETWORKS, { apiVersion: 'vnet.dev/v1alpha1', kind: 'VirtualNetwork', metadata: { name: 'net', namespace: NS }, spec: { subnets: [{ cidr: '10.0.0.0/16', gateway: '10.0.0.1' }], vni: 7 } } as VirtualNetwork, [
    AllocationRegistry.claim(vniKey(7), { kind: 'VirtualNetwork', namespace: NS, name: 'net', uid: 'u-net' }),
  ]);
  // The claim above carries a made-up uid: fix it to the network's real one.
  await objects.kv.txn([{ type: 'update', key: vniKey(7), value: { owner: { kind: 'VirtualNetwork', namespace: NS, name: 'net', uid: net.metadata.uid } } }]);
  const ipam = new IpamReconciler({ objects, logger: pino({ level: 'silent' }), networkStatusDelayMs, repairIntervalMs: 3_600_000 });
  return { objects, ipam };
}

function port(i: number): VirtualPort {
  return { apiVersion: 'vnet.dev/v1alpha1', kind: 'VirtualPort', metadata: { name: `p${i}`, namespace: NS }, spec: { network: 'net', mac: `0a:58:00:00:00:${i.toString(16).padStart(2, '0')}`, ips: [`10.0.0.${i + 10}`] } } as VirtualPort;
}

async function createPort(objects: ObjectStore, i: number): Promise<void> {
  const p = port(i);
  const uid = `u-p${i}`;
  p.metadata.uid = uid;
  const owner = { kind: 'VirtualPort', namespace: NS, name: p.metadata.name, uid };
  await objects.create(PORTS, p, [AllocationRegistry.claim(macKey(NS, 'net', p.spec!.mac!), owner), AllocationRegistry.claim(ipKey(NS, 'net', p.spec!.ips![0]!), owner)]);
}

type NetStatus = { subnets?: Array<{ allocated: number }> };

describe('IpamReconciler: network status', () => {
  let stop: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await stop?.();
    stop = undefined;
  });

  it('a burst of port creates recounts the network a few times, not once per port, and ends with the right count', async () => {
    const { objects, ipam } = await setup(200);
    await ipam.start();
    stop = () => ipam.stop();
    const statusWrites: number[] = [];
    const w = objects.kv.watch(`/registry/vnet.dev/virtualnetworks/`, (e) => statusWrites.push(e.kv.modRevision));
    // Spaced out, so that an unthrottled reconciler would recount after each of them.
    const t0 = Date.now();
    for (let i = 0; i < 100; i++) {
      await createPort(objects, i);
      await new Promise((r) => setTimeout(r, 5));
    }
    let last: NetStatus | undefined;
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline) {
      last = (await objects.get<VirtualNetwork>(NETWORKS, NS, 'net'))?.status as NetStatus | undefined;
      if (last?.subnets?.[0]?.allocated === 100) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const elapsed = Date.now() - t0;
    w.stop();
    expect(last?.subnets?.[0]?.allocated).toBe(100);
    // Without the throttle: about one recount (and status write) per port. With it: one
    // per 200 ms period (however slow the machine made the loop), plus the last.
    expect(statusWrites.length).toBeLessThanOrEqual(Math.ceil(elapsed / 200) + 2);
    expect(statusWrites.length).toBeLessThan(50);
  });

  it('the first port event of a quiet network is counted at once', async () => {
    const { objects, ipam } = await setup(60_000);
    await ipam.start();
    stop = () => ipam.stop();
    await new Promise((r) => setTimeout(r, 50));
    await createPort(objects, 1);
    const deadline = Date.now() + 2000;
    let n: number | undefined;
    while (Date.now() < deadline && n !== 1) {
      n = ((await objects.get<VirtualNetwork>(NETWORKS, NS, 'net'))?.status as NetStatus | undefined)?.subnets?.[0]?.allocated;
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(n).toBe(1);
  });
});

describe('IpamReconciler: claims of an object deleted without its finalizer', () => {
  it('are freed, and its network counts them out: the delete event\'s recount ran before they were freed', async () => {
    const { objects, ipam } = await setup(200);
    await createPort(objects, 1);
    await createPort(objects, 2);
    await ipam.start();
    const allocated = async () => ((await objects.get<VirtualNetwork>(NETWORKS, NS, 'net'))?.status as NetStatus | undefined)?.subnets?.[0]?.allocated;
    const until = async (n: number) => {
      const deadline = Date.now() + 3000;
      while (Date.now() < deadline && (await allocated()) !== n) await new Promise((r) => setTimeout(r, 10));
      return allocated();
    };
    expect(await until(2)).toBe(2);
    // A quiet network: the delete's own recount runs at once, and no other event follows.
    await new Promise((r) => setTimeout(r, 300));
    // Freeing a claim takes a store round trip or two (etcd, a busy SQLite): the recount reads first.
    const txn = objects.kv.txn.bind(objects.kv);
    objects.kv.txn = (async (ops: Parameters<typeof txn>[0]) => {
      if (ops.some((o) => o.type === 'delete' && o.key.startsWith('/ipam/'))) await new Promise((r) => setTimeout(r, 100));
      return txn(ops);
    }) as typeof objects.kv.txn;
    // Its finalizers removed by hand: the object goes, its claims stay until released.
    await objects.kv.txn([{ type: 'delete', key: '/registry/vnet.dev/virtualports/t/p1' }]);
    const deadline = Date.now() + 3000;
    while (Date.now() < deadline && (await objects.kv.get(ipKey(NS, 'net', port(1).spec!.ips![0]!)))) await new Promise((r) => setTimeout(r, 10));
    expect(await objects.kv.get(ipKey(NS, 'net', port(1).spec!.ips![0]!))).toBeUndefined();
    expect(await until(1)).toBe(1);
    await ipam.stop();
  });
});

describe('IpamReconciler: repair', () => {
  it('a load balancer stored before VIP MACs were claimed claims its MAC late; one whose MAC another object holds says so in AddressesAllocated', async () => {
    const { objects, ipam } = await setup(200);
    const lb = async (name: string, vip: string, mac: string) => {
      const owner = { kind: 'LoadBalancer', namespace: NS, name, uid: `u-${name}` };
      const o = { apiVersion: 'vnet.dev/v1alpha1', kind: 'LoadBalancer', metadata: { name, namespace: NS, uid: owner.uid }, spec: { network: 'net', vip, mac, listeners: [{ port: 80 }] } } as LoadBalancer;
      await objects.create(LOAD_BALANCERS, o, [AllocationRegistry.claim(ipKey(NS, 'net', vip), owner)]); // the VIP only, as before
    };
    await createPort(objects, 1); // holds 0a:58:00:00:00:01
    await lb('old', '10.0.0.100', '02:4c:42:00:00:01');
    await lb('clash', '10.0.0.101', port(1).spec!.mac!);
    await ipam.start();
    const allocated = async (name: string) => ((await objects.get<LoadBalancer>(LOAD_BALANCERS, NS, name))?.status?.conditions ?? []).find((c) => c.type === 'AddressesAllocated');
    for (let i = 0; i < 250 && (!(await allocated('old')) || !(await allocated('clash'))); i++) await new Promise((r) => setTimeout(r, 20));
    expect((await objects.kv.get<{ owner: { uid: string } }>(macKey(NS, 'net', '02:4c:42:00:00:01')))?.value.owner.uid).toBe('u-old');
    expect(await allocated('old')).toMatchObject({ status: 'True' });
    const clash = await allocated('clash');
    await ipam.stop();
    expect(clash).toMatchObject({ status: 'False', message: expect.stringContaining(port(1).spec!.mac!) });
  });

  it('frees the claims of owners that are gone or replaced, keeps the rest, and reads each owner once', async () => {
    const { objects, ipam } = await setup(200);
    for (let i = 0; i < 3; i++) await createPort(objects, i);
    // p1 deleted behind IPAM's back (its claims left over); p2 replaced by another object of the same name.
    await objects.kv.txn([{ type: 'delete', key: '/registry/vnet.dev/virtualports/t/p1' }]);
    const p2 = await objects.get<VirtualPort>(PORTS, NS, 'p2');
    await objects.kv.txn([{ type: 'delete', key: '/registry/vnet.dev/virtualports/t/p2' }]);
    await objects.create(PORTS, { ...port(2), metadata: { name: 'p2', namespace: NS, uid: 'u-p2-new' } } as VirtualPort);
    const reads: string[] = [];
    const get = objects.get.bind(objects);
    objects.get = ((type, namespace, name) => (reads.push(`${namespace}/${name}`), get(type, namespace, name))) as typeof objects.get;

    expect(await ipam.repair()).toBe(4); // p1's MAC and address, the old p2's MAC and address
    const left = (await objects.kv.list('/ipam/')).items.map((kv) => kv.key).sort();
    expect(left).toEqual([ipKey(NS, 'net', port(0).spec!.ips![0]!), macKey(NS, 'net', port(0).spec!.mac!), vniKey(7)].sort());
    expect(p2?.metadata.uid).toBe('u-p2');
    // One read per owner (the network, p0, p1, p2), not one per claim.
    expect(reads.sort()).toEqual(['t/net', 't/p0', 't/p1', 't/p2']);
  });

  it('releases an empty interface id with the port that claimed it (admitted before 2026-12-02; it stayed claimed)', async () => {
    const { objects, ipam } = await setup(200);
    await ipam.start();
    const p = { ...port(5), metadata: { name: 'p5', namespace: NS, uid: 'u-p5', finalizers: [IPAM_FINALIZER] } } as VirtualPort;
    p.spec!.interfaceId = '';
    const owner = { kind: 'VirtualPort', namespace: NS, name: 'p5', uid: 'u-p5' };
    await objects.create(PORTS, p, [AllocationRegistry.claim(macKey(NS, 'net', p.spec!.mac!), owner), AllocationRegistry.claim(ipKey(NS, 'net', p.spec!.ips![0]!), owner), AllocationRegistry.claim(ifaceKey(''), owner)]);
    await objects.delete(PORTS, NS, 'p5');
    const deadline = Date.now() + 5000;
    while ((await objects.get(PORTS, NS, 'p5')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(await objects.get(PORTS, NS, 'p5')).toBeUndefined();
    expect(await objects.kv.get(ifaceKey(''))).toBeUndefined();
    await ipam.stop();
  });
});
