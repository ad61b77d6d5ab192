/**
 * One node's fast path: applies NodeTables to the native datapath and keeps an AF_XDP
 * runner (native/src/runner.c: a C thread inside the node's network namespace) on the
 * node's VM NICs and underlay NIC.
 *
 * Applying is incremental: the tables are committed (one RCU swap) only when their
 * content changed; the XDP filter maps get only the keys that were added or removed;
 * interfaces are added to and removed from the running thread one by one (the others
 * keep forwarding). Keys are removed
 * before the tables change and added after, so a frame the XDP program hands over
 * always finds its entry (the filter only ever narrows traffic toward OVS, which is
 * always correct). When the runner cannot start (no rights, no AF_XDP, no XDP object,
 * interface gone) the state says why and every frame keeps going to OVS.
 *
 * Opening a port (its XDP program through the verifier, the attach, the UMEM) takes 30-50 ms,
 * and starting a runner that for every port: those calls run on a worker thread, so vnetd's
 * event loop serves the API and the other nodes meanwhile. apply, widen and close are
 * therefore asynchronous, and taken one at a time in the order they were called.
 */
import { existsSync } from 'node:fs';
import type { Classifier, FastPath, TableBuilder, VipConnections } from './fastpath';
import { RUNNER_IF_SIZE, cString, type Handle } from './native';
import { FilterMap, NODE_FILTERS, UNDERLAY_PORT, fillBuilder, interfaceFilters, keyBytes, tablesSignature, type NodeTables } from './node-tables';
import { IFACE_COUNTERS, PORT_UNDERLAY, TABLE_COUNTERS, type IfaceCounters, type TableCounters } from './types';
import { interfacesWithXdp } from './underlay';
import { XSK_STATS, xdpObjectPath, type XskStats } from './xsk';
import { VipCountBase, listenerKey } from './vip-count-base';

/**
 * The order filter maps are updated in. Inner keys (the underlay) and Dst keys (a VM NIC) let
 * frames in that the load-balanced networks' keys then hold back (LbNet and Target's
 * zero-MAC ones: a backend's frames; VipAddr: frames to a VIP): those are in place before a
 * key they qualify is added, and go only after it is removed, so that what OVS's conntrack
 * must see never reaches the fast path in between. An interface whose holding keys could not
 * all be written (a map full, or out of memory: its entries are allocated as written) loses
 * its letting keys until an apply writes them all: it is applied again HOLD_RETRY_MS later.
 *
 * An apply narrows what the fast path takes at once (holding keys in, other keys out) and can
 * leave the widening (other keys in, holding keys out) for widen(), which the caller runs
 * once the node's OVS has the flows of the same compile: so a backend's removal or a load
 * balancer's deletion lets the fast path take the backend's frames only after OVS stopped
 * dealing it connections, not a moment before (their SYN-ACKs would have skipped OVS's un-DNAT).
 */
const FILTER_ORDER = {
  add: [FilterMap.VipAddr, FilterMap.Dst, FilterMap.Src, FilterMap.Src6, FilterMap.Target, FilterMap.LbNet, FilterMap.Inner, FilterMap.Vip, FilterMap.Net],
  remove: [FilterMap.Net, FilterMap.Dst, FilterMap.Src, FilterMap.Src6, FilterMap.Inner, FilterMap.Vip, FilterMap.Target, FilterMap.LbNet, FilterMap.VipAddr],
} as const;
const HOLDING = new Set<FilterMap>([FilterMap.VipAddr, FilterMap.Target, FilterMap.LbNet]);
/**
 * A VM NIC's Net (its network tag) lets in what the node's Dst keys of that network let in: both
 * letting. The node's maps (NODE_FILTERS) are applied before the interfaces in each phase:
 * VipAddr holds back before any tag or Dst key lets in, and Dst keys go only after the tags
 * that no longer want them.
 */
const LETTING = new Set<FilterMap>([FilterMap.Dst, FilterMap.Inner, FilterMap.Net]);
/**
 * Port security's source pairs only gate what other keys let in, and the connections the fast
 * path owns (a restart's, taken over from the XDP maps) need them at once: added with the
 * holding keys, not held for widen() (until OVS's bundle, a backend's replies to the
 * connections it took over went to OVS, which cannot un-DNAT them).
 */
const GATING = new Set<FilterMap>([FilterMap.Src, FilterMap.Src6]);

/** A VIP listener of a network, as dispatch counts are matched to the VIPs applied. */

/**
 * How long a network that just got its first load balancer here keeps its VIPs' new
 * connections with OVS. Without it, the first connections of a new load balancer that the
 * fast path took stalled or failed (CI: 10 of 300) while the nodes were still applying the
 * change. The explanation given then (the backend's node must see the SYN in its OVS
 * conntrack, which drops a SYN-ACK whose SYN it never saw) does not hold: with a backend
 * node's passthrough keys withheld, its OVS switched such SYN-ACKs and every connection opened
 * (overlay-fastpath-lb, 2026-11-30). What stalled them was not pinned down; the wait stays.
 * Nodes apply a compile within moments of each other; this waits for the slowest. OVS deals
 * new connections exactly as the fast path does, so which of the two takes them meanwhile
 * changes nothing for the client.
 */
export const VIP_SETTLE_MS = 3000;
/** How soon an apply whose holding keys could not all be written is tried again. */
export const HOLD_RETRY_MS = 1000;

const XDP_VM_FILTERED = 3;
const XDP_UNDERLAY_FILTERED = 4;
const XDP_PORT_SECURITY = 1;

export type RunnerState =
  /**
   * recheckMs: apply again after that long (a network's VIPs are settling, VIP_SETTLE_MS; a
   * holding key failed, HOLD_RETRY_MS). heldBack: the interfaces whose holding keys could not
   * all be written (they take nothing but their connections until they are).
   */
  | { state: 'Running'; interfaces: number; recheckMs?: number; heldBack?: string[] }
  | { state: 'Idle'; reason: string }
  | { state: 'Unavailable'; reason: string };

export interface InterfaceCounters {
  ifname: string;
  port: number;
  /** The classifier's view (cumulative over runner restarts). */
  counters: IfaceCounters;
  /** The AF_XDP socket's view (since the runner last started). */
  xsk?: XskStats;
}

export interface NodeCounters {
  tables: TableCounters;
  interfaces: InterfaceCounters[];
  /**
   * Connections the fast path dispatched per (VIP listener, backend), cumulative: the
   * counterpart of OVS's LbDnat flow counters, which never see these connections.
   */
  vipConnections: VipConnections[];
  /**
   * Connections an earlier process left in this node's XDP maps that this node's runners
   * could not take over (their VIP or backend was gone): let go to OVS. The ones taken over
   * are tables.connAdopted.
   */
  connReleased: number;
}

interface RunnerIf {
  name: string;
  port: number;
  mode: number;
  flags: number;
}

export interface NodeRunnerOptions {
  /** Network namespace name (/run/netns/NAME) the node's interfaces live in; absent: vnetd's own. */
  netns?: string;
  /** true: generic (SKB) XDP only; false: native only; default: native, then generic. */
  skbMode?: boolean;
}

const ifKey = (f: RunnerIf): string => JSON.stringify(f);

function packIfs(ifs: RunnerIf[]): Buffer {
  const buf = Buffer.alloc(ifs.length * RUNNER_IF_SIZE);
  ifs.forEach((f, i) => {
    const o = i * RUNNER_IF_SIZE;
    if (Buffer.byteLength(f.name) > 15) throw new RangeError(`interface name ${f.name} longer than 15 bytes`);
    buf.write(f.name, o, 'utf8');
    buf.writeUInt32LE(f.port, o + 16);
    buf.writeUInt32LE(f.mode, o + 20);
    buf.writeUInt32LE(f.flags, o + 24);
  });
  return buf;
}

export interface ApplyOptions {
  /** When t has no port and the runner stops: its XDP programs stay, held (see apply). */
  keepPrograms?: boolean;
  /** false: leave the keys that let more frames in for widen(). */
  widen?: boolean;
  /**
   * Called once the apply no longer forwards what t takes away (keys, tables, interfaces gone),
   * before it opens an interface on a running runner (20-100 ms each): the caller may program
   * OVS from then on. A port that is new to the fast path is OVS's until its interface is open
   * and its keys written, so OVS need not wait for that. A runner that starts (taking over an
   * earlier process's connections) is waited for: called at the end.
   */
  narrowed?: () => void;
  /**
   * The caller knows an earlier process ran the fast path on these interfaces (Node status said
   * Running): a runner that starts takes over its connections, and OVS waits for that without
   * asking iproute2 which interfaces carry a program (a helper process to start, then `ip link`:
   * 140-180 ms of a restart's takeover on the test bed).
   */
  earlierPrograms?: boolean;
}

export class NodeRunner {
  private readonly ctx: Classifier;
  private readonly builder: TableBuilder;
  private runner: Handle | null = null;
  private closed = false;
  private ifs: RunnerIf[] = [];
  private ifSig = '';
  private tablesSig = '';
  private filters = new Map<string, Map<FilterMap, Set<string>>>();
  /** The filters of the last apply, which widen() completes. */
  private wanted = new Map<string, Map<FilterMap, Set<string>>>();
  /** Interfaces a holding key of the last apply could not be written to: no letting key until the next. */
  private heldBack = new Set<string>();
  private st: RunnerState = { state: 'Idle', reason: 'no tables applied yet' };
  /** "network/vip/port/proto" of the VIPs applied: the dispatch counts reported are theirs. */
  private vipListeners = new Set<string>();
  /** Each listener's counts are its load balancer's own (one made again on the same VIP starts from 0). */
  private readonly countBase = new VipCountBase();
  /**
   * When each network of this node's ports first had a VIP the fast path deals, for
   * VIP_SETTLE_MS (a network with only IPv6 or SCTP load balancers has none: its first IPv4
   * one settles as a first load balancer does).
   */
  private readonly vipNetSince = new Map<number, number>();
  /** What runners of this node that have stopped took over and let go (a runner's own counts start at 0). */
  private adoptedBefore = { adopted: 0, released: 0 };
  private readonly xst = new BigUint64Array(XSK_STATS.length);
  /** The last of apply, widen and close called: the next runs after it. */
  private turn: Promise<unknown> = Promise.resolve();

  /** fp: a datapath of this node's own (its tables are this node's); close() frees it. */
  constructor(
    private readonly fp: FastPath,
    private readonly opts: NodeRunnerOptions = {},
  ) {
    this.ctx = fp.classifier();
    this.builder = fp.builder();
  }

  get state(): RunnerState {
    return this.st;
  }

  /**
   * Brings the native tables, the runner and the XDP filters to t. Never throws for
   * environmental reasons. keepPrograms: when t has no port and the runner stops, its XDP
   * programs stay (held), as at a restart: the caller could not resolve the node's tables
   * for a moment (its underlay facts), and the next runner takes the connections over.
   */
  apply(t: NodeTables, now = Date.now(), opts: ApplyOptions = {}): Promise<RunnerState> {
    return this.inTurn(() => this.applyNow(t, now, opts));
  }

  /** Runs fn once every apply, widen and close called before it has finished. */
  private inTurn<T>(fn: () => T | Promise<T>): Promise<T> {
    const run = this.turn.then(fn);
    this.turn = run.catch(() => undefined);
    return run;
  }

  private async applyNow(t: NodeTables, now: number, opts: ApplyOptions): Promise<RunnerState> {
    let told = false;
    const narrowed = () => {
      if (!told) opts.narrowed?.();
      told = true;
    };
    try {
      return await this.applyInTurn(t, now, { ...opts, narrowed });
    } finally {
      narrowed(); // at the latest
    }
  }

  private async applyInTurn(t: NodeTables, now: number, opts: ApplyOptions): Promise<RunnerState> {
    if (this.closed) return { state: 'Idle', reason: 'closed' };
    const wantIfs: RunnerIf[] = [
      ...t.ports.map((p) => ({ name: p.ifname, port: p.id, mode: XDP_VM_FILTERED, flags: p.portSecurity ? XDP_PORT_SECURITY : 0 })),
      { name: t.underlay.ifname, port: UNDERLAY_PORT, mode: XDP_UNDERLAY_FILTERED, flags: 0 },
    ].sort((a, b) => a.port - b.port);
    const wantSig = JSON.stringify(wantIfs);
    const dealing = new Set(t.vips.map((v) => v.network));
    for (const n of this.vipNetSince.keys()) if (!dealing.has(n)) this.vipNetSince.delete(n);
    for (const n of dealing) if (!this.vipNetSince.has(n)) this.vipNetSince.set(n, now);
    const settling = new Set([...dealing].filter((n) => now - this.vipNetSince.get(n)! < VIP_SETTLE_MS));
    const settledIn = settling.size ? Math.max(1, Math.min(...[...settling].map((n) => this.vipNetSince.get(n)! + VIP_SETTLE_MS - now))) : undefined;
    const want = new Map(interfaceFilters(t, settling).map((f) => [f.ifname, f.keys]));
    this.wanted = want;
    if (this.runner) this.updateFilters(want, 'narrow');
    // An apply at 1,000 ports is tens of ms of the event loop: in slices, so that an API
    // request need not wait for all of it (bench:converge N=1000: a POST during both nodes'
    // applies was answered in 152-177 ms, 17-24 ms with the slices and the other cuts).
    await nextTurnOfLoop();
    if (this.closed) return { state: 'Idle', reason: 'closed' };
    const listeners = new Map(t.vips.map((v) => [listenerKey(v.network, v.vip, v.port, v.proto === 'TCP' ? 6 : 17), v.lb]));
    this.vipListeners = new Set(listeners.keys());
    this.countBase.applied(listeners, () => this.ctx.connCounts());
    const sig = tablesSignature(t);
    if (sig !== this.tablesSig) {
      this.builder.clear();
      fillBuilder(this.builder, t, PORT_UNDERLAY);
      this.fp.commit(this.builder);
      this.tablesSig = sig;
      await nextTurnOfLoop();
      if (this.closed) return { state: 'Idle', reason: 'closed' };
    }
    if (!t.ports.length) {
      await this.stopRunner(opts.keepPrograms);
      this.st = { state: 'Idle', reason: 'no VM port bound on this node' };
      return this.st;
    }
    if (this.runner && wantSig !== this.ifSig) await this.removeInterfaces(wantIfs);
    // The open interfaces' holding keys too (a new load balancer's: what OVS's conntrack must
    // see) before OVS may deal with it; a new interface's come once it is open. Not before a
    // runner starts: it takes over an earlier process's connections from the XDP maps, and
    // OVS must not go on (a restart's compile flushes the VIPs' UDP conntrack entries) before
    // that: with it, overlay-fastpath-restart saw replies no datapath un-DNATed (4 runs of 8).
    this.updateFilters(want, 'hold');
    if (this.runner) opts.narrowed?.();
    if (this.runner && wantSig !== this.ifSig) {
      // Interfaces come and go one by one; the others keep forwarding.
      const why = await this.addInterfaces(wantIfs);
      if (why) {
        await this.stopRunner();
        this.ifSig = wantSig;
        this.st = { state: 'Unavailable', reason: why };
        return this.st;
      }
      this.ifSig = wantSig;
    }
    if (!this.runner) {
      // A runner that starts takes over the connections an earlier process's programs hold,
      // and OVS waits for that (above). Where no interface it opens carries one of them, there
      // is nothing to take over: OVS need not wait for the opens, seconds at hundreds of NICs
      // (OVS gave up after 2 s, and every port's Ready of a burst waited that long).
      if (opts.narrowed && !opts.earlierPrograms && !(await this.earlierPrograms(wantIfs))) opts.narrowed();
      if (this.closed) return { state: 'Idle', reason: 'closed' };
      const why = await this.startRunner(wantIfs);
      this.ifSig = wantSig;
      if (why) {
        this.st = { state: 'Unavailable', reason: why };
        return this.st;
      }
    }
    this.updateFilters(want, 'hold');
    if (opts.widen !== false) this.updateFilters(this.wanted, 'widen');
    const recheckMs = this.heldBack.size ? Math.min(settledIn ?? HOLD_RETRY_MS, HOLD_RETRY_MS) : settledIn;
    this.st = { state: 'Running', interfaces: this.ifs.length, ...(recheckMs !== undefined ? { recheckMs } : {}), ...(this.heldBack.size ? { heldBack: [...this.heldBack].sort() } : {}) };
    return this.st;
  }

  /**
   * Completes the last apply's filters: the keys that let more frames in, then the removal of
   * holding keys it no longer wants (apply with widen: false left them). Idempotent.
   */
  widen(): Promise<void> {
    return this.inTurn(() => {
      if (!this.closed) this.updateFilters(this.wanted, 'widen');
    });
  }

  counters(): NodeCounters {
    if (this.closed) return { tables: Object.fromEntries(TABLE_COUNTERS.map((k) => [k, 0n])) as TableCounters, interfaces: [], vipConnections: [], connReleased: 0 };
    const interfaces: InterfaceCounters[] = this.ifs.map((f) => {
      const c: InterfaceCounters = { ifname: f.name, port: f.port, counters: this.ctx.ifaceCounters(f.port) };
      if (this.runner) {
        this.xst.fill(0n);
        this.fp.lib.runnerStats(this.runner, f.port, this.xst, this.xst.length);
        c.xsk = Object.fromEntries(XSK_STATS.map((k, j) => [k, this.xst[j]])) as XskStats;
      }
      return c;
    });
    return { tables: this.ctx.counters(), interfaces, vipConnections: this.vipConnections(), connReleased: this.adopted().released };
  }

  /** Connections dispatched per (network, VIP listener, backend), of the VIPs applied now. */
  vipConnections(): VipConnections[] {
    if (this.closed) return [];
    return this.countBase.own(this.ctx.connCounts().filter((c) => this.vipListeners.has(listenerKey(c.network, c.vip, c.port, c.proto))));
  }

  /**
   * Connections an earlier process's runner left in this node's XDP maps (released, or
   * killed) that this runner took over when it opened the interfaces, and those it let go
   * (their VIP or backend is gone, or the backend is not on the fast path): cumulative.
   */
  adopted(): { adopted: number; released: number } {
    const out = new BigUint64Array(2);
    if (this.runner) this.fp.lib.runnerAdopted(this.runner, out, 2);
    return { adopted: this.adoptedBefore.adopted + Number(out[0]), released: this.adoptedBefore.released + Number(out[1]) };
  }

  /**
   * The runner thread's time in interface additions and removals, in which it forwarded
   * nothing (the caller's thread opens and closes the ports; the thread only takes them in),
   * the callers' time waiting for it to take them up, and how many of its idle waits a
   * command ended (an idle thread is woken at once, not at its next 20 ms poll).
   */
  commandTime(): { ms: number; commands: number; waitedMs: number; wakes: number } {
    const out = new BigUint64Array(4);
    if (this.runner) this.fp.lib.runnerCmdStats(this.runner, out, 4);
    return { ms: Number(out[0]) / 1e6, commands: Number(out[1]), waitedMs: Number(out[2]) / 1e6, wakes: Number(out[3]) };
  }

  /**
   * Frees the native state; once (a second call does nothing: freeing twice crashes the
   * process). keepPrograms: vnetd is stopping, not the node leaving the fast path. The XDP
   * programs stay attached and hold the VIP connections this runner owns (their packets are
   * dropped, for TCP to retransmit, at most 30 s) until the next process's runner takes them
   * over; the rest of the traffic goes to OVS meanwhile, as with no fast path.
   */
  close(opts: { keepPrograms?: boolean } = {}): Promise<void> {
    if (this.closed) return this.turn.then(() => undefined);
    // From now on nothing reads the native state (counters, applies queued): it is freed below.
    this.closed = true;
    return this.inTurn(async () => {
      await this.stopRunner(opts.keepPrograms);
      this.ctx.free();
      this.builder.free();
      this.fp.close();
    });
  }

  /**
   * Whether one of ifs may carry an earlier process's program: any XDP program on one, or
   * that cannot be told (the runner itself checks which are the fast path's).
   */
  private async earlierPrograms(ifs: RunnerIf[]): Promise<boolean> {
    const withXdp = await interfacesWithXdp(this.opts.netns);
    return !withXdp || ifs.some((f) => withXdp.has(f.name));
  }

  private async startRunner(ifs: RunnerIf[]): Promise<string | null> {
    const obj = xdpObjectPath(this.fp.lib.path);
    if (!obj) return 'xdp_redirect.o not built (make -C native)';
    const netns = this.opts.netns ? `/run/netns/${this.opts.netns}` : '';
    if (netns && !existsSync(netns)) return `network namespace ${this.opts.netns} not found`;
    const buf = packIfs(ifs);
    // Native (driver) XDP first, where the driver has it (veth does); generic (SKB) XDP otherwise.
    const modes = this.opts.skbMode === undefined ? [0, 1] : [this.opts.skbMode ? 1 : 0];
    const errors: string[] = [];
    let h: Handle | null = null;
    for (const skb of modes) {
      const err = Buffer.alloc(512);
      h = await this.fp.lib.runnerStart(this.ctx.handle, netns, buf, ifs.length, obj, skb, UNDERLAY_PORT, err);
      if (h) break;
      errors.push(`${skb ? 'generic' : 'native'} XDP: ${cString(err) || 'AF_XDP runner did not start'}`);
    }
    if (!h) return errors.join('; ');
    this.runner = h;
    this.ifs = ifs;
    this.filters = new Map();
    return null;
  }

  /** Removes the interfaces that are no longer wanted (or changed). */
  private async removeInterfaces(want: RunnerIf[]): Promise<void> {
    const wanted = new Set(want.map(ifKey));
    for (const f of this.ifs.filter((x) => !wanted.has(ifKey(x)))) {
      await this.fp.lib.runnerRemove(this.runner!, f.port);
      this.filters.delete(f.name);
      this.heldBack.delete(f.name);
    }
    this.ifs = this.ifs.filter((x) => wanted.has(ifKey(x)));
  }

  /** Adds the wanted interfaces not open yet (after removeInterfaces). */
  private async addInterfaces(want: RunnerIf[]): Promise<string | null> {
    const have = new Set(this.ifs.map(ifKey));
    for (const f of want.filter((x) => !have.has(ifKey(x)))) {
      const err = Buffer.alloc(512);
      if ((await this.fp.lib.runnerAdd(this.runner!, packIfs([f]), err)) < 0) return cString(err) || `${f.name}: could not be added`;
      this.ifs.push(f);
    }
    this.ifs.sort((a, b) => a.port - b.port);
    return null;
  }

  private async stopRunner(keepPrograms = false): Promise<void> {
    const r = this.runner;
    if (r) this.adoptedBefore = this.adopted();
    // No reader (counters) reaches the runner from here on: it is freed on the worker thread.
    this.runner = null;
    this.ifs = [];
    this.ifSig = '';
    this.filters = new Map();
    this.heldBack.clear();
    if (r) await (keepPrograms ? this.fp.lib.runnerRelease(r) : this.fp.lib.runnerStop(r));
  }

  /**
   * narrow: removes the keys no longer wanted that let frames in; hold: adds the holding keys
   * wanted (an interface where one fails is held back) and the gating ones; widen: adds the other keys wanted
   * (not the letting ones on a held-back interface), then removes the holding keys no longer wanted.
   */
  private updateFilters(want: Map<string, Map<FilterMap, Set<string>>>, phase: 'narrow' | 'hold' | 'widen'): void {
    if (!this.runner) return;
    // Called three or four times per apply over every interface (500 a node at 1,000 ports):
    // no closure or set is made per interface (each made closure also costs the bundle's
    // keep-names helper a defineProperty).
    const w: FilterWriter = { lib: this.fp.lib, runner: this.runner, port: 0 };
    // The node's maps first (see LETTING), under the underlay's port (the runner ignores it for them).
    for (let i = -1; i < this.ifs.length; i++) {
      const name = i < 0 ? NODE_FILTERS : this.ifs[i]!.name;
      w.port = i < 0 ? UNDERLAY_PORT : this.ifs[i]!.port;
      let cur = this.filters.get(name);
      if (!cur) this.filters.set(name, (cur = new Map<FilterMap, Set<string>>()));
      const next = want.get(name) ?? NO_FILTERS;
      if (phase === 'narrow') {
        for (const map of FILTER_ORDER.remove) if (!HOLDING.has(map)) removeKeys(w, cur, map, next.get(map));
      } else if (phase === 'hold') {
        this.heldBack.delete(name);
        for (const map of FILTER_ORDER.add) if (HOLDING.has(map) && !addKeys(w, cur, map, next.get(map))) this.heldBack.add(name);
        for (const map of FILTER_ORDER.add) if (GATING.has(map)) addKeys(w, cur, map, next.get(map));
        // What the letting keys let in is no longer all held back where it must be: none of it.
        if (this.heldBack.has(name)) for (const map of FILTER_ORDER.remove) if (LETTING.has(map)) removeKeys(w, cur, map, NO_KEYS);
      } else {
        for (const map of FILTER_ORDER.add) if (!HOLDING.has(map) && !(LETTING.has(map) && this.heldBack.has(name))) addKeys(w, cur, map, next.get(map));
        for (const map of FILTER_ORDER.remove) if (HOLDING.has(map)) removeKeys(w, cur, map, next.get(map));
      }
    }
  }
}

const nextTurnOfLoop = (): Promise<void> => new Promise((go) => setImmediate(go));

/** Where updateFilters writes: one interface's maps (the node's under the underlay's port). */
interface FilterWriter {
  lib: FastPath['lib'];
  runner: Handle;
  port: number;
}
const NO_KEYS: ReadonlySet<string> = new Set();
const NO_FILTERS: ReadonlyMap<FilterMap, ReadonlySet<string>> = new Map();

function writeKey(w: FilterWriter, map: FilterMap, key: string, add: boolean): boolean {
  return w.lib.runnerFilter(w.runner, w.port, map, keyBytes(key), add ? 1 : 0) === 0;
}

/** Removes the keys of `map` that `keep` does not hold (absent: none is kept). */
function removeKeys(w: FilterWriter, cur: Map<FilterMap, Set<string>>, map: FilterMap, keep: ReadonlySet<string> = NO_KEYS): void {
  const have = cur.get(map);
  if (have) for (const k of have) if (!keep.has(k) && writeKey(w, map, k, false)) have.delete(k);
}

/** Adds the keys of `map` in `want` not written yet; false when one could not be. */
function addKeys(w: FilterWriter, cur: Map<FilterMap, Set<string>>, map: FilterMap, want: ReadonlySet<string> | undefined): boolean {
  if (!want?.size) return true;
  let have = cur.get(map);
  if (!have) cur.set(map, (have = new Set<string>()));
  let ok = true;
  for (const k of want) {
    if (have.has(k)) continue;
    if (writeKey(w, map, k, true)) have.add(k);
    else ok = false;
  }
  return ok;
}

export { IFACE_COUNTERS, TABLE_COUNTERS };
