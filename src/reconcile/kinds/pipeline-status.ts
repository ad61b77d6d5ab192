/**
 * The status half of the pipeline: the Ready condition of VirtualPorts, VirtualNetworks and
 * LoadBalancers (realization), and the dataplane finalizer of those being deleted.
 *
 * An object is Ready (observedGeneration) once every node that needs it has installed its
 * current version; otherwise its message says which nodes lag, and why where that is known
 * (readiness.ts decides the reasons). What a node installed comes from this process's own
 * switches ('local': SwitchesView) or from its agent's report in the NodeRealization of the
 * node's name ('node-status').
 */
import type { Logger } from 'pino';
import { FLOWS_REFUSED, agentMarkedSilent, nodeDownReason, switchUnreachable } from '../../chassis/node-status';
import { BOUND, LINK_DOWN, MAC_MISMATCH } from '../../chassis/binding';
import type { HypervisorNode, LoadBalancer, NodeRealization, VirtualNetwork, VirtualPort, VirtualPortStatus } from '../../resources/kinds';
import type { Condition, KubeObject } from '../../resources/object';
import { DATAPLANE_FINALIZER } from '../../resources/finalizers';
import { sameValue } from '../../resources/same-value';
import { objectKey } from '../../store/keys';
import { LOAD_BALANCERS, NETWORKS, NODES, NODE_REALIZATIONS, PORTS } from '../../store/kinds';
import type { ObjectStore } from '../../store/object-store';
import { getCondition, setCondition } from '../conditions';
import { Controller } from '../controller';
import { addFinalizer, hasFinalizer, removeFinalizer } from '../finalizers';
import type { Informer } from '../informer';
import type { SharedInformers } from '../shared-informers';
import type { ChassisAccess } from './chassis-access';
import { NodeReports } from './node-reports';
import { parseObjectKey, typePrefixOf } from './object-keys';
import { bindingOf, sameBinding, type LiveModel } from './pipeline-model';
import { READY, boundToDownNode, networkNotReady, readyNow, realizationOf, unbound, type Realization } from './readiness';

/** How long after start a Ready object is trusted on nodes this process has not synced yet. */
const STARTUP_GRACE_MS = 120_000;

/**
 * How long a port not yet Ready for its generation may lag without a Realizing (with
 * agents, also NotBound) write: its flows are usually installed within milliseconds (seconds at the end
 * of a burst of thousands of creates), and Ready=True then comes in one write instead of
 * Realizing first and Ready one revision later. After this, Realizing (NotBound) is written.
 */
export const REALIZING_QUIET_MS = 5000;

/** Ports informer index: spec.node (pinned ports only). */
const IX_PINNED_NODE = 'pinned-node';

const ALLOCATED = 'AddressesAllocated';

/** How often objects being deleted look again for nodes still holding their flows (a node may go away without a realization change). */
const UNREALIZING_RECHECK_MS = 2000;

/** Informer index of ports and load balancers by "namespace/network". */
export const IX_NETWORK = 'network';
export const networkIndex = (o: VirtualPort | LoadBalancer): readonly string[] => (o.spec?.network ? [`${o.metadata.namespace}/${o.spec.network}`] : []);
export const networkKeyOf = (n: VirtualNetwork): string => `${n.metadata.namespace}/${n.metadata.name}`;

/** Not Ready, though bound and realized: the VM's NIC has another MAC than the port, or its link is down (chassis/binding.ts). */
function boundUnusable(status: VirtualPortStatus | undefined): Realization | undefined {
  const bound = getCondition(status?.conditions, BOUND);
  return bound?.reason === MAC_MISMATCH || bound?.reason === LINK_DOWN ? { status: 'False', reason: bound.reason, message: bound.message } : undefined;
}

/**
 * Node names sorted in place, for status messages. The lists are short (the nodes of one
 * network) and sorted on every status reconcile: Array.prototype.sort's set-up allocated
 * about a kilobyte each time, 11 MB over a 3000-port burst.
 */
function sortNames(names: string[]): string[] {
  if (names.length > 16) return names.sort();
  for (let i = 1; i < names.length; i++) {
    const n = names[i] as string;
    let j = i;
    for (; j > 0 && (names[j - 1] as string) > n; j--) names[j] = names[j - 1] as string;
    names[j] = n;
  }
  return names;
}

export interface RealizationStatusOptions {
  objects: ObjectStore;
  chassis?: ChassisAccess;
  workers?: number;
  /** 'local': what this process installed; 'node-status': what agents report; 'off': no Ready written. */
  readiness?: 'local' | 'node-status' | 'off';
}

/** What the flow half (this process's switches) tells the status half. */
export interface SwitchesView {
  /** The live model, rebuilt first when stale. */
  model(): LiveModel;
  /** What this process has installed on the node (uid -> version); undefined while it programs no such node. */
  realizedOn(node: string): ReadonlyMap<string, string> | undefined;
  /** This process has synced the node's switch since it started. */
  everRealized(node: string): boolean;
  /** The node's OpenFlow connection is up. */
  connected(node: string): boolean;
  /** The node's fast path has not taken its latest compile yet. */
  fastPathLagging(node: string): boolean;
  /** Nodes where the object's flows clash with another's (node -> why). */
  conflicts(uid: string): ReadonlyMap<string, string> | undefined;
  stopped(): boolean;
}

/** The kinds whose Ready this writes, and the Nodes. */
export interface StatusInformers {
  networks: Informer<VirtualNetwork>;
  ports: Informer<VirtualPort>;
  nodes: Informer<HypervisorNode>;
  lbs: Informer<LoadBalancer>;
}

export class RealizationStatus {
  private readonly networks: Informer<VirtualNetwork>;
  private readonly ports: Informer<VirtualPort>;
  private readonly nodes: Informer<HypervisorNode>;
  private readonly lbs: Informer<LoadBalancer>;
  private readonly statusController: Controller;
  /** Where agents report what their node installed (readiness 'node-status' only); the flow half's load balancer counts read it too. */
  readonly realizations?: Informer<NodeRealization>;
  private readonly startedAt = Date.now();
  /** Ports realizing without a Realizing write yet (REALIZING_QUIET_MS): since when, for which generation. */
  private readonly quietSince = new Map<string, { generation: number | undefined; at: number }>();
  /**
   * Objects being deleted whose flows some node still has (DATAPLANE_FINALIZER), by uid: the
   * model has forgotten them, so this is how a node's realization change finds their key.
   */
  private readonly unrealizing = new Map<string, string>();
  private unrealizingTimer?: NodeJS.Timeout;
  /** What agents reported installed (readiness 'node-status'). */
  private readonly reports = new NodeReports();
  /** Handlers on the informers: removed on stop. */
  private readonly unsubscribe: Array<() => void> = [];

  constructor(
    private readonly opts: RealizationStatusOptions,
    private readonly log: Logger,
    informers: StatusInformers,
    shared: SharedInformers,
    private readonly switches: SwitchesView,
  ) {
    ({ networks: this.networks, ports: this.ports, nodes: this.nodes, lbs: this.lbs } = informers);
    this.ports.ensureIndex(IX_NETWORK, networkIndex);
    this.lbs.ensureIndex(IX_NETWORK, networkIndex);
    this.statusController = new Controller({ name: 'pipeline-status', workers: opts.workers ?? 2, logger: this.log, reconcile: (k) => this.reconcile(k) });
    if (opts.readiness !== 'off') {
      this.unsubscribe.push(this.statusController.watch(this.networks), this.statusController.watch(this.ports), this.statusController.watch(this.lbs));
      // A port's status depends on its network's nodes; a network's on its ports, through
      // the nodes they are bound to: other port updates (its own Ready write, most) leave it be.
      this.unsubscribe.push(
        this.statusController.watch(this.ports, (p) => [objectKey(NETWORKS, p.metadata.namespace, p.spec?.network ?? '')], {
          ignoreUpdate: (o, n) => o.spec?.network === n.spec?.network && sameBinding(bindingOf(o), bindingOf(n)),
        }),
      );
      // A network being deleted keeps its flows while ports or load balancers are on it (it
      // waits for them; their traffic goes on): their status follows its deletion.
      this.unsubscribe.push(
        this.statusController.watch(this.networks, (n) => [...this.ports.indexKeys(IX_NETWORK, networkKeyOf(n)), ...this.lbs.indexKeys(IX_NETWORK, networkKeyOf(n))], {
          ignoreAdd: () => true,
          ignoreUpdate: (o, n) => !!o.metadata.deletionTimestamp === !!n.metadata.deletionTimestamp,
        }),
      );
    }
    if (opts.readiness !== 'off') {
      // A node's switch stops answering, or answers again: its ports' Ready and the lagging objects' reasons say so.
      this.unsubscribe.push(
        this.nodes.addEventHandler({
          onUpdate: (o, n) => {
            if (switchUnreachable(o) !== switchUnreachable(n)) this.requeueOnNode(n.metadata.name);
          },
          // A Node deleted: what it held back (or its ports said of it) is looked at again.
          onDelete: (o) => this.requeueOnNode(o.metadata.name),
        }),
      );
    }
    if (opts.readiness === 'node-status') {
      const realizations = (this.realizations = shared.of<NodeRealization>(NODE_REALIZATIONS));
      const none = new Map<string, string>();
      // What a node's report was and is, around one change of its NodeRealization or Node.
      const delta = (before: { rz?: NodeRealization; node?: HypervisorNode }, after: { rz?: NodeRealization; node?: HypervisorNode }) =>
        this.enqueueDelta(this.reports.of(before.rz, before.node) ?? none, this.reports.of(after.rz, after.node) ?? none, this.switches.model().keyOfUid);
      const rzOf = (name: string) => realizations.get(objectKey(NODE_REALIZATIONS, undefined, name));
      // An unbound port pinned to a node says what the node lacks (notBound): it changes with the Node, its agent's claim and its silence.
      this.ports.ensureIndex(IX_PINNED_NODE, (p) => (p.spec?.node ? [p.spec.node] : []));
      const pinnedTo = (node: string) => this.requeueUnboundPinnedTo(node);
      this.unsubscribe.push(
        realizations.addEventHandler({
          onAdd: (r) => (delta({ node: this.nodeObj(r.metadata.name) }, { rz: r, node: this.nodeObj(r.metadata.name) }), pinnedTo(r.metadata.name)),
          onUpdate: (o, n) => {
            // A write of the counts alone leaves the report as it was (a new object, the same content).
            if (o.status?.realized !== n.status?.realized && !sameValue(o.status?.realized, n.status?.realized)) delta({ rz: o, node: this.nodeObj(n.metadata.name) }, { rz: n, node: this.nodeObj(n.metadata.name) });
            if (o.status?.agent?.holder !== n.status?.agent?.holder) pinnedTo(n.metadata.name);
          },
          onDelete: (o) => (delta({ rz: o, node: this.nodeObj(o.metadata.name) }, { node: this.nodeObj(o.metadata.name) }), pinnedTo(o.metadata.name)),
        }),
        // Agents of an earlier release report in the Node itself.
        this.nodes.addEventHandler({
          onAdd: (n) => (delta({ rz: rzOf(n.metadata.name) }, { rz: rzOf(n.metadata.name), node: n }), pinnedTo(n.metadata.name)),
          onUpdate: (o, n) => {
            if (o.status?.realized !== n.status?.realized) delta({ rz: rzOf(n.metadata.name), node: o }, { rz: rzOf(n.metadata.name), node: n });
            // A node whose agent goes silent (or comes back): its ports' Ready, and what lags there, say so (rare: its ports and every object not Ready are looked at again).
            if (agentMarkedSilent(o) !== agentMarkedSilent(n)) this.requeueOnNode(n.metadata.name);
          },
          onDelete: (o) => (delta({ rz: rzOf(o.metadata.name), node: o }, { rz: rzOf(o.metadata.name) }), pinnedTo(o.metadata.name)),
        }),
      );
    }
  }

  /** The informers this adds to the process's (started and synced with the others). */
  informers(): Informer<unknown>[] {
    return this.realizations ? [this.realizations as Informer<unknown>] : [];
  }

  start(): void {
    this.statusController.start();
  }

  async stop(): Promise<void> {
    clearInterval(this.unrealizingTimer);
    for (const u of this.unsubscribe.splice(0)) u();
    await this.statusController.stop();
  }

  enqueueDelta(before: ReadonlyMap<string, string>, after: ReadonlyMap<string, string>, keyOfUid: Map<string, string>): void {
    for (const [uid, v] of after) if (before.get(uid) !== v) this.enqueueUid(uid, keyOfUid);
    for (const uid of before.keys()) if (!after.has(uid)) this.enqueueUid(uid, keyOfUid);
  }

  enqueueUid(uid: string, keyOfUid: Map<string, string>): void {
    if (this.opts.readiness === 'off') return;
    const k = keyOfUid.get(uid) ?? this.unrealizing.get(uid);
    if (k) this.statusController.enqueue(k);
  }

  /**
   * An object being deleted: its DATAPLANE_FINALIZER goes once no node has its flows (see
   * nodesRealizing for which count). Re-checked when a node's realization changes (enqueueUid),
   * and every UNREALIZING_RECHECK_MS (nodes going away, a first sync after a start).
   */
  private async finishDeletion(type: typeof PORTS | typeof LOAD_BALANCERS | typeof NETWORKS, key: string, obj: KubeObject): Promise<void> {
    const uid = obj.metadata.uid!;
    if (!hasFinalizer(obj, DATAPLANE_FINALIZER)) {
      this.unrealizing.delete(uid);
      return;
    }
    const holding = this.nodesRealizing(uid);
    if (holding.length) {
      if (this.switches.stopped()) return;
      this.unrealizing.set(uid, key);
      this.unrealizingTimer ??= setInterval(() => {
        if (!this.switches.stopped()) for (const k of this.unrealizing.values()) this.statusController.enqueue(k);
        if (this.switches.stopped() || !this.unrealizing.size) {
          clearInterval(this.unrealizingTimer);
          this.unrealizingTimer = undefined;
        }
      }, UNREALIZING_RECHECK_MS).unref();
      this.log.debug({ key, nodes: holding }, 'pipeline: a deleted object still has flows on nodes');
      return;
    }
    this.unrealizing.delete(uid);
    await this.opts.objects.modify<KubeObject>(type, obj.metadata.namespace, obj.metadata.name, (cur) => (cur.metadata.uid === uid ? removeFinalizer(cur, DATAPLANE_FINALIZER) : undefined));
    this.log.info({ event: 'pipeline.unrealized', kind: type.plural, namespace: obj.metadata.namespace, name: obj.metadata.name }, 'pipeline: no node has the deleted object\'s flows any more');
  }

  /**
   * Nodes that may still have uid's flows. A node whose switch cannot be reached is not
   * counted (it keeps its flows, but a node down for good must not hold deletions; they are
   * resynced when it is back): in this process, one whose OpenFlow connection or OVSDB
   * session is down; with agents, one whose agent is marked silent or whose Node says its
   * switch is unreachable. A node whose fast path has not taken the latest compile counts
   * as holding. Right after this process starts, a reachable node it has not synced yet holds
   * every object (its switch has what the previous process installed), for STARTUP_GRACE_MS at
   * most.
   */
  private nodesRealizing(uid: string): string[] {
    const out: string[] = [];
    const inGrace = Date.now() - this.startedAt < STARTUP_GRACE_MS;
    for (const node of this.nodes.list()) {
      const n = node.metadata.name;
      if (this.opts.readiness === 'node-status') {
        if (agentMarkedSilent(node) || switchUnreachable(node) || getCondition(node.status?.conditions, 'Connected')?.status === 'False') continue;
        if (this.realizedOn(n)?.has(uid)) out.push(n);
        continue;
      }
      const sessionReady = !!this.opts.chassis?.session(n)?.ready;
      if (!this.switches.everRealized(n)) {
        if (inGrace && sessionReady && !node.metadata.deletionTimestamp) out.push(n);
      } else if (sessionReady && this.switches.connected(n) && (this.switches.realizedOn(n)?.has(uid) || this.switches.fastPathLagging(n))) {
        out.push(n);
      }
    }
    return sortNames(out);
  }

  /**
   * The needed nodes that have not installed `version`. With `downToo`, also those whose
   * switch does not answer or whose agent is marked silent, whatever they installed: a
   * restarted ovs-vswitchd has no flows until vnetd puts them back, a hung one cannot be
   * known to forward (QA: a load balancer stayed "flows installed on node(s) hv1, hv2"
   * while hv2's ovs-vswitchd was dead, where one created then said SwitchUnreachable).
   * Without it, nodes down are left out: a port's own node is judged apart
   * (boundToDownNode), and one hypervisor gone does not unready the ports of every other,
   * as a Pod stays Ready when another node fails.
   */
  private lagging(uid: string, version: string, needed: Iterable<string>, downToo: boolean): string[] {
    const out: string[] = [];
    for (const n of needed) {
      const behind = this.realizedOn(n)?.get(uid) !== version;
      // A Node deleted while ports were still bound there (its agent down, so nobody unbound
      // them) holds nothing back: no flows are wanted on a retired hypervisor (QA: every
      // object of its networks stayed Realizing for good).
      if (behind && !this.nodeObj(n)) continue;
      if (downToo ? behind || this.nodeDown(n) : behind && !this.nodeDown(n)) out.push(n);
    }
    return sortNames(out);
  }

  private nodeDown(name: string): boolean {
    const node = this.nodeObj(name);
    return switchUnreachable(node) || (this.opts.readiness === 'node-status' && agentMarkedSilent(node));
  }

  private realizedOn(node: string): ReadonlyMap<string, string> | undefined {
    if (this.opts.readiness === 'node-status') return this.reports.of(this.realizations?.get(objectKey(NODE_REALIZATIONS, undefined, node)), this.nodeObj(node));
    return this.switches.realizedOn(node);
  }

  /** Why an object of a network the model does not hold is not Ready. */
  private networkNotReady(namespace: string, network: string | undefined): Realization {
    const net = network === undefined ? undefined : this.networks.get(objectKey(NETWORKS, namespace, network));
    return networkNotReady(network, !!net?.metadata.deletionTimestamp);
  }

  /** A port without a binding; with agents, pinned to a node, what that node lacks (readiness.ts). */
  private notBound(node: string | undefined, bound: { reason: string; message: string } | undefined): Realization {
    if (this.opts.readiness !== 'node-status' || node === undefined) return unbound(undefined, bound?.message, bound?.reason);
    const claimedBy = this.realizations?.get(objectKey(NODE_REALIZATIONS, undefined, node))?.status?.agent?.holder;
    return unbound({ name: node, node: this.nodeObj(node), claimedBy }, bound?.message, bound?.reason);
  }

  /**
   * Queues the status of the ports pinned to `node` that are not Ready (an unbound one's
   * reason names the node's state). From the informer's index and the cached status: run on
   * Node and NodeRealization events, it neither scans every port nor rebuilds a stale model.
   */
  private requeueUnboundPinnedTo(node: string): void {
    for (const p of this.ports.byIndex(IX_PINNED_NODE, node)) {
      if (getCondition(p.status?.conditions, READY)?.status === 'True') continue;
      this.statusController.queue.add(objectKey(PORTS, p.metadata.namespace, p.metadata.name));
    }
  }

  /**
   * Queues the status of the ports bound to `node`, of every network and load balancer
   * whose flows it needs, and of every object not Ready (a rare event: a switch or an
   * agent gone or back).
   */
  private requeueOnNode(node: string): void {
    for (const p of this.ports.list()) {
      if (p.status?.node === node) this.statusController.queue.add(objectKey(PORTS, p.metadata.namespace, p.metadata.name));
    }
    const model = this.switches.model();
    for (const [type, informer] of [[NETWORKS, this.networks], [LOAD_BALANCERS, this.lbs]] as const) {
      for (const o of (informer as Informer<VirtualNetwork | LoadBalancer>).list()) {
        const network = type === NETWORKS ? o.metadata.uid : model.loadBalancers?.get(o.metadata.uid!)?.network;
        if (network && model.nodesOf(network).has(node)) this.statusController.queue.add(objectKey(type, o.metadata.namespace, o.metadata.name));
      }
    }
    this.requeueNotReady();
  }

  /** Queues the status of every port, load balancer and network not Ready for its generation. */
  private requeueNotReady(): void {
    for (const [informer, type] of [[this.ports, PORTS], [this.lbs, LOAD_BALANCERS], [this.networks, NETWORKS]] as const) {
      for (const o of (informer as Informer<VirtualPort | LoadBalancer | VirtualNetwork>).list()) {
        if (!readyNow(o)) this.statusController.queue.add(objectKey(type, o.metadata.namespace, o.metadata.name));
      }
    }
  }

  private async reconcile(key: string): Promise<void> {
    const isPort = key.startsWith(typePrefixOf(PORTS));
    const isLb = key.startsWith(typePrefixOf(LOAD_BALANCERS));
    const type = isPort ? PORTS : isLb ? LOAD_BALANCERS : NETWORKS;
    const id = parseObjectKey(type, key);
    if (!id) return;
    // From this process's informer cache (read-only), as controller-runtime reads: it holds
    // every committed event already, and a store read per reconcile (a query and a JSON
    // parse) was a tenth of the status path. The write below reads the store afresh.
    const obj: VirtualPort | VirtualNetwork | LoadBalancer | undefined = isPort ? this.ports.get(key) : isLb ? this.lbs.get(key) : this.networks.get(key);
    if (!obj || obj.metadata.deletionTimestamp) {
      this.quietSince.delete(key);
      if (obj) await this.finishDeletion(type, key, obj);
      else for (const [uid, k] of this.unrealizing) if (k === key) this.unrealizing.delete(uid);
      return;
    }
    // Stored before the finalizer existed (admission adds it to every new object): added once,
    // so that its deletion too waits for its flows to go.
    if (!hasFinalizer(obj, DATAPLANE_FINALIZER)) {
      const uid = obj.metadata.uid;
      await this.opts.objects.modify<KubeObject>(type, obj.metadata.namespace, obj.metadata.name, (cur) => (cur.metadata.uid === uid && !cur.metadata.deletionTimestamp && !hasFinalizer(cur, DATAPLANE_FINALIZER) ? addFinalizer(cur, DATAPLANE_FINALIZER) : undefined));
    }
    const model = this.switches.model();
    // A port's status as written here: with its binding as the chassis layer decides it.
    const withBinding = isPort && (this.opts.readiness ?? 'local') === 'local' ? this.opts.chassis?.bindingStatusOf?.bind(this.opts.chassis) : undefined;
    // Computed once for the cached object (bindingStatus allocates a dozen small objects).
    let cachedStatus: VirtualPortStatus | undefined;
    const portStatus = (p: VirtualPort): VirtualPortStatus | undefined => {
      if (!withBinding) return p.status;
      if (p !== obj) return withBinding(p);
      // With its stored revision: the chassis layer decided it already for that revision, most often.
      return (cachedStatus ??= withBinding(p, this.ports.modRevision(key)));
    };
    const uid = obj.metadata.uid!;
    let ready: Realization;
    const allocated = getCondition(obj.status?.conditions, ALLOCATED);
    if (allocated?.status !== 'True') {
      ready = { status: 'False', reason: allocated ? allocated.reason : 'Allocating', message: allocated ? `addresses: ${allocated.message}` : 'waiting for address allocation' };
    } else if (isPort) {
      const pm = model.ports.get(uid);
      const bound = getCondition(obj.status?.conditions, BOUND);
      if (!pm) ready = this.networkNotReady(obj.metadata.namespace!, (obj as VirtualPort).spec?.network);
      else if (!pm.binding) ready = this.notBound((obj as VirtualPort).spec?.node, bound);
      // Flows follow the hypervisor's rows at once; Ready waits until the status written
      // with it shows the same binding (the store's, or the chassis layer's, carried by
      // this write; else its event queues this key again), so a client that waits for
      // Ready finds status.node and ofport set.
      else if (!sameBinding(pm.binding, bindingOf({ ...(obj as VirtualPort), status: portStatus(obj as VirtualPort) }))) return;
      else ready = boundUnusable(portStatus(obj as VirtualPort)) ?? boundToDownNode(pm.binding.node, this.nodeObj(pm.binding.node)) ?? this.realization(uid, pm.version, model.nodesOf(pm.network), true);
    } else if (isLb) {
      const lm = model.loadBalancers?.get(uid);
      if (!lm) ready = this.networkNotReady(obj.metadata.namespace!, (obj as LoadBalancer).spec?.network);
      else ready = this.realization(uid, lm.version, model.nodesOf(lm.network));
    } else {
      const nm = model.networks.get(uid);
      if (!nm) ready = { status: 'False', reason: 'Pending', message: 'no VNI yet' };
      else ready = this.realization(uid, nm.version, model.nodesOf(uid));
    }
    // A restarted vnetd does not know yet what its nodes have installed: an object that
    // is Ready must not flip to False (and back, thousands of status writes) only because
    // this process has not synced a node yet. The node's first sync re-queues it; the
    // grace period bounds how long a node that never comes back is trusted.
    if (ready.status === 'False' && ready.reason === 'Realizing' && readyNow(obj)) {
      const graceLeft = STARTUP_GRACE_MS - (Date.now() - this.startedAt);
      const unknown = (n: string) => !this.switches.everRealized(n);
      if (graceLeft > 0 && ready.lagging!.every(unknown)) {
        this.statusController.queue.addAfter(key, graceLeft);
        return;
      }
    }
    // A port not Ready yet (new, newly plugged, or a new generation) that is being
    // realized: no Realizing write for the moment its flows take; their installation queues this key again and Ready=True is
    // the one write. Only a lag that lasts gets written. With agents, nor a NotBound write for
    // the moment its binding takes to arrive: it comes from another process (the agent's
    // Bound write), and a NotBound written meanwhile was one more revision per port, fanned
    // out to every agent. (Where this process binds, the binding is known at once: an
    // unplugged port says NotBound at once.) A port that was Ready and loses its binding is
    // written at once either way.
    // The same for a load balancer or network edited (a weight, a listener): its Ready stays
    // as it was (for the previous generation, which kubectl wait tells apart) instead of
    // flipping to False for the milliseconds its flows take, on every edit.
    const quietReason = ready.reason === 'Realizing' || (ready.reason === 'NotBound' && this.opts.readiness === 'node-status');
    if (quietReason && !readyNow(obj)) {
      const since = this.quietSince.get(key);
      const left = since === undefined || since.generation !== obj.metadata.generation ? REALIZING_QUIET_MS : since.at + REALIZING_QUIET_MS - Date.now();
      if (since === undefined || since.generation !== obj.metadata.generation) this.quietSince.set(key, { generation: obj.metadata.generation, at: Date.now() });
      if (left > 0) {
        this.statusController.queue.addAfter(key, left);
        return;
      }
    }
    // Ready: the quiet period's (or the startup grace's) pending check of this key is moot.
    if (this.quietSince.delete(key) && ready.status === 'True') this.statusController.queue.cancelDelayed(key);
    /** The status to write on cur, or undefined when it already says all of it. */
    const nextStatus = (cur: VirtualPort | VirtualNetwork | LoadBalancer): Record<string, unknown> | undefined => {
      const base = isPort ? portStatus(cur as VirtualPort) : cur.status;
      const conditions: Condition[] = setCondition(base?.conditions, { type: READY, status: ready.status, reason: ready.reason, message: ready.message, observedGeneration: cur.metadata.generation });
      // Ready is the status's last word on a generation: the status as a whole describes it from this write on.
      const status: Record<string, unknown> = { ...(base ?? {}), observedGeneration: cur.metadata.generation, conditions };
      if (isPort) status.realized = ready.status === 'True';
      return sameValue(status, cur.status) ? undefined : status;
    };
    // Nothing to write as the cache sees it (most reconciles: the object's own Ready write
    // queued it again): no store read for the write.
    if (!nextStatus(obj)) return;
    await this.opts.objects.modify<VirtualPort | VirtualNetwork | LoadBalancer>(
      type,
      id.namespace,
      id.name,
      (cur) => {
        // Ready was decided for the cached generation: a newer spec in the store is not
        // described by it (its own event queues this key again).
        if (cur.metadata.uid !== uid || cur.metadata.generation !== obj.metadata.generation) return undefined;
        const status = nextStatus(cur);
        return status ? ({ ...cur, status } as VirtualPort | VirtualNetwork | LoadBalancer) : undefined;
      },
      { subresource: 'status' },
    );
  }

  /** `ofPort`: a port's, whose own node is judged before (see lagging). */
  private realization(uid: string, version: string, needed: Set<string>, ofPort = false): Realization {
    const clash = [...(this.switches.conflicts(uid) ?? [])].filter(([n]) => needed.has(n)).sort(([a], [b]) => a.localeCompare(b));
    const lag = clash.length ? [] : this.lagging(uid, version, needed, !ofPort);
    const silent = this.opts.readiness === 'node-status' ? lag.filter((n) => agentMarkedSilent(this.nodeObj(n))) : [];
    const down = lag.length ? lag.filter((n) => switchUnreachable(this.nodeObj(n))) : [];
    const refused = down.filter((n) => nodeDownReason(this.nodeObj(n)) === FLOWS_REFUSED);
    const unreachable = down.filter((n) => !refused.includes(n));
    const of = [...needed].filter((n) => (ofPort ? !this.nodeDown(n) : true) && this.nodeObj(n) !== undefined);
    return realizationOf(sortNames(of), lag, clash, silent, unreachable, refused);
  }

  private nodeObj(name: string): HypervisorNode | undefined {
    return this.nodes.get(objectKey(NODES, undefined, name));
  }
}
