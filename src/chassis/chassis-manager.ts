/**
 * The Node reconciler and VM NIC binder. One NodeSession per Node object with an
 * OVSDB endpoint; Node status reports the session and layout; VirtualPort status
 * reports where its NIC is bound. Level-triggered like every reconciler here: OVSDB
 * row changes and store events only enqueue keys, the reconcile functions re-read.
 *
 * Deleting a Node closes its session but leaves the hypervisor's bridges in place, so
 * forwarding keeps working while the node is re-registered or handed to another vnetd.
 *
 * In `vnetd agent` it manages one node only (options.only): that Node's session over the
 * local OVSDB endpoint, and the binding of the ports that are pinned to it or whose
 * interface shows up on it; other nodes and their ports belong to their own agents.
 */
import type { Logger } from 'pino';
import type { RowChange } from '../ovsdb';
import type { Interface } from '../ovsdb/models/open_vswitch';
import { Controller } from '../reconcile/controller';
import { getCondition, isTrue } from '../reconcile/conditions';
import type { Informer } from '../reconcile/informer';
import { SharedInformers } from '../reconcile/shared-informers';
import { onlyStatusChanged } from '../reconcile/predicates';
import { sameValue } from '../resources/same-value';
import { throttledEnqueue } from '../reconcile/throttle';
import type { HypervisorNode, VirtualNetwork, VirtualPort, VirtualPortStatus } from '../resources/kinds';
import { objectKey, typePrefix } from '../store/keys';
import type { ObjectStore } from '../store/object-store';
import { ATTACHED_MAC, BOUND, IFACE_ID, INTERFACE_ID_INDEX as IX_IFACE, INTERFACE_NOT_FOUND, activationTime, bindingStatus, hasOpenFlowPort, interfaceIdIndex, interfaceIdOf, interfaceIsLive, linkIsDown, type NodeView } from './binding';
import { Activations, type ActivationOutcome } from './activations';
import { NodeSession, type SessionChange } from './node-session';
import type { UnclaimedInterface } from './lookalike-interfaces';
import { CONNTRACK_POLL_MS, ConntrackWatch } from './conntrack-watch';
import { OvsdbFencedError } from './ovsdb-fence';
import { FLOWS_REFUSED, SWITCH_UNREACHABLE, agentMarkedSilent, holdsBindings, nodeStatus, type LayoutOutcome, type TunnelsView } from './node-status';
import { underlayMtuCondition, type LargestNetwork } from './underlay-mtu';
import { DEFAULT_OWNER } from './owner';
import { NETWORKS, NODES, PORTS as VIRTUAL_PORTS } from '../store/kinds';
import { ctZone } from '../pipeline/owners';

/** OVS row changes re-check a node's status and layout at most this often. */
const NODE_STATUS_PERIOD_MS = 200;
/**
 * Port bindings (status.boundPorts only) re-check a node at most this often: each check
 * walks all of the node's interfaces, and binding thousands of ports in a burst queued a
 * walk every 200 ms (7% of vnetd's CPU in bench:converge at N=3000).
 */
const BOUND_COUNT_PERIOD_MS = 1000;
/** How long a port's binding write waits after its Interface row changed (see onSessionChange). */
const BIND_WRITE_DELAY_MS = 50;

export interface ChassisManagerOptions {
  objects: ObjectStore;
  logger: Logger;
  /** external_ids:vnetd-owner value marking what this vnetd creates. */
  owner?: string;
  workers?: number;
  connectTimeoutMs?: number;
  /** Agent mode: manage only this node, over this OVSDB endpoint (not the Node's spec.ovsdb). */
  only?: { node: string; ovsdb: string };
  /**
   * A port that becomes bound has its binding written by the pipeline of this same
   * process, in its Ready write (see bindingStatusOf): one store revision instead of two.
   * The chassis writes it itself only if that has not happened after this many ms (the
   * flows cannot be installed, say). Unset (agents, tests of the chassis alone): at once.
   */
  boundWithReadyMs?: number;
  /** NodeSessionOptions.generation for every node: this leader's generation (app/leader-generation.ts). */
  generation?: bigint;
  /** A node's database holds a newer leader's generation: this process is no longer the leader it thinks it is. */
  onFenced?: (node: string, err: OvsdbFencedError) => void;
  /** The process's shared informers (its own when absent). */
  informers?: SharedInformers;
  /** How often local switches' connection-tracking usage is read (ConntrackPressure); 0: never. Default 10 s. */
  conntrackPollMs?: number;
  /** A network's conntrack zone on a node is at its limit (spec.conntrack.networkShare): for an event on the network. */
  onNetworkConntrackFull?: (network: VirtualNetwork, node: string, limit: number) => void;
  /** Something of a node's was repaired after a change by hand (LayoutRepaired): for an event on the Node, which kubectl describe shows. */
  onNodeEvent?: NodeEventSink;
}

/**
 * Told that something about a node's session changed. interfaceIds: only the OVS
 * Interfaces carrying these iface-ids (and rows without one, such as tunnel ports)
 * changed; undefined: anything may have (connected, disconnected, session replaced).
 */
/** An event on a Node (its name), as an EventRecorder records it. */
export type NodeEventSink = (node: string, type: 'Normal' | 'Warning', reason: string, message: string) => void;

export type NodeChangeListener = (node: string, interfaceIds?: readonly string[]) => void;

const IX_NODE = 'node';
/** Unclaimed interfaces a Node's status names (the count says how many in all). */
const UNCLAIMED_SHOWN = 20;
/**
 * Unclaimed interfaces of a node compared with a port whose NIC is found nowhere
 * (lookalike-interfaces.ts): a typo'd NIC is one of a few; thousands of unbound ports each
 * compared with hundreds of NICs took seconds (about 1 us a comparison of two UUIDs).
 */
const UNCLAIMED_COMPARED = 32;
/**
 * While what a node's unclaimed interfaces depend on changes (its interfaces, ports claiming
 * them), they are read for its status at most this often: each read walks every interface of
 * the node, and the status is written on every flow-count change, several times a second in a
 * burst (0.4 s of a 3,000-port burst's 4.4 s on the main thread went to these walks).
 */
const UNCLAIMED_READ_MS = 1_000;
const IX_BOUND = 'boundNode';
/** Ports whose NIC is found nowhere (Bound InterfaceNotFound), by pinned node or UNPINNED: those a change of the unclaimed NICs may concern. */
const IX_NIC_NOT_FOUND = 'nicNotFound';
/** Unpinned ports by MAC (lower-case): what a RARP announcement names. */
const IX_MAC = 'unpinnedMac';
/** Index value for ports without spec.node (they may bind on any node). */
const UNPINNED = '';

/** A binding decided by bindingStatusOf, valid while its port revision, the views epoch and its interface's stamp hold. */
interface BindingMemo {
  /**
   * The object it was decided for when that is the informer's (held anyway), and its stored
   * revision when known. A fresh read is not kept: a memo per port holding a whole private
   * copy of it was 5 MB of a 3,000-port controller's heap.
   */
  port: VirtualPort | undefined;
  revision: string | undefined;
  epoch: number;
  stamp: number;
  status: VirtualPortStatus;
}

/** The iface-ids an Interface row change concerns (old, then new; once each). Runs for every row change. */
function ifaceIdsOf(change: RowChange): string[] {
  const was = (change.old as Interface | undefined)?.external_ids?.[IFACE_ID];
  const now = (change.new as Interface | undefined)?.external_ids?.[IFACE_ID];
  if (was && now && was !== now) return [was, now];
  const id = was || now;
  return id ? [id] : [];
}

export class ChassisManager {
  private readonly log: Logger;
  private readonly owner: string;
  private readonly nodes: Informer<HypervisorNode>;
  private readonly ports: Informer<VirtualPort>;
  /** Networks, for their conntrack zones (ConntrackWatch's per-network limits). */
  private readonly networks: Informer<VirtualNetwork>;
  /** Made here when none were given: then stopped here too. */
  private readonly ownInformers?: SharedInformers;
  private readonly unsubscribe: Array<() => void> = [];
  private readonly nodeController: Controller;
  private readonly portController: Controller;
  private readonly nodeSoon: (key: string) => void;
  private readonly nodeCountSoon: (key: string) => void;
  private readonly sessions = new Map<string, NodeSession>();
  private readonly nodeListeners = new Set<NodeChangeListener>();
  /** Ports whose new Bound=True is left to the pipeline's Ready write: key -> until when. */
  private readonly boundDeferred = new Map<string, number>();
  /**
   * bindingStatusOf's answers by port uid, each valid for one stored revision of the port
   * while nothing it read changed: the chassis and the pipeline decide a port's binding
   * for the same revision several times (the cached object, then the fresh read of each
   * status write), and a burst of creates did it a dozen times per port.
   */
  private readonly bindingMemo = new Map<string, BindingMemo>();
  /** Bumped when what any port's binding reads may have changed: a session's state, the node set. */
  private viewsEpoch = 0;
  /** Per iface-id of a port: the stamp of its last Interface row change (stamps only grow). */
  private readonly ifaceStamps = new Map<string, number>();
  /** Per node, the interfaces on br-int no port claims (the first UNCLAIMED_COMPARED), how many in all, and when, as last read; dropped when its session comes or goes. */
  private readonly unclaimedSeen = new Map<string, { items: readonly UnclaimedInterface[]; count: number; at: number }>();
  /** Nodes whose interfaces, or the ports claiming them, changed since their unclaimed interfaces were read. */
  private readonly unclaimedStale = new Set<string>();
  private readonly unclaimedSoon: (key: string) => void;
  private lastStamp = 0;
  private stopped = false;
  /** Each local switch's ConntrackPressure. */
  readonly conntrack: ConntrackWatch;
  /** NICs a VM announced itself on (RARP): a live migration's destination (activations.ts). */
  private readonly activations = new Activations();

  constructor(private readonly opts: ChassisManagerOptions) {
    this.log = opts.logger.child({ component: 'chassis' });
    this.owner = opts.owner ?? DEFAULT_OWNER;
    const shared = opts.informers ?? (this.ownInformers = new SharedInformers(opts.objects.kv, this.log));
    this.nodes = shared.of<HypervisorNode>(NODES);
    this.ports = shared.of<VirtualPort>(VIRTUAL_PORTS);
    this.networks = shared.of<VirtualNetwork>(NETWORKS);
    this.ports.ensureIndex(IX_IFACE, interfaceIdIndex);
    this.ports.ensureIndex(IX_NODE, (p) => [p.spec?.node ?? UNPINNED]);
    this.ports.ensureIndex(IX_MAC, (p) => (p.spec?.mac && !p.spec.node ? [p.spec.mac.toLowerCase()] : []));
    this.ports.ensureIndex(IX_BOUND, (p) => (p.status?.node && isTrue(p.status.conditions, BOUND) ? [p.status.node] : []));
    this.ports.ensureIndex(IX_NIC_NOT_FOUND, (p) => (getCondition(p.status?.conditions, BOUND)?.reason === INTERFACE_NOT_FOUND ? [p.spec?.node ?? UNPINNED] : []));

    this.conntrack = new ConntrackWatch({
      everyMs: opts.conntrackPollMs ?? CONNTRACK_POLL_MS,
      sessions: () => [...this.sessions].map(([node, s]) => [node, { endpoint: s.endpoint, connected: s.view().connected }]),
      datapathOf: (node) => this.nodes.get(objectKey(NODES, undefined, node))?.spec?.datapath,
      networkShareOf: (node) => this.nodes.get(objectKey(NODES, undefined, node))?.spec?.conntrack?.networkShare,
      namespaceShareOf: (node) => this.nodes.get(objectKey(NODES, undefined, node))?.spec?.conntrack?.namespaceShare,
      networkZones: () => new Map(this.networks.list().flatMap((n) => (n.spec?.vni ? [[ctZone(n.spec.vni), `${n.metadata.namespace}/${n.metadata.name}`] as const] : []))),
      onNetworkFull: (node, network, limit) => {
        const slash = network.indexOf('/');
        const net = this.networks.get(objectKey(NETWORKS, network.slice(0, slash), network.slice(slash + 1)));
        if (net) opts.onNetworkConntrackFull?.(net, node, limit);
      },
      onChange: (node) => this.nodeController.enqueue(objectKey(NODES, undefined, node)),
      logger: this.log,
    });
    this.nodeController = new Controller({ name: 'chassis-nodes', workers: opts.workers ?? 2, logger: this.log, reconcile: (k) => this.reconcileNode(k) });
    this.portController = new Controller({ name: 'chassis-ports', workers: opts.workers ?? 2, logger: this.log, reconcile: (k) => this.reconcilePort(k) });
    // Not on status-only updates: its own boundPorts writes re-queued the layout walk
    // (O(interfaces)) after every binding, O(N^2) for N ports.
    // A status-only change is this layer's own write, except the leader marking the node's
    // agent silent: that one this agent (back, or never gone) answers with its own Ready.
    this.unsubscribe.push(this.nodeController.watch(this.nodes, undefined, { ignoreUpdate: (o, n) => onlyStatusChanged(o, n) && !agentMarkedSilent(n) }));
    // Spec changes rebind; status.node changes move the boundPorts count between nodes.
    this.unsubscribe.push(this.portController.watch(this.ports));
    // Bound-port counts only: a node reconcile also checks the OVS layout (a walk over all
    // of the node's interfaces), so port events queue it at most once per second.
    // Trailing: the walk must not delay the binding and flows of the port that caused it.
    this.nodeSoon = throttledEnqueue(this.nodeController.queue, NODE_STATUS_PERIOD_MS, { leading: false });
    this.nodeCountSoon = throttledEnqueue(this.nodeController.queue, BOUND_COUNT_PERIOD_MS, { leading: false });
    this.unclaimedSoon = throttledEnqueue(this.nodeController.queue, UNCLAIMED_READ_MS, { leading: false });
    const boundNode = (p: VirtualPort) => {
      if (p.status?.node) this.nodeCountSoon(objectKey(NODES, undefined, p.status.node));
    };
    const gone = (p: VirtualPort) => {
      boundNode(p);
      if (p.metadata.uid) this.bindingMemo.delete(p.metadata.uid);
      const id = interfaceIdOf(p);
      if (id && this.ifaceStamps.has(id) && !this.ports.indexKeys(IX_IFACE, id).length) {
        this.ifaceStamps.delete(id);
        // Its stamp reads 0 again, as it did before its first change: no memo may match that.
        this.viewsEpoch++;
      }
    };
    // A port claiming (or no longer claiming) an interface some node has: that node's
    // status.unclaimedInterfaces changes.
    const claims = (p: VirtualPort) => {
      const id = interfaceIdOf(p);
      if (!id) return;
      for (const [node, s] of this.sessions) {
        if (!s.interfacesWithIfaceId(id).length) continue;
        this.unclaimedStale.add(node);
        this.nodeSoon(objectKey(NODES, undefined, node));
      }
    };
    this.unsubscribe.push(
      this.ports.addEventHandler({
        onAdd: (p) => (boundNode(p), claims(p)),
        onUpdate: (o, n) => {
          boundNode(o);
          boundNode(n);
          // Pinned elsewhere, a port no longer claims its NIC on this node (claimedOn).
          if (interfaceIdOf(o) !== interfaceIdOf(n) || o.spec?.node !== n.spec?.node) (claims(o), claims(n));
        },
        onDelete: (p) => (gone(p), claims(p)),
      }),
    );
    // A node appearing or going changes where its ports can bind; so can its spec. Its
    // status does not (it is rewritten as ports bind: re-queuing all of the node's ports
    // on each of those writes made binding N ports cost O(N^2) reconciles).
    const requeuePorts = (n: HypervisorNode) => {
      for (const k of this.portKeysOfNode(n.metadata.name)) this.portController.enqueue(k);
    };
    // A network's MTU is what each Node's UnderlayMTU is judged against.
    const mtusChanged = () => {
      for (const n of this.nodes.list()) this.nodeSoon(objectKey(NODES, undefined, n.metadata.name));
    };
    this.unsubscribe.push(
      this.networks.addEventHandler({
        onAdd: mtusChanged,
        onUpdate: (o, n) => {
          if (o.spec?.mtu !== n.spec?.mtu) mtusChanged();
        },
        onDelete: mtusChanged,
      }),
    );
    // A node coming or going changes where ports can bind (bindingStatusOf's memo); its
    // updates do not (a new endpoint's session reports itself: notifyNode), and its status
    // is rewritten every second while ports bind.
    // (A Node deleted and created again between two lists of a relist arrives as an update
    // with another uid: that is a node going and coming too.)
    const recreated = (old: HypervisorNode, cur: HypervisorNode) => old.metadata.uid !== cur.metadata.uid;
    this.unsubscribe.push(this.nodes.addEventHandler({ onAdd: () => this.viewsEpoch++, onUpdate: (old, cur) => void (recreated(old, cur) && this.viewsEpoch++), onDelete: () => this.viewsEpoch++ }));
    this.unsubscribe.push(
      this.nodes.addEventHandler({
        onAdd: requeuePorts,
        onUpdate: (old, cur) => {
          // A node whose agent went silent: ports it held may now be bound where their NIC is (boundElsewhere).
          const silenced = !agentMarkedSilent(old) && agentMarkedSilent(cur);
          if (recreated(old, cur) || silenced || !sameValue(old.spec, cur.spec) || !!old.metadata.deletionTimestamp !== !!cur.metadata.deletionTimestamp) requeuePorts(cur);
        },
        onDelete: requeuePorts,
      }),
    );
  }

  async start(): Promise<void> {
    this.nodes.start();
    this.ports.start();
    this.networks.start();
    await Promise.all([this.nodes.waitForSync(), this.ports.waitForSync(), this.networks.waitForSync()]);
    this.nodeController.start();
    this.portController.start();
    this.conntrack.start();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.conntrack.stop();
    for (const u of this.unsubscribe.splice(0)) u();
    this.ownInformers?.stop();
    await Promise.all([this.nodeController.stop(), this.portController.stop()]);
    await Promise.all([...this.sessions.values()].map((s) => s.close()));
    this.sessions.clear();
  }

  /** The live session of a node (for the pipeline layers above, and tests). */
  session(node: string): NodeSession | undefined {
    return this.sessions.get(node);
  }

  /**
   * Tells a layer above (the pipeline) that something about a node's session changed:
   * it connected or disconnected, or OVS rows (interfaces, ofports) changed. Returns
   * the unsubscribe function. Read the details through session(node). The pipeline
   * reacts to interfaceIds at once (a VM NIC's flows follow its OVSDB row, not the
   * binding written to the store after it).
   */
  onNodeChange(listener: NodeChangeListener): () => void {
    this.nodeListeners.add(listener);
    return () => this.nodeListeners.delete(listener);
  }

  private notifyNode(node: string, interfaceIds?: readonly string[]): void {
    if (!interfaceIds) this.viewsEpoch++;
    for (const l of this.nodeListeners) {
      try {
        l(node, interfaceIds);
      } catch (err) {
        this.log.error({ err, node }, 'node change listener failed');
      }
    }
  }

  private portKeysOfNode(node: string): string[] {
    return [...this.ports.indexKeys(IX_NODE, node), ...this.ports.indexKeys(IX_NODE, UNPINNED)];
  }

  private onSessionChange(node: string, change: SessionChange): void {
    if (this.stopped) return;
    // Connection state at once; row changes (VM NICs coming and going) throttled.
    if (change.kind === 'state') this.nodeController.enqueue(objectKey(NODES, undefined, node));
    else this.nodeSoon(objectKey(NODES, undefined, node));
    this.unclaimedStale.add(node);
    if (change.kind === 'state') {
      this.unclaimedSeen.delete(node);
      this.notifyNode(node);
      for (const k of this.portKeysOfNode(node)) this.portController.enqueue(k);
      return;
    }
    const ids = new Set<string>();
    for (const c of change.changes) {
      if (c.table !== 'Interface') continue;
      for (const id of ifaceIdsOf(c)) {
        ids.add(id);
        if (this.log.isLevelEnabled('debug')) {
          const cur = c.new as Partial<Interface> | undefined;
          const row = cur ?? (c.old as Partial<Interface> | undefined);
          this.log.debug({ event: 'chassis.interface', node, ifaceId: id, name: row?.name, ofport: cur?.ofport ?? null }, 'chassis: interface row changed');
        }
      }
    }
    this.notifyNode(node, [...ids]);
    // The pipeline programs a plugged NIC's flows from this same update (notifyNode): the
    // store write of its binding (and its watch fan-out) follows a moment later, so it does
    // not take the event loop while the NIC's bundle goes out. A row seen before its
    // ofport is often bound by then, and its InterfacePending write never happens.
    for (const id of ids) for (const k of this.ports.indexKeys(IX_IFACE, id)) this.portController.queue.addAfter(k, BIND_WRITE_DELAY_MS);
  }

  private ensureSession(node: HypervisorNode, endpoint: string): NodeSession {
    const name = node.metadata.name;
    const cur = this.sessions.get(name);
    if (cur?.endpoint === endpoint) return cur;
    if (cur) void cur.close();
    const s = new NodeSession({
      node: name,
      endpoint,
      owner: this.owner,
      logger: this.log,
      onLayoutRepaired: (message) => this.opts.onNodeEvent?.(name, 'Warning', 'LayoutRepaired', message),
      connectTimeoutMs: this.opts.connectTimeoutMs,
      generation: this.opts.generation,
      onFenced: (err) => {
        if (this.sessions.get(name) === s) this.opts.onFenced?.(name, err);
      },
      onChange: (c) => this.onSessionChange(name, c),
      // At once, not with onChange's batch a microtask later: a binding decided in between must not be remembered.
      onRowChange: (c) => {
        if (c.table !== 'Interface') return;
        // A NIC gone, renumbered or given another iface-id is not the one the VM announced itself on.
        if (this.activations.rowChanged(name, c.old as Partial<Interface> | undefined, c.new as Partial<Interface> | undefined)) this.viewsEpoch++;
        for (const id of ifaceIdsOf(c)) if (this.ifaceStamps.has(id) || this.ports.indexKeys(IX_IFACE, id).length) this.ifaceStamps.set(id, ++this.lastStamp);
      },
    });
    this.sessions.set(name, s);
    s.start();
    this.notifyNode(name);
    return s;
  }

  private async dropSession(name: string): Promise<void> {
    const s = this.sessions.get(name);
    if (!s) return;
    this.sessions.delete(name);
    this.unclaimedSeen.delete(name);
    this.unclaimedStale.delete(name);
    this.activations.forgetNode(name);
    await s.close();
    this.notifyNode(name);
    for (const k of this.portKeysOfNode(name)) this.portController.enqueue(k);
  }

  private async reconcileNode(key: string): Promise<void> {
    const name = key.slice(typePrefix(NODES).length);
    if (this.opts.only && name !== this.opts.only.node) return;
    const node = await this.opts.objects.get<HypervisorNode>(NODES, undefined, name);
    if (!node || node.metadata.deletionTimestamp) {
      // An agent's own node deleted: said, once, for the operator wondering why it idles (the
      // pipeline removes vnetd's flows from the switch: the hypervisor is retired).
      if (this.opts.only && this.sessions.has(name)) this.log.warn({ event: 'agent.node_deleted', node: name }, `Node ${name} was deleted: its switch loses vnetd's flows and this agent waits for the Node to be created again (stop it to retire the hypervisor)`);
      return this.dropSession(name);
    }
    const endpoint = this.opts.only ? this.opts.only.ovsdb : node.spec?.ovsdb;
    if (!endpoint) {
      await this.dropSession(name);
      const view = { connected: false, reason: 'NoEndpoint', message: 'spec.ovsdb is not set: vnetd has no OVSDB endpoint for this node' };
      return this.writeNodeStatus(node, view, undefined);
    }
    const session = this.ensureSession(node, endpoint);
    // This process's first connection to the node is still being made (a restart): the
    // status the previous run wrote stands until there is news (the session reports its
    // connection or its first failure); only a Node without one is told Connecting.
    if (session.settling && node.status?.conditions?.length) return;
    let layout: LayoutOutcome | undefined;
    let failure: unknown;
    if (session.ready) {
      try {
        layout = await session.ensureLayout(node.spec!);
      } catch (err) {
        // Fenced off (a newer agent or leader has the node): the Node is its to describe; onFenced ends this one's work (QA: a stale agent wrote Ready=False LayoutFailed over its successor's).
        if (err instanceof OvsdbFencedError) return;
        failure = err;
        layout = { ready: false, reason: 'LayoutFailed', message: `could not apply the OVS layout: ${(err as Error).message}` };
      }
    }
    // The switch itself does not answer: whether the database says the layout is right, or the
    // database is lost too (ovsdb-server dead, with which the userspace datapath forwards nothing).
    const down = this.switchProblems.get(node.metadata.name);
    const unreachable = down?.problem;
    const view = session.view();
    if (down && unreachable && (layout?.ready || !view.connected)) layout = { ready: false, reason: down.reason, message: view.connected ? unreachable : `${unreachable}; and its OVSDB connection is lost: ${view.message}` };
    await this.writeNodeStatus(node, view, layout);
    if (failure) throw failure; // retry with backoff
  }

  /** Nodes whose switch does not answer on OpenFlow, or refuses vnetd's flows, in words (reported by the pipeline that programs it). */
  private readonly switchProblems = new Map<string, { problem: string; reason: typeof SWITCH_UNREACHABLE | typeof FLOWS_REFUSED }>();

  reportSwitch(node: string, problem: string | undefined, reason: typeof SWITCH_UNREACHABLE | typeof FLOWS_REFUSED = SWITCH_UNREACHABLE): void {
    const had = this.switchProblems.get(node);
    if (problem === undefined ? !this.switchProblems.delete(node) : had?.problem === problem && had.reason === reason) return;
    if (problem !== undefined) this.switchProblems.set(node, { problem, reason });
    const event = problem === undefined ? 'node.switch_back' : reason === FLOWS_REFUSED ? 'node.flows_refused' : 'node.switch_unreachable';
    this.log.warn({ event, node }, problem ?? (had?.reason === FLOWS_REFUSED ? `node ${node}: br-int takes vnetd's flows again` : `node ${node}: br-int answers on OpenFlow again`));
    this.nodeController.enqueue(objectKey(NODES, undefined, node));
  }

  /** Flows the pipeline keeps on each node's br-int (status.flows). */
  private readonly flowCounts = new Map<string, number>();

  /** Each node's TunnelsUp, as the pipeline's tunnel probes last found it. */
  private readonly tunnels = new Map<string, TunnelsView>();

  reportTunnels(node: string, outcome: TunnelsView): void {
    if (sameValue(this.tunnels.get(node), outcome)) return;
    this.tunnels.set(node, outcome);
    this.nodeController.enqueue(objectKey(NODES, undefined, node));
  }

  reportFlows(node: string, flows: number): void {
    if (this.flowCounts.get(node) === flows) return;
    this.flowCounts.set(node, flows);
    this.nodeController.enqueue(objectKey(NODES, undefined, node));
  }

  private async writeNodeStatus(node: HypervisorNode, sessionView: ReturnType<NodeSession['view']>, layout: LayoutOutcome | undefined): Promise<void> {
    const bound = this.ports.byIndex(IX_BOUND, node.metadata.name).length;
    const session = this.sessions.get(node.metadata.name);
    const read = sessionView.connected && session ? this.unclaimedForStatus(node.metadata.name, session) : undefined;
    const unclaimed = read ? { items: read.items.slice(0, UNCLAIMED_SHOWN).map(({ name, interfaceId }) => ({ name, interfaceId })), count: read.count } : undefined;
    const conntrack = this.conntrack.condition(node.metadata.name);
    const uplinks = sessionView.connected ? session?.uplinks() : undefined;
    const underlayMtu = uplinks && underlayMtuCondition(uplinks, this.largestNetwork());
    const view = { ...sessionView, ...(unclaimed ? { unclaimed } : {}), ...(conntrack ? { conntrack } : {}), ...(underlayMtu ? { underlayMtu } : {}) };
    await this.opts.objects.modify<HypervisorNode>(
      NODES,
      undefined,
      node.metadata.name,
      (cur) => {
        if (cur.metadata.uid !== node.metadata.uid) return undefined;
        const status = nodeStatus(cur, view, layout, bound, this.flowCounts.get(node.metadata.name), undefined, this.tunnels.get(node.metadata.name));
        if (sameValue(status, cur.status)) return undefined;
        return { ...cur, status };
      },
      { subresource: 'status' },
    );
  }

  /** The network with the largest MTU (the first by name among equals), for UnderlayMTU. */
  private largestNetwork(): LargestNetwork | undefined {
    let best: LargestNetwork | undefined;
    for (const n of this.networks.list()) {
      const mtu = n.spec?.mtu;
      const name = `${n.metadata.namespace}/${n.metadata.name}`;
      if (typeof mtu === 'number' && (!best || mtu > best.mtu || (mtu === best.mtu && name < best.network))) best = { network: name, mtu };
    }
    return best;
  }

  /**
   * The port's status with its binding as this layer decides it from the node sessions
   * (what reconcilePort writes). The pipeline folds it into its Ready write.
   */
  bindingStatusOf(port: VirtualPort, resourceVersion?: string | number): VirtualPortStatus {
    const uid = port.metadata.uid;
    const id = interfaceIdOf(port);
    const unclaimed = () => this.unclaimedOn(port);
    if (!uid || !id) return bindingStatus(port, this.viewsOf(port), undefined, this.elsewhereOf(port), unclaimed);
    const revision = resourceVersion !== undefined ? String(resourceVersion) : this.revisionOf(port);
    const stamp = this.ifaceStamps.get(id) ?? 0;
    const m = this.bindingMemo.get(uid);
    if (m && m.epoch === this.viewsEpoch && m.stamp === stamp && (m.port === port || (revision !== undefined && m.revision === revision))) return m.status;
    const status = bindingStatus(port, this.viewsOf(port), undefined, this.elsewhereOf(port), unclaimed);
    // Only ports the informer knows (a deleted port's entry goes with its delete event).
    const cached = this.ports.get(objectKey(VIRTUAL_PORTS, port.metadata.namespace, port.metadata.name));
    if (cached?.metadata.uid === uid && (cached === port || revision !== undefined)) {
      this.bindingMemo.set(uid, { port: cached === port ? port : undefined, revision, epoch: this.viewsEpoch, stamp, status });
    }
    return status;
  }

  /** The stored revision of a port object: its resourceVersion, or the informer's when it is the cached object. */
  private revisionOf(port: VirtualPort): string | undefined {
    if (port.metadata.resourceVersion !== undefined) return port.metadata.resourceVersion;
    const key = objectKey(VIRTUAL_PORTS, port.metadata.namespace, port.metadata.name);
    if (this.ports.get(key) !== port) return undefined;
    const rev = this.ports.modRevision(key);
    return rev === undefined ? undefined : String(rev);
  }

  /** The nodes a port may bind on, as their sessions see its interface. */
  private viewsOf(port: VirtualPort): NodeView[] {
    const id = interfaceIdOf(port);
    if (!id) return [];
    const one = this.opts.only ? this.opts.only.node : port.spec?.node;
    if (one) return this.nodes.get(objectKey(NODES, undefined, one)) ? [this.viewOf(one, id)] : [];
    return this.nodes.list().map((n) => this.viewOf(n.metadata.name, id));
  }

  /**
   * The interfaces no port claims on the nodes the port may bind on: one may be its NIC with
   * a mistyped iface-id (lookalike-interfaces.ts). As last read, or read now for a node not read yet.
   */
  private unclaimedOn(port: VirtualPort): UnclaimedInterface[] {
    const out: UnclaimedInterface[] = [];
    for (const node of this.viewsOf(port).map((v) => v.node)) {
      let seen = this.unclaimedSeen.get(node)?.items;
      const s = this.sessions.get(node);
      if (!seen && s && !s.foreign && s.ready) seen = this.readUnclaimed(node, s)?.items;
      if (seen) out.push(...seen);
    }
    return out;
  }

  /**
   * The node's interfaces no port claims, read from its session (the Node's status shows the
   * first of them). When they differ from the last read, the ports whose NIC is found nowhere
   * are looked at again: one may be its VM's (or was said to be, and is now another port's).
   * Read with the Node's status, whose writes are throttled: a burst of plugs or claims is one read.
   */
  private readUnclaimed(node: string, session: NodeSession): { items: readonly UnclaimedInterface[]; count: number } | undefined {
    const read = session.unclaimedInterfaces((id) => this.claimedOn(node, id), UNCLAIMED_COMPARED);
    if (!read) return undefined;
    this.unclaimedStale.delete(node);
    const items = read.items.map((i) => ({ node, ...i, ovsdb: session.endpoint }));
    const before = this.unclaimedSeen.get(node)?.items;
    this.unclaimedSeen.set(node, { items, count: read.count, at: Date.now() });
    if (before && !sameValue(before, items)) {
      this.viewsEpoch++;
      for (const k of [...this.ports.indexKeys(IX_NIC_NOT_FOUND, node), ...this.ports.indexKeys(IX_NIC_NOT_FOUND, UNPINNED)]) this.portController.enqueue(k);
    }
    return { items, count: read.count };
  }

  /**
   * readUnclaimed for a Node's status write: the last read while nothing it depends on has
   * changed since; while something changes, read at most every UNCLAIMED_READ_MS, the status
   * written again when that has passed (unclaimedSoon), so the last change is always shown.
   */
  private unclaimedForStatus(node: string, session: NodeSession): { items: readonly UnclaimedInterface[]; count: number } | undefined {
    const last = this.unclaimedSeen.get(node);
    if (last && !this.unclaimedStale.has(node)) return last;
    if (last && Date.now() - last.at < UNCLAIMED_READ_MS) {
      this.unclaimedSoon(objectKey(NODES, undefined, node));
      return last;
    }
    return this.readUnclaimed(node, session);
  }

  /**
   * Whether a port this node may bind claims the iface-id: one unpinned, or pinned here. A
   * port pinned to another node does not: its NIC here is never bound and its traffic goes
   * nowhere (a tap left by an aborted live migration, the VM running twice), and the Node
   * listed it nowhere (QA-135 F3). (An agent sees no port pinned elsewhere: the same answer.)
   */
  private claimedOn(node: string, id: string): boolean {
    for (const k of this.ports.indexKeys(IX_IFACE, id)) {
      const pinned = this.ports.get(k)?.spec?.node;
      if (!pinned || pinned === node) return true;
    }
    return false;
  }

  /**
   * A pinned port's interfaces on the other nodes this process sees (an agent sees its own
   * node only): where the VM runs when it is not where the port says.
   */
  private elsewhereOf(port: VirtualPort): Array<{ node: string; name: string }> {
    const id = interfaceIdOf(port);
    const pinned = port.spec?.node;
    if (!id || !pinned || this.opts.only) return [];
    const out: Array<{ node: string; name: string }> = [];
    for (const [node, s] of this.sessions) {
      if (node === pinned || s.foreign || !s.ready) continue;
      for (const i of s.interfacesWithIfaceId(id)) out.push({ node, name: i.name });
    }
    return out.sort((a, b) => a.node.localeCompare(b.node));
  }

  /**
   * True while a binding that became Bound=True waits for the pipeline's Ready write to
   * carry it (boundWithReadyMs); the port is checked again when that time is up. Any
   * other binding change (unbound, moved to an error, node down) is written at once.
   */
  private leaveToReady(key: string, cur: VirtualPort, next: VirtualPortStatus): boolean {
    const ms = this.opts.boundWithReadyMs;
    if (!ms || !isTrue(next.conditions, BOUND)) return false;
    // Bound already, to the same interface: only what the condition says changed (the VM's
    // MAC stopped or started matching). The flows stay as they are, so no Ready write
    // follows to carry it: MacMismatch showed 4-6 s late, and one fixed in 2 s never.
    if (isTrue(cur.status?.conditions, BOUND) && cur.status?.node === next.node && cur.status?.ofport === next.ofport) return false;
    const now = Date.now();
    let until = this.boundDeferred.get(key);
    if (until === undefined) this.boundDeferred.set(key, (until = now + ms));
    if (now < until) {
      // The check when the wait is up, armed on every look, not only the first: a key keeps
      // only the earliest of its delays (WorkQueue.addAfter), so when the wait began with
      // another check of the port pending (an Interface row's, BIND_WRITE_DELAY_MS: a new
      // session's first rows come with its state change), this one was never set, and that
      // earlier check found the wait not up: nothing looked again, and a binding no Ready
      // write carried (a re-created Node, say) stayed unwritten.
      this.portController.queue.addAfter(key, until - now);
      return true;
    }
    this.log.debug({ event: 'chassis.bound-not-carried', port: key, bound: isTrue(cur.status?.conditions, BOUND) }, 'chassis: no Ready write carried the binding; writing it');
    return false;
  }

  private viewOf(node: string, interfaceId: string): NodeView {
    const s = this.sessions.get(node);
    // Another Node's switch (spec.ovsdb pointing at it, NodeMismatch): no news of this node,
    // as a disconnected one, so its ports keep their binding (QA: they were unbound by the
    // other switch's interfaces, and a load balancer's only backend with them).
    if (s?.foreign) return { node, connected: false, settling: false, interfaces: [] };
    const rows = s?.interfacesWithIfaceId(interfaceId);
    // An internal port's link is the switch's own device, down until someone configures it
    // (test beds and host ports plug them bare): only a VM's NIC (tap, veth) down is LinkDown.
    const interfaces = rows?.length
      ? rows.map((i) => {
          const at = this.activations.at(node, i.name, i.ofport, interfaceId);
          return { name: i.name, ofport: i.ofport, error: i.error, attachedMac: i.external_ids?.[ATTACHED_MAC], linkState: i.type === 'internal' ? null : i.link_state, adminDown: i.type !== 'internal' && i.admin_state === 'down', ...(at !== undefined ? { activatedAt: at } : {}) };
        })
      : [];
    // No session yet for a node that will have one (this process is starting, its node not
    // reconciled yet): no news either, as a session whose first connection is being made. It
    // said NodeDisconnected, and every bound port flapped Bound at each agent restart (QA).
    const misplaced = interfaces.length ? undefined : s?.misplacedWithIfaceId(interfaceId);
    return { node, connected: !!s?.ready, settling: s ? s.settling : this.sessionComing(node), interfaces, ...(misplaced?.length ? { misplaced } : {}) };
  }

  /** The node's session is yet to be made: it exists, is not being deleted, and has an endpoint. */
  private sessionComing(name: string): boolean {
    const node = this.nodes.get(objectKey(NODES, undefined, name));
    return !!node && !node.metadata.deletionTimestamp && !!(this.opts.only ? this.opts.only.ovsdb : node.spec?.ovsdb);
  }

  /**
   * Agent mode: a port is this agent's to bind when it is pinned here, or unpinned and
   * either its interface is here or it was last bound here (to unbind it).
   */
  private mine(port: VirtualPort, node: string): boolean {
    if (port.spec?.node) return port.spec.node === node;
    if (this.boundElsewhere(port)) return false;
    const id = interfaceIdOf(port);
    if (id && this.sessions.get(node)?.interfacesWithIfaceId(id).length) return true;
    return port.status?.node === node;
  }

  /**
   * Agent mode: the other node an unpinned port is bound to, while that node's agent is
   * alive (its Node exists and is not marked AgentNotReporting). This agent then leaves the
   * port alone even with its NIC here: during a live migration both hypervisors have the
   * NIC, and two agents each writing their own node made status.node flip every second
   * (240 store writes a second) with the VM unreachable. The source's agent unbinds the port
   * once its NIC is gone; this agent binds it then.
   *
   * Except at switchover: bound there to a NIC whose link is down (the source VM stopped,
   * its tap not removed yet) while this node's NIC for it is live, the port is this agent's
   * to take (takesOverLinkDown), as the all-in-one controller moves it (firstReadyInterface).
   * The source's agent then finds it bound here, to a live NIC, and leaves it alone: with
   * both NICs up, or both down, it stays where it is.
   */
  boundElsewhere(port: VirtualPort): string | undefined {
    const here = this.opts.only?.node;
    const there = port.status?.node;
    if (!here || port.spec?.node || !there || there === here) return undefined;
    if (!holdsBindings(this.nodes.get(objectKey(NODES, undefined, there)))) return undefined;
    if (linkIsDown(port) && this.liveNicHere(here, port)) return undefined;
    // The VM announced itself here (RARP) after whatever activation it is bound by there.
    const at = this.activatedHere(here, port);
    return at !== undefined && at > (activationTime(port) ?? -1) ? undefined : there;
  }

  /** The latest activation of a live NIC with the port's iface-id on the node (epoch ms), if any. */
  private activatedHere(node: string, port: VirtualPort): number | undefined {
    const id = interfaceIdOf(port);
    if (!id) return undefined;
    let latest: number | undefined;
    for (const i of this.sessions.get(node)?.interfacesWithIfaceId(id) ?? []) {
      if (!hasOpenFlowPort(i.ofport) || !interfaceIsLive(i)) continue;
      const at = this.activations.at(node, i.name, i.ofport, id);
      if (at !== undefined && (latest === undefined || at > latest)) latest = at;
    }
    return latest;
  }

  /** When a VM announced itself on a node's NIC (epoch ms), for the pipeline's own binding choice (firstReadyInterface). */
  activatedAt(node: string, iface: { name?: string; ofport: number | null; external_ids?: Record<string, string> }): number | undefined {
    const id = iface.external_ids?.[IFACE_ID];
    return id && iface.name !== undefined ? this.activations.at(node, iface.name, iface.ofport, id) : undefined;
  }

  /**
   * A RARP announcement (rarp.ts) of `mac` came in on OpenFlow port `ofport` of the node's
   * br-int: the NIC there is activated when it carries the iface-id of the unpinned port
   * with that MAC (checked here again, not only by the flow that sent it: the flow may be
   * stale), and the port's binding moves to it now (firstReadyInterface, boundElsewhere).
   * Returns what was done, for the caller's log.
   */
  activate(node: string, ofport: number, mac: string, now = Date.now()): ActivationOutcome {
    const session = this.sessions.get(node);
    if (!session?.ready || session.foreign) return { activated: false, why: 'no session to the node' };
    if (this.opts.only && this.opts.only.node !== node) return { activated: false, why: 'not this agent\'s node' };
    for (const key of this.ports.indexKeys(IX_MAC, mac.toLowerCase())) {
      const port = this.ports.get(key);
      const id = port && !port.spec?.node && !port.metadata.deletionTimestamp ? interfaceIdOf(port) : undefined;
      if (!port || !id) continue;
      const row = session.interfacesWithIfaceId(id).find((i) => i.ofport === ofport);
      if (!row) continue;
      if (!interfaceIsLive(row)) return { activated: false, why: `interface ${row.name} is down or failed` };
      // qemu announces 5 times: the first counts (a later time would only rewrite the Bound message).
      if (this.activations.at(node, row.name, ofport, id) !== undefined) return { activated: false, why: `interface ${row.name} is activated already` };
      this.activations.set(node, { name: row.name, ofport, ifaceId: id, at: now });
      // What the binding reads changed: no memo of it holds, and the pipeline rebinds at once.
      this.ifaceStamps.set(id, ++this.lastStamp);
      this.notifyNode(node, [id]);
      this.portController.enqueue(key);
      return { activated: true, port: `${port.metadata.namespace}/${port.metadata.name}`, interface: row.name, at: now };
    }
    return { activated: false, why: `no unpinned port with MAC ${mac} has its NIC on OpenFlow port ${ofport}` };
  }

  /** The node has a NIC with the port's iface-id that can carry its traffic (an OpenFlow port, its link up, no error). */
  private liveNicHere(node: string, port: VirtualPort): boolean {
    const id = interfaceIdOf(port);
    const rows = id ? this.sessions.get(node)?.interfacesWithIfaceId(id) : undefined;
    return !!rows?.some((i) => hasOpenFlowPort(i.ofport) && interfaceIsLive(i));
  }

  private async reconcilePort(key: string): Promise<void> {
    const [ns, name] = key.slice(typePrefix(VIRTUAL_PORTS).length).split('/');
    if (!ns || !name) return;
    // The informer's copy (read-only; it has every committed event): the write below reads the store afresh.
    const port = this.ports.get(key);
    if (!port || port.metadata.deletionTimestamp) {
      this.boundDeferred.delete(key);
      return;
    }
    if (this.opts.only && !this.mine(port, this.opts.only.node)) return;
    // Already what it would write (e.g. the pipeline wrote it with Ready): no write to queue.
    const want = this.bindingStatusOf(port);
    if (sameValue(want, port.status)) {
      // Converged as of now: a binding left to the Ready write was carried, and a delayed
      // check queued by a row change saw nothing this read did not.
      if (this.boundDeferred.delete(key)) this.portController.queue.cancelDelayed(key);
      return;
    }
    if (this.leaveToReady(key, port, want)) return;
    this.log.debug({ event: 'chassis.bind-start', port: `${ns}/${name}` }, 'chassis: deciding the binding');
    const res = await this.opts.objects.modify<VirtualPort>(
      VIRTUAL_PORTS,
      ns,
      name,
      (cur) => {
        if (cur.metadata.uid !== port.metadata.uid) return undefined;
        // Agent mode: another node's agent may have taken it since (a live migration's switchover).
        if (this.opts.only && !this.mine(cur, this.opts.only.node)) return undefined;
        const status = this.bindingStatusOf(cur);
        if (sameValue(status, cur.status) || this.leaveToReady(key, cur, status)) return undefined;
        this.boundDeferred.delete(key);
        return { ...cur, status };
      },
      { subresource: 'status' },
    );
    const now = res?.object.status;
    if (now && !sameValue(now, port.status)) this.log.debug({ event: 'chassis.bind-written', port: `${ns}/${name}`, node: now.node ?? null, ofport: now.ofport ?? null }, 'chassis: binding written');
    if (now && !sameValue(now.node, port.status?.node)) {
      this.log.info({ event: 'chassis.binding', port: `${ns}/${name}`, node: now.node ?? null, ofport: now.ofport ?? null }, 'port binding changed');
    }
  }
}
