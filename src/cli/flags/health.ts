/**
 * The health-check flags of `vnetctl lb create` and `lb set-health`: --health-interval and
 * --health-timeout (durations, whole seconds 1s-5m), --healthy-threshold and
 * --unhealthy-threshold (1-10), --health-protocol (tcp or udp, any case, as --listen's) and
 * --health-port (1-65535; `none` in set-health: back to the listeners' target ports), and
 * the UDP check's probe: --health-udp-payload-hex (its bytes in hex, the way tcpdump -X and
 * Wireshark show a packet; `none` in set-health: an empty datagram again),
 * --health-udp-expect-reply (--no-health-udp-expect-reply in set-health) and
 * --health-dns-query NAME (a DNS query for NAME as the payload, and a reply expected, as
 * keepalived's DNS_CHECK), which imply --health-protocol udp, as spec.healthCheck holds them. They are parsed here, not
 * by commander, so that a bad value is one line naming the flag and the value, and so the
 * flags can be checked against each other (--off with a tuning flag).
 */
import { UDP_HEALTH_PAYLOAD_MAX, type HealthCheck, type UdpHealthCheck } from '../../resources/kinds';
import { fnv1a } from '../../pipeline/owners';
import { UsageError } from '../errors';
import { dnsQuery } from './dns-query';
import { parseDuration } from './duration';

/** The tuning flags as commander hands them over (strings, absent when not given). */
export interface HealthFlagValues {
  healthInterval?: string;
  healthTimeout?: string;
  healthyThreshold?: string;
  unhealthyThreshold?: string;
  healthProtocol?: string;
  healthPort?: string;
  healthUdpPayloadHex?: string;
  /** --health-udp-expect-reply (true) or --no-health-udp-expect-reply (false). */
  healthUdpExpectReply?: boolean;
  healthDnsQuery?: string;
}

/** The spec.healthCheck fields the flags set; absent ones are left to the object or the server's defaults. */
export type HealthTuning = HealthCheck;

/**
 * What `lb set-health` is asked to do; clearPort: --health-port none (check the listeners'
 * target ports again); clearPayload: --health-udp-payload-hex none (an empty datagram again).
 */
export type HealthEdit = { off: true } | { off: false; tuning: HealthTuning; clearPort?: boolean; clearPayload?: boolean };

/** The schema's bounds (intervalSeconds/timeoutSeconds 1-300, thresholds 1-10). */
const MAX_SECONDS = 300;
const MAX_THRESHOLD = 10;

/** In the order of HealthFlagValues' fields. */
export const TUNING_FLAGS = ['--health-interval', '--health-timeout', '--healthy-threshold', '--unhealthy-threshold', '--health-protocol', '--health-port', '--health-udp-payload-hex', '--health-udp-expect-reply', '--health-dns-query'] as const;

/** --health-port's value that removes spec.healthCheck.port (set-health), and --health-udp-payload-hex's that removes the payload. */
export const NO_HEALTH_PORT = 'none';

/** A duration flag as whole seconds: the API counts seconds, so 1500ms cannot be stored as given. */
export function parseHealthSeconds(flag: string, text: string): number {
  let ms: number;
  try {
    ms = parseDuration(text);
  } catch {
    throw new UsageError(`${flag} "${text}": not a duration; give whole seconds from 1s to 5m, e.g. 10s or 1m30s`);
  }
  if (ms % 1000 !== 0 || ms < 1000 || ms > MAX_SECONDS * 1000) throw new UsageError(`${flag} "${text}": must be whole seconds from 1s to 5m`);
  return ms / 1000;
}

export function parseThreshold(flag: string, text: string): number {
  const t = text.trim();
  if (!/^\d{1,2}$/.test(t) || Number(t) < 1 || Number(t) > MAX_THRESHOLD) throw new UsageError(`${flag} "${text}": must be a whole number from 1 to ${MAX_THRESHOLD}`);
  return Number(t);
}

export function parseHealthProtocol(text: string): 'TCP' | 'UDP' {
  const p = text.trim().toUpperCase();
  if (p !== 'TCP' && p !== 'UDP') throw new UsageError(`--health-protocol "${text}": must be tcp or udp`);
  return p;
}

export function parseHealthPort(text: string): number {
  const t = text.trim();
  if (!/^\d{1,5}$/.test(t) || Number(t) < 1 || Number(t) > 65535) throw new UsageError(`--health-port "${text}": must be a port from 1 to 65535, or ${NO_HEALTH_PORT} (set-health) to check the listeners' target ports again`);
  return Number(t);
}

/**
 * --health-udp-payload-hex's bytes: hex digits, two a byte, optionally grouped by spaces or
 * colons (as tcpdump and Wireshark print them), at most UDP_HEALTH_PAYLOAD_MAX bytes.
 */
export function parseUdpPayloadHex(text: string): Buffer {
  const hex = text.replace(/[\s:]/g, '').replace(/^0x/i, '');
  if (!/^(?:[0-9a-fA-F]{2})*$/.test(hex)) throw new UsageError(`--health-udp-payload-hex "${text}": must be hex bytes (two digits each, spaces or colons allowed), e.g. 68656c6c6f, or ${NO_HEALTH_PORT} (set-health) for an empty datagram`);
  if (hex.length / 2 > UDP_HEALTH_PAYLOAD_MAX) throw new UsageError(`--health-udp-payload-hex: ${hex.length / 2} bytes, at most ${UDP_HEALTH_PAYLOAD_MAX}`);
  return Buffer.from(hex, 'hex');
}

/**
 * --health-dns-query's payload: a standard DNS query for NAME (type A, class IN, recursion
 * desired), its id a hash of the name: fixed, so the same flags write the same spec (a
 * set-health run again changes nothing), and not 0 (some servers drop id 0 as a scan's).
 */
export function dnsQueryPayload(name: string): Buffer {
  try {
    return dnsQuery(name.trim(), (fnv1a(name.trim()) % 0xffff) + 1);
  } catch (err) {
    throw new UsageError(`--health-dns-query "${name}": ${(err as Error).message}`);
  }
}

/**
 * spec.healthCheck.udp from the UDP probe flags (undefined when none is given); clearPayload:
 * --health-udp-payload-hex none. --health-dns-query is a payload and a reply expected, so it
 * goes with neither --health-udp-payload-hex nor --no-health-udp-expect-reply.
 */
function parseUdpFlags(o: HealthFlagValues): { udp?: UdpHealthCheck; clearPayload?: boolean } {
  const clearPayload = o.healthUdpPayloadHex?.trim().toLowerCase() === NO_HEALTH_PORT;
  if (o.healthDnsQuery !== undefined) {
    if (o.healthUdpPayloadHex !== undefined) throw new UsageError('--health-dns-query sends a DNS query as the payload: give it or --health-udp-payload-hex, not both');
    if (o.healthUdpExpectReply === false) throw new UsageError('--health-dns-query expects a reply: it cannot go with --no-health-udp-expect-reply');
    return { udp: { payload: dnsQueryPayload(o.healthDnsQuery).toString('base64'), expectReply: true } };
  }
  const udp: UdpHealthCheck = {};
  if (o.healthUdpPayloadHex !== undefined && !clearPayload) udp.payload = parseUdpPayloadHex(o.healthUdpPayloadHex).toString('base64');
  if (o.healthUdpExpectReply !== undefined) udp.expectReply = o.healthUdpExpectReply;
  return { ...(Object.keys(udp).length || clearPayload ? { udp } : {}), ...(clearPayload ? { clearPayload } : {}) };
}

/** The fields the given tuning flags set (an empty object when none is given; --health-port none sets nothing). */
export function parseHealthTuning(o: HealthFlagValues): HealthTuning {
  const t: HealthTuning = {};
  if (o.healthProtocol !== undefined) t.protocol = parseHealthProtocol(o.healthProtocol);
  const { udp } = parseUdpFlags(o);
  if (udp) t.udp = udp;
  // A payload or a reply expected is a UDP check's: it implies one, and refuses an explicit TCP
  // one (--no-health-udp-expect-reply and "none" only undo, and imply nothing).
  if (udp && (udp.payload !== undefined || udp.expectReply === true)) {
    if (t.protocol === 'TCP') throw new UsageError('--health-udp-payload-hex, --health-udp-expect-reply and --health-dns-query are for UDP checks: leave out --health-protocol tcp (they imply udp)');
    t.protocol = 'UDP';
  }
  if (o.healthPort !== undefined && o.healthPort.trim().toLowerCase() !== NO_HEALTH_PORT) t.port = parseHealthPort(o.healthPort);
  if (o.healthInterval !== undefined) t.intervalSeconds = parseHealthSeconds('--health-interval', o.healthInterval);
  if (o.healthTimeout !== undefined) t.timeoutSeconds = parseHealthSeconds('--health-timeout', o.healthTimeout);
  if (o.healthyThreshold !== undefined) t.healthyThreshold = parseThreshold('--healthy-threshold', o.healthyThreshold);
  if (o.unhealthyThreshold !== undefined) t.unhealthyThreshold = parseThreshold('--unhealthy-threshold', o.unhealthyThreshold);
  return t;
}

/**
 * spec.healthCheck for `lb create`: none unless --health-check or a tuning flag (which
 * implies it) is given. Only the given fields are written: the rest stay the server's
 * defaults, as when the field is left out of a manifest.
 */
export function healthCheckForCreate(o: HealthFlagValues & { healthCheck?: boolean }): HealthCheck | undefined {
  if (o.healthPort?.trim().toLowerCase() === NO_HEALTH_PORT) throw new UsageError(`--health-port ${NO_HEALTH_PORT} is for set-health; leave the flag out to check the listeners' target ports`);
  if (o.healthUdpPayloadHex?.trim().toLowerCase() === NO_HEALTH_PORT) throw new UsageError(`--health-udp-payload-hex ${NO_HEALTH_PORT} is for set-health; leave the flag out for an empty datagram`);
  const tuning = parseHealthTuning(o);
  // Without a payload or a reply expected (--no-health-udp-expect-reply alone), udp says what absent says.
  if (tuning.udp && tuning.udp.payload === undefined && tuning.udp.expectReply !== true) delete tuning.udp;
  if (o.healthCheck !== true && Object.keys(tuning).length === 0) return undefined;
  return { protocol: 'TCP', ...tuning };
}

/** The flags of `lb set-health`: --off alone, or --health-check and/or at least one tuning flag. */
export function parseHealthEdit(o: HealthFlagValues & { off?: boolean; healthCheck?: boolean }): HealthEdit {
  const values: readonly (string | boolean | undefined)[] = [o.healthInterval, o.healthTimeout, o.healthyThreshold, o.unhealthyThreshold, o.healthProtocol, o.healthPort, o.healthUdpPayloadHex, o.healthUdpExpectReply, o.healthDnsQuery];
  const given = TUNING_FLAGS.filter((_, i) => values[i] !== undefined);
  if (o.off === true) {
    const also = [...(o.healthCheck === true ? ['--health-check'] : []), ...given];
    if (also.length > 0) throw new UsageError(`--off removes the health check and cannot go with ${also.join(', ')}; give either --off or the settings to change`);
    return { off: true };
  }
  if (given.length === 0 && o.healthCheck !== true) throw new UsageError(`give the settings to change (${TUNING_FLAGS.join(', ')}; a check is created when there is none), --health-check to turn one on with the defaults, or --off to remove it`);
  const clearPort = o.healthPort?.trim().toLowerCase() === NO_HEALTH_PORT;
  const { clearPayload } = parseUdpFlags(o);
  return { off: false, tuning: parseHealthTuning(o), ...(clearPort ? { clearPort } : {}), ...(clearPayload ? { clearPayload } : {}) };
}
