/**
 * The fast path per node: after the pipeline compiles a node's flows it hands the same
 * logical model here (nodeCompiled); this plans the node's fast-path tables by the same
 * rules (planFastPath), resolves them to the host (VM NIC names from the OVS session,
 * the underlay NIC, VTEP next-hop MACs) and applies them with a NodeRunner. Its state
 * and counters go to Node status.fastpath and to /metrics.
 *
 * Opt-in: Node spec.fastPath.enabled, or VNETD_FASTPATH=1 for every node without an
 * explicit setting. Where the fast path cannot run (library missing, no AF_XDP, no
 * rights) the reason is logged once per node and reason, shown in status, and vnetd
 * works on with OVS alone.
 */
import { existsSync } from 'node:fs';
import type { Logger } from 'pino';
import { INTEGRATION_BRIDGE, UNDERLAY_BRIDGE } from '../../chassis/layout';
import type { OvsSnapshot } from '../../chassis/layout-plan';
import { FastPath, openFastPath } from '../../fastpath/fastpath';
import type { NativeLib } from '../../fastpath/native';
import { NodeRunner, type InterfaceCounters, type NodeCounters } from '../../fastpath/node-runner';
import { UNDERLAY_PORT, type NodeTables } from '../../fastpath/node-tables';
import * as underlayFacts from '../../fastpath/underlay';
import { parseMac } from '../../ipam/mac-allocator';
import { onlyAddsTo, planFastPath, type FastPathPlan } from '../../pipeline/fastpath-plan';
import type { LogicalModel } from '../../pipeline/model';
import type { ModelIndex } from '../../pipeline/compiler';
import type { HypervisorNode, NodeFastPathStatus } from '../../resources/kinds';
import { NODES } from '../../store/kinds';
import type { ObjectStore } from '../../store/object-store';

export interface FastPathNodesOptions {
  objects: ObjectStore;
  logger: Logger;
  /** Default for nodes without spec.fastPath.enabled (VNETD_FASTPATH=1). */
  enabledByDefault?: boolean;
  /** How often counters are copied into Node status (default 10 s). */
  statusIntervalMs?: number;
  /**
   * How often the underlay facts of running nodes (local MAC, next-hop MACs of the VTEPs)
   * are read again from the kernel (default 5 s); a change re-applies the node's tables.
   */
  underlayRefreshMs?: number;
  /** Where underlay facts come from (default: iproute2 in the node's netns); tests count the reads. */
  underlay?: UnderlayFacts;
  /** The native library (default: openFastPath's); tests wrap its calls to order or delay them. */
  library?: NativeLib;
}

export type UnderlayFacts = Pick<typeof underlayFacts, 'localMacOf' | 'knownNextHopMac' | 'nextHopMac'> & Partial<Pick<typeof underlayFacts, 'arpFluxRisk'>>;

/** What the pipeline reconciler calls (kept to two methods so its hook stays small). */
export interface FastPathHook {
  /** `index` may be lazy: building it is O(model), and most nodes run without a fast path. */
  /**
   * Resolves once the node's fast path no longer forwards what this compile (or a newer one)
   * takes away, or at once where the fast path does not run; never rejects. What it adds (a
   * new port's interface, 20-100 ms to open) it takes over after, from OVS, which need not
   * wait for it (NodeRunner ApplyOptions.narrowed).
   */
  nodeCompiled(node: HypervisorNode, model: LogicalModel, index: ModelIndex | (() => ModelIndex), ovs: OvsSnapshot): Promise<void>;
  /**
   * The node is no longer programmed here. stopping: because this process is stopping (or
   * giving up its term), not because the node left: its XDP programs stay, holding the VIP
   * connections the fast path owns for the next process (NodeRunner.close).
   */
  nodeGone(node: string, opts?: { stopping?: boolean }): void;
  /**
   * The node's OVS has the flows of the compile last handed to nodeCompiled (the pipeline
   * reconciles a node serially): the fast path may now take what those flows no longer keep
   * with OVS (NodeRunner.widen). Until then it takes only what both agree it may.
   */
  nodeProgrammed?(node: string): void;
  /** Connections the fast path dispatched, "vni/vip/backend" -> count over its nodes (lb-status adds them to OVS's LbDnat counts). */
  dispatched?(): Map<string, number>;
}

interface NodeFastPath {
  runner?: NodeRunner;
  chain: Promise<void>;
  /** An apply is queued on chain: it applies `last` when it runs (compiles coalesce, only the newest matters). */
  applyQueued?: boolean;
  status?: NodeFastPathStatus;
  logged: string;
  /** An apply due when a network's VIPs have settled. */
  recheck?: NodeJS.Timeout;
  /** The last wait before a runner that could not start was tried again (absent: none failed since). */
  retryMs?: number;
  /** Interfaces whose holding keys could not all be written, as last logged ("" for none). */
  heldBack?: string;
  /** What the runner took over from an earlier process (logged when it changes). */
  adopted?: { adopted: number; released: number };
  /** The newest compile handed over: what a change of underlay facts re-applies. */
  last?: { node: HypervisorNode; plan: FastPathPlan | undefined; ovs: OvsSnapshot };
  /** The compile the fast path last narrowed to (its apply took away what that compile does). */
  narrowedTo?: NodeFastPath['last'];
  /** The compile the last apply started with. */
  appliedLast?: NodeFastPath['last'];
  /** A compile that only adds waits this long for more before it is applied (ADDS_COALESCE_MS). */
  addsPending?: NodeJS.Timeout;
  /** The compile the node's OVS has (nodeProgrammed): applying it again widens at once. */
  programmed?: NodeFastPath['last'];
  /**
   * Underlay facts read from the kernel, cached: each read spawns iproute2, and an apply
   * sits on the path of the node's OVS bundle (which waits for it), so applies read only
   * what they have never read; the refresh timer re-reads the rest.
   */
  localMac?: { ip: string; mac: string | undefined };
  /** Next-hop MACs resolved so far (VTEP IP -> MAC). */
  neighbours: Map<string, string>;
  /** VTEPs tried once and not resolved: retried by the refresh timer, not by every apply. */
  unresolved: Set<string>;
  /**
   * localMac and neighbours came from Node status (an earlier process's reads, seedFacts), not
   * from this kernel yet: the first apply uses them, then they are read again at once.
   */
  seeded?: boolean;
  /** Node status said an earlier process ran the fast path here: its programs are still attached (NodeRunner ApplyOptions.earlierPrograms). */
  earlierRunning?: boolean;
  /** The underlay NIC whose ARP settings were checked (arpFluxRisk), once per NIC. */
  arpChecked?: string;
  /** nodeCompiled's callers waiting for the next apply to have narrowed (taken by it as it starts). */
  narrowWaiters: Array<() => void>;
}

/** The underlay facts to keep in Node status (seedFacts reads them back after a restart). */
function recordedFacts(st: NodeFastPath): NodeFastPathStatus['underlayFacts'] {
  if (!st.localMac?.mac) return undefined;
  const hops = [...st.neighbours].slice(0, MAX_RECORDED_NEXT_HOPS);
  return { tunnelIP: st.localMac.ip, tunnelMac: st.localMac.mac, ...(hops.length ? { nextHops: Object.fromEntries(hops) } : {}) };
}

/** Interfaces of a bridge by ofport, and its NICs (not internal, tunnel or patch ports). */
function bridgeInterfaces(s: OvsSnapshot, bridge: string): { byOfport: Map<number, string>; nics: string[] } {
  const byOfport = new Map<number, string>();
  const nics: string[] = [];
  const b = s.bridges.find((x) => x.name === bridge);
  for (const pu of b?.ports ?? []) {
    for (const iu of s.ports.get(pu)?.interfaces ?? []) {
      const i = s.interfaces.get(iu);
      if (!i) continue;
      if (typeof i.ofport === 'number' && i.ofport > 0) byOfport.set(i.ofport, i.name);
      if (i.type === '' || i.type === 'system' || i.type === 'afxdp') nics.push(i.name);
    }
  }
  return { byOfport, nics: nics.sort() };
}

/** How long a compile that only adds waits for the next ones of a burst before its apply. */
export const ADDS_COALESCE_MS = 100;

/** The first wait before a runner that could not start is tried again; it doubles up to the max. */
export const UNAVAILABLE_RETRY_MS = 500;
export const UNAVAILABLE_RETRY_MAX_MS = 30_000;

/**
 * Next-hop MACs kept in Node status.fastpath.underlayFacts: the status is rewritten with the
 * counters every interval and sent to every watcher of Nodes, so it does not grow with a
 * large mesh; the VTEPs beyond are read from the kernel on restart as before.
 */
export const MAX_RECORDED_NEXT_HOPS = 128;

/** A recorded MAC in canonical form, or undefined where it is none a NIC could have (status is writable). */
function recordedMac(text: unknown): string | undefined {
  try {
    return typeof text === 'string' ? parseMac(text) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Takes the underlay facts an earlier process recorded in the node's status (a restart): an
 * apply that waited on iproute2 for them (four commands, a helper process to start: 0.4 s
 * after a restart on the test bed) kept the VIP connections that process left held in XDP
 * that much longer. Malformed entries (status is writable) are skipped.
 */
function seedFacts(st: NodeFastPath, node: HypervisorNode): NodeFastPath {
  st.earlierRunning = node.status?.fastpath?.state === 'Running';
  const f = node.status?.fastpath?.underlayFacts;
  const tunnelMac = recordedMac(f?.tunnelMac);
  if (!f || typeof f.tunnelIP !== 'string' || !tunnelMac) return st;
  st.localMac = { ip: f.tunnelIP, mac: tunnelMac };
  for (const [ip, text] of Object.entries(f.nextHops ?? {})) {
    const mac = recordedMac(text);
    if (mac) st.neighbours.set(ip, mac);
  }
  st.seeded = true;
  return st;
}

/**
 * Whether next only adds to each of prevs (onlyAddsTo), with the same node facts and the same
 * interfaces behind the ports each had; next's side is read once.
 */
function onlyAdds(prevs: ReadonlyArray<NonNullable<NodeFastPath['last']>>, next: NonNullable<NodeFastPath['last']>): boolean {
  if (!next.plan) return false;
  const adds = onlyAddsTo(next.plan);
  const spec = JSON.stringify(next.node.spec?.fastPath ?? null);
  const after = bridgeInterfaces(next.ovs, INTEGRATION_BRIDGE).byOfport;
  const underlay = bridgeInterfaces(next.ovs, UNDERLAY_BRIDGE).nics[0];
  return prevs.every((prev) => {
    if (!prev.plan || JSON.stringify(prev.node.spec?.fastPath ?? null) !== spec) return false;
    const before = bridgeInterfaces(prev.ovs, INTEGRATION_BRIDGE).byOfport;
    if (prev.plan.ports.some((p) => before.get(p.ofport) !== after.get(p.ofport))) return false;
    return bridgeInterfaces(prev.ovs, UNDERLAY_BRIDGE).nics[0] === underlay && adds(prev.plan);
  });
}

const num = (o: Record<string, bigint>): Record<string, number> => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, Number(v)]));

export class FastPathNodes implements FastPathHook {
  private readonly log: Logger;
  private readonly nodes = new Map<string, NodeFastPath>();
  private fp: FastPath | null | undefined;
  private libraryReason = '';
  private readonly timer: NodeJS.Timeout;
  private readonly underlayTimer: NodeJS.Timeout;
  /**
   * Runners of nodes gone (nodeGone) still closing, by node: a node programmed here again
   * meanwhile starts its new runner only once the old one has let go of the interfaces (its
   * stop detaches whatever XDP program they carry, which could be the new runner's).
   */
  private readonly closing = new Map<string, Promise<unknown>>();
  private readonly underlay: UnderlayFacts;
  private stopped = false;

  constructor(private readonly opts: FastPathNodesOptions) {
    this.log = opts.logger.child({ component: 'fastpath' });
    this.underlay = opts.underlay ?? underlayFacts;
    this.timer = setInterval(() => this.refreshCounters(), opts.statusIntervalMs ?? 10_000);
    this.timer.unref();
    this.underlayTimer = setInterval(() => void this.refreshUnderlay(), opts.underlayRefreshMs ?? 5_000);
    this.underlayTimer.unref();
  }

  nodeCompiled(node: HypervisorNode, model: LogicalModel, index: ModelIndex | (() => ModelIndex), ovs: OvsSnapshot): Promise<void> {
    const name = node.metadata.name;
    const enabled = node.spec?.fastPath?.enabled ?? this.opts.enabledByDefault ?? false;
    const cur = this.nodes.get(name);
    if (!enabled && !cur) return Promise.resolve();
    const st: NodeFastPath = cur ?? seedFacts({ chain: this.closing.get(name)?.then(() => undefined) ?? Promise.resolve(), logged: '', neighbours: new Map(), unresolved: new Set(), narrowWaiters: [] }, node);
    this.nodes.set(name, st);
    const requested = st.last;
    st.last = { node, plan: enabled ? planFastPath(model, name, typeof index === 'function' ? index() : index) : undefined, ovs };
    // A compile that only adds (a burst of new ports) to every state the fast path may be in
    // or on its way to (the compile it last narrowed to, and the last one asked for, whose
    // apply may be under way): nothing to take away first, so OVS need not wait behind the
    // applies queued before it (seconds while hundreds of NICs open: OVS gave up after 2 s,
    // and every port of a burst of 1,000 was Ready that much later). Only for a running
    // runner: one that (re)starts takes over an earlier process's connections first.
    const narrowedTo = st.narrowedTo;
    if (st.runner && st.status?.state === 'Running' && narrowedTo && requested && onlyAdds([...new Set([narrowedTo, requested])], st.last)) {
      // OVS carries the new ports meanwhile: the compiles of a burst share one apply (each is
      // a full rebuild of the node's tables and keys, 50-100 ms at 1,500 NICs).
      st.addsPending ??= setTimeout(() => {
        st.addsPending = undefined;
        if (!this.stopped && this.nodes.get(name) === st && st.appliedLast !== st.last) void this.enqueueApply(name, st);
      }, ADDS_COALESCE_MS);
      return Promise.resolve();
    }
    const narrowed = new Promise<void>((resolve) => st.narrowWaiters.push(resolve));
    return Promise.race([narrowed, this.enqueueApply(name, st)]);
  }

  /** One apply at a time per node; compiles that arrive meanwhile coalesce into the newest. */
  private enqueueApply(name: string, st: NodeFastPath): Promise<void> {
    // A queued apply reads st.last when it runs: the chain then carries this compile too.
    if (st.applyQueued) return st.chain;
    st.applyQueued = true;
    st.chain = st.chain
      .then(async () => {
        st.applyQueued = false;
        const n = st.last;
        st.appliedLast = n;
        // The callers of the compiles this apply covers (it reads st.last now); later ones wait for the next.
        const waiters = st.narrowWaiters.splice(0);
        const narrowed = () => {
          st.narrowedTo = n;
          waiters.forEach((w) => w());
        };
        try {
          if (n) await this.applyNode(name, n.node, st, n.plan, n.ovs, st.programmed === n, narrowed);
        } finally {
          narrowed();
        }
      })
      .catch((err: unknown) => this.log.error({ err, node: name }, 'fastpath: apply failed'));
    return st.chain;
  }

  /** Once the node's newest compile is applied (a compile that only adds resolves before its apply, which may wait for more). */
  whenApplied(name: string): Promise<void> {
    const st = this.nodes.get(name);
    if (!st) return Promise.resolve();
    if (st.addsPending) {
      clearTimeout(st.addsPending);
      st.addsPending = undefined;
      if (st.appliedLast !== st.last) void this.enqueueApply(name, st);
    }
    return st.chain;
  }

  nodeProgrammed(name: string): void {
    const st = this.nodes.get(name);
    if (!st?.last) return;
    const done = (st.programmed = st.last);
    // After the apply of that compile (queued before it on the chain), unless a newer one came.
    st.chain = st.chain
      .then(() => {
        if (st.last === done) return st.runner?.widen();
      })
      .catch((err: unknown) => this.log.error({ err, node: name }, 'fastpath: widening failed'));
  }

  nodeGone(name: string, opts: { stopping?: boolean } = {}): void {
    const st = this.nodes.get(name);
    if (!st) return;
    this.nodes.delete(name);
    clearTimeout(st.recheck);
    clearTimeout(st.addsPending);
    st.chain = st.chain.then(() => st.runner?.close({ keepPrograms: opts.stopping || this.stopped }));
    // stop() waits for it: a process that exits first leaves the programs unreleased (as a kill -9 would).
    const closing = Promise.all([this.closing.get(name), st.chain.catch(() => undefined)]);
    this.closing.set(name, closing);
    void closing.then(() => {
      if (this.closing.get(name) === closing) this.closing.delete(name);
    });
  }

  /** Counters of every node with a runner (for /metrics). */
  counters(): Array<{ node: string; state: NodeFastPathStatus['state']; counters?: NodeCounters }> {
    return [...this.nodes.entries()].map(([node, st]) => ({ node, state: st.status?.state ?? 'Idle', counters: st.runner?.counters() }));
  }

  dispatched(): Map<string, number> {
    const out = new Map<string, number>();
    for (const st of this.nodes.values()) {
      for (const c of st.runner?.vipConnections() ?? []) {
        const k = `${c.network}/${c.vip}/${c.backend}`;
        out.set(k, (out.get(k) ?? 0) + c.connections);
      }
    }
    return out;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    for (const st of this.nodes.values()) clearTimeout(st.addsPending);
    clearInterval(this.underlayTimer);
    // A restart, not the nodes leaving the fast path: the next process takes over the VIP
    // connections the runners own (NodeRunner.close).
    await Promise.all([...this.nodes.values()].map((st) => st.chain.then(() => st.runner?.close({ keepPrograms: true }))));
    await Promise.all([...this.closing.values()]);
    this.nodes.clear();
    if (this.underlay === underlayFacts) underlayFacts.closeUnderlayCommands();
  }

  private library(): FastPath | null {
    if (this.fp === undefined && this.opts.library) this.fp = new FastPath(this.opts.library);
    if (this.fp === undefined) {
      const { status, fastPath } = openFastPath();
      this.fp = fastPath;
      if (!status.available) this.libraryReason = `${status.component}: ${status.reason}`;
    }
    return this.fp;
  }

  /** programmed: the node's OVS has this compile already (a re-apply): widen at once. */
  private async applyNode(name: string, node: HypervisorNode, st: NodeFastPath, plan: FastPathPlan | undefined, ovs: OvsSnapshot, programmed: boolean, narrowed: () => void): Promise<void> {
    if (this.stopped) return;
    if (!plan) {
      await this.closeRunner(st);
      await this.report(name, st, { state: 'Disabled' });
      // A compile that enabled it again meanwhile is queued on this state's chain: the state
      // stays (dropped, its next runner would be nobody's: never closed, never widened).
      if (this.nodes.get(name) === st && !st.last?.plan) this.nodes.delete(name);
      return;
    }
    const fp = this.library();
    if (!fp) return this.report(name, st, { state: 'Unavailable', reason: this.libraryReason });
    const netns = node.spec?.fastPath?.netns;
    if (netns && !existsSync(`/run/netns/${netns}`)) {
      await this.closeRunner(st);
      return this.report(name, st, { state: 'Unavailable', reason: `network namespace ${netns} not found` });
    }
    // Each node has a datapath (table snapshot) of its own.
    st.runner ??= new NodeRunner(new FastPath(fp.lib), { netns });
    const tables = await this.resolve(node, st, plan, ovs);
    if (typeof tables === 'string') {
      // Not resolvable for now (no port, no underlay fact yet): the runner stops, its programs
      // and the VIP connections they hold stay for the next one (a missing fact is often brief).
      const state = await st.runner.apply({ localVtep: { ip: '0.0.0.0', mac: '00:00:00:00:00:00' }, underlay: { ifname: '' }, ports: [], vnis: [], vteps: [], macs: [], vips: [] }, Date.now(), { keepPrograms: true });
      return this.report(name, st, { state: state.state === 'Running' ? 'Idle' : state.state, reason: tables });
    }
    this.log.debug({ node: name, tables }, 'fastpath: applying tables');
    const state = await st.runner.apply(tables, Date.now(), { widen: programmed, narrowed, earlierPrograms: st.earlierRunning });
    st.earlierRunning = false;
    // Facts taken from status were this kernel's when they were written: read them again now,
    // not at the next refresh (a change applies the tables again).
    if (st.seeded) void this.refreshNode(name, st);
    if (state.state === 'Running' && state.recheckMs !== undefined) {
      // A network's VIPs are settling (NodeRunner, VIP_SETTLE_MS): apply again once they may go on the fast path.
      this.applyAgainIn(name, st, state.recheckMs);
    }
    const heldBack = state.state === 'Running' ? (state.heldBack ?? []).join(',') : '';
    if (heldBack !== (st.heldBack ?? '')) {
      // Retried every HOLD_RETRY_MS meanwhile; said once per change, not per retry.
      if (heldBack) this.log.warn({ event: 'fastpath.held_back', node: name, interfaces: heldBack.split(',') }, 'fastpath: keys that keep a load balancer\'s traffic with OVS could not be written (a map full, or out of memory); these interfaces take only their connections until they are');
      else this.log.info({ event: 'fastpath.held_back', node: name, interfaces: [] }, 'fastpath: every holding key written again');
      st.heldBack = heldBack;
    }
    const taken = st.runner.adopted();
    if (taken.adopted + taken.released > 0 && (taken.adopted !== st.adopted?.adopted || taken.released !== st.adopted?.released)) {
      st.adopted = taken;
      this.log.info({ event: 'fastpath.adopted', node: name, ...taken }, 'fastpath: took over the VIP connections an earlier process left in the XDP maps');
    }
    await this.report(name, st, state.state === 'Running' ? { state: 'Running', interfaces: state.interfaces } : { state: state.state, reason: state.reason });
  }

  /** Stops and frees the node's runner; counters and dispatch counts no longer see it meanwhile. */
  private async closeRunner(st: NodeFastPath): Promise<void> {
    const r = st.runner;
    st.runner = undefined;
    await r?.close();
  }

  /** The plan on this host, or why it cannot be applied yet. */
  private async resolve(node: HypervisorNode, st: NodeFastPath, plan: FastPathPlan, ovs: OvsSnapshot): Promise<NodeTables | string> {
    const netns = node.spec?.fastPath?.netns;
    if (!plan.localVtep) return 'node has no tunnel IP';
    if (!plan.ports.length) return 'no VM port bound on this node';
    const underlay = node.spec?.fastPath?.underlay ?? bridgeInterfaces(ovs, UNDERLAY_BRIDGE).nics[0];
    if (!underlay) return `no underlay NIC: set spec.fastPath.underlay or plug the uplink into ${UNDERLAY_BRIDGE}`;
    if (st.arpChecked !== underlay && this.underlay.arpFluxRisk) {
      st.arpChecked = underlay;
      void this.underlay.arpFluxRisk(netns, underlay).then((risk) => {
        if (risk) {
          this.log.warn(
            { event: 'fastpath.arp_flux', node: node.metadata.name, underlay },
            `node ${node.metadata.name}: the underlay NIC ${underlay} may answer ARP for the tunnel IP with its own MAC (arp_ignore 0); peers that learn it send tunnel frames OVS does not take. Set net.ipv4.conf.${underlay}.arp_ignore=1`,
          );
        }
      });
    }
    // Read again while no device holds the tunnel IP yet (it may be added after vnetd starts).
    if (st.localMac?.ip !== plan.localVtep || !st.localMac.mac) st.localMac = { ip: plan.localVtep, mac: await this.underlay.localMacOf(netns, plan.localVtep) };
    const localMac = st.localMac.mac;
    if (!localMac) return `no interface holds the tunnel IP ${plan.localVtep}`;
    // A VTEP never seen is resolved now (the kernel is asked once); known ones come from the
    // cache, which the refresh timer keeps current.
    const wanted = new Set(plan.vteps.map((x) => x.ip));
    for (const v of [...st.neighbours.keys(), ...st.unresolved]) {
      if (wanted.has(v)) continue;
      st.neighbours.delete(v);
      st.unresolved.delete(v);
    }
    for (const v of wanted) {
      if (st.neighbours.has(v) || st.unresolved.has(v)) continue;
      const mac = await this.underlay.nextHopMac(netns, v);
      if (mac) st.neighbours.set(v, mac);
      else st.unresolved.add(v);
    }
    const ifOf = bridgeInterfaces(ovs, INTEGRATION_BRIDGE).byOfport;
    const ports = plan.ports.filter((p) => ifOf.has(p.ofport));
    const portIds = new Set(ports.map((p) => p.ofport));
    const vteps = plan.vteps.filter((v) => st.neighbours.has(v.ip));
    const vtepIds = new Set(vteps.map((v) => v.id));
    const balanced = new Set(plan.lbGuards.map((g) => g.network));
    // loadBalancers: false leaves a load-balanced network to OVS as a whole (its documented
    // meaning: an operator's way back to OVS's datapath for everything load balancing touches).
    const vipsCarried = node.spec?.fastPath?.loadBalancers !== false;
    return {
      localVtep: { ip: plan.localVtep, mac: localMac },
      underlay: { ifname: underlay },
      ports: ports.map((p) => ({ id: p.ofport, ifname: ifOf.get(p.ofport)!, network: p.network, mac: p.mac, portSecurity: p.portSecurity, sources: p.sources, slowOnly: balanced.has(p.network) && (!vipsCarried || p.conntrackOnly !== false) })),
      lbGuards: plan.lbGuards,
      vnis: plan.vnis,
      vteps: vteps.map((v) => ({ id: v.id, ip: v.ip, mac: st.neighbours.get(v.ip)!, encap: v.encap })),
      // Entries toward a port without a NIC here, or a VTEP not resolved yet, stay with OVS.
      macs: plan.macs.flatMap((m): NodeTables['macs'] => {
        if (m.to.kind === 'local') return portIds.has(m.to.ofport) ? [{ network: m.network, mac: m.mac, to: { kind: 'local' as const, port: m.to.ofport } }] : [];
        return vtepIds.has(m.to.vtep) ? [{ network: m.network, mac: m.mac, to: { kind: 'remote' as const, vtep: m.to.vtep, vni: m.to.vni } }] : [];
      }),
      // With network, affinity and backend MACs: conntrack VIPs (src/fastpath/node-tables.ts).
      // On unless a Node says loadBalancers: false: then a load-balanced network stays with OVS as a whole.
      vips: vipsCarried ? plan.vips : [],
    };
  }

  /**
   * Reads the underlay facts of every node with a plan again; where one changed (a VTEP's
   * next hop got a new MAC, an unresolved one answered, the tunnel IP moved to another
   * device), the node's newest compile is applied again with them.
   */
  async refreshUnderlay(): Promise<void> {
    await Promise.all([...this.nodes].map(([name, st]) => this.refreshNode(name, st)));
  }

  /** One node's part of refreshUnderlay; also run right after an apply from facts taken from status. */
  private async refreshNode(name: string, st: NodeFastPath): Promise<void> {
    const plan = st.last?.plan;
    if (this.stopped || !plan?.localVtep || !st.runner) return;
    // Seeded next hops the kernel does not know (yet) are resolved, not dropped.
    const verifying = st.seeded === true;
    st.seeded = false;
    const netns = st.last!.node.spec?.fastPath?.netns;
    let changed = false;
    const localMac = await this.underlay.localMacOf(netns, plan.localVtep);
    if (st.localMac?.ip === plan.localVtep && st.localMac.mac !== localMac) {
      st.localMac = { ip: plan.localVtep, mac: localMac };
      changed = true;
    }
    for (const v of new Set(plan.vteps.map((x) => x.ip))) {
      const retry = st.unresolved.has(v) || (verifying && st.neighbours.has(v));
      if (!retry && !st.neighbours.has(v)) continue;
      const mac = retry ? await this.underlay.nextHopMac(netns, v) : await this.underlay.knownNextHopMac(netns, v);
      if (mac === st.neighbours.get(v)) continue;
      if (mac) {
        st.neighbours.set(v, mac);
        st.unresolved.delete(v);
      } else {
        st.neighbours.delete(v);
        st.unresolved.add(v);
      }
      changed = true;
    }
    if (changed && !this.stopped && this.nodes.get(name) === st) {
      this.log.info({ event: 'fastpath.underlay_changed', node: name }, 'fastpath: underlay neighbours changed; applying the tables again');
      await this.enqueueApply(name, st);
    }
  }

  private statusCounters(st: NodeFastPath): NodeFastPathStatus['counters'] {
    const c = st.runner?.counters();
    if (!c) return undefined;
    const figures = (i: InterfaceCounters): Record<string, number> => ({ ...num(i.counters), ...(i.xsk ? { tx: Number(i.xsk.tx), txFull: Number(i.xsk.txFull), xskDrops: Number(i.xsk.drops) } : {}) });
    const underlay = c.interfaces.find((i) => i.port === UNDERLAY_PORT);
    const vmNics: { count: number; [counter: string]: number } = { count: 0 };
    for (const i of c.interfaces) {
      if (i.port === UNDERLAY_PORT) continue;
      vmNics.count++;
      for (const [k, v] of Object.entries(figures(i))) vmNics[k] = (vmNics[k] ?? 0) + v;
    }
    return { tables: { ...num(c.tables), connReleased: c.connReleased }, ...(underlay ? { underlay: { name: underlay.ifname, ...figures(underlay) } } : {}), vmNics };
  }

  /**
   * A node whose runner could not start is applied again, backing off from 0.5 s to 30 s, as a
   * controller requeues what failed: the cause is often passing (its network namespace made
   * after the Node, an interface's queue still held). It stayed Unavailable until the next
   * compile. Not when the library itself is missing.
   */
  private retryLater(name: string, st: NodeFastPath): void {
    if (!this.fp || this.stopped) return;
    st.retryMs = Math.min(UNAVAILABLE_RETRY_MAX_MS, (st.retryMs ?? UNAVAILABLE_RETRY_MS / 2) * 2);
    this.applyAgainIn(name, st, st.retryMs);
  }

  /** The node's newest compile applied again in ms, unless the node left meanwhile (one timer per node: the later call wins). */
  private applyAgainIn(name: string, st: NodeFastPath, ms: number): void {
    clearTimeout(st.recheck);
    st.recheck = setTimeout(() => {
      if (!this.stopped && this.nodes.get(name) === st) void this.enqueueApply(name, st);
    }, ms);
    st.recheck.unref();
  }

  private async report(name: string, st: NodeFastPath, s: { state: NodeFastPathStatus['state']; reason?: string; interfaces?: number }): Promise<void> {
    if (s.state === 'Unavailable') this.retryLater(name, st);
    else st.retryMs = undefined;
    const key = `${s.state}|${s.reason ?? ''}`;
    if (key !== st.logged) {
      st.logged = key;
      const fields = { event: 'fastpath.state', node: name, state: s.state, reason: s.reason, interfaces: s.interfaces };
      if (s.state === 'Unavailable') this.log.warn(fields, `fast path unavailable on ${name}: ${s.reason}; OVS carries all traffic`);
      else this.log.info(fields, `fast path ${s.state.toLowerCase()} on ${name}`);
    }
    const status: NodeFastPathStatus = { state: s.state, ...(s.reason ? { reason: s.reason } : {}), ...(s.interfaces !== undefined ? { interfaces: s.interfaces } : {}) };
    const facts = s.state === 'Disabled' ? undefined : recordedFacts(st);
    if (facts) status.underlayFacts = facts;
    // The figures refreshCounters last took (every statusIntervalMs) while the state and the
    // interfaces stay: reading them from every interface after each apply took 10-20 ms of the
    // event loop at 500 NICs, and rewrote the Node's status each time.
    const same = st.status?.state === status.state && st.status.interfaces === status.interfaces;
    const counters = (st.runner && same && st.status?.counters) || this.statusCounters(st);
    if (counters) status.counters = counters;
    st.status = status;
    await this.writeStatus(name, status);
  }

  private refreshCounters(): void {
    for (const [name, st] of this.nodes) {
      if (!st.status || !st.runner) continue;
      const counters = this.statusCounters(st);
      if (JSON.stringify(counters) === JSON.stringify(st.status.counters)) continue;
      st.status = { ...st.status, counters };
      st.chain = st.chain.then(() => this.writeStatus(name, st.status!)).catch((err: unknown) => this.log.warn({ err, node: name }, 'fastpath: status write failed'));
    }
  }

  private async writeStatus(name: string, fastpath: NodeFastPathStatus): Promise<void> {
    if (this.stopped) return;
    await this.opts.objects.modify<HypervisorNode>(
      NODES,
      undefined,
      name,
      (cur) => {
        if (JSON.stringify(cur.status?.fastpath ?? null) === JSON.stringify(fastpath)) return undefined;
        return { ...cur, status: { ...(cur.status ?? {}), fastpath } };
      },
      { subresource: 'status' },
    );
  }
}
