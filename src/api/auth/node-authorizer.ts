/**
 * What an agent's token (AccessToken spec.node) may do: Kubernetes' Node authorizer and
 * NodeRestriction admission, and OVN's per-chassis RBAC, over vnetd's kinds. An agent reads
 * the topology it may have to program (networks, ports, load balancers, Nodes: as every
 * ovn-controller reads the whole southbound database) and writes only what its own node
 * reports: its Node's and NodeRealization's status, its NodeLease, and the binding of the
 * ports whose NICs are on its switch. A hypervisor that is broken into can then neither
 * change what tenants declared nor read tokens, tenants' events or other nodes' reports,
 * nor move a port that is bound to a live node onto itself.
 *
 * Kind-level rules (nodeRefusal) run with the other authorization, before the object is
 * read; a port's status write is decided on the stored and the written object
 * (portBindingRefusal), as NodeRestriction decides a Pod's.
 */
import { ANY_NODE } from '../../admission/access-token.admission';
import { BOUND, takesOverActivated, takesOverLinkDown } from '../../chassis/binding';
import { holdsBindings } from '../../chassis/node-status';
import type { HypervisorNode, VirtualPort, VirtualPortStatus } from '../../resources/kinds';
import type { KubeObject } from '../../resources/object';
import { sameValue } from '../../resources/same-value';
import { LOAD_BALANCERS, NETWORKS, NODES, NODE_LEASES, NODE_REALIZATIONS, PORTS } from '../../store/kinds';
import type { StoredType } from '../../store/keys';
import type { Subresource } from '../../store/object-store';

export type NodeVerb = 'get' | 'list' | 'watch' | 'create' | 'update' | 'patch' | 'delete' | 'deletecollection';

type KindRef = Pick<StoredType, 'group' | 'plural'>;

const is = (type: KindRef, kind: StoredType): boolean => type.plural === kind.plural && type.group === kind.group;

/** Read by any agent: what a node may have to program (remote ports' tunnels, load balancers' backends). */
const TOPOLOGY = [NETWORKS, PORTS, LOAD_BALANCERS, NODES];
/** One object per node, named for it: an agent reads and writes its own only. */
const PER_NODE = [NODE_REALIZATIONS, NODE_LEASES];

const READS: ReadonlySet<NodeVerb> = new Set(['get', 'list', 'watch']);
const WRITES: ReadonlySet<NodeVerb> = new Set(['update', 'patch']);

/** Whether an agent of `node` acts for the node named `name`. */
export function actsFor(node: string, name: string | undefined): boolean {
  return node === ANY_NODE || (name !== undefined && name === node);
}

const whose = (node: string): string => (node === ANY_NODE ? "an agent's token (every node)" : `node ${node}'s agent token`);

/**
 * Why an agent of `node` may not do `verb` on `type` (object `name`), or undefined when it
 * may. Lists and watches of per-node kinds are allowed and filtered (visibleToNode); a port's
 * status write is allowed here and decided on the object (portBindingRefusal).
 */
export function nodeRefusal(node: string, type: KindRef, verb: NodeVerb, name: string | undefined, subresource: Subresource): string | undefined {
  const who = whose(node);
  if (TOPOLOGY.some((k) => is(type, k))) {
    if (READS.has(verb)) return undefined;
    if (is(type, PORTS) && subresource === 'status' && WRITES.has(verb)) return undefined;
    if (is(type, NODES) && subresource === 'status' && WRITES.has(verb)) {
      return actsFor(node, name) ? undefined : `${who} writes the status of its own Node only`;
    }
    return `${who} may read ${type.plural} but not ${verb} them${subresource === 'status' ? "' status" : ''}: what tenants and admins declare is theirs`;
  }
  if (perNodeNames(type)) {
    if (verb === 'list' || verb === 'watch') return undefined;
    if (!actsFor(node, name)) return `${who} may use its own node's ${type.plural} only`;
    if (verb === 'get') return undefined;
    // A NodeLease has no status: the agent creates it and renews it whole.
    if (is(type, NODE_LEASES) && (verb === 'create' || WRITES.has(verb)) && subresource === 'main') return undefined;
    if (is(type, NODE_REALIZATIONS) && WRITES.has(verb) && subresource === 'status') return undefined;
    return `${who} may not ${verb} ${type.plural}${subresource === 'status' ? '/status' : ''}`;
  }
  return `${type.plural} are not an agent's: ${who} reads networks, ports, load balancers and Nodes, and writes its own node's status`;
}

/** Whether `type` has an object per node, named for it (an agent's lists of it are filtered to its own). */
export function perNodeNames(type: KindRef): boolean {
  return PER_NODE.some((k) => is(type, k));
}

/** Whether an agent of `node` sees `obj` of `type` in a list or watch. */
export function visibleToNode(node: string, type: KindRef, name: string): boolean {
  if (TOPOLOGY.some((k) => is(type, k))) return true;
  if (perNodeNames(type)) return actsFor(node, name);
  return false;
}

/**
 * Why an agent may not write `lease` (`created`, or replaced), or undefined when it may. A
 * NodeLease is a Node's heartbeat: made only for a Node that exists (a token of every node
 * could otherwise make any number of them), owned by that Node alone, and with no
 * finalizers, which would hold up its deletion with the Node.
 */
export async function leaseRefusal(lease: KubeObject, created: boolean, nodeOf: (name: string) => Promise<HypervisorNode | undefined>): Promise<string | undefined> {
  if ((lease.metadata.finalizers ?? []).length > 0) return "an agent's NodeLease has no finalizers: they would hold up its deletion with its Node";
  const name = lease.metadata.name;
  const foreign = (lease.metadata.ownerReferences ?? []).find((o) => o.kind !== 'Node' || o.name !== name);
  if (foreign) return `an agent's NodeLease is owned by its own Node only, not by ${foreign.kind} ${foreign.name}: it would go, or stay, with that one`;
  if (created && !(await nodeOf(lease.metadata.name))) return `there is no Node ${lease.metadata.name}: a NodeLease is a Node's heartbeat`;
  return undefined;
}

/** Whether a port's status write touches only what an agent decides (binding.ts): node, ofport, Bound. */
function bindingOnly(current: VirtualPortStatus | undefined, next: VirtualPortStatus | undefined): boolean {
  const rest = (s: VirtualPortStatus | undefined) => {
    const { node: _node, ofport: _ofport, conditions, ...others } = s ?? {};
    return { ...others, conditions: (conditions ?? []).filter((c) => c.type !== BOUND) };
  };
  return sameValue(rest(current), rest(next));
}

/**
 * Why an agent of `node` may not write `next` as the status of the stored port `current`,
 * or undefined when it may. `nodeOf` reads a Node (the one an unpinned port is bound to).
 *
 * A pinned port is its node's. An unpinned one binds wherever its NIC shows up, so any
 * agent may bind it to its own node, but not while it is bound to another node whose agent
 * is alive (a live migration: the source's agent unbinds it first, as the agents decide it
 * themselves in ChassisManager.boundElsewhere) unless its NIC's link is down there and up
 * here (takesOverLinkDown), or the VM announced itself (RARP) on its NIC here after whatever
 * activation it is bound by there (takesOverActivated: a live migration completed, both taps
 * up); either way bound to an OpenFlow port here; only the node it is bound to unbinds it,
 * unless that node is gone or its agent silent.
 */
export async function portBindingRefusal(
  node: string,
  current: VirtualPort,
  next: VirtualPort,
  nodeOf: (name: string) => Promise<HypervisorNode | undefined>,
): Promise<string | undefined> {
  const who = whose(node);
  if (!bindingOnly(current.status, next.status)) {
    return `${who} writes a port's binding only (status.node, status.ofport and the ${BOUND} condition): the rest of its status is the controller's`;
  }
  if (node === ANY_NODE) return undefined;
  const pinned = current.spec?.node;
  if (pinned && pinned !== node) return `the port is pinned to node ${pinned}, not ${node}`;
  const was = current.status?.node;
  const now = next.status?.node;
  // A port pinned here may keep the node it names while this agent cannot tell (NodeDisconnected
  // keeps the last binding, binding.ts): one bound elsewhere before it was pinned here (review).
  if (now !== undefined && now !== node && !(pinned && now === was)) return `${who} may bind a port to node ${node} only, not to ${now}`;
  if (pinned) return undefined;
  if (was === undefined || was === node) return undefined;
  // Bound there to a NIC whose link is down, and bound here to a live one: a live migration's switchover (binding.ts).
  if (now === node && takesOverLinkDown(current, next)) return undefined;
  // The VM announced itself on its NIC here (RARP, Bound Activated): a live migration's destination (binding.ts).
  if (now === node && takesOverActivated(current, next)) return undefined;
  if (holdsBindings(await nodeOf(was))) {
    return now === undefined ? `the port is bound to node ${was}, whose agent is alive: only that agent unbinds it` : `the port is bound to node ${was}, whose agent is alive: it moves once that agent unbinds it`;
  }
  return undefined;
}
