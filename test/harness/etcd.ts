/**
 * A private etcd for tests and benchmarks: the Debian `etcd` binary (package etcd-server)
 * on loopback, random free client/peer ports, a temp data dir. Stopped by PID; the data
 * dir is removed on stop, and an exit handler kills what is still running if a test run
 * dies before its afterAll hook.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

const CANDIDATES = ['/usr/bin/etcd', '/usr/local/bin/etcd'];

export interface EtcdOptions {
  /** Extra etcd flags, e.g. ['--auto-compaction-mode=periodic', '--auto-compaction-retention=1s']. */
  extraArgs?: string[];
  /** How long to wait for /health. Default 20 s (a cold 2-core CI machine). */
  startTimeoutMs?: number;
}

export interface EtcdInstance {
  readonly endpoint: string;
  readonly pid: number;
  readonly dataDir: string;
  /** Last lines etcd wrote, for failure messages. */
  logTail(): string;
  /** Kills etcd and starts it again on the same ports and data dir. */
  restart(): Promise<void>;
  /** kill -9 (by PID), keeping the data dir: restart() brings it back. */
  crash(): Promise<void>;
  stop(): Promise<void>;
}

export function etcdBinary(): string | undefined {
  return CANDIDATES.find((p) => fs.existsSync(p));
}

/** Undefined when etcd can run here; otherwise why not (for a printed skip reason). */
export function etcdAvailability(): string | undefined {
  if (process.env.VNETD_SKIP_ETCD === '1') return 'VNETD_SKIP_ETCD=1';
  if (!etcdBinary()) return `no etcd binary (${CANDIDATES.join(', ')}); install Debian etcd-server (deploy/dev/setup.sh does)`;
  return undefined;
}

const running = new Set<ChildProcess>();
let exitHookInstalled = false;

function killAll(): void {
  for (const child of running) {
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Synchronous on purpose: 'exit' handlers cannot await. Data dirs live under os.tmpdir().
  process.on('exit', killAll);
  // 'exit' does not run on a fatal signal: kill our etcds, then die of the same signal
  // (the handler is gone after `once`, so the re-raised signal takes the default action).
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      killAll();
      process.kill(process.pid, signal);
    });
  }
}

/**
 * A port free right now, drawn below the kernel's ephemeral range (32768+ here): a port
 * from listen(0) is an ephemeral one, which any test's outgoing connection may take
 * between our check and etcd's bind (seen in CI: "bind: address already in use"). Below
 * that range only another explicit listener can take it, and the start is retried then.
 */
function freePort(): Promise<number> {
  const port = 20000 + Math.floor(Math.random() * 12000);
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', () => resolve(freePort()));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(port)));
  });
}

/** `start`, again (up to three times in all) while it fails because another process took one of its ports. */
async function retryingPortRace<T>(start: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start();
    } catch (err) {
      const lostPortRace = err instanceof Error && err.message.includes('address already in use');
      if (attempt >= 3 || !lostPortRace) throw err;
    }
  }
}

function healthy(endpoint: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get(`${endpoint}/health`, { timeout: 1000 }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve(res.statusCode === 200 && body.includes('"health":"true"')));
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => {
      req.destroy();
      resolve(false);
    });
  });
}

function waitExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), ms);
    child.once('exit', () => {
      clearTimeout(t);
      resolve(true);
    });
  });
}

class EtcdProcess implements EtcdInstance {
  private child!: ChildProcess;
  private log = '';

  constructor(
    private readonly binary: string,
    private readonly args: string[],
    readonly endpoint: string,
    readonly dataDir: string,
    private readonly startTimeoutMs: number,
  ) {}

  get pid(): number {
    return this.child.pid ?? -1;
  }

  logTail(): string {
    return this.log;
  }

  /** Spawns etcd and waits for /health; kills it (keeping the data dir) if it never gets there. */
  async spawn(): Promise<void> {
    installExitHook();
    const child = spawn(this.binary, this.args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    running.add(child);
    const keep = (c: Buffer) => {
      this.log = (this.log + c.toString()).slice(-4000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    const deadline = Date.now() + this.startTimeoutMs;
    while (Date.now() < deadline && child.exitCode === null && child.pid !== undefined) {
      if (await healthy(this.endpoint)) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    await this.kill();
    throw new Error(`etcd did not become healthy on ${this.endpoint} (exit ${child.exitCode}):\n${this.log}`);
  }

  /** Stops the process (SIGTERM, then SIGKILL after 5 s), by its PID only. */
  async kill(): Promise<void> {
    const child = this.child;
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      process.kill(child.pid, 'SIGTERM');
      if (!(await waitExit(child, 5000))) {
        process.kill(child.pid, 'SIGKILL');
        await waitExit(child, 5000);
      }
    }
    running.delete(child);
  }

  async crash(): Promise<void> {
    const child = this.child;
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      process.kill(child.pid, 'SIGKILL');
      await waitExit(child, 5000);
    }
    running.delete(child);
  }

  /** Same ports, same data: what clients see as a brief outage of the cluster. */
  async restart(): Promise<void> {
    await this.kill();
    await this.spawn();
  }

  async stop(): Promise<void> {
    await this.kill();
    fs.rmSync(this.dataDir, { recursive: true, force: true });
  }
}

async function startOnce(binary: string, options: EtcdOptions): Promise<EtcdInstance> {
  const [clientPort, peerPort] = [await freePort(), await freePort()];
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'vnetd-etcd-'));
  const endpoint = `http://127.0.0.1:${clientPort}`;
  const peer = `http://127.0.0.1:${peerPort}`;
  const name = `vnetd-test-${process.pid}`;
  const args = [
    `--name=${name}`,
    `--data-dir=${dataDir}`,
    `--listen-client-urls=${endpoint}`,
    `--advertise-client-urls=${endpoint}`,
    `--listen-peer-urls=${peer}`,
    `--initial-advertise-peer-urls=${peer}`,
    `--initial-cluster=${name}=${peer}`,
    '--initial-cluster-state=new',
    '--log-level=warn',
    '--logger=zap',
    ...(options.extraArgs ?? []),
  ];
  const etcd = new EtcdProcess(binary, args, endpoint, dataDir, options.startTimeoutMs ?? 20000);
  try {
    await etcd.spawn();
  } catch (err) {
    fs.rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
  return etcd;
}

export interface EtcdCluster {
  readonly members: EtcdInstance[];
  /** Client URLs of every member (what a client is given). */
  readonly endpoints: string[];
  /** Index of the member that is raft leader now, asking the live members (undefined: none). */
  leader(): Promise<number | undefined>;
  stop(): Promise<void>;
}

interface MemberStatus {
  header?: { member_id?: string };
  leader?: string;
}

function postJson<T>(url: string, body: unknown, timeoutMs = 3000): Promise<T | undefined> {
  return new Promise((resolve) => {
    const payload = JSON.stringify(body);
    const req = http.request(url, { method: 'POST', timeout: timeoutMs, headers: { 'content-type': 'application/json' } }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => {
        try {
          resolve(res.statusCode === 200 ? (JSON.parse(text) as T) : undefined);
        } catch {
          resolve(undefined);
        }
      });
    });
    req.on('error', () => resolve(undefined));
    req.on('timeout', () => {
      req.destroy();
      resolve(undefined);
    });
    req.end(payload);
  });
}

/**
 * A private N-member etcd cluster on loopback (for chaos tests): every member on its own
 * free client and peer ports and data dir, started together (a member is healthy only
 * once a quorum is up). Members restart on their own ports and data, rejoining the cluster.
 */
export async function startEtcdCluster(size = 3, options: EtcdOptions = {}): Promise<EtcdCluster> {
  const binary = etcdBinary();
  if (!binary) throw new Error(etcdAvailability());
  return retryingPortRace(() => startClusterOnce(binary, size, options));
}

async function startClusterOnce(binary: string, size: number, options: EtcdOptions): Promise<EtcdCluster> {
  const ports: Array<{ client: number; peer: number }> = [];
  for (let i = 0; i < size; i++) ports.push({ client: await freePort(), peer: await freePort() });
  const names = ports.map((_, i) => `vnetd-chaos-${process.pid}-${i}`);
  const initial = ports.map((p, i) => `${names[i]}=http://127.0.0.1:${p.peer}`).join(',');
  const members = ports.map((p, i) => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'vnetd-etcd-'));
    const endpoint = `http://127.0.0.1:${p.client}`;
    const peer = `http://127.0.0.1:${p.peer}`;
    const args = [
      `--name=${names[i]}`,
      `--data-dir=${dataDir}`,
      `--listen-client-urls=${endpoint}`,
      `--advertise-client-urls=${endpoint}`,
      `--listen-peer-urls=${peer}`,
      `--initial-advertise-peer-urls=${peer}`,
      `--initial-cluster=${initial}`,
      '--initial-cluster-state=new',
      `--initial-cluster-token=vnetd-chaos-${process.pid}-${ports[0]!.peer}`,
      '--log-level=warn',
      '--logger=zap',
      ...(options.extraArgs ?? []),
    ];
    return new EtcdProcess(binary, args, endpoint, dataDir, options.startTimeoutMs ?? 30000);
  });
  const stop = async () => {
    await Promise.all(members.map((m) => m.stop()));
  };
  try {
    await Promise.all(members.map((m) => m.spawn()));
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    members,
    endpoints: members.map((m) => m.endpoint),
    async leader() {
      const statuses = await Promise.all(members.map((m) => postJson<MemberStatus>(`${m.endpoint}/v3/maintenance/status`, {})));
      const ids = statuses.map((s) => s?.header?.member_id);
      for (const s of statuses) {
        if (!s?.leader || s.leader === '0') continue;
        const i = ids.indexOf(s.leader);
        if (i >= 0) return i;
      }
      return undefined;
    },
    stop,
  };
}

/** Starts a private single-member etcd; retries on a lost port race. */
export async function startEtcd(options: EtcdOptions = {}): Promise<EtcdInstance> {
  const binary = etcdBinary();
  if (!binary) throw new Error(etcdAvailability());
  return retryingPortRace(() => startOnce(binary, options));
}
