/**
 * The agent's Store over the controller's API (src/agent/api-store.ts) against a real
 * in-process vnetd: informers see the API's objects, status writes go through with
 * optimistic concurrency, and a watch whose revision was compacted (410) lists again and
 * emits exactly the differences, deletes included.
 */
import { execFileSync } from 'node:child_process';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { ApiClient } from '../../src/agent/api-client';
import { ApiStore, ApiUnavailableError } from '../../src/agent/api-store';
import { claimNode } from '../../src/agent/node-claim';
import { checkAgentToken } from '../../src/agent/agent-token';
import { ensureTlsMaterial } from '../../src/pki/certificates';
import { NODE_SCOPED_KINDS, NodeScopedStore } from '../../src/agent/node-scope';
import { Informer } from '../../src/reconcile/informer';
import type { HypervisorNode, NodeLease, NodeRealization, VirtualPort } from '../../src/resources/kinds';
import { typePrefix } from '../../src/store/keys';
import { LOAD_BALANCERS, NETWORKS, NODES, NODE_LEASES, NODE_REALIZATIONS, PORTS } from '../../src/store/kinds';
import { ObjectStore } from '../../src/store/object-store';
import { ConflictError, KeyExistsError, type WatchEvent } from '../../src/store/store';
import { eventually, readKubeconfig, startTestVnetd, type TestVnetd } from '../support/vnetd';

const G = '/apis/vnet.dev/v1alpha1';
const log = pino({ level: 'silent' });
let v: TestVnetd;
let store: ApiStore;

beforeAll(async () => {
  v = await startTestVnetd({ bookmarkIntervalMs: 200 });
  store = new ApiStore(ApiClient.fromKubeconfig(v.kubeconfigPath), [NODES], log);
});
afterAll(async () => {
  await store.close();
  await v.stop();
});

const node = (name: string, tunnelIP = '192.0.2.1') => v.call('POST', `${G}/nodes`, { metadata: { name }, spec: { tunnelIP } });

it('a claim from another switch: refused while the holder renews its NodeLease, taken once it stops (a hypervisor replaced)', async () => {
  const objects = v.objects;
  expect((await v.call('POST', `${G}/noderealizations`, { apiVersion: 'vnet.dev/v1alpha1', kind: 'NodeRealization', metadata: { name: 'moved' }, spec: {} })).status).toBe(201);
  expect(await claimNode(objects, 'moved', 'old-host/1', log, { switchId: 'switch-a' })).toBeGreaterThan(0n);
  // The holder's heartbeat, renewed every 100 ms, one-second lease.
  const renew = () => objects.modify<NodeLease>(NODE_LEASES, undefined, 'moved', (cur) => ({ ...cur, spec: { ...cur.spec, renewTime: new Date().toISOString() } }));
  await objects.create<NodeLease>(NODE_LEASES, { apiVersion: 'vnet.dev/v1alpha1', kind: 'NodeLease', metadata: { name: 'moved' }, spec: { holderIdentity: 'old-host/1', leaseDurationSeconds: 1, renewTime: new Date().toISOString() } });
  const beat = setInterval(() => void renew().catch(() => undefined), 100);
  try {
    await expect(claimNode(objects, 'moved', 'new-host/2', log, { switchId: 'switch-b' })).rejects.toThrow(/^node moved is held by the vnetd agent old-host\/1 on another switch \(Open_vSwitch switch-a; this agent's is switch-b\)/);
    // The same switch (a restart, a surging update) takes over as before.
    expect(await claimNode(objects, 'moved', 'old-host/3', log, { switchId: 'switch-a' })).toBeGreaterThan(0n);
  } finally {
    clearInterval(beat);
  }
  // Its agent gone (no renewal for a lease duration): another switch may take the node.
  await objects.modify<NodeLease>(NODE_LEASES, undefined, 'moved', (cur) => ({ ...cur, spec: { ...cur.spec, holderIdentity: 'old-host/3' } }));
  expect(await claimNode(objects, 'moved', 'new-host/2', log, { switchId: 'switch-b' })).toBeGreaterThan(0n);
  expect((await objects.get<NodeRealization>(NODE_REALIZATIONS, undefined, 'moved'))?.status?.agent).toMatchObject({ holder: 'new-host/2', switch: 'switch-b' });
});

it('a refused token says who refused it and what to do, not an HTTP status and a store path', async () => {
  const wrong = new ApiStore(new ApiClient(v.url, v.caCertPem, 'admin.not-the-secret'), [NODES], log);
  try {
    await expect(wrong.get(`${typePrefix(NODES)}n1`)).rejects.toThrow(new RegExp(`^the API at ${v.url.replace(/[.]/g, '\\.')} refused the agent's token \\(401 Unauthorized; GET .*\\): its kubeconfig's token is wrong, expired or was deleted`));
  } finally {
    await wrong.close();
  }
});

it("checks its token before claiming: another node's stops the agent in one line, an admin's is warned about, its node's or every node's pass", async () => {
  const clientOf = async (node: string) => {
    const { token } = readKubeconfig(await v.agentKubeconfig(node));
    return new ApiClient(v.url, v.caCertPem, token);
  };
  const lines: string[] = [];
  const captured = pino({ level: 'info' }, { write: (l: string) => void lines.push(l) });
  const clients = { hv7: await clientOf('hv7'), own: await clientOf('hv1'), every: await clientOf('*'), admin: ApiClient.fromKubeconfig(v.kubeconfigPath) };
  try {
    await expect(checkAgentToken(clients.hv7, 'hv1', captured)).rejects.toThrow("the agent's token (token:agent-hv7) is node hv7's agent token, not node hv1's: start the agent with --node hv7, or give it node hv1's (deploy/kubernetes/agent-kubeconfig.sh ADMIN_KUBECONFIG URL CA OUT agent-hv1 hv1)");
    await checkAgentToken(clients.own, 'hv1', captured);
    await checkAgentToken(clients.every, 'hv1', captured);
    expect(lines).toEqual([]);
    await checkAgentToken(clients.admin, 'hv1', captured);
    expect(lines.map((l) => JSON.parse(l) as { event: string; msg: string })).toEqual([expect.objectContaining({ event: 'agent.admin_token', msg: expect.stringContaining("is an admin token: a hypervisor broken into holds the whole API with it; an agent needs only node hv1's agent token") })]);
    // An API that cannot tell (here, a wrong secret: the claim says so with its remedy) holds nothing up.
    await checkAgentToken(new ApiClient(v.url, v.caCertPem, 'admin.not-the-secret'), 'hv1', captured);
  } finally {
    for (const c of Object.values(clients)) c.close();
  }
});

it('an informer over the API mirrors adds, updates and deletes; status writes are checked against the resourceVersion', async () => {
  expect((await node('n1')).status).toBe(201);
  const informer = new Informer<HypervisorNode>({ store, prefix: typePrefix(NODES), decode: (kv) => kv.value as HypervisorNode, logger: log });
  informer.start();
  await informer.waitForSync();
  expect(informer.list().map((n) => n.metadata.name)).toEqual(['n1']);

  expect((await node('n2', '192.0.2.2')).status).toBe(201);
  await eventually(async () => informer.size === 2);
  const objects = new ObjectStore(store);
  await objects.modify<HypervisorNode>(NODES, undefined, 'n2', (cur) => ({ ...cur, status: { ...cur.status, realized: { u1: '1/hv/3' } } }), { subresource: 'status' });
  expect((await v.call('GET', `${G}/nodes/n2`)).json.status.realized).toEqual({ u1: '1/hv/3' });
  await eventually(async () => informer.get(`${typePrefix(NODES)}n2`)?.status?.realized?.u1 === '1/hv/3');

  const stale = await store.get<HypervisorNode>(`${typePrefix(NODES)}n2`);
  await objects.modify<HypervisorNode>(NODES, undefined, 'n2', (cur) => ({ ...cur, status: { ...cur.status, boundPorts: 1 } }), { subresource: 'status' });
  await expect(store.txn([{ type: 'update', key: stale!.key, value: stale!.value, expectedModRevision: stale!.modRevision }])).rejects.toBeInstanceOf(ConflictError);
  await expect(store.txn([{ type: 'delete', key: stale!.key }])).rejects.toThrow(/one status update \(or its own NodeLease\) at a time/);

  expect((await v.call('DELETE', `${G}/nodes/n1`)).status).toBe(200);
  await eventually(async () => informer.size === 1);
  informer.stop();
});

it('writes its NodeLease whole (POST, then PUT of the object: the kind has no status), and creates nothing else', async () => {
  const leases = new ApiStore(ApiClient.fromKubeconfig(v.kubeconfigPath), [NODES, NODE_LEASES], log);
  try {
    const objects = new ObjectStore(leases);
    const lease: NodeLease = { apiVersion: 'vnet.dev/v1alpha1', kind: 'NodeLease', metadata: { name: 'n9' }, spec: { holderIdentity: 'h/1', renewTime: '2026-11-30T00:00:00.000Z' } };
    await objects.create(NODE_LEASES, lease);
    await expect(objects.create(NODE_LEASES, lease)).rejects.toBeInstanceOf(KeyExistsError);
    await objects.modify<NodeLease>(NODE_LEASES, undefined, 'n9', (cur) => ({ ...cur, spec: { ...cur.spec, renewTime: '2026-11-30T00:00:20.000Z' } }));
    expect((await v.call('GET', `${G}/nodeleases/n9`)).json.spec).toEqual({ holderIdentity: 'h/1', renewTime: '2026-11-30T00:00:20.000Z' });
    await expect(objects.create(NODES, { apiVersion: 'vnet.dev/v1alpha1', kind: 'Node', metadata: { name: 'n9' }, spec: { tunnelIP: '192.0.2.9' } })).rejects.toThrow(/an agent creates only kinds without status \(its NodeLease\), not nodes/);
    expect((await v.call('GET', `${G}/nodes/n9`)).status).toBe(404);
  } finally {
    await v.call('DELETE', `${G}/nodeleases/n9`);
    await leases.close();
  }
});

it('after 410 Gone a watch lists again and emits only what changed, deletes included', async () => {
  const listed = await store.list(typePrefix(NODES));
  expect(listed.items.map((kv) => kv.key)).toEqual([`${typePrefix(NODES)}n2`]);
  expect((await node('n3', '192.0.2.3')).status).toBe(201);
  expect((await v.call('DELETE', `${G}/nodes/n2`)).status).toBe(200);
  await v.objects.kv.compact(await v.objects.kv.currentRevision());

  const events: WatchEvent[] = [];
  const w = store.watch(typePrefix(NODES), (ev) => events.push(ev), { afterRevision: listed.revision });
  await eventually(async () => events.length >= 2);
  w.stop();
  const seen = events.map((e) => `${e.type} ${e.kv.key.slice(typePrefix(NODES).length)}${e.created ? ' created' : ''}`).sort();
  expect(seen).toEqual(['delete n2', 'put n3 created']);
});

it('a watch from a revision the API has not reached (its store restored from a backup) lists again instead of waiting for it', async () => {
  expect((await node('tl1', '192.0.2.51')).status).toBe(201);
  const now = await v.objects.kv.currentRevision();
  const events: WatchEvent[] = [];
  // What an agent holds from before the restore: revisions the restored store is below.
  const w = store.watch(typePrefix(NODES), (ev) => events.push(ev), { afterRevision: now + 1000 });
  try {
    await eventually(async () => events.some((e) => e.type === 'put' && e.kv.key === `${typePrefix(NODES)}tl1`), 5000);
  } finally {
    w.stop();
    await v.call('DELETE', `${G}/nodes/tl1`);
  }
});

it('a watch with no revision yet is one request: the objects, the bookmark that ends them, then changes (no list first)', async () => {
  expect((await node('wl1', '192.0.2.41')).status).toBe(201);
  const client = ApiClient.fromKubeconfig(v.kubeconfigPath);
  const requests: string[] = [];
  const call = client.call.bind(client);
  client.call = (method, path, body) => (requests.push(`${method} ${path}`), call(method, path, body));
  const watchStream = client.watch.bind(client);
  client.watch = (path, onEvent, onEnd) => (requests.push(`WATCH ${path}`), watchStream(path, onEvent, onEnd));
  const api = new ApiStore(client, [NODES], log);
  try {
    const events: string[] = [];
    let synced = false;
    const w = api.watchScope(NODES, { fieldSelector: 'metadata.name=wl1' }, (ev) => events.push(`${ev.type} ${ev.kv.key.slice(typePrefix(NODES).length)}${synced ? ' after' : ''}`), undefined, [], () => (synced = true));
    await eventually(async () => synced);
    expect(events).toEqual(['put wl1']);
    expect(requests).toHaveLength(1);
    expect(requests[0]).toMatch(/^WATCH \/apis\/vnet\.dev\/v1alpha1\/nodes\?watch=true&allowWatchBookmarks=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&/);
    expect((await v.call('DELETE', `${G}/nodes/wl1`)).status).toBe(200);
    await eventually(async () => events.includes('delete wl1 after'));
    w.stop();
  } finally {
    await api.close();
  }
});

it('gives up a connection that stops answering (its peer vanished without a reset) and goes on over a new one', async () => {
  // A TCP relay to the API whose existing connections can go silent: open, passing nothing.
  const silenced = new Set<Socket>();
  const open = new Set<Socket>();
  const relay = createServer((client) => {
    const upstream = connect(Number(new URL(v.url).port), '127.0.0.1');
    for (const s of [client, upstream]) open.add(s);
    client.on('data', (d) => (silenced.has(client) ? undefined : upstream.write(d)));
    upstream.on('data', (d) => (silenced.has(client) ? undefined : client.write(d)));
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    for (const s of [client, upstream]) s.on('error', end).on('close', end);
  });
  await new Promise<void>((r) => relay.listen(0, '127.0.0.1', r));
  const port = (relay.address() as AddressInfo).port;
  const client = new ApiClient(`https://127.0.0.1:${port}`, v.caCertPem, v.adminToken, 2000, { pingEveryMs: 200, pingTimeoutMs: 300 });
  try {
    expect((await client.call('GET', '/version')).status).toBe(200);
    let ended: string | undefined;
    client.watch(`${G}/nodes?watch=true`, () => undefined, (why) => (ended = why.error?.message ?? `status ${why.status}`));
    await new Promise((r) => setTimeout(r, 100));
    for (const s of open) silenced.add(s);
    await eventually(async () => ended !== undefined, 3000);
    expect(ended).toMatch(/did not answer a ping/);
    // The next request opens a new connection (the relay passes new ones).
    expect((await client.call('GET', '/version')).status).toBe(200);
  } finally {
    client.close();
    for (const s of open) s.destroy();
    await new Promise((r) => relay.close(r));
  }
});

it('gives up a connection whose TLS handshake never completes (a stopped controller behind a Service), and dials a new one', async () => {
  // Accepts TCP (as the kernel does for a SIGSTOPped process) and never answers.
  const accepted: Socket[] = [];
  const mute = createServer((s) => void accepted.push(s));
  await new Promise<void>((r) => mute.listen(0, '127.0.0.1', r));
  const port = (mute.address() as AddressInfo).port;
  const client = new ApiClient(`https://127.0.0.1:${port}`, v.caCertPem, v.adminToken, 5000, { pingEveryMs: 30_000, pingTimeoutMs: 15_000, connectTimeoutMs: 300 });
  try {
    const t0 = performance.now();
    await expect(client.call('GET', '/version')).rejects.toThrow(/did not complete its connection \(TLS handshake\) within 300 ms/);
    const tookMs = performance.now() - t0;
    // The next request is not sent onto that session: a new connection is dialled.
    await expect(client.call('GET', '/version')).rejects.toThrow(/within 300 ms/);
    expect(accepted.length).toBe(2);
    expect(tookMs).toBeLessThan(2000);
  } finally {
    client.close();
    for (const s of accepted) s.destroy();
    await new Promise((r) => mute.close(r));
  }
});

it('an agent started before its controller waits for the API, then claims its node (no exit on ECONNREFUSED)', async () => {
  // The NodeRealization a controller's leader would create with the Node (this vnetd is all-in-one).
  expect((await v.call('POST', `${G}/noderealizations`, { apiVersion: 'vnet.dev/v1alpha1', kind: 'NodeRealization', metadata: { name: 'late' }, spec: {} })).status).toBe(201);
  // A port nothing listens on yet: the controller "starts" when a relay to it opens there.
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const port = (probe.address() as AddressInfo).port;
  await new Promise<void>((r) => probe.close(() => r()));
  const early = new ApiStore(new ApiClient(`https://127.0.0.1:${port}`, v.caCertPem, v.adminToken, 2000), [NODES, NODE_REALIZATIONS], log);
  const relay = createServer((c) => {
    const up = connect(Number(new URL(v.url).port), '127.0.0.1');
    c.pipe(up).pipe(c);
    const end = () => (c.destroy(), up.destroy());
    for (const s of [c, up]) s.on('error', end).on('close', end);
  });
  try {
    await expect(early.get(`${typePrefix(NODES)}n1`)).rejects.toThrow(ApiUnavailableError);
    await expect(early.get(`${typePrefix(NODES)}n1`)).rejects.toThrow(/^GET \S+: cannot reach the API at https:\/\/127\.0\.0\.1:\d+: .*ECONNREFUSED/);
    const claim = claimNode(new ObjectStore(early), 'late', 'early/1', log, { retryMs: 50 });
    let settled = false;
    void claim.finally(() => (settled = true)).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 400));
    expect(settled).toBe(false);
    await new Promise<void>((r) => relay.listen(port, '127.0.0.1', r));
    expect(await claim).toBeGreaterThan(0n);
  } finally {
    await early.close();
    await new Promise<void>((r) => relay.close(() => r()));
    await v.call('DELETE', `${G}/noderealizations/late`);
  }
});

it('a controller whose certificate it does not trust is an error at once, not a wait for an API that never comes', async () => {
  const otherDir = mkdtempSync(join(tmpdir(), 'vnetd-other-ca-'));
  try {
    const otherCa = ensureTlsMaterial(otherDir, ['127.0.0.1']).caCertPem;
    const untrusting = new ApiStore(new ApiClient(v.url, otherCa, v.adminToken, 2000), [NODES, NODE_REALIZATIONS], log);
    try {
      const err = await untrusting.get(`${typePrefix(NODES)}n1`).then(() => undefined, (e: unknown) => e as Error);
      expect(err).toBeDefined();
      expect(err).not.toBeInstanceOf(ApiUnavailableError);
      expect(err!.message).toMatch(/cannot reach the API at https:\/\/127\.0\.0\.1:\d+: .*\((?:[A-Z_]*CERT[A-Z_]*|UNABLE_TO_VERIFY_LEAF_SIGNATURE|ERR_TLS_CERT_ALTNAME_INVALID)[^)]*: the kubeconfig's certificate authority does not match the controller's/);
      // claimNode gives up with it (the agent exits) instead of retrying.
      await expect(claimNode(new ObjectStore(untrusting), 'late', 'x/1', log, { retryMs: 10 })).rejects.toThrow(/certificate authority does not match/);
    } finally {
      await untrusting.close();
    }
  } finally {
    rmSync(otherDir, { recursive: true, force: true });
  }
});

it('names what is wrong with a kubeconfig it cannot use', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vnetd-agent-kc-'));
  try {
    expect(() => ApiClient.fromKubeconfig(join(dir, 'missing'))).toThrow(/cannot read kubeconfig/);
    writeFileSync(join(dir, 'empty'), 'apiVersion: v1\nkind: Config\n');
    expect(() => ApiClient.fromKubeconfig(join(dir, 'empty'))).toThrow(/has no server or token/);
    writeFileSync(join(dir, 'noca'), 'clusters: [{cluster: {server: "https://127.0.0.1:1"}}]\nusers: [{user: {token: t}}]\n');
    expect(() => ApiClient.fromKubeconfig(join(dir, 'noca'))).toThrow(/names no certificate authority/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

describe('an agent watches only what its node needs', () => {
  const names = async (scoped: NodeScopedStore, type: typeof PORTS) => (await scoped.list(typePrefix(type))).items.map((kv) => kv.key.slice(typePrefix(type).length)).sort();
  const must = async (method: string, path: string, body?: unknown) => {
    const r = await v.call(method, path, body);
    if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${r.text}`);
    return r.json;
  };

  it('selects ports by spec.node and spec.network on the server; other fields are refused', async () => {
    await must('POST', '/api/v1/namespaces', { metadata: { name: 'sel' } });
    await must('POST', `${G}/namespaces/sel/virtualnetworks`, { metadata: { name: 'n' }, spec: { subnets: [{ cidr: '10.9.0.0/24' }] } });
    await must('POST', `${G}/namespaces/sel/virtualports`, { metadata: { name: 'p1' }, spec: { network: 'n', node: 'hv1' } });
    await must('POST', `${G}/namespaces/sel/virtualports`, { metadata: { name: 'p0' }, spec: { network: 'n' } });
    const pinned = await must('GET', `${G}/virtualports?fieldSelector=spec.node%3Dhv1`);
    expect(pinned.items.map((p: { metadata: { name: string } }) => p.metadata.name)).toEqual(['p1']);
    const unpinned = await must('GET', `${G}/namespaces/sel/virtualports?fieldSelector=spec.node%3D`);
    expect(unpinned.items.map((p: { metadata: { name: string } }) => p.metadata.name)).toEqual(['p0']);
    expect((await v.call('GET', `${G}/virtualports?fieldSelector=spec.mac%3Dx`)).status).toBe(400);
  });

  it('ports of its node, their networks with their ports elsewhere and load balancers; networks come and go with its ports', async () => {
    await must('POST', '/api/v1/namespaces', { metadata: { name: 'scope' } });
    for (const [n, cidr] of [['a', '10.1.0.0/24'], ['b', '10.2.0.0/24']]) {
      await must('POST', `${G}/namespaces/scope/virtualnetworks`, { metadata: { name: n }, spec: { subnets: [{ cidr }] } });
    }
    await must('POST', `${G}/namespaces/scope/virtualports`, { metadata: { name: 'a-here' }, spec: { network: 'a', node: 'hv1' } });
    await must('POST', `${G}/namespaces/scope/virtualports`, { metadata: { name: 'a-there' }, spec: { network: 'a', node: 'hv2' } });
    await must('POST', `${G}/namespaces/scope/virtualports`, { metadata: { name: 'b-there' }, spec: { network: 'b', node: 'hv2' } });
    await must('POST', `${G}/namespaces/scope/loadbalancers`, { metadata: { name: 'lb-a' }, spec: { network: 'a', listeners: [{ port: 80 }], backends: [{ port: 'a-there' }] } });
    await must('POST', `${G}/namespaces/scope/loadbalancers`, { metadata: { name: 'lb-b' }, spec: { network: 'b', listeners: [{ port: 80 }], backends: [{ port: 'b-there' }] } });

    const scoped = new NodeScopedStore(new ApiStore(ApiClient.fromKubeconfig(v.kubeconfigPath), NODE_SCOPED_KINDS, log), 'hv1', log);
    try {
      const ports = (await names(scoped, PORTS)).filter((n) => n.startsWith('scope/'));
      expect(ports).toEqual(['scope/a-here', 'scope/a-there']);
      // (sel/n is there for sel/p1, pinned to hv1 by the test before.)
      expect(await names(scoped, NETWORKS)).toEqual(['scope/a', 'sel/n']);
      expect(await names(scoped, LOAD_BALANCERS)).toEqual(['scope/lb-a']);
      // sel/p0, unpinned and with no NIC on hv1, is in view as a port of sel/n, which p1 needs.
      expect((await names(scoped, PORTS)).filter((n) => n.startsWith('sel/'))).toEqual(['sel/p0', 'sel/p1']);

      const informer = new Informer<{ metadata: { name: string } }>({ store: scoped, prefix: typePrefix(PORTS), decode: (kv) => kv.value as { metadata: { name: string } }, logger: log });
      informer.start();
      await informer.waitForSync();
      // A port moving between nodes (a live migration) is seen modified, never deleted and
      // created again: its network's watch holds it wherever it is pinned.
      const deleted: string[] = [];
      informer.addEventHandler({ onDelete: (o) => deleted.push(o.metadata.name) });
      const moveTo = async (node: string) => {
        const p = await must('GET', `${G}/namespaces/scope/virtualports/a-there`);
        await must('PUT', `${G}/namespaces/scope/virtualports/a-there`, { ...p, spec: { ...p.spec, node } });
        await eventually(async () => (informer.get(`${typePrefix(PORTS)}scope/a-there`) as { spec?: { node?: string } } | undefined)?.spec?.node === node);
      };
      await moveTo('hv1');
      await moveTo('hv2');
      expect(deleted).toEqual([]);
      // A port of network b arrives on hv1: b and its ports and load balancers come into view ...
      await must('POST', `${G}/namespaces/scope/virtualports`, { metadata: { name: 'b-here' }, spec: { network: 'b', node: 'hv1' } });
      await eventually(async () => informer.get(`${typePrefix(PORTS)}scope/b-there`) !== undefined);
      expect(scoped.networks()).toEqual(['scope/a', 'scope/b', 'sel/n']);
      expect(await names(scoped, LOAD_BALANCERS)).toEqual(['scope/lb-a', 'scope/lb-b']);
      // A second port of b here: b stays while either is here ...
      await must('POST', `${G}/namespaces/scope/virtualports`, { metadata: { name: 'b-here2' }, spec: { network: 'b', node: 'hv1' } });
      await eventually(async () => informer.get(`${typePrefix(PORTS)}scope/b-here2`) !== undefined);
      await must('DELETE', `${G}/namespaces/scope/virtualports/b-here`);
      await eventually(async () => informer.get(`${typePrefix(PORTS)}scope/b-here`) === undefined);
      expect(scoped.networks()).toEqual(['scope/a', 'scope/b', 'sel/n']);
      // ... and leaves with the last of them.
      await must('DELETE', `${G}/namespaces/scope/virtualports/b-here2`);
      await eventually(async () => informer.get(`${typePrefix(PORTS)}scope/b-there`) === undefined);
      expect(scoped.networks()).toEqual(['scope/a', 'sel/n']);
      expect(await names(scoped, NETWORKS)).toEqual(['scope/a', 'sel/n']);
      informer.stop();
    } finally {
      await scoped.close();
    }
  });

  it('unpinned ports: only those of the NICs on its switch, and those bound to it; not every unpinned port of the cluster', async () => {
    await must('POST', '/api/v1/namespaces', { metadata: { name: 'nic' } });
    await must('POST', `${G}/namespaces/nic/virtualnetworks`, { metadata: { name: 'n' }, spec: { subnets: [{ cidr: '10.7.0.0/24' }] } });
    await must('POST', `${G}/namespaces/nic/virtualnetworks`, { metadata: { name: 'm' }, spec: { subnets: [{ cidr: '10.8.0.0/24' }] } });
    // (A backslash too, until interface ids could hold none: QA-96.)
    const odd = 'nic,odd=1';
    for (const [name, interfaceId] of [['u1', 'nic-1'], ['u2', 'nic-2'], ['u3', 'nic-3'], ['u-odd', odd]]) {
      await must('POST', `${G}/namespaces/nic/virtualports`, { metadata: { name }, spec: { network: 'n', interfaceId } });
    }
    // Its NIC is on hv1's switch, but the port is pinned to hv2: not hv1's.
    await must('POST', `${G}/namespaces/nic/virtualports`, { metadata: { name: 'elsewhere' }, spec: { network: 'm', node: 'hv2', interfaceId: 'nic-4' } });
    const mine = async (s: NodeScopedStore) => (await names(s, PORTS)).filter((n) => n.startsWith('nic/'));

    // hv1 starts with the NICs nic-1, nic-4 and the odd one on its switch.
    const scoped = new NodeScopedStore(new ApiStore(ApiClient.fromKubeconfig(v.kubeconfigPath), NODE_SCOPED_KINDS, log), 'hv1', log, { interfaceIds: Promise.resolve(['nic-1', 'nic-4', odd, 'no-port-yet']) });
    // An agent with no NIC at all sees none of them.
    const bare = new NodeScopedStore(new ApiStore(ApiClient.fromKubeconfig(v.kubeconfigPath), NODE_SCOPED_KINDS, log), 'hv9', log);
    try {
      expect(await mine(scoped)).toEqual(['nic/u-odd', 'nic/u1']);
      expect(await mine(bare)).toEqual([]);
      expect(scoped.interfaces()).toEqual(['nic-1', 'nic-4', odd, 'no-port-yet'].sort());
      const informer = new Informer<VirtualPort>({ store: scoped, prefix: typePrefix(PORTS), decode: (kv) => kv.value as VirtualPort, logger: log });
      const deleted: string[] = [];
      informer.addEventHandler({ onDelete: (o) => deleted.push(o.metadata.name) });
      informer.start();
      await informer.waitForSync();
      const has = (name: string) => informer.get(`${typePrefix(PORTS)}nic/${name}`) !== undefined;

      // A NIC plugged: its port comes into view; unplugged (never bound): it leaves.
      scoped.setInterface('nic-2', true);
      await eventually(async () => has('u2'));
      scoped.setInterface('nic-2', false);
      await eventually(async () => !has('u2'));
      // A port declared after its NIC arrives through the NIC's watch.
      await must('POST', `${G}/namespaces/nic/virtualports`, { metadata: { name: 'late' }, spec: { network: 'n', interfaceId: 'no-port-yet' } });
      await eventually(async () => has('late'));

      // Bound here: the watch of ports bound to hv1 holds it, the NIC's own watch closes, and
      // its network (with all its ports) comes into view.
      const setStatusNode = async (name: string, node: string | undefined) => {
        const p = (await must('GET', `${G}/namespaces/nic/virtualports/${name}`)) as VirtualPort;
        await must('PUT', `${G}/namespaces/nic/virtualports/${name}/status`, { ...p, status: { ...p.status, node } });
      };
      await setStatusNode('u1', 'hv1');
      await eventually(async () => !scoped.interfaces().includes('nic-1') && scoped.networks().includes('nic/n'));
      await eventually(async () => has('u3'));
      expect(has('elsewhere')).toBe(false);
      // Its NIC gone, a bound port stays in view until it is unbound (the agent writes that).
      scoped.setInterface('nic-1', false);
      await new Promise((r) => setTimeout(r, 200));
      expect(has('u1')).toBe(true);
      await setStatusNode('u1', undefined);
      await eventually(async () => !has('u1') && !has('u3'));
      expect(scoped.networks().includes('nic/n')).toBe(false);
      // u2 twice: unplugged, then in view again as a port of n while n was needed.
      expect(deleted.sort()).toEqual(['u1', 'u2', 'u2', 'u3']);
      // A whole new set (the switch's session reconnected): watches follow it.
      scoped.setInterfaces(new Set(['nic-3']));
      await eventually(async () => has('u3') && !has('late') && !has('u-odd'));
      expect(scoped.interfaces()).toEqual(['nic-3']);
      informer.stop();
    } finally {
      await scoped.close();
      await bare.close();
    }
  });

  it('a status write reads what the agent holds (no GET); after a refused write it reads from the API', async () => {
    await must('POST', '/api/v1/namespaces', { metadata: { name: 'ryw' } });
    await must('POST', `${G}/namespaces/ryw/virtualnetworks`, { metadata: { name: 'n' }, spec: { subnets: [{ cidr: '10.8.0.0/24' }] } });
    await must('POST', `${G}/namespaces/ryw/virtualports`, { metadata: { name: 'p' }, spec: { network: 'n', node: 'hv1' } });
    const client = ApiClient.fromKubeconfig(v.kubeconfigPath);
    const requests: string[] = [];
    const call = client.call.bind(client);
    client.call = (method, path, body) => {
      requests.push(`${method} ${path.split('?')[0]}`);
      return call(method, path, body);
    };
    const scoped = new NodeScopedStore(new ApiStore(client, NODE_SCOPED_KINDS, log), 'hv1', log);
    const objects = new ObjectStore(scoped);
    const key = `${typePrefix(PORTS)}ryw/p`;
    const path = `${G}/namespaces/ryw/virtualports/p`;
    try {
      await scoped.list(typePrefix(PORTS));
      const setNode = (node: string) =>
        objects.modify<VirtualPort>(PORTS, 'ryw', 'p', (cur) => ({ ...cur, status: { ...cur.status, node } }), { subresource: 'status' });
      requests.length = 0;
      expect((await setNode('hv1'))?.object.status?.node).toBe('hv1');
      expect(requests).toEqual([`PUT ${path}/status`]);
      // Its own write's result answers the next read, before the watch brings it.
      requests.length = 0;
      expect((await setNode('hv9'))?.object.status?.node).toBe('hv9');
      expect(requests).toEqual([`PUT ${path}/status`]);

      // Someone else writes; a write on what the agent held is refused, and the key is read
      // from the API until a write succeeds (the ObjectStore's retry then does).
      const held = (await scoped.get<VirtualPort>(key))!;
      const theirs = (await must('GET', path)) as VirtualPort;
      await must('PUT', `${path}/status`, { ...theirs, status: { ...theirs.status, node: 'hv2' } });
      await expect(scoped.txn([{ type: 'update', key, value: { ...held.value, status: { node: 'hv3' } }, expectedModRevision: held.modRevision }])).rejects.toBeInstanceOf(ConflictError);
      requests.length = 0;
      expect((await scoped.get<VirtualPort>(key))?.value.status?.node).toBe('hv2');
      expect(requests).toEqual([`GET ${path}`]);
      requests.length = 0;
      expect((await setNode('hv1'))?.object.status?.node).toBe('hv1');
      expect(requests).toEqual([`GET ${path}`, `PUT ${path}/status`]);
      requests.length = 0;
      await scoped.get(key);
      expect(requests).toEqual([]);
      // What get hands out is the caller's: changing it changes nothing held.
      const mine = (await scoped.get<VirtualPort>(key))!;
      mine.value.status!.node = 'changed';
      expect((await scoped.get<VirtualPort>(key))?.value.status?.node).toBe('hv1');
    } finally {
      await scoped.close();
    }
  });

  it('a node with ports of many networks holds a watch per network, all on one HTTP/2 connection, and still writes', async () => {
    await must('POST', '/api/v1/namespaces', { metadata: { name: 'many' } });
    // 3 watches per network: 8 networks and the node-wide ones are more than a 16-socket pool.
    for (let i = 0; i < 8; i++) {
      await must('POST', `${G}/namespaces/many/virtualnetworks`, { metadata: { name: `n${i}` }, spec: { subnets: [{ cidr: `10.7.${i}.0/24` }] } });
      await must('POST', `${G}/namespaces/many/virtualports`, { metadata: { name: `p${i}` }, spec: { network: `n${i}`, node: 'hv1' } });
    }
    const port = new URL(v.url).port;
    // Client sockets to the API (the test's own calls hold some too, and may close meanwhile).
    const connections = () => execFileSync('ss', ['-Htn', 'state', 'established', `dport = :${port}`], { encoding: 'utf8' }).split('\n').filter(Boolean).length;
    const before = connections();
    const scoped = new NodeScopedStore(new ApiStore(ApiClient.fromKubeconfig(v.kubeconfigPath), NODE_SCOPED_KINDS, log), 'hv1', log);
    try {
      const ports = await Promise.race([
        names(scoped, PORTS),
        new Promise<string[]>((_, reject) => setTimeout(() => reject(new Error('the view never became ready: its watches waited for sockets')), 10_000)),
      ]);
      expect(ports.filter((n) => n.startsWith('many/'))).toHaveLength(8);
      expect(scoped.networks().filter((n) => n.startsWith('many/'))).toHaveLength(8);
      // 26 watches (three per network, two for the node's ports) and the requests: one connection.
      expect(connections() - before).toBeLessThanOrEqual(1);
      const objects = new ObjectStore(scoped);
      const written = await objects.modify<VirtualPort>(PORTS, 'many', 'p7', (cur) => ({ ...cur, status: { ...cur.status, node: 'hv1' } }), { subresource: 'status' });
      expect(written?.object.status?.node).toBe('hv1');
    } finally {
      await scoped.close();
    }
  }, 20_000);
});
