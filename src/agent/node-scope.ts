/**
 * What one node's agent watches through the API, and no more:
 *
 *   ports       spec.node=NODE (pinned here) and spec.node= (unpinned: they bind wherever
 *               their interface appears, so every agent must see them)
 *   networks    of those ports that are pinned or bound here: for each such network N,
 *               N itself, N's ports (spec.network=N, on any node: the tunnels to them) and
 *               N's load balancers (spec.network=N)
 *   nodes       all (small; remote ports need their node's tunnel IP)
 *
 * The set of networks follows the ports: a port of a new network arriving here opens
 * that network's watches; the last one leaving closes them and its objects leave the
 * view. Each kind is presented to the informers above as one Store prefix: list returns
 * the union of what the scope's watches hold (once they have all listed, so the first
 * compile is complete and a restarted agent never installs a partial table), watch
 * replays the union's changes after that list, in arrival order. An object held by two
 * watches (a pinned port is also its network's port) is one entry; it leaves the view
 * when the last watch holding it lets go.
 */
import type { Logger } from 'pino';
import type { KubeObject } from '../resources/object';
import type { VirtualPort } from '../resources/kinds';
import { typePrefix, type StoredType } from '../store/keys';
import { LOAD_BALANCERS, NETWORKS, NODES, NODE_REALIZATIONS, PORTS } from '../store/kinds';
import { cloneJson } from '../resources/clone-json';
import {
  ConflictError,
  GoneError,
  KeyNotFoundError,
  type KeyValue,
  type ListOptions,
  type ListResult,
  type Store,
  type TxnOp,
  type TxnResult,
  type Watch,
  type WatchEvent,
  type WatchHandler,
  type WatchOptions,
} from '../store/store';
import type { ApiStore, ApiWatch } from './api-store';

const SCOPED: readonly StoredType[] = [PORTS, NETWORKS, LOAD_BALANCERS];
/** How long the agent's last write of an object no view watches stands for it (see get). */
const UNWATCHED_WRITE_TTL_MS = 10_000;
/** Changes a view remembers for watches that start after a list. */
const LOG_LIMIT = 20_000;

interface Entry {
  kv: KeyValue<KubeObject>;
  sources: Set<string>;
}

/** One kind as the informers see it. */
class View {
  readonly entries = new Map<string, Entry>();
  readonly log: Array<{ seq: number; ev: WatchEvent<KubeObject> }> = [];
  readonly listeners = new Set<WatchHandler<KubeObject>>();
  seq = 0;

  emit(ev: WatchEvent<KubeObject>): void {
    this.seq++;
    this.log.push({ seq: this.seq, ev });
    if (this.log.length > LOG_LIMIT) this.log.splice(0, this.log.length - LOG_LIMIT);
    for (const l of [...this.listeners]) l(ev);
  }

  put(source: string, kv: KeyValue<KubeObject>): void {
    const cur = this.entries.get(kv.key);
    if (!cur) {
      this.entries.set(kv.key, { kv, sources: new Set([source]) });
      this.emit({ type: 'put', kv, created: true });
      return;
    }
    cur.sources.add(source);
    if (kv.modRevision <= cur.kv.modRevision) return;
    const prev = cur.kv;
    cur.kv = kv;
    this.emit({ type: 'put', kv, prevKv: prev, created: false });
  }

  drop(source: string, key: string, deletedAt?: number): void {
    const cur = this.entries.get(key);
    if (!cur || !cur.sources.delete(source) || cur.sources.size) return;
    this.entries.delete(key);
    const at = Math.max(deletedAt ?? 0, cur.kv.modRevision + 1);
    this.emit({ type: 'delete', kv: { ...cur.kv, modRevision: at }, prevKv: cur.kv, created: false });
  }
}

export class NodeScopedStore implements Store {
  private readonly views = new Map<string, View>(SCOPED.map((t) => [typePrefix(t), new View()]));
  private readonly watches = new Map<string, ApiWatch>();
  private readonly ready: Promise<void>;
  private stopped = false;

  constructor(
    private readonly api: ApiStore,
    private readonly node: string,
    private readonly log: Logger,
  ) {
    this.ready = Promise.all([
      this.open('ports:pinned', PORTS, { fieldSelector: `spec.node=${node}` }),
      this.open('ports:unpinned', PORTS, { fieldSelector: 'spec.node=' }),
    ]).then(() => this.refreshNetworks());
  }

  private view(type: StoredType): View {
    return this.views.get(typePrefix(type))!;
  }

  /** Opens a watch as a source of the view of `type`; resolves once its first list is in. */
  private open(source: string, type: StoredType, scope: { namespace?: string; fieldSelector?: string }): Promise<void> {
    return new Promise((resolve) => {
      const w = this.api.watchScope(
        type,
        scope,
        (ev) => {
          if (this.stopped || this.watches.get(source) !== w) return;
          if (ev.type === 'put') this.view(type).put(source, ev.kv);
          else this.view(type).drop(source, ev.kv.key, ev.kv.modRevision);
          const mine = this.written.get(ev.kv.key);
          if (mine && (ev.type === 'delete' || ev.kv.modRevision >= mine.kv.modRevision)) this.written.delete(ev.kv.key);
          // News of a refused key: its view moved on (and a deleted one is not read again).
          this.staleKeys.delete(ev.kv.key);
          if (type === PORTS && source.startsWith('ports:') && this.portHere(source, ev.kv.key, ev.type === 'put' ? (ev.kv.value as VirtualPort) : undefined)) void this.refreshNetworks();
        },
        undefined,
        [],
        resolve,
      );
      this.watches.set(source, w);
    });
  }

  private closeSource(source: string, type: StoredType): void {
    const w = this.watches.get(source);
    if (!w) return;
    this.watches.delete(source);
    w.stop();
    const view = this.view(type);
    for (const [key, e] of [...view.entries]) if (e.sources.has(source)) view.drop(source, key);
  }

  /** Per port of the pinned and unpinned watches (by source and key): the network it needs here, if any. */
  private readonly needs = new Map<string, string>();
  /** Networks this node needs (of ports pinned here or bound here), with how many ports need each. */
  private readonly wanted = new Map<string, number>();

  /**
   * Records what one port of the pinned or unpinned watch needs (`port` undefined: it left
   * the watch); true when the set of networks this node needs changed. Kept as counts, so
   * that each event costs O(1): recounting every port per event made a burst of N ports
   * O(N^2) (4% of an agent's CPU at N=1000).
   */
  private portHere(source: string, key: string, port: VirtualPort | undefined): boolean {
    const id = `${source}\0${key}`;
    const here = port && (port.spec?.node === this.node || port.status?.node === this.node);
    const now = here && port.spec?.network && port.metadata.namespace ? `${port.metadata.namespace}/${port.spec.network}` : undefined;
    const before = this.needs.get(id);
    if (now === before) return false;
    let changed = false;
    if (before !== undefined) {
      const left = (this.wanted.get(before) ?? 1) - 1;
      if (left > 0) this.wanted.set(before, left);
      else changed = this.wanted.delete(before);
      this.needs.delete(id);
    }
    if (now !== undefined) {
      const count = this.wanted.get(now) ?? 0;
      this.wanted.set(now, count + 1);
      this.needs.set(id, now);
      changed ||= count === 0;
    }
    return changed;
  }

  /** Results of this agent's own writes (and when), until its views hold something as new (see get). */
  private readonly written = new Map<string, { kv: KeyValue<KubeObject>; at: number }>();
  /** Keys whose last write was refused: read from the API until one succeeds. */
  private readonly staleKeys = new Set<string>();

  private refreshing?: Promise<void>;
  private refreshAgain = false;

  /** Opens the watches of networks that became needed, closes those no longer needed. */
  private refreshNetworks(): Promise<void> {
    if (this.refreshing) {
      this.refreshAgain = true;
      return this.refreshing;
    }
    this.refreshing = (async () => {
      do {
        this.refreshAgain = false;
        const wanted = new Set(this.wanted.keys());
        const opened: Promise<void>[] = [];
        for (const key of wanted) {
          if (this.watches.has(`net:${key}`)) continue;
          const [namespace, name] = key.split('/') as [string, string];
          this.log.info({ event: 'agent.scope.add', network: key }, 'watching a network this node now needs');
          opened.push(this.open(`net:${key}`, NETWORKS, { namespace, fieldSelector: `metadata.name=${name}` }));
          opened.push(this.open(`netports:${key}`, PORTS, { namespace, fieldSelector: `spec.network=${name}` }));
          opened.push(this.open(`netlbs:${key}`, LOAD_BALANCERS, { namespace, fieldSelector: `spec.network=${name}` }));
        }
        for (const source of [...this.watches.keys()]) {
          if (!source.startsWith('net:')) continue;
          const key = source.slice('net:'.length);
          if (wanted.has(key)) continue;
          this.log.info({ event: 'agent.scope.remove', network: key }, 'no longer watching a network this node does not need');
          this.closeSource(`net:${key}`, NETWORKS);
          this.closeSource(`netports:${key}`, PORTS);
          this.closeSource(`netlbs:${key}`, LOAD_BALANCERS);
        }
        await Promise.all(opened);
      } while (this.refreshAgain && !this.stopped);
    })().finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  /** The networks whose watches are open (tests, logs). */
  networks(): string[] {
    return [...this.watches.keys()].filter((s) => s.startsWith('net:')).map((s) => s.slice(4)).sort();
  }

  /**
   * A key's latest state as this agent knows it without asking: what its views hold, or
   * what its own last write returned if that is newer. Status writes read before they write
   * (ObjectStore.modify); answering those reads here spares a GET per write (a port's
   * binding, the node's report of up to 200 KB), half of an agent's requests in a burst.
   * A write from a stale read is refused by its resourceVersion (409): the key is then read
   * from the API until a write of it succeeds or its watch brings news of it. A kind no
   * view watches (the node's NodeRealization) is answered from the last write for
   * UNWATCHED_WRITE_TTL_MS only: nothing would tell the agent that it was deleted and
   * created again, empty, and a write that finds nothing to change is never checked.
   */
  async get<V = unknown>(key: string): Promise<KeyValue<V> | undefined> {
    if (this.staleKeys.has(key) || !this.remembers(key)) return this.api.get<V>(key);
    const inView = this.viewOfKey(key)?.entries.get(key)?.kv;
    const mine = this.written.get(key);
    const fresh = mine && (inView !== undefined || performance.now() - mine.at < UNWATCHED_WRITE_TTL_MS) ? mine.kv : undefined;
    const latest = fresh && (!inView || fresh.modRevision > inView.modRevision) ? fresh : inView;
    if (mine && latest !== fresh) this.written.delete(key);
    if (!latest) return this.api.get<V>(key);
    // A copy: callers own what get returns (ObjectStore sets its resourceVersion), and the
    // view's value is the informers'.
    return { ...latest, value: cloneJson(latest.value) } as unknown as KeyValue<V>;
  }

  /** Kinds whose reads get may answer from what this agent holds. */
  private remembers(key: string): boolean {
    return this.viewOfKey(key) !== undefined || key.startsWith(typePrefix(NODE_REALIZATIONS));
  }

  private viewOfKey(key: string): View | undefined {
    for (const [prefix, view] of this.views) if (key.startsWith(prefix)) return view;
    return undefined;
  }

  async list<V = unknown>(prefix: string, options: ListOptions = {}): Promise<ListResult<V>> {
    const view = this.views.get(prefix);
    if (!view) return this.api.list<V>(prefix, options);
    await this.ready;
    await this.refreshing;
    const items = [...view.entries.values()].map((e) => e.kv).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    return { items: items as unknown as KeyValue<V>[], revision: view.seq, more: false };
  }

  async count(prefix: string): Promise<number> {
    return (await this.list(prefix)).items.length;
  }

  async txn<V = unknown>(ops: TxnOp<V>[]): Promise<TxnResult<V>> {
    const key = ops[0]?.key;
    try {
      const res = await this.api.txn(ops);
      const kv = res.results[0] as KeyValue<KubeObject> | undefined;
      if (key && kv && this.remembers(key)) {
        this.staleKeys.delete(key);
        const view = this.viewOfKey(key);
        // Only for a key still held: one whose delete arrived before this answer would
        // never be cleared. A copy: the caller owns the result it is handed.
        if (!view || view.entries.has(key)) this.written.set(key, { kv: { ...kv, value: cloneJson(kv.value) }, at: performance.now() });
      }
      return res;
    } catch (err) {
      if (key && (err instanceof ConflictError || err instanceof KeyNotFoundError)) {
        this.staleKeys.add(key);
        this.written.delete(key);
      }
      throw err;
    }
  }

  watch<V = unknown>(prefix: string, handler: WatchHandler<V>, options: WatchOptions = {}): Watch {
    const view = this.views.get(prefix);
    if (!view) return this.api.watch(prefix, handler, options);
    const after = options.afterRevision ?? view.seq;
    const first = view.log[0]?.seq ?? view.seq + 1;
    if (after < first - 1) throw new GoneError(after, first - 1);
    const h = handler as unknown as WatchHandler<KubeObject>;
    for (const { seq, ev } of view.log) if (seq > after) h(ev);
    view.listeners.add(h);
    return { stop: () => view.listeners.delete(h) };
  }

  currentRevision(): Promise<number> {
    return this.api.currentRevision();
  }

  compactedRevision(): Promise<number> {
    return this.api.compactedRevision();
  }

  compact(revision: number): Promise<void> {
    return this.api.compact(revision);
  }

  async close(): Promise<void> {
    this.stopped = true;
    for (const w of this.watches.values()) w.stop();
    this.watches.clear();
    for (const v of this.views.values()) v.listeners.clear();
    await this.api.close();
  }
}

/** What an agent's API store serves: the kinds it watches, and NodeRealizations, which it only writes (its own report). */
export const NODE_SCOPED_KINDS = [NODES, NODE_REALIZATIONS, ...SCOPED];
