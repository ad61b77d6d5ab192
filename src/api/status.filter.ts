import { Catch, HttpException, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import type { Logger } from 'pino';
import { stringify as toYaml } from 'yaml';
import { ApiError, ApiErrors } from '../resources/status';
import { storeFailure, storeMessage } from '../store/unavailable';
import { BODY_LIMIT, drainBody } from './request-body';
import { wantsYaml } from './respond';

/** Maps anything thrown to a Kubernetes Status (also used as Fastify's own error handler). */
export function toApiError(err: unknown, log: Logger): ApiError {
  if (err instanceof ApiError) return err;
  const e = err as { statusCode?: number; code?: string; message?: string };
  if (e?.code === 'FST_ERR_CTP_BODY_TOO_LARGE' || e?.statusCode === 413) return ApiErrors.tooLarge(BODY_LIMIT);
  if (e?.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' || e?.statusCode === 415) return ApiErrors.unsupportedMediaType(e.message ?? '');
  if (err instanceof HttpException) {
    const code = err.getStatus();
    if (code === 413) return ApiErrors.tooLarge(BODY_LIMIT);
    // The router's own words ("Cannot POST /path") are not the API's: kubectl adds the method and resource itself.
    if (code === 404) return ApiErrors.notFoundPath();
    if (code === 401) return ApiErrors.unauthorized();
    if (code < 500) return new ApiError(code, 'BadRequest', err.message);
  }
  if (typeof e?.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    return new ApiError(e.statusCode, 'BadRequest', e.message ?? 'bad request');
  }
  const failure = storeFailure(err);
  if (failure === 'full') {
    log.error({ event: 'api.store_full', err: e?.message }, "the store is full: etcd's database reached its space quota and refuses writes");
    return ApiErrors.storeFull(e?.message ?? String(err));
  }
  if (failure === 'disk-full' || failure === 'read-only') {
    log.error({ event: 'api.store_disk', failure, err: e?.message }, failure === 'read-only' ? "the store's data dir is read-only: writes refused" : "the store's data dir is full: writes refused");
    return ApiErrors.diskFull(e?.message ?? String(err), failure === 'read-only');
  }
  if (failure) {
    log.warn({ event: failure === 'timeout' ? 'api.store_timeout' : 'api.store_unavailable', err: e?.message }, failure === 'timeout' ? 'the store did not answer in time' : 'the store is unavailable');
    const message = storeMessage(e?.message ?? String(err));
    return failure === 'timeout' ? ApiErrors.storeTimeout(message) : ApiErrors.storeUnavailable(message);
  }
  log.error({ event: 'api.internal_error', err }, 'unhandled error');
  return ApiErrors.internal(e?.message ?? String(err));
}

@Catch()
export class StatusFilter implements ExceptionFilter {
  constructor(private readonly log: Logger) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const reply = host.switchToHttp().getResponse<FastifyReply>();
    const err = toApiError(exception, this.log);
    if (reply.sent || reply.raw.headersSent) {
      reply.raw.end();
      return;
    }
    if (err.code === 413) {
      // Fastify asked to close the connection; unless the body is huge, it is drained instead.
      void reply.removeHeader('connection');
      drainBody(reply.request.raw, (overflow) => {
        if (overflow && reply.request.raw.httpVersionMajor === 1) void reply.header('connection', 'close');
        this.send(reply, err);
      });
      return;
    }
    this.send(reply, err);
  }

  private send(reply: FastifyReply, err: ApiError): void {
    // As kube-apiserver: a Status that says when to retry says it in the header too (client-go reads it).
    const retryAfter = err.details?.retryAfterSeconds ?? 0;
    if (retryAfter > 0) void reply.header('retry-after', String(retryAfter));
    // In the media type a success would have had, as kube-apiserver negotiates errors: a
    // client reading YAML got a JSON Status it did not ask for (QA-127 F9).
    if (wantsYaml(reply.request)) {
      void reply.code(err.code).header('content-type', 'application/yaml').send(toYaml(err.toStatus()));
      return;
    }
    void reply.code(err.code).header('content-type', 'application/json').send(err.toStatus());
  }
}
