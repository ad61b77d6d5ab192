/**
 * vnetd's command line: the subcommand picks the role, flags and environment its settings.
 * This is the contract deploy/ manifests and systemd units are written against.
 */
import { parseListen, parseLogLevel, parseOpenflowLanes, parseWorkers } from './config';
export const USAGE = `usage:
  vnetd                       all-in-one: SQLite, embedded OVS, reconcilers (VNETD_* settings, see README)
  vnetd controller            one controller replica: VNETD_STORE=sqlite|etcd://host:port[,host:port...]
                              (VNETD_ETCD_CA/CERT/KEY for TLS), API on VNETD_LISTEN, reconcilers on the
                              elected leader; VNETD_CHASSIS=1 to program hypervisors from the leader
  vnetd agent --node NAME [--kubeconfig PATH]
                              programs this hypervisor's OVS (VNETD_OVSDB, default
                              unix:/var/run/openvswitch/db.sock) through the controller's API;
                              NAME also from VNETD_NODE_NAME, PATH from KUBECONFIG; its /metrics
                              on VNETD_METRICS_ADDRESS (HOST:PORT, e.g. 127.0.0.1:9464) when set
`;

export class UsageError extends Error {
  constructor(message: string) {
    super(`${message}\n${USAGE}`);
    this.name = 'UsageError';
  }
}

export interface AgentCommand {
  node: string;
  kubeconfig: string;
  ovsdb: string;
  logLevel: string;
  workers: number;
  /** VNETD_OPENFLOW_LANES (see config.ts). */
  openflowLanes?: number;
  /** Least time between two reports of the node's load-balancing counts (default 30 s; tests shorten it). */
  dispatchReportMs?: number;
  /** host:port of the agent's /metrics (VNETD_METRICS_ADDRESS); none when unset. */
  metricsAddress?: string;
}

export type Command = { kind: 'all-in-one' } | { kind: 'controller' } | { kind: 'agent'; options: AgentCommand } | { kind: 'help' };

export const DEFAULT_OVSDB = 'unix:/var/run/openvswitch/db.sock';

/** Node names are Kubernetes object names (DNS subdomain). */
const NODE_NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

/** VNETD_METRICS_ADDRESS, checked here so that a wrong one is a usage error, before anything starts. */
function parseMetricsSetting(value: string | undefined): string | undefined {
  if (!value) return undefined;
  try {
    parseListen(value, 'VNETD_METRICS_ADDRESS', '127.0.0.1:9464');
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  return value;
}

export function parseCommandLine(argv: string[], env: NodeJS.ProcessEnv): Command {
  const [sub, ...rest] = argv;
  if (sub === undefined) return { kind: 'all-in-one' };
  const isHelp = (a: string | undefined) => a === '-h' || a === '--help' || a === 'help';
  if (isHelp(sub)) return { kind: 'help' };
  // `vnetd controller --help`, `vnetd agent -h`: the usage, as for `vnetd --help`.
  if ((sub === 'controller' || sub === 'agent') && rest.some((a) => a === '-h' || a === '--help')) return { kind: 'help' };
  if (sub === 'controller') {
    if (rest.length) throw new UsageError(`vnetd controller takes no arguments (settings come from VNETD_*), got "${rest.join(' ')}"`);
    return { kind: 'controller' };
  }
  if (sub !== 'agent') throw new UsageError(`unknown command "${sub}"`);
  let node = env.VNETD_NODE_NAME;
  let kubeconfig = env.KUBECONFIG;
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i]!;
    const eq = arg.indexOf('=');
    const flag = eq > 0 ? arg.slice(0, eq) : arg;
    const value = (): string => {
      const v = eq > 0 ? arg.slice(eq + 1) : rest[++i];
      if (v === undefined || v === '') throw new UsageError(`${flag} needs a value`);
      return v;
    };
    if (flag === '--node') node = value();
    else if (flag === '--kubeconfig') kubeconfig = value();
    else throw new UsageError(`unknown flag "${arg}" for vnetd agent`);
  }
  if (!node) throw new UsageError('vnetd agent needs --node NAME (or VNETD_NODE_NAME)');
  if (!NODE_NAME.test(node)) throw new UsageError(`--node "${node}" is not a valid Node name (lowercase letters, digits, '-' and '.')`);
  if (!kubeconfig) throw new UsageError('vnetd agent needs --kubeconfig PATH (or KUBECONFIG): the kubeconfig the controller wrote');
  return {
    kind: 'agent',
    options: {
      node,
      kubeconfig: kubeconfig.split(':')[0]!,
      ovsdb: env.VNETD_OVSDB || DEFAULT_OVSDB,
      logLevel: parseLogLevel(env.VNETD_LOG_LEVEL),
      workers: parseWorkers(env.VNETD_WORKERS),
      openflowLanes: parseOpenflowLanes(env.VNETD_OPENFLOW_LANES),
      metricsAddress: parseMetricsSetting(env.VNETD_METRICS_ADDRESS),
    },
  };
}
