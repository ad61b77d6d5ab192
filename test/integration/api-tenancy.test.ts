/** Tenancy: tokens bound to namespaces; admin-only kinds; 401 without a valid token. */
import { eventually, startTestVnetd, type TestVnetd } from '../support/vnetd';

const G = '/apis/vnet.dev/v1alpha1';
let v: TestVnetd;
let alice: string;
let bob: string;

const net = (name: string, cidr: string) => ({ metadata: { name }, spec: { subnets: [{ cidr }] } });

beforeAll(async () => {
  v = await startTestVnetd();
  for (const ns of ['a1', 'a2', 'b1']) await v.call('POST', '/api/v1/namespaces', { metadata: { name: ns } });
  alice = await v.tenantToken('alice', ['a1', 'a2']);
  bob = await v.tenantToken('bob', ['b1']);
  // Overlapping CIDRs across tenants are fine: networks are isolated.
  await v.call('POST', `${G}/namespaces/a1/virtualnetworks`, net('n', '10.0.0.0/24'));
  await v.call('POST', `${G}/namespaces/b1/virtualnetworks`, net('n', '10.0.0.0/24'));
});
afterAll(async () => v.stop());

it('answers 401 without a token, with a malformed one, or with a wrong secret', async () => {
  for (const token of [null, 'garbage', 'alice.wrongsecret', `${alice}x`]) {
    const r = await v.call('GET', `${G}/namespaces/a1/virtualnetworks`, undefined, { token });
    expect(r.status).toBe(401);
    expect(r.json).toMatchObject({ kind: 'Status', reason: 'Unauthorized', code: 401 });
  }
});

it('stores only a hash of each token, and shows the secret once', async () => {
  const t = await v.call('GET', `${G}/accesstokens/alice`);
  expect(t.json.status.token).toBeUndefined();
  expect(t.json.status.tokenHash).toMatch(/^[0-9a-f]{64}$/);
  expect(JSON.stringify(await v.objects.kv.list('/registry/'))).not.toContain(alice.split('.')[1]);
});

it('a tenant reads and writes its own namespaces', async () => {
  expect((await v.call('GET', `${G}/namespaces/a1/virtualnetworks/n`, undefined, { token: alice })).status).toBe(200);
  const c = await v.call('POST', `${G}/namespaces/a2/virtualnetworks`, net('m', '10.0.1.0/24'), { token: alice });
  expect(c.status).toBe(201);
  expect((await v.call('DELETE', `${G}/namespaces/a2/virtualnetworks/m`, undefined, { token: alice })).status).toBe(200);
});

it('a tenant reads the status of its objects but does not write it (vnetd\'s controllers do), as Kubernetes\' edit role', async () => {
  const path = `${G}/namespaces/a1/virtualnetworks/n`;
  const cur = await v.call('GET', `${path}/status`, undefined, { token: alice });
  expect(cur.status).toBe(200);
  const forged = { status: { conditions: [{ type: 'Ready', status: 'True', reason: 'Forged', message: 'by a tenant' }] } };
  const patch = await v.call('PATCH', `${path}/status`, forged, { token: alice, contentType: 'application/merge-patch+json' });
  expect(patch.json).toMatchObject({ kind: 'Status', code: 403, reason: 'Forbidden', message: expect.stringContaining('the status subresource is written by vnetd itself') });
  expect((await v.call('PUT', `${path}/status`, { ...cur.json, ...forged }, { token: alice })).status).toBe(403);
  expect(JSON.stringify((await v.call('GET', path)).json.status)).not.toContain('Forged');
  // The admin (and vnetd's own writers) still may.
  expect((await v.call('PATCH', `${path}/status`, { status: { observedGeneration: cur.json.status?.observedGeneration ?? 1 } }, { contentType: 'application/merge-patch+json' })).status).toBe(200);
});

it('a tenant gets 403 in other namespaces, for every verb, and nothing changes', async () => {
  // Once the reconcilers are done with beforeAll's objects (they write on their own).
  let before = -1;
  await eventually(async () => {
    const r = await v.objects.kv.currentRevision();
    await new Promise((resolve) => setTimeout(resolve, 250));
    before = r;
    return (await v.objects.kv.currentRevision()) === r;
  }, 10_000, 0);
  const attempts: [string, string, unknown?][] = [
    ['GET', `${G}/namespaces/b1/virtualnetworks/n`],
    ['GET', `${G}/namespaces/b1/virtualnetworks`],
    ['POST', `${G}/namespaces/b1/virtualnetworks`, net('x', '10.9.0.0/24')],
    ['PUT', `${G}/namespaces/b1/virtualnetworks/n`, { ...net('n', '10.0.0.0/24'), metadata: { name: 'n', resourceVersion: '1' } }],
    ['DELETE', `${G}/namespaces/b1/virtualnetworks/n`],
    ['GET', `${G}/namespaces/b1/virtualnetworks?watch=true`],
  ];
  for (const [method, path, body] of attempts) {
    const r = await v.call(method, path, body, { token: alice });
    expect({ method, path, status: r.status, reason: r.json?.reason }).toEqual({ method, path, status: 403, reason: 'Forbidden' });
  }
  const patch = await v.call('PATCH', `${G}/namespaces/b1/virtualnetworks/n`, { spec: { mtu: 1300 } }, { token: alice, contentType: 'application/merge-patch+json' });
  expect(patch.status).toBe(403);
  expect(await v.objects.kv.currentRevision()).toBe(before);
});

it('lists across namespaces show only the tenant\'s own objects', async () => {
  const all = await v.call('GET', `${G}/virtualnetworks`, undefined, { token: bob });
  expect(all.json.items.map((o: { metadata: { namespace: string } }) => o.metadata.namespace)).toEqual(['b1']);
  const ns = await v.call('GET', '/api/v1/namespaces', undefined, { token: alice });
  expect(ns.json.items.map((o: { metadata: { name: string } }) => o.metadata.name).sort()).toEqual(['a1', 'a2']);
  expect((await v.call('GET', '/api/v1/namespaces/b1', undefined, { token: alice })).status).toBe(403);
});

it('Node objects, tokens and namespace creation are admin-only', async () => {
  const node = { metadata: { name: 'hv1' }, spec: { tunnelIP: '192.0.2.1' } };
  expect((await v.call('POST', `${G}/nodes`, node, { token: alice })).status).toBe(403);
  expect((await v.call('GET', `${G}/nodes`, undefined, { token: alice })).status).toBe(403);
  expect((await v.call('POST', `${G}/nodes`, node)).status).toBe(201);
  expect((await v.call('GET', `${G}/nodes/hv1`, undefined, { token: alice })).status).toBe(403);
  expect((await v.call('POST', '/api/v1/namespaces', { metadata: { name: 'mine' } }, { token: alice })).status).toBe(403);
  expect((await v.call('DELETE', '/api/v1/namespaces/a1', undefined, { token: alice })).status).toBe(403);
  expect((await v.call('GET', `${G}/accesstokens`, undefined, { token: alice })).status).toBe(403);
  expect((await v.call('POST', `${G}/accesstokens`, { metadata: { name: 'mallory' }, spec: { admin: true } }, { token: alice })).status).toBe(403);
});

it('/metrics is for admins: a tenant gets 403, since its series name every tenant\'s load balancers and backends (QA-102)', async () => {
  const r = await v.call('GET', '/metrics', undefined, { token: alice });
  expect(r.status).toBe(403);
  expect(r.json).toMatchObject({ kind: 'Status', code: 403, reason: 'Forbidden', message: 'forbidden: User "token:alice" cannot get path "/metrics"' });
  const admin = await v.call('GET', '/metrics');
  expect(admin.status).toBe(200);
  expect(admin.text).toContain('# TYPE');
  expect((await v.call('GET', '/metrics', undefined, { token: null })).status).toBe(401);
});

it('a deleted token stops working at once', async () => {
  const t = await v.tenantToken('temp', ['a1']);
  expect((await v.call('GET', `${G}/namespaces/a1/virtualnetworks`, undefined, { token: t })).status).toBe(200);
  await v.call('DELETE', `${G}/accesstokens/temp`);
  expect((await v.call('GET', `${G}/namespaces/a1/virtualnetworks`, undefined, { token: t })).status).toBe(401);
});
