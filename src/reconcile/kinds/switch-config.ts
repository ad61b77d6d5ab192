/**
 * The switch configuration every vnetd connection to a node's bridge sends (OFPT_SET_CONFIG),
 * now and after each reconnect. Fragment handling is the bridge's, not the connection's: one
 * connection sending another value would change it for all, so every sender sends this one.
 *
 * - Fragments: OVS's nx-match. The pipeline's guards read L4 fields (the router guard drops
 *   a secured VM's DHCP server replies by UDP source port and its router advertisements by
 *   ICMPv6 type); under OpenFlow's "normal" handling every fragment's L4 fields read 0, so a
 *   rogue DHCP offer or RA split into fragments passed every guard (QA-133 F4). Under
 *   nx-match a first fragment carries its ports and type, and later fragments without their
 *   first reassemble into nothing.
 * - miss_send_len: vnetd's controller target is a passive (punix) one, which OVS treats as a
 *   service controller: it gets no packet-ins until it sets a nonzero miss_send_len (health
 *   checks' answers and refused connections arrive as packet-ins).
 *
 * And on the pipeline's own connection, its meters (installMeters).
 */
import type { Logger } from 'pino';
import { ConfigFlags, type OpenFlowConnection } from '../../openflow';
import { PIPELINE_METERS } from '../../pipeline/meters';

/** Enough for Ethernet + IPv6 + TCP with options (what the pipeline's controller flows capture at most). */
export const PACKET_IN_BYTES = 128;

export const SWITCH_CONFIG = { flags: ConfigFlags.FRAG_NX_MATCH, missSendLen: PACKET_IN_BYTES } as const;

const configured = new WeakSet<OpenFlowConnection>();

/** Sends SWITCH_CONFIG on the connection now (when connected) and after every reconnect; once per connection however many callers ask. */
export function configureSwitch(conn: OpenFlowConnection, log: Logger): void {
  if (configured.has(conn)) return;
  configured.add(conn);
  const send = () => void conn.send({ type: 'set_config', ...SWITCH_CONFIG }).catch((err: unknown) => log.debug({ err }, 'set_config not sent'));
  conn.on('connected', send);
  if (conn.connected) send();
}

/**
 * The pipeline's meters (pipeline/meters.ts) on the bridge, now and after every reconnect:
 * added, or modified where the bridge has them (vnetd restarted; the switch kept them). Call
 * before the flow table manager is made on the connection: its first flows, which name them,
 * then follow them on the wire, and a flow naming a meter the bridge lacks is refused.
 */
export function installMeters(conn: OpenFlowConnection, log: Logger): void {
  const send = () => void addMeters(conn, log);
  conn.on('connected', send);
  if (conn.connected) send();
}

/**
 * Puts the pipeline's meters on the bridge now. Also after a full sync the switch refused: a
 * bridge reconfigured under a live connection (its fail_mode changed) loses its meters with
 * its flows, and no reconnect says so.
 */
export async function addMeters(conn: OpenFlowConnection, log: Logger): Promise<void> {
  await Promise.all(
    PIPELINE_METERS.map((m) =>
      conn
        .transact([{ type: 'meter_mod', command: 'add', ...m }])
        .catch(() => conn.transact([{ type: 'meter_mod', command: 'modify', ...m }]))
        .catch((err: unknown) => log.warn({ event: 'openflow.meter_failed', meterId: m.meterId, err }, `the switch refused meter ${m.meterId}: the flows that use it will be refused too`)),
    ),
  );
}

/** Takes the pipeline's meters off a bridge vnetd no longer programs (its Node deleted), after the flows that use them. */
export async function removeMeters(conn: OpenFlowConnection, log: Logger): Promise<void> {
  await Promise.all(
    PIPELINE_METERS.map((m) =>
      conn
        .transact([{ type: 'meter_mod', command: 'delete', meterId: m.meterId, flags: 0, bands: [] }])
        .catch((err: unknown) => log.warn({ event: 'openflow.meter_failed', meterId: m.meterId, err }, `the switch did not take meter ${m.meterId} off: remove it by hand (ovs-ofctl -O OpenFlow13 del-meter br-int meter=${m.meterId})`)),
    ),
  );
}
