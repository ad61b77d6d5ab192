/**
 * vnetctl wait and get -w while the vnetd they talk to goes away: a TCP relay in front of
 * a real vnetd plays the replica (cut: every connection reset and new ones refused; then
 * listening again on the same port), as kubectl's watches ride out a failover.
 */
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually, startTestVnetd, type TestVnetd } from '../support/vnetd';
import { cliRunner, type CliRunner } from './cli-support';

const G = '/apis/vnet.dev/v1alpha1';
let v: TestVnetd;
let cli: CliRunner;
let tmp: string;

/** A replica stand-in: forwards TCP to vnetd until cut, and again after listen() on its old port. */
class Relay {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  port = 0;

  constructor(private readonly targetPort: number) {}

  async listen(): Promise<void> {
    const server = createServer((client) => {
      const upstream = connect(this.targetPort, '127.0.0.1');
      const end = () => {
        client.destroy();
        upstream.destroy();
      };
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('error', end).on('close', () => {
          this.sockets.delete(s);
          end();
        });
      }
      client.pipe(upstream);
      upstream.pipe(client);
    });
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve));
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  /** The replica dies: open connections are reset, new ones refused. */
  async cut(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const s of this.sockets) s.resetAndDestroy();
    if (server) await new Promise((resolve) => server.close(resolve));
  }

  get open(): number {
    return this.sockets.size;
  }

  /** A kubeconfig for vnetd through this relay, with the admin token or the one given. */
  kubeconfig(name: string, token?: string): string {
    let text = readFileSync(v.kubeconfigPath, 'utf8').replace(v.url, `https://127.0.0.1:${this.port}`);
    if (token) text = text.replace(v.adminToken, token);
    const path = join(tmp, `${name}.kubeconfig`);
    writeFileSync(path, text);
    return path;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function relayed(): Promise<Relay> {
  const relay = new Relay(Number(new URL(v.url).port));
  await relay.listen();
  relays.push(relay);
  return relay;
}
const relays: Relay[] = [];

async function createNetwork(ns: string, name: string, cidr: string): Promise<void> {
  const r = await v.call('POST', `${G}/namespaces/${ns}/virtualnetworks`, { metadata: { name }, spec: { subnets: [{ cidr }] } });
  expect(r.status).toBe(201);
}

/** Sets a condition nobody else writes, so the test alone decides when a wait is met. */
async function setReviewed(ns: string, name: string): Promise<void> {
  const cur = (await v.call('GET', `${G}/namespaces/${ns}/virtualnetworks/${name}`)).json as { status?: { conditions?: unknown[] } };
  const conditions = [...(cur.status?.conditions ?? []), { type: 'Reviewed', status: 'True', reason: 'Test', message: 'reviewed by the test', lastTransitionTime: new Date().toISOString() }];
  const r = await v.call('PATCH', `${G}/namespaces/${ns}/virtualnetworks/${name}/status`, { status: { conditions } }, { contentType: 'application/merge-patch+json' });
  expect(r.status).toBe(200);
}

/** Waits until the CLI holds a connection through the relay (its watch), and a little more for the watch to be registered. */
async function watching(relay: Relay): Promise<void> {
  await eventually(async () => relay.open > 0, 10_000);
  await sleep(700);
}

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'vnetctl-failover-'));
  v = await startTestVnetd();
  for (const ns of ['f1', 'f2', 'f3']) expect((await v.call('POST', '/api/v1/namespaces', { metadata: { name: ns } })).status).toBe(201);
  cli = await cliRunner({});
});
afterAll(async () => {
  for (const r of relays) await r.cut();
  await v.stop();
  rmSync(tmp, { recursive: true, force: true });
});

describe('vnetctl wait across a lost replica', () => {
  it('keeps waiting while vnetd is unreachable and sees the condition met once it is back', async () => {
    await createNetwork('f1', 'fo', '10.70.0.0/24');
    const relay = await relayed();
    const kc = relay.kubeconfig('wait-back');
    const waiting = cli.run(['wait', 'vnet', 'fo', '-n', 'f1', '--for', 'condition=Reviewed', '--timeout', '30s', '--kubeconfig', kc]);
    await watching(relay);
    await relay.cut();
    await sleep(1500);
    await relay.listen();
    await setReviewed('f1', 'fo');
    const r = await waiting;
    expect(r).toEqual({ code: 0, stdout: 'virtualnetwork.vnet.dev/fo condition met (Reviewed=True)\n', stderr: '' });
  });

  it('fails at its --timeout with one line naming what it waited for and the last error when vnetd does not come back', async () => {
    await createNetwork('f1', 'nb', '10.71.0.0/24');
    const relay = await relayed();
    const kc = relay.kubeconfig('wait-gone');
    const t0 = Date.now();
    const waiting = cli.run(['wait', 'vnet', 'nb', '-n', 'f1', '--for', 'condition=Reviewed', '--timeout', '5s', '--kubeconfig', kc]);
    await watching(relay);
    await relay.cut();
    const r = await waiting;
    const took = Date.now() - t0;
    expect({ code: r.code, stdout: r.stdout }).toEqual({ code: 1, stdout: '' });
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^error: timed out after 5s waiting for virtualnetwork\.vnet\.dev\/nb condition Reviewed=True \(last error: cannot reach vnetd at https:\/\/127\.0\.0\.1:\d+ \([^)]*ECONNREFUSED[^)]*\)\): when last seen, it has no Reviewed condition yet; check that vnetd is running/);
    expect(took).toBeGreaterThanOrEqual(4500);
    expect(took).toBeLessThan(12_000);
  });
});

describe('vnetctl get -w across a lost replica', () => {
  it('resumes from the last resourceVersion: an object made while vnetd was unreachable and one made after are each printed once', async () => {
    await createNetwork('f2', 'w1', '10.72.0.0/24');
    const relay = await relayed();
    const kc = relay.kubeconfig('get-w');
    // vnetctl watch is the same stream under its own name.
    const watches = [cli.start(['get', 'vnet', '-n', 'f2', '-w', '--output-watch-events', '--kubeconfig', kc]), cli.start(['watch', 'vnet', '-n', 'f2', '--kubeconfig', kc])];
    for (const w of watches) await w.until(/ADDED +w1 /);
    await watching(relay);
    await relay.cut();
    await createNetwork('f2', 'w2', '10.73.0.0/24');
    await sleep(1500);
    await relay.listen();
    await createNetwork('f2', 'w3', '10.74.0.0/24');
    for (const w of watches) await w.until(/ADDED +w3 /);
    for (const r of await Promise.all(watches.map((w) => w.interrupt()))) {
      expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
      expect(r.stdout).toMatch(/^EVENT +NAME +VNI /);
      const added = r.stdout.split('\n').filter((l) => l.startsWith('ADDED')).map((l) => l.split(/ +/)[1]);
      expect(added).toEqual(['w1', 'w2', 'w3']);
    }
  });

  it('gives up with one line when the reconnect is refused for good (its token was deleted meanwhile)', async () => {
    const token = await v.tenantToken('failover-tenant', ['f3']);
    const relay = await relayed();
    // run, not start: it must end by itself.
    const watching401 = cli.run(['get', 'vnet', '-n', 'f3', '-w', '--kubeconfig', relay.kubeconfig('get-w-401', token)]);
    await watching(relay);
    await relay.cut();
    expect((await v.call('DELETE', `${G}/accesstokens/failover-tenant`)).status).toBe(200);
    await relay.listen();
    const r = await watching401;
    expect({ code: r.code, stdout: r.stdout }).toEqual({ code: 1, stdout: '' });
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^error: cannot watch virtualnetworks in namespace "f3": .*; the token in .* is wrong, expired or was deleted/);
  });
});
