/**
 * The pipeline reconciler's logical model, kept up to date object by object instead of
 * rebuilt from every informer on each change (which made N port creates cost O(N^2)).
 *
 * Port and load balancer changes update the model in place and say which networks,
 * ports and load balancers they touch (a CompileScope for every node). A network that
 * appears, or goes, with nothing on it is added or dropped in place (it has no flows);
 * other network and node changes are rare and rebuild the whole model (rebuild()); the
 * caller then recompiles every node in full.
 *
 * Per network it also counts bound ports per node, so "which nodes need this network"
 * (status) is a lookup, not a scan of the network's ports, and keeps its local ofports
 * per node by flood chunk, so a port coming or going recompiles its chunk (and the
 * network's flood flows only when a chunk or a node appears or goes), never a list of
 * the network's ports.
 */
import { isIP } from 'node:net';
import { getCondition } from '../conditions';
import { BOUND, MAC_MISMATCH } from '../../chassis/binding';
import { countPairMacs, pairMacHoldersOf, pairMacKey, pairMacShared, pairMacsOf, sharedPairMacsOf, type PairMacHolders } from '../../pipeline/pair-macs';
import { floodChunkKey, floodChunkOf, forgetLbFlows, indexModel, keepLbFlowsOf, takesUnknownUnicast, lbTableSize, loadBalancerMac, type FloodChunks, type LbBackendModel, type LoadBalancerModel, type LogicalModel, type ModelIndex, type NetworkModel, type NodeModel, type PortModel, type ScopeIndex } from '../../pipeline';
import type { Encapsulation, HypervisorNode, LoadBalancer, VirtualNetwork, VirtualPort } from '../../resources/kinds';
import { objectKey } from '../../store/keys';
import { LOAD_BALANCERS, NETWORKS, PORTS } from '../../store/kinds';
import { checkedPorts, udpCheckedPorts, udpExpectsReply } from './lb-health';
import { backendsMayMove, changedPorts } from './lb-backends';

/** What a pair entry for a MAC of a network depended on before a change (LiveModel.portChanged). */
interface MacState {
  network: string;
  mac: string;
  holders: string[];
  own: boolean;
}

/** Objects a change touches, by uid (deleted ones included). */
export interface Touched {
  ports: Set<string>;
  networks: Set<string>;
  loadBalancers: Set<string>;
  /** floodChunkKey(network uid, chunk) */
  floodChunks: Set<string>;
  /** pairMacKey(network uid, MAC): pair MACs whose holders changed */
  pairMacs: Set<string>;
}

export function emptyTouched(): Touched {
  return { ports: new Set(), networks: new Set(), loadBalancers: new Set(), floodChunks: new Set(), pairMacs: new Set() };
}

export function mergeTouched(into: Touched, from: Touched): void {
  for (const k of ['ports', 'networks', 'loadBalancers', 'floodChunks', 'pairMacs'] as const) for (const uid of from[k]) into[k].add(uid);
}

/**
 * How a change moved the zero crossings of a network's per-node and per-chunk counts
 * (+1 appeared, -1 went): a crossing that is not undone within the change alters the
 * network's flood flows (its chunk list or its VTEPs).
 */
type Crossings = Map<string, number>;

/**
 * Where a port is bound: Bound=True, or Unknown (its node's session is down and the
 * chassis layer kept the last known binding). Treating Unknown as unbound would make
 * a restarted vnetd install a table without the port before the session is back.
 */
export function bindingOf(p: VirtualPort): PortBinding | undefined {
  const bound = getCondition(p.status?.conditions, BOUND);
  if (!bound || bound.status === 'False' || !p.status?.node || !p.status.ofport) return undefined;
  return { node: p.status.node, ofport: p.status.ofport };
}

export interface PortBinding {
  node: string;
  ofport: number;
  /** The NIC's MAC as its hypervisor says it (external_ids:attached-mac), when read live from there. */
  nicMac?: string;
}

/**
 * Whether the port's NIC was plugged with another MAC than the port's: read live from the
 * hypervisor when the binding came from there, else from the port's Bound condition
 * (MacMismatch). Such a NIC forwards only what port security lets through, whatever
 * spec.portSecurity says (putPort): interface ids are first come, first served across
 * namespaces, and a tenant who claimed the id another tenant's VM is plugged with got that VM
 * into its own network with portSecurity off (QA-151 F3).
 */
export function nicMacMismatched(p: VirtualPort, b: PortBinding | undefined): boolean {
  if (b?.nicMac !== undefined) return p.spec?.mac !== undefined && b.nicMac.toLowerCase() !== p.spec.mac.toLowerCase();
  return getCondition(p.status?.conditions, BOUND)?.reason === MAC_MISMATCH;
}

/**
 * Where a port is bound, by whatever knows best (the store's status, or the hypervisor's
 * own OVSDB rows); modelled: the binding the model held for it until now.
 */
export type BindingSource = (p: VirtualPort, modelled: PortBinding | undefined) => PortBinding | undefined;

export function versionOfPort(p: VirtualPort): string {
  return `${p.metadata.generation ?? 0}/${p.status?.node ?? ''}/${p.status?.ofport ?? ''}`;
}

/**
 * The version a node realizes for a port: its generation and binding. Equal to
 * versionOfPort once the binding is in the store (what Ready compares against).
 */
export function versionOfBoundPort(p: VirtualPort, b: PortBinding | undefined): string {
  return `${p.metadata.generation ?? 0}/${b?.node ?? ''}/${b?.ofport ?? ''}${nicMacMismatched(p, b) ? '/mac-mismatch' : ''}`;
}

export function sameBinding(a: PortBinding | undefined, b: PortBinding | undefined): boolean {
  return a?.node === b?.node && a?.ofport === b?.ofport;
}

/** Resolves a load balancer's backends among its network's ports (see pipeline.reconciler.ts). */
export type BackendResolver = (lb: LoadBalancer, net: NetworkModel, ports: ReadonlyMap<string, PortModel>) => LbBackendModel[];

/** Backends that left a load balancer's VIP (all of its backends when the load balancer went). */
export interface RetiredBackends {
  vni: number;
  vip: string;
  backends: string[];
}

export class LiveModel implements ScopeIndex {
  readonly networks = new Map<string, NetworkModel>();
  /** Uids of modelled networks being deleted, kept for the ports and load balancers on them. */
  private readonly terminating = new Set<string>();
  readonly ports = new Map<string, PortModel>();
  readonly nodes = new Map<string, NodeModel>();
  readonly loadBalancers = new Map<string, LoadBalancerModel>();
  /** Store key of every modelled object, by uid (status writes). */
  readonly keyOfUid = new Map<string, string>();
  private readonly netByName = new Map<string, NetworkModel>();
  private readonly portsByNet = new Map<string, Map<string, PortModel>>();
  private readonly lbsByNet = new Map<string, Map<string, LoadBalancerModel>>();
  /** Port uid by store key, LB uid by store key: deletes arrive by key. */
  private readonly portUidByKey = new Map<string, string>();
  private readonly lbUidByKey = new Map<string, string>();
  /** networkUid -> node -> number of ports bound there. */
  private readonly boundCount = new Map<string, Map<string, number>>();
  /** networkUid -> node -> number of ports bound there that take unknown unicast (takesUnknownUnicast). */
  private readonly unknownCount = new Map<string, Map<string, number>>();
  /** networkUid -> node -> flood chunk -> ofport -> number of ports bound to it. */
  private readonly chunksByNet: ChunksByNet = new Map();
  /** The same for the ports that take unknown unicast. */
  private readonly unknownChunksByNet: ChunksByNet = new Map();
  /** networkUid -> pair MAC -> ports declaring it (a shared one gets no L2 entry, pair-macs.ts). */
  private readonly pairHolders: PairMacHolders = new Map();
  /** `${network uid}/${own MAC}` -> ports with it (a pair naming it gets no entry). */
  private readonly ownMacs = new Map<string, number>();
  /** The raw load balancers, to re-resolve backends when their network's ports change. */
  private readonly rawLbs = new Map<string, LoadBalancer>();
  /** Backends that left a load balancer (all of one that went) since the last drainRetired(). */
  private retiredQueue: RetiredBackends[] = [];

  /**
   * What left the load balancers since the last call: their conntrack entries still send a
   * client that keeps its 5-tuple (UDP, a client's fixed source port) to a backend no
   * longer there, until flushed.
   */
  drainRetired(): RetiredBackends[] {
    if (this.retiredQueue.length === 0) return [];
    const out = this.retiredQueue;
    this.retiredQueue = [];
    return out;
  }

  /** The backend addresses a load balancer with this VIP in this network has now (one created again with the same VIP). */
  backendsOfVip(vni: number, vip: string): ReadonlySet<string> {
    const out = new Set<string>();
    for (const lb of this.loadBalancers.values()) if (lb.vip === vip && this.networks.get(lb.network)?.vni === vni) for (const b of lb.backends) out.add(b.ip);
    return out;
  }

  private retire(old: LoadBalancerModel | undefined, now: LoadBalancerModel | undefined): void {
    if (!old) return;
    const vni = this.networks.get(old.network)?.vni;
    if (vni === undefined) return;
    const kept = new Set(now?.vip === old.vip ? now.backends.map((b) => b.ip) : []);
    const gone = [...new Set(old.backends.map((b) => b.ip))].filter((ip) => !kept.has(ip));
    if (gone.length) this.retiredQueue.push({ vni, vip: old.vip, backends: gone });
  }

  constructor(
    private readonly resolveBackends: BackendResolver,
    private readonly tunnelPorts: (node: string) => Partial<Record<Encapsulation, number>> | undefined,
    private readonly bindingFor: BindingSource = (p) => bindingOf(p),
  ) {}

  /** The binding the model holds for the port at this store key (undefined: unbound or not modelled). */
  bindingAt(key: string): PortBinding | undefined {
    const uid = this.portUidByKey.get(key);
    return uid ? this.ports.get(uid)?.binding : undefined;
  }

  /** The port at this store key is in the model (its network is known, it has a MAC). */
  hasPort(key: string): boolean {
    return this.portUidByKey.has(key);
  }

  get model(): LogicalModel {
    return this;
  }

  /** A full index (sorted lists) for compileNode. */
  index(): ModelIndex {
    return indexModel(this);
  }

  portsOf(networkUid: string): Iterable<PortModel> {
    return this.portsByNet.get(networkUid)?.values() ?? [];
  }

  lbsOf(networkUid: string): readonly LoadBalancerModel[] {
    const m = this.lbsByNet.get(networkUid);
    return m ? [...m.values()].sort((a, b) => a.key.localeCompare(b.key)) : [];
  }

  /** Nodes that must install a network's flows: those with a port of it bound. */
  nodesOf(networkUid: string): Set<string> {
    return new Set(this.boundCount.get(networkUid)?.keys() ?? []);
  }

  boundNodesOf(networkUid: string): Iterable<string> {
    return this.boundCount.get(networkUid)?.keys() ?? [];
  }

  unknownNodesOf(networkUid: string): Iterable<string> {
    return this.unknownCount.get(networkUid)?.keys() ?? [];
  }

  unknownChunksOf(networkUid: string, node: string): FloodChunks | undefined {
    return this.unknownChunksByNet.get(networkUid)?.get(node);
  }

  floodChunksOf(networkUid: string, node: string): FloodChunks | undefined {
    return this.chunksByNet.get(networkUid)?.get(node);
  }

  pairMacShared(networkUid: string, mac: string): boolean {
    return pairMacShared(this.pairHolders, networkUid, mac) || this.isOwnMac(networkUid, mac);
  }

  isOwnMac(networkUid: string, mac: string): boolean {
    return this.ownMacs.has(`${networkUid}/${mac}`);
  }

  private countOwnMac(m: PortModel, delta: 1 | -1): void {
    const k = `${m.network}/${m.mac.toLowerCase()}`;
    const n = (this.ownMacs.get(k) ?? 0) + delta;
    if (n > 0) this.ownMacs.set(k, n);
    else this.ownMacs.delete(k);
  }

  /**
   * The MACs a port change can move (its own and its pairs', before and after), with what a
   * pair entry for each depends on: several ports declare it, or it is a port's own MAC.
   */
  private macsBefore(old: PortModel | undefined, obj: VirtualPort | undefined): Map<string, MacState> {
    const out = new Map<string, MacState>();
    const watch = (network: string | undefined, mac: string | undefined) => {
      if (!network || !mac) return;
      const m = mac.toLowerCase();
      const k = pairMacKey(network, m);
      if (!out.has(k)) out.set(k, { network, mac: m, holders: [...pairMacHoldersOf(this.pairHolders, network, m)], own: this.isOwnMac(network, m) });
    };
    if (old) for (const mac of [old.mac, ...old.allowedAddressPairs.map((a) => a.mac)]) watch(old.network, mac);
    const net = obj && this.netByName.get(`${obj.metadata.namespace}/${obj.spec?.network}`)?.uid;
    if (obj?.spec?.mac) for (const mac of [obj.spec.mac, ...(obj.spec.allowedAddressPairs ?? []).map((a) => a.mac ?? obj.spec!.mac)]) watch(net, mac);
    return out;
  }

  /**
   * The ports whose pair entries a change moved: those declaring a MAC that went from one
   * holder to several or back, or that became or stopped being a port's own MAC (a rebind, a
   * new generation of either side changes neither, and recompiles nobody else: QA-111 F5).
   */
  private touchMacChanges(before: ReadonlyMap<string, MacState>, t: Touched): void {
    for (const [k, b] of before) {
      const after = pairMacHoldersOf(this.pairHolders, b.network, b.mac);
      const own = this.isOwnMac(b.network, b.mac);
      if (b.holders.length >= 2 === after.size >= 2 && b.own === own) continue;
      for (const uid of [...b.holders, ...after]) t.ports.add(uid);
      if (b.holders.length || after.size) t.pairMacs.add(k);
    }
  }

  pairMacHolders(networkUid: string, mac: string): ReadonlySet<string> {
    return pairMacHoldersOf(this.pairHolders, networkUid, mac);
  }

  sharedPairMacs(networkUid: string): Iterable<string> {
    return sharedPairMacsOf(this.pairHolders, networkUid);
  }

  rebuild(networks: VirtualNetwork[], ports: VirtualPort[], nodes: HypervisorNode[], lbs: LoadBalancer[]): void {
    // The bindings held so far (some may be ahead of the store): the binding source may keep them.
    const modelled = new Map([...this.portUidByKey].map(([key, uid]) => [key, this.ports.get(uid)?.binding]));
    for (const m of [this.networks, this.ports, this.nodes, this.loadBalancers, this.keyOfUid, this.netByName, this.portsByNet, this.lbsByNet, this.portUidByKey, this.lbUidByKey, this.boundCount, this.unknownCount, this.chunksByNet, this.unknownChunksByNet, this.pairHolders, this.ownMacs, this.rawLbs, this.terminating]) m.clear();
    // A network being deleted keeps its flows while ports or load balancers are on it (it waits
    // for them, and their traffic goes on until they are deleted, as a terminating namespace's
    // pods keep running): modelled while something names it.
    const named = new Set<string>();
    for (const o of [...ports, ...lbs]) if (!o.metadata.deletionTimestamp && o.spec?.network) named.add(`${o.metadata.namespace}/${o.spec.network}`);
    for (const n of networks) this.addNetwork(n, named.has(`${n.metadata.namespace}/${n.metadata.name}`));
    for (const n of nodes) {
      if (!n.spec?.tunnelIP) continue;
      this.nodes.set(n.metadata.name, { name: n.metadata.name, tunnelIP: n.spec.tunnelIP, tunnelPorts: this.tunnelPorts(n.metadata.name) });
    }
    for (const p of ports) {
      const key = objectKey(PORTS, p.metadata.namespace, p.metadata.name);
      this.putPort(key, p, modelled.get(key));
    }
    for (const lb of lbs) this.putLb(objectKey(LOAD_BALANCERS, lb.metadata.namespace, lb.metadata.name), lb);
    // Those deleted while the model was stale never came through lbChanged.
    keepLbFlowsOf(new Set(this.loadBalancers.keys()));
  }

  /** The modelled network of that namespace/name. */
  networkNamed(key: string): NetworkModel | undefined {
    return this.netByName.get(key);
  }

  /** Whether a network being deleted that was kept for what is on it now has nothing on it (a rebuild drops it). */
  terminatingEmptied(): boolean {
    for (const uid of this.terminating) if (!this.hasObjectsOn(uid)) return true;
    return false;
  }

  /** Whether the model holds ports or load balancers of a network. */
  hasObjectsOn(networkUid: string): boolean {
    return (this.portsByNet.get(networkUid)?.size ?? 0) > 0 || (this.lbsByNet.get(networkUid)?.size ?? 0) > 0;
  }


  /** A network gone that nothing is modelled on and no node has flows of (the caller checks the nodes). */
  dropNetwork(m: NetworkModel): void {
    this.networks.delete(m.uid);
    this.netByName.delete(m.key);
    this.keyOfUid.delete(m.uid);
    this.terminating.delete(m.uid);
  }

  /**
   * A network into the model (one without a VNI yet is not, nor one being deleted unless
   * `inUse`: ports or load balancers are on it, see rebuild). Outside a
   * rebuild: a new network with nothing on it yet, added in place, as it has no flows on any
   * node until a port of it is bound, so nothing is touched (each one created cost a rebuild
   * of the whole model and a full compile of every node before); the caller checks that no
   * port or load balancer names it.
   */
  addNetwork(n: VirtualNetwork, inUse = false): void {
    if (!n.spec?.vni || (n.metadata.deletionTimestamp && !inUse)) return;
    if (n.metadata.deletionTimestamp) this.terminating.add(n.metadata.uid!);
    const key = `${n.metadata.namespace}/${n.metadata.name}`;
    const m: NetworkModel = { uid: n.metadata.uid!, key, version: String(n.metadata.generation ?? 0), vni: n.spec.vni, encapsulation: n.spec.encapsulation ?? 'vxlan' };
    this.networks.set(m.uid, m);
    this.netByName.set(key, m);
    this.keyOfUid.set(m.uid, objectKey(NETWORKS, n.metadata.namespace, n.metadata.name));
  }

  /** Refreshes a node's tunnel ofports; true when they changed (its flows must be recompiled in full). */
  refreshTunnelPorts(node: string): boolean {
    const n = this.nodes.get(node);
    if (!n) return false;
    const next = this.tunnelPorts(node);
    if (JSON.stringify(next ?? null) === JSON.stringify(n.tunnelPorts ?? null)) return false;
    this.nodes.set(node, { ...n, tunnelPorts: next });
    return true;
  }

  /** A port was added, changed (obj) or deleted (undefined). */
  portChanged(key: string, obj: VirtualPort | undefined): Touched {
    const t = emptyTouched();
    const nets = new Set<string>();
    const crossings: Crossings = new Map();
    const oldUid = this.portUidByKey.get(key);
    const old = oldUid ? this.ports.get(oldUid) : undefined;
    const macs = this.macsBefore(old, obj);
    if (old) {
      t.ports.add(old.uid);
      nets.add(old.network);
      for (const mac of pairMacsOf(old)) t.pairMacs.add(pairMacKey(old.network, mac));
      if (old.binding) t.floodChunks.add(floodChunkKey(old.network, floodChunkOf(old.binding.ofport)));
      this.dropPort(key, old, crossings);
    }
    const now = obj ? this.putPort(key, obj, old?.binding, crossings) : undefined;
    if (now) {
      t.ports.add(now.uid);
      nets.add(now.network);
      for (const mac of pairMacsOf(now)) t.pairMacs.add(pairMacKey(now.network, mac));
      if (now.binding) t.floodChunks.add(floodChunkKey(now.network, floodChunkOf(now.binding.ofport)));
    }
    this.touchMacChanges(macs, t);
    // The network's own flood flows change only when a chunk or a node of it appears or goes.
    for (const [k, n] of crossings) if (n !== 0) t.networks.add(k.slice(0, k.indexOf('\n')));
    // Backends resolve to ports: re-resolve the load balancers whose backends this port may move.
    for (const net of nets) {
      const lbs = [...(this.lbsByNet.get(net)?.values() ?? [])];
      if (lbs.length === 0) continue;
      const changed = changedPorts([old, now].filter((p): p is PortModel => p !== undefined), this.portsByNet.get(net)?.values() ?? []);
      for (const lb of lbs) {
        const raw = this.rawLbs.get(lb.uid);
        if (!raw || !backendsMayMove(raw, lb.backends, changed)) continue;
        this.retire(lb, this.putLb(this.keyOfUid.get(lb.uid)!, raw));
        t.loadBalancers.add(lb.uid);
      }
    }
    return t;
  }

  lbChanged(key: string, obj: LoadBalancer | undefined): Touched {
    const t = emptyTouched();
    const oldUid = this.lbUidByKey.get(key);
    const old = oldUid ? this.loadBalancers.get(oldUid) : undefined;
    if (old) {
      t.loadBalancers.add(old.uid);
      t.networks.add(old.network);
      this.dropLb(key, old);
    }
    const now = obj ? this.putLb(key, obj, old && old.uid === obj.metadata.uid ? old.slots : undefined) : undefined;
    this.retire(old, now);
    // A big one's flows kept for its next compile (lb-flow-reuse.ts) have none to come.
    if (old && old.uid !== now?.uid) forgetLbFlows(old.uid);
    if (now) {
      t.loadBalancers.add(now.uid);
      t.networks.add(now.network);
    }
    return t;
  }

  private putPort(key: string, p: VirtualPort, modelled?: PortBinding, crossings?: Crossings): PortModel | undefined {
    const net = this.netByName.get(`${p.metadata.namespace}/${p.spec?.network}`);
    if (!net || !p.spec?.mac || p.metadata.deletionTimestamp) return undefined;
    const binding = this.bindingFor(p, modelled);
    const m: PortModel = {
      uid: p.metadata.uid!,
      key: `${p.metadata.namespace}/${p.metadata.name}`,
      version: versionOfBoundPort(p, binding),
      network: net.uid,
      mac: p.spec.mac,
      ips: p.spec.ips ?? [],
      portSecurity: (p.spec.portSecurity ?? true) || nicMacMismatched(p, binding),
      allowedAddressPairs: (p.spec.allowedAddressPairs ?? []).map((a) => ({ ip: a.ip, mac: a.mac ?? p.spec!.mac! })),
      binding,
      // Declared node: other nodes can route to it before its NIC is plugged.
      expectedNode: p.spec.node,
    };
    this.ports.set(m.uid, m);
    this.portUidByKey.set(key, m.uid);
    this.keyOfUid.set(m.uid, key);
    let inNet = this.portsByNet.get(net.uid);
    if (!inNet) this.portsByNet.set(net.uid, (inNet = new Map()));
    inNet.set(m.uid, m);
    if (m.binding) this.countBinding(net.uid, m.binding, takesUnknownUnicast(m), +1, crossings);
    countPairMacs(this.pairHolders, m, 1);
    this.countOwnMac(m, 1);
    return m;
  }

  private dropPort(key: string, m: PortModel, crossings?: Crossings): void {
    this.ports.delete(m.uid);
    this.portUidByKey.delete(key);
    this.keyOfUid.delete(m.uid);
    const inNet = this.portsByNet.get(m.network);
    inNet?.delete(m.uid);
    if (inNet?.size === 0) this.portsByNet.delete(m.network);
    if (m.binding) this.countBinding(m.network, m.binding, takesUnknownUnicast(m), -1, crossings);
    this.countOwnMac(m, -1);
    countPairMacs(this.pairHolders, m, -1);
  }

  private countBinding(net: string, b: PortBinding, takesUnknown: boolean, delta: 1 | -1, crossings?: Crossings): void {
    const cross = (k: string) => crossings?.set(k, (crossings.get(k) ?? 0) + delta);
    if (countPerNode(this.boundCount, net, b.node, delta)) cross(`${net}\n${b.node}`);
    // Where the network's unknown unicast goes (compiler.ts unknownUnicastFlows) is in every node's network flows.
    if (takesUnknown && countPerNode(this.unknownCount, net, b.node, delta)) cross(`${net}\n${b.node}\nunknown`);
    // The node's flood chunks (ofport -> ports bound to it), and those of the ports that take
    // unknown unicast: a chunk opening or closing changes the network's flows that list them.
    const c = floodChunkOf(b.ofport);
    if (countInChunk(this.chunksByNet, net, b, delta)) cross(`${net}\n${b.node}\n${c}`);
    if (takesUnknown && countInChunk(this.unknownChunksByNet, net, b, delta)) cross(`${net}\n${b.node}\nunknown ${c}`);
  }

  /** had: the slot table's size of the same load balancer's model before (absent: the one in the map). */
  private putLb(key: string, lb: LoadBalancer, had?: number): LoadBalancerModel | undefined {
    const net = this.netByName.get(`${lb.metadata.namespace}/${lb.spec?.network}`);
    if (!net || !lb.spec?.vip || !isIP(lb.spec.vip) || lb.metadata.deletionTimestamp) return undefined;
    const m: LoadBalancerModel = {
      uid: lb.metadata.uid!,
      key: `${lb.metadata.namespace}/${lb.metadata.name}`,
      version: String(lb.metadata.generation ?? 0),
      network: net.uid,
      vip: lb.spec.vip,
      mac: loadBalancerMac(lb)!,
      listeners: lb.spec.listeners.map((l) => ({ protocol: l.protocol ?? 'TCP', port: l.port, targetPort: l.targetPort ?? l.port })),
      backends: this.resolveBackends(lb, net, this.portsByNet.get(net.uid) ?? new Map()),
      sessionAffinity: lb.spec.sessionAffinity ?? 'None',
      healthCheckPorts: checkedPorts(lb),
      udpHealthCheckPorts: udpCheckedPorts(lb),
      ...(udpExpectsReply(lb) ? { udpHealthExpectReply: true } : {}),
      // Never smaller than this process had it either: a backend removed before the
      // controller recorded a larger size in status must not shrink the table.
      slots: lbTableSize(lb.spec.backends?.length ?? 0, Math.max(lb.status?.slots ?? 0, had ?? this.loadBalancers.get(lb.metadata.uid!)?.slots ?? 0)),
    };
    this.loadBalancers.set(m.uid, m);
    this.lbUidByKey.set(key, m.uid);
    this.keyOfUid.set(m.uid, key);
    this.rawLbs.set(m.uid, lb);
    let inNet = this.lbsByNet.get(net.uid);
    if (!inNet) this.lbsByNet.set(net.uid, (inNet = new Map()));
    inNet.set(m.uid, m);
    return m;
  }

  private dropLb(key: string, m: LoadBalancerModel): void {
    this.loadBalancers.delete(m.uid);
    this.lbUidByKey.delete(key);
    this.keyOfUid.delete(m.uid);
    this.rawLbs.delete(m.uid);
    const inNet = this.lbsByNet.get(m.network);
    inNet?.delete(m.uid);
    if (inNet?.size === 0) this.lbsByNet.delete(m.network);
  }
}

/** Counts one more (or one fewer) on a network's node; true when the node's count crossed zero. */
function countPerNode(counts: Map<string, Map<string, number>>, net: string, node: string, delta: 1 | -1): boolean {
  let byNode = counts.get(net);
  if (!byNode) counts.set(net, (byNode = new Map()));
  const n = (byNode.get(node) ?? 0) + delta;
  if (n > 0) byNode.set(node, n);
  else byNode.delete(node);
  if (byNode.size === 0) counts.delete(net);
  return n === 0 || (n === 1 && delta > 0);
}

/** networkUid -> node -> flood chunk -> ofport -> number of ports bound to it. */
type ChunksByNet = Map<string, Map<string, Map<number, Map<number, number>>>>;

/** Counts a binding into its node's flood chunk; true when the chunk opened or closed. */
function countInChunk(byNet: ChunksByNet, net: string, b: PortBinding, delta: 1 | -1): boolean {
  let nodes = byNet.get(net);
  if (!nodes) byNet.set(net, (nodes = new Map()));
  let chunks = nodes.get(b.node);
  if (!chunks) nodes.set(b.node, (chunks = new Map()));
  const c = floodChunkOf(b.ofport);
  let ofports = chunks.get(c);
  if (!ofports) chunks.set(c, (ofports = new Map()));
  const k = (ofports.get(b.ofport) ?? 0) + delta;
  if (k > 0) ofports.set(b.ofport, k);
  else ofports.delete(b.ofport);
  let crossed = false;
  if (ofports.size === 0) {
    chunks.delete(c);
    crossed = true;
  } else if (ofports.size === 1 && k === 1 && delta > 0) crossed = true;
  if (chunks.size === 0) nodes.delete(b.node);
  if (nodes.size === 0) byNet.delete(net);
  return crossed;
}
