/**
 * The pipeline reconciler: keeps every connected node's br-int flows equal to what the
 * logical model compiles to, and owns the Ready condition of VirtualPorts,
 * VirtualNetworks and LoadBalancers (realization).
 *
 *   informers (networks, ports, load balancers, nodes) + chassis node changes
 *        -> node queue: compile the node (full recompute, cheap), diff per owner
 *           against what was last handed to the node's FlowTableManager, apply only
 *           changed owners (one bundle); remember what the node now realizes
 *        -> status queue: Ready=True (observedGeneration) once every node that needs
 *           the object has installed its current version; otherwise which nodes lag.
 *
 * One OpenFlow connection and FlowTableManager per node, dialled at the chassis
 * session's controller target (br-int's passive punix:...br-int.vnetd). The manager
 * resyncs by itself after reconnects; a new process run uses a new cookie round and
 * deletes the old round only after installing its own flows.
 *
 * Split across processes (`vnetd agent` + `vnetd controller`): each agent runs this with
 * `node` (program only its own node), `readiness: 'off'` and `onRealized` (it publishes
 * what its node installed in the Node's status.realized); the controller's leader runs it
 * without chassis and with `readiness: 'node-status'`, deriving Ready from those reports.
 */
import type { Logger } from 'pino';
import type { OvsSnapshot } from '../../chassis/layout-plan';
import { TUNNEL_PORTS } from '../../chassis/layout';
import { BOUND } from '../../chassis/binding';
import { createConnection, type OpenFlowConnection } from '../../openflow';
import { createFlowTableManager, ownerFromKey, type FlowTableManager, type OwnerChange } from '../../openflow/sync';
import {
  OwnerIds,
  compileNode,
  formatPipelineActions,
  formatPipelineFlow,
  indexModel,
  lbMac,
  nodesOfNetwork,
  type LoadBalancerModel,
  type LogicalModel,
  type ModelIndex,
  type NetworkModel,
  type NodeModel,
  type PortModel,
} from '../../pipeline';
import type { DesiredGroup } from '../../openflow/sync';
import { type Encapsulation, type HypervisorNode, type LoadBalancer, type VirtualNetwork, type VirtualPort } from '../../resources/kinds';
import type { Condition } from '../../resources/object';
import { objectKey, typePrefix, type StoredType } from '../../store/keys';
import { LOAD_BALANCERS, NETWORKS, NODES, PORTS } from '../../store/kinds';
import type { ObjectStore } from '../../store/object-store';
import { getCondition, setCondition } from '../conditions';
import { Controller } from '../controller';
import { Informer } from '../informer';
import { resolveBackends } from './lb-backends';
import { LbHealthMonitor, checkedPorts, healthTargets } from './lb-health';
import { LbStatusReporter } from './lb-status';
import { parseObjectKey } from './object-keys';
import type { FastPathHook } from './fastpath.nodes';


export const READY = 'Ready';
const ALLOCATED = 'AddressesAllocated';

/** What the pipeline needs from the chassis layer (ChassisManager implements it). */
export interface ChassisAccess {
  session(node: string): { readonly ready: boolean; readonly controller: { dial: string }; snapshot(): OvsSnapshot } | undefined;
  onNodeChange(listener: (node: string) => void): () => void;
}

export interface PipelineReconcilerOptions {
  objects: ObjectStore;
  logger: Logger;
  chassis?: ChassisAccess;
  workers?: number;
  /** OpenFlow connection options (tests shorten timers). */
  echoIntervalMs?: number;
  /** How often LoadBalancer status.backends (health, connection counts) is refreshed; default 5 s. */
  lbStatusIntervalMs?: number;
  /** Fills each node's fast-path tables from the same model (fastpath.nodes.ts). */
  fastPath?: FastPathHook;
  /** Program only this node (an agent); default every node the chassis layer has. */
  node?: string;
  /**
   * Where Ready comes from: 'local' (default) what this process installed; 'node-status'
   * what agents report in Node status.realized; 'off' this process writes no Ready.
   */
  readiness?: 'local' | 'node-status' | 'off';
  /** Called with what a node has installed (uid -> version) each time that is known anew. */
  onRealized?: (node: string, realized: ReadonlyMap<string, string>) => void;
}

/** One node's OpenFlow side. */
interface NodeAgent {
  dial: string;
  conn: OpenFlowConnection;
  manager: FlowTableManager;
  /** Owner signatures last handed to the manager. */
  applied: Map<number, string>;
  /** manager.start() called: only after the first complete desired state is loaded. */
  started: boolean;
  /** A full sync has succeeded on the current connection. */
  inSync: boolean;
  /** What the switch has installed: uid -> version. */
  realized: Map<string, string>;
  /** What the last compile wanted (realized once in sync). */
  wanted: Map<string, string>;
}

/**
 * Where a port is bound: Bound=True, or Unknown (its node's session is down and the
 * chassis layer kept the last known binding). Treating Unknown as unbound would make
 * a restarted vnetd install a table without the port before the session is back.
 */
function bindingOf(p: VirtualPort): { node: string; ofport: number } | undefined {
  const bound = getCondition(p.status?.conditions, BOUND);
  if (!bound || bound.status === 'False' || !p.status?.node || !p.status.ofport) return undefined;
  return { node: p.status.node, ofport: p.status.ofport };
}

function versionOfPort(p: VirtualPort): string {
  return `${p.metadata.generation ?? 0}/${p.status?.node ?? ''}/${p.status?.ofport ?? ''}`;
}

/** Groups in the owner signature too: a backend change alters only a bucket. */
function groupsSignature(groups: readonly DesiredGroup[] | undefined): string {
  return (groups ?? []).map((g) => `group ${g.groupId} ${g.groupType} ${g.buckets.map((b) => `${b.weight}:${formatPipelineActions(b.actions)}`).join(' | ')}`).join('\n');
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
}

export class PipelineReconciler {
  private readonly log: Logger;
  private readonly networks: Informer<VirtualNetwork>;
  private readonly ports: Informer<VirtualPort>;
  private readonly nodes: Informer<HypervisorNode>;
  private readonly lbs: Informer<LoadBalancer>;
  private readonly nodeController: Controller;
  private readonly statusController: Controller;
  private readonly agents = new Map<string, NodeAgent>();
  private readonly ids = new OwnerIds();
  /** Pipeline-relevant signature per store key: status-only churn does not recompile nodes. */
  private readonly seen = new Map<string, string>();
  private readonly unsubscribe: Array<() => void> = [];
  private cached?: { model: LogicalModel; index: ModelIndex; keyOfUid: Map<string, string> };
  private stopped = false;
  /**
   * Only where this process programs every node that needs an LB (readiness 'local'):
   * counters are summed over nodes and probes leave from the backend's own node, so an
   * agent (one node) or a controller without OpenFlow connections would report a part.
   */
  private readonly lbStatus?: LbStatusReporter;
  private readonly lbHealth?: LbHealthMonitor;

  constructor(private readonly opts: PipelineReconcilerOptions) {
    this.log = opts.logger.child({ component: 'pipeline' });
    const store = opts.objects.kv;
    const inf = <T>(type: StoredType) => new Informer<T>({ store, prefix: typePrefix(type), decode: (kv) => kv.value as T, logger: this.log });
    this.networks = inf<VirtualNetwork>(NETWORKS);
    this.ports = inf<VirtualPort>(PORTS);
    this.nodes = inf<HypervisorNode>(NODES);
    this.lbs = inf<LoadBalancer>(LOAD_BALANCERS);
    this.nodeController = new Controller({ name: 'pipeline-nodes', workers: 1, logger: this.log, reconcile: (k) => this.reconcileNode(k) });
    this.statusController = new Controller({ name: 'pipeline-status', workers: opts.workers ?? 2, logger: this.log, reconcile: (k) => this.reconcileStatus(k) });
    if (opts.readiness !== 'off') {
      this.statusController.watch(this.networks);
      this.statusController.watch(this.ports);
      this.statusController.watch(this.lbs);
      // A port's status depends on its network's nodes; a network's on its ports.
      this.statusController.watch(this.ports, (p) => [objectKey(NETWORKS, p.metadata.namespace, p.spec?.network ?? '')]);
    }
    if ((opts.readiness ?? 'local') === 'local') {
      this.lbStatus = new LbStatusReporter({
        objects: opts.objects,
        logger: this.log,
        intervalMs: opts.lbStatusIntervalMs,
        loadBalancers: () => this.lbs.list(),
        model: () => this.snapshot().model,
        connections: () => [...this.agents].map(([node, a]) => [node, a.conn]),
      });
      this.lbHealth = new LbHealthMonitor({
        logger: this.log,
        targets: () => healthTargets(this.lbs.list(), this.snapshot().model),
        connection: (node) => this.agents.get(node)?.conn,
        onChange: () => {
          this.cached = undefined;
          this.enqueueAllNodes();
        },
      });
    }
    if (opts.readiness === 'node-status') {
      const reported = (n: HypervisorNode | undefined) => this.reportedBy(n) ?? new Map<string, string>();
      this.nodes.addEventHandler({
        onAdd: (n) => this.enqueueStatusDelta(new Map(), reported(n), this.snapshot().keyOfUid),
        onUpdate: (o, n) => {
          if (o.status?.realized !== n.status?.realized) this.enqueueStatusDelta(reported(o), reported(n), this.snapshot().keyOfUid);
        },
        onDelete: (o) => this.enqueueStatusDelta(reported(o), new Map(), this.snapshot().keyOfUid),
      });
    }
    for (const [informer, sig] of [
      [this.networks, (n: VirtualNetwork) => JSON.stringify([n.metadata.uid, n.metadata.generation, n.spec?.vni, n.spec?.encapsulation, !!n.metadata.deletionTimestamp])],
      [this.ports, (p: VirtualPort) => JSON.stringify([p.metadata.uid, versionOfPort(p), bindingOf(p), p.spec?.network])],
      [this.nodes, (n: HypervisorNode) => JSON.stringify([n.metadata.uid, n.spec?.tunnelIP, n.spec?.fastPath])],
      [this.lbs, (l: LoadBalancer) => JSON.stringify([l.metadata.uid, l.metadata.generation, l.spec, !!l.metadata.deletionTimestamp])],
    ] as const) {
      const changed = (obj: unknown, key: string, deleted = false) => {
        const s = deleted ? undefined : (sig as (o: unknown) => string)(obj);
        if (s === this.seen.get(key)) return;
        if (s === undefined) this.seen.delete(key);
        else this.seen.set(key, s);
        this.cached = undefined;
        this.enqueueAllNodes();
      };
      (informer as Informer<unknown>).addEventHandler({
        onAdd: (o, k) => changed(o, k),
        onUpdate: (_o, n, k) => changed(n, k),
        onDelete: (o, k) => changed(o, k, true),
      });
    }
  }

  async start(): Promise<void> {
    for (const i of [this.networks, this.ports, this.nodes, this.lbs]) (i as Informer<unknown>).start();
    await Promise.all([this.networks.waitForSync(), this.ports.waitForSync(), this.nodes.waitForSync(), this.lbs.waitForSync()]);
    if (this.opts.chassis) {
      this.unsubscribe.push(
        this.opts.chassis.onNodeChange((node) => {
          if (!this.stopped) this.nodeController.enqueue(node);
        }),
      );
    }
    this.nodeController.start();
    this.statusController.start();
    this.lbStatus?.start();
    this.lbHealth?.start();
    this.enqueueAllNodes();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.lbHealth?.stop();
    await this.lbStatus?.stop();
    for (const u of this.unsubscribe.splice(0)) u();
    for (const i of [this.networks, this.ports, this.nodes, this.lbs]) (i as Informer<unknown>).stop();
    await Promise.all([this.nodeController.stop(), this.statusController.stop()]);
    await Promise.all([...this.agents.keys()].map((n) => this.dropAgent(n)));
  }

  /** Flow-table counters of a node's manager (tests, metrics). */
  agent(node: string): { manager: FlowTableManager; conn: OpenFlowConnection; inSync: boolean } | undefined {
    return this.agents.get(node);
  }

  private enqueueAllNodes(): void {
    if (this.stopped) return;
    if (this.opts.node) {
      this.nodeController.enqueue(this.opts.node);
      return;
    }
    for (const n of this.nodes.list()) this.nodeController.enqueue(n.metadata.name);
    for (const n of this.agents.keys()) this.nodeController.enqueue(n);
  }

  // ---- the logical model ----

  private snapshot(): { model: LogicalModel; index: ModelIndex; keyOfUid: Map<string, string> } {
    if (this.cached) return this.cached;
    const keyOfUid = new Map<string, string>();
    const networks = new Map<string, NetworkModel>();
    const byName = new Map<string, NetworkModel>();
    for (const n of this.networks.list()) {
      if (!n.spec?.vni || n.metadata.deletionTimestamp) continue;
      const key = `${n.metadata.namespace}/${n.metadata.name}`;
      const m: NetworkModel = { uid: n.metadata.uid!, key, version: String(n.metadata.generation ?? 0), vni: n.spec.vni, encapsulation: n.spec.encapsulation ?? 'vxlan' };
      networks.set(m.uid, m);
      byName.set(key, m);
      keyOfUid.set(m.uid, objectKey(NETWORKS, n.metadata.namespace, n.metadata.name));
    }
    const ports = new Map<string, PortModel>();
    for (const p of this.ports.list()) {
      const net = byName.get(`${p.metadata.namespace}/${p.spec?.network}`);
      if (!net || !p.spec?.mac || p.metadata.deletionTimestamp) continue;
      const m: PortModel = {
        uid: p.metadata.uid!,
        key: `${p.metadata.namespace}/${p.metadata.name}`,
        version: versionOfPort(p),
        network: net.uid,
        mac: p.spec.mac,
        ips: p.spec.ips ?? [],
        portSecurity: p.spec.portSecurity ?? true,
        allowedAddressPairs: (p.spec.allowedAddressPairs ?? []).map((a) => ({ ip: a.ip, mac: a.mac ?? p.spec!.mac! })),
        binding: bindingOf(p),
      };
      ports.set(m.uid, m);
      keyOfUid.set(m.uid, objectKey(PORTS, p.metadata.namespace, p.metadata.name));
    }
    const nodes = new Map<string, NodeModel>();
    for (const n of this.nodes.list()) {
      if (!n.spec?.tunnelIP) continue;
      nodes.set(n.metadata.name, { name: n.metadata.name, tunnelIP: n.spec.tunnelIP, tunnelPorts: this.tunnelPorts(n.metadata.name) });
    }
    const loadBalancers = new Map<string, LoadBalancerModel>();
    for (const lb of this.lbs.list()) {
      const net = byName.get(`${lb.metadata.namespace}/${lb.spec?.network}`);
      if (!net || !lb.spec?.vip || lb.metadata.deletionTimestamp) continue;
      const m: LoadBalancerModel = {
        uid: lb.metadata.uid!,
        key: `${lb.metadata.namespace}/${lb.metadata.name}`,
        version: String(lb.metadata.generation ?? 0),
        network: net.uid,
        vip: lb.spec.vip,
        mac: lbMac(lb.metadata.uid!),
        listeners: lb.spec.listeners.map((l) => ({ protocol: l.protocol ?? 'TCP', port: l.port, targetPort: l.targetPort ?? l.port })),
        backends: resolveBackends(lb, net, ports).map((b) => (b.healthy && this.lbHealth && !this.lbHealth.healthy(lb.metadata.uid!, b.ip) ? { ...b, healthy: false } : b)),
        sessionAffinity: lb.spec.sessionAffinity ?? 'None',
        healthCheckPorts: checkedPorts(lb),
      };
      loadBalancers.set(m.uid, m);
      keyOfUid.set(m.uid, objectKey(LOAD_BALANCERS, lb.metadata.namespace, lb.metadata.name));
    }
    const model = { networks, ports, nodes, loadBalancers };
    this.cached = { model, index: indexModel(model), keyOfUid };
    return this.cached;
  }

  private tunnelPorts(node: string): Partial<Record<Encapsulation, number>> | undefined {
    const s = this.opts.chassis?.session(node);
    if (!s?.ready) return undefined;
    const out: Partial<Record<Encapsulation, number>> = {};
    const byName = new Map([...s.snapshot().interfaces.values()].map((i) => [i.name, i.ofport]));
    for (const t of TUNNEL_PORTS) {
      const ofport = byName.get(t.name);
      if (typeof ofport === 'number' && ofport > 0) out[t.type] = ofport;
    }
    return out;
  }

  // ---- nodes ----

  private async reconcileNode(name: string): Promise<void> {
    if (this.opts.node && name !== this.opts.node) return;
    const node = this.nodes.get(objectKey(NODES, undefined, name));
    const session = this.opts.chassis?.session(name);
    if (!node || node.metadata.deletionTimestamp || !session) {
      await this.dropAgent(name);
      return;
    }
    // Until the OVSDB session is up, tunnel ports (and bindings) are unknown: compiling
    // now would install an incomplete table. Keep what the switch has; wait.
    if (!session.ready) {
      this.log.debug({ node: name }, 'pipeline: node session not ready; waiting');
      return;
    }
    // Tunnel ofports come from the session: recompute the model when it changes.
    this.cached = undefined;
    const agent = this.ensureAgent(name, session.controller.dial);
    const { model, index, keyOfUid } = this.snapshot();
    const compiled = compileNode(model, name, this.ids, index);
    this.opts.fastPath?.nodeCompiled(node, model, index, session.snapshot());
    const changes: OwnerChange[] = [];
    const next = new Map<number, string>();
    for (const [k, o] of compiled.owners) {
      const sig = `${o.flows.map(formatPipelineFlow).join('\n')}\n${groupsSignature(o.groups)}`;
      next.set(k, sig);
      if (agent.applied.get(k) !== sig) changes.push({ owner: o.owner, flows: o.flows, groups: o.groups ?? [] });
    }
    for (const [k] of agent.applied) {
      if (!next.has(k)) changes.push({ owner: ownerFromKey(k), flows: [], groups: [] });
    }
    let sent = true;
    if (changes.length) {
      const t0 = performance.now();
      const r = await agent.manager.apply(changes);
      agent.applied = next;
      sent = r.sent;
      this.log.debug({ node: name, owners: changes.length, flowMods: r.flowMods, sent: r.sent, ms: Math.round(performance.now() - t0) }, 'pipeline: applied');
    }
    this.log.debug({ node: name, owners: compiled.owners.size, changed: changes.length, sent, inSync: agent.inSync, started: agent.started }, 'pipeline: node reconciled');
    if (!agent.started) {
      // The first full sync (new cookie round) installs everything, then deletes the
      // previous run's round: traffic never sees an empty table.
      agent.started = true;
      void agent.manager.start().catch((err: unknown) => this.log.warn({ node: name, err }, 'pipeline: initial sync failed'));
    }
    agent.wanted = compiled.realizes;
    const before = agent.realized;
    if (sent && agent.inSync && agent.conn.connected) {
      agent.realized = compiled.realizes;
      this.opts.onRealized?.(name, agent.realized);
    }
    this.enqueueStatusDelta(before, agent.realized, keyOfUid);
  }

  private enqueueStatusDelta(before: ReadonlyMap<string, string>, after: ReadonlyMap<string, string>, keyOfUid: Map<string, string>): void {
    for (const [uid, v] of after) if (before.get(uid) !== v) this.enqueueUid(uid, keyOfUid);
    for (const uid of before.keys()) if (!after.has(uid)) this.enqueueUid(uid, keyOfUid);
  }

  private enqueueUid(uid: string, keyOfUid: Map<string, string>): void {
    if (this.opts.readiness === 'off') return;
    const k = keyOfUid.get(uid);
    if (k) this.statusController.enqueue(k);
  }

  private ensureAgent(name: string, dial: string): NodeAgent {
    const cur = this.agents.get(name);
    if (cur && cur.dial === dial) return cur;
    if (cur) void this.dropAgent(name);
    const conn = createConnection(dial, { logger: this.log.child({ node: name }), echoIntervalMs: this.opts.echoIntervalMs ?? 2000, reconnect: { initialDelayMs: 50, maxDelayMs: 1000 } });
    const manager = createFlowTableManager(conn, { logger: this.log.child({ node: name }) });
    const agent: NodeAgent = { dial, conn, manager, applied: new Map(), started: false, inSync: false, realized: new Map(), wanted: new Map() };
    conn.on('disconnected', () => {
      agent.inSync = false;
    });
    manager.on('synced', (r) => {
      agent.inSync = r.sent;
      if (!this.stopped) this.nodeController.enqueue(name);
      this.log.info({ node: name, flowMods: r.flowMods, round: manager.round, ms: Math.round(r.durationMs) }, 'pipeline: node flows synced');
    });
    manager.on('syncError', (err) => {
      this.log.warn({ node: name, err }, 'pipeline: full sync failed; retrying');
      setTimeout(() => {
        if (!this.stopped && this.agents.get(name) === agent) void manager.resync().catch(() => undefined);
      }, 1000).unref();
    });
    this.agents.set(name, agent);
    return agent;
  }

  private async dropAgent(name: string): Promise<void> {
    this.opts.fastPath?.nodeGone(name);
    const a = this.agents.get(name);
    if (!a) return;
    this.agents.delete(name);
    a.manager.stop();
    await a.conn.close().catch(() => undefined);
    // Whatever it realized no longer counts.
    if (this.cached || !this.stopped) this.enqueueStatusDelta(a.realized, new Map(), this.snapshot().keyOfUid);
  }

  // ---- status ----

  /** Nodes that need an object and have not installed its current version. */
  private lagging(uid: string, version: string, needed: Iterable<string>): string[] {
    const out: string[] = [];
    for (const n of needed) if (this.realizedOn(n)?.get(uid) !== version) out.push(n);
    return out.sort();
  }

  private realizedOn(node: string): ReadonlyMap<string, string> | undefined {
    if (this.opts.readiness === 'node-status') return this.reportedBy(this.nodes.get(objectKey(NODES, undefined, node)));
    return this.agents.get(node)?.realized;
  }

  /** A Node's status.realized as a map, built once per stored object. */
  private readonly reports = new WeakMap<object, Map<string, string>>();
  private reportedBy(node: HypervisorNode | undefined): ReadonlyMap<string, string> | undefined {
    const r = node?.status?.realized;
    if (!r) return undefined;
    let m = this.reports.get(r);
    if (!m) this.reports.set(r, (m = new Map(Object.entries(r))));
    return m;
  }

  private async reconcileStatus(key: string): Promise<void> {
    const isPort = key.startsWith(typePrefix(PORTS));
    const isLb = key.startsWith(typePrefix(LOAD_BALANCERS));
    const type = isPort ? PORTS : isLb ? LOAD_BALANCERS : NETWORKS;
    const id = parseObjectKey(type, key);
    if (!id) return;
    const obj = await this.opts.objects.get<VirtualPort | VirtualNetwork | LoadBalancer>(type, id.namespace, id.name);
    if (!obj || obj.metadata.deletionTimestamp) return;
    const { model, index } = this.snapshot();
    const uid = obj.metadata.uid!;
    let ready: { status: 'True' | 'False'; reason: string; message: string };
    const allocated = getCondition(obj.status?.conditions, ALLOCATED);
    if (allocated?.status !== 'True') {
      ready = { status: 'False', reason: allocated ? allocated.reason : 'Allocating', message: allocated ? `addresses: ${allocated.message}` : 'waiting for address allocation' };
    } else if (isPort) {
      const pm = model.ports.get(uid);
      const bound = getCondition(obj.status?.conditions, BOUND);
      if (!pm) ready = { status: 'False', reason: 'NetworkNotReady', message: `network ${(obj as VirtualPort).spec?.network} is not known to the pipeline yet` };
      else if (!pm.binding) ready = { status: 'False', reason: 'NotBound', message: bound ? `not bound: ${bound.message}` : 'not bound to a hypervisor interface yet' };
      else ready = this.realization(uid, pm.version, nodesOfNetwork(index, pm.network));
    } else if (isLb) {
      const lm = model.loadBalancers?.get(uid);
      if (!lm) ready = { status: 'False', reason: 'NetworkNotReady', message: `network ${(obj as LoadBalancer).spec?.network} is not known to the pipeline yet` };
      else ready = this.realization(uid, lm.version, nodesOfNetwork(index, lm.network));
    } else {
      const nm = model.networks.get(uid);
      if (!nm) ready = { status: 'False', reason: 'Pending', message: 'no VNI yet' };
      else ready = this.realization(uid, nm.version, nodesOfNetwork(index, uid));
    }
    await this.opts.objects.modify<VirtualPort | VirtualNetwork | LoadBalancer>(
      type,
      id.namespace,
      id.name,
      (cur) => {
        if (cur.metadata.uid !== uid) return undefined;
        const conditions: Condition[] = setCondition(cur.status?.conditions, { type: READY, ...ready, observedGeneration: cur.metadata.generation });
        const status: Record<string, unknown> = { ...(cur.status ?? {}), conditions };
        if (isPort) status.realized = ready.status === 'True';
        if (sameJson(status, cur.status)) return undefined;
        return { ...cur, status } as VirtualPort | VirtualNetwork | LoadBalancer;
      },
      { subresource: 'status' },
    );
  }

  private realization(uid: string, version: string, needed: Set<string>): { status: 'True' | 'False'; reason: string; message: string } {
    const lag = this.lagging(uid, version, needed);
    const nodes = [...needed].sort();
    if (lag.length) return { status: 'False', reason: 'Realizing', message: `flows not yet installed on node(s) ${lag.join(', ')} (of ${nodes.join(', ')})` };
    if (!nodes.length) return { status: 'True', reason: 'Realized', message: 'no node needs flows for it yet (no bound ports)' };
    return { status: 'True', reason: 'Realized', message: `flows installed on node(s) ${nodes.join(', ')}` };
  }
}
