/**
 * A load balancer's health check for vnetctl: the flags that set it (with the server's
 * defaults in their descriptions), the one-line description `lb status` and `lb
 * set-health` print, and the JSON patch `lb set-health` sends.
 */
import type { Command } from 'commander';
import { HEALTH_CHECK_DEFAULTS, effectiveHealthCheck, type HealthCheck, type UdpHealthCheck } from '../../resources/kinds';
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
    .option('--health-protocol <tcp|udp>', `tcp: a SYN from the VIP, a SYN-ACK passes; udp: an empty datagram from the VIP, an ICMP port unreachable fails and silence or an answer passes, unless its NIC's link is down (a hung server sends nothing: see --health-udp-expect-reply) (${note('tcp')})`)
    .option('--health-port <port>', `check this port instead of the listeners' target ports of the check's protocol, e.g. a tcp port beside a udp service (${note("the listeners' target ports")}; none in set-health: back to them)`)
    .option('--health-udp-payload-hex <hex>', `udp: the probe datagram's bytes in hex, as tcpdump -X shows them (spaces or colons allowed), at most 512 bytes; implies --health-protocol udp (${note('an empty datagram')}; none in set-health: empty again)`)
    .option('--health-udp-expect-reply', `udp: a check passes only when the backend answers the probe from the checked port within the timeout; silence fails too, so a hung server (which sends no ICMP) is taken out; implies --health-protocol udp (${note('silence passes')})`)
    .option('--no-health-udp-expect-reply', 'udp: silence passes again, only an ICMP port unreachable fails')
    .option('--health-dns-query <name>', `udp: send a DNS query for NAME (type A, recursion desired) and expect a reply, as keepalived's DNS_CHECK: the same as --health-udp-payload-hex with that query and --health-udp-expect-reply; any answer, NXDOMAIN included, passes`);
}

/** The settings vnetd probes with (resources/kinds.ts: the one place both sides read). */
export { effectiveHealthCheck };

const times = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;

/**
 * What a UDP check's probe is and how it is judged, e.g. "(33-byte payload, reply required)";
 * "" for a TCP check or an empty datagram whose silence passes (the check as it always was).
 */
function udpMode(udp: UdpHealthCheck | undefined): string {
  const bytes = udp?.payload ? Buffer.from(udp.payload, 'base64').length : 0;
  const parts = [...(bytes ? [`${bytes}-byte payload`] : []), ...(udp?.expectReply ? ['reply required'] : [])];
  return parts.length ? ` (${parts.join(', ')})` : '';
}

/** e.g. "TCP every 5s, timeout 2s, down after 3 failures, up after 2 successes", "UDP port 5353 (33-byte payload, reply required) every 5s, ..."; undefined: "none (...)". */
export function describeHealthCheck(hc: HealthCheck | undefined): string {
  if (!hc) return `none (${NO_HEALTH_CHECK})`;
  const e = effectiveHealthCheck(hc);
  const seconds = (s: number) => formatDuration(s * 1000);
  return `${e.protocol}${e.port !== undefined ? ` port ${e.port}` : ''}${udpMode(e.udp)} every ${seconds(e.intervalSeconds)}, timeout ${seconds(e.timeoutSeconds)}, down after ${times(e.unhealthyThreshold, 'failure', 'failures')}, up after ${times(e.healthyThreshold, 'success', 'successes')}`;
}

/**
 * The JSON patch ops (after the resourceVersion test) for `lb set-health`: the given
 * fields replace those of the current check and the others are kept; with no check yet,
 * a TCP one with the given fields is added. --off removes the check; nothing to do (an
 * empty list) when there is none.
 */
export function healthCheckOps(current: HealthCheck | undefined, edit: HealthEdit): JsonPatchOp[] {
  if (edit.off) return current ? [{ op: 'remove', path: '/spec/healthCheck' }] : [];
  if (!current) {
    // --no-health-udp-expect-reply or a payload of none undo what there is not: udp stays out
    // (a TCP check with a udp, which admission refused with a message about neither flag).
    const { udp, ...rest } = edit.tuning;
    const saysSomething = udp && (udp.payload !== undefined || udp.expectReply === true);
    return [{ op: 'add', path: '/spec/healthCheck', value: { protocol: 'TCP', ...rest, ...(saysSomething ? { udp } : {}) } }];
  }
  // "add" on an object member replaces it when present (RFC 6902 4.1), so one op either way.
  const ops: JsonPatchOp[] = Object.entries(edit.tuning)
    .filter(([field, value]) => value !== undefined && field !== 'udp')
    .map(([field, value]) => ({ op: 'add' as const, path: `/spec/healthCheck/${field}`, value }));
  if (edit.clearPort && current.port !== undefined) ops.push({ op: 'remove', path: '/spec/healthCheck/port' });
  const udp = edit.tuning.udp && mergedUdp(current.udp, edit.tuning.udp, edit.clearPayload === true);
  if (udp) ops.push({ op: 'add', path: '/spec/healthCheck/udp', value: udp });
  // Nothing left of it, or the check turned TCP (which admission refuses a udp with): it goes.
  else if ((edit.tuning.udp || edit.tuning.protocol === 'TCP') && current.udp) ops.push({ op: 'remove', path: '/spec/healthCheck/udp' });
  return ops;
}

/** The current udp with the given fields replaced (and the payload removed with clearPayload); undefined when nothing is left. */
function mergedUdp(current: UdpHealthCheck | undefined, given: UdpHealthCheck, clearPayload: boolean): UdpHealthCheck | undefined {
  const merged: UdpHealthCheck = { ...current, ...given };
  if (clearPayload) delete merged.payload;
  if (merged.expectReply === false) delete merged.expectReply;
  return Object.keys(merged).length ? merged : undefined;
}
