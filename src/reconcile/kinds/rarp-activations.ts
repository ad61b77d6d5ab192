/**
 * Reads the RARP announcements standby NICs' watch flows send (pipeline/rarp.ts) from each
 * node's main OpenFlow connection, and hands each valid one to the chassis layer, which
 * activates the NIC and moves the port's binding to it (ChassisManager.activate). One line
 * per activation (`port.activated`); a frame that is not a valid announcement, or names no
 * port whose NIC is on that OpenFlow port, activates nothing (debug line only: a guest can
 * send those at will).
 */
import type { Logger } from 'pino';
import type { OfMessage, OpenFlowConnection } from '../../openflow';
import { RARP_ETHERTYPE, TABLES, parseRarpAnnouncement } from '../../pipeline';
import type { ActivationOutcome } from '../../chassis/activations';
import { inPortOf } from './packet-ins';

/** What activates a NIC: ChassisManager.activate. */
export type Activate = (node: string, ofport: number, mac: string) => ActivationOutcome;

export class RarpActivations {
  private readonly conns = new Map<string, OpenFlowConnection>();
  private readonly log: Logger;

  constructor(
    logger: Logger,
    private readonly activate: Activate,
  ) {
    this.log = logger.child({ component: 'rarp-activation' });
  }

  attach(node: string, conn: OpenFlowConnection): void {
    if (this.conns.get(node) === conn) return;
    this.conns.set(node, conn);
    conn.on('message', (m: OfMessage) => {
      if (this.conns.get(node) !== conn || m.type !== 'packet_in' || m.tableId !== TABLES.Classifier.id) return;
      // The Classifier sends tunnel probes up too (tunnel-probe.ts): only RARP is ours.
      if (m.data.length < 14 || m.data.readUInt16BE(12) !== RARP_ETHERTYPE) return;
      this.received(node, inPortOf(m.match), m.data);
    });
  }

  detach(node: string): void {
    this.conns.delete(node);
  }

  /** One announcement from `ofport` of the node's br-int. */
  received(node: string, ofport: number | undefined, frame: Buffer): void {
    const parsed = parseRarpAnnouncement(frame);
    if (!parsed.ok || ofport === undefined) {
      this.log.debug({ event: 'port.activation_ignored', node, ofport: ofport ?? null, why: parsed.ok ? 'no in_port' : parsed.why }, 'RARP frame ignored');
      return;
    }
    const r = this.activate(node, ofport, parsed.mac);
    if (!r.activated) {
      this.log.debug({ event: 'port.activation_ignored', node, ofport, mac: parsed.mac, why: r.why }, 'RARP announcement activates nothing');
      return;
    }
    this.log.info(
      { event: 'port.activated', node, port: r.port, interface: r.interface, ofport, mac: parsed.mac, at: new Date(r.at).toISOString() },
      `port ${r.port}: the VM announced itself (RARP) on interface ${r.interface} of node ${node}: its binding moves there (live migration)`,
    );
  }
}
