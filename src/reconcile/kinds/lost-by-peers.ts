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
import { NO_PROBE_ANSWERED, TUNNELS_UP } from '../../chassis/node-status';
import type { HypervisorNode } from '../../resources/kinds';

/** TunnelsUp of a node with no one to probe: it judges nobody. */
const NO_PEERS = 'NoPeers';

/**
 * The names of the live peers that lost `name`, or undefined unless at least one did and none
 * still reaches it. Per live peer, by its TunnelsUp:
 *   - False, listing `name` in status.unansweredPeers: a witness;
 *   - False NoProbeAnswered listing several peers: cut off itself, it says nothing of `name`;
 *   - True (ProbesAnswered), or False without `name`: it reaches it (or does not probe it, as a
 *     peer with no tunnel type in common): `name` stays alive, and waits out the agent timeout;
 *   - Unknown (not judged yet, or its own agent silent) or NoPeers: not asked.
 * A two-node cluster has one witness at most, whose own underlay may be what broke: the
 * heartbeat missed too is what tells them apart there.
 */
export function lostByEveryPeer(name: string, livePeers: readonly HypervisorNode[]): string[] | undefined {
  const witnesses: string[] = [];
  for (const n of livePeers) {
    const c = getCondition(n.status?.conditions, TUNNELS_UP);
    if (n.metadata.name === name || !c || c.status === 'Unknown' || c.reason === NO_PEERS) continue;
    const lost = n.status?.unansweredPeers ?? [];
    if (c.status === 'False' && c.reason === NO_PROBE_ANSWERED && lost.length > 1) continue;
    if (c.status !== 'False' || !lost.includes(name)) return undefined;
    witnesses.push(n.metadata.name);
  }
  return witnesses.length ? witnesses.sort() : undefined;
}

/** An agent's heartbeat interval, from its lease's duration (three heartbeats: node-lease.ts). */
export function heartbeatOfLease(leaseDurationSeconds: number | undefined): number | undefined {
  return leaseDurationSeconds && leaseDurationSeconds > 0 ? (leaseDurationSeconds * 1000) / 3 : undefined;
}

/** How long after its last renewal an agent counts as having missed one: a heartbeat and a quarter, and at least 2 s past it. */
export function missedHeartbeatAfterMs(heartbeatMs: number): number {
  return Math.max(1.25 * heartbeatMs, heartbeatMs + 2000);
}
