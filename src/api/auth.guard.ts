import { Inject, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyRequest } from 'fastify';
import { ApiErrors } from '../resources/status';
import { TokenAuthenticator } from './auth/authenticator';
import { impersonate, impersonationOf } from './auth/impersonation';
import type { Principal } from './auth/principal';
import { PUBLIC_ROUTE } from './public.decorator';

export type AuthedRequest = FastifyRequest & { principal?: Principal };

/** Every route needs a valid bearer token unless marked @Public(); no token -> 401. */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    @Inject(Reflector) private readonly reflector: Reflector,
    @Inject(TokenAuthenticator) private readonly authenticator: TokenAuthenticator,
  ) {}

  /** @Public() per handler: decorators are fixed at start-up, reflection per request is not free. */
  private readonly publicHandlers = new WeakMap<object, boolean>();

  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    const handler = ctx.getHandler();
    let isPublic = this.publicHandlers.get(handler);
    if (isPublic === undefined) {
      isPublic = this.reflector.getAllAndOverride<boolean>(PUBLIC_ROUTE, [handler, ctx.getClass()]) === true;
      this.publicHandlers.set(handler, isPublic);
    }
    if (isPublic) return true;
    const req = ctx.switchToHttp().getRequest<AuthedRequest>();
    const principal = await this.authenticator.authenticate(req.headers.authorization);
    if (!principal) throw ApiErrors.unauthorized();
    const asked = impersonationOf(req.headers);
    req.principal = asked ? await impersonate(principal, asked, (user) => this.authenticator.holder(user)) : principal;
    return true;
  }
}
