/**
 * Keeps br-phy forwarding. vnetd makes br-phy (userspace datapath: the underlay bridge its
 * tunnels leave by) a plain switch with no controller, whose only flow is OVS's own
 * "priority=0 actions=NORMAL". `ovs-ofctl del-flows br-phy` by hand removed it and nothing
 * puts it back: the whole overlay of the node was dead, with only the generic tunnel message
 * (QA-155 F3). Read over br-phy's management socket beside br-int's controller socket (so
 * only for a switch on this host, as the conntrack watch), every `everyMs`: a br-phy with no
 * flow at all gets the NORMAL one back, one warning each time. A br-phy with flows of its
 * own is left as it is (an operator's filtering is theirs).
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Logger } from 'pino';
import { OFPP, createConnection, flowMod, type OpenFlowConnection } from '../../openflow';

export const UNDERLAY_BRIDGE_MGMT = 'br-phy.mgmt';

/** br-phy's management socket beside br-int's unix controller socket (`unix:RUNDIR/br-int.vnetd`), or undefined for a remote switch. */
export function underlayMgmtSocket(brIntDial: string): string | undefined {
  return brIntDial.startsWith('unix:') ? join(dirname(brIntDial.slice('unix:'.length)), UNDERLAY_BRIDGE_MGMT) : undefined;
}

export class UnderlayBridgeGuard {
  private timer?: NodeJS.Timeout;
  private conn?: OpenFlowConnection;
  private checking?: Promise<void>;

  constructor(
    private readonly socket: string,
    private readonly log: Logger,
    private readonly everyMs: number,
    /** Each repair, in words: for an event on the Node. */
    private readonly onRepaired?: (message: string) => void,
  ) {}

  start(): void {
    if (this.everyMs <= 0) return;
    this.timer = setInterval(() => void this.check(), this.everyMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    const c = this.conn;
    this.conn = undefined;
    await c?.close();
  }

  /** One look (the timer's; tests call it directly). */
  check(): Promise<void> {
    return (this.checking ??= this.look().finally(() => (this.checking = undefined)));
  }

  private async look(): Promise<void> {
    // No br-phy here (the kernel datapath), or not yet: nothing to keep, no connection to retry.
    if (!existsSync(this.socket)) {
      const c = this.conn;
      this.conn = undefined;
      await c?.close();
      return;
    }
    this.conn ??= createConnection(`unix:${this.socket}`, { logger: this.log.child({ bridge: 'br-phy' }), echoIntervalMs: 5_000, reconnect: { initialDelayMs: 200, maxDelayMs: 5_000 } });
    const conn = this.conn;
    if (!conn.connected) return;
    try {
      const body = await conn.multipart({ kind: 'aggregate', tableId: 0xff, outPort: OFPP.ANY, outGroup: 0xffffffff, match: [], cookie: 0n, cookieMask: 0n });
      if (body.kind !== 'aggregate' || body.flowCount > 0) return;
      await conn.transact([flowMod({ command: 'add', tableId: 0, priority: 0, match: [], instructions: [{ type: 'apply_actions', actions: [{ type: 'output', port: OFPP.NORMAL, maxLen: 0 }] }] })]);
      const what = "br-phy had no flow at all (deleted outside vnetd: ovs-ofctl del-flows br-phy), so nothing crossed the underlay; its switching flow (priority=0 actions=NORMAL) is back";
      this.log.warn({ event: 'chassis.underlay_flows_repaired' }, what);
      this.onRepaired?.(what);
    } catch (err) {
      this.log.debug({ err }, 'br-phy flows not checked');
    }
  }
}
