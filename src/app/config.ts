/** vnetd's settings, from the environment with embedded defaults. */
import { resolve } from 'node:path';

export interface VnetdConfig {
  dataDir: string;
  host: string;
  port: number;
  logLevel: string;
  /** Reconciler workers per kind. */
  workers: number;
  /** Manage hypervisors (Node objects) over OVSDB; default on. */
  chassis?: boolean;
  /** Run a private OVS under dataDir/ovs and register it as Node "local" (VNETD_LOCAL_OVS, default on). */
  localOvs?: boolean;
  /** Tunnel (VTEP) address of Node "local" (VNETD_LOCAL_TUNNEL_IP, default 127.0.0.1). */
  localTunnelIP?: string;
}

function flag(value: string | undefined, fallback: boolean): boolean {
  if (value === undefined || value === '') return fallback;
  return !/^(0|false|off|no)$/i.test(value.trim());
}

export function parseListen(listen: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(listen.trim());
  if (!m) throw new Error(`VNETD_LISTEN must be HOST:PORT (e.g. 127.0.0.1:8443), got "${listen}"`);
  const port = Number(m[3]);
  if (port > 65535) throw new Error(`VNETD_LISTEN port ${port} is out of range`);
  return { host: m[1] ?? m[2]!, port };
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): VnetdConfig {
  const { host, port } = parseListen(env.VNETD_LISTEN ?? '127.0.0.1:8443');
  return {
    dataDir: resolve(env.VNETD_DATA_DIR ?? '.vnetd'),
    host,
    port,
    logLevel: env.VNETD_LOG_LEVEL ?? 'info',
    workers: Number(env.VNETD_WORKERS ?? 2),
    chassis: flag(env.VNETD_CHASSIS, true),
    localOvs: flag(env.VNETD_LOCAL_OVS, true),
    localTunnelIP: env.VNETD_LOCAL_TUNNEL_IP ?? '127.0.0.1',
  };
}
