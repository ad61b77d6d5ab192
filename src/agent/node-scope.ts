/**
 * What one node's agent watches through the API, and no more:
 *
 *   ports       spec.node=NODE (pinned here), status.node=NODE,spec.node= (unpinned, bound
 *               here; apart, so a pinned port's events come once), and for each VM NIC on
 *               the node's switch whose port is neither, the unpinned port of
 *               its iface-id (spec.interfaceId=ID,spec.node=): an unpinned port binds
 *               wherever its NIC appears, and an agent learns of it from its NIC, as
 *               ovn-controller's conditional monitoring does, rather than watching every
 *               unpinned port of the cluster (O(agents x ports) events)
 *   networks    of those ports that are pinned or bound here, or whose NIC is here while
 *               bound on another node (a live migration's destination: see portHere): for each such network N,
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
import { LOAD_BALANCERS, NETWORKS, NODES, NODE_LEASES, NODE_REALIZATIONS, PORTS } from '../store/kinds';
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
import { escapeFieldValue } from '../resources/field-selector';
import type { ApiStore, ApiWatch } from './api-store';

const SCOPED: readonly StoredType[] = [PORTS, NETWORKS, LOAD_BALANCERS];
/** The view's sources of ports here: pinned (spec.node) and unpinned but bound here (status.node). */
const PINNED = 'ports:pinned';
const BOUND = 'ports:bound';
/** The source of one NIC's unpinned port: IFACE + its iface-id. */
const IFACE = 'iface:';
/** NIC watches an agent holds at most before it watches every unpinned port instead (see watchEveryUnpinned). */
const MAX_NIC_WATCHES = 128;
/** The source of every unpinned port, past MAX_NIC_WATCHES. */
const EVERY_UNPINNED = 'unpinned:all';
/**
 * Below this many NICs without a port here, an agent on the broad watch goes back to one
 * watch per NIC (the gap to MAX_NIC_WATCHES keeps it from flapping), once the count has
 * stayed there for narrowDelayMs (a burst of NICs plugged before their ports is over).
 */
const NARROW_BELOW = MAX_NIC_WATCHES / 2;
const NARROW_DELAY_MS = 5_000;
/** How long the agent's last write of an object no view watches stands for it (see get). */
const UNWATCHED_WRITE_TTL_MS = 10_000;
/**
 * Changes a view remembers for watches that start after a list, at most, and for how long.
 * The informers watch right after they list, in the same process; one asking from further
 * back is told Gone and lists again. Without the age bound a busy agent's views kept their
 * last 20,000 changes each for its whole life (QA-94: towards 180 MB).
 */
const LOG_LIMIT = 20_000;
const LOG_MAX_AGE_MS = 60_000;

interface Entry {
  kv: KeyValue<KubeObject>;
  sources: Set<string>;
}

/** One kind as the informers see it. */
class View {
  readonly entries = new Map<string, Entry>();
  readonly log: Array<{ seq: number; at: number; ev: WatchEvent<KubeObject> }> = [];
  readonly listeners = new Set<WatchHandler<KubeObject>>();
  seq = 0;

  constructor(private readonly logMaxAgeMs: number) {}

  emit(ev: WatchEvent<KubeObject>): void {
    this.seq++;
    const now = performance.now();
    this.log.push({ seq: this.seq, at: now, ev });
    this.trim(now);
    for (const l of [...this.listeners]) l(ev);
  }

  /** Forgets the changes past LOG_LIMIT and those older than the age bound. */
  trim(now = performance.now()): void {
    let drop = Math.max(0, this.log.length - LOG_LIMIT);
    while (drop < this.log.length && this.log[drop].at < now - this.logMaxAgeMs) drop++;
    if (drop) this.log.splice(0, drop);
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

export interface NodeScopeOptions {
  /**
   * The iface-ids on the node's switch as the agent starts (readNodeDatabase): the first
   * view waits for their ports, so that a restarted agent's first compile is whole. Later
   * changes come through setInterfaces and setInterface.
   */
  interfaceIds?: Promise<Iterable<string>>;
  /** How long the NICs without a port here must stay below NARROW_BELOW before the broad watch goes (tests). */
  narrowDelayMs?: number;
  /** How long a view remembers a change for a watch that starts later (tests; LOG_MAX_AGE_MS). */
  logMaxAgeMs?: number;
}

export class NodeScopedStore implements Store {
  private readonly views: Map<string, View>;
  /** Trims the views' logs while no change comes (a burst's log would otherwise stay until the next one). */
  private readonly trimTimer: NodeJS.Timeout;
  private readonly watches = new Map<string, ApiWatch>();
  /** The keys each source holds in its view (closing one source costs its own entries only). */
  private readonly sourceKeys = new Map<string, Set<string>>();
  private readonly ready: Promise<void>;
  private stopped = false;
  private readonly narrowDelayMs: number;

  constructor(
    private readonly api: ApiStore,
    private readonly node: string,
    private readonly log: Logger,
    options: NodeScopeOptions = {},
  ) {
    this.narrowDelayMs = options.narrowDelayMs ?? NARROW_DELAY_MS;
    const logMaxAgeMs = options.logMaxAgeMs ?? LOG_MAX_AGE_MS;
    this.views = new Map(SCOPED.map((t) => [typePrefix(t), new View(logMaxAgeMs)]));
    this.trimTimer = setInterval(() => {
      for (const v of this.views.values()) v.trim();
    }, logMaxAgeMs).unref();
    const here = escapeFieldValue(node);
    this.ready = (async () => {
      await Promise.all([this.open(PINNED, PORTS, { fieldSelector: `spec.node=${here}` }), this.open(BOUND, PORTS, { fieldSelector: `status.node=${here},spec.node=` })]);
      const seed = await (options.interfaceIds ?? []);
      // Defensive: in the agent the live session reports only after this view is ready (the
      // chassis layer connects once its informers have listed), but if it ever spoke first,
      // it is newer than the snapshot.
      if (!this.interfacesReported) await this.applyInterfaces(new Set(seed));
      await this.refreshNetworks();
    })();
  }

  private view(type: StoredType): View {
    return this.views.get(typePrefix(type))!;
  }

  /** Sources whose first list is not in yet: closing one settles its open() all the same. */
  private readonly unsynced = new Map<string, () => void>();

  /**
   * Opens a watch as a source of the view of `type`; resolves once its first list is in, or
   * once the source is closed before that (the view's readiness waits on it). `adopt`: an
   * entry the view holds that the new source holds from now on, until its list says
   * otherwise (a port handed over from another source without a delete in between).
   */
  private open(source: string, type: StoredType, scope: { namespace?: string; fieldSelector?: string }, adopt?: KeyValue<KubeObject>): Promise<void> {
    return new Promise((resolve) => {
      this.unsynced.set(source, resolve);
      const synced = () => {
        if (this.unsynced.get(source) === resolve) this.unsynced.delete(source);
        resolve();
      };
      const held = adopt && this.view(type).entries.get(adopt.key);
      if (adopt && held) {
        held.sources.add(source);
        this.sourceKeys.set(source, new Set([adopt.key]));
      }
      const w = this.api.watchScope(
        type,
        scope,
        (ev) => {
          if (this.stopped || this.watches.get(source) !== w) return;
          const here = source === PINNED || source === BOUND;
          const port = ev.type === 'put' ? (ev.kv.value as VirtualPort) : undefined;
          // Leaving the watches of ports here with its NIC still on this switch, a port is
          // handed to its NIC's watch before this source lets it go: informers see it
          // change, not vanish and come back.
          if (here && ev.type === 'delete') this.afterHold(this.holds(source, ev.kv.key, port), this.view(type).entries.get(ev.kv.key)?.kv);
          let keys = this.sourceKeys.get(source);
          if (!keys) this.sourceKeys.set(source, (keys = new Set()));
          if (ev.type === 'put') {
            this.view(type).put(source, ev.kv);
            keys.add(ev.kv.key);
          } else {
            this.view(type).drop(source, ev.kv.key, ev.kv.modRevision);
            keys.delete(ev.kv.key);
          }
          const mine = this.written.get(ev.kv.key);
          if (mine && (ev.type === 'delete' || ev.kv.modRevision >= mine.kv.modRevision)) this.written.delete(ev.kv.key);
          // News of a refused key: its view moved on (and a deleted one is not read again).
          this.staleKeys.delete(ev.kv.key);
          if (here) {
            if (this.portHere(source, ev.kv.key, port)) void this.refreshNetworks();
            // Held here now: its NIC's own watch closes once this source holds it.
            if (ev.type === 'put') this.afterHold(this.holds(source, ev.kv.key, port));
          } else if (source.startsWith(IFACE) && this.portHere(source, ev.kv.key, port, true)) void this.refreshNetworks();
        },
        undefined,
        held ? [adopt] : [],
        synced,
      );
      this.watches.set(source, w);
    });
  }

  private closeSource(source: string, type: StoredType): void {
    const w = this.watches.get(source);
    if (!w) return;
    this.watches.delete(source);
    w.stop();
    this.unsynced.get(source)?.();
    this.unsynced.delete(source);
    const view = this.view(type);
    const keys = this.sourceKeys.get(source);
    this.sourceKeys.delete(source);
    let needs = false;
    for (const key of keys ?? []) {
      view.drop(source, key);
      needs = this.portHere(source, key, undefined) || needs;
    }
    if (needs) void this.refreshNetworks();
  }

  /** iface-ids on the node's switch, as last reported. */
  private readonly localIds = new Set<string>();
  private interfacesReported = false;
  /** Per iface-id: how many entries of the pinned and bound watches (ports here) carry it. */
  private readonly heldIds = new Map<string, number>();
  /** The iface-id each entry of the pinned and bound watches carries (by source and key). */
  private readonly heldBy = new Map<string, string>();
  /** iface-ids on the switch whose port no watch of ports here holds: each wants a NIC watch, or the broad one. */
  private readonly unheldIds = new Set<string>();

  /**
   * The node's switch has (or no longer has) an Interface with this iface-id: its unpinned
   * port is watched while its NIC is here and no watch of ports here holds it.
   */
  setInterface(id: string, present: boolean): void {
    this.interfacesReported = true;
    if (this.stopped || present === this.localIds.has(id)) return;
    if (present) this.localIds.add(id);
    else this.localIds.delete(id);
    void this.syncInterface(id);
  }

  /** Every iface-id on the node's switch (its OVSDB session synced or reconnected). */
  setInterfaces(ids: ReadonlySet<string>): void {
    this.interfacesReported = true;
    void this.applyInterfaces(ids);
  }

  private applyInterfaces(ids: ReadonlySet<string>): Promise<unknown> {
    const opened: Array<Promise<void> | undefined> = [];
    for (const id of [...this.localIds]) {
      if (ids.has(id)) continue;
      this.localIds.delete(id);
      opened.push(this.syncInterface(id));
    }
    for (const id of ids) {
      if (this.localIds.has(id)) continue;
      this.localIds.add(id);
      opened.push(this.syncInterface(id));
    }
    return Promise.all(opened);
  }

  /** After holds(): the iface-id whose count changed, if any, gets its watch opened or closed (adopting `entry` if opened). */
  private afterHold(id: string | undefined, entry?: KeyValue<KubeObject>): void {
    if (id !== undefined) void this.syncInterface(id, entry);
  }

  /** Opens or closes the watch of an iface-id's unpinned port; resolves once an opened one has listed. */
  private syncInterface(id: string, adopt?: KeyValue<KubeObject>): Promise<void> | undefined {
    if (this.stopped) return undefined;
    const wanted = this.localIds.has(id) && !this.heldIds.get(id);
    if (wanted) this.unheldIds.add(id);
    else this.unheldIds.delete(id);
    if (this.everyUnpinned) {
      this.scheduleNarrow();
      return undefined;
    }
    const source = `${IFACE}${id}`;
    if (wanted && !this.watches.has(source)) {
      if (this.nicWatches >= MAX_NIC_WATCHES) return this.watchEveryUnpinned();
      this.nicWatches++;
      return this.open(source, PORTS, { fieldSelector: `spec.interfaceId=${escapeFieldValue(id)},spec.node=` }, adopt);
    }
    if (!wanted && this.watches.has(source)) {
      this.nicWatches--;
      this.closeSource(source, PORTS);
    }
    return undefined;
  }

  private nicWatches = 0;
  /** Set while the agent watches every unpinned port (resolves once that watch has listed and the NIC watches are closed). */
  private everyUnpinned?: Promise<void>;
  private broadListed = false;
  private narrowTimer?: NodeJS.Timeout;

  /**
   * A switch with more NICs whose ports this agent does not hold than MAX_NIC_WATCHES: one
   * watch of every unpinned port instead of one per NIC (as OVN leaves conditional
   * monitoring for ovn-monitor-all on large chassis). Thousands of NIC watches per agent
   * (a bench's 1,500) stalled the controller: each is a stream with its own bookmarks and
   * reconnects, and a reconnecting agent resumed them all at once. The NIC watches close
   * once the broad one has listed (its entries then hold their ports: no delete between).
   * Until fewer than NARROW_BELOW such NICs are left (see narrow): without that, an agent
   * whose switch once took a burst of NICs before their ports (a mass VM start) would hear
   * of every unpinned port of the cluster for the rest of its life.
   */
  private watchEveryUnpinned(): Promise<void> {
    if (this.everyUnpinned) return this.everyUnpinned;
    this.log.info({ event: 'agent.scope.every_unpinned', nicWatches: this.nicWatches, max: MAX_NIC_WATCHES }, 'more NICs without a port here than NIC watches allow: watching every unpinned port instead');
    // Still open when a narrowing is under way: it stays, and the narrowing stops.
    const listed = this.watches.has(EVERY_UNPINNED) ? Promise.resolve() : this.open(EVERY_UNPINNED, PORTS, { fieldSelector: 'spec.node=' });
    const broad: Promise<void> = listed.then(() => {
      if (this.everyUnpinned !== broad || this.stopped) return;
      for (const source of [...this.watches.keys()]) if (source.startsWith(IFACE)) this.closeSource(source, PORTS);
      this.nicWatches = 0;
      this.broadListed = true;
      this.scheduleNarrow();
    });
    this.everyUnpinned = broad;
    return broad;
  }

  /** On the broad watch with few NICs left without a port here: narrow once that has lasted narrowDelayMs. */
  private scheduleNarrow(): void {
    if (!this.broadListed || this.unheldIds.size >= NARROW_BELOW || this.narrowTimer || this.stopped) return;
    this.narrowTimer = setTimeout(() => {
      this.narrowTimer = undefined;
      if (this.broadListed && this.unheldIds.size < NARROW_BELOW && !this.stopped) void this.narrow();
    }, this.narrowDelayMs);
    this.narrowTimer.unref();
  }

  /**
   * Back from the broad watch to one watch per NIC without a port here: each NIC watch
   * takes over its port from the broad watch (adopted: no delete in between), and the
   * broad watch closes once they have listed, taking the other unpinned ports with it.
   */
  private async narrow(): Promise<void> {
    const adopt = new Map<string, KeyValue<KubeObject>>();
    for (const e of this.view(PORTS).entries.values()) {
      const id = (e.kv.value as VirtualPort).spec?.interfaceId;
      if (id !== undefined && e.sources.has(EVERY_UNPINNED) && this.unheldIds.has(id)) adopt.set(id, e.kv);
    }
    this.log.info({ event: 'agent.scope.per_nic', nics: this.unheldIds.size, below: NARROW_BELOW }, 'few NICs without a port here: one watch per NIC again instead of every unpinned port');
    this.everyUnpinned = undefined;
    this.broadListed = false;
    await Promise.all([...this.unheldIds].map((id) => this.syncInterface(id, adopt.get(id))));
    // Past MAX_NIC_WATCHES again meanwhile: the broad watch was kept (watchEveryUnpinned).
    if (this.everyUnpinned || this.stopped) return;
    this.closeSource(EVERY_UNPINNED, PORTS);
  }

  /** Records the iface-id an entry of a watch of ports here carries; returns it (or the one it carried) when its count changed. */
  private holds(source: string, key: string, port: VirtualPort | undefined): string | undefined {
    const entry = `${source}\0${key}`;
    const now = port?.spec?.interfaceId;
    const before = this.heldBy.get(entry);
    if (now === before) return undefined;
    if (before !== undefined) {
      const left = (this.heldIds.get(before) ?? 1) - 1;
      if (left > 0) this.heldIds.set(before, left);
      else this.heldIds.delete(before);
      this.heldBy.delete(entry);
      // interfaceId is immutable: a changed one is a delete and a create under the same name.
      if (now === undefined) return before;
      void this.syncInterface(before);
    }
    if (now !== undefined) {
      this.heldIds.set(now, (this.heldIds.get(now) ?? 0) + 1);
      this.heldBy.set(entry, now);
    }
    return now;
  }

  /** Per port of the watches of ports here (by source and key): the network it needs here, if any. */
  private readonly needs = new Map<string, string>();
  /** Networks this node needs (of ports pinned here or bound here), with how many ports need each. */
  private readonly wanted = new Map<string, number>();

  /**
   * Records what one port of a watch of ports here needs (`port` undefined: it left
   * the watch); true when the set of networks this node needs changed. Kept as counts, so
   * that each event costs O(1): recounting every port per event made a burst of N ports
   * O(N^2) (4% of an agent's CPU at N=1000).
   *
   * `nicHere`: a NIC watch's port, with its NIC on this switch. Bound on another node, its
   * network is needed too: a live migration's destination then has the network's ports and
   * flows before switchover, and taking the binding there is all it takes (QA-135 F2: the
   * network listed and compiled only once bound here kept the VM unreachable for 1.3 s more).
   * Bound nowhere, it is not: this agent binds it at once, and a NIC whose port binds nowhere
   * (a typo, a port on its way) must not bring a whole network's ports in.
   * Not on the watch of every unpinned port (past MAX_NIC_WATCHES): most of those have no NIC here.
   */
  private portHere(source: string, key: string, port: VirtualPort | undefined, nicHere = false): boolean {
    const id = `${source}\0${key}`;
    const boundElsewhere = nicHere && port?.status?.node !== undefined && port.status.node !== this.node;
    const here = port && (boundElsewhere || port.spec?.node === this.node || port.status?.node === this.node);
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

  /** The iface-ids whose unpinned port is watched (tests, logs). */
  interfaces(): string[] {
    return [...this.watches.keys()].filter((s) => s.startsWith(IFACE)).map((s) => s.slice(IFACE.length)).sort();
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
    clearTimeout(this.narrowTimer);
    clearInterval(this.trimTimer);
    for (const w of this.watches.values()) w.stop();
    this.watches.clear();
    for (const settle of this.unsynced.values()) settle();
    this.unsynced.clear();
    for (const v of this.views.values()) v.listeners.clear();
    await this.api.close();
  }
}

/** What an agent's API store serves: the kinds it watches, and NodeRealizations and NodeLeases, which it only writes (its own report and heartbeat). */
export const NODE_SCOPED_KINDS = [NODES, NODE_REALIZATIONS, NODE_LEASES, ...SCOPED];
