import type { VipConnections } from './fastpath';

/** A VIP listener: network, address, port, IP protocol. */
export const listenerKey = (network: number, vip: string, port: number, proto: number): string => `${network}/${vip}/${port}/${proto}`;

/** Listeners no longer applied whose owner is remembered, beyond which those without counts are forgotten. */
const FORMER_KEPT = 4096;

/**
 * The native context counts the connections it dispatched per (listener, backend) for as
 * long as it lives, by address: a load balancer deleted and made again with the same VIP,
 * listener and backends went on from its predecessor's counts (QA: a new load balancer
 * showed hundreds of connections). Each listener remembers the load balancer it was last
 * applied for; when another takes it, its counts as they stand become the new one's zero.
 */
export class VipCountBase {
  /** Listener -> uid of the load balancer it was last applied for. */
  private readonly owners = new Map<string, string>();
  /** "listener|backend" -> the native count when the listener changed hands. */
  private readonly bases = new Map<string, number>();

  /** The listeners applied now (key -> load balancer uid); `counts` reads the native counts, only when one changed hands. */
  applied(listeners: ReadonlyMap<string, string | undefined>, counts: () => readonly VipConnections[]): void {
    const handedOver = new Set<string>();
    for (const [k, lb] of listeners) {
      if (lb === undefined) continue;
      const had = this.owners.get(k);
      if (had !== undefined && had !== lb) handedOver.add(k);
      this.owners.set(k, lb);
    }
    const former = this.owners.size - listeners.size;
    if (!handedOver.size && former <= FORMER_KEPT) return;
    const all = counts();
    const counted = new Set<string>();
    for (const c of all) {
      const k = listenerKey(c.network, c.vip, c.port, c.proto);
      counted.add(k);
      if (handedOver.has(k)) this.bases.set(`${k}|${c.backend}`, c.connections);
    }
    if (former > FORMER_KEPT) {
      // A listener with no count left is one nobody can inherit from.
      for (const k of this.owners.keys()) if (!listeners.has(k) && !counted.has(k)) this.owners.delete(k);
      for (const b of this.bases.keys()) if (!counted.has(b.slice(0, b.lastIndexOf('|')))) this.bases.delete(b);
    }
  }

  /** Each count less what the listener had counted before its load balancer took it. */
  own(counts: readonly VipConnections[]): VipConnections[] {
    if (!this.bases.size) return [...counts];
    return counts.map((c) => {
      const base = this.bases.get(`${listenerKey(c.network, c.vip, c.port, c.proto)}|${c.backend}`) ?? 0;
      return base ? { ...c, connections: Math.max(0, c.connections - base) } : c;
    });
  }
}
