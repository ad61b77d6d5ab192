/**
 * `vnetd agent --node NAME`: programs one hypervisor, talking only to its local OVS and
 * to the controller's API (never to the store, never to other hypervisors).
 *
 *   controller API --(ApiStore: list/watch, PUT status)--> informers
 *        ChassisManager (only: this node, over VNETD_OVSDB): br-int/br-phy layout, the
 *            Node's status, the binding (Bound, node, ofport) of this node's ports
 *        PipelineReconciler (node: this node, readiness off): compiles and installs this
 *            node's flows (a restart compares the table with what it compiles and sends
 *            only the difference, in one atomic bundle: it never empties the table),
 *            reports what is installed (uid -> version), and health-checks the load
 *            balancer backends bound to this node
 *        NodeLeaseHeartbeat: the agent's heartbeat, the NodeLease of the node's name
 *        AgentStatusReporter: that report into the NodeRealization of the node's name
 *            (which the leader creates, and no agent watches), and the backends failing
 *            their checks into the Node's status.unhealthyBackends (every agent takes
 *            those out of the slot tables it compiles)
 *   the controller's leader aggregates Ready of ports, networks and load balancers from
 *   every needed node's NodeRealization.
 *
 * It watches only what its node needs (node-scope.ts): its ports (pinned or bound here,
 * and the unpinned ports of the NICs on its switch), their networks, those networks' ports
 * on other nodes and load balancers, and the Node objects.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import pino, { type Logger } from 'pino';
import { ChassisManager } from '../chassis/chassis-manager';
import { readNodeDatabase, type NodeDatabaseSnapshot } from '../chassis/node-database';
import { foreignNode } from '../chassis/ovsdb-fence';
import { FastPathNodes } from '../reconcile/kinds/fastpath.nodes';
import { PipelineReconciler } from '../reconcile/kinds/pipeline.reconciler';
import { SharedInformers } from '../reconcile/shared-informers';
import { ObjectStore } from '../store/object-store';
import { NODE_REALIZATIONS } from '../store/kinds';
import type { NodeRealization } from '../resources/kinds';
import type { AgentCommand } from '../app/command-line';
import { ApiClient } from './api-client';
import { ApiStore } from './api-store';
import { NODE_SCOPED_KINDS, NodeScopedStore } from './node-scope';
import { AgentStatusReporter } from './agent-status-reporter';
import { NodeLeaseHeartbeat } from './node-lease';
import { claimHolder, claimNode } from './node-claim';
import { checkAgentToken } from './agent-token';
import type { ConntrackUsageSource } from '../api/conntrack-metrics';
import { agentMetricsRegistry, serveAgentMetrics, type AgentMetricsServer } from './agent-metrics';

export interface RunningAgent {
  logger: Logger;
  /** Resolves with the generation once the agent has claimed its node and started programming it. */
  claimed: Promise<bigint | undefined>;
  /**
   * Resolves, with the reason, when a newer agent for the same node has fenced this one off
   * its switch or database; the agent has stopped by then. Never resolves otherwise.
   */
  fenced: Promise<string>;
  /** Its /metrics server, when VNETD_METRICS_ADDRESS (AgentCommand.metricsAddress) asked for one. */
  metrics?: AgentMetricsServer;
  close(): Promise<void>;
}

export async function startAgent(o: AgentCommand, logger?: Logger): Promise<RunningAgent> {
  const log = logger ?? pino({ level: o.logLevel, base: { service: 'vnetd-agent', node: o.node } });
  const client = ApiClient.fromKubeconfig(o.kubeconfig, log);
  let seedInterfaces: (ids: Iterable<string>) => void = () => undefined;
  const interfaceIds = new Promise<Iterable<string>>((r) => (seedInterfaces = r));
  const kv = new NodeScopedStore(new ApiStore(client, NODE_SCOPED_KINDS, log), o.node, log, { interfaceIds });
  const objects = new ObjectStore(kv);
  const holder = claimHolder();
  const reporter = new AgentStatusReporter(objects, o.node, log, undefined, undefined, holder);
  const lease = new NodeLeaseHeartbeat(objects, o.node, holder, log, undefined, (claimHolder) => onFenced(`node ${o.node} is claimed by ${claimHolder}`));
  const closing = new AbortController();
  let fence: (reason: string) => void = () => undefined;
  const fenced = new Promise<string>((r) => (fence = r));
  let work: AgentWork | undefined;
  let generation: bigint | undefined;
  let fencedOff = false;
  // Served from the start: an agent still waiting for its controller or its switch is worth a scrape too.
  const metrics = o.metricsAddress
    ? await serveAgentMetrics(o.metricsAddress, agentMetricsRegistry(o.node, { flowTables: () => work?.flowTables() ?? [], counters: () => work?.counters() ?? [], conntrackUsage: () => work?.conntrackUsage() ?? [], generation: () => generation }), log)
    : undefined;
  const close = async () => {
    if (closing.signal.aborted) return;
    closing.abort();
    seedInterfaces([]);
    // A start still in progress stops itself at its next step (startAgentWork checks
    // the signal); waiting for it is bounded so that SIGTERM cannot hang on a stuck start.
    await Promise.race([claimed.catch(() => undefined), sleep(CLOSE_WAIT_MS, undefined, { ref: false })]);
    await metrics?.close();
    await work?.stop();
    await lease.stop();
    // A fenced agent's last report is not written: the node is another agent's now.
    await reporter.stop({ flush: !fencedOff });
    await kv.close();
  };
  const onFenced = (reason: string) => {
    if (closing.signal.aborted) return;
    fencedOff = true;
    log.error({ event: 'agent.fenced', node: o.node, reason }, `another vnetd agent for node ${o.node} has taken over its switch (${reason}); this one stops`);
    void close()
      .catch((err: unknown) => log.error({ event: 'agent.stop_failed', node: o.node, err }, 'stopping the fenced agent failed'))
      .finally(() => fence(reason));
  };
  // The token is checked while the switch is read: a token of another node stops the agent here.
  const claimed = Promise.all([nodeDatabase(o.ovsdb, log, closing.signal), checkAgentToken(client, o.node, log)])
    .then(([db]) => {
      // Another node's switch (a wrong --node): refuse before claiming anything of it.
      const foreign = db === 'stopped' ? undefined : foreignNode(db.node, o.node);
      if (foreign) throw new Error(foreign);
      seedInterfaces(db === 'stopped' ? [] : db.interfaceIds);
      return db === 'stopped' ? undefined : claimNode(objects, o.node, holder, log, { recorded: db.generation, switchId: db.switchId, signal: closing.signal });
    })
    .then(async (claimedGeneration) => {
      if (claimedGeneration === undefined || closing.signal.aborted) return undefined;
      generation = claimedGeneration;
      // Alive from the claim on: the leader times a claimed node's agent by its renewals.
      lease.start();
      work = await startAgentWork(o, { objects, kv, reporter, log, generation, onFenced, closing: closing.signal });
      if (closing.signal.aborted) return undefined;
      log.info({ event: 'agent.ready', node: o.node, server: client.server, ovsdb: o.ovsdb, generation: generation.toString(), codeCache: process.env.VNETD_CODE_CACHE_STATE }, `vnetd agent for node ${o.node} is running (API ${client.server}, OVSDB ${o.ovsdb})`);
      return generation;
    });
  claimed.catch((err: unknown) => log.error({ event: 'agent.start_failed', node: o.node, err }, 'the agent could not claim its node or start programming it'));
  return { logger: log, claimed, fenced, metrics, close };
}

interface AgentWork extends Pick<PipelineReconciler, 'flowTables'>, Pick<FastPathNodes, 'counters'>, ConntrackUsageSource {
  stop(): Promise<void>;
}

/** How long closing waits for a start in progress. */
const CLOSE_WAIT_MS = 10_000;

/** The generation the node's database records and its NICs, waiting (retrying every second) while it cannot be read. */
async function nodeDatabase(ovsdb: string, log: Logger, signal: AbortSignal): Promise<NodeDatabaseSnapshot | 'stopped'> {
  for (let attempt = 1; !signal.aborted; attempt++) {
    try {
      return await readNodeDatabase(ovsdb, log.child({ component: 'claim' }));
    } catch (err) {
      if (attempt === 1) log.warn({ event: 'agent.ovsdb_unreachable', ovsdb, err: (err as Error).message }, `cannot read the node's database at ${ovsdb} yet; retrying every second`);
      await sleep(1000, undefined, { signal }).catch(() => undefined);
    }
  }
  return 'stopped';
}

/** The chassis layer, the fast path and the pipeline for one node, claimed as `generation`. */
async function startAgentWork(
  o: AgentCommand,
  c: { objects: ObjectStore; kv: NodeScopedStore; reporter: AgentStatusReporter; log: Logger; generation: bigint; onFenced: (reason: string) => void; closing: AbortSignal },
): Promise<AgentWork> {
  const { objects, kv, reporter, log, generation } = c;
  // What the node's agent before this one reported dispatching: the counts go on from there.
  // Not worth failing the start for: unread (the API unavailable right after the claim), they start from the switch's.
  const before = await objects.get<NodeRealization>(NODE_REALIZATIONS, undefined, o.node).then(
    (rz) => rz?.status,
    (err: unknown) => void log.warn({ event: 'agent.dispatched_unread', node: o.node, err: (err as Error).message }, 'could not read the counts the node reported before; they start from the switch\'s'),
  );
  // One list and watch per kind for the chassis layer and the pipeline (each is a request stream to the API).
  const informers = new SharedInformers(kv, log.child({ component: 'informers' }));
  // An agent may write no event: the controller records its repairs on the Node from the report (AgentReportEvents).
  const nodeEvent = (_node: string, type: 'Normal' | 'Warning', reason: string, message: string) => reporter.reportNodeEvent({ time: new Date().toISOString(), type, reason, message });
  const chassis = new ChassisManager({ objects, logger: log, workers: o.workers, informers, only: { node: o.node, ovsdb: o.ovsdb }, generation, onFenced: (_node, e) => c.onFenced(e.message), onNodeEvent: nodeEvent });
  const unfollow = followInterfaces(chassis, o.node, kv);
  // The fast path runs where the node's interfaces are: on the agent, in its own netns
  // (Node spec.fastPath, or VNETD_FASTPATH=1 for every node).
  const fastPath = new FastPathNodes({ objects, logger: log, enabledByDefault: process.env.VNETD_FASTPATH === '1', statusIntervalMs: Number(process.env.VNETD_FASTPATH_STATUS_MS) || undefined });
  const pipeline = new PipelineReconciler({
    objects,
    logger: log,
    chassis,
    workers: o.workers,
    informers,
    openflowLanes: o.openflowLanes,
    // The switch's master role, claimed with the generation (see FlowTableManagerOptions.generationId).
    openflowGeneration: generation,
    onFenced: (_node, e) => c.onFenced(e.message),
    node: o.node,
    fastPath,
    readiness: 'off',
    onRealized: (_node, realized) => reporter.report(realized),
    onUnhealthyBackends: (failing) => reporter.reportUnhealthyBackends(failing),
    onDispatched: (counts, onSwitch) => reporter.reportDispatched(counts, onSwitch),
    // An agent may write no event: the controller records it from the report (AgentReportEvents).
    onNodeEvent: nodeEvent,
    onPortSecurityDrops: (port, message) => reporter.reportPortSecurityDrops({ port: `${port.metadata.namespace}/${port.metadata.name}`, uid: port.metadata.uid, time: new Date().toISOString(), message }),
    dispatchReportMs: o.dispatchReportMs,
    dispatchedBefore: before?.dispatched ? new Map(Object.entries(before.dispatched)) : undefined,
    // With the counts, the switch's counters behind them: what it dispatched while no agent ran is counted.
    dispatchedOnSwitchBefore: before?.dispatched && before.dispatchedOnSwitch ? new Map(Object.entries(before.dispatchedOnSwitch)) : undefined,
  });
  const stop = async () => {
    unfollow();
    await pipeline.stop();
    await fastPath.stop();
    await chassis.stop();
    informers.stop();
  };
  // Both built before either starts: each sees the first lists as they happen. Closed (or
  // fenced by the database) meanwhile: the pipeline must not claim the switch after that.
  await chassis.start();
  if (!c.closing.aborted) await pipeline.start();
  if (c.closing.aborted) {
    await stop();
    return { stop: async () => undefined, flowTables: () => [], counters: () => [], conntrackUsage: () => [] };
  }
  return { stop, flowTables: () => pipeline.flowTables(), counters: () => fastPath.counters(), conntrackUsage: () => chassis.conntrack.usage() };
}

/**
 * Tells the scoped store which NICs the node's switch has, from the chassis layer's own
 * OVSDB session: each row change for its iface-ids, the whole set when the session
 * (re)connects. Nothing while the session is down: its replica says nothing then.
 */
function followInterfaces(chassis: ChassisManager, node: string, kv: NodeScopedStore): () => void {
  return chassis.onNodeChange((changed, interfaceIds) => {
    const session = changed === node ? chassis.session(node) : undefined;
    if (!session?.ready) return;
    if (!interfaceIds) {
      const all = session.ifaceIds();
      if (all) kv.setInterfaces(all);
      return;
    }
    for (const id of interfaceIds) kv.setInterface(id, session.interfacesWithIfaceId(id).length > 0);
  });
}
