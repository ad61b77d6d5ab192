/**
 * Publishes what the agent's node has installed (object uid -> compiled version) in its
 * Node's status.realized, coalescing bursts (one write per 100 ms at most) and retrying
 * failed writes. The controller derives Ready from these reports.
 */
import type { Logger } from 'pino';
import type { HypervisorNode } from '../resources/kinds';
import { NODES } from '../store/kinds';
import type { ObjectStore } from '../store/object-store';

export class RealizationReporter {
  /** The pipeline's latest map; read (copied and sorted) only when a write goes out. */
  private pending?: ReadonlyMap<string, string>;
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
        if (this.pending && !this.stopped) this.schedule(this.delayMs);
      });
    }, ms);
  }

  private async flush(): Promise<void> {
    if (!this.pending) return;
    const latest = this.pending;
    this.pending = undefined;
    const realized = Object.fromEntries([...latest].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    try {
      await this.objects.modify<HypervisorNode>(
        NODES,
        undefined,
        this.node,
        (cur) => {
          if (JSON.stringify(cur.status?.realized ?? {}) === JSON.stringify(realized)) return undefined;
          return { ...cur, status: { ...(cur.status ?? {}), realized } };
        },
        { subresource: 'status' },
      );
    } catch (err) {
      this.log.warn({ event: 'agent.report_failed', err: (err as Error).message }, 'could not report realized flows; retrying');
      this.pending ??= latest;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}
