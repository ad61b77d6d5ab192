/** Discovery and OpenAPI: what kubectl reads before any other request. */
import { Controller, Get, Inject, Req } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { NAMESPACE_TYPE, ResourceCatalog, type ResourceType } from '../resources/catalog';
import { GROUP, VERSION } from '../resources/kinds';
import { coreDocument, groupDocument } from '../resources/openapi';
import { ApiErrors } from '../resources/status';
import { Public } from './public.decorator';

const VERBS = ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'];
/** vnet.dev kinds also take DELETE on a collection; namespaces do not, as in Kubernetes. */
const GROUP_VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];

function apiResources(t: ResourceType) {
  const main = {
    name: t.plural,
    singularName: t.singular,
    namespaced: t.namespaced,
    kind: t.kind,
    verbs: t === NAMESPACE_TYPE ? VERBS : GROUP_VERBS,
    ...(t.shortNames.length ? { shortNames: t.shortNames } : {}),
    ...(t.categories.length ? { categories: t.categories } : {}),
  };
  const status = t.statusSchema
    ? [{ name: `${t.plural}/status`, singularName: '', namespaced: t.namespaced, kind: t.kind, verbs: ['get', 'patch', 'update'] }]
    : [];
  return [main, ...status];
}

export const SERVER_VERSION = {
  major: '1',
  minor: '32',
  gitVersion: 'v1.32.0+vnetd.0.1.0',
  gitCommit: '',
  gitTreeState: 'clean',
  buildDate: '2026-11-28T00:00:00Z',
  goVersion: 'n/a (vnetd on Node.js)',
  compiler: 'node',
  platform: `linux/${process.arch === 'x64' ? 'amd64' : process.arch}`,
};

@Controller()
export class DiscoveryController {
  private readonly groupDoc: unknown;
  private readonly coreDoc: unknown;

  constructor(@Inject(ResourceCatalog) private readonly catalog: ResourceCatalog) {
    this.groupDoc = groupDocument(catalog);
    this.coreDoc = coreDocument();
  }

  @Public()
  @Get('version')
  version() {
    return SERVER_VERSION;
  }

  @Get('api')
  api(@Req() req: FastifyRequest) {
    return { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: req.headers.host ?? authority(req) }] };
  }

  @Get('api/v1')
  coreV1() {
    return { kind: 'APIResourceList', groupVersion: 'v1', resources: apiResources(NAMESPACE_TYPE) };
  }

  private group() {
    const gv = { groupVersion: `${GROUP}/${VERSION}`, version: VERSION };
    return { kind: 'APIGroup', apiVersion: 'v1', name: GROUP, versions: [gv], preferredVersion: gv };
  }

  @Get('apis')
  apis() {
    return { kind: 'APIGroupList', apiVersion: 'v1', groups: [this.group()] };
  }

  @Get(`apis/${GROUP}`)
  apiGroup() {
    return this.group();
  }

  @Get(`apis/${GROUP}/${VERSION}`)
  groupVersion() {
    return {
      kind: 'APIResourceList',
      apiVersion: 'v1',
      groupVersion: `${GROUP}/${VERSION}`,
      resources: this.catalog.types.flatMap(apiResources),
    };
  }

  @Get('openapi/v3')
  openapiIndex() {
    return {
      paths: {
        [`apis/${GROUP}/${VERSION}`]: { serverRelativeURL: `/openapi/v3/apis/${GROUP}/${VERSION}?hash=vnetd-${VERSION}` },
        'api/v1': { serverRelativeURL: '/openapi/v3/api/v1?hash=vnetd-core' },
      },
    };
  }

  @Get(`openapi/v3/apis/${GROUP}/${VERSION}`)
  openapiGroup() {
    return this.groupDoc;
  }

  @Get('openapi/v3/api/v1')
  openapiCore() {
    return this.coreDoc;
  }

  @Get('openapi/v2')
  openapiV2() {
    throw ApiErrors.notFoundPath('/openapi/v2: this server serves OpenAPI v3 at /openapi/v3');
  }
}

/** HTTP/2 clients (kubectl) name the server in the :authority pseudo-header, not Host. */
function authority(req: FastifyRequest): string {
  const value = req.headers[':authority'];
  return typeof value === 'string' ? value : '';
}
