/**
 * Watch streams (`?watch=true`): newline-delimited JSON events, Kubernetes style.
 *   - no resourceVersion (or "0"): synthetic ADDED for the current objects, then changes;
 *   - a resourceVersion: every change after it, or 410 Expired if it was compacted;
 *   - selectors are applied to both sides of a change, so an object leaving the
 *     selection is DELETED and one entering it is ADDED;
 *   - BOOKMARK events carry the latest revision when allowWatchBookmarks is set;
 *   - sendInitialEvents=true (Kubernetes' watch-list; with resourceVersionMatch=NotOlderThan
 *     and allowWatchBookmarks): ADDED for the current objects (at a revision not older
 *     than resourceVersion), then a BOOKMARK annotated k8s.io/initial-events-end at that
 *     revision, then changes: a list and its watch in one request.
 */
import type { Logger } from 'pino';
import type { ResourceType } from '../resources/catalog';
import type { KubeObject } from '../resources/object';
import { ApiErrors } from '../resources/status';
import { INITIAL_EVENTS_END } from '../resources/watch-list';
import type { ObjectEvent, ObjectStore } from '../store/object-store';
import { GoneError, type Watch, type WatchRoute } from '../store/store';
import type { ListQuery } from './query';
import { ANY_NODE } from '../admission/access-token.admission';
import { reachedRevision } from './resource-version';
import type { ResourceService, Scope } from './resource.service';
import { fieldValue, matches, type FieldRequirement, type ObjectFilter } from './selectors';

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';

export interface WatchSink {
  send(type: WatchEventType, object: unknown): void;
  end(): void;
  onClose(cb: () => void): void;
}

export interface WatchSettings {
  bookmarkIntervalMs: number;
  /** Upper bound on a watch's life when the client gives no timeoutSeconds (client-go asks 5-10 min). */
  maxTimeoutSeconds: number;
  /** Open watches a tenant may hold at once (admins have no limit); default MAX_WATCHES_PER_TENANT. */
  maxWatchesPerTenant?: number;
  /** Open watches one node's agent token may hold at once (a token of every node has no limit); default MAX_WATCHES_PER_AGENT. */
  maxWatchesPerAgent?: number;
}

/**
 * A tenant's open watches, at most. A client watches a handful of kinds; each watch costs
 * vnetd its initial events and a write per change for as long as it is open, and 4,000 of
 * one tenant's watches over large objects held the event loop for 110 s (QA-102). Past it:
 * 429 with Retry-After, which client-go and kubectl wait out and retry. Counted per token
 * (a principal) and per replica: each replica bounds its own work.
 */
export const MAX_WATCHES_PER_TENANT = 250;

/**
 * One node's agent token's open watches, at most (review: none bounded a broken-into host).
 * An agent holds a watch per NIC whose port it is yet to learn (at most 128, node-scope.ts),
 * three per network it serves and a few more: this is over a thousand networks on one node.
 */
export const MAX_WATCHES_PER_AGENT = 4_000;

export class WatchService {
  /**
   * Open streams and whose they are, ended on shutdown (an HTTP server does not close while
   * they run) or when a token of theirs changes: the principal's own, and the caller's of an
   * impersonated one.
   */
  private readonly open = new Map<() => void, string[]>();
  /** Open (or being opened) watches per token (tenants' and one node's agents'). */
  private readonly watchesByToken = new Map<string, number>();
  /** Set by closeAll (shutdown): a watch whose stream starts after it ends at once. */
  private closing = false;

  constructor(
    private readonly resources: ResourceService,
    private readonly objects: ObjectStore,
    private readonly settings: WatchSettings = { bookmarkIntervalMs: 10_000, maxTimeoutSeconds: 1800 },
    private readonly log?: Pick<Logger, 'warn'>,
  ) {}

  /** Said when a watch is closed because its client stopped reading (watch-stall.ts). */
  stalled(scope: Scope, why: string): void {
    this.log?.warn(
      { event: 'watch.stalled', user: scope.principal.name, resource: scope.type.plural, namespace: scope.namespace, why },
      `closed a watch of ${scope.type.plural} by ${scope.principal.name}: its client stopped reading (${why}); it will list and watch again`,
    );
  }

  /**
   * Validates the request and returns a function that starts streaming into a sink;
   * errors before the stream starts (authorization, 410) are thrown as ApiErrors.
   */
  async prepare(scope: Scope, q: ListQuery, render: (obj: KubeObject) => unknown): Promise<(sink: WatchSink) => void> {
    this.resources.authorize(scope, 'watch');
    this.resources.checkFieldSelector(scope.type, q);
    const release = this.reserve(scope);
    try {
      const stream = await this.prepared(scope, q, render);
      return (sink) => stream(sink, release);
    } catch (err) {
      release();
      throw err;
    }
  }

  /** Counts a tenant's or one node's agent's watch against its limit (429 past it); the function returned gives it back, once. */
  private reserve(scope: Scope): () => void {
    const p = scope.principal;
    // A token of every node's agents (a DaemonSet's one Secret) is shared by all of them: no
    // count per token could tell one agent's from a hundred's.
    if (p.admin || p.node === ANY_NODE) return () => undefined;
    const agent = p.node !== undefined;
    const limit = agent ? (this.settings.maxWatchesPerAgent ?? MAX_WATCHES_PER_AGENT) : (this.settings.maxWatchesPerTenant ?? MAX_WATCHES_PER_TENANT);
    const open = this.watchesByToken.get(p.name) ?? 0;
    if (open >= limit) throw ApiErrors.tooManyRequests(`${p.name} has ${open} watches open on this server, the most ${agent ? "a node's agent token" : "a tenant's token"} may hold: close some, or retry later`, 1);
    this.watchesByToken.set(p.name, open + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.watchesByToken.get(p.name) ?? 1) - 1;
      if (left > 0) this.watchesByToken.set(p.name, left);
      else this.watchesByToken.delete(p.name);
    };
  }

  private async prepared(scope: Scope, q: ListQuery, render: (obj: KubeObject) => unknown): Promise<(sink: WatchSink, release: () => void) => void> {
    const rvText = q.resourceVersion;
    let initial: KubeObject[] = [];
    let after: number;
    if (q.sendInitialEvents === false && (!rvText || rvText === '0')) {
      // No initial events asked for: from the latest revision on.
      after = await this.objects.kv.currentRevision();
    } else if (!rvText || rvText === '0' || q.sendInitialEvents) {
      // The initial state is a list not older than resourceVersion (the list checks it, 504
      // when the store has not reached it); without sendInitialEvents, the latest.
      const listed = q.sendInitialEvents
        ? await this.resources.list(scope, { ...q, limit: 0, continueToken: undefined, resourceVersionMatch: 'NotOlderThan' })
        : await this.resources.list(scope, { ...q, limit: 0, continueToken: undefined, resourceVersion: undefined, resourceVersionMatch: undefined });
      initial = listed.items;
      after = Number(listed.resourceVersion);
    } else {
      after = await reachedRevision(this.objects.kv, rvText);
    }
    const compacted = await this.objects.kv.compactedRevision();
    if (after < compacted) throw ApiErrors.gone(`too old resource version: ${after} (${compacted + 1})`);

    return (sink, release) => this.stream(scope, q, after, initial, render, sink, release);
  }

  /**
   * Ends every open watch (clients re-watch from their last resourceVersion elsewhere), and
   * every watch still being prepared (its list or revision read in flight) as soon as it
   * starts: one that started after this stayed open, and with it its HTTP/2 session, so the
   * server never closed and SIGTERM left the process running (QA-127 F3).
   */
  closeAll(): void {
    this.closing = true;
    for (const close of [...this.open.keys()]) close();
    this.open.clear();
  }

  /**
   * Ends the open watches of one principal, or of every principal `principal` matches (its
   * token was deleted or changed): each was authorized, and filtered, as the token was when it opened. A client with a token still
   * good watches again from its last resourceVersion; a revoked one gets 401 (QA-106: a
   * deleted agent token's watches went on streaming the topology for up to 30 minutes).
   * Returns how many it ended.
   */
  closeWatchesOf(principal: string | ((name: string) => boolean)): number {
    const matches = typeof principal === 'string' ? (who: string) => who === principal : principal;
    let ended = 0;
    for (const [close, names] of [...this.open]) {
      if (!names.some(matches)) continue;
      close();
      ended++;
    }
    return ended;
  }

  private stream(scope: Scope, q: ListQuery, after: number, initial: KubeObject[], render: (obj: KubeObject) => unknown, sink: WatchSink, release: () => void): void {
    const type: ResourceType = scope.type;
    let lastRevision = after;
    let closed = false;
    let watch: Watch | undefined;
    const timers: NodeJS.Timeout[] = [];
    const close = () => {
      if (closed) return;
      closed = true;
      release();
      watch?.stop();
      for (const t of timers) clearTimeout(t);
      sink.end();
    };
    sink.onClose(close);
    if (this.closing) return close();
    // An impersonated watch ends with its caller's token too (the one that authenticated it).
    this.open.set(close, scope.principal.via === undefined ? [scope.principal.name] : [scope.principal.name, scope.principal.via]);
    sink.onClose(() => this.open.delete(close));

    for (const obj of initial) sink.send('ADDED', render(obj));
    if (q.sendInitialEvents) {
      sink.send('BOOKMARK', { kind: type.kind, apiVersion: type.apiVersion, metadata: { resourceVersion: String(after), annotations: { [INITIAL_EVENTS_END]: 'true' } } });
    }

    const route = routeOf(q.filter);
    const selected = (o: KubeObject | undefined) => !!o && this.resources.visible(scope.principal, type, o) && matches(q.filter, o);
    try {
      watch = this.objects.watch(type, scope.namespace, after, (ev: ObjectEvent<KubeObject>) => {
        if (closed) return;
        lastRevision = ev.revision;
        const now = selected(ev.object);
        const before = ev.type === 'MODIFIED' ? selected(ev.old) : ev.type === 'DELETED' ? now : false;
        if (ev.type === 'ADDED' && now) sink.send('ADDED', render(ev.object));
        else if (ev.type === 'DELETED' && now) sink.send('DELETED', render(ev.object));
        else if (ev.type === 'MODIFIED') {
          if (now && before) sink.send('MODIFIED', render(ev.object));
          else if (now) sink.send('ADDED', render(ev.object));
          // Leaving the selection: the object as it was, which the selection matched, at this
          // event's revision, as kube-apiserver sends it (handlers rely on a DELETED object
          // matching their selector; QA: the new one went, with the label that left it).
          else if (before) sink.send('DELETED', render({ ...ev.old!, metadata: { ...ev.old!.metadata, resourceVersion: ev.object.metadata.resourceVersion } }));
        }
      }, { route, onError: (err) => {
        // The store ended the watch (etcd, history compacted): as kube-apiserver, an ERROR
        // event, then the end; the client lists again.
        if (closed) return;
        const status = err instanceof GoneError ? ApiErrors.gone(err.statusMessage(after)) : ApiErrors.internal(`watch ended by the store: ${err.message}`);
        sink.send('ERROR', status.toStatus());
        close();
      } });
    } catch (err) {
      if (err instanceof GoneError) {
        sink.send('ERROR', ApiErrors.gone(err.statusMessage(after)).toStatus());
        close();
        return;
      }
      throw err;
    }

    if (q.allowWatchBookmarks) {
      const bookmark = () => {
        if (closed) return;
        // As far as the store has delivered this watch's events, not only to its last one: a
        // watch whose selector matched nothing for a while still moves on (kube-apiserver's
        // bookmarks do), so a client resuming from it is not sent back to list after a compaction.
        const at = Math.max(lastRevision, watch?.progress?.() ?? 0);
        sink.send('BOOKMARK', { kind: type.kind, apiVersion: type.apiVersion, metadata: { resourceVersion: String(at) } });
        timers.push(setTimeout(bookmark, this.settings.bookmarkIntervalMs).unref());
      };
      timers.push(setTimeout(bookmark, this.settings.bookmarkIntervalMs).unref());
    }
    // 0, as unset, is the default (kube-apiserver), not "close at once".
    const timeout = Math.min(q.timeoutSeconds || this.settings.maxTimeoutSeconds, this.settings.maxTimeoutSeconds);
    timers.push(setTimeout(close, timeout * 1000).unref());
  }
}

/** The fields a route may name: each is the same function wherever it is used. */
const routeFunctions = new Map<FieldRequirement['field'], (value: unknown) => string | undefined>();

/**
 * The store route of a watch's selector: its first equality on a field, so the store offers
 * the watch only the objects that have (or had) that value. An agent's watches each name one
 * network or node; without this every write was offered to every one of them.
 */
function routeOf(filter: ObjectFilter): WatchRoute | undefined {
  const eq = filter.fields.find((r) => r.equals && r.field !== 'metadata.namespace');
  if (!eq) return undefined;
  const field = eq.field;
  let of = routeFunctions.get(field);
  if (!of) routeFunctions.set(field, (of = (value) => (isStoredObject(value) ? fieldValue(field, value) : undefined)));
  return { index: field, of, value: eq.value };
}

/** Routes see every value of the store (IPAM claims, leases too): only objects have fields. */
function isStoredObject(value: unknown): value is KubeObject {
  const metadata = (value as { metadata?: unknown } | null)?.metadata;
  return typeof metadata === 'object' && metadata !== null;
}
