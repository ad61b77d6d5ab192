/** Composes a Node's status from its session and layout outcome. Pure. */
import { getCondition, setCondition } from '../reconcile/conditions';
import type { HypervisorNode, NodeStatus } from '../resources/kinds';

export const CONNECTED = 'Connected';
export const READY = 'Ready';
/** Whether the node's tunnel probes come back from its peers (reconcile/kinds/tunnel-probes.ts). */
export const TUNNELS_UP = 'TunnelsUp';
/** Whether the switch's connection-tracking table is (nearly) full (conntrack-pressure.ts). */
export const CONNTRACK_PRESSURE = 'ConntrackPressure';
/** Whether br-phy's uplinks carry the largest network MTU encapsulated (underlay-mtu.ts). */
export const UNDERLAY_MTU = 'UnderlayMTU';

/** A condition's outcome as a higher layer reports it. */
export interface ConditionView {
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
}
/** A node's TunnelsUp as its probes found it, and the peers none of whose probes came back (status.unansweredPeers). */
export interface TunnelsView extends ConditionView {
  unansweredPeers?: string[];
}

/** The most peers status.unansweredPeers names: a node that lost more is cut off itself (NoProbeAnswered says so). */
export const UNANSWERED_PEERS_SHOWN = 64;

/**
 * Ready's reason when the controller's leader has seen no heartbeat from the node's agent
 * (NodeRealizationReconciler); the agent writes its own Ready over it once it is back.
 */
export const AGENT_NOT_REPORTING = 'AgentNotReporting';
/** No agent has claimed the node (a Node's Ready=Unknown, as a node whose kubelet never posted; an unbound port pinned there). */
export const NO_AGENT = 'NoAgent';

/** Ready's reason while the node's br-int does not answer on OpenFlow (ovs-vswitchd down or hung): its flows cannot be checked. */
export const SWITCH_UNREACHABLE = 'SwitchUnreachable';

/**
 * Ready's reason while the node's br-int answers but refuses vnetd's flows (every full sync
 * fails): what it forwards is not what vnetd installs, as good as a switch that does not
 * answer for everything that follows from that (QA-155 F1: a flushed bridge held 0 flows for
 * minutes with every object Ready).
 */
export const FLOWS_REFUSED = 'FlowsRefused';

/** The Node says its switch does not answer, or refuses vnetd's flows (Ready=False, SWITCH_UNREACHABLE or FLOWS_REFUSED). */
export function switchUnreachable(node: Pick<HypervisorNode, 'status'> | undefined): boolean {
  const ready = getCondition(node?.status?.conditions, READY);
  return ready?.status === 'False' && (ready.reason === SWITCH_UNREACHABLE || ready.reason === FLOWS_REFUSED);
}

/**
 * Why the node is cut off the overlay (TunnelsUp=False NoProbeAnswered: no peer answers on any
 * tunnel type; its message), or undefined: its VMs are out of reach of every other node's.
 * Some peers or one tunnel type unanswered (ProbesUnanswered) is not that: with one node's
 * UDP 4789 filtered, every other node says so naming it, and their VMs reach each other.
 */
export function tunnelsDown(node: Pick<HypervisorNode, 'status'> | undefined): string | undefined {
  const c = getCondition(node?.status?.conditions, TUNNELS_UP);
  return c?.status === 'False' && c.reason === NO_PROBE_ANSWERED ? c.message || c.reason : undefined;
}

/** TunnelsUp=False with no peer answering at all (reconcile/kinds/tunnel-probes.ts). */
export const NO_PROBE_ANSWERED = 'NoProbeAnswered';

/** The leader has marked the Node's agent silent (Ready=Unknown, AGENT_NOT_REPORTING). */
export function agentMarkedSilent(node: Pick<HypervisorNode, 'status'> | undefined): boolean {
  return getCondition(node?.status?.conditions, READY)?.reason === AGENT_NOT_REPORTING;
}

/** The node is cordoned (spec.unschedulable): its load balancer backends are drained (lb-backends.ts drainedOnCordonedNodes). */
export function cordoned(node: Pick<HypervisorNode, 'spec'> | undefined): boolean {
  return node?.spec?.unschedulable === true;
}

/**
 * Why a node is down for the backends it hosts (outOnDownSwitches, and load balancer status):
 * its switch does not answer, or its agent was marked silent (a dead hypervisor, as far as
 * anyone can tell; never where the caller is that node's own agent, which reports itself).
 */
export function nodeDownReason(node: Pick<HypervisorNode, 'status'> | undefined, isOwnNode = false): typeof SWITCH_UNREACHABLE | typeof FLOWS_REFUSED | typeof AGENT_NOT_REPORTING | undefined {
  if (switchUnreachable(node)) return getCondition(node?.status?.conditions, READY)?.reason === FLOWS_REFUSED ? FLOWS_REFUSED : SWITCH_UNREACHABLE;
  return !isOwnNode && agentMarkedSilent(node) ? AGENT_NOT_REPORTING : undefined;
}

/**
 * Whether the unpinned ports bound to `node` stay its own: the Node exists, is not being
 * deleted, and its agent is not marked silent. Until then no other node's agent takes them
 * (ChassisManager.boundElsewhere), and the API refuses another agent's token that tries
 * (api/auth/node-authorizer.ts): one rule for both, and one exception for both, a port
 * bound to a NIC whose link is down taken by a node whose NIC is up (binding.ts takesOverLinkDown).
 */
export function holdsBindings(node: HypervisorNode | undefined): boolean {
  return !!node && !node.metadata.deletionTimestamp && !agentMarkedSilent(node);
}

export interface LayoutOutcome {
  ready: boolean;
  reason: string;
  message: string;
}

export interface SessionView {
  connected: boolean;
  /** Why it is not connected (last error), in words. */
  reason: string;
  message: string;
  ovsVersion?: string;
  datapathTypes?: string[];
  /** br-int interfaces whose iface-id no VirtualPort claims (absent: not known now, the last report stays). */
  unclaimed?: { items: Array<{ name: string; interfaceId: string }>; count: number };
  /** ConntrackPressure, where this process reads the switch's table (absent: the condition is left as it is). */
  conntrack?: ConditionView;
  /** UnderlayMTU, where this process reads the node's OVSDB (absent: the condition is left as it is). */
  underlayMtu?: ConditionView;
}

/** TunnelsUp's reason while a node's first probes are out, not judged yet (reconcile/kinds/tunnel-probes.ts). */
export const PROBING = 'Probing';

/**
 * A verdict a restarted process's "Probing" leaves as it is (until its own first verdict): a
 * controller restart flipped every Node's TunnelsUp to Unknown and back (its lastTransitionTime
 * with it). Only none, or the leader's AgentNotReporting, is replaced by Probing.
 */
function keepsVerdict(c: { reason?: string } | undefined): boolean {
  return c !== undefined && c.reason !== AGENT_NOT_REPORTING;
}

/** tunnels: TunnelsUp, where this process probes the node's tunnels (absent: the condition is left as it is). */
export function nodeStatus(node: HypervisorNode, session: SessionView, layout: LayoutOutcome | undefined, boundPorts: number, flows?: number, now?: Date, tunnels?: TunnelsView): NodeStatus {
  const prev = node.status ?? {};
  const gen = node.metadata.generation;
  let conditions = setCondition(
    prev.conditions,
    { type: CONNECTED, status: session.connected ? 'True' : 'False', reason: session.reason, message: session.message, observedGeneration: gen },
    now,
  );
  // A switch that does not answer says so even with its OVSDB lost too (ovsdb-server dead: the
  // userspace datapath forwards nothing then): what is realized there is no longer known, and
  // its objects are not Ready (QA-131: Ready=True while the node forwarded nothing).
  const ready: LayoutOutcome =
    layout?.reason === SWITCH_UNREACHABLE || layout?.reason === FLOWS_REFUSED
      ? layout
      : !session.connected
        ? { ready: false, reason: 'NotConnected', message: session.message }
        : (layout ?? { ready: false, reason: 'Pending', message: 'layout not checked yet' });
  conditions = setCondition(
    conditions,
    { type: READY, status: ready.ready ? 'True' : 'False', reason: ready.reason, message: ready.message, observedGeneration: gen },
    now,
  );
  // Probes leave from and arrive at the node's switch: none is sent or answered while it does
  // not answer, and the last round's verdict says nothing of now (QA: True beside a dead switch).
  // The peers lost go with the TunnelsUp that named them: kept while it is left as it is.
  let unansweredPeers = prev.unansweredPeers;
  if (ready.reason === SWITCH_UNREACHABLE || ready.reason === FLOWS_REFUSED) {
    // Not the underlay's fault: a switch without vnetd's flows answers no probe either (QA-155 F1: "check the underlay").
    const message = ready.reason === FLOWS_REFUSED ? "its switch refuses vnetd's flows (its probe flows among them): no tunnel probe is answered there until it takes them" : 'its switch does not answer: no tunnel probe is sent or answered there until it does';
    conditions = setCondition(conditions, { type: TUNNELS_UP, status: 'Unknown', reason: ready.reason, message, observedGeneration: gen }, now);
    unansweredPeers = undefined;
  } else if (tunnels && !(tunnels.reason === PROBING && keepsVerdict(getCondition(conditions, TUNNELS_UP)))) {
    conditions = setCondition(conditions, { type: TUNNELS_UP, status: tunnels.status, reason: tunnels.reason, message: tunnels.message, observedGeneration: gen }, now);
    unansweredPeers = tunnels.unansweredPeers?.slice(0, UNANSWERED_PEERS_SHOWN);
  }
  // The agent is back and writes its status, but its probes have not been judged yet (two
  // rounds): the leader's "the agent stopped reporting" is no longer true, so it says what is
  // (QA: it stood 20 s beside a Ready=True written by the returned agent).
  else if (getCondition(conditions, TUNNELS_UP)?.reason === AGENT_NOT_REPORTING) {
    conditions = setCondition(conditions, { type: TUNNELS_UP, status: 'Unknown', reason: PROBING, message: 'the agent is back; its tunnel probes are judged within two rounds', observedGeneration: gen }, now);
    unansweredPeers = undefined;
  }
  if (session.conntrack) conditions = setCondition(conditions, { type: CONNTRACK_PRESSURE, ...session.conntrack, observedGeneration: gen }, now);
  if (session.underlayMtu) conditions = setCondition(conditions, { type: UNDERLAY_MTU, ...session.underlayMtu, observedGeneration: gen }, now);
  const next: NodeStatus = { ...prev, observedGeneration: gen, connected: session.connected, boundPorts, conditions };
  if (unansweredPeers?.length) next.unansweredPeers = unansweredPeers;
  else delete next.unansweredPeers;
  // Version and datapath types describe the host; keep the last known ones while disconnected.
  if (session.ovsVersion !== undefined) next.ovsVersion = session.ovsVersion;
  if (session.datapathTypes !== undefined) next.datapathTypes = session.datapathTypes;
  // A VM whose NIC names an iface-id no port has (a typo in its interfaceid) showed nowhere:
  // its port said only "no interface with iface-id X" (QA-126 M1).
  if (session.unclaimed?.count) {
    next.unclaimedInterfaces = session.unclaimed.items;
    next.unclaimedInterfaceCount = session.unclaimed.count;
  } else if (session.unclaimed) {
    delete next.unclaimedInterfaces;
    delete next.unclaimedInterfaceCount;
  }
  // The pipeline's count (of a table in sync); the last one stays while it has none to say.
  if (flows !== undefined) next.flows = flows;
  return next;
}
