/**
 * Health checks where agents program the nodes. An agent has an OpenFlow connection to
 * its own node only, so it probes the backends bound there (as ovn-controller runs the
 * service monitors of its own chassis) and publishes the ones failing in its Node's
 * status.unhealthyBackends (OVN: Service_Monitor status in the southbound database).
 * Every other agent takes those backends out of the slot tables it compiles, and the
 * controller's leader reports them in LoadBalancer status.backends.
 */
import type { HypervisorNode, LoadBalancer, UnhealthyBackend } from '../../resources/kinds';
import { backendKey } from './lb-health';

/** The failing backends the Nodes report, by backendKey; `exceptNode`'s reports are left out (that process probes its own). */
export function reportedFailing(nodes: Iterable<HypervisorNode>, exceptNode?: string): Map<string, UnhealthyBackend> {
  const out = new Map<string, UnhealthyBackend>();
  for (const n of nodes) {
    if (n.metadata.name === exceptNode) continue;
    for (const b of n.status?.unhealthyBackends ?? []) out.set(backendKey(b.loadBalancer, b.ip), b);
  }
  return out;
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
