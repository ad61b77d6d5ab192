/**
 * What a node's agent reported installed (object uid -> version), as the controller of
 * agents reads it: the NodeRealization of the node's name, or, until that holds a report,
 * what an agent of an earlier release wrote in the Node's own status (an upgrade under way).
 */
import type { HypervisorNode, NodeRealization } from '../../resources/kinds';
import { sumCounts } from './lb-status';

export class NodeReports {
  /** Each stored report as a map, built once per stored object. */
  private readonly maps = new WeakMap<object, Map<string, string>>();

  of(rz: NodeRealization | undefined, node: HypervisorNode | undefined): ReadonlyMap<string, string> | undefined {
    const r = rz?.status?.realized ?? node?.status?.realized;
    if (!r) return undefined;
    let m = this.maps.get(r);
    if (!m) this.maps.set(r, (m = new Map(Object.entries(r))));
    return m;
  }
}

/** What the agents reported dispatching (status.dispatched), summed over their nodes; undefined while none reports counts. */
export function dispatchedIn(realizations: readonly NodeRealization[]): Map<string, number> | undefined {
  const reports = realizations.map((r) => r.status?.dispatched).filter((d): d is Record<string, number> => d !== undefined);
  return reports.length === 0 ? undefined : sumCounts(reports.map((d) => new Map(Object.entries(d))));
}
