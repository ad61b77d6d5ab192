import { EventEmitter } from 'node:events';
import { OpenFlowBundleError, OpenFlowConnectionError } from '../connection-errors';
import type { OpenFlowConnection, OpenFlowLogger } from '../connection';
import { BundleFlags } from '../messages/bundle';
import { GroupDesc } from '../messages/multipart-reply';
import { DEFAULT_COOKIE_APP, FlowOwner, appSelector, nextRound } from './cookie';
import { DesiredState, PreparedOwner } from './desired-state';
import { planFullSync, planIncremental, roundsIn } from './diff';
import { FlowSyncError } from './errors';
import { SyncPlan, planCounts, planMessages } from './plan';
import { DesiredFlow, DesiredGroup, OwnerChange, SyncCounters, SyncResult, emptyCounters } from './types';

export interface FlowTableManagerOptions {
  /**
   * This run's round (1..65535), stored by the caller across restarts. Absent:
   * chosen at the first sync as the round after the highest one of ours found
   * on the switch, so a restart always gets a new round.
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
  logger?: OpenFlowLogger;
}

type Events = {
  /** A full sync finished (on connect, reconnect or resync()). */
  synced: [SyncResult];
  /** A full sync triggered by a (re)connect failed; resync() or the next reconnect retries. */
  syncError: [Error];
};

export interface FlowTableManager {
  /** This run's round; undefined until the first sync when it was not given. */
  readonly round: number | undefined;
  /** Subscribes to the connection and syncs now if it is up. */
  start(): Promise<void>;
  stop(): void;
  /** Replaces one owner's flows (and groups); sends only that owner's delta. */
  setDesired(owner: FlowOwner, flows: readonly DesiredFlow[], groups?: readonly DesiredGroup[]): Promise<SyncResult>;
  removeOwner(owner: FlowOwner): Promise<SyncResult>;
  /** Several owners' changes in one bundle. */
  apply(changes: readonly OwnerChange[]): Promise<SyncResult>;
  /** Reads the switch and sends whatever differs from the desired state. */
  resync(): Promise<SyncResult>;
  counters(): SyncCounters;
  on<E extends keyof Events>(event: E, listener: (...args: Events[E]) => void): this;
  off<E extends keyof Events>(event: E, listener: (...args: Events[E]) => void): this;
  once<E extends keyof Events>(event: E, listener: (...args: Events[E]) => void): this;
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
  /** When the last bundle committed (performance.now()). */
  private lastSentAt = -Infinity;
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
  }

  get round(): number | undefined {
    return this.roundValue;
  }

  async start(): Promise<void> {
    this.started = true;
    this.conn.on('connected', this.onConnected);
    this.conn.on('disconnected', this.onDisconnected);
    if (this.conn.connected) await this.enqueue(() => this.fullSync());
  }

  stop(): void {
    this.started = false;
    this.needFullSync = true;
    this.conn.off('connected', this.onConnected);
    this.conn.off('disconnected', this.onDisconnected);
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

  apply(changes: readonly OwnerChange[]): Promise<SyncResult> {
    // Validate now, so a bad flow fails at the call site and nothing is queued.
    let prepared: PreparedOwner[];
    try {
      prepared = this.desired.prepare(changes);
    } catch (e) {
      return Promise.reject(e as Error);
    }
    const version = this.desired.version;
    return this.enqueue(() => this.incremental(changes, this.desired.version === version ? prepared : undefined));
  }

  resync(): Promise<SyncResult> {
    return this.enqueue(() => this.fullSync());
  }

  /** One operation at a time: each diff must see the state the previous one left. */
  private enqueue<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async incremental(changes: readonly OwnerChange[], early: PreparedOwner[] | undefined): Promise<SyncResult> {
    // Paced (minIntervalMs, maxIntervalMs): the caller's next changes coalesce while this one waits.
    const wait = this.lastSentAt + this.intervalMs - performance.now();
    if (wait > 0) {
      await new Promise((r) => setTimeout(r, wait));
      this.intervalMs = Math.min(this.maxIntervalMs, this.intervalMs * 2);
    } else {
      this.intervalMs = this.minIntervalMs;
    }
    // Prepared again only if queued updates changed the desired state meanwhile.
    const prepared = early ?? this.desired.prepare(changes);
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

  private async fullSync(): Promise<SyncResult> {
    if (!this.conn.connected) return NOT_SENT;
    const started = performance.now();
    const [dump, groupsBody] = await Promise.all([
      this.conn.dumpFlows({ tableId: 0xff, ...appSelector(this.app) }),
      this.conn.multipart({ kind: 'group_desc' }),
    ]);
    const groups: GroupDesc[] = groupsBody.kind === 'group_desc' ? groupsBody.groups : [];
    if (this.roundValue === undefined) {
      const seen = roundsIn(dump);
      this.roundValue = seen.size ? nextRound(Math.max(...seen)) : 1;
      this.log.info({ round: this.roundValue, previousRounds: [...seen] }, 'openflow sync: chose round');
    }
    const { plan, unchanged } = planFullSync(
      this.desired.flows(),
      this.desired.groups(),
      dump,
      groups,
      (id) => this.desired.ownsGroupId(id),
      { round: this.roundValue, app: this.app },
    );
    const result = await this.send(plan, 'full', undefined, started);
    this.needFullSync = !result.sent;
    this.stats.fullSyncs++;
    this.stats.lastSyncUnchangedFlows = unchanged;
    this.log.info({ ...result, unchanged, dumped: dump.length }, 'openflow full sync done');
    this.emit('synced', result);
    return result;
  }

  /** Sends a plan as one atomic bundle; commits `prepared` to the desired state on success. */
  private async send(plan: SyncPlan, phase: 'full' | 'incremental', prepared?: PreparedOwner[], started = performance.now()): Promise<SyncResult> {
    const msgs = planMessages(plan);
    const counts = planCounts(plan);
    try {
      if (msgs.length > 0) {
        await this.conn.bundle(msgs, { flags: BundleFlags.ATOMIC | BundleFlags.ORDERED });
        this.stats.bundlesCommitted++;
      }
    } catch (e) {
      if (e instanceof OpenFlowBundleError) {
        this.stats.bundlesFailed++;
        throw new FlowSyncError(phase, e);
      }
      if (e instanceof OpenFlowConnectionError && prepared) {
        // Outcome unknown; the full sync after reconnecting settles it either way.
        this.needFullSync = true;
        this.desired.commit(prepared);
        return NOT_SENT;
      }
      throw e;
    }
    if (prepared) this.desired.commit(prepared);
    if (msgs.length > 0) this.lastSentAt = performance.now();
    this.stats.flowModsSent += counts.flowMods;
    this.stats.groupModsSent += counts.groupMods;
    const durationMs = performance.now() - started;
    this.stats.lastSyncDurationMs = durationMs;
    this.stats.lastSyncFlowMods = counts.flowMods;
    return { sent: true, ...counts, durationMs };
  }
}

/** A flow table manager for one switch connection. Call start() once. */
export function createFlowTableManager(conn: OpenFlowConnection, opts: FlowTableManagerOptions = {}): FlowTableManager {
  return new Manager(conn, opts);
}
