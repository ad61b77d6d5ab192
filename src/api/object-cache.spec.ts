import type { VirtualNetwork } from '../resources/kinds';
import { NETWORKS } from '../store/kinds';
import { EndingStore } from '../reconcile/testing/ending-store';
import { objectKey } from '../store/keys';
import { ObjectStore } from '../store/object-store';
import { countReads } from '../store/testing/counted-reads';
import { SqliteStore } from '../store/sqlite-store';
import { ObjectCache } from './object-cache';

describe('ObjectCache', () => {
  let kv: SqliteStore;
  let objects: ObjectStore;
  let storeReads: { readonly count: number };
  let cache: ObjectCache<VirtualNetwork>;

  const net = (name: string, cidr: string): VirtualNetwork => ({ apiVersion: 'vnet.dev/v1alpha1', kind: 'VirtualNetwork', metadata: { name, namespace: 't' }, spec: { subnets: [{ cidr }] } }) as VirtualNetwork;

  beforeEach(() => {
    kv = SqliteStore.open(':memory:');
    objects = new ObjectStore(kv);
    storeReads = countReads(objects);
    cache = new ObjectCache<VirtualNetwork>(objects, NETWORKS, (old, next) => old.metadata.generation !== next.metadata.generation);
  });

  afterEach(async () => {
    cache.stop();
    await kv.close();
  });

  it('reads an object once, then answers from memory; misses are not remembered', async () => {
    cache.start();
    await objects.create(NETWORKS, net('a', '10.0.0.0/24'));
    const first = await cache.get('t', 'a');
    expect(first?.spec?.subnets[0]?.cidr).toBe('10.0.0.0/24');
    expect(await cache.get('t', 'a')).toBe(first);
    expect(storeReads.count).toBe(1);
    expect(await cache.get('t', 'b')).toBeUndefined();
    expect(await cache.get('t', 'b')).toBeUndefined();
    expect(storeReads.count).toBe(3);
  });

  it('forgets an object when it changes in a way that matters, or is deleted', async () => {
    cache.start();
    await objects.create(NETWORKS, net('a', '10.0.0.0/24'));
    await cache.get('t', 'a');
    // A status write (generation unchanged) keeps the entry.
    await objects.modify<VirtualNetwork>(NETWORKS, 't', 'a', (cur) => ({ ...cur, status: { conditions: [] } }) as VirtualNetwork, { subresource: 'status' });
    await cache.get('t', 'a');
    expect(storeReads.count).toBe(1);
    await objects.modify<VirtualNetwork>(NETWORKS, 't', 'a', (cur) => ({ ...cur, spec: { subnets: [{ cidr: '10.1.0.0/24' }] } }));
    expect((await cache.get('t', 'a'))?.spec?.subnets[0]?.cidr).toBe('10.1.0.0/24');
    await objects.delete(NETWORKS, 't', 'a');
    expect(await cache.get('t', 'a')).toBeUndefined();
  });

  it('does not remember a read that raced a change, nor anything before start()', async () => {
    await objects.create(NETWORKS, net('a', '10.0.0.0/24'));
    await cache.get('t', 'a');
    await cache.get('t', 'a');
    expect(storeReads.count).toBe(2);
    cache.start();
    const pending = cache.get('t', 'a');
    cache.forget('t', 'a');
    await pending;
    await cache.get('t', 'a');
    expect(storeReads.count).toBe(4);
  });

  it('forgets everything when the store ends its watch (etcd), and keeps following after', async () => {
    const ending = new EndingStore();
    const onEnding = new ObjectStore(ending);
    const networks = new ObjectCache<VirtualNetwork>(onEnding, NETWORKS);
    networks.start();
    try {
      await onEnding.create(NETWORKS, net('a', '10.0.0.0/24'));
      expect((await networks.get('t', 'a'))?.spec?.subnets[0]?.cidr).toBe('10.0.0.0/24');
      // Deleted while the watch was gone: the cache must not answer with it.
      await ending.endWatches([{ type: 'delete', key: objectKey(NETWORKS, 't', 'a') }]);
      expect(await networks.get('t', 'a')).toBeUndefined();
      await onEnding.create(NETWORKS, net('a', '10.1.0.0/24'));
      expect((await networks.get('t', 'a'))?.spec?.subnets[0]?.cidr).toBe('10.1.0.0/24');
      await onEnding.delete(NETWORKS, 't', 'a');
      expect(await networks.get('t', 'a')).toBeUndefined(); // the new watch forgot it
    } finally {
      networks.stop();
    }
  });
});
