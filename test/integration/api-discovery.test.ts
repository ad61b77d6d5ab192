/**
 * Discovery as kubectl and client-go read it (QA-134 F9): the review groups vnetd answers are
 * listed.
 */
import { startTestVnetd, type TestVnetd } from '../support/vnetd';

let v: TestVnetd;
let tenant: string;

beforeAll(async () => {
  v = await startTestVnetd();
  expect((await v.call('POST', '/api/v1/namespaces', { metadata: { name: 'disco' } })).status).toBe(201);
  tenant = await v.tenantToken('disco', ['disco']);
});
afterAll(async () => v.stop());

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
      }
    }
    // A group vnetd does not serve is still none.
    expect((await v.call('GET', '/apis/apps/v1')).status).toBe(404);
  });
});
