/**
 * Load balancers in /metrics, as their status has them: each backend's health and the
 * connections dealt to it, and how many backends of each get new connections. Alerting on
 * a backend going unhealthy, or on a VIP with none left, needed a watch on LoadBalancer
 * status (QA-93: "no health metrics").
 *
 * Read from the store at scrape time (the leader writes status; every replica serves the same
 * figures, so sum one replica's, not all). A load balancer or backend that goes away leaves the
 * series at the next scrape.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { LoadBalancer } from '../resources/kinds';
import { readOncePerScrape } from './scrape-read';

export interface LoadBalancerSource {
  loadBalancers(): Promise<readonly LoadBalancer[]>;
}

/** "2/3" -> [2, 3]; undefined until status says. */
function backendCounts(healthyBackends: string | undefined): [number, number] | undefined {
  const m = /^(\d+)\/(\d+)$/.exec(healthyBackends ?? '');
  return m ? [Number(m[1]), Number(m[2])] : undefined;
}

export function registerLoadBalancerMetrics(registry: Registry, source: LoadBalancerSource): void {
  const registers = [registry];
  const read = readOncePerScrape<readonly LoadBalancer[]>(() => source.loadBalancers(), []);
  const lbLabels = (lb: LoadBalancer) => ({ namespace: lb.metadata.namespace ?? '', loadbalancer: lb.metadata.name });
  /** A gauge per load balancer: value(lb), or no sample when it is undefined. */
  const perLoadBalancer = (name: string, help: string, value: (lb: LoadBalancer) => number | undefined) =>
    new Gauge({
      name,
      help,
      labelNames: ['namespace', 'loadbalancer'],
      registers,
      async collect() {
        const lbs = await read();
        this.reset();
        for (const lb of lbs) {
          const v = value(lb);
          if (v !== undefined) this.set(lbLabels(lb), v);
        }
      },
    });
  perLoadBalancer('vnetd_loadbalancer_backends_available', 'Backends of the load balancer that get new connections (healthy, weight above 0, their node reachable; one whose NIC link is down is dealt them, unanswered, and counts): status.healthyBackends.', (lb) => backendCounts(lb.status?.healthyBackends)?.[0]);
  perLoadBalancer('vnetd_loadbalancer_backends', 'Backends the load balancer declares.', (lb) => lb.spec?.backends?.length ?? 0);
  new Gauge({
    name: 'vnetd_loadbalancer_backend_healthy',
    help: 'The backend is bound and passes its health checks (1) or not (0), as status.backends says.',
    labelNames: ['namespace', 'loadbalancer', 'backend', 'node'],
    registers,
    async collect() {
      const lbs = await read();
      this.reset();
      for (const lb of lbs) for (const b of lb.status?.backends ?? []) this.set({ ...lbLabels(lb), backend: b.name, node: b.node }, b.healthy ? 1 : 0);
    },
  });
  new Counter({
    name: 'vnetd_loadbalancer_backend_connections_total',
    help: 'New connections dealt to the backend, on every node (absent where agents program the nodes).',
    labelNames: ['namespace', 'loadbalancer', 'backend'],
    registers,
    async collect() {
      const lbs = await read();
      this.reset();
      for (const lb of lbs) for (const b of lb.status?.backends ?? []) if (b.connections !== undefined) this.inc({ ...lbLabels(lb), backend: b.name }, b.connections);
    },
  });
}
