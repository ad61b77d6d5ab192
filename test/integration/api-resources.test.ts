/** The resource API over real HTTPS: verbs, errors as Status objects, IPAM through admission. */
import https from 'node:https';
import { parse as parseYaml } from 'yaml';
import http2 from 'node:http2';
import { lbVipMac } from '../../src/pipeline/owners';
import { ApiClient } from '../../src/agent/api-client';
import { MacAllocator } from '../../src/ipam/mac-allocator';
import { LOAD_BALANCERS, NETWORKS, PORTS } from '../../src/store/kinds';
import { AllocationRegistry, ipKey, subnetChangeKey } from '../../src/ipam/allocation-registry';
import { startTestVnetd, eventually, replaceOnConflict, type TestVnetd } from '../support/vnetd';

const G = '/apis/vnet.dev/v1alpha1';
let v: TestVnetd;

const net = (name: string, spec: Record<string, unknown>) => ({ apiVersion: 'vnet.dev/v1alpha1', kind: 'VirtualNetwork', metadata: { name }, spec });

beforeAll(async () => {
  v = await startTestVnetd();
  for (const ns of ['t1', 't2']) expect((await v.call('POST', '/api/v1/namespaces', { metadata: { name: ns } })).status).toBe(201);
});
afterAll(async () => v.stop());

async function revision(): Promise<number> {
  return v.objects.kv.currentRevision();
}

/**
 * The store revision once the reconcilers are quiet: they write on their own after earlier
 * requests (the IPAM reconciler recounts a network at most every 200 ms), which must not
 * be mistaken for a write by the request under test.
 */
async function settledRevision(): Promise<number> {
  for (;;) {
    const r = await revision();
    await new Promise((resolve) => setTimeout(resolve, 250));
    if ((await revision()) === r) return r;
  }
}

/** Keys written after revision `after` (up to now), from the store's log. */
async function keysWrittenAfter(after: number): Promise<string[]> {
  const keys: string[] = [];
  const w = v.objects.kv.watch('/', (e) => keys.push(e.kv.key), { afterRevision: after });
  await new Promise((r) => setTimeout(r, 100));
  w.stop();
  return keys;
}

/**
 * Asserts a request is rejected with a Status and changes nothing in the store. A write the
 * reconcilers make on their own meanwhile (another kind's status, on their own schedule) is
 * not the request's: what must be untouched is the request's kind and every allocation.
 */
async function rejected(method: string, path: string, body: unknown, code: number, reason: string, opts = {}) {
  const before = await settledRevision();
  const res = await v.call(method, path, body, opts);
  expect(res.json).toMatchObject({ kind: 'Status', status: 'Failure', code, reason });
  expect(res.status).toBe(code);
  if ((await revision()) !== before) {
    const m = /\/([a-z]+)(?:\/([^/]+))?(?:\/status)?$/.exec(path.split('?')[0]!);
    const plural = m?.[1] ?? '';
    // The object the request names (in its path, or a create's body): another object of the
    // kind whose status a reconciler writes meanwhile is not the request's (CI: LoadBalancer "refs").
    const named = m?.[2] ?? (body as { metadata?: { name?: string } } | undefined)?.metadata?.name;
    const ofRequest = (k: string) => k.includes(`/${plural}/`) && (named === undefined || named === '' || k.endsWith(`/${named}`));
    const mine = (await keysWrittenAfter(before)).filter((k) => k.startsWith('/ipam/') || ofRequest(k));
    expect(mine).toEqual([]);
  }
  return res.json;
}

describe('VirtualNetwork', () => {
  it('creates with defaults and an allocated VNI, then becomes Ready', async () => {
    const res = await v.call('POST', `${G}/namespaces/t1/virtualnetworks`, net('blue', { subnets: [{ cidr: '10.0.0.0/24' }, { cidr: 'FD00::/64' }] }));
    expect(res.status).toBe(201);
    const o = res.json;
    expect(o.metadata).toMatchObject({ name: 'blue', namespace: 't1', generation: 1, finalizers: ['vnet.dev/dataplane', 'vnet.dev/ipam'] });
    expect(o.metadata.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(o.spec).toMatchObject({ encapsulation: 'vxlan', mtu: 1450, subnets: [{ cidr: '10.0.0.0/24', gateway: '10.0.0.1' }, { cidr: 'fd00::/64', gateway: 'fd00::1' }] });
    expect(o.spec.vni).toBeGreaterThanOrEqual(1);
    const ready = await eventually(async () => {
      const g = await v.call('GET', `${G}/namespaces/t1/virtualnetworks/blue`);
      const c = g.json.status?.conditions?.find((x: { type: string }) => x.type === 'Ready');
      return c?.status === 'True' ? g.json : undefined;
    });
    expect(ready.status).toMatchObject({ vni: o.spec.vni, observedGeneration: 1, subnets: [{ cidr: '10.0.0.0/24', allocated: 0, free: '253' }, { cidr: 'fd00::/64', allocated: 0 }] });
  });

  it.each([
    ['an invalid CIDR', { subnets: [{ cidr: '10.0.0.300/24' }] }, 'spec.subnets[0].cidr'],
    ['host bits set', { subnets: [{ cidr: '10.0.0.1/24' }] }, 'spec.subnets[0].cidr'],
    ['overlapping subnets', { subnets: [{ cidr: '10.1.0.0/16' }, { cidr: '10.1.2.0/24' }] }, 'spec.subnets[1].cidr'],
    ['a gateway outside its subnet', { subnets: [{ cidr: '10.2.0.0/24', gateway: '10.3.0.1' }] }, 'spec.subnets[0].gateway'],
    ['VNI 0', { subnets: [{ cidr: '10.4.0.0/24' }], vni: 0 }, 'spec.vni'],
    ['VNI above 24 bits', { subnets: [{ cidr: '10.4.0.0/24' }], vni: 16777216 }, 'spec.vni'],
    ['an unknown encapsulation', { subnets: [{ cidr: '10.4.0.0/24' }], encapsulation: 'gre' }, 'spec.encapsulation'],
    ['no subnets', { subnets: [] }, 'spec.subnets'],
    ['a multicast subnet', { subnets: [{ cidr: '224.0.0.0/24' }] }, 'spec.subnets[0].cidr'],
    ['all of IPv4', { subnets: [{ cidr: '0.0.0.0/0' }] }, 'spec.subnets[0].cidr'],
    ['loopback', { subnets: [{ cidr: '127.0.0.0/24' }] }, 'spec.subnets[0].cidr'],
    ['IPv6 multicast', { subnets: [{ cidr: 'ff02::/64' }] }, 'spec.subnets[0].cidr'],
    ['the IPv6 loopback', { subnets: [{ cidr: '::/64' }] }, 'spec.subnets[0].cidr'],
    ['IPv4-compatible IPv6 (QA-116)', { subnets: [{ cidr: '::a00:0/104' }] }, 'spec.subnets[0].cidr'],
  ])('rejects %s with 422 and the field', async (_what, spec, field) => {
    const s = await rejected('POST', `${G}/namespaces/t1/virtualnetworks`, net('bad', spec), 422, 'Invalid');
    expect(s.details.causes.map((c: { field: string }) => c.field)).toContain(field);
  });

  it('rejects a taken VNI and keeps the first owner', async () => {
    await v.call('POST', `${G}/namespaces/t1/virtualnetworks`, net('vni-a', { subnets: [{ cidr: '10.9.0.0/24' }], vni: 4242 }));
    const s = await rejected('POST', `${G}/namespaces/t2/virtualnetworks`, net('vni-b', { subnets: [{ cidr: '10.9.0.0/24' }], vni: 4242 }), 422, 'Invalid');
    expect(s.details.causes[0]).toMatchObject({ field: 'spec.vni', reason: 'FieldValueInvalid' });
  });

  it('refuses a VNI whose conntrack zone another network has (VNI mod 65535), frees the zone with its network, and allocates VNIs of distinct zones', async () => {
    await v.call('POST', '/api/v1/namespaces', { metadata: { name: 'zones' } });
    // 4242 + 65535: another tenant's load balanced connections would share vni-a's conntrack zone.
    const s = await rejected('POST', `${G}/namespaces/zones/virtualnetworks`, net('zone-b', { subnets: [{ cidr: '10.9.0.0/24' }], vni: 4242 + 65535 }), 422, 'Invalid');
    // vni-a is in namespace t1: its VNI is not named to another namespace (QA-151 F5).
    expect(s.details.causes[0]).toMatchObject({ field: 'spec.vni', message: expect.stringContaining('its conntrack zone (4243, the VNI modulo 65535 plus 1) is another network\'s (a network in another namespace)') });
    await v.call('POST', `${G}/namespaces/zones/virtualnetworks`, net('zone-c', { subnets: [{ cidr: '10.9.0.0/24' }], vni: 7 }));
    expect((await v.call('DELETE', `${G}/namespaces/zones/virtualnetworks/zone-c`)).status).toBe(200);
    await eventually(async () => (await v.call('POST', `${G}/namespaces/zones/virtualnetworks`, net('zone-d', { subnets: [{ cidr: '10.9.0.0/24' }], vni: 7 + 2 * 65535 }))).status === 201, 10_000);
    const zones = new Set<number>();
    for (let i = 0; i < 20; i++) {
      const created = await v.call('POST', `${G}/namespaces/zones/virtualnetworks`, net(`zone-auto-${i}`, { subnets: [{ cidr: '10.9.0.0/24' }] }));
      expect(created.status).toBe(201);
      zones.add((created.json.spec.vni % 65535) + 1);
    }
    expect(zones.size).toBe(20);
    expect(zones.has(4243) || zones.has(8)).toBe(false);
  });

  it('rejects names that are not DNS-1123 labels, malformed JSON, wrong apiVersion and kind', async () => {
    const s = await rejected('POST', `${G}/namespaces/t1/virtualnetworks`, net('Bad_Name', { subnets: [{ cidr: '10.5.0.0/24' }] }), 422, 'Invalid');
    expect(s.details.causes[0].field).toBe('metadata.name');
    await rejected('POST', `${G}/namespaces/t1/virtualnetworks`, undefined, 400, 'BadRequest', { raw: '{"metadata": {' });
    await rejected('POST', `${G}/namespaces/t1/virtualnetworks`, { ...net('x', { subnets: [{ cidr: '10.5.0.0/24' }] }), apiVersion: 'vnet.dev/v2' }, 400, 'BadRequest');
    await rejected('POST', `${G}/namespaces/t1/virtualnetworks`, { ...net('x', { subnets: [{ cidr: '10.5.0.0/24' }] }), kind: 'VirtualPort' }, 400, 'BadRequest');
  });

  it('rejects unknown fields under fieldValidation=Strict and prunes them with a warning otherwise', async () => {
    const body = net('strict', { subnets: [{ cidr: '10.6.0.0/24' }], colour: 'red' });
    const s = await rejected('POST', `${G}/namespaces/t1/virtualnetworks?fieldValidation=Strict`, body, 422, 'Invalid');
    expect(s.details.causes[0]).toMatchObject({ field: 'spec.colour', message: 'unknown field "spec.colour"' });
    const ok = await v.call('POST', `${G}/namespaces/t1/virtualnetworks?fieldValidation=Warn`, body);
    expect(ok.status).toBe(201);
    expect(ok.json.spec.colour).toBeUndefined();
    expect(String(ok.headers.warning)).toBe('299 - "unknown field \\"spec.colour\\""');
  });

  it('reports a field named twice as Kubernetes does: refused under Strict, warned of under Warn (the last kept), silent under Ignore', async () => {
    const text = (name: string) => `{"apiVersion":"vnet.dev/v1alpha1","kind":"VirtualNetwork","metadata":{"name":"${name}"},"spec":{"mtu":1400,"subnets":[{"cidr":"10.6.9.0/24"}],"mtu":1300}}`;
    const strict = await v.call('POST', `${G}/namespaces/t1/virtualnetworks?fieldValidation=Strict`, undefined, { raw: text('dup-strict') });
    expect([strict.status, strict.json.reason, strict.json.details.causes]).toEqual([422, 'Invalid', [{ field: 'spec.mtu', reason: 'FieldValueDuplicate', message: 'duplicate field "spec.mtu"' }]]);
    expect((await v.call('GET', `${G}/namespaces/t1/virtualnetworks/dup-strict`)).status).toBe(404);
    const warned = await v.call('POST', `${G}/namespaces/t1/virtualnetworks`, undefined, { raw: text('dup-warn') });
    expect([warned.status, warned.json.spec.mtu, warned.headers.warning]).toEqual([201, 1300, '299 - "duplicate field \\"spec.mtu\\""']);
    const ignored = await v.call('POST', `${G}/namespaces/t1/virtualnetworks?fieldValidation=Ignore`, undefined, { raw: text('dup-ignore') });
    expect([ignored.status, ignored.headers.warning]).toEqual([201, undefined]);
    // A patch's too: a merge patch naming spec.mtu twice under Strict changes nothing.
    const patch = await v.call('PATCH', `${G}/namespaces/t1/virtualnetworks/dup-warn?fieldValidation=Strict`, undefined, { raw: '{"spec":{"mtu":1450,"mtu":1500}}', contentType: 'application/merge-patch+json' });
    expect([patch.status, patch.json.details?.causes?.[0]?.message]).toEqual([422, 'duplicate field "spec.mtu"']);
    expect((await v.call('GET', `${G}/namespaces/t1/virtualnetworks/dup-warn`)).json.spec.mtu).toBe(1300);
  });

  it('rejects an object without a spec, or a patch removing it, with 422 (not a 500 from admission)', async () => {
    for (const [plural, kind] of [['virtualnetworks', 'VirtualNetwork'], ['virtualports', 'VirtualPort'], ['loadbalancers', 'LoadBalancer']]) {
      const s = await rejected('POST', `${G}/namespaces/t1/${plural}`, { apiVersion: 'vnet.dev/v1alpha1', kind, metadata: { name: 'nospec' } }, 422, 'Invalid');
      expect(s.details.causes).toContainEqual({ field: 'spec', reason: 'FieldValueRequired', message: 'Required value' });
    }
    await rejected('POST', '/apis/vnet.dev/v1alpha1/nodes', { apiVersion: 'vnet.dev/v1alpha1', kind: 'Node', metadata: { name: 'nospec' }, spec: null }, 422, 'Invalid');
    await rejected('PATCH', `${G}/namespaces/t1/virtualnetworks/blue`, { spec: null }, 422, 'Invalid', { contentType: 'application/merge-patch+json' });
  });

  it('quotes the offending value in validation messages, and sends one warning header per pruned field', async () => {
    const s = await rejected('POST', `${G}/namespaces/t1/virtualnetworks`, net('badvals', { subnets: [{ cidr: '10.6.1.0/24' }], encapsulation: 'gre', mtu: 100 }), 422, 'Invalid');
    expect(s.details.causes).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ field: 'spec.encapsulation', message: expect.stringContaining('Unsupported value: "gre"') }),
        expect.objectContaining({ field: 'spec.mtu', message: expect.stringContaining('Invalid value: 100') }),
      ]),
    );
    const ok = await v.call('POST', `${G}/namespaces/t1/virtualnetworks?fieldValidation=Warn`, net('warned', { subnets: [{ cidr: '10.6.2.0/24' }], gatway: 'x', mtuu: 1 }));
    expect(ok.status).toBe(201);
    // Two header lines (Node's client joins them with ", "); before, the second replaced the first.
    expect(ok.headers.warning).toBe('299 - "unknown field \\"spec.gatway\\"", 299 - "unknown field \\"spec.mtuu\\""');
  });

  it('answers 400 to a body nested too deeply, 422 to annotations over 256 KiB; cuts a long generateName as Kubernetes does', async () => {
    // Written out by hand: JSON.stringify itself overflows on 5,000 levels.
    const nest = `${'['.repeat(5000)}"x"${']'.repeat(5000)}`;
    const deep = `{"apiVersion":"vnet.dev/v1alpha1","kind":"VirtualNetwork","metadata":{"name":"deep","managedFields":[{"manager":"m","fieldsV1":{"f":${nest}}}]},"spec":{"subnets":[{"cidr":"10.6.3.0/24"}]}}`;
    const d = await rejected('POST', `${G}/namespaces/t1/virtualnetworks`, undefined, 400, 'BadRequest', { raw: deep });
    expect(d.message).toContain('nests more than 100 levels deep');
    await rejected('PATCH', `${G}/namespaces/t1/virtualnetworks/blue`, undefined, 400, 'BadRequest', { raw: `{"metadata":{"annotations":{"a":${nest}}}}`, contentType: 'application/merge-patch+json' });
    const annotated = net('annotated', { subnets: [{ cidr: '10.6.4.0/24' }] }) as Record<string, unknown>;
    (annotated.metadata as Record<string, unknown>).annotations = { a: 'x'.repeat(200 * 1024), b: 'y'.repeat(100 * 1024) };
    const a = await rejected('POST', `${G}/namespaces/t1/virtualnetworks`, annotated, 422, 'Invalid');
    expect(a.details.causes).toEqual([expect.objectContaining({ field: 'metadata.annotations', reason: 'FieldValueTooLong' })]);
    const generated = await v.call('POST', `${G}/namespaces/t1/virtualnetworks`, { apiVersion: 'vnet.dev/v1alpha1', kind: 'VirtualNetwork', metadata: { generateName: `${'g'.repeat(70)}-` }, spec: { subnets: [{ cidr: '10.6.5.0/24' }] } });
    expect(generated.status).toBe(201);
    expect(generated.json.metadata.name).toMatch(/^g{58}[0-9a-f]{5}$/);
  });

  it('answers 400 to a "__proto__" key in a create, merge patch or server-side apply (dry run too), and the server stays up (QA-102: an apply set it on Object.prototype and vnetd crashed)', async () => {
    const proto = '{"apiVersion":"vnet.dev/v1alpha1","kind":"VirtualNetwork","metadata":{"name":"blue","labels":{"__proto__":{"polluted":"yes"}}},"spec":{"subnets":[{"cidr":"10.6.1.0/24"}]}}';
    await rejected('POST', `${G}/namespaces/t1/virtualnetworks`, undefined, 400, 'BadRequest', { raw: proto.replace('"blue"', '"proto"') });
    await rejected('PATCH', `${G}/namespaces/t1/virtualnetworks/blue`, undefined, 400, 'BadRequest', { raw: '{"spec":{"__proto__":{"polluted":"yes"}}}', contentType: 'application/merge-patch+json' });
    for (const q of ['?fieldManager=qa&dryRun=All', '?fieldManager=qa']) {
      const s = await rejected('PATCH', `${G}/namespaces/t1/virtualnetworks/blue${q}`, undefined, 400, 'BadRequest', { raw: proto, contentType: 'application/apply-patch+yaml' });
      expect(s.message).toBe('the body of the request has a "__proto__" key in .metadata.labels: no field may have that name');
    }
    expect((await v.call('GET', `${G}/namespaces/t1/virtualnetworks`)).status).toBe(200);
    expect((await v.call('GET', '/metrics')).status).toBe(200);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('answers 405 to a create or delete on a namespaced kind\'s all-namespaces path, and deletes nothing (it deleted in every namespace)', async () => {
    for (const ns of ['t1', 't2']) expect((await v.call('POST', `${G}/namespaces/${ns}/virtualnetworks`, { ...net('everywhere', { subnets: [{ cidr: ns === 't1' ? '10.7.8.0/24' : '10.7.9.0/24' }] }), metadata: { name: 'everywhere', labels: { sweep: 'all' } } })).status).toBe(201);
    await rejected('DELETE', `${G}/virtualnetworks?labelSelector=sweep%3Dall`, undefined, 405, 'MethodNotAllowed');
    await rejected('POST', `${G}/virtualnetworks`, { ...net('nowhere', { subnets: [{ cidr: '10.7.10.0/24' }] }), metadata: { name: 'nowhere', namespace: 't1' } }, 405, 'MethodNotAllowed');
    const left = await v.call('GET', `${G}/virtualnetworks?labelSelector=sweep%3Dall`);
    expect(left.json.items.map((o: { metadata: { namespace: string } }) => o.metadata.namespace).sort()).toEqual(['t1', 't2']);
    // Its own namespace's collection still deletes.
    expect((await v.call('DELETE', `${G}/namespaces/t2/virtualnetworks?labelSelector=sweep%3Dall`)).status).toBe(200);
  });

  it('reads a GET\'s resourceVersion as kube-apiserver does (400 malformed, 504 not reached yet), an empty fieldValidation as the default, and refuses force on a patch that is no apply', async () => {
    expect((await v.call('POST', `${G}/namespaces/t1/virtualnetworks`, net('rv-get', { subnets: [{ cidr: '10.7.11.0/24' }] }))).status).toBe(201);
    const path = `${G}/namespaces/t1/virtualnetworks/rv-get`;
    const rv = Number((await v.call('GET', path)).json.metadata.resourceVersion);
    for (const ok of ['0', '', String(rv)]) expect((await v.call('GET', `${path}?resourceVersion=${ok}`)).status).toBe(200);
    for (const bad of ['abc', '-1']) await rejected('GET', `${path}?resourceVersion=${bad}`, undefined, 400, 'BadRequest');
    expect((await v.call('GET', `${path}?resourceVersion=${rv + 100000}`)).json).toMatchObject({ kind: 'Status', code: 504, reason: 'Timeout' });
    const merge = { contentType: 'application/merge-patch+json' };
    expect((await v.call('PATCH', `${path}?fieldValidation=`, { metadata: { labels: { a: 'b' } } }, merge)).status).toBe(200);
    const forced = await rejected('PATCH', `${path}?force=true`, { metadata: { labels: { a: 'c' } } }, 422, 'Invalid', merge);
    expect(forced.details.causes).toEqual([expect.objectContaining({ field: 'force', message: 'Forbidden: may not be specified for non-apply patch' })]);
    expect((await v.call('GET', path)).json.metadata.labels).toEqual({ a: 'b' });
  });

  it('answers 413 to a body over 1 MiB', async () => {
    const big = net('big', { subnets: [{ cidr: '10.7.0.0/24' }] }) as Record<string, unknown>;
    (big.metadata as Record<string, unknown>).annotations = { a: 'x'.repeat(1024 * 1024 + 10) };
    await rejected('POST', `${G}/namespaces/t1/virtualnetworks`, big, 413, 'RequestEntityTooLarge');
  });

  it('answers 413 to a body of many MiB still being sent, over HTTP/1.1 and HTTP/2, and the connection serves the next request', async () => {
    // Before, vnetd answered and closed at once while the client was still writing: a Node
    // client got EPIPE (HTTP/1.1, from 4 MiB) or ENHANCE_YOUR_CALM (HTTP/2, from 8 MiB)
    // instead of the Status.
    const body = Buffer.alloc(16 * 1024 * 1024, 0x20);
    const path = `${G}/namespaces/t1/virtualnetworks`;
    const headers = { authorization: `Bearer ${v.adminToken}`, 'content-type': 'application/json' };
    const agent = new https.Agent({ keepAlive: true, maxSockets: 1, ca: v.caCertPem });
    const h1 = (payload: Buffer) => new Promise<{ status: number; json: Record<string, unknown>; socket: unknown }>((resolve, reject) => {
      const req = https.request(`${v.url}${path}`, { method: 'POST', agent, headers: { ...headers, 'content-length': payload.length } }, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) as Record<string, unknown>, socket: req.socket }));
      });
      req.on('error', reject);
      req.end(payload);
    });
    try {
      for (const size of [4, 16]) {
        const r = await h1(body.subarray(0, size * 1024 * 1024));
        expect(r).toMatchObject({ status: 413, json: { kind: 'Status', reason: 'RequestEntityTooLarge', code: 413 } });
        const next = await h1(Buffer.from(JSON.stringify(net('after-big-h1', { subnets: [{ cidr: '10.7.1.0/24' }] }))));
        expect(next.status).toBe(size === 4 ? 201 : 409);
        expect(next.socket === r.socket).toBe(true);
      }
    } finally {
      agent.destroy();
    }
    const session = http2.connect(v.url, { ca: v.caCertPem });
    const h2 = (payload: Buffer) => new Promise<{ status: number; json: Record<string, unknown> }>((resolve, reject) => {
      const stream = session.request({ ':method': 'POST', ':path': path, ...headers, 'content-length': String(payload.length) });
      let status = 0;
      let text = '';
      stream.on('response', (h) => (status = Number(h[':status'])));
      stream.on('data', (c: Buffer) => (text += c));
      stream.on('end', () => resolve({ status, json: JSON.parse(text) as Record<string, unknown> }));
      stream.on('error', reject);
      stream.end(payload);
    });
    try {
      for (const size of [8, 16]) {
        expect(await h2(body.subarray(0, size * 1024 * 1024))).toMatchObject({ status: 413, json: { reason: 'RequestEntityTooLarge' } });
      }
      expect((await h2(Buffer.from(JSON.stringify(net('after-big-h2', { subnets: [{ cidr: '10.7.2.0/24' }] }))))).status).toBe(201);
    } finally {
      session.close();
    }
  });

  it('answers a name too long for any object with a Status, not the HTTP server\'s own error', async () => {
    const long = 'x'.repeat(300);
    for (const method of ['GET', 'DELETE']) {
      const r = await v.call(method, `${G}/namespaces/t1/virtualnetworks/${long}`);
      expect(r.json).toMatchObject({ kind: 'Status', status: 'Failure', code: 404, reason: 'NotFound' });
    }
    // Created: one cause for the name, not the schema's 253 and the label rule's 63 both.
    const created = await rejected('POST', `${G}/namespaces/t1/virtualnetworks`, net(long, { subnets: [{ cidr: '10.65.0.0/24' }] }), 422, 'Invalid');
    expect(created.details.causes.filter((c: { field: string }) => c.field === 'metadata.name')).toHaveLength(1);
  });

  it('answers 404 in a namespace that does not exist, 409 on a duplicate name', async () => {
    await rejected('POST', `${G}/namespaces/nope/virtualnetworks`, net('n', { subnets: [{ cidr: '10.8.0.0/24' }] }), 404, 'NotFound');
    await rejected('POST', `${G}/namespaces/t1/virtualnetworks`, net('blue', { subnets: [{ cidr: '10.8.0.0/24' }] }), 409, 'AlreadyExists');
    await rejected('GET', `${G}/namespaces/t1/virtualnetworks/missing`, undefined, 404, 'NotFound');
  });
});

describe('update, patch, status, finalizers', () => {
  it('PUT with a stale resourceVersion is a 409 Conflict; generation moves only with spec', async () => {
    await v.call('POST', `${G}/namespaces/t1/virtualnetworks`, net('upd', { subnets: [{ cidr: '10.10.0.0/24' }] }));
    // Controllers write status after a create (IPAM, then others), and any of those writes
    // can land between a client's read and its PUT: then the PUT is a 409 and the client
    // reads again, as kubectl edit does.
    await eventually(async () => (await v.call('GET', `${G}/namespaces/t1/virtualnetworks/upd`)).json.status?.conditions);
    const { response: r1, sent: changed } = await replaceOnConflict<{ spec: object }>(v, `${G}/namespaces/t1/virtualnetworks/upd`, (o) => ({ ...o, spec: { ...o.spec, mtu: 1400 } }));
    expect(r1.status).toBe(200);
    expect(r1.json.metadata.generation).toBe(2);
    await rejected('PUT', `${G}/namespaces/t1/virtualnetworks/upd`, changed, 409, 'Conflict');
    const labels = await v.call('PATCH', `${G}/namespaces/t1/virtualnetworks/upd`, { metadata: { labels: { team: 'a' } } }, { contentType: 'application/merge-patch+json' });
    expect(labels.json.metadata).toMatchObject({ generation: 2, labels: { team: 'a' } });
    const jp = await v.call('PATCH', `${G}/namespaces/t1/virtualnetworks/upd`, [{ op: 'replace', path: '/spec/mtu', value: 1300 }], { contentType: 'application/json-patch+json' });
    expect(jp.json.spec.mtu).toBe(1300);
    await rejected('PATCH', `${G}/namespaces/t1/virtualnetworks/upd`, [{ op: 'test', path: '/spec/mtu', value: 1 }], 422, 'Invalid', { contentType: 'application/json-patch+json' });
    await rejected('PATCH', `${G}/namespaces/t1/virtualnetworks/upd`, { spec: { vni: 77 } }, 422, 'Invalid', { contentType: 'application/merge-patch+json' });
    await rejected('PATCH', `${G}/namespaces/t1/virtualnetworks/upd`, {}, 415, 'UnsupportedMediaType', { contentType: 'application/strategic-merge-patch+json' });
    // A server-side apply must name its field manager.
    const noManager = await rejected('PATCH', `${G}/namespaces/t1/virtualnetworks/upd`, { apiVersion: 'vnet.dev/v1alpha1', kind: 'VirtualNetwork', spec: { mtu: 1200 } }, 422, 'Invalid', { contentType: 'application/apply-patch+yaml' });
    expect(noManager.details.causes).toEqual([expect.objectContaining({ field: 'fieldManager', reason: 'FieldValueRequired' })]);
  });

  it('the status subresource changes only status; the main resource never changes status', async () => {
    const o = (await v.call('GET', `${G}/namespaces/t1/virtualnetworks/upd`)).json;
    const r = await v.call('PATCH', `${G}/namespaces/t1/virtualnetworks/upd/status`, { status: { vni: 1 }, spec: { mtu: 999 } }, { contentType: 'application/merge-patch+json' });
    expect(r.status).toBe(200);
    expect(r.json.spec.mtu).toBe(o.spec.mtu);
    const r2 = await v.call('PATCH', `${G}/namespaces/t1/virtualnetworks/upd`, { status: { vni: 2 } }, { contentType: 'application/merge-patch+json' });
    expect(r2.json.status.vni).not.toBe(2);
  });

  it('a PUT to the main resource ignores the status it carries: an invalid one is neither validated nor stored', async () => {
    const cur = (await v.call('GET', `${G}/namespaces/t1/virtualnetworks/upd`)).json;
    const sent = { ...cur, metadata: { ...cur.metadata, labels: { ...cur.metadata.labels, put: 'yes' } }, status: { ...cur.status, vni: 'not a number', conditions: [{ type: 'Ready', status: 'Maybe' }] } };
    const { response } = await replaceOnConflict<typeof cur>(v, `${G}/namespaces/t1/virtualnetworks/upd`, (o) => ({ ...o, metadata: sent.metadata, status: sent.status }));
    expect(response.status).toBe(200);
    expect(response.json.metadata.labels.put).toBe('yes');
    expect(response.json.status.vni).toBe(cur.status.vni);
  });

  it('dry runs go through the same checks as the write and store nothing', async () => {
    const path = `${G}/namespaces/t1/virtualnetworks/upd`;
    await settledRevision();
    const cur = (await v.call('GET', path)).json;
    // A stale resourceVersion is a 409 in a dry run too.
    await rejected('PUT', `${path}?dryRun=All`, { ...cur, metadata: { ...cur.metadata, resourceVersion: '3' } }, 409, 'Conflict');
    // What would be stored: the server's metadata and status, the generation bumped, the current resourceVersion.
    const before = await revision();
    const dry = await v.call('PUT', `${path}?dryRun=All`, { ...cur, metadata: { ...cur.metadata, creationTimestamp: '2000-01-01T00:00:00Z' }, spec: { ...cur.spec, mtu: 1234 }, status: { vni: 1 } });
    expect(dry.status).toBe(200);
    expect(dry.json.spec.mtu).toBe(1234);
    expect(dry.json.metadata).toMatchObject({ generation: cur.metadata.generation + 1, creationTimestamp: cur.metadata.creationTimestamp, resourceVersion: cur.metadata.resourceVersion });
    expect(dry.json.status.vni).toBe(cur.status.vni);
    await rejected('DELETE', `${path}?dryRun=All`, { preconditions: { resourceVersion: '3' } }, 409, 'Conflict');
    const dryDelete = await v.call('DELETE', `${path}?dryRun=All`);
    expect(dryDelete.status).toBe(200);
    expect(dryDelete.json.metadata.deletionTimestamp).toEqual(expect.any(String));
    // A dry-run create shows what the store would set too.
    const dryCreate = await v.call('POST', `${G}/namespaces/t1/virtualnetworks?dryRun=All`, net('drynet', { subnets: [{ cidr: '10.99.0.0/24' }] }));
    expect(dryCreate.status).toBe(201);
    expect(dryCreate.json.metadata).toMatchObject({ generation: 1, creationTimestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/), uid: expect.any(String) });
    expect(await revision()).toBe(before);
    expect((await v.call('GET', path)).json.metadata.deletionTimestamp).toBeUndefined();
    // A create of a name that exists is a 409 in a dry run too (QA: "created (server dry run)").
    await rejected('POST', `${G}/namespaces/t1/virtualnetworks?dryRun=All`, { ...cur, metadata: { name: 'upd' } }, 409, 'AlreadyExists');
  });

  it('a VIP inside a port\'s allowed address pair is said in a warning, either made first; a VIP vnetd picks avoids pair addresses', async () => {
    expect((await v.call('POST', `${G}/namespaces/t1/virtualnetworks`, net('vrrp', { subnets: [{ cidr: '10.96.0.0/29' }] }))).status).toBe(201);
    // .1 is the gateway; the port takes .2; its VRRP pair is .3, the next free address.
    const port = await v.call('POST', `${G}/namespaces/t1/virtualports`, { apiVersion: 'vnet.dev/v1alpha1', kind: 'VirtualPort', metadata: { name: 'keepalived' }, spec: { network: 'vrrp', allowedAddressPairs: [{ ip: '10.96.0.3' }] } });
    expect(port.status).toBe(201);
    expect(port.json.spec.ips).toEqual(['10.96.0.2']);
    const lb = (name: string, vip?: string) => v.call('POST', `${G}/namespaces/t1/loadbalancers`, { apiVersion: 'vnet.dev/v1alpha1', kind: 'LoadBalancer', metadata: { name }, spec: { network: 'vrrp', listeners: [{ port: 80 }], backends: [], ...(vip ? { vip } : {}) } });
    const picked = await lb('picked');
    expect(picked.status).toBe(201);
    expect(picked.json.spec.vip).toBe('10.96.0.4');
    expect(picked.headers.warning).toBeUndefined();
    const asked = await lb('asked', '10.96.0.3');
    expect(asked.status).toBe(201);
    expect(String(asked.headers.warning)).toContain('spec.vip: 10.96.0.3 is inside an allowed address pair of VirtualPort \\"keepalived\\": ARP and ND for it are answered with the load balancer\'s MAC');
    // The other way: a pair (a CIDR here) made over a VIP.
    const cur = (await v.call('GET', `${G}/namespaces/t1/virtualports/keepalived`)).json;
    const updated = await v.call('PUT', `${G}/namespaces/t1/virtualports/keepalived`, { ...cur, spec: { ...cur.spec, allowedAddressPairs: [{ ip: '10.96.0.3' }, { ip: '10.96.0.4/31' }] } });
    expect(updated.status).toBe(200);
    expect(String(updated.headers.warning)).toContain('spec.allowedAddressPairs[1]: 10.96.0.4/31 covers the VIP 10.96.0.4 of LoadBalancer \\"picked\\"');
  });

  it('keeps the Warning headers of a load balancer with a thousand missing backends under 4 KiB (QA-124 F5)', async () => {
    expect((await v.call('POST', `${G}/namespaces/t1/virtualnetworks`, net('manyw', { subnets: [{ cidr: '10.98.0.0/24' }] }))).status).toBe(201);
    const backends = Array.from({ length: 1000 }, (_, i) => ({ port: `missing-${i}` }));
    const lb = await v.call('POST', `${G}/namespaces/t1/loadbalancers`, { apiVersion: 'vnet.dev/v1alpha1', kind: 'LoadBalancer', metadata: { name: 'manyw' }, spec: { network: 'manyw', listeners: [{ port: 80 }], backends } });
    expect(lb.status).toBe(201);
    const header = String(lb.headers.warning);
    // Before: a thousand header lines, 194 KB, which kubectl refused (FRAME_SIZE_ERROR).
    expect(header.length).toBeLessThan(6000);
    expect(header).toContain('missing-0');
    expect(header).toMatch(/\d+ more warnings not shown/);
  });

  it('a pair MAC a load balancer answers with is refused either way; another port\'s own MAC is warned of (QA-113)', async () => {
    expect((await v.call('POST', `${G}/namespaces/t1/virtualnetworks`, net('pmac', { subnets: [{ cidr: '10.97.0.0/24' }] }))).status).toBe(201);
    const post = (name: string, spec: Record<string, unknown>) => v.call('POST', `${G}/namespaces/t1/virtualports`, { apiVersion: 'vnet.dev/v1alpha1', kind: 'VirtualPort', metadata: { name }, spec: { network: 'pmac', ...spec } });
    const lb = await v.call('POST', `${G}/namespaces/t1/loadbalancers`, { apiVersion: 'vnet.dev/v1alpha1', kind: 'LoadBalancer', metadata: { name: 'pm' }, spec: { network: 'pmac', listeners: [{ port: 80 }] } });
    expect(lb.status).toBe(201);
    const lbMac = lb.json.spec.mac as string;
    const onLb = await post('onlb', { allowedAddressPairs: [{ ip: '10.97.0.80', mac: lbMac.toUpperCase() }] });
    expect(onLb.status).toBe(422);
    expect(onLb.json.details.causes).toEqual([{ field: 'spec.allowedAddressPairs[0].mac', reason: 'FieldValueInvalid', message: `Invalid value: "${lbMac}": the MAC LoadBalancer "pm" answers its VIP with in network "pmac"` }]);
    const owner = await post('owner', {});
    expect(owner.status).toBe(201);
    const ownerMac = owner.json.spec.mac as string;
    const squat = await post('squat', { allowedAddressPairs: [{ ip: '10.97.0.81', mac: ownerMac }] });
    expect(squat.status).toBe(201);
    expect(String(squat.headers.warning)).toContain(`spec.allowedAddressPairs[0].mac: ${ownerMac} is the MAC of VirtualPort \\"owner\\": frames to it still go to that port`);
    // The other way: a load balancer asking for a pair's MAC.
    const vrrp = await post('vrrp', { allowedAddressPairs: [{ ip: '10.97.0.82', mac: '00:00:5e:00:01:09' }] });
    expect(vrrp.status).toBe(201);
    const taken = await v.call('POST', `${G}/namespaces/t1/loadbalancers`, { apiVersion: 'vnet.dev/v1alpha1', kind: 'LoadBalancer', metadata: { name: 'pm2' }, spec: { network: 'pmac', mac: '00:00:5E:00:01:09', listeners: [{ port: 80 }] } });
    expect(taken.status).toBe(422);
    expect(taken.json.message).toContain('spec.mac: Invalid value: "00:00:5e:00:01:09": the MAC of an allowed address pair of VirtualPort "vrrp" in network "pmac"');
  });

  it('a create of an object that exists, exported with its own addresses, is a 409 AlreadyExists, not its claims refused as "already allocated"', async () => {
    const made = await v.call('POST', `${G}/namespaces/t1/virtualnetworks`, net('exported', { subnets: [{ cidr: '10.98.0.0/24' }] }));
    expect(made.status).toBe(201);
    const p = await v.call('POST', `${G}/namespaces/t1/virtualports`, { apiVersion: 'vnet.dev/v1alpha1', kind: 'VirtualPort', metadata: { name: 'ex1' }, spec: { network: 'exported' } });
    expect(p.status).toBe(201);
    // kubectl get -o yaml > f; kubectl create -f f: the spec holds the port's own IP and MAC.
    const exported = { ...p.json, metadata: { name: 'ex1', namespace: 't1' } };
    delete exported.status;
    const before = await settledRevision();
    await rejected('POST', `${G}/namespaces/t1/virtualports`, exported, 409, 'AlreadyExists');
    await rejected('POST', `${G}/namespaces/t1/virtualports?dryRun=All`, exported, 409, 'AlreadyExists');
    expect(await revision()).toBe(before);
  });

  it('keeps its own finalizer through a replace or patch that drops it, until the object is being deleted', async () => {
    const created = await v.call('POST', `${G}/namespaces/t1/virtualnetworks`, net('kept', { subnets: [{ cidr: '10.97.0.0/24' }] }));
    expect(created.json.metadata.finalizers).toEqual(['vnet.dev/dataplane', 'vnet.dev/ipam']);
    // kubectl replace -f of the manifest it was created from: no finalizers in it. Retried on a
    // 409, as kubectl's own retry does: the network's reconcilers write its status right after
    // its creation, and one such write between the GET and the PUT failed this once in CI.
    const { response: replaced } = await replaceOnConflict<{ metadata: { resourceVersion: string } }>(v, `${G}/namespaces/t1/virtualnetworks/kept`, (cur) => ({
      ...net('kept', { subnets: [{ cidr: '10.97.0.0/24' }] }),
      metadata: { name: 'kept', resourceVersion: cur.metadata.resourceVersion, finalizers: [] },
    }));
    expect(replaced.status).toBe(200);
    expect(replaced.json.metadata.finalizers).toEqual(['vnet.dev/dataplane', 'vnet.dev/ipam']);
    const patched = await v.call('PATCH', `${G}/namespaces/t1/virtualnetworks/kept`, { metadata: { finalizers: ['example.com/mine'] } }, { contentType: 'application/merge-patch+json' });
    expect(patched.json.metadata.finalizers).toEqual(['example.com/mine', 'vnet.dev/dataplane', 'vnet.dev/ipam']);
    // So a port on it still holds the network's delete back.
    expect((await v.call('POST', `${G}/namespaces/t1/virtualports`, { apiVersion: 'vnet.dev/v1alpha1', kind: 'VirtualPort', metadata: { name: 'on-kept' }, spec: { network: 'kept' } })).status).toBe(201);
    await v.call('PATCH', `${G}/namespaces/t1/virtualnetworks/kept`, { metadata: { finalizers: null } }, { contentType: 'application/merge-patch+json' });
    await v.call('DELETE', `${G}/namespaces/t1/virtualnetworks/kept`);
    await new Promise((r) => setTimeout(r, 500));
    expect((await v.call('GET', `${G}/namespaces/t1/virtualnetworks/kept`)).json.metadata.deletionTimestamp).toBeDefined();
    await v.call('DELETE', `${G}/namespaces/t1/virtualports/on-kept`);
    await eventually(async () => (await v.call('GET', `${G}/namespaces/t1/virtualnetworks/kept`)).status === 404, 10_000);
  });

  it('a port held by another finalizer keeps its addresses (and says so) until that finalizer goes', async () => {
    await v.call('POST', `${G}/namespaces/t1/virtualnetworks`, net('held', { subnets: [{ cidr: '10.98.0.0/24' }] }));
    const port = (name: string, finalizers: string[] = []) => ({ apiVersion: 'vnet.dev/v1alpha1', kind: 'VirtualPort', metadata: { name, finalizers }, spec: { network: 'held', ips: ['10.98.0.91'], mac: '02:00:00:00:00:91' } });
    expect((await v.call('POST', `${G}/namespaces/t1/virtualports`, port('hold', ['example.com/hold']))).status).toBe(201);
    await v.call('DELETE', `${G}/namespaces/t1/virtualports/hold`);
    // (vnet.dev/dataplane goes at once: no node has the unbound port's flows.)
    const waiting = await eventually(async () => {
      const g = await v.call('GET', `${G}/namespaces/t1/virtualports/hold`);
      const ready = g.json.status?.conditions?.find((c: { type: string }) => c.type === 'Ready');
      return ready?.reason === 'Terminating' && g.json.metadata.finalizers.length === 2 && ready.message === 'waiting for finalizers example.com/hold before releasing its addresses' ? g.json : undefined;
    }, 10_000);
    expect(waiting.metadata.finalizers).toEqual(['example.com/hold', 'vnet.dev/ipam']);
    expect(waiting.status.conditions.find((c: { type: string }) => c.type === 'Ready')).toMatchObject({ status: 'False', message: 'waiting for finalizers example.com/hold before releasing its addresses', observedGeneration: waiting.metadata.generation });
    // Written with that Ready: the status as a whole describes the deletion's generation (QA: it stayed one behind).
    expect(waiting.status.observedGeneration).toBe(waiting.metadata.generation);
    const thief = await rejected('POST', `${G}/namespaces/t1/virtualports`, port('thief'), 422, 'Invalid');
    expect(thief.message).toContain('10.98.0.91');
    // The holder lets go: the port goes and its addresses with it.
    await v.call('PATCH', `${G}/namespaces/t1/virtualports/hold`, { metadata: { finalizers: ['vnet.dev/ipam'] } }, { contentType: 'application/merge-patch+json' });
    await eventually(async () => (await v.call('GET', `${G}/namespaces/t1/virtualports/hold`)).status === 404, 10_000);
    expect((await v.call('POST', `${G}/namespaces/t1/virtualports`, port('thief'))).status).toBe(201);
  });

  it('an object whose finalizers are removed by hand while it is deleted (the mend of one stuck Terminating) gives its addresses back at once (QA-96: refused for up to 5 minutes, naming an object that was gone)', async () => {
    await v.call('POST', `${G}/namespaces/t1/virtualnetworks`, { ...net('forced', { subnets: [{ cidr: '10.97.0.0/24' }] }), spec: { subnets: [{ cidr: '10.97.0.0/24' }], vni: 4243 } });
    const lb = { apiVersion: 'vnet.dev/v1alpha1', kind: 'LoadBalancer', metadata: { name: 'fz', finalizers: ['example.com/hold'] }, spec: { network: 'forced', vip: '10.97.0.211', listeners: [{ port: 80 }], backends: [] } };
    const port = (name: string, finalizers: string[] = []) => ({ apiVersion: 'vnet.dev/v1alpha1', kind: 'VirtualPort', metadata: { name, finalizers }, spec: { network: 'forced', ips: ['10.97.0.91'], mac: '02:00:00:00:00:97', interfaceId: `forced-${name}` } });
    expect((await v.call('POST', `${G}/namespaces/t1/loadbalancers`, lb)).status).toBe(201);
    expect((await v.call('POST', `${G}/namespaces/t1/virtualports`, port('fzp', ['example.com/hold']))).status).toBe(201);
    const force = async (plural: string, name: string) => {
      await v.call('DELETE', `${G}/namespaces/t1/${plural}/${name}`);
      expect((await v.call('PATCH', `${G}/namespaces/t1/${plural}/${name}`, { metadata: { finalizers: [] } }, { contentType: 'application/merge-patch+json' })).status).toBe(200);
      await eventually(async () => (await v.call('GET', `${G}/namespaces/t1/${plural}/${name}`)).status === 404, 10_000);
    };
    await force('loadbalancers', 'fz');
    await force('virtualports', 'fzp');
    // The VIP, the port's address and MAC, and the network's VNI: each free again for a new object.
    const t0 = performance.now();
    await eventually(async () => (await v.call('POST', `${G}/namespaces/t1/virtualports`, { ...port('taker'), spec: { ...port('taker').spec, ips: ['10.97.0.211'], mac: '02:00:00:00:01:97' } })).status === 201, 5_000, 50);
    expect((await v.call('POST', `${G}/namespaces/t1/virtualports`, port('taker2'))).status).toBe(201);
    const retakeMs = performance.now() - t0;
    for (const n of ['taker', 'taker2']) await v.call('DELETE', `${G}/namespaces/t1/virtualports/${n}`);
    await eventually(async () => (await v.call('GET', `${G}/namespaces/t1/virtualports/taker2`)).status === 404, 10_000);
    await v.call('PATCH', `${G}/namespaces/t1/virtualnetworks/forced`, { metadata: { finalizers: ['example.com/hold'] } }, { contentType: 'application/merge-patch+json' });
    await force('virtualnetworks', 'forced');
    await eventually(async () => (await v.call('POST', `${G}/namespaces/t1/virtualnetworks`, { ...net('forced2', { subnets: [{ cidr: '10.97.1.0/24' }] }), spec: { subnets: [{ cidr: '10.97.1.0/24' }], vni: 4243 } })).status === 201, 5_000, 50);
    process.stdout.write(`[api-resources] addresses of objects deleted without their finalizers taken again after ${retakeMs.toFixed(0)} ms\n`);
  });

  it('an object stored before vnet.dev/dataplane existed gets it from the pipeline, once', async () => {
    await v.call('POST', `${G}/namespaces/t1/virtualnetworks`, net('old', { subnets: [{ cidr: '10.96.0.0/24' }] }));
    // As stored by an earlier vnetd (the API would put the finalizer back itself).
    await v.objects.modify(NETWORKS, 't1', 'old', (cur) => ({ ...cur, metadata: { ...cur.metadata, finalizers: ['vnet.dev/ipam'] } }));
    const got = await eventually(async () => {
      const g = (await v.call('GET', `${G}/namespaces/t1/virtualnetworks/old`)).json;
      return g.metadata.finalizers?.includes('vnet.dev/dataplane') ? g : undefined;
    }, 10_000);
    expect(got.metadata.finalizers).toEqual(['vnet.dev/ipam', 'vnet.dev/dataplane']);
    await v.call('DELETE', `${G}/namespaces/t1/virtualnetworks/old`);
    await eventually(async () => (await v.call('GET', `${G}/namespaces/t1/virtualnetworks/old`)).status === 404, 10_000);
  });

  it('delete waits for finalizers: deletionTimestamp first, gone once the finalizer is removed', async () => {
    await v.call('POST', `${G}/namespaces/t1/virtualnetworks`, { ...net('fin', { subnets: [{ cidr: '10.11.0.0/24' }] }), metadata: { name: 'fin', finalizers: ['example.com/hold'] } });
    const d = await v.call('DELETE', `${G}/namespaces/t1/virtualnetworks/fin`);
    expect(d.status).toBe(200);
    expect(d.json.metadata.deletionTimestamp).toBeDefined();
    expect((await v.call('GET', `${G}/namespaces/t1/virtualnetworks/fin`)).status).toBe(200);
    await rejected('PATCH', `${G}/namespaces/t1/virtualnetworks/fin`, { metadata: { finalizers: ['example.com/hold', 'example.com/more'] } }, 422, 'Invalid', { contentType: 'application/merge-patch+json' });
    // Our IPAM finalizer goes last (it releases the VNI and addresses): it waits for the
    // foreign one, removed here, and then goes by itself.
    // (vnet.dev/dataplane goes at once: the network is on no node.)
    await eventually(async () => {
      const g = await v.call('GET', `${G}/namespaces/t1/virtualnetworks/fin`);
      return g.json.status?.conditions?.some((c: { reason?: string }) => c.reason === 'Terminating') && g.json.metadata.finalizers.length === 2;
    });
    const cur = (await v.call('GET', `${G}/namespaces/t1/virtualnetworks/fin`)).json;
    expect(cur.metadata.finalizers).toEqual(['example.com/hold', 'vnet.dev/ipam']);
    const r = await v.call('PUT', `${G}/namespaces/t1/virtualnetworks/fin`, { ...cur, metadata: { ...cur.metadata, finalizers: ['vnet.dev/ipam'] } });
    expect(r.status).toBe(200);
    await eventually(async () => (await v.call('GET', `${G}/namespaces/t1/virtualnetworks/fin`)).status === 404);
  });
});

describe('lists', () => {
  it('filters by label and field selectors and pages with limit/continue at one revision', async () => {
    for (let i = 0; i < 5; i++) {
      await v.call('POST', `${G}/namespaces/t2/virtualnetworks`, { ...net(`page-${i}`, { subnets: [{ cidr: `10.20.${i}.0/24` }] }), metadata: { name: `page-${i}`, labels: { tier: i % 2 ? 'odd' : 'even' } } });
    }
    const sel = await v.call('GET', `${G}/namespaces/t2/virtualnetworks?labelSelector=tier%3Deven`);
    expect(sel.json.items.map((o: { metadata: { name: string } }) => o.metadata.name)).toEqual(['page-0', 'page-2', 'page-4']);
    const notin = await v.call('GET', `${G}/virtualnetworks?labelSelector=tier%20notin%20(even),tier`);
    expect(notin.json.items.map((o: { metadata: { name: string } }) => o.metadata.name)).toEqual(['page-1', 'page-3']);
    const byName = await v.call('GET', `${G}/virtualnetworks?fieldSelector=metadata.name%3Dpage-3`);
    expect(byName.json.items).toHaveLength(1);
    const p1 = await v.call('GET', `${G}/namespaces/t2/virtualnetworks?limit=2`);
    expect(p1.json.items).toHaveLength(2);
    // A write between pages does not show in the rest of the snapshot.
    await v.call('POST', `${G}/namespaces/t2/virtualnetworks`, net('page-9', { subnets: [{ cidr: '10.29.0.0/24' }] }));
    const names: string[] = p1.json.items.map((o: { metadata: { name: string } }) => o.metadata.name);
    let cont = p1.json.metadata.continue;
    while (cont) {
      const p = await v.call('GET', `${G}/namespaces/t2/virtualnetworks?limit=2&continue=${cont}`);
      expect(p.json.metadata.resourceVersion).toBe(p1.json.metadata.resourceVersion);
      names.push(...p.json.items.map((o: { metadata: { name: string } }) => o.metadata.name));
      cont = p.json.metadata.continue;
    }
    expect(names).toEqual(['page-0', 'page-1', 'page-2', 'page-3', 'page-4']);
    await rejected('GET', `${G}/namespaces/t2/virtualnetworks?labelSelector=a%20in%20b`, undefined, 400, 'BadRequest');
    await rejected('GET', `${G}/namespaces/t2/virtualnetworks?continue=garbage`, undefined, 400, 'BadRequest');
  });

  it('reads a list\'s resourceVersion as Kubernetes does: exact, not older than, too large, and the bad combinations', async () => {
    const list = (query: string) => v.call('GET', `${G}/namespaces/rvs/virtualnetworks?${query}`);
    const names = (r: { json: { items: Array<{ metadata: { name: string } }> } }) => r.json.items.map((o) => o.metadata.name);
    await v.call('POST', '/api/v1/namespaces', { metadata: { name: 'rvs' } });
    const first = await v.call('POST', `${G}/namespaces/rvs/virtualnetworks`, net('first', { subnets: [{ cidr: '10.31.0.0/24' }] }));
    expect(first.status).toBe(201);
    const at = first.json.metadata.resourceVersion as string;
    await v.call('POST', `${G}/namespaces/rvs/virtualnetworks`, net('second', { subnets: [{ cidr: '10.32.0.0/24' }] }));

    // Exact: the snapshot at that revision, as it was (first alone, and as first was then).
    const exact = await list(`resourceVersion=${at}&resourceVersionMatch=Exact`);
    expect(exact.status).toBe(200);
    expect(exact.json.metadata.resourceVersion).toBe(at);
    expect(names(exact)).toEqual(['first']);
    expect(exact.json.items[0].metadata.resourceVersion).toBe(at);
    // A limit with a resourceVersion and no match is exact too (what older clients rely on) ...
    expect(names(await list(`resourceVersion=${at}&limit=10`))).toEqual(['first']);
    // ... and without a limit, or with NotOlderThan, the latest, which is not older.
    for (const q of [`resourceVersion=${at}`, `resourceVersion=${at}&resourceVersionMatch=NotOlderThan`, 'resourceVersion=0']) {
      const r = await list(q);
      expect(names(r)).toEqual(['first', 'second']);
      expect(Number(r.json.metadata.resourceVersion)).toBeGreaterThan(Number(at));
    }

    // A revision the store has not reached: 504 Too large resource version, retry in a second.
    const ahead = String((await revision()) + 1000);
    for (const path of [`${G}/namespaces/rvs/virtualnetworks?resourceVersion=${ahead}`, `${G}/namespaces/rvs/virtualnetworks?watch=true&resourceVersion=${ahead}`]) {
      const r = await v.call('GET', path);
      expect(r.status).toBe(504);
      expect(r.headers['retry-after']).toBe('1');
      expect(r.json).toMatchObject({ kind: 'Status', reason: 'Timeout', details: { causes: [{ reason: 'ResourceVersionTooLarge' }], retryAfterSeconds: 1 } });
      expect(r.json.message).toMatch(new RegExp(`^Timeout: Too large resource version: ${ahead}, current: \\d+$`));
    }

    // What kube-apiserver refuses, refused the same way.
    const invalid = async (query: string, message: RegExp) => {
      const body = await rejected('GET', `${G}/namespaces/rvs/virtualnetworks?${query}`, undefined, 422, 'Invalid');
      expect(body.message).toMatch(/^ListOptions\.meta\.k8s\.io "" is invalid: resourceVersionMatch: /);
      expect(body.message).toMatch(message);
    };
    await invalid('resourceVersionMatch=Exact', /forbidden unless resourceVersion is provided/);
    await invalid('resourceVersion=0&resourceVersionMatch=Exact', /"exact" is forbidden for resourceVersion "0"/);
    await invalid(`resourceVersion=${at}&resourceVersionMatch=Latest`, /Unsupported value: "Latest": supported values: "Exact", "NotOlderThan", ""/);
    await invalid(`watch=true&resourceVersion=${at}&resourceVersionMatch=NotOlderThan`, /forbidden for watch unless sendInitialEvents/);
    await rejected('GET', `${G}/namespaces/rvs/virtualnetworks?resourceVersion=abc`, undefined, 400, 'BadRequest');
    // "00" is revision 0: any, the latest here, even with a limit.
    expect(names(await list('resourceVersion=00&limit=5'))).toEqual(['first', 'second']);
    const page = await list('limit=1');
    const cont = encodeURIComponent(page.json.metadata.continue);
    const both = await rejected('GET', `${G}/namespaces/rvs/virtualnetworks?limit=1&continue=${cont}&resourceVersion=${at}`, undefined, 400, 'BadRequest');
    expect(both.message).toBe('specifying resource version is not allowed when using continue');
    await invalid(`limit=1&continue=${cont}&resourceVersion=${at}&resourceVersionMatch=Exact`, /forbidden when continue is provided/);

    // Exact at a compacted revision: 410, as the apiserver says it.
    await v.objects.kv.compact(await v.objects.kv.currentRevision());
    const gone = await rejected('GET', `${G}/namespaces/rvs/virtualnetworks?resourceVersion=${at}&resourceVersionMatch=Exact`, undefined, 410, 'Expired');
    expect(gone.message).toBe('The resourceVersion for the provided list is too old.');
  });

  it('serves a Table with printer columns for kubectl', async () => {
    const t = await v.call('GET', `${G}/namespaces/t1/virtualnetworks`, undefined, { accept: 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json' });
    expect(t.json.kind).toBe('Table');
    // Priority 1: only with -o wide.
    expect(t.json.columnDefinitions.map((c: { name: string; priority: number }) => `${c.name}/${c.priority}`)).toEqual(['Name/0', 'VNI/0', 'Encap/0', 'Subnets/0', 'Ready/0', 'MTU/1', 'Reason/1', 'Age/0']);
    const row = t.json.rows.find((r: { cells: unknown[] }) => r.cells[0] === 'blue');
    expect(row.cells[3]).toBe('10.0.0.0/24,fd00::/64');
    expect(row.cells[7]).toMatch(/^\d+s$/);
  });
});

describe('VirtualPort and LoadBalancer addressing', () => {
  beforeAll(async () => {
    await v.call('POST', `${G}/namespaces/t1/virtualnetworks`, net('small', { subnets: [{ cidr: '192.168.50.0/29', excludeRanges: [{ start: '192.168.50.2', end: '192.168.50.3' }] }] }));
  });

  const port = (name: string, spec: Record<string, unknown>) => ({ apiVersion: 'vnet.dev/v1alpha1', kind: 'VirtualPort', metadata: { name }, spec: { network: 'small', ...spec } });

  it('allocates MAC and IP, skipping gateway and excluded ranges; explicit ones are checked', async () => {
    const a = await v.call('POST', `${G}/namespaces/t1/virtualports`, port('a', {}));
    expect(a.status).toBe(201);
    expect(a.json.spec.ips).toEqual(['192.168.50.4']);
    expect(a.json.spec.mac).toMatch(/^0a:58(:[0-9a-f]{2}){4}$/);
    expect(a.json.spec.interfaceId).toBe(a.json.metadata.uid);
    const bad = async (spec: Record<string, unknown>, field: string) => {
      const s = await rejected('POST', `${G}/namespaces/t1/virtualports`, port('x', spec), 422, 'Invalid');
      expect(s.details.causes.map((c: { field: string }) => c.field)).toContain(field);
      return s;
    };
    expect((await bad({ ips: ['10.0.0.5'] }, 'spec.ips[0]')).message).toContain('outside');
    expect((await bad({ ips: ['192.168.50.4'] }, 'spec.ips[0]')).message).toContain('already allocated to VirtualPort "a"');
    await bad({ ips: ['192.168.50.1'] }, 'spec.ips[0]');
    await bad({ mac: 'ff:ff:ff:ff:ff:ff' }, 'spec.mac');
    await bad({ mac: a.json.spec.mac }, 'spec.mac');
    await bad({ network: 'nope' }, 'spec.network');
    const explicit = await v.call('POST', `${G}/namespaces/t1/virtualports`, port('b', { ips: ['192.168.50.3'], mac: '0A-00-00-00-00-0B' }));
    expect(explicit.json.spec).toMatchObject({ ips: ['192.168.50.3'], mac: '0a:00:00:00:00:0b' });
    // Both held addresses are allocated, the one asked for in the excluded range too (before: 1);
    // free is what picks have left (.5, .6).
    const subnets = await eventually(async () => {
      const s = (await v.call('GET', `${G}/namespaces/t1/virtualnetworks/small`)).json.status?.subnets;
      return s?.[0]?.allocated === 2 ? s : undefined;
    }, 10_000, 50).catch(async () => (await v.call('GET', `${G}/namespaces/t1/virtualnetworks/small`)).json.status?.subnets);
    expect(subnets).toEqual([{ cidr: '192.168.50.0/29', allocated: 2, free: '2' }]);
  });

  it('picks another MAC when the random one is taken (the create-only claim fails, admission runs again)', async () => {
    const taken = (await v.call('GET', `${G}/namespaces/t1/virtualports/a`)).json.spec.mac as string;
    const random = jest.spyOn(MacAllocator.prototype, 'random').mockReturnValueOnce(taken);
    try {
      const f = await v.call('POST', `${G}/namespaces/t1/virtualports`, port('f', { ips: ['192.168.50.2'] }));
      expect(f.status).toBe(201);
      expect(f.json.spec.mac).toMatch(/^0a:58(:[0-9a-f]{2}){4}$/);
      expect(f.json.spec.mac).not.toBe(taken);
      expect(random).toHaveBeenCalledTimes(2);
    } finally {
      random.mockRestore();
    }
    expect((await v.call('DELETE', `${G}/namespaces/t1/virtualports/f`)).status).toBe(200);
    await eventually(async () => (await v.call('GET', `${G}/namespaces/t1/virtualports/f`)).status === 404);
  });

  it('says why an allowed address pair is not a CIDR', async () => {
    const s = await rejected('POST', `${G}/namespaces/t1/virtualports`, port('pairs', { allowedAddressPairs: [{ ip: '192.168.50.5/29' }, { ip: '192.168.50.0/99' }, { ip: 'nope' }] }), 422, 'Invalid');
    expect(s.details.causes.map((c: { field: string; message: string }) => [c.field, c.message])).toEqual([
      ['spec.allowedAddressPairs[0].ip', 'Invalid value: "192.168.50.5/29": has host bits set: the network is 192.168.50.0/29'],
      ['spec.allowedAddressPairs[1].ip', expect.stringMatching(/^Invalid value: "192\.168\.50\.0\/99": .*prefix/)],
      ['spec.allowedAddressPairs[2].ip', 'Invalid value: "nope": must be an IP address or a CIDR'],
    ]);
  });

  it('refuses pairs that add nothing or cannot be a source (as Neutron): the same twice, the port\'s own address and MAC, the unspecified address; on create and update', async () => {
    expect((await v.call('POST', `${G}/namespaces/t1/virtualnetworks`, net('pairnet', { subnets: [{ cidr: '192.168.66.0/24' }, { cidr: 'fd60::/64' }] }))).status).toBe(201);
    const pport = (name: string, spec: Record<string, unknown>) => ({ ...port(name, spec), spec: { ...port(name, spec).spec, network: 'pairnet' } });
    const s = await rejected('POST', `${G}/namespaces/t1/virtualports`, pport('pairs2', { ips: ['192.168.66.40'], allowedAddressPairs: [{ ip: '192.168.66.41' }, { ip: '192.168.66.41' }, { ip: '192.168.66.40' }, { ip: '::' }, { ip: '192.168.66.48/29' }, { ip: '192.168.66.48/29', mac: '02:00:00:00:00:77' }] }), 422, 'Invalid');
    expect(s.details.causes.map((c: { field: string; reason: string }) => `${c.field} ${c.reason}`)).toEqual([
      'spec.allowedAddressPairs[1] FieldValueDuplicate',
      'spec.allowedAddressPairs[2].ip FieldValueInvalid',
      'spec.allowedAddressPairs[3].ip FieldValueInvalid',
    ]);
    const ok = await v.call('POST', `${G}/namespaces/t1/virtualports`, pport('pairs2', { allowedAddressPairs: [{ ip: '192.168.66.40', mac: '02:00:00:00:00:78' }, { ip: 'fd60::100/120' }] }));
    expect(ok.status).toBe(201);
    await rejected('PATCH', `${G}/namespaces/t1/virtualports/pairs2`, { spec: { allowedAddressPairs: [{ ip: 'fd60::100/120' }, { ip: 'fd60::100/120' }] } }, 422, 'Invalid', { contentType: 'application/merge-patch+json' });
  });

  it('changes a port\'s addresses and MAC in place, as a Neutron port\'s fixed IPs: the new ones claimed and the old released with the update; a bad change refused whole, nothing written (QA-130: immutable)', async () => {
    const path = `${G}/namespaces/t1/virtualports/a`;
    const merge = { contentType: 'application/merge-patch+json' };
    const before = (await v.call('GET', path)).json;
    const bad = async (spec: Record<string, unknown>, field: string, text: string) => {
      const s = await rejected('PATCH', path, { spec }, 422, 'Invalid', merge);
      expect(s.details.causes).toEqual(expect.arrayContaining([expect.objectContaining({ field, message: expect.stringContaining(text) })]));
    };
    await bad({ ips: ['10.0.0.5'] }, 'spec.ips[0]', 'outside');
    await bad({ ips: ['192.168.50.3'] }, 'spec.ips[0]', 'already allocated to VirtualPort "b"');
    await bad({ ips: ['192.168.50.4', '192.168.50.1'] }, 'spec.ips[1]', 'gateway');
    await bad({ ips: ['192.168.50.5', '192.168.50.5'] }, 'spec.ips[1]', 'Duplicate value');
    await bad({ ips: ['192.168.50.4', '192.168.50.4'] }, 'spec.ips[1]', 'Duplicate value');
    await bad({ ips: ['nope'] }, 'spec.ips[0]', 'must be a valid IP address');
    await bad({ mac: '0a:00:00:00:00:0b' }, 'spec.mac', 'already used by VirtualPort "b"');
    await bad({ mac: 'ff:ff:ff:ff:ff:ff' }, 'spec.mac', 'Invalid value: "ff:ff:ff:ff:ff:ff"');
    // A good address beside a bad one: refused whole.
    await bad({ ips: ['192.168.50.5', '10.0.0.5'] }, 'spec.ips[1]', 'outside');
    await bad({ network: 'pairnet' }, 'spec.network', 'field is immutable');
    expect((await v.call('GET', path)).json.spec).toEqual(before.spec);

    // Moved from .4 to .5, with a new MAC; the answer says what the VM must do.
    const moved = await v.call('PATCH', path, { spec: { ips: ['192.168.50.5'], mac: '0A-00-00-00-00-0A' } }, merge);
    expect(moved.status).toBe(200);
    expect(moved.json.spec).toMatchObject({ ips: ['192.168.50.5'], mac: '0a:00:00:00:00:0a', interfaceId: before.spec.interfaceId });
    const warned = String(moved.headers.warning);
    expect(warned).toContain("spec.mac: the port's MAC is 0a:00:00:00:00:0a now: its VM's NIC must take it too");
    expect(warned).toContain("spec.ips: the port's addresses are 192.168.50.5 now: its VM must use them");
    expect(warned).toContain('what it sends from 192.168.50.4 is dropped');
    // What it let go of is free (another port takes both), what it took is held.
    const x = await v.call('POST', `${G}/namespaces/t1/virtualports`, port('x', { ips: ['192.168.50.4'], mac: before.spec.mac }));
    expect(x.status).toBe(201);
    const y = await rejected('POST', `${G}/namespaces/t1/virtualports`, port('y', { ips: ['192.168.50.5'], mac: '0a:00:00:00:00:0a' }), 422, 'Invalid');
    expect(y.details.causes.map((c: { field: string; message: string }) => [c.field, c.message])).toEqual([
      ['spec.mac', 'Invalid value: "0a:00:00:00:00:0a": already used by VirtualPort "a" in network "small"'],
      ['spec.ips[0]', 'Invalid value: "192.168.50.5": 192.168.50.5 is already allocated to VirtualPort "a"'],
    ]);
    expect((await v.call('DELETE', `${G}/namespaces/t1/virtualports/x`)).status).toBe(200);
    await eventually(async () => (await v.call('GET', `${G}/namespaces/t1/virtualports/x`)).status === 404);
    // Status follows (the IPAM reconciler's).
    await eventually(async () => (await v.call('GET', path)).json.status?.ips?.[0] === '192.168.50.5', 10_000, 50);

    // Omitted in an update: kept.
    const keep = await v.call('PATCH', path, { spec: { node: 'hv1' } }, merge);
    expect(keep.json.spec).toMatchObject({ node: 'hv1', ips: ['192.168.50.5'], mac: '0a:00:00:00:00:0a' });
    // Back where it was (the tests below count on .5 and .6 being free).
    const back = await v.call('PATCH', path, { spec: { ips: ['192.168.50.4'], mac: before.spec.mac } }, merge);
    expect([back.status, back.json.spec.ips, back.json.spec.mac]).toEqual([200, ['192.168.50.4'], before.spec.mac]);
  });

  it('runs out of addresses with a clear error, and frees them when ports are deleted', async () => {
    // /29: hosts .1-.6, gateway .1, excluded .2-.3 -> .4 .5 .6 allocatable; a has .4, b has explicit .3.
    expect((await v.call('POST', `${G}/namespaces/t1/virtualports`, port('c', {}))).json.spec.ips).toEqual(['192.168.50.5']);
    expect((await v.call('POST', `${G}/namespaces/t1/virtualports`, port('d', {}))).json.spec.ips).toEqual(['192.168.50.6']);
    const full = await rejected('POST', `${G}/namespaces/t1/virtualports`, port('e', {}), 422, 'Invalid');
    expect(full.message).toContain('no free IPv4 address');
    expect((await v.call('DELETE', `${G}/namespaces/t1/virtualports/c`)).status).toBe(200);
    await eventually(async () => (await v.call('GET', `${G}/namespaces/t1/virtualports/c`)).status === 404);
    expect((await v.call('POST', `${G}/namespaces/t1/virtualports`, port('e', {}))).json.spec.ips).toEqual(['192.168.50.5']);
  });

  it('a VIP that cannot be picked says why: the family it is picked from, and free addresses a VIP may not take (it said "every subnet is full")', async () => {
    // A /29 with IPv6 beside it: .1 the gateway, .2-.6 free; two ports take .2 and .3, a port's
    // allowed pair covers .4 and .5, a load balancer has .6 and a backend .4.
    await v.call('POST', `${G}/namespaces/t1/virtualnetworks`, net('vipfull', { subnets: [{ cidr: '10.87.0.0/29' }, { cidr: 'fd87::/64' }] }));
    const on = (name: string, spec: Record<string, unknown>) => ({ apiVersion: 'vnet.dev/v1alpha1', kind: 'VirtualPort', metadata: { name }, spec: { network: 'vipfull', ...spec } });
    expect((await v.call('POST', `${G}/namespaces/t1/virtualports`, on('vf1', { ips: ['10.87.0.2'], allowedAddressPairs: [{ ip: '10.87.0.4/31' }] }))).status).toBe(201);
    expect((await v.call('POST', `${G}/namespaces/t1/virtualports`, on('vf2', { ips: ['10.87.0.3'] }))).status).toBe(201);
    const lbOf = (name: string, spec: Record<string, unknown>) => ({ apiVersion: 'vnet.dev/v1alpha1', kind: 'LoadBalancer', metadata: { name }, spec: { network: 'vipfull', listeners: [{ port: 80, protocol: 'TCP' }], ...spec } });
    expect((await v.call('POST', `${G}/namespaces/t1/loadbalancers`, lbOf('vfb', { vip: '10.87.0.6', backends: [{ ip: '10.87.0.4' }] }))).status).toBe(201);
    const full = await rejected('POST', `${G}/namespaces/t1/loadbalancers`, lbOf('vfx', { backends: [{ port: 'vf2' }] }), 422, 'Invalid');
    expect(full.message).toContain('no free IPv4 address left in VirtualNetwork "vipfull" for a VIP (a VIP is picked from the IPv4 subnets; give spec.vip an IPv6 address for a VIP of that family)');
    expect(full.message).toContain("its free addresses 10.87.0.4, 10.87.0.5 are load balancers' backends or inside allowed address pairs");
    // Nothing stays reserved: a port takes .4 at once.
    expect((await v.call('POST', `${G}/namespaces/t1/virtualports`, on('vf3', {}))).json.spec.ips).toContain('10.87.0.4');
  });

  it('an address freed right after it was given out is given out again at once (a port\'s, then a VIP\'s), also to a client retrying', async () => {
    // A /30 has one allocatable address; all of this happens well within the picker's 5 s reservation.
    await v.call('POST', `${G}/namespaces/t1/virtualnetworks`, net('one', { subnets: [{ cidr: '10.86.0.0/30' }] }));
    const portOn = (name: string) => ({ apiVersion: 'vnet.dev/v1alpha1', kind: 'VirtualPort', metadata: { name }, spec: { network: 'one' } });
    const lbOn = (name: string) => ({ apiVersion: 'vnet.dev/v1alpha1', kind: 'LoadBalancer', metadata: { name }, spec: { network: 'one', listeners: [{ port: 80 }] } });
    const started = Date.now();
    expect((await v.call('POST', `${G}/namespaces/t1/virtualports`, portOn('one-a'))).json.spec.ips).toEqual(['10.86.0.2']);
    // Full: a client retries while the address is in use.
    await rejected('POST', `${G}/namespaces/t1/virtualports`, portOn('one-b'), 422, 'Invalid');
    expect((await v.call('DELETE', `${G}/namespaces/t1/virtualports/one-a`)).status).toBe(200);
    await eventually(async () => (await v.call('GET', `${G}/namespaces/t1/virtualports/one-a`)).status === 404);
    expect((await v.call('POST', `${G}/namespaces/t1/virtualports`, portOn('one-b'))).json.spec.ips).toEqual(['10.86.0.2']);
    expect((await v.call('DELETE', `${G}/namespaces/t1/virtualports/one-b`)).status).toBe(200);
    await eventually(async () => (await v.call('GET', `${G}/namespaces/t1/virtualports/one-b`)).status === 404);
    expect((await v.call('POST', `${G}/namespaces/t1/loadbalancers`, lbOn('one-lb'))).json.spec.vip).toBe('10.86.0.2');
    expect((await v.call('DELETE', `${G}/namespaces/t1/loadbalancers/one-lb`)).status).toBe(200);
    await eventually(async () => (await v.call('GET', `${G}/namespaces/t1/loadbalancers/one-lb`)).status === 404);
    expect((await v.call('POST', `${G}/namespaces/t1/loadbalancers`, lbOn('one-lb2'))).json.spec.vip).toBe('10.86.0.2');
    process.stdout.write(`[api-resources] one address given out four times over in ${Date.now() - started} ms\n`);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('LoadBalancer: VIP allocated in the network, backends validated', async () => {
    await v.call('POST', `${G}/namespaces/t1/virtualnetworks`, net('lbnet', { subnets: [{ cidr: '172.16.0.0/24' }] }));
    const lb = (spec: Record<string, unknown>) => ({ apiVersion: 'vnet.dev/v1alpha1', kind: 'LoadBalancer', metadata: { name: 'web' }, spec: { network: 'lbnet', listeners: [{ port: 80, targetPort: 8080 }], ...spec } });
    const bad = async (spec: Record<string, unknown>, field: string) => {
      const s = await rejected('POST', `${G}/namespaces/t1/loadbalancers`, lb(spec), 422, 'Invalid');
      expect(s.details.causes.map((c: { field: string }) => c.field)).toContain(field);
    };
    await bad({ vip: '10.1.1.1' }, 'spec.vip');
    await bad({ backends: [{ ip: '172.16.0.10' }, { ip: '172.16.0.10' }] }, 'spec.backends[1]');
    await bad({ backends: [{ ip: '172.17.0.10' }] }, 'spec.backends[0].ip');
    await bad({ backends: [{ port: 'a' }] }, 'spec.backends[0].port');
    await bad({ listeners: [{ port: 80 }, { port: 80, protocol: 'TCP' }] }, 'spec.listeners[1]');
    await bad({ healthCheck: { protocol: 'HTTP', path: '/' } }, 'spec.healthCheck.protocol');
    await bad({ healthCheck: { intervalSeconds: 2, timeoutSeconds: 5 } }, 'spec.healthCheck.timeoutSeconds');
    await bad({ listeners: [{ port: 53, protocol: 'UDP' }], healthCheck: { protocol: 'TCP' } }, 'spec.healthCheck');
    // UDP checks: need a UDP listener or a port; the port is a port.
    const udpOnTcp = await rejected('POST', `${G}/namespaces/t1/loadbalancers`, lb({ healthCheck: { protocol: 'UDP' } }), 422, 'Invalid');
    expect(udpOnTcp.details.causes).toEqual([expect.objectContaining({ field: 'spec.healthCheck', message: expect.stringContaining('UDP health checks need at least one UDP listener or a port: set protocol TCP') })]);
    const tcpOnUdp = await rejected('POST', `${G}/namespaces/t1/loadbalancers`, lb({ listeners: [{ port: 53, protocol: 'UDP' }], healthCheck: {} }), 422, 'Invalid');
    expect(tcpOnUdp.details.causes[0].message).toMatch(/TCP health checks need at least one TCP listener or a port: set protocol UDP .*, or a TCP port to check \(spec\.healthCheck\.port\)/);
    await bad({ healthCheck: { port: 0 } }, 'spec.healthCheck.port');
    await bad({ healthCheck: { port: 65536 } }, 'spec.healthCheck.port');
    await bad({ healthCheck: { protocol: 'UDP', port: 'x' } }, 'spec.healthCheck.port');
    // spec.healthCheck.udp: UDP checks only, base64 of at most 512 bytes, expectReply a boolean.
    const udpOnTcpCheck = await rejected('POST', `${G}/namespaces/t1/loadbalancers`, lb({ healthCheck: { udp: { expectReply: true } } }), 422, 'Invalid');
    expect(udpOnTcpCheck.details.causes).toEqual([expect.objectContaining({ field: 'spec.healthCheck.udp', reason: 'FieldValueForbidden', message: expect.stringContaining('only with protocol UDP') })]);
    const udpCheck = { listeners: [{ port: 53, protocol: 'UDP' }] };
    const notBase64 = await rejected('POST', `${G}/namespaces/t1/loadbalancers`, lb({ ...udpCheck, healthCheck: { protocol: 'UDP', udp: { payload: 'hello!' } } }), 422, 'Invalid');
    expect(notBase64.details.causes).toEqual([expect.objectContaining({ field: 'spec.healthCheck.udp.payload', message: expect.stringContaining('must be base64') })]);
    const tooLong = await rejected('POST', `${G}/namespaces/t1/loadbalancers`, lb({ ...udpCheck, healthCheck: { protocol: 'UDP', udp: { payload: Buffer.alloc(600).toString('base64') } } }), 422, 'Invalid');
    expect(tooLong.details.causes).toEqual([expect.objectContaining({ field: 'spec.healthCheck.udp.payload', reason: 'FieldValueTooLong', message: 'Too long: 600 bytes decoded: may not be more than 512 bytes' })]);
    await bad({ ...udpCheck, healthCheck: { protocol: 'UDP', udp: { expectReply: 'yes' } } }, 'spec.healthCheck.udp.expectReply');
    expect((await v.call('GET', `${G}/namespaces/t1/loadbalancers/web`)).status).toBe(404);
    // More UDP ports than Linux's ICMP rate limit can fail in an interval: created, with a warning.
    const many = await v.call('POST', `${G}/namespaces/t1/loadbalancers?dryRun=All`, { ...lb({ vip: '172.16.0.60', listeners: [1, 2, 3].map((i) => ({ port: 50 + i, protocol: 'UDP' })), healthCheck: { protocol: 'UDP', intervalSeconds: 2 } }), metadata: { name: 'many' } });
    expect(many.status).toBe(201);
    expect(String(many.headers.warning)).toContain('3 UDP ports checked every 2s');
    // Their own VIPs: the one allocated next is the one 'web' expects below.
    for (const [name, spec] of [
      ['dns-udp', { listeners: [{ port: 53, protocol: 'UDP', targetPort: 5353 }], healthCheck: { protocol: 'UDP' } }],
      ['dns-side', { listeners: [{ port: 53, protocol: 'UDP' }], healthCheck: { protocol: 'TCP', port: 8053 } }],
      ['dns-udp-port', { listeners: [{ port: 80 }], healthCheck: { protocol: 'UDP', port: 5353 } }],
      ['dns-reply', { listeners: [{ port: 53, protocol: 'UDP' }], healthCheck: { protocol: 'UDP', udp: { payload: 'AAEBAAABAAAAAAAAB2V4YW1wbGUDY29tAAABAAE=', expectReply: true } } }],
    ] as const) {
      const r = await v.call('POST', `${G}/namespaces/t1/loadbalancers`, { ...lb({ ...spec, vip: `172.16.0.${50 + name.length}` }), metadata: { name } });
      expect([name, r.status]).toEqual([name, 201]);
      expect(r.json.spec.healthCheck).toEqual(spec.healthCheck);
      expect((await v.call('DELETE', `${G}/namespaces/t1/loadbalancers/${name}`)).status).toBe(200);
      await eventually(async () => (await v.call('GET', `${G}/namespaces/t1/loadbalancers/${name}`)).status === 404);
    }
    await bad({ vip: '172.16.0.20', backends: [{ ip: '172.16.0.20' }] }, 'spec.backends[0].ip');
    const ok = await v.call('POST', `${G}/namespaces/t1/loadbalancers`, lb({ backends: [{ ip: '172.16.0.10', weight: 2 }, { ip: '172.16.0.11' }] }));
    expect(ok.status).toBe(201);
    expect(ok.json.spec.algorithm).toBeUndefined();
    expect(ok.json.spec).toMatchObject({ vip: '172.16.0.2', sessionAffinity: 'None', listeners: [{ protocol: 'TCP', port: 80, targetPort: 8080 }] });
    const ready = await eventually(async () => {
      const g = await v.call('GET', `${G}/namespaces/t1/loadbalancers/web`);
      // Ready is the pipeline's (realized on every node of the network; none here), set after IPAM's status.
      return g.json.status?.vip && g.json.status.conditions?.some((c: { type: string; status: string }) => c.type === 'Ready' && c.status === 'True') ? g.json : undefined;
    });
    expect(ready.status.conditions.find((c: { type: string }) => c.type === 'AddressesAllocated').status).toBe('True');
    // Another load balancer's VIP is no backend either.
    const other = await rejected('POST', `${G}/namespaces/t1/loadbalancers`, { ...lb({ backends: [{ ip: ok.json.spec.vip }] }), metadata: { name: 'web2' } }, 422, 'Invalid');
    expect(other.details.causes[0].message).toContain('the VIP of LoadBalancer "web"');
  });

  it('LoadBalancer: one family per load balancer (its VIP\'s), IPv6 VIPs picked on IPv6-only networks, and no address listed twice', async () => {
    await v.call('POST', `${G}/namespaces/t1/virtualnetworks`, net('lb46', { subnets: [{ cidr: '172.18.0.0/24' }, { cidr: 'fd18::/64' }] }));
    await v.call('POST', `${G}/namespaces/t1/virtualnetworks`, net('lb6', { subnets: [{ cidr: 'fd19::/64' }] }));
    const lb = (name: string, network: string, spec: Record<string, unknown>) => ({ apiVersion: 'vnet.dev/v1alpha1', kind: 'LoadBalancer', metadata: { name }, spec: { network, listeners: [{ port: 80 }], ...spec } });
    const cause = async (network: string, spec: Record<string, unknown>) => (await rejected('POST', `${G}/namespaces/t1/loadbalancers`, lb('bad', network, spec), 422, 'Invalid')).details.causes[0];
    expect(await cause('lb46', { backends: [{ ip: 'fd18::5' }] })).toMatchObject({ field: 'spec.backends[0].ip', message: expect.stringContaining('an IPv6 backend for an IPv4 VIP') });
    expect(await cause('lb46', { vip: 'fd18::100', backends: [{ ip: '172.18.0.5' }] })).toMatchObject({ field: 'spec.backends[0].ip', message: expect.stringContaining('an IPv4 backend for an IPv6 VIP') });
    const p = await v.call('POST', `${G}/namespaces/t1/virtualports`, { apiVersion: 'vnet.dev/v1alpha1', kind: 'VirtualPort', metadata: { name: 'dual' }, spec: { network: 'lb46' } });
    const v4 = (p.json.spec.ips as string[]).find((ip) => !ip.includes(':'))!;
    const v6 = (p.json.spec.ips as string[]).find((ip) => ip.includes(':'))!;
    expect(await cause('lb46', { backends: [{ port: 'dual' }, { ip: v4 }] })).toMatchObject({ field: 'spec.backends[1].ip', reason: 'FieldValueDuplicate', message: expect.stringContaining('VirtualPort "dual", spec.backends[0]') });
    // The same port's IPv6 address duplicates it under an IPv6 VIP.
    expect(await cause('lb46', { vip: 'fd18::100', backends: [{ port: 'dual' }, { ip: v6 }] })).toMatchObject({ field: 'spec.backends[1].ip', reason: 'FieldValueDuplicate' });
    // A dual-stack network's VIP is picked from its IPv4 subnet; an IPv6-only network's from its IPv6 subnet.
    const four = await v.call('POST', `${G}/namespaces/t1/loadbalancers`, lb('v4', 'lb46', { backends: [{ port: 'dual' }] }));
    expect(four.status).toBe(201);
    expect(four.json.spec.vip).toMatch(/^172\.18\.0\.\d+$/);
    const six = await v.call('POST', `${G}/namespaces/t1/loadbalancers`, lb('v6', 'lb6', {}));
    expect(six.status).toBe(201);
    expect(six.json.spec.vip).toMatch(/^fd19::/);
    // An explicit IPv6 VIP on the dual-stack network, its port backend resolved to the port's IPv6 address.
    const given = await v.call('POST', `${G}/namespaces/t1/loadbalancers`, lb('v6given', 'lb46', { vip: 'FD18::0100', backends: [{ port: 'dual' }] }));
    expect(given.status).toBe(201);
    expect(given.json.spec.vip).toBe('fd18::100');
    const backends = await eventually(async () => {
      const s = (await v.call('GET', `${G}/namespaces/t1/loadbalancers/v6given`)).json.status;
      return s?.backends?.[0]?.ip ? s.backends : undefined;
    }, 15_000);
    expect(backends[0]).toMatchObject({ name: 'dual', ip: v6 });
  }, 40_000);

  it('LoadBalancer: the VIP\'s MAC (spec.mac) follows the VIP, not the object: deleted and created again, the same MAC; immutable; unicast only', async () => {
    await v.call('POST', `${G}/namespaces/t1/virtualnetworks`, net('macnet', { subnets: [{ cidr: '172.19.0.0/24' }] }));
    const lb = (spec: Record<string, unknown>) => ({ apiVersion: 'vnet.dev/v1alpha1', kind: 'LoadBalancer', metadata: { name: 'maclb' }, spec: { network: 'macnet', vip: '172.19.0.50', listeners: [{ port: 80 }], ...spec } });
    const first = await v.call('POST', `${G}/namespaces/t1/loadbalancers`, lb({}));
    expect(first.status).toBe(201);
    expect(first.json.spec.mac).toMatch(/^02:4c:42:[0-9a-f]{2}:[0-9a-f]{2}:[0-9a-f]{2}$/);
    const changed = await rejected('PUT', `${G}/namespaces/t1/loadbalancers/maclb`, { ...first.json, spec: { ...first.json.spec, mac: '02:00:00:00:00:01' } }, 422, 'Invalid');
    expect(changed.details.causes[0]).toMatchObject({ field: 'spec.mac', message: expect.stringContaining('field is immutable') });
    expect((await v.call('DELETE', `${G}/namespaces/t1/loadbalancers/maclb`)).status).toBe(200);
    const again = await eventually(async () => {
      const r = await v.call('POST', `${G}/namespaces/t1/loadbalancers`, lb({}));
      return r.status === 201 ? r : undefined;
    }, 15_000);
    expect(again.json.metadata.uid).not.toBe(first.json.metadata.uid);
    expect(again.json.spec.mac).toBe(first.json.spec.mac);
    const multicast = await rejected('POST', `${G}/namespaces/t1/loadbalancers`, { ...lb({ vip: '172.19.0.51', mac: '01:00:5e:00:00:01' }), metadata: { name: 'maclb2' } }, 422, 'Invalid');
    expect(multicast.details.causes[0]).toMatchObject({ field: 'spec.mac', message: 'Invalid value: "01:00:5e:00:00:01": 01:00:5e:00:00:01 is a multicast MAC address: a NIC needs a unicast one' });
    // The same check as a port's (QA-102: the all-zero MAC was taken for a VIP).
    const zero = await rejected('POST', `${G}/namespaces/t1/loadbalancers`, { ...lb({ vip: '172.19.0.51', mac: '00:00:00:00:00:00' }), metadata: { name: 'maclb2' } }, 422, 'Invalid');
    expect(zero.details.causes[0]).toMatchObject({ field: 'spec.mac', message: 'Invalid value: "00:00:00:00:00:00": 00:00:00:00:00:00 is not a usable MAC address' });

    // A VIP's MAC is claimed as a port's is: no other load balancer or port of the network
    // may answer with it (both would want the same flows), and a refusal leaks nothing.
    const port = (name: string, mac: string) => ({ apiVersion: 'vnet.dev/v1alpha1', kind: 'VirtualPort', metadata: { name }, spec: { network: 'macnet', mac } });
    const lbMac = again.json.spec.mac as string;
    const dupLb = await rejected('POST', `${G}/namespaces/t1/loadbalancers`, { ...lb({ vip: '172.19.0.52', mac: lbMac.toUpperCase() }), metadata: { name: 'maclb3' } }, 422, 'Invalid');
    expect(dupLb.details.causes[0]).toMatchObject({ field: 'spec.mac', message: `Invalid value: "${lbMac}": already used by LoadBalancer "maclb" in network "macnet"` });
    const dupPort = await rejected('POST', `${G}/namespaces/t1/virtualports`, port('macport', lbMac), 422, 'Invalid');
    expect(dupPort.details.causes[0]).toMatchObject({ field: 'spec.mac', message: expect.stringContaining('already used by LoadBalancer "maclb"') });
    expect((await v.call('POST', `${G}/namespaces/t1/virtualports`, port('holder', '0a:19:00:00:00:01'))).status).toBe(201);
    const byPort = await rejected('POST', `${G}/namespaces/t1/loadbalancers`, { ...lb({ vip: '172.19.0.53', mac: '0a:19:00:00:00:01' }), metadata: { name: 'maclb4' } }, 422, 'Invalid');
    expect(byPort.details.causes[0]).toMatchObject({ field: 'spec.mac', message: expect.stringContaining('already used by VirtualPort "holder"') });
    // A derived MAC another object has already: the next candidate.
    expect((await v.call('POST', `${G}/namespaces/t1/virtualports`, port('squatter', lbVipMac('t1', 'macnet', '172.19.0.60')))).status).toBe(201);
    const moved = await v.call('POST', `${G}/namespaces/t1/loadbalancers`, { ...lb({ vip: '172.19.0.60' }), metadata: { name: 'maclb5' } });
    expect(moved.status).toBe(201);
    expect(moved.json.spec.mac).toBe(lbVipMac('t1', 'macnet', '172.19.0.60', 1));
    // Deleting a load balancer frees its MAC.
    expect((await v.call('DELETE', `${G}/namespaces/t1/loadbalancers/maclb`)).status).toBe(200);
    await eventually(async () => ((await v.call('POST', `${G}/namespaces/t1/virtualports`, port('after', lbMac))).status === 201 ? true : undefined), 15_000);
  }, 30_000);

  it('LoadBalancer: a backend that resolves to no port shows as ResolvedRefs=False until the port exists', async () => {
    const lb = { apiVersion: 'vnet.dev/v1alpha1', kind: 'LoadBalancer', metadata: { name: 'refs' }, spec: { network: 'lbnet', listeners: [{ port: 80 }], backends: [{ port: 'later' }] } };
    expect((await v.call('POST', `${G}/namespaces/t1/loadbalancers`, lb)).status).toBe(201);
    const refs = async () => (await v.call('GET', `${G}/namespaces/t1/loadbalancers/refs`)).json.status?.conditions?.find((c: { type: string }) => c.type === 'ResolvedRefs');
    const missing = await eventually(async () => ((await refs())?.status === 'False' ? refs() : undefined), 15_000);
    expect(missing).toMatchObject({ reason: 'BackendNotFound', message: expect.stringContaining('VirtualPort "later"') });
    await v.call('POST', `${G}/namespaces/t1/virtualports`, { apiVersion: 'vnet.dev/v1alpha1', kind: 'VirtualPort', metadata: { name: 'later' }, spec: { network: 'lbnet' } });
    expect(await eventually(async () => ((await refs())?.status === 'True' ? refs() : undefined), 15_000)).toMatchObject({ reason: 'ResolvedRefs' });
    // Deleting the port a load balancer names: a warning says so (kubectl and vnetctl print it); a port no one names: none.
    const del = await v.call('DELETE', `${G}/namespaces/t1/virtualports/later`);
    expect(del.status).toBe(200);
    expect(String(del.headers.warning)).toContain('VirtualPort \\"later\\" is a backend of LoadBalancer \\"refs\\"');
    await v.call('POST', `${G}/namespaces/t1/virtualports`, { apiVersion: 'vnet.dev/v1alpha1', kind: 'VirtualPort', metadata: { name: 'loner' }, spec: { network: 'lbnet' } });
    expect((await v.call('DELETE', `${G}/namespaces/t1/virtualports/loner`)).headers.warning).toBeUndefined();
  }, 40_000);
});

describe('interface ids', () => {
  it('claims a port\'s interfaceId across namespaces: a second port naming it is refused and leaks nothing; freed when the first is deleted', async () => {
    for (const ns of ['t1', 't2']) await v.call('POST', `${G}/namespaces/${ns}/virtualnetworks`, net('ifnet', { subnets: [{ cidr: '10.60.0.0/24' }] }));
    const port = (name: string, spec: Record<string, unknown>) => ({ apiVersion: 'vnet.dev/v1alpha1', kind: 'VirtualPort', metadata: { name }, spec: { network: 'ifnet', ...spec } });
    const first = await v.call('POST', `${G}/namespaces/t1/virtualports`, port('vm1-eth0', { interfaceId: 'vm1-eth0' }));
    expect(first.status).toBe(201);
    // Another tenant naming the same NIC would bind to it (and take its traffic): refused.
    const s = await rejected('POST', `${G}/namespaces/t2/virtualports`, port('thief', { interfaceId: 'vm1-eth0' }), 422, 'Invalid');
    // Without naming the other tenant's namespace or port.
    expect(s.details.causes).toContainEqual(expect.objectContaining({ field: 'spec.interfaceId', message: 'Invalid value: "vm1-eth0": already used by a VirtualPort in another namespace' }));
    const same = await rejected('POST', `${G}/namespaces/t1/virtualports`, port('twin', { interfaceId: 'vm1-eth0' }), 422, 'Invalid');
    expect(same.details.causes).toContainEqual(expect.objectContaining({ field: 'spec.interfaceId', message: 'Invalid value: "vm1-eth0": already used by VirtualPort "vm1-eth0"' }));
    // Its address pick went back: the next port of t2's network gets the first address.
    const other = await v.call('POST', `${G}/namespaces/t2/virtualports`, port('other', {}));
    expect(other.json.spec.ips).toEqual(['10.60.0.2']);
    await rejected('PATCH', `${G}/namespaces/t1/virtualports/vm1-eth0`, { spec: { interfaceId: 'elsewhere' } }, 422, 'Invalid', { contentType: 'application/merge-patch+json' });
    expect((await v.call('DELETE', `${G}/namespaces/t1/virtualports/vm1-eth0`)).status).toBe(200);
    await eventually(async () => (await v.call('GET', `${G}/namespaces/t1/virtualports/vm1-eth0`)).status === 404);
    const again = await v.call('POST', `${G}/namespaces/t2/virtualports`, port('vm1-eth0', { interfaceId: 'vm1-eth0' }));
    expect(again.status).toBe(201);
    const ready = await eventually(async () => {
      const g = await v.call('GET', `${G}/namespaces/t2/virtualports/vm1-eth0`);
      return g.json.status?.conditions?.find((c: { type: string; status: string }) => c.type === 'AddressesAllocated' && c.status === 'True') ? g : undefined;
    });
    expect(ready.status).toBe(200);
  });
});

describe('references that could never resolve (found by a black-box review)', () => {
  const port = (name: string, spec: Record<string, unknown>) => ({ apiVersion: 'vnet.dev/v1alpha1', kind: 'VirtualPort', metadata: { name }, spec: { network: 'refnet', ...spec } });
  beforeAll(async () => {
    expect((await v.call('POST', `${G}/namespaces/t1/virtualnetworks`, net('refnet', { subnets: [{ cidr: '10.61.0.0/24' }] }))).status).toBe(201);
  });

  it('refuses an empty interfaceId, which was claimed and never released (every later "" refused, in every namespace)', async () => {
    for (const id of ['', '  ']) {
      const s = await rejected('POST', `${G}/namespaces/t1/virtualports`, port('noid', { interfaceId: id }), 422, 'Invalid');
      expect(s.details.causes).toContainEqual(expect.objectContaining({ field: 'spec.interfaceId', reason: 'FieldValueRequired' }));
    }
    // Omitted, it is the port's uid as before.
    const ok = await v.call('POST', `${G}/namespaces/t1/virtualports`, port('withuid', {}));
    expect(ok.json.spec.interfaceId).toBe(ok.json.metadata.uid);
    // Nothing that breaks the commands printed for the hypervisor (QA-96: a newline, quotes, XML).
    for (const id of ['a\nb', "x'><evil/>", '$(touch /tmp/pwned);x', 'two words', 'back\\slash']) {
      const bad = await rejected('POST', `${G}/namespaces/t1/virtualports`, port('badid', { interfaceId: id }), 422, 'Invalid');
      expect(bad.details.causes).toContainEqual(expect.objectContaining({ field: 'spec.interfaceId', message: expect.stringContaining('may not hold spaces, quotes, a backslash, control characters or any of < > $ ; & | ( )') }));
    }
    expect((await v.call('POST', `${G}/namespaces/t1/virtualports`, port('okid', { interfaceId: 'tenant-a/vm_1.eth0@hv:2,x=1' }))).status).toBe(201);
  });

  it('refuses a node name no Node can have (create and update); a well-formed one that does not exist yet only warns', async () => {
    const s = await rejected('POST', `${G}/namespaces/t1/virtualports`, port('badnode', { node: 'Bad_Node!' }), 422, 'Invalid');
    expect(s.details.causes).toContainEqual(expect.objectContaining({ field: 'spec.node', message: expect.stringContaining('Invalid value: "Bad_Node!": a lowercase RFC 1123 subdomain') }));
    const later = await v.call('POST', `${G}/namespaces/t1/virtualports`, port('latenode', { node: 'hv-later.example' }));
    expect(later.status).toBe(201);
    expect(String(later.headers.warning)).toContain('does not exist (yet); the port binds only once it does');
    await rejected('PATCH', `${G}/namespaces/t1/virtualports/latenode`, { spec: { node: 'HV 2' } }, 422, 'Invalid', { contentType: 'application/merge-patch+json' });
  });

  it('refuses a load balancer backend port that is not a VirtualPort name (an empty one took no connections, said for VirtualPort "")', async () => {
    const lb = (backends: unknown[]) => ({ apiVersion: 'vnet.dev/v1alpha1', kind: 'LoadBalancer', metadata: { name: 'reflb' }, spec: { network: 'refnet', listeners: [{ port: 80 }], backends } });
    for (const name of ['', 'Bad_Name!']) {
      const s = await rejected('POST', `${G}/namespaces/t1/loadbalancers`, lb([{ port: name }]), 422, 'Invalid');
      expect(s.details.causes).toContainEqual(expect.objectContaining({ field: 'spec.backends[0].port', message: expect.stringMatching(/^Invalid value: ".*": (a lowercase RFC 1123 label|must be)/) }));
    }
    const ok = await v.call('POST', `${G}/namespaces/t1/loadbalancers`, lb([{ port: 'not-yet' }]));
    expect(ok.status).toBe(201);
    await rejected('PATCH', `${G}/namespaces/t1/loadbalancers/reflb`, { spec: { backends: [{ port: 'UPPER' }] } }, 422, 'Invalid', { contentType: 'application/merge-patch+json' });
  });

  it('a backend listed twice because its port took the address since: warned on the port, said in status, and the load balancer still takes labels and lets its finalizers go (QA-134 F7: every later update refused, stuck Terminating)', async () => {
    expect((await v.call('POST', `${G}/namespaces/t1/virtualnetworks`, net('dupnet', { subnets: [{ cidr: '10.164.0.0/24' }] }))).status).toBe(201);
    const port = { apiVersion: 'vnet.dev/v1alpha1', kind: 'VirtualPort', metadata: { name: 'dp1' }, spec: { network: 'dupnet', ips: ['10.164.0.210'] } };
    expect((await v.call('POST', `${G}/namespaces/t1/virtualports`, port)).status).toBe(201);
    const lb = { apiVersion: 'vnet.dev/v1alpha1', kind: 'LoadBalancer', metadata: { name: 'dupf', finalizers: ['example.com/keep'] }, spec: { network: 'dupnet', listeners: [{ port: 80 }], backends: [{ port: 'dp1' }, { ip: '10.164.0.211' }] } };
    expect((await v.call('POST', `${G}/namespaces/t1/loadbalancers`, lb)).status).toBe(201);
    // Written by the load balancer itself: refused, as before.
    const twice = await rejected('POST', `${G}/namespaces/t1/loadbalancers`, { ...lb, metadata: { name: 'dup2' }, spec: { ...lb.spec, backends: [{ port: 'dp1' }, { ip: '10.164.0.210' }] } }, 422, 'Invalid');
    expect(twice.details.causes).toContainEqual(expect.objectContaining({ field: 'spec.backends[1].ip', message: 'Duplicate value: "10.164.0.210" is the address of VirtualPort "dp1", spec.backends[0]' }));
    // The port takes the address backend's address: accepted, with a warning naming the load balancer (before: silent).
    const moved = await v.call('PATCH', `${G}/namespaces/t1/virtualports/dp1`, { spec: { ips: ['10.164.0.211'] } }, { contentType: 'application/merge-patch+json' });
    expect(moved.status).toBe(200);
    expect(String(moved.headers.warning)).toContain('10.164.0.211 is a backend of LoadBalancer \\"dupf\\", which names this port as one too');
    // A label: accepted, warned (before: 422 for the unchanged spec).
    const labelled = await v.call('PATCH', `${G}/namespaces/t1/loadbalancers/dupf`, { metadata: { labels: { x: '1' } } }, { contentType: 'application/merge-patch+json' });
    expect(labelled.status).toBe(200);
    expect(String(labelled.headers.warning)).toContain('one backend listed twice');
    // Deleted, then its foreign finalizer let go: gone.
    expect((await v.call('DELETE', `${G}/namespaces/t1/loadbalancers/dupf`)).status).toBe(200);
    const released = await v.call('PATCH', `${G}/namespaces/t1/loadbalancers/dupf`, { metadata: { finalizers: null } }, { contentType: 'application/merge-patch+json' });
    expect(released.status).toBe(200);
    await eventually(async () => (await v.call('GET', `${G}/namespaces/t1/loadbalancers/dupf`)).status === 404);
  });
});

describe('collections and methods (found by a black-box review)', () => {
  const port = (name: string, labels: Record<string, string>) => ({ apiVersion: 'vnet.dev/v1alpha1', kind: 'VirtualPort', metadata: { name, labels }, spec: { network: 'colnet' } });
  beforeAll(async () => {
    expect((await v.call('POST', `${G}/namespaces/t2/virtualnetworks`, net('colnet', { subnets: [{ cidr: '10.62.0.0/24' }] }))).status).toBe(201);
  });

  it('deletes a collection by label selector (deletecollection): only what matches, with its finalizers and addresses as a DELETE of each', async () => {
    for (const [name, tier] of [['c1', 'web'], ['c2', 'web'], ['c3', 'db']] as const) expect((await v.call('POST', `${G}/namespaces/t2/virtualports`, port(name, { tier }))).status).toBe(201);
    const dry = await v.call('DELETE', `${G}/namespaces/t2/virtualports?labelSelector=tier%3Dweb&dryRun=All`);
    expect(dry.status).toBe(200);
    expect(dry.json.items.map((o: { metadata: { name: string } }) => o.metadata.name).sort()).toEqual(['c1', 'c2']);
    expect((await v.call('GET', `${G}/namespaces/t2/virtualports/c1`)).json.metadata.deletionTimestamp).toBeUndefined();
    const res = await v.call('DELETE', `${G}/namespaces/t2/virtualports?labelSelector=tier%3Dweb`);
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ kind: 'VirtualPortList', apiVersion: 'vnet.dev/v1alpha1' });
    expect(res.json.items.map((o: { metadata: { name: string } }) => o.metadata.name).sort()).toEqual(['c1', 'c2']);
    await eventually(async () => (await v.call('GET', `${G}/namespaces/t2/virtualports/c1`)).status === 404 && (await v.call('GET', `${G}/namespaces/t2/virtualports/c2`)).status === 404);
    expect((await v.call('GET', `${G}/namespaces/t2/virtualports/c3`)).status).toBe(200);
    // Their addresses went back: the next two ports get them again.
    await eventually(async () => !(await v.objects.kv.get(ipKey('t2', 'colnet', '10.62.0.2'))));
    // Advertised, as for custom resources (kubectl and client-go read it from discovery).
    const disco = await v.call('GET', `${G}`);
    expect(disco.json.resources.find((r: { name: string }) => r.name === 'virtualports').verbs).toContain('deletecollection');
  });

  it('a tenant deletes a collection in its own namespaces only; namespaces take no deletecollection', async () => {
    const token = await v.tenantToken('coltenant', ['t2']);
    expect((await v.call('DELETE', `${G}/namespaces/t1/virtualports?labelSelector=none%3Dx`, undefined, { token })).status).toBe(403);
    expect((await v.call('DELETE', `${G}/virtualports?labelSelector=none%3Dx`, undefined, { token })).status).toBe(403);
    const own = await v.call('DELETE', `${G}/namespaces/t2/virtualports?labelSelector=none%3Dx`, undefined, { token });
    expect(own.status).toBe(200);
    expect(own.json.items).toEqual([]);
    expect(await rejected('DELETE', '/api/v1/namespaces', undefined, 405, 'MethodNotAllowed')).toMatchObject({ message: 'the server does not allow this method on the requested resource' });
    expect((await v.call('GET', '/api/v1/namespaces/t1')).status).toBe(200);
  });

  it('answers 406 NotAcceptable, doing nothing, to a client that accepts only what vnetd does not write (protobuf); with a JSON fallback it is served', async () => {
    const protobufOnly = { accept: 'application/vnd.kubernetes.protobuf' };
    const body = port('c406', {});
    const refused = await rejected('POST', `${G}/namespaces/t2/virtualports`, body, 406, 'NotAcceptable', protobufOnly);
    expect(refused.message).toBe('only the following media types are accepted: application/json, application/yaml (asked for application/vnd.kubernetes.protobuf)');
    expect((await v.call('GET', `${G}/namespaces/t2/virtualports/c406`)).status).toBe(404);
    await rejected('GET', `${G}/namespaces/t2/virtualports`, undefined, 406, 'NotAcceptable', protobufOnly);
    await rejected('GET', '/api/v1/namespaces/t2', undefined, 406, 'NotAcceptable', { accept: 'application/vnd.kubernetes.protobuf;stream=watch' });
    // As kubectl asks for built-in kinds: protobuf first, JSON after.
    const served = await v.call('GET', '/api/v1/namespaces/t2', undefined, { accept: 'application/vnd.kubernetes.protobuf,application/json' });
    expect(served.status).toBe(200);
    expect(served.headers['content-type']).toMatch(/^application\/json/);
  });

  it('answers 405 to a method a resource does not take, 404 to a resource that does not exist, and a PUT to a missing object 404', async () => {
    await rejected('PUT', `${G}/namespaces/t2/virtualports`, { items: [] }, 405, 'MethodNotAllowed');
    await rejected('PATCH', `${G}/namespaces/t2/virtualports`, {}, 405, 'MethodNotAllowed', { contentType: 'application/merge-patch+json' });
    await rejected('POST', `${G}/namespaces/t2/virtualports/c3`, port('c3', {}), 405, 'MethodNotAllowed');
    await rejected('POST', `${G}/nodes/somenode`, {}, 405, 'MethodNotAllowed');
    await rejected('DELETE', `${G}/namespaces/t2/nosuchthings`, undefined, 404, 'NotFound');
    const other = await v.call('POST', '/apis/apps/v1/namespaces/t2/deployments', {});
    expect(other.status).toBe(404);
    expect(other.json).toMatchObject({ kind: 'Status', reason: 'NotFound' });
    expect(other.json.message).not.toMatch(/Cannot POST/);
    // As kube-apiserver for a custom resource: not there is 404 before "resourceVersion must be specified".
    const missing = { apiVersion: 'vnet.dev/v1alpha1', kind: 'VirtualPort', metadata: { name: 'nonexist' }, spec: { network: 'colnet' } };
    await rejected('PUT', `${G}/namespaces/t2/virtualports/nonexist`, missing, 404, 'NotFound');
    const existing = (await v.call('GET', `${G}/namespaces/t2/virtualports/c3`)).json;
    await rejected('PUT', `${G}/namespaces/t2/virtualports/c3`, { ...existing, metadata: { ...existing.metadata, resourceVersion: undefined } }, 422, 'Invalid');
  });
});

describe('deleting a network that is in use', () => {
  it('says which objects hold it (Warning), stays Terminating with them, and goes once they do; objects it owns are not named', async () => {
    expect((await v.call('POST', `${G}/namespaces/t1/virtualnetworks`, net('inuse', { subnets: [{ cidr: '10.63.0.0/24' }] }))).status).toBe(201);
    const netUid = (await v.call('GET', `${G}/namespaces/t1/virtualnetworks/inuse`)).json.metadata.uid;
    const port = (name: string, owned: boolean) => ({
      apiVersion: 'vnet.dev/v1alpha1',
      kind: 'VirtualPort',
      metadata: { name, ...(owned ? { ownerReferences: [{ apiVersion: 'vnet.dev/v1alpha1', kind: 'VirtualNetwork', name: 'inuse', uid: netUid }] } : {}) },
      spec: { network: 'inuse' },
    });
    for (const [name, owned] of [['inuse-p', false], ['inuse-owned', true]] as const) expect((await v.call('POST', `${G}/namespaces/t1/virtualports`, port(name, owned))).status).toBe(201);
    const lb = { apiVersion: 'vnet.dev/v1alpha1', kind: 'LoadBalancer', metadata: { name: 'inuse-lb' }, spec: { network: 'inuse', listeners: [{ port: 80 }], backends: [{ port: 'inuse-p' }] } };
    expect((await v.call('POST', `${G}/namespaces/t1/loadbalancers`, lb)).status).toBe(201);
    const del = await v.call('DELETE', `${G}/namespaces/t1/virtualnetworks/inuse`);
    expect(del.status).toBe(200);
    expect(String(del.headers.warning)).toContain('VirtualNetwork \\"inuse\\" still has 2 objects on it (VirtualPort inuse-p, LoadBalancer inuse-lb): it stays Terminating');
    expect(String(del.headers.warning)).not.toContain('inuse-owned');
    // The owned port goes with it (garbage collection); the network waits for the others.
    await eventually(async () => (await v.call('GET', `${G}/namespaces/t1/virtualports/inuse-owned`)).status === 404);
    expect((await v.call('GET', `${G}/namespaces/t1/virtualnetworks/inuse`)).json.metadata.deletionTimestamp).toBeDefined();
    for (const path of ['virtualports/inuse-p', 'loadbalancers/inuse-lb']) expect((await v.call('DELETE', `${G}/namespaces/t1/${path}`)).status).toBe(200);
    await eventually(async () => (await v.call('GET', `${G}/namespaces/t1/virtualnetworks/inuse`)).status === 404, 10_000);
  });
});

describe('status written over', () => {
  it('a port whose status was wiped through /status gets its allocation status back', async () => {
    await v.call('POST', `${G}/namespaces/t1/virtualnetworks`, net('wiped', { subnets: [{ cidr: '10.62.0.0/24' }] }));
    const p = await v.call('POST', `${G}/namespaces/t1/virtualports`, { apiVersion: 'vnet.dev/v1alpha1', kind: 'VirtualPort', metadata: { name: 'wp' }, spec: { network: 'wiped' } });
    expect(p.status).toBe(201);
    const wiped = await v.call('PATCH', `${G}/namespaces/t1/virtualports/wp/status`, { status: null }, { contentType: 'application/merge-patch+json' });
    expect(wiped.status).toBe(200);
    const back = await eventually(async () => {
      const g = (await v.call('GET', `${G}/namespaces/t1/virtualports/wp`)).json;
      return g.status?.conditions?.some((c: { type: string; status: string }) => c.type === 'AddressesAllocated' && c.status === 'True') ? g : undefined;
    }, 10_000);
    expect(back.status.ips).toEqual(p.json.spec.ips);
  });

  it('a status whose addresses were written over gets them back: a network\'s VNI, a load balancer\'s VIP, a port\'s MAC and IPs (vnetctl shows them)', async () => {
    const n = await v.call('POST', `${G}/namespaces/t1/virtualnetworks`, net('forged', { subnets: [{ cidr: '10.64.0.0/24' }] }));
    await eventually(async () => (await v.call('GET', `${G}/namespaces/t1/virtualnetworks/forged`)).json.status?.vni === n.json.spec.vni);
    expect((await v.call('PATCH', `${G}/namespaces/t1/virtualnetworks/forged/status`, { status: { vni: 5 } }, { contentType: 'application/merge-patch+json' })).status).toBe(200);
    await eventually(async () => (await v.call('GET', `${G}/namespaces/t1/virtualnetworks/forged`)).json.status?.vni === n.json.spec.vni, 5000);
    // So do a load balancer's VIP and a port's addresses (QA: a VIP written over stood until a restart).
    const lb = await v.call('POST', `${G}/namespaces/t1/loadbalancers`, { apiVersion: 'vnet.dev/v1alpha1', kind: 'LoadBalancer', metadata: { name: 'forged-lb' }, spec: { network: 'forged', listeners: [{ port: 80 }], backends: [] } });
    expect(lb.status).toBe(201);
    const port = await v.call('POST', `${G}/namespaces/t1/virtualports`, { apiVersion: 'vnet.dev/v1alpha1', kind: 'VirtualPort', metadata: { name: 'forged-p' }, spec: { network: 'forged' } });
    expect(port.status).toBe(201);
    expect((await v.call('PATCH', `${G}/namespaces/t1/loadbalancers/forged-lb/status`, { status: { vip: '1.2.3.4' } }, { contentType: 'application/merge-patch+json' })).status).toBe(200);
    expect((await v.call('PATCH', `${G}/namespaces/t1/virtualports/forged-p/status`, { status: { ips: ['10.64.0.250'], mac: '02:00:00:00:00:99' } }, { contentType: 'application/merge-patch+json' })).status).toBe(200);
    await eventually(async () => (await v.call('GET', `${G}/namespaces/t1/loadbalancers/forged-lb`)).json.status?.vip === lb.json.spec.vip, 5000);
    await eventually(async () => {
      const s = (await v.call('GET', `${G}/namespaces/t1/virtualports/forged-p`)).json.status;
      return s?.mac === port.json.spec.mac && JSON.stringify(s?.ips) === JSON.stringify(port.json.spec.ips);
    }, 5000);
  });
});

describe('objects stored before a check existed, and server-side apply preconditions', () => {
  it('a network stored on now-reserved space keeps working; a port stored without an interface claim claims it late', async () => {
    // Written straight to the store, as an earlier release would have admitted them.
    await v.objects.create(NETWORKS, { apiVersion: 'vnet.dev/v1alpha1', kind: 'VirtualNetwork', metadata: { name: 'legacy', namespace: 't2', finalizers: ['vnet.dev/ipam'] }, spec: { subnets: [{ cidr: '240.1.0.0/24' }], vni: 9191 } });
    const p = await v.call('POST', `${G}/namespaces/t2/virtualports`, { apiVersion: 'vnet.dev/v1alpha1', kind: 'VirtualPort', metadata: { name: 'lp' }, spec: { network: 'legacy' } });
    expect(p.status).toBe(201);
    expect((await v.call('PATCH', `${G}/namespaces/t2/virtualnetworks/legacy`, { metadata: { labels: { kept: 'yes' } } }, { contentType: 'application/merge-patch+json' })).status).toBe(200);
    await v.objects.create(PORTS, { apiVersion: 'vnet.dev/v1alpha1', kind: 'VirtualPort', metadata: { name: 'old-nic', namespace: 't2', finalizers: ['vnet.dev/ipam'] }, spec: { network: 'legacy', mac: '0a:58:0a:0b:0c:0d', ips: ['240.1.0.9'], interfaceId: 'old-nic-0' } });
    await eventually(async () => {
      const s = await rejected('POST', `${G}/namespaces/t1/virtualports`, { apiVersion: 'vnet.dev/v1alpha1', kind: 'VirtualPort', metadata: { name: 'copycat' }, spec: { network: 'ifnet', interfaceId: 'old-nic-0' } }, 422, 'Invalid').catch(() => undefined);
      return s?.details.causes.some((c: { field: string }) => c.field === 'spec.interfaceId');
    }, 10_000, 100);
  });

  it('an apply that created an object does not own the finalizer the server added: applying again keeps it', async () => {
    const path = `${G}/namespaces/t2/virtualnetworks/applied`;
    const cfg = { apiVersion: 'vnet.dev/v1alpha1', kind: 'VirtualNetwork', metadata: { name: 'applied' }, spec: { subnets: [{ cidr: '10.64.0.0/24' }] } };
    expect((await v.call('PATCH', `${path}?fieldManager=flux`, cfg, { contentType: 'application/apply-patch+yaml' })).status).toBe(201);
    const again = await v.call('PATCH', `${path}?fieldManager=flux`, { ...cfg, spec: { ...cfg.spec, mtu: 1400 } }, { contentType: 'application/apply-patch+yaml' });
    expect(again.status).toBe(200);
    expect(again.json.metadata.finalizers).toEqual(['vnet.dev/dataplane', 'vnet.dev/ipam']);
    expect(again.json.spec.mtu).toBe(1400);
  });

  it('an apply checks the resourceVersion, name and kind its configuration gives', async () => {
    const path = `${G}/namespaces/t1/virtualnetworks/blue`;
    const ssa = { contentType: 'application/apply-patch+yaml' };
    const cfg = (metadata: Record<string, unknown>, kind = 'VirtualNetwork') => ({ apiVersion: 'vnet.dev/v1alpha1', kind, metadata: { name: 'blue', ...metadata }, spec: { mtu: 1400 } });
    await rejected('PATCH', `${path}?fieldManager=t`, cfg({ resourceVersion: '1' }), 409, 'Conflict', ssa);
    await rejected('PATCH', `${path}?fieldManager=t`, cfg({ name: 'green' }), 400, 'BadRequest', ssa);
    await rejected('PATCH', `${path}?fieldManager=t`, cfg({}, 'VirtualPort'), 400, 'BadRequest', ssa);
  });

  it('managedFields a patch or update sets replace the stored ones ([{}] clears them), so kubectl\'s move from client-side to server-side apply removes what the user dropped (QA-127 F1)', async () => {
    const path = `${G}/namespaces/t1/virtualnetworks/migr`;
    const ssa = { contentType: 'application/apply-patch+yaml' };
    const manifest = (labels: Record<string, string>) => ({ apiVersion: 'vnet.dev/v1alpha1', kind: 'VirtualNetwork', metadata: { name: 'migr', labels }, spec: { subnets: [{ cidr: '10.124.0.0/24' }] } });
    expect((await v.call('POST', `${G}/namespaces/t1/virtualnetworks?fieldManager=kubectl-client-side-apply`, manifest({ keep: '1', drop: '1' }))).status).toBe(201);
    const created = (await v.call('GET', path)).json;
    // What kubectl apply --server-side sends first, when the object was applied client-side:
    // the client-side manager's fields handed to its own apply manager.
    const handed = created.metadata.managedFields.map((e: { manager: string }) => (e.manager === 'kubectl-client-side-apply' ? { ...e, manager: 'kubectl', operation: 'Apply' } : e));
    const migrated = await v.call('PATCH', `${path}?fieldManager=kubectl`, [{ op: 'replace', path: '/metadata/managedFields', value: handed }], { contentType: 'application/json-patch+json' });
    expect(migrated.status).toBe(200);
    // Before: the stored entries stayed, the patch was a no-op.
    expect(migrated.json.metadata.managedFields.map((e: { manager: string; operation: string }) => `${e.manager}/${e.operation}`)).toEqual(['kubectl/Apply']);
    const applied = await v.call('PATCH', `${path}?fieldManager=kubectl`, manifest({ keep: '1' }), ssa);
    expect(applied.status).toBe(200);
    expect(applied.json.metadata.labels).toEqual({ keep: '1' });
    // [{}] clears them; a list that does not decode is ignored (the stored ones stay).
    const bad = await v.call('PATCH', path, { metadata: { managedFields: [{ manager: 7 }] } }, { contentType: 'application/merge-patch+json' });
    expect(bad.json.metadata.managedFields.map((e: { manager: string }) => e.manager)).toEqual(['kubectl']);
    const cleared = await v.call('PATCH', path, { metadata: { managedFields: [{}] } }, { contentType: 'application/merge-patch+json' });
    expect(cleared.status).toBe(200);
    expect(cleared.json.metadata.managedFields).toBeUndefined();
  });

  it('an automatically chosen VIP is never one of the load balancer\'s own backend addresses', async () => {
    await v.call('POST', `${G}/namespaces/t2/virtualnetworks`, net('vipnet', { subnets: [{ cidr: '10.63.0.0/24' }] }));
    const lb = await v.call('POST', `${G}/namespaces/t2/loadbalancers`, { apiVersion: 'vnet.dev/v1alpha1', kind: 'LoadBalancer', metadata: { name: 'self' }, spec: { network: 'vipnet', listeners: [{ port: 80 }], backends: [{ ip: '10.63.0.2' }, { ip: '10.63.0.3' }] } });
    expect(lb.status).toBe(201);
    expect(lb.json.spec.vip).toBe('10.63.0.4');
    // The addresses passed over are free again.
    const p = await v.call('POST', `${G}/namespaces/t2/virtualports`, { apiVersion: 'vnet.dev/v1alpha1', kind: 'VirtualPort', metadata: { name: 'b2' }, spec: { network: 'vipnet' } });
    expect(p.json.spec.ips).toEqual(['10.63.0.2']);
  });
});

describe('nodes', () => {
  it('says when fast-path settings are given without enabled, which leaves the fast path to the node\'s VNETD_FASTPATH (QA-124 F8)', async () => {
    const node = (name: string, fastPath: Record<string, unknown>) => ({ apiVersion: 'vnet.dev/v1alpha1', kind: 'Node', metadata: { name }, spec: { tunnelIP: name === 'fp-a' ? '192.0.2.40' : '192.0.2.41', fastPath } });
    const alone = await v.call('POST', `${G}/nodes`, node('fp-a', { netns: 'hv1' }));
    expect(alone.status).toBe(201);
    expect(String(alone.headers.warning)).toContain('spec.fastPath.enabled is not set: spec.fastPath.netns take effect only if Node \\"fp-a\\"\'s vnetd runs with VNETD_FASTPATH=1');
    // Said when the fast-path settings change, not on every write of the Node (a cordon said it too).
    const cordon = await v.call('PATCH', `${G}/nodes/fp-a`, { spec: { unschedulable: true } }, { contentType: 'application/merge-patch+json' });
    expect([cordon.status, cordon.headers.warning, cordon.json.spec.unschedulable]).toEqual([200, undefined, true]);
    const on = await v.call('PATCH', `${G}/nodes/fp-a`, { spec: { fastPath: { enabled: true } } }, { contentType: 'application/merge-patch+json' });
    expect([on.status, on.headers.warning]).toEqual([200, undefined]);
    expect((await v.call('POST', `${G}/nodes`, node('fp-b', { enabled: false, netns: 'hv2' }))).headers.warning).toBeUndefined();
  });

  it('refuses a second node with a tunnel address another node has, on create and on update', async () => {
    const node = (name: string, tunnelIP: string) => ({ apiVersion: 'vnet.dev/v1alpha1', kind: 'Node', metadata: { name }, spec: { tunnelIP } });
    expect((await v.call('POST', `${G}/nodes`, node('vtep-a', '192.0.2.10'))).status).toBe(201);
    const s = await rejected('POST', `${G}/nodes`, node('vtep-b', '192.0.2.10'), 422, 'Invalid');
    expect(s.details.causes).toEqual([expect.objectContaining({ field: 'spec.tunnelIP', message: 'Invalid value: "192.0.2.10": already the tunnel address of Node "vtep-a"' })]);
    expect((await v.call('POST', `${G}/nodes`, node('vtep-b', '192.0.2.11'))).status).toBe(201);
    await rejected('PATCH', `${G}/nodes/vtep-b`, { spec: { tunnelIP: '192.0.2.10' } }, 422, 'Invalid', { contentType: 'application/merge-patch+json' });
    // Its own address again (any other change) is fine.
    expect((await v.call('PATCH', `${G}/nodes/vtep-a`, { metadata: { labels: { rack: '1' } }, spec: { tunnelIP: '192.0.2.10' } }, { contentType: 'application/merge-patch+json' })).status).toBe(200);
    // No address a tunnel can be sent to, nor vtep-a's address spelled as IPv6.
    for (const [ip, why] of [
      ['0.0.0.0', 'unspecified'],
      ['239.1.1.1', 'multicast'],
      ['255.255.255.255', 'broadcast'],
      ['ff02::1', 'multicast'],
      ['::', 'unspecified'],
      ['::ffff:192.0.2.10', 'give the IPv4 address itself (192.0.2.10)'],
      // Accepted before, and the node got no flows at all (QA-156 F1); on update too, below.
      ['fd00:56::1', 'an IPv6 underlay is not supported yet'],
    ]) {
      const bad = await rejected('POST', `${G}/nodes`, node('vtep-c', ip!), 422, 'Invalid');
      expect(bad.details.causes).toEqual([expect.objectContaining({ field: 'spec.tunnelIP', message: expect.stringContaining(why!) })]);
    }
    const toV6 = await rejected('PATCH', `${G}/nodes/vtep-a`, { spec: { tunnelIP: 'fd00:56::2' } }, 422, 'Invalid', { contentType: 'application/merge-patch+json' });
    expect(toV6.details.causes).toEqual([expect.objectContaining({ field: 'spec.tunnelIP', message: expect.stringContaining('an IPv6 underlay is not supported yet') })]);
    expect((await v.call('GET', `${G}/nodes/vtep-a`)).json.spec.tunnelIP).toBe('192.0.2.10');
  });
});

describe('concurrency', () => {
  it('200 concurrent port creations get 200 distinct addresses and MACs', async () => {
    await v.call('POST', `${G}/namespaces/t2/virtualnetworks`, net('busy', { subnets: [{ cidr: '10.50.0.0/24' }] }));
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        v.call('POST', `${G}/namespaces/t2/virtualports`, { apiVersion: 'vnet.dev/v1alpha1', kind: 'VirtualPort', metadata: { name: `p${i}` }, spec: { network: 'busy' } }),
      ),
    );
    expect(results.map((r) => r.status).filter((s) => s !== 201)).toEqual([]);
    const ips = new Set(results.map((r) => r.json.spec.ips[0]));
    const macs = new Set(results.map((r) => r.json.spec.mac));
    expect(ips.size).toBe(200);
    expect(macs.size).toBe(200);
    const status = await eventually(async () => {
      const g = await v.call('GET', `${G}/namespaces/t2/virtualnetworks/busy`);
      return g.json.status?.subnets?.[0]?.allocated === 200 ? g.json.status : undefined;
    }, 10000);
    expect(status.subnets[0].free).toBe('53');
  });
});

describe('namespaces', () => {
  it('refuses to delete the default namespace, as kube-apiserver does', async () => {
    const d = await v.call('DELETE', '/api/v1/namespaces/default');
    expect(d.json).toMatchObject({ kind: 'Status', code: 403, reason: 'Forbidden', message: 'namespaces "default" is forbidden: this namespace may not be deleted' });
    const ns = await v.call('GET', '/api/v1/namespaces/default');
    expect(ns.json).toMatchObject({ status: { phase: 'Active' } });
    expect((ns.json as { metadata: { deletionTimestamp?: string } }).metadata.deletionTimestamp).toBeUndefined();
  });

  it('every namespace carries kube-apiserver\'s kubernetes.io/metadata.name label, whatever a create, update or patch sends, and a selector finds it by it', async () => {
    const made = await v.call('POST', '/api/v1/namespaces', { metadata: { name: 'lbl', labels: { team: 'a', 'kubernetes.io/metadata.name': 'other' } } });
    expect(made.status).toBe(201);
    expect(made.json.metadata.labels).toEqual({ team: 'a', 'kubernetes.io/metadata.name': 'lbl' });
    const cur = (await v.call('GET', '/api/v1/namespaces/lbl')).json;
    const put = await v.call('PUT', '/api/v1/namespaces/lbl', { ...cur, metadata: { ...cur.metadata, labels: { team: 'b' } } });
    expect(put.json.metadata.labels).toEqual({ team: 'b', 'kubernetes.io/metadata.name': 'lbl' });
    const patched = await v.call('PATCH', '/api/v1/namespaces/lbl', { metadata: { labels: { 'kubernetes.io/metadata.name': null } } }, { contentType: 'application/merge-patch+json' });
    expect(patched.json.metadata.labels).toEqual({ team: 'b', 'kubernetes.io/metadata.name': 'lbl' });
    const picked = await v.call('GET', '/api/v1/namespaces?labelSelector=kubernetes.io%2Fmetadata.name%3Dlbl');
    expect(picked.json.items.map((n: { metadata: { name: string } }) => n.metadata.name)).toEqual(['lbl']);
    expect((await v.call('GET', '/api/v1/namespaces/default')).json.metadata.labels).toEqual({ 'kubernetes.io/metadata.name': 'default' });
  });

  it('deleting a namespace deletes its objects and releases their addresses', async () => {
    await v.call('POST', '/api/v1/namespaces', { metadata: { name: 'gone' } });
    await v.call('POST', `${G}/namespaces/gone/virtualnetworks`, net('n', { subnets: [{ cidr: '10.60.0.0/24' }], vni: 6060 }));
    await v.call('POST', `${G}/namespaces/gone/virtualports`, { apiVersion: 'vnet.dev/v1alpha1', kind: 'VirtualPort', metadata: { name: 'p' }, spec: { network: 'n' } });
    const d = await v.call('DELETE', '/api/v1/namespaces/gone');
    expect(d.status).toBe(200);
    // Already Terminating in the answer to the DELETE, as kube-apiserver's (QA: Active, then Terminating on the next GET).
    expect(d.json).toMatchObject({ status: { phase: 'Terminating' }, metadata: { deletionTimestamp: expect.any(String) } });
    // While the namespace terminates (its reconciler deleting objects meanwhile, so the store
    // revision moves anyway): new objects are refused and none is written.
    const refused = await v.call('POST', `${G}/namespaces/gone/virtualports`, { apiVersion: 'vnet.dev/v1alpha1', kind: 'VirtualPort', metadata: { name: 'q' }, spec: { network: 'n' } });
    expect(refused.json).toMatchObject({ kind: 'Status', status: 'Failure', code: 403, reason: 'Forbidden' });
    expect((await v.objects.kv.list('/ipam/ips/gone/')).items.some((kv) => JSON.stringify(kv).includes('"q"'))).toBe(false);
    await eventually(async () => (await v.call('GET', '/api/v1/namespaces/gone')).status === 404, 10000);
    expect((await v.objects.kv.list('/ipam/ips/gone/')).items).toHaveLength(0);
    // The VNI is free again.
    expect((await v.call('POST', `${G}/namespaces/t2/virtualnetworks`, net('reuse', { subnets: [{ cidr: '10.61.0.0/24' }], vni: 6060 }))).status).toBe(201);
  });

  it('a namespace held by a finalizer says what remains and which finalizers hold it, as kube-apiserver\'s conditions do (QA-127 F10)', async () => {
    await v.call('POST', '/api/v1/namespaces', { metadata: { name: 'held' } });
    await v.call('POST', `${G}/namespaces/held/virtualnetworks`, net('n', { subnets: [{ cidr: '10.64.0.0/24' }] }));
    const p = await v.call('POST', `${G}/namespaces/held/virtualports`, { apiVersion: 'vnet.dev/v1alpha1', kind: 'VirtualPort', metadata: { name: 'p', finalizers: ['example.com/hold'] }, spec: { network: 'n' } });
    expect(p.status).toBe(201);
    expect((await v.call('DELETE', '/api/v1/namespaces/held')).status).toBe(200);
    // Before: status.phase Terminating, nothing more.
    // The port waits on its finalizer, the network on its port (both keep vnetd's IPAM finalizer
    // until then; vnet.dev/dataplane goes at once, as neither is on a node, but a moment later
    // on a loaded machine: CI).
    const held = 'Some content in the namespace has finalizers remaining: example.com/hold in 1 resource instances, vnet.dev/ipam in 2 resource instances';
    const conditions = await eventually(async () => {
      const c = (await v.call('GET', '/api/v1/namespaces/held')).json.status?.conditions as Array<{ type: string; status: string; reason: string; message: string }> | undefined;
      return c?.find((x) => x.type === 'NamespaceFinalizersRemaining' && x.message === held) ? c : undefined;
    }, 10_000, 50);
    expect(conditions.find((c) => c.type === 'NamespaceContentRemaining')).toMatchObject({
      status: 'True',
      reason: 'SomeResourcesRemain',
      message: 'Some resources are remaining: virtualnetworks.vnet.dev has 1 resource instances, virtualports.vnet.dev has 1 resource instances',
    });
    expect(conditions.find((c) => c.type === 'NamespaceFinalizersRemaining')).toMatchObject({
      status: 'True',
      reason: 'SomeFinalizersRemain',
      message: held,
    });
    expect((await v.call('PATCH', `${G}/namespaces/held/virtualports/p`, { metadata: { finalizers: null } }, { contentType: 'application/merge-patch+json' })).status).toBe(200);
    await eventually(async () => (await v.call('GET', '/api/v1/namespaces/held')).status === 404, 10_000);
  });

  it('a namespace deleted with kubectl --cascade=orphan or foreground goes too (it stayed Terminating)', async () => {
    for (const propagationPolicy of ['Orphan', 'Foreground']) {
      const name = `cascade-${propagationPolicy.toLowerCase()}`;
      await v.call('POST', '/api/v1/namespaces', { metadata: { name } });
      await v.call('POST', `${G}/namespaces/${name}/virtualnetworks`, net('n', { subnets: [{ cidr: '10.62.0.0/24' }] }));
      expect((await v.call('DELETE', `/api/v1/namespaces/${name}`, { kind: 'DeleteOptions', apiVersion: 'v1', propagationPolicy })).status).toBe(200);
      await eventually(async () => (await v.call('GET', `/api/v1/namespaces/${name}`)).status === 404, 10000);
    }
  });
});

describe('garbage collection (metadata.ownerReferences)', () => {
  const ref = (kind: string, name: string, uid: string, apiVersion = 'vnet.dev/v1alpha1') => ({ apiVersion, kind, name, uid });
  const port = (name: string, network: string, ownerReferences: unknown[]) => ({ apiVersion: 'vnet.dev/v1alpha1', kind: 'VirtualPort', metadata: { name, ownerReferences }, spec: { network } });
  const gone = (path: string) => eventually(async () => (await v.call('GET', path)).status === 404, 10_000);
  const lbOf = (name: string, network: string) => ({ apiVersion: 'vnet.dev/v1alpha1', kind: 'LoadBalancer', metadata: { name }, spec: { network, listeners: [{ port: 80 }] } });

  beforeAll(async () => {
    await v.call('POST', `${G}/namespaces/t2/virtualnetworks`, net('gcnet', { subnets: [{ cidr: '10.120.0.0/24' }] }));
  });

  it('deletes a dependent once its owner is gone (Background, the default), and keeps one whose owner is not vnetd\'s', async () => {
    const lb = (await v.call('POST', `${G}/namespaces/t2/loadbalancers`, lbOf('owner-bg', 'gcnet'))).json;
    expect((await v.call('POST', `${G}/namespaces/t2/virtualports`, port('dep-bg', 'gcnet', [ref('LoadBalancer', 'owner-bg', lb.metadata.uid)]))).status).toBe(201);
    // A KubeVirt VM's uid: vnetd cannot see that API, so it never collects this port.
    expect((await v.call('POST', `${G}/namespaces/t2/virtualports`, port('vm-owned', 'gcnet', [ref('VirtualMachine', 'vm1', '5c1b6d6e-0000-4000-8000-000000000001', 'kubevirt.io/v1')]))).status).toBe(201);
    // A cluster-scoped Node cannot have a namespaced owner: unresolvable, as in Kubernetes.
    expect((await v.call('POST', `${G}/nodes`, { metadata: { name: 'gc-node', ownerReferences: [ref('LoadBalancer', 'owner-bg', lb.metadata.uid)] }, spec: { tunnelIP: '192.0.2.77' } })).status).toBe(201);
    expect((await v.call('DELETE', `${G}/namespaces/t2/loadbalancers/owner-bg`)).status).toBe(200);
    await gone(`${G}/namespaces/t2/virtualports/dep-bg`);
    expect((await v.call('GET', `${G}/namespaces/t2/virtualports/vm-owned`)).status).toBe(200);
    expect((await v.call('GET', `${G}/nodes/gc-node`)).status).toBe(200);
    await v.call('DELETE', `${G}/nodes/gc-node`);
  });

  it('deletes an object whose vnetd owner does not exist', async () => {
    expect((await v.call('POST', `${G}/namespaces/t2/virtualports`, port('dangling', 'gcnet', [ref('VirtualNetwork', 'gcnet', '5c1b6d6e-0000-4000-8000-000000000002')]))).status).toBe(201);
    await gone(`${G}/namespaces/t2/virtualports/dangling`);
  });

  it('Foreground: the owner stays until its dependents are gone; Orphan: the dependents stay and drop the reference', async () => {
    await v.call('POST', `${G}/namespaces/t2/virtualnetworks`, net('fgnet', { subnets: [{ cidr: '10.121.0.0/24' }] }));
    const owner = (await v.call('GET', `${G}/namespaces/t2/virtualnetworks/fgnet`)).json;
    for (const name of ['fg1', 'fg2']) expect((await v.call('POST', `${G}/namespaces/t2/virtualports`, port(name, 'fgnet', [ref('VirtualNetwork', 'fgnet', owner.metadata.uid)]))).status).toBe(201);
    const d = await v.call('DELETE', `${G}/namespaces/t2/virtualnetworks/fgnet`, { kind: 'DeleteOptions', apiVersion: 'v1', propagationPolicy: 'Foreground' });
    expect(d.json.metadata.finalizers).toContain('foregroundDeletion');
    await gone(`${G}/namespaces/t2/virtualnetworks/fgnet`);
    for (const name of ['fg1', 'fg2']) expect((await v.call('GET', `${G}/namespaces/t2/virtualports/${name}`)).status).toBe(404);

    const lb = (await v.call('POST', `${G}/namespaces/t2/loadbalancers`, lbOf('owner-or', 'gcnet'))).json;
    expect((await v.call('POST', `${G}/namespaces/t2/virtualports`, port('dep-or', 'gcnet', [ref('LoadBalancer', 'owner-or', lb.metadata.uid)]))).status).toBe(201);
    expect((await v.call('DELETE', `${G}/namespaces/t2/loadbalancers/owner-or?propagationPolicy=Orphan`)).status).toBe(200);
    await gone(`${G}/namespaces/t2/loadbalancers/owner-or`);
    const kept = (await v.call('GET', `${G}/namespaces/t2/virtualports/dep-or`)).json;
    expect(kept.metadata.ownerReferences).toBeUndefined();
  });

  it('deletes an agent\'s NodeLease with its Node (the lease an agent creates, owned by the Node); kubectl-style columns show its holder', async () => {
    const node = (await v.call('POST', `${G}/nodes`, { metadata: { name: 'leased' }, spec: { tunnelIP: '192.0.2.78' } })).json;
    const lease = { apiVersion: 'vnet.dev/v1alpha1', kind: 'NodeLease', metadata: { name: 'leased', ownerReferences: [ref('Node', 'leased', node.metadata.uid)] }, spec: { holderIdentity: 'host/1', leaseDurationSeconds: 60, renewTime: '2026-11-30T00:00:00.000Z' } };
    expect((await v.call('POST', `${G}/nodeleases`, lease)).status).toBe(201);
    // Lease's fields only, as coordination.k8s.io/v1 has them.
    await rejected('PUT', `${G}/nodeleases/leased`, { ...lease, spec: { ...lease.spec, holder: 'x' } }, 422, 'Invalid');
    const table = (await v.call('GET', `${G}/nodeleases/leased`, undefined, { accept: 'application/json;as=Table;v=v1;g=meta.k8s.io' })).json;
    expect(table.columnDefinitions.map((c: { name: string }) => c.name)).toEqual(['Name', 'Holder', 'Renewed', 'Age']);
    expect(table.rows[0].cells.slice(0, 2)).toEqual(['leased', 'host/1']);
    // A NodeRealization made by hand (to repair one) is admitted too: it was a 500.
    expect((await v.call('POST', `${G}/noderealizations`, { apiVersion: 'vnet.dev/v1alpha1', kind: 'NodeRealization', metadata: { name: 'leased' }, spec: {} })).status).toBe(201);
    expect((await v.call('DELETE', `${G}/noderealizations/leased`)).status).toBe(200);
    expect((await v.call('DELETE', `${G}/nodes/leased`)).status).toBe(200);
    await gone(`${G}/nodeleases/leased`);
  });

  it('Foreground: a dependent in another namespace does not hold the owner (its reference does not resolve there), nor its namespace (QA-127 F2)', async () => {
    await v.call('POST', `${G}/namespaces/t2/virtualnetworks`, net('xnsowner', { subnets: [{ cidr: '10.122.0.0/24' }] }));
    const owner = (await v.call('GET', `${G}/namespaces/t2/virtualnetworks/xnsowner`)).json;
    // Another namespace's object naming it as owner, with a finalizer of its own that nobody removes.
    await v.call('POST', `${G}/namespaces/t1/virtualnetworks`, net('xnsnet', { subnets: [{ cidr: '10.123.0.0/24' }] }));
    const blocker = port('xnsblock', 'xnsnet', [{ ...ref('VirtualNetwork', 'xnsowner', owner.metadata.uid), blockOwnerDeletion: true }]);
    expect((await v.call('POST', `${G}/namespaces/t1/virtualports`, { ...blocker, metadata: { ...blocker.metadata, finalizers: ['example.com/hold'] } })).status).toBe(201);
    const d = await v.call('DELETE', `${G}/namespaces/t2/virtualnetworks/xnsowner`, { kind: 'DeleteOptions', apiVersion: 'v1', propagationPolicy: 'Foreground' });
    expect(d.json.metadata.finalizers).toContain('foregroundDeletion');
    // Before: it stayed with foregroundDeletion until the other namespace's finalizer went.
    await gone(`${G}/namespaces/t2/virtualnetworks/xnsowner`);
    // The dependent's own fate is Kubernetes': its owner is absent in its namespace, so it is collected (and waits on its finalizer).
    const dep = (await v.call('GET', `${G}/namespaces/t1/virtualports/xnsblock`)).json;
    expect(dep.metadata.deletionTimestamp).toBeDefined();
    expect((await v.call('PATCH', `${G}/namespaces/t1/virtualports/xnsblock`, { metadata: { finalizers: null } }, { contentType: 'application/merge-patch+json' })).status).toBe(200);
    await gone(`${G}/namespaces/t1/virtualports/xnsblock`);
  });

  it('refuses an unknown propagationPolicy and deletes nothing', async () => {
    await v.call('POST', `${G}/namespaces/t2/loadbalancers`, lbOf('kept-lb', 'gcnet'));
    const s = await rejected('DELETE', `${G}/namespaces/t2/loadbalancers/kept-lb`, { propagationPolicy: 'Sideways' }, 422, 'Invalid');
    expect(s.details.causes[0]).toMatchObject({ field: 'propagationPolicy', message: expect.stringContaining('"Sideways"') });
  });
});

describe('requests Kubernetes refuses (found by a black-box review)', () => {
  it('a DELETE whose dryRun or preconditions do not decode is a 400 and deletes nothing; dryRun=All still works', async () => {
    await v.call('POST', `${G}/namespaces/t1/virtualnetworks`, net('deldry', { subnets: [{ cidr: '10.71.0.0/24' }] }));
    const path = `${G}/namespaces/t1/virtualnetworks/deldry`;
    // As kube-apiserver's ValidateDeleteOptions: an unsupported dryRun is Invalid (422), a body that does not decode a 400.
    expect((await rejected('DELETE', `${path}?dryRun=true`, undefined, 422, 'Invalid')).details.causes[0]).toMatchObject({ field: 'dryRun', message: 'Unsupported value: "true": supported values: "All"' });
    await rejected('DELETE', path, { dryRun: ['all'] }, 422, 'Invalid');
    await rejected('DELETE', path, { dryRun: 'All' }, 400, 'BadRequest');
    await rejected('DELETE', path, { preconditions: 'rv=1' }, 400, 'BadRequest');
    await rejected('DELETE', path, { preconditions: { resourceVersion: 1 } }, 400, 'BadRequest');
    await rejected('DELETE', path, [1], 400, 'BadRequest');
    await rejected('DELETE', path, { propagationPolicy: 'Orphan', orphanDependents: true }, 422, 'Invalid');
    // A body's options are the options: the query's are not merged in (kube-apiserver reads one or the other).
    expect((await v.call('DELETE', `${path}?orphanDependents=false`, { propagationPolicy: 'Background', dryRun: ['All'] })).status).toBe(200);
    // What clients that write every field send: nulls are absent, a negative grace period is taken (vnetd has none).
    await v.call('POST', `${G}/namespaces/t1/virtualnetworks`, net('delnull', { subnets: [{ cidr: '10.77.0.0/24' }] }));
    expect((await v.call('DELETE', `${G}/namespaces/t1/virtualnetworks/delnull`, { kind: null, apiVersion: null, dryRun: null, preconditions: null, gracePeriodSeconds: -1, orphanDependents: null })).status).toBe(200);
    expect((await v.call('DELETE', path, { dryRun: ['All'] })).status).toBe(200);
    expect((await v.call('GET', path)).json.metadata.deletionTimestamp).toBeUndefined();
    expect((await v.call('DELETE', path, { kind: 'DeleteOptions', apiVersion: 'v1', propagationPolicy: 'Background' })).status).toBe(200);
  });

  it('PUT with resourceVersion "0" is not an update without precondition; a JSON patch setting a stale resourceVersion is a 409', async () => {
    await v.call('POST', `${G}/namespaces/t1/virtualnetworks`, net('rvzero', { subnets: [{ cidr: '10.72.0.0/24' }] }));
    const path = `${G}/namespaces/t1/virtualnetworks/rvzero`;
    const cur = (await v.call('GET', path)).json;
    const s = await rejected('PUT', path, { ...cur, metadata: { ...cur.metadata, resourceVersion: '0' }, spec: { ...cur.spec, mtu: 1300 } }, 422, 'Invalid');
    expect(s.details.causes[0]).toMatchObject({ field: 'metadata.resourceVersion' });
    const json = { contentType: 'application/json-patch+json' };
    await rejected('PATCH', path, [{ op: 'replace', path: '/metadata/resourceVersion', value: '1' }, { op: 'replace', path: '/spec/mtu', value: 1300 }], 409, 'Conflict', json);
    // The current one is a precondition that holds (the reconcilers may write status meanwhile: read it again then).
    const ok = await eventually(async () => {
      const rv = (await v.call('GET', path)).json.metadata.resourceVersion;
      const res = await v.call('PATCH', path, [{ op: 'replace', path: '/metadata/resourceVersion', value: rv }, { op: 'replace', path: '/spec/mtu', value: 1300 }], json);
      return res.status === 409 ? undefined : res;
    });
    expect([ok.status, ok.json.spec.mtu]).toEqual([200, 1300]);
  });

  it('namespaces are validated like every kind, take strategic merge patches (kubectl apply, patch, edit) and are core/v1 only', async () => {
    await rejected('POST', '/api/v1/namespaces', { metadata: { name: 123 } }, 422, 'Invalid');
    await rejected('POST', '/api/v1/namespaces', { metadata: { name: { a: 1 } } }, 422, 'Invalid');
    await rejected('POST', '/api/v1/namespaces', { metadata: { name: 'nsx', labels: 'str' } }, 422, 'Invalid');
    await rejected('POST', '/api/v1/namespaces?fieldValidation=Strict', { metadata: { name: 'nsx' }, bogus: 1 }, 422, 'Invalid');
    await rejected('POST', '/api/v1/namespaces', { metadata: { name: 'nsx', finalizers: ['bad name!'] } }, 422, 'Invalid');
    await rejected('POST', `${G}/namespaces/t1/virtualnetworks`, { ...net('badann', { subnets: [{ cidr: '10.73.0.0/24' }] }), metadata: { name: 'badann', annotations: { 'bad key!': 'x' } } }, 422, 'Invalid');
    // What kubectl create sends.
    expect((await v.call('POST', '/api/v1/namespaces?fieldValidation=Strict', { kind: 'Namespace', apiVersion: 'v1', metadata: { name: 'smp', creationTimestamp: null, annotations: { Upper: 'ok' } }, spec: {}, status: {} })).status).toBe(201);
    const smp = { contentType: 'application/strategic-merge-patch+json' };
    const patched = await v.call('PATCH', '/api/v1/namespaces/smp', { metadata: { labels: { team: 'a' }, finalizers: ['example.com/hold'] } }, smp);
    expect(patched.status).toBe(200);
    // Finalizers merge as a set (vnetd's own, vnet.dev/namespace, stays).
    expect(patched.json.metadata).toMatchObject({ labels: { team: 'a' }, finalizers: ['vnet.dev/namespace', 'example.com/hold'] });
    const again = await v.call('PATCH', '/api/v1/namespaces/smp', { metadata: { labels: { team: null, tier: 'b' }, finalizers: ['example.com/two'], '$setElementOrder/finalizers': ['example.com/hold', 'example.com/two'] } }, smp);
    expect(again.json.metadata.labels).toEqual({ tier: 'b', 'kubernetes.io/metadata.name': 'smp' });
    expect(again.json.metadata.finalizers).toEqual(['vnet.dev/namespace', 'example.com/hold', 'example.com/two']);
    const dropped = await v.call('PATCH', '/api/v1/namespaces/smp', { metadata: { '$deleteFromPrimitiveList/finalizers': ['example.com/hold', 'example.com/two'] } }, smp);
    expect(dropped.json.metadata.finalizers).toEqual(['vnet.dev/namespace']);
    await rejected('PATCH', '/api/v1/namespaces/smp', { metadata: { $retainKeys: ['labels'] } }, 400, 'BadRequest', smp);
    // vnet.dev kinds are custom resources: no strategic merge, as for CRDs.
    await rejected('PATCH', `${G}/namespaces/t1/virtualnetworks/rvzero`, { spec: { mtu: 1200 } }, 415, 'UnsupportedMediaType', smp);
    for (const path of [`${G}/namespaces`, `${G}/namespaces/smp`]) expect((await v.call('GET', path)).status).toBe(404);
    // The status subresource discovery lists for namespaces is served.
    expect((await v.call('GET', '/api/v1/namespaces/smp/status')).json.status).toEqual({ phase: 'Active' });
    expect((await v.call('PATCH', '/api/v1/namespaces/smp/status', { status: { conditions: [] } }, { contentType: 'application/merge-patch+json' })).status).toBe(200);
    // Nulls where none is meant, and an unconditional update (no resourceVersion, or "0"), as kube-apiserver takes them for namespaces.
    expect((await v.call('POST', '/api/v1/namespaces', { metadata: { name: 'nulls', labels: null, annotations: null }, spec: null, status: null })).status).toBe(201);
    const ns = (await v.call('GET', '/api/v1/namespaces/nulls')).json;
    expect((await v.call('PUT', '/api/v1/namespaces/nulls', { ...ns, metadata: { ...ns.metadata, resourceVersion: '0', labels: { a: 'b' } } })).status).toBe(200);
    // An annotation key stored before keys were checked does not block the update that removes a finalizer.
    const old = (await v.call('GET', '/api/v1/namespaces/nulls')).json;
    await v.objects.kv.txn([{ type: 'update', key: '/registry/core/namespaces/nulls', value: { ...old, metadata: { ...old.metadata, resourceVersion: undefined, annotations: { 'my note': 'x' }, finalizers: [...old.metadata.finalizers, 'example.com/hold'] } } }]);
    const stored = (await v.call('GET', '/api/v1/namespaces/nulls')).json;
    expect(stored.metadata.annotations).toEqual({ 'my note': 'x' });
    const removed = await v.call('PATCH', '/api/v1/namespaces/nulls', { metadata: { '$deleteFromPrimitiveList/finalizers': ['example.com/hold'] } }, smp);
    expect([removed.status, removed.json.metadata.finalizers]).toEqual([200, ['vnet.dev/namespace']]);
    await rejected('PATCH', '/api/v1/namespaces/nulls', { metadata: { annotations: { 'another bad': 'y' } } }, 422, 'Invalid', { contentType: 'application/merge-patch+json' });
    expect((await v.call('DELETE', '/api/v1/namespaces/nulls')).status).toBe(200);
    expect((await v.call('DELETE', '/api/v1/namespaces/smp')).status).toBe(200);
  });

  it('refuses an empty in () selector, a continue token of another list, and IPv4-mapped or link-local subnets', async () => {
    expect((await rejected('GET', `${G}/namespaces/t1/virtualnetworks?labelSelector=${encodeURIComponent('team in ()')}`, undefined, 400, 'BadRequest')).message).toContain("values set can't be empty");
    for (const n of ['ct-a', 'ct-b']) await v.call('POST', `${G}/namespaces/t2/virtualnetworks`, net(n, { subnets: [{ cidr: `10.7${n === 'ct-a' ? 5 : 6}.0.0/24` }] }));
    const page = (await v.call('GET', `${G}/namespaces/t2/virtualnetworks?limit=1`)).json;
    expect(page.metadata.continue).toEqual(expect.any(String));
    const token = encodeURIComponent(page.metadata.continue);
    expect((await v.call('GET', `${G}/namespaces/t2/virtualnetworks?limit=1&continue=${token}`)).status).toBe(200);
    for (const other of [`${G}/namespaces/t1/virtualnetworks`, `${G}/namespaces/t2/virtualports`]) {
      expect((await rejected('GET', `${other}?limit=1&continue=${token}`, undefined, 400, 'BadRequest')).message).toContain('not for this list');
    }
    for (const cidr of ['::ffff:10.0.0.0/120', 'fe80::/64']) {
      const s = await rejected('POST', `${G}/namespaces/t1/virtualnetworks`, net('mapped', { subnets: [{ cidr }] }), 422, 'Invalid');
      expect(s.message).toMatch(/IPv4-mapped|link-local/);
    }
  });

  it('a subnet removed while ports are created in it: either the port or the removal is refused, never an address outside every subnet', async () => {
    const merge = { contentType: 'application/merge-patch+json' };
    let portsWon = 0;
    let removalsWon = 0;
    for (let round = 0; round < 12; round++) {
      const name = `race${round}`;
      // The first subnet is full (a /30 has two hosts): a new port's address can only come from the second.
      await v.call('POST', `${G}/namespaces/t1/virtualnetworks`, net(name, { subnets: [{ cidr: `10.80.${round}.0/30` }, { cidr: `10.81.${round}.0/24` }] }));
      for (const p of ['a', 'b']) await v.call('POST', `${G}/namespaces/t1/virtualports`, { apiVersion: 'vnet.dev/v1alpha1', kind: 'VirtualPort', metadata: { name: `${name}-${p}` }, spec: { network: name, ips: [`10.80.${round}.${p === 'a' ? 1 : 2}`] } });
      const [port, removal] = await Promise.all([
        v.call('POST', `${G}/namespaces/t1/virtualports`, { apiVersion: 'vnet.dev/v1alpha1', kind: 'VirtualPort', metadata: { name: `${name}-c` }, spec: { network: name } }),
        v.call('PATCH', `${G}/namespaces/t1/virtualnetworks/${name}`, { spec: { subnets: [{ cidr: `10.80.${round}.0/30` }] } }, merge),
      ]);
      const subnets = ((await v.call('GET', `${G}/namespaces/t1/virtualnetworks/${name}`)).json.spec.subnets as { cidr: string }[]).map((x) => x.cidr);
      if (port.status === 201) {
        portsWon++;
        // Its address is in a subnet the network still has.
        expect(subnets).toContain(`10.81.${round}.0/24`);
        expect(removal.status).toBe(422);
      } else {
        removalsWon++;
        // 422: no subnet left to take from; 409: it came while the removal was in progress (retry).
        expect([[422, 200], [409, 200]]).toContainEqual([port.status, removal.status]);
      }
    }
    process.stdout.write(`[api-resources] subnet removal racing a port create, 12 rounds: the port won ${portsWon}, the removal ${removalsWon}\n`);

    // While a change of a subnet is announced (an update between its announcement and its
    // commit), no address is claimed there; once it lapses, claims go on.
    await v.call('POST', `${G}/namespaces/t1/virtualnetworks`, net('announced', { subnets: [{ cidr: '10.82.0.0/24' }, { cidr: '10.83.0.0/24' }] }));
    const key = subnetChangeKey('t1', 'announced');
    await v.objects.kv.txn([{ type: 'create', key, value: { changing: ['10.83.0.0/24'], until: Date.now() + 60_000 } }]);
    const port = (n: string, ips?: string[]) => v.call('POST', `${G}/namespaces/t1/virtualports`, { apiVersion: 'vnet.dev/v1alpha1', kind: 'VirtualPort', metadata: { name: n }, spec: { network: 'announced', ...(ips ? { ips } : {}) } });
    // 409 Conflict, retryable, as kube-apiserver answers a write that lost a race: nothing is
    // wrong with the request (QA-96: 422 told clients not to retry, and vnetctl to fix the values).
    const busy = await rejected('POST', `${G}/namespaces/t1/virtualports`, { apiVersion: 'vnet.dev/v1alpha1', kind: 'VirtualPort', metadata: { name: 'in-changing' }, spec: { network: 'announced', ips: ['10.83.0.5'] } }, 409, 'Conflict');
    expect(busy.message).toContain('subnet 10.83.0.0/24 of VirtualNetwork "announced" is being changed or removed');
    expect(busy.details.causes).toEqual([expect.objectContaining({ field: 'spec.ips[0]', reason: 'SubnetChanging' })]);
    // With a fault of its own as well: 422, naming both.
    const both = await rejected('POST', `${G}/namespaces/t1/virtualports`, { apiVersion: 'vnet.dev/v1alpha1', kind: 'VirtualPort', metadata: { name: 'in-changing' }, spec: { network: 'announced', ips: ['10.83.0.5', '10.99.0.1'] } }, 422, 'Invalid');
    expect(both.details.causes.map((c: { reason: string }) => c.reason)).toEqual(['FieldValueInvalid', 'FieldValueInvalid']);
    expect((await port('beside')).json.spec.ips).toEqual(['10.82.0.2']);
    const lb = await v.call('POST', `${G}/namespaces/t1/loadbalancers`, { apiVersion: 'vnet.dev/v1alpha1', kind: 'LoadBalancer', metadata: { name: 'announced-lb' }, spec: { network: 'announced', vip: '10.83.0.9', listeners: [{ port: 80 }] } });
    expect(lb.status).toBe(409);
    const cur = await v.objects.kv.get(key);
    await v.objects.kv.txn([{ type: 'update', key, value: { changing: ['10.83.0.0/24'], until: Date.now() - 1 }, expectedModRevision: cur!.modRevision }]);
    expect((await port('after-lapse', ['10.83.0.5'])).status).toBe(201);

    // A dry run of a removal announces nothing (it writes nothing at all); a removal that
    // commits ends its announcement with it.
    await v.call('POST', `${G}/namespaces/t1/virtualnetworks`, net('dryrm', { subnets: [{ cidr: '10.84.0.0/24' }, { cidr: '10.85.0.0/24' }] }));
    const before = await settledRevision();
    const dry = await v.call('PATCH', `${G}/namespaces/t1/virtualnetworks/dryrm?dryRun=All`, { spec: { subnets: [{ cidr: '10.84.0.0/24' }] } }, { contentType: 'application/merge-patch+json' });
    expect(dry.status).toBe(200);
    expect(await revision()).toBe(before);
    expect(await v.objects.kv.get(subnetChangeKey('t1', 'dryrm'))).toBeUndefined();
    expect((await v.call('PATCH', `${G}/namespaces/t1/virtualnetworks/dryrm`, { spec: { subnets: [{ cidr: '10.84.0.0/24' }] } }, { contentType: 'application/merge-patch+json' })).status).toBe(200);
    expect((await v.objects.kv.get(subnetChangeKey('t1', 'dryrm')))?.value).toEqual({ changing: [], until: 0 });
    // An apply refused for a field conflict after admission announced the change withdraws it (it held the subnet 60 s).
    const ssa = (manager: string, cidrs: string[]) =>
      v.call('PATCH', `${G}/namespaces/t1/virtualnetworks/ssarm?fieldManager=${manager}`, { apiVersion: 'vnet.dev/v1alpha1', kind: 'VirtualNetwork', metadata: { name: 'ssarm' }, spec: { subnets: cidrs.map((cidr) => ({ cidr })) } }, { contentType: 'application/apply-patch+yaml' });
    expect((await ssa('alice', ['10.86.0.0/24', '10.87.0.0/24'])).status).toBe(201);
    expect((await ssa('bob', ['10.86.0.0/24'])).status).toBe(409);
    expect((await v.objects.kv.get<{ changing: string[] }>(subnetChangeKey('t1', 'ssarm')))?.value.changing ?? []).toEqual([]);
    expect((await v.call('POST', `${G}/namespaces/t1/virtualports`, { apiVersion: 'vnet.dev/v1alpha1', kind: 'VirtualPort', metadata: { name: 'after-ssa' }, spec: { network: 'ssarm', ips: ['10.87.0.5'] } })).status).toBe(201);

    // ...and goes with the network.
    expect((await v.call('DELETE', `${G}/namespaces/t1/virtualnetworks/dryrm`)).status).toBe(200);
    await eventually(async () => ((await v.objects.kv.get(subnetChangeKey('t1', 'dryrm'))) === undefined ? true : undefined));
  });

  it('a VIP, picked or asked for, is never another load balancer\'s backend address; an update is not refused for a backend it left as it was', async () => {
    await v.call('POST', `${G}/namespaces/t2/virtualnetworks`, net('vipnet2', { subnets: [{ cidr: '10.74.0.0/24' }] }));
    const lb = (name: string, spec: Record<string, unknown>) => ({ apiVersion: 'vnet.dev/v1alpha1', kind: 'LoadBalancer', metadata: { name }, spec: { network: 'vipnet2', listeners: [{ port: 80 }], ...spec } });
    expect((await v.call('POST', `${G}/namespaces/t2/loadbalancers`, lb('lb1', { vip: '10.74.0.9', backends: [{ ip: '10.74.0.2' }] }))).status).toBe(201);
    const picked = await v.call('POST', `${G}/namespaces/t2/loadbalancers`, lb('lb2', {}));
    expect([picked.status, picked.json.spec.vip]).toEqual([201, '10.74.0.3']);
    const s = await rejected('POST', `${G}/namespaces/t2/loadbalancers`, lb('lb3', { vip: '10.74.0.2' }), 422, 'Invalid');
    expect(s.message).toContain('a backend address of LoadBalancer "lb1"');
    // Stored before this check (or raced): lb1's unchanged backend no longer fails its updates.
    const path = `${G}/namespaces/t2/loadbalancers/lb1`;
    await v.call('DELETE', `${G}/namespaces/t2/loadbalancers/lb2`);
    await v.objects.create(LOAD_BALANCERS, { apiVersion: 'vnet.dev/v1alpha1', kind: 'LoadBalancer', metadata: { name: 'raced', namespace: 't2' }, spec: { network: 'vipnet2', vip: '10.74.0.2', listeners: [{ port: 80 }] } } as never, [AllocationRegistry.claim(ipKey('t2', 'vipnet2', '10.74.0.2'), { kind: 'LoadBalancer', namespace: 't2', name: 'raced', uid: 'raced-uid' })]);
    const merge = { contentType: 'application/merge-patch+json' };
    expect((await v.call('PATCH', path, { metadata: { labels: { touched: 'yes' } } }, merge)).status).toBe(200);
    // A backend added now is checked.
    await rejected('PATCH', path, { spec: { backends: [{ ip: '10.74.0.2' }, { ip: '10.74.0.9' }] } }, 422, 'Invalid', merge);
  });

  it('a subnet change that strands a load balancer\'s address backend is refused; a backend whose port moved to another network does not block the load balancer\'s updates', async () => {
    const merge = { contentType: 'application/merge-patch+json' };
    await v.call('POST', `${G}/namespaces/t2/virtualnetworks`, net('shrink', { subnets: [{ cidr: '10.75.0.0/28' }] }));
    const lb = (name: string, network: string, backends: unknown[]) => ({ apiVersion: 'vnet.dev/v1alpha1', kind: 'LoadBalancer', metadata: { name }, spec: { network, listeners: [{ port: 80 }], backends } });
    expect((await v.call('POST', `${G}/namespaces/t2/loadbalancers`, lb('shl', 'shrink', [{ ip: '10.75.0.12' }]))).status).toBe(201);
    // Accepted before: every later update of shl was then refused, "not a host address".
    const s = await rejected('PATCH', `${G}/namespaces/t2/virtualnetworks/shrink`, { spec: { subnets: [{ cidr: '10.75.0.0/29' }] } }, 422, 'Invalid', merge);
    expect(s.message).toContain('10.75.0.12 is a backend of LoadBalancer "shl" and would be outside every subnet');
    // A backend port deleted and its name created again in another network.
    await v.call('POST', `${G}/namespaces/t2/virtualnetworks`, net('other6', { subnets: [{ cidr: '10.76.0.0/24' }] }));
    expect((await v.call('POST', `${G}/namespaces/t2/virtualports`, { apiVersion: 'vnet.dev/v1alpha1', kind: 'VirtualPort', metadata: { name: 'mover' }, spec: { network: 'shrink' } })).status).toBe(201);
    expect((await v.call('POST', `${G}/namespaces/t2/loadbalancers`, lb('byport', 'shrink', [{ port: 'mover' }, { ip: '10.75.0.12' }]))).status).toBe(201);
    await v.call('DELETE', `${G}/namespaces/t2/virtualports/mover`);
    await eventually(async () => (await v.call('GET', `${G}/namespaces/t2/virtualports/mover`)).status === 404, 10_000, 50);
    expect((await v.call('POST', `${G}/namespaces/t2/virtualports`, { apiVersion: 'vnet.dev/v1alpha1', kind: 'VirtualPort', metadata: { name: 'mover' }, spec: { network: 'other6' } })).status).toBe(201);
    const path = `${G}/namespaces/t2/loadbalancers/byport`;
    // A drain and a label: accepted, with a warning about the port that moved.
    const drained = await v.call('PATCH', path, { metadata: { labels: { drained: 'yes' } }, spec: { backends: [{ port: 'mover' }, { ip: '10.75.0.12', weight: 0 }] } }, merge);
    expect(drained.status).toBe(200);
    expect(String(drained.headers.warning)).toContain('VirtualPort \\"mover\\" is now on network \\"other6\\"');
    // Naming it anew is still checked.
    const fresh = await rejected('POST', `${G}/namespaces/t2/loadbalancers`, lb('byport2', 'shrink', [{ port: 'mover' }]), 422, 'Invalid');
    expect(fresh.message).toContain('VirtualPort is on network "other6", not "shrink"');
  });
});

describe('lists, methods and error bodies as kube-apiserver answers them (QA-127)', () => {
  const L = `${G}/namespaces/qa127/virtualnetworks`;
  beforeAll(async () => {
    expect((await v.call('POST', '/api/v1/namespaces', { metadata: { name: 'qa127' } })).status).toBe(201);
    for (const [i, n] of ['qa-a', 'qa-b', 'qa-c'].entries()) {
      expect((await v.call('POST', L, net(n, { subnets: [{ cidr: `10.127.${i}.0/24` }] }))).status).toBe(201);
    }
  });

  it('a continue token naming a revision the store has not reached is 504 Too large resource version, as such a resourceVersion is (F6: a 500)', async () => {
    const page = await v.call('GET', `${L}?limit=1`);
    expect(page.json.metadata.continue).toEqual(expect.any(String));
    const token = JSON.parse(Buffer.from(page.json.metadata.continue, 'base64url').toString('utf8'));
    const ahead = (await revision()) + 1000;
    const future = Buffer.from(JSON.stringify({ ...token, rv: ahead })).toString('base64url');
    const r = await v.call('GET', `${L}?limit=1&continue=${future}`);
    expect(r.status).toBe(504);
    expect(r.headers['retry-after']).toBe('1');
    expect(r.json).toMatchObject({ kind: 'Status', reason: 'Timeout', details: { causes: [{ reason: 'ResourceVersionTooLarge' }], retryAfterSeconds: 1 } });
    expect(r.json.message).toMatch(new RegExp(`^Timeout: Too large resource version: ${ahead}, current: \\d+$`));
    // A revision no list is read at is no token vnetd wrote: 400.
    const zero = Buffer.from(JSON.stringify({ ...token, rv: 0 })).toString('base64url');
    await rejected('GET', `${L}?limit=1&continue=${zero}`, undefined, 400, 'BadRequest');
    // The token itself still pages.
    expect((await v.call('GET', `${L}?limit=1&continue=${encodeURIComponent(page.json.metadata.continue)}`)).status).toBe(200);
  });

  it('pages only for a limit above 0: 0 or a negative limit is the whole list (F7: -1 was a 400); a limit that is no integer is a 400', async () => {
    for (const limit of ['0', '-1', '-100']) {
      const r = await v.call('GET', `${L}?limit=${limit}`);
      expect(r.status).toBe(200);
      expect(r.json.items.map((o: { metadata: { name: string } }) => o.metadata.name)).toEqual(['qa-a', 'qa-b', 'qa-c']);
      expect(r.json.metadata.continue).toBeUndefined();
    }
    expect((await rejected('GET', `${L}?limit=abc`, undefined, 400, 'BadRequest')).message).toBe('limit must be an integer, got "abc"');
  });

  it('answers 405 to a create or delete on a status subresource (F5: 404), 404 where the kind has none, and changes nothing', async () => {
    await rejected('DELETE', `${L}/qa-a/status`, undefined, 405, 'MethodNotAllowed');
    await rejected('POST', `${L}/qa-a/status`, net('qa-a', { subnets: [{ cidr: '10.127.0.0/24' }] }), 405, 'MethodNotAllowed');
    await rejected('POST', `${G}/nodes/somenode/status`, {}, 405, 'MethodNotAllowed');
    await rejected('DELETE', `${G}/nodes/somenode/status`, undefined, 405, 'MethodNotAllowed');
    await rejected('DELETE', '/api/v1/namespaces/qa127/status', undefined, 405, 'MethodNotAllowed');
    await rejected('POST', '/api/v1/namespaces/qa127/status', { metadata: { name: 'qa127' } }, 405, 'MethodNotAllowed');
    await rejected('DELETE', `${G}/nodeleases/somelease/status`, undefined, 404, 'NotFound');
    await rejected('DELETE', `${G}/namespaces/qa127/nosuchthings/x/status`, undefined, 404, 'NotFound');
    // A kind without a status subresource has no such path for reads and writes either: a GET
    // there returned the object, and a PUT or PATCH wrote through it.
    const lease = { apiVersion: 'vnet.dev/v1alpha1', kind: 'NodeLease', metadata: { name: 'qa127-lease' }, spec: { holderIdentity: 'h/1', leaseDurationSeconds: 60 } };
    expect((await v.call('POST', `${G}/nodeleases`, lease)).status).toBe(201);
    await rejected('GET', `${G}/nodeleases/qa127-lease/status`, undefined, 404, 'NotFound');
    await rejected('PATCH', `${G}/nodeleases/qa127-lease/status`, { spec: { holderIdentity: 'x/2' } }, 404, 'NotFound', { contentType: 'application/merge-patch+json' });
    await rejected('PUT', `${G}/nodeleases/qa127-lease/status`, { ...lease, spec: { ...lease.spec, holderIdentity: 'x/2' } }, 404, 'NotFound');
    expect((await v.call('GET', `${G}/nodeleases/qa127-lease`)).json.spec.holderIdentity).toBe('h/1');
    expect((await v.call('DELETE', `${G}/nodeleases/qa127-lease`)).status).toBe(200);
    expect((await v.call('GET', `${L}/qa-a`)).status).toBe(200);
    expect((await v.call('GET', '/api/v1/namespaces/qa127')).json.status).toMatchObject({ phase: 'Active' });
  });

  it('writes an error Status in YAML to a client that asks for YAML, as a success (F9: always JSON)', async () => {
    const yaml = { accept: 'application/yaml' };
    expect((await v.call('GET', `${L}/qa-a`, undefined, yaml)).headers['content-type']).toMatch(/^application\/yaml/);
    for (const [method, path, code, reason] of [
      ['GET', `${L}/missing`, 404, 'NotFound'],
      ['DELETE', `${L}/qa-a/status`, 405, 'MethodNotAllowed'],
      ['GET', `${L}?limit=abc`, 400, 'BadRequest'],
      ['GET', `${G}/namespaces/qa127/nosuchthings`, 404, 'NotFound'],
    ] as const) {
      const r = await v.call(method, path, undefined, yaml);
      expect(r.status).toBe(code);
      expect(r.headers['content-type']).toMatch(/^application\/yaml/);
      expect(parseYaml(r.text)).toMatchObject({ apiVersion: 'v1', kind: 'Status', status: 'Failure', code, reason });
    }
    // JSON first, or no preference: JSON, as before.
    for (const accept of ['application/json, application/yaml', '*/*']) {
      const r = await v.call('GET', `${L}/missing`, undefined, { accept });
      expect(r.headers['content-type']).toMatch(/^application\/json/);
      expect(r.json).toMatchObject({ kind: 'Status', code: 404, reason: 'NotFound' });
    }
  });
});

describe('health and metrics', () => {
  it('serves health without a token and metrics with one', async () => {
    for (const p of ['/healthz', '/livez', '/readyz', '/version']) expect((await v.call('GET', p, undefined, { token: null })).status).toBe(200);
    // ?verbose lists the checks, as kube-apiserver's (QA-98: "ok" alone).
    const verbose = await v.call('GET', '/readyz?verbose', undefined, { token: null });
    expect(verbose.text).toMatch(/^\[\+\]ping ok\n\[\+\]store ok \(revision \d+\)\n\[\+\]role ok \(leader: runs the reconcilers\)\nreadyz check passed\n$/);
    expect((await v.call('GET', '/livez?verbose', undefined, { token: null })).text).toBe('[+]ping ok\nlivez check passed\n');
    expect((await v.call('GET', '/readyz', undefined, { token: null })).text).toBe('ok');
    expect((await v.call('GET', '/metrics', undefined, { token: null })).status).toBe(401);
    const m = await v.call('GET', '/metrics');
    expect(m.text).toMatch(/vnetd_apiserver_requests_total\{verb="create",resource="virtualnetworks",code="201"\} \d+/);
    expect(m.text).toMatch(/vnetd_apiserver_request_duration_seconds_bucket\{le="0.005",verb="get",resource="virtualnetworks",code="200"\}/);
    expect(m.text).toMatch(/vnetd_store_revision \d+/);
    expect(m.text).toMatch(/vnetd_objects\{kind="VirtualPort"\} \d+/);
    // Conditions, counted per kind, as kube-state-metrics gives them (QA-126 M4).
    expect(m.text).toMatch(/vnetd_objects_by_condition\{kind="VirtualNetwork",condition="Ready",status="True",reason="[A-Za-z]+"\} \d+/);
  });

  it('counts the watches open now (a watch is in requests_total only once it ends)', async () => {
    const open = async () => Number(/^vnetd_apiserver_longrunning_requests\{verb="watch",resource="virtualnetworks"\} (\d+)$/m.exec((await v.call('GET', '/metrics')).text)?.[1] ?? 0);
    const before = await open();
    const client = new ApiClient(v.url, v.caCertPem, v.adminToken);
    const watches = [0, 1].map(() => client.watch(`${G}/namespaces/t1/virtualnetworks?watch=true`, () => undefined, () => undefined));
    try {
      await eventually(async () => (await open()) === before + 2, 5_000, 20);
      watches[0]!.stop();
      await eventually(async () => (await open()) === before + 1, 5_000, 20);
    } finally {
      for (const w of watches) w.stop();
      client.close();
    }
    await eventually(async () => (await open()) === before, 5_000, 20);
  });
});
