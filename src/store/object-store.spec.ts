import type { KubeObject } from '../resources/object';
import { NETWORKS, PORTS } from './kinds';
import { ObjectStore } from './object-store';
import { SqliteStore } from './sqlite-store';
import { ConflictError } from './store';

type Obj = KubeObject<{ network: string }, { a?: number; b?: number; c?: number }>;

// Every test gets a fresh in-memory store.
let kv: SqliteStore;
let objects: ObjectStore;
beforeEach(() => {
  kv = SqliteStore.open(':memory:');
  objects = new ObjectStore(kv);
});
afterEach(() => kv.close());

describe('ObjectStore status writes', () => {
  const port = (name: string): Obj => ({ apiVersion: 'vnet.dev/v1alpha1', kind: 'VirtualPort', metadata: { name, namespace: 't' }, spec: { network: 'n' } });

  it('coalesces the status writes of one object requested in one turn into one write, in request order', async () => {
    await objects.create(PORTS, port('p'));
    const before = await kv.currentRevision();
    const events: Obj[] = [];
    const w = objects.watch<Obj>(PORTS, 't', before, (e) => events.push(e.object));
    const setA = objects.modify<Obj>(PORTS, 't', 'p', (cur) => ({ ...cur, status: { ...cur.status, a: 1 } }), { subresource: 'status' });
    const setB = objects.modify<Obj>(PORTS, 't', 'p', (cur) => ({ ...cur, status: { ...cur.status, b: 2, a: (cur.status?.a ?? 0) + 10 } }), { subresource: 'status' });
    const noop = objects.modify<Obj>(PORTS, 't', 'p', () => undefined, { subresource: 'status' });
    const failing = objects.modify<Obj>(PORTS, 't', 'p', () => {
      throw new Error('mutation failed (expected by the test)');
    }, { subresource: 'status' });
    const [ra, rb, rn] = await Promise.all([setA, setB, noop]);
    await expect(failing).rejects.toThrow('mutation failed');
    // One write: one revision, one event; B ran on A's result.
    expect(await kv.currentRevision()).toBe(before + 1);
    expect(ra!.object.status).toEqual({ a: 11, b: 2 });
    expect(rb!.object.metadata.resourceVersion).toBe(String(before + 1));
    expect(rn!.object.status).toEqual({ a: 11, b: 2 });
    // resourceVersion is derived, never stored.
    expect((await kv.get<Obj>(objects.key(PORTS, 't', 'p')))!.value.metadata).not.toHaveProperty('resourceVersion');
    await new Promise((r) => setImmediate(r));
    expect(events.map((e) => e.status)).toEqual([{ a: 11, b: 2 }]);
    w.stop();
  });

  it('hands a mutation the stored resourceVersion only while no earlier mutation of the write changed the object', async () => {
    const created = await objects.create(PORTS, port('p'));
    const seen: Array<string | undefined> = [];
    const rv = (cur: Obj) => seen.push(cur.metadata.resourceVersion);
    const noop = objects.modify<Obj>(PORTS, 't', 'p', (cur) => void rv(cur), { subresource: 'status' });
    const setA = objects.modify<Obj>(PORTS, 't', 'p', (cur) => (rv(cur), { ...cur, status: { a: 1 } }), { subresource: 'status' });
    // What a writer memoising by revision (the chassis layer's binding) must not take for the
    // stored object: it holds A's change, which an answer for that revision would drop.
    const afterA = objects.modify<Obj>(PORTS, 't', 'p', (cur) => (rv(cur), { ...cur, status: { ...cur.status, b: 2 } }), { subresource: 'status' });
    const [, , r] = await Promise.all([noop, setA, afterA]);
    expect(seen).toEqual([created.metadata.resourceVersion, created.metadata.resourceVersion, undefined]);
    expect(r!.object.status).toEqual({ a: 1, b: 2 });
    expect(r!.object.metadata.resourceVersion).toBe(String(Number(created.metadata.resourceVersion) + 1));
  });

  it('writes different objects separately, skips a write that changes nothing, and answers undefined for a missing object', async () => {
    await objects.create(PORTS, port('p'));
    await objects.create(PORTS, port('q'));
    const before = await kv.currentRevision();
    const [p, q, same, gone] = await Promise.all([
      objects.modify<Obj>(PORTS, 't', 'p', (cur) => ({ ...cur, status: { c: 1 } }), { subresource: 'status' }),
      objects.modify<Obj>(PORTS, 't', 'q', (cur) => ({ ...cur, status: { c: 2 } }), { subresource: 'status' }),
      objects.modify<Obj>(NETWORKS, 't', 'p', (cur) => cur, { subresource: 'status' }),
      objects.modify<Obj>(PORTS, 't', 'absent', (cur) => ({ ...cur, status: { c: 3 } }), { subresource: 'status' }),
    ]);
    expect(same).toBeUndefined(); // no network of that name
    expect(gone).toBeUndefined();
    expect(new Set([p!.object.metadata.resourceVersion, q!.object.metadata.resourceVersion]).size).toBe(2);
    expect(await kv.currentRevision()).toBe(before + 2);
    const again = await objects.modify<Obj>(PORTS, 't', 'p', (cur) => ({ ...cur, status: { c: 1 } }), { subresource: 'status' });
    expect(again!.object.metadata.resourceVersion).toBe(p!.object.metadata.resourceVersion);
    expect(await kv.currentRevision()).toBe(before + 2);
  });

  it('a delete without a resourceVersion survives a write committed between its read and its write; with one it is a conflict', async () => {
    await objects.create(PORTS, port('p'));
    const cur = (await objects.get<Obj>(PORTS, 't', 'p'))!;
    const key = objects.key(PORTS, 't', 'p');
    // Queued first, so it commits after the delete has read the object and before its write.
    const racing = kv.txn([{ type: 'update', key, value: { ...cur, metadata: { ...cur.metadata, resourceVersion: undefined }, status: { a: 1 } } }]);
    const del = await objects.delete<Obj>(PORTS, 't', 'p');
    await racing;
    expect(del.deleted).toBe(true);
    expect(await objects.get(PORTS, 't', 'p')).toBeUndefined();

    await objects.create(PORTS, port('q'));
    const q = (await objects.get<Obj>(PORTS, 't', 'q'))!;
    const qKey = objects.key(PORTS, 't', 'q');
    const racingQ = kv.txn([{ type: 'update', key: qKey, value: { ...q, metadata: { ...q.metadata, resourceVersion: undefined }, status: { a: 1 } } }]);
    await expect(objects.delete(PORTS, 't', 'q', { preconditions: { resourceVersion: q.metadata.resourceVersion } })).rejects.toBeInstanceOf(ConflictError);
    await racingQ;
  });
});

describe('ObjectStore change detection (equality as stored)', () => {
  type Loose = KubeObject<Record<string, unknown>, Record<string, unknown>>;
  const obj = (spec: Record<string, unknown>): Loose => ({ apiVersion: 'vnet.dev/v1alpha1', kind: 'VirtualNetwork', metadata: { name: 'n', namespace: 't' }, spec });

  it('writes nothing and keeps the generation for a spec equal as JSON (key order, undefined properties); null vs absent is a change', async () => {
    await objects.create(NETWORKS, obj({ a: 1, b: { c: [1, 2] } }));
    const rev = await kv.currentRevision();
    const same = await objects.update(NETWORKS, obj({ b: { c: [1, 2] }, a: 1, gone: undefined }));
    expect(await kv.currentRevision()).toBe(rev);
    expect(same.object.metadata.generation).toBe(1);
    const nulled = await objects.update(NETWORKS, obj({ a: 1, b: { c: [1, 2] }, gone: null }));
    expect(await kv.currentRevision()).toBe(rev + 1);
    expect(nulled.object.metadata.generation).toBe(2);
    await objects.modify<Loose>(NETWORKS, 't', 'n', (cur) => ({ ...cur, status: { x: [1], y: undefined } }), { subresource: 'status' });
    const statusRev = await kv.currentRevision();
    await objects.modify<Loose>(NETWORKS, 't', 'n', (cur) => ({ ...cur, status: { x: [1] } }), { subresource: 'status' });
    expect(await kv.currentRevision()).toBe(statusRev);
  });

  it('writes nothing when only managedFields times (and their order) differ, and keeps the stored ones; a changed entry or field is written (QA-134 F1)', async () => {
    const entry = (manager: string, time: string, fields: Record<string, unknown> = { 'f:spec': { 'f:a': {} } }) => ({ manager, operation: 'Apply', apiVersion: 'vnet.dev/v1alpha1', time, fieldsType: 'FieldsV1', fieldsV1: fields });
    const managed = (spec: Record<string, unknown>, entries: unknown[]): Loose => ({ ...obj(spec), metadata: { ...obj(spec).metadata, managedFields: entries } });
    const stored = [entry('kubectl', '2026-12-07T10:00:00Z'), entry('flux', '2026-12-07T10:00:01Z')];
    await objects.create(NETWORKS, managed({ a: 1 }, stored));
    const rev = await kv.currentRevision();
    const events: unknown[] = [];
    const w = objects.watch(NETWORKS, 't', rev, (e) => events.push(e));
    const same = await objects.update(NETWORKS, managed({ a: 1 }, [entry('flux', '2026-12-07T10:05:00Z'), entry('kubectl', '2026-12-07T10:05:00Z')]));
    expect(await kv.currentRevision()).toBe(rev);
    expect(same.object.metadata.resourceVersion).toBe(String(rev));
    expect(same.object.metadata.managedFields).toEqual(stored);
    // Dry runs answer the stored object too.
    expect((await objects.update(NETWORKS, managed({ a: 1 }, [entry('kubectl', '2026-12-07T11:00:00Z'), entry('flux', '2026-12-07T11:00:00Z')]), { dryRun: true })).object.metadata.managedFields).toEqual(stored);
    // An entry that changes otherwise, or one more or fewer, is a change; so is any other field.
    await objects.update(NETWORKS, managed({ a: 1 }, [entry('kubectl', '2026-12-07T10:00:00Z', { 'f:spec': {} }), entry('flux', '2026-12-07T10:00:01Z')]));
    expect(await kv.currentRevision()).toBe(rev + 1);
    await objects.update(NETWORKS, managed({ a: 1 }, [entry('kubectl', '2026-12-07T10:00:00Z', { 'f:spec': {} })]));
    expect(await kv.currentRevision()).toBe(rev + 2);
    const changed = await objects.update(NETWORKS, managed({ a: 2 }, [entry('kubectl', '2026-12-07T10:09:00Z', { 'f:spec': {} })]));
    expect(await kv.currentRevision()).toBe(rev + 3);
    expect(changed.object.metadata.managedFields).toEqual([entry('kubectl', '2026-12-07T10:09:00Z', { 'f:spec': {} })]);
    await new Promise((r) => setImmediate(r));
    w.stop();
    expect(events).toHaveLength(3);
  });
});

describe('ObjectStore watches', () => {
  const port = (name: string): Obj => ({ apiVersion: 'vnet.dev/v1alpha1', kind: 'VirtualPort', metadata: { name, namespace: 't' }, spec: { network: 'n' } });

  it('hands every watcher of a store event the same event and objects, each with its resourceVersion', async () => {
    const seen: Array<Array<{ type: string; object: Obj; old?: Obj }>> = [[], [], []];
    const watches = seen.map((into) => objects.watch<Obj>(PORTS, undefined, undefined, (e) => into.push(e)));
    const created = await objects.create(PORTS, port('p'));
    await objects.modify<Obj>(PORTS, 't', 'p', (cur) => ({ ...cur, status: { a: 1 } }), { subresource: 'status' });
    await objects.delete(PORTS, 't', 'p');
    for (const w of watches) w.stop();
    expect(seen[0]!.map((e) => e.type)).toEqual(['ADDED', 'MODIFIED', 'DELETED']);
    for (const other of seen.slice(1)) seen[0]!.forEach((e, i) => expect(other[i]).toBe(e));
    const [added, modified] = seen[0]!;
    expect(added!.object.metadata.resourceVersion).toBe(created.metadata.resourceVersion);
    expect(modified!.old!.metadata.resourceVersion).toBe(created.metadata.resourceVersion);
    expect(Number(modified!.object.metadata.resourceVersion)).toBeGreaterThan(Number(created.metadata.resourceVersion));
  });
});
