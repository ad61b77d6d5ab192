/**
 * The reconcilers only one process may run at a time: IPAM (frees addresses of deleted
 * objects), namespaces, compaction, and (when this process programs hypervisors itself)
 * the chassis manager and the flow pipeline. All-in-one vnetd starts them once; a
 * controller replica starts them on becoming leader and stops them on losing it. Every
 * one of them is level-triggered and reads the store at start, so a new leader resumes
 * where the old one stopped; the pipeline compares each switch's table with what it
 * compiles and sends only the difference, in one atomic bundle, so a takeover never
 * empties a switch's table.
 */
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import { ChassisManager } from '../chassis/chassis-manager';
import { IpamReconciler } from '../reconcile/kinds/ipam.reconciler';
import { NodeRealizationReconciler } from '../reconcile/kinds/node-realizations.reconciler';
import { GarbageCollector } from '../reconcile/kinds/garbage-collector';
import { NamespaceReconciler } from '../reconcile/kinds/namespace.reconciler';
import { QuotaReconciler } from '../reconcile/kinds/quota.reconciler';
import type { FastPathHook } from '../reconcile/kinds/fastpath.nodes';
import { PipelineReconciler, REALIZING_QUIET_MS } from '../reconcile/kinds/pipeline.reconciler';
import { SharedInformers } from '../reconcile/shared-informers';
import { ConditionEvents } from '../reconcile/events/condition-events';
import { AgentReportEvents, PORT_SECURITY_DROPS } from '../reconcile/events/port-security-drop-events';
import { EventRecorder } from '../reconcile/events/event-recorder';
import type { ResourceCatalog } from '../resources/catalog';
import { Compactor } from '../store/compactor';
import type { ObjectStore } from '../store/object-store';
import { objectKey } from '../store/keys';
import { NODES } from '../store/kinds';
import type { HypervisorNode } from '../resources/kinds';

/** Longer than a port may wait for its Ready write (REALIZING_QUIET_MS), so that write carries the binding. */
const BOUND_WITH_READY_MS = REALIZING_QUIET_MS + 1500;

export interface LeaderWork {
  chassis?: ChassisManager;
  pipeline: PipelineReconciler;
  stop(): Promise<void>;
}

export interface LeaderWorkOptions {
  objects: ObjectStore;
  catalog: ResourceCatalog;
  logger: Logger;
  workers: number;
  /** PipelineReconcilerOptions.openflowLanes. */
  openflowLanes?: number;
  /** PipelineReconcilerOptions.openflowGeneration: this leader's generation (leader-generation.ts). */
  openflowGeneration?: bigint;
  /** ChassisManagerOptions.generation (the OVSDB side of openflowGeneration). */
  ovsdbGeneration?: bigint;
  /** A node's switch or database holds a newer leader's generation (newer: which one, if it said). */
  onFenced?: (node: string, newer: bigint | undefined, where: 'openflow' | 'ovsdb') => void;
  /** Program hypervisors from this process (ChassisManager + pipeline over OVSDB/OpenFlow). */
  chassis: boolean;
  /** Hypervisors are programmed by `vnetd agent`s, which report realization in Node status. */
  agents?: boolean;
  /** Fills each programmed node's fast-path tables from the pipeline's model. */
  fastPath?: FastPathHook;
}

export { PORT_SECURITY_DROPS } from '../reconcile/events/port-security-drop-events';

/** The reason of a VirtualNetwork's event for its conntrack zone at its limit on a node. */
export const CONNTRACK_NETWORK_FULL = 'ConntrackZoneFull';

export async function startLeaderWork(o: LeaderWorkOptions): Promise<LeaderWork> {
  const stops: Array<() => Promise<void> | void> = [];
  const stopAll = async () => {
    for (const s of stops.splice(0).reverse()) await s();
  };
  try {
    // One informer per kind for all the reconcilers below, stopped after them all. Every
    // reconciler is built before any starts, so each sees its kinds' first list as it
    // happens (not replayed to it later from a cache another one filled).
    const informers = new SharedInformers(o.objects.kv, o.logger.child({ component: 'informers' }));
    stops.push(() => informers.stop());
    const compactor = new Compactor(o.objects.kv, { logger: o.logger });
    const ipam = new IpamReconciler({ objects: o.objects, logger: o.logger, workers: o.workers, informers });
    const namespaces = new NamespaceReconciler(o.objects, o.catalog, o.logger.child({ component: 'namespace-reconciler' }));
    const quotas = new QuotaReconciler(o.objects, informers, o.logger.child({ component: 'quota-reconciler' }));
    const collector = new GarbageCollector(o.objects, informers, o.logger.child({ component: 'garbage-collector' }));
    // With readiness from this process, a port's new binding is written with its Ready (one
    // revision, not two); the chassis writes it itself only if no Ready write came.
    const local = !o.agents;
    // Started last (below): what the chassis and the pipeline say on objects before then is not recorded.
    let recorder: EventRecorder | undefined;
    // Repairs of what was changed by hand on a hypervisor, told on its Node (QA-155 F5: only in the log).
    const nodes = informers.of<HypervisorNode>(NODES);
    const nodeEvent = (node: string, type: 'Normal' | 'Warning', reason: string, message: string) => {
      const obj = nodes.get(objectKey(NODES, undefined, node));
      if (obj) recorder?.record(obj, type, reason, message);
    };
    const chassis = o.chassis
      ? new ChassisManager({ objects: o.objects, logger: o.logger, workers: o.workers, informers, boundWithReadyMs: local ? BOUND_WITH_READY_MS : undefined, generation: o.ovsdbGeneration, onFenced: o.onFenced && ((node, e) => o.onFenced!(node, e.databaseGeneration, 'ovsdb')),
          // The tenant sees it on its network (QA-133 F3: its connections were dropped with nothing said to it).
          onNodeEvent: (node, type, reason, message) => nodeEvent(node, type, reason, message),
          onNetworkConntrackFull: (net, node, limit) => recorder?.record(net, 'Warning', CONNTRACK_NETWORK_FULL, `on node ${node}, all ${limit} connection-tracking entries this network may hold are in use: its new load-balancer connections there are dropped until entries expire (the node's spec.conntrack.networkShare sets a network's share, namespaceShare what the networks of a namespace share)`) })
      : undefined;
    // Flows on every connected node, and the Ready condition of ports and networks; without
    // chassis, agents program the nodes and Ready comes from what they report.
    const pipeline = new PipelineReconciler({
      objects: o.objects,
      logger: o.logger,
      chassis,
      workers: o.workers,
      informers,
      readiness: local ? 'local' : 'node-status',
      fastPath: o.fastPath,
      openflowLanes: o.openflowLanes,
      openflowGeneration: o.openflowGeneration,
      onFenced: o.onFenced && ((node, e) => o.onFenced!(node, e.switchGenerationId, 'openflow')),
      onPortSecurityDrops: (port, message) => recorder?.record(port, 'Warning', PORT_SECURITY_DROPS, message),
      onNodeEvent: (node, type, reason, message) => nodeEvent(node, type, reason, message),
    });
    // With agents: one NodeRealization per Node, where each agent reports what it installed.
    const realizations = local ? undefined : new NodeRealizationReconciler(o.objects, informers, o.logger);
    // The switches first: after a restart their reprogramming is what traffic waits for,
    // and IPAM's start (its lists, then a repair pass over every claim) held it back.
    if (chassis) {
      await chassis.start();
      stops.push(() => chassis.stop());
    }
    await pipeline.start();
    stops.push(() => pipeline.stop());
    if (realizations) {
      await realizations.start();
      stops.push(() => realizations.stop());
    }
    await ipam.start();
    stops.push(() => ipam.stop());
    await namespaces.start();
    stops.push(() => namespaces.stop());
    await collector.start();
    stops.push(() => collector.stop());
    await quotas.start();
    stops.push(() => quotas.stop());
    // Last to start, first to stop: its handlers only read what the others write.
    const events = new EventRecorder({ objects: o.objects, informers, logger: o.logger.child({ component: 'events' }), instance: `vnetd-${hostname()}`, host: hostname() });
    const conditionEvents = new ConditionEvents(events, informers, o.logger.child({ component: 'condition-events' }));
    await events.start();
    recorder = events;
    stops.push(() => events.stop());
    await conditionEvents.start();
    stops.push(() => conditionEvents.stop());
    // With agents: the drops they report (an agent writes no event).
    if (realizations) {
      const reportEvents = new AgentReportEvents(events, informers, o.logger.child({ component: 'agent-report-events' }));
      await reportEvents.start();
      stops.push(() => reportEvents.stop());
    }
    compactor.start();
    stops.push(() => compactor.stop());
    return { chassis, pipeline, stop: stopAll };
  } catch (err) {
    await stopAll().catch(() => undefined);
    throw err;
  }
}
