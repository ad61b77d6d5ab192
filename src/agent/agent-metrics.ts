/**
 * An agent's own /metrics (VNETD_METRICS_ADDRESS, host:port): what it programs on its node,
 * the same series an all-in-one vnetd serves for its nodes (the flow table, the fast path's
 * counters), plus its claim. In a scale-out deployment these figures exist only on the
 * agents: the controller programs no switch, and scraping it for them found no samples.
 * Plain HTTP on its own address, as kube-proxy's and antrea-agent's metrics are: bind it
 * to loopback (the default in deploy/) unless the scraper is elsewhere.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { registerFastPathMetrics, type FastPathCounterSource } from '../api/fastpath-metrics';
import { registerOpenFlowMetrics, type FlowTableSource } from '../api/openflow-metrics';
import { registerConntrackMetrics, type ConntrackUsageSource } from '../api/conntrack-metrics';
import { parseListen } from '../app/config';

const METRICS_ADDRESS_SETTING = 'VNETD_METRICS_ADDRESS';

export interface AgentMetricsSources extends FlowTableSource, FastPathCounterSource, ConntrackUsageSource {
  /** The node's claimed generation, once claimed. */
  generation(): bigint | undefined;
}

export interface AgentMetricsServer {
  /** Where it serves, as http://host:port (the port chosen when 0 was asked). */
  readonly url: string;
  close(): Promise<void>;
}

export function agentMetricsRegistry(node: string, sources: AgentMetricsSources): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'vnetd_' });
  registerOpenFlowMetrics(registry, sources);
  registerFastPathMetrics(registry, sources);
  registerConntrackMetrics(registry, sources);
  new Gauge({
    name: 'vnetd_agent_generation',
    help: 'The generation this agent claimed its node with (0 until claimed): a newer agent for the node claims a higher one and fences this one off.',
    labelNames: ['node'],
    registers: [registry],
    collect() {
      this.set({ node }, Number(sources.generation() ?? 0n));
    },
  });
  return registry;
}

/** Serves GET /metrics from `registry` on `address`; anything else is 404. */
export async function serveAgentMetrics(address: string, registry: Registry, log: Logger): Promise<AgentMetricsServer> {
  const { host, port } = parseListen(address, METRICS_ADDRESS_SETTING, '127.0.0.1:9464');
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (req.method !== 'GET' || path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('only GET /metrics is served here\n');
      return;
    }
    registry.metrics().then(
      (body) => res.writeHead(200, { 'content-type': registry.contentType }).end(body),
      (err: unknown) => {
        log.warn({ event: 'agent.metrics_failed', err }, 'collecting the agent metrics failed');
        res.writeHead(500, { 'content-type': 'text/plain' }).end(`${(err as Error).message}\n`);
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  // Once serving, an error (an accept that fails: EMFILE) is logged; unhandled, it would end
  // the agent that programs the node, for the sake of its metrics.
  server.on('error', (err) => log.warn({ event: 'agent.metrics_error', err }, 'the agent metrics server failed'));
  const bound = server.address() as AddressInfo;
  const url = `http://${bound.family === 'IPv6' ? `[${bound.address}]` : bound.address}:${bound.port}`;
  log.info({ event: 'agent.metrics_serving', url }, `agent metrics at ${url}/metrics`);
  return {
    url,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
