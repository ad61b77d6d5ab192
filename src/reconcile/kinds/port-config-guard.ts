/**
 * Keeps br-int's OpenFlow ports free of the config flags vnetd's flows assume off: NO_RECV
 * (the port's frames are dropped on arrival), NO_FWD (nothing is output to it) and
 * NO_PACKET_IN. Set by hand (ovs-ofctl mod-port br-int vxlan0 no-receive, or a VM's port
 * no-forward), they held a VM or every tunnel dark with nothing said, through verifies and
 * audits, as neither reads them (QA-155 F2). Read at connect and every `everyMs` (a passive
 * controller target is not sent port-status messages), and from any port status that does
 * come; cleared with a port mod, one warning line each. PORT_DOWN is left alone: that is the
 * NIC's admin state, which the binding reports (LinkDown) and an operator may mean.
 */
import type { Logger } from 'pino';
import { OFPPC, type OfMessage, type OpenFlowConnection, type PortDesc } from '../../openflow';

const CLEARED = OFPPC.NO_RECV | OFPPC.NO_FWD | OFPPC.NO_PACKET_IN;
const NAMES: ReadonlyArray<[number, string]> = [
  [OFPPC.NO_RECV, 'no-receive'],
  [OFPPC.NO_FWD, 'no-forward'],
  [OFPPC.NO_PACKET_IN, 'no-packet-in'],
];

/** The flags of `config` this guard clears, as ovs-ofctl mod-port names them. */
export function clearedFlags(config: number): string[] {
  return NAMES.filter(([bit]) => config & bit).map(([, name]) => name);
}

export class PortConfigGuard {
  private timer?: NodeJS.Timeout;
  private checking?: Promise<void>;
  /** Ports being cleared now: a port status and a read at once clear (and say) it once. */
  private readonly clearing = new Set<number>();
  /** Refusals said, by port and flags: a switch that keeps refusing is said once, not every read. */
  private readonly refusalsSaid = new Set<string>();
  private readonly onMessage = (m: OfMessage): void => {
    if (m.type === 'port_status' && m.reason !== 'delete') this.clear(m.port);
  };
  private readonly onConnected = (): void => void this.check();

  constructor(
    private readonly conn: OpenFlowConnection,
    private readonly log: Logger,
    private readonly everyMs = 5_000,
    /** Each repair, in words: for an event on the Node. */
    private readonly onRepaired?: (message: string) => void,
  ) {}

  start(): void {
    this.conn.on('message', this.onMessage);
    this.conn.on('connected', this.onConnected);
    if (this.conn.connected) void this.check();
    if (this.everyMs > 0) {
      this.timer = setInterval(() => void this.check(), this.everyMs);
      this.timer.unref();
    }
  }

  stop(): void {
    clearInterval(this.timer);
    this.conn.off('message', this.onMessage);
    this.conn.off('connected', this.onConnected);
  }

  /** Reads every port's config and clears what must not be set (tests call it directly). */
  check(): Promise<void> {
    return (this.checking ??= this.readAndClear().finally(() => (this.checking = undefined)));
  }

  private async readAndClear(): Promise<void> {
    if (!this.conn.connected) return;
    try {
      const body = await this.conn.multipart({ kind: 'port_desc' });
      if (body.kind === 'port_desc') await Promise.all(body.ports.map((p) => this.clear(p)));
    } catch (err) {
      this.log.debug({ err }, 'port config not read');
    }
  }

  private async clear(p: PortDesc): Promise<void> {
    const bad = p.config & CLEARED;
    if (!bad || !this.conn.connected || this.clearing.has(p.portNo)) return;
    const flags = clearedFlags(bad).join(', ');
    this.clearing.add(p.portNo);
    try {
      await this.conn.transact([{ type: 'port_mod', portNo: p.portNo, hwAddr: p.hwAddr, config: 0, mask: bad, advertise: 0 }]);
      this.refusalsSaid.delete(`${p.portNo}/${bad}`);
      const what = `port ${p.name} of br-int had ${flags} set outside vnetd (ovs-ofctl mod-port), which silenced its traffic; cleared`;
      this.log.warn({ event: 'openflow.port_config_repaired', port: p.name, ofport: p.portNo, flags }, what);
      this.onRepaired?.(what);
    } catch (err) {
      if (this.refusalsSaid.has(`${p.portNo}/${bad}`)) return;
      this.refusalsSaid.add(`${p.portNo}/${bad}`);
      this.log.warn({ event: 'openflow.port_config_failed', port: p.name, ofport: p.portNo, flags, err }, `port ${p.name} of br-int has ${flags} set outside vnetd and the switch refused to clear it: its traffic stays silenced (ovs-ofctl mod-port br-int ${p.name} receive / forward / packet-in)`);
    } finally {
      this.clearing.delete(p.portNo);
    }
  }
}
