import { EventEmitter } from 'node:events';
import { BundleWithheldError, OpenFlowBundleError, OpenFlowConnectionError, OpenFlowRequestError } from '../connection-errors';
import type { OpenFlowConnection, OpenFlowLogger } from '../connection';
import { BundleFlags } from '../messages/bundle';
import type { FlowModMessage } from '../messages/flow-mod';
import { FlowStats, GroupDesc } from '../messages/multipart-reply';
import { DEFAULT_COOKIE_APP, FlowOwner, appSelector } from './cookie';
import { DesiredState, PreparedOwner } from './desired-state';
import { adoptableRound, planFullSync, planIncremental } from './diff';
import { FlowSyncError, FlowTableFencedError, refusedAsSlave, type FencedHow, type OwnerConflict } from './errors';
import type { OfMessage } from '../message';
import type { RoleMessage } from '../messages/simple';
import { SyncPlan, planCounts, planMessages } from './plan';
import { DesiredFlow, DesiredGroup, OwnerChange, SyncCounters, SyncResult, emptyCounters } from './types';

export interface FlowTableManagerOptions {
  /**
   * This run's round (1..65535). Absent: adopted at the first sync from the switch (the
   * round holding most of our flows, 1 on an empty switch), so that a restart sends only
   * what differs between the table and the desired state: flows already right keep their
   * counters and age, and ovs-vswitchd revalidates nothing for them. A round given here
   * that differs from the switch's re-adds every flow under it, then deletes the old
   * round with one masked delete (Antrea's way), in one atomic bundle either way.
   */
  round?: number;
  /** The cookie's app byte that marks flows as ours (default 0x56). */
  app?: number;
  /**
   * Group ids this manager owns: groups in this range that nobody desires are
   * deleted. Narrow it when other controllers put groups on the same bridge.
   * Default: every regular group id.
   */
  groupIdRange?: { min: number; max: number };
  /**
   * An incremental change is sent no sooner than this long after the previous bundle
   * committed (default 0: at once). During a burst of changes a switch that gets a bundle
   * the moment the last one is done never idles, and each of ovs-vswitchd's main-loop
   * iterations costs O(ports) on the userspace datapath (10-20 ms at 1,500 ports), so it
   * spends a whole core however the flows arrive. Held back, changes coalesce upstream
   * into fewer, larger bundles: 100 ms took its CPU for N=3000 ports from 9-11 s to 5.6 s
   * and the whole realize from 9.4-11 s to 7.1-7.5 s. A change after a quiet spell goes
   * at once.
   */
  minIntervalMs?: number;
  /**
   * While changes keep coming (each one within the interval of the previous bundle), the
   * interval doubles up to this (default minIntervalMs); a change after a quiet spell goes
   * at once and sets it back to minIntervalMs. A long burst then costs the switch a few
   * large bundles instead of one every minIntervalMs, and a lone change waits for nothing.
   */
  maxIntervalMs?: number;
  /**
   * The interval only starts doubling once a burst has lasted this long (default 0): a
   * short burst (a hundred ports) then ends at minIntervalMs, where its last changes waited
   * for a doubled interval; a long one still turns into a few large bundles.
   */
  burstGraceMs?: number;
  /**
   * More connections to the same switch ("lanes"). An incremental change of more than
   * LANE_MESSAGES flow_mods is spread over the connected ones, each owner's flows whole in
   * one lane's bundle. ovs-vswitchd reads at most 50 messages per connection per main-loop
   * iteration, and with many userspace-datapath ports an iteration is expensive: two to four
   * lanes cut its CPU for the same flows by 25-45% (test/bench/ovs-lanes.bench.ts). Full
   * syncs stay one atomic bundle on the main connection (a restart's hitless switch of
   * rounds relies on it). The caller owns the lanes (connects and closes them).
   */
  lanes?: readonly OpenFlowConnection[];
  /**
   * Fencing among controller replicas: on every (re)connection, before anything else, the
   * manager claims the switch's master role with this generation (a number that rises with
   * each new leader). The switch refuses a claim below the highest it has seen
   * (OFPRRFC_STALE), and a newer leader's claim demotes this connection to a slave, whose
   * bundles the switch refuses (OFPBRC_IS_SECONDARY). Either way the manager is fenced
   * (FlowTableFencedError, the `fenced` event) and sends nothing more: a leader deposed
   * while it stalled cannot overwrite its successor's flows. A switch has one master, so
   * lanes keep OpenFlow's equal role, which the switch does not fence: a lane's bundle is
   * filled, then committed only once the main connection has answered that it is still
   * the master (else discarded, and the manager fenced if it was demoted). What is left
   * unfenced is the time between that answer and the lane's commit reaching the switch: a
   * round trip, longer if this process stalls in between. Absent: no role request, every
   * connection keeps the equal role.
   */
  generationId?: bigint;
  logger?: OpenFlowLogger;
  /** Time for pacing (default: performance.now and setTimeout); tests give a virtual one. */
  clock?: PacingClock;
}

/** What pacing reads and waits on. */
export interface PacingClock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

/** Every bundle: all or nothing, applied in the order sent (groups before the flows using them). */
const BUNDLE_FLAGS = BundleFlags.ATOMIC | BundleFlags.ORDERED;

const REAL_CLOCK: PacingClock = {
  now: () => performance.now(),
  sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
};

/** The lane of an owner's flows: its cookie (owner and round), spread by a multiplicative hash. */
function laneOf(cookie: bigint, lanes: number): number {
  const low = Number(cookie & 0xffffffffn);
  const high = Number((cookie >> 32n) & 0xffffffffn);
  return (Math.imul(low ^ Math.imul(high, 0x27d4eb2d), 0x9e3779b1) >>> 0) % lanes;
}

/** Below this many flow_mods a change goes as one bundle: one lane already takes it in one iteration. */
export const LANE_MESSAGES = 50;

type Events = {
  /** A full sync finished (on connect, reconnect or resync()). */
  synced: [SyncResult];
  /** A full sync triggered by a (re)connect failed; resync() or the next reconnect retries. */
  syncError: [Error];
  /** The switch has a newer master (FlowTableManagerOptions.generationId); emitted once. */
  fenced: [FlowTableFencedError];
  /** A full sync (or verify) dumped our flows, with their counters: read, never kept. */
  dumped: [readonly FlowStats[]];
};

export interface FlowTableManager {
  /** This run's round; undefined until the first sync when it was not given. */
  readonly round: number | undefined;
  /** Set once the switch has fenced this manager off (see generationId): it sends nothing more. */
  readonly fenced: FlowTableFencedError | undefined;
  /**
   * The switch has confirmed the whole desired state: a full sync succeeded on the current
   * connection and every change since was committed (its bundle's commit answered). False
   * before the first sync, while disconnected or fenced, and once a change's outcome is
   * unknown (a lane's connection lost under its bundle, a withheld lane) until the full sync
   * that settles it. What a caller may report as installed: a change recorded but not sent
   * leaves apply() nothing to send the next time, so "nothing to send" alone proves nothing.
   */
  readonly inSync: boolean;
  /** Subscribes to the connection and syncs now if it is up. */
  start(): Promise<void>;
  stop(): void;
  /** Replaces one owner's flows (and groups); sends only that owner's delta. */
  setDesired(owner: FlowOwner, flows: readonly DesiredFlow[], groups?: readonly DesiredGroup[]): Promise<SyncResult>;
  removeOwner(owner: FlowOwner): Promise<SyncResult>;
  /** Several owners' changes in one bundle. */
  apply(changes: readonly OwnerChange[], options?: { onConflict?: (c: OwnerConflict) => void }): Promise<SyncResult>;
  /** Reads the switch and sends whatever differs from the desired state. */
  resync(): Promise<SyncResult>;
  /** Removes every flow and group of ours from the switch (it is retired); the desired state is empty after. */
  retire(): Promise<SyncResult>;
  /**
   * Counts the switch's flows (one aggregate stats request each for ours and for all) and
   * resyncs when the count of ours differs from the desired one: flows deleted or added by
   * hand, or a table OVS flushed (a fail_mode change does) while the connection stayed up.
   * A flow changed in place keeps the count: verify() finds it.
   */
  audit(): Promise<AuditResult>;
  /**
   * Reads every flow and group of ours and repairs what differs from the desired state
   * (a full sync): flows changed in place (`ovs-ofctl mod-flows`), which keep the count
   * audit() reads. A dump of the whole table: run it far less often than audit().
   */
  verify(): Promise<AuditResult>;
  /**
   * Resolves when an incremental change may go (minIntervalMs, maxIntervalMs). apply() paces
   * itself; a caller that waits for this before it computes its changes lets more of them
   * coalesce, and sends the last change of a burst without a second wait.
   */
  pace(): Promise<void>;
  counters(): SyncCounters;
  on<E extends keyof Events>(event: E, listener: (...args: Events[E]) => void): this;
  off<E extends keyof Events>(event: E, listener: (...args: Events[E]) => void): this;
  once<E extends keyof Events>(event: E, listener: (...args: Events[E]) => void): this;
}

export interface AuditResult {
  /** False when nothing could be counted (not connected, not synced yet, fenced). */
  checked: boolean;
  /** A full sync was sent because the count of our flows was off (audit), or it changed flows and groups that differed (verify). */
  repaired: boolean;
  /** verify(): the flow and group mods its repair sent. */
  changed?: number;
  ours?: number;
  desired?: number;
  foreign?: number;
  /** When repaired: the first few differences the repair undid, in words (flows as ovs-ofctl prints them). */
  drift?: string[];
}

const noopLogger: OpenFlowLogger = { debug: () => undefined, info: () => undefined, warn: () => undefined };
const NOT_SENT = { sent: false, flowMods: 0, groupMods: 0, durationMs: 0 } as const;

class Manager extends EventEmitter implements FlowTableManager {
  private readonly desired: DesiredState;
  private readonly app: number;
  private readonly log: OpenFlowLogger;
  private roundValue: number | undefined;
  /** True until a full sync succeeds on the current connection. */
  private needFullSync = true;
  /** Nothing is sent before start(): callers may load all desired state first. */
  private started = false;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly stats = emptyCounters();
  private readonly minIntervalMs: number;
  private readonly maxIntervalMs: number;
  /** The pacing interval now: minIntervalMs after a quiet spell, doubling during a burst. */
  private intervalMs: number;
  /** A change since the last bundle had to wait for the interval: the burst goes on. */
  private heldBack = false;
  private readonly clock: PacingClock;
  /** When the last bundle committed (clock.now()). */
  private lastSentAt = -Infinity;
  /** When the current burst's first bundle committed (one not held back). */
  private burstStartedAt = -Infinity;
  private readonly burstGraceMs: number;
  private readonly lanes: readonly OpenFlowConnection[];
  private readonly generationId: bigint | undefined;
  private fencedBy: FlowTableFencedError | undefined;
  /** OVS tells a demoted master at once (ONFT_ROLE_STATUS), before its next bundle is refused. */
  private readonly onMessage = (m: OfMessage): void => {
    if (m.type === 'role_status' && m.role === 'slave') this.fence('demoted', m.generationId);
  };
  private readonly onConnected = (): void => {
    this.needFullSync = true;
    void this.enqueue(() => this.fullSync()).catch((e: Error) => this.emit('syncError', e));
  };
  private readonly onDisconnected = (): void => {
    this.needFullSync = true;
  };

  constructor(
    private readonly conn: OpenFlowConnection,
    opts: FlowTableManagerOptions,
  ) {
    super();
    if (opts.round !== undefined && (!Number.isInteger(opts.round) || opts.round < 1 || opts.round > 0xffff)) {
      throw new RangeError(`round must be 1..65535, got ${opts.round}`);
    }
    this.roundValue = opts.round;
    this.app = opts.app ?? DEFAULT_COOKIE_APP;
    this.desired = new DesiredState(opts.groupIdRange ?? { min: 0, max: 0xffffff00 });
    this.log = opts.logger ?? noopLogger;
    this.minIntervalMs = opts.minIntervalMs ?? 0;
    this.maxIntervalMs = Math.max(this.minIntervalMs, opts.maxIntervalMs ?? 0);
    this.intervalMs = this.minIntervalMs;
    this.burstGraceMs = opts.burstGraceMs ?? 0;
    this.clock = opts.clock ?? REAL_CLOCK;
    this.lanes = opts.lanes ?? [];
    this.generationId = opts.generationId;
  }

  get round(): number | undefined {
    return this.roundValue;
  }

  get fenced(): FlowTableFencedError | undefined {
    return this.fencedBy;
  }

  get inSync(): boolean {
    return this.started && !this.needFullSync && this.conn.connected && this.fencedBy === undefined;
  }

  async start(): Promise<void> {
    this.started = true;
    this.conn.on('connected', this.onConnected);
    this.conn.on('disconnected', this.onDisconnected);
    if (this.generationId !== undefined) this.conn.on('message', this.onMessage);
    if (this.conn.connected) await this.enqueue(() => this.fullSync());
  }

  stop(): void {
    this.started = false;
    this.needFullSync = true;
    this.conn.off('connected', this.onConnected);
    this.conn.off('disconnected', this.onDisconnected);
    this.conn.off('message', this.onMessage);
  }

  counters(): SyncCounters {
    return { ...this.stats, desiredFlows: this.desired.flowCount, desiredGroups: this.desired.groupCount };
  }

  setDesired(owner: FlowOwner, flows: readonly DesiredFlow[], groups: readonly DesiredGroup[] = []): Promise<SyncResult> {
    return this.apply([{ owner, flows, groups }]);
  }

  removeOwner(owner: FlowOwner): Promise<SyncResult> {
    return this.apply([{ owner, flows: [], groups: [] }]);
  }

  /**
   * options.onConflict: an owner whose flows or groups another owner holds is left out
   * (and reported, possibly twice: when called and again when sent) instead of the whole
   * update failing.
   */
  apply(changes: readonly OwnerChange[], options: { onConflict?: (c: OwnerConflict) => void } = {}): Promise<SyncResult> {
    // Validate now, so a bad flow fails at the call site and nothing is queued.
    let prepared: PreparedOwner[];
    try {
      prepared = this.desired.prepare(changes, options.onConflict);
    } catch (e) {
      return Promise.reject(e as Error);
    }
    const version = this.desired.version;
    return this.enqueue(() => this.incremental(changes, this.desired.version === version ? prepared : undefined, options.onConflict));
  }

  /**
   * Removes every flow and group of ours from the switch in one bundle, for a switch that
   * is retired (its node deleted); other cookies' flows stay. The desired state is empty
   * afterwards. NOT_SENT when not connected: the switch keeps what it has.
   */
  retire(): Promise<SyncResult> {
    return this.enqueue(() => {
      this.desired.clear();
      return this.fullSync();
    });
  }

  resync(): Promise<SyncResult> {
    return this.enqueue(() => this.fullSync());
  }

  audit(): Promise<AuditResult> {
    // Queued behind changes under way: the desired count is then the one the switch should have.
    return this.enqueue(async (): Promise<AuditResult> => {
      if (!this.started || !this.conn.connected || this.needFullSync || this.fencedBy) return { checked: false, repaired: false };
      const count = async (selector: { cookie: bigint; cookieMask: bigint }) => {
        const body = await this.conn.multipart({ kind: 'aggregate', tableId: 0xff, outPort: 0xffffffff, outGroup: 0xffffffff, match: [], ...selector });
        return body.kind === 'aggregate' ? body.flowCount : undefined;
      };
      const [ours, all] = await Promise.all([count(appSelector(this.app)), count({ cookie: 0n, cookieMask: 0n })]);
      if (ours === undefined || all === undefined) return { checked: false, repaired: false };
      const desired = this.desired.flowCount;
      const foreign = all - ours;
      if (foreign !== this.stats.foreignFlows) {
        if (foreign > 0) this.log.warn({ foreign }, 'openflow audit: flows on the switch that vnetd did not write (another cookie); left in place');
        this.stats.foreignFlows = foreign;
      }
      if (ours === desired) return { checked: true, repaired: false, ours, desired, foreign };
      this.stats.driftRepairs++;
      this.log.warn({ found: ours, desired }, 'openflow audit: the switch holds a different number of our flows than desired (changed behind our back); full sync');
      const { drift } = await this.repairingSync();
      return { checked: true, repaired: true, ours, desired, foreign, ...(drift?.length ? { drift } : {}) };
    });
  }

  verify(): Promise<AuditResult> {
    return this.enqueue(async (): Promise<AuditResult> => {
      if (!this.started || !this.conn.connected || this.needFullSync || this.fencedBy) return { checked: false, repaired: false };
      const r = await this.repairingSync();
      if (!r.sent) return { checked: false, repaired: false };
      const changed = r.flowMods + r.groupMods;
      if (changed === 0) return { checked: true, repaired: false, changed };
      this.stats.driftRepairs++;
      this.log.warn({ flowMods: r.flowMods, groupMods: r.groupMods, drift: r.drift }, 'openflow verify: flows or groups of ours on the switch differed from the desired ones (changed behind our back); repaired');
      return { checked: true, repaired: true, changed, ...(r.drift?.length ? { drift: r.drift } : {}) };
    });
  }

  async pace(): Promise<void> {
    const wait = this.lastSentAt + this.intervalMs - this.clock.now();
    if (wait <= 0) return;
    this.heldBack = true;
    await this.clock.sleep(wait);
  }

  /** One operation at a time: each diff must see the state the previous one left. */
  private enqueue<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async incremental(changes: readonly OwnerChange[], early: PreparedOwner[] | undefined, onConflict?: (c: OwnerConflict) => void): Promise<SyncResult> {
    // Paced: the caller's next changes coalesce while this one waits.
    await this.pace();
    // Prepared again only if queued updates changed the desired state meanwhile.
    const prepared = early ?? this.desired.prepare(changes, onConflict);
    if (this.needFullSync && this.started && this.conn.connected) {
      await this.fullSync().catch((e: Error) => this.emit('syncError', e));
    }
    if (this.needFullSync || !this.started || !this.conn.connected || this.roundValue === undefined) {
      // Recorded; the full sync on the next connect installs it.
      this.desired.commit(prepared);
      return NOT_SENT;
    }
    const plan = planIncremental(prepared, { round: this.roundValue, app: this.app });
    const result = await this.send(plan, 'incremental', prepared);
    if (result.sent) this.stats.incrementalUpdates++;
    return result;
  }

  /**
   * An audit's or verify's full sync: a failure is a syncError, as a connect's is, so the
   * owner retries (and puts back what the switch lost with its flows, its meters). It was
   * the audit's own failure only, and the table stayed drifted while the manager said in sync
   * (QA-155 F1: a bridge flushed under a live connection kept 0 flows for minutes).
   */
  private repairingSync(): Promise<SyncResult & { drift?: string[] }> {
    return this.fullSync().catch((e: Error) => {
      this.emit('syncError', e);
      throw e;
    });
  }

  /** Dumps the switch, sends what differs from the desired state. A failure leaves a full sync due (not in sync). */
  private async fullSync(): Promise<SyncResult & { drift?: string[] }> {
    if (!this.conn.connected || this.fencedBy) return NOT_SENT;
    try {
      return await this.dumpAndSend();
    } catch (e) {
      this.needFullSync = true;
      throw e;
    }
  }

  private async dumpAndSend(): Promise<SyncResult & { drift?: string[] }> {
    const started = performance.now();
    if (this.generationId !== undefined && !(await this.claimMaster(this.generationId))) return NOT_SENT;
    const [dump, groupsBody] = await Promise.all([
      this.conn.dumpFlows({ tableId: 0xff, ...appSelector(this.app) }),
      this.conn.multipart({ kind: 'group_desc' }),
    ]);
    const groups: GroupDesc[] = groupsBody.kind === 'group_desc' ? groupsBody.groups : [];
    this.emit('dumped', dump);
    if (this.roundValue === undefined) {
      this.roundValue = adoptableRound(dump) ?? 1;
      this.log.info({ round: this.roundValue, dumped: dump.length }, 'openflow sync: adopted round');
    }
    const { plan, unchanged, removed, drift } = await planFullSync(
      this.desired.flows(),
      this.desired.groups(),
      dump,
      groups,
      (id) => this.desired.ownsGroupId(id),
      { round: this.roundValue, app: this.app },
    );
    const first = this.stats.fullSyncs === 0;
    const result = await this.send(plan, 'full', undefined, started);
    this.needFullSync = !result.sent;
    this.stats.fullSyncs++;
    // Ours but not desired, on first contact: objects deleted while no controller ran, or a
    // controller whose store never programmed this switch (a new data dir pointed at a
    // switch in service), which then cuts off its VMs. Either way the operator should know.
    if (first && result.sent && removed > 0) {
      this.log.warn({ removed, dumped: dump.length }, `openflow first sync: removed ${removed} of this application's flows that the desired state does not hold (deleted while the controller was away, or this controller's store is not the one that programmed the switch)`);
    }
    this.stats.lastSyncUnchangedFlows = unchanged;
    this.log.info({ ...result, unchanged, dumped: dump.length }, 'openflow full sync done');
    this.emit('synced', result);
    return { ...result, drift };
  }

  /**
   * Sends a plan as one atomic bundle, or an incremental one over the lanes (see
   * FlowTableManagerOptions.lanes); commits `prepared` to the desired state on success.
   */
  private async send(plan: SyncPlan, phase: 'full' | 'incremental', prepared?: PreparedOwner[], started = performance.now()): Promise<SyncResult> {
    const counts = planCounts(plan);
    const lanes = phase === 'incremental' && counts.flowMods > LANE_MESSAGES && plan.staleRoundDeletes.length === 0 ? this.connectedLanes(counts.flowMods) : [];
    try {
      if (lanes.length > 1) await this.sendOverLanes(plan, lanes);
      else {
        const msgs = planMessages(plan);
        if (msgs.length > 0) {
          await this.conn.bundle(msgs, { flags: BUNDLE_FLAGS });
          this.stats.bundlesCommitted++;
        }
      }
    } catch (e) {
      const cause = e instanceof LanesPartlyApplied ? e.cause : e;
      if (cause instanceof BundleWithheldError && !this.fencedBy) {
        // Withheld because the main connection reconnected and is not the master again yet:
        // what other lanes committed is unknown until the full sync that claims it again.
        this.stats.bundlesFailed++;
        this.needFullSync = true;
        if (prepared) this.desired.commit(prepared);
        this.resyncSoon();
        return NOT_SENT;
      }
      if (this.generationId !== undefined && (cause instanceof BundleWithheldError || refusedAsSlave(cause))) {
        // Nothing of it applied (the switch checks the role before it opens or commits a
        // bundle, and a lane's waits for stillMaster), or only lanes committed before a
        // newer master's claim, whose full sync follows its claim.
        this.stats.bundlesFailed++;
        this.fence('refused bundle', await this.switchGeneration());
        if (prepared) this.desired.commit(prepared);
        return NOT_SENT;
      }
      if (e instanceof LanesPartlyApplied && e.cause instanceof OpenFlowBundleError) {
        // Some lanes committed: neither the old nor the new desired state is on the switch.
        // The next operation's full sync puts the old one back; the caller retries.
        this.stats.bundlesFailed++;
        this.needFullSync = true;
        throw new FlowSyncError(phase, e.cause, true);
      }
      if (e instanceof OpenFlowBundleError) {
        this.stats.bundlesFailed++;
        throw new FlowSyncError(phase, e);
      }
      if (e instanceof OpenFlowConnectionError && prepared) {
        // Outcome unknown; the full sync after reconnecting settles it either way.
        this.needFullSync = true;
        this.desired.commit(prepared);
        this.resyncSoon();
        return NOT_SENT;
      }
      throw e;
    }
    if (prepared) this.desired.commit(prepared);
    if (counts.flowMods + counts.groupMods > 0) {
      this.lastSentAt = this.clock.now();
      // Held back since the previous bundle: a burst, so the next waits longer (once the
      // burst is past its grace); else a burst starts.
      if (!this.heldBack) {
        this.burstStartedAt = this.lastSentAt;
        this.intervalMs = this.minIntervalMs;
      } else if (this.lastSentAt - this.burstStartedAt >= this.burstGraceMs) {
        this.intervalMs = Math.min(this.maxIntervalMs, this.intervalMs * 2);
      }
      this.heldBack = false;
    }
    this.stats.flowModsSent += counts.flowMods;
    this.stats.groupModsSent += counts.groupMods;
    const durationMs = performance.now() - started;
    this.stats.lastSyncDurationMs = durationMs;
    this.stats.lastSyncFlowMods = counts.flowMods;
    return { sent: true, ...counts, durationMs };
  }

  /**
   * A change's outcome became unknown while the main connection stays up (a lane's connection
   * was lost under its bundle, or a lane withheld its commit): no reconnect will bring the
   * full sync that settles it, and audit() skips a manager out of sync, so one is queued
   * here (after the operation under way). A main connection that is down gets its full sync
   * when it is back (onConnected).
   */
  private resyncSoon(): void {
    if (!this.started || !this.conn.connected || this.fencedBy) return;
    // Checked again when it runs: stop() in between leaves needFullSync set for a next start.
    void this.enqueue(() => (this.started && this.needFullSync ? this.fullSync() : Promise.resolve(NOT_SENT))).catch((e: Error) => this.emit('syncError', e));
  }

  /** Claims the master role on the current connection; false if the switch says the generation is stale. */
  private async claimMaster(generationId: bigint): Promise<boolean> {
    try {
      await this.conn.request({ type: 'role_request', role: 'master', generationId });
      return true;
    } catch (e) {
      if (!(e instanceof OpenFlowRequestError) || e.error.name !== 'OFPRRFC_STALE') throw e;
      this.fence('stale claim', await this.switchGeneration());
      return false;
    }
  }

  /**
   * Whether the main connection still holds the master role (asked, not assumed). A slave
   * was demoted by a newer master: fenced. Equal is a connection not claimed yet (it
   * reconnected, and the full sync that claims it again is queued behind this send): not
   * fenced, the lane just does not commit.
   */
  private async stillMaster(): Promise<boolean> {
    if (this.fencedBy) return false;
    const r = await this.conn.request<RoleMessage>({ type: 'role_request', role: 'nochange', generationId: 0n });
    if (r.role === 'master') return true;
    if (r.role === 'slave') this.fence('demoted', r.generationId);
    return false;
  }

  /** The switch's master generation, asked without changing our role; undefined if it does not answer. */
  private async switchGeneration(): Promise<bigint | undefined> {
    try {
      const r = await this.conn.request<RoleMessage>({ type: 'role_request', role: 'nochange', generationId: 0n });
      return r.generationId;
    } catch {
      return undefined;
    }
  }

  private fence(how: FencedHow, switchGenerationId: bigint | undefined): void {
    if (this.fencedBy || this.generationId === undefined) return;
    this.fencedBy = new FlowTableFencedError(this.generationId, switchGenerationId, how);
    this.needFullSync = true;
    this.log.warn({ generationId: String(this.generationId), switchGenerationId: switchGenerationId === undefined ? undefined : String(switchGenerationId), how }, 'openflow: fenced off by a newer master; sending nothing more');
    this.emit('fenced', this.fencedBy);
  }

  /** The main connection and as many connected lanes as the flow_mods fill (LANE_MESSAGES each). */
  private connectedLanes(flowMods: number): OpenFlowConnection[] {
    const want = Math.ceil(flowMods / LANE_MESSAGES);
    const out = [this.conn];
    for (const l of this.lanes) {
      if (out.length >= want) break;
      if (l.connected) out.push(l);
    }
    return out;
  }

  /**
   * Group adds and modifies first (flows may point at them), then the flow_mods, each owner's
   * whole in one lane's bundle (an owner's flows change together, and a flow that moves between
   * owners ends right in either order: deletes and modifies match the old owner's cookie
   * exactly), all lanes awaited, then group deletes (nothing points at them any more).
   */
  private async sendOverLanes(plan: SyncPlan, lanes: readonly OpenFlowConnection[]): Promise<void> {
    const groupsFirst = [...plan.groupAdds, ...plan.groupModifies];
    if (groupsFirst.length) {
      await this.conn.bundle(groupsFirst, { flags: BUNDLE_FLAGS });
      this.stats.bundlesCommitted++;
    }
    const parts = lanes.map((): FlowModMessage[] => []);
    for (const m of [...plan.flowAdds, ...plan.flowModifies, ...plan.flowDeletes]) parts[laneOf(m.cookie, lanes.length)]!.push(m);
    // Lanes other than the main connection are not fenced by the switch: with a generation,
    // each commits only after the main connection says it is still the master.
    const fenced = this.generationId !== undefined ? { beforeCommit: () => this.stillMaster() } : {};
    const results = await Promise.allSettled(parts.map((msgs, i) => (msgs.length ? lanes[i]!.bundle(msgs, { flags: BUNDLE_FLAGS, ...(lanes[i] === this.conn ? {} : fenced) }) : Promise.resolve())));
    this.stats.bundlesCommitted += results.filter((r, i) => r.status === 'fulfilled' && parts[i]!.length > 0).length;
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw partlyApplied(failed.reason);
    if (plan.groupDeletes.length) {
      // The flows are in by now: a rejection here leaves a half-applied change like a lane's.
      await this.conn.bundle(plan.groupDeletes, { flags: BUNDLE_FLAGS }).catch((e: unknown) => {
        throw partlyApplied(e);
      });
      this.stats.bundlesCommitted++;
    }
  }
}

/** A lane's bundle was rejected or withheld while others may have committed (FlowSyncError.partial). */
class LanesPartlyApplied extends Error {
  constructor(override readonly cause: OpenFlowBundleError | BundleWithheldError) {
    super(cause.message);
  }
}

/** A rejected or withheld bundle once some lanes have committed: LanesPartlyApplied; anything else as it is. */
function partlyApplied(e: unknown): unknown {
  return e instanceof OpenFlowBundleError || e instanceof BundleWithheldError ? new LanesPartlyApplied(e) : e;
}

/** A flow table manager for one switch connection. Call start() once. */
export function createFlowTableManager(conn: OpenFlowConnection, opts: FlowTableManagerOptions = {}): FlowTableManager {
  return new Manager(conn, opts);
}
