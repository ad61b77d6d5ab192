import { SYSTEM_PRINCIPAL, type Principal } from './auth/principal';
import { ApiError } from '../resources/status';
import { SqliteStore } from '../store/sqlite-store';
import { EndingStore } from '../reconcile/testing/ending-store';
import type { ResourceType } from '../resources/catalog';
import type { KubeObject } from '../resources/object';
import { ObjectStore } from '../store/object-store';
import { NETWORKS } from '../store/kinds';
import { parseListQuery } from './query';
import type { ResourceService } from './resource.service';
import { WatchService, type WatchEventType } from './watch.service';

describe('WatchService', () => {
  it('ends a watch the store ended (etcd, history compacted) with an ERROR 410 event, as kube-apiserver does', async () => {
    const store = new EndingStore();
    const objects = new ObjectStore(store);
    // Authorization and listing are the ResourceService's (tested with the API); here they allow everything.
    const resources = { authorize: () => undefined, checkFieldSelector: () => undefined, visible: () => true } as unknown as ResourceService;
    const watches = new WatchService(resources, objects);
    const type = { ...NETWORKS, kind: 'VirtualNetwork', apiVersion: 'vnet.dev/v1alpha1' } as unknown as ResourceType;
    await store.txn([{ type: 'create', key: '/x', value: {} }]);
    const start = await watches.prepare({ principal: SYSTEM_PRINCIPAL, type, namespace: 'w' }, parseListQuery({ watch: 'true', resourceVersion: '1', fieldSelector: 'metadata.name=n' }), (o: KubeObject) => o);
    const sent: Array<{ type: WatchEventType; object: unknown }> = [];
    let ended = false;
    start({ send: (t, object) => sent.push({ type: t, object }), end: () => (ended = true), onClose: () => undefined });

    await store.endWatches();
    expect(ended).toBe(true);
    expect(sent).toEqual([{ type: 'ERROR', object: expect.objectContaining({ kind: 'Status', code: 410, reason: 'Expired' }) }]);
  });

  it('holds a tenant to its watch limit with 429 and Retry-After; a closed or failed watch gives its slot back; admins have no limit', async () => {
    const objects = new ObjectStore(SqliteStore.open(':memory:'));
    const resources = { authorize: () => undefined, checkFieldSelector: () => undefined, visible: () => true } as unknown as ResourceService;
    const watches = new WatchService(resources, objects, { bookmarkIntervalMs: 10_000, maxTimeoutSeconds: 60, maxWatchesPerTenant: 2, maxWatchesPerAgent: 3 });
    const type = { ...NETWORKS, kind: 'VirtualNetwork', apiVersion: 'vnet.dev/v1alpha1' } as unknown as ResourceType;
    const alice: Principal = { name: 'token:alice', admin: false, namespaces: new Set(['w']) };
    const bob: Principal = { name: 'token:bob', admin: false, namespaces: new Set(['w']) };
    await objects.kv.txn([{ type: 'create', key: '/x', value: {} }]);
    const q = parseListQuery({ watch: 'true', resourceVersion: '1' });
    const open = async (principal: Principal) => {
      const start = await watches.prepare({ principal, type, namespace: 'w' }, q, (o: KubeObject) => o);
      const closers: Array<() => void> = [];
      start({ send: () => undefined, end: () => undefined, onClose: (cb) => closers.push(cb) });
      return () => closers.forEach((c) => c());
    };
    const refused = async (principal: Principal) => {
      try {
        await open(principal);
      } catch (err) {
        return err instanceof ApiError ? { code: err.code, reason: err.reason, retry: err.details?.retryAfterSeconds, message: err.message } : err;
      }
      return 'opened';
    };
    const first = await open(alice);
    await open(alice);
    expect(await refused(alice)).toEqual({ code: 429, reason: 'TooManyRequests', retry: 1, message: "Too many requests, please try again later: token:alice has 2 watches open on this server, the most a tenant's token may hold: close some, or retry later" });
    expect(await refused(bob)).toBe('opened');
    for (let i = 0; i < 5; i++) await open(SYSTEM_PRINCIPAL);
    // One node's agent token has a limit of its own; every node's agents' shared token none.
    const hv1: Principal = { name: 'token:agent-hv1', admin: false, namespaces: new Set(), node: 'hv1' };
    for (let i = 0; i < 3; i++) await open(hv1);
    expect(await refused(hv1)).toMatchObject({ code: 429, message: expect.stringContaining("the most a node's agent token may hold") });
    for (let i = 0; i < 5; i++) await open({ name: 'token:agents', admin: false, namespaces: new Set(), node: '*' });
    first();
    first();
    expect(await refused(alice)).toBe('opened');
    expect((await refused(alice) as { code: number }).code).toBe(429);
    // A watch refused after its slot was taken (a malformed resourceVersion) gives it back.
    const bad = parseListQuery({ watch: 'true', resourceVersion: '999999' });
    const carol: Principal = { name: 'token:carol', admin: false, namespaces: new Set(['w']) };
    for (let i = 0; i < 3; i++) await expect(watches.prepare({ principal: carol, type, namespace: 'w' }, bad, (o: KubeObject) => o)).rejects.toMatchObject({ code: 504 });
    expect(await refused(carol)).toBe('opened');
    watches.closeAll();
  });

  it('ends a watch whose stream starts after closeAll (shutdown while it was being prepared) at once, sending nothing (QA-127 F3)', async () => {
    const objects = new ObjectStore(SqliteStore.open(':memory:'));
    const resources = { authorize: () => undefined, checkFieldSelector: () => undefined, visible: () => true } as unknown as ResourceService;
    const watches = new WatchService(resources, objects);
    const type = { ...NETWORKS, kind: 'VirtualNetwork', apiVersion: 'vnet.dev/v1alpha1' } as unknown as ResourceType;
    await objects.kv.txn([{ type: 'create', key: '/x', value: {} }]);
    const start = await watches.prepare({ principal: SYSTEM_PRINCIPAL, type, namespace: 'w' }, parseListQuery({ watch: 'true', resourceVersion: '1' }), (o: KubeObject) => o);
    watches.closeAll();
    const sent: WatchEventType[] = [];
    let ended = false;
    start({ send: (t) => sent.push(t), end: () => (ended = true), onClose: () => undefined });
    // Before: it streamed on, and the server it held open never closed.
    expect(ended).toBe(true);
    await objects.kv.txn([{ type: 'create', key: '/y', value: {} }]);
    expect(sent).toEqual([]);
  });
});
