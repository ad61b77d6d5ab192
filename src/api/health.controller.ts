import { Controller, Get, Header, HttpCode, Inject, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { ObjectStore } from '../store/object-store';
import { MetricsService } from './metrics.service';
import { Public } from './public.decorator';

/** Liveness, readiness (the store answers) and Prometheus metrics. */
@Controller()
export class HealthController {
  constructor(
    @Inject(ObjectStore) private readonly objects: ObjectStore,
    @Inject(MetricsService) private readonly metrics: MetricsService,
  ) {}

  @Public()
  @Get('healthz')
  @Header('content-type', 'text/plain')
  healthz() {
    return 'ok';
  }

  @Public()
  @Get('livez')
  @Header('content-type', 'text/plain')
  livez() {
    return 'ok';
  }

  @Public()
  @Get('readyz')
  @HttpCode(200)
  async readyz(@Res() reply: FastifyReply) {
    try {
      await this.objects.kv.currentRevision();
      void reply.code(200).header('content-type', 'text/plain').send('ok');
    } catch (err) {
      void reply.code(503).header('content-type', 'text/plain').send(`store not ready: ${(err as Error).message}`);
    }
  }

  @Get('metrics')
  async metricsText(@Res() reply: FastifyReply) {
    const m = await this.metrics.render();
    void reply.code(200).header('content-type', m.contentType).send(m.body);
  }
}
