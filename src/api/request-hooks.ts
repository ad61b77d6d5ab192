/**
 * Per-request work done as plain Fastify hooks: one log line per request and the
 * request metrics. (pino-http ran as Nest middleware through @fastify/middie, with a
 * child logger and an async-local store per request: a fair share of a create's CPU.)
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Level, Logger } from 'pino';
import type { MetricsService } from './metrics.service';
import { requestInfo, type RequestInfo } from './request-info';

const STARTED = Symbol('vnetd.requestStarted');
type Stamped = FastifyRequest & { [STARTED]?: number };

/** Successes at debug so the info log stays about events; client errors at info, server errors at error. */
export function requestLogLevel(statusCode: number): Level {
  return statusCode >= 500 ? 'error' : statusCode >= 400 ? 'info' : 'debug';
}

/** requestInfo per method and URL: creates and watches repeat the same few collection URLs. */
const INFO_CACHE_MAX = 512;

export function installRequestHooks(fastify: FastifyInstance, deps: { logger: Logger; metrics: MetricsService }): void {
  const { logger, metrics } = deps;
  const infos = new Map<string, RequestInfo>();
  const infoOf = (method: string, url: string): RequestInfo => {
    const key = `${method} ${url}`;
    let info = infos.get(key);
    if (!info) {
      info = requestInfo(method, url);
      if (infos.size >= INFO_CACHE_MAX) infos.clear();
      infos.set(key, info);
    }
    return info;
  };
  fastify.addHook('onRequest', (req: Stamped, reply: FastifyReply, done: () => void) => {
    req[STARTED] = performance.now();
    // A watch is in progress until its stream closes, however it ends (its timeout, the client gone).
    if (req.method === 'GET' && req.url.includes('watch=')) {
      const info = infoOf(req.method, req.url);
      if (info.verb === 'watch') reply.raw.once('close', metrics.longRunningStarted(info.verb, info.resource));
    }
    done();
  });
  fastify.addHook('onResponse', (req: Stamped, reply: FastifyReply, done: () => void) => {
    const t0 = req[STARTED];
    if (t0 !== undefined) {
      const ms = performance.now() - t0;
      const code = reply.statusCode;
      const info = infoOf(req.method, req.url);
      metrics.observe(info.verb, info.resource, code, ms / 1000);
      const level = requestLogLevel(code);
      if (logger.isLevelEnabled(level)) {
        logger[level]({ req: { method: req.method, url: req.url }, res: { statusCode: code }, responseTime: Math.round(ms) }, 'request completed');
      }
    }
    done();
  });
}
