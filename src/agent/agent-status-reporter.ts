/**
 * Publishes what the agent's node has installed (object uid -> compiled version) in its
 * Node's status.realized, and the load balancer backends on it that fail their health
 * checks in status.unhealthyBackends, coalescing bursts (one write per 100 ms at most)
 * and retrying failed writes. The controller derives Ready from the first; every agent
 * and the controller take the second's backends out of their slot tables.
 */
import type { Logger } from 'pino';
import type { HypervisorNode, UnhealthyBackend } from '../resources/kinds';
import { sameValue } from '../resources/same-value';
import { NODES } from '../store/kinds';
import type { ObjectStore } from '../store/object-store';

export class AgentStatusReporter {
  /** The pipeline's latest map; read (copied and sorted) only when a write goes out. */
  private pending?: ReadonlyMap<string, string>;
  /** The latest failing list, until written. */
  private pendingHealth?: UnhealthyBackend[];
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

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.writing;
  }

  private schedule(ms: number): void {
    if (this.timer || this.writing) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.writing = this.flush().finally(() => {
        this.writing = undefined;
        if ((this.pending || this.pendingHealth) && !this.stopped) this.schedule(this.delayMs);
      });
    }, ms);
  }

  private async flush(): Promise<void> {
    if (!this.pending && !this.pendingHealth) return;
    const latest = this.pending;
    const health = this.pendingHealth;
    this.pending = undefined;
    this.pendingHealth = undefined;
    const realized = latest && Object.fromEntries([...latest].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    try {
      await this.objects.modify<HypervisorNode>(
        NODES,
        undefined,
        this.node,
        (cur) => {
          const status = { ...(cur.status ?? {}) };
          if (realized && JSON.stringify(status.realized ?? {}) !== JSON.stringify(realized)) status.realized = realized;
          if (health && !sameValue(status.unhealthyBackends ?? [], health)) {
            if (health.length) status.unhealthyBackends = health;
            else delete status.unhealthyBackends;
          }
          if (status.realized === cur.status?.realized && status.unhealthyBackends === cur.status?.unhealthyBackends) return undefined;
          return { ...cur, status };
        },
        { subresource: 'status' },
      );
    } catch (err) {
      this.log.warn({ event: 'agent.report_failed', err: (err as Error).message }, 'could not report realized flows and failing backends; retrying');
      if (latest) this.pending ??= latest;
      if (health) this.pendingHealth ??= health;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}
