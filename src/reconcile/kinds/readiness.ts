/**
 * Why an object is Ready or not, as the pipeline reconciler writes it: pure decisions from
 * what the reconciler has gathered (the nodes that need the object, those that lag or
 * refused its flows, the state of the node a port is pinned to). Kept apart so that every
 * reason and message can be read, and tested, in one place.
 */
import { AGENT_NOT_REPORTING, FLOWS_REFUSED, NO_AGENT, READY, SWITCH_UNREACHABLE, agentMarkedSilent, switchUnreachable } from '../../chassis/node-status';
import { ON_OTHER_NODE } from '../../chassis/binding';
import type { HypervisorNode, LoadBalancer, VirtualNetwork, VirtualPort } from '../../resources/kinds';
import { getCondition } from '../conditions';

export { READY };

export interface Realization {
  status: 'True' | 'False';
  reason: string;
  message: string;
  /** Realizing: the nodes that lag. */
  lagging?: string[];
}

/** Ready=True for the object's current generation. */
export function readyNow(obj: VirtualPort | VirtualNetwork | LoadBalancer): boolean {
  const c = getCondition(obj.status?.conditions, READY);
  return c?.status === 'True' && c.observedGeneration === obj.metadata.generation;
}

/**
 * An object its nodes need: FlowConflict where a node refused its flows, Realizing where one
 * has not installed its current version, else Realized. Lagging only on nodes whose agent is
 * silent (AgentNotReporting) or whose switch does not answer (SwitchUnreachable), nothing is
 * being realized there, and the reason says which. Node lists come sorted.
 */
export function realizationOf(
  needed: readonly string[],
  lagging: readonly string[],
  conflicts: ReadonlyArray<readonly [node: string, message: string]>,
  silent: readonly string[] = [],
  unreachable: readonly string[] = [],
  refused: readonly string[] = [],
): Realization {
  if (conflicts.length) return { status: 'False', reason: 'FlowConflict', message: conflicts.map(([n, m]) => `on node ${n}: ${m}`).join('; '), lagging: conflicts.map(([n]) => n) };
  if (lagging.length) {
    let message = `flows not yet installed on node(s) ${lagging.join(', ')} (of ${needed.join(', ')})`;
    // QA: "Realizing" for good, where nothing was being realized.
    if (silent.length) message += `; the agent of node(s) ${silent.join(', ')} is not reporting`;
    if (unreachable.length) message += `; the switch of node(s) ${unreachable.join(', ')} does not answer`;
    if (refused.length) message += `; the switch of node(s) ${refused.join(', ')} refuses vnetd's flows`;
    let reason = 'Realizing';
    if (silent.length === lagging.length) reason = AGENT_NOT_REPORTING;
    else if (unreachable.length && silent.length + unreachable.length + refused.length >= lagging.length) reason = SWITCH_UNREACHABLE;
    else if (refused.length && silent.length + refused.length >= lagging.length) reason = FLOWS_REFUSED;
    return { status: 'False', reason, message, lagging: [...lagging] };
  }
  if (!needed.length) return { status: 'True', reason: 'Realized', message: 'no node needs flows for it yet (no bound ports)' };
  return { status: 'True', reason: 'Realized', message: `flows installed on node(s) ${needed.join(', ')}` };
}

/**
 * A port bound to a node whose switch does not answer (ovs-vswitchd stopped or hung): its
 * NIC's traffic has stopped, or cannot be known to flow, whatever was installed before; or to
 * a node whose agent the leader marked silent: what is in place there is no longer known. As
 * a Pod on a node gone NotReady is marked not Ready (QA: Ready=True Realized beside a load
 * balancer that took the port's backend out for its silent agent); or to a node deleted.
 */
export function boundToDownNode(nodeName: string, node: HypervisorNode | undefined): Realization | undefined {
  // Its Node deleted while the port was bound there, with no agent left to unbind it.
  if (!node) return { status: 'False', reason: 'NodeNotFound', message: `bound to node ${nodeName}, which no longer exists (deleted while its agent was down?): create it again, or move the port's VM to another hypervisor` };
  const since = getCondition(node.status?.conditions, READY)?.lastTransitionTime;
  if (switchUnreachable(node)) {
    if (getCondition(node.status?.conditions, READY)?.reason === FLOWS_REFUSED) {
      return { status: 'False', reason: FLOWS_REFUSED, message: `the switch of its node ${nodeName} refuses vnetd's flows${since ? ` since ${since}` : ''}: its traffic is not what vnetd installs until it takes them (vnetctl get node ${nodeName} says why)` };
    }
    return { status: 'False', reason: SWITCH_UNREACHABLE, message: `the switch of its node ${nodeName} does not answer${since ? ` since ${since}` : ''}: its traffic stops until ovs-vswitchd is back (vnetctl get node ${nodeName} says why)` };
  }
  if (agentMarkedSilent(node)) {
    return { status: 'False', reason: AGENT_NOT_REPORTING, message: `the agent of its node ${nodeName} stopped reporting${since ? ` (marked silent at ${since})` : ''}: whether its flows are still in place is not known; its traffic likely goes on (vnetctl get node ${nodeName} says why)` };
  }
  return undefined;
}

/** An object of a network the model does not hold: its network is being deleted, or not compiled yet. */
export function networkNotReady(network: string | undefined, terminating: boolean): Realization {
  if (terminating) return { status: 'False', reason: 'NetworkTerminating', message: `network ${network} is being deleted` };
  return { status: 'False', reason: 'NetworkNotReady', message: `network ${network} is not known to the pipeline yet` };
}

/** What is known of the node an unbound port is pinned to, where agents program the nodes. */
export interface PinnedNode {
  name: string;
  /** Its Node, if it exists. */
  node?: HypervisorNode;
  /** The holder of its agent's claim (NodeRealization status.agent), if any. */
  claimedBy?: string;
}

/**
 * A port without a binding. Pinned to a node where agents program the nodes, it waits for
 * what that node lacks, not for its VM, and says which: the Node itself (a typo in
 * spec.node), an agent (none has claimed it), or an agent's reports (the leader marked it
 * AgentNotReporting), as a Pod's reason names its kubelet's state.
 */
/**
 * Bound reasons that need someone to act, shown as Ready's reason too, so that
 * `kubectl get virtualports -o wide` tells them apart (QA: NotBound for all of them); an
 * interface not plugged yet, or pending, is the plain NotBound of a port waiting for its VM.
 * The VM running on another node than spec.node names (InterfaceOnOtherNode) is one to act on
 * (QA-130: NotBound, as a VM not started yet).
 */
const ACTIONABLE_BOUND_REASONS = new Set(['NodeNotFound', 'WrongBridge', 'InterfaceError', ON_OTHER_NODE]);

export function unbound(pinned: PinnedNode | undefined, boundMessage: string | undefined, boundReason?: string): Realization {
  if (pinned) {
    const { name, node, claimedBy } = pinned;
    if (!node) return { status: 'False', reason: 'NodeNotFound', message: `node ${name} (spec.node) does not exist: create it (vnetctl get nodes lists those there are) or pin the port to one that does` };
    if (claimedBy === undefined) return { status: 'False', reason: NO_AGENT, message: `no vnetd agent has claimed node ${name}: run vnetd agent --node ${name} on that hypervisor` };
    if (agentMarkedSilent(node)) {
      const since = getCondition(node.status?.conditions, READY)?.lastTransitionTime;
      // When the leader marked it silent, its timeout after the last renewal (QA: read as the last renewal; the Node names that).
      return { status: 'False', reason: AGENT_NOT_REPORTING, message: `the vnetd agent of node ${name} (${claimedBy}) stopped reporting${since ? ` (marked silent at ${since}; vnetctl get node ${name} names its last renewal)` : ''}: is it running?` };
    }
  }
  const reason = boundReason !== undefined && ACTIONABLE_BOUND_REASONS.has(boundReason) ? boundReason : 'NotBound';
  return { status: 'False', reason, message: boundMessage ? `not bound: ${boundMessage}` : 'not bound to a hypervisor interface yet' };
}
