/**
 * Where agents program the nodes, the leader keeps one NodeRealization per Node (same
 * name): created with the Node, deleted with it (and re-created if someone deletes it
 * while its Node lives). The agent only writes its status; a Node re-created under an old
 * name starts from an empty report, never from the previous node's.
 *
 * It also watches the agents' heartbeats, as Kubernetes' node lifecycle controller watches
 * kubelets' Leases: the NodeLease each agent renews (an agent of an earlier release renewed
 * status.agent.renewTime here instead; a claim counts as a sign of life too). A claimed
 * node whose renewals it has not seen change for agentTimeoutMs gets Ready=Unknown
 * (AgentNotReporting) in its Node status, and so does one that missed a single heartbeat while
 * every other live node lost its tunnel probes to it (a crashed hypervisor: lost-by-peers.ts);
 * the agent, once back, writes its own Ready over it. The time is this process's (when it saw a renewal change), never the agent's clock,
 * and every node starts with a full timeout when this process becomes the leader. (Agents
 * of this release with a leader of an earlier one would be marked: upgrade the controllers
 * first, as Kubernetes upgrades its control plane before kubelets.)
 */
import type { Logger } from 'pino';
import type { HypervisorNode, NodeLease, NodeRealization } from '../../resources/kinds';
import { GROUP, VERSION } from '../../resources/kinds';
import { AGENT_NOT_REPORTING, NO_AGENT, READY, agentMarkedSilent } from '../../chassis/node-status';
import { getCondition, setCondition } from '../conditions';
import { objectKey } from '../../store/keys';
import { NODES, NODE_LEASES, NODE_REALIZATIONS } from '../../store/kinds';
import type { ObjectStore } from '../../store/object-store';
import { KeyExistsError, KeyNotFoundError } from '../../store/store';
import { Controller } from '../controller';
import type { Informer } from '../informer';
import type { SharedInformers } from '../shared-informers';
import { heartbeatOfLease, lostByEveryPeer, missedHeartbeatAfterMs } from './lost-by-peers';
import { parseObjectKey } from './object-keys';

export interface AgentHealthOptions {
  /** No renewal seen for this long: the Node is Ready=Unknown (default 60 s, VNETD_AGENT_TIMEOUT_MS). */
  agentTimeoutMs?: number;
  /** How often the renewals are checked (default a sixth of the timeout, at most 5 s). */
  checkEveryMs?: number;
}

export class NodeRealizationReconciler {
  /** Per node: the renewal last seen (claim and renewTime) and when this process saw it change. */
  private readonly renewals = new Map<string, { seen: string; at: number }>();
  private readonly agentTimeoutMs: number;
  private checker?: NodeJS.Timeout;
  private readonly nodes: Informer<HypervisorNode>;
  private readonly realizations: Informer<NodeRealization>;
  private readonly leases: Informer<NodeLease>;
  private readonly controller: Controller;
  private readonly unsubscribe: Array<() => void> = [];

  constructor(
    private readonly objects: ObjectStore,
    informers: SharedInformers,
    private readonly logger: Logger,
    private readonly health: AgentHealthOptions = {},
  ) {
    this.agentTimeoutMs = health.agentTimeoutMs ?? (Number(process.env.VNETD_AGENT_TIMEOUT_MS) || 60_000);
    this.nodes = informers.of<HypervisorNode>(NODES);
    this.realizations = informers.of<NodeRealization>(NODE_REALIZATIONS);
    this.leases = informers.of<NodeLease>(NODE_LEASES);
    this.controller = new Controller({ name: 'node-realizations', logger: logger.child({ component: 'node-realizations' }), reconcile: (name) => this.reconcile(name) });
    // Keyed by name: a Node and its NodeRealization share it.
    const byName = (kind: typeof NODES) => (_o: unknown, key: string) => [parseObjectKey(kind, key)?.name ?? ''];
    this.unsubscribe.push(this.controller.watch(this.nodes, byName(NODES)), this.controller.watch(this.realizations, byName(NODE_REALIZATIONS)));
    const saw = (o: { metadata: { name: string } }) => this.sawRenewal(o.metadata.name);
    this.unsubscribe.push(
      this.realizations.addEventHandler({ onAdd: saw, onUpdate: (_o, n) => saw(n), onDelete: (rz) => (this.renewals.delete(rz.metadata.name), this.unclaimed.delete(rz.metadata.name), this.warnedDurations.delete(rz.metadata.name)) }),
      this.leases.addEventHandler({ onAdd: saw, onUpdate: (_o, n) => saw(n) }),
    );
  }

  /** The node's claim, its earlier-release renewal and its lease's renewal, as last seen. */
  private sawRenewal(name: string): void {
    const agent = this.realizations.get(objectKey(NODE_REALIZATIONS, undefined, name))?.status?.agent;
    if (!agent) return;
    const lease = this.leases.get(objectKey(NODE_LEASES, undefined, name))?.spec;
    const seen = `${agent.generation ?? ''}/${agent.claimTime ?? ''}/${agent.renewTime ?? ''}/${lease?.holderIdentity ?? ''}/${lease?.renewTime ?? ''}`;
    const cur = this.renewals.get(name);
    if (cur?.seen !== seen) this.renewals.set(name, { seen, at: performance.now() });
    this.checkLeaseDuration(name, lease?.leaseDurationSeconds);
  }

  /** Per node: the lease duration already warned about. */
  private readonly warnedDurations = new Map<string, number>();

  /**
   * An agent's lease lasts three of its heartbeats (node-lease.ts). A timeout shorter than
   * that marks a healthy agent AgentNotReporting whenever a renewal is a little late, or
   * between every two renewals: said once per node, as a misconfiguration, not a node's trouble.
   */
  private checkLeaseDuration(name: string, seconds: number | undefined): void {
    if (seconds === undefined || seconds * 1000 <= this.agentTimeoutMs || this.warnedDurations.get(name) === seconds) return;
    this.warnedDurations.set(name, seconds);
    this.logger.warn(
      { event: 'node.agent_timeout_short', node: name, agentTimeoutMs: this.agentTimeoutMs, leaseDurationSeconds: seconds },
      `the agent timeout (VNETD_AGENT_TIMEOUT_MS, ${this.agentTimeoutMs} ms) is shorter than node ${name}'s lease (${seconds} s, three of its agent's heartbeats): its agent will be marked AgentNotReporting while healthy; set the timeout to ${seconds * 1000} ms or more, or shorten the agents' VNETD_AGENT_HEARTBEAT_MS`,
    );
  }

  /** The last renewal as the agent stamped it, for the message. */
  private lastRenewal(name: string, agent: NonNullable<NodeRealization['status']>['agent']): string {
    const lease = this.leases.get(objectKey(NODE_LEASES, undefined, name))?.spec?.renewTime;
    const times = [lease, agent?.renewTime, agent?.claimTime].filter((t): t is string => t !== undefined).sort();
    return times.at(-1) ?? 'its claim';
  }

  /** Per node no agent has claimed: since when this process has seen it so. */
  private readonly unclaimed = new Map<string, number>();

  /**
   * A Node no agent has ever claimed, with no status at all, is marked Ready=Unknown NoAgent
   * once agentTimeoutMs has passed, as Kubernetes marks a node whose kubelet never posted its
   * status (QA: such a Node stayed without any status, for good).
   */
  private async markNeverClaimed(name: string, now: number): Promise<void> {
    const since = this.unclaimed.get(name);
    if (since === undefined) {
      this.unclaimed.set(name, now);
      return;
    }
    const node = this.nodes.get(objectKey(NODES, undefined, name));
    if (!node || now - since < this.agentTimeoutMs || getCondition(node.status?.conditions, READY)) return;
    const message = `no vnetd agent has claimed node ${name} (for ${Math.round((now - since) / 1000)} s): run vnetd agent --node ${name} on that hypervisor`;
    await this.objects
      .modify<HypervisorNode>(NODES, undefined, name, (cur) => {
        if (cur.metadata.uid !== node.metadata.uid || getCondition(cur.status?.conditions, READY)) return undefined;
        return { ...cur, status: { ...cur.status, conditions: setCondition(cur.status?.conditions, { type: READY, status: 'Unknown', reason: NO_AGENT, message, observedGeneration: cur.metadata.generation }) } };
      }, { subresource: 'status' })
      .then(() => this.logger.warn({ event: 'node.no_agent', node: name }, message))
      .catch((err: unknown) => this.logger.warn({ event: 'node.agent_check_failed', node: name, err }, 'could not mark a node no agent has claimed'));
  }

  /**
   * The Nodes whose agents are live now: claimed, renewed within a heartbeat and a quarter
   * (within the timeout where the lease does not say its heartbeat), and not marked silent.
   */
  private livePeers(now: number): HypervisorNode[] {
    const out: HypervisorNode[] = [];
    for (const rz of this.realizations.list()) {
      const name = rz.metadata.name;
      const last = this.renewals.get(name);
      const node = this.nodes.get(objectKey(NODES, undefined, name));
      if (!rz.status?.agent || !last || !node || agentMarkedSilent(node)) continue;
      const heartbeatMs = heartbeatOfLease(this.leases.get(objectKey(NODE_LEASES, undefined, name))?.spec?.leaseDurationSeconds);
      if (now - last.at < (heartbeatMs === undefined ? this.agentTimeoutMs : missedHeartbeatAfterMs(heartbeatMs))) out.push(node);
    }
    return out;
  }

  /**
   * Marks the Node of every claimed node whose heartbeat has not moved for agentTimeoutMs, or
   * that missed one and every live peer lost its tunnels too (lost-by-peers.ts), and of every
   * node never claimed.
   */
  private async checkAgents(): Promise<void> {
    const now = performance.now();
    let livePeers: HypervisorNode[] | undefined;
    for (const rz of this.realizations.list()) {
      if (!rz.status?.agent) {
        await this.markNeverClaimed(rz.metadata.name, now);
        continue;
      }
      this.unclaimed.delete(rz.metadata.name);
      const agent = rz.status.agent;
      const last = this.renewals.get(rz.metadata.name);
      if (!last) continue;
      const silentFor = now - last.at;
      const heartbeatMs = heartbeatOfLease(this.leases.get(objectKey(NODE_LEASES, undefined, rz.metadata.name))?.spec?.leaseDurationSeconds);
      if (silentFor < Math.min(this.agentTimeoutMs, heartbeatMs === undefined ? Infinity : missedHeartbeatAfterMs(heartbeatMs))) continue;
      const node = this.nodes.get(objectKey(NODES, undefined, rz.metadata.name));
      if (!node || agentMarkedSilent(node)) continue;
      // A heartbeat missed, not yet the timeout: marked only if every live peer lost it too.
      let lostBy: string[] | undefined;
      if (silentFor < this.agentTimeoutMs) {
        livePeers ??= this.livePeers(now);
        lostBy = lostByEveryPeer(rz.metadata.name, livePeers);
        if (!lostBy) continue;
      }
      const since = this.lastRenewal(rz.metadata.name, agent);
      const message = lostBy
        ? `the agent of node ${rz.metadata.name} (${agent.holder ?? 'unknown'}) has not renewed its heartbeat (NodeLease ${rz.metadata.name}) for ${Math.round(silentFor / 1000)} s (last: ${since}; one is due every ${(heartbeatMs ?? 0) >= 1000 ? `${Math.round((heartbeatMs ?? 0) / 1000)} s` : `${Math.round(heartbeatMs ?? 0)} ms`}), and no tunnel probe comes back from it to ${lostBy.length === 1 ? 'its peer' : 'any of its peers'} (${lostBy.join(', ')}): the hypervisor looks down, not just its agent late`
        : `the agent of node ${rz.metadata.name} (${agent.holder ?? 'unknown'}) has not renewed its heartbeat (NodeLease ${rz.metadata.name}) for ${Math.round(silentFor / 1000)} s (last: ${since}); the switch keeps its flows, but nothing updates them`;
      await this.objects
        .modify<HypervisorNode>(NODES, undefined, rz.metadata.name, (cur) => {
          if (cur.metadata.uid !== node.metadata.uid || agentMarkedSilent(cur)) return undefined;
          let conditions = setCondition(cur.status?.conditions, { type: READY, status: 'Unknown', reason: AGENT_NOT_REPORTING, message, observedGeneration: cur.metadata.generation });
          // The agent's other conditions (Connected, TunnelsUp) are its word too, no longer
          // renewed: Unknown as well, as Kubernetes marks every condition of a node whose
          // kubelet stopped posting (QA: TunnelsUp=True stayed for a dead hypervisor).
          for (const c of cur.status?.conditions ?? []) {
            if (c.type === READY || c.status === 'Unknown') continue;
            conditions = setCondition(conditions, { type: c.type, status: 'Unknown', reason: AGENT_NOT_REPORTING, message: `the agent stopped reporting; its last word: ${c.status} ${c.reason ?? ''}`.trimEnd(), observedGeneration: c.observedGeneration });
          }
          return { ...cur, status: { ...cur.status, conditions } };
        }, { subresource: 'status' })
        .then(() => this.logger.warn({ event: 'node.agent_not_reporting', node: rz.metadata.name, holder: agent.holder, last: since, ...(lostBy ? { lostByPeers: lostBy } : {}) }, message))
        .catch((err: unknown) => this.logger.warn({ event: 'node.agent_check_failed', node: rz.metadata.name, err }, 'could not mark a silent agent\'s node'));
    }
  }

  async start(): Promise<void> {
    this.nodes.start();
    this.realizations.start();
    this.leases.start();
    await Promise.all([this.nodes.waitForSync(), this.realizations.waitForSync(), this.leases.waitForSync()]);
    this.controller.start();
    // Every node gets a full timeout from now: a new leader has seen no renewal yet.
    const now = performance.now();
    for (const entry of this.renewals.values()) entry.at = now;
    // At most 5 s apart: a node its peers lost is marked a heartbeat after its last renewal.
    this.checker = setInterval(() => void this.checkAgents(), this.health.checkEveryMs ?? Math.max(1000, Math.min(this.agentTimeoutMs / 6, 5000)));
    this.checker.unref();
  }

  /** Removes its handlers; the shared informers are their owner's to stop. */
  async stop(): Promise<void> {
    clearInterval(this.checker);
    for (const u of this.unsubscribe.splice(0)) u();
    await this.controller.stop();
  }

  private async reconcile(name: string): Promise<void> {
    if (!name) return;
    const node = this.nodes.get(objectKey(NODES, undefined, name));
    const realization = this.realizations.get(objectKey(NODE_REALIZATIONS, undefined, name));
    if (node && !realization) {
      const fresh: NodeRealization = { apiVersion: `${GROUP}/${VERSION}`, kind: 'NodeRealization', metadata: { name }, spec: {} };
      await this.objects.create(NODE_REALIZATIONS, fresh).catch((err: unknown) => {
        if (!(err instanceof KeyExistsError)) throw err;
      });
    } else if (!node && realization) {
      await this.objects.delete(NODE_REALIZATIONS, undefined, name).catch((err: unknown) => {
        if (!(err instanceof KeyNotFoundError)) throw err;
      });
    }
  }
}
