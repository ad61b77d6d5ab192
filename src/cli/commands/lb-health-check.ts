/**
 * A load balancer's health check for vnetctl: the flags that set it (with the server's
 * defaults in their descriptions), the one-line description `lb status` and `lb
 * set-health` print, and the JSON patch `lb set-health` sends.
 */
import type { Command } from 'commander';
import { HEALTH_CHECK_DEFAULTS, effectiveHealthCheck, type HealthCheck } from '../../resources/kinds';
import type { HealthEdit } from '../flags/health';
import { formatDuration } from '../flags/duration';
import type { JsonPatchOp } from '../ops';

const D = HEALTH_CHECK_DEFAULTS;

/** What a load balancer without a health check does instead. */
export const NO_HEALTH_CHECK = 'a backend is healthy while its port is bound';

/** The check spelled out with the defaults, e.g. for --health-check's description. */
export const DEFAULT_HEALTH_CHECK = `TCP every ${D.intervalSeconds}s, timeout ${D.timeoutSeconds}s, down after ${D.unhealthyThreshold} failures, up after ${D.healthyThreshold} successes`;

/**
 * Adds the tuning flags (timing, protocol, port). `note` ends each description: what leaving the flag out
 * means for the command (create: the default; set-health: the current value is kept).
 */
export function addHealthTuningOptions(cmd: Command, note: (dflt: string) => string): Command {
  return cmd
    .option('--health-interval <duration>', `time between checks of a backend, whole seconds from 1s to 5m (${note(`${D.intervalSeconds}s`)})`)
    .option('--health-timeout <duration>', `how long a check waits for the SYN-ACK (tcp) or an ICMP port unreachable (udp), 1s-5m and at most the interval (${note(`${D.timeoutSeconds}s, capped at the interval`)})`)
    .option('--healthy-threshold <n>', `successes in a row that bring a failed backend back, 1-10 (${note(String(D.healthyThreshold))})`)
    .option('--unhealthy-threshold <n>', `failures in a row that take a backend out, 1-10 (${note(String(D.unhealthyThreshold))})`)
    .option('--health-protocol <tcp|udp>', `tcp: a SYN from the VIP, a SYN-ACK passes; udp: an empty datagram from the VIP, an ICMP port unreachable fails and silence or an answer passes (a backend whose VM is down sends nothing: only its port or node state takes it out) (${note('tcp')})`)
    .option('--health-port <port>', `check this port instead of the listeners' target ports of the check's protocol, e.g. a tcp port beside a udp service (${note("the listeners' target ports")}; none in set-health: back to them)`);
}

/** The settings vnetd probes with (resources/kinds.ts: the one place both sides read). */
export { effectiveHealthCheck };

const times = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;

/** e.g. "TCP every 5s, timeout 2s, down after 3 failures, up after 2 successes", "UDP port 5353 every 5s, ..."; undefined: "none (...)". */
export function describeHealthCheck(hc: HealthCheck | undefined): string {
  if (!hc) return `none (${NO_HEALTH_CHECK})`;
  const e = effectiveHealthCheck(hc);
  const seconds = (s: number) => formatDuration(s * 1000);
  return `${e.protocol}${e.port !== undefined ? ` port ${e.port}` : ''} every ${seconds(e.intervalSeconds)}, timeout ${seconds(e.timeoutSeconds)}, down after ${times(e.unhealthyThreshold, 'failure', 'failures')}, up after ${times(e.healthyThreshold, 'success', 'successes')}`;
}

/**
 * The JSON patch ops (after the resourceVersion test) for `lb set-health`: the given
 * fields replace those of the current check and the others are kept; with no check yet,
 * a TCP one with the given fields is added. --off removes the check; nothing to do (an
 * empty list) when there is none.
 */
export function healthCheckOps(current: HealthCheck | undefined, edit: HealthEdit): JsonPatchOp[] {
  if (edit.off) return current ? [{ op: 'remove', path: '/spec/healthCheck' }] : [];
  if (!current) return [{ op: 'add', path: '/spec/healthCheck', value: { protocol: 'TCP', ...edit.tuning } }];
  // "add" on an object member replaces it when present (RFC 6902 4.1), so one op either way.
  const ops: JsonPatchOp[] = Object.entries(edit.tuning)
    .filter(([, value]) => value !== undefined)
    .map(([field, value]) => ({ op: 'add' as const, path: `/spec/healthCheck/${field}`, value }));
  if (edit.clearPort && current.port !== undefined) ops.push({ op: 'remove', path: '/spec/healthCheck/port' });
  return ops;
}
