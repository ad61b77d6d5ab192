/**
 * core/v1 Events over the API: recorded by vnetd from condition transitions, read by anyone
 * who may read their namespace (lists, field selectors, watches, tables), written by no one,
 * and gone with their namespace.
 */
import { request } from 'node:https';
import type { KubeObject } from '../../src/resources/object';
import { EVENTS } from '../../src/store/kinds';
import { eventually, startTestVnetd, type TestVnetd } from '../support/vnetd';

const G = '/apis/vnet.dev/v1alpha1';
let v: TestVnetd;
let alice: string;

const lb = (name: string, backendPort: string) => ({ metadata: { name }, spec: { network: 'n', listeners: [{ port: 80, protocol: 'TCP' }], backends: [{ port: backendPort }] } });
interface EventItem {
  metadata: { name: string; namespace: string };
  involvedObject: { kind: string; name: string };
  type: string;
  reason: string;
  count: number;
}

interface WatchEvent {
  type: string;
  object: EventItem;
}

async function eventsOf(ns: string, selector: string): Promise<EventItem[]> {
  const r = await v.call('GET', `/api/v1/namespaces/${ns}/events?fieldSelector=${encodeURIComponent(selector)}`);
  expect(r.status).toBe(200);
  return (r.json as { items: EventItem[] }).items;
}

beforeAll(async () => {
  v = await startTestVnetd();
  for (const ns of ['e1', 'e2']) {
    await v.call('POST', '/api/v1/namespaces', { metadata: { name: ns } });
    await v.call('POST', `${G}/namespaces/${ns}/virtualnetworks`, { metadata: { name: 'n' }, spec: { subnets: [{ cidr: '10.9.0.0/24' }] } });
    expect((await v.call('POST', `${G}/namespaces/${ns}/loadbalancers`, lb('web', 'absent'))).status).toBe(201);
  }
  alice = await v.tenantToken('alice', ['e1']);
  await eventually(async () => (await eventsOf('e1', 'reason=BackendNotFound')).length === 1 && (await eventsOf('e2', 'reason=BackendNotFound')).length === 1, 20_000);
});
afterAll(async () => v.stop());

it('lists an object\'s events by field selector, as kubectl describe asks for them, and serves them in discovery', async () => {
  const [e] = await eventsOf('e1', 'involvedObject.kind=LoadBalancer,involvedObject.name=web,involvedObject.namespace=e1,type=Warning');
  expect(e).toMatchObject({ involvedObject: { kind: 'LoadBalancer', name: 'web' }, type: 'Warning', reason: 'BackendNotFound', count: 1 });
  expect(await eventsOf('e1', 'involvedObject.name=other')).toEqual([]);
  const bad = await v.call('GET', '/api/v1/namespaces/e1/events?fieldSelector=spec.x%3Dy');
  expect(bad.status).toBe(400);
  // Each kind's own fields: another kind's would select nothing instead of saying so.
  const portField = await v.call('GET', '/api/v1/namespaces/e1/events?fieldSelector=spec.node%3Dhv1');
  expect(portField.json).toMatchObject({ code: 400, message: 'field label not supported: spec.node' });
  const eventField = await v.call('GET', `${G}/namespaces/e1/virtualports?fieldSelector=type%3DWarning`);
  expect(eventField.json).toMatchObject({ code: 400, message: 'field label not supported: type' });
  expect((await v.call('GET', `${G}/namespaces/e1/virtualports?watch=true&fieldSelector=reason%3Dx`)).status).toBe(400);
  const one = await v.call('GET', `/api/v1/namespaces/e1/events/${e!.metadata.name}`);
  expect(one.json).toMatchObject({ apiVersion: 'v1', kind: 'Event', reason: 'BackendNotFound' });
  const all = await v.call('GET', '/api/v1/events?fieldSelector=reason%3DBackendNotFound');
  expect((all.json as { items: EventItem[] }).items.map((x) => x.metadata.namespace).sort()).toEqual(['e1', 'e2']);
  const discovery = await v.call('GET', '/api/v1');
  expect((discovery.json as { resources: Array<{ name: string; verbs: string[]; shortNames?: string[] }> }).resources.find((r) => r.name === 'events')).toMatchObject({ verbs: ['get', 'list', 'watch'], shortNames: ['ev'] });
});

it('a tenant reads its own namespaces\' events only, and writes none (403); an admin\'s write is 405', async () => {
  expect((await v.call('GET', '/api/v1/namespaces/e1/events', undefined, { token: alice })).status).toBe(200);
  const other = await v.call('GET', '/api/v1/namespaces/e2/events', undefined, { token: alice });
  expect(other.status).toBe(403);
  const across = await v.call('GET', '/api/v1/events', undefined, { token: alice });
  expect((across.json as { items: EventItem[] }).items.every((x) => x.metadata.namespace === 'e1')).toBe(true);
  const [e] = await eventsOf('e1', 'reason=BackendNotFound');
  const path = `/api/v1/namespaces/e1/events/${e!.metadata.name}`;
  const forged = { apiVersion: 'v1', kind: 'Event', metadata: { name: 'forged' }, involvedObject: { kind: 'LoadBalancer', name: 'web' }, reason: 'Hacked', type: 'Normal' };
  for (const [method, p, body] of [['POST', '/api/v1/namespaces/e1/events', forged], ['PUT', path, e], ['PATCH', path, { count: 9 }], ['DELETE', path, undefined], ['DELETE', '/api/v1/namespaces/e1/events', undefined], ['DELETE', '/api/v1/events', undefined], ['POST', '/api/v1/events', forged]] as const) {
    const t = await v.call(method, p, body, { token: alice, contentType: method === 'PATCH' ? 'application/merge-patch+json' : undefined });
    expect([method, p, t.status, (t.json as { reason?: string }).reason]).toEqual([method, p, 403, 'Forbidden']);
    const a = await v.call(method, p, body, { contentType: method === 'PATCH' ? 'application/merge-patch+json' : undefined });
    expect([method, p, a.status, (a.json as { reason?: string }).reason]).toEqual([method, p, 405, 'MethodNotAllowed']);
  }
  expect((await eventsOf('e1', 'reason=BackendNotFound'))[0]).toMatchObject({ count: 1 });
  expect(await eventsOf('e1', 'reason=Hacked')).toEqual([]);
});

it('a cluster-scoped object\'s events (a Node\'s, in "default") are for admins only, as the Node is', async () => {
  const nodeEvent = { apiVersion: 'v1', kind: 'Event', metadata: { name: 'hv1.1', namespace: 'default' }, involvedObject: { apiVersion: 'vnet.dev/v1alpha1', kind: 'Node', name: 'hv1', uid: 'u-hv1' }, reason: 'ConnectFailed', message: 'Connected: cannot connect to OVSDB at tcp:192.0.2.9:6640', type: 'Warning', source: { component: 'vnetd' }, firstTimestamp: '2026-12-05T00:00:00Z', lastTimestamp: '2026-12-05T00:00:00Z', count: 1, reportingComponent: 'vnetd', reportingInstance: 'test' };
  await v.objects.create(EVENTS, nodeEvent as unknown as KubeObject);
  const insider = await v.tenantToken('insider', ['default']);
  const list = await v.call('GET', '/api/v1/namespaces/default/events', undefined, { token: insider });
  expect(list.status).toBe(200);
  expect((list.json as { items: EventItem[] }).items).toEqual([]);
  expect((await v.call('GET', '/api/v1/namespaces/default/events/hv1.1', undefined, { token: insider })).status).toBe(404);
  const all = await v.call('GET', '/api/v1/events', undefined, { token: insider });
  expect((all.json as { items: EventItem[] }).items).toEqual([]);
  expect((await v.call('GET', '/api/v1/namespaces/default/events/hv1.1')).json).toMatchObject({ reason: 'ConnectFailed' });
});

it('a watch of events sees the recovery as it is recorded', async () => {
  const list = await v.call('GET', '/api/v1/namespaces/e1/events');
  const rv = (list.json as { metadata: { resourceVersion: string } }).metadata.resourceVersion;
  const seen = new Promise<WatchEvent>((resolve, reject) => {
    const req = request(new URL(`/api/v1/namespaces/e1/events?watch=true&resourceVersion=${rv}`, v.url), { ca: v.caCertPem, headers: { authorization: `Bearer ${v.adminToken}` } }, (res) => {
      let buf = '';
      res.on('data', (d: Buffer) => {
        buf += d.toString();
        for (let i; (i = buf.indexOf('\n')) >= 0; buf = buf.slice(i + 1)) {
          const ev = JSON.parse(buf.slice(0, i)) as WatchEvent;
          if (ev.type === 'ADDED' && ev.object.reason === 'ResolvedRefs') {
            req.destroy();
            resolve(ev);
          }
        }
      });
    });
    req.on('error', reject);
    req.end();
    setTimeout(() => {
      req.destroy();
      reject(new Error('no ResolvedRefs event within 20 s'));
    }, 20_000).unref();
  });
  expect((await v.call('POST', `${G}/namespaces/e1/virtualports`, { metadata: { name: 'absent' }, spec: { network: 'n' } })).status).toBe(201);
  expect((await seen).object).toMatchObject({ type: 'Normal', involvedObject: { kind: 'LoadBalancer', name: 'web' } });
});

it('a namespace\'s events go with it, and it is not held Terminating by them', async () => {
  expect((await eventsOf('e2', '')).length).toBeGreaterThan(0);
  expect((await v.call('DELETE', '/api/v1/namespaces/e2')).status).toBe(200);
  await eventually(async () => (await v.call('GET', '/api/v1/namespaces/e2')).status === 404, 20_000);
  const all = await v.call('GET', '/api/v1/events');
  expect((all.json as { items: EventItem[] }).items.filter((x) => x.metadata.namespace === 'e2')).toEqual([]);
});
