/**
 * Each local switch's connection-tracking table in /metrics: entries in use and the limit, as
 * ConntrackWatch last read them (every 10 s). Their Node's ConntrackPressure condition says
 * when it is (nearly) full; these give the trend an alert can fire on earlier.
 */
import { Gauge, type Registry } from 'prom-client';
import type { ConntrackUsage } from '../chassis/conntrack-pressure';

export interface ConntrackUsageSource {
  conntrackUsage(): Array<{ node: string } & ConntrackUsage>;
}

export function registerConntrackMetrics(registry: Registry, source: ConntrackUsageSource): void {
  let snapshot: Array<{ node: string } & ConntrackUsage> = [];
  new Gauge({
    name: 'vnetd_conntrack_entries',
    help: 'Connection-tracking entries in use in the node\'s ovs-vswitchd (userspace datapath; load-balancer connections), as last read.',
    labelNames: ['node'],
    registers: [registry],
    collect() {
      snapshot = source.conntrackUsage();
      this.reset();
      for (const u of snapshot) this.set({ node: u.node }, u.entries);
    },
  });
  new Gauge({
    name: 'vnetd_conntrack_max',
    help: 'The node\'s connection-tracking limit (ovs-appctl dpctl/ct-get-maxconns): at it, new load-balancer connections are dropped.',
    labelNames: ['node'],
    registers: [registry],
    collect() {
      this.reset();
      for (const u of snapshot) this.set({ node: u.node }, u.max);
    },
  });
  new Gauge({
    name: 'vnetd_conntrack_network_limit',
    help: 'The most entries one network (one conntrack zone) may hold of the node\'s table (its Node\'s spec.conntrack.networkShare; the networks of a namespace split its namespaceShare; 0: no per-network limit).',
    labelNames: ['node'],
    registers: [registry],
    collect() {
      this.reset();
      for (const u of snapshot) this.set({ node: u.node }, u.networkLimit);
    },
  });
}
