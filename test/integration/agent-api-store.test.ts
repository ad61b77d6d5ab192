/**
 * The agent's Store over the controller's API (src/agent/api-store.ts) against a real
 * in-process vnetd: informers see the API's objects, status writes go through with
 * optimistic concurrency, and a watch whose revision was compacted (410) lists again and
 * emits exactly the differences, deletes included.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { ApiClient } from '../../src/agent/api-client';
import { ApiStore } from '../../src/agent/api-store';
import { Informer } from '../../src/reconcile/informer';
import type { HypervisorNode } from '../../src/resources/kinds';
import { typePrefix } from '../../src/store/keys';
import { NODES } from '../../src/store/kinds';
import { ObjectStore } from '../../src/store/object-store';
import { ConflictError, type WatchEvent } from '../../src/store/store';
import { eventually, startTestVnetd, type TestVnetd } from '../support/vnetd';

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
  await expect(store.txn([{ type: 'delete', key: stale!.key }])).rejects.toThrow(/one status update at a time/);

  expect((await v.call('DELETE', `${G}/nodes/n1`)).status).toBe(200);
  await eventually(async () => informer.size === 1);
  informer.stop();
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
