import { SetMetadata } from '@nestjs/common';

export const PUBLIC_ROUTE = 'vnetd:public';

/** Routes anyone may call without a token (health, version), as Kubernetes allows. */
export const Public = () => SetMetadata(PUBLIC_ROUTE, true);
