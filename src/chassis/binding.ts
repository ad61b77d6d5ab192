/**
 * VM NIC binding, the libvirt/Xen convention: a VirtualPort is bound where an OVS
 * Interface carries external_ids:iface-id equal to its interfaceId. This file decides
 * the port's binding status from what the node sessions see. Pure.
 */
import { getCondition, setCondition } from '../reconcile/conditions';
import type { VirtualPort, VirtualPortStatus } from '../resources/kinds';
import { INTEGRATION_BRIDGE, UNDERLAY_BRIDGE } from './layout';
import { lookalikeNote, type UnclaimedInterface } from './lookalike-interfaces';

export const BOUND = 'Bound';
export const IFACE_ID = 'iface-id';
/** The VM's MAC on the Interface, as libvirt (and vnetctl's demo) set it. */
export const ATTACHED_MAC = 'attached-mac';

/** The interface id hypervisors set for the port; admission defaults it to the uid. */
export function interfaceIdOf(port: VirtualPort): string | undefined {
  return port.spec?.interfaceId ?? port.metadata.uid;
}

/** Informer index of ports by interfaceIdOf; one definition for every reader of a shared port informer. */
export const INTERFACE_ID_INDEX = 'interfaceId';
export function interfaceIdIndex(port: VirtualPort): readonly string[] {
  const id = interfaceIdOf(port);
  return id ? [id] : [];
}

/** What one node knows about the port's interface. */
export interface NodeView {
  node: string;
  /** False while the node's OVSDB session is down: its interfaces are unknown. */
  connected: boolean;
  /**
   * This process is still making its first connection to the node (it just started, or
   * just learned of the node): the binding is left as it was rather than called unknown,
   * so a controller restart does not flap every port's Bound condition.
   */
  settling?: boolean;
  /** Interfaces on that node with the port's iface-id (attachedMac: their external_ids:attached-mac, the VM's MAC as libvirt sets it). */
  interfaces: ReadonlyArray<{ name: string; ofport: number | null; error: string | null; attachedMac?: string; linkState?: 'up' | 'down' | null; adminDown?: boolean; activatedAt?: number }>;
  /** Interfaces with the port's iface-id on another bridge than br-int (never bound), with that bridge ('' for none). */
  misplaced?: ReadonlyArray<{ name: string; bridge: string }>;
}

/** The port's NIC is on the node, on another bridge than br-int: not bound. */
export const WRONG_BRIDGE = 'WrongBridge';

/** Bound, to an interface whose VM MAC (external_ids:attached-mac) is not the port's: the port is not Ready. */
export const MAC_MISMATCH = 'MacMismatch';

/**
 * Bound, to an interface whose link is down (OVS link_state: the VM's NIC is down, or the
 * VM is off with its tap left behind): the port is not Ready, as with MAC_MISMATCH.
 */
export const LINK_DOWN = 'LinkDown';

/**
 * Whether OVS has given the interface an OpenFlow port (its ofport column: empty while
 * pending, -1 when it failed): only then can a port be bound to it.
 */
export function hasOpenFlowPort(ofport: number | null | undefined): ofport is number {
  return typeof ofport === 'number' && ofport > 0;
}

/**
 * Bound to a NIC the VM announced itself on (a RARP from it, rarp.ts: a live migration's
 * destination, right after the migration completed), which takes the binding from another
 * live NIC with the port's iface-id. The message names the node and the time (activationTime).
 */
export const ACTIVATED = 'Activated';

/** What an ACTIVATED message says of the time, and how activationTime finds it again. */
const ACTIVATED_AT = 'RARP announcement at ';

/** An ACTIVATED Bound message: the node, the time, the interface. */
export function activatedMessage(node: string, name: string, ofport: number, at: number): string {
  return `bound to interface ${name} (ofport ${ofport}) on node ${node}: activated by the VM's ${ACTIVATED_AT}${new Date(at).toISOString()} there (a live migration's destination)`;
}

/**
 * When the NIC a port is bound to was activated (epoch ms), from its Bound condition; undefined
 * when it is not bound to an activated NIC. Read from the message because that is all an agent
 * may write (status.node, status.ofport and Bound: node-authorizer.ts), and what a reader sees.
 */
export function activationTime(port: Pick<VirtualPort, 'status'> | undefined, now = Date.now()): number | undefined {
  const bound = getCondition(port?.status?.conditions, BOUND);
  if (bound?.status !== 'True' || bound.reason !== ACTIVATED) return undefined;
  const i = bound.message.indexOf(ACTIVATED_AT);
  const at = i < 0 ? NaN : Date.parse(bound.message.slice(i + ACTIVATED_AT.length).split(' ')[0]!);
  // A time ahead of this clock by more than the skew allowed counts for nothing: an agent's
  // forged far-future activation would otherwise have outranked every real one for good (review).
  return Number.isNaN(at) || at > now + ACTIVATION_SKEW_MS ? undefined : at;
}

/** How far apart the hypervisors' and the API's clocks may be for an activation's time to count. */
export const ACTIVATION_SKEW_MS = 30_000;

/**
 * Whether an agent may take an unpinned port's binding from another node whose agent is alive
 * because its own NIC was activated (ACTIVATED): `next` binds it to an OpenFlow port (no NIC,
 * no binding) with an activation later than the one it is bound by now, if any (a VM migrated
 * back: the newest announcement wins; the older destination never takes it back). The NIC it
 * is bound to now is up: qemu holds the source's tap, link up, until the source qemu exits, a
 * second or more after the migration completed. One rule for ChassisManager.boundElsewhere and
 * the API's node authorizer, as takesOverLinkDown.
 */
export function takesOverActivated(current: Pick<VirtualPort, 'status'>, next: Pick<VirtualPort, 'status'>, now = Date.now()): boolean {
  const at = activationTime(next, now);
  // Only an activation of now (within the clocks' skew): an agent says so as it sees the RARP,
  // and a later real migration then outranks whatever it claimed.
  if (at === undefined || at < now - ACTIVATION_SKEW_MS || !hasOpenFlowPort(next.status?.ofport)) return false;
  const was = activationTime(current, now);
  return was === undefined || at > was;
}

/** Whether the port is bound to a NIC whose link is down (see LINK_DOWN). */
export function linkIsDown(port: Pick<VirtualPort, 'status'> | undefined): boolean {
  const bound = getCondition(port?.status?.conditions, BOUND);
  return bound?.status === 'True' && bound.reason === LINK_DOWN;
}

/**
 * Whether another node's agent may take an unpinned port's binding from a node whose agent is
 * alive (which it otherwise leaves alone: node-status.ts holdsBindings): the port is bound
 * there to a NIC whose link is down (LINK_DOWN), and `next` binds it to a NIC whose link is
 * not. A live migration's switchover: the source VM stopped (its tap's link down, the tap
 * removed only later), the destination's running; the source's agent cannot see the other
 * switch, and kept the binding until its tap was gone (QA-135 F2). The same choice as
 * firstReadyInterface's (a live NIC over a dead one), made by the agent that sees the live
 * one. One rule for ChassisManager.boundElsewhere and the API's node authorizer.
 */
export function takesOverLinkDown(current: Pick<VirtualPort, 'status'>, next: Pick<VirtualPort, 'status'>): boolean {
  const bound = getCondition(next.status?.conditions, BOUND);
  // A binding names the OpenFlow port it is bound to: one without is no NIC at all. The API
  // cannot see the NIC; an agent's token is trusted for its own switch's facts, as a kubelet's is.
  return linkIsDown(current) && bound?.status === 'True' && bound.reason !== LINK_DOWN && hasOpenFlowPort(next.status?.ofport);
}

/**
 * The interfaces a port can be bound to (an OpenFlow port assigned), by node name (the
 * binding among them: firstReadyInterface).
 */
export function readyInterfaces<I extends { ofport: number | null }>(views: ReadonlyArray<{ node: string; interfaces: ReadonlyArray<I> }>): Array<I & { node: string; ofport: number }> {
  // Loops, not flatMap/filter: this runs on every status decision of every port.
  const out: Array<I & { node: string; ofport: number }> = [];
  for (const v of views) {
    for (const i of v.interfaces) {
      if (hasOpenFlowPort(i.ofport)) out.push({ ...i, node: v.node } as I & { node: string; ofport: number });
    }
  }
  if (out.length > 1) out.sort((a, b) => a.node.localeCompare(b.node));
  return out;
}

/** The binding among ready interfaces, and how many there are (more than one: see readyInterfaces). */
export interface FirstReady<I> {
  node: string;
  iface: I & { ofport: number };
  count: number;
}

/**
 * The binding among the ready interfaces and how many there are, without building the
 * list: the common case (one interface) allocates nothing but the answer, and the
 * interface rows (OVSDB Interface rows of thirty-odd columns) are not copied.
 *
 * A live interface (`isLive`: its link up, no error) over one that is not, on any node:
 * at a live migration's switchover the source VM stops (its NIC's link goes down) and the
 * destination's runs (its link comes up), while libvirt removes the source's tap only once
 * the source qemu is torn down, a second or more later; the binding waited for that, and
 * the VM was unreachable all along (QA-135 F2: 3.3 s).
 *
 * Among equally live ones, `stay`: the node the port is bound to now. While it has one, the
 * binding stays there, whatever other node shows the NIC too: the destination's NIC appears
 * while the source runs, and a port must never flap between two nodes whose NICs are both
 * up. Without one, the lowest node name.
 *
 * Among live ones, an activated one (`activatedAt`: the VM announced itself on it, rarp.ts)
 * first, the most recently activated of several: with qemu both taps are up during a live
 * migration, and the source's goes only when the source qemu exits, a second or more after
 * the VM runs on the destination (the gap was all that time). An activation on a NIC whose
 * link is down counts for nothing.
 *
 * On one node, the earliest of equally live ones: a VM restarted after a crash leaves its old
 * tap's row behind with the same iface-id, and a restarted controller, finding the rows in
 * another order, bound the port to the dead one and cut the running VM off (QA-126 H6).
 */
export function firstReadyInterface<I extends { ofport: number | null }>(
  views: ReadonlyArray<{ node: string; interfaces: ReadonlyArray<I> }>,
  stay?: string,
  isLive: (i: I) => boolean = () => true,
  activatedAt: (i: I, node: string) => number | undefined = () => undefined,
): FirstReady<I> | undefined {
  let best: I | undefined;
  let bestNode = '';
  let bestLive = false;
  // The activation of the best one when it is live (-1: none).
  let bestAt = -1;
  let count = 0;
  for (const v of views) {
    for (const i of v.interfaces) {
      if (!hasOpenFlowPort(i.ofport)) continue;
      count++;
      const live = isLive(i);
      const at = live ? (activatedAt(i, v.node) ?? -1) : -1;
      const take =
        best === undefined ||
        (live !== bestLive ? live : at !== bestAt ? at > bestAt : v.node !== bestNode && bestNode !== stay && (v.node === stay || v.node.localeCompare(bestNode) < 0));
      if (take) {
        best = i;
        bestNode = v.node;
        bestLive = live;
        bestAt = at;
      }
    }
  }
  return best === undefined ? undefined : { node: bestNode, iface: best as I & { ofport: number }, count };
}

/** Whether an interface row (OVSDB's, or a NodeView's) can carry the VM's traffic: its link not down (an internal port's is not read, as NodeView's), no error. */
export function interfaceIsLive(i: { error?: string | null; linkState?: string | null; link_state?: string | null; type?: string }): boolean {
  return !i.error && i.linkState !== 'down' && (i.type === 'internal' || i.link_state !== 'down');
}

/** What a WrongBridge message says of a NIC on the underlay bridge (trace reads it there). */
export const ON_UNDERLAY = 'is the underlay';

/** The port's NIC is on no node it may bind on (its message names NICs that look meant for it). */
export const INTERFACE_NOT_FOUND = 'InterfaceNotFound';

/** The port is pinned to a node (spec.node) and its NIC is on another one: not bound. */
export const ON_OTHER_NODE = 'InterfaceOnOtherNode';

/**
 * Bound on its spec.node, and a NIC with its iface-id is on another node too, where it never
 * binds: a tap left behind by an aborted live migration, or the VM running twice. True (the
 * port is bound and Ready), and yet a Warning event names the other node (condition-events.ts
 * DEGRADED): an operator cleaning up after a failed migration has to find that tap (QA-135 F3).
 */
export const ALSO_ON_OTHER_NODE = 'InterfaceAlsoOnOtherNode';

/**
 * The port's next status. `views` are the nodes it may bind on: its spec.node only,
 * or every node when spec.node is unset (the NIC is bound wherever it shows up).
 * `elsewhere`: for a pinned port, interfaces with its iface-id on other nodes, which
 * are never bound but say where the VM runs (or, bound here too, that something is left
 * behind there: ALSO_ON_OTHER_NODE). `unclaimed`: the interfaces on those nodes' br-int
 * no port claims, asked for only when the NIC is found nowhere (one may be it, mistyped).
 */
export function bindingStatus(
  port: VirtualPort,
  views: readonly NodeView[],
  now?: Date,
  elsewhere: ReadonlyArray<{ node: string; name: string }> = [],
  unclaimed?: () => readonly UnclaimedInterface[],
): VirtualPortStatus {
  const prev = port.status ?? {};
  const gen = port.metadata.generation;
  const next: VirtualPortStatus = { ...prev };
  const cond = (status: 'True' | 'False' | 'Unknown', reason: string, message: string) => {
    next.conditions = setCondition(prev.conditions, { type: BOUND, status, reason, message, observedGeneration: gen }, now);
  };
  const wanted = port.spec?.node;
  const first = firstReadyInterface(views, prev.node, interfaceIsLive, (i) => i.activatedAt);
  if (first) {
    const hit = first.iface;
    next.node = first.node;
    next.ofport = hit.ofport;
    const others = wanted ? elsewhere.filter((i) => i.node !== wanted) : [];
    const more =
      (first.count > 1 ? ` (also present on ${readyInterfaces(views).filter((i) => !(i.node === first.node && i.name === hit.name)).map((i) => `${i.node}/${i.name}${interfaceIsLive(i) ? '' : ` (${i.error ? 'failed' : 'link down'}: a leftover of an earlier VM? ovs-vsctl del-port ${i.name})`}`).join(', ')}; the binding stays here until its interface here is gone, or its link is down while another's is up, or the VM announces itself on another (RARP))` : '') +
      (others.length ? `; its iface-id is also on ${others.map((i) => `node ${i.node} (interface ${i.name})`).join(', ')}, where the port does not bind (spec.node is ${wanted}): a tap left behind by an aborted live migration, or the VM running twice? Remove it there (ovs-vsctl del-port ${others[0]!.name}), or set spec.node to ${others[0]!.node} if the VM runs there now` : '');
    const mac = port.spec?.mac;
    if (hit.attachedMac && mac && hit.attachedMac.toLowerCase() !== mac.toLowerCase()) {
      // Port security drops all it sends, and traffic for the port's MAC never reaches it:
      // bound (its flows stay, so fixing either side is all it takes), but said plainly.
      cond('True', MAC_MISMATCH, `bound to interface ${hit.name} (ofport ${hit.ofport}) on node ${first.node}, but the VM's MAC there (external_ids:attached-mac) is ${hit.attachedMac}, not the port's ${mac}: give the VM's NIC the port's MAC (libvirt <mac address='${mac}'/>, as vnetctl port libvirt prints it)${more}`);
      return next;
    }
    if (hit.linkState === 'down') {
      // Its flows stay (the link coming up is all it takes), but nothing reaches the VM: a
      // port Ready with its VM's NIC down sent operators looking at the network (QA-93).
      // Set down on the host (admin_state), the VM is not to blame (QA-131: said it was).
      const why = hit.adminDown
        ? `it is set down on the host (OVS admin_state down): bring it up (ip link set ${hit.name} up, or ovs-ofctl mod-port br-int ${hit.name} up)`
        : "the VM's NIC is down or the VM is not running";
      cond('True', LINK_DOWN, `bound to interface ${hit.name} (ofport ${hit.ofport}) on node ${first.node}, but its link is down (OVS link_state): ${why}, and nothing sent to the port reaches it${more}`);
      return next;
    }
    if (hit.activatedAt !== undefined && !others.length) {
      cond('True', ACTIVATED, `${activatedMessage(first.node, hit.name, hit.ofport, hit.activatedAt)}${more}`);
      return next;
    }
    cond('True', others.length ? ALSO_ON_OTHER_NODE : 'InterfaceFound', `bound to interface ${hit.name} (ofport ${hit.ofport}) on node ${first.node}${more}`);
    return next;
  }
  const found = views.flatMap((v) => v.interfaces.map((i) => ({ node: v.node, ...i })));
  const pending = found[0];
  const unknown = views.filter((v) => !v.connected).map((v) => v.node);
  delete next.ofport;
  if (pending) {
    next.node = pending.node;
    if (pending.ofport === -1 || pending.error) cond('False', 'InterfaceError', `interface ${pending.name} on node ${pending.node} failed: ${pending.error ?? 'ofport -1'}`);
    else cond('False', 'InterfacePending', `interface ${pending.name} on node ${pending.node} has no OpenFlow port yet`);
    return next;
  }
  const misplaced = views.flatMap((v) => (v.misplaced ?? []).map((i) => ({ node: v.node, ...i })));
  if (misplaced.length) {
    delete next.node;
    const m = misplaced[0]!;
    // On the underlay bridge the VM is not cut off: it is on the hypervisors' own network, reaches
    // their tunnel endpoints and can send into any tenant's tunnels (QA-131: said as cut off).
    const underlay = m.bridge === UNDERLAY_BRIDGE ? ` ${UNDERLAY_BRIDGE} ${ON_UNDERLAY}: its VM is on the hypervisors' own network, reaches their tunnel endpoints and can send into any tenant network's tunnels; unplug it from ${UNDERLAY_BRIDGE} now.` : '';
    cond('False', WRONG_BRIDGE, `interface ${m.name} on node ${m.node} has external_ids:iface-id=${interfaceIdOf(port)} but is on ${m.bridge ? `bridge ${m.bridge}` : 'no bridge'}, not ${INTEGRATION_BRIDGE}: only ${INTEGRATION_BRIDGE}'s interfaces are bound (libvirt <source bridge='${INTEGRATION_BRIDGE}'/>).${underlay}`);
    return next;
  }
  // Not found on the nodes that are up, and a node that may hold it not known yet: no news.
  if (views.some((v) => v.settling)) return { ...prev };
  if (unknown.length && (wanted || views.every((v) => !v.connected))) {
    // Cannot tell while the session is down; keep the last known binding.
    next.node = prev.node;
    if (prev.ofport !== undefined) next.ofport = prev.ofport;
    cond('Unknown', 'NodeDisconnected', `node ${unknown.join(', ')} is not connected; binding unknown`);
    return next;
  }
  delete next.node;
  const where = wanted ? `node ${wanted}` : views.length ? 'any node' : 'any node (no nodes are known)';
  const other = wanted ? elsewhere.find((i) => i.node !== wanted) : undefined;
  if (other) {
    // The VM started on another hypervisor than the port names: say where, not only where not (QA-93).
    // A spec.node no Node has is that, not a VM on the wrong node: "start the VM on" it is no
    // advice (QA-132 F10).
    if (wanted && !views.length) cond('False', 'NodeNotFound', `node ${wanted} (the port's spec.node) does not exist; the port's NIC is on node ${other.node} (interface ${other.name}): set spec.node to ${other.node} (or leave spec.node out to bind wherever the NIC is), or create Node ${wanted}`);
    else cond('False', ON_OTHER_NODE, `no interface with external_ids:iface-id=${interfaceIdOf(port)} on node ${wanted}, the port's spec.node; it is on node ${other.node} (interface ${other.name}): start the VM on ${wanted}, or set spec.node to ${other.node} (or leave spec.node out to bind wherever the NIC is)`);
  } else if (wanted && !views.length) cond('False', 'NodeNotFound', `node ${wanted} does not exist`);
  else {
    const id = interfaceIdOf(port);
    cond('False', INTERFACE_NOT_FOUND, `no interface with external_ids:iface-id=${id} on ${where}${id && unclaimed ? lookalikeNote(port, id, unclaimed()) : ''}`);
  }
  return next;
}
