import { Registry } from 'prom-client';
import { emptyCounters } from '../openflow/sync/types';
import type { NodeFlowTable } from '../reconcile/kinds/pipeline.reconciler';
import { registerOpenFlowMetrics } from './openflow-metrics';

describe('OpenFlow metrics', () => {
  it('shows each programmed node as the pipeline reports it, read once per scrape', async () => {
    const registry = new Registry();
    let tables: NodeFlowTable[] = [
      { node: 'hv1', connected: true, inSync: true, round: 3, fenced: false, counters: { ...emptyCounters(), fullSyncs: 1, flowModsSent: 120, bundlesCommitted: 4, bundlesFailed: 1, desiredFlows: 118, lastSyncUnchangedFlows: 110, lastSyncDurationMs: 250 }, refused: { answered: 7, paced: 2 }, portSecurityDrops: [{ port: 't1/vm1', dropped: 57 }], unknownUnicastDrops: [{ network: 't1/blue', dropped: 20 }] },
      { node: 'hv2', connected: false, inSync: false, round: undefined, fenced: true, counters: emptyCounters(), refused: { answered: 0, paced: 0 }, portSecurityDrops: [], unknownUnicastDrops: [] },
    ];
    let reads = 0;
    registerOpenFlowMetrics(registry, { flowTables: () => (reads++, tables) });
    const text = await registry.metrics();
    expect(reads).toBe(1);
    for (const line of [
      'vnetd_openflow_connected{node="hv1"} 1',
      'vnetd_port_security_dropped_packets_total{node="hv1",port="t1/vm1"} 57',
      'vnetd_unknown_unicast_dropped_packets_total{node="hv1",network="t1/blue"} 20',
      'vnetd_openflow_connected{node="hv2"} 0',
      'vnetd_openflow_in_sync{node="hv1"} 1',
      'vnetd_openflow_in_sync{node="hv2"} 0',
      'vnetd_openflow_fenced{node="hv1"} 0',
      'vnetd_openflow_fenced{node="hv2"} 1',
      'vnetd_openflow_round{node="hv1"} 3',
      'vnetd_openflow_round{node="hv2"} 0',
      'vnetd_openflow_desired_flows{node="hv1"} 118',
      'vnetd_openflow_last_full_sync_unchanged_flows{node="hv1"} 110',
      'vnetd_openflow_last_sync_duration_seconds{node="hv1"} 0.25',
      'vnetd_openflow_full_syncs_total{node="hv1"} 1',
      'vnetd_openflow_flow_mods_total{node="hv1"} 120',
      'vnetd_openflow_bundles_total{node="hv1",result="committed"} 4',
      'vnetd_openflow_bundles_total{node="hv1",result="failed"} 1',
      'vnetd_lb_refused_total{node="hv1",result="answered"} 7',
      'vnetd_lb_refused_total{node="hv1",result="paced"} 2',
    ]) {
      expect(text).toContain(line);
    }
    // A node the pipeline no longer programs disappears at the next scrape.
    tables = tables.slice(0, 1);
    const next = await registry.metrics();
    expect(reads).toBe(2);
    expect(next).not.toContain('node="hv2"');
  });
});
