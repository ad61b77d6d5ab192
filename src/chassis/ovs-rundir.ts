/**
 * What an OVS run directory (OVS_RUNDIR: the db socket, the daemons' pidfiles and control
 * sockets, in every OVS layout) says of its ovs-vswitchd: its PID (from ovs-vswitchd.pid) and
 * its unixctl socket (ovs-vswitchd.ctl when it was started with --unixctl so, else the default
 * ovs-vswitchd.PID.ctl). Either may be missing; the PID is not checked for a live process
 * (another PID namespace may hold it).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export function vswitchdIn(dir: string): { pid?: number; ctl?: string } {
  let pid: number | undefined;
  try {
    const n = Number(readFileSync(join(dir, 'ovs-vswitchd.pid'), 'utf8').trim());
    if (Number.isInteger(n) && n > 0) pid = n;
  } catch {
    /* no pidfile */
  }
  const named = join(dir, 'ovs-vswitchd.ctl');
  const byPid = pid !== undefined ? join(dir, `ovs-vswitchd.${pid}.ctl`) : undefined;
  const ctl = existsSync(named) ? named : byPid && existsSync(byPid) ? byPid : undefined;
  return { pid, ctl };
}
