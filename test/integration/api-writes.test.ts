/**
 * Writes as kube-apiserver takes them (QA-134): a write that changes nothing writes nothing,
 * ownerReferences checked and deduplicated, and the namespace a body leaves empty taken from
 * the request's path.
 */
import { request } from 'node:https';
import { eventually, startTestVnetd, type TestVnetd } from '../support/vnetd';

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
