/**
 * What the readers of packet-ins (health checks' answers, lb-health.ts; refused connections,
 * lb-reject.ts) share of reading them. That a connection gets packet-ins at all is the switch
 * configuration's doing (its nonzero miss_send_len, configureSwitch in switch-config.ts).
 */
import type { Match } from '../../openflow';

/** A packet-in's ingress port (OVS always puts in_port in its match). */
export function inPortOf(match: Match): number | undefined {
  for (const x of match) if (x.field === 'in_port') return x.value;
  return undefined;
}
