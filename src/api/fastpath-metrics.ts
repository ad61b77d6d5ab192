/**
 * The fast path's counters in /metrics, read from the native contexts at scrape time
 * (a few array copies per node; nothing is counted twice). Monotonic classifier counters
 * are Prometheus counters; the AF_XDP socket's figures restart with its runner and are
 * gauges.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { NodeCounters } from '../fastpath/node-runner';
import type { NodeFastPathStatus } from '../resources/kinds';

export interface FastPathCounterSource {
  counters(): Array<{ node: string; state: NodeFastPathStatus['state']; counters?: NodeCounters }>;
}

/** Table counters as (table, result) pairs. */
const LOOKUPS: Array<[string, 'hit' | 'miss', string]> = [
  ['port', 'hit', 'portHit'], ['port', 'miss', 'portMiss'],
  ['mac', 'hit', 'macHit'], ['mac', 'miss', 'macMiss'],
  ['vni', 'hit', 'vniHit'], ['vni', 'miss', 'vniMiss'],
  ['vip', 'hit', 'vipHit'], ['vip', 'miss', 'vipMiss'],
  ['lru', 'hit', 'lruHit'], ['lru', 'miss', 'lruMiss'],
];
const IFACE_KINDS = ['rx', 'fast', 'slow', 'drops', 'errors'] as const;
const STATES: NodeFastPathStatus['state'][] = ['Running', 'Idle', 'Unavailable'];

export function registerFastPathMetrics(registry: Registry, source: FastPathCounterSource): void {
  const registers = [registry];
  let snapshot: ReturnType<FastPathCounterSource['counters']> = [];
  // One read per scrape, shared by the metrics below (the state gauge is collected first).
  new Gauge({
    name: 'vnetd_fastpath_state',
    help: 'Fast path state per node (1 for the current state).',
    labelNames: ['node', 'state'],
    registers,
    collect() {
      snapshot = source.counters();
      this.reset();
      for (const n of snapshot) for (const s of STATES) this.set({ node: n.node, state: s }, n.state === s ? 1 : 0);
    },
  });
  new Counter({
    name: 'vnetd_fastpath_table_lookups_total',
    help: 'Fast-path table lookups by table and result (hit, miss).',
    labelNames: ['node', 'table', 'result'],
    registers,
    collect() {
      this.reset();
      for (const n of snapshot) {
        if (!n.counters) continue;
        const t = n.counters.tables as Record<string, bigint>;
        for (const [table, result, key] of LOOKUPS) this.inc({ node: n.node, table, result }, Number(t[key] ?? 0n));
      }
    },
  });
  new Counter({
    name: 'vnetd_fastpath_vip_connections_total',
    help: 'Load-balancer connections the fast path took from their first packet (new), switched as they are to a local backend from their first packet off the tunnel (passthrough: the client\'s node dealt them), saw end (closed: FIN both ways or RST; their room is reused first), took over from an earlier process after a restart (adopted), did not take over (released: ended, or their VIP or backend was gone; OVS gets their packets) and dropped from its connection table while live (evicted).',
    labelNames: ['node', 'event'],
    registers,
    collect() {
      this.reset();
      for (const n of snapshot) {
        if (!n.counters) continue;
        const t = n.counters.tables;
        for (const [event, v] of [['new', t.connNew], ['passthrough', t.connPass], ['closed', t.connClosed], ['adopted', t.connAdopted], ['released', n.counters.connReleased], ['evicted', t.connEvict]] as const) this.inc({ node: n.node, event }, Number(v));
      }
    },
  });
  new Counter({
    name: 'vnetd_fastpath_parse_errors_total',
    help: 'Frames the fast path could not parse (sent to the slow path).',
    labelNames: ['node'],
    registers,
    collect() {
      this.reset();
      for (const n of snapshot) if (n.counters) this.inc({ node: n.node }, Number(n.counters.tables.parseErrors));
    },
  });
  new Counter({
    name: 'vnetd_fastpath_interface_packets_total',
    help: 'Frames per fast-path interface: received, forwarded on the fast path, handed to the slow path, dropped, erroneous.',
    labelNames: ['node', 'interface', 'kind'],
    registers,
    collect() {
      this.reset();
      for (const n of snapshot) {
        for (const i of n.counters?.interfaces ?? []) {
          for (const kind of IFACE_KINDS) this.inc({ node: n.node, interface: i.ifname, kind }, Number(i.counters[kind]));
        }
      }
    },
  });
  new Gauge({
    name: 'vnetd_fastpath_xsk_packets',
    help: 'AF_XDP socket figures per interface since its runner started (tx, tx_full, drops).',
    labelNames: ['node', 'interface', 'kind'],
    registers,
    collect() {
      this.reset();
      for (const n of snapshot) {
        for (const i of n.counters?.interfaces ?? []) {
          if (!i.xsk) continue;
          this.set({ node: n.node, interface: i.ifname, kind: 'tx' }, Number(i.xsk.tx));
          this.set({ node: n.node, interface: i.ifname, kind: 'tx_full' }, Number(i.xsk.txFull));
          this.set({ node: n.node, interface: i.ifname, kind: 'drops' }, Number(i.xsk.drops));
        }
      }
    },
  });
}
