/**
 * The flow tables vnetd programs, in /metrics: per node, whether its OpenFlow connection is
 * up and in sync, the cookie round, and what the flow-table manager sent. Read from the
 * pipeline at scrape time. After a restart, `vnetd_openflow_in_sync` going to 1 on every
 * node is the moment the new process has checked (and, where needed, corrected) each table;
 * `vnetd_openflow_last_sync_unchanged_flows` says how much of it was already right.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { NodeFlowTable } from '../reconcile/kinds/pipeline.reconciler';

export interface FlowTableSource {
  flowTables(): NodeFlowTable[];
}

type Read = (t: NodeFlowTable) => number;

const GAUGES: Array<[name: string, help: string, read: Read]> = [
  ['vnetd_openflow_connected', 'OpenFlow connection to the node\'s integration bridge is up (1) or not (0).', (t) => Number(t.connected)],
  ['vnetd_openflow_in_sync', 'The node\'s switch has confirmed every flow of ours: a full sync succeeded on the current connection and every change since was committed.', (t) => Number(t.inSync)],
  ['vnetd_openflow_fenced', 'The node\'s switch has a newer master than this process (a deposed leader): nothing more is sent to it.', (t) => Number(t.fenced)],
  ['vnetd_openflow_round', 'Cookie round of the node\'s flows (0 before the first sync).', (t) => t.round ?? 0],
  ['vnetd_openflow_desired_flows', 'Flows the pipeline wants on the node.', (t) => t.counters.desiredFlows],
  ['vnetd_openflow_desired_groups', 'Groups the pipeline wants on the node.', (t) => t.counters.desiredGroups],
  ['vnetd_openflow_last_sync_flow_mods', 'flow_mods of the last sync (full or incremental).', (t) => t.counters.lastSyncFlowMods],
  ['vnetd_openflow_last_sync_duration_seconds', 'Duration of the last sync, from its start to the bundle\'s commit.', (t) => t.counters.lastSyncDurationMs / 1000],
  ['vnetd_openflow_last_full_sync_unchanged_flows', 'Flows the last full sync found already right on the switch.', (t) => t.counters.lastSyncUnchangedFlows],
  ['vnetd_openflow_foreign_flows', 'Flows on the node\'s integration bridge that vnetd did not write (another cookie), as the last audit counted them; left in place.', (t) => t.counters.foreignFlows],
];

const COUNTERS: Array<[name: string, help: string, read: Read]> = [
  ['vnetd_openflow_full_syncs_total', 'Full syncs of the node\'s flow table (connect, reconnect, resync).', (t) => t.counters.fullSyncs],
  ['vnetd_openflow_incremental_updates_total', 'Incremental updates that reached the switch.', (t) => t.counters.incrementalUpdates],
  ['vnetd_openflow_flow_mods_total', 'flow_mods sent to the node.', (t) => t.counters.flowModsSent],
  ['vnetd_openflow_group_mods_total', 'group_mods sent to the node.', (t) => t.counters.groupModsSent],
  ['vnetd_openflow_drift_repairs_total', 'Audits that found the node\'s vnetd flows off (deleted, added or changed outside vnetd, a table OVS flushed) and repaired them.', (t) => t.counters.driftRepairs],
];

export function registerOpenFlowMetrics(registry: Registry, source: FlowTableSource): void {
  const registers = [registry];
  // One read per scrape, shared by every metric below: the first gauge is collected first.
  let snapshot: NodeFlowTable[] = [];
  for (const [i, [name, help, value]] of GAUGES.entries()) {
    new Gauge({
      name,
      help,
      labelNames: ['node'],
      registers,
      collect() {
        if (i === 0) snapshot = source.flowTables();
        this.reset();
        for (const t of snapshot) this.set({ node: t.node }, value(t));
      },
    });
  }
  for (const [name, help, value] of COUNTERS) {
    new Counter({
      name,
      help,
      labelNames: ['node'],
      registers,
      collect() {
        this.reset();
        for (const t of snapshot) this.inc({ node: t.node }, value(t));
      },
    });
  }
  new Counter({
    name: 'vnetd_lb_refused_total',
    help: 'New connections to a load balancer listener without a healthy backend, by result: answered (TCP RST or ICMP port unreachable from the VIP) or paced (over the node\'s rate, dropped).',
    labelNames: ['node', 'result'],
    registers,
    collect() {
      this.reset();
      for (const t of snapshot) {
        this.inc({ node: t.node, result: 'answered' }, t.refused.answered);
        this.inc({ node: t.node, result: 'paced' }, t.refused.paced);
      }
    },
  });
  new Counter({
    name: 'vnetd_port_security_dropped_packets_total',
    help: 'Frames a VM port sent that port security dropped (a MAC or address not the port\'s, a VLAN tag, a router advertisement), per node and port, counted from the flow counters at each minute\'s verify; only ports with drops appear.',
    labelNames: ['node', 'port'],
    registers,
    collect() {
      this.reset();
      for (const t of snapshot) for (const d of t.portSecurityDrops) this.inc({ node: t.node, port: d.port }, d.dropped);
    },
  });
  new Counter({
    name: 'vnetd_unknown_unicast_dropped_packets_total',
    help: 'Unicast frames to a MAC that no port of their network holds, dropped on the node because no port without port security is bound there to take them (OVN\'s "unknown" addresses), per node and network, counted from the flow counters at each minute\'s verify; only networks with drops appear.',
    labelNames: ['node', 'network'],
    registers,
    collect() {
      this.reset();
      for (const t of snapshot) for (const d of t.unknownUnicastDrops) this.inc({ node: t.node, network: d.network }, d.dropped);
    },
  });
  new Counter({
    name: 'vnetd_openflow_bundles_total',
    help: 'Bundles sent to the node, by result (committed, failed).',
    labelNames: ['node', 'result'],
    registers,
    collect() {
      this.reset();
      for (const t of snapshot) {
        this.inc({ node: t.node, result: 'committed' }, t.counters.bundlesCommitted);
        this.inc({ node: t.node, result: 'failed' }, t.counters.bundlesFailed);
      }
    },
  });
}
