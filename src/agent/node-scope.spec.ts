import pino from 'pino';
import type { KubeObject } from '../resources/object';
import type { VirtualPort } from '../resources/kinds';
import { PORTS } from '../store/kinds';
import { typePrefix, type StoredType } from '../store/keys';
import { GoneError, type KeyValue, type WatchEvent, type WatchHandler } from '../store/store';
import type { ApiStore, ApiWatch, WatchScope } from './api-store';
import { NodeScopedStore } from './node-scope';

const log = pino({ level: 'silent' });
const PREFIX = typePrefix(PORTS);

/** One watchScope call of the fake API: the test answers its list and sends its events. */
interface FakeWatch {
  scope: WatchScope;
  known: KeyValue<KubeObject>[];
  handler: WatchHandler<KubeObject>;
  synced(): void;
  stopped: boolean;
}

/** The part of ApiStore a NodeScopedStore uses, driven by hand. */
class FakeApi {
  readonly watches: FakeWatch[] = [];
  watchScope(_type: StoredType, scope: WatchScope, handler: WatchHandler<KubeObject>, _after?: number, known: KeyValue<KubeObject>[] = [], onSynced?: () => void): ApiWatch {
    const w: FakeWatch = { scope, known, handler, synced: () => onSynced?.(), stopped: false };
    this.watches.push(w);
    return { stop: () => (w.stopped = true) } as unknown as ApiWatch;
  }
  open(selector: string): FakeWatch | undefined {
    return this.watches.find((w) => w.scope.fieldSelector === selector && !w.stopped);
  }
  /** Lists every open watch of a network (its object, ports, load balancers) as empty. */
  async syncNetworks(): Promise<void> {
    await flush();
    for (const w of this.watches) if (w.scope.namespace !== undefined && !w.stopped) w.synced();
  }
  async close(): Promise<void> {}
}

const portKv = (name: string, rev: number, spec: Partial<NonNullable<VirtualPort['spec']>>, status: VirtualPort['status'] = {}): KeyValue<KubeObject> => ({
  key: `${PREFIX}t/${name}`,
  value: { apiVersion: 'vnet.dev/v1alpha1', kind: 'VirtualPort', metadata: { name, namespace: 't' }, spec: { network: 'n', ...spec }, status } as unknown as KubeObject,
  createRevision: 1,
  modRevision: rev,
});
const put = (kv: KeyValue<KubeObject>): WatchEvent<KubeObject> => ({ type: 'put', kv, created: true });
const del = (kv: KeyValue<KubeObject>, rev: number): WatchEvent<KubeObject> => ({ type: 'delete', kv: { ...kv, modRevision: rev }, prevKv: kv, created: false });
const flush = () => new Promise((r) => setImmediate(r));
const within = <T>(p: Promise<T>, ms: number, what: string): Promise<T> => {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms)));
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
};

describe('NodeScopedStore and the NICs of its node', () => {
  const PINNED = 'spec.node=hv1';
  const BOUND = 'status.node=hv1,spec.node=';
  const nic = (id: string) => `spec.interfaceId=${id},spec.node=`;

  it('is ready even when a NIC watch closes before its first list (its port arrived on another watch)', async () => {
    const api = new FakeApi();
    const scoped = new NodeScopedStore(api as unknown as ApiStore, 'hv1', log, { interfaceIds: Promise.resolve(['nic-x']) });
    await flush();
    api.open(PINNED)!.synced();
    api.open(BOUND)!.synced();
    await flush();
    const nicWatch = api.open(nic('nic-x'));
    expect(nicWatch).toBeDefined();
    // Before that watch has listed, the port of nic-x arrives pinned here: its watch closes.
    api.open(PINNED)!.handler(put(portKv('p', 5, { node: 'hv1', interfaceId: 'nic-x' })));
    expect(nicWatch!.stopped).toBe(true);
    await api.syncNetworks();
    const listed = await within(scoped.list(PREFIX), 2000, 'the first list');
    expect(listed.items.map((kv) => kv.key)).toEqual([`${PREFIX}t/p`]);
    await scoped.close();
  });

  it('past 128 NICs without a port here, watches every unpinned port instead of one watch per NIC', async () => {
    const api = new FakeApi();
    const ids = Array.from({ length: 200 }, (_, i) => `nic-${i}`);
    const scoped = new NodeScopedStore(api as unknown as ApiStore, 'hv1', log, { interfaceIds: Promise.resolve(ids) });
    await flush();
    api.open(PINNED)!.synced();
    api.open(BOUND)!.synced();
    await flush();
    expect(api.watches.filter((w) => w.scope.fieldSelector?.startsWith('spec.interfaceId=') && !w.stopped)).toHaveLength(128);
    const every = api.open('spec.node=');
    expect(every).toBeDefined();
    every!.handler(put(portKv('u7', 4, { interfaceId: 'nic-7' })));
    every!.synced();
    const listed = await within(scoped.list(PREFIX), 2000, 'the first list');
    expect(listed.items.map((kv) => kv.key)).toEqual([`${PREFIX}t/u7`]);
    // The NIC watches are gone; a NIC plugged later opens none (200 without a port here is far above 64).
    expect(api.watches.filter((w) => w.scope.fieldSelector?.startsWith('spec.interfaceId=') && !w.stopped)).toHaveLength(0);
    scoped.setInterface('nic-late', true);
    expect(api.open(nic('nic-late'))).toBeUndefined();
    await scoped.close();
  });

  it('goes back to one watch per NIC once fewer than 64 NICs without a port here are left, handing their ports over without a delete', async () => {
    const api = new FakeApi();
    const ids = Array.from({ length: 200 }, (_, i) => `nic-${i}`);
    const scoped = new NodeScopedStore(api as unknown as ApiStore, 'hv1', log, { interfaceIds: Promise.resolve(ids), narrowDelayMs: 20 });
    await flush();
    api.open(PINNED)!.synced();
    api.open(BOUND)!.synced();
    await flush();
    const nicWatches = () => api.watches.filter((w) => w.scope.fieldSelector?.startsWith('spec.interfaceId=') && !w.stopped);
    const every = api.open('spec.node=')!;
    const kept = portKv('u7', 4, { interfaceId: 'nic-7' });
    const gone = portKv('u150', 5, { interfaceId: 'nic-150' });
    every.handler(put(kept));
    every.handler(put(gone));
    every.synced();
    await within(scoped.list(PREFIX), 2000, 'the first list');
    const events: WatchEvent[] = [];
    scoped.watch(PREFIX, (ev) => events.push(ev));

    // 150 of the NICs leave (VMs stopped or their ports declared elsewhere): 50 are left.
    scoped.setInterfaces(new Set(ids.slice(0, 50)));
    await new Promise((r) => setTimeout(r, 60));
    expect(nicWatches()).toHaveLength(50);
    expect(every.stopped).toBe(false); // until the NIC watches have listed
    expect(api.open(nic('nic-7'))!.known.map((kv) => kv.key)).toEqual([kept.key]);
    for (const w of nicWatches()) {
      if (w.scope.fieldSelector === nic('nic-7')) w.handler(put(kept));
      w.synced();
    }
    // u7's NIC is here: its network is watched (a live migration's destination, QA-135 F2).
    await api.syncNetworks();
    expect(every.stopped).toBe(true);
    // u7 changed hands without a delete; u150's NIC is no longer here, so it left the view.
    expect(events.map((e) => [e.type, e.kv.key])).toEqual([['delete', gone.key]]);
    expect((await scoped.list(PREFIX)).items.map((kv) => kv.key)).toEqual([kept.key]);

    // Past 128 again: back to the broad watch.
    scoped.setInterfaces(new Set(ids));
    await flush();
    expect(api.open('spec.node=')).toBeDefined();
    await scoped.close();
  });

  it('hands a port leaving the watch of ports bound here to its NIC\'s watch without a delete in between', async () => {
    const api = new FakeApi();
    const scoped = new NodeScopedStore(api as unknown as ApiStore, 'hv1', log, { interfaceIds: Promise.resolve(['nic-y']) });
    await flush();
    const bound = portKv('q', 7, { interfaceId: 'nic-y' }, { node: 'hv1' });
    api.open(PINNED)!.synced();
    api.open(BOUND)!.handler(put(bound));
    api.open(BOUND)!.synced();
    await api.syncNetworks();
    await within(scoped.list(PREFIX), 2000, 'the first list');
    expect(api.open(nic('nic-y'))).toBeUndefined(); // held by the bound watch
    const events: WatchEvent[] = [];
    scoped.watch(PREFIX, (ev) => {
      if (ev.kv.key === bound.key) events.push(ev);
    });

    // Another node takes the binding while the NIC is still here (a live migration).
    api.open(BOUND)!.handler(del(bound, 9));
    const taken = api.open(nic('nic-y'));
    expect(taken?.known.map((kv) => kv.key)).toEqual([bound.key]);
    expect(events).toEqual([]);
    expect((await scoped.list(PREFIX)).items.map((kv) => kv.key)).toEqual([bound.key]);
    // The NIC's watch lists it as it is now: a change, not a create.
    const moved = portKv('q', 9, { interfaceId: 'nic-y' }, { node: 'hv2' });
    taken!.handler({ type: 'put', kv: moved, prevKv: bound, created: false });
    taken!.synced();
    expect(events.map((e) => [e.type, e.kv.modRevision, e.created])).toEqual([['put', 9, false]]);
    // Its NIC still here, so is its network (the VM may come back: an aborted migration).
    await api.syncNetworks();
    expect(scoped.networks()).toEqual(['t/n']);
    // Its NIC gone from this switch: the port leaves the view, and its network with it.
    scoped.setInterface('nic-y', false);
    expect(taken!.stopped).toBe(true);
    expect(events.map((e) => e.type)).toEqual(['put', 'delete']);
    await flush();
    expect(scoped.networks()).toEqual([]);
    await scoped.close();
  });

  it("watches the network of a port bound on another node whose NIC is here: a live migration's destination has it before switchover (QA-135 F2)", async () => {
    const api = new FakeApi();
    const scoped = new NodeScopedStore(api as unknown as ApiStore, 'hv1', log, { interfaceIds: Promise.resolve([]) });
    await flush();
    api.open(PINNED)!.synced();
    api.open(BOUND)!.synced();
    await api.syncNetworks();
    await within(scoped.list(PREFIX), 2000, 'the first list');
    expect(scoped.networks()).toEqual([]);
    // The destination's NIC plugged while the source (hv2) holds the binding.
    scoped.setInterface('nic-m', true);
    const mine = api.open(nic('nic-m'))!;
    mine.handler(put(portKv('m', 4, { interfaceId: 'nic-m' }, { node: 'hv2' })));
    mine.synced();
    await api.syncNetworks();
    // Before, only once bound here: its network's watches listed and compiled after switchover (1.3 s more outage).
    expect(scoped.networks()).toEqual(['t/n']);
    expect(api.open('spec.network=n')).toBeDefined();
    // The destination's NIC removed (a migration aborted before switchover): no longer.
    scoped.setInterface('nic-m', false);
    await flush();
    expect(scoped.networks()).toEqual([]);
    expect(api.open('spec.network=n')).toBeUndefined();
    await scoped.close();
  });

  it('remembers changes for a watch that starts after a list for a while only: older ones are forgotten, and a watch from before them is told to list again', async () => {
    const api = new FakeApi();
    const scoped = new NodeScopedStore(api as unknown as ApiStore, 'hv1', log, { interfaceIds: Promise.resolve([]), logMaxAgeMs: 100 });
    await flush();
    api.open(PINNED)!.synced();
    api.open(BOUND)!.synced();
    await api.syncNetworks();
    const start = (await within(scoped.list(PREFIX), 2000, 'the first list')).revision;
    for (let i = 1; i <= 50; i++) api.open(PINNED)!.handler(put(portKv(`p${i}`, 10 + i, { node: 'hv1' })));
    await api.syncNetworks(); // their network's watches
    // Just after: a watch from the first list replays all 50.
    const replayed: string[] = [];
    scoped.watch(PREFIX, (ev) => replayed.push(ev.kv.key), { afterRevision: start }).stop();
    expect(replayed).toHaveLength(50);
    // Past the age bound, with no change since (the timer trims): forgotten.
    await new Promise((r) => setTimeout(r, 250));
    expect(() => scoped.watch(PREFIX, () => undefined, { afterRevision: start })).toThrow(GoneError);
    // A watch from a list made now loses nothing: it gets the next change.
    const now = await within(scoped.list(PREFIX), 2000, 'a list now');
    expect(now.items).toHaveLength(50);
    const next: string[] = [];
    const w = scoped.watch(PREFIX, (ev) => next.push(ev.kv.key), { afterRevision: now.revision });
    api.open(PINNED)!.handler(put(portKv('p51', 61, { node: 'hv1' })));
    expect(next).toEqual([`${PREFIX}t/p51`]);
    w.stop();
    await scoped.close();
  });
});
