/**
 * Shared by the chaos tests: vnetd processes (controllers, agents) started for real from
 * the esbuild bundle, as `npm start` and the systemd units run vnetd, and killed by PID; a
 * steady load of API writes whose acknowledged results are checked afterwards; a role
 * monitor polling every replica's /readyz; and a 10 ms ping between two VMs whose losses
 * are counted by icmp_seq.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync } from 'node:fs';
import { request } from 'node:https';
import net from 'node:net';
import { join, resolve } from 'node:path';
import type { Vm } from '../harness/testbed';
import { judgePings, pingArgs } from '../support/ping';
import { eventually, httpsCall, readKubeconfig, type ApiResponse } from '../support/vnetd';

const ROOT = resolve(__dirname, '..', '..');
export const G = '/apis/vnet.dev/v1alpha1';

export function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const a = srv.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      srv.close(() => res(port));
    });
  });
}

export interface Proc {
  readonly name: string;
  child: ChildProcess;
  readonly logPath: string;
  alive(): boolean;
  kill(signal: NodeJS.Signals): Promise<void>;
}

let logCount = 0;
let bundle: string | undefined;

/**
 * The sources bundled as `npm run build:app` does (the bundle without its code-cache entry,
 * src/app/launch.ts), once per test process, into
 * dist/chaos beside dist/bundle (the same depth: the bundle finds schemas/ and native/
 * relative to itself), so that a build running beside it changes nothing here. Under tsx
 * a process spent 3-5 s transpiling before its first log line, which the restart figures
 * printed here then mostly measured.
 */
function vnetdBundle(): string {
  if (bundle) return bundle;
  const out = join(ROOT, 'dist', 'chaos', 'vnetd.js');
  execFileSync('npm', ['run', '--silent', 'build:app', '--', `--outfile=${out}`], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
  return (bundle = out);
}

/** Spawns `node <bundle> ARGS` (see vnetdBundle) with its output in dataDir/NAME-N.log. */
export function spawnVnetd(name: string, args: string[], env: Record<string, string>, logDir: string): Proc {
  const logPath = join(logDir, `${name}-${++logCount}.log`);
  const log = openSync(logPath, 'w');
  const child = spawn(process.execPath, [vnetdBundle(), ...args], {
    cwd: ROOT,
    env: { ...process.env, VNETD_LOG_LEVEL: process.env.VNETD_TEST_LOG ?? 'info', ...env },
    stdio: ['ignore', log, log],
  });
  closeSync(log);
  const p: Proc = {
    name,
    child,
    logPath,
    alive: () => p.child.exitCode === null && p.child.signalCode === null,
    kill: (signal) =>
      p.alive()
        ? new Promise<void>((r) => {
            p.child.once('exit', () => r());
            p.child.kill(signal);
          })
        : Promise.resolve(),
  };
  return p;
}

export interface Controller extends Proc {
  readonly url: string;
  /** Role from /readyz: true leader, false standby, undefined not answering (within 1 s). */
  role(): Promise<boolean | undefined>;
}

export interface ControllerSpec {
  name: string;
  port: number;
  dataDir: string;
  etcd: string[];
  env?: Record<string, string>;
}

export function startController(spec: ControllerSpec): Controller {
  const url = `https://127.0.0.1:${spec.port}`;
  const proc = spawnVnetd(spec.name, ['controller'], {
    VNETD_STORE: `etcd://${spec.etcd.map((e) => e.replace(/^https?:\/\//, '')).join(',')}`,
    VNETD_LISTEN: `127.0.0.1:${spec.port}`,
    VNETD_DATA_DIR: spec.dataDir,
    ...spec.env,
  }, spec.dataDir);
  return Object.assign(proc, {
    url,
    role: () =>
      new Promise<boolean | undefined>((res) => {
        const req = request(`${url}/readyz`, { rejectUnauthorized: false, timeout: 1000 }, (r) => {
          r.resume();
          r.on('end', () => res(r.statusCode === 200 ? r.headers['x-vnetd-leader'] === 'true' : undefined));
        });
        req.on('error', () => res(undefined));
        req.on('timeout', () => {
          req.destroy();
          res(undefined);
        });
        req.end();
      }),
  });
}

export interface Credentials {
  ca: string;
  token: string;
}

/** CA and admin token from the kubeconfig the controllers share (written by the first one). */
export async function readCredentials(dataDir: string): Promise<Credentials> {
  const path = join(dataDir, 'admin.kubeconfig');
  await eventually(async () => existsSync(path), 60_000, 50);
  const { ca, token } = readKubeconfig(path);
  return { ca, token };
}

export function api(url: () => string, creds: Credentials) {
  return (method: string, path: string, body?: unknown): Promise<ApiResponse> => httpsCall(url(), creds.ca, method, path, body, { defaultToken: creds.token });
}

/**
 * Creates ports in `ns/network` from `workers` loops, each request to the next replica
 * that answers. Acknowledged = 201; check() verifies every one is stored with the address
 * it was acknowledged with, nothing unattempted exists, and no address is given twice.
 */
export class WriteLoad {
  readonly acked = new Map<string, string>();
  readonly attempted = new Set<string>();
  failures = 0;
  private stopping = false;
  private loops: Promise<void>[] = [];
  private seq = 0;

  constructor(
    private readonly replicas: () => Controller[],
    private readonly creds: Credentials,
    private readonly ns: string,
    private readonly network: string,
    private readonly tag: string,
  ) {}

  start(workers = 2): void {
    this.stopping = false;
    this.loops = Array.from({ length: workers }, (_, w) => this.loop(w));
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(this.loops);
  }

  private async loop(w: number): Promise<void> {
    let r = w;
    while (!this.stopping) {
      const live = this.replicas().filter((c) => c.alive());
      if (!live.length) {
        await new Promise((x) => setTimeout(x, 50));
        continue;
      }
      const target = live[r++ % live.length]!;
      const name = `${this.tag}-${w}-${this.seq++}`;
      this.attempted.add(name);
      try {
        const res = await withTimeout(api(() => target.url, this.creds)('POST', `${G}/namespaces/${this.ns}/virtualports`, { metadata: { name }, spec: { network: this.network } }), 10_000);
        if (res.status === 201) this.acked.set(name, res.json.spec.ips[0]);
        else {
          this.failures++;
          await new Promise((x) => setTimeout(x, 50));
        }
      } catch {
        this.failures++;
        await new Promise((x) => setTimeout(x, 50));
      }
    }
  }

  /** Throws with the first problem found; returns counts. */
  async check(call: (m: string, p: string) => Promise<ApiResponse>): Promise<{ acked: number; stored: number; extra: number }> {
    const list = await call('GET', `${G}/namespaces/${this.ns}/virtualports`);
    if (list.status !== 200) throw new Error(`list failed: ${list.status} ${list.text}`);
    const items = list.json.items as Array<{ metadata: { name: string }; spec: { ips: string[] } }>;
    const stored = new Map(items.map((p) => [p.metadata.name, p.spec.ips[0]!]));
    for (const [name, ip] of this.acked) {
      if (stored.get(name) !== ip) throw new Error(`acknowledged write lost or changed: ${name} ${ip} -> ${stored.get(name) ?? 'missing'}`);
    }
    const mine = [...stored.keys()].filter((n) => n.startsWith(`${this.tag}-`));
    for (const n of mine) if (!this.attempted.has(n)) throw new Error(`port ${n} was never attempted`);
    const ips = [...stored.values()];
    const dup = ips.find((ip, i) => ips.indexOf(ip) !== i);
    if (dup) throw new Error(`address ${dup} handed out twice`);
    return { acked: this.acked.size, stored: mine.length, extra: mine.filter((n) => !this.acked.has(n)).length };
  }
}

export function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let t: NodeJS.Timeout;
  return Promise.race([p, new Promise<never>((_, rej) => (t = setTimeout(() => rej(new Error(`timed out after ${ms} ms`)), ms)))]).finally(() => clearTimeout(t));
}

/** Polls every replica's role every 50 ms; answers when leadership was (re)established. */
export class RoleMonitor {
  private timer?: NodeJS.Timeout;
  /** Time (performance.now) of each poll and which replicas said leader. */
  readonly samples: Array<{ at: number; leaders: string[] }> = [];

  constructor(private readonly replicas: () => Controller[]) {}

  start(): void {
    const tick = async () => {
      const cs = this.replicas().filter((c) => c.alive());
      const roles = await Promise.all(cs.map((c) => c.role()));
      this.samples.push({ at: performance.now(), leaders: cs.filter((_, i) => roles[i] === true).map((c) => c.name) });
      this.timer = setTimeout(() => void tick(), 50);
    };
    void tick();
  }

  stop(): void {
    clearTimeout(this.timer);
  }

  /** First time after `since` that a replica other than `not` (or any, if not given) says leader. */
  async leaderAfter(since: number, not: string | undefined, timeoutMs: number): Promise<{ name: string; at: number }> {
    return eventually(async () => {
      const s = this.samples.find((x) => x.at >= since && x.leaders.some((l) => l !== not));
      return s ? { name: s.leaders.find((l) => l !== not)!, at: s.at } : undefined;
    }, timeoutMs, 25);
  }

  /** Polls at which two replicas both said leader (since `since`). */
  splitBrain(since: number): number {
    return this.samples.filter((s) => s.at >= since && s.leaders.length > 1).length;
  }
}

/** `count` pings 10 ms apart from a to b; done() resolves with what was lost of them, by icmp_seq. */
export function startPing(a: Vm, b: Vm, count: number, track: Set<ChildProcess>): { done: Promise<{ sent: number; received: number; missing: number[] }> } {
  const target = b.ip!.split('/')[0]!;
  let out = '';
  const child = spawn('ip', ['netns', 'exec', a.netns, ...pingArgs(target, count)], { stdio: ['ignore', 'pipe', 'ignore'] });
  track.add(child);
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  // 'close', not 'exit': exit can come before ping's last output (its summary) has been read,
  // and then the run reads as 0 sent (seen once in CI, under load).
  const done = new Promise<{ sent: number; received: number; missing: number[] }>((res) =>
    child.once('close', () => {
      track.delete(child);
      res(judgePings(out, count));
    }),
  );
  return { done };
}

/** Cookie rounds of vnetd's flows (cookie app byte 0x56) on a hypervisor's br-int. */
export async function flowRounds(hv: { ovs: { ofctl(args: string[]): Promise<string>; bridgeMgmtSocket(b: string): string } }): Promise<Set<number>> {
  const out = await hv.ovs.ofctl(['-O', 'OpenFlow13', 'dump-flows', `unix:${hv.ovs.bridgeMgmtSocket('br-int')}`]);
  const rounds = new Set<number>();
  for (const m of out.matchAll(/cookie=0x([0-9a-f]+),/g)) {
    const cookie = BigInt(`0x${m[1]}`);
    if (((cookie >> 32n) & 0xffn) === 0x56n) rounds.add(Number(cookie >> 48n));
  }
  return rounds;
}

/** Longest stretch (ms) after `since` in which no replica said leader, ending at the last sample. */
export function longestLeaderless(samples: Array<{ at: number; leaders: string[] }>, since: number): number {
  let last = since;
  let worst = 0;
  for (const s of samples) {
    if (s.at < since) continue;
    if (s.leaders.length) {
      worst = Math.max(worst, s.at - last);
      last = s.at;
    }
  }
  const end = samples[samples.length - 1]?.at ?? since;
  return Math.max(worst, end - last);
}
