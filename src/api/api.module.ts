import { Module, type DynamicModule } from '@nestjs/common';
import { APP_FILTER, APP_GUARD } from '@nestjs/core';
import type { Logger } from 'pino';
import { ResourceCatalog } from '../resources/catalog';
import { ObjectStore } from '../store/object-store';
import { TokenAuthenticator } from './auth/authenticator';
import { AccessReviewController, ReviewMethodsController } from './access-review.controller';
import { AuthGuard } from './auth.guard';
import { DiscoveryController } from './discovery.controller';
import { HealthController, ROLE_INFO, type RoleInfo } from './health.controller';
import { MetricsService } from './metrics.service';
import { ResourceService } from './resource.service';
import { ResourcesController } from './resources.controller';
import { StatusFilter } from './status.filter';
import { WatchService } from './watch.service';

/** What the HTTP layer needs from the rest of vnetd, built once by the composition root. */
export interface ApiDependencies {
  logger: Logger;
  catalog: ResourceCatalog;
  objects: ObjectStore;
  resources: ResourceService;
  watches: WatchService;
  metrics: MetricsService;
  authenticator: TokenAuthenticator;
  /** Whether this replica runs the reconcilers (shown by /readyz); absent: always. */
  leadership?: () => RoleInfo;
}

@Module({})
export class ApiModule {
  static forRoot(deps: ApiDependencies): DynamicModule {
    return {
      module: ApiModule,
      controllers: [DiscoveryController, HealthController, ResourcesController, AccessReviewController, ReviewMethodsController],
      providers: [
        { provide: ResourceCatalog, useValue: deps.catalog },
        { provide: ObjectStore, useValue: deps.objects },
        { provide: ResourceService, useValue: deps.resources },
        { provide: WatchService, useValue: deps.watches },
        { provide: MetricsService, useValue: deps.metrics },
        { provide: TokenAuthenticator, useValue: deps.authenticator },
        { provide: ROLE_INFO, useValue: deps.leadership ?? (() => ({ isLeader: true })) },
        { provide: APP_GUARD, useClass: AuthGuard },
        { provide: APP_FILTER, useFactory: () => new StatusFilter(deps.logger) },
      ],
    };
  }
}
