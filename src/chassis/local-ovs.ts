/**
 * The embedded default hypervisor: a private ovsdb-server + ovs-vswitchd under
 * $VNETD_DATA_DIR/ovs, registered as Node "local" when no Node exists, so `npm start`
 * gives a working chassis with nothing else installed but Open vSwitch. The database
 * file persists across restarts (bridges and their flows' owner survive). A stopping vnetd
 * leaves the daemons running by default (leave()), as a hypervisor's OVS outlives its
 * controller: stopping them cut every VM off for 13.5 s on a mere restart (QA). Told to
 * stop them (stop()), it stops exactly the PIDs it started or adopted; daemons left running
 * by a previous vnetd (recognised by our own pidfile path on their command line) are
 * adopted rather than fought over their pidfile locks.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { API_VERSION, type HypervisorNode } from '../resources/kinds';
import type { ObjectStore } from '../store/object-store';
import {
  OvsPaths,
  VSWITCH_SCHEMA,
  findBinary,
  initArgs,
  pidAlive,
  readPidfile,
  requireBinary,
  runCommand,
  startOvsdbServer,
  startVswitchd,
  stopPid,
  type OvsDaemon,
} from './ovs-daemons';
import { NODES } from '../store/kinds';

export const LOCAL_NODE = 'local';
export const LOCAL_OVS_ANNOTATION = 'vnet.dev/local-ovs';

export interface LocalOvsOptions {
  dataDir: string;
  logger: Logger;
  /** Run ovs-vswitchd in this (existing) network namespace; tests use it to keep br-int off the host. */
  netns?: string;
  schemaPath?: string;
}

export interface LocalOvs {
  dir: string;
  dbSocket: string;
  /** OVSDB endpoint for the Node object. */
  endpoint: string;
  /** PIDs this instance owns and will stop. */
  readonly pids: readonly number[];
  stop(): Promise<void>;
  /**
   * Leaves the daemons running (what a stopping vnetd does unless told otherwise): the VMs
   * on br-int keep their traffic, as on a hypervisor whose OVS outlives its controller,
   * and the next start adopts them.
   */
  leave(): void;
}

const REQUIRED = ['ovsdb-tool', 'ovsdb-server', 'ovs-vsctl', 'ovs-vswitchd'];

/** Undefined when the binaries are present, else why not. */
export function localOvsUnavailable(): string | undefined {
  const missing = REQUIRED.filter((b) => !findBinary(b));
  if (missing.length) return `Open vSwitch binaries missing: ${missing.join(', ')} (apt-get install openvswitch-switch)`;
  if (!existsSync(VSWITCH_SCHEMA)) return `${VSWITCH_SCHEMA} not found`;
  return undefined;
}

/** A live daemon that a previous vnetd started for this very directory. */
async function leftover(paths: OvsPaths, d: OvsDaemon): Promise<number | undefined> {
  const pid = await readPidfile(paths.pidfile(d));
  if (!pid || !pidAlive(pid)) return undefined;
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return cmdline.includes(`--pidfile=${paths.pidfile(d)}`) ? pid : undefined;
  } catch {
    return undefined;
  }
}

export async function startLocalOvs(opts: LocalOvsOptions): Promise<LocalOvs> {
  const why = localOvsUnavailable();
  if (why) throw new Error(`cannot start the local Open vSwitch: ${why}`);
  const log = opts.logger.child({ component: 'local-ovs' });
  const dir = join(opts.dataDir, 'ovs');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const paths = new OvsPaths(dir);
  const pids: number[] = [];
  let supervisor: NodeJS.Timeout | undefined;
  const stop = async () => {
    clearInterval(supervisor);
    // vswitchd first, so it does not spin reconnecting to a vanished database.
    for (const pid of pids.splice(0).reverse()) await stopPid(pid);
    log.info({ event: 'local-ovs.stopped', dir }, 'local Open vSwitch stopped');
  };
  const init = async () => {
    await runCommand(requireBinary('ovs-vsctl'), [`--db=unix:${paths.dbSocket}`, '--no-wait', '--timeout=20', ...(await initArgs())], paths.env());
  };
  try {
    if (!existsSync(paths.dbPath)) {
      await runCommand(requireBinary('ovsdb-tool'), ['create', paths.dbPath, opts.schemaPath ?? VSWITCH_SCHEMA], paths.env());
    }
    const oldDb = await leftover(paths, 'ovsdb-server');
    const dbPid = oldDb ?? (await startOvsdbServer(paths, { managerOptions: true }));
    if (dbPid) pids.push(dbPid);
    await init();
    const oldVs = await leftover(paths, 'ovs-vswitchd');
    const vsPid = oldVs ?? (await startVswitchd(paths, opts.netns));
    if (vsPid) pids.push(vsPid);
    log.info(
      { event: 'local-ovs.started', dir, pids, adopted: [oldDb, oldVs].filter(Boolean), netns: opts.netns },
      `local Open vSwitch running in ${dir}`,
    );
  } catch (e) {
    await stop();
    throw e;
  }
  const restartDb = async () => {
    const pid = await startOvsdbServer(paths, { managerOptions: true });
    await init();
    return pid;
  };
  supervisor = supervise({ pids, log, dir, start: { 'ovsdb-server': restartDb, 'ovs-vswitchd': () => startVswitchd(paths, opts.netns) } });
  const leave = () => {
    clearInterval(supervisor);
    log.info(
      { event: 'local-ovs.left_running', dir, pids },
      `local Open vSwitch left running (pids ${pids.join(', ')}) so the VMs keep their traffic; the next start adopts it (VNETD_LOCAL_OVS_STOP=1 stops it with vnetd)`,
    );
    pids.splice(0);
  };
  return { dir, dbSocket: paths.dbSocket, endpoint: `unix:${paths.dbSocket}`, pids, stop, leave };
}

/** How often the daemons are looked at, and the shortest and longest wait before starting one again. */
const SUPERVISE_MS = 1000;
const RESTART_MIN_MS = 1000;
const RESTART_MAX_MS = 60_000;

/**
 * Starts again a daemon of the embedded OVS that died, as systemd does for a hypervisor's
 * (QA-117: a killed ovsdb-server stopped every VM's traffic, ovs-vswitchd losing its
 * database, until someone restarted it by hand). pids[0] is ovsdb-server's, pids[1]
 * ovs-vswitchd's; a new PID takes the old one's place, so stop() stops what runs. One that
 * keeps dying waits twice as long each time, up to a minute.
 */
function supervise(o: { pids: number[]; log: Logger; dir: string; start: Record<OvsDaemon, () => Promise<number | undefined>> }): NodeJS.Timeout {
  const order: OvsDaemon[] = ['ovsdb-server', 'ovs-vswitchd'];
  /** Per daemon: when it was last started, the wait before its next start, and the earliest time for it. */
  const restarts = new Map(order.map((d) => [d, { startedAt: Date.now(), wait: RESTART_MIN_MS, notBefore: 0 }]));
  let busy = false;
  const timer = setInterval(() => {
    if (busy || o.pids.length !== order.length) return;
    const dead = order.findIndex((_, i) => !pidAlive(o.pids[i]!));
    if (dead < 0) return;
    const d = order[dead]!;
    const r = restarts.get(d)!;
    const now = Date.now();
    if (r.notBefore > now) return;
    // One that ran a good while died once, not in a loop: the shortest wait again.
    if (now - r.startedAt > RESTART_MAX_MS) r.wait = RESTART_MIN_MS;
    busy = true;
    o.log.warn({ event: 'local-ovs.daemon_died', daemon: d, pid: o.pids[dead], dir: o.dir }, `local Open vSwitch: ${d} (pid ${o.pids[dead]}) is gone; starting it again`);
    void o.start[d]()
      .then((pid) => {
        if (pid && o.pids.length === order.length) o.pids[dead] = pid;
        o.log.info({ event: 'local-ovs.daemon_restarted', daemon: d, pid }, `local Open vSwitch: ${d} running again (pid ${pid})`);
      })
      .catch((err: unknown) => o.log.error({ event: 'local-ovs.restart_failed', daemon: d, err }, `local Open vSwitch: ${d} did not start again`))
      .finally(() => {
        r.startedAt = Date.now();
        r.notBefore = r.startedAt + r.wait;
        r.wait = Math.min(RESTART_MAX_MS, r.wait * 2);
        busy = false;
      });
  }, SUPERVISE_MS);
  timer.unref();
  return timer;
}

/**
 * Registers Node "local" for the embedded OVS when no Node exists. A "local" Node
 * created this way (annotated) follows the data directory if it moved; anything else
 * an operator created is left alone.
 */
export async function registerLocalNode(objects: ObjectStore, endpoint: string, tunnelIP?: string): Promise<'created' | 'updated' | 'unchanged'> {
  const existing = await objects.get<HypervisorNode>(NODES, undefined, LOCAL_NODE);
  if (existing) {
    // A tunnel address given (VNETD_LOCAL_TUNNEL_IP) is the Node's on every start, not only
    // its first: it was ignored once the Node existed, silently (QA-128 F7).
    const want = { ovsdb: endpoint, ...(tunnelIP ? { tunnelIP } : {}) };
    if (existing.metadata.annotations?.[LOCAL_OVS_ANNOTATION] !== 'true' || (existing.spec?.ovsdb === want.ovsdb && (!tunnelIP || existing.spec?.tunnelIP === tunnelIP))) return 'unchanged';
    await objects.modify<HypervisorNode>(NODES, undefined, LOCAL_NODE, (cur) => ({ ...cur, spec: { ...cur.spec!, ...want } }));
    return 'updated';
  }
  tunnelIP ??= '127.0.0.1';
  if ((await objects.count(NODES)) > 0) return 'unchanged';
  const node: HypervisorNode = {
    apiVersion: API_VERSION,
    kind: 'Node',
    metadata: { name: LOCAL_NODE, annotations: { [LOCAL_OVS_ANNOTATION]: 'true' } },
    spec: { tunnelIP, ovsdb: endpoint },
  };
  await objects.create(NODES, node);
  return 'created';
}
