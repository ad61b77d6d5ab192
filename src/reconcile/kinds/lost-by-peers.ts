/**
 * A crashed hypervisor, told apart from a late heartbeat. An agent renews its NodeLease every
 * heartbeat; the leader marks its node silent only after the whole agent timeout (60 s, three
 * heartbeats), as Kubernetes waits out a kubelet's grace period, because a late renewal alone
 * may be a slow API. Its peers' tunnel probes are a second witness, on another path: when
 * every other live node has lost all its probes to the node too, the host itself is gone (or
 * cut off both ways), and waiting out the timeout only keeps its ports Ready and its
 * evacuated VMs unreachable (QA-135 F5: 57 s, where the peers knew after 12-14 s).
 */
import { getCondition } from '../conditions';
import { TUNNELS_UP } from '../../chassis/node-status';
import type { HypervisorNode } from '../../resources/kinds';

/** TunnelsUp of a node with no one to probe: it judges nobody. */
const NO_PEERS = 'NoPeers';

/**
 * The names of the live peers that lost `name` (all of them list it in status.unansweredPeers),
 * or undefined when one of them judges its tunnels and does not list it, or none judges at all.
 * A peer that shares no tunnel type with it does not probe it and so keeps it alive here:
 * that node waits out the agent timeout, as before.
 */
export function lostByEveryPeer(name: string, livePeers: readonly HypervisorNode[]): string[] | undefined {
  const judging = livePeers.filter((n) => {
    const c = getCondition(n.status?.conditions, TUNNELS_UP);
    return n.metadata.name !== name && c !== undefined && c.status !== 'Unknown' && c.reason !== NO_PEERS;
  });
  if (!judging.length || judging.some((n) => !n.status?.unansweredPeers?.includes(name))) return undefined;
  return judging.map((n) => n.metadata.name).sort();
}

/** An agent's heartbeat interval, from its lease's duration (three heartbeats: node-lease.ts). */
export function heartbeatOfLease(leaseDurationSeconds: number | undefined): number | undefined {
  return leaseDurationSeconds && leaseDurationSeconds > 0 ? (leaseDurationSeconds * 1000) / 3 : undefined;
}

/** How long after its last renewal an agent counts as having missed one: a heartbeat and a quarter, and at least 2 s past it. */
export function missedHeartbeatAfterMs(heartbeatMs: number): number {
  return Math.max(1.25 * heartbeatMs, heartbeatMs + 2000);
}
