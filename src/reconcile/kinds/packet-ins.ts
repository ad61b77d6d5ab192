/**
 * vnetd's controller target is a passive (punix) one, which OVS treats as a service
 * controller: it gets no packet-ins until it sets a nonzero miss_send_len. Health checks'
 * answers and refused connections both arrive as packet-ins, so every node connection that
 * expects them says so, now and after each reconnect.
 */
import type { Logger } from 'pino';
import type { Match, OpenFlowConnection } from '../../openflow';

/** Enough for Ethernet + IPv6 + TCP with options (what the pipeline's controller flows capture at most). */
export const PACKET_IN_BYTES = 128;

export function receivePacketIns(conn: OpenFlowConnection, log: Logger): void {
  const enable = () => void conn.send({ type: 'set_config', flags: 0, missSendLen: PACKET_IN_BYTES }).catch((err: unknown) => log.debug({ err }, 'set_config not sent'));
  conn.on('connected', enable);
  if (conn.connected) enable();
}

/** A packet-in's ingress port (OVS always puts in_port in its match). */
export function inPortOf(match: Match): number | undefined {
  for (const x of match) if (x.field === 'in_port') return x.value;
  return undefined;
}
