/**
 * Packet-ins from a node's main connection (health checks' answers, refused connections):
 * they need the switch configuration's nonzero miss_send_len (switch-config.ts).
 */
import type { Logger } from 'pino';
import type { Match, OpenFlowConnection } from '../../openflow';
import { configureSwitch } from './switch-config';

export function receivePacketIns(conn: OpenFlowConnection, log: Logger): void {
  configureSwitch(conn, log);
}

/** A packet-in's ingress port (OVS always puts in_port in its match). */
export function inPortOf(match: Match): number | undefined {
  for (const x of match) if (x.field === 'in_port') return x.value;
  return undefined;
}
