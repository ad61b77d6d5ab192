import { Inject, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyRequest } from 'fastify';
import { ApiErrors } from '../resources/status';
import { TokenAuthenticator } from './auth/authenticator';
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

  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC_ROUTE, [ctx.getHandler(), ctx.getClass()])) return true;
    const req = ctx.switchToHttp().getRequest<AuthedRequest>();
    const principal = await this.authenticator.authenticate(req.headers.authorization);
    if (!principal) throw ApiErrors.unauthorized();
    req.principal = principal;
    return true;
  }
}
