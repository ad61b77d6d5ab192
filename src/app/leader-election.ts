/**
 * Which controller replica runs the reconcilers. Every replica serves the API; exactly one,
 * the leader, reconciles. With etcd the replicas campaign through etcd3's Election under
 * /vnetd/leader/ with a short lease: the leader's lease is kept alive every TTL/3, so a
 * leader that dies (kill -9) lets its key expire after at most TTL seconds and the next
 * candidate in line is elected at once. A leader that loses its lease (etcd unreachable
 * for longer than the TTL) is told through the campaign's error: it stops reconciling
 * before campaigning again. With the embedded SQLite store there is one process and it
 * is always the leader.
 *
 * Fencing: the leader's writes carry its election key as a precondition (onElected's
 * fenceKey), so a leader deposed while it stalled cannot overwrite what its successor wrote.
 *
 * Transitions run one at a time in order (start the work, stop the work), so a quick
 * lose-and-win never has two sets of reconcilers alive in one process.
 */
import { Etcd3, type Campaign } from 'etcd3';
import type { Logger } from 'pino';
import type { LeaderCallbacks, Leadership } from './leadership';

export const LEADER_KEY_PREFIX = '/vnetd/leader/';
export const DEFAULT_LEASE_TTL_SECONDS = 2;

export interface EtcdLeaderElectionOptions extends LeaderCallbacks {
  client: ConstructorParameters<typeof Etcd3>[0];
  identity: string;
  logger: Logger;
  ttlSeconds?: number;
  /** Pause before campaigning again after a failed campaign. */
  retryMs?: number;
}

/** etcd3's words for a campaign's lease lost (expired while etcd was out of reach, or revoked). */
const LOST_LEASE = /lease has expired|is expired or revoked/i;

/** How often a campaign error that keeps coming back is logged again. */
const CAMPAIGN_ERROR_LOG_MS = 30_000;

export class EtcdLeaderElection implements Leadership {
  private readonly client: Etcd3;
  private readonly log: Logger;
  private campaign?: Campaign;
  private leader = false;
  private stopped = false;
  private transitions: Promise<void> = Promise.resolve();
  private retryTimer?: NodeJS.Timeout;
  private lastCampaignError?: string;
  private campaignErrorLoggedAt = 0;
  private campaignErrorRepeats = 0;

  constructor(private readonly opts: EtcdLeaderElectionOptions) {
    this.client = new Etcd3(opts.client);
    this.log = opts.logger.child({ component: 'leader-election' });
  }

  get isLeader(): boolean {
    return this.leader;
  }

  /** Became leader, or lost it: counted for vnetd_leader_transitions_total. */
  transitionCount = 0;

  get identity(): string {
    return this.opts.identity;
  }

  start(): void {
    this.run();
  }

  /** Resigns (so a standby takes over at once, not after the TTL) and stops the work. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    const c = this.campaign;
    this.campaign = undefined;
    await this.depose('stopping');
    await c?.resign().catch(() => undefined);
    this.client.close();
  }

  /**
   * Ends this process's term now (stops the work, resigns) and campaigns again: for a leader
   * that learns from elsewhere (a node's switch or database holding a newer generation) that
   * its term is over.
   */
  relinquish(reason: string): void {
    const c = this.campaign;
    if (c) this.fail(c, reason);
  }

  private run(): void {
    if (this.stopped) return;
    const election = this.client.namespace(LEADER_KEY_PREFIX).election('controller', this.opts.ttlSeconds ?? DEFAULT_LEASE_TTL_SECONDS);
    const c = election.campaign(this.opts.identity);
    this.campaign = c;
    c.on('elected', () => {
      if (this.campaign !== c || this.stopped) return;
      this.leader = true;
      this.transitionCount++;
      this.log.info({ event: 'leader.elected', identity: this.opts.identity }, 'became leader: starting the reconcilers');
      this.enqueue(async () => {
        if (!this.leader || this.campaign !== c) return;
        try {
          await this.opts.onElected(await c.getCampaignKey());
        } catch (err) {
          this.log.error({ event: 'leader.start_failed', err }, 'could not start the reconcilers as leader; resigning');
          this.fail(c, 'start failed');
        }
      });
    });
    c.on('error', (err: Error) => {
      if (this.campaign !== c) return;
      // Retried every retryMs while etcd is down: the same error is said once, then every
      // CAMPAIGN_ERROR_LOG_MS with how many times it came (4 lines a second otherwise).
      const now = Date.now();
      // etcd3 words a lost lease as "Lease We lost connection to etcd and our lease has expired. is expired or revoked" (QA).
      const why = LOST_LEASE.test(err.message) ? `its lease expired: etcd was out of reach for longer than the lease's ${this.opts.ttlSeconds ?? DEFAULT_LEASE_TTL_SECONDS} s` : err.message;
      if (why !== this.lastCampaignError || now - this.campaignErrorLoggedAt >= CAMPAIGN_ERROR_LOG_MS) {
        this.log.warn({ event: 'leader.campaign_error', err: why, repeated: this.campaignErrorRepeats }, 'leader campaign failed');
        this.lastCampaignError = why;
        this.campaignErrorLoggedAt = now;
        this.campaignErrorRepeats = 0;
      } else this.campaignErrorRepeats++;
      this.fail(c, why);
    });
  }

  /** Ends campaign c: stop the work if it was ours, resign, campaign again shortly. */
  private fail(c: Campaign, reason: string): void {
    if (this.campaign !== c) return;
    this.campaign = undefined;
    void this.depose(reason);
    void c.resign().catch(() => undefined);
    this.retryTimer = setTimeout(() => this.run(), this.opts.retryMs ?? 250);
  }

  private depose(reason: string): Promise<void> {
    if (this.leader) {
      this.leader = false;
      this.transitionCount++;
      this.log.warn({ event: 'leader.lost', identity: this.opts.identity, reason }, 'lost leadership: stopping the reconcilers');
    }
    return this.enqueue(() => this.opts.onDeposed());
  }

  private enqueue(step: () => Promise<void>): Promise<void> {
    this.transitions = this.transitions.then(step).catch((err: unknown) => this.log.error({ err }, 'leader transition failed'));
    return this.transitions;
  }
}
