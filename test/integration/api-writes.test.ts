/**
 * Writes as kube-apiserver takes them (QA-134): a write that changes nothing writes nothing,
 * ownerReferences checked and deduplicated, and the namespace a body leaves empty taken from
 * the request's path.
 */
import { request } from 'node:https';
import { PORTS } from '../../src/store/kinds';
import { eventually, replaceOnConflict, startTestVnetd, type TestVnetd } from '../support/vnetd';

const G = '/apis/vnet.dev/v1alpha1';
const SSA = { contentType: 'application/apply-patch+yaml' };
const MERGE = { contentType: 'application/merge-patch+json' };
let v: TestVnetd;

interface WatchEvent {
  type: string;
  object: { metadata: { name: string; resourceVersion: string }; spec?: { mtu?: number } };
}

beforeAll(async () => {
  v = await startTestVnetd();
  for (const ns of ['wr', 'wr2']) expect((await v.call('POST', '/api/v1/namespaces', { metadata: { name: ns } })).status).toBe(201);
});
afterAll(async () => v.stop());

/** A watch from `path` whose events are collected as they come; stop() ends it. */
function collect(path: string): { events: WatchEvent[]; stop(): void } {
  const events: WatchEvent[] = [];
  let buf = '';
  const req = request(new URL(path, v.url), { ca: v.caCertPem, headers: { authorization: `Bearer ${v.adminToken}` } }, (res) => {
    res.on('data', (d: Buffer) => {
      buf += d.toString();
      for (let i; (i = buf.indexOf('\n')) >= 0; buf = buf.slice(i + 1)) if (buf.slice(0, i).trim()) events.push(JSON.parse(buf.slice(0, i)) as WatchEvent);
    });
  });
  req.on('error', () => undefined);
  req.end();
  return { events, stop: () => void req.destroy() };
}

/** The object once the controllers have stopped writing it (its resourceVersion still for 600 ms). */
async function settled(path: string): Promise<{ metadata: { resourceVersion: string; generation: number; managedFields: unknown[] } }> {
  for (;;) {
    const before = (await v.call('GET', path)).json;
    await new Promise((r) => setTimeout(r, 600));
    const after = (await v.call('GET', path)).json;
    if (after.metadata.resourceVersion === before.metadata.resourceVersion) return after;
  }
}

describe('a write that changes nothing (F1)', () => {
  it('an unchanged server-side apply, patch or update keeps resourceVersion, generation and managedFields times, and no watcher hears of it', async () => {
    const path = `${G}/namespaces/wr/virtualnetworks/noop`;
    const manifest = (mtu: number) => ({ apiVersion: 'vnet.dev/v1alpha1', kind: 'VirtualNetwork', metadata: { name: 'noop', labels: { app: 'a' } }, spec: { subnets: [{ cidr: '10.134.0.0/24' }], mtu } });
    expect((await v.call('PATCH', `${path}?fieldManager=kubectl`, manifest(1400), SSA)).status).toBe(201);
    // A second manager, after the applier: the apply puts its own entry last when it writes.
    expect((await v.call('PATCH', `${path}?fieldManager=kubectl-label`, { metadata: { labels: { team: 't' } } }, MERGE)).status).toBe(200);
    // managedFields times are whole seconds: the applies below are in a later second.
    await new Promise((r) => setTimeout(r, 1100));
    const stored = await settled(path);
    const rv = stored.metadata.resourceVersion;
    const w = collect(`${path.replace(/\/noop$/, '')}?watch=true&resourceVersion=${rv}&fieldSelector=metadata.name%3Dnoop`);

    const unchanged = (res: { status: number; json: typeof stored }) => {
      expect(res.status).toBe(200);
      expect(res.json.metadata.resourceVersion).toBe(rv);
      expect(res.json.metadata.generation).toBe(stored.metadata.generation);
      expect(res.json.metadata.managedFields).toEqual(stored.metadata.managedFields);
    };
    unchanged(await v.call('PATCH', `${path}?fieldManager=kubectl`, manifest(1400), SSA));
    unchanged(await v.call('PATCH', `${path}?fieldManager=kubectl&force=true`, manifest(1400), SSA));
    unchanged(await v.call('PATCH', `${path}?fieldManager=kubectl-label`, { metadata: { labels: { team: 't' } } }, MERGE));
    unchanged(await v.call('PATCH', path, [{ op: 'replace', path: '/spec/mtu', value: 1400 }], { contentType: 'application/json-patch+json' }));
    unchanged(await v.call('PUT', path, stored));
    // managedFields sent back with other times (and in another order) are the stored ones still.
    const shuffled = (stored.metadata.managedFields as Array<Record<string, unknown>>).map((e) => ({ ...e, time: '2020-01-01T00:00:00Z' })).reverse();
    unchanged(await v.call('PUT', path, { ...stored, metadata: { ...stored.metadata, managedFields: shuffled } }));
    expect(await v.objects.kv.currentRevision()).toBe(Number(rv));

    // A change is written, and is the first thing the watch hears.
    const changed = await v.call('PATCH', `${path}?fieldManager=kubectl`, manifest(1450), SSA);
    expect(changed.status).toBe(200);
    expect(Number(changed.json.metadata.resourceVersion)).toBeGreaterThan(Number(rv));
    expect(changed.json.metadata.generation).toBe(stored.metadata.generation + 1);
    await eventually(async () => w.events.length > 0);
    w.stop();
    expect(w.events[0]).toMatchObject({ type: 'MODIFIED', object: { metadata: { resourceVersion: changed.json.metadata.resourceVersion }, spec: { mtu: 1450 } } });
  });
});

describe('the namespace of a body (F3)', () => {
  const vnet = (name: string, namespace: unknown, cidr: string) => ({ apiVersion: 'vnet.dev/v1alpha1', kind: 'VirtualNetwork', metadata: { name, namespace }, spec: { subnets: [{ cidr }] } });

  it('an empty or null namespace is the request path\'s, in a create, an update and an apply; only another one is refused (it was a 400)', async () => {
    for (const [name, ns] of [['ns-empty', ''], ['ns-null', null]] as const) {
      const created = await v.call('POST', `${G}/namespaces/wr/virtualnetworks`, vnet(name, ns, '10.135.0.0/24'));
      expect([name, created.status, created.json.metadata.namespace]).toEqual([name, 201, 'wr']);
      // (Read again on a 409: the controllers write the new network's status meanwhile.)
      const { response: put } = await replaceOnConflict<{ metadata: Record<string, unknown> }>(v, `${G}/namespaces/wr/virtualnetworks/${name}`, (read) => ({ ...read, metadata: { ...read.metadata, namespace: ns, labels: { put: 'yes' } } }));
      expect([name, put.status, put.json.metadata.namespace, put.json.metadata.labels]).toEqual([name, 200, 'wr', { put: 'yes' }]);
      const merged = await v.call('PATCH', `${G}/namespaces/wr/virtualnetworks/${name}`, { metadata: { namespace: ns, labels: { merged: 'yes' } } }, MERGE);
      expect([name, merged.status, merged.json.metadata.namespace]).toEqual([name, 200, 'wr']);
    }
    for (const [name, ns] of [['ns-apply-empty', ''], ['ns-apply-null', null]] as const) {
      const path = `${G}/namespaces/wr/virtualnetworks/${name}?fieldManager=kubectl`;
      const created = await v.call('PATCH', path, vnet(name, ns, '10.136.0.0/24'), SSA);
      expect([name, created.status, created.json.metadata.namespace]).toEqual([name, 201, 'wr']);
      const applied = await v.call('PATCH', path, { ...vnet(name, ns, '10.136.0.0/24'), metadata: { name, namespace: ns, labels: { applied: 'yes' } } }, SSA);
      expect([name, applied.status, applied.json.metadata.namespace, applied.json.metadata.labels]).toEqual([name, 200, 'wr', { applied: 'yes' }]);
    }
    // A cluster-scoped object's empty namespace is no namespace.
    for (const [name, ns] of [['ns-node-empty', ''], ['ns-node-null', null]] as const) {
      const node = await v.call('POST', `${G}/nodes`, { metadata: { name, namespace: ns }, spec: { tunnelIP: name.endsWith('empty') ? '192.0.2.134' : '192.0.2.135' } });
      expect([name, node.status, node.json.metadata.namespace]).toEqual([name, 201, undefined]);
    }
    // Another namespace than the path's is still refused, and creates nothing.
    const other = await v.call('POST', `${G}/namespaces/wr/virtualnetworks`, vnet('ns-other', 'wr2', '10.137.0.0/24'));
    expect(other.json).toMatchObject({ code: 400, message: 'the namespace of the provided object does not match the namespace sent on the request' });
    const otherApply = await v.call('PATCH', `${G}/namespaces/wr/virtualnetworks/ns-other?fieldManager=kubectl`, vnet('ns-other', 'wr2', '10.137.0.0/24'), SSA);
    expect(otherApply.status).toBe(400);
    expect((await v.call('GET', `${G}/namespaces/wr/virtualnetworks/ns-other`)).status).toBe(404);
    expect((await v.call('GET', `${G}/namespaces/wr2/virtualnetworks/ns-other`)).status).toBe(404);
  });
});

describe('ownerReferences (F2)', () => {
  const ref = (kind: string, name: string, uid: string, controller?: boolean) => ({ apiVersion: 'vnet.dev/v1alpha1', kind, name, uid, ...(controller === undefined ? {} : { controller }) });
  const port = (name: string, ownerReferences: unknown[]) => ({ apiVersion: 'vnet.dev/v1alpha1', kind: 'VirtualPort', metadata: { name, ownerReferences }, spec: { network: 'blue' } });
  const warnings = (res: { headers: Record<string, string | string[] | undefined> }) => [res.headers.warning ?? []].flat();
  let blue: string;
  let web: string;

  beforeAll(async () => {
    blue = (await v.call('POST', `${G}/namespaces/wr/virtualnetworks`, { metadata: { name: 'blue' }, spec: { subnets: [{ cidr: '10.138.0.0/24' }] } })).json.metadata.uid;
    web = (await v.call('POST', `${G}/namespaces/wr/loadbalancers`, { metadata: { name: 'web' }, spec: { network: 'blue', listeners: [{ port: 80 }] } })).json.metadata.uid;
  });

  it('refuses a second controller reference with kube-apiserver\'s 422, on create and on update, and stores nothing', async () => {
    const two = [ref('VirtualNetwork', 'blue', blue, true), ref('LoadBalancer', 'web', web, true)];
    const res = await v.call('POST', `${G}/namespaces/wr/virtualports`, port('two-controllers', two));
    expect(res.json).toMatchObject({ kind: 'Status', code: 422, reason: 'Invalid', details: { causes: [{ field: 'metadata.ownerReferences', reason: 'FieldValueInvalid' }] } });
    expect(res.json.message).toContain(`metadata.ownerReferences: Invalid value: ${JSON.stringify(two)}: Only one reference can have Controller set to true. Found "true" in references for VirtualNetwork/blue and LoadBalancer/web`);
    expect((await v.call('GET', `${G}/namespaces/wr/virtualports/two-controllers`)).status).toBe(404);

    expect((await v.call('POST', `${G}/namespaces/wr/virtualports`, port('one-controller', [two[0], ref('LoadBalancer', 'web', web)]))).status).toBe(201);
    const patched = await v.call('PATCH', `${G}/namespaces/wr/virtualports/one-controller`, { metadata: { ownerReferences: two } }, MERGE);
    expect(patched.json).toMatchObject({ code: 422, reason: 'Invalid' });
    const applied = await v.call('PATCH', `${G}/namespaces/wr/virtualports/one-controller?fieldManager=kubectl&force=true`, port('one-controller', two), SSA);
    expect(applied.json).toMatchObject({ code: 422, reason: 'Invalid' });
    expect((await v.call('GET', `${G}/namespaces/wr/virtualports/one-controller`)).json.metadata.ownerReferences).toEqual([two[0], ref('LoadBalancer', 'web', web)]);
  });

  it('drops a repeated reference and says so in a warning, as kube-apiserver does', async () => {
    const owner = ref('VirtualNetwork', 'blue', blue);
    const res = await v.call('POST', `${G}/namespaces/wr/virtualports`, port('repeated', [owner, ref('LoadBalancer', 'web', web), owner]));
    expect(res.status).toBe(201);
    expect(res.json.metadata.ownerReferences).toEqual([owner, ref('LoadBalancer', 'web', web)]);
    expect(warnings(res)).toContain(`299 - ".metadata.ownerReferences contains duplicate entries; API server dedups owner references in 1.20+, and may reject such requests as early as 1.24; please fix your requests; duplicate UID(s) observed: ${blue}"`);
    const patched = await v.call('PATCH', `${G}/namespaces/wr/virtualports/repeated`, { metadata: { ownerReferences: [owner, owner] } }, MERGE);
    expect(patched.status).toBe(200);
    expect(patched.json.metadata.ownerReferences).toEqual([owner]);
    expect(warnings(patched).some((w) => w.includes('contains duplicate entries'))).toBe(true);
  });

  it('an object stored with two controller references before the check can still be changed, and its finalizers removed', async () => {
    const two = [ref('VirtualNetwork', 'blue', blue, true), ref('LoadBalancer', 'web', web, true)];
    // Written straight to the store, as an earlier release would have admitted it.
    await v.objects.create(PORTS, { apiVersion: 'vnet.dev/v1alpha1', kind: 'VirtualPort', metadata: { name: 'legacy-owners', namespace: 'wr', ownerReferences: two, finalizers: ['example.com/hold'] }, spec: { network: 'blue', interfaceId: 'legacy-owners-0' } });
    const labelled = await v.call('PATCH', `${G}/namespaces/wr/virtualports/legacy-owners`, { metadata: { labels: { kept: 'yes' }, finalizers: null } }, MERGE);
    expect(labelled.status).toBe(200);
    expect(labelled.json.metadata.ownerReferences).toEqual(two);
    expect(labelled.json.metadata.finalizers ?? []).not.toContain('example.com/hold');
    // Stored with a repeat of one of them as well: deduplicated on the way, and still not judged (review).
    await v.objects.create(PORTS, { apiVersion: 'vnet.dev/v1alpha1', kind: 'VirtualPort', metadata: { name: 'legacy-owners2', namespace: 'wr', ownerReferences: [...two, two[1]!], finalizers: ['example.com/hold'] }, spec: { network: 'blue', interfaceId: 'legacy-owners-1' } });
    const freed = await v.call('PATCH', `${G}/namespaces/wr/virtualports/legacy-owners2`, { metadata: { finalizers: null } }, MERGE);
    expect(freed.status).toBe(200);
    expect(freed.json.metadata.ownerReferences).toEqual(two);
  });
});
