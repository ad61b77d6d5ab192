/**
 * Active health checks of load balancer backends, the way OVN's service monitors do
 * them: from the backend's own node, vnetd injects a TCP SYN (packet-out straight to the
 * backend's OpenFlow port) from the VIP and the load balancer's MAC to the backend's
 * target port. The backend answers to the VIP; a pipeline flow (LbNat, see
 * load-balancer.ts) sends that answer to the controller. SYN-ACK = success (vnetd then
 * resets the half-open connection), RST or no answer within the timeout = failure.
 * UDP checks (protocol UDP) send an empty datagram the same way instead; an ICMP port
 * unreachable quoting it (sent to the controller by its own LbNat flow) = failure, silence
 * within the timeout = success (a UDP answer is dropped by a flow, and so is silence here),
 * as OVN's UDP service monitor and Octavia's UDP-CONNECT: a backend whose VM is down answers
 * nothing and passes, and only its port or node state, or its NIC's link going down
 * (udpSilence), takes it out. With
 * spec.healthCheck.udp the datagram carries its payload (e.g. a DNS query) and, with
 * expectReply, the backend's datagram back from the checked port to the VIP and the probe's
 * source port (sent to the controller by its LbNat flows) = success, silence or an ICMP port
 * unreachable = failure (keepalived's DNS_CHECK): a hung server, still bound, is taken out.
 * `unhealthyThreshold` failures in a row take a backend out of the slot table,
 * `healthyThreshold` successes in a row bring it back. The backends of a load balancer whose
 * checks start (created, or vnetd started) start healthy, so it serves at once; a backend added
 * to one already checked starts out, and its first success brings it in (a readiness probe's
 * successThreshold of 1): started healthy, a backend with nothing listening was dealt new
 * connections, refused, until its failures counted (QA-128 F2: 15 in 10 s).
 *
 * HTTP checks are refused at admission; spec.healthCheck.port, or else every targetPort of
 * the listeners of the check's protocol, is checked and a backend is healthy only while all
 * of them pass.
 */
import type { Logger } from 'pino';
import { OFPP, OFP_NO_BUFFER, type Match, type OfMessage, type OpenFlowConnection, type PacketInMessage } from '../../openflow';
import { NetworkField, fieldIn, type LogicalModel } from '../../pipeline';
import { fnv1a } from '../../pipeline/owners';
import { HEALTH_PROBES_PER_SECOND, effectiveHealthCheck, type HealthCheck, type LoadBalancer, type UnhealthyBackend } from '../../resources/kinds';
import { TCP_FLAGS, buildTcpFrame, parseTcpFrame, type TcpSegment } from './lb-health-packets';
import { buildUdpProbeFrame, parsePortUnreachable, parseUdpDatagram, type UdpDatagram } from './lb-health-udp-packets';
import { inPortOf } from './packet-ins';
import { configureSwitch } from './switch-config';

export interface HealthCheckTiming {
  intervalMs: number;
  timeoutMs: number;
  healthyThreshold: number;
  unhealthyThreshold: number;
}

/** One (load balancer, backend, port) to probe. */
export interface HealthTarget {
  lbUid: string;
  /** namespace/name of the load balancer, and the backend's name (its port's, or its address): for the log. */
  lbKey?: string;
  backendName?: string;
  vip: string;
  lbMac: string;
  ip: string;
  mac: string;
  port: number;
  node: string;
  ofport: number;
  /** Key (namespace/name) of the VirtualPort holding the address (linkDown asks about its NIC). */
  portKey?: string;
  /** What the probe is: a TCP SYN, or a UDP datagram (absent: TCP). */
  protocol?: HealthProtocol;
  /** UDP: the datagram's payload (spec.healthCheck.udp.payload decoded; absent: empty). */
  payload?: Buffer;
  /** UDP: only an answer passes; silence fails (spec.healthCheck.udp.expectReply). */
  expectReply?: boolean;
  /** The backend's network: the Network register its answers carry (another tenant's backend with the same addresses has another). */
  vni: number;
  timing: HealthCheckTiming;
  /** The load balancer's listener ports (TCP and UDP): never a probe's source port (its answer would look like a client's new connection). */
  listenerPorts?: readonly number[];
}

/**
 * New targets' first probes are spread over this much per target beyond the first
 * BURST_TARGETS (which go at once, well within OVS's packet-in queue of 100 per
 * connection), up to their interval (tick).
 */
const SPREAD_MS_PER_TARGET = 4;
const BURST_TARGETS = 64;

/** A backend's failure that is not its own (its node's switch or agent): said as is, with no "failing health checks". */
export const NOT_CHECKED = 'not checked:';

/** Why a backend added to a checked load balancer is out until its first check answers. */
export const AWAITING_FIRST_CHECK = `${NOT_CHECKED} new to its checks (added to the load balancer, or its port bound again), waiting for its first health check to succeed`;

export type HealthProtocol = 'TCP' | 'UDP';

/** The last failure of a UDP check: what status and the log say of it. */
export const UDP_PORT_UNREACHABLE = 'UDP check: ICMP port unreachable';

/** The last failure of a UDP check whose backend's NIC link is down: its silence says nothing (QA-152 F2: it passed). */
export const UDP_LINK_DOWN = "UDP check: the backend's NIC link is down";

/** The last failure of a UDP check that demands an answer (udp.expectReply) and got none within the timeout. */
export const UDP_NO_REPLY = 'UDP check: no reply';

/** Defaults close to OVN's service monitor (interval 5 s); timeout at most the interval. */
export function timingOf(hc: HealthCheck): HealthCheckTiming {
  const e = effectiveHealthCheck(hc);
  return { intervalMs: e.intervalSeconds * 1000, timeoutMs: e.timeoutSeconds * 1000, healthyThreshold: e.healthyThreshold, unhealthyThreshold: e.unhealthyThreshold };
}

/**
 * What a load balancer's backends are checked with (none without healthCheck): the check's
 * protocol (absent: TCP, as before UDP checks existed) on its port, or else on every target
 * port of the listeners of that protocol (a mixed load balancer checked over TCP checks its
 * TCP listeners' target ports, as it always did).
 */
export function checkedPortsOf(lb: LoadBalancer): { protocol: HealthProtocol; ports: number[] } {
  const hc = lb.spec?.healthCheck;
  const protocol = hc?.protocol ?? 'TCP';
  if (!hc) return { protocol, ports: [] };
  if (hc.port !== undefined) return { protocol, ports: [hc.port] };
  return { protocol, ports: [...new Set(lb.spec!.listeners.filter((l) => (l.protocol ?? 'TCP') === protocol).map((l) => l.targetPort ?? l.port))].sort((a, b) => a - b) };
}

/** TCP ports a load balancer's backends are checked on (none without a TCP healthCheck). */
export function checkedPorts(lb: LoadBalancer): number[] {
  const c = checkedPortsOf(lb);
  return c.protocol === 'TCP' ? c.ports : [];
}

/** UDP ports a load balancer's backends are checked on (none without a UDP healthCheck). */
export function udpCheckedPorts(lb: LoadBalancer): number[] {
  const c = checkedPortsOf(lb);
  return c.protocol === 'UDP' ? c.ports : [];
}

/** Whether a load balancer's UDP checks demand an answer (spec.healthCheck.udp.expectReply, UDP checks only). */
export function udpExpectsReply(lb: LoadBalancer): boolean {
  const hc = lb.spec?.healthCheck;
  return hc?.protocol === 'UDP' && hc.udp?.expectReply === true;
}

/** A UDP check's payload, decoded (admission took only base64 of at most 512 bytes); undefined: empty. */
function udpPayloadOf(lb: LoadBalancer): Buffer | undefined {
  const hc = lb.spec?.healthCheck;
  const text = hc?.protocol === 'UDP' ? hc.udp?.payload : undefined;
  return text ? Buffer.from(text, 'base64') : undefined;
}

/** Every bound backend of every load balancer with a health check, once per checked port. */
export function healthTargets(lbs: readonly LoadBalancer[], model: LogicalModel): HealthTarget[] {
  const out: HealthTarget[] = [];
  for (const lb of lbs) {
    const m = lb.spec?.healthCheck ? model.loadBalancers?.get(lb.metadata.uid!) : undefined;
    const net = m && model.networks.get(m.network);
    if (!m || !net) continue;
    const timing = timingOf(lb.spec!.healthCheck!);
    const listenerPorts = m.listeners.filter((l) => l.protocol !== 'SCTP').map((l) => l.port);
    const { protocol, ports } = checkedPortsOf(lb);
    // Decoded once per load balancer: its targets share the buffer.
    const payload = udpPayloadOf(lb);
    const udp = { ...(payload ? { payload } : {}), ...(udpExpectsReply(lb) ? { expectReply: true } : {}) };
    for (const b of m.backends) {
      if (!b.node || !b.ofport) continue;
      for (const port of ports) out.push({ lbUid: m.uid, lbKey: m.key, backendName: b.name, vip: m.vip, lbMac: m.mac, ip: b.ip, mac: b.mac, port, protocol, ...udp, node: b.node, ofport: b.ofport, ...(b.port ? { portKey: b.port } : {}), vni: net.vni, timing, listenerPorts });
    }
  }
  return out;
}

interface Probe {
  target: HealthTarget;
  healthy: boolean;
  /** The last failure that counted ('RST', 'no answer') and when the backend went unhealthy. */
  reason?: string;
  since?: string;
  successes: number;
  failures: number;
  nextAt: number;
  pending?: Pending;
}

/** A probe sent and not yet answered. */
interface Pending {
  srcPort: number;
  seq: number;
  deadline: number;
  /** The barrier sent after the probe came back, so the switch itself is alive. */
  switchAnswered: boolean;
  tuple: string;
  /** Where the probe went and as what: its answer must come back there (the target may have moved since). */
  conn: OpenFlowConnection;
  sent: HealthTarget;
}

/** A pending probe by the protocol and 4-tuple its answer carries (backend address and port, VIP, probe's source port). */
const tupleOf = (protocol: HealthProtocol, backendIp: string, backendPort: number, vip: string, srcPort: number): string => `${protocol}/${backendIp}/${backendPort}/${vip}/${srcPort}`;

const protocolOf = (t: HealthTarget): HealthProtocol => t.protocol ?? 'TCP';

/**
 * Whether a probe sent to `a` still probes `b`: same switch, port, network and addresses (a
 * moved or re-plugged backend is not), and the same demand of an answer (a probe's silence
 * means the opposite in the two modes).
 */
const probedAlike = (a: HealthTarget, b: HealthTarget): boolean => protocolOf(a) === protocolOf(b) && !a.expectReply === !b.expectReply && a.node === b.node && a.ofport === b.ofport && a.vni === b.vni && a.mac === b.mac && a.lbMac === b.lbMac && a.vip === b.vip;

/**
 * The packet-in came from where the probe went: the switch it was sent to, the backend's own
 * port there, in the backend's network. A bound port is one network's, so the Network register
 * mostly repeats in_port; it is checked anyway because a port number names the backend only
 * while the binding the probe was sent under holds, and the register is what the switch saw.
 */
function cameFrom(pending: Pending, from: OpenFlowConnection, match: Match): boolean {
  return from === pending.conn && inPortOf(match) === pending.sent.ofport && fieldIn(NetworkField, match) === pending.sent.vni;
}

/**
 * What a segment says of the probe with sequence number `seq`, as the probing TCP in SYN-SENT
 * would take it (RFC 9293 3.10.7.3): nothing unless it acknowledges exactly the SYN (ACK set,
 * seq + 1; an RST answering a SYN carries that too), so a stale or forged one decides nothing;
 * then RST before SYN, so a segment with both refuses.
 */
export function probeAnswer(seg: TcpSegment, seq: number): 'SYN-ACK' | 'RST' | undefined {
  if (!(seg.flags & TCP_FLAGS.ACK) || seg.ack !== ((seq + 1) >>> 0)) return undefined;
  if (seg.flags & TCP_FLAGS.RST) return 'RST';
  return seg.flags & TCP_FLAGS.SYN ? 'SYN-ACK' : undefined;
}

export interface LbHealthMonitorOptions {
  logger: Logger;
  targets(): HealthTarget[];
  connection(node: string): OpenFlowConnection | undefined;
  /** Some backend's health changed: recompile. */
  onChange(): void;
  tickMs?: number;
  /** The most probes sent a second (default HEALTH_PROBES_PER_SECOND; VNETD_HEALTH_PROBES_PER_SECOND). */
  probesPerSecond?: number;
  /** The only node whose backends this monitor checks (an agent's); undefined: every node (the all-in-one controller). */
  node?: string;
  /**
   * Whether the backend's NIC link is down (its port Bound LinkDown). A UDP probe sent there
   * goes nowhere and no ICMP can come back: its silence fails the check, where it would pass.
   */
  linkDown?(t: HealthTarget): boolean;
}

/** How a (load balancer, backend address) pair is named in sets of failing backends. */
export const backendKey = (lbUid: string, ip: string): string => `${lbUid}/${ip}`;

const keyOf = (t: HealthTarget): string => `${t.lbUid}/${t.ip}/${protocolOf(t)}/${t.port}`;

export class LbHealthMonitor {
  private readonly probes = new Map<string, Probe>();
  /**
   * The probes by backendKey, and how many each load balancer has: a compile asks healthy() of
   * every backend it deals, and a scan of every probe per question cost backends x probes per
   * compile (77k-flow load balancers). Kept by setProbe and deleteProbe only.
   */
  private readonly probesOfBackend = new Map<string, Set<Probe>>();
  private readonly probeCountOfLb = new Map<string, number>();
  /** Pending probes by tupleOf: an answer finds its probe without a scan of every probe. */
  private readonly pendingByTuple = new Map<string, Probe>();
  private readonly attached = new WeakSet<OpenFlowConnection>();
  private timer?: NodeJS.Timeout;
  private readonly log: Logger;
  private failingAtStart?: ReadonlyMap<string, UnhealthyBackend>;
  private readonly onMessage = (m: OfMessage, from: OpenFlowConnection): void => {
    if (m.type === 'packet_in') this.answer(m, from);
  };

  /** The probe budget (probesPerSecond, else VNETD_HEALTH_PROBES_PER_SECOND, else HEALTH_PROBES_PER_SECOND), read once. */
  private readonly probesPerSecond: number;

  constructor(private readonly opts: LbHealthMonitorOptions) {
    this.log = opts.logger.child({ component: 'lb-health' });
    const fromEnv = Number(process.env.VNETD_HEALTH_PROBES_PER_SECOND);
    this.probesPerSecond = opts.probesPerSecond ?? (Number.isFinite(fromEnv) && fromEnv >= 1 ? fromEnv : HEALTH_PROBES_PER_SECOND);
  }

  /**
   * False once the backend failed its checks (on any checked port), when it was failing at
   * start and is not probed yet, and when it is new to a load balancer already checked here
   * (awaitingFirstCheck). node: where the backend is bound (undefined: unbound, or unknown).
   */
  healthy(lbUid: string, ip: string, node?: string): boolean {
    for (const p of this.probesOfBackend.get(backendKey(lbUid, ip)) ?? []) if (!p.healthy) return false;
    if (this.awaitingFirstCheck(lbUid, ip, node)) return false;
    return !this.failingAtStart?.has(backendKey(lbUid, ip));
  }

  /**
   * A backend bound on a node this monitor checks (an agent checks its own node's only:
   * another node's backends are its agent's to judge), of a load balancer it already checks,
   * that it has no probe for yet: the next tick takes it in as added (out until its first
   * success, AWAITING_FIRST_CHECK). Until that tick (up to tickMs) a compile asking for its
   * health must not count it healthy: it did, and a new backend with nothing listening got 1-4
   * connections each time (QA-152 F3). Remembered (awaitingAsked), so that a tick which does
   * not take it in after all (its load balancer's checks removed in the same write) recompiles.
   */
  awaitingFirstCheck(lbUid: string, ip: string, node: string | undefined): boolean {
    if (this.failingAtStart || node === undefined || (this.opts.node !== undefined && node !== this.opts.node)) return false;
    if (!this.probeCountOfLb.get(lbUid) || this.probesOfBackend.has(backendKey(lbUid, ip))) return false;
    this.awaitingAsked.add(backendKey(lbUid, ip));
    return true;
  }

  /** Probes are keyed by keyOf(target), whose load balancer and address never change for a key. */
  private setProbe(k: string, p: Probe): Probe {
    this.probes.set(k, p);
    const b = backendKey(p.target.lbUid, p.target.ip);
    let set = this.probesOfBackend.get(b);
    if (!set) this.probesOfBackend.set(b, (set = new Set()));
    set.add(p);
    this.probeCountOfLb.set(p.target.lbUid, (this.probeCountOfLb.get(p.target.lbUid) ?? 0) + 1);
    return p;
  }

  private deleteProbe(k: string, p: Probe): void {
    this.probes.delete(k);
    const b = backendKey(p.target.lbUid, p.target.ip);
    const set = this.probesOfBackend.get(b);
    set?.delete(p);
    if (set?.size === 0) this.probesOfBackend.delete(b);
    const n = (this.probeCountOfLb.get(p.target.lbUid) ?? 1) - 1;
    if (n > 0) this.probeCountOfLb.set(p.target.lbUid, n);
    else this.probeCountOfLb.delete(p.target.lbUid);
  }

  /** Backends awaitingFirstCheck answered true for since the last tick. */
  private readonly awaitingAsked = new Set<string>();

  /**
   * Every backend failing its checks here, once per (load balancer, address), sorted. Where
   * the backend is checked on several target ports, the failing one is named: a backend out
   * of every listener for one port's sake said only "RST" (QA-128 F8).
   */
  failing(): UnhealthyBackend[] {
    return [...this.probesOfBackend.keys()].sort().flatMap((k) => this.failingIn(this.probesOfBackend.get(k)!) ?? []);
  }

  /** The backend as failing() names it, or undefined while it passes its checks here. */
  failingOf(lbUid: string, ip: string): UnhealthyBackend | undefined {
    const probes = this.probesOfBackend.get(backendKey(lbUid, ip));
    return probes && this.failingIn(probes);
  }

  private failingIn(probes: ReadonlySet<Probe>): UnhealthyBackend | undefined {
    for (const p of probes) {
      if (p.healthy) continue;
      const reason = p.reason ?? '';
      const onPort = probes.size > 1 && !reason.startsWith(NOT_CHECKED) ? ` on port ${p.target.port}` : '';
      return { loadBalancer: p.target.lbUid, ip: p.target.ip, reason: `${reason}${onPort}`, since: p.since ?? '' };
    }
    return undefined;
  }

  /**
   * failingAtStart: backends known to be failing before this process started (what it, or
   * the agent before it, last reported), by backendKey. They start unhealthy and need
   * healthyThreshold successes, so a restart does not hand a dead backend new connections
   * while it re-learns. Consulted for the targets of the first tick only.
   */
  start(failingAtStart?: ReadonlyMap<string, UnhealthyBackend>): void {
    this.failingAtStart = failingAtStart?.size ? failingAtStart : undefined;
    this.timer = setInterval(() => this.tick(), this.opts.tickMs ?? 200);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Sends due probes, fails timed-out ones, forgets targets that are gone. */
  tick(now = Date.now()): void {
    let changed = false;
    const wanted = new Map(this.opts.targets().map((t) => [keyOf(t), t]));
    // Load balancers checked before this tick, and their backends: a backend new to one of
    // them waits for its first check; a new port of a known backend (a listener added) does
    // not, or every backend would leave the slot table at once until probed. Read before the
    // probes of ports no longer checked go: a changed target port is a known backend's new port.
    const checkedBefore = new Set<string>();
    const backendsBefore = new Set<string>();
    for (const p of this.probes.values()) {
      checkedBefore.add(p.target.lbUid);
      backendsBefore.add(backendKey(p.target.lbUid, p.target.ip));
    }
    for (const [k, p] of this.probes) {
      if (wanted.has(k)) continue;
      this.settle(p);
      this.deleteProbe(k, p);
      if (!p.healthy) changed = true;
    }
    // A backend said to await its first check that this tick does not probe after all (its
    // load balancer's checks went in the same write, or it is no target): its compile counted
    // it out, and only a recompile brings it in.
    if (this.awaitingAsked.size) {
      const probed = new Set([...wanted.values()].map((t) => backendKey(t.lbUid, t.ip)));
      if ([...this.awaitingAsked].some((k) => !probed.has(k))) changed = true;
      this.awaitingAsked.clear();
    }
    const failingAtStart = this.failingAtStart;
    this.failingAtStart = undefined;
    if (failingAtStart) {
      // A backend reported failing that is no longer checked here: the report changes.
      const checked = new Set([...wanted.values()].map((t) => backendKey(t.lbUid, t.ip)));
      if ([...failingAtStart.keys()].some((k) => !checked.has(k))) changed = true;
    }
    const due: Probe[] = [];
    for (const [k, t] of wanted) {
      let p = this.probes.get(k);
      if (!p) {
        const failing = failingAtStart?.get(backendKey(t.lbUid, t.ip));
        const added = !failing && checkedBefore.has(t.lbUid) && !backendsBefore.has(backendKey(t.lbUid, t.ip));
        // Spread over the interval, by the target's key: 1500 targets probed in one tick got
        // 1500 answers back at once, and the switch's packet-in queue toward vnetd dropped
        // most of them: backends of ~500 load balancers "failing: no answer" (QA-124 F6). A few
        // targets still go within milliseconds; one reported failing is checked at once.
        const window = Math.min(t.timing.intervalMs, Math.max(0, wanted.size - BURST_TARGETS) * SPREAD_MS_PER_TARGET);
        const offset = failing || added || window === 0 ? 0 : fnv1a(k) % window;
        if (added) {
          // Out (a change the recompile must see), in at its first success.
          p = this.setProbe(k, { target: t, healthy: false, successes: t.timing.healthyThreshold - 1, failures: 0, nextAt: now, reason: AWAITING_FIRST_CHECK, since: new Date(now).toISOString() });
          changed = true;
        } else if (!failing && checkedBefore.has(t.lbUid)) {
          // A known backend's new port (a listener added, a target port changed): it stays in
          // (out until probed, every backend would leave every listener at once), but is probed
          // at once and its first failure counts. Before, a target port nothing listened on was
          // said healthy at the new generation for unhealthyThreshold intervals (10-15 s) while
          // every connection failed (QA-134 F4).
          p = this.setProbe(k, { target: t, healthy: true, successes: 0, failures: t.timing.unhealthyThreshold - 1, nextAt: now });
        } else {
          // The reported reason without the port failing() named (it names it again).
          p = this.setProbe(k, { target: t, healthy: !failing, successes: 0, failures: 0, nextAt: now + offset, reason: failing?.reason.replace(/ on port \d+$/, ''), since: failing?.since });
        }
      }
      p.target = t;
      if (p.pending && !probedAlike(p.pending.sent, t)) {
        // Sent where the backend no longer is: its answer (or silence) says nothing of it now.
        this.settle(p);
        p.nextAt = now;
      }
      if (p.pending && now >= p.pending.deadline) {
        const { switchAnswered, conn } = p.pending;
        this.settle(p);
        // Lost with vnetd's own connection to the node: says nothing about the backend. Unanswered
        // by a switch that answers nothing (hung, its connection not yet timed out): the switch is
        // named, not the backend (QA-93: a stopped ovs-vswitchd had its backends "failing: no answer").
        if (!conn.connected || this.opts.connection(t.node) !== conn) {
          // no result either way while the node is away
        } else if (switchAnswered) {
          // UDP: silence is all a listening server owes a probe (and a UDP answer is dropped by
          // its flow), unless the check demands an answer: then silence is a hung server's.
          changed = (protocolOf(t) !== 'UDP' ? this.record(p, false, 'no answer') : t.expectReply ? this.record(p, false, UDP_NO_REPLY) : this.udpSilence(p)) || changed;
        }
        // Still a failure (nothing reaches the backend through that switch), but the switch's.
        else changed = this.record(p, false, `${NOT_CHECKED} the switch of node ${t.node} did not answer within ${t.timing.timeoutMs} ms (neither the probe nor a barrier after it: ovs-vswitchd hung or overloaded)`) || changed;
      }
      if (!p.pending && now >= p.nextAt) due.push(p);
    }
    this.sendDue(due, now);
    if (changed) this.opts.onChange();
  }

  /** When the last tick ran (the probe budget is per elapsed time), and when probes last waited for it (logged once a minute). */
  private lastTickAt?: number;
  private deferredWarnedAt?: number;

  /**
   * Sends the due probes the budget allows (probesPerSecond over the time since the last tick),
   * oldest due first. Every probe is a packet-out, an answer a packet-in and a verdict: one
   * tenant's load balancer of 64 listeners x 100 backends checked every second (6,400 a second)
   * held vnetd's event loop so long that its switches' connections timed out and other
   * tenants' healthy backends were judged down (QA-151 F1); 1,600 a second cost ~10 % of a
   * core. Beyond the budget probes wait their turn: checks come less often than asked, and no
   * verdict is made up (admission refuses one load balancer asking more than the budget).
   */
  private sendDue(due: Probe[], now: number): void {
    const rate = this.probesPerSecond;
    // At most a tick's worth: after a stall of the event loop, a second's worth at once would
    // come back as one burst of answers, more than the switch's packet-in queue holds (QA-124 F6).
    const tickMs = this.opts.tickMs ?? 200;
    const elapsed = this.lastTickAt === undefined ? tickMs : Math.min(tickMs, Math.max(0, now - this.lastTickAt));
    this.lastTickAt = now;
    const budget = Math.max(1, Math.floor((rate * elapsed) / 1000));
    // A probe to a node that is away is not sent (probe()): it takes none of the budget, and stays due.
    due = due.filter((p) => this.opts.connection(p.target.node)?.connected);
    if (due.length > budget) {
      // Oldest due first: whichever load balancer has the most targets, every target waits its turn.
      due.sort((a, b) => a.nextAt - b.nextAt);
      if (this.deferredWarnedAt === undefined || now - this.deferredWarnedAt >= 60_000) {
        this.deferredWarnedAt = now;
        this.log.warn({ event: 'lb.health_probes_deferred', due: due.length, sent: budget, probesPerSecond: rate }, `health checks ask for more than ${rate} probes a second: probes wait their turn, so backends are checked less often than their intervals say (fewer checked ports or backends, or longer intervals, bring it back)`);
      }
    }
    for (const p of due.slice(0, budget)) {
      p.nextAt = now + p.target.timing.intervalMs;
      this.probe(p, now);
    }
  }

  private probe(p: Probe, now: number): void {
    const t = p.target;
    const conn = this.opts.connection(t.node);
    if (!conn?.connected) return; // no result either way while the node is away
    if (!this.attached.has(conn)) {
      this.attached.add(conn);
      conn.on('message', (m: OfMessage) => this.onMessage(m, conn));
      // The probes' answers come as packet-ins, which the switch sends only once configured (miss_send_len).
      configureSwitch(conn, this.log);
    }
    let srcPort = 32768 + Math.floor(Math.random() * 28000);
    const protocol = protocolOf(t);
    // Never a listener port, nor one another pending probe of the same tuple has (two tenants' probes of one address).
    while (t.listenerPorts?.includes(srcPort) || this.pendingByTuple.has(tupleOf(protocol, t.ip, t.port, t.vip, srcPort))) srcPort = 32768 + Math.floor(Math.random() * 28000);
    const seq = Math.floor(Math.random() * 0xffffffff) >>> 0;
    const pending: Pending = { srcPort, seq, deadline: now + t.timing.timeoutMs, switchAnswered: false, tuple: tupleOf(protocol, t.ip, t.port, t.vip, srcPort), conn, sent: t };
    p.pending = pending;
    this.pendingByTuple.set(pending.tuple, p);
    this.log.debug({ node: t.node, backend: t.ip, port: t.port, protocol, srcPort }, 'health probe');
    if (protocol === 'UDP') this.send(conn, t, buildUdpProbeFrame({ srcMac: t.lbMac, dstMac: t.mac, srcIp: t.vip, dstIp: t.ip, srcPort, dstPort: t.port, payload: t.payload }));
    else this.inject(conn, t, { srcMac: t.lbMac, dstMac: t.mac, srcIp: t.vip, dstIp: t.ip, srcPort, dstPort: t.port, seq, ack: 0, flags: TCP_FLAGS.SYN });
    // Answered once the switch has handled the packet-out: a probe timing out after it is the backend's silence.
    conn.barrier().then(
      () => (pending.switchAnswered = true),
      () => undefined,
    );
  }

  private inject(conn: OpenFlowConnection, t: HealthTarget, seg: TcpSegment): void {
    this.send(conn, t, buildTcpFrame(seg));
  }

  private send(conn: OpenFlowConnection, t: HealthTarget, frame: Buffer): void {
    void conn
      .send({ type: 'packet_out', bufferId: OFP_NO_BUFFER, inPort: OFPP.CONTROLLER, actions: [{ type: 'output', port: t.ofport, maxLen: 0 }], data: frame })
      .catch((err: unknown) => this.log.debug({ node: t.node, backend: t.ip, err }, 'health probe not sent'));
  }

  private settle(p: Probe): void {
    if (p.pending && this.pendingByTuple.get(p.pending.tuple) === p) this.pendingByTuple.delete(p.pending.tuple);
    p.pending = undefined;
  }

  /**
   * A backend's answer to a probe (packet-in from the LbNat health flow), found by its 4-tuple:
   * two pending probes never share one (probe() picks the source port so), so an answer settles
   * at most one. It counts only from where the probe went (cameFrom) and acknowledging it
   * (probeAnswer): another tenant's backend with the same addresses, another node, or a stray
   * or forged segment decides nothing (QA-108 F2).
   */
  private answer(m: PacketInMessage, from: OpenFlowConnection): void {
    const seg = parseTcpFrame(m.data);
    if (!seg) {
      const datagram = parseUdpDatagram(m.data);
      if (datagram) this.udpReply(m, datagram, from);
      else this.unreachable(m, from);
      return;
    }
    const p = this.pendingByTuple.get(tupleOf('TCP', seg.srcIp, seg.srcPort, seg.dstIp, seg.dstPort));
    const pending = p?.pending;
    if (!p || !pending) return;
    const result = cameFrom(pending, from, m.match) ? probeAnswer(seg, pending.seq) : undefined;
    if (!result) {
      this.log.debug({ node: pending.sent.node, backend: seg.srcIp, port: seg.srcPort, srcPort: seg.dstPort, inPort: inPortOf(m.match), flags: seg.flags }, 'health probe answer not counted: not from the probed port or not acknowledging the probe');
      return;
    }
    this.settle(p);
    const t = pending.sent;
    // Close the half-open connection on the backend.
    if (result === 'SYN-ACK' && from.connected) this.inject(from, t, { srcMac: t.lbMac, dstMac: t.mac, srcIp: t.vip, dstIp: t.ip, srcPort: seg.dstPort, dstPort: t.port, seq: seg.ack, ack: 0, flags: TCP_FLAGS.RST });
    if (this.record(p, result === 'SYN-ACK', result)) this.opts.onChange();
  }

  /**
   * An ICMP port unreachable from a UDP probe's backend (packet-in from the LbNat flow for
   * them). It counts only when it quotes a pending probe (VIP to the backend's checked port,
   * from the probe's source port), comes from the backend it quotes to the VIP it quotes, and
   * from where the probe went (cameFrom): a client's error, another backend's, or a forged one
   * decides nothing.
   */
  private unreachable(m: PacketInMessage, from: OpenFlowConnection): void {
    const e = parsePortUnreachable(m.data);
    if (!e) return;
    const q = e.quoted;
    const p = this.pendingByTuple.get(tupleOf('UDP', q.dstIp, q.dstPort, q.srcIp, q.srcPort));
    const pending = p?.pending;
    if (!p || !pending) return;
    if (e.srcIp !== q.dstIp || e.dstIp !== q.srcIp || !cameFrom(pending, from, m.match)) {
      this.log.debug({ node: pending.sent.node, backend: q.dstIp, port: q.dstPort, srcPort: q.srcPort, from: e.srcIp, inPort: inPortOf(m.match) }, 'health probe ICMP error not counted: not from the probed backend and port');
      return;
    }
    this.settle(p);
    if (this.record(p, false, UDP_PORT_UNREACHABLE)) this.opts.onChange();
  }

  /**
   * A backend's UDP datagram to the VIP (packet-in from the LbNat flows of a check with
   * udp.expectReply): it passes the pending probe whose 4-tuple it answers (from the checked
   * address and port to the VIP and the probe's source port), when that probe demands an answer
   * and it comes from where the probe went (cameFrom). Any other datagram decides nothing: a
   * late answer to a probe already settled, one from another port or backend, a forged one.
   */
  private udpReply(m: PacketInMessage, d: UdpDatagram, from: OpenFlowConnection): void {
    const p = this.pendingByTuple.get(tupleOf('UDP', d.srcIp, d.srcPort, d.dstIp, d.dstPort));
    const pending = p?.pending;
    if (!p || !pending) return;
    if (!pending.sent.expectReply || !cameFrom(pending, from, m.match)) {
      this.log.debug({ node: pending.sent.node, backend: d.srcIp, port: d.srcPort, srcPort: d.dstPort, inPort: inPortOf(m.match) }, 'health probe UDP answer not counted: not from the probed port, or the check does not demand one');
      return;
    }
    this.settle(p);
    if (this.record(p, true, 'UDP reply')) this.opts.onChange();
  }

  /**
   * A UDP probe nobody answered, on a check that does not demand an answer: a pass (a listening
   * server owes a probe nothing), unless the backend's NIC link is down, where no ICMP could
   * come and silence says nothing: vnetd knew the link was down and dealt the backend a share
   * of the queries for as long as it stayed so (QA-152 F2).
   */
  private udpSilence(p: Probe): boolean {
    return this.opts.linkDown?.(p.target) ? this.record(p, false, UDP_LINK_DOWN) : this.record(p, true, 'no ICMP');
  }

  /** Counts one result; true when the backend's health flipped. */
  private record(p: Probe, ok: boolean, why: string): boolean {
    const t = p.target;
    if (ok) {
      p.successes++;
      p.failures = 0;
    } else {
      p.failures++;
      p.successes = 0;
    }
    const flip = ok ? !p.healthy && p.successes >= t.timing.healthyThreshold : p.healthy && p.failures >= t.timing.unhealthyThreshold;
    if (!flip) {
      // A new backend's first check failed: its own failure is the reason from now on.
      if (ok || p.reason !== AWAITING_FIRST_CHECK) return false;
      p.reason = why;
      return true;
    }
    p.healthy = ok;
    p.reason = ok ? undefined : why;
    p.since = ok ? undefined : new Date().toISOString();
    // A backend leaving the slot table is an operator's news (warn), named as status names it (QA-131: info, by uid only).
    const fields = { event: ok ? 'lb.backend_healthy' : 'lb.backend_unhealthy', loadBalancer: t.lbKey, lb: t.lbUid, backend: t.backendName ?? t.ip, ip: t.ip, port: t.port, protocol: protocolOf(t), ...(t.expectReply ? { expectReply: true } : {}), node: t.node, healthy: ok, why };
    const who = `load balancer ${t.lbKey ?? t.lbUid}: backend ${t.backendName ?? t.ip} (${t.ip}:${t.port}${protocolOf(t) === 'UDP' ? '/udp' : ''} on node ${t.node})`;
    if (ok) this.log.info(fields, `${who} healthy again`);
    else this.log.warn(fields, `${who} unhealthy (${why}): it gets no new connections until it passes its checks again`);
    return true;
  }
}
