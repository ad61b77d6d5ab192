/** Watch semantics: initial state, resume from a resourceVersion, selectors, bookmarks, 410 Gone. */
import { connect } from 'node:http2';
import { request } from 'node:https';
import { eventually, startTestVnetd, type TestVnetd } from '../support/vnetd';

const G = '/apis/vnet.dev/v1alpha1';
let v: TestVnetd;

interface Event {
  type: string;
  object: { metadata: { name: string; resourceVersion: string; labels?: Record<string, string> }; code?: number; reason?: string };
}

/** Opens a watch and collects events until `until` is satisfied or the stream ends. */
function watch(path: string, until: (evs: Event[]) => boolean, token?: string, timeoutMs = 8000): Promise<{ status: number; events: Event[] }> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, v.url), { ca: v.caCertPem, headers: { authorization: `Bearer ${token ?? v.adminToken}` } }, (res) => {
      const events: Event[] = [];
      let buf = '';
      const finish = () => {
        req.destroy();
        resolve({ status: res.statusCode ?? 0, events });
      };
      const timer = setTimeout(finish, timeoutMs);
      res.on('data', (d: Buffer) => {
        buf += d.toString();
        let i;
        while ((i = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, i);
          buf = buf.slice(i + 1);
          if (line.trim()) events.push(JSON.parse(line) as Event);
        }
        if (until(events)) {
          clearTimeout(timer);
          finish();
        }
      });
      res.on('end', () => {
        clearTimeout(timer);
        if (buf.trim()) {
          try {
            events.push(JSON.parse(buf) as Event);
          } catch {
            /* not JSON: e.g. a Status answer */
          }
        }
        resolve({ status: res.statusCode ?? 0, events });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

const names = (evs: Event[]) => evs.map((e) => `${e.type} ${e.object.metadata?.name ?? ''}`.trim());
const create = (name: string, labels?: Record<string, string>) =>
  v.call('POST', `${G}/namespaces/w/virtualnetworks`, { metadata: { name, labels }, spec: { subnets: [{ cidr: '10.0.0.0/24' }] } });

beforeAll(async () => {
  v = await startTestVnetd({ bookmarkIntervalMs: 200 });
  await v.call('POST', '/api/v1/namespaces', { metadata: { name: 'w' } });
});
afterAll(async () => v.stop());

it('without a resourceVersion starts with ADDED for what exists, then follows changes', async () => {
  await create('first');
  const p = watch(`${G}/namespaces/w/virtualnetworks?watch=true`, (e) => e.some((x) => x.type === 'DELETED'));
  await new Promise((r) => setTimeout(r, 200));
  await create('second');
  await v.call('DELETE', `${G}/namespaces/w/virtualnetworks/second`);
  const { events } = await p;
  const seen = names(events);
  expect(seen[0]).toBe('ADDED first');
  expect(seen).toContain('ADDED second');
  expect(seen[seen.length - 1]).toBe('DELETED second');
  // The IPAM reconciler's status writes show up as MODIFIED in between, in order.
  const rvs = events.map((e) => Number(e.object.metadata.resourceVersion));
  expect([...rvs].sort((a, b) => a - b)).toEqual(rvs);
});

it('resumes from a resourceVersion with exactly the later changes', async () => {
  const list = await v.call('GET', `${G}/namespaces/w/virtualnetworks`);
  const rv = list.json.metadata.resourceVersion;
  await create('third');
  await v.call('PATCH', `${G}/namespaces/w/virtualnetworks/third`, { metadata: { labels: { x: 'y' } } }, { contentType: 'application/merge-patch+json' });
  const { events } = await watch(`${G}/namespaces/w/virtualnetworks?watch=true&resourceVersion=${rv}`, (e) => e.some((x) => x.type === 'MODIFIED' && x.object.metadata.name === 'third' && JSON.stringify(x.object).includes('"x":"y"')));
  expect(names(events)[0]).toBe('ADDED third');
  expect(events.every((e) => Number(e.object.metadata.resourceVersion) > Number(rv))).toBe(true);
});

it('applies label selectors to both sides of a change', async () => {
  const rv = (await v.call('GET', `${G}/namespaces/w/virtualnetworks`)).json.metadata.resourceVersion;
  await create('sel', { app: 'web' });
  const patched = await v.call('PATCH', `${G}/namespaces/w/virtualnetworks/sel`, { metadata: { labels: { app: 'db' } } }, { contentType: 'application/merge-patch+json' });
  const { events } = await watch(`${G}/namespaces/w/virtualnetworks?watch=true&resourceVersion=${rv}&labelSelector=app%3Dweb`, (e) => e.some((x) => x.type === 'DELETED'));
  const seen = names(events).filter((s) => s.endsWith(' sel'));
  expect(seen[0]).toBe('ADDED sel');
  expect(seen[seen.length - 1]).toBe('DELETED sel');
  // The object as the selector matched it, at the change's revision (as kube-apiserver sends it).
  const left = events.filter((e) => e.object.metadata.name === 'sel').at(-1)!;
  expect(left.object.metadata.labels).toEqual({ app: 'web' });
  expect(left.object.metadata.resourceVersion).toBe(patched.json.metadata.resourceVersion);
});

it('applies field selectors to both sides of a live change (an agent\'s watch of its node)', async () => {
  for (const [name, tunnelIP] of [['hv1', '192.0.2.1'], ['hv2', '192.0.2.2']]) await v.call('POST', `${G}/nodes`, { metadata: { name }, spec: { tunnelIP } });
  await v.call('POST', `${G}/namespaces/w/virtualnetworks`, { metadata: { name: 'fs' }, spec: { subnets: [{ cidr: '10.7.0.0/24' }] } });
  const port = (name: string, node: string) => v.call('POST', `${G}/namespaces/w/virtualports`, { metadata: { name }, spec: { network: 'fs', node } });
  const move = (name: string, node: string) => v.call('PATCH', `${G}/namespaces/w/virtualports/${name}`, { spec: { node } }, { contentType: 'application/merge-patch+json' });
  const done = (e: Event[]) => e.some((x) => x.type === 'DELETED' && x.object.metadata.name === 'mover');
  const here = watch(`${G}/namespaces/w/virtualports?watch=true&fieldSelector=spec.node%3Dhv1`, done);
  const network = watch(`${G}/namespaces/w/virtualports?watch=true&fieldSelector=spec.network%3Dfs`, done);
  const other = watch(`${G}/namespaces/w/virtualports?watch=true&fieldSelector=spec.network%3Dnot-fs`, () => false, undefined, 1500);
  await new Promise((r) => setTimeout(r, 200));
  expect((await port('stay', 'hv1')).status).toBe(201);
  expect((await port('mover', 'hv2')).status).toBe(201);
  expect((await move('mover', 'hv1')).status).toBe(200); // enters the selection by an update
  expect((await move('stay', 'hv2')).status).toBe(200); // leaves it
  expect((await v.call('DELETE', `${G}/namespaces/w/virtualports/mover`)).status).toBe(200);
  const seen = names((await here).events).filter((s) => !s.startsWith('MODIFIED'));
  expect(seen).toEqual(['ADDED stay', 'ADDED mover', 'DELETED stay', 'DELETED mover']);
  const ofNetwork = names((await network).events).filter((s) => !s.startsWith('MODIFIED'));
  expect(ofNetwork).toEqual(['ADDED stay', 'ADDED mover', 'DELETED mover']);
  expect((await other).events).toEqual([]);
}, 20_000);

it('answers 400 to a field label the kind does not have, in a list, a watch or a deletecollection, as kube-apiserver does (QA-134 F5: spec.network on networks selected nothing, != everything)', async () => {
  await create('f5');
  for (const path of [
    `${G}/virtualnetworks?fieldSelector=spec.network%3Dblue`,
    `${G}/namespaces/w/virtualnetworks?fieldSelector=spec.interfaceId!%3Dx`,
    `${G}/namespaces/w/virtualnetworks?watch=true&fieldSelector=spec.network%3Df5`,
    `${G}/namespaces/w/loadbalancers?watch=true&fieldSelector=spec.node%3Dhv1`,
    `${G}/nodes?fieldSelector=status.node%3Dhv1`,
  ]) {
    const res = await v.call('GET', path);
    expect(res.json).toMatchObject({ kind: 'Status', code: 400, reason: 'BadRequest', message: `field label not supported: ${/fieldSelector=([a-zA-Z.]+)/.exec(path)![1]}` });
  }
  const del = await v.call('DELETE', `${G}/namespaces/w/virtualnetworks?fieldSelector=spec.interfaceId!%3Dx`);
  expect(del.status).toBe(400);
  expect((await v.call('GET', `${G}/namespaces/w/virtualnetworks/f5`)).status).toBe(200);
  // What vnetd's agents select on stays: a network by name, its ports and load balancers by network, ports by node, binding and NIC.
  for (const path of [
    `${G}/namespaces/w/virtualnetworks?fieldSelector=metadata.name%3Df5`,
    `${G}/namespaces/w/virtualports?fieldSelector=spec.network%3Df5`,
    `${G}/namespaces/w/loadbalancers?fieldSelector=spec.network%3Df5`,
    `${G}/virtualports?fieldSelector=spec.node%3Dhv1`,
    `${G}/virtualports?fieldSelector=status.node%3Dhv1,spec.node%3D`,
    `${G}/virtualports?fieldSelector=spec.interfaceId%3Dnic-1,spec.node%3D`,
    `${G}/accesstokens?fieldSelector=spec.node%3Dhv1`,
  ]) expect([path, (await v.call('GET', path)).status]).toEqual([path, 200]);
  const named = await v.call('GET', `${G}/namespaces/w/virtualnetworks?fieldSelector=metadata.name%3Df5`);
  expect(named.json.items.map((o: { metadata: { name: string } }) => o.metadata.name)).toEqual(['f5']);
});

it('sends BOOKMARK events when asked', async () => {
  const { events } = await watch(`${G}/namespaces/w/virtualnetworks?watch=true&allowWatchBookmarks=true&resourceVersion=1`, (e) => e.some((x) => x.type === 'BOOKMARK'));
  const bm = events.find((e) => e.type === 'BOOKMARK')!;
  expect(Number(bm.object.metadata.resourceVersion)).toBeGreaterThan(1);
});

it('answers 410 Gone for a resourceVersion older than the retained history', async () => {
  await create('before-compaction');
  const old = (await v.call('GET', `${G}/namespaces/w/virtualnetworks`)).json.metadata.resourceVersion;
  await create('after-compaction');
  await v.objects.kv.compact(await v.objects.kv.currentRevision());
  const r = await v.call('GET', `${G}/namespaces/w/virtualnetworks?watch=true&resourceVersion=${old}`);
  expect(r.status).toBe(410);
  expect(r.json).toMatchObject({ kind: 'Status', code: 410, reason: 'Expired' });
  const list = await v.call('GET', `${G}/namespaces/w/virtualnetworks?limit=1`);
  const page = await v.call('GET', `${G}/namespaces/w/virtualnetworks?limit=1&continue=${list.json.metadata.continue}`);
  expect(page.status).toBe(200);
  await create('later');
  await v.objects.kv.compact(await v.objects.kv.currentRevision());
  const stale = await v.call('GET', `${G}/namespaces/w/virtualnetworks?limit=1&continue=${list.json.metadata.continue}`);
  expect(stale.status).toBe(410);
});

it('streams a list and its watch in one request (sendInitialEvents): the objects, the bookmark that ends them, then changes', async () => {
  await create('wl-a');
  await create('wl-b');
  const path = `${G}/namespaces/w/virtualnetworks?watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true&fieldSelector=metadata.name!%3Dnone`;
  const listed = await v.call('GET', `${G}/namespaces/w/virtualnetworks`);
  const created = create('wl-c');
  const r = await watch(path, (evs) => evs.some((e) => e.type === 'ADDED' && e.object.metadata.name === 'wl-c' && evs.some((b) => b.type === 'BOOKMARK')));
  await created;
  expect(r.status).toBe(200);
  const end = r.events.findIndex((e) => e.type === 'BOOKMARK' && (e.object.metadata as { annotations?: Record<string, string> }).annotations?.['k8s.io/initial-events-end'] === 'true');
  expect(end).toBeGreaterThan(0);
  const initial = r.events.slice(0, end);
  expect(initial.every((e) => e.type === 'ADDED')).toBe(true);
  expect(names(initial)).toEqual(expect.arrayContaining(['ADDED wl-a', 'ADDED wl-b']));
  // The bookmark's revision is the initial state's: not older than a list made before.
  expect(Number(r.events[end]!.object.metadata.resourceVersion)).toBeGreaterThanOrEqual(Number(listed.json.metadata.resourceVersion));
  // wl-c is either in the initial state or a change after it, once.
  expect(names(r.events).filter((n) => n === 'ADDED wl-c')).toHaveLength(1);

  // Without initial events, from the latest revision: nothing but what comes next.
  const quiet = await watch(`${G}/namespaces/w/virtualnetworks?watch=true&sendInitialEvents=false&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true`, () => false, undefined, 600);
  expect(names(quiet.events).filter((n) => n.startsWith('ADDED'))).toEqual([]);

  // What kube-apiserver refuses.
  const refused = async (query: string, status: number, message: RegExp) => {
    const res = await v.call('GET', `${G}/namespaces/w/virtualnetworks?${query}`);
    expect(res.status).toBe(status);
    expect(res.json.message).toMatch(message);
  };
  await refused('watch=true&sendInitialEvents=true&allowWatchBookmarks=true', 422, /sendInitialEvents requires setting resourceVersionMatch to NotOlderThan/);
  await refused('watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan', 422, /allowWatchBookmarks: Forbidden: sendInitialEvents requires setting allowWatchBookmarks to true/);
  await refused('sendInitialEvents=true&resourceVersionMatch=NotOlderThan&resourceVersion=1', 400, /sendInitialEvents is only supported for watch requests/);
  await refused('watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true&resourceVersion=99999999', 504, /Too large resource version/);
});

it('answers a resourceVersion from the future as kube-apiserver does (504, retry), and refuses a malformed one', async () => {
  const ahead = await v.call('GET', `${G}/namespaces/w/virtualnetworks?watch=true&resourceVersion=999999`);
  expect(ahead.status).toBe(504);
  expect(ahead.json).toMatchObject({ reason: 'Timeout', details: { causes: [{ reason: 'ResourceVersionTooLarge' }] } });
  expect((await v.call('GET', `${G}/namespaces/w/virtualnetworks?watch=true&resourceVersion=abc`)).status).toBe(400);
});

it('serves watches over HTTP/2 too, and shutting down ends open sessions at once (Node 20 waits 72 s for idle ones)', async () => {
  const own = await startTestVnetd();
  const session = connect(own.url, { ca: own.caCertPem });
  session.on('error', () => undefined);
  try {
    await own.call('POST', '/api/v1/namespaces', { metadata: { name: 'h2' } });
    const lines: string[] = [];
    const stream = session.request({ ':path': `${G}/namespaces/h2/virtualnetworks?watch=true`, authorization: `Bearer ${own.adminToken}` });
    stream.setEncoding('utf8');
    stream.on('data', (d: string) => lines.push(...d.split('\n').filter(Boolean)));
    stream.end();
    await new Promise((r) => setTimeout(r, 200));
    await own.call('POST', `${G}/namespaces/h2/virtualnetworks`, { metadata: { name: 'over-h2' }, spec: { subnets: [{ cidr: '10.8.0.0/24' }] } });
    await eventually(async () => lines.some((l) => l.includes('"over-h2"')));
    expect(JSON.parse(lines[0]!)).toMatchObject({ type: 'ADDED', object: { metadata: { name: 'over-h2' } } });
  } finally {
    const t0 = Date.now();
    await own.stop();
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(session.closed || session.destroyed).toBe(true);
  }
}, 20_000);

it('timeoutSeconds=0 is the default timeout, as kube-apiserver reads it, not "end at once"', async () => {
  const p = watch(`${G}/namespaces/w/virtualnetworks?watch=true&resourceVersion=0&timeoutSeconds=0`, (e) => e.some((x) => x.object.metadata?.name === 'tzero'), undefined, 5000);
  await new Promise((r) => setTimeout(r, 500));
  await create('tzero');
  expect(names((await p).events)).toContain('ADDED tzero');
});

it('bookmarks move on with the store while nothing the watch selects changes (a name selector, other objects written)', async () => {
  await create('bm-watched');
  // Once the reconcilers are done with it (its status written): nothing more of it comes.
  const rvOf = async () => (await v.call('GET', `${G}/namespaces/w/virtualnetworks/bm-watched`)).json.metadata.resourceVersion as string;
  for (let last = ''; ; ) {
    await new Promise((r) => setTimeout(r, 400));
    const now = await rvOf();
    if (now === last) break;
    last = now;
  }
  const from = Number((await v.call('GET', `${G}/namespaces/w/virtualnetworks`)).json.metadata.resourceVersion);
  // A bookmark may come before the writes below are done: until then none is far enough.
  let after = Infinity;
  const p = watch(`${G}/namespaces/w/virtualnetworks?watch=true&allowWatchBookmarks=true&resourceVersion=${from}&fieldSelector=metadata.name%3Dbm-watched`, (e) => e.some((x) => x.type === 'BOOKMARK' && Number(x.object.metadata.resourceVersion) >= after), undefined, 4000);
  // Other objects of the same kind and namespace: none of them is this watch's.
  for (const n of ['bm-other-1', 'bm-other-2']) await create(n);
  after = Number((await v.call('GET', `${G}/namespaces/w/virtualnetworks/bm-other-2`)).json.metadata.resourceVersion);
  const { events } = await p;
  expect(events.filter((e) => e.type !== 'BOOKMARK')).toEqual([]);
  const marks = events.filter((e) => e.type === 'BOOKMARK').map((e) => Number(e.object.metadata.resourceVersion));
  // Before: every bookmark said `from`, the last event the watch had seen.
  expect(Math.max(...marks)).toBeGreaterThanOrEqual(after);
});

it('closes a watch whose client stopped reading once its unsent events stay over 4 MiB (VNETD_WATCH_STALL_MS), and not one that reads', async () => {
  const open = async () => Number(/^vnetd_apiserver_longrunning_requests\{verb="watch",resource="virtualnetworks"\} (\d+)$/m.exec((await v.call('GET', '/metrics')).text)?.[1] ?? 0);
  await create('stall');
  const before = await open();
  process.env.VNETD_WATCH_STALL_MS = '1000';
  const stopped = request(new URL(`${G}/namespaces/w/virtualnetworks?watch=true&fieldSelector=metadata.name%3Dstall`, v.url), { ca: v.caCertPem, headers: { authorization: `Bearer ${v.adminToken}` } }, (res) => {
    res.pause(); // a client that stops reading (QA: vnetd held every event for it, 100 MB and more)
  });
  stopped.on('error', () => undefined);
  stopped.end();
  const reading = watch(`${G}/namespaces/w/virtualnetworks?watch=true&fieldSelector=metadata.name%3Dstall`, (e) => e.filter((x) => x.type === 'MODIFIED').length >= 150, undefined, 60_000);
  try {
    await eventually(async () => (await open()) === before + 2, 5_000, 20);
    for (let i = 0; i < 150; i++) {
      const r = await v.call('PATCH', `${G}/namespaces/w/virtualnetworks/stall`, { metadata: { annotations: { big: `${i}`.padEnd(230 * 1024, 'x') } } }, { contentType: 'application/merge-patch+json' });
      expect(r.status).toBe(200);
    }
    // The stopped one goes; the one that reads got every change and is still open.
    await eventually(async () => (await open()) === before + 1, 15_000, 50);
    const { events } = await reading;
    expect(events.filter((x) => x.type === 'MODIFIED').length).toBeGreaterThanOrEqual(150);
  } finally {
    delete process.env.VNETD_WATCH_STALL_MS;
    stopped.destroy();
  }
}, 60_000);
