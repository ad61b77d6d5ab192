import Fastify from 'fastify';
import pino from 'pino';
import { Writable } from 'node:stream';
import { MetricsService } from './metrics.service';
import { installRequestHooks, requestLogLevel } from './request-hooks';
import { ResourceCatalog } from '../resources/catalog';
import type { ObjectStore } from '../store/object-store';

function capture(level: pino.Level) {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      cb();
    },
  });
  return { logger: pino({ level }, stream), lines };
}

async function serve(level: pino.Level) {
  const { logger, lines } = capture(level);
  const metrics = new MetricsService(ResourceCatalog.load(), {} as ObjectStore);
  const app = Fastify();
  installRequestHooks(app, { logger, metrics });
  app.get('/apis/vnet.dev/v1alpha1/namespaces/:ns/virtualports/:name', async (req, reply) => {
    const { name } = req.params as { name: string };
    if (name === 'boom') return reply.code(500).send({});
    if (name === 'missing') return reply.code(404).send({});
    return { ok: true };
  });
  return { app, lines, metrics };
}

describe('request hooks', () => {
  it('maps status codes to log levels: successes debug, client errors info, server errors error', () => {
    expect(requestLogLevel(200)).toBe('debug');
    expect(requestLogLevel(201)).toBe('debug');
    expect(requestLogLevel(404)).toBe('info');
    expect(requestLogLevel(503)).toBe('error');
  });

  it('logs one line per request (method, url, status, time) at its level', async () => {
    const { app, lines } = await serve('debug');
    const base = '/apis/vnet.dev/v1alpha1/namespaces/t/virtualports';
    await app.inject({ method: 'GET', url: `${base}/p1` });
    await app.inject({ method: 'GET', url: `${base}/missing` });
    await app.inject({ method: 'GET', url: `${base}/boom` });
    await new Promise((r) => setImmediate(r));
    expect(lines.map((l) => [l.level, (l.req as { url: string }).url, (l.res as { statusCode: number }).statusCode, l.msg])).toEqual([
      [20, `${base}/p1`, 200, 'request completed'],
      [30, `${base}/missing`, 404, 'request completed'],
      [50, `${base}/boom`, 500, 'request completed'],
    ]);
    expect(lines.every((l) => typeof l.responseTime === 'number' && (l.req as { method: string }).method === 'GET')).toBe(true);
    await app.close();
  });

  it('skips lines below the logger level but still counts every request in the metrics', async () => {
    const { app, lines, metrics } = await serve('warn');
    await app.inject({ method: 'GET', url: '/apis/vnet.dev/v1alpha1/namespaces/t/virtualports/p1' });
    await app.inject({ method: 'GET', url: '/apis/vnet.dev/v1alpha1/namespaces/t/virtualports/missing' });
    expect(lines).toEqual([]);
    const text = await metrics.registry.getSingleMetricAsString('vnetd_apiserver_requests_total');
    expect(text).toContain('vnetd_apiserver_requests_total{verb="get",resource="virtualports",code="200"} 1');
    expect(text).toContain('vnetd_apiserver_requests_total{verb="get",resource="virtualports",code="404"} 1');
    await app.close();
  });
});
