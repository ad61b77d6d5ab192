/**
 * Runs a reconciler over a work queue with N workers, client-go style. A reconciler is
 * level-triggered: it gets a key, reads current state itself and converges; it is never
 * told what changed. So a failed key can simply be retried later with backoff, and
 * several events for one key collapse into one call.
 */
import type { Logger } from 'pino';
import type { Informer } from './informer';
import { WorkQueue, type WorkQueueOptions } from './work-queue';

export interface ReconcileResult {
  /** Reconcile this key again after this many ms even if nothing changes (polling, TTLs). */
  requeueAfterMs?: number;
}

export type Reconciler = (key: string) => Promise<ReconcileResult | void>;

/** How long reconcile workers may hold the event loop before they give it a turn (yieldIfBusy). */
const YIELD_AFTER_MS = 10;
/** When reconcile workers last gave the event loop a turn; shared: they all run on its one thread. */
let turnStartedAt = performance.now();
/** The turn all busy workers wait for: one setImmediate, after which the budget starts again. */
let nextTurn: Promise<void> | undefined;

/**
 * A reconcile that needs no I/O resolves at once, so workers can chain through a long queue
 * in microtasks, and until the chain ends no socket, timer or I/O callback runs (at a restart
 * with 1,000 ports, an OpenFlow connection's HELLO waited up to 1 s, and ovs-vswitchd drops
 * a connection without one after 1 s). Once YIELD_AFTER_MS have passed since their last turn
 * (so also on the first key after an idle spell), the workers wait for a setImmediate, which
 * comes after the loop's pending I/O.
 */
async function yieldIfBusy(): Promise<void> {
  if (performance.now() - turnStartedAt < YIELD_AFTER_MS) return;
  // One shared turn: were each worker to start its own budget, N workers resuming in the same
  // check phase would hold the loop N times as long.
  nextTurn ??= new Promise<void>((resolve) =>
    setImmediate(() => {
      nextTurn = undefined;
      turnStartedAt = performance.now();
      resolve();
    }),
  );
  await nextTurn;
}

export interface ControllerOptions extends WorkQueueOptions {
  /** Appears in logs. */
  name: string;
  reconcile: Reconciler;
  /** Concurrent reconciles (of distinct keys); default 1. */
  workers?: number;
  /** Supply a queue to share or inspect it; default a new one with the backoff options. */
  queue?: WorkQueue;
  logger?: Logger;
}

export interface WatchFilter<T> {
  /**
   * Updates that cannot change what the reconciler does (controller-runtime's predicates,
   * e.g. a status write by another reconciler when only spec matters): not queued.
   */
  ignoreUpdate?(oldObj: T, newObj: T): boolean;
  /** Adds that need no reconcile (e.g. an object created already in the state the reconciler would write): not queued. */
  ignoreAdd?(obj: T): boolean;
}

export class Controller {
  readonly name: string;
  readonly queue: WorkQueue;
  private readonly reconcile: Reconciler;
  private readonly workerCount: number;
  private readonly logger?: Logger;
  private workers: Promise<void>[] = [];
  private state: 'new' | 'running' | 'stopped' = 'new';

  constructor(options: ControllerOptions) {
    this.name = options.name;
    this.reconcile = options.reconcile;
    this.workerCount = options.workers ?? 1;
    if (!Number.isInteger(this.workerCount) || this.workerCount < 1) {
      throw new RangeError(`controller ${this.name}: workers must be a positive integer`);
    }
    this.queue = options.queue ?? new WorkQueue(options);
    this.logger = options.logger?.child({ controller: this.name });
  }

  enqueue(key: string): void {
    this.queue.add(key);
  }

  /**
   * Enqueues keys when informer objects change. By default the object's own store key;
   * map lets a change to one kind trigger another (a port change enqueues its network).
   */
  watch<T>(informer: Informer<T>, map?: (obj: T, key: string) => readonly string[], filter: WatchFilter<T> = {}): () => void {
    const enqueue = (obj: T, key: string) => {
      if (!map) return this.queue.add(key);
      for (const k of map(obj, key)) this.queue.add(k);
    };
    return informer.addEventHandler({
      onAdd: (obj, key) => {
        if (filter.ignoreAdd?.(obj)) return;
        enqueue(obj, key);
      },
      onUpdate: (oldObj, newObj, key) => {
        if (filter.ignoreUpdate?.(oldObj, newObj)) return;
        // Both: a port moved to another network must reconcile the old network too.
        if (map) enqueue(oldObj, key);
        enqueue(newObj, key);
      },
      onDelete: enqueue,
    });
  }

  start(): void {
    if (this.state !== 'new') throw new Error(`controller ${this.name} cannot start: it is ${this.state}`);
    this.state = 'running';
    for (let i = 0; i < this.workerCount; i++) this.workers.push(this.worker());
  }

  /** Stops taking keys and resolves when in-flight reconciles have finished. Keys still queued are dropped. */
  async stop(): Promise<void> {
    if (this.state === 'stopped') return;
    this.state = 'stopped';
    this.queue.shutDown();
    await Promise.all(this.workers);
    this.workers = [];
  }

  get running(): boolean {
    return this.state === 'running';
  }

  private async worker(): Promise<void> {
    for (;;) {
      const key = await this.queue.get();
      if (key === undefined) return;
      if (this.state !== 'running') {
        this.queue.done(key);
        return;
      }
      await this.process(key);
      await yieldIfBusy();
    }
  }

  private async process(key: string): Promise<void> {
    try {
      const result = await this.reconcile(key);
      this.queue.forget(key);
      const after = result?.requeueAfterMs;
      if (after !== undefined && after >= 0) this.queue.addAfter(key, after);
    } catch (err) {
      const attempt = this.queue.numRequeues(key) + 1;
      this.logger?.warn({ key, err, attempt }, 'reconcile failed, will retry with backoff');
      this.queue.addRateLimited(key);
    } finally {
      this.queue.done(key);
    }
  }
}
