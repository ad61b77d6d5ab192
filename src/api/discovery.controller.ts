/** Discovery and OpenAPI: what kubectl reads before any other request. */
import { createHash } from 'node:crypto';
import { Controller, Get, Inject, Req, Res } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { EVENT_TYPE, NAMESPACE_TYPE, RESOURCE_QUOTA_TYPE, ResourceCatalog, type ResourceType } from '../resources/catalog';
import { GROUP, VERSION } from '../resources/kinds';
import type { JsonSchema } from '../resources/json-schema';
import { coreDocument, groupDocument } from '../resources/openapi';
import { swaggerDocument } from '../resources/openapi-v2';
import { encodeOpenApiV2 } from './openapi-v2-protobuf';
import { Public } from './public.decorator';
import { REVIEW_GROUPS, reviewApiGroup, reviewResourceList, type ReviewGroup } from './review-groups';

const VERBS = ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'];
/** vnet.dev kinds also take DELETE on a collection; namespaces do not, as in Kubernetes. */
const GROUP_VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];

/** Events: vnetd writes them. */
const READ_VERBS = ['get', 'list', 'watch'];

function apiResources(t: ResourceType) {
  const main = {
    name: t.plural,
    singularName: t.singular,
    namespaced: t.namespaced,
    kind: t.kind,
    verbs: t.readOnly ? READ_VERBS : t === NAMESPACE_TYPE ? VERBS : GROUP_VERBS,
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
  private readonly groupDoc: JsonSchema;
  private readonly coreDoc: JsonSchema;
  /** OpenAPI v2, of the same schemas: JSON, and gnostic's protobuf (what client-go asks for). */
  private readonly v2Doc: JsonSchema;
  private readonly v2Protobuf: Buffer;
  /**
   * Of each document's content, as kube-apiserver's: kubectl keeps a document by its URL,
   * and a fixed hash kept a document from before a change (Events joining core/v1, a new
   * field) for as long as its cache lived.
   */
  private readonly groupHash: string;
  private readonly coreHash: string;

  constructor(@Inject(ResourceCatalog) private readonly catalog: ResourceCatalog) {
    this.groupDoc = groupDocument(catalog);
    this.coreDoc = coreDocument();
    this.groupHash = contentHash(this.groupDoc);
    this.coreHash = contentHash(this.coreDoc);
    this.v2Doc = swaggerDocument([this.groupDoc, this.coreDoc], { title: 'vnetd', version: VERSION });
    this.v2Protobuf = encodeOpenApiV2(this.v2Doc);
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
    return { kind: 'APIResourceList', groupVersion: 'v1', resources: [...apiResources(NAMESPACE_TYPE), ...apiResources(EVENT_TYPE), ...apiResources(RESOURCE_QUOTA_TYPE)] };
  }

  private group() {
    const gv = { groupVersion: `${GROUP}/${VERSION}`, version: VERSION };
    return { kind: 'APIGroup', apiVersion: 'v1', name: GROUP, versions: [gv], preferredVersion: gv };
  }

  /** Built-in groups first, then vnet.dev, as kube-apiserver lists a custom resource's group after its own. */
  @Get('apis')
  apis() {
    return { kind: 'APIGroupList', apiVersion: 'v1', groups: [...REVIEW_GROUPS.map(reviewApiGroup), this.group()] };
  }

  @Get(REVIEW_GROUPS.map((g) => `apis/${g.group}`))
  reviewGroup(@Req() req: FastifyRequest) {
    return reviewApiGroup(reviewGroupOf(req));
  }

  @Get(REVIEW_GROUPS.map((g) => `apis/${g.group}/${g.version}`))
  reviewGroupVersion(@Req() req: FastifyRequest) {
    return reviewResourceList(reviewGroupOf(req));
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
        [`apis/${GROUP}/${VERSION}`]: { serverRelativeURL: `/openapi/v3/apis/${GROUP}/${VERSION}?hash=${this.groupHash}` },
        'api/v1': { serverRelativeURL: `/openapi/v3/api/v1?hash=${this.coreHash}` },
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

  /**
   * OpenAPI v2, made from the v3 documents (resources/openapi-v2.ts): `kubectl explain
   * --output=plaintext-openapiv2` and tools reading discovery's OpenAPISchema() find every kind
   * there (QA-134 F9: the document had no definitions, and explain said "couldn't find
   * resource"). Not a 404: kubectl falls back to v2 to validate a kind v3 lacks (a typo in kind
   * or apiVersion), and without v2 it said "failed to download openapi ... --validate=false"
   * where, finding no schema there either, it says `no matches for kind` as against
   * kube-apiserver (QA). client-go asks for gnostic's protobuf, and takes nothing else.
   */
  @Get('openapi/v2')
  openapiV2(@Req() req: FastifyRequest, @Res() reply: FastifyReply) {
    if (/protobuf/.test(String(req.headers.accept ?? ''))) {
      // Not the type asked for: client-go parses the answer's with Go's mime package, which
      // refuses its "@" ("mime: unexpected content after media subtype", and kubectl failed).
      void reply.header('content-type', 'application/octet-stream').send(this.v2Protobuf);
      return;
    }
    void reply.header('content-type', 'application/json').send(this.v2Doc);
  }
}

/** The review group a route of REVIEW_GROUPS was asked for: /apis/GROUP[/VERSION]. */
function reviewGroupOf(req: FastifyRequest): ReviewGroup {
  const group = req.url.split('?')[0]!.split('/')[2];
  return REVIEW_GROUPS.find((g) => g.group === group)!;
}

function contentHash(doc: unknown): string {
  return createHash('sha256').update(JSON.stringify(doc)).digest('hex').slice(0, 32).toUpperCase();
}

/** HTTP/2 clients (kubectl) name the server in the :authority pseudo-header, not Host. */
function authority(req: FastifyRequest): string {
  const value = req.headers[':authority'];
  return typeof value === 'string' ? value : '';
}
