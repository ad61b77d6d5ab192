import pino from 'pino';
import { VirtualNetworkAdmission } from '../admission/virtual-network.admission';
import { NamespaceAdmission } from '../admission/namespace.admission';
import { VirtualPortAdmission } from '../admission/virtual-port.admission';
import type { VirtualNetwork } from '../resources/kinds';
import type { KindAdmission, ObjectReader } from '../admission/admission';
import { AllocationRegistry } from '../ipam/allocation-registry';
import { NAMESPACE_TYPE, ResourceCatalog } from '../resources/catalog';
import type { KubeObject } from '../resources/object';
import { SchemaValidator } from '../resources/schema-validator';
import { NETWORKS, PORTS } from '../store/kinds';
import { ObjectStore } from '../store/object-store';
import { SqliteStore } from '../store/sqlite-store';
import { SYSTEM_PRINCIPAL } from './auth/principal';
import { ResourceService } from './resource.service';
import type { WriteQuery } from './query';

const query: WriteQuery = { dryRun: false, fieldValidation: 'Strict', manager: 'test', force: false };

/** A replica's namespace cache that has not yet seen another replica's commit: it hands back what it read before. */
class StaleReader implements ObjectReader<KubeObject> {
  constructor(private readonly seen: KubeObject | undefined) {}
  async get(): Promise<KubeObject | undefined> {
    return this.seen;
  }
}

/** A store in memory (SQLite, as all-in-one runs) and the admissions of the kinds these tests write. */
function setup() {
  const kv = SqliteStore.open(':memory:');
  const admissions = new Map<string, KindAdmission>([
    ['namespaces', new NamespaceAdmission() as KindAdmission],
    ['virtualnetworks', new VirtualNetworkAdmission() as KindAdmission],
    ['virtualports', new VirtualPortAdmission() as KindAdmission],
  ]);
  return { kv, objects: new ObjectStore(kv), catalog: ResourceCatalog.load(), admissions };
}

describe('ResourceService: a create in a namespace another replica is deleting', () => {
  it('fails at commit and is refused, never outliving the namespace, when this replica\'s cache still has the namespace Active (QA-99: 3-5 of 20 namespaces kept networks)', async () => {
    const { kv, objects, catalog, admissions } = setup();
    const ns = await objects.create(NAMESPACE_TYPE, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'gone', finalizers: ['kubernetes'] } } as KubeObject);
    const seen = structuredClone(ns);
    // Another replica marks it for deletion (its controller then deletes what is in it and the namespace).
    await objects.delete(NAMESPACE_TYPE, undefined, 'gone');
    expect((await objects.get(NAMESPACE_TYPE, undefined, 'gone'))?.metadata.deletionTimestamp).toBeDefined();
    const service = (reader: ObjectReader<KubeObject>) => new ResourceService(catalog, objects, new SchemaValidator(catalog), admissions, { objects, allocations: new AllocationRegistry(kv) }, pino({ level: 'silent' }), { namespaces: reader });
    const create = (s: ResourceService, name: string) =>
      s.create({ principal: SYSTEM_PRINCIPAL, type: catalog.byPluralName('virtualnetworks')!, namespace: 'gone' }, { apiVersion: 'vnet.dev/v1alpha1', kind: 'VirtualNetwork', metadata: { name }, spec: { subnets: [{ cidr: '10.0.0.0/24' }] } }, query);
    await expect(create(service(new StaleReader(seen)), 'late')).rejects.toMatchObject({ code: 403, message: expect.stringContaining('unable to create new content in namespace gone because it is being terminated') });
    // Deleted meanwhile: 404, as for a namespace this replica knows is gone.
    await objects.modify<KubeObject>(NAMESPACE_TYPE, undefined, 'gone', (cur) => ({ ...cur, metadata: { ...cur.metadata, finalizers: [] } }));
    await objects.delete(NAMESPACE_TYPE, undefined, 'gone').catch(() => undefined);
    await expect(create(service(new StaleReader(seen)), 'later')).rejects.toMatchObject({ code: 404 });
    // Nothing stored, nothing claimed (its VNI and subnet are free again).
    expect((await objects.list(NETWORKS, 'gone')).items).toEqual([]);
    expect((await kv.list('/')).items.map((i) => i.key).filter((k) => k.includes('gone') || k.startsWith('/ipam/'))).toEqual([]);
    // A namespace only relabelled since it was read: created after one fresh read.
    const live = await objects.create(NAMESPACE_TYPE, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'live' } } as KubeObject);
    await objects.modify<KubeObject>(NAMESPACE_TYPE, undefined, 'live', (cur) => ({ ...cur, metadata: { ...cur.metadata, labels: { team: 'a' } } }));
    const made = await service(new StaleReader(live)).create({ principal: SYSTEM_PRINCIPAL, type: catalog.byPluralName('virtualnetworks')!, namespace: 'live' }, { apiVersion: 'vnet.dev/v1alpha1', kind: 'VirtualNetwork', metadata: { name: 'n' }, spec: { subnets: [{ cidr: '10.1.0.0/24' }] } }, query);
    expect(made.code).toBe(201);
    kv.close();
  });
});

describe('ResourceService: a port created in a network another replica is deleting', () => {
  it('fails its claim\'s guard and is refused, where a cache that had not seen the deletion let it in and it held the network Terminating (QA-99: 6 of 25 rounds)', async () => {
    const { kv, objects, catalog, admissions } = setup();
    const allocations = new AllocationRegistry(kv);
    const fresh = new ResourceService(catalog, objects, new SchemaValidator(catalog), admissions, { objects, allocations }, pino({ level: 'silent' }));
    const scope = (plural: string) => ({ principal: SYSTEM_PRINCIPAL, type: plural === 'namespaces' ? NAMESPACE_TYPE : catalog.byPluralName(plural)!, namespace: plural === 'namespaces' ? undefined : 't' });
    await fresh.create(scope('namespaces'), { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 't' } }, query);
    const net = (await fresh.create<VirtualNetwork>(scope('virtualnetworks'), { apiVersion: 'vnet.dev/v1alpha1', kind: 'VirtualNetwork', metadata: { name: 'n' }, spec: { subnets: [{ cidr: '10.2.0.0/24' }] } }, query)).object;
    // Deleted through one replica (its finalizers hold it: Terminating)...
    await fresh.delete(scope('virtualnetworks'), 'n', {});
    expect((await objects.get(NETWORKS, 't', 'n'))?.metadata.deletionTimestamp).toBeDefined();
    // ...while another's cache still has it as it was.
    const stale = new ResourceService(catalog, objects, new SchemaValidator(catalog), admissions, { objects, allocations, networks: new StaleReader(net) as unknown as ObjectReader<VirtualNetwork> }, pino({ level: 'silent' }));
    const port = { apiVersion: 'vnet.dev/v1alpha1', kind: 'VirtualPort', metadata: { name: 'late' }, spec: { network: 'n' } };
    await expect(stale.create(scope('virtualports'), port, query)).rejects.toMatchObject({ code: 422, message: expect.stringContaining('VirtualNetwork "n" is being deleted') });
    expect((await objects.list(PORTS, 't')).items).toEqual([]);
    expect((await kv.list('/ipam/')).items.filter((i) => i.key.includes('10.2.0.'))).toEqual([]);
    // A second DELETE changes nothing (no generation bump for the guard).
    const generation = (await objects.get(NETWORKS, 't', 'n'))?.metadata.generation;
    await fresh.delete(scope('virtualnetworks'), 'n', {});
    expect((await objects.get(NETWORKS, 't', 'n'))?.metadata.generation).toBe(generation);
    kv.close();
  });
});
