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
import { NODES } from '../../store/kinds';
import type { Informer } from '../informer';
import type { EventRecorder } from './event-recorder';

/** What the chassis layer and the pipeline record on a Node when they repair it (or cannot). */
export const NODE_REPAIR_REASONS: ReadonlySet<string> = new Set(['LayoutRepaired', 'FlowsRepaired', 'PortConfigRepaired', 'UnderlayFlowsRepaired', 'FlowsRefused', 'FlowsInstalled']);

const keyOf = (r: NodeEventReport) => `${r.time}|${r.type}|${r.reason}|${r.message}`;

/** The reports `after` has that `before` had not, of the reasons vnetd's repairs use. */
export function newNodeEventReports(before: NodeRealization | undefined, after: NodeRealization): NodeEventReport[] {
  const seen = new Set((before?.status?.nodeEvents ?? []).map(keyOf));
  return (after.status?.nodeEvents ?? []).filter((r) => !seen.has(keyOf(r)) && NODE_REPAIR_REASONS.has(r.reason) && (r.type === 'Normal' || r.type === 'Warning'));
}

/**
 * Records on the agent's own Node the repairs its NodeRealization update added (AgentReportEvents
 * calls it beside the port security drops, from the same informer).
 */
export function recordNodeReports(recorder: Pick<EventRecorder, 'record'>, nodes: Informer<HypervisorNode>, log: Logger, before: NodeRealization, after: NodeRealization): void {
  const reports = newNodeEventReports(before, after);
  if (!reports.length) return;
  const node = nodes.get(objectKey(NODES, undefined, after.metadata.name));
  if (!node) {
    log.debug({ event: 'events.node_report_skipped', node: after.metadata.name }, 'a node event report for a Node that does not exist: no event');
    return;
  }
  for (const r of reports) recorder.record(node, r.type, r.reason, r.message);
}
