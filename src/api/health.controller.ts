import { Controller, Get, Header, HttpCode, Inject, Query, Req, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { ApiError } from '../resources/status';
import { ObjectStore } from '../store/object-store';
import type { AuthedRequest } from './auth.guard';
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
  healthz(@Query('verbose') verbose?: string) {
    return verbose === undefined ? 'ok' : verboseReport('healthz', [['ping', undefined]]);
  }

  @Public()
  @Get('livez')
  @Header('content-type', 'text/plain')
  livez(@Query('verbose') verbose?: string) {
    return verbose === undefined ? 'ok' : verboseReport('livez', [['ping', undefined]]);
  }

  /** `?verbose` lists each check as kube-apiserver does ([+]name ok / [-]name failed: why); QA-98: it said "ok" alone. */
  @Public()
  @Get('readyz')
  @HttpCode(200)
  async readyz(@Res() reply: FastifyReply, @Query('verbose') verbose?: string) {
    const leader = this.role().isLeader;
    let revision: number | undefined;
    let failure: string | undefined;
    try {
      revision = await this.objects.kv.currentRevision();
    } catch (err) {
      failure = (err as Error).message;
    }
    void reply.header('content-type', 'text/plain').header('x-vnetd-leader', String(leader));
    if (verbose !== undefined) {
      const checks: Array<[string, string | undefined, string?]> = [
        ['ping', undefined],
        // Reads go on while writes are refused (kube-apiserver stays ready on an etcd at its
        // quota too), so this replica stays ready; but nothing it says is being kept current.
        ['store', failure, [`revision ${revision}`, this.objects.writeRefusals.describe()].filter(Boolean).join('; ')],
        ['role', undefined, leader ? 'leader: runs the reconcilers' : 'standby: the leader runs the reconcilers'],
      ];
      void reply.code(failure === undefined ? 200 : 503).send(verboseReport('readyz', checks));
      return;
    }
    if (failure !== undefined) void reply.code(503).send(`store not ready: ${failure}`);
    else void reply.code(200).send(leader ? 'ok' : 'ok (standby: the leader runs the reconcilers)');
  }

  /**
   * Admins only, as kube-apiserver's /metrics is for users without get on that path: the
   * load-balancer and fast-path series name every tenant's objects (QA-102: a tenant's token
   * read the names of other tenants' load balancers and backends).
   */
  @Get('metrics')
  async metricsText(@Req() req: AuthedRequest, @Res() reply: FastifyReply) {
    const who = req.principal;
    if (!who?.admin) throw new ApiError(403, 'Forbidden', `forbidden: User "${who?.name ?? 'system:anonymous'}" cannot get path "/metrics"`, {});
    const m = await this.metrics.render();
    void reply.code(200).header('content-type', m.contentType).send(m.body);
  }
}

/** kube-apiserver's verbose health text: a line per check ([+] passed, [-] failed: why), then the verdict. */
function verboseReport(endpoint: string, checks: ReadonlyArray<readonly [name: string, failure: string | undefined, detail?: string]>): string {
  const lines = checks.map(([name, failure, detail]) => (failure === undefined ? `[+]${name} ok${detail ? ` (${detail})` : ''}` : `[-]${name} failed: ${failure}`));
  const passed = checks.every(([, failure]) => failure === undefined);
  return `${lines.join('\n')}\n${endpoint} check ${passed ? 'passed' : 'failed'}\n`;
}
