/**
 * A watch that outlives the vnetd replica it talks to, as client-go's reflector (under
 * kubectl wait and kubectl get -w) does: when the stream ends or the connection is refused
 * or reset, it is opened again from the last resourceVersion seen, after a short backoff;
 * 410 Gone (that revision was compacted) lists again, and so does 504 Too large resource
 * version (a revision the store has not reached: it was restored from a backup). Failures that retrying cannot mend
 * (401, 403, 404, an untrusted certificate) are thrown for the caller's one error line.
 */
import { Backoff } from '../ovsdb/client/backoff';
import { tlsFailureOf } from '../pki/tls-failure';
import type { KubeObject } from '../resources/object';
import { ApiStatusError, TransportError } from './errors';
import type { ApiClient, Query, WatchEvent } from './http/client';

/** What a resumable watch needs of the client. */
export type WatchClient = Pick<ApiClient, 'watch' | 'answered' | 'server'>;

export interface ResumableWatchSpec<T extends KubeObject> {
  path: string;
  /** The watch's own query (fieldSelector...); resourceVersion and timeoutSeconds are added. */
  query: Query;
  /** Reads the current state: the revision to watch from, or satisfied to end at once. */
  relist(): Promise<{ resourceVersion?: string; satisfied?: boolean }>;
  /** ADDED, MODIFIED and DELETED events (not BOOKMARK or ERROR); true ends the watch as satisfied. */
  onEvent(ev: WatchEvent<T>): boolean;
  /** Epoch ms: give up then (none: until stopped). */
  deadline?: number;
  signal?: AbortSignal;
}

export interface ResumableWatchResult {
  how: 'satisfied' | 'stopped' | 'timeout';
  /** The failure of the last try when it failed (vnetd still unreachable at the deadline): for the timeout message. */
  lastError?: unknown;
}

/** 200 ms growing to 2 s: a failover takes seconds, and a wait should notice the new replica soon after. */
const RETRY = { initialDelayMs: 200, maxDelayMs: 2000 };

/** Three of the server's 10 s bookmark intervals without a byte: the stream is dead. */
const IDLE_MS = 30_000;

/** Server answers that say "not now" rather than "no". */
const RETRYABLE_STATUS = new Set([429, 502, 503, 504]);


/**
 * Whether retrying can mend err. A server that never answered is a wrong kubeconfig or a
 * stopped vnetd: that is said at once, as kubectl does, instead of after --timeout.
 */
export function retryable(err: unknown, serverAnswered: boolean): boolean {
  // No retry mends a TLS failure: the server is not one we trust, refuses us, or does not speak TLS.
  if (err instanceof TransportError) return serverAnswered && tlsFailureOf(err.code) === undefined;
  return err instanceof ApiStatusError && RETRYABLE_STATUS.has(err.httpStatus);
}

/** The last error, as the parenthesis of a timeout message. */
export function lastErrorText(err: unknown): string {
  if (err instanceof TransportError) return `cannot reach vnetd at ${err.server} (${err.message})`;
  if (err instanceof ApiStatusError) return `vnetd answered ${err.httpStatus}: ${err.message}`;
  return err instanceof Error ? err.message : String(err);
}

/**
 * The revision watched from is not in the store's history: compacted (410 Gone), or beyond it
 * (504 Too large resource version: etcd restored from a backup). Retrying the same revision
 * would wait for it, then skip everything the restore changed (QA-146 F2: a silent watch);
 * client-go's reflector lists again on both.
 */
export function needsRelist(err: unknown): boolean {
  if (!(err instanceof ApiStatusError)) return false;
  if (err.httpStatus === 410) return true;
  return err.httpStatus === 504 && (err.status.details?.causes ?? []).some((c) => c.reason === 'ResourceVersionTooLarge');
}

/** Sleeps ms, but not past the deadline nor past an abort. */
function pause(ms: number, deadline: number | undefined, signal: AbortSignal | undefined): Promise<void> {
  const wait = Math.max(0, Math.min(ms, deadline === undefined ? ms : deadline - Date.now()));
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, wait);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** How one try ended: satisfied/stopped end the watch; resume re-watches now; retry after a backoff. */
type Step = 'satisfied' | 'stopped' | 'resume' | 'retry';

class ResumableWatch<T extends KubeObject> {
  private readonly backoff = new Backoff(RETRY);
  private resourceVersion: string | undefined;
  private listed = false;
  private lastError: unknown;

  constructor(
    private readonly client: WatchClient,
    private readonly spec: ResumableWatchSpec<T>,
    private readonly idleMs = IDLE_MS,
  ) {}

  async run(): Promise<ResumableWatchResult> {
    const { deadline, signal } = this.spec;
    for (;;) {
      // An abort during the backoff pause lands here, before another watch is opened.
      const step = signal?.aborted ? 'stopped' : await this.step();
      if (step === 'satisfied') return { how: 'satisfied' };
      if (step === 'stopped' || signal?.aborted) return { how: 'stopped' };
      if (this.deadlinePassed || (deadline !== undefined && Date.now() >= deadline)) return { how: 'timeout', lastError: this.lastError };
      if (step === 'retry') await pause(this.backoff.next(), deadline, signal);
    }
  }

  /** The deadline's timer has fired (see watchOnce). */
  private deadlinePassed = false;

  /** Nothing has come since the last relist: a 410 or ERROR now is not mended by relisting at once. */
  private freshList = false;

  private async step(): Promise<Step> {
    try {
      return this.listed ? await this.watchOnce() : await this.relist();
    } catch (err) {
      if (needsRelist(err)) {
        this.listed = false;
        return this.goneAgain();
      }
      if (!retryable(err, this.client.answered)) throw err;
      this.lastError = err;
      return 'retry';
    }
  }

  private async relist(): Promise<Step> {
    const r = await this.spec.relist();
    // The server answers; the backoff is reset only once a watch opens (a list that leads to
    // 410 again must not restart it at its shortest).
    this.lastError = undefined;
    if (r.satisfied) return 'satisfied';
    this.resourceVersion = r.resourceVersion;
    this.listed = true;
    this.freshList = true;
    return 'resume';
  }

  /** Lists again: at once after events, after a backoff when the list before came to nothing (no request loop). */
  private goneAgain(): Step {
    const again = this.freshList;
    this.freshList = false;
    return again ? 'retry' : 'resume';
  }

  private reached(): void {
    this.lastError = undefined;
    this.backoff.reset();
  }

  private async watchOnce(): Promise<Step> {
    const { deadline, signal } = this.spec;
    const left = deadline === undefined ? undefined : deadline - Date.now();
    let expired = false;
    // A replica gone without a reset (its host powered off, a moved VIP) sends nothing, not
    // even the bookmarks it sends every 10 s: after IDLE_MS of silence the stream is given up
    // and opened again, instead of waiting minutes for TCP to notice.
    let idle = false;
    let idleTimer: NodeJS.Timeout | undefined;
    const quiet = () => {
      clearTimeout(idleTimer);
      idleTimer = setTimeout(() => {
        idle = true;
        w.stop();
      }, this.idleMs);
    };
    const w = this.client.watch<T>(
      this.spec.path,
      { ...this.spec.query, resourceVersion: this.resourceVersion, allowWatchBookmarks: true, timeoutSeconds: left === undefined ? undefined : Math.max(1, Math.ceil(left / 1000)) },
      (ev) => {
        quiet();
        // An ERROR event is the server ending the watch (410 after a compaction): list again.
        if (ev.type === 'ERROR') {
          expired = true;
          return true;
        }
        const rv = ev.object?.metadata?.resourceVersion;
        if (rv) this.resourceVersion = rv;
        if (ev.type !== 'BOOKMARK') this.freshList = false;
        return ev.type !== 'BOOKMARK' && this.spec.onEvent(ev);
      },
      () => this.reached(),
    );
    quiet();
    // Timers may fire a millisecond before Date.now() reaches the deadline: remembered, so the
    // run ends then rather than opening one more watch (CI: a fourth watch in a test of three).
    const timer =
      left === undefined
        ? undefined
        : setTimeout(() => {
            this.deadlinePassed = true;
            w.stop();
          }, Math.max(0, left));
    const stop = () => w.stop();
    signal?.addEventListener('abort', stop, { once: true });
    try {
      const how = await w.done;
      if (expired) {
        this.listed = false;
        return this.goneAgain();
      }
      if (how === 'satisfied') return 'satisfied';
      if (idle && !signal?.aborted) {
        this.lastError = new Error(`vnetd at ${this.client.server} sent nothing for ${this.idleMs / 1000} s (not even a bookmark)`);
        return 'retry';
      }
      if (how === 'stopped') return signal?.aborted ? 'stopped' : 'resume';
      // The server ended the stream (its timeout, or a replica shutting down): a pause
      // keeps a server that ends every stream at once from being called in a tight loop.
      return 'retry';
    } finally {
      if (timer) clearTimeout(timer);
      clearTimeout(idleTimer);
      signal?.removeEventListener('abort', stop);
    }
  }
}

/** Runs a watch until onEvent or relist is satisfied, the deadline passes, or signal aborts. */
export function resumableWatch<T extends KubeObject>(client: WatchClient, spec: ResumableWatchSpec<T>, idleMs?: number): Promise<ResumableWatchResult> {
  return new ResumableWatch(client, spec, idleMs).run();
}
