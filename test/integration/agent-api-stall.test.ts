/**
 * An agent that did not run while its controller restarted (QA-117 F3: `kill -STOP` of the
 * agent, the controller killed and started again, `kill -CONT` 77 s later) is working again
 * within a couple of seconds of resuming, not after its regular ping's 15 s timeout.
 *
 * The agent's client runs in a child process the test stops by its PID. It reaches the API
 * through a relay in this process, which "restarts the controller" while the child is
 * stopped: its connections end, either with a FIN (the old process's kernel closed them) or
 * with nothing at all (nothing answers for the old connection, as QA saw), and new
 * connections reach the API as before.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { join, resolve } from 'node:path';
import { eventually, startTestVnetd, type TestVnetd } from '../support/vnetd';

const ROOT = resolve(__dirname, '../..');
const WATCHER = join(ROOT, 'test/fixtures/api-watcher.ts');
const G = '/apis/vnet.dev/v1alpha1';
/** How long the child is stopped: past its client's stall threshold (3 s) and a regular ping (every 3 s there). */
const STOP_MS = 4000;

interface Relay {
  server: Server;
  port: number;
  /** Connections made through it so far. */
  accepted(): number;
  /** The controller restarts: every current connection ends, with a FIN or silently. */
  restart(how: 'fin' | 'silent'): void;
  close(): Promise<void>;
}

async function startRelay(apiPort: number): Promise<Relay> {
  const live = new Set<{ client: Socket; upstream: Socket }>();
  // Client ends of silenced connections: held open, read and never answered, until the end.
  const mute: Socket[] = [];
  let accepted = 0;
  const server = createServer((client) => {
    accepted++;
    const upstream = connect(apiPort, '127.0.0.1');
    const pair = { client, upstream };
    live.add(pair);
    client.on('data', (d) => void (live.has(pair) && upstream.write(d)));
    upstream.on('data', (d) => void (live.has(pair) && client.write(d)));
    const end = () => {
      if (!live.delete(pair)) return;
      client.destroy();
      upstream.destroy();
    };
    for (const s of [client, upstream]) s.on('error', end).on('close', end);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    server,
    port: (server.address() as AddressInfo).port,
    accepted: () => accepted,
    restart(how) {
      for (const pair of [...live]) {
        live.delete(pair);
        pair.upstream.destroy();
        if (how === 'fin') pair.client.destroy();
        else mute.push(pair.client);
      }
    },
    async close() {
      for (const s of mute) s.destroy();
      for (const pair of live) (pair.client.destroy(), pair.upstream.destroy());
      await new Promise((r) => server.close(r));
    },
  };
}

let v: TestVnetd;
let caFile: string;
beforeAll(async () => {
  v = await startTestVnetd({ bookmarkIntervalMs: 500 });
  caFile = join(v.dataDir, 'qf3-ca.pem');
  writeFileSync(caFile, v.caCertPem);
});
afterAll(async () => v.stop());

function startWatcher(url: string): { child: ChildProcess; lines: string[]; stderr: () => string } {
  const child = spawn(process.execPath, ['--import', 'tsx', WATCHER, url, caFile, v.adminToken], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  let partial = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => {
    const parts = (partial + d.toString('utf8')).split('\n');
    partial = parts.pop() ?? '';
    lines.push(...parts);
  });
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
  return { child, lines, stderr: () => stderr };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Starts the watcher through a relay, stops it for STOP_MS during which the controller
 * "restarts" (unless how is 'none') and a Node is created, resumes it, and measures how long
 * after SIGCONT the watcher reports that Node (up to 25 s: long enough to see the old ~15 s).
 */
async function stopAndResume(how: 'fin' | 'silent' | 'none'): Promise<{ tookMs?: number; reconnected: boolean; log: string }> {
  const relay = await startRelay(Number(new URL(v.url).port));
  const { child, lines, stderr } = startWatcher(`https://127.0.0.1:${relay.port}`);
  const name = `qf3-${how}`;
  try {
    await eventually(async () => lines.includes('SYNCED'), 30_000);
    const before = relay.accepted();
    process.kill(child.pid!, 'SIGSTOP');
    const stoppedAt = performance.now();
    if (how !== 'none') relay.restart(how);
    expect((await v.call('POST', `${G}/nodes`, { metadata: { name }, spec: { tunnelIP: '192.0.2.117' } })).status).toBe(201);
    await sleep(STOP_MS - (performance.now() - stoppedAt));
    process.kill(child.pid!, 'SIGCONT');
    const resumedAt = performance.now();
    const seen = await eventually(async () => lines.includes(`PUT ${name}`), 25_000, 10).then(() => true, () => false);
    const tookMs = seen ? Math.round(performance.now() - resumedAt) : undefined;
    return { tookMs, reconnected: relay.accepted() > before, log: stderr() };
  } finally {
    child.kill('SIGKILL');
    await relay.close();
    await v.call('DELETE', `${G}/nodes/${name}`);
  }
}

// A FIN is read as soon as the child runs; silence takes the ping sent on resuming (2 s
// timeout). Either way far from the 15 s of the regular ping's timeout silence took before.
it.each([
  ['with a FIN (the old controller process closed them)', 'fin', 1500],
  ['silently (nothing answers for the old connection)', 'silent', 3500],
] as const)('an agent stopped while its controller restarts, its connections ended %s, sees what changed within a couple of seconds of resuming, over a new connection', async (_what, how, withinMs) => {
  const { tookMs, reconnected, log } = await stopAndResume(how);
  if (tookMs === undefined || tookMs > withinMs) throw new Error(`the watcher saw the node ${tookMs === undefined ? 'not within 25 s' : `${tookMs} ms`} after resuming (expected within ${withinMs} ms); its log:\n${log}`);
  expect(reconnected).toBe(true);
}, 60_000);

it('an agent stopped while its controller stays up keeps its connection (the ping after the stall is answered)', async () => {
  const { tookMs, reconnected, log } = await stopAndResume('none');
  if (tookMs === undefined || tookMs > 1500) throw new Error(`the watcher saw the node ${tookMs === undefined ? 'not within 25 s' : `${tookMs} ms`} after resuming (expected within 1500 ms); its log:\n${log}`);
  expect(reconnected).toBe(false);
  expect(log).toMatch(/did not run for \d+ ms \(stopped or starved\); checking its connections/);
  expect(log).not.toMatch(/did not answer a ping/);
}, 60_000);
