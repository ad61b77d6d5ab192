/**
 * Repairs on nodes programmed by agents, as events on their Node: an agent may write no event
 * (its token writes only its node's reports), so it reports each in its NodeRealization's
 * status.nodeEvents, and the leader records the event on the Node that an all-in-one vnetd
 * records itself (QA-155 F5: with agents, only the agent's log). Only the reasons vnetd's
 * repairs use, and only on the report's own Node: an agent speaks for its own hypervisor.
 * Reports present when this process starts were recorded by the leader before.
 */
import type { Logger } from 'pino';
import type { HypervisorNode, NodeEventReport, NodeRealization } from '../../resources/kinds';
import { objectKey } from '../../store/keys';
import { NODE_REALIZATIONS, NODES } from '../../store/kinds';
import type { Informer } from '../informer';
import type { SharedInformers } from '../shared-informers';
import type { EventRecorder } from './event-recorder';

/** What the chassis layer and the pipeline record on a Node when they repair it (or cannot). */
export const NODE_REPAIR_REASONS: ReadonlySet<string> = new Set(['LayoutRepaired', 'FlowsRepaired', 'PortConfigRepaired', 'UnderlayFlowsRepaired', 'FlowsRefused', 'FlowsInstalled']);

const keyOf = (r: NodeEventReport) => `${r.time}|${r.type}|${r.reason}|${r.message}`;

/** The reports `after` has that `before` had not, of the reasons vnetd's repairs use. */
export function newNodeEventReports(before: NodeRealization | undefined, after: NodeRealization): NodeEventReport[] {
  const seen = new Set((before?.status?.nodeEvents ?? []).map(keyOf));
  return (after.status?.nodeEvents ?? []).filter((r) => !seen.has(keyOf(r)) && NODE_REPAIR_REASONS.has(r.reason) && (r.type === 'Normal' || r.type === 'Warning'));
}

export class NodeReportEvents {
  private readonly realizations: Informer<NodeRealization>;
  private readonly nodes: Informer<HypervisorNode>;
  private readonly unsubscribe: Array<() => void> = [];

  constructor(
    private readonly recorder: Pick<EventRecorder, 'record'>,
    shared: SharedInformers,
    private readonly log: Logger,
  ) {
    this.realizations = shared.of<NodeRealization>(NODE_REALIZATIONS);
    this.nodes = shared.of<HypervisorNode>(NODES);
  }

  async start(): Promise<void> {
    this.unsubscribe.push(this.realizations.addEventHandler({ onUpdate: (before, after) => this.updated(before, after) }));
    this.realizations.start();
    this.nodes.start();
    await Promise.all([this.realizations.waitForSync(), this.nodes.waitForSync()]);
  }

  stop(): void {
    for (const u of this.unsubscribe.splice(0)) u();
  }

  private updated(before: NodeRealization, after: NodeRealization): void {
    const reports = newNodeEventReports(before, after);
    if (!reports.length) return;
    const node = this.nodes.get(objectKey(NODES, undefined, after.metadata.name));
    if (!node) {
      this.log.debug({ event: 'events.node_report_skipped', node: after.metadata.name }, 'a node event report for a Node that does not exist: no event');
      return;
    }
    for (const r of reports) this.recorder.record(node, r.type, r.reason, r.message);
  }
}
