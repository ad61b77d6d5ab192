/**
 * vnetd as a child process on a data dir, for the tests that kill it (kill -9, SIGTERM) and
 * start another on the same dir: its log goes to dataDir/vnetd-N.log (N counts the starts),
 * and it is ready once it has written its admin kubeconfig.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, statSync, unlinkSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { eventually, kubeconfigCaller, type ApiResponse } from './vnetd';

const ROOT = resolve(__dirname, '..', '..');

export interface VnetdProcess {
  child: ChildProcess;
  /** What ran: the bundle `npm start` and the systemd units run, or src/ through tsx. */
  entry: 'bundle' | 'tsx';
  /** Its stdout and stderr. */
  log: string;
  call(method: string, path: string, body?: unknown): Promise<ApiResponse>;
}

const BUNDLE = join(ROOT, 'dist/bundle/vnetd.js');

/** The newest modification time of the sources under dir (ms); specs are not bundled. */
function newestUnder(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) newest = Math.max(newest, newestUnder(p));
    else if (!e.name.endsWith('.spec.ts')) newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}

/**
 * The bundle where it is built from the current src/ (`npm test` builds it first): what runs
 * in production, and half a second quicker to start than tsx, which a restart's takeover
 * waits for. src/ through tsx otherwise (a spec run straight after an edit).
 * VNETD_TEST_ENTRY=bundle|tsx chooses.
 */
function entry(): VnetdProcess['entry'] {
  const asked = process.env.VNETD_TEST_ENTRY;
  if (asked === 'bundle' || asked === 'tsx') return asked;
  return existsSync(BUNDLE) && statSync(BUNDLE).mtimeMs >= newestUnder(join(ROOT, 'src')) ? 'bundle' : 'tsx';
}

/** Starts of each data dir, for the log file names. */
const starts = new Map<string, number>();

/**
 * A vnetd (chassis on, no local OVS) on dataDir; env adds to or overrides the defaults;
 * opts.entry: what to run (default: entry()); opts.bundle: which build's bundle (default this tree's).
 */
export async function startVnetdProcess(dataDir: string, env: Record<string, string> = {}, opts: { entry?: VnetdProcess['entry']; bundle?: string } = {}): Promise<VnetdProcess> {
  const kubeconfig = join(dataDir, 'admin.kubeconfig');
  if (existsSync(kubeconfig)) unlinkSync(kubeconfig);
  const n = (starts.get(dataDir) ?? 0) + 1;
  starts.set(dataDir, n);
  const logPath = join(dataDir, `vnetd-${n}.log`);
  const log = openSync(logPath, 'w');
  const runs = opts.entry ?? entry();
  const child = spawn(process.execPath, runs === 'bundle' ? [opts.bundle ?? BUNDLE] : ['--import', 'tsx', join(ROOT, 'src/main.ts')], {
    cwd: ROOT,
    env: { ...process.env, VNETD_DATA_DIR: dataDir, VNETD_LISTEN: '127.0.0.1:0', VNETD_LOG_LEVEL: process.env.VNETD_TEST_LOG ?? 'warn', VNETD_LOCAL_OVS: '0', VNETD_CHASSIS: '1', ...env },
    stdio: ['ignore', log, log],
  });
  closeSync(log);
  await eventually(async () => existsSync(kubeconfig), 60_000, 50);
  return { child, entry: runs, log: logPath, call: kubeconfigCaller(kubeconfig) };
}

/** Sends signal to the process (if it still runs) and waits for it to exit. */
export function stopVnetdProcess(s: VnetdProcess, signal: NodeJS.Signals): Promise<void> {
  if (s.child.exitCode !== null || s.child.signalCode !== null) return Promise.resolve();
  return new Promise((r) => {
    s.child.once('exit', () => r());
    s.child.kill(signal);
  });
}

/** Every log of dataDir's starts, with VNETD_TEST_LOG set (for a failed run's output). */
export function dumpVnetdLogs(dataDir: string): void {
  if (!process.env.VNETD_TEST_LOG) return;
  for (let i = 1; i <= (starts.get(dataDir) ?? 0); i++) process.stdout.write(`--- vnetd run ${i}\n${readFileSync(join(dataDir, `vnetd-${i}.log`), 'utf8')}`);
}
