/**
 * Test harness: real Open vSwitch daemons in private directories.
 *
 * Every instance gets its own mkdtemp directory holding the database, the db socket,
 * pidfiles, unixctl sockets, logs and (as OVS_RUNDIR) the bridges' .mgmt sockets, so
 * any number of instances run side by side and never touch a system OVS. Daemons are
 * started detached (they are not our children), so we track them by their pidfiles,
 * kill only those PIDs, and also clean up on process exit / SIGINT / SIGTERM so a
 * failing or interrupted test run does not leak daemons.
 *
 * Recipe from shared/notes/machine-facts.md: ovsdb-tool create, ovsdb-server with
 * --remote=punix, ovs-vsctl --no-wait init, ovs-vswitchd with OVS_RUNDIR (inside
 * `ip netns exec NS` when a netns is given, so netdev internal ports land there).
 */
import { execFileSync, spawn } from 'node:child_process';
import { appendFileSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
// Process and binary helpers are shared with the embedded local OVS (src/chassis).
import { findBinary, initArgs, pidAlive as alive, readPidfile as readPid, runCommand as run, waitGone } from '../../src/chassis/ovs-daemons';

export { findBinary };

export interface OvsInstance {
  name: string;
  dir: string;
  runDir: string;
  /** Absolute unix socket path of ovsdb-server. */
  dbSocket: string;
  netns?: string;
  vsctl(args: string[]): Promise<string>;
  ofctl(args: string[]): Promise<string>;
  appctl(target: 'ovs-vswitchd' | 'ovsdb-server', args: string[]): Promise<string>;
  bridgeMgmtSocket(bridge: string): string;
  killVswitchd(signal?: NodeJS.Signals): Promise<void>;
  restartVswitchd(): Promise<void>;
  killOvsdbServer(signal?: NodeJS.Signals): Promise<void>;
  restartOvsdbServer(): Promise<void>;
  /** PID of the running ovsdb-server (undefined while it is stopped). */
  readonly ovsdbServerPid: number | undefined;
  /** PID of the running ovs-vswitchd (undefined while it is stopped or not started). */
  readonly vswitchdPid: number | undefined;
  /** Path of ovsdb-server's log file (e.g. to read the port a "p...:0" remote bound). */
  readonly ovsdbServerLog: string;
  stop(): Promise<void>;
}

export const DEFAULT_SCHEMA = '/usr/share/openvswitch/vswitch.ovsschema';
const BINARIES = ['ovsdb-server', 'ovsdb-tool', 'ovsdb-client', 'ovs-vsctl', 'ovs-vswitchd', 'ovs-ofctl', 'ovs-appctl', 'ip'];

function bin(name: string): string {
  const p = findBinary(name);
  if (!p) throw new Error(`${name} not found (is openvswitch-switch installed?)`);
  return p;
}

export function ovsAvailability(): { ok: true } | { ok: false; reason: string } {
  const missing = BINARIES.filter((b) => !findBinary(b));
  if (missing.length) return { ok: false, reason: `Open vSwitch binaries missing: ${missing.join(', ')} (apt-get install openvswitch-switch)` };
  if (!existsSync(DEFAULT_SCHEMA)) return { ok: false, reason: `${DEFAULT_SCHEMA} not found` };
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    return { ok: false, reason: 'not running as root (ovs-vswitchd and network namespaces need root)' };
  }
  return { ok: true };
}

let prefix: string | undefined;
/** Short per-run prefix ('v' + 5 base36 chars) so names stay under the 15-char IFNAMSIZ limit. */
export function runPrefix(): string {
  if (!prefix) {
    const n = randomBytes(4).readUInt32BE(0) % 36 ** 5;
    prefix = 'v' + n.toString(36).padStart(5, '0');
  }
  return prefix;
}

/** Instances still running in this process, for exit-time cleanup. */
const live = new Set<Instance>();
let cleanupRegistered = false;

/*
 * Three layers of cleanup, because no single one covers every way a test run ends:
 * - under Jest, an afterAll hook registered when this module is loaded stops whatever
 *   a test file left running (Jest gives test files a sandboxed `process` whose
 *   'exit' listeners never fire);
 * - outside Jest (tsx scripts), process 'exit' / SIGINT / SIGTERM handlers;
 * - a detached watchdog shell that waits for this process to disappear (Ctrl-C,
 *   crash, SIGKILL of a Jest worker) and then kills the daemons recorded in the
 *   pidfiles of every instance directory listed in a registry file, and removes them.
 */
const jestAfterAll = (globalThis as { afterAll?: (fn: () => Promise<void>, timeout?: number) => void }).afterAll;
if (typeof jestAfterAll === 'function') {
  jestAfterAll(async () => {
    await Promise.all([...live].map((i) => i.stop().catch(() => i.stopSync())));
  }, 30_000);
}

const WATCHDOG = `
while kill -0 "$1" 2>/dev/null; do sleep 1; done
[ -f "$2" ] || exit 0
while read -r d; do
  [ -d "$d" ] || continue
  for f in "$d"/*.pid; do [ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null; done
  [ -f "$d/netns" ] && ip netns del "$(cat "$d/netns")" 2>/dev/null
  rm -rf "$d"
done < "$2"
rm -f "$2"
`;
let registryFile: string | undefined;

function registerCleanup(dir: string): void {
  if (!registryFile) {
    registryFile = join(tmpdir(), `ovs-harness-${process.pid}.list`);
    writeFileSync(registryFile, '');
    spawn('sh', ['-c', WATCHDOG, 'ovs-harness-watchdog', String(process.pid), registryFile], {
      detached: true,
      stdio: 'ignore',
    }).unref();
  }
  appendFileSync(registryFile, `${dir}\n`);
  if (cleanupRegistered) return;
  cleanupRegistered = true;
  // 'exit' handlers must be synchronous: kill by recorded PIDs and remove dirs.
  process.on('exit', () => {
    for (const i of live) i.stopSync();
  });
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      for (const i of live) i.stopSync();
      process.exit(sig === 'SIGINT' ? 130 : 143);
    });
  }
}

class Instance implements OvsInstance {
  readonly runDir: string;
  readonly dbSocket: string;
  readonly dbPath: string;
  readonly env: NodeJS.ProcessEnv;
  /** PIDs we started, by daemon; only these are ever signalled. */
  readonly pids: { 'ovsdb-server'?: number; 'ovs-vswitchd'?: number } = {};
  createdNetns = false;

  constructor(
    readonly name: string,
    readonly dir: string,
    readonly schemaPath: string,
    readonly dbName: string,
    readonly netns: string | undefined,
    readonly withVswitchd: boolean,
    /** Extra --remote targets (e.g. "pssl:0:127.0.0.1") and other ovsdb-server arguments. */
    readonly extraRemotes: readonly string[] = [],
    readonly extraServerArgs: readonly string[] = [],
  ) {
    this.runDir = dir;
    this.dbSocket = join(dir, 'db.sock');
    this.dbPath = join(dir, 'conf.db');
    this.env = { ...process.env, OVS_RUNDIR: dir, OVS_LOGDIR: dir, OVS_DBDIR: dir, OVS_SYSCONFDIR: dir };
  }

  private ctl(target: 'ovs-vswitchd' | 'ovsdb-server'): string {
    return join(this.dir, `${target}.ctl`);
  }
  private pidfile(target: 'ovs-vswitchd' | 'ovsdb-server'): string {
    return join(this.dir, `${target}.pid`);
  }

  vsctl(args: string[]): Promise<string> {
    const wait = this.withVswitchd && this.pids['ovs-vswitchd'] ? [] : ['--no-wait'];
    return run(bin('ovs-vsctl'), [`--db=unix:${this.dbSocket}`, '--timeout=20', ...wait, ...args], this.env);
  }
  ofctl(args: string[]): Promise<string> {
    return run(bin('ovs-ofctl'), ['--timeout=10', ...args], this.env);
  }
  appctl(target: 'ovs-vswitchd' | 'ovsdb-server', args: string[]): Promise<string> {
    return run(bin('ovs-appctl'), ['-t', this.ctl(target), '--timeout=10', ...args], this.env);
  }
  bridgeMgmtSocket(bridge: string): string {
    return join(this.runDir, `${bridge}.mgmt`);
  }
  get ovsdbServerPid(): number | undefined {
    return this.pids['ovsdb-server'];
  }
  get vswitchdPid(): number | undefined {
    return this.pids['ovs-vswitchd'];
  }
  get ovsdbServerLog(): string {
    return join(this.dir, 'ovsdb-server.log');
  }

  async startOvsdbServer(): Promise<void> {
    // A kill -9 leaves the socket behind; remove it so clients cannot hit a dead path.
    await unlink(this.dbSocket).catch(() => undefined);
    const remotes = [`--remote=punix:${this.dbSocket}`];
    if (this.dbName === 'Open_vSwitch') remotes.push('--remote=db:Open_vSwitch,Open_vSwitch,manager_options');
    for (const r of this.extraRemotes) remotes.push(`--remote=${r}`);
    await run(
      bin('ovsdb-server'),
      [
        this.dbPath,
        ...remotes,
        `--pidfile=${this.pidfile('ovsdb-server')}`,
        `--unixctl=${this.ctl('ovsdb-server')}`,
        `--log-file=${join(this.dir, 'ovsdb-server.log')}`,
        ...this.extraServerArgs,
        '--detach',
      ],
      this.env,
    );
    this.pids['ovsdb-server'] = await readPid(this.pidfile('ovsdb-server'));
  }

  async startVswitchd(): Promise<void> {
    const args = [
      `unix:${this.dbSocket}`,
      `--pidfile=${this.pidfile('ovs-vswitchd')}`,
      `--unixctl=${this.ctl('ovs-vswitchd')}`,
      `--log-file=${join(this.dir, 'ovs-vswitchd.log')}`,
      '--detach',
    ];
    if (this.netns) await run(bin('ip'), ['netns', 'exec', this.netns, bin('ovs-vswitchd'), ...args], this.env);
    else await run(bin('ovs-vswitchd'), args, this.env);
    this.pids['ovs-vswitchd'] = await readPid(this.pidfile('ovs-vswitchd'));
  }

  private async kill(target: 'ovs-vswitchd' | 'ovsdb-server', signal: NodeJS.Signals): Promise<void> {
    const pid = this.pids[target];
    if (!pid) return;
    if (alive(pid)) {
      process.kill(pid, signal);
      if (!(await waitGone(pid, 5000))) {
        process.kill(pid, 'SIGKILL');
        await waitGone(pid, 5000);
      }
    }
    this.pids[target] = undefined;
    // A stale pidfile could later name an unrelated process (PID reuse) to the watchdog.
    await unlink(this.pidfile(target)).catch(() => undefined);
  }

  killVswitchd(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    return this.kill('ovs-vswitchd', signal);
  }
  async restartVswitchd(): Promise<void> {
    await this.kill('ovs-vswitchd', 'SIGTERM');
    await this.startVswitchd();
  }
  killOvsdbServer(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    return this.kill('ovsdb-server', signal);
  }
  async restartOvsdbServer(): Promise<void> {
    await this.kill('ovsdb-server', 'SIGTERM');
    await this.startOvsdbServer();
  }

  async stop(): Promise<void> {
    live.delete(this);
    await this.kill('ovs-vswitchd', 'SIGTERM');
    await this.kill('ovsdb-server', 'SIGTERM');
    if (this.createdNetns && this.netns) await run(bin('ip'), ['netns', 'del', this.netns]).catch(() => undefined);
    await rm(this.dir, { recursive: true, force: true });
  }

  /** Exit-time variant: synchronous, best effort. */
  stopSync(): void {
    for (const pid of Object.values(this.pids)) {
      if (pid && alive(pid)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* already gone */
        }
      }
    }
    if (this.createdNetns && this.netns) {
      try {
        execFileSync(bin('ip'), ['netns', 'del', this.netns], { stdio: 'ignore' });
      } catch {
        /* best effort */
      }
    }
    rmSync(this.dir, { recursive: true, force: true });
    live.delete(this);
  }
}

/**
 * Starts ovsdb-server (and, unless vswitchd === false, ovs-vswitchd) in a fresh
 * temporary directory. `schema` selects another .ovsschema (its database gets no
 * Open_vSwitch-specific set-up); `clustered` creates a one-server RAFT database, the
 * only kind for which ovsdb-server keeps the history monitor_cond_since resumes from.
 */
export async function startOvs(opts: {
  name: string;
  netns?: string;
  vswitchd?: boolean;
  schema?: string;
  clustered?: boolean;
  /** Extra --remote targets, e.g. "pssl:0:127.0.0.1" (read the bound port with listeningPort()). */
  remotes?: string[];
  /** Extra ovsdb-server arguments, e.g. --private-key=... --certificate=... --ca-cert=... */
  serverArgs?: string[];
}): Promise<OvsInstance> {
  const avail = ovsAvailability();
  if (!avail.ok) throw new Error(avail.reason);
  const schemaPath = opts.schema ?? DEFAULT_SCHEMA;
  const dbName = (JSON.parse(readFileSync(schemaPath, 'utf8')) as { name: string }).name;
  const safeName = opts.name.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 20);
  const dir = await mkdtemp(join(tmpdir(), `ovs-${safeName}-`));
  const isOvs = dbName === 'Open_vSwitch';
  const inst = new Instance(opts.name, dir, schemaPath, dbName, opts.netns, isOvs && opts.vswitchd !== false, opts.remotes, opts.serverArgs);
  live.add(inst);
  registerCleanup(dir);
  try {
    if (opts.netns && !existsSync(join('/run/netns', opts.netns))) {
      await run(bin('ip'), ['netns', 'add', opts.netns]);
      inst.createdNetns = true;
      writeFileSync(join(dir, 'netns'), opts.netns); // for the watchdog
    }
    if (opts.clustered) {
      await run(bin('ovsdb-tool'), ['create-cluster', inst.dbPath, schemaPath, `unix:${join(dir, 'raft.sock')}`], inst.env);
    } else {
      await run(bin('ovsdb-tool'), ['create', inst.dbPath, schemaPath], inst.env);
    }
    await inst.startOvsdbServer();
    if (isOvs) await inst.vsctl(await initArgs()); // vswitchd not up yet, so vsctl adds --no-wait
    if (inst.withVswitchd) await inst.startVswitchd();
  } catch (e) {
    await inst.stop().catch(() => undefined);
    throw e;
  }
  return inst;
}

/**
 * The TCP port ovsdb-server bound for a passive remote given as port 0 ("ptcp:0:IP",
 * "pssl:0:IP"): OVS logs "listening on port N" (its own test suite reads it the same
 * way), which avoids the race of picking a "free" port in advance.
 */
export async function listeningPort(inst: OvsInstance, timeoutMs = 10_000): Promise<number> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const log = existsSync(inst.ovsdbServerLog) ? readFileSync(inst.ovsdbServerLog, 'utf8') : '';
    const m = /listening on port (\d+)/.exec(log);
    if (m) return Number(m[1]);
    if (Date.now() > end) throw new Error(`ovsdb-server of ${inst.name} logged no listening port:\n${log}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface OvsCluster {
  /** Database name (from the schema). */
  database: string;
  /** One ovsdb-server per member, each in its own directory with its own db socket. */
  members: OvsInstance[];
  /** `unix:` endpoints of all members, in member order. */
  endpoints: string[];
  stop(): Promise<void>;
}

/**
 * A RAFT-clustered database of `size` members (ovsdb(7) "Clustered database"):
 * ovsdb-tool create-cluster for the first, join-cluster for the others, all talking
 * RAFT over unix sockets in their own directories; resolves once every member reports
 * the database connected to the cluster. Members are ordinary harness instances, so
 * killOvsdbServer('SIGKILL') kills exactly that member's PID.
 */
export async function startOvsCluster(opts: { name: string; schema: string; size?: number }): Promise<OvsCluster> {
  const avail = ovsAvailability();
  if (!avail.ok) throw new Error(avail.reason);
  const size = opts.size ?? 3;
  const dbName = (JSON.parse(readFileSync(opts.schema, 'utf8')) as { name: string }).name;
  const safeName = opts.name.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 16);
  const members: Instance[] = [];
  const stopAll = async (): Promise<void> => {
    await Promise.all(members.map((m) => m.stop().catch(() => m.stopSync())));
  };
  try {
    for (let i = 0; i < size; i++) {
      const dir = await mkdtemp(join(tmpdir(), `ovs-${safeName}${i + 1}-`));
      const inst = new Instance(`${opts.name}-${i + 1}`, dir, opts.schema, dbName, undefined, false);
      live.add(inst);
      registerCleanup(dir);
      members.push(inst);
    }
    const raft = (m: Instance): string => `unix:${join(m.dir, 'raft.sock')}`;
    const first = members[0]!;
    await run(bin('ovsdb-tool'), ['create-cluster', first.dbPath, opts.schema, raft(first)], first.env);
    for (const m of members.slice(1)) {
      await run(bin('ovsdb-tool'), ['join-cluster', m.dbPath, dbName, raft(m), raft(first)], m.env);
    }
    await Promise.all(members.map((m) => m.startOvsdbServer()));
    // Joining takes a few RAFT round trips; "connected" means the member is in the cluster.
    await Promise.all(
      members.map((m) => run(bin('ovsdb-client'), ['--timeout=30', 'wait', `unix:${m.dbSocket}`, dbName, 'connected'], m.env, 35_000)),
    );
  } catch (e) {
    await stopAll();
    throw e;
  }
  return {
    database: dbName,
    members,
    endpoints: members.map((m) => `unix:${m.dbSocket}`),
    stop: stopAll,
  };
}
