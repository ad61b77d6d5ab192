import { AllocationRegistry, ifaceKey } from '../ipam/allocation-registry';
import type { HypervisorNode, VirtualPort } from '../resources/kinds';
import { NODES, PORTS } from '../store/kinds';
import { typePrefix } from '../store/keys';
import { ObjectStore } from '../store/object-store';
import { SqliteStore } from '../store/sqlite-store';
import { pointRead } from './point-read';
import { parseFieldSelector } from './selectors';

describe('pointRead', () => {
  let kv: SqliteStore;
  let objects: ObjectStore;
  let listed: string[];

  const port = (ns: string, name: string, interfaceId: string): VirtualPort =>
    ({ apiVersion: 'vnet.dev/v1alpha1', kind: 'VirtualPort', metadata: { name, namespace: ns }, spec: { network: 'n', interfaceId } }) as VirtualPort;
  /** A port stored as admission stores it: with the claim of its interface id, in one txn. */
  const createPort = async (p: VirtualPort) => {
    const owner = { kind: 'VirtualPort', namespace: p.metadata.namespace, name: p.metadata.name, uid: `uid-${p.metadata.name}` };
    return objects.create(PORTS, { ...p, metadata: { ...p.metadata, uid: owner.uid } }, [AllocationRegistry.claim(ifaceKey(p.spec!.interfaceId!), owner)]);
  };

  beforeEach(async () => {
    kv = SqliteStore.open(':memory:');
    objects = new ObjectStore(kv);
    for (let i = 0; i < 50; i++) await createPort(port('a', `p${i}`, `nic-${i}`));
    await createPort(port('b', 'other', 'nic-b'));
    await objects.create(NODES, { apiVersion: 'vnet.dev/v1alpha1', kind: 'Node', metadata: { name: 'hv1' }, spec: { tunnelIP: '192.0.2.1' } } as HypervisorNode);
    listed = [];
    const list = kv.list.bind(kv);
    kv.list = ((prefix: string, options) => (listed.push(prefix), list(prefix, options))) as SqliteStore['list'];
  });

  afterEach(() => kv.close());

  const read = (ns: string | undefined, selector: string, revision?: number, type = PORTS) => pointRead<VirtualPort>(objects, type, ns, parseFieldSelector(selector), revision);

  it("finds a port by its interface id through the id's claim, reading two keys and not the kind", async () => {
    const r = await read('a', 'spec.interfaceId=nic-7,spec.node=');
    expect(r?.object?.metadata.name).toBe('p7');
    expect(Number(r?.resourceVersion)).toBe(await kv.currentRevision());
    expect(listed).toEqual([ifaceKey('nic-7'), `${typePrefix(PORTS)}a/p7`]);
    expect(listed).not.toContain(typePrefix(PORTS));
    // Cluster-wide too; another namespace's port is not this namespace's; a missing id is none.
    expect((await read(undefined, 'spec.interfaceId=nic-b'))?.object?.metadata.name).toBe('other');
    expect((await read('a', 'spec.interfaceId=nic-b'))?.object).toBeUndefined();
    expect((await read('a', 'spec.interfaceId=nic-404'))?.object).toBeUndefined();
    // A prefix of a longer id is not that id.
    expect((await read('a', 'spec.interfaceId=nic-1'))?.object?.metadata.name).toBe('p1');
    expect((await read('a', 'spec.interfaceId=nic-'))?.object).toBeUndefined();
  });

  it('reads by name at a snapshot, and leaves selectors that name no single object to the list', async () => {
    const before = await kv.currentRevision();
    await objects.delete(PORTS, 'a', 'p3');
    expect((await read('a', 'metadata.name=p3'))?.object).toBeUndefined();
    const then = await read('a', 'metadata.name=p3', before);
    expect(then?.object?.metadata.name).toBe('p3');
    expect(then?.resourceVersion).toBe(String(before));
    expect((await read(undefined, 'metadata.name=hv1', undefined, NODES))?.object?.metadata.name).toBe('hv1');
    // Without the namespace a name can be in any: not a point.
    expect(await read(undefined, 'metadata.name=p4')).toBeUndefined();
    expect(await read(undefined, 'metadata.name=p4,metadata.namespace=a')).toMatchObject({ object: { metadata: { name: 'p4' } } });
    expect(await read('a', 'spec.network=n')).toBeUndefined();
    expect(await read('a', 'metadata.name!=p4')).toBeUndefined();
  });
});
