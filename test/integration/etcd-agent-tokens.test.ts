/**
 * Agents' tokens across two controller replicas on one etcd: a token minted through one
 * replica acts with its node's rights on the other, and when it changes or is deleted
 * through one, the other ends its open watches (each replica hears of it from its own etcd
 * watch of AccessTokens, not from the request) and decides again with what the token is now.
 */
import type { RunningVnetd } from '../../src/app/vnetd';
import { etcdAvailability } from '../harness/etcd';
import { startEtcdReplicas, type EtcdReplicas } from '../support/etcd-replicas';
import { eventually, openWatch, type CallOptions } from '../support/vnetd';

const missing = etcdAvailability();
if (missing) process.stdout.write(`[etcd-agent-tokens] skipping: ${missing}\n`);
const describeEtcd = missing ? describe.skip : describe;
const G = '/apis/vnet.dev/v1alpha1';
const MERGE = { contentType: 'application/merge-patch+json' };
const lease = (name: string) => ({ metadata: { name }, spec: { holderIdentity: name, renewTime: new Date().toISOString() } });

describeEtcd('agent tokens on two replicas sharing etcd', () => {
  let bed: EtcdReplicas;
  let a: RunningVnetd;
  let b: RunningVnetd;
  let token: string;
  const call = (v: RunningVnetd, method: string, path: string, body?: unknown, opts?: CallOptions) => bed.call(v, method, path, body, opts);

  beforeAll(async () => {
    bed = await startEtcdReplicas('tokens');
    [a, b] = bed.replicas as [RunningVnetd, RunningVnetd];
    for (const [name, ip] of [['hv1', '192.0.2.1'], ['hv2', '192.0.2.2']]) expect((await call(a, 'POST', `${G}/nodes`, { metadata: { name }, spec: { tunnelIP: ip } })).status).toBe(201);
    const minted = await call(a, 'POST', `${G}/accesstokens`, { metadata: { name: 'agent' }, spec: { node: 'hv1' } });
    expect(minted.status).toBe(201);
    token = minted.json.status.token as string;
  }, 60_000);
  afterAll(async () => bed?.stop());

  it("a token minted through one replica has its node's rights, and only those, on the other", async () => {
    await eventually(async () => (await call(b, 'GET', `${G}/nodes/hv2`, undefined, { token })).status === 200, 10_000);
    expect((await call(b, 'POST', `${G}/nodeleases`, lease('hv1'), { token })).status).toBe(201);
    const refused = await call(b, 'POST', `${G}/nodeleases`, lease('hv2'), { token });
    expect(refused.status).toBe(403);
    expect(refused.json.message).toMatch(/own node's nodeleases only/);
  });

  it("ends the token's watches on the other replica when it changes, which then acts as it is now; and when it goes", async () => {
    const nodes = openWatch(b, `${G}/nodes?watch=true&timeoutSeconds=600`, token);
    const leases = openWatch(b, `${G}/nodeleases?watch=true&timeoutSeconds=600`, token);
    const admins = openWatch(b, `${G}/nodes?watch=true&timeoutSeconds=600`, b.adminToken);
    try {
      await eventually(async () => nodes.events() >= 2 && leases.events() >= 1 && admins.events() >= 2, 5_000);
      // Moved to hv2 through a: b ends what it decided for hv1.
      const t0 = performance.now();
      expect((await call(a, 'PATCH', `${G}/accesstokens/agent`, { spec: { node: 'hv2' } }, MERGE)).status).toBe(200);
      expect(await nodes.ended).toBe(200);
      expect(await leases.ended).toBe(200);
      const moved = performance.now() - t0;
      expect(moved).toBeLessThan(2_000);
      expect((await call(b, 'PATCH', `${G}/nodeleases/hv1`, { spec: { renewTime: new Date().toISOString() } }, { token, ...MERGE })).status).toBe(403);
      expect((await call(b, 'POST', `${G}/nodeleases`, lease('hv2'), { token })).status).toBe(201);
      // Deleted through a: b ends its watches and answers 401.
      const again = openWatch(b, `${G}/nodes?watch=true&timeoutSeconds=600`, token);
      await eventually(async () => again.events() >= 2, 5_000);
      const t1 = performance.now();
      expect((await call(a, 'DELETE', `${G}/accesstokens/agent`)).status).toBe(200);
      expect(await again.ended).toBe(200);
      const deleted = performance.now() - t1;
      expect(deleted).toBeLessThan(2_000);
      expect((await call(b, 'GET', `${G}/nodes`, undefined, { token })).status).toBe(401);
      // The admin's watch on b goes on.
      const before = admins.events();
      await call(a, 'PATCH', `${G}/nodes/hv1`, { metadata: { labels: { poke: '1' } } }, MERGE);
      await eventually(async () => admins.events() > before, 5_000);
      process.stdout.write(`[etcd-agent-tokens] the other replica ended the token's watches ${moved.toFixed(0)} ms after its change and ${deleted.toFixed(0)} ms after its deletion\n`);
    } finally {
      for (const w of [nodes, leases, admins]) w.stop();
    }
  });
});
