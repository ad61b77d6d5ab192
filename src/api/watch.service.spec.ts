import { SYSTEM_PRINCIPAL } from './auth/principal';
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
    const resources = { authorize: () => undefined, visible: () => true } as unknown as ResourceService;
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
});
