/**
 * Publishes, in the NodeRealization of its node's name, what the agent's node has installed
 * (object uid -> compiled version) and the connections its load balancing dispatched; and
 * in its Node's status.unhealthyBackends, the load balancer backends on it that fail their
 * health checks. Bursts are coalesced (one write per 100 ms at most, spaced further when
 * writes are slow) and failed writes retried. The controller derives Ready from the first
 * and sums the second into LoadBalancer status; every agent and the controller take the
 * third's backends out of their slot tables.
 *
 * The report is large (an entry per object the node realizes) and changes with every
 * compile: it stays out of the Node, which every agent watches, so no agent receives
 * another's reports. The leader creates the NodeRealization; until it exists the report
 * waits. An agent of an earlier release reported in the Node's status.realized: the first
 * write here removes that.
 */
import type { Logger } from 'pino';
import type { HypervisorNode, NodeRealization, UnhealthyBackend } from '../resources/kinds';
import { sameValue } from '../resources/same-value';
import { NODES, NODE_REALIZATIONS } from '../store/kinds';
import type { ObjectStore } from '../store/object-store';

/** In a burst, a write is followed by at least this many times its duration without one. */
const WRITE_SPACING = 4;

export class AgentStatusReporter {
  /** The pipeline's latest map; read (copied and sorted) only when a write goes out. */
  private pending?: ReadonlyMap<string, string>;
  /** The latest failing list, until written. */
  private pendingHealth?: UnhealthyBackend[];
  /** The latest counts of dispatched connections, until written. */
  private pendingDispatched?: ReadonlyMap<string, number>;
  /** The Node's status.realized (an earlier release's report) is known to be gone. */
  private legacyCleared = false;
  private timer?: NodeJS.Timeout;
  private writing?: Promise<void>;
  private stopped = false;

  constructor(
    private readonly objects: ObjectStore,
    private readonly node: string,
    private readonly log: Logger,
    private readonly delayMs = 100,
  ) {}

  report(realized: ReadonlyMap<string, string>): void {
    if (this.stopped) return;
    // Called after every compile: keeping the reference is O(1); the O(N log N) copy is
    // paid once per write (at most one per delayMs), not once per compiled object.
    this.pending = realized;
    this.schedule(this.delayMs);
  }

  /** The node's failing backends changed (a rare event: written with the next write). */
  reportUnhealthyBackends(failing: UnhealthyBackend[]): void {
    if (this.stopped) return;
    this.pendingHealth = failing;
    this.schedule(this.delayMs);
  }

  /** What the node's load balancing dispatched changed (at most once per count interval). */
  reportDispatched(counts: ReadonlyMap<string, number>): void {
    if (this.stopped) return;
    this.pendingDispatched = counts;
    this.schedule(this.delayMs);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.writing;
  }

  private schedule(ms: number): void {
    if (this.timer || this.writing) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      const started = performance.now();
      this.writing = this.flush().finally(() => {
        this.writing = undefined;
        // Within a burst, the next write waits WRITE_SPACING times as long as this one took:
        // the report grows with the node (200 KB at 3,000 ports), and at one write per 100 ms
        // its reads, validation and storing were a tenth of the controller's CPU. A lone change
        // after a quiet spell still goes out after delayMs.
        const spacing = Math.max(this.delayMs, WRITE_SPACING * (performance.now() - started));
        if ((this.pending || this.pendingHealth || this.pendingDispatched) && !this.stopped) this.schedule(spacing);
      });
    }, ms);
  }

  private async flush(): Promise<void> {
    const latest = this.pending;
    const health = this.pendingHealth;
    const dispatched = this.pendingDispatched;
    this.pending = undefined;
    this.pendingHealth = undefined;
    this.pendingDispatched = undefined;
    const failures: string[] = [];
    if (latest || dispatched) {
      const again = () => {
        if (latest) this.pending ??= latest;
        if (dispatched) this.pendingDispatched ??= dispatched;
      };
      try {
        if (!(await this.writeRealization(latest, dispatched))) {
          failures.push(`NodeRealization ${this.node} does not exist yet (the controller's leader creates it)`);
          again();
        }
      } catch (err) {
        failures.push((err as Error).message);
        again();
      }
    }
    if (health || (latest && !this.legacyCleared)) {
      try {
        await this.writeNode(health);
      } catch (err) {
        failures.push((err as Error).message);
        if (health) this.pendingHealth ??= health;
      }
    }
    if (failures.length > 0) {
      this.log.warn({ event: 'agent.report_failed', err: failures.join('; ') }, 'could not report realized flows or failing backends; retrying');
      await new Promise((r) => setTimeout(r, 500));
    }
  }

  /** The new map and/or counts (the other part stays as written); false while the NodeRealization does not exist. */
  private async writeRealization(latest: ReadonlyMap<string, string> | undefined, counts: ReadonlyMap<string, number> | undefined): Promise<boolean> {
    const realized = latest && sortedRecord(latest);
    const dispatched = counts && sortedRecord(counts);
    let found = false;
    await this.objects.modify<NodeRealization>(
      NODE_REALIZATIONS,
      undefined,
      this.node,
      (cur) => {
        found = true;
        const status = cur.status ?? {};
        const newRealized = realized !== undefined && JSON.stringify(status.realized ?? {}) !== JSON.stringify(realized);
        // Empty counts are written too: "this node counts, and dispatched nothing" shows as 0, not as absent.
        const newCounts = dispatched !== undefined && (status.dispatched === undefined || JSON.stringify(status.dispatched) !== JSON.stringify(dispatched));
        if (!newRealized && !newCounts) return undefined;
        const next = { ...status, reportTime: new Date().toISOString() };
        if (newRealized) Object.assign(next, { realized, objects: latest!.size });
        if (newCounts) next.dispatched = dispatched;
        return { ...cur, status: next };
      },
      { subresource: 'status' },
    );
    return found;
  }

  /** The failing backends (when given), and no report of an earlier release's left in the Node. */
  private async writeNode(health: UnhealthyBackend[] | undefined): Promise<void> {
    await this.objects.modify<HypervisorNode>(
      NODES,
      undefined,
      this.node,
      (cur) => {
        const status = { ...(cur.status ?? {}) };
        let changed = false;
        if (status.realized !== undefined) {
          delete status.realized;
          changed = true;
        }
        if (health && !sameValue(status.unhealthyBackends ?? [], health)) {
          if (health.length) status.unhealthyBackends = health;
          else delete status.unhealthyBackends;
          changed = true;
        }
        return changed ? { ...cur, status } : undefined;
      },
      { subresource: 'status' },
    );
    this.legacyCleared = true;
  }
}

/** A map as an object with its keys in order (the same map is the same JSON). */
function sortedRecord<V>(m: ReadonlyMap<string, V>): Record<string, V> {
  return Object.fromEntries([...m].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
