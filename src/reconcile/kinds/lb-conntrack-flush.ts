/**
 * Conntrack entries that would keep clients on a backend no longer theirs: flushed on every
 * node this process programs (OFPT_CT_FLUSH, OVS 3.1+), as OVN's ct_flush and kube-proxy's
 * UDP endpoint flush do.
 */
import type { Logger } from 'pino';
import { IP_PROTO, OpenFlowRequestError, type OfMessage, type OpenFlowConnection } from '../../openflow';
import { ctFlushMessage } from '../../openflow/messages/ct-flush';
import { activeBackends, ctZone, type LogicalModel } from '../../pipeline';
import type { RetiredBackends } from './pipeline-model';

/** How many times each conntrack flush is sent (sendFlushes). */
const FLUSH_PASSES = 4;

/** Flush messages per request (each sent FLUSH_PASSES times), and the retries of a node's flushes that failed, 1, 2, 4 s apart. */
const FLUSH_CHUNK = 256;
const FLUSH_RETRIES = 3;
const FLUSH_RETRY_MS = 1000;

/** How long after a backend left a load balancer its conntrack entries are flushed (flushRetiredLater). */
const RETIRED_FLUSH_DELAY_MS = 1000;

/** UDP targets ("listenerPort|ip|targetPort", udpTarget) of a VIP that stopped getting new flows: their entries are flushed. */
interface RetiredUdpTargets {
  vni: number;
  vip: string;
  targets: string[];
}

/**
 * A VIP's UDP listener port toward one backend's address and target port. The listener's port
 * is part of it: removing one of two listeners that share a target port left the removed one's
 * flows answered for as long as they sent (QA-128 F1).
 */
const udpTarget = (listenerPort: number, ip: string, port: number): string => `${listenerPort}|${ip}|${port}`;

function splitTarget(t: string): { listenerPort: number; ip: string; port: number } {
  const first = t.indexOf('|');
  const last = t.lastIndexOf('|');
  return { listenerPort: Number(t.slice(0, first)), ip: t.slice(first + 1, last), port: Number(t.slice(last + 1)) };
}

export interface LbConntrackFlusherDeps {
  log: Logger;
  /** The OpenFlow connection of each node this process programs. */
  switches: () => Iterable<[node: string, conn: OpenFlowConnection]>;
  /** The backends a VIP has now, in every load balancer that has it (one created again with the same VIP keeps them). */
  backendsOfVip: (vni: number, vip: string) => ReadonlySet<string>;
  stopped: () => boolean;
}

export class LbConntrackFlusher {
  /** Per "vni/vip": the UDP targets ("ip|targetPort") that got new flows as last compiled (noteDeactivated). */
  private readonly activeByVip = new Map<string, ReadonlySet<string>>();

  constructor(private readonly deps: LbConntrackFlusherDeps) {}

  /**
   * Conntrack entries of backends that left a load balancer (or of a load balancer that went)
   * are flushed once the flows no longer pick them (a second later: a compile and a paced
   * bundle take well under that). Without it, a UDP client that keeps its source port kept
   * being sent to the removed backend, and got no answer, for as long as it kept sending (QA).
   */
  flushRetiredLater(retired: readonly (RetiredBackends | RetiredUdpTargets)[]): void {
    if (!retired.length) return;
    setTimeout(() => {
      if (this.deps.stopped()) return;
      const msgs = retired.flatMap((r) => {
        // A load balancer created again with the same VIP meanwhile keeps its backends'
        // entries; a backend that turned unhealthy or unbound and is back keeps its UDP ones.
        if ('targets' in r) {
          const keep = this.activeOfVip(r.vni, r.vip);
          return r.targets
            .filter((t) => !keep.has(t))
            .map((t) => {
              const { listenerPort, ip, port } = splitTarget(t);
              return ctFlushMessage({ zone: ctZone(r.vni), ipProto: IP_PROTO.UDP, orig: { dst: r.vip, dstPort: listenerPort }, reply: { src: ip, srcPort: port } });
            });
        }
        const keep = this.deps.backendsOfVip(r.vni, r.vip);
        return r.backends.filter((ip) => !keep.has(ip)).map((ip) => ctFlushMessage({ zone: ctZone(r.vni), orig: { dst: r.vip }, reply: { src: ip } }));
      });
      this.sendFlushes(msgs, retired);
    }, RETIRED_FLUSH_DELAY_MS).unref();
  }

  /**
   * A backend that stops getting new connections without leaving the load balancer (its
   * health checks fail, its port is unbound) keeps its TCP connections, as OVS's conntrack
   * keeps them; but a UDP client that keeps its source port stayed on it for as long as it
   * sent (QA: 12 s and counting). Its UDP entries are flushed a second later, as kube-proxy
   * flushes those of endpoints that stop being ready. So are a backend's entries on a UDP
   * targetPort the load balancer no longer uses (a client kept being sent to the old port,
   * where nothing answers; the fast path deals such a flow again at its next datagram), and
   * those of a UDP listener removed, its last one too (they were answered through the removed
   * port for as long as they sent, and after a remove and add to change its target port, by
   * the old one: QA-128 F1).
   */
  noteDeactivated(model: LogicalModel): void {
    const seen = new Set<string>();
    const out: RetiredUdpTargets[] = [];
    for (const lb of model.loadBalancers?.values() ?? []) {
      const vni = model.networks.get(lb.network)?.vni;
      if (vni === undefined) continue;
      const k = `${vni}/${lb.vip}`;
      const udp = lb.listeners.filter((l) => l.protocol === 'UDP');
      const before = this.activeByVip.get(k);
      const now = new Set(activeBackends(lb).flatMap((b) => udp.map((l) => udpTarget(l.port, b.ip, l.targetPort))));
      // Nothing active: no entry to keep (the loop below forgets it), only what left to flush.
      if (now.size) {
        seen.add(k);
        this.activeByVip.set(k, now);
      }
      const left = before ? [...before].filter((t) => !now.has(t)) : [];
      if (left.length) out.push({ vni, vip: lb.vip, targets: left });
    }
    for (const k of [...this.activeByVip.keys()]) if (!seen.has(k)) this.activeByVip.delete(k);
    this.flushRetiredLater(out);
  }

  /**
   * Every UDP conntrack entry of the VIPs on `node`, after this process's first full sync of
   * it. A removal whose flush the previous process had not sent yet (it died within the
   * second) left clients sending to a backend no longer there, for good (QA). UDP entries
   * hold no more than the NAT, so the others are made again, to the same backend, by the
   * next datagram.
   */
  flushVipUdp(node: string, model: LogicalModel): void {
    const msgs: OfMessage[] = [];
    const vips: string[] = [];
    for (const lb of model.loadBalancers?.values() ?? []) {
      const vni = model.networks.get(lb.network)?.vni;
      if (vni !== undefined && lb.listeners.some((l) => l.protocol === 'UDP')) {
        msgs.push(ctFlushMessage({ zone: ctZone(vni), ipProto: IP_PROTO.UDP, orig: { dst: lb.vip } }));
        vips.push(`${ctZone(vni)}/${lb.vip}`);
      }
    }
    this.sendFlushes(msgs, { udpOfVips: vips, at: 'start' }, node);
  }

  private activeOfVip(vni: number, vip: string): ReadonlySet<string> {
    return this.activeByVip.get(`${vni}/${vip}`) ?? new Set();
  }

  /**
   * Each flush goes FLUSH_PASSES times: on the userspace datapath, OVS before 3.4 skips some
   * entries while it flushes (the table shrinks under its iteration: OVS commit 6c082a831,
   * "conntrack: Fix flush not flushing all elements"); one pass left 3 of 10 here.
   */
  private sendFlushes(msgs: OfMessage[], what: unknown, only?: string): void {
    if (!msgs.length) return;
    for (const [node] of this.deps.switches()) {
      if (only !== undefined && node !== only) continue;
      void this.flushOn(node, msgs, what);
    }
  }

  /**
   * Sends a node's flushes in chunks (a thousand load balancers deleted at once made one
   * request of 12,000 messages), and again from the chunk that failed, a few times, when the
   * switch is not connected or does not answer in time: the entries stay otherwise, and the
   * clients with them, until they expire (QA-124 F4: left behind, blamed on the OVS version).
   */
  private async flushOn(node: string, msgs: readonly OfMessage[], what: unknown): Promise<void> {
    let done = 0;
    let err: Error | undefined;
    for (let attempt = 0; attempt <= FLUSH_RETRIES; attempt++) {
      if (attempt > 0) await new Promise((r) => setTimeout(r, FLUSH_RETRY_MS * 2 ** (attempt - 1)).unref());
      if (this.deps.stopped()) return;
      const conn = this.switchOf(node);
      if (!conn?.connected) {
        err = new Error('the switch is not connected');
        continue;
      }
      try {
        while (done < msgs.length) {
          const chunk = msgs.slice(done, done + FLUSH_CHUNK);
          await conn.transact(Array.from({ length: FLUSH_PASSES }, () => chunk).flat());
          done += chunk.length;
        }
        this.deps.log.debug({ node, flushed: what, attempts: attempt + 1 }, 'pipeline: conntrack entries of load balancer backends flushed');
        return;
      } catch (e) {
        err = e as Error;
        if (unsupported(err)) {
          this.deps.log.warn({ node, err: err.message }, 'pipeline: this switch cannot flush conntrack entries of load balancer backends (no NXT_CT_FLUSH: OVS before 3.1); clients stay on removed backends until their entries expire');
          return;
        }
      }
    }
    this.deps.log.warn(
      { node, err: err?.message, flushesLeft: msgs.length - done, attempts: FLUSH_RETRIES + 1 },
      `pipeline: could not flush conntrack entries of load balancer backends (${err?.message}); clients may stay on removed backends until their entries expire (ovs-appctl dpctl/flush-conntrack clears them)`,
    );
  }

  private switchOf(node: string): OpenFlowConnection | undefined {
    for (const [name, conn] of this.deps.switches()) if (name === node) return conn;
    return undefined;
  }
}

/** The switch does not know NXT_CT_FLUSH (OVS before 3.1): no retry will help. */
function unsupported(e: Error): boolean {
  return e instanceof OpenFlowRequestError && /BAD_(SUBTYPE|TYPE|EXPERIMENTER|VENDOR)/.test(e.error.name);
}
