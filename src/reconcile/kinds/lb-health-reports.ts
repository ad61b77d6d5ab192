/**
 * Health checks where agents program the nodes. An agent has an OpenFlow connection to
 * its own node only, so it probes the backends bound there (as ovn-controller runs the
 * service monitors of its own chassis) and publishes the ones failing in its Node's
 * status.unhealthyBackends (OVN: Service_Monitor status in the southbound database).
 * Every other agent takes those backends out of the slot tables it compiles, and the
 * controller's leader reports them in LoadBalancer status.backends. In every mode, the
 * checked backends of a node nobody can check count as failing (uncheckedOnDownNodes).
 */
import type { LogicalModel } from '../../pipeline';
import type { HypervisorNode, LoadBalancer, UnhealthyBackend } from '../../resources/kinds';
import { FLOWS_REFUSED, READY, agentMarkedSilent, nodeDownReason, switchUnreachable } from '../../chassis/node-status';
import { getCondition } from '../conditions';
import { NOT_CHECKED, backendKey } from './lb-health';

/**
 * Health-checked backends bound to nodes nobody can check them on: the leader has marked
 * the node's agent silent (AgentNotReporting), or the node's switch does not answer
 * (SwitchUnreachable: a probe leaves from the backend's own switch, and no connection sent
 * there arrives). A dead hypervisor's backends would otherwise keep their share of new
 * connections for good. They count as failing, as Kubernetes takes a NotReady node's pods
 * out of their Services' endpoints, until the node answers again (its checks then decide).
 * Backends without health checks keep passive health (bound or not). The reason is a
 * phrase that says why (status and conditions quote it).
 */
export function uncheckedOnDownNodes(nodes: Iterable<HypervisorNode>, lbs: Iterable<LoadBalancer>, modelOf: () => LogicalModel, exceptNode?: string): Map<string, UnhealthyBackend> {
  const down = new Map<string, { reason: string; since: string }>();
  for (const n of nodes) {
    if (n.metadata.name === exceptNode) continue;
    const since = getCondition(n.status?.conditions, READY)?.lastTransitionTime ?? '';
    if (agentMarkedSilent(n)) down.set(n.metadata.name, { reason: `${NOT_CHECKED} the agent of node ${n.metadata.name} is not reporting`, since });
    else if (switchUnreachable(n)) down.set(n.metadata.name, { reason: `${NOT_CHECKED} the switch of node ${n.metadata.name} ${nodeDownReason(n) === FLOWS_REFUSED ? "refuses vnetd's flows" : 'does not answer'}`, since });
  }
  const out = new Map<string, UnhealthyBackend>();
  if (!down.size) return out;
  // Read only now: called on every Node event, and a stale model is rebuilt whole when read.
  let model: LogicalModel | undefined;
  for (const lb of lbs) {
    if (!lb.spec?.healthCheck) continue;
    model ??= modelOf();
    for (const b of model.loadBalancers?.get(lb.metadata.uid!)?.backends ?? []) {
      const d = b.node === undefined ? undefined : down.get(b.node);
      if (d) out.set(backendKey(lb.metadata.uid!, b.ip), { loadBalancer: lb.metadata.uid!, ip: b.ip, ...d });
    }
  }
  return out;
}

/** What status says of a failing backend: its check's last failure, or why nobody checks it. */
export function failureText(b: UnhealthyBackend): string {
  if (b.reason.startsWith(NOT_CHECKED)) return b.reason;
  return `failing health checks: ${b.reason || 'failed'}${b.since ? ` since ${b.since}` : ''}`;
}

/** A failing backend as Nodes reported it: `reportedBy` names them. */
export interface ReportedFailure extends UnhealthyBackend {
  reportedBy?: string[];
}

/** The failing backends the Nodes report, by backendKey; `exceptNode`'s reports are left out (that process probes its own). */
export function reportedFailing(nodes: Iterable<HypervisorNode>, exceptNode?: string): Map<string, ReportedFailure> {
  const out = new Map<string, ReportedFailure>();
  for (const n of nodes) {
    if (n.metadata.name === exceptNode) continue;
    for (const b of n.status?.unhealthyBackends ?? []) {
      const key = backendKey(b.loadBalancer, b.ip);
      out.set(key, { ...b, reportedBy: [...(out.get(key)?.reportedBy ?? []), n.metadata.name] });
    }
  }
  return out;
}

/**
 * Whether a reported failure counts against a backend bound to `node`: only the report of
 * the node it is bound to, which probes it from its own switch. Another node's agent token
 * may write that node's status only, and must not take other nodes' backends out of every
 * slot table (found in review: one broken-into hypervisor could black-hole any VIP). A
 * failure nobody reported (a down node's, uncheckedOnDownNodes) always counts.
 */
export function failureCounts(f: ReportedFailure | undefined, node: string | undefined): boolean {
  return f !== undefined && (f.reportedBy === undefined || (node !== undefined && f.reportedBy.includes(node)));
}

/** Same backends (what a compile depends on; reasons and times do not matter there). */
export function sameBackendKeys(a: ReadonlyMap<string, unknown>, b: ReadonlyMap<string, unknown>): boolean {
  if (a.size !== b.size) return false;
  for (const k of a.keys()) if (!b.has(k)) return false;
  return true;
}

/**
 * Where one process checks every backend: the backends its LoadBalancers' status says were
 * bound and unhealthy (so failing their checks) when it last wrote it, by backendKey.
 */
export function failingInStatus(lbs: Iterable<LoadBalancer>): Map<string, UnhealthyBackend> {
  const out = new Map<string, UnhealthyBackend>();
  for (const lb of lbs) {
    if (!lb.spec?.healthCheck || !lb.metadata.uid) continue;
    for (const b of lb.status?.backends ?? []) {
      if (!b.healthy && b.node && b.ip) out.set(backendKey(lb.metadata.uid, b.ip), { loadBalancer: lb.metadata.uid, ip: b.ip, reason: 'unhealthy in status.backends before this process started', since: '' });
    }
  }
  return out;
}
