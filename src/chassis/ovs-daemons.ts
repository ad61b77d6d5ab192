/**
 * Starting and stopping private Open vSwitch daemons (ovsdb-server, ovs-vswitchd), shared
 * by the embedded local OVS (local-ovs.ts) and the test harness (test/harness/ovs.ts).
 *
 * The daemons run with --detach, so they are not our children: they are tracked by the
 * PIDs their pidfiles report right after start, and only those PIDs are ever signalled.
 * Recipe (shared/notes/machine-facts.md): ovsdb-tool create, ovsdb-server with a punix
 * remote, ovs-vsctl --no-wait init, ovs-vswitchd with OVS_RUNDIR pointing at the
 * private directory (inside `ip netns exec NS` when a netns is given, because the
 * userspace datapath creates internal ports' tap devices in vswitchd's netns).
 */
import { execFile, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { readFile, unlink } from 'node:fs/promises';
import { delimiter, join } from 'node:path';

export const VSWITCH_SCHEMA = '/usr/share/openvswitch/vswitch.ovsschema';
const EXTRA_PATH = ['/usr/sbin', '/usr/bin', '/sbin', '/bin', '/usr/local/sbin', '/usr/local/bin'];

/** Absolute path of a binary, looking in PATH and the sbin dirs PATH may lack. */
export function findBinary(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), ...EXTRA_PATH].filter(Boolean);
  for (const d of dirs) {
    const p = join(d, name);
    if (existsSync(p)) return p;
  }
  return undefined;
}

export function requireBinary(name: string): string {
  const p = findBinary(name);
  if (!p) throw new Error(`${name} not found (is openvswitch-switch installed?)`);
  return p;
}

/** onSpawn: for a caller that must be able to end the command itself (on its own interruption). */
export function runCommand(file: string, args: string[], env?: NodeJS.ProcessEnv, timeoutMs = 30_000, onSpawn?: (child: ChildProcess) => void): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(file, args, { env, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${file} ${args.join(' ')} failed: ${err.message}\n${stderr}`));
      else resolve(stdout);
    });
    onSpawn?.(child);
  });
}

/** True while pid runs; a zombie (killed detached daemon not yet reaped by init) counts as gone. */
export function pidAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    if (state === 'Z' || state === 'X') return false;
  } catch {
    /* no /proc entry: fall through to kill(0) */
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export async function waitGone(pid: number, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (!pidAlive(pid)) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return !pidAlive(pid);
}

export async function readPidfile(pidfile: string): Promise<number | undefined> {
  try {
    const n = Number((await readFile(pidfile, 'utf8')).trim());
    return Number.isInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

/** Signals pid (SIGTERM by default), escalating to SIGKILL if it lingers. */
export async function stopPid(pid: number, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (!pidAlive(pid)) return;
  try {
    process.kill(pid, signal);
  } catch {
    return;
  }
  if (!(await waitGone(pid, 5000))) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      return;
    }
    await waitGone(pid, 5000);
  }
}

export type OvsDaemon = 'ovsdb-server' | 'ovs-vswitchd';

/** File layout of one private instance: everything lives in `dir`, which is also OVS_RUNDIR. */
export class OvsPaths {
  readonly dbPath: string;
  readonly dbSocket: string;
  constructor(readonly dir: string) {
    this.dbPath = join(dir, 'conf.db');
    this.dbSocket = join(dir, 'db.sock');
  }
  pidfile(d: OvsDaemon): string {
    return join(this.dir, `${d}.pid`);
  }
  ctl(d: OvsDaemon): string {
    return join(this.dir, `${d}.ctl`);
  }
  log(d: OvsDaemon): string {
    return join(this.dir, `${d}.log`);
  }
  env(): NodeJS.ProcessEnv {
    const d = this.dir;
    return { ...process.env, OVS_RUNDIR: d, OVS_LOGDIR: d, OVS_DBDIR: d, OVS_SYSCONFDIR: d };
  }
}

/** Starts ovsdb-server detached on paths.dbSocket; returns its PID. */
export async function startOvsdbServer(paths: OvsPaths, opts: { managerOptions?: boolean } = {}): Promise<number | undefined> {
  // A kill -9 leaves the socket behind; remove it so clients cannot hit a dead path.
  await unlink(paths.dbSocket).catch(() => undefined);
  const remotes = [`--remote=punix:${paths.dbSocket}`];
  if (opts.managerOptions) remotes.push('--remote=db:Open_vSwitch,Open_vSwitch,manager_options');
  await runCommand(
    requireBinary('ovsdb-server'),
    [
      paths.dbPath,
      ...remotes,
      `--pidfile=${paths.pidfile('ovsdb-server')}`,
      `--unixctl=${paths.ctl('ovsdb-server')}`,
      `--log-file=${paths.log('ovsdb-server')}`,
      '--detach',
    ],
    paths.env(),
  );
  return readPidfile(paths.pidfile('ovsdb-server'));
}

/** Starts ovs-vswitchd detached (inside netns when given); returns its PID. */
export async function startVswitchd(paths: OvsPaths, netns?: string): Promise<number | undefined> {
  const args = [
    `unix:${paths.dbSocket}`,
    `--pidfile=${paths.pidfile('ovs-vswitchd')}`,
    `--unixctl=${paths.ctl('ovs-vswitchd')}`,
    `--log-file=${paths.log('ovs-vswitchd')}`,
    '--detach',
  ];
  if (netns) await runCommand(requireBinary('ip'), ['netns', 'exec', netns, requireBinary('ovs-vswitchd'), ...args], paths.env());
  else await runCommand(requireBinary('ovs-vswitchd'), args, paths.env());
  return readPidfile(paths.pidfile('ovs-vswitchd'));
}

let versions: Promise<{ ovs: string; db: string }> | undefined;
/** The installed OVS version (ovs-vswitchd --version) and vswitch schema version. */
export function installedVersions(schemaPath = VSWITCH_SCHEMA): Promise<{ ovs: string; db: string }> {
  versions ??= (async () => {
    const out = await runCommand(requireBinary('ovs-vswitchd'), ['--version']);
    const ovs = /\)\s*(\S+)/.exec(out.split('\n')[0] ?? '')?.[1] ?? 'unknown';
    const db = (await runCommand(requireBinary('ovsdb-tool'), ['schema-version', schemaPath])).trim();
    return { ovs, db };
  })();
  return versions;
}

/**
 * `ovs-vsctl` arguments that initialise the Open_vSwitch row the way the distribution's
 * ovs-ctl does: ovs-vswitchd never fills ovs_version/db_version itself, and managers
 * (vnetd's Node status among them) read the version from there.
 */
export async function initArgs(): Promise<string[]> {
  const v = await installedVersions();
  return ['init', '--', 'set', 'Open_vSwitch', '.', `ovs_version="${v.ovs}"`, `db_version="${v.db}"`];
}
