/**
 * The OVS of a Node as seen from the machine the CLI runs on: its run directory (from
 * spec.ovsdb "unix:DIR/db.sock"), the ovs-vswitchd control socket and PID, and helpers
 * to run commands next to it (in ovs-vswitchd's network namespace).
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { vswitchdIn } from '../../chassis/ovs-rundir';
import type { HypervisorNode } from '../../resources/kinds';

export interface NodeOvs {
  dir: string;
  dbSocket: string;
  /** ovs-appctl target. */
  ctl: string;
  vswitchdPid: number;
  /** How long each command against it may take (default 20 s; 0: no limit). */
  timeoutMs?: number;
}

/** How long a command against a node's OVS may take unless told otherwise: ovs-vsctl's own --timeout is 20 s too. */
export const OVS_COMMAND_TIMEOUT_MS = 20_000;

/** The node's OVS when it runs on this machine, else why not. */
export function localOvsOf(node: HypervisorNode, timeoutMs?: number): NodeOvs | string {
  const ep = node.spec?.ovsdb ?? '';
  if (!ep.startsWith('unix:')) return `node "${node.metadata.name}" has OVSDB endpoint "${ep || '<none>'}", not a local unix socket`;
  const dbSocket = ep.slice('unix:'.length);
  const dir = dirname(dbSocket);
  if (!existsSync(dbSocket)) return `${dbSocket} does not exist on this machine`;
  const { pid, ctl } = vswitchdIn(dir);
  if (pid === undefined || !existsSync(`/proc/${pid}`)) return `ovs-vswitchd of ${dir} is not running (no live PID in ovs-vswitchd.pid)`;
  if (!ctl) return `no ovs-vswitchd control socket in ${dir}`;
  return { dir, dbSocket, ctl, vswitchdPid: pid, ...(timeoutMs !== undefined ? { timeoutMs } : {}) };
}

/** A command killed at its timeout: what it asked of got no answer (a hung ovs-vswitchd). */
export class CommandTimeoutError extends Error {
  constructor(
    command: string,
    readonly seconds: number,
  ) {
    super(`${command}: no answer within ${seconds} s (killed)`);
  }
}

export function run(cmd: string, args: string[], env?: NodeJS.ProcessEnv, timeoutMs = OVS_COMMAND_TIMEOUT_MS): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { env: env ?? process.env, timeout: timeoutMs, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      // Killed at the timeout, its message was "Command failed: ..." with nothing of why (QA-131).
      if (err?.killed) reject(new CommandTimeoutError(`${cmd} ${args.join(' ')}`, timeoutMs / 1000));
      else if (err) reject(new Error(`${cmd} ${args.join(' ')}: ${(stderr || err.message).trim().split('\n')[0]}`));
      else resolve(stdout);
    });
  });
}

export function ovsEnv(ovs: NodeOvs): NodeJS.ProcessEnv {
  return { ...process.env, OVS_RUNDIR: ovs.dir, OVS_LOGDIR: ovs.dir, OVS_DBDIR: ovs.dir };
}

export function vsctl(ovs: NodeOvs, args: string[]): Promise<string> {
  const ms = ovs.timeoutMs ?? OVS_COMMAND_TIMEOUT_MS;
  return run('ovs-vsctl', [`--db=unix:${ovs.dbSocket}`, ...(ms > 0 ? [`--timeout=${Math.ceil(ms / 1000)}`] : []), ...args], ovsEnv(ovs), ms);
}

export function appctl(ovs: NodeOvs, args: string[]): Promise<string> {
  return run('ovs-appctl', ['-t', ovs.ctl, ...args], ovsEnv(ovs), ovs.timeoutMs);
}

/** Runs a command in ovs-vswitchd's network namespace (where br-int's ports live). */
export function inOvsNetns(ovs: NodeOvs, args: string[]): Promise<string> {
  return run('nsenter', [`--net=/proc/${ovs.vswitchdPid}/ns/net`, '--', ...args], undefined, ovs.timeoutMs);
}

/** ovs-ofctl against a bridge's management socket (OpenFlow 1.3), next to the node's OVS. */
export function ofctl(ovs: NodeOvs, command: string, bridge: string, args: string[] = []): Promise<string> {
  return run('ovs-ofctl', ['-O', 'OpenFlow13', command, `unix:${join(ovs.dir, `${bridge}.mgmt`)}`, ...args], ovsEnv(ovs), ovs.timeoutMs);
}
