/** vnetd's settings, from the environment with embedded defaults. */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { DEFAULT_UNDERLAY_MTU } from '../admission/network-mtu';

/** Where the controller keeps its objects: the embedded SQLite file, or a shared etcd cluster. */
export type StoreConfig =
  | { kind: 'sqlite' }
  | { kind: 'etcd'; endpoints: string[]; tls?: { ca: Buffer; cert?: Buffer; key?: Buffer } };

export interface VnetdConfig {
  dataDir: string;
  host: string;
  port: number;
  logLevel: string;
  /** Reconciler workers per kind (VNETD_WORKERS, default DEFAULT_WORKERS). */
  workers: number;
  /** Extra OpenFlow connections per node for large changes (VNETD_OPENFLOW_LANES, default 3). */
  openflowLanes?: number;
  /** Manage hypervisors (Node objects) over OVSDB; default on. */
  chassis?: boolean;
  /** Run a private OVS under dataDir/ovs and register it as Node "local" (VNETD_LOCAL_OVS, default on). */
  localOvs?: boolean;
  /** Tunnel (VTEP) address of Node "local" (VNETD_LOCAL_TUNNEL_IP; when unset, 127.0.0.1 for a new Node and the Node's own after). */
  localTunnelIP?: string;
  /** VNETD_STORE; default sqlite (dataDir/store.db). */
  store?: StoreConfig;
  /** The underlay's MTU on every hypervisor (VNETD_UNDERLAY_MTU, default 1500): what a network's MTU plus its encapsulation must fit in. */
  underlayMtu?: number;
}

function flag(value: string | undefined, fallback: boolean): boolean {
  if (value === undefined || value === '') return fallback;
  return !/^(0|false|off|no)$/i.test(value.trim());
}

/**
 * A reconcile that writes waits for the store's group commit (the end of the event-loop
 * turn), so each worker finishes about one write per turn: with 2 workers per kind the
 * reconcilers fell seconds behind 16 concurrent API clients (N=1000: all Ready 8 s after
 * the last POST; with 16 workers, 1.7 s). Workers take distinct keys only.
 */
export const DEFAULT_WORKERS = 16;

/** HOST:PORT or [V6]:PORT, of VNETD_LISTEN or another address setting (named in the error). */
export function parseListen(listen: string, setting = 'VNETD_LISTEN', example = '127.0.0.1:8443'): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(listen.trim());
  if (!m) throw new Error(`${setting} must be HOST:PORT (e.g. ${example}), got "${listen}"`);
  const port = Number(m[3]);
  if (port > 65535) throw new Error(`${setting} port ${port} is out of range`);
  return { host: m[1] ?? m[2]!, port };
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** VNETD_LOG_LEVEL: one of pino's level names (default info). */
export function parseLogLevel(raw: string | undefined): string {
  const level = (raw ?? '').trim().toLowerCase();
  if (level === '') return 'info';
  if (!LOG_LEVELS.includes(level)) throw new Error(`VNETD_LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got "${raw}"`);
  return level;
}

/**
 * VNETD_UNDERLAY_MTU: the MTU of the hypervisors' underlay (Neutron's global_physnet_mtu),
 * 1280 to 9216, default 1500. A network's MTU plus its encapsulation must fit in it
 * (admission/network-mtu.ts).
 */
export function parseUnderlayMtu(raw: string | undefined): number {
  if (raw === undefined || raw.trim() === '') return DEFAULT_UNDERLAY_MTU;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1280 || n > 9216) throw new Error(`VNETD_UNDERLAY_MTU must be a whole number from 1280 to 9216 (the hypervisors' underlay MTU), got "${raw}"`);
  return n;
}

/** VNETD_WORKERS: reconciler workers per kind, a whole number from 1 to 64 (default DEFAULT_WORKERS). */
export function parseWorkers(raw: string | undefined): number {
  if (raw === undefined || raw.trim() === '') return DEFAULT_WORKERS;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 64) throw new Error(`VNETD_WORKERS must be a whole number from 1 to 64, got "${raw}"`);
  return n;
}

/**
 * VNETD_OPENFLOW_LANES: OpenFlow connections per node beside the main one, over which large
 * flow changes are spread (ovs-vswitchd reads 50 messages per connection per main-loop
 * iteration); 0 to 16, default undefined (the pipeline's default).
 */
export function parseOpenflowLanes(raw: string | undefined): number | undefined {
  if (raw === undefined || raw.trim() === '') return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 16) throw new Error(`VNETD_OPENFLOW_LANES must be a whole number from 0 to 16, got "${raw}"`);
  return n;
}

/**
 * VNETD_STORE: `sqlite` (default) or `etcd://host:port[,host:port...]`; with
 * VNETD_ETCD_CA / VNETD_ETCD_CERT / VNETD_ETCD_KEY (PEM file paths) the client speaks TLS.
 */
export function parseStore(env: NodeJS.ProcessEnv): StoreConfig {
  const raw = (env.VNETD_STORE ?? 'sqlite').trim();
  if (raw === '' || raw === 'sqlite') return { kind: 'sqlite' };
  const m = /^etcd:\/\/(.+)$/.exec(raw);
  if (!m) throw new Error(`VNETD_STORE must be "sqlite" or "etcd://host:port[,host:port...]", got "${raw}"`);
  const hosts = m[1]!.split(',').map((h) => h.trim());
  for (const h of hosts) {
    const ok = /^(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(h);
    if (!ok || Number(ok[1]) > 65535) throw new Error(`VNETD_STORE: "${h}" is not host:port (in "${raw}")`);
  }
  const file = (name: string): Buffer | undefined => {
    const path = env[name];
    if (!path) return undefined;
    try {
      return readFileSync(path);
    } catch (err) {
      throw new Error(`${name}: cannot read ${path}: ${(err as Error).message}`);
    }
  };
  const ca = file('VNETD_ETCD_CA');
  const cert = file('VNETD_ETCD_CERT');
  const key = file('VNETD_ETCD_KEY');
  if (!!cert !== !!key) throw new Error('VNETD_ETCD_CERT and VNETD_ETCD_KEY go together (client certificate and its key)');
  if (cert && !ca) throw new Error('VNETD_ETCD_CERT needs VNETD_ETCD_CA (the CA that signed the etcd servers\' certificates)');
  const tls = ca ? { ca, cert, key } : undefined;
  const scheme = tls ? 'https' : 'http';
  return { kind: 'etcd', endpoints: hosts.map((h) => `${scheme}://${h}`), tls };
}

/**
 * `role` changes one default: a controller programs hypervisors itself only with
 * VNETD_CHASSIS=1 (agents do it otherwise); all-in-one does unless VNETD_CHASSIS=0.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, role: 'all-in-one' | 'controller' = 'all-in-one'): VnetdConfig {
  const { host, port } = parseListen(env.VNETD_LISTEN ?? '127.0.0.1:8443');
  const store = parseStore(env);
  // All-in-one keeps its own SQLite store: started with an etcd store named, it ran on a
  // fresh SQLite one instead, said nothing, and wrote its admin kubeconfig over the one of
  // the etcd cluster's controllers in the same data dir (QA-123 F6).
  if (role === 'all-in-one' && store.kind === 'etcd') {
    throw new Error(`VNETD_STORE=${env.VNETD_STORE?.trim()} is for "vnetd controller": plain "vnetd" (all-in-one) keeps its state in its own SQLite store (VNETD_DATA_DIR/store.db); run "vnetd controller" to serve the etcd store, or unset VNETD_STORE`);
  }
  return {
    dataDir: resolve(env.VNETD_DATA_DIR ?? '.vnetd'),
    host,
    port,
    logLevel: parseLogLevel(env.VNETD_LOG_LEVEL),
    workers: parseWorkers(env.VNETD_WORKERS),
    openflowLanes: parseOpenflowLanes(env.VNETD_OPENFLOW_LANES),
    chassis: flag(env.VNETD_CHASSIS, role === 'all-in-one'),
    localOvs: flag(env.VNETD_LOCAL_OVS, true),
    // Unset: Node "local" is created with 127.0.0.1 and its tunnelIP left as it is after.
    localTunnelIP: env.VNETD_LOCAL_TUNNEL_IP || undefined,
    store,
    underlayMtu: parseUnderlayMtu(env.VNETD_UNDERLAY_MTU),
  };
}
