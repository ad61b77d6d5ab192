import pino from 'pino';
import { CountingStore } from '../reconcile/testing/counting-store';
import { ResourceCatalog } from '../resources/catalog';
import { LOAD_BALANCERS, NETWORKS, NODES, PORTS } from '../store/kinds';
import { typePrefix } from '../store/keys';
import { ObjectStore } from '../store/object-store';
import { startLeaderWork } from './leader-work';

describe('startLeaderWork', () => {
  it('lists and watches each kind once for all its reconcilers (IPAM, chassis, pipeline), and leaves no watch open when stopped', async () => {
    const store = new CountingStore();
    const work = await startLeaderWork({ objects: new ObjectStore(store), catalog: ResourceCatalog.load(), logger: pino({ level: 'silent' }), workers: 1, chassis: true });
    try {
      // Three readers of ports, two of networks, load balancers and nodes: one list and watch each.
      for (const kind of [PORTS, NETWORKS, LOAD_BALANCERS, NODES]) {
        expect([typePrefix(kind), store.lists.get(typePrefix(kind)), store.watches.get(typePrefix(kind))]).toEqual([typePrefix(kind), 1, 1]);
      }
    } finally {
      await work.stop();
      await store.close();
    }
    expect([...store.openWatches].filter(([, open]) => open !== 0)).toEqual([]);
  });
});
