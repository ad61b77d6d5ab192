import { Controller, Get, Header, HttpCode, Inject, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { ObjectStore } from '../store/object-store';
import { MetricsService } from './metrics.service';
import { Public } from './public.decorator';

/** Whether this replica is the one running the reconcilers (a standby only serves the API). */
export interface RoleInfo {
  readonly isLeader: boolean;
}
export const ROLE_INFO = Symbol('RoleInfo');

/**
 * Liveness, readiness (the store answers) and Prometheus metrics. A standby controller is
 * ready (it serves the API); /readyz says which role it has in the X-Vnetd-Leader header
 * and in its body, so probes keep passing and operators can still tell the leader apart.
 */
@Controller()
export class HealthController {
  constructor(
    @Inject(ObjectStore) private readonly objects: ObjectStore,
    @Inject(MetricsService) private readonly metrics: MetricsService,
    @Inject(ROLE_INFO) private readonly role: () => RoleInfo,
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
      const leader = this.role().isLeader;
      void reply
        .code(200)
        .header('content-type', 'text/plain')
        .header('x-vnetd-leader', String(leader))
        .send(leader ? 'ok' : 'ok (standby: the leader runs the reconcilers)');
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
