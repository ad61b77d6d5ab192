/**
 * The pipeline reconciler: keeps every connected node's br-int flows equal to what the
 * logical model compiles to, and owns the Ready condition of VirtualPorts,
 * VirtualNetworks and LoadBalancers (realization).
 *
 *   informers (networks, ports, load balancers, nodes) + chassis node changes
 *        -> node queue: compile the owners of what changed since the node's last
 *           compile (a port: its own owner, its network's flood owner, that network's
 *           load balancers; a network or node change, a new connection: the whole
 *           node), diff per owner against what was last handed to the node's
 *           FlowTableManager, apply only changed owners (one bundle); remember what
 *           the node now realizes
 *        -> status queue (pipeline-status.ts): Ready=True (observedGeneration) once
 *           every node that needs the object has installed its current version;
 *           otherwise which nodes lag.
 *
 * One OpenFlow connection and FlowTableManager per node, dialled at the chassis
 * session's controller target (br-int's passive punix:...br-int.vnetd). The manager
 * resyncs by itself after reconnects; a new process run adopts the cookie round it finds
 * on the switch and sends only what differs from the table, in one atomic bundle.
 *
 * Split across processes (`vnetd agent` + `vnetd controller`): each agent runs this with
 * `node` (program only its own node), `readiness: 'off'` and `onRealized` (it publishes
 * what its node installed in the NodeRealization of the node's name); the controller's
 * leader runs it without chassis and with `readiness: 'node-status'`, deriving Ready from
 * those reports.
 */
import type { Logger } from 'pino';
import { FLOWS_REFUSED, TUNNELS_UP, agentMarkedSilent, cordoned, nodeDownReason, switchUnreachable, tunnelsDown } from '../../chassis/node-status';
import { TUNNEL_PORTS } from '../../chassis/layout';
import { ATTACHED_MAC, INTERFACE_ID_INDEX as IX_IFACE, firstReadyInterface, hasOpenFlowPort, interfaceIdIndex, interfaceIdOf, interfaceIsLive, linkIsDown } from '../../chassis/binding';
import { RarpActivations } from './rarp-activations';
import { StandbyNics } from './standby-nics';
import { OpenFlowConnectionError, OpenFlowTimeoutError, createConnection, type FlowStats, type OpenFlowConnection } from '../../openflow';
import { DEFAULT_COOKIE_APP, appSelector, createFlowTableManager, formatOwner, ownerFromKey, ownerKey, type AuditResult, type FlowOwner, type FlowTableFencedError, type FlowTableManager, type OwnerChange, type OwnerConflict, type SyncCounters } from '../../openflow/sync';
import {
  OwnerCategory,
  OwnerIds,
  compileNode,
  compileScope,
  networkOwner,
  tableName,
  type LogicalModel,
  type NetworkModel,
  type OwnerFlows,
  standbyNicOwner,
  type PortModel,
} from '../../pipeline';
import { type Encapsulation, type HypervisorNode, type LoadBalancer, type UnhealthyBackend, type VirtualNetwork, type VirtualPort } from '../../resources/kinds';
import { objectKey } from '../../store/keys';
import { LOAD_BALANCERS, NETWORKS, NODES, PORTS } from '../../store/kinds';
import type { ObjectStore } from '../../store/object-store';
import { getCondition } from '../conditions';
import { Controller } from '../controller';
import type { Informer } from '../informer';
import { SharedInformers } from '../shared-informers';
import { sameValue } from '../../resources/same-value';
import { drainedOnCordonedNodes, outOnDownSwitches, resolveBackends } from './lb-backends';
import { PortSecurityDropCounter } from './port-security-drops';
import { UnknownUnicastDropCounter } from './unknown-unicast-drops';
import { AWAITING_FIRST_CHECK, LbHealthMonitor, backendKey, healthTargets } from './lb-health';
import { LbRejecter, type RefusalCounts } from './lb-reject';
import { addMeters, configureSwitch, installMeters, removeMeters } from './switch-config';
import { PortConfigGuard } from './port-config-guard';
import { UnderlayBridgeGuard, underlayMgmtSocket } from './underlay-bridge-guard';
import { LbConntrackFlusher } from './lb-conntrack-flush';
import { TunnelProber } from './tunnel-probes';
import { failingInStatus, failureCounts, failureText, reportedFailing, sameBackendKeys, uncheckedOnDownNodes, type ReportedFailure } from './lb-health-reports';
import { READY } from './readiness';
import { DispatchReporter, LbStatusReporter, lbKeysOf } from './lb-status';
import { dispatchedIn } from './node-reports';
import type { FastPathHook } from './fastpath.nodes';
import type { ChassisAccess } from './chassis-access';
import { IX_NETWORK, RealizationStatus, networkIndex, networkKeyOf } from './pipeline-status';
import { LiveModel, bindingOf, emptyTouched, mergeTouched, nicMacMismatched, sameBinding, type PortBinding, type Touched } from './pipeline-model';


export { READY } from './readiness';
export { REALIZING_QUIET_MS } from './pipeline-status';
export type { ChassisAccess } from './chassis-access';

/** How long a node's OVS programming waits for its fast path to take the same compile. */
const FAST_PATH_APPLY_WAIT_MS = 2000;

/**
 * How long a full compile waits for OpenFlow connections being established (its own node's
 * new ones and any other node's). ovs-vswitchd drops a connection whose HELLO has not
 * arrived 1 s after it accepted it, and a full compile with what follows it (thousands of
 * owners, then their flow keys) holds the event loop for 0.6-0.75 s per node at 3,000
 * ports: the connect's callback, which sends the HELLO, waited behind that and OVS hung up
 * on restarts (EPIPE, reconnect), also when the compile was another node's.
 */
const HANDSHAKE_WAIT_MS = 250;

/** Most objects a node's pending change may touch to be compiled ahead of its pacing wait (changesNoFlows). */
const PEEK_BEFORE_PACING_MAX = 16;

/** Owners changed by one compile from which it yields to the event loop before applying them. */
const YIELD_BEFORE_APPLY_OWNERS = 500;

/** While flows of some object clash with another's on a node, how often the node is compiled in full again. */
const CONFLICT_RETRY_MS = 5000;

/** How often a node's flow count is brought to its Node's status (when it changed). */
const FLOW_COUNT_REPORT_MS = 5000;

/** A node's OpenFlow connection down this long makes its Node Ready=False (a restart of ovs-vswitchd takes about a second). */
const SWITCH_DOWN_REPORT_MS = 3000;
/** A refused full sync is tried again after this, doubling to SYNC_RETRY_MAX_MS while it keeps being refused. */
const SYNC_RETRY_FIRST_MS = 1000;
const SYNC_RETRY_MAX_MS = 30_000;
const envMs = (name: string, fallback: number): number => (process.env[name] !== undefined ? Number(process.env[name]) : fallback);

/**
 * A node's next bundle waits this long after its previous one (changes coalesce meanwhile):
 * in a burst, a switch fed back to back never idles (see FlowTableManagerOptions.minIntervalMs;
 * bench:converge N=3000: ovs-vswitchd CPU 9-11 s -> 5.6 s, realize 9.4-11 s -> 7.1-7.5 s).
 * A lone change after a quiet spell is not delayed.
 */
const NODE_BUNDLE_INTERVAL_MS = 100;
/**
 * ...and while a burst goes on, the wait doubles up to this (FlowTableManagerOptions.maxIntervalMs).
 */
const NODE_BUNDLE_MAX_INTERVAL_MS = 400;
/** ...once the burst has lasted this long (FlowTableManagerOptions.burstGraceMs). */
const NODE_BUNDLE_BURST_GRACE_MS = 1000;
/** Lanes per node beside the main connection: 2-4 connections cut ovs-vswitchd's cost of a burst by 25-45%. */
const DEFAULT_OPENFLOW_LANES = 3;

export interface PipelineReconcilerOptions {
  objects: ObjectStore;
  logger: Logger;
  chassis?: ChassisAccess;
  workers?: number;
  /** OpenFlow connection options (tests shorten timers). */
  echoIntervalMs?: number;
  /** FlowTableManagerOptions.minIntervalMs per node; default NODE_BUNDLE_INTERVAL_MS. */
  nodeBundleIntervalMs?: number;
  /** FlowTableManagerOptions.maxIntervalMs per node; default NODE_BUNDLE_MAX_INTERVAL_MS. */
  nodeBundleMaxIntervalMs?: number;
  /**
   * Extra OpenFlow connections per node that large incremental changes are spread over
   * (FlowTableManagerOptions.lanes); default 3, 0 for one connection. With
   * openflowGeneration a lane commits only while the main connection is still the master.
   */
  openflowLanes?: number;
  /**
   * This leader's generation (FlowTableManagerOptions.generationId): each node's switch is
   * claimed as master with it, so a switch refuses a deposed leader's flows once a newer one
   * has claimed it. Absent: no role requests (one controller, or agents).
   */
  openflowGeneration?: bigint;
  /** A node's switch has a newer master: this process is no longer the leader it thinks it is. */
  onFenced?: (node: string, err: FlowTableFencedError) => void;
  /**
   * A port's VM sent frames port security dropped, enough of them since the last verify to be
   * more than a booting VM's IPv6 chatter (SPOOF_DROPS_WARN): said on the port (leader-work
   * records an event), where `kubectl describe` shows it beside its conditions.
   */
  onPortSecurityDrops?: (port: VirtualPort, message: string) => void;
  /** A node's flows or port config repaired after a change by hand, or its switch refusing vnetd's flows: for an event on the Node. */
  onNodeEvent?: (node: string, type: 'Normal' | 'Warning', reason: string, message: string) => void;
  /** How often LoadBalancer status.backends (health, connection counts) is refreshed; default 5 s. */
  lbStatusIntervalMs?: number;
  /**
   * How often each node's flow count is audited against the desired one (FlowTableManager.audit:
   * two aggregate stats requests; a difference gets a full sync). Default 5 s
   * (VNETD_FLOW_AUDIT_MS); 0 turns it off.
   */
  flowAuditMs?: number;
  /**
   * How often every node's flows and groups are dumped and compared with the desired ones
   * (FlowTableManager.verify: finds flows changed in place). Default 60 s
   * (VNETD_FLOW_VERIFY_MS); 0 turns it off.
   */
  flowVerifyMs?: number;
  /**
   * How often the flow owner ids of objects gone from the model and from every node's
   * applied flows are forgotten (releaseGoneOwnerIds). Default 60 s; 0 turns it off.
   */
  ownerIdSweepMs?: number;
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
  /**
   * An agent (`node` set): called with the backends bound to its node that fail the health
   * checks it sends them, each time that list changes (for its Node's status.unhealthyBackends).
   */
  onUnhealthyBackends?: (failing: UnhealthyBackend[]) => void;
  /**
   * An agent (`node` set): called with the connections its node's load balancing dispatched
   * ("vni/vip/backend" -> count) each time they change, checked every lbStatusIntervalMs
   * (for its NodeRealization's status.dispatched, which the controller sums), with the
   * switch's counters behind them (for its status.dispatchedOnSwitch: the next agent's carry).
   */
  onDispatched?: (counts: ReadonlyMap<string, number>, onSwitch: ReadonlyMap<string, number>) => void;
  /** Least time between two onDispatched calls (DispatchReporter's minReportMs). */
  dispatchReportMs?: number;
  /** What this node reported dispatching before this process (its NodeRealization's): carried over, so a restart never lowers it. */
  dispatchedBefore?: ReadonlyMap<string, number>;
  /** The switch's counters behind dispatchedBefore (its NodeRealization's dispatchedOnSwitch): what the switch dispatched since is counted. */
  dispatchedOnSwitchBefore?: ReadonlyMap<string, number>;
  /** The process's shared informers (its own when absent). */
  informers?: SharedInformers;
}

/** A programmed node's flow table as /metrics shows it. */
export interface NodeFlowTable {
  node: string;
  connected: boolean;
  /** The switch has confirmed every flow of ours (FlowTableManager.inSync; what a restart waits for). */
  inSync: boolean;
  /** The cookie round of this node's flows; undefined before the first sync. */
  round: number | undefined;
  /** The switch has a newer master (openflowGeneration): nothing more is sent to it. */
  fenced: boolean;
  counters: SyncCounters;
  /** Connections to load balancers without a healthy backend refused on the node (lb-reject.ts). */
  refused: RefusalCounts;
  /** Ports (namespace/name) with frames port security dropped, and how many, counted at each verify. */
  portSecurityDrops: Array<{ port: string; dropped: number }>;
  /** Networks (namespace/name) with unicast to MACs none of their ports holds dropped on the node, and how many, counted at each verify. */
  unknownUnicastDrops: Array<{ network: string; dropped: number }>;
}

/**
 * A repair's first few differences with their tables' names, and as the end of its warning
 * (": ...; ..." when it undid more than it names): which flows, not only how many (QA-131 F5).
 */
function driftWords(r: AuditResult, undone: number): { drift: string[]; eg: string } {
  const drift = (r.drift ?? []).map((d) => d.replace(/\btable=(\d+)/, (m, id: string) => `${m} (${tableName(Number(id))})`));
  return { drift, eg: drift.length ? `: ${drift.join('; ')}${undone > drift.length ? '; ...' : ''}` : '' };
}

/** Frames port security dropped from one port between two verifies from which the log line is a warning. */
const SPOOF_DROPS_WARN = 20;

/** One node's OpenFlow side. */
interface NodeAgent {
  dial: string;
  conn: OpenFlowConnection;
  /** More connections to the same bridge for large changes (the manager's lanes). */
  lanes: OpenFlowConnection[];
  manager: FlowTableManager;
  /** What each owner last handed to the manager had (compared structurally with a new compile). */
  applied: Map<number, OwnerFlows>;
  /** manager.start() called: only after the first complete desired state is loaded. */
  started: boolean;
  /** What the switch has installed: uid -> version. */
  realized: Map<string, string>;
  /** What the compiled flows realize, kept up to date by full and incremental compiles. */
  wanted: Map<string, string>;
  /** realized equals wanted (so an incremental compile can update both by its delta). */
  realizedIsWanted: boolean;
  /** This process has once known what the node has installed. */
  everRealized: boolean;
  /** The uid of the Node object it programs for (set by its first reconcile). */
  nodeUid?: string;
  /**
   * Its next realization is told to every object it realizes, not only to those whose
   * version changed: the Node was deleted and created again while this agent stayed.
   */
  reannounce?: boolean;
  /** A flow-count audit under way (startFlowAudit). */
  auditing?: Promise<void>;
  /** Clears the port config flags set on br-int by hand (no-receive, no-forward, no-packet-in). */
  portGuard: PortConfigGuard;
  /** Puts br-phy's switching flow back when it has none (a switch on this host only). */
  underlayGuard?: UnderlayBridgeGuard;
  /** Frames port security dropped on the node, per port, from each full dump's counters. */
  spoofDrops: PortSecurityDropCounter;
  unknownDrops: UnknownUnicastDropCounter;
  /** Since when its main OpenFlow connection has been down (performance.now()), and whether the chassis layer was told. */
  downSince?: number;
  downReported?: boolean;
  /** The last full sync's failure on a connected switch (cleared by a sync), since when (performance.now()), and whether the chassis layer was told (FlowsRefused). */
  syncFailure?: string;
  syncFailingSince?: number;
  /** The failure the chassis layer was told of (FlowsRefused), until a sync or the switch's unreachability replaces it. */
  syncFailureReported?: string;
  /** The wait before the next retry of a refused full sync (SYNC_RETRY_FIRST_MS, doubling), and whether one is pending. */
  syncRetryMs?: number;
  syncRetryPending?: boolean;
  /** The UDP conntrack entries of the node's VIPs were flushed after this process's first full sync (LbConntrackFlusher.flushVipUdp). */
  udpFlushedAtStart?: boolean;
  /** Compile work since the agent started (tests: adding one port must compile a handful of owners). */
  compiles: CompileCounters;
}

export interface CompileCounters {
  full: number;
  incremental: number;
  /** Owners compiled, over all compiles. */
  ownersCompiled: number;
  /** Owners handed to the FlowTableManager because they changed. */
  ownersChanged: number;
  /** Actions in the compiled owners' flows (the size of the work: a flood list of N ports counts N). */
  actionsCompiled: number;
  /** Time spent compiling and diffing (before the bundle is sent), ms. */
  compileMs: number;
}

function actionCount(o: OwnerFlows): number {
  let n = 0;
  for (const f of o.flows) for (const i of f.instructions) n += i.type === 'apply_actions' || i.type === 'write_actions' ? i.actions.length : 1;
  return n;
}

/** Waits for p, at most ms: true if it resolved in time (a rejection of p is passed on). */
async function resolvesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p.then(() => true), new Promise<boolean>((r) => (timer = setTimeout(() => r(false), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/** What a node must recompile: everything, or the owners of the objects touched. */
interface NodeDirt {
  all: boolean;
  touched: Touched;
}

/**
 * An owner compiles to what it last had: same flows in the same order, same groups
 * (a backend change alters only a bucket). Structural, not formatted: formatting every
 * compiled flow to compare it was a third of a port's compile.
 */
function sameOwnerFlows(a: OwnerFlows | undefined, b: OwnerFlows): boolean {
  return a !== undefined && sameValue(a.flows, b.flows) && sameValue(a.groups ?? [], b.groups ?? []);
}

/** Whether owner k, as compiled (absent: compiled to nothing), differs from what the node has applied. */
function differsFromApplied(applied: ReadonlyMap<number, OwnerFlows>, k: number, compiled: OwnerFlows | undefined): boolean {
  return compiled ? !sameOwnerFlows(applied.get(k), compiled) : applied.has(k);
}

/** How long a deleted Node's switch may take to drop our flows before it is left as it is. */
const RETIRE_TIMEOUT_MS = 5000;

export class PipelineReconciler {
  private readonly log: Logger;
  private readonly networks: Informer<VirtualNetwork>;
  private readonly ports: Informer<VirtualPort>;
  private readonly nodes: Informer<HypervisorNode>;
  private readonly lbs: Informer<LoadBalancer>;
  private readonly nodeController: Controller;
  /** Ready of ports, networks and load balancers, and their dataplane finalizer. */
  private readonly status: RealizationStatus;
  private readonly agents = new Map<string, NodeAgent>();
  private readonly ids = new OwnerIds();
  /** Objects (uid) whose flows are left out on a node (node -> why): see noteConflicts. */
  private readonly flowConflicts = new Map<string, Map<string, string>>();
  /** The object of each owner (by owner key) in flowConflicts. */
  private readonly conflictOwners = new Map<number, string>();
  /** Owner ids found gone at the last sweep (releaseGoneOwnerIds). */
  private releaseCandidates = new Set<string>();
  /** Pipeline-relevant signature per store key: status-only churn does not recompile nodes. */
  private readonly seen = new Map<string, string>();
  /** Handlers on the informers, and the chassis listener: removed on stop. */
  private readonly unsubscribe: Array<() => void> = [];
  /** Made here when none were given: then stopped here too. */
  private readonly ownInformers?: SharedInformers;
  private readonly live: LiveModel;
  /** A network or node changed: rebuild the model and recompile every node in full. */
  private modelStale = true;
  /** Per node, what changed since its last compile; a node without an entry compiles in full. */
  private readonly dirt = new Map<string, NodeDirt>();
  private stopped = false;
  /**
   * Written where Ready is (readiness 'local' or 'node-status'). Connection counts only
   * where this process programs every node ('local'): they are summed over the nodes'
   * flows, and a controller of agents has no OpenFlow connection.
   */
  private readonly lbStatus?: LbStatusReporter;
  private auditTimer?: NodeJS.Timeout;
  private verifyTimer?: NodeJS.Timeout;
  private switchTimer?: NodeJS.Timeout;
  private flowCountTimer?: NodeJS.Timeout;
  private ownerIdTimer?: NodeJS.Timeout;
  /** An agent's count of what its node's load balancing dispatched (onDispatched). */
  private readonly dispatch?: DispatchReporter;
  /**
   * Probes leave from the backend's own node: where this process programs every node
   * ('local'), it checks every backend; an agent checks those bound to its node.
   */
  private readonly lbHealth?: LbHealthMonitor;
  private readonly lbReject: LbRejecter;
  private readonly ctFlusher: LbConntrackFlusher;
  private readonly tunnelProbes: TunnelProber;
  /** RARP announcements from standby NICs, handed to the chassis layer (rarp-activations.ts). */
  private readonly rarp: RarpActivations;
  /** Each node's standby NICs and their RARP watch flows (standby-nics.ts). */
  private readonly standby = new StandbyNics();
  /** Nodes whose standby NICs are all read again at their next compile (their session changed as a whole). */
  private readonly standbyAll = new Set<string>();
  /** Backends other nodes' agents report failing (agents, and a controller of agents), and checked backends nobody can check (uncheckedOnDownNodes), by backendKey. */
  private failingElsewhere = new Map<string, ReportedFailure>();

  constructor(private readonly opts: PipelineReconcilerOptions) {
    this.log = opts.logger.child({ component: 'pipeline' });
    // Parts that name their own component get the logger this one came from: a child of
    // this.log would carry "component" twice in every line (QA-93: 24 lines with both).
    this.lbReject = new LbRejecter(opts.logger, undefined, undefined, (node, ofport) => {
      // Only when a flooding port is named (every 10 s at most): a scan of the model is fine.
      for (const p of this.live.model.ports.values()) if (p.binding?.node === node && p.binding.ofport === ofport) return p.key;
      return undefined;
    });
    this.ctFlusher = new LbConntrackFlusher({
      log: this.log,
      switches: () => [...this.agents].map(([node, a]) => [node, a.conn] as [string, OpenFlowConnection]),
      backendsOfVip: (vni, vip) => this.live.backendsOfVip(vni, vip),
      stopped: () => this.stopped,
    });
    const shared = opts.informers ?? (this.ownInformers = new SharedInformers(opts.objects.kv, this.log));
    this.networks = shared.of<VirtualNetwork>(NETWORKS);
    this.ports = shared.of<VirtualPort>(PORTS);
    this.nodes = shared.of<HypervisorNode>(NODES);
    this.lbs = shared.of<LoadBalancer>(LOAD_BALANCERS);
    // Backends a health check found failing get no new connections (until it says otherwise),
    // nor those on a node whose switch does not answer while another backend takes them.
    // And those on a cordoned node are drained while another backend takes them.
    const healthyBackends = (lb: LoadBalancer, net: NetworkModel, ports: ReadonlyMap<string, PortModel>) =>
      drainedOnCordonedNodes(
        outOnDownSwitches(
          resolveBackends(lb, net, ports).map((b) => (b.healthy && !this.passesChecks(lb.metadata.uid!, b.ip, b.node) ? { ...b, healthy: false } : b)),
          (node) => this.nodeDown(node) !== undefined,
        ),
        (node) => cordoned(this.nodeObj(node)),
      );
    this.live = new LiveModel(healthyBackends, (node) => this.tunnelPorts(node), (p, modelled) => this.bindingOf(p, modelled));
    this.tunnelProbes = new TunnelProber({
      logger: opts.logger,
      model: () => (this.modelStale ? undefined : this.live.model),
      report: (node, outcome) => this.opts.chassis?.reportTunnels?.(node, outcome),
      // Ready, and probing itself (its Node has TunnelsUp): a node whose vnetd predates the
      // probes echoes none, and would be reported unanswered through a rolling upgrade.
      peerReady: (node) => {
        // A switch this process programs and has lost the connection to echoes nothing, before
        // its Node says so (SwitchUnreachable is written seconds later, more under load): its
        // peers' unanswered probes are not theirs to be cut off for (a CI run: hv1 said
        // NoProbeAnswered while hv2's ovs-vswitchd was stopped).
        if (this.agents.get(node)?.conn.connected === false) return false;
        const conditions = this.nodeObj(node)?.status?.conditions;
        return getCondition(conditions, READY)?.status === 'True' && getCondition(conditions, TUNNELS_UP) !== undefined;
      },
      intervalMs: Number(process.env.VNETD_TUNNEL_PROBE_MS) || undefined,
    });
    this.rarp = new RarpActivations(opts.logger, (node, ofport, mac) => this.opts.chassis?.activate?.(node, ofport, mac) ?? { activated: false, why: 'no chassis layer' });
    this.ports.ensureIndex(IX_IFACE, interfaceIdIndex);
    // A port's change (its MAC, pin, binding, deletion) changes which of its NICs are standby, wherever they are.
    const standbyTouch = (...ps: VirtualPort[]) => {
      const ids = ps.map((p) => interfaceIdOf(p)).filter((id): id is string => !!id);
      if (!ids.length || !this.opts.chassis) return;
      this.standby.touch(ids, this.agents.keys());
      for (const node of this.agents.keys()) if (ids.some((id) => this.opts.chassis?.session(node)?.interfacesWithIfaceId(id).length)) this.enqueueNode(node);
    };
    this.unsubscribe.push(this.ports.addEventHandler({ onAdd: (p) => standbyTouch(p), onUpdate: (o, n) => standbyTouch(o, n), onDelete: (p) => standbyTouch(p) }));
    // One worker per node at a time (the queue never hands one key to two workers), and
    // nodes in parallel: a new port's flows reach both of its nodes in one bundle time.
    this.nodeController = new Controller({ name: 'pipeline-nodes', workers: 4, logger: this.log, reconcile: (k) => this.reconcileNode(k) });
    this.ports.ensureIndex(IX_NETWORK, networkIndex);
    this.lbs.ensureIndex(IX_NETWORK, networkIndex);
    const readiness = opts.readiness ?? 'local';
    // Where this process's load balancing counts its connections: its nodes' switches and the fast path.
    const switches = (): Array<[string, OpenFlowConnection]> => [...this.agents].map(([node, a]) => [node, a.conn]);
    const fastPathDispatched = () => this.opts.fastPath?.dispatched?.() ?? new Map<string, number>();
    // Whether a load balancer still exists, by its uid or by its flows' cookie object id.
    const lbLive = (uid: string) => this.ensureModel().model.loadBalancers?.has(uid) ?? false;
    const lbOwnerLive = (objectId: number) => {
      const uid = this.ids.uidOf(objectId);
      return uid !== undefined && lbLive(uid);
    };
    if (readiness !== 'off') {
      this.lbStatus = new LbStatusReporter({
        objects: opts.objects,
        logger: opts.logger,
        intervalMs: opts.lbStatusIntervalMs,
        loadBalancers: () => this.lbs.list(),
        model: () => this.ensureModel().model,
        connections: readiness === 'local' ? switches : undefined,
        fastPathDispatched,
        reportedDispatched: readiness === 'node-status' ? () => dispatchedIn(this.status.realizations?.list() ?? []) : undefined,
        whyUnhealthy: (lbUid, ip, node) => this.whyFailing(lbUid, ip, node),
        nodeDown: (node) => this.nodeDown(node),
        tunnelsDown: (node) => tunnelsDown(this.nodeObj(node)),
        linkDown: (key) => this.portLinkDown(key),
        lbOwnerLive,
      });
      // A backend's NIC going down or up changes no flow (its port's signature): its load balancers' status follows it here.
      this.unsubscribe.push(
        this.ports.addEventHandler({
          onUpdate: (o, n) => {
            if (linkIsDown(o) !== linkIsDown(n)) this.lbStatus?.statusSoon();
          },
        }),
      );
    }
    if (opts.node !== undefined && opts.onDispatched) {
      this.dispatch = new DispatchReporter({
        logger: opts.logger,
        intervalMs: opts.lbStatusIntervalMs,
        connections: switches,
        fastPathDispatched,
        onChange: opts.onDispatched,
        minReportMs: opts.dispatchReportMs,
        previous: opts.dispatchedBefore,
        previousOnSwitch: opts.dispatchedOnSwitchBefore,
        lbOwnerLive,
        lbLive,
        lbKeys: () => lbKeysOf(this.ensureModel().model),
      });
    }
    if (readiness === 'local' || opts.node !== undefined) {
      this.lbHealth = new LbHealthMonitor({
        logger: opts.logger,
        targets: () => {
          const all = healthTargets(this.lbs.list(), this.ensureModel().model);
          return opts.node === undefined ? all : all.filter((t) => t.node === opts.node);
        },
        connection: (node) => this.agents.get(node)?.conn,
        ...(opts.node !== undefined ? { node: opts.node } : {}),
        linkDown: (t) => t.portKey !== undefined && this.portLinkDown(t.portKey),
        // Health changes a backend set: rare, so the model is rebuilt and every node recompiled.
        onChange: () => {
          this.modelStale = true;
          this.enqueueAllNodes();
          if (this.lbHealth) this.opts.onUnhealthyBackends?.(this.lbHealth.failing());
          this.lbStatus?.refreshSoon();
        },
      });
    }
    {
      // What the agents of other nodes found failing (none where this process checks every
      // node), and the checked backends of nodes nobody can check: a change is rare: rebuild and recompile.
      // `downFlipped`: a node's switch stopped or started answering, or its agent reporting,
      // which moves its backends in or out of the slot tables whether or not their load
      // balancers are checked (outOnDownSwitches).
      const refresh = (downFlipped = false) => {
        const now: Map<string, ReportedFailure> = readiness === 'local' ? new Map() : reportedFailing(this.nodes.list(), opts.node);
        for (const [k, b] of uncheckedOnDownNodes(this.nodes.list(), this.lbs.list(), () => this.ensureModel().model, opts.node)) if (!now.has(k)) now.set(k, b);
        const same = sameBackendKeys(now, this.failingElsewhere);
        this.failingElsewhere = now;
        if (same && !downFlipped) return;
        this.modelStale = true;
        this.enqueueAllNodes();
        this.lbStatus?.refreshSoon();
      };
      this.unsubscribe.push(
        this.nodes.addEventHandler({
          onAdd: () => refresh(),
          onUpdate: (o, n) => {
            const downFlipped = switchUnreachable(o) !== switchUnreachable(n) || agentMarkedSilent(o) !== agentMarkedSilent(n) || cordoned(o) !== cordoned(n);
            if (!sameValue(o.status?.unhealthyBackends, n.status?.unhealthyBackends) || downFlipped) refresh(downFlipped);
            // Load balancer status names backends behind cut tunnels: at once, not at its next round.
            else if ((tunnelsDown(o) === undefined) !== (tunnelsDown(n) === undefined)) this.lbStatus?.refreshSoon();
          },
          onDelete: () => refresh(true),
        }),
      );
    }
    this.status = new RealizationStatus(opts, this.log, { networks: this.networks, ports: this.ports, nodes: this.nodes, lbs: this.lbs }, shared, {
      model: () => this.ensureModel(),
      realizedOn: (node) => this.agents.get(node)?.realized,
      everRealized: (node) => !!this.agents.get(node)?.everRealized,
      connected: (node) => !!this.agents.get(node)?.conn.connected,
      fastPathLagging: (node) => this.fastPathLagging.has(node),
      conflicts: (uid) => this.flowConflicts.get(uid),
      stopped: () => this.stopped,
    });
    // Ports and load balancers update the model in place and dirty only their owners;
    // networks and nodes (rare) rebuild it and recompile every node.
    const incremental = (key: string, obj: unknown, deleted: boolean, kind: 'port' | 'lb'): void => {
      if (this.modelStale) return;
      const t = kind === 'port' ? this.live.portChanged(key, deleted ? undefined : (obj as VirtualPort)) : this.live.lbChanged(key, deleted ? undefined : (obj as LoadBalancer));
      for (const d of this.dirt.values()) mergeTouched(d.touched, t);
      this.ctFlusher.flushRetiredLater(this.live.drainRetired());
      // The last object on a network being deleted is gone: the network's flows go too.
      if (this.live.terminatingEmptied()) this.modelStale = true;
    };
    for (const [informer, sig, kind] of [
      [this.networks, (n: VirtualNetwork) => JSON.stringify([n.metadata.uid, n.metadata.generation, n.spec?.vni, n.spec?.encapsulation, !!n.metadata.deletionTimestamp]), 'model'],
      [this.ports, (p: VirtualPort, key: string) => this.portSignature(p, key), 'port'],
      [this.nodes, (n: HypervisorNode) => JSON.stringify([n.metadata.uid, n.spec?.tunnelIP, n.spec?.fastPath]), 'model'],
      [this.lbs, (l: LoadBalancer) => JSON.stringify([l.metadata.uid, l.metadata.generation, l.spec, !!l.metadata.deletionTimestamp]), 'lb'],
    ] as const) {
      const changed = (obj: unknown, key: string, deleted = false) => this.sameTurn(() => {
        const s = deleted ? undefined : (sig as (o: unknown, k: string) => string)(obj, key);
        if (s === this.seen.get(key)) return;
        this.log.debug({ event: 'pipeline.object-event', key, deleted }, 'pipeline: object changed');
        if (s === undefined) this.seen.delete(key);
        else this.seen.set(key, s);
        if (kind === 'model') {
          if (informer !== this.networks || !this.networkInPlace(obj as VirtualNetwork, deleted)) this.modelStale = true;
        } else incremental(key, obj, deleted, kind);
        // Where no node is compiled here (a controller of agents), a spec change reaches the
        // load balancer's status this way.
        if (kind === 'lb' && !deleted) this.lbStatus?.statusSoon();
        this.enqueueAllNodes();
      });
      this.unsubscribe.push(
        (informer as Informer<unknown>).addEventHandler({
          onAdd: (o, k) => changed(o, k),
          onUpdate: (_o, n, k) => changed(n, k),
          onDelete: (o, k) => changed(o, k, true),
        }),
      );
    }
  }

  async start(): Promise<void> {
    const informers = [this.networks, this.ports, this.nodes, this.lbs, ...this.status.informers()] as Informer<unknown>[];
    for (const i of informers) i.start();
    await Promise.all(informers.map((i) => i.waitForSync()));
    if (this.opts.chassis) {
      this.unsubscribe.push(
        this.opts.chassis.onNodeChange((node, interfaceIds) => {
          if (this.stopped) return;
          // A VM NIC's OVSDB row decides its binding here at once: its flows do not wait
          // for the chassis layer's binding to make the round trip through the store.
          // Before rebind: a NIC activated here (RARP) is no longer standby, and the one it took the binding from is.
          if (interfaceIds) this.standby.touch(interfaceIds, [node]);
          else this.standbyAll.add(node);
          this.rebind(interfaceIds ? interfaceIds.flatMap((id) => this.ports.indexKeys(IX_IFACE, id)) : this.ports.keys());
          this.enqueueNode(node);
        }),
      );
    }
    this.nodeController.start();
    this.status.start();
    this.lbStatus?.start();
    this.dispatch?.start();
    this.startFlowAudit();
    this.startSwitchWatch();
    this.startFlowCountReport();
    const sweepMs = this.opts.ownerIdSweepMs ?? 60_000;
    if (sweepMs > 0) this.ownerIdTimer = setInterval(() => this.releaseGoneOwnerIds(), sweepMs).unref();
    // A restart starts from what was last published: the agent's own Node report, or the
    // LoadBalancers' status where this process checks every backend.
    const node = this.opts.node;
    const own = node === undefined ? undefined : this.nodeObj(node);
    this.lbHealth?.start(node === undefined ? failingInStatus(this.lbs.list()) : reportedFailing(own ? [own] : []));
    this.enqueueAllNodes();
  }

  private nodeObj(name: string): HypervisorNode | undefined {
    return this.nodes.get(objectKey(NODES, undefined, name));
  }

  /** Why a node is down as far as its backends go (outOnDownSwitches, and their load balancers' status), or undefined. */
  private nodeDown(name: string): ReturnType<typeof nodeDownReason> {
    return nodeDownReason(this.nodeObj(name), name === this.opts.node);
  }

  /** Whether the NIC of the VirtualPort of key (namespace/name) has its link down (Bound LinkDown). */
  private portLinkDown(key: string): boolean {
    const slash = key.indexOf('/');
    return linkIsDown(this.ports.get(objectKey(PORTS, key.slice(0, slash), key.slice(slash + 1))));
  }

  /** Why a backend fails its checks, or why nobody can check it; undefined when it passes. */
  private whyFailing(lbUid: string, ip: string, node: string | undefined): string | undefined {
    const failed = this.lbHealth?.failingOf(lbUid, ip) ?? this.failingElsewhere.get(backendKey(lbUid, ip));
    if (!failed && this.lbHealth?.awaitingFirstCheck(lbUid, ip, node)) return AWAITING_FIRST_CHECK;
    return failed && failureText(failed);
  }

  /** A backend bound to `node` passes the health checks this process sends and those that node's agent reports. */
  private passesChecks(lbUid: string, ip: string, node: string | undefined): boolean {
    return (this.lbHealth?.healthy(lbUid, ip, node) ?? true) && !failureCounts(this.failingElsewhere.get(backendKey(lbUid, ip)), node);
  }

  /**
   * Tells the chassis layer when a node's main OpenFlow connection has been down for
   * SWITCH_DOWN_REPORT_MS, and when it is back: the Node's Ready says so (SwitchUnreachable).
   */
  private startSwitchWatch(): void {
    const report = this.opts.chassis?.reportSwitch?.bind(this.opts.chassis);
    if (!report) return;
    this.switchTimer = setInterval(() => {
      const now = performance.now();
      for (const [node, a] of this.agents) {
        if (a.conn.connected) {
          if (a.downReported) report(node, undefined);
          a.downSince = undefined;
          a.downReported = false;
          // Answering, but refusing every full sync for as long as a switch that does not answer is told (QA-155 F1).
          if (a.syncFailure !== undefined && a.syncFailure !== a.syncFailureReported && a.syncFailingSince !== undefined && now - a.syncFailingSince >= SWITCH_DOWN_REPORT_MS) {
            a.syncFailureReported = a.syncFailure;
            report(node, `br-int answers but refuses vnetd's flows (${a.syncFailure}): what it forwards is not what vnetd installs; vnetd retries (after 1 s, doubling to 30 s), its meters put back first (ovs-vswitchd's log says why it refuses)`, FLOWS_REFUSED);
          }
          continue;
        }
        // Disconnected: a failure on the connection before says nothing of the next one (what
        // was reported stays until the unreachable switch's report replaces it, or a sync clears it).
        a.syncFailure = a.syncFailingSince = undefined;
        if (a.downReported) a.syncFailureReported = undefined;
        a.downSince ??= now;
        if (a.downReported || now - a.downSince < SWITCH_DOWN_REPORT_MS) continue;
        a.downReported = true;
        const why = a.conn.lastFailure ?? 'no answer';
        // No such socket at all: ovs-vswitchd refuses a unix controller socket outside its own
        // run directory, and says so only in its log (QA-131: the hint did not name it).
        const missing = a.dial.startsWith('unix:') && /ENOENT/.test(why) ? `; ovs-vswitchd makes that socket only in its own run directory (OVS_RUNDIR): started with another, its log says "Not adding Unix domain socket controller"` : '';
        report(node, `br-int does not answer on its OpenFlow socket ${a.dial} (${why}) for ${Math.round((now - a.downSince) / 1000)} s: flows cannot be checked or changed; is ovs-vswitchd running, and do br-int's protocols allow OpenFlow13?${missing}`);
      }
    }, 1000);
    this.switchTimer.unref();
  }

  /**
   * The Node's status.flows (vnetctl's FLOWS column): the count of a node whose table is in
   * sync, every FLOW_COUNT_REPORT_MS at most, so a burst of changes costs no Node writes of
   * its own.
   */
  private startFlowCountReport(): void {
    const report = this.opts.chassis?.reportFlows?.bind(this.opts.chassis);
    if (!report) return;
    this.flowCountTimer = setInterval(() => {
      for (const [node, a] of this.agents) if (a.manager.inSync) report(node, a.manager.counters().desiredFlows);
    }, FLOW_COUNT_REPORT_MS);
    this.flowCountTimer.unref();
  }

  /** The flow-count audit's period (VNETD_FLOW_AUDIT_MS; 0: none). */
  private flowAuditPeriodMs(): number {
    return this.opts.flowAuditMs ?? envMs('VNETD_FLOW_AUDIT_MS', 5_000);
  }

  /** The full verify's period (VNETD_FLOW_VERIFY_MS; 0: none), which the port config guard reads at too. */
  private flowVerifyPeriodMs(): number {
    return this.opts.flowVerifyMs ?? envMs('VNETD_FLOW_VERIFY_MS', 60_000);
  }

  /**
   * Every few seconds each node's count of our flows (one aggregate request: flows deleted or
   * added by hand, a flushed table), and once a minute every flow (a dump and diff: flows
   * changed in place, which keep the count; QA: a port's flow made to drop stayed for minutes
   * while the port said Ready). Flows deleted by hand (ovs-ofctl del-flows), added under our
   * cookie, or flushed by OVS (a fail_mode change) while the connection stayed up were
   * noticed by nothing until the next reconnect; Node and metrics said in sync all along.
   */
  private startFlowAudit(): void {
    const ms = this.flowAuditPeriodMs();
    const verifyMs = this.flowVerifyPeriodMs();
    const check = (kind: 'audit' | 'verify') => {
      for (const [node, a] of this.agents) {
        if (!a.manager.inSync || a.auditing) continue;
        a.auditing = (kind === 'audit' ? a.manager.audit() : a.manager.verify())
          .then((r) => {
            if (!r.repaired) return;
            const { drift, eg } = driftWords(r, kind === 'audit' ? Math.abs((r.ours ?? 0) - (r.desired ?? 0)) : (r.changed ?? 0));
            const what = kind === 'audit' ? `its flow table had ${r.ours} of vnetd's flows where ${r.desired} were desired (changed outside vnetd); resynced${eg}` : `${r.changed} of vnetd's flows or groups differed from the desired ones (changed outside vnetd); repaired${eg}`;
            if (kind === 'audit') this.log.warn({ event: 'openflow.drift_repaired', node, found: r.ours, desired: r.desired, drift }, `node ${node}: ${what}`);
            else this.log.warn({ event: 'openflow.drift_repaired', node, changed: r.changed, drift }, `node ${node}: ${what}`);
            this.opts.onNodeEvent?.(node, 'Warning', 'FlowsRepaired', what);
          })
          .catch((err: unknown) => this.log.debug({ node, err }, `pipeline: flow ${kind} failed`))
          .finally(() => (a.auditing = undefined));
      }
    };
    if (ms > 0) {
      this.auditTimer = setInterval(() => check('audit'), ms);
      this.auditTimer.unref();
    }
    if (verifyMs > 0) {
      this.verifyTimer = setInterval(() => check('verify'), verifyMs);
      this.verifyTimer.unref();
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.auditTimer);
    clearInterval(this.verifyTimer);
    clearInterval(this.switchTimer);
    clearInterval(this.flowCountTimer);
    clearInterval(this.ownerIdTimer);
    this.lbHealth?.stop();
    this.tunnelProbes.stop();
    await this.lbStatus?.stop();
    await this.dispatch?.stop();
    for (const u of this.unsubscribe.splice(0)) u();
    this.ownInformers?.stop();
    await Promise.all([this.nodeController.stop(), this.status.stop()]);
    await Promise.all([...this.agents.keys()].map((n) => this.dropAgent(n)));
  }

  /** Every programmed node's flow-table state and counters, read at scrape time. */
  flowTables(): NodeFlowTable[] {
    // The networks by VNI, read once per scrape and only where a node counted drops.
    let keyOfVni: Map<number, string> | undefined;
    const networkOf = (vni: number) => (keyOfVni ??= new Map([...this.live.model.networks.values()].map((n) => [n.vni, n.key]))).get(vni);
    return [...this.agents].map(([node, a]) => ({ node, connected: a.conn.connected, inSync: a.manager.inSync, round: a.manager.round, fenced: a.manager.fenced !== undefined, counters: a.manager.counters(), refused: { ...this.lbReject.counts(node) }, portSecurityDrops: this.portSecurityDropsOf(a), unknownUnicastDrops: this.unknownUnicastDropsOf(a, networkOf) }));
  }

  /** A node's networks with unicast to unknown MACs dropped, and how many (since this process counts them). */
  private unknownUnicastDropsOf(a: NodeAgent, networkOf: (vni: number) => string | undefined): Array<{ network: string; dropped: number }> {
    return [...a.unknownDrops.totals].flatMap(([vni, dropped]) => {
      const network = networkOf(vni);
      return network ? [{ network, dropped }] : [];
    });
  }

  /** A node's ports with frames port security dropped, and how many (since this process counts them). */
  private portSecurityDropsOf(a: NodeAgent): Array<{ port: string; dropped: number }> {
    const out: Array<{ port: string; dropped: number }> = [];
    for (const [id, dropped] of a.spoofDrops.totals) {
      const port = this.portOfOwnerId(id)?.key;
      if (port) out.push({ port, dropped });
    }
    return out;
  }

  /** The modelled port a port owner's object id stands for (none once released or gone). */
  private portOfOwnerId(objectId: number): PortModel | undefined {
    const uid = this.ids.uidOf(objectId);
    return uid ? this.live.model.ports.get(uid) : undefined;
  }

  /**
   * Each full dump (the minute's verify): the ports whose frames port security dropped since
   * the previous one, said in one line each, as the operator looking for a VM that "cannot
   * send" needs (QA-126 H1: nothing anywhere said it).
   */
  private notePortSecurityDrops(node: string, agent: NodeAgent, dump: readonly FlowStats[]): void {
    for (const { objectId, dropped } of agent.spoofDrops.observe(dump)) {
      const port = this.portOfOwnerId(objectId);
      if (!port) continue;
      // A handful is a booting VM's IPv6 chatter on an IPv4-only port (router solicitations,
      // MLD reports); a VM sending from the wrong address drops all it sends.
      const level = dropped >= SPOOF_DROPS_WARN ? 'warn' : 'info';
      const slash = port.key.indexOf('/');
      const what = `port security dropped ${dropped} frame(s) it sent since the last check: from a MAC or address that is not the port's (spec.mac, spec.ips, spec.allowedAddressPairs), IPv6 from a port without an IPv6 address, a VLAN tag or a router advertisement; vnetctl trace --from ${port.key.slice(slash + 1)} --src-ip ADDR --src-mac MAC shows the verdict`;
      this.log[level]({ event: 'port.security_drops', node, port: port.key, dropped }, `port ${port.key} on node ${node}: ${what}`);
      // On the port itself too (QA-131 F9: only in the log and a metric).
      const obj = level === 'warn' ? this.ports.get(objectKey(PORTS, port.key.slice(0, slash), port.key.slice(slash + 1))) : undefined;
      if (obj) this.opts.onPortSecurityDrops?.(obj, `on node ${node}, ${what}`);
    }
  }

  /**
   * Forgets the owner ids of ports, load balancers and shared pair MACs that are gone: not in
   * the model, and no node has flows of theirs applied (QA-115: one entry per object ever
   * seen, about 150 bytes each, grew without bound in a controller in service). A released id
   * is safe to hand out again: ids are a hash of the uid, a switch this process no longer
   * tracks is brought to the desired state flow by flow on its next full sync, and an object
   * compiled again (a late scoped compile of a deleted port) gets its hash back.
   */
  releaseGoneOwnerIds(): number {
    if (this.stopped || this.modelStale) return 0;
    const model = this.ensureModel().model;
    const inUse = new Set<number>();
    for (const a of this.agents.values()) for (const k of a.applied.keys()) inUse.add(ownerFromKey(k).objectId);
    const live = (uid: string) => model.ports.has(uid) || !!model.loadBalancers?.has(uid) || model.networks.has(uid);
    // A conflict of an object gone whose owner had nothing applied (it was refused from its
    // first flows) is never cleared by a change: its node would be retried for ever.
    for (const uid of [...this.flowConflicts.keys()]) if (!live(uid)) this.flowConflicts.delete(uid);
    for (const [k, uid] of [...this.conflictOwners]) if (!this.flowConflicts.has(uid)) this.conflictOwners.delete(k);
    // Gone at two sweeps in a row: a compile in flight at the first (its id given, not yet
    // applied) has applied or dropped its owners by the second.
    const gone: string[] = [];
    const candidates = new Set<string>();
    for (const [uid, id] of this.ids.entries()) {
      if (inUse.has(id) || this.flowConflicts.has(uid)) continue;
      if (!uid.startsWith('pair-mac/') && live(uid)) continue;
      if (this.releaseCandidates.has(uid)) gone.push(uid);
      else candidates.add(uid);
    }
    this.releaseCandidates = candidates;
    for (const uid of gone) this.ids.release(uid);
    if (gone.length) this.log.debug({ event: 'pipeline.owner_ids_released', released: gone.length, kept: this.ids.size }, `pipeline: forgot the flow owner ids of ${gone.length} objects gone from every node`);
    return gone.length;
  }

  /** How many flow owner ids this process holds (tests). */
  ownerIdCount(): number {
    return this.ids.size;
  }

  /** Flow-table counters of a node's manager (tests, metrics). */
  agent(node: string): { manager: FlowTableManager; conn: OpenFlowConnection; lanes: readonly OpenFlowConnection[]; inSync: boolean; compiles: CompileCounters } | undefined {
    const a = this.agents.get(node);
    return a && { manager: a.manager, conn: a.conn, lanes: a.lanes, inSync: a.manager.inSync, compiles: a.compiles };
  }

  private enqueueAllNodes(): void {
    if (this.stopped) return;
    if (this.opts.node) {
      this.enqueueNode(this.opts.node);
      return;
    }
    for (const n of this.nodes.list()) this.enqueueNode(n.metadata.name);
    for (const n of this.agents.keys()) this.enqueueNode(n);
  }

  /** When each queued node was first queued since its last reconcile began (debug trace of the wait). */
  private readonly queuedAt = new Map<string, number>();

  private enqueueNode(node: string): void {
    if (!this.queuedAt.has(node)) this.queuedAt.set(node, performance.now());
    this.nodeController.enqueue(node);
  }

  /**
   * The node's standby NICs' owners (RARP watch flows, standby-nics.ts) that changed, added
   * to what this compile covers: all of them on a full compile, else the touched iface-ids'.
   */
  private addStandbyOwners(name: string, session: NonNullable<ReturnType<ChassisAccess['session']>>, full: boolean, owners: Map<number, OwnerFlows>, covered: Iterable<number>): Set<number> {
    const all = full || this.standbyAll.delete(name);
    const changed = this.standby.compile(name, (id) => this.standbyOf(name, id), all ? (session.ifaceIds?.() ?? []) : undefined);
    const out = covered instanceof Set ? (covered as Set<number>) : new Set(covered);
    for (const [ofport, o] of changed) {
      const k = ownerKey(standbyNicOwner(ofport));
      out.add(k);
      if (o) owners.set(k, o);
      else owners.delete(k);
    }
    return out;
  }

  /**
   * The standby NICs of an iface-id on a node (ofport -> the port's MAC): those with an
   * OpenFlow port that the unpinned port with that iface-id is not bound to, as this process
   * models its binding. A pinned port has none: its NIC elsewhere never binds.
   */
  private standbyOf(node: string, id: string): Map<number, string> {
    const out = new Map<number, string>();
    const rows = this.opts.chassis?.session(node)?.interfacesWithIfaceId(id);
    if (!rows?.length) return out;
    for (const key of this.ports.indexKeys(IX_IFACE, id)) {
      const p = this.ports.get(key);
      const mac = p?.spec?.mac;
      if (!p || !mac || p.spec?.node || p.metadata.deletionTimestamp) continue;
      const b = this.live.bindingAt(key) ?? bindingOf(p);
      for (const r of rows) if (hasOpenFlowPort(r.ofport) && !(b?.node === node && b.ofport === r.ofport)) out.set(r.ofport, mac);
      break;
    }
    return out;
  }

  // ---- bindings ----

  /**
   * Where a port is bound, from the hypervisor's own OVSDB rows when this process has a
   * live session to the node(s) it may bind on (what the chassis layer is about to write
   * to the store, decided the same way: an Interface with the port's iface-id and an
   * ofport), else from the store's status. So the flows of a plugged NIC follow its
   * OVSDB row directly, and an unplugged NIC's flows go with its row, while the store
   * write (status, Ready) happens beside, off the path.
   */
  private bindingOf(p: VirtualPort, modelled: PortBinding | undefined): PortBinding | undefined {
    if (!this.bindingTurn) return this.decideBinding(p, modelled);
    // Within one event: the same port and model binding as the last call (its signature,
    // then its model update) get the same answer, decided once.
    const last = this.bindingTurn.last;
    if (last && last.port === p && sameBinding(last.modelled, modelled)) return last.binding;
    const binding = this.decideBinding(p, modelled);
    this.bindingTurn.last = { port: p, modelled, binding };
    return binding;
  }

  /** Set while one event is handled (sameTurn): the sessions cannot change meanwhile. */
  private bindingTurn?: { last?: { port: VirtualPort; modelled: PortBinding | undefined; binding: PortBinding | undefined } };

  /** Runs fn with bindingOf's answers reused within it (synchronous: nothing else runs meanwhile). */
  private sameTurn<R>(fn: () => R): R {
    if (this.bindingTurn) return fn();
    this.bindingTurn = {};
    try {
      return fn();
    } finally {
      this.bindingTurn = undefined;
    }
  }

  private decideBinding(p: VirtualPort, modelled: PortBinding | undefined): PortBinding | undefined {
    const chassis = this.opts.chassis;
    const id = interfaceIdOf(p);
    if (!chassis || !id) return bindingOf(p);
    const pinned = p.spec?.node;
    const candidates = pinned ? undefined : this.nodes.list().map((n) => n.metadata.name);
    const views: Array<{ node: string; interfaces: ReadonlyArray<{ name?: string; ofport: number | null; error?: string | null; link_state?: string | null; type?: string; external_ids?: Record<string, string> }> }> = [];
    for (const node of candidates ?? [pinned!]) {
      const s = chassis.session(node);
      if (s?.ready) views.push({ node, interfaces: s.interfacesWithIfaceId(id) });
    }
    // Another node's live agent holds this unpinned port (a VM moving here, its NIC plugged
    // before the source's is gone): its binding stands, as the chassis layer leaves it.
    if (chassis.boundElsewhere?.(p)) return bindingOf(p);
    // Where it is bound now stays while its interface is there (live migration).
    // The same choice as the chassis layer's binding (bindingStatus), live interfaces first.
    const hit = firstReadyInterface(views, (modelled ?? bindingOf(p))?.node, interfaceIsLive, (i, node) => chassis.activatedAt?.(node, i));
    if (hit) {
      const nicMac = hit.iface.external_ids?.[ATTACHED_MAC];
      return { node: hit.node, ofport: hit.iface.ofport, ...(nicMac ? { nicMac } : {}) };
    }
    // No live hit. A binding (the store's, or else the one already modelled, which may be
    // ahead of the store) holds only on a node it may bind on whose session is down here:
    // as the chassis layer keeps the last known binding then, so do the flows.
    // A deleted Node's session is gone too, but that is no outage: nothing is bound there.
    const known = bindingOf(p) ?? modelled;
    if (!known || !this.nodeObj(known.node) || !(candidates ? candidates.includes(known.node) : known.node === pinned) || chassis.session(known.node)?.ready) return undefined;
    return known;
  }

  /**
   * What of a port the flows depend on: its spec (generation), network, and the binding the
   * model uses (the hypervisor's, else the store's). The store's binding arriving later (with
   * Ready, after the flows are in) changes nothing here when the hypervisor's said the same,
   * so it does not recompile the port's owners a second time.
   */
  private portSignature(p: VirtualPort, key: string): string {
    const b = this.bindingOf(p, this.live.bindingAt(key));
    // Newline-separated: none of these contains one (names and uids are DNS-like).
    return `${p.metadata.uid}\n${p.metadata.generation ?? 0}\n${b?.node}\n${b?.ofport}\n${p.spec?.network}\n${nicMacMismatched(p, b)}`;
  }

  /** Re-reads the binding of these ports; those that moved update the model and dirty their owners. */
  private rebind(keys: Iterable<string>): void {
    // A stale model is rebuilt before the next compile, reading live bindings then.
    if (this.modelStale) return;
    let changed = false;
    for (const key of keys) {
      const p = this.ports.get(key);
      if (!p || !this.live.hasPort(key)) continue;
      this.sameTurn(() => {
        const modelled = this.live.bindingAt(key);
        const b = this.bindingOf(p, modelled);
        if (sameBinding(b, modelled)) return;
        this.log.debug({ event: 'pipeline.live-binding', key, node: b?.node ?? null, ofport: b?.ofport ?? null }, 'pipeline: binding from the hypervisor');
        const t = this.live.portChanged(key, p);
        for (const d of this.dirt.values()) mergeTouched(d.touched, t);
        // The store's copy of this binding, when it comes, is then no change to compile.
        this.seen.set(key, this.portSignature(p, key));
        changed = true;
      });
    }
    if (changed) this.enqueueAllNodes();
  }

  // ---- the logical model ----

  /**
   * A network that appears, or goes, with nothing on it: added to or dropped from the model
   * in place, as it has no flows anywhere. False where the model must be rebuilt: a network
   * changed, one that ports or load balancers name (its new uid must reach them), or one
   * that goes while something of it is modelled or a node still has its flows.
   */
  private networkInPlace(n: VirtualNetwork, deleted: boolean): boolean {
    if (this.modelStale) return false;
    const key = networkKeyOf(n);
    const modelled = this.live.networkNamed(key);
    const going = deleted || !!n.metadata.deletionTimestamp;
    if (!modelled) {
      if (going || !n.spec?.vni) return true;
      if (this.ports.indexKeys(IX_NETWORK, key).length > 0 || this.lbs.indexKeys(IX_NETWORK, key).length > 0) return false;
      this.live.addNetwork(n);
      return true;
    }
    if (!going || modelled.uid !== n.metadata.uid || this.live.hasObjectsOn(modelled.uid)) return false;
    const owner = ownerKey(networkOwner(modelled.vni));
    for (const a of this.agents.values()) if (a.applied.has(owner)) return false;
    this.live.dropNetwork(modelled);
    return true;
  }

  /** The model, rebuilt first when a network or node changed (then every node recompiles in full). */
  private ensureModel(): LiveModel {
    if (this.modelStale) {
      this.modelStale = false;
      this.live.rebuild(this.networks.list(), this.ports.list(), this.nodes.list(), this.lbs.list());
      this.dirt.clear();
    }
    return this.live;
  }

  private tunnelPorts(node: string): Partial<Record<Encapsulation, number>> | undefined {
    const s = this.opts.chassis?.session(node);
    if (!s?.ready) return undefined;
    const out: Partial<Record<Encapsulation, number>> = {};
    for (const t of TUNNEL_PORTS) {
      const ofport = s.interfaceOfport(t.name);
      if (typeof ofport === 'number' && ofport > 0) out[t.type] = ofport;
    }
    return out;
  }

  // ---- nodes ----

  /** Nodes whose fast path has not finished an apply this process stopped waiting for. */
  private readonly fastPathLagging = new Set<string>();

  private async boundedWait(p: Promise<void>, ms: number, node: string): Promise<void> {
    // Once a node's fast path is late, later compiles do not each wait for it again.
    if (this.fastPathLagging.has(node)) return;
    if (await resolvesWithin(p, ms)) return;
    this.fastPathLagging.add(node);
    void p.finally(() => this.fastPathLagging.delete(node));
    this.log.warn({ event: 'fastpath.apply_slow', node, waitedMs: ms }, 'fast path tables not applied in time; programming OVS anyway');
  }

  /** Lets every connection being established, of any node, say HELLO before a long synchronous compile (HANDSHAKE_WAIT_MS). */
  private async handshakes(): Promise<void> {
    const pending: OpenFlowConnection[] = [];
    for (const a of this.agents.values()) for (const c of [a.conn, ...a.lanes]) if (c.establishing) pending.push(c);
    if (!pending.length) return;
    // Listeners, not ready(): a switch that stays down would keep one ready() waiter per full compile.
    let left = pending.length;
    let allUp!: () => void;
    const up = new Promise<void>((r) => (allUp = r));
    const onConnected = (): void => void (--left === 0 && allUp());
    for (const c of pending) c.once('connected', onConnected);
    await resolvesWithin(up, HANDSHAKE_WAIT_MS);
    for (const c of pending) c.off('connected', onConnected);
  }

  /**
   * Whether the node's pending incremental change, compiled now, leaves every one of its
   * flows as it is: a port plugged on another node (its entries here follow spec.node, not
   * the binding), a new generation that changes nothing here. Such a change only realizes,
   * and the object's Ready waits for it, so it need not wait for the node's bundle pacing
   * (up to NODE_BUNDLE_MAX_INTERVAL_MS while changes trickle in: a port plugged after a burst
   * was Ready 0.3-0.4 s after its first ping, bench:converge). Only small changes are compiled
   * ahead, since a burst's would be compiled twice. A wrong answer costs a wait or a bundle
   * sent early, nothing else: the reconcile compiles again after.
   */
  private changesNoFlows(name: string, agent: NodeAgent, pending: NodeDirt): boolean {
    const t = pending.touched;
    if (this.modelStale || t.ports.size + t.networks.size + t.loadBalancers.size + t.floodChunks.size > PEEK_BEFORE_PACING_MAX) return false;
    try {
      const scoped = this.compileTouched(this.ensureModel(), name, agent, t);
      for (const k of scoped.coveredOwners) if (differsFromApplied(agent.applied, k, scoped.owners.get(k))) return false;
      return true;
    } catch {
      return false;
    }
  }

  /** The node's flows of the touched objects (a network is new there unless the node has its owner applied). */
  private compileTouched(live: LiveModel, name: string, agent: NodeAgent, touched: Touched): ReturnType<typeof compileScope> {
    return compileScope(live.model, name, this.ids, live, touched, (net) => agent.applied.has(ownerKey(networkOwner(net.vni))));
  }

  private async reconcileNode(name: string): Promise<void> {
    const queuedAt = this.queuedAt.get(name);
    this.queuedAt.delete(name);
    if (this.opts.node && name !== this.opts.node) return;
    // An incremental change waits for the node's bundle pacing before it is compiled, not
    // after: what arrives meanwhile goes in the same bundle, and a burst's last change does
    // not wait twice (once compiled into a held bundle, once more as the next one).
    const paced = this.agents.get(name);
    const pending = this.dirt.get(name);
    if (paced?.started && pending && !pending.all && !this.changesNoFlows(name, paced, pending)) await paced.manager.pace();
    const tStart = performance.now();
    const node = this.nodeObj(name);
    const session = this.opts.chassis?.session(name);
    if (!node || node.metadata.deletionTimestamp || !session) {
      await this.dropAgent(name, !node || !!node.metadata.deletionTimestamp);
      return;
    }
    // Until the OVSDB session is up, tunnel ports (and bindings) are unknown: compiling
    // now would install an incomplete table. Keep what the switch has; wait.
    if (!session.ready) {
      this.log.debug({ node: name }, 'pipeline: node session not ready; waiting');
      return;
    }
    // Fenced: the switch is claimed with the generation only once the database records it
    // (NodeSession.generationRecorded); the Open_vSwitch row's update enqueues the node again.
    if (!session.generationRecorded) {
      this.log.debug({ node: name }, "pipeline: the node's database does not record this generation yet; waiting");
      return;
    }
    const agent = this.ensureAgent(name, session.controller.dial);
    if (agent.nodeUid !== node.metadata.uid) {
      // The Node was deleted and created again, and no reconcile of it fell in between (they
      // wait for the bundle pacing): this agent stayed, and what it realizes stays the same,
      // so no object of the node would hear of its realization again. A port's status is
      // written with its binding then (the chassis layer leaves a binding it finds again to
      // that write): it would wait for boundWithReadyMs, said NodeNotFound meanwhile. As
      // for a new agent, every object it realizes is told.
      if (agent.nodeUid !== undefined) {
        agent.reannounce = true;
        agent.realizedIsWanted = false;
      }
      agent.nodeUid = node.metadata.uid;
    }
    const before = this.dirt.get(name);
    if (!agent.started || this.modelStale || !before || before.all) {
      // A full compile ahead (see `full` below): not while a connection says HELLO.
      await this.handshakes();
      // Stopped, or the node gone or moved meanwhile: that change queued another reconcile.
      if (this.stopped || this.agents.get(name) !== agent) return;
    }
    const live = this.ensureModel();
    this.ctFlusher.noteDeactivated(live.model);
    // Tunnel ofports come from the session: when they change, every flow of the node may.
    if (live.refreshTunnelPorts(name)) this.dirt.delete(name);
    const dirt = this.dirt.get(name);
    this.dirt.set(name, { all: false, touched: emptyTouched() });
    const full = !dirt || dirt.all || !agent.started;
    // The fast path plans from the same model (its full index only when it runs there).
    const fastPathApplied = this.opts.fastPath?.nodeCompiled(node, live.model, () => live.index(), session.snapshot());
    const changes: OwnerChange[] = [];
    const nextApplied = new Map<number, OwnerFlows>();
    let compiledOwners: Map<number, OwnerFlows>;
    let covered: Iterable<number>;
    let realizes: Map<string, string>;
    let coveredUids: Iterable<string> | undefined;
    if (full) {
      const compiled = compileNode(live.model, name, this.ids, live.index());
      compiledOwners = compiled.owners;
      covered = new Set([...compiled.owners.keys(), ...agent.applied.keys()]);
      realizes = compiled.realizes;
    } else {
      const scoped = this.compileTouched(live, name, agent, dirt.touched);
      compiledOwners = scoped.owners;
      covered = scoped.coveredOwners;
      realizes = scoped.realizes;
      coveredUids = scoped.coveredUids;
    }
    covered = this.addStandbyOwners(name, session, full, compiledOwners, covered);
    for (const k of covered) {
      const o = compiledOwners.get(k);
      if (o) nextApplied.set(k, o);
      if (differsFromApplied(agent.applied, k, o)) changes.push(o ? { owner: o.owner, flows: o.flows, groups: o.groups ?? [] } : { owner: ownerFromKey(k), flows: [], groups: [] });
    }
    const compiledMs = performance.now() - tStart;
    // The fast path first: a deleted port or network must stop being forwarded there no
    // later than its OVS flows go (the fast path does not consult OVS). What it adds (a new
    // port's interface) it takes over from OVS after; nodeCompiled does not wait for that.
    // Bounded, so a stuck fast path cannot hold OVS programming back.
    if (fastPathApplied) await this.boundedWait(fastPathApplied, FAST_PATH_APPLY_WAIT_MS, name);
    // A large compile and the manager's preparation of its flows (keys, conflicts) are two
    // long synchronous stretches: let the event loop turn between them (API requests, OVSDB
    // and OpenFlow I/O), so one node's restart compile holds it half as long.
    else if (changes.length >= YIELD_BEFORE_APPLY_OWNERS) await new Promise((r) => setImmediate(r));
    let sent = true;
    // Owners whose flows clash with another owner's: left out, so they cannot hold the node back.
    const refused = new Map<number, OwnerConflict>();
    if (changes.length) {
      const t0 = performance.now();
      this.log.debug(
        { event: 'pipeline.compiled', node: name, full, owners: compiledOwners.size, changed: changes.length, queuedMs: queuedAt === undefined ? null : +(tStart - queuedAt).toFixed(1), compileMs: +(t0 - tStart).toFixed(1) },
        'pipeline: compiled; sending',
      );
      try {
        const r = await agent.manager.apply(changes, { onConflict: (c) => refused.set(ownerKey(c.owner), c) });
        sent = r.sent;
        this.log.debug({ event: 'pipeline.applied', node: name, owners: changes.length, flowMods: r.flowMods, sent: r.sent, ms: Math.round(performance.now() - t0) }, 'pipeline: applied');
      } catch (err) {
        // What this compile consumed must be compiled again: in full, to be sure.
        this.dirt.delete(name);
        throw err;
      }
    }
    // A refused owner keeps what it had, in the manager and on the switch: so does applied, or
    // its object's removal would be no change, and neither its old flows nor its conflict
    // would ever go (review 121).
    const kept = new Map([...refused.keys()].map((k) => [k, agent.applied.get(k)] as const));
    if (full) agent.applied = nextApplied;
    else for (const k of covered) {
      const sig = nextApplied.get(k);
      if (sig === undefined) agent.applied.delete(k);
      else agent.applied.set(k, sig);
    }
    this.noteConflicts(name, changes, refused, live.model);
    // A load balancer's flows changed (its spec, a backend's binding or health): its status too.
    if (changes.some((c) => c.owner.category === OwnerCategory.LoadBalancer)) this.lbStatus?.statusSoon();
    for (const [k, c] of refused) {
      // Not applied: sent again by the next compile. Not realized here either.
      const had = kept.get(k);
      if (had) agent.applied.set(k, had);
      else agent.applied.delete(k);
      const uid = this.uidOfOwner(c.owner, live.model);
      if (uid) realizes.delete(uid);
    }
    const c = agent.compiles;
    if (full) c.full++;
    else c.incremental++;
    c.ownersCompiled += compiledOwners.size;
    c.ownersChanged += changes.length;
    for (const o of compiledOwners.values()) c.actionsCompiled += actionCount(o);
    c.compileMs += compiledMs;
    this.log.debug({ node: name, full, owners: compiledOwners.size, changed: changes.length, sent, inSync: agent.manager.inSync, started: agent.started }, 'pipeline: node reconciled');
    if (!agent.started) {
      // The first full sync sends what differs between the table and everything compiled,
      // in one atomic bundle: traffic never sees an empty table.
      agent.started = true;
      void agent.manager.start().catch((err: unknown) => this.log.warn({ node: name, err }, 'pipeline: initial sync failed'));
    }
    // What the node realizes once these flows are in: replaced (full) or patched (scope).
    const delta = new Map<string, string | undefined>();
    if (full) agent.wanted = realizes;
    else for (const uid of coveredUids!) {
      const v = realizes.get(uid);
      delta.set(uid, v);
      if (v === undefined) agent.wanted.delete(uid);
      else agent.wanted.set(uid, v);
    }
    // Realized only what the switch has confirmed. A compile with nothing to send (sent stays
    // true) proves nothing by itself: a previous change's bundle may have been lost with a
    // lane's connection while the main one stayed up (its outcome unknown, recorded for the
    // full sync that settles it), and the next compile then finds nothing to send. The
    // manager knows (QA-117 F2: a load balancer created while ovs-vswitchd was stopped was
    // Ready once its lanes timed out, before the main connection did).
    if (!(sent && agent.manager.inSync)) {
      agent.realizedIsWanted = false;
      return;
    }
    // OVS has this compile's flows: the fast path may take what they no longer deal (its
    // apply above only narrowed what it takes; NodeRunner.widen). Not while an owner was
    // refused: its old flows stay in OVS (a load balancer still dealing a removed backend),
    // and the conflict's full recompiles (CONFLICT_RETRY_MS) come back here once it clears.
    if (refused.size === 0) this.opts.fastPath?.nodeProgrammed?.(name);
    if (full || !agent.realizedIsWanted) {
      const before = agent.realized;
      agent.realized = new Map(agent.wanted);
      agent.realizedIsWanted = true;
      agent.everRealized = true;
      this.opts.onRealized?.(name, agent.realized);
      this.status.enqueueDelta(agent.reannounce ? new Map() : before, agent.realized, live.keyOfUid);
      agent.reannounce = false;
      return;
    }
    for (const [uid, v] of delta) {
      if (agent.realized.get(uid) === v) continue;
      if (v === undefined) agent.realized.delete(uid);
      else agent.realized.set(uid, v);
      this.status.enqueueUid(uid, live.keyOfUid);
    }
    if (delta.size) this.opts.onRealized?.(name, agent.realized);
  }

  /**
   * Objects whose flows clash on a node with another object's (two load balancers given
   * one MAC, say): their flows are left out there and their Ready says why, while every
   * other object's flows go on. While any clash lasts on a node, it is compiled in full
   * again every CONFLICT_RETRY_MS, so the left-out flows go in once the other side is gone.
   */
  private noteConflicts(node: string, changes: readonly OwnerChange[], refused: ReadonlyMap<number, OwnerConflict>, model: LogicalModel): void {
    if (refused.size === 0 && this.flowConflicts.size === 0) return; // the usual case: nothing to note or clear
    for (const c of changes) {
      const k = ownerKey(c.owner);
      // A conflict noted before is cleared by its owner's removal too, when the model (a
      // network gone) or the ids no longer name the object (QA-115: the node was retried
      // every CONFLICT_RETRY_MS, in full, for ever).
      const uid = this.uidOfOwner(c.owner, model) ?? this.conflictOwners.get(k);
      if (!uid) continue;
      const conflict = refused.get(k);
      let on = this.flowConflicts.get(uid);
      if (!conflict) {
        if (on?.delete(node) && !on.size) {
          this.flowConflicts.delete(uid);
          this.conflictOwners.delete(k);
        }
        continue;
      }
      this.conflictOwners.set(k, uid);
      // Its own flows invalid (the switch could not take them): left out alone, the node's other objects go ahead.
      const message =
        ownerKey(conflict.holder) === k
          ? `its flows cannot be installed (${conflict.what}); they are left out there until it changes`
          : `its flows clash with those of ${this.describeOwner(conflict.holder, model)} (${conflict.what}); they are left out there until that changes`;
      if (!on) this.flowConflicts.set(uid, (on = new Map()));
      if (on.get(node) !== message) this.log.warn({ event: 'pipeline.flow_conflict', node, owner: formatOwner(c.owner), holder: formatOwner(conflict.holder), what: conflict.what }, `node ${node}: ${this.describeOwner(c.owner, model)}: ${message}`);
      on.set(node, message);
    }
    if ([...this.flowConflicts.values()].some((on) => on.has(node))) {
      this.nodeController.queue.addAfter(node, CONFLICT_RETRY_MS);
      this.dirt.delete(node);
    }
  }

  /** The logical object behind a flow owner (ports, load balancers, networks). */
  private uidOfOwner(owner: FlowOwner, model: LogicalModel): string | undefined {
    if (owner.category === OwnerCategory.Port || owner.category === OwnerCategory.LoadBalancer) return this.ids.uidOf(owner.objectId);
    if (owner.category === OwnerCategory.Network) return [...model.networks.values()].find((n) => n.vni === owner.objectId)?.uid;
    return undefined;
  }

  private describeOwner(owner: FlowOwner, model: LogicalModel): string {
    const uid = this.uidOfOwner(owner, model);
    const named = (kind: string, o: { metadata: { namespace?: string; name: string } } | undefined) => (o ? `${kind} ${o.metadata.namespace}/${o.metadata.name}` : undefined);
    if (owner.category === OwnerCategory.Port) return named('VirtualPort', this.ports.list().find((p) => p.metadata.uid === uid)) ?? `port ${uid ?? formatOwner(owner)}`;
    if (owner.category === OwnerCategory.LoadBalancer) return named('LoadBalancer', this.lbs.list().find((l) => l.metadata.uid === uid)) ?? `load balancer ${uid ?? formatOwner(owner)}`;
    if (owner.category === OwnerCategory.Network) return `the network with VNI ${owner.objectId}`;
    if (owner.category === OwnerCategory.PairMac) {
      const key = this.ids.uidOf(owner.objectId);
      return key ? `the entries of pair MAC ${key.replace(/^pair-mac\//, '').replace('/', ' in network uid ')}` : formatOwner(owner);
    }
    return formatOwner(owner);
  }

  private ensureAgent(name: string, dial: string): NodeAgent {
    const cur = this.agents.get(name);
    if (cur && cur.dial === dial) return cur;
    if (cur) void this.dropAgent(name);
    const connect = (lane?: number) =>
      createConnection(dial, { logger: this.log.child(lane === undefined ? { node: name } : { node: name, lane }), echoIntervalMs: this.opts.echoIntervalMs ?? 2000, reconnect: { initialDelayMs: 50, maxDelayMs: 1000 } });
    const conn = connect();
    // Before the flow table manager's own 'connected' handler: the bridge matches fragments the
    // way the pipeline's guards expect before any flow of this connection is installed.
    configureSwitch(conn, this.log.child({ node: name }));
    installMeters(conn, this.log.child({ node: name }));
    this.lbReject.attach(name, conn);
    this.tunnelProbes.attach(name, conn);
    this.rarp.attach(name, conn);
    const generationId = this.opts.openflowGeneration;
    const lanes = Array.from({ length: this.opts.openflowLanes ?? DEFAULT_OPENFLOW_LANES }, (_, i) => {
      const lane = connect(i + 1);
      // Lanes only carry flow_mods: no packet_in (health probes' answers), port status or flow removed copies.
      lane.on('connected', () => void lane.send({ type: 'set_async', packetInMask: [0, 0], portStatusMask: [0, 0], flowRemovedMask: [0, 0] }).catch(() => undefined));
      return lane;
    });
    const manager = createFlowTableManager(conn, {
      logger: this.log.child({ node: name }),
      lanes,
      generationId,
      minIntervalMs: this.opts.nodeBundleIntervalMs ?? NODE_BUNDLE_INTERVAL_MS,
      maxIntervalMs: this.opts.nodeBundleMaxIntervalMs ?? NODE_BUNDLE_MAX_INTERVAL_MS,
      burstGraceMs: NODE_BUNDLE_BURST_GRACE_MS,
    });
    // Port statuses tell it within milliseconds; the read is the safety net, at the verify's pace
    // (every 5 s, 3,000 ports' descriptions were a burst's 40 ms of decoding per node).
    const portGuard = new PortConfigGuard(conn, this.log.child({ node: name }), this.flowVerifyPeriodMs(), (message) => this.opts.onNodeEvent?.(name, 'Warning', 'PortConfigRepaired', message));
    portGuard.start();
    const underlaySocket = underlayMgmtSocket(dial);
    const underlayGuard = underlaySocket ? new UnderlayBridgeGuard(underlaySocket, this.log.child({ node: name }), this.flowAuditPeriodMs(), (message) => this.opts.onNodeEvent?.(name, 'Warning', 'UnderlayFlowsRepaired', message)) : undefined;
    underlayGuard?.start();
    const agent: NodeAgent = { dial, conn, lanes, manager, portGuard, underlayGuard, spoofDrops: new PortSecurityDropCounter(), unknownDrops: new UnknownUnicastDropCounter(), applied: new Map(), started: false, realized: new Map(), wanted: new Map(), realizedIsWanted: false, everRealized: false, compiles: { full: 0, incremental: 0, ownersCompiled: 0, ownersChanged: 0, actionsCompiled: 0, compileMs: 0 } };
    this.dirt.delete(name);
    manager.on('synced', (r) => {
      if (r.sent && !this.stopped && !agent.udpFlushedAtStart) {
        agent.udpFlushedAtStart = true;
        this.ctFlusher.flushVipUdp(name, this.live.model);
      }
      if (!this.stopped) this.nodeController.enqueue(name);
      // Only a sync the switch took ends a refusal (a bundle withheld sends nothing).
      if (r.sent) {
        if (agent.syncFailure !== undefined) {
          this.log.warn({ event: 'pipeline.sync_recovered', node: name, flowMods: r.flowMods }, `node ${name}: its switch took vnetd's flows again (${r.flowMods} flow mods)`);
          this.opts.onNodeEvent?.(name, 'Normal', 'FlowsInstalled', `its switch took vnetd's flows again (${r.flowMods} flow mods)`);
        }
        if (agent.syncFailureReported !== undefined && !agent.downReported) this.opts.chassis?.reportSwitch?.(name, undefined);
        agent.syncFailure = agent.syncFailingSince = agent.syncFailureReported = agent.syncRetryMs = undefined;
      }
      this.log.info({ node: name, flowMods: r.flowMods, round: manager.round, ms: Math.round(r.durationMs) }, 'pipeline: node flows synced');
    });
    manager.on('dumped', (dump) => {
      this.notePortSecurityDrops(name, agent, dump);
      agent.unknownDrops.observe(dump);
    });
    manager.on('fenced', (err) => {
      if (this.stopped || this.agents.get(name) !== agent) return;
      // The manager has logged it (with this node; it is out of sync from now on); the caller ends the leader term.
      this.opts.onFenced?.(name, err);
    });
    const onSyncError = (err: Error): void => {
      // 1 s, then doubling to 30 s while it keeps failing; a failed retry comes back here
      // (resync does not emit syncError), a disconnect or fencing ends it (nothing sent).
      // One retry pending at a time: an incremental change's own full sync failing meanwhile
      // does not start a second chain of them.
      const retry = () => {
        if (agent.syncRetryPending) return;
        agent.syncRetryPending = true;
        const delay = (agent.syncRetryMs = Math.min((agent.syncRetryMs ?? SYNC_RETRY_FIRST_MS / 2) * 2, SYNC_RETRY_MAX_MS));
        setTimeout(() => {
          agent.syncRetryPending = false;
          if (!this.stopped && this.agents.get(name) === agent) void manager.resync().catch(onSyncError);
        }, delay).unref();
      };
      // Lost with the connection: the full sync after the reconnect settles it; nothing refused.
      if (!conn.connected || err instanceof OpenFlowConnectionError) {
        this.log.debug({ node: name, err }, 'pipeline: full sync lost with the connection');
        return;
      }
      // Not answered in time (a hung or overloaded switch, said as unreachable once its
      // connection times out): tried again, but not said to refuse anything.
      if (err instanceof OpenFlowTimeoutError) {
        this.log.debug({ node: name, err }, 'pipeline: full sync not answered in time; retrying');
        retry();
        return;
      }
      // Once per distinct failure: the switch keeps what it has meanwhile.
      const why = err.message;
      if (agent.syncFailure !== why) {
        this.log.warn({ event: 'pipeline.sync_failed', node: name, err }, `node ${name}: its switch refused vnetd's full sync (${why}); retrying, its meters put back first`);
        this.opts.onNodeEvent?.(name, 'Warning', 'FlowsRefused', `its switch refused vnetd's full sync (${why}); retrying, its meters put back first`);
      } else this.log.debug({ node: name, err }, 'pipeline: full sync failed again; retrying');
      agent.syncFailure = why;
      agent.syncFailingSince ??= performance.now();
      // A bridge that lost its meters with its flows (fail_mode changed, no reconnect) refuses every flow naming one.
      void addMeters(conn, this.log.child({ node: name }));
      retry();
    };
    manager.on('syncError', onSyncError);
    this.agents.set(name, agent);
    return agent;
  }

  /**
   * `nodeDeleted`: the Node is gone, so its switch is retired: every flow and group of ours
   * is removed from it first (QA: the VMs of a deleted node kept talking through its old
   * flows, and their addresses went to new ports meanwhile). A stop, or a session lost,
   * leaves the switch as it is (hitless restart). A switch that does not answer keeps what
   * it has, said in the log.
   */
  private async dropAgent(name: string, nodeDeleted = false): Promise<void> {
    this.opts.fastPath?.nodeGone(name, { stopping: this.stopped });
    const a = this.agents.get(name);
    if (!a) return;
    this.agents.delete(name);
    this.tunnelProbes.detach(name);
    this.rarp.detach(name);
    a.portGuard.stop();
    void a.underlayGuard?.stop();
    this.standby.forgetNode(name);
    this.dirt.delete(name);
    // A node re-registered later starts from a clean slate, not from this agent's report.
    // Either report of its switch (does not answer, refuses vnetd's flows) goes with it: a new
    // agent starts knowing neither, and would never clear it.
    if (a.downReported || a.syncFailureReported !== undefined) this.opts.chassis?.reportSwitch?.(name, undefined);
    if (nodeDeleted && !this.stopped) await this.retireSwitch(name, a);
    a.manager.stop();
    await Promise.all([a.conn, ...a.lanes].map((c) => c.close().catch(() => undefined)));
    // Whatever it realized no longer counts.
    if (!this.stopped) this.status.enqueueDelta(a.realized, new Map(), this.live.keyOfUid);
  }

  private async retireSwitch(name: string, a: NodeAgent): Promise<void> {
    const ours = appSelector(DEFAULT_COOKIE_APP);
    const left = `its switch keeps vnetd's flows: remove them by hand (ovs-ofctl -O OpenFlow13 del-flows br-int cookie=0x${ours.cookie.toString(16)}/0x${ours.cookieMask.toString(16)}) or bring the hypervisor down`;
    if (!a.conn.connected) {
      this.log.warn({ event: 'pipeline.node_retired', node: name, flowsRemoved: false }, `Node ${name} was deleted while its switch does not answer: ${left}`);
      return;
    }
    try {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${RETIRE_TIMEOUT_MS} ms`)), RETIRE_TIMEOUT_MS)));
      const r = await Promise.race([a.manager.retire(), late]).finally(() => clearTimeout(timer));
      // Not sent: the connection went meanwhile, or another controller holds the switch now.
      if (!r.sent) this.log.warn({ event: 'pipeline.node_retired', node: name, flowsRemoved: false }, `Node ${name} was deleted but its switch took no change: ${left}`);
      else {
        // The refusal meter too, now that no flow names it (within the same bound: a switch that
        // stopped answering must not hold the Node's removal).
        let meterTimer: NodeJS.Timeout | undefined;
        const meterLate = new Promise<void>((resolve) => (meterTimer = setTimeout(resolve, RETIRE_TIMEOUT_MS)));
        await Promise.race([removeMeters(a.conn, this.log.child({ node: name })), meterLate]).finally(() => clearTimeout(meterTimer));
        this.log.info({ event: 'pipeline.node_retired', node: name, flowsRemoved: true, flowMods: r.flowMods, groupMods: r.groupMods }, `Node ${name} was deleted: vnetd's flows, groups and meters are removed from its switch; its VMs are cut off until it is created again`);
      }
    } catch (err) {
      this.log.warn({ event: 'pipeline.node_retired', node: name, flowsRemoved: false, err }, `Node ${name} was deleted but its flows could not be removed (${(err as Error).message}): ${left}`);
    }
  }

}
