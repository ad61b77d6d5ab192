/**
 * Reads the connection-tracking usage of every node whose switch runs on this host (a unix
 * OVSDB endpoint: the embedded OVS, an agent's own), every `everyMs`, and tells the chassis
 * layer when a node's ConntrackPressure condition changes. Switches on other hosts are not
 * read (their unixctl socket is not reachable), nor the kernel datapath (its table is the
 * kernel's nf_conntrack, not ovs-vswitchd's).
 */
import type { Logger } from 'pino';
import { sameValue } from '../resources/same-value';
import { DEFAULT_NAMESPACE_SHARE, DEFAULT_NETWORK_SHARE, conntrackCondition, readConntrackUsage, readZoneLimits, setZoneLimits, zoneLimitsFor, type ConntrackUsage, type ZoneLimit } from './conntrack-pressure';
import type { ConditionView } from './node-status';
import { vswitchdControlSocket } from './unixctl';

export const CONNTRACK_POLL_MS = 10_000;
const FIRST_READING_MS = 1_000;

export interface ConntrackWatchOptions {
  everyMs: number;
  /** The nodes this process has a session with: their OVSDB endpoint, and whether it is connected now. */
  sessions(): Iterable<[node: string, session: { endpoint: string; connected: boolean }]>;
  /** The node's spec.datapath ('netdev' when absent). */
  datapathOf(node: string): string | undefined;
  /** The node's spec.conntrack.networkShare (DEFAULT_NETWORK_SHARE when absent). */
  networkShareOf(node: string): number | undefined;
  /** The node's spec.conntrack.namespaceShare (DEFAULT_NAMESPACE_SHARE when absent). */
  namespaceShareOf?(node: string): number | undefined;
  /** The conntrack zone of each network (one each, which gets the limit) and the network's namespace/name. */
  networkZones(): ReadonlyMap<number, string>;
  /** A network's zone on a node has reached its limit: its new load-balancer connections there are dropped. */
  onNetworkFull?(node: string, network: string, limit: number): void;
  onChange(node: string): void;
  logger: Logger;
}

interface Reading {
  usage?: ConntrackUsage;
  /** The zones this process gave a limit to on the node's switch (removed when their network goes). */
  limitedZones?: Set<number>;
  /** Zones found at their limit, until below RELIEVED_SHARE of it: each said once. */
  fullZones?: Set<number>;
  view?: ConditionView;
  /** The last failure said in the log, so each is said once. */
  failure?: string;
  /** The largest zone limit last set, or found already set, on the node's switch (see limitNetworks). */
  networkLimit?: number;
  /** The last failure to set the zones' limits said in the log, so each is said once. */
  limitFailure?: string;
}

export class ConntrackWatch {
  private readonly readings = new Map<string, Reading>();
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;

  constructor(private readonly opts: ConntrackWatchOptions) {}

  start(): void {
    if (this.opts.everyMs <= 0 || this.timer) return;
    // The first reading soon after start (the sessions connect meanwhile), so a Node says it
    // from the start rather than a whole period later; then every period.
    const tick = () => {
      void this.poll().finally(() => {
        if (this.timer) (this.timer = setTimeout(tick, this.opts.everyMs)).unref();
      });
    };
    (this.timer = setTimeout(tick, Math.min(FIRST_READING_MS, this.opts.everyMs))).unref();
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** The node's ConntrackPressure as last read (undefined: never read here). */
  condition(node: string): ConditionView | undefined {
    return this.readings.get(node)?.view;
  }

  /** Every node's last reading, for /metrics. */
  usage(): Array<{ node: string } & ConntrackUsage> {
    return [...this.readings].flatMap(([node, r]) => (r.usage ? [{ node, ...r.usage }] : []));
  }

  /** One round over the nodes (the timer's; tests call it directly): after the one under way, if any, so it reads what is there now. */
  async poll(): Promise<void> {
    while (this.running) await this.running;
    this.running = this.round().finally(() => (this.running = undefined));
    return this.running;
  }

  private async round(): Promise<void> {
    const seen = new Set<string>();
    for (const [node, s] of this.opts.sessions()) {
      seen.add(node);
      if (!s.connected) continue;
      const socket = (this.opts.datapathOf(node) ?? 'netdev') === 'netdev' ? vswitchdControlSocket(s.endpoint) : undefined;
      if (!socket) {
        this.readings.delete(node);
        continue;
      }
      await this.read(node, socket);
    }
    for (const node of this.readings.keys()) if (!seen.has(node)) this.readings.delete(node);
  }

  private async read(node: string, socket: string): Promise<void> {
    const r = this.readings.get(node) ?? {};
    this.readings.set(node, r);
    let view: ConditionView;
    try {
      const read = await readConntrackUsage(socket);
      r.usage = { ...read, networkLimit: await this.limitNetworks(node, socket, read.max, r) };
      r.failure = undefined;
      view = conntrackCondition(r.usage, r.view);
    } catch (err) {
      const why = (err as Error).message;
      if (r.failure !== why) this.opts.logger.warn({ event: 'node.conntrack_unreadable', node, socket, err }, `node ${node}: cannot read its connection-tracking usage from ${socket}: ${why}`);
      r.failure = why;
      r.usage = undefined;
      // Never read: nothing to say. Read before: what it said no longer holds.
      if (!r.view) return;
      view = { status: 'Unknown', reason: 'ConntrackUnreadable', message: `ovs-vswitchd's connection-tracking usage cannot be read: ${why}` };
    }
    if (sameValue(view, r.view)) return;
    if (view.status === 'True' && r.view?.status !== 'True') this.opts.logger.warn({ event: 'node.conntrack_pressure', node, ...r.usage }, `node ${node}: ${view.message}`);
    r.view = view;
    this.opts.onChange(node);
  }

  /**
   * containNetworks, with its failure said apart (once per distinct failure) instead of failing
   * the reading: the usage was read all the same, and ConntrackPressure is about the usage (it
   * went Unknown, "cannot read its connection-tracking usage", when limits could not be set).
   * Returns the limit last known to be in force (0 while none is known), not the one the switch
   * refused: /metrics' vnetd_conntrack_network_limit must say what holds the networks, and the
   * refused one does not. Known as far as this process can tell: an ovs-vswitchd restarted
   * since has forgotten its limits.
   */
  private async limitNetworks(node: string, socket: string, max: number, r: Reading): Promise<number> {
    try {
      r.networkLimit = await this.containNetworks(node, socket, max, r);
      r.limitFailure = undefined;
    } catch (err) {
      const why = (err as Error).message;
      if (r.limitFailure !== why) this.opts.logger.warn({ event: 'node.conntrack_limit_failed', node, socket, err }, `node ${node}: cannot set its networks' connection-tracking limits through ${socket} (each network's share of the table): ${why}; the limits it has stand`);
      r.limitFailure = why;
    }
    return r.networkLimit ?? 0;
  }

  /**
   * Each network's share of the table (QA-133 F3: one tenant's connections filled it, and every
   * VIP of the node dropped new connections), and each namespace's, split among its networks
   * (zoneLimitsFor; QA-151 F2). Every network has a conntrack zone of its own (pipeline
   * ctZone), whose limit is set where the switch has another (the table's limit or the Node's
   * shares changed, a network is new or gone from its namespace, ovs-vswitchd restarted and
   * forgot them); the limits of zones whose network is gone are removed. Returns the largest
   * limit (0: none).
   */
  private async containNetworks(node: string, socket: string, max: number, r: Reading): Promise<number> {
    const networks = this.opts.networkZones();
    const shares = { network: this.opts.networkShareOf(node) ?? DEFAULT_NETWORK_SHARE, namespace: this.opts.namespaceShareOf?.(node) ?? DEFAULT_NAMESPACE_SHARE };
    const limits = zoneLimitsFor(max, shares, networks);
    const largest = Math.max(0, ...limits.values());
    const current = await readZoneLimits(socket);
    this.noteFullZones(node, r, current, networks);
    // A zone without a limit of its own (both shares 100) loses the one it had (a zone limit of 0 admits nothing).
    const set = new Map([...limits].filter(([z, limit]) => current.get(z)?.limit !== limit));
    const remove = [...current.keys()].filter((z) => !limits.has(z) && (networks.has(z) || r.limitedZones?.has(z)));
    const limited = new Set(limits.keys());
    if (!set.size && !remove.length) {
      r.limitedZones = limited;
      return largest;
    }
    try {
      await setZoneLimits(socket, set, remove);
    } catch (err) {
      // Some zones may have been given a limit and some not removed: all of them stay this
      // process's to remove, or a network gone meanwhile would keep its limit on the switch.
      r.limitedZones = new Set([...(r.limitedZones ?? []), ...limited]);
      throw err;
    }
    r.limitedZones = limited;
    const namespaces = new Set([...networks.values()].map((n) => n.slice(0, n.indexOf('/')))).size;
    this.opts.logger.info(
      { event: 'node.conntrack_network_limit', node, max, networkLimit: largest, networkShare: shares.network, namespaceShare: shares.namespace, zonesSet: set.size, zonesRemoved: remove.length },
      largest
        ? `node ${node}: a network may hold at most ${largest} of the ${max} connection-tracking entries (${shares.network}%), the networks of a namespace ${shares.namespace}% together (${namespaces} namespaces)`
        : `node ${node}: no per-network connection-tracking limit`,
    );
    return largest;
  }

  /**
   * A network whose zone is at its limit on a node drops its new load-balancer connections
   * there: said once (a warning, and onNetworkFull for an event on the network), until the
   * zone is below RELIEVED_SHARE of it, so a zone hovering at its limit does not repeat it.
   */
  private noteFullZones(node: string, r: Reading, zones: ReadonlyMap<number, ZoneLimit>, networks: ReadonlyMap<number, string>): void {
    const full = (r.fullZones ??= new Set());
    for (const [zone, { limit, count }] of zones) {
      const network = networks.get(zone);
      if (!network || limit === 0) continue;
      if (count >= limit && !full.has(zone)) {
        full.add(zone);
        this.opts.logger.warn({ event: 'node.conntrack_network_full', node, network, zone, limit }, `node ${node}: network ${network} holds all ${limit} connection-tracking entries it may (its zone ${zone}; a namespace's networks split their namespace's share): its new load-balancer connections on this node are dropped until entries expire; raise the node's spec.conntrack.networkShare or namespaceShare, or find what opens them (ovs-appctl dpctl/dump-conntrack zone=${zone})`);
        this.opts.onNetworkFull?.(node, network, limit);
      } else if (count < limit * RELIEVED_SHARE) full.delete(zone);
    }
    for (const zone of full) if (!zones.has(zone) || !networks.has(zone)) full.delete(zone);
  }
}

/** A full zone is said again only after it went below this share of its limit. */
const RELIEVED_SHARE = 0.8;
