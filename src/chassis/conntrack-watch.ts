/**
 * Reads the connection-tracking usage of every node whose switch runs on this host (a unix
 * OVSDB endpoint: the embedded OVS, an agent's own), every `everyMs`, and tells the chassis
 * layer when a node's ConntrackPressure condition changes. Switches on other hosts are not
 * read (their unixctl socket is not reachable), nor the kernel datapath (its table is the
 * kernel's nf_conntrack, not ovs-vswitchd's).
 */
import type { Logger } from 'pino';
import { sameValue } from '../resources/same-value';
import { conntrackCondition, readConntrackUsage, type ConntrackUsage } from './conntrack-pressure';
import type { ConditionView } from './node-status';
import { vswitchdControlSocket } from './unixctl';

export const CONNTRACK_POLL_MS = 10_000;
const FIRST_READING_MS = 1_000;

export interface ConntrackWatchOptions {
  everyMs: number;
  /** The nodes this process has a session with: their OVSDB endpoint, and whether it is connected now. */
  sessions(): Iterable<[node: string, session: { endpoint: string; connected: boolean }]>;
  /** The node's spec.datapath ('netdev' when absent). */
  datapathOf(node: string): string | undefined;
  onChange(node: string): void;
  logger: Logger;
}

interface Reading {
  usage?: ConntrackUsage;
  view?: ConditionView;
  /** The last failure said in the log, so each is said once. */
  failure?: string;
}

export class ConntrackWatch {
  private readonly readings = new Map<string, Reading>();
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;

  constructor(private readonly opts: ConntrackWatchOptions) {}

  start(): void {
    if (this.opts.everyMs <= 0 || this.timer) return;
    // The first reading soon after start (the sessions connect meanwhile), so a Node says it
    // from the start rather than a whole period later; then every period.
    const tick = () => {
      void this.poll().finally(() => {
        if (this.timer) (this.timer = setTimeout(tick, this.opts.everyMs)).unref();
      });
    };
    (this.timer = setTimeout(tick, Math.min(FIRST_READING_MS, this.opts.everyMs))).unref();
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** The node's ConntrackPressure as last read (undefined: never read here). */
  condition(node: string): ConditionView | undefined {
    return this.readings.get(node)?.view;
  }

  /** Every node's last reading, for /metrics. */
  usage(): Array<{ node: string } & ConntrackUsage> {
    return [...this.readings].flatMap(([node, r]) => (r.usage ? [{ node, ...r.usage }] : []));
  }

  /** One round over the nodes (the timer's; tests call it directly): after the one under way, if any, so it reads what is there now. */
  async poll(): Promise<void> {
    while (this.running) await this.running;
    this.running = this.round().finally(() => (this.running = undefined));
    return this.running;
  }

  private async round(): Promise<void> {
    const seen = new Set<string>();
    for (const [node, s] of this.opts.sessions()) {
      seen.add(node);
      if (!s.connected) continue;
      const socket = (this.opts.datapathOf(node) ?? 'netdev') === 'netdev' ? vswitchdControlSocket(s.endpoint) : undefined;
      if (!socket) {
        this.readings.delete(node);
        continue;
      }
      await this.read(node, socket);
    }
    for (const node of this.readings.keys()) if (!seen.has(node)) this.readings.delete(node);
  }

  private async read(node: string, socket: string): Promise<void> {
    const r = this.readings.get(node) ?? {};
    this.readings.set(node, r);
    let view: ConditionView;
    try {
      r.usage = await readConntrackUsage(socket);
      r.failure = undefined;
      view = conntrackCondition(r.usage, r.view);
    } catch (err) {
      const why = (err as Error).message;
      if (r.failure !== why) this.opts.logger.warn({ event: 'node.conntrack_unreadable', node, socket, err }, `node ${node}: cannot read its connection-tracking usage from ${socket}: ${why}`);
      r.failure = why;
      r.usage = undefined;
      // Never read: nothing to say. Read before: what it said no longer holds.
      if (!r.view) return;
      view = { status: 'Unknown', reason: 'ConntrackUnreadable', message: `ovs-vswitchd's connection-tracking usage cannot be read: ${why}` };
    }
    if (sameValue(view, r.view)) return;
    if (view.status === 'True' && r.view?.status !== 'True') this.opts.logger.warn({ event: 'node.conntrack_pressure', node, ...r.usage }, `node ${node}: ${view.message}`);
    r.view = view;
    this.opts.onChange(node);
  }
}
