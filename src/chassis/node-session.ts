/**
 * One OVSDB session per hypervisor: connects (retrying with backoff until it first
 * succeeds; afterwards the client reconnects and resumes its monitor by itself), keeps
 * a replica of Open_vSwitch, Bridge, Port, Interface and Controller, and converges the
 * vnetd layout (layout.ts) through transactions. Callers learn about changes through
 * onChange and re-read state; nothing here touches the object store.
 */
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import { createOvsdbClient, parseEndpoint, type OvsdbClient, type RowChange } from '../ovsdb';
import type { Bridge, Controller, Interface, OpenVSwitch, OpenVSwitchModel, Port } from '../ovsdb/models/open_vswitch';
import type { NodeSpec } from '../resources/kinds';
import { sameValue } from '../resources/same-value';
import { IFACE_ID } from './binding';
import { INTEGRATION_BRIDGE, UNDERLAY_BRIDGE, desiredLayout } from './layout';
import type { Uplink } from './underlay-mtu';
import { layoutOperations } from './layout-ops';
import { isOwned } from './owner';
import { planLayout, type LayoutView, type OvsSnapshot } from './layout-plan';
import type { LayoutOutcome, SessionView } from './node-status';
import { installedVersions } from './ovs-daemons';
import { OWNER_KEY } from './owner';
import { OvsdbFencedError, claimOps, failedFirstWait, foreignNode, generationIn, guardOp, nodeIn, recordNodeOps } from './ovsdb-fence';

export type SessionChange = { kind: 'state' } | { kind: 'rows'; changes: RowChange[] };

export interface NodeSessionOptions {
  node: string;
  endpoint: string;
  owner: string;
  logger: Logger;
  onChange: (change: SessionChange) => void;
  /**
   * Each row change as the replica applies it, synchronously (onChange hears of it a
   * microtask later, batched): for caches of what was read from the replica.
   */
  onRowChange?: (change: RowChange) => void;
  connectTimeoutMs?: number;
  /**
   * The leader's generation (app/leader-generation.ts): recorded in the database before the
   * first layout write, and required by every layout transaction (ovsdb-fence.ts).
   * Absent: no fencing (one controller).
   */
  generation?: bigint;
  /** A newer leader's generation is in the database: told once, then ensureLayout throws it. */
  onFenced?: (err: OvsdbFencedError) => void;
  /** vnetd's layout was changed by hand and is being put back (the warning's words): for an event on the Node. */
  onLayoutRepaired?: (message: string) => void;
  /** Retry delays while the first connect keeps failing. */
  retryInitialMs?: number;
  retryMaxMs?: number;
}

/**
 * The OpenFlow target set on br-int, and where vnetd dials it. A passive target is
 * used so vnetd never needs a listening socket the hypervisor can reach: for a unix
 * endpoint, `punix:RUNDIR/br-int.vnetd` next to db.sock (ovs-vswitchd only accepts
 * unix controller paths of the form RUNDIR/BRIDGE.*, and the db socket lives in
 * RUNDIR in every OVS layout); for tcp/ssl endpoints, ptcp/pssl port 6653.
 */
export function controllerTargetFor(endpoint: string): { target: string; dial: string } {
  const ep = parseEndpoint(endpoint);
  if (ep.kind === 'unix') {
    const path = `${dirname(ep.path)}/${INTEGRATION_BRIDGE}.vnetd`;
    return { target: `punix:${path}`, dial: `unix:${path}` };
  }
  const passive = ep.kind === 'ssl' ? 'pssl' : 'ptcp';
  return { target: `${passive}:6653`, dial: `${ep.kind}:${ep.host}:6653` };
}

const MONITORED = {
  Open_vSwitch: ['bridges', 'ovs_version', 'datapath_types', 'iface_types', 'cur_cfg', 'next_cfg', 'external_ids', 'db_version'],
  Bridge: ['name', 'datapath_type', 'datapath_version', 'fail_mode', 'protocols', 'controller', 'ports', 'other_config', 'external_ids'],
  Port: ['name', 'interfaces', 'external_ids'],
  // link_state: a bound VM NIC whose link is down says so (chassis/binding.ts LinkDown);
  // admin_state: whether that is the host's doing (the tap set down) rather than the VM's.
  Interface: ['name', 'type', 'options', 'external_ids', 'ofport', 'error', 'link_state', 'admin_state', 'mtu'],
  Controller: ['target', 'connection_mode', 'external_ids', 'is_connected'],
} as const;

/** Cache index of Interfaces by name (tunnel ports). */
const IFACE_NAME = 'name';
/** Cache index of Ports by name (the layout's ports). */
const PORT_NAME = 'name';
/** Cache index of single-Interface Ports by that Interface's uuid (which bridge a NIC is on). */
const PORT_OF_IFACE = 'interface';
/** Cache index of Ports and Interfaces by external_ids:vnetd-owner (the layout's own rows). */
const OWNER = 'owner';

function describe(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export class NodeSession {
  readonly client: OvsdbClient<OpenVSwitchModel>;
  readonly controller: { target: string; dial: string };
  private readonly log: Logger;
  private closed = false;
  /** Monitor in place and the replica filled at least once. */
  private synced = false;
  private lastError: string | undefined;
  private everConnected = false;
  /** The spec whose layout converged on the current connection (a later plan for it with actions is drift). */
  private laidOutFor: NodeSpec | undefined;
  private wake: (() => void) | undefined;
  private readonly unsubscribe: Array<() => void> = [];
  /** snapshot() until the replica changes. */
  private snap: OvsSnapshot | undefined;
  private fencedBy: OvsdbFencedError | undefined;

  constructor(private readonly opts: NodeSessionOptions) {
    this.log = opts.logger.child({ node: opts.node, ovsdb: opts.endpoint });
    this.client = createOvsdbClient<OpenVSwitchModel>({
      endpoints: opts.endpoint,
      logger: this.log,
      connectTimeoutMs: opts.connectTimeoutMs ?? 3000,
      reconnect: { initialDelayMs: 100, maxDelayMs: 3000 },
    });
    this.controller = controllerTargetFor(opts.endpoint);
  }

  get node(): string {
    return this.opts.node;
  }
  get endpoint(): string {
    return this.opts.endpoint;
  }
  /** Connected with a live, synced replica. */
  get ready(): boolean {
    return this.synced && this.client.connected;
  }

  /** The database is another Node's switch (its Open_vSwitch row records that node): nothing in it is this node's. */
  get foreign(): boolean {
    return this.synced && foreignNode(nodeIn(this.openVSwitch()), this.opts.node) !== undefined;
  }

  /**
   * The database records this leader's generation (always, without one). The pipeline
   * claims the switch's OpenFlow master role only then, so that the generation a database
   * records is never below the one its switch holds: a newer leader or agent reading the
   * database alone (readNodeDatabase) then claims above both, and a leader fenced by
   * the database never claims the switch in between. Never for another Node's switch
   * (foreignNode): its flows are not this node's to write.
   */
  get generationRecorded(): boolean {
    const generation = this.opts.generation;
    if (this.foreign) return false;
    return generation === undefined || (this.synced && generationIn(this.openVSwitch()) === generation);
  }

  /**
   * The first connection is still being made (no replica yet, no failure yet): nothing can
   * be said about the node, not even that it is unreachable. Ends with the replica, or with
   * the first failure (connect timeout, refused), which tells onChange.
   */
  get settling(): boolean {
    return !this.everConnected && this.lastError === undefined && !this.closed;
  }

  start(): void {
    void this.run();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.wake?.();
    for (const u of this.unsubscribe.splice(0)) u();
    await this.client.close();
  }

  view(): SessionView {
    const ovs = this.synced ? this.openVSwitch() : undefined;
    const versions = ovs ? { ovsVersion: ovs.ovs_version ?? undefined, datapathTypes: [...ovs.datapath_types].sort() } : {};
    if (this.ready) return { connected: true, reason: 'Connected', message: `connected to ${this.opts.endpoint}`, ...versions };
    const err = this.lastError ? `: ${this.lastError}` : '';
    if (this.everConnected) return { connected: false, reason: 'Disconnected', message: `lost the OVSDB connection to ${this.opts.endpoint}${err}; reconnecting`, ...versions };
    if (this.lastError) return { connected: false, reason: 'ConnectFailed', message: `cannot connect to OVSDB at ${this.opts.endpoint}${err}; retrying` };
    return { connected: false, reason: 'Connecting', message: `connecting to OVSDB at ${this.opts.endpoint}` };
  }

  openVSwitch(): OpenVSwitch | undefined {
    return this.client.cache.table('Open_vSwitch').rows()[0];
  }

  /**
   * The replica as maps. Built once per replica change (callers reconcile on every OVSDB
   * update, and with thousands of ports building the maps is what costs), and each table
   * only when read: a caller that needs one table does not pay for the others.
   */
  snapshot(): OvsSnapshot {
    if (this.snap) return this.snap;
    const c = this.client.cache;
    const byId = <R extends { _uuid: string }>(rows: R[]) => new Map(rows.map((r) => [r._uuid, r]));
    let bridges: Bridge[] | undefined;
    let ports: Map<string, Port> | undefined;
    let interfaces: Map<string, Interface> | undefined;
    let controllers: Map<string, Controller> | undefined;
    const snap: OvsSnapshot = {
      ovs: this.openVSwitch(),
      get bridges() {
        return (bridges ??= c.table('Bridge').rows() as Bridge[]);
      },
      get ports() {
        return (ports ??= byId(c.table('Port').rows() as Port[]));
      },
      get interfaces() {
        return (interfaces ??= byId(c.table('Interface').rows() as Interface[]));
      },
      get controllers() {
        return (controllers ??= byId(c.table('Controller').rows() as Controller[]));
      },
    };
    this.snap = snap;
    return snap;
  }

  /**
   * The replica as planLayout reads it, from the cache's indexes: checking the layout costs
   * O(vnetd's own rows), however many VM NICs the bridge holds.
   */
  layoutView(): LayoutView {
    const c = this.client.cache;
    return {
      bridges: c.table('Bridge').rows() as Bridge[],
      port: (u) => c.table('Port').row(u) as Port | undefined,
      iface: (u) => c.table('Interface').row(u) as Interface | undefined,
      controller: (u) => c.table('Controller').row(u) as Controller | undefined,
      portsNamed: (name) => c.table('Port').lookup(PORT_NAME, name) as Port[],
      nameTaken: (name) => c.table('Port').lookup(PORT_NAME, name).length > 0 || c.table('Interface').lookup(IFACE_NAME, name).length > 0,
      ownedPorts: (owner) => c.table('Port').lookup(OWNER, owner) as Port[],
    };
  }

  /** The ofport of the Interface with this name (undefined: no such row, or not synced). */
  interfaceOfport(name: string): number | null | undefined {
    if (!this.synced) return undefined;
    return (this.client.cache.table('Interface').lookup(IFACE_NAME, name)[0] as Interface | undefined)?.ofport;
  }

  /**
   * Interfaces on br-int whose external_ids:iface-id is id (empty until synced). Only br-int's:
   * an Interface elsewhere (a NIC plugged into br-phy by mistake) has an OpenFlow port number
   * of another bridge, and bound by it the port's flows matched what that number is on br-int
   * (QA: the VXLAN port, which let underlay frames of any VNI into a tenant's network).
   */
  interfacesWithIfaceId(id: string): Interface[] {
    if (!this.synced) return [];
    const rows = this.client.cache.table('Interface').lookup(IFACE_ID, id) as Interface[];
    return rows.length ? rows.filter((r) => this.bridgeOf(r) === INTEGRATION_BRIDGE) : rows;
  }

  /** Interfaces with the iface-id that are not on br-int, with the bridge they are on ('' for none): why a port is not bound. */
  misplacedWithIfaceId(id: string): Array<{ name: string; bridge: string }> {
    if (!this.synced) return [];
    const out: Array<{ name: string; bridge: string }> = [];
    for (const r of this.client.cache.table('Interface').lookup(IFACE_ID, id) as Interface[]) {
      const bridge = this.bridgeOf(r);
      if (bridge !== INTEGRATION_BRIDGE) out.push({ name: r.name, bridge: bridge ?? '' });
    }
    return out;
  }

  /** Port uuids of each Bridge row (rows are immutable snapshots: a new row, a new set). */
  private readonly bridgePorts = new WeakMap<Bridge, Set<string>>();

  /** The name of the bridge an Interface is on (undefined: on none). */
  private bridgeOf(iface: Interface): string | undefined {
    const c = this.client.cache;
    // A VM NIC's Port has that one Interface (the index); a bond's members are looked for.
    const port = (c.table('Port').lookupOne(PORT_OF_IFACE, iface._uuid) as Port | undefined) ?? (c.table('Port').rows() as Port[]).find((p) => p.interfaces.includes(iface._uuid));
    if (!port) return undefined;
    for (const b of c.table('Bridge').rows() as Bridge[]) {
      let ports = this.bridgePorts.get(b);
      if (!ports) this.bridgePorts.set(b, (ports = new Set(b.ports)));
      if (ports.has(port._uuid)) return b.name;
    }
    return undefined;
  }

  /**
   * Interfaces on br-int whose iface-id `claimed` does not know, by name: their VM's traffic
   * goes nowhere (undefined until synced). `limit` of them, and how many in all.
   */
  unclaimedInterfaces(claimed: (id: string) => boolean, limit: number): { items: Array<{ name: string; interfaceId: string }>; count: number } | undefined {
    if (!this.synced) return undefined;
    const all: Array<{ name: string; interfaceId: string }> = [];
    for (const row of this.client.cache.table('Interface').rows() as Interface[]) {
      const id = row.external_ids?.[IFACE_ID];
      if (id && !claimed(id) && this.bridgeOf(row) === INTEGRATION_BRIDGE) all.push({ name: row.name, interfaceId: id });
    }
    all.sort((a, b) => a.name.localeCompare(b.name));
    return { items: all.slice(0, limit), count: all.length };
  }

  /**
   * br-phy's uplinks: its ports' system NICs (Interface type '' or 'system', not its own
   * internal port or a patch), with the MTU OVS reads from each (undefined until synced, and
   * without a br-phy: the kernel datapath's hosts route tunnels themselves).
   */
  uplinks(): Uplink[] | undefined {
    if (!this.synced) return undefined;
    const c = this.client.cache;
    const bridge = (c.table('Bridge').rows() as Bridge[]).find((b) => b.name === UNDERLAY_BRIDGE);
    if (!bridge) return undefined;
    const out: Uplink[] = [];
    for (const portUuid of bridge.ports) {
      const port = c.table('Port').row(portUuid) as Port | undefined;
      for (const ifaceUuid of port?.interfaces ?? []) {
        const iface = c.table('Interface').row(ifaceUuid) as Interface | undefined;
        if (iface && (iface.type === '' || iface.type === 'system')) out.push({ name: iface.name, mtu: iface.mtu });
      }
    }
    return out;
  }

  /** Every iface-id on the node's Interfaces (undefined until synced). */
  ifaceIds(): Set<string> | undefined {
    if (!this.synced) return undefined;
    const ids = new Set<string>();
    for (const row of this.client.cache.table('Interface').rows() as Interface[]) {
      const id = row.external_ids?.[IFACE_ID];
      if (id) ids.add(id);
    }
    return ids;
  }

  /**
   * Converges the layout for spec and says whether the node is ready. Throws on
   * transaction failures (the caller retries with backoff).
   */
  async ensureLayout(spec: NodeSpec): Promise<LayoutOutcome> {
    const ovs = this.openVSwitch() ?? (await this.initialise());
    if (!ovs) return { ready: false, reason: 'NoOpenVSwitchRow', message: 'the database has no Open_vSwitch row and vnetd could not create one (run ovs-vsctl --no-wait init)' };
    const layout = desiredLayout({
      nodeName: this.opts.node,
      spec,
      datapathTypes: ovs.datapath_types,
      ifaceTypes: ovs.iface_types,
      controllerTarget: this.controller.target,
    });
    if (!layout.ok) return { ready: false, reason: layout.reason, message: layout.message };
    // Another Node's switch: touch nothing (its layout, its tunnels' local_ip, its claim).
    const foreign = foreignNode(nodeIn(ovs), this.opts.node);
    if (foreign) return { ready: false, reason: 'NodeMismatch', message: foreign };
    const generation = this.opts.generation;
    if (generation !== undefined) await this.claim(generation);
    else if (nodeIn(ovs) === undefined) await this.recordNode(ovs);
    const plan = () => planLayout(layout.layout, this.layoutView(), this.opts.owner);
    let p = plan();
    // The layout of the same spec converged before on this connection: what is missing now
    // was removed behind vnetd's back (br-int deleted, its controller removed), which an
    // operator should hear of (QA-131: put back with an info line only).
    const drift = this.laidOutFor !== undefined && sameValue(this.laidOutFor, spec);
    for (let attempt = 0; p.actions.length; attempt++) {
      if (attempt === 3) throw new Error(`OVS layout did not converge: ${p.actions.map((a) => a.kind).join(', ')}`);
      const ops = layoutOperations(this.client.ops, ovs._uuid, p.actions, this.opts.owner, `vnetd: layout of node ${this.opts.node}`);
      if (generation !== undefined) ops.unshift(guardOp(this.client.ops, ovs._uuid, generation));
      const actions = p.actions.map((a) => a.kind);
      if (drift && attempt === 0) {
        const what = `its OVS layout was changed outside vnetd (${actions.join(', ')} needed: a bridge, port or controller of vnetd's removed or altered by hand); putting it back`;
        this.log.warn({ event: 'chassis.layout_repaired', node: this.opts.node, actions }, `node ${this.opts.node}: ${what}`);
        this.opts.onLayoutRepaired?.(what);
      }
      else this.log.info({ event: 'chassis.layout', actions }, 'applying OVS layout');
      try {
        await this.client.transact(...ops);
      } catch (e) {
        // The guard failed: a newer leader claimed the database (its update may still be on its way).
        if (generation !== undefined && failedFirstWait(e)) await this.waitForCache(() => (generationIn(this.openVSwitch()) ?? 0n) > generation, 1000);
        this.throwIfFenced(generation);
        throw e;
      }
      // ovsdb-server answers the transaction before it sends the monitor update.
      await this.waitForCache(() => plan().actions.length === 0, 3000);
      p = plan();
    }
    this.laidOutFor = spec;
    this.noteForeignControllers();
    return this.readiness(p.conflicts, layout.layout.notes, layout.layout.datapathType);
  }

  /** The foreign controller targets of br-int last warned of (each set once). */
  private foreignControllersSaid = '';

  /**
   * Another controller on br-int (set-controller by hand, a leftover of another SDN): it may
   * change vnetd's flows, and removing it later changes the bridge's primary controllers,
   * which makes ovs-vswitchd flush the table. Left in place (it may be meant), said once per
   * set of them: it was kept silently (QA-155 F7).
   */
  private noteForeignControllers(): void {
    const c = this.client.cache;
    const brInt = (c.table('Bridge').rows() as Bridge[]).find((b) => b.name === INTEGRATION_BRIDGE);
    const foreign = (brInt?.controller ?? []).map((u) => c.table('Controller').row(u) as Controller | undefined).filter((x): x is Controller => !!x && !isOwned(x, this.opts.owner)).map((x) => x.target).sort();
    const said = foreign.join(' ');
    if (said === this.foreignControllersSaid) return;
    this.foreignControllersSaid = said;
    if (foreign.length) {
      this.log.warn({ event: 'chassis.foreign_controller', node: this.opts.node, targets: foreign }, `node ${this.opts.node}: br-int has a controller vnetd did not set (${foreign.join(', ')}): it can change vnetd's flows, and removing it later makes ovs-vswitchd flush br-int's table (vnetd puts its flows back within seconds); if it is not meant, remove it while vnetd runs: ovs-vsctl remove Bridge br-int controller <its uuid>`);
    }
  }

  /**
   * The version columns ovs-vsctl's callers (ovs-ctl) fill in, which ovs-vswitchd never does
   * and Node status reads (status.ovsVersion): db_version from the server's own schema;
   * ovs_version from the installed ovs-vswitchd only when the database is on this machine (a
   * unix socket), as a remote hypervisor's may run another release. Without the binary, none.
   */
  private async versionColumns(): Promise<{ db_version: string; ovs_version?: string }> {
    const columns: { db_version: string; ovs_version?: string } = { db_version: this.client.schema.version };
    if (parseEndpoint(this.opts.endpoint).kind !== 'unix') return columns;
    try {
      columns.ovs_version = (await installedVersions()).ovs;
    } catch (e) {
      this.log.debug({ err: (e as Error).message }, 'no local ovs-vswitchd to read its version from');
    }
    return columns;
  }

  /**
   * Creates the Open_vSwitch row of a database that has none, as `ovs-vsctl init` does: an
   * ovsdb-server restarted on an empty database (its file lost or recreated) would otherwise
   * leave the hypervisor without br-int, and its VMs cut off, until someone ran it by hand
   * (QA-117 F5). The table holds at most one row, and the insert waits on it being empty, so
   * another writer's init at the same moment fails this one harmlessly. Waits for
   * ovs-vswitchd to fill in its datapath types, which the layout needs.
   */
  private async initialise(): Promise<OpenVSwitch | undefined> {
    const ops = this.client.ops;
    try {
      await this.client.transact(ops.wait('Open_vSwitch', [], { columns: [], until: '==', rows: [], timeout: 0 }), ops.insert('Open_vSwitch', await this.versionColumns()));
      this.log.warn({ event: 'chassis.initialised' }, 'the database had no Open_vSwitch row (an empty database): created it, as ovs-vsctl init does');
    } catch (e) {
      if (!failedFirstWait(e)) throw e;
    }
    await this.waitForCache(() => (this.openVSwitch()?.datapath_types.length ?? 0) > 0, 3000);
    return this.openVSwitch();
  }

  /** Records the node's name in the Open_vSwitch row, as a claim does (for a process that never claims). */
  private async recordNode(ovs: OpenVSwitch): Promise<void> {
    try {
      await this.client.transact(...recordNodeOps(this.client.ops, ovs, this.opts.node));
      await this.waitForCache(() => nodeIn(this.openVSwitch()) === this.opts.node, 3000);
    } catch (e) {
      // external_ids changed meanwhile (another writer): the next layout pass looks again.
      if (!failedFirstWait(e)) throw e;
    }
  }

  /** Records this leader's generation in the Open_vSwitch row unless a higher one is there (then OvsdbFencedError). */
  private async claim(generation: bigint): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      this.throwIfFenced(generation);
      const ovs = this.openVSwitch();
      if (!ovs || generationIn(ovs) === generation) return;
      try {
        await this.client.transact(...claimOps(this.client.ops, ovs, generation, this.opts.node));
        this.log.info({ event: 'chassis.claimed', generation: generation.toString() }, 'recorded this leader\'s generation in the hypervisor\'s database');
        await this.waitForCache(() => generationIn(this.openVSwitch()) === generation, 3000);
        return;
      } catch (e) {
        // external_ids changed since the replica showed it (another writer): read it again.
        if (attempt >= 3 || !failedFirstWait(e)) throw e;
        await this.waitForCache(() => this.openVSwitch()?.external_ids !== ovs.external_ids, 1000);
      }
    }
  }

  /** Throws (and tells onFenced, once) if the database holds a newer leader's generation. */
  private throwIfFenced(generation: bigint | undefined): void {
    if (generation === undefined) return;
    const theirs = generationIn(this.openVSwitch());
    if (!this.fencedBy && theirs !== undefined && theirs > generation) {
      this.fencedBy = new OvsdbFencedError(generation, theirs);
      this.log.error({ event: 'chassis.fenced', generation: generation.toString(), databaseGeneration: theirs.toString() }, this.fencedBy.message);
      this.opts.onFenced?.(this.fencedBy);
    }
    if (this.fencedBy) throw this.fencedBy;
  }

  private readiness(conflicts: string[], notes: string[], datapath: string): LayoutOutcome {
    if (conflicts.length) return { ready: false, reason: 'LayoutConflict', message: conflicts.join('; ') };
    const owned = this.client.cache.table('Interface').lookup(OWNER, this.opts.owner) as Interface[];
    // By name: the index's order moves with row updates, and the message must not.
    const broken = owned.filter((i) => i.error || i.ofport === -1).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    if (broken.length) {
      return { ready: false, reason: 'PortError', message: broken.map((i) => `${i.name}: ${i.error ?? 'no OpenFlow port'}`).join('; ') };
    }
    const ovs = this.openVSwitch()!;
    if (ovs.cur_cfg < ovs.next_cfg) {
      return {
        ready: false,
        reason: 'Applying',
        message: `waiting for ovs-vswitchd to apply the configuration (cur_cfg ${ovs.cur_cfg} < next_cfg ${ovs.next_cfg}); is ovs-vswitchd running?`,
      };
    }
    // ovs-vswitchd writes every port's ofport in the transaction that moves cur_cfg, so
    // once that caught up, a port of ours without one was never created: its bridge failed
    // (its log: "failed to create bridge"; another userspace datapath holding the
    // ovs-netdev device, say) and no error column says so.
    const absent = owned.filter((i) => i.ofport === null).map((i) => i.name).sort();
    if (absent.length) {
      return { ready: false, reason: 'PortError', message: `${absent.join(', ')}: ovs-vswitchd applied the configuration but did not create ${absent.length === 1 ? 'it' : 'them'} (no OpenFlow port): see its log for "failed to create bridge"` };
    }
    const tail = notes.length ? `; ${notes.join('; ')}` : '';
    return { ready: true, reason: 'LayoutReady', message: `${INTEGRATION_BRIDGE} is in place (datapath ${datapath})${tail}` };
  }

  private waitForCache(pred: () => boolean, timeoutMs: number): Promise<boolean> {
    if (pred()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (v: boolean) => {
        clearTimeout(timer);
        off();
        resolve(v);
      };
      const off = this.client.cache.on(() => {
        if (pred()) done(true);
      });
      const timer = setTimeout(() => done(false), timeoutMs);
    });
  }

  private async run(): Promise<void> {
    let delay = this.opts.retryInitialMs ?? 200;
    const max = this.opts.retryMaxMs ?? 5000;
    while (!this.closed) {
      try {
        await this.client.connect();
        break;
      } catch (e) {
        this.fail(e);
        await this.sleep(delay);
        delay = Math.min(delay * 2, max);
      }
    }
    if (this.closed) return;
    this.subscribe();
    while (!this.closed) {
      try {
        await this.client.monitor({ tables: this.monitorTables() });
        break;
      } catch (e) {
        // The connection dropped between connect and monitor; the client is reconnecting.
        this.fail(e);
        await this.sleep(delay);
      }
    }
    if (this.closed) return;
    this.synced = true;
    this.everConnected = true;
    this.laidOutFor = undefined;
    this.lastError = undefined;
    this.log.info({ event: 'chassis.connected' }, 'node OVSDB session up');
    this.opts.onChange({ kind: 'state' });
  }

  private monitorTables() {
    const t: { [K in keyof typeof MONITORED]: { columns: Array<(typeof MONITORED)[K][number]> } } = {
      Open_vSwitch: { columns: [...MONITORED.Open_vSwitch] },
      Bridge: { columns: [...MONITORED.Bridge] },
      Port: { columns: [...MONITORED.Port] },
      Interface: { columns: [...MONITORED.Interface] },
      Controller: { columns: [...MONITORED.Controller] },
    };
    return t;
  }

  private subscribe(): void {
    const cache = this.client.cache;
    cache.table('Interface').addIndex(IFACE_ID, (r) => r.external_ids?.[IFACE_ID]);
    cache.table('Interface').addIndex(IFACE_NAME, (r) => r.name);
    cache.table('Interface').addIndex(OWNER, (r) => r.external_ids?.[OWNER_KEY]);
    cache.table('Port').addIndex(PORT_NAME, (r) => r.name);
    cache.table('Port').addIndex(PORT_OF_IFACE, (r) => (r.interfaces.length === 1 ? r.interfaces[0] : undefined));
    cache.table('Port').addIndex(OWNER, (r) => r.external_ids?.[OWNER_KEY]);
    // Batch the changes of one update message: listeners get them in one call.
    let pending: RowChange[] = [];
    this.unsubscribe.push(
      cache.on((c) => {
        this.snap = undefined;
        this.opts.onRowChange?.(c);
        if (!pending.length) queueMicrotask(() => this.opts.onChange({ kind: 'rows', changes: pending.splice(0) }));
        pending.push(c);
      }),
      this.client.on('connected', () => {
        if (!this.synced) return;
        this.lastError = undefined;
        this.opts.onChange({ kind: 'state' });
      }),
      this.client.on('disconnected', (e) => {
        this.lastError = e.error ? describe(e.error) : 'connection closed';
        this.opts.onChange({ kind: 'state' });
      }),
    );
  }

  private fail(e: unknown): void {
    const msg = describe(e);
    if (msg !== this.lastError) this.log.warn({ err: e }, 'node OVSDB session: connect failed');
    this.lastError = msg;
    this.opts.onChange({ kind: 'state' });
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.wake = undefined;
        resolve();
      }, ms);
      this.wake = () => {
        clearTimeout(t);
        this.wake = undefined;
        resolve();
      };
    });
  }
}
