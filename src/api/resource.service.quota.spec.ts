import pino from 'pino';
import { NamespaceAdmission } from '../admission/namespace.admission';
import { ResourceQuotaAdmission } from '../admission/resource-quota.admission';
import { VirtualNetworkAdmission } from '../admission/virtual-network.admission';
import { VirtualPortAdmission } from '../admission/virtual-port.admission';
import type { KindAdmission } from '../admission/admission';
import { AllocationRegistry } from '../ipam/allocation-registry';
import { NAMESPACE_TYPE, RESOURCE_QUOTA_TYPE, ResourceCatalog } from '../resources/catalog';
import type { ResourceQuota } from '../resources/kinds';
import type { KubeObject } from '../resources/object';
import { SchemaValidator } from '../resources/schema-validator';
import { PORTS, RESOURCE_QUOTAS } from '../store/kinds';
import { ObjectStore } from '../store/object-store';
import { SqliteStore } from '../store/sqlite-store';
import { SYSTEM_PRINCIPAL } from './auth/principal';
import { ResourceService } from './resource.service';
import type { WriteQuery } from './query';

const query: WriteQuery = { dryRun: false, fieldValidation: 'Strict', manager: 'test', force: false };

describe('ResourceService: a quota charged by two replicas at once', () => {
  it('lets exactly its units through: each replica commits the quota as it read it, and charges again when the other one did first', async () => {
    const kv = SqliteStore.open(':memory:');
    const objects = new ObjectStore(kv);
    const catalog = ResourceCatalog.load();
    const admissions = new Map<string, KindAdmission>([
      ['namespaces', new NamespaceAdmission() as KindAdmission],
      ['virtualnetworks', new VirtualNetworkAdmission() as KindAdmission],
      ['virtualports', new VirtualPortAdmission() as KindAdmission],
      ['resourcequotas', new ResourceQuotaAdmission() as KindAdmission],
    ]);
    // Two services: two replicas, which do not take turns with each other (only within a process).
    const replica = () => new ResourceService(catalog, objects, new SchemaValidator(catalog), admissions, { objects, allocations: new AllocationRegistry(kv) }, pino({ level: 'silent' }));
    const [a, b] = [replica(), replica()];
    await objects.create(NAMESPACE_TYPE, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 't' } } as KubeObject);
    const scope = (plural: string) => ({ principal: SYSTEM_PRINCIPAL, type: plural === 'resourcequotas' ? RESOURCE_QUOTA_TYPE : catalog.byPluralName(plural)!, namespace: 't' });
    await a.create(scope('virtualnetworks'), { apiVersion: 'vnet.dev/v1alpha1', kind: 'VirtualNetwork', metadata: { name: 'n' }, spec: { subnets: [{ cidr: '10.0.0.0/24' }] } }, query);
    await a.create(scope('resourcequotas'), { apiVersion: 'v1', kind: 'ResourceQuota', metadata: { name: 'q' }, spec: { hard: { virtualports: '4' } } }, query);

    const creates = Array.from({ length: 12 }, (_, i) =>
      (i % 2 ? a : b).create(scope('virtualports'), { apiVersion: 'vnet.dev/v1alpha1', kind: 'VirtualPort', metadata: { name: `p${i}` }, spec: { network: 'n' } }, query).then(
        () => 'created',
        (err: { code?: number; message?: string }) => (err.code === 403 && err.message?.includes('exceeded quota: q') ? 'refused' : `error ${err.code}: ${err.message}`),
      ),
    );
    const outcomes = await Promise.all(creates);
    expect(outcomes.filter((o) => o === 'created')).toHaveLength(4);
    expect(outcomes.filter((o) => o === 'refused')).toHaveLength(8);
    expect((await objects.list(PORTS, 't')).items).toHaveLength(4);
    expect((await objects.get<ResourceQuota>(RESOURCE_QUOTAS, 't', 'q'))?.status?.used).toEqual({ virtualports: '4' });
    // The refused ports claimed no address: 4 ports, 4 claims.
    expect((await kv.list('/ipam/ips/')).items.filter((i) => i.key.includes('/t/'))).toHaveLength(4);
    kv.close();
  });
});
