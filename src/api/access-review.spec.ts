import { ResourceCatalog } from '../resources/catalog';
import { ApiErrors } from '../resources/status';
import { reviewAccess, reviewRules, type Authorize } from './access-review';
import type { Principal } from './auth/principal';
import { decodeMessage, unwrapUnknown, type MessageLayout } from './protobuf-wire';

const catalog = ResourceCatalog.load();
const tenant: Principal = { name: 'token:bob', admin: false, namespaces: new Set(['demo']) };
const admin: Principal = { name: 'admin', admin: true, namespaces: new Set() };
/** As the API decides for a tenant: its namespaces only, no status writes (a stand-in of ResourceService.authorize). */
const asked: string[] = [];
const authorize: Authorize = (scope, verb, name, sub = 'main') => {
  asked.push(`${verb} ${scope.type.plural}${sub === 'status' ? '/status' : ''} ${scope.namespace ?? '-'} ${name ?? '-'}`);
  if (scope.namespace !== undefined && !scope.principal.namespaces.has(scope.namespace)) throw ApiErrors.forbidden({ group: scope.type.group, kind: scope.type.plural, name }, 'User "x" cannot: not one of your namespaces');
  if (sub === 'status' && verb !== 'get') throw ApiErrors.forbidden({ group: scope.type.group, kind: scope.type.plural, name }, 'written by vnetd itself');
};

describe('self access reviews', () => {
  beforeEach(() => (asked.length = 0));

  it('ask the API\'s decision of each verb asked, with its reason when it refuses', () => {
    const ports = { group: 'vnet.dev', resource: 'virtualports' };
    expect(reviewAccess(tenant, { resourceAttributes: { ...ports, verb: 'create', namespace: 'demo' } }, catalog, authorize)).toEqual({ allowed: true, reason: 'allowed' });
    expect(reviewAccess(tenant, { resourceAttributes: { ...ports, verb: 'create', namespace: 'other', name: 'p' } }, catalog, authorize)).toEqual({ allowed: false, reason: 'User "x" cannot: not one of your namespaces' });
    expect(asked).toEqual(['create virtualports demo -', 'create virtualports other p']);
    // '*' is every verb; the status subresource serves get, update and patch only.
    expect(reviewAccess(tenant, { resourceAttributes: { ...ports, verb: '*', namespace: 'demo', subresource: 'status' } }, catalog, authorize)).toEqual({ allowed: false, reason: 'written by vnetd itself' });
    expect(reviewAccess(tenant, { resourceAttributes: { ...ports, verb: 'create', namespace: 'demo', subresource: 'status' } }, catalog, authorize)).toEqual({ allowed: false, reason: 'vnetd serves no verb "create" on the status subresource' });
    expect(reviewAccess(tenant, { resourceAttributes: { ...ports, verb: 'get', namespace: 'demo', subresource: 'log' } }, catalog, authorize)).toEqual({ allowed: false, reason: 'virtualports have no subresource "log"' });
  });

  it('refuse what vnetd does not serve to a tenant; an admin may do anything, as cluster-admin', () => {
    expect(reviewAccess(tenant, { resourceAttributes: { group: 'apps', resource: 'deployments', verb: 'get', namespace: 'demo' } }, catalog, authorize)).toMatchObject({ allowed: false, reason: expect.stringContaining('vnetd serves no resource "deployments" in API group "apps"') });
    expect(reviewAccess(tenant, { resourceAttributes: { group: '', resource: 'virtualports', verb: 'get', namespace: 'demo' } }, catalog, authorize)).toMatchObject({ allowed: false });
    expect(reviewAccess(tenant, { resourceAttributes: { group: 'vnet.dev', resource: 'virtualports', verb: 'proxy', namespace: 'demo' } }, catalog, authorize)).toEqual({ allowed: false, reason: 'vnetd serves no verb "proxy"' });
    expect(reviewAccess(tenant, { nonResourceAttributes: { path: '/version', verb: 'get' } }, catalog, authorize)).toMatchObject({ allowed: true });
    // /metrics is an admin's (QA-106: can-i said yes, and the GET was 403).
    expect(reviewAccess(tenant, { nonResourceAttributes: { path: '/metrics', verb: 'get' } }, catalog, authorize)).toMatchObject({ allowed: false });
    expect(reviewAccess(tenant, { nonResourceAttributes: { path: '/metrics', verb: 'post' } }, catalog, authorize)).toMatchObject({ allowed: false });
    expect(reviewAccess(admin, { resourceAttributes: { group: 'apps', resource: 'deployments', verb: 'delete' } }, catalog, authorize)).toEqual({ allowed: true, reason: 'admin is a vnetd admin' });
    expect(asked).toEqual([]);
  });

  it('list a tenant\'s rules in a namespace from the same decisions', () => {
    const rules = reviewRules(tenant, 'demo', catalog, authorize);
    expect(rules.resourceRules).toContainEqual({ verbs: ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete', 'deletecollection'], apiGroups: ['vnet.dev'], resources: ['virtualports'] });
    expect(rules.resourceRules).toContainEqual({ verbs: ['get'], apiGroups: ['vnet.dev'], resources: ['virtualports/status'] });
    expect(rules.resourceRules).toContainEqual({ verbs: ['get'], apiGroups: [''], resources: ['namespaces'], resourceNames: ['demo'] });
    // Another tenant's namespace: nothing namespaced there.
    expect(reviewRules(tenant, 'other', catalog, authorize).resourceRules.filter((r) => r.apiGroups[0] === 'vnet.dev' && r.resources[0] === 'virtualports')).toEqual([]);
    expect(reviewRules(admin, 'demo', catalog, authorize).resourceRules).toEqual([{ verbs: ['*'], apiGroups: ['*'], resources: ['*'] }]);
  });

  it('let every caller create its own reviews, as discovery lists them (QA-134 F9), and nothing else of them', () => {
    const ssar = { group: 'authorization.k8s.io', resource: 'selfsubjectaccessreviews' };
    expect(reviewAccess(tenant, { resourceAttributes: { ...ssar, verb: 'create' } }, catalog, authorize)).toEqual({ allowed: true, reason: 'any authenticated caller may create its own reviews' });
    expect(reviewAccess(tenant, { resourceAttributes: { group: 'authentication.k8s.io', resource: 'selfsubjectreviews', verb: 'create' } }, catalog, authorize)).toMatchObject({ allowed: true });
    expect(reviewAccess(tenant, { resourceAttributes: { ...ssar, verb: 'list' } }, catalog, authorize)).toEqual({ allowed: false, reason: 'selfsubjectaccessreviews take only create' });
    // Not served: the reviews of others.
    expect(reviewAccess(tenant, { resourceAttributes: { group: 'authorization.k8s.io', resource: 'subjectaccessreviews', verb: 'create' } }, catalog, authorize)).toMatchObject({ allowed: false });
    const rules = reviewRules(tenant, 'demo', catalog, authorize).resourceRules;
    expect(rules).toContainEqual({ verbs: ['create'], apiGroups: ['authorization.k8s.io'], resources: ['selfsubjectaccessreviews', 'selfsubjectrulesreviews'] });
    expect(rules).toContainEqual({ verbs: ['create'], apiGroups: ['authentication.k8s.io'], resources: ['selfsubjectreviews'] });
  });
});

describe('protobuf-wire', () => {
  /** A length-delimited field (numbers and lengths below 128 here). */
  const field = (no: number, bytes: Buffer | string) => {
    const b = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes);
    return Buffer.concat([Buffer.from([(no << 3) | 2, b.length]), b]);
  };
  const layout: MessageLayout = { 2: ['spec', { 1: ['resourceAttributes', { 1: 'namespace', 2: 'verb', 5: 'resource' }] }] };

  it('reads a message of string and message fields by its layout, from the k8s envelope', () => {
    const attrs = Buffer.concat([field(1, 'demo'), field(2, 'create'), field(5, 'virtualports'), field(7, 'ignored')]);
    const review = Buffer.concat([field(1, Buffer.alloc(0)), field(2, field(1, attrs))]);
    const body = Buffer.concat([Buffer.from('k8s\0'), field(1, Buffer.concat([field(1, 'authorization.k8s.io/v1'), field(2, 'SelfSubjectAccessReview')])), field(2, review)]);
    const { kind, raw } = unwrapUnknown(body);
    expect(kind).toBe('SelfSubjectAccessReview');
    expect(decodeMessage(raw, layout)).toEqual({ spec: { resourceAttributes: { namespace: 'demo', verb: 'create', resource: 'virtualports' } } });
  });

  it('refuses what is not the envelope, and truncated fields', () => {
    expect(() => unwrapUnknown(Buffer.from('{"kind":"x"}'))).toThrow('missing k8s protobuf magic');
    expect(() => decodeMessage(Buffer.from([(2 << 3) | 2, 50, 1]), layout)).toThrow('truncated field');
  });
});
