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
  private pending?: Record<string, string>;
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
    this.pending = Object.fromEntries([...realized].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
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
    const realized = this.pending;
    if (!realized) return;
    this.pending = undefined;
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
      this.pending ??= realized;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}
