/**
 * LoadBalancer status.backends: every declared backend with its address, node, health
 * and how many connections were dispatched to it.
 *
 * connections = the packet counters of the backend's LbDnat flows (one per listener),
 * summed over every node. Only the first packet of a new connection reaches LbDnat, so
 * this counts connections the load balancer sent to the backend. A counter: when a flow
 * goes away (the backend failed its checks or was unbound) or is installed again, what it
 * had counted is kept (RunningTotals), so the figure never goes down while this process
 * runs (QA: it fell to 0 at every health flap), nor across a restart (what status held beyond
 * the switches' counters is carried over: LbStatusReporter.countOf), and what the switches
 * counted while vnetd was down is counted (status keeps, beside each count, the switches'
 * counters behind it: switchCounters). A node that is not connected contributes its last
 * known count.
 *
 * Refreshed every intervalMs (one flow dump of the LbDnat table per connected node);
 * status is written only when it changed. A controller of agents has no flows to count:
 * each agent counts its own node's (DispatchReporter) and reports them in its
 * NodeRealization's status.dispatched, and the controller sums those reports.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { CountSpacing } from './count-spacing';
import type { Logger } from 'pino';
import type { FlowStats, OpenFlowConnection } from '../../openflow';
import { DEFAULT_COOKIE_APP, appSelector, decodeCookie } from '../../openflow/sync';
import { LbBackendField, NetworkField, TABLES, lbTableSize, type LogicalModel } from '../../pipeline';
import type { BackendStatus, LoadBalancer } from '../../resources/kinds';
import { sortedRecord } from '../../resources/sorted-record';
import { LOAD_BALANCERS } from '../../store/kinds';
import { AGENT_NOT_REPORTING, FLOWS_REFUSED, SWITCH_UNREACHABLE } from '../../chassis/node-status';
import { setCondition, type ConditionInput } from '../conditions';
import { pairHolders } from './lb-backends';
import type { ObjectStore } from '../../store/object-store';

/** One entry of status.backends (the CLI's `vnetctl lb status` reads these names). */
export type LbBackendStatus = BackendStatus;

export interface LbStatusSources {
  objects: ObjectStore;
  logger: Logger;
  loadBalancers(): LoadBalancer[];
  model(): LogicalModel;
  /**
   * Connected OpenFlow sessions by node. Absent where this process programs no node (a
   * controller of agents): then status.backends carries no connection counts.
   */
  connections?(): Iterable<[string, OpenFlowConnection]>;
  /** Connections the fast path dispatched (never seen by LbDnat), same keys as countDispatched. */
  fastPathDispatched?(): ReadonlyMap<string, number>;
  /**
   * Where agents program the nodes: what they reported dispatching, summed over the nodes
   * (same keys as countDispatched); undefined while no agent reports counts.
   */
  reportedDispatched?(): ReadonlyMap<string, number> | undefined;
  intervalMs?: number;
  /** Why a backend fails its health checks, or why nobody can check it (undefined: it passes, or has none). */
  whyUnhealthy?(lbUid: string, ip: string, node: string | undefined): string | undefined;
  /**
   * Why a node is down for its backends (node-status.ts nodeDownReason, the pipeline's own
   * answer): its switch does not answer, and connections sent there are lost; or its agent went
   * silent. Either takes them out of the slot tables while another backend takes connections (outOnDownSwitches).
   */
  nodeDown?(node: string): typeof SWITCH_UNREACHABLE | typeof FLOWS_REFUSED | typeof AGENT_NOT_REPORTING | undefined;
  /** Why a node is cut off the overlay (its Node says TunnelsUp=False NoProbeAnswered), undefined otherwise: its backends are out of other nodes' reach. */
  tunnelsDown?(node: string): string | undefined;
  /** Whether a VirtualPort (namespace/name) is bound to a NIC whose link is down (Bound=True LinkDown): what is sent to it is lost. */
  linkDown?(portKey: string): boolean;
  /** Whether the load balancer whose flows carry this cookie object id still exists (see RunningTotals). */
  lbOwnerLive?(objectId: number): boolean;
}

function ipv4FromNumber(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/** The address an LbDnat flow's conntrack NAT sends to (an IPv6 backend's register holds a hash, not the address). */
function natTarget(f: FlowStats): string | undefined {
  for (const i of f.instructions) {
    if (i.type !== 'apply_actions') continue;
    for (const a of i.actions) {
      if (a.type !== 'ct') continue;
      for (const n of a.actions ?? []) if (n.type === 'nat' && n.ipMin !== undefined) return n.ipMin;
    }
  }
  return undefined;
}

/** One LbDnat flow's count: its "vni/vip/backend" key, what tells it from the others of that key, its load balancer (cookie object id) and its age. */
export interface DispatchReading {
  key: string;
  flow: string;
  owner: number;
  packets: number;
  ageSec: number;
}

/** "vni/vip/backend" -> connections, from one node's LbDnat flows. */
export function countDispatched(flows: readonly FlowStats[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const r of dispatchReadings(flows)) out.set(r.key, (out.get(r.key) ?? 0) + r.packets);
  return out;
}

/** Every LbDnat flow of a dump with its key (flows of other tables or shapes are skipped). */
export function dispatchReadings(flows: readonly FlowStats[]): DispatchReading[] {
  const out: DispatchReading[] = [];
  for (const f of flows) {
    let vni: number | undefined;
    let vip: string | undefined;
    let backend: string | undefined;
    // A later fragment's flow passes each datagram's rest, not a new connection (a first
    // fragment's flow counts the datagrams that opened one, as the listener's own flow counts the rest).
    if (f.match.some((m) => m.field === 'ip_frag' && (Number(m.value) & 2) !== 0)) continue;
    for (const m of f.match) {
      if (m.field === NetworkField.sub.field) vni = Number(m.value) & 0xffffff;
      else if (m.field === LbBackendField.sub.field) backend = ipv4FromNumber(Number(m.value));
      else if (m.field === 'ipv4_dst') vip = String(m.value);
      else if (m.field === 'ipv6_dst') vip = String(m.value);
    }
    if (vip?.includes(':')) backend = natTarget(f);
    if (vni === undefined || !vip || !backend) continue;
    const key = `${vni}/${vip}/${backend}`;
    const owner = decodeCookie(f.cookie).objectId;
    // One flow per listener: its protocol and port tell it from the key's others; its owner
    // from the same flow of a load balancer made again with the same VIP and backends.
    const flow = `${owner}|${key}|${f.priority}|${f.match.map((m) => `${m.field}=${String(m.value)}`).join(',')}`;
    out.push({ key, flow, owner, packets: Number(f.packetCount), ageSec: f.durationSec });
  }
  return out;
}

/** How long a flow that went away keeps its count: a backend down that long starts again from 0. */
const GONE_KEPT_MS = 3_600_000;

/**
 * One node's connection counts as counters: a flow's packet count starts at 0 whenever the
 * flow is installed again (health flaps, a rebind), so what each flow had counted is kept
 * as it goes and added to what its next incarnation counts. A new incarnation shows as a
 * lower count or a younger flow than the last reading. What a deleted load balancer's flows
 * counted goes with it (ownerLive): a load balancer made again with the same VIP and
 * backends starts from 0 (QA: it showed its predecessor's counts for an hour).
 */
export class RunningTotals {
  // Entries are updated in place and marked with the update that saw them: at 65,536 flows a
  // load balancer, a new object and a seen-set entry per flow per count were half its cost.
  private readonly flows = new Map<string, { key: string; owner: number; base: number; last: number; ageSec: number; goneAt?: number; seenIn: number }>();
  private updates = 0;

  constructor(private readonly ownerLive?: (objectId: number) => boolean) {}

  update(readings: readonly DispatchReading[], now = Date.now()): Map<string, number> {
    const round = ++this.updates;
    for (const r of readings) {
      const prev = this.flows.get(r.flow);
      if (prev === undefined) {
        this.flows.set(r.flow, { key: r.key, owner: r.owner, base: 0, last: r.packets, ageSec: r.ageSec, seenIn: round });
        continue;
      }
      const again = prev.goneAt !== undefined || r.packets < prev.last || r.ageSec < prev.ageSec;
      if (again) prev.base += prev.last;
      prev.key = r.key;
      prev.owner = r.owner;
      prev.last = r.packets;
      prev.ageSec = r.ageSec;
      prev.goneAt = undefined;
      prev.seenIn = round;
    }
    for (const [flow, e] of this.flows) {
      if (e.seenIn === round) continue;
      if (this.ownerLive && !this.ownerLive(e.owner)) this.flows.delete(flow);
      else if (e.goneAt === undefined) {
        e.base += e.last;
        e.last = 0;
        e.ageSec = 0;
        e.goneAt = now;
      } else if (now - e.goneAt > GONE_KEPT_MS) this.flows.delete(flow);
    }
    const out = new Map<string, number>();
    for (const e of this.flows.values()) out.set(e.key, (out.get(e.key) ?? 0) + e.base + e.last);
    return out;
  }

  /**
   * What the switch's counters held per key at the last update (the flows there now, without
   * what earlier incarnations counted): what a process started now would read of them.
   */
  onSwitch(): Map<string, number> {
    const out = new Map<string, number>();
    // A flow gone was left with last 0.
    for (const e of this.flows.values()) if (e.last > 0) out.set(e.key, (out.get(e.key) ?? 0) + e.last);
    return out;
  }
}

/** One node's counts as last read: this process's running totals (RunningTotals) and what its switch's counters held then, per "vni/vip/backend". */
export interface NodeCounts {
  counted: ReadonlyMap<string, number>;
  onSwitch: ReadonlyMap<string, number>;
}

/**
 * Connections dispatched per "vni/vip/backend" over some nodes' LbDnat flows and the fast
 * path's counts; a node that cannot be read contributes its last known counts.
 */
export class DispatchCounter {
  /** Last counts seen per node, kept while a node is away. */
  private readonly perNode = new Map<string, NodeCounts>();
  /** Every node's counts as the last count summed them: a dump that comes later does not change them (see `byNode`). */
  private lastByNode: ReadonlyMap<string, NodeCounts> = new Map();
  private readonly totals = new Map<string, RunningTotals>();
  /** Whether the last count read every node's flows (each connected, each dump answered). */
  complete = false;

  /** The dump in flight per node (one at a time), and the nodes whose last one was late. */
  private readonly dumps = new Map<string, Promise<void>>();
  private readonly slow = new Set<string>();

  constructor(
    private readonly log: Logger,
    private readonly fastPathDispatched?: () => ReadonlyMap<string, number>,
    private readonly ownerLive?: (objectId: number) => boolean,
  ) {}

  /** A node's dump, whenever it comes: its counts from now on. */
  private apply(node: string, flows: readonly FlowStats[]): void {
    let totals = this.totals.get(node);
    if (!totals) this.totals.set(node, (totals = new RunningTotals(this.ownerLive)));
    this.perNode.set(node, { counted: totals.update(dispatchReadings(flows)), onSwitch: totals.onSwitch() });
  }

  /**
   * The nodes the last count summed, each with its counts then; a node not in it has not been
   * read by this process (not connected yet, or its dump not answered yet), or is no longer managed.
   */
  byNode(): ReadonlyMap<string, NodeCounts> {
    return this.lastByNode;
  }

  async count(connections: Iterable<[string, OpenFlowConnection]>): Promise<Map<string, number>> {
    const conns = [...connections];
    let read = 0;
    // A node vnetd no longer manages at all (deleted) stops counting.
    const managed = new Set(conns.map(([node]) => node));
    for (const node of this.perNode.keys()) if (!managed.has(node)) this.perNode.delete(node);
    for (const node of this.totals.keys()) if (!managed.has(node)) this.totals.delete(node);
    await Promise.all(
      conns.map(async ([node, conn]) => {
        if (!conn.connected) return;
        try {
          // A hung switch (its connection not yet timed out) answers no dump: without a bound, it
          // held every load balancer's status, health included, until its connection died. A slow
          // one's dump stays the one in flight (never a second meanwhile) and counts when it comes.
          let dump = this.dumps.get(node);
          if (!dump) {
            dump = conn.dumpFlows({ tableId: TABLES.LbDnat.id, ...appSelector(DEFAULT_COOKIE_APP) }).then((flows) => this.apply(node, flows));
            this.dumps.set(node, dump);
            void dump.catch(() => undefined).finally(() => this.dumps.delete(node));
          }
          const bound = new AbortController();
          const answered = await Promise.race([dump.then(() => true), sleep(DUMP_TIMEOUT_MS, false, { ref: false, signal: bound.signal }).catch(() => false)]);
          bound.abort();
          if (answered) {
            read++;
            this.slow.delete(node);
          } else if (!this.slow.has(node)) {
            this.slow.add(node);
            this.log.warn({ event: 'lb.count_slow', node, ms: DUMP_TIMEOUT_MS }, 'lb status: the node\'s flow dump is not answered in time; its last counts stand until it is');
          }
        } catch (err) {
          this.log.debug({ node, err }, 'lb status: flow dump failed; keeping last counts');
        }
      }),
    );
    this.complete = conns.length > 0 && read === conns.length;
    this.lastByNode = new Map(this.perNode);
    return sumCounts([...[...this.lastByNode.values()].map((c) => c.counted), this.fastPathDispatched?.() ?? new Map<string, number>()]);
  }
}

/** How long a count waits for one node's dump before it goes on with that node's last counts. */
const DUMP_TIMEOUT_MS = 1_000;

/** How often a restarted agent tries its first count, until its switch answers. */
const CARRY_CHECK_MS = 200;

/** How long a stop waits for its last count and write. */
const LAST_WRITE_MS = 2_000;

/** Waits for a stop's last work, LAST_WRITE_MS at most; its failure is logged. */
async function lastly(work: Promise<void>, log: Logger, failed: string): Promise<void> {
  const done = await Promise.race([work.then(() => 'done' as const, (err: unknown) => void log.warn({ err }, failed)), sleep(LAST_WRITE_MS, 'late' as const, { ref: false })]);
  if (done === 'late') log.warn({ event: 'lb.last_write_late', ms: LAST_WRITE_MS }, `${failed}: not done within ${LAST_WRITE_MS} ms`);
}

/** `run` every `ms` (never two at once; a failure goes to onError); stop() waits for one under way. */
class Periodic {
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;

  constructor(
    private readonly ms: number,
    private readonly run: () => Promise<void>,
    private readonly onError: (err: unknown) => void,
  ) {}

  /** A run asked for while one was under way: it follows that one. */
  private again = false;

  start(): void {
    this.timer = setInterval(() => this.now(), this.ms);
    this.timer.unref();
  }

  /** Runs now, or right after the run under way; nothing once stopped. */
  now(): void {
    if (!this.timer) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.run()
      .catch(this.onError)
      .finally(() => {
        this.running = undefined;
        if (this.again) {
          this.again = false;
          this.now();
        }
      });
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }
}

/** Every "vni/vip/backend" key of the model's load balancers (the keys of countDispatched), with the load balancer's uid. */
export function lbKeysOf(model: LogicalModel): Map<string, string> {
  const out = new Map<string, string>();
  for (const lb of model.loadBalancers?.values() ?? []) {
    const vni = model.networks.get(lb.network)?.vni;
    if (vni === undefined) continue;
    for (const b of lb.backends) out.set(`${vni}/${lb.vip}/${b.ip}`, lb.uid);
  }
  return out;
}

/**
 * The carry rule, shared by an agent's carry (carriedOver) and the controller's
 * (LbStatusReporter.settle) so that the two cannot drift apart. A count reported with
 * `before` on a switch's counters carries what it held beyond them: flows that outlived the
 * restart still hold `before`, and a restarted process counts that again when it reads them
 * (`now`), so what they counted while no process ran is counted once. Counters lower now than
 * before started again (ovs-vswitchd restarted, its flows added again): nothing of the count
 * is on them any more, and all of it is carried (`reset`).
 */
function carryOf(count: number, before: number, now: number): { carried: number; reset: boolean } {
  const reset = now < before;
  return { carried: Math.max(0, count - (reset ? 0 : before)), reset };
}

/**
 * What a restarted process carries over per key (where positive): carryOf each count
 * reported before, with the switch's counters behind it (`switches.before`) and now
 * (`switches.now`). Without the counters behind the report (one written before they were):
 * previous - live, which takes what was counted meanwhile for what was already reported.
 */
export function carriedOver(
  previous: ReadonlyMap<string, number>,
  live: ReadonlyMap<string, number>,
  switches?: { before: ReadonlyMap<string, number>; now: ReadonlyMap<string, number> },
): Map<string, number> {
  const out = new Map<string, number>();
  for (const [k, n] of previous) {
    const carried = switches ? carryOf(n, switches.before.get(k) ?? 0, switches.now.get(k) ?? 0).carried : n - (live.get(k) ?? 0);
    if (carried > 0) out.set(k, carried);
  }
  return out;
}

/** Counts of the same keys added up. */
export function sumCounts(parts: Iterable<ReadonlyMap<string, number>>): Map<string, number> {
  const totals = new Map<string, number>();
  for (const counts of parts) for (const [k, n] of counts) totals.set(k, (totals.get(k) ?? 0) + n);
  return totals;
}

/**
 * An agent's side of the counts: every intervalMs, its node's dispatched connections, handed
 * to onChange when they differ from the last ones handed over (for its NodeRealization), at
 * most once per minReportMs: each report rewrites the node's whole NodeRealization (200 KB
 * at 3,000 ports), and a busy load balancer changes its counts all the time.
 */
export class DispatchReporter {
  private readonly ticks: Periodic;
  /** Undefined until the first count: that one is always handed over (a restarted agent's replaces what its predecessor reported). */
  private last?: string;
  private lastReportAt = -Infinity;
  private readonly counter: DispatchCounter;
  /** Counting spaced by its cost (count-spacing.ts), except the last count at stop (lifted). */
  private readonly spacing: CountSpacing;
  private readonly log: Logger;
  /**
   * What each count carries over from the process before (a restarted agent): the count it
   * reported beyond what the switch's counters say at this process's first complete count
   * (flows removed before the restart, the fast path's counts, which start again with it).
   * A report rewrites the node's counts: without this a restart made them go down.
   */
  private carried?: Map<string, number>;
  /** The load balancer each carried count is of: it goes when that one does (see `forgetCarried`). */
  private readonly carriedFor = new Map<string, string>();
  /** The counts last handed over, to tell a count that went down (a load balancer deleted). */
  private lastCounts = new Map<string, number>();

  constructor(
    private readonly o: {
      logger: Logger;
      connections(): Iterable<[string, OpenFlowConnection]>;
      fastPathDispatched?(): ReadonlyMap<string, number>;
      /** onSwitch: the switch's counters behind counts (RunningTotals.onSwitch), for the next process's carry. */
      onChange(counts: ReadonlyMap<string, number>, onSwitch: ReadonlyMap<string, number>): void;
      intervalMs?: number;
      /** Default 30 s. */
      minReportMs?: number;
      /** What the node reported before this process: carried over (see `carried`). */
      previous?: ReadonlyMap<string, number>;
      /** The switch's counters behind `previous`, as reported with it; absent from a report written before them. */
      previousOnSwitch?: ReadonlyMap<string, number>;
      /** Whether the load balancer whose flows carry this cookie object id still exists (see RunningTotals). */
      lbOwnerLive?(objectId: number): boolean;
      /** Each "vni/vip/backend" key a load balancer has now, with its uid (lbKeysOf). */
      lbKeys?(): ReadonlyMap<string, string>;
      /** Whether a load balancer (uid) still exists. */
      lbLive?(uid: string): boolean;
    },
  ) {
    this.log = o.logger.child({ component: 'lb-dispatch' });
    this.counter = new DispatchCounter(this.log, o.fastPathDispatched, o.lbOwnerLive);
    this.ticks = new Periodic(o.intervalMs ?? 5000, () => this.refresh(), (err) => this.log.warn({ err }, 'lb connection count failed'));
    this.spacing = new CountSpacing(this.log, o.intervalMs ?? 5000);
  }

  start(): void {
    this.ticks.start();
    // The carried-over counts are right only if decided before new connections add to the
    // surviving flows' counters: decided as soon as the switch is read, not at the first tick.
    if (this.o.previous) {
      // Through the ticks' own runner: never two counts at once.
      this.carryTimer = setInterval(() => (this.carried ? clearInterval(this.carryTimer) : this.ticks.now()), CARRY_CHECK_MS);
      this.carryTimer.unref();
    }
  }

  private carryTimer?: NodeJS.Timeout;

  /**
   * Stops after a last count handed over at once (minReportMs aside): what flows removed
   * since the last report counted lives only in this process, and a graceful stop must not
   * lose it. Bounded: a switch that does not answer does not hold the stop.
   */
  async stop(): Promise<void> {
    clearInterval(this.carryTimer);
    await this.ticks.stop();
    if (this.last === undefined) return;
    this.lastReportAt = -Infinity;
    this.spacing.lift();
    await lastly(this.refresh(), this.log, 'lb connection count at stop failed');
  }

  async refresh(): Promise<void> {
    const conns = [...this.o.connections()];
    // Not connected to its switch yet (a restart): nothing counted is not "dispatched nothing".
    if (!conns.some(([, c]) => c.connected)) return;
    if (!this.spacing.allows()) return;
    const started = performance.now();
    const live = await this.counter.count(conns);
    this.spacing.record(started);
    if (this.o.previous && !this.carried) {
      // Until every switch is read, a low count is not knowledge: nothing is reported.
      if (!this.counter.complete) return;
      const nodes = [...this.counter.byNode().values()];
      const switches = this.o.previousOnSwitch && { before: this.o.previousOnSwitch, now: sumCounts(nodes.map((c) => c.counted)) };
      this.carried = carriedOver(this.o.previous, live, switches);
      const keys = this.o.lbKeys?.();
      for (const key of keys ? this.carried.keys() : []) {
        const lb = keys!.get(key);
        // A key no load balancer has: one deleted while no agent ran here.
        if (lb !== undefined) this.carriedFor.set(key, lb);
        else this.carried.delete(key);
      }
    }
    if (this.carriedFor.size) this.forgetCarried(this.o.lbKeys?.() ?? new Map<string, string>());
    const counts = this.carried?.size ? sumCounts([live, this.carried]) : live;
    // A count that went down is a load balancer deleted: its successor on the same VIP and
    // backends must not show it meanwhile, so that goes out at once.
    const wentDown = [...this.lastCounts].some(([k, n]) => (counts.get(k) ?? 0) < n);
    // The switch is read every interval, the report rate-limited: a flow removed between two
    // reports (a backend drained, a health flap) had its counter read while it lived, where
    // reading only when a report was due lost what it counted (QA: 10 connections, 1 counted).
    if (!wentDown && performance.now() - this.lastReportAt < (this.o.minReportMs ?? 30_000)) return;
    // Sorted, so that the same counts compare the same. The counters behind them too: a flow
    // gone leaves the counts as they were and its counter off the switch, and a report that
    // still said it was there would have the next process count the survivors' twice.
    const onSwitch = sumCounts([...this.counter.byNode().values()].map((c) => c.onSwitch));
    const text = JSON.stringify([sortedRecord(counts), sortedRecord(onSwitch)]);
    if (text === this.last) return;
    this.last = text;
    this.lastCounts = new Map(counts);
    this.lastReportAt = performance.now();
    this.o.onChange(counts, onSwitch);
  }

  /** Carried counts of load balancers deleted since, or of keys another load balancer has now (deleted and made again). */
  private forgetCarried(keys: ReadonlyMap<string, string>): void {
    for (const [key, lb] of this.carriedFor) {
      const now = keys.get(key);
      if ((now !== undefined && now !== lb) || this.o.lbLive?.(lb) === false) {
        this.carried?.delete(key);
        this.carriedFor.delete(key);
      }
    }
  }
}

export class LbStatusReporter {
  private readonly ticks: Periodic;
  private readonly counter: DispatchCounter;
  private readonly log: Logger;

  constructor(private readonly src: LbStatusSources) {
    this.log = src.logger.child({ component: 'lb-status' });
    this.counter = new DispatchCounter(this.log, src.fastPathDispatched, src.lbOwnerLive);
    this.ticks = new Periodic(src.intervalMs ?? 5000, () => this.refresh(), (err) => this.log.warn({ err }, 'lb status refresh failed'));
    this.spacing = new CountSpacing(this.log, src.intervalMs ?? 5000);
  }

  start(): void {
    this.ticks.start();
  }

  /**
   * Stops after a last count and write (bounded): what flows removed since the last write
   * counted (a backend's flows reinstalled) lives only in this process, and a graceful
   * restart must not lose it.
   */
  async stop(): Promise<void> {
    await this.ticks.stop();
    if (!this.counted || !this.src.connections) return;
    this.countRequested = true;
    this.spacing.lift();
    await lastly(this.refresh(), this.log, 'lb status write at stop failed');
  }

  /** A backend's health changed: its status need not wait for the next tick. */
  refreshSoon(): void {
    this.countRequested = true;
    this.ticks.now();
  }

  /**
   * A load balancer's flows changed (its spec, a backend bound or unbound): its backends,
   * BACKENDS and BackendsAvailable follow at once, with the connection counts last read
   * (dumping every node's counters on each such change would cost a burst dearly).
   */
  statusSoon(): void {
    this.ticks.now();
  }

  private countRequested = false;
  private counted = false;
  /**
   * What each backend's count carries over from before this process, by "uid|name": the
   * count its status held beyond what the switches' counters say at the first complete count
   * (what flows removed before a restart had counted; a fast path's counts start again with
   * it). Decided once per backend, so a restart never makes status.backends[].connections
   * go down, and flows that outlived the restart with their counters are not counted twice.
   * And when a backend's address changes (its port deleted and made again), what it had
   * counted: the count is the backend's, by its name in the spec (QA: 18 connections lost).
   *
   * Where status also holds the switches' counters behind its count (switchCounters), the
   * carry is what the count held beyond them, not beyond the counters now: what the switches
   * counted while no vnetd ran is counted (QA-132 F1: it was subtracted away). `unread`: the
   * nodes whose stored counter this process has not yet compared with its own first reading
   * of that node (see `settle`); until then the stored one stands in for it.
   */
  private readonly carried = new Map<string, Carried>();
  private countedAt = 0;
  private lastTotals?: ReadonlyMap<string, number>;
  /** Each node's counts as the count of lastTotals read them (where this process counts the switches). */
  private lastByNode: ReadonlyMap<string, NodeCounts> = new Map();

  /** Counting spaced by its cost (count-spacing.ts), except the last count at stop (lifted). */
  private readonly spacing: CountSpacing;

  /** One refresh: dump counters (each interval, or when asked), compute every load balancer's backends, write what changed. */
  async refresh(): Promise<void> {
    const since = performance.now() - this.countedAt;
    const spaced = this.spacing.allows();
    const wanted = this.countRequested || since >= (this.src.intervalMs ?? 5000) - 100;
    const due = !this.counted || (wanted && spaced);
    if (due) {
      // A request held back by the spacing stays asked for: the next tick past it counts.
      this.countRequested = false;
      const started = performance.now();
      this.lastTotals = await this.countConnections();
      this.lastByNode = this.counter.byNode();
      this.counted = true;
      this.countedAt = performance.now();
      this.spacing.record(started, this.countedAt);
    }
    const totals = this.lastTotals;
    const model = this.src.model();
    const lbs = this.src.loadBalancers();
    this.forgetCarried(new Set(lbs.map((lb) => lb.metadata.uid!)));
    for (const lb of lbs) {
      if (lb.metadata.deletionTimestamp) continue;
      const backends = this.backendsOf(lb, model, totals);
      const unresolved = unresolvedBackends(lb, model);
      const refs = resolvedRefs(lb, unresolved, (ip) => ambiguousHolders(lb, model, ip), listedTwice(lb, model));
      const portOf = new Map((model.loadBalancers?.get(lb.metadata.uid!)?.backends ?? []).map((b) => [b.name, b.port]));
      const troubles = whyNoConnections(lb, backends, unresolved, {
        whyUnhealthy: (ip, node) => this.src.whyUnhealthy?.(lb.metadata.uid!, ip, node),
        nodeDown: (node) => {
          const why = this.src.nodeDown?.(node);
          return why === SWITCH_UNREACHABLE ? `${SWITCH_DOWN_PREFIX}${node} does not answer` : why === FLOWS_REFUSED ? `${SWITCH_DOWN_PREFIX}${node} refuses vnetd's flows` : why === AGENT_NOT_REPORTING ? `${AGENT_SILENT_PREFIX}${node} is not reporting` : undefined;
        },
        linkDown: (name) => {
          const port = portOf.get(name);
          return port !== undefined && (this.src.linkDown?.(port) ?? false) ? port.slice(port.indexOf('/') + 1) : undefined;
        },
      });
      const available = backendsAvailable(lb, backends, troubles, cutOffNote(backends, troubles, (node) => this.src.tunnelsDown?.(node)));
      // Backends that get new connections (the BACKENDS column, as a Deployment's READY): healthy, not drained, their switch up;
      // one whose NIC's link is down too, as the slot table deals it connections (BackendsAvailable says they go unanswered).
      const healthyBackends = `${dealtCount(troubles)}/${backends.length}`;
      const conditionsOf = (cur: LoadBalancer) => setCondition(setCondition(cur.status?.conditions, refs), available);
      // The table's size as the pipeline has it (its model never shrinks it), recorded so that a
      // restart keeps it: never smaller than recorded.
      const modelled = model?.loadBalancers?.get(lb.metadata.uid!)?.slots ?? 0;
      const slotsOf = (cur: LoadBalancer) => lbTableSize(cur.spec?.backends?.length ?? 0, Math.max(cur.status?.slots ?? 0, modelled));
      // setCondition hands back the same list when nothing changes.
      const unchanged = (cur: LoadBalancer) => sameBackends(cur.status?.backends, backends) && cur.status?.healthyBackends === healthyBackends && conditionsOf(cur) === cur.status?.conditions && cur.status?.slots === slotsOf(cur);
      if (unchanged(lb)) continue;
      await this.src.objects
        .modify<LoadBalancer>(
          LOAD_BALANCERS,
          lb.metadata.namespace,
          lb.metadata.name,
          (cur) => {
            if (cur.metadata.uid !== lb.metadata.uid || unchanged(cur)) return undefined;
            return { ...cur, status: { ...(cur.status ?? {}), slots: slotsOf(cur), healthyBackends, backends, conditions: conditionsOf(cur) } };
          },
          { subresource: 'status' },
        )
        .catch((err: unknown) => this.log.warn({ lb: `${lb.metadata.namespace}/${lb.metadata.name}`, err }, 'lb status write failed'));
    }
  }

  /**
   * Connections per "vni/vip/backend" over every node's LbDnat flows and the fast path, or
   * as the agents reported them; undefined when nobody counts (no connections field).
   */
  private async countConnections(): Promise<ReadonlyMap<string, number> | undefined> {
    if (this.src.connections) return this.counter.count(this.src.connections());
    return this.src.reportedDispatched?.();
  }

  /**
   * A backend's count: what the switches count now plus what it carries over (see `carried`),
   * decided where this process counts the switches itself, once a count has read them all.
   * Until then (a restart, switches not yet connected) a low count is not knowledge, and the
   * count its status holds stands. Agents' reports are kept in the store and outlive a
   * controller's restart: there the count is theirs.
   */
  private countOf(lb: LoadBalancer, name: string, ip: string, counterKey: string, live: number): number {
    const key = `${lb.metadata.uid}|${name}`;
    const known = this.carried.get(key);
    if (known?.ip === ip) return live + this.settle(known, counterKey);
    const prev = lb.status?.backends?.find((s) => s.name === name);
    const before = prev?.connections ?? 0;
    // A new address for the backend (unresolved meanwhile: ""): its count goes on from what it was.
    if (known !== undefined || (prev !== undefined && prev.ip !== ip)) {
      this.carried.set(key, { ip, count: before });
      return live + before;
    }
    if (!this.src.connections) return live;
    // Nothing stored: nothing to carry, whatever the switches say (all they hold is this backend's, uncounted).
    if (prev === undefined) {
      this.carried.set(key, { ip, count: 0 });
      return live;
    }
    if (prev.switchCounters !== undefined) {
      const carried: Carried = { ip, count: before, unread: new Map(Object.entries(prev.switchCounters)) };
      this.carried.set(key, carried);
      return live + this.settle(carried, counterKey);
    }
    // A status written before switchCounters: the carry is what it held beyond the counters now.
    if (!this.counter.complete) return Math.max(live, before);
    const carried = Math.max(0, before - live);
    this.carried.set(key, { ip, count: carried });
    return live + carried;
  }

  /**
   * A carry with the nodes this process has read since it last looked compared, node by node
   * (carryOf): a node's stored counter is in the stored count and, where its flows outlived
   * the restart, in what this process counts of them too. A node never read (not connected
   * yet, or no longer managed) keeps its stored counter in the carry, as its last known count.
   */
  private settle(carried: Carried, counterKey: string): number {
    for (const [node, then] of carried.unread ?? []) {
      const reading = this.lastByNode.get(node);
      if (!reading) continue;
      carried.unread!.delete(node);
      const now = reading.counted.get(counterKey) ?? 0;
      const { carried: count, reset } = carryOf(carried.count, then, now);
      carried.count = count;
      if (reset) this.log.info({ event: 'lb.counters_reset', node, backend: counterKey, stored: then, now }, 'lb status: a switch counts fewer connections than status recorded (its counters started again); the recorded count is kept whole');
    }
    return carried.count;
  }

  /**
   * The switches' counters behind a backend's count (status.backends[].switchCounters):
   * each node's now, where this process has read it, else the stored one its carry still
   * stands on. Undefined while its carry is not decided (a status written before the field,
   * not every switch read yet): that status keeps saying nothing of its counters.
   */
  private switchCountersOf(lb: LoadBalancer, name: string, counterKey: string): Record<string, number> | undefined {
    const carried = this.carried.get(`${lb.metadata.uid}|${name}`);
    if (!this.src.connections || !carried) return undefined;
    const out = new Map(carried.unread);
    for (const [node, c] of this.lastByNode) {
      const n = c.onSwitch.get(counterKey) ?? 0;
      if (n > 0) out.set(node, n);
    }
    return sortedRecord(out);
  }

  /** Carry-overs of load balancers that are gone. */
  private forgetCarried(uids: ReadonlySet<string>): void {
    for (const key of this.carried.keys()) if (!uids.has(key.slice(0, key.indexOf('|')))) this.carried.delete(key);
  }

  /** Without totals (nothing counted here), no connections field. */
  private backendsOf(lb: LoadBalancer, model: LogicalModel, totals: ReadonlyMap<string, number> | undefined): LbBackendStatus[] {
    const m = model.loadBalancers?.get(lb.metadata.uid!);
    const vni = m ? model.networks.get(m.network)?.vni : undefined;
    const resolved = new Map((m?.backends ?? []).map((b) => [b.name, b]));
    return (lb.spec?.backends ?? []).map((spec) => {
      const name = spec.port ?? spec.ip ?? '';
      const b = resolved.get(name);
      const counted = (n: number) => (totals ? { connections: n } : {});
      // Unresolved (its port deleted, or no port holds its address): no address, as the
      // schema says (QA: an address backend no port holds read as "unbound" in vnetctl lb
      // status); what it had counted stays, as a counter does.
      if (!b) return { name, ip: '', node: '', healthy: false, ...counted(lb.status?.backends?.find((s) => s.name === name)?.connections ?? 0) };
      const counterKey = `${vni}/${m!.vip}/${b.ip}`;
      // Decided even while nobody counts: a new address's carry is noted when it is seen.
      const connections = this.countOf(lb, name, b.ip, counterKey, totals?.get(counterKey) ?? 0);
      const switchCounters = totals ? this.switchCountersOf(lb, name, counterKey) : undefined;
      // The pipeline's weight of 0 for a backend its spec weighs: its node is cordoned (drainedOnCordonedNodes).
      const nodeCordoned = b.weight === 0 && spec.weight !== 0;
      return { name, ip: b.ip, node: b.node ?? '', healthy: b.healthy, ...(nodeCordoned ? { nodeCordoned } : {}), ...counted(connections), ...(switchCounters ? { switchCounters } : {}) };
    });
  }
}

/**
 * What a backend's count carries over (LbStatusReporter.carried); `unread`: per node, the
 * stored switch counter still standing in for that node's, which this process has not read.
 */
interface Carried {
  ip: string;
  count: number;
  unread?: Map<string, number>;
}

const RESOLVED_REFS = 'ResolvedRefs';

/**
 * ResolvedRefs (the Gateway API's name for it): whether every backend resolves to a port of
 * the load balancer's network (a VirtualPort by name with an address of the VIP's family; an IP that a port
 * has, or allows as an address pair). One that does not gets no traffic, and otherwise
 * showed only as an empty address in status.backends while the load balancer said Ready.
 */
function resolvedRefs(lb: LoadBalancer, unresolved: ReadonlySet<string>, ambiguous: (ip: string) => string[], twice: readonly string[] = []): ConditionInput {
  const observedGeneration = lb.metadata.generation;
  const shared = (lb.spec?.backends ?? []).flatMap((b) => {
    const holders = b.ip !== undefined && unresolved.has(b.ip) ? ambiguous(b.ip) : [];
    return holders.length > 1 ? [`address ${b.ip} (ports ${holders.join(', ')})`] : [];
  });
  if (shared.length > 0) {
    return {
      type: RESOLVED_REFS,
      status: 'False',
      reason: 'AmbiguousBackend',
      message: `the allowed address pairs of several ports cover ${shared.join(', ')}: which one holds it is not known, so it gets no connections; name the port as the backend, or leave the pair on one port`,
      observedGeneration,
    };
  }
  const missing = (lb.spec?.backends ?? []).flatMap((b) => {
    if (b.port !== undefined) return unresolved.has(b.port) ? [`VirtualPort "${b.port}"`] : [];
    return b.ip !== undefined && unresolved.has(b.ip) ? [`address ${b.ip}`] : [];
  });
  // Said once nothing worse is (a backend that resolves nowhere, or ambiguously, takes nothing).
  if (missing.length === 0 && twice.length > 0) {
    return { type: RESOLVED_REFS, status: 'False', reason: 'DuplicateBackend', message: `${twice.join('; ')}: one backend listed twice, which takes its connections once; remove one of them from spec.backends`, observedGeneration };
  }
  if (missing.length === 0) return { type: RESOLVED_REFS, status: 'True', reason: 'ResolvedRefs', message: 'every backend resolves to a port of the network', observedGeneration };
  return {
    type: RESOLVED_REFS,
    status: 'False',
    reason: 'BackendNotFound',
    message: `no address in network "${lb.spec?.network}" to balance to for ${missing.join(', ')} (a VirtualPort must exist there with an IPv${lb.spec?.vip?.includes(':') ? 6 : 4} address, the VIP's family; an address must be a port's, or one of its allowed address pairs)`,
    observedGeneration,
  };
}

/**
 * Backends that resolve to an address another backend resolves to (an address backend that a
 * port backend's port took since: the load balancer's admission refuses writing it, QA-134 F7),
 * said as "address A (spec.backends NAME and NAME)".
 */
function listedTwice(lb: LoadBalancer, model: LogicalModel): string[] {
  const byIp = new Map<string, string[]>();
  for (const b of model.loadBalancers?.get(lb.metadata.uid!)?.backends ?? []) byIp.set(b.ip, [...(byIp.get(b.ip) ?? []), b.name]);
  return [...byIp].filter(([, names]) => names.length > 1).map(([ip, names]) => `address ${ip} (backends ${names.join(' and ')})`);
}

/** The ports of the load balancer's network whose allowed pairs cover ip, by name. */
function ambiguousHolders(lb: LoadBalancer, model: LogicalModel, ip: string): string[] {
  const network = model.loadBalancers?.get(lb.metadata.uid!)?.network;
  if (!network) return [];
  // A port's key is namespace/name.
  return pairHolders(ip, [...model.ports.values()].filter((p) => p.network === network)).map((p) => p.key.slice(p.key.indexOf('/') + 1));
}

/** The names (port or address) of the backends that resolve to no address of the network in the VIP's family. */
function unresolvedBackends(lb: LoadBalancer, model: LogicalModel): Set<string> {
  const known = new Set((model.loadBalancers?.get(lb.metadata.uid!)?.backends ?? []).map((b) => b.name));
  return new Set((lb.spec?.backends ?? []).map((b) => b.port ?? b.ip ?? '').filter((name) => name !== '' && !known.has(name)));
}

const BACKENDS_AVAILABLE = 'BackendsAvailable';

/**
 * BackendsAvailable (as a Deployment's Available): whether the VIP has a backend to send
 * new connections to. Ready says the VIP's flows are installed where needed; a VIP whose
 * every backend fails its checks is Ready and refuses every connection, which only this tells.
 */
function backendsAvailable(lb: LoadBalancer, backends: readonly LbBackendStatus[], troubles: ReadonlyArray<string | undefined>, note = ''): ConditionInput {
  const observedGeneration = lb.metadata.generation;
  if (backends.length === 0) return { type: BACKENDS_AVAILABLE, status: 'False', reason: 'NoBackends', message: 'the load balancer has no backends: connections to its VIP are refused', observedGeneration };
  const answered = troubles.filter((t) => t === undefined).length;
  const byTrouble = new Map<string, string[]>();
  troubles.forEach((t, i) => t !== undefined && byTrouble.set(t, [...(byTrouble.get(t) ?? []), backends[i]!.name]));
  const named = (entries: Array<[string, string[]]>) => entries.map(([t, names]) => `${names.join(', ')} (${t})`).join('; ');
  if (answered === 0) {
    // An unchecked backend on a node whose switch does not answer, or whose NIC's link is down,
    // is still dealt connections: they go unanswered, not refused (QA: "refused" while a
    // partitioned switch served them).
    const switchDown = troubles.filter(isDealtOnDownSwitch).length;
    const unanswered = switchDown + troubles.filter(isLinkDown).length;
    const known = unanswered ? ' known to be answered' : '';
    const none = backends.length === 1 ? `its only backend gets no connections${known}` : `none of its ${backends.length} backends gets connections${known}`;
    const switches = new Set(troubles.filter(isDealtOnDownSwitch)).size;
    const unless = switches === 0 ? '' : switches === 1 ? ' unless that switch still forwards them' : ' unless those switches still forward them';
    const outcome = unanswered === 0 ? 'so new connections are refused' : unanswered === backends.length ? `so new connections go unanswered${unless}` : `so new connections are refused, or go unanswered${unless}`;
    const allDrained = troubles.every(isDrained);
    return { type: BACKENDS_AVAILABLE, status: 'False', reason: allDrained ? 'AllBackendsDrained' : 'NoHealthyBackends', message: `${none}, ${outcome}: ${named([...byTrouble])}`, observedGeneration };
  }
  // A backend whose NIC's link is down gets connections (the slot table deals it its share)
  // which go unanswered: counted, and said so, not listed as getting none (QA-128 F3: status
  // said 1/2 while the data plane dealt both).
  const getting = dealtCount(troubles);
  const lost = [...byTrouble].filter(([t]) => isLinkDown(t) || isDealtOnDownSwitch(t));
  const not = [...byTrouble].filter(([t]) => !isLinkDown(t) && !isDealtOnDownSwitch(t));
  if (getting < backends.length || lost.length > 0) {
    const unanswered = lost.length ? `; those dealt to ${named(lost)} go unanswered` : '';
    const none = not.length ? `; not: ${named(not)}` : '';
    // Drained on purpose and nothing else: the operator's doing, as a Deployment scaled down,
    // not a Warning event among health failures (QA-132 F8).
    const onlyDrained = lost.length === 0 && !note && not.every(([t]) => isDrained(t));
    return { type: BACKENDS_AVAILABLE, status: 'True', reason: onlyDrained ? 'SomeBackendsDrained' : 'SomeBackendsUnavailable', message: `${getting} of ${backends.length} backends ${getting === 1 ? 'gets' : 'get'} connections${unanswered}${none}${note}`, observedGeneration };
  }
  // Every backend gets connections, but some only from their own node's clients: a reason of
  // its own, which warns (QA-128: AllBackendsAvailable headlined a load balancer whose remote
  // clients' connections to a cut-off node's backend all went unanswered, 10 of 20).
  return { type: BACKENDS_AVAILABLE, status: 'True', reason: note ? 'SomeBackendsCutOff' : 'AllBackendsAvailable', message: `${backends.length === 1 ? 'its only backend gets connections' : `all ${backends.length} backends get connections`}${note}`, observedGeneration };
}

const DRAINED = 'drained: weight 0';
const CORDONED_PREFIX = 'drained: its node ';
/** Drained on purpose, by its weight or its node's cordon: the operator's doing. */
const isDrained = (t: string | undefined): boolean => t === DRAINED || (t?.startsWith(CORDONED_PREFIX) ?? false);
const SWITCH_DOWN_PREFIX = 'the switch of its node ';
const AGENT_SILENT_PREFIX = 'the agent of its node ';
const LINK_DOWN_SUFFIX = "NIC's link is down (Bound LinkDown)";
const isLinkDown = (t: string | undefined): boolean => t?.endsWith(LINK_DOWN_SUFFIX) ?? false;

/** Backends the slot table deals new connections to: those with no trouble, and those whose NIC's link is down or whose node's switch does not answer (theirs may go unanswered). */
function dealtCount(troubles: ReadonlyArray<string | undefined>): number {
  return troubles.filter((t) => t === undefined || isLinkDown(t) || isDealtOnDownSwitch(t)).length;
}

/** A backend still dealt connections on a node whose switch does not answer or whose agent is silent: they may go unanswered. */
function isDealtOnDownSwitch(t: string | undefined): boolean {
  return t !== undefined && (t.startsWith(SWITCH_DOWN_PREFIX) || t.startsWith(AGENT_SILENT_PREFIX));
}

/**
 * Backends that get connections but sit on a node cut off the overlay: dealt connections from
 * every node, which only that node's clients reach (QA-93: status said all was well while every
 * remote client's connections went unanswered). Said, not subtracted from the count: the node's
 * own clients are served, and a node leaving (its peers' probes unanswered a moment) must not
 * make a load balancer look down.
 */
function cutOffNote(backends: readonly LbBackendStatus[], troubles: ReadonlyArray<string | undefined>, tunnelsDown: (node: string) => string | undefined): string {
  const byNode = new Map<string, string[]>();
  backends.forEach((b, i) => {
    if (troubles[i] === undefined && b.node && tunnelsDown(b.node) !== undefined) byNode.set(b.node, [...(byNode.get(b.node) ?? []), b.name]);
  });
  if (byNode.size === 0) return '';
  const parts = [...byNode].map(([node, names]) => `${names.join(', ')} (node ${node} is cut off the overlay: ${tunnelsDown(node)})`);
  return `; reached by clients on their own node only: ${parts.join('; ')}`;
}

/**
 * Why each backend (status.backends, in spec order) gets no new connections; undefined for
 * one that gets them. Those that resolve to no address are said apart: no bind or health
 * check would mend them (QA: a wrong-family port "failing health checks").
 */
function whyNoConnections(lb: LoadBalancer, backends: readonly LbBackendStatus[], unresolved: ReadonlySet<string>, why: BackendTroubles): Array<string | undefined> {
  return backends.map((b, i) => {
    if (!b.healthy && unresolved.has(b.name)) return "no address in the network of the VIP's family: see ResolvedRefs";
    if (!b.healthy) {
      if (b.node === '') return 'not bound to a node';
      // Out of the slot tables while its node's switch does not answer (outOnDownSwitches), checked or not.
      const down = why.nodeDown(b.node);
      return why.whyUnhealthy(b.ip, b.node) ?? (down ? `out of the slot tables while ${down}` : 'failing health checks');
    }
    // backends follows spec.backends (backendsOf): a weight of 0 drains its backend.
    if (lb.spec?.backends?.[i]?.weight === 0) return DRAINED;
    if (b.nodeCordoned) return `${CORDONED_PREFIX}${b.node} is cordoned`;
    // Still dealt connections on a node whose switch does not answer: every backend left is on
    // such nodes (outOnDownSwitches keeps them), or the pipeline has not taken it out yet.
    const down = why.nodeDown(b.node);
    if (down) return down;
    // Its flows stay (the VM may bring its NIC up again any moment), and so do its connections,
    // which a NIC that is down never answers: a checked backend's checks fail soon after.
    const port = why.linkDown(b.name);
    if (port !== undefined) return `port ${port}'s ${LINK_DOWN_SUFFIX}`;
    return undefined;
  });
}

/** What whyNoConnections asks beyond status.backends: why an unhealthy backend is so, which nodes' switches do not answer, which backends' NICs are down. */
interface BackendTroubles {
  whyUnhealthy(ip: string, node: string): string | undefined;
  /** Why a node is down for its backends ("the switch of its node hv2 does not answer"), undefined while it is not. */
  nodeDown(node: string): string | undefined;
  /** The backend's port name when its NIC's link is down, undefined otherwise. */
  linkDown(name: string): string | undefined;
}

function sameBackends(a: unknown, b: readonly LbBackendStatus[]): boolean {
  return JSON.stringify(a ?? null) === JSON.stringify(b);
}
