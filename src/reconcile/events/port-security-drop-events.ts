/**
 * Port security drops on nodes programmed by agents, as events: an agent may write no event
 * (its token writes only its node's reports), so it reports the VM whose frames were dropped
 * in its NodeRealization's status.portSecurityDrops, and the leader records the same Warning
 * event `PortSecurityDrops` on the VirtualPort that an all-in-one vnetd records itself
 * (QA-131 F9: with agents there were only logs and metrics). Only for a port bound to that
 * agent's node, and the same port (uid) the report names: a node's agent speaks for its own
 * VMs only. Reports present when this process starts were recorded by the leader before.
 */
import type { Logger } from 'pino';
import type { HypervisorNode, NodeRealization, PortSecurityDropReport, VirtualPort } from '../../resources/kinds';
import { objectKey } from '../../store/keys';
import { NODE_REALIZATIONS, NODES, PORTS } from '../../store/kinds';
import type { Informer } from '../informer';
import type { SharedInformers } from '../shared-informers';
import type { EventRecorder } from './event-recorder';
import { recordNodeReports } from './node-report-events';

/** The reason of a VirtualPort's event for frames its port security dropped. */
export const PORT_SECURITY_DROPS = 'PortSecurityDrops';

const keyOf = (r: PortSecurityDropReport) => `${r.time}|${r.port}|${r.uid ?? ''}|${r.message}`;

/** The reports `after` has that `before` had not. */
export function newDropReports(before: NodeRealization | undefined, after: NodeRealization): PortSecurityDropReport[] {
  const seen = new Set((before?.status?.portSecurityDrops ?? []).map(keyOf));
  return (after.status?.portSecurityDrops ?? []).filter((r) => !seen.has(keyOf(r)));
}

/**
 * What agents report in their NodeRealization that the leader records as events (an agent
 * writes none): the port security drops here, and the repairs on their node
 * (node-report-events.ts recordNodeReports), from one informer of the realizations.
 */
export class AgentReportEvents {
  private readonly realizations: Informer<NodeRealization>;
  private readonly ports: Informer<VirtualPort>;
  private readonly nodes: Informer<HypervisorNode>;
  private readonly unsubscribe: Array<() => void> = [];

  constructor(
    private readonly recorder: Pick<EventRecorder, 'record'>,
    shared: SharedInformers,
    private readonly log: Logger,
  ) {
    this.realizations = shared.of<NodeRealization>(NODE_REALIZATIONS);
    this.ports = shared.of<VirtualPort>(PORTS);
    this.nodes = shared.of<HypervisorNode>(NODES);
  }

  async start(): Promise<void> {
    this.unsubscribe.push(this.realizations.addEventHandler({ onUpdate: (before, after) => this.updated(before, after) }));
    this.realizations.start();
    this.ports.start();
    this.nodes.start();
    await Promise.all([this.realizations.waitForSync(), this.ports.waitForSync(), this.nodes.waitForSync()]);
  }

  stop(): void {
    for (const u of this.unsubscribe.splice(0)) u();
  }

  private updated(before: NodeRealization, after: NodeRealization): void {
    recordNodeReports(this.recorder, this.nodes, this.log, before, after);
    const node = after.metadata.name;
    for (const r of newDropReports(before, after)) {
      const slash = r.port.indexOf('/');
      const port = slash > 0 ? this.ports.get(objectKey(PORTS, r.port.slice(0, slash), r.port.slice(slash + 1))) : undefined;
      if (!port || (r.uid !== undefined && port.metadata.uid !== r.uid) || port.status?.node !== node) {
        this.log.debug({ event: 'events.port_security_drops_skipped', node, port: r.port }, 'a port security drop report for a port not bound to its node (or gone): no event');
        continue;
      }
      this.recorder.record(port, 'Warning', PORT_SECURITY_DROPS, r.message);
    }
  }
}
