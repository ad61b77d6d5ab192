import { PORTS, NODES } from '../store/kinds';
import { typePrefix } from '../store/keys';
import { SharedInformers } from './shared-informers';
import { CountingStore } from './testing/counting-store';
import { until } from './testing/until';

interface Port {
  metadata: { name: string };
  spec?: { interfaceId?: string };
}

const portKey = (name: string) => `${typePrefix(PORTS)}t/${name}`;
const port = (name: string, interfaceId?: string) => ({ type: 'create' as const, key: portKey(name), value: { metadata: { name }, spec: { interfaceId } } });

describe('SharedInformers', () => {
  let store: CountingStore;
  let informers: SharedInformers;

  beforeEach(async () => {
    store = new CountingStore();
    informers = new SharedInformers(store);
    await store.txn([port('a', 'if-a'), port('b')]);
  });
  afterEach(async () => {
    informers.stop();
    await store.close();
  });

  it('lists and watches a kind once for every reader, and tells each reader every object', async () => {
    const first = informers.of<Port>(PORTS);
    const second = informers.of<Port>(PORTS);
    expect(second).toBe(first);
    const seen: Record<string, string[]> = { first: [], second: [] };
    first.addEventHandler({ onAdd: (p) => seen.first!.push(p.metadata.name) });
    second.addEventHandler({ onAdd: (p) => seen.second!.push(p.metadata.name) });
    first.start();
    second.start(); // a running informer: nothing more
    await Promise.all([first.waitForSync(), second.waitForSync()]);
    await store.txn([port('c')]);
    await until(() => seen.second!.length === 3);
    expect(seen).toEqual({ first: ['a', 'b', 'c'], second: ['a', 'b', 'c'] });
    expect(store.lists.get(typePrefix(PORTS))).toBe(1);
    expect(store.watches.get(typePrefix(PORTS))).toBe(1);
    // Another kind is its own informer.
    expect(informers.of(NODES)).not.toBe(first);
  });

  it('keeps one index per name when readers ask for it twice (ensureIndex), where addIndex refuses', async () => {
    const ports = informers.of<Port>(PORTS);
    const byInterface = (p: Port) => (p.spec?.interfaceId ? [p.spec.interfaceId] : []);
    ports.ensureIndex('interfaceId', byInterface);
    ports.ensureIndex('interfaceId', byInterface);
    expect(() => ports.addIndex('interfaceId', byInterface)).toThrow(/already exists/);
    ports.start();
    await ports.waitForSync();
    expect(ports.indexKeys('interfaceId', 'if-a')).toEqual([portKey('a')]);
  });

  it('stop() ends every informer it made: no more events, and waiting for a sync says false', async () => {
    const ports = informers.of<Port>(PORTS);
    const nodes = informers.of<Port>(NODES);
    const names: string[] = [];
    ports.addEventHandler({ onAdd: (p) => names.push(p.metadata.name) });
    ports.start();
    await ports.waitForSync();
    informers.stop();
    await store.txn([port('late')]);
    await new Promise((r) => setTimeout(r, 20));
    expect(names).toEqual(['a', 'b']);
    expect(await nodes.waitForSync()).toBe(false);
    expect(store.openWatches.get(typePrefix(PORTS))).toBe(0);
  });
});
