/**
 * The Store interface over the controller's Kubernetes-style API, so that the reconcilers
 * written against the store (ChassisManager, PipelineReconciler, informers) run unchanged
 * in `vnetd agent`, reading, watching and writing status through HTTPS instead of opening
 * the store themselves:
 *
 *   get/list   -> GET the object / the cluster-wide list; resourceVersion is modRevision
 *   watch      -> ?watch=true&resourceVersion=R&allowWatchBookmarks=true, reconnecting from
 *                 the last revision seen; with no revision yet, or after 410 Gone, a
 *                 watch-list (sendInitialEvents: the current objects, then a bookmark that
 *                 ends them, in the same request as the watch), after which it emits the
 *                 differences itself (puts for changed keys, deletes for vanished ones), so
 *                 an informer above never needs to know
 *   txn        -> only a single update, sent as PUT .../status with the expected
 *                 resourceVersion (409 -> ConflictError): an agent writes status and,
 *                 of whole objects, only its NodeLease (a kind without status: created
 *                 with POST, renewed with PUT)
 */
import type { Logger } from 'pino';
import { opensslReason, tlsFailureOf, type TlsFailure } from '../pki/tls-failure';
import type { KubeObject } from '../resources/object';
import { typePrefix, type StoredType } from '../store/keys';
import {
  ConflictError,
  KeyExistsError,
  KeyNotFoundError,
  StoreError,
  type KeyValue,
  type ListOptions,
  type ListResult,
  type Store,
  type TxnOp,
  type TxnResult,
  type Watch,
  type WatchHandler,
  type WatchOptions,
} from '../store/store';
import type { ApiClient, ApiResult, WatchStream } from './api-client';
import { Backoff } from '../ovsdb';
import { INITIAL_EVENTS_END } from '../resources/watch-list';

const VERSION = 'v1alpha1';
/**
 * A watch that hears nothing (not even a bookmark, which the API sends every 10 s) for
 * this long is presumed dead (a controller that vanished without closing the
 * connection) and is reopened from its last revision.
 */
const WATCH_IDLE_MS = 45_000;

function basePath(type: StoredType): string {
  return type.group === '' ? '/api/v1' : `/apis/${type.group}/${VERSION}`;
}

/** The list (and watch) path of a kind, cluster-wide or in one namespace. */
export function listPath(type: StoredType, namespace?: string): string {
  return namespace && type.namespaced ? `${basePath(type)}/namespaces/${encodeURIComponent(namespace)}/${type.plural}` : `${basePath(type)}/${type.plural}`;
}

function objectPath(type: StoredType, namespace: string | undefined, name: string): string {
  const ns = type.namespaced ? `/namespaces/${encodeURIComponent(namespace ?? '')}` : '';
  return `${basePath(type)}${ns}/${type.plural}/${encodeURIComponent(name)}`;
}

/** The message of a Kubernetes Status body, else the text as it came (cut short). */
function statusMessage(text: string): string {
  try {
    const message = (JSON.parse(text) as { message?: unknown }).message;
    if (typeof message === 'string') return message;
  } catch {
    // not a Status: the text itself
  }
  return text.slice(0, 300);
}

function rvOf(obj: Record<string, unknown> | undefined): number {
  const meta = obj?.metadata as { resourceVersion?: string } | undefined;
  return Number(meta?.resourceVersion ?? 0);
}

/**
 * The stored form: resourceVersion is the kv's modRevision, not part of the value. Takes
 * `obj` over (every caller passes one it has just parsed): a copy of each object the
 * watches deliver was 6% of an agent's CPU in a burst.
 */
function toKv(type: StoredType, obj: KubeObject): KeyValue<KubeObject> {
  const value = obj;
  const modRevision = Number(value.metadata.resourceVersion ?? 0);
  delete value.metadata.resourceVersion;
  const key = `${typePrefix(type)}${type.namespaced ? `${value.metadata.namespace}/` : ''}${value.metadata.name}`;
  return { key, value, modRevision, createRevision: 0 };
}

/** The TLS failure under err (through its causes), with its code. */
function tlsFailure(err: unknown): { kind: TlsFailure; code: string } | undefined {
  for (let e = err as { code?: unknown; cause?: unknown } | undefined, depth = 0; e && depth < 4; e = e.cause as typeof e, depth++) {
    const kind = typeof e.code === 'string' ? tlsFailureOf(e.code) : undefined;
    if (kind) return { kind, code: e.code as string };
  }
  return undefined;
}

/** What to do about each TLS failure (none comes right by waiting). */
const TLS_REMEDY: Record<TlsFailure, string> = {
  'server-certificate': "the kubeconfig's certificate authority does not match the controller's; make a new one with deploy/kubernetes/agent-kubeconfig.sh",
  'server-certificate-dates': "the controller's certificate is out of its validity period (expired, or not valid yet): check this host's and the controller's clocks; a controller renews its certificate when it starts",
  'server-name': "the controller's certificate does not name the address in the kubeconfig's server: use one it names (localhost, 127.0.0.1 and the host of VNETD_LISTEN)",
  'client-certificate': "the controller refused the kubeconfig's client certificate; make a new kubeconfig with deploy/kubernetes/agent-kubeconfig.sh",
  'not-tls': "what answers at the kubeconfig's server does not speak TLS: check its address (https://host:port of a vnetd controller)",
};

/**
 * The API cannot serve right now: it answered 503 or a gateway error, or could not be
 * reached at all (not started yet, restarting, a connection cut). Worth retrying.
 */
export class ApiUnavailableError extends StoreError {
  override readonly name = 'ApiUnavailableError';
}

export class ApiStore implements Store {
  private readonly watches = new Set<ApiWatch>();
  /** The last full list per prefix: a watch started at its revision knows what the caller holds. */
  private readonly lastList = new Map<string, { revision: number; items: KeyValue<KubeObject>[] }>();
  private closed = false;

  constructor(
    private readonly client: ApiClient,
    private readonly types: readonly StoredType[],
    private readonly logger: Logger,
  ) {}

  private typeOfPrefix(prefix: string): StoredType {
    const t = this.types.find((x) => typePrefix(x) === prefix);
    if (!t) throw new StoreError(`the agent's API store serves whole kinds only (${this.types.map(typePrefix).join(', ')}), not ${prefix}`);
    return t;
  }

  private parseKey(key: string): { type: StoredType; namespace?: string; name: string } {
    const type = this.types.find((x) => key.startsWith(typePrefix(x)));
    if (!type) throw new StoreError(`no kind for key ${key}`);
    const rest = key.slice(typePrefix(type).length).split('/');
    return type.namespaced ? { type, namespace: rest[0], name: rest[1] ?? '' } : { type, name: rest[0] ?? '' };
  }

  /**
   * One request; a failure to get any answer is ApiUnavailableError, so that an agent started
   * before its controller (or during its restart) waits for it, as a kubelet waits for its
   * API server, instead of exiting on ECONNREFUSED.
   */
  private async request(method: string, path: string, body?: unknown): Promise<ApiResult> {
    try {
      return await this.client.call(method, path, body);
    } catch (err) {
      const message = (err as Error).message;
      const what = `${method} ${path}: cannot reach the API at ${this.client.server}: ${opensslReason(message) ?? message}`;
      // A server this agent does not trust is not one that comes back by waiting (a CA
      // regenerated, a kubeconfig for another cluster): said at once, as a kubelet exits.
      const tls = tlsFailure(err);
      if (tls) throw new StoreError(`${what} (${tls.code}: ${TLS_REMEDY[tls.kind]})`, { cause: err });
      throw new ApiUnavailableError(what, { cause: err });
    }
  }

  private fail(what: string, status: number, text: string): never {
    // The controller is up but cannot serve yet (its store unreachable, 503; a gateway): retryable.
    if (status === 503 || status === 502 || status === 504) throw new ApiUnavailableError(`${what}: the API at ${this.client.server} is unavailable (HTTP ${status}): ${text.slice(0, 200)}`);
    // What an operator can act on first: who refused, and which credentials.
    if (status === 401) throw new StoreError(`the API at ${this.client.server} refused the agent's token (401 Unauthorized; ${what}): its kubeconfig's token is wrong, expired or was deleted; make one with deploy/kubernetes/agent-kubeconfig.sh`);
    if (status === 403) {
      throw new StoreError(`the API at ${this.client.server} forbids the agent's token (403; ${what}): ${statusMessage(text)}; an agent needs an AccessToken of its node (spec.node; deploy/kubernetes/agent-kubeconfig.sh ... TOKEN_NAME NODE) or of every node's agents (spec.node: "*")`);
    }
    throw new StoreError(`${what}: HTTP ${status} ${text.slice(0, 300)}`);
  }

  async get<V = unknown>(key: string): Promise<KeyValue<V> | undefined> {
    const { type, namespace, name } = this.parseKey(key);
    const r = await this.request('GET', objectPath(type, namespace, name));
    if (r.status === 404) return undefined;
    if (r.status !== 200 || !r.body) this.fail(`GET ${key}`, r.status, r.text);
    return toKv(type, r.body as unknown as KubeObject) as unknown as KeyValue<V>;
  }

  private async listAll(type: StoredType): Promise<{ revision: number; items: KeyValue<KubeObject>[] }> {
    const r = await this.request('GET', listPath(type));
    if (r.status !== 200 || !r.body) this.fail(`list ${type.plural}`, r.status, r.text);
    const items = ((r.body.items as KubeObject[] | undefined) ?? []).map((o) => toKv(type, o));
    items.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    return { revision: rvOf(r.body), items };
  }

  /** Always the whole kind at the latest revision (no pages: `more` is false). */
  async list<V = unknown>(prefix: string, _options: ListOptions = {}): Promise<ListResult<V>> {
    const type = this.typeOfPrefix(prefix);
    const res = await this.listAll(type);
    this.lastList.set(prefix, res);
    return { items: res.items as unknown as KeyValue<V>[], revision: res.revision, more: false };
  }

  async count(prefix: string): Promise<number> {
    return (await this.listAll(this.typeOfPrefix(prefix))).items.length;
  }

  async txn<V = unknown>(ops: TxnOp<V>[]): Promise<TxnResult<V>> {
    const op = ops[0];
    if (ops.length !== 1 || !op || op.type === 'delete' || op.type === 'check') throw new StoreError('an agent writes through the API one status update (or its own NodeLease) at a time');
    const { type, namespace, name } = this.parseKey(op.key);
    if (op.type === 'create' && !type.noStatus) throw new StoreError(`an agent creates only kinds without status (its NodeLease), not ${type.plural}`);
    // The caller's value stays as it is: only the metadata it is sent with differs.
    const own = op.value as unknown as KubeObject;
    let r;
    if (op.type === 'create') {
      r = await this.request('POST', listPath(type, namespace), own);
      if (r.status === 409) throw new KeyExistsError(op.key);
      if (r.status !== 201 || !r.body) this.fail(`POST ${op.key}`, r.status, r.text);
    } else {
      const value: KubeObject = op.expectedModRevision === undefined ? own : { ...own, metadata: { ...own.metadata, resourceVersion: String(op.expectedModRevision) } };
      // A kind without status is written whole (the agent's NodeLease); every other, its status only.
      const path = type.noStatus ? objectPath(type, namespace, name) : `${objectPath(type, namespace, name)}/status`;
      r = await this.request('PUT', path, value);
      if (r.status === 409) throw new ConflictError(op.key, op.expectedModRevision ?? 0, 0);
      if (r.status === 404) throw new KeyNotFoundError(op.key);
      if (r.status !== 200 || !r.body) this.fail(`PUT ${path}`, r.status, r.text);
    }
    const kv = toKv(type, r.body as unknown as KubeObject);
    return { revision: kv.modRevision, results: [kv as unknown as KeyValue<V>] };
  }

  watch<V = unknown>(prefix: string, handler: WatchHandler<V>, options: WatchOptions = {}): Watch {
    const type = this.typeOfPrefix(prefix);
    const listed = this.lastList.get(prefix);
    const known = listed && listed.revision === options.afterRevision ? listed.items : [];
    return this.watchScope(type, {}, handler as WatchHandler<KubeObject>, options.afterRevision, known);
  }

  /**
   * A watch of part of a kind (one namespace, a field selector), resumed across
   * disconnects and 410s; without afterRevision it lists first (emitting every object as
   * a put) and calls onSynced once that first list is delivered.
   */
  watchScope(type: StoredType, scope: WatchScope, handler: WatchHandler<KubeObject>, afterRevision?: number, known: KeyValue<KubeObject>[] = [], onSynced?: () => void): ApiWatch {
    const w = new ApiWatch(this.client, type, scope, handler, afterRevision, known, this.logger, onSynced);
    this.watches.add(w);
    w.onStop = () => this.watches.delete(w);
    w.start();
    return w;
  }

  async currentRevision(): Promise<number> {
    const r = await this.request('GET', `${listPath(this.types[0]!)}?limit=1`);
    if (r.status !== 200) this.fail('current revision', r.status, r.text);
    return rvOf(r.body);
  }

  async compactedRevision(): Promise<number> {
    return 0;
  }

  async compact(_revision?: number): Promise<void> {
    throw new StoreError('an agent does not compact the controller\'s store');
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const w of [...this.watches]) w.stop();
    this.client.close();
  }
}

export interface WatchScope {
  namespace?: string;
  fieldSelector?: string;
}

/** One kind's watch through the API, resumed across disconnects and 410s. */
export class ApiWatch implements Watch {
  onStop?: () => void;
  private readonly held = new Map<string, KeyValue<KubeObject>>();
  private stream?: WatchStream;
  private stopped = false;
  /**
   * Reopening after a failure: 0.1 s doubling to 5 s, jittered, and to 30 s while the API
   * refuses the agent's token (401/403), as client-go's reflectors back off. A constant 2 s
   * had every agent's every watch ask again through an outage (QA-146 F3: six watches of an
   * agent whose token was deleted, 1,956 warnings in 10 minutes).
   */
  private readonly backoff = new Backoff({ initialDelayMs: 100, maxDelayMs: 5_000 });
  private readonly refusedBackoff = new Backoff({ initialDelayMs: 1_000, maxDelayMs: 30_000 });
  /** Failures in a row: the first is a warning, the rest debug, the recovery info (one line each way). */
  private failures = 0;
  private timer?: NodeJS.Timeout;
  private idle?: NodeJS.Timeout;
  private rv: number;
  /** Objects of the initial events, until the bookmark that ends them (a watch opened without a revision). */
  private initial?: Map<string, KeyValue<KubeObject>>;

  constructor(
    private readonly client: ApiClient,
    private readonly type: StoredType,
    private readonly scope: WatchScope,
    private readonly handler: WatchHandler<KubeObject>,
    afterRevision: number | undefined,
    known: KeyValue<KubeObject>[],
    private readonly log: Logger,
    private onSynced?: () => void,
  ) {
    this.rv = afterRevision ?? 0;
    for (const kv of known) this.held.set(kv.key, kv);
  }

  start(): void {
    this.open();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    clearTimeout(this.idle);
    this.stream?.stop();
    this.onStop?.();
  }

  /**
   * Watches from the last revision seen, or (none yet, or after a 410) with the current
   * state first: the watch-list of Kubernetes (sendInitialEvents), a list and its watch in
   * one request, the initial objects collected until the bookmark that ends them.
   */
  private open(): void {
    if (this.stopped) return;
    const selector = this.scope.fieldSelector ? `&fieldSelector=${encodeURIComponent(this.scope.fieldSelector)}` : '';
    this.initial = this.rv === 0 ? new Map() : undefined;
    const from = this.initial ? 'sendInitialEvents=true&resourceVersionMatch=NotOlderThan' : `resourceVersion=${this.rv}`;
    const path = `${listPath(this.type, this.scope.namespace)}?watch=true&allowWatchBookmarks=true&${from}&timeoutSeconds=300${selector}`;
    const stream = this.client.watch(
      path,
      (ev) => {
        this.heard(stream);
        this.onEvent(ev);
      },
      (why) => {
        clearTimeout(this.idle);
        if (this.stopped) return;
        if (why.status === 410) return void this.relist();
        // A revision the server has not reached: its store was restored from a backup (or a
        // replica lags). Waiting would skip every write between its revision and ours once it
        // got there (QA: 40 ports never realized, a deleted port's flows kept); client-go's
        // reflector relists on it too.
        if (why.status === 504 && /ResourceVersionTooLarge|Too large resource version/.test(why.text ?? '')) {
          this.log.warn({ kind: this.type.plural, rv: this.rv, text: why.text?.slice(0, 200) }, 'agent watch: the API is behind the revision this agent holds (a store restored from a backup?); listing again');
          return void this.relist();
        }
        if (why.status !== undefined || why.error) {
          const refused = why.status === 401 || why.status === 403;
          const ms = (refused ? this.refusedBackoff : this.backoff).next();
          const fields = { event: 'agent.watch_failed', kind: this.type.plural, status: why.status, err: why.error?.message, text: why.text?.slice(0, 200), retryInMs: ms, failures: ++this.failures };
          if (this.failures === 1) this.log.warn(fields, 'agent watch failed; retrying, backing off (further failures are logged at debug until it is back)');
          else this.log.debug(fields, 'agent watch failed again; retrying');
          this.retry(ms);
          return;
        }
        this.resumed();
        this.retry(100); // server-side timeout or a clean close: resume from the last revision
      },
    );
    this.stream = stream;
    this.heard(stream);
  }

  /** (Re)arms the idle watchdog of the current stream. */
  private heard(stream: WatchStream): void {
    clearTimeout(this.idle);
    this.idle = setTimeout(() => {
      if (this.stopped || this.stream !== stream) return;
      this.log.warn({ kind: this.type.plural, idleMs: WATCH_IDLE_MS }, 'agent watch silent too long; reopening');
      stream.stop();
      this.retry(this.backoff.next());
    }, WATCH_IDLE_MS);
    this.idle.unref();
  }

  private retry(ms: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.open(), ms);
  }

  /** The watch answered again: the back-off starts over, and a run of failures is said to be over. */
  private resumed(): void {
    this.backoff.reset();
    this.refusedBackoff.reset();
    if (this.failures > 0) this.log.info({ event: 'agent.watch_resumed', kind: this.type.plural, failures: this.failures }, `agent watch of ${this.type.plural} works again after ${this.failures} failed attempt(s)`);
    this.failures = 0;
  }

  private onEvent(ev: { type: string; object: Record<string, unknown> }): void {
    if (this.stopped) return;
    if (this.failures > 0 && ev.type !== 'ERROR') this.resumed();
    if (ev.type === 'BOOKMARK') {
      const meta = ev.object.metadata as { annotations?: Record<string, string> } | undefined;
      if (this.initial && meta?.annotations?.[INITIAL_EVENTS_END] === 'true') this.initialEnd(rvOf(ev.object));
      else if (!this.initial) this.rv = Math.max(this.rv, rvOf(ev.object));
      return;
    }
    if (ev.type === 'ERROR') {
      this.stream?.stop();
      if ((ev.object as { code?: number }).code === 410) void this.relist();
      else {
        this.log.warn({ kind: this.type.plural, status: ev.object }, 'agent watch error event; retrying');
        this.retry(this.backoff.next());
      }
      return;
    }
    const kv = toKv(this.type, ev.object as unknown as KubeObject);
    if (this.initial) {
      if (ev.type === 'DELETED') this.initial.delete(kv.key);
      else this.initial.set(kv.key, kv);
      return;
    }
    this.rv = Math.max(this.rv, kv.modRevision);
    const prev = this.held.get(kv.key);
    if (ev.type === 'DELETED') {
      this.held.delete(kv.key);
      this.handler({ type: 'delete', kv, prevKv: prev ?? kv, created: false });
      return;
    }
    this.held.set(kv.key, kv);
    this.handler({ type: 'put', kv, prevKv: prev, created: ev.type === 'ADDED' || !prev });
  }

  /** Starts over from the current state (after 410 Gone): what changed since is emitted as it ends. */
  private relist(): void {
    this.stream?.stop();
    this.rv = 0;
    this.open();
  }

  /** The initial objects are all in (at `revision`): emits what changed since what the caller holds, and watches on. */
  private initialEnd(revision: number): void {
    const current = this.initial!;
    this.initial = undefined;
    for (const [key, kv] of current) {
      const prev = this.held.get(key);
      if (prev && prev.modRevision === kv.modRevision) continue;
      this.held.set(key, kv);
      this.handler({ type: 'put', kv, prevKv: prev, created: !prev });
    }
    for (const [key, prev] of [...this.held]) {
      if (current.has(key)) continue;
      this.held.delete(key);
      this.handler({ type: 'delete', kv: { ...prev, modRevision: revision }, prevKv: prev, created: false });
    }
    this.rv = Math.max(this.rv, revision);
    this.resumed();
    const synced = this.onSynced;
    this.onSynced = undefined;
    synced?.();
  }
}
