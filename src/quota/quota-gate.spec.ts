import { NAMESPACE_TYPE } from '../resources/catalog';
import type { KubeObject } from '../resources/object';
import { RESOURCE_QUOTAS } from '../store/kinds';
import { ObjectStore } from '../store/object-store';
import { SqliteStore } from '../store/sqlite-store';
import { QUOTALESS_TRUSTED_MS, QuotaExceededError, QuotaGate } from './quota-gate';

describe('QuotaGate: a namespace without a quota', () => {
  it('is read once per QUOTALESS_TRUSTED_MS, a quota created through this process counts at once, one created elsewhere once that has passed', async () => {
    const kv = SqliteStore.open(':memory:');
    const objects = new ObjectStore(kv);
    await objects.create(NAMESPACE_TYPE, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 't' } } as KubeObject);
    let now = 1_000_000;
    const gate = new QuotaGate(objects, () => now);
    const reads = jest.spyOn(objects, 'list');
    const port = { network: 'n' };
    for (let i = 0; i < 50; i++) expect((await gate.charge('t', 'VirtualPort', port)).ops).toEqual([]);
    // Before: one read of the namespace's quotas per write.
    expect(reads).toHaveBeenCalledTimes(1);

    // Another replica creates a quota of no ports: trusted "none" until it expires.
    await objects.create(RESOURCE_QUOTAS, { apiVersion: 'v1', kind: 'ResourceQuota', metadata: { name: 'q', namespace: 't' }, spec: { hard: { virtualports: '0' } } } as KubeObject);
    expect((await gate.charge('t', 'VirtualPort', port)).ops).toEqual([]);
    now += QUOTALESS_TRUSTED_MS;
    await expect(gate.charge('t', 'VirtualPort', port)).rejects.toBeInstanceOf(QuotaExceededError);

    // Created through this process (the service calls created()): counted at the next write.
    const other = new QuotaGate(objects, () => now);
    await objects.delete(RESOURCE_QUOTAS, 't', 'q');
    expect((await other.charge('t', 'VirtualPort', port)).ops).toEqual([]);
    await objects.create(RESOURCE_QUOTAS, { apiVersion: 'v1', kind: 'ResourceQuota', metadata: { name: 'q', namespace: 't' }, spec: { hard: { virtualports: '0' } } } as KubeObject);
    other.created('t');
    await expect(other.charge('t', 'VirtualPort', port)).rejects.toBeInstanceOf(QuotaExceededError);
    kv.close();
  });
});
