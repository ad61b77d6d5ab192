/**
 * What a node's agent reported installed (object uid -> version), as the controller of
 * agents reads it: the NodeRealization of the node's name, or, until that holds a report,
 * what an agent of an earlier release wrote in the Node's own status (an upgrade under way).
 */
import type { HypervisorNode, NodeRealization } from '../../resources/kinds';

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
