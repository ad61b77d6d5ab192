/**
 * Agents' tokens (AccessToken spec.node), over HTTP: an agent reads the topology and writes
 * only its own node's reports and its ports' binding, as Kubernetes' Node authorizer and
 * NodeRestriction allow a kubelet. Every refusal is a 403 Status that says why, and leaves
 * the object as it was.
 */
import { NODES as NODES_TYPE } from '../../src/store/kinds';
import { eventually, openWatch, startTestVnetd, type ApiResponse, type TestVnetd } from '../support/vnetd';

const G = '/apis/vnet.dev/v1alpha1';
const PORTS = `${G}/namespaces/t1/virtualports`;
const JSON_PATCH = { contentType: 'application/json-patch+json' };
const MERGE = { contentType: 'application/merge-patch+json' };
let v: TestVnetd;
let hv1: string;
let every: string;

async function tokenOf(name: string, spec: Record<string, unknown>): Promise<string> {
  const r = await v.call('POST', `${G}/accesstokens`, { metadata: { name }, spec });
  expect(r.status).toBe(201);
  return r.json.status.token as string;
}

function expectForbidden(r: ApiResponse, why: string | RegExp): void {
  expect(r.status).toBe(403);
  expect(r.json).toMatchObject({ kind: 'Status', code: 403, reason: 'Forbidden', message: expect.stringMatching(why) });
}

const port = async (name: string) => (await v.call('GET', `${PORTS}/${name}`)).json;
const ready = { type: 'Ready', status: 'True', reason: 'Forged', message: 'm', lastTransitionTime: '2026-12-05T00:00:00Z' };

beforeAll(async () => {
  v = await startTestVnetd({ role: 'controller' });
  await v.call('POST', '/api/v1/namespaces', { metadata: { name: 't1' } });
  await v.call('POST', `${G}/namespaces/t1/virtualnetworks`, { metadata: { name: 'n' }, spec: { subnets: [{ cidr: '10.7.0.0/24' }] } });
  for (const [name, ip] of [['hv1', '192.0.2.1'], ['hv2', '192.0.2.2']]) expect((await v.call('POST', `${G}/nodes`, { metadata: { name }, spec: { tunnelIP: ip } })).status).toBe(201);
  for (const [name, node] of [['pinned1', 'hv1'], ['pinned2', 'hv2'], ['loose', undefined]]) {
    expect((await v.call('POST', PORTS, { metadata: { name }, spec: { network: 'n', ...(node ? { node } : {}) } })).status).toBe(201);
  }
  hv1 = await tokenOf('agent-hv1', { node: 'hv1' });
  every = await tokenOf('agents', { node: '*' });
  // The controller's leader makes each Node's NodeRealization.
  await eventually(async () => (await v.call('GET', `${G}/noderealizations/hv2`)).status === 200, 10_000);
  // ... and gives each port its addresses (status.ips), which no agent may write.
  await eventually(async () => ((await port('loose')).status?.ips?.length ?? 0) > 0, 10_000);
});
afterAll(async () => v?.stop());

it('refuses a token that would be an agent and something else, or names no node', async () => {
  const bad = async (spec: Record<string, unknown>, field: string, message: RegExp) => {
    const r = await v.call('POST', `${G}/accesstokens`, { metadata: { name: 'bad' }, spec });
    expect(r.status).toBe(422);
    expect(r.json.details.causes).toEqual([expect.objectContaining({ field, message: expect.stringMatching(message) })]);
  };
  await bad({ node: 'hv1', admin: true }, 'spec.admin', /cannot also be admin/);
  await bad({ node: 'hv1', namespaces: ['t1'] }, 'spec.namespaces', /not a tenant's/);
  await bad({ node: 'HV_1' }, 'spec.node', /Invalid value: "HV_1".*or "\*" for every node's agents/);
  expect((await v.call('GET', `${G}/accesstokens/bad`)).status).toBe(404);
  const listed = await v.call('GET', `${G}/accesstokens`, undefined, { accept: 'application/json;as=Table;v=v1;g=meta.k8s.io' });
  expect(listed.json.columnDefinitions.map((c: { name: string }) => c.name)).toContain('Node');
});

it('reads the topology in every namespace, and nothing else', async () => {
  for (const path of [`${G}/virtualnetworks`, `${G}/virtualports`, `${G}/loadbalancers`, `${G}/nodes`, `${PORTS}/pinned2`, `${G}/nodes/hv2`]) {
    expect([path, (await v.call('GET', path, undefined, { token: hv1 })).status]).toEqual([path, 200]);
  }
  expect((await v.call('GET', `${G}/virtualports`, undefined, { token: hv1 })).json.items).toHaveLength(3);
  expectForbidden(await v.call('GET', `${G}/accesstokens`, undefined, { token: hv1 }), /accesstokens are not an agent's/);
  expectForbidden(await v.call('GET', `${G}/accesstokens/agent-hv1`, undefined, { token: hv1 }), /not an agent's/);
  expectForbidden(await v.call('GET', '/api/v1/namespaces', undefined, { token: hv1 }), /namespaces are not an agent's/);
  expectForbidden(await v.call('GET', '/api/v1/namespaces/t1/events', undefined, { token: every }), /events are not an agent's/);
  expect((await v.call('GET', '/metrics', undefined, { token: hv1 })).status).toBe(403);
});

it('writes nothing tenants and admins declare, and the objects stay as they were', async () => {
  const before = await port('pinned1');
  const attempts: Array<[string, string, unknown, object?]> = [
    ['POST', `${G}/namespaces/t1/virtualnetworks`, { metadata: { name: 'm' }, spec: { subnets: [{ cidr: '10.8.0.0/24' }] } }],
    ['PATCH', `${PORTS}/pinned1`, { spec: { node: 'hv2' } }, MERGE],
    ['DELETE', `${PORTS}/pinned1`, undefined],
    ['DELETE', PORTS, undefined],
    ['PATCH', `${G}/nodes/hv1`, { spec: { tunnelIP: '192.0.2.99' } }, MERGE],
    ['DELETE', `${G}/nodes/hv1`, undefined],
    ['PATCH', `${G}/namespaces/t1/virtualnetworks/n/status`, { status: { observedGeneration: 9 } }, MERGE],
    ['POST', `${G}/accesstokens`, { metadata: { name: 'escalate' }, spec: { admin: true } }],
  ];
  for (const [method, path, body, opts] of attempts) {
    const r = await v.call(method, path, body, { token: every, ...opts });
    expect([method, path, r.status]).toEqual([method, path, 403]);
  }
  const after = await port('pinned1');
  expect(after.spec).toEqual(before.spec);
  expect((await v.call('GET', `${G}/nodes/hv1`)).json.spec.tunnelIP).toBe('192.0.2.1');
  expect((await v.call('GET', `${G}/accesstokens/escalate`)).status).toBe(404);
});

it("writes its own Node's status, NodeRealization and NodeLease; not another node's", async () => {
  const health = { status: { unhealthyBackends: [] } };
  expect((await v.call('PATCH', `${G}/nodes/hv1/status`, health, { token: hv1, ...MERGE })).status).toBe(200);
  expectForbidden(await v.call('PATCH', `${G}/nodes/hv2/status`, health, { token: hv1, ...MERGE }), /writes the status of its own Node only/);
  // Realizations: its own by name; a list holds its own only.
  expect((await v.call('GET', `${G}/noderealizations/hv1`, undefined, { token: hv1 })).status).toBe(200);
  expectForbidden(await v.call('GET', `${G}/noderealizations/hv2`, undefined, { token: hv1 }), /its own node's noderealizations only/);
  expect((await v.call('GET', `${G}/noderealizations`, undefined, { token: hv1 })).json.items.map((o: { metadata: { name: string } }) => o.metadata.name)).toEqual(['hv1']);
  const report = { status: { realized: { 'some-uid': '1' } } };
  expect((await v.call('PATCH', `${G}/noderealizations/hv1/status`, report, { token: hv1, ...MERGE })).status).toBe(200);
  expectForbidden(await v.call('PATCH', `${G}/noderealizations/hv2/status`, report, { token: hv1, ...MERGE }), /own node's noderealizations only/);
  expectForbidden(await v.call('DELETE', `${G}/noderealizations/hv1`, undefined, { token: hv1 }), /may not delete noderealizations/);
  // Its lease: made and renewed whole, never deleted.
  const lease = (name: string) => ({ metadata: { name }, spec: { holderIdentity: 'host/1', leaseDurationSeconds: 3, renewTime: new Date().toISOString() } });
  expect((await v.call('POST', `${G}/nodeleases`, lease('hv1'), { token: hv1 })).status).toBe(201);
  expectForbidden(await v.call('POST', `${G}/nodeleases`, lease('hv2'), { token: hv1 }), /own node's nodeleases only/);
  expect((await v.call('PATCH', `${G}/nodeleases/hv1`, { spec: { renewTime: new Date().toISOString() } }, { token: hv1, ...MERGE })).status).toBe(200);
  expectForbidden(await v.call('DELETE', `${G}/nodeleases/hv1`, undefined, { token: hv1 }), /may not delete nodeleases/);
  // "*" is every node's agent: of the Nodes that exist (QA-106: it made leases of any name).
  expect((await v.call('POST', `${G}/nodeleases`, lease('hv2'), { token: every })).status).toBe(201);
  expectForbidden(await v.call('POST', `${G}/nodeleases`, { ...lease('junk'), metadata: { generateName: 'junk-' } }, { token: every }), /there is no Node junk-\w+: a NodeLease is a Node's heartbeat/);
  expect((await v.call('GET', `${G}/nodeleases`)).json.items.map((o: { metadata: { name: string } }) => o.metadata.name)).toEqual(['hv1', 'hv2']);
  // No finalizers: an admin's delete (or the Node's) would wait on them.
  expectForbidden(await v.call('PATCH', `${G}/nodeleases/hv1`, { metadata: { finalizers: ['example.com/stuck'] } }, { token: hv1, ...MERGE }), /has no finalizers/);
  expect((await v.call('GET', `${G}/nodeleases/hv1`)).json.metadata.finalizers).toBeUndefined();
  // Owned by its own Node only (review: naming hv2 tied hv1's lease to hv2's deletion).
  const hv2uid = (await v.call('GET', `${G}/nodes/hv2`)).json.metadata.uid;
  expectForbidden(await v.call('PATCH', `${G}/nodeleases/hv1`, { metadata: { ownerReferences: [{ apiVersion: 'vnet.dev/v1alpha1', kind: 'Node', name: 'hv2', uid: hv2uid, blockOwnerDeletion: true }] } }, { token: hv1, ...MERGE }), /owned by its own Node only, not by Node hv2/);
});

it("writes the binding of its own ports only, and nothing else of their status", async () => {
  const bind = (node: string, ofport: number) => [
    { op: 'add', path: '/status/node', value: node },
    { op: 'add', path: '/status/ofport', value: ofport },
  ];
  // Pinned here: yes. Pinned to hv2: no, and it stays unbound.
  expect((await v.call('PATCH', `${PORTS}/pinned1/status`, bind('hv1', 5), { token: hv1, ...JSON_PATCH })).status).toBe(200);
  expectForbidden(await v.call('PATCH', `${PORTS}/pinned2/status`, bind('hv1', 5), { token: hv1, ...JSON_PATCH }), /pinned to node hv2, not hv1/);
  expect((await port('pinned2')).status.node).toBeUndefined();
  // However the request states its resourceVersion (none, "0", "", the stored one written
  // otherwise), the check is of the object it replaces (QA-106: all of these bound pinned2).
  const hijack = (rv: string) => ({ metadata: { resourceVersion: rv }, status: { node: 'hv1', ofport: 66 } });
  const rv = (await port('pinned2')).metadata.resourceVersion as string;
  for (const r of ['0', '', `0${rv}`, ` ${rv}`, `${rv}.0`]) {
    expectForbidden(await v.call('PATCH', `${PORTS}/pinned2/status`, hijack(r), { token: hv1, ...MERGE }), /pinned to node hv2, not hv1/);
  }
  const cur2 = await port('pinned2');
  const put2 = await v.call('PUT', `${PORTS}/pinned2/status`, { ...cur2, metadata: { ...cur2.metadata, resourceVersion: `0${cur2.metadata.resourceVersion}` }, status: { ...cur2.status, node: 'hv1' } }, { token: hv1 });
  expectForbidden(put2, /pinned to node hv2, not hv1/);
  const ahead = await v.call('PATCH', `${PORTS}/pinned2/status`, hijack(String(Number(rv) + 1000)), { token: hv1, ...MERGE });
  expect([ahead.status, ahead.json.reason]).toEqual([409, 'Conflict']);
  expect((await v.call('PATCH', `${PORTS}/pinned2/status`, hijack('x1'), { token: hv1, ...MERGE })).status).toBe(422);
  // Its own port's addresses or Ready: the controller's, not the agent's.
  const ips = (await port('pinned1')).status.ips;
  expectForbidden(await v.call('PATCH', `${PORTS}/pinned1/status`, [{ op: 'replace', path: '/status/ips', value: ['10.7.0.200'] }], { token: hv1, ...JSON_PATCH }), /writes a port's binding only/);
  expectForbidden(await v.call('PATCH', `${PORTS}/pinned1/status`, { status: { realized: true } }, { token: every, ...MERGE }), /writes a port's binding only/);
  expect((await port('pinned1')).status.ips).toEqual(ips);
  // A condition type once: a second Bound is refused, from anyone (QA-106: three were stored).
  const boundOp = { op: 'add', path: '/status/conditions/-', value: { type: 'Bound', status: 'True', reason: 'InterfaceFound', message: 'again', lastTransitionTime: new Date().toISOString() } };
  const twice = await v.call('PATCH', `${PORTS}/pinned1/status`, [boundOp, boundOp], { token: hv1, ...JSON_PATCH });
  expect([twice.status, twice.json.details?.causes?.[0]]).toEqual([422, expect.objectContaining({ reason: 'FieldValueDuplicate', message: 'Duplicate value: "Bound"' })]);
  expect((await v.call('PATCH', `${PORTS}/pinned1/status`, [{ op: 'add', path: '/status/conditions/-', value: ready }, { op: 'add', path: '/status/conditions/-', value: ready }], JSON_PATCH)).status).toBe(422);
  // A write from an older copy is a conflict, as anyone's, not a refusal of what changed since
  // (the controller's Ready, say): the agent reads again and retries.
  const stale = await port('pinned1');
  expect((await v.call('PATCH', `${PORTS}/pinned1/status`, { status: { conditions: [...(stale.status.conditions ?? []), { type: 'Note', status: 'True', reason: 'R', message: 'm', lastTransitionTime: new Date().toISOString() }] } }, MERGE)).status).toBe(200);
  const put = await v.call('PUT', `${PORTS}/pinned1/status`, { ...stale, status: { ...stale.status, ofport: 6 } }, { token: hv1 });
  expect([put.status, put.json.reason]).toEqual([409, 'Conflict']);
  // An unpinned port: another node's while that node's agent is alive; free once it is silent.
  expect((await v.call('PATCH', `${PORTS}/loose/status`, bind('hv2', 8), { token: every, ...JSON_PATCH })).status).toBe(200);
  expectForbidden(await v.call('PATCH', `${PORTS}/loose/status`, bind('hv1', 5), { token: hv1, ...JSON_PATCH }), /bound to node hv2, whose agent is alive: it moves once that agent unbinds it/);
  expectForbidden(await v.call('PATCH', `${PORTS}/loose/status`, [{ op: 'remove', path: '/status/node' }], { token: hv1, ...JSON_PATCH }), /only that agent unbinds it/);
  expectForbidden(await v.call('PATCH', `${PORTS}/loose/status`, bind('hv2', 9), { token: hv1, ...JSON_PATCH }), /may bind a port to node hv1 only, not to hv2/);
  expect((await port('loose')).status).toMatchObject({ node: 'hv2', ofport: 8 });
  const silent = { type: 'Ready', status: 'Unknown', reason: 'AgentNotReporting', message: 'no renewal', lastTransitionTime: new Date().toISOString() };
  expect((await v.call('PATCH', `${G}/nodes/hv2/status`, { status: { conditions: [silent] } }, MERGE)).status).toBe(200);
  expect((await v.call('PATCH', `${PORTS}/loose/status`, bind('hv1', 5), { token: hv1, ...JSON_PATCH })).status).toBe(200);
  expect((await port('loose')).status).toMatchObject({ node: 'hv1', ofport: 5, ips: expect.any(Array) });
});

it("refuses a condition whose type or reason is not metav1.Condition's shape, but not one the status already had", async () => {
  const at = new Date().toISOString();
  const cond = (type: string, reason: string) => ({ type, status: 'False', reason, message: 'm', lastTransitionTime: at });
  const nodeStatus = async () => (await v.call('GET', `${G}/nodes/hv1`)).json.status;
  const before = await nodeStatus();
  const r = await v.call('PATCH', `${G}/nodes/hv1/status`, { status: { conditions: [cond('Odd', 'Switch down\x1b[2J'), cond('bad type!', 'Fine')] } }, { token: hv1, ...MERGE });
  expect(r.status).toBe(422);
  expect(r.json.details.causes).toEqual([
    expect.objectContaining({ field: 'status.conditions[0].reason', message: expect.stringMatching(/^Invalid value: "Switch down\\u001b\[2J": status.conditions\[0\].reason in body should match/) }),
    expect.objectContaining({ field: 'status.conditions[1].type', reason: 'FieldValueInvalid' }),
  ]);
  expect(await nodeStatus()).toEqual(before);
  // One stored before the check existed (written here straight to the store) does not block a write of something else.
  const stored = await v.objects.get(NODES_TYPE, undefined, 'hv1');
  await v.objects.update(NODES_TYPE, { ...stored!, status: { ...(stored!.status as object), conditions: [cond('Legacy', 'old reason')] } }, { subresource: 'status' });
  const kept = await v.call('PATCH', `${G}/nodes/hv1/status`, { status: { flows: 7 } }, { token: hv1, ...MERGE });
  expect(kept.status).toBe(200);
  expect(kept.json.status.conditions).toEqual([cond('Legacy', 'old reason')]);
  // ... but a new reason is judged.
  expect((await v.call('PATCH', `${G}/nodes/hv1/status`, { status: { conditions: [cond('Legacy', 'still not one word')] } }, { token: hv1, ...MERGE })).status).toBe(422);
});

it('says who it is and what it may do (kubectl auth whoami, can-i)', async () => {
  const who = await v.call('POST', '/apis/authentication.k8s.io/v1/selfsubjectreviews', { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' }, { token: hv1 });
  expect(who.json.status.userInfo).toEqual({ username: 'token:agent-hv1', groups: ['system:nodes', 'system:authenticated'], extra: { 'vnet.dev/node': ['hv1'] } });
  const can = async (resourceAttributes: Record<string, string>) =>
    (await v.call('POST', '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews', { apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectAccessReview', spec: { resourceAttributes } }, { token: hv1 })).json.status;
  expect(await can({ verb: 'list', group: 'vnet.dev', resource: 'virtualports' })).toMatchObject({ allowed: true });
  expect(await can({ verb: 'delete', group: 'vnet.dev', resource: 'virtualports', namespace: 't1' })).toMatchObject({ allowed: false });
  expect(await can({ verb: 'update', group: 'vnet.dev', resource: 'nodes', subresource: 'status', name: 'hv1' })).toMatchObject({ allowed: true });
  expect(await can({ verb: 'update', group: 'vnet.dev', resource: 'nodes', subresource: 'status', name: 'hv2' })).toMatchObject({ allowed: false });
  const rules = (await v.call('POST', '/apis/authorization.k8s.io/v1/selfsubjectrulesreviews', { apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectRulesReview', spec: { namespace: 't1' } }, { token: hv1 })).json.status.resourceRules;
  expect(rules).toEqual(expect.arrayContaining([
    { verbs: ['get'], apiGroups: ['vnet.dev'], resources: ['nodes/status'] },
    { verbs: ['update', 'patch'], apiGroups: ['vnet.dev'], resources: ['nodes/status'], resourceNames: ['hv1'] },
    { verbs: ['get', 'create', 'update', 'patch'], apiGroups: ['vnet.dev'], resources: ['nodeleases'], resourceNames: ['hv1'] },
  ]));
  // A NodeLease has no status subresource; tokens, namespaces and events are not an agent's at all.
  const resources = rules.flatMap((r: { resources: string[] }) => r.resources);
  for (const none of ['nodeleases/status', 'accesstokens', 'namespaces', 'events']) expect(resources).not.toContain(none);
});

it("ends a token's open watches when the token is deleted or changed, and no other token's (QA-106: they went on streaming)", async () => {
  const doomed = await tokenOf('agent-doomed', { node: 'hv1' });
  const kept = openWatch(v, `${G}/nodes?watch=true&timeoutSeconds=600`, hv1);
  const watched = openWatch(v, `${G}/nodes?watch=true&timeoutSeconds=600`, doomed);
  const ports = openWatch(v, `${G}/virtualports?watch=true&timeoutSeconds=600`, doomed);
  try {
    await eventually(async () => kept.events() >= 2 && watched.events() >= 2 && ports.events() >= 3, 5_000);
    const t0 = performance.now();
    expect((await v.call('DELETE', `${G}/accesstokens/agent-doomed`)).status).toBe(200);
    expect(await watched.ended).toBe(200);
    expect(await ports.ended).toBe(200);
    expect(performance.now() - t0).toBeLessThan(2_000);
    // Watching again with it is a 401; the other token's watch goes on.
    expect((await v.call('GET', `${G}/nodes?watch=true&timeoutSeconds=1`, undefined, { token: doomed })).status).toBe(401);
    const before = kept.events();
    expect((await v.call('PATCH', `${G}/nodes/hv1/status`, { status: { unhealthyBackends: [] } }, MERGE)).status).toBe(200);
    await v.call('PATCH', `${G}/nodes/hv1`, { metadata: { labels: { poke: String(Date.now()) } } }, MERGE);
    await eventually(async () => kept.events() > before, 5_000);
  } finally {
    for (const w of [kept, watched, ports]) w.stop();
  }
});
