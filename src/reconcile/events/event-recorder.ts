/**
 * Records core/v1 Events about objects, as client-go's EventRecorder and the apiserver's
 * event TTL do between them:
 *  - a repeat of an event (same object, type and reason) adds one to its count, moves its
 *    lastTimestamp and takes the latest message, instead of a new event: messages carry
 *    details that change every time (a time, a count, an OpenFlow port number), and with them
 *    in the key no repeat was ever counted (QA-104: five SwitchUnreachable events of one port);
 *  - each object may record a burst of 25 events, then one per 5 minutes (a flapping
 *    condition becomes a count, not a write per flap), and at most MAX_PENDING writes wait;
 *    the latest event refused by these limits is recorded when they allow again, so that the
 *    newest event never contradicts the object's state (QA-104: "bound" shown for good while
 *    the port was on the wrong bridge);
 *  - nothing is recorded into a namespace that is missing or being deleted (its deletion
 *    would have to wait for them);
 *  - an event is deleted an hour after it was last seen (kube-apiserver's --event-ttl).
 * Recording never blocks or fails its caller: events say what happened, they are not state
 * anything depends on, so a write that fails is logged and dropped.
 */
import type { Logger } from 'pino';
import { CLUSTER_EVENTS_NAMESPACE, eventName, type EventType, type KubeEvent } from '../../resources/event';
import { kubeTime, type KubeObject } from '../../resources/object';
import { objectKey } from '../../store/keys';
import { EVENTS, NAMESPACES } from '../../store/kinds';
import type { ObjectStore } from '../../store/object-store';
import { ConflictError } from '../../store/store';
import type { Informer } from '../informer';
import type { SharedInformers } from '../shared-informers';
import { SpamFilter } from './spam-filter';

export interface EventRecorderOptions {
  objects: ObjectStore;
  informers: SharedInformers;
  logger: Logger;
  /** reportingInstance: this controller replica. */
  instance: string;
  /** source.host. */
  host?: string;
  now?: () => Date;
  /** How long after it was last seen an event is deleted. */
  ttlMs?: number;
  /** How often expired events are looked for. */
  sweepMs?: number;
  /** How often events refused by a rate limit are tried again. */
  retryMs?: number;
  /** Per object: events at once, then per second. */
  burst?: number;
  perSecond?: number;
  /** All objects together, likewise. */
  allBurst?: number;
  allPerSecond?: number;
}

export const EVENT_TTL_MS = 60 * 60 * 1000;
const SWEEP_MS = 60 * 1000;
const SPAM_BURST = 25;
const SPAM_PER_SECOND = 1 / 300;
/**
 * All objects together: an incident (a switch gone, and every port bound there with it) records
 * a burst, then 20 events a second, so the store is not written for each of thousands of
 * objects while it is busiest.
 */
const ALL_BURST = 500;
const ALL_PER_SECOND = 20;
/** Writes waiting at most; more are dropped (a storm of transitions must not grow memory). */
const MAX_PENDING = 1_000;
const COMPONENT = 'vnetd';
const BY_REPEAT = 'repeatKey';

/** What makes two events the same one, counted (client-go's aggregation key, without the message). */
function repeatKey(uid: string, type: EventType, reason: string): string {
  return JSON.stringify([uid, type, reason]);
}

const repeatKeyOf = (e: KubeEvent): readonly string[] => (e.involvedObject?.uid ? [repeatKey(e.involvedObject.uid, e.type, e.reason)] : []);

/** An event refused by a rate limit, to record once the limits allow. */
interface Deferred {
  obj: KubeObject;
  type: EventType;
  reason: string;
  message: string;
}

/** How often refused events are tried again. */
const RETRY_MS = 10_000;
/** Objects with a refused event kept at most (the least recently refused go first). */
const MAX_DEFERRED = 4_096;

export class EventRecorder {
  private readonly events: Informer<KubeEvent>;
  private readonly namespaces: Informer<KubeObject>;
  private readonly spam: SpamFilter;
  private readonly all: SpamFilter;
  private readonly now: () => Date;
  /** Events this recorder wrote, by repeat key: found before the informer has heard of them. */
  private readonly written = new Map<string, { namespace: string; name: string }>();
  private chain: Promise<void> = Promise.resolve();
  private pending = 0;
  private dropped = 0;
  private sequence = 0;
  private sweeper?: NodeJS.Timeout;
  private retrier?: NodeJS.Timeout;
  /** Per object (uid): its latest event refused by a limit. */
  private readonly deferred = new Map<string, Deferred>();
  private stopped = false;
  private sweeping = false;

  constructor(private readonly o: EventRecorderOptions) {
    this.now = o.now ?? (() => new Date());
    this.spam = new SpamFilter(o.burst ?? SPAM_BURST, o.perSecond ?? SPAM_PER_SECOND, () => this.now().getTime());
    this.all = new SpamFilter(o.allBurst ?? ALL_BURST, o.allPerSecond ?? ALL_PER_SECOND, () => this.now().getTime());
    this.events = o.informers.of<KubeEvent>(EVENTS);
    this.events.ensureIndex(BY_REPEAT, repeatKeyOf);
    this.namespaces = o.informers.of<KubeObject>(NAMESPACES);
  }

  async start(): Promise<void> {
    this.events.start();
    this.namespaces.start();
    await Promise.all([this.events.waitForSync(), this.namespaces.waitForSync()]);
    this.stopped = false;
    this.sweeper = setInterval(() => void this.sweep(), this.o.sweepMs ?? SWEEP_MS);
    this.sweeper.unref();
    this.retrier = setInterval(() => this.retryDeferred(), this.o.retryMs ?? RETRY_MS);
    this.retrier.unref();
  }

  /**
   * Stops recording: the writes queued and not started are dropped (a leader stepping down
   * must not wait for them, least of all on a store that does not answer).
   */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.sweeper) clearInterval(this.sweeper);
    if (this.retrier) clearInterval(this.retrier);
    this.sweeper = this.retrier = undefined;
    this.deferred.clear();
    await this.chain;
  }

  /** Records an event about obj (one stored, with apiVersion and kind); returns at once. */
  record(obj: KubeObject, type: EventType, reason: string, message: string): void {
    const uid = obj.metadata.uid;
    if (this.stopped || !uid) return;
    const namespace = obj.metadata.namespace ?? CLUSTER_EVENTS_NAMESPACE;
    const ns = this.namespaces.get(objectKey(NAMESPACES, undefined, namespace));
    if (!ns || ns.metadata.deletionTimestamp) return;
    // A newer event of the object supersedes the one it had waiting.
    this.deferred.delete(uid);
    if (!this.allowed(uid)) {
      this.deferred.set(uid, { obj, type, reason, message });
      if (this.deferred.size > MAX_DEFERRED) this.deferred.delete(this.deferred.keys().next().value!);
      if (this.dropped++ === 0) this.o.logger.info({ event: 'events.deferred', object: `${obj.kind}/${namespace}/${obj.metadata.name}`, reason }, 'event held back: too many events of this object, or of all; its latest is recorded when the limits allow');
      return;
    }
    this.enqueue(obj, namespace, type, reason, message);
  }

  /** Whether every limit lets the object record an event now, which then takes its tokens (none are taken from one bucket when another refuses). */
  private allowed(uid: string): boolean {
    if (this.pending >= MAX_PENDING || !this.spam.has(uid) || !this.all.has('')) return false;
    return this.spam.allow(uid) && this.all.allow('');
  }

  /** Records the events the limits refused, each object's latest, where they allow now. */
  retryDeferred(): void {
    for (const [uid, d] of [...this.deferred]) {
      if (this.stopped) return;
      if (!this.allowed(uid)) continue;
      this.deferred.delete(uid);
      const namespace = d.obj.metadata.namespace ?? CLUSTER_EVENTS_NAMESPACE;
      this.enqueue(d.obj, namespace, d.type, d.reason, d.message);
    }
  }

  private enqueue(obj: KubeObject, namespace: string, type: EventType, reason: string, message: string): void {
    this.pending++;
    this.chain = this.chain
      .then(() => (this.stopped ? undefined : this.write(obj, namespace, type, reason, message)))
      .catch((err: unknown) => this.o.logger.warn({ event: 'events.write_failed', err: (err as Error).message, reason }, 'an event could not be written (dropped)'))
      .finally(() => this.pending--);
  }

  /** The writes queued so far, done. */
  flush(): Promise<void> {
    return this.chain;
  }

  private async write(obj: KubeObject, namespace: string, type: EventType, reason: string, message: string): Promise<void> {
    const uid = obj.metadata.uid!;
    const key = repeatKey(uid, type, reason);
    const at = kubeTime(this.now());
    if (await this.repeat(key, at, message)) return;
    const event: KubeEvent = {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name: eventName(obj.metadata.name, this.nowNs()), namespace },
      involvedObject: { apiVersion: obj.apiVersion ?? '', kind: obj.kind ?? '', name: obj.metadata.name, ...(obj.metadata.namespace ? { namespace: obj.metadata.namespace } : {}), uid, ...(obj.metadata.resourceVersion ? { resourceVersion: obj.metadata.resourceVersion } : {}) },
      reason,
      message,
      type,
      source: { component: COMPONENT, ...(this.o.host ? { host: this.o.host } : {}) },
      firstTimestamp: at,
      lastTimestamp: at,
      count: 1,
      reportingComponent: COMPONENT,
      reportingInstance: this.o.instance,
    };
    // Committed only while its namespace is still there and not being deleted: one queued before
    // the deletion and written after the namespace's last list of its contents would outlive it
    // (found in review), and a namespace made again with that name would show it.
    for (let attempt = 1; ; attempt++) {
      const guard = await this.namespaceGuard(namespace);
      if (!guard) return;
      try {
        await this.o.objects.create(EVENTS, event, [guard]);
        break;
      } catch (err) {
        if (!(err instanceof ConflictError && err.key === guard.key) || attempt === 3) throw err;
      }
    }
    this.remember(key, { namespace, name: event.metadata.name });
  }

  /** A check that the namespace is as read now (a store check writes nothing); none if it is missing or being deleted. */
  private async namespaceGuard(namespace: string): Promise<{ type: 'check'; key: string; expectedModRevision: number } | undefined> {
    const ns = await this.o.objects.get<KubeObject>(NAMESPACES, undefined, namespace);
    if (!ns || ns.metadata.deletionTimestamp) return undefined;
    return { type: 'check', key: objectKey(NAMESPACES, undefined, namespace), expectedModRevision: Number(ns.metadata.resourceVersion) };
  }

  /** Counts a repeat into the event already there, if there is one: true when done. */
  private async repeat(key: string, at: string, message: string): Promise<boolean> {
    const cached = this.events.byIndex(BY_REPEAT, key)[0];
    const where = this.written.get(key) ?? (cached && { namespace: cached.metadata.namespace!, name: cached.metadata.name });
    if (!where) return false;
    const current = await this.o.objects.get<KubeEvent>(EVENTS, where.namespace, where.name);
    if (!current || repeatKeyOf(current)[0] !== key) {
      this.written.delete(key);
      return false;
    }
    const revision = Number(current.metadata.resourceVersion);
    delete current.metadata.resourceVersion;
    const next: KubeEvent = { ...current, count: (current.count ?? 1) + 1, lastTimestamp: at, message };
    // Straight to the key: an Event's fields are at its top level, which ObjectStore.update
    // (metadata and spec from the request) would not take.
    await this.o.objects.kv.txn([{ type: 'update', key: objectKey(EVENTS, where.namespace, where.name), value: next, expectedModRevision: revision }]);
    this.remember(key, where);
    return true;
  }

  private remember(key: string, where: { namespace: string; name: string }): void {
    this.written.delete(key);
    this.written.set(key, where);
    if (this.written.size > 4_096) this.written.delete(this.written.keys().next().value!);
  }

  /** Unique per recorder even within one millisecond. */
  private nowNs(): bigint {
    return BigInt(this.now().getTime()) * 1_000_000n + BigInt(this.sequence++ % 1_000_000);
  }

  /** Deletes the events last seen longer ago than the TTL (a conflict: seen again meanwhile, kept). */
  async sweep(): Promise<number> {
    if (this.sweeping) return 0;
    this.sweeping = true;
    try {
      return await this.sweepOnce();
    } finally {
      this.sweeping = false;
    }
  }

  private async sweepOnce(): Promise<number> {
    const oldest = this.now().getTime() - (this.o.ttlMs ?? EVENT_TTL_MS);
    let deleted = 0;
    for (const key of this.events.keys()) {
      if (this.stopped) break;
      const e = this.events.get(key);
      const revision = this.events.modRevision(key);
      if (!e || revision === undefined || !(Date.parse(e.lastTimestamp) < oldest)) continue;
      try {
        await this.o.objects.kv.txn([{ type: 'delete', key, expectedModRevision: revision }]);
        deleted++;
      } catch (err) {
        this.o.logger.debug({ event: 'events.expire_skipped', key, err: (err as Error).message });
      }
    }
    if (this.dropped > 0) {
      this.o.logger.warn({ event: 'events.dropped_total', dropped: this.dropped }, `${this.dropped} events were held back by the rate limits since the last sweep (each object's latest is recorded once they allow)`);
      this.dropped = 0;
    }
    if (deleted > 0) this.o.logger.debug({ event: 'events.expired', deleted });
    return deleted;
  }
}
