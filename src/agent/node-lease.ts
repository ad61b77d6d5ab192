/**
 * The agent's heartbeat: it renews the NodeLease of its node's name every heartbeatMs, as a
 * kubelet renews its Lease in kube-node-lease. The controller's leader marks the Node
 * Ready=Unknown (AgentNotReporting) when it has seen no renewal for a while
 * (NodeRealizationReconciler), on its own clock: renewTime is for operators.
 *
 * A lease is a few hundred bytes: heartbeats used to rewrite the NodeRealization, up to
 * about 200 KB at 3,000 objects, every 20 s per agent. The agent creates the lease if it is
 * missing, owned by its Node, so the garbage collector deletes it with the Node (and a Node
 * re-created under the same name gets a new lease, owned by the new uid).
 */
import type { Logger } from 'pino';
import type { HypervisorNode, NodeLease } from '../resources/kinds';
import { GROUP, VERSION } from '../resources/kinds';
import { NODES, NODE_LEASES } from '../store/kinds';
import type { ObjectStore } from '../store/object-store';
import { Backoff } from '../ovsdb';
import { KeyExistsError } from '../store/store';
import { claimedByOther } from './node-claim';

/** Renewal interval (VNETD_AGENT_HEARTBEAT_MS: tests shorten it). */
export const HEARTBEAT_MS = 20_000;

export class NodeLeaseHeartbeat {
  private timer?: NodeJS.Timeout;
  private retry?: NodeJS.Timeout;
  /**
   * After a failed renewal the next try comes sooner than the next beat: 0.2 s doubling to a
   * quarter of the interval, as a kubelet retries its Lease. Waiting a whole interval after
   * each failure let two failures and a slow answer add up past the leader's timeout (three
   * intervals), and a healthy agent was marked AgentNotReporting.
   */
  private readonly backoff: Backoff;
  private renewing?: Promise<void>;
  /** The last renewal failed (logged once per run of failures). */
  private failing = false;
  private stopped = false;

  constructor(
    private readonly objects: ObjectStore,
    private readonly node: string,
    private readonly holder: string,
    private readonly log: Logger,
    private readonly heartbeatMs = Number(process.env.VNETD_AGENT_HEARTBEAT_MS) || HEARTBEAT_MS,
    /** Another agent holds the node's claim: this one renews nothing more (the agent stops). */
    private readonly onSupplanted?: (claimHolder: string) => void,
  ) {
    this.backoff = new Backoff({ initialDelayMs: Math.min(200, heartbeatMs / 4), maxDelayMs: heartbeatMs / 4 });
  }

  /** Renews now, then every heartbeatMs until stopped. */
  start(): void {
    if (this.stopped || this.timer) return;
    this.timer = setInterval(() => this.beat(), this.heartbeatMs);
    this.timer.unref();
    this.beat();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    clearTimeout(this.retry);
    await this.renewing;
  }

  private beat(): void {
    // A renewal still under way (a slow API) is not doubled: the next tick renews.
    if (this.renewing || this.stopped) return;
    clearTimeout(this.retry);
    this.retry = undefined;
    this.renewing = this.renew()
      .then(() => {
        if (this.failing) this.log.info({ event: 'agent.lease_renewed', node: this.node }, `renewed NodeLease ${this.node} again`);
        this.failing = false;
        this.backoff.reset();
      })
      .catch((err: unknown) => {
        const delay = this.backoff.next();
        if (!this.failing) this.log.warn({ event: 'agent.lease_renew_failed', node: this.node, err: (err as Error).message }, `could not renew NodeLease ${this.node}; retrying in ${delay} ms, backing off to ${this.heartbeatMs / 4} ms`);
        this.failing = true;
        if (this.stopped) return;
        this.retry = setTimeout(() => this.beat(), delay);
        this.retry.unref();
      })
      .finally(() => (this.renewing = undefined));
  }

  /** One renewal: the lease's spec rewritten, or the lease created when it is missing. */
  private async renew(): Promise<void> {
    const now = new Date().toISOString();
    const spec = (cur?: NodeLease['spec']): NonNullable<NodeLease['spec']> => {
      const same = cur?.holderIdentity === this.holder;
      return {
        holderIdentity: this.holder,
        // Three missed renewals: what the agent itself would call lapsed.
        leaseDurationSeconds: Math.max(1, Math.ceil((3 * this.heartbeatMs) / 1000)),
        acquireTime: same ? (cur?.acquireTime ?? now) : now,
        renewTime: now,
        leaseTransitions: (cur?.leaseTransitions ?? 0) + (cur && !same ? 1 : 0),
      };
    };
    let supplantedBy: string | undefined;
    const renewed = await this.objects.modify<NodeLease>(NODE_LEASES, undefined, this.node, async (cur) => {
      // Held by another agent: the one of the node's claim takes it over (a new agent, whose
      // claim is newer); one whose claim is gone does not (an agent stalled, SIGSTOP, while a
      // newer one claimed the node: it wrote its lease over the live successor's, QA).
      const held = cur.spec?.holderIdentity;
      if (held !== undefined && held !== this.holder) {
        supplantedBy = await claimedByOther(this.objects, this.node, this.holder);
        if (supplantedBy !== undefined) return undefined;
      }
      return { ...cur, spec: spec(cur.spec) };
    });
    if (supplantedBy !== undefined) {
      this.stopped = true;
      clearInterval(this.timer);
      this.log.warn({ event: 'agent.lease_supplanted', node: this.node, holder: supplantedBy }, `NodeLease ${this.node} is held by ${supplantedBy}, whose claim of the node is newer: not renewed`);
      this.onSupplanted?.(supplantedBy);
      return;
    }
    if (renewed) return;
    const node = await this.objects.get<HypervisorNode>(NODES, undefined, this.node);
    if (!node) throw new Error(`Node ${this.node} does not exist`);
    const lease: NodeLease = {
      apiVersion: `${GROUP}/${VERSION}`,
      kind: 'NodeLease',
      metadata: { name: this.node, ownerReferences: [{ apiVersion: `${GROUP}/${VERSION}`, kind: 'Node', name: this.node, uid: node.metadata.uid! }] },
      spec: spec(),
    };
    await this.objects.create(NODE_LEASES, lease).catch((err: unknown) => {
      // Another writer made it meanwhile (an earlier agent): renewed at the next beat.
      if (!(err instanceof KeyExistsError)) throw err;
    });
  }
}
