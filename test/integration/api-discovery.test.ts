/**
 * Discovery as kubectl and client-go read it (QA-134 F9): the review groups vnetd answers are
 * listed, and /openapi/v2 is a document with every kind's schema, in JSON and in gnostic's
 * protobuf (what client-go asks for).
 */
import { request } from 'node:https';
import { fields } from '../../src/api/protobuf-wire';
import { startTestVnetd, type TestVnetd } from '../support/vnetd';

let v: TestVnetd;
let tenant: string;

beforeAll(async () => {
  v = await startTestVnetd();
  expect((await v.call('POST', '/api/v1/namespaces', { metadata: { name: 'disco' } })).status).toBe(201);
  tenant = await v.tenantToken('disco', ['disco']);
});
afterAll(async () => v.stop());

/** A GET's status, content type and body as bytes (the test client's answers are text). */
function getBytes(path: string, accept: string): Promise<{ status: number; type: string | undefined; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, v.url), { ca: v.caCertPem, headers: { authorization: `Bearer ${tenant}`, accept } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: res.headers['content-type'], body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

const gv = (group: string) => ({ groupVersion: `${group}/v1`, version: 'v1' });

describe('the review groups in discovery (F9)', () => {
  it('/apis lists authentication.k8s.io and authorization.k8s.io before vnet.dev, as kube-apiserver lists built-in groups first', async () => {
    const apis = await v.call('GET', '/apis', undefined, { token: tenant });
    expect(apis.status).toBe(200);
    expect(apis.json.groups.map((g: { name: string }) => g.name)).toEqual(['authentication.k8s.io', 'authorization.k8s.io', 'vnet.dev']);
    expect(apis.json.groups[1]).toEqual({ kind: 'APIGroup', apiVersion: 'v1', name: 'authorization.k8s.io', versions: [gv('authorization.k8s.io')], preferredVersion: gv('authorization.k8s.io') });
    const group = await v.call('GET', '/apis/authentication.k8s.io', undefined, { token: tenant });
    expect(group.json).toEqual({ kind: 'APIGroup', apiVersion: 'v1', name: 'authentication.k8s.io', versions: [gv('authentication.k8s.io')], preferredVersion: gv('authentication.k8s.io') });
  });

  it('/apis/GROUP/v1 lists the reviews vnetd answers, cluster-scoped and create only, and each listed answers a create', async () => {
    const authz = await v.call('GET', '/apis/authorization.k8s.io/v1', undefined, { token: tenant });
    expect(authz.status).toBe(200);
    expect(authz.json).toEqual({
      kind: 'APIResourceList',
      apiVersion: 'v1',
      groupVersion: 'authorization.k8s.io/v1',
      resources: [
        { name: 'selfsubjectaccessreviews', singularName: 'selfsubjectaccessreview', namespaced: false, kind: 'SelfSubjectAccessReview', verbs: ['create'] },
        { name: 'selfsubjectrulesreviews', singularName: 'selfsubjectrulesreview', namespaced: false, kind: 'SelfSubjectRulesReview', verbs: ['create'] },
      ],
    });
    const authn = await v.call('GET', '/apis/authentication.k8s.io/v1?timeout=32s', undefined, { token: tenant });
    expect(authn.json.resources).toEqual([{ name: 'selfsubjectreviews', singularName: 'selfsubjectreview', namespaced: false, kind: 'SelfSubjectReview', verbs: ['create'] }]);
    const specs: Record<string, unknown> = { SelfSubjectAccessReview: { resourceAttributes: { verb: 'get', group: 'vnet.dev', resource: 'virtualports', namespace: 'disco' } }, SelfSubjectRulesReview: { namespace: 'disco' } };
    for (const list of [authz.json, authn.json]) {
      for (const r of list.resources as Array<{ name: string; kind: string }>) {
        const res = await v.call('POST', `/apis/${list.groupVersion}/${r.name}`, { apiVersion: list.groupVersion, kind: r.kind, ...(specs[r.kind] ? { spec: specs[r.kind] } : {}) }, { token: tenant });
        expect([r.kind, res.status, res.json.kind]).toEqual([r.kind, 201, r.kind]);
        // Only created: any other verb is a 405 Status, as kube-apiserver answers (`kubectl get selfsubjectaccessreviews` was a 404).
        for (const [method, path] of [['GET', ''], ['GET', '/x'], ['DELETE', '/x'], ['PUT', '/x']] as const) {
          const other = await v.call(method, `/apis/${list.groupVersion}/${r.name}${path}`, method === 'PUT' ? {} : undefined, { token: tenant });
          expect([r.kind, method, path, other.status, other.json.kind, other.json.reason]).toEqual([r.kind, method, path, 405, 'Status', 'MethodNotAllowed']);
        }
      }
    }
    // Unauthenticated, it is a 401 still.
    expect((await v.call('GET', '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews', undefined, { token: 'nope' })).status).toBe(401);
    // A group vnetd does not serve is still none.
    expect((await v.call('GET', '/apis/apps/v1')).status).toBe(404);
  });
});

describe('/openapi/v2 (F9)', () => {
  it("has every kind's schema with its group-version-kind, in JSON and in gnostic's protobuf alike", async () => {
    const json = await v.call('GET', '/openapi/v2', undefined, { token: tenant });
    expect(json.status).toBe(200);
    const definitions = json.json.definitions as Record<string, { 'x-kubernetes-group-version-kind'?: unknown[]; properties?: Record<string, unknown> }>;
    const kinds = Object.values(definitions).flatMap((d) => d['x-kubernetes-group-version-kind'] ?? []);
    for (const kind of ['VirtualNetwork', 'VirtualPort', 'LoadBalancer', 'Node', 'AccessToken', 'NodeRealization', 'NodeLease']) expect(kinds).toContainEqual({ group: 'vnet.dev', version: 'v1alpha1', kind });
    for (const kind of ['Namespace', 'Event', 'ResourceQuota']) expect(kinds).toContainEqual({ group: '', version: 'v1', kind });
    expect(Object.keys(definitions['dev.vnet.v1alpha1.VirtualNetwork']!.properties!)).toEqual(['apiVersion', 'kind', 'metadata', 'spec', 'status']);

    // As client-go's OpenAPISchema() asks.
    const pb = await getBytes('/openapi/v2', 'application/com.github.proto-openapi.spec.v2@v1.0+protobuf');
    // Not the type asked for, which Go's mime package (client-go) cannot parse.
    expect([pb.status, pb.type]).toEqual([200, 'application/octet-stream']);
    // Document.definitions (9) -> NamedSchema (1) -> name (1).
    const defs = fields(pb.body).find((f) => f.no === 9)!.bytes!;
    const names = fields(defs).map((f) => fields(f.bytes!).find((x) => x.no === 1)!.bytes!.toString('utf8'));
    expect(names).toEqual(Object.keys(definitions));
  });
});
