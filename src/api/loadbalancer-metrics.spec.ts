import { Registry } from 'prom-client';
import type { LoadBalancer } from '../resources/kinds';
import { registerLoadBalancerMetrics } from './loadbalancer-metrics';

const lb = (name: string, status: LoadBalancer['status'], backends = 2): LoadBalancer =>
  ({
    apiVersion: 'vnet.dev/v1alpha1',
    kind: 'LoadBalancer',
    metadata: { name, namespace: 't' },
    spec: { network: 'n', listeners: [{ port: 80 }], backends: Array.from({ length: backends }, (_, i) => ({ port: `p${i}` })) },
    status,
  }) as LoadBalancer;

describe('load balancer metrics', () => {
  it('show each backend\'s health and connections and how many backends get connections, read once per scrape', async () => {
    const registry = new Registry();
    let lbs = [
      lb('web', { healthyBackends: '1/2', backends: [{ name: 'p0', ip: '10.0.0.5', node: 'hv1', healthy: true, connections: 120 }, { name: 'p1', ip: '10.0.0.6', node: 'hv2', healthy: false, connections: 7 }] }),
      // Not yet reported by the reconciler: its declared count only.
      lb('new', undefined, 3),
    ];
    let reads = 0;
    registerLoadBalancerMetrics(registry, { loadBalancers: async () => (reads++, lbs) });
    const text = await registry.metrics();
    expect(reads).toBe(1);
    for (const line of [
      'vnetd_loadbalancer_backends_available{namespace="t",loadbalancer="web"} 1',
      'vnetd_loadbalancer_backends{namespace="t",loadbalancer="web"} 2',
      'vnetd_loadbalancer_backends{namespace="t",loadbalancer="new"} 3',
      'vnetd_loadbalancer_backend_healthy{namespace="t",loadbalancer="web",backend="p0",node="hv1"} 1',
      'vnetd_loadbalancer_backend_healthy{namespace="t",loadbalancer="web",backend="p1",node="hv2"} 0',
      'vnetd_loadbalancer_backend_connections_total{namespace="t",loadbalancer="web",backend="p0"} 120',
      'vnetd_loadbalancer_backend_connections_total{namespace="t",loadbalancer="web",backend="p1"} 7',
    ]) {
      expect(text).toContain(line);
    }
    expect(text).not.toContain('vnetd_loadbalancer_backends_available{namespace="t",loadbalancer="new"}');
    // A store that fails a read: the last figures, and every other series still served.
    let failing = true;
    const registry2 = new Registry();
    registerLoadBalancerMetrics(registry2, { loadBalancers: async () => (failing ? Promise.reject(new Error('etcd away')) : lbs) });
    expect(await registry2.metrics()).toContain('# TYPE vnetd_loadbalancer_backends gauge');
    failing = false;
    expect(await registry2.metrics()).toContain('vnetd_loadbalancer_backends{namespace="t",loadbalancer="web"} 2');
    failing = true;
    expect(await registry2.metrics()).toContain('vnetd_loadbalancer_backends{namespace="t",loadbalancer="web"} 2');
    // A load balancer deleted: its series go at the next scrape, with a new read.
    lbs = [];
    const next = await registry.metrics();
    expect(reads).toBe(2);
    expect(next).not.toContain('loadbalancer="web"');
  });
});
