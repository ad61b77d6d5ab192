/**
 * Impersonation (kubectl --as, the Impersonate-* headers): an admin's request runs as the
 * user named, a tenant's is refused, and none runs as the caller. Before, the headers were
 * ignored: `kubectl auth can-i --as=token:carol` answered for the admin, and a request "as"
 * a tenant created objects anywhere (QA-134 F10).
 */
import { execFile, spawnSync } from 'node:child_process';
import { eventually, openWatch, startTestVnetd, type TestVnetd } from '../support/vnetd';

const G = '/apis/vnet.dev/v1alpha1';
let v: TestVnetd;
let carol: string;

const net = (name: string) => ({ apiVersion: 'vnet.dev/v1alpha1', kind: 'VirtualNetwork', metadata: { name }, spec: { subnets: [{ cidr: '10.9.0.0/24' }] } });

beforeAll(async () => {
  v = await startTestVnetd();
  for (const ns of ['im1', 'im2']) expect((await v.call('POST', '/api/v1/namespaces', { metadata: { name: ns } })).status).toBe(201);
  carol = await v.tenantToken('carol', ['im1']);
});
afterAll(async () => v.stop());

it('an admin\'s request as a tenant runs with the tenant\'s rights: refused outside its namespaces, allowed inside', async () => {
  const asCarol = { headers: { 'Impersonate-User': 'token:carol' } };
  const outside = await v.call('POST', `${G}/namespaces/im2/virtualnetworks`, net('n'), asCarol);
  expect(outside.status).toBe(403);
  expect(outside.json.message).toContain('token:carol');
  // Nothing written (before: 201, as the admin).
  expect((await v.call('GET', `${G}/namespaces/im2/virtualnetworks/n`)).status).toBe(404);
  expect((await v.call('POST', `${G}/namespaces/im1/virtualnetworks`, net('n'), asCarol)).status).toBe(201);
  expect((await v.call('POST', '/api/v1/namespaces', { metadata: { name: 'im3' } }, asCarol)).status).toBe(403);
  const who = await v.call('POST', '/apis/authentication.k8s.io/v1/selfsubjectreviews', { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' }, asCarol);
  expect(who.json.status.userInfo).toEqual({ username: 'token:carol', groups: ['system:authenticated'], extra: { 'vnet.dev/namespaces': ['im1'] } });
});

it('a user no token stands for has no rights; system:masters makes an admin; groups without a user are a 400', async () => {
  expect((await v.call('GET', `${G}/namespaces/im1/virtualnetworks`, undefined, { headers: { 'Impersonate-User': 'nobody', 'Impersonate-Group': 'system:authenticated' } })).status).toBe(403);
  expect((await v.call('GET', `${G}/namespaces/im2/virtualnetworks`, undefined, { headers: { 'Impersonate-User': 'token:carol', 'Impersonate-Group': 'system:masters' } })).status).toBe(200);
  const groupsOnly = await v.call('GET', `${G}/namespaces/im1/virtualnetworks`, undefined, { headers: { 'Impersonate-Group': 'system:masters' } });
  expect(groupsOnly.status).toBe(400);
  expect(groupsOnly.json).toMatchObject({ kind: 'Status', reason: 'BadRequest' });
});

it('a tenant may not impersonate: 403, whoever it names (not run as itself either)', async () => {
  const res = await v.call('GET', `${G}/namespaces/im1/virtualnetworks`, undefined, { token: carol, headers: { 'Impersonate-User': 'token:carol' } });
  expect(res.status).toBe(403);
  expect(res.json.message).toBe('users "token:carol" is forbidden: User "token:carol" cannot impersonate resource "users" in API group "" at the cluster scope');
});

it('a watch opened as a tenant ends when the caller\'s own token is deleted, not only the tenant\'s (review: it streamed on as carol)', async () => {
  const created = await v.call('POST', `${G}/accesstokens`, { metadata: { name: 'gitops' }, spec: { admin: true } });
  expect(created.status).toBe(201);
  const gitops = created.json.status.token as string;
  const w = openWatch(v, `${G}/namespaces/im1/virtualnetworks?watch=true&timeoutSeconds=600`, gitops, { 'Impersonate-User': 'token:carol' });
  try {
    await eventually(async () => w.events() >= 1, 5_000);
    expect((await v.call('DELETE', `${G}/accesstokens/gitops`)).status).toBe(200);
    expect(await w.ended).toBe(200);
  } finally {
    w.stop();
  }
});

describe('kubectl', () => {
  const present = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' }).status === 0;
  const kubectl = (args: string[]) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile('kubectl', ['--kubeconfig', v.kubeconfigPath, ...args], { encoding: 'utf8', timeout: 60_000 }, (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }));
    });
  if (!present) console.log('kubectl tests skipped: kubectl is not installed');
  (present ? it : it.skip)('auth can-i --as answers for the user named, and whoami --as names it', async () => {
    expect((await kubectl(['auth', 'can-i', 'create', 'virtualports.vnet.dev', '-n', 'im2', '--as=token:carol'])).stdout.trim()).toMatch(/^no\b/);
    expect((await kubectl(['auth', 'can-i', 'create', 'virtualports.vnet.dev', '-n', 'im1', '--as=token:carol'])).stdout.trim()).toBe('yes');
    expect((await kubectl(['auth', 'can-i', 'create', 'virtualports.vnet.dev', '-n', 'im2'])).stdout.trim()).toBe('yes');
    expect((await kubectl(['auth', 'whoami', '--as=token:carol', '-o', 'jsonpath={.status.userInfo.username}'])).stdout).toBe('token:carol');
  });
});
