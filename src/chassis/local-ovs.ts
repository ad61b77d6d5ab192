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
  const stop = async () => {
    // vswitchd first, so it does not spin reconnecting to a vanished database.
    for (const pid of pids.splice(0).reverse()) await stopPid(pid);
    log.info({ event: 'local-ovs.stopped', dir }, 'local Open vSwitch stopped');
  };
  try {
    if (!existsSync(paths.dbPath)) {
      await runCommand(requireBinary('ovsdb-tool'), ['create', paths.dbPath, opts.schemaPath ?? VSWITCH_SCHEMA], paths.env());
    }
    const oldDb = await leftover(paths, 'ovsdb-server');
    const dbPid = oldDb ?? (await startOvsdbServer(paths, { managerOptions: true }));
    if (dbPid) pids.push(dbPid);
    await runCommand(requireBinary('ovs-vsctl'), [`--db=unix:${paths.dbSocket}`, '--no-wait', '--timeout=20', ...(await initArgs())], paths.env());
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
  const leave = () => {
    log.info(
      { event: 'local-ovs.left_running', dir, pids },
      `local Open vSwitch left running (pids ${pids.join(', ')}) so the VMs keep their traffic; the next start adopts it (VNETD_LOCAL_OVS_STOP=1 stops it with vnetd)`,
    );
    pids.splice(0);
  };
  return { dir, dbSocket: paths.dbSocket, endpoint: `unix:${paths.dbSocket}`, pids, stop, leave };
}

/**
 * Registers Node "local" for the embedded OVS when no Node exists. A "local" Node
 * created this way (annotated) follows the data directory if it moved; anything else
 * an operator created is left alone.
 */
export async function registerLocalNode(objects: ObjectStore, endpoint: string, tunnelIP = '127.0.0.1'): Promise<'created' | 'updated' | 'unchanged'> {
  const existing = await objects.get<HypervisorNode>(NODES, undefined, LOCAL_NODE);
  if (existing) {
    if (existing.metadata.annotations?.[LOCAL_OVS_ANNOTATION] !== 'true' || existing.spec?.ovsdb === endpoint) return 'unchanged';
    await objects.modify<HypervisorNode>(NODES, undefined, LOCAL_NODE, (cur) => ({ ...cur, spec: { ...cur.spec!, ovsdb: endpoint } }));
    return 'updated';
  }
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
