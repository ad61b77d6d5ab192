/**
 * vnetd as a child process on a data dir, for the tests that kill it (kill -9, SIGTERM) and
 * start another on the same dir: its log goes to dataDir/vnetd-N.log (N counts the starts),
 * and it is ready once it has written its admin kubeconfig.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, unlinkSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { eventually, kubeconfigCaller, type ApiResponse } from './vnetd';

const ROOT = resolve(__dirname, '..', '..');

export interface VnetdProcess {
  child: ChildProcess;
  call(method: string, path: string, body?: unknown): Promise<ApiResponse>;
}

/** Starts of each data dir, for the log file names. */
const starts = new Map<string, number>();

/** A vnetd (chassis on, no local OVS) on dataDir; env adds to or overrides the defaults. */
export async function startVnetdProcess(dataDir: string, env: Record<string, string> = {}): Promise<VnetdProcess> {
  const kubeconfig = join(dataDir, 'admin.kubeconfig');
  if (existsSync(kubeconfig)) unlinkSync(kubeconfig);
  const n = (starts.get(dataDir) ?? 0) + 1;
  starts.set(dataDir, n);
  const log = openSync(join(dataDir, `vnetd-${n}.log`), 'w');
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src/main.ts')], {
    cwd: ROOT,
    env: { ...process.env, VNETD_DATA_DIR: dataDir, VNETD_LISTEN: '127.0.0.1:0', VNETD_LOG_LEVEL: process.env.VNETD_TEST_LOG ?? 'warn', VNETD_LOCAL_OVS: '0', VNETD_CHASSIS: '1', ...env },
    stdio: ['ignore', log, log],
  });
  closeSync(log);
  await eventually(async () => existsSync(kubeconfig), 60_000, 50);
  return { child, call: kubeconfigCaller(kubeconfig) };
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
