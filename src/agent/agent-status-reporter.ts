/**
 * Publishes, in the NodeRealization of its node's name, what the agent's node has installed
 * (object uid -> compiled version) and the connections its load balancing dispatched; and
 * in its Node's status.unhealthyBackends, the load balancer backends on it that fail their
 * health checks. A lone change is written at once, a burst's coalesced (one write per 100 ms
 * at most, further apart the larger the report), and failed writes retried; the report is read back every minute. The controller derives Ready from the first
 * and sums the second into LoadBalancer status; every agent and the controller take the
 * third's backends out of their slot tables.
 *
 * The report is large (an entry per object the node realizes) and changes with every
 * compile: it stays out of the Node, which every agent watches, so no agent receives
 * another's reports. The leader creates the NodeRealization; until it exists the report
 * waits. An agent of an earlier release reported in the Node's status.realized: the first
 * write here removes that.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { HypervisorNode, NodeEventReport, NodeRealization, PortSecurityDropReport, UnhealthyBackend } from '../resources/kinds';
import { sameValue } from '../resources/same-value';
import { sortedRecord } from '../resources/sorted-record';
import { NODES, NODE_REALIZATIONS } from '../store/kinds';
import type { ObjectStore } from '../store/object-store';
import { claimedByOther } from './node-claim';

/**
 * In a burst, the report's writes are spaced by its size: this long per entry (300 ms at
 * 3,000 objects), at least delayMs... (Spacing by each write's measured duration measured
 * the queue in front of it instead: behind the agent's binding writes a small node's report
 * waited 2 s.)
 */
const SPACING_PER_ENTRY_MS = 0.1;
/** ...and at most this. */
const MAX_SPACING_MS = 2_000;
/**
 * How often the report is read back and rewritten if it differs (a NodeRealization deleted
 * and created again, empty, by the leader while the node's flows did not change: nothing
 * else would report them again). A read, written only on a difference: the agent's
 * heartbeat is its NodeLease (node-lease.ts), not this object.
 */
const RECHECK_MS = 60_000;

/** How long a graceful stop waits for its last write. */
const FLUSH_AT_STOP_MS = 2_000;

/** A failed report is retried after this, doubling with each failure in a row up to REPORT_RETRY_MAX_MS. */
const REPORT_RETRY_MS = 500;
const REPORT_RETRY_MAX_MS = 5_000;
/** status.portSecurityDrops keeps the newest this many (the schema's maxItems). */
const MAX_DROP_REPORTS = 20;
const MAX_NODE_EVENT_REPORTS = 20;

/** What the node's load balancing dispatched, with the switch's counters behind it (DispatchReporter). */
interface DispatchedReport {
  counts: ReadonlyMap<string, number>;
  onSwitch?: ReadonlyMap<string, number>;
}

export class AgentStatusReporter {
  /** The pipeline's latest map (kept by reference; copied and sorted only when a write goes out) and counts. */
  private realized?: ReadonlyMap<string, string>;
  private dispatched?: DispatchedReport;
  /** The NodeRealization has something to write (each write sends both parts as they are now). */
  private pending = false;
  /** Port security drop reports not written yet. */
  private drops: PortSecurityDropReport[] = [];
  private nodeEvents: NodeEventReport[] = [];
  /** The latest failing list, until written. */
  private pendingHealth?: UnhealthyBackend[];
  /** The Node's status.realized (an earlier release's report) is known to be gone. */
  private legacyCleared = false;
  private timer?: NodeJS.Timeout;
  private recheck?: NodeJS.Timeout;
  /** This agent's claim (status.agent) as last seen in the NodeRealization. */
  private claim?: NonNullable<NodeRealization['status']>['agent'];
  private writing?: Promise<void>;
  /** When the last write began (performance.now()). */
  private lastWriteAt = -Infinity;
  private stopped = false;

  constructor(
    private readonly objects: ObjectStore,
    private readonly node: string,
    private readonly log: Logger,
    private readonly delayMs = 100,
    recheckMs = RECHECK_MS,
    /** This agent's claim holder (host/pid): its claim is written back into a NodeRealization made anew. */
    private readonly holder?: string,
  ) {
    this.recheck = setInterval(() => this.markPending(), recheckMs);
    this.recheck.unref();
  }

  report(realized: ReadonlyMap<string, string>): void {
    if (this.stopped) return;
    // Called after every compile: keeping the reference is O(1); the O(N log N) copy is
    // paid once per write (at most one per delayMs), not once per compiled object.
    this.realized = realized;
    this.markPending();
  }

  private markPending(): void {
    if (this.stopped) return;
    this.pending = true;
    this.schedule();
  }

  /** The node's failing backends changed (a rare event: written with the next write). */
  reportUnhealthyBackends(failing: UnhealthyBackend[]): void {
    if (this.stopped) return;
    this.pendingHealth = failing;
    this.schedule();
  }

  /**
   * What the node's load balancing dispatched changed (at most once per count interval), with
   * the switch's LbDnat counters behind the counts (status.dispatchedOnSwitch), which a
   * restarted agent needs to count what the switch dispatched while no agent ran.
   */
  reportDispatched(counts: ReadonlyMap<string, number>, onSwitch?: ReadonlyMap<string, number>): void {
    if (this.stopped) return;
    this.dispatched = { counts, onSwitch };
    this.markPending();
  }

  /**
   * A VM whose frames port security dropped (the pipeline's warning): written into the
   * NodeRealization's status.portSecurityDrops, from which the controller records the Warning
   * event an agent may not write itself (QA-131 F9: with agents, only logs and metrics).
   */
  reportPortSecurityDrops(report: PortSecurityDropReport): void {
    if (this.stopped) return;
    this.drops.push(report);
    if (this.drops.length > MAX_DROP_REPORTS) this.drops.splice(0, this.drops.length - MAX_DROP_REPORTS);
    this.markPending();
  }

  /**
   * A repair on the node (or its switch refusing vnetd's flows): written into the
   * NodeRealization's status.nodeEvents, from which the controller records the event on the
   * Node that an agent may not write itself (QA-155 F5: with agents, only the agent's log).
   */
  reportNodeEvent(report: NodeEventReport): void {
    if (this.stopped) return;
    this.nodeEvents.push(report);
    if (this.nodeEvents.length > MAX_NODE_EVENT_REPORTS) this.nodeEvents.splice(0, this.nodeEvents.length - MAX_NODE_EVENT_REPORTS);
    this.markPending();
  }

  /**
   * Stops; with `flush`, what is still pending is written first, once and bounded (a graceful
   * stop's last load-balancing counts: a restarted agent cannot count them again).
   */
  async stop(o: { flush?: boolean } = {}): Promise<void> {
    this.stopped = true;
    this.stopping.abort();
    clearTimeout(this.timer);
    this.timer = undefined;
    clearInterval(this.recheck);
    await this.writing;
    if (!o.flush || !(this.pending || this.pendingHealth)) return;
    await Promise.race([this.flush(), sleep(FLUSH_AT_STOP_MS, undefined, { ref: false })]);
  }

  /**
   * A change after a quiet spell goes out at once (the next turn: the reports of one turn are
   * one write), since the port's Ready waits for it: it waited delayMs (100 ms), in
   * bench:converge a plugged port's Ready came 0.1 s after its Bound. Within a burst a write
   * goes no sooner than the spacing after the previous one began, which coalesces what came
   * meanwhile: the larger the report (200 KB at 3,000 ports), the longer, since at one write
   * per 100 ms its validation and storing were a tenth of the controller's CPU.
   */
  private schedule(): void {
    if (this.timer || this.writing) return;
    const spacing = Math.min(MAX_SPACING_MS, Math.max(this.delayMs, SPACING_PER_ENTRY_MS * (this.realized?.size ?? 0)));
    const wait = Math.max(0, this.lastWriteAt + spacing - performance.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.lastWriteAt = performance.now();
      this.writing = this.flush().then(() => {
        this.writing = undefined;
        if ((this.pending || this.pendingHealth) && !this.stopped) this.schedule();
      });
    }, wait);
  }

  /** Failed flushes in a row: the next retry waits longer. */
  private failedInRow = 0;
  private readonly stopping = new AbortController();

  /** Writes what is pending; a failure is retried (after 500 ms, then doubling up to 5 s, jittered) by the next flush. */
  private async flush(): Promise<void> {
    const health = this.pendingHealth;
    const report = this.pending;
    this.pending = false;
    this.pendingHealth = undefined;
    const failures: string[] = [];
    let missing = false;
    if (report) {
      try {
        const drops = this.drops.splice(0);
        const nodeEvents = this.nodeEvents.splice(0);
        const giveBack = () => {
          this.drops.unshift(...drops);
          this.nodeEvents.unshift(...nodeEvents);
        };
        const written = await this.writeRealization(this.realized, this.dispatched, drops, nodeEvents).catch((err: unknown) => {
          giveBack();
          throw err;
        });
        if (!written) giveBack();
        if (!written) {
          missing = true;
          failures.push(`NodeRealization ${this.node} does not exist (the controller's leader creates it for Node ${this.node}: not yet, or that Node was deleted)`);
          this.pending = true;
        }
      } catch (err) {
        failures.push((err as Error).message);
        this.pending = true;
      }
    }
    if (health || (report && this.realized && !this.legacyCleared)) {
      try {
        await this.writeNode(health);
      } catch (err) {
        failures.push((err as Error).message);
        if (health) this.pendingHealth ??= health;
      }
    }
    if (failures.length > 0) {
      // The first retry comes after 0.5 s: health reports share this flush, and a backend's
      // failover waits for them (a controller failover is over by then). Failures in a row
      // back off to 5 s, jittered, as the lease does: an outage (the store down, the Node
      // deleted, the token revoked) had every agent ask twice a second for as long as it lasted,
      // and warn each time (QA-99; QA-146 F3: 72 warnings per agent in a 40 s etcd outage).
      this.failedInRow++;
      // Failing backends to report: at most 1 s apart, since a backend's failover on other
      // nodes waits for them (a controller failover is over within that; review).
      const max = this.pendingHealth ? 2 * REPORT_RETRY_MS : REPORT_RETRY_MAX_MS;
      const nominal = Math.min(max, REPORT_RETRY_MS * 2 ** (this.failedInRow - 1));
      // Jittered by a quarter, so that agents an outage failed together do not retry together.
      const ms = this.failedInRow === 1 ? nominal : Math.round(nominal * (0.75 + Math.random() / 4));
      const err = failures.join('; ');
      const fields = { event: 'agent.report_failed', err, retryInMs: ms, failures: this.failedInRow };
      // Said once per run of failures (and when what fails changes); the rest at debug.
      if (err !== this.lastFailure) this.log.warn(fields, 'could not report realized flows or failing backends; retrying, backing off (the same failure again is logged at debug)');
      else this.log.debug(fields, 'could not report realized flows or failing backends again; retrying');
      this.lastFailure = err;
      // A stop does not wait out the back-off.
      await sleep(ms, undefined, { signal: this.stopping.signal }).catch(() => undefined);
    } else {
      if (this.failedInRow > 0) this.log.info({ event: 'agent.report_resumed', failures: this.failedInRow }, `reported realized flows again after ${this.failedInRow} failed attempt(s)`);
      this.failedInRow = 0;
      this.lastFailure = undefined;
    }
  }

  /** The last failure said (a new one is a warning again). */
  private lastFailure?: string;

  /** The map and the counts as they are now (a part not known yet stays as stored); false while the NodeRealization does not exist. */
  private async writeRealization(latest: ReadonlyMap<string, string> | undefined, dispatched: DispatchedReport | undefined, drops: readonly PortSecurityDropReport[] = [], nodeEvents: readonly NodeEventReport[] = []): Promise<boolean> {
    const counts = dispatched?.counts;
    const onSwitch = dispatched?.onSwitch;
    let found = false;
    await this.objects.modify<NodeRealization>(
      NODE_REALIZATIONS,
      undefined,
      this.node,
      (cur) => {
        found = true;
        const status = cur.status ?? {};
        // Compared entry by entry (at N=3000 the map is ~200 KB of JSON: stringifying both
        // sides for every report cost more than the rest of it); sorted only when written.
        const newRealized = latest !== undefined && !sameEntries(latest, status.realized ?? {});
        // Empty counts are written too: "this node counts, and dispatched nothing" shows as 0, not as absent.
        const newCounts = counts !== undefined && (status.dispatched === undefined || !sameEntries(counts, status.dispatched) || !sameCounters(onSwitch, status.dispatchedOnSwitch));
        // Another agent has claimed the node since (this one is being fenced off): its report is not this one's to overwrite.
        if (this.holder !== undefined && status.agent !== undefined && status.agent.holder !== this.holder) return undefined;
        if (status.agent !== undefined && status.agent.holder === this.holder) this.claim = status.agent;
        // Made anew by the leader (deleted by hand): without the claim, nothing would show which agent programs the node.
        const lostClaim = status.agent === undefined && this.claim !== undefined;
        if (!newRealized && !newCounts && !lostClaim && drops.length === 0 && nodeEvents.length === 0) return undefined;
        const next = { ...status, reportTime: new Date().toISOString() };
        if (lostClaim) next.agent = this.claim;
        // An earlier release's heartbeat: renewals are the NodeLease's now.
        if (next.agent?.renewTime !== undefined) next.agent = { holder: next.agent.holder, claimTime: next.agent.claimTime, generation: next.agent.generation };
        if (newRealized) Object.assign(next, { realized: sortedRecord(latest!), objects: latest!.size });
        if (newCounts) next.dispatched = sortedRecord(counts!);
        // Counters that are not those behind the counts written would make a restarted agent miscount: none rather than stale ones.
        if (newCounts && onSwitch) next.dispatchedOnSwitch = sortedRecord(onSwitch);
        else if (newCounts) delete next.dispatchedOnSwitch;
        if (drops.length > 0) next.portSecurityDrops = [...(status.portSecurityDrops ?? []), ...drops].slice(-MAX_DROP_REPORTS);
        if (nodeEvents.length > 0) next.nodeEvents = [...(status.nodeEvents ?? []), ...nodeEvents].slice(-MAX_NODE_EVENT_REPORTS);
        return { ...cur, status: next };
      },
      { subresource: 'status' },
    );
    return found;
  }

  /**
   * Another agent holds the node's claim (this one is being fenced off and does not know it
   * yet). The Node has no claim of its own, so its failing backends are checked against the
   * NodeRealization's just before they are written: a read, once per (rare) change of them.
   */
  private async supplanted(): Promise<boolean> {
    return this.holder !== undefined && (await claimedByOther(this.objects, this.node, this.holder)) !== undefined;
  }

  /** The failing backends (when given), and no report of an earlier release's left in the Node. */
  private async writeNode(health: UnhealthyBackend[] | undefined): Promise<void> {
    // The successor's checks are the node's now; this agent's would overwrite them until it stops.
    if (health && (await this.supplanted())) health = undefined;
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

/** The map holds exactly the record's entries. */
/** Whether the switch counters reported are those stored (both absent counts as the same). */
function sameCounters(m: ReadonlyMap<string, number> | undefined, r: Readonly<Record<string, number>> | undefined): boolean {
  return m === undefined || r === undefined ? m === undefined && r === undefined : sameEntries(m, r);
}

function sameEntries<V>(m: ReadonlyMap<string, V>, r: Readonly<Record<string, V>>): boolean {
  let n = 0;
  for (const k in r) {
    if (m.get(k) !== r[k]) return false;
    n++;
  }
  return n === m.size;
}
