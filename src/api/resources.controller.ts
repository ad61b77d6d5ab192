/**
 * The Kubernetes REST surface for vnet.dev/v1alpha1 kinds, core/v1 namespaces and (read-only)
 * core/v1 events.
 * Handlers only translate HTTP into ResourceService/WatchService calls.
 */
import { Controller, Delete, Get, Inject, Param, Patch, Post, Put, Req, Res } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { EVENT_TYPE, type ResourceType } from '../resources/catalog';
import type { KubeObject } from '../resources/object';
import type { Subresource } from '../store/object-store';
import type { AuthedRequest } from './auth.guard';
import { onResponseClose } from './response-close';
import { one, parseListQuery, parseWriteQuery, type Query, type WriteQuery } from './query';
import { decodeObjectBody, decodePatchBody, decodeJson } from './request-body';
import { parseDeleteOptions } from './delete-options';
import { ResourceService, type Scope } from './resource.service';
import { includeObjectOf, send, sendList, sendObject, wantsTable } from './respond';
import { assertAcceptable } from './negotiate';
import { toTable } from './table';
import { ApiErrors } from '../resources/status';
import { WatchService, type WatchEventType } from './watch.service';
import { stallGuard } from './watch-stall';

const GV = 'apis/vnet.dev/v1alpha1';
const QUOTAS = 'resourcequotas';

@Controller()
export class ResourcesController {
  constructor(
    @Inject(ResourceService) private readonly resources: ResourceService,
    @Inject(WatchService) private readonly watches: WatchService,
  ) {}

  private scope(req: AuthedRequest, plural: string, namespace?: string, core = false): Scope {
    // Namespaces are core/v1's only: under our group, "namespaces" names no resource (404).
    const type = core ? this.resources.resolveType(plural, namespace !== undefined, true) : this.resources.resolveType(plural, namespace !== undefined);
    // Before anything is done, as kube-apiserver negotiates: a client that cannot read the answer gets 406.
    assertAcceptable(req.headers.accept);
    return { principal: req.principal!, type, namespace: type.namespaced ? namespace : undefined };
  }

  /**
   * A cluster-scoped kind's collection. A namespaced kind's all-namespaces path takes list and
   * watch only: 405 for a create or delete there, as kube-apiserver answers (QA: a DELETE
   * there deleted the kind's objects in every namespace).
   */
  private clusterScope(req: AuthedRequest, plural: string, verb: 'create' | 'deletecollection'): Scope {
    const scope = this.scope(req, plural);
    if (!scope.type.namespaced) return scope;
    // Authorization first, as kube-apiserver's filters run before its routes: a tenant is forbidden.
    this.resources.authorize(scope, verb);
    throw ApiErrors.methodNotAllowed('the server does not allow this method on the requested resource');
  }

  // ---- collections ----

  @Get('api/v1/namespaces')
  listNamespaces(@Req() req: AuthedRequest, @Res() reply: FastifyReply) {
    return this.listOrWatch(req, reply, this.scope(req, 'namespaces', undefined, true));
  }

  @Get(`${GV}/:plural`)
  listAll(@Req() req: AuthedRequest, @Res() reply: FastifyReply, @Param('plural') plural: string) {
    return this.listOrWatch(req, reply, this.scope(req, plural));
  }

  @Get(`${GV}/namespaces/:ns/:plural`)
  list(@Req() req: AuthedRequest, @Res() reply: FastifyReply, @Param('ns') ns: string, @Param('plural') plural: string) {
    return this.listOrWatch(req, reply, this.scope(req, plural, ns));
  }

  @Post('api/v1/namespaces')
  createNamespace(@Req() req: AuthedRequest, @Res() reply: FastifyReply) {
    return this.create(req, reply, this.scope(req, 'namespaces', undefined, true));
  }

  @Post(`${GV}/:plural`)
  createCluster(@Req() req: AuthedRequest, @Res() reply: FastifyReply, @Param('plural') plural: string) {
    return this.create(req, reply, this.clusterScope(req, plural, 'create'));
  }

  @Post(`${GV}/namespaces/:ns/:plural`)
  createNamespaced(@Req() req: AuthedRequest, @Res() reply: FastifyReply, @Param('ns') ns: string, @Param('plural') plural: string) {
    return this.create(req, reply, this.scope(req, plural, ns));
  }

  @Delete('api/v1/namespaces')
  deleteNamespaces(@Req() req: AuthedRequest) {
    return this.notAllowed(req, 'namespaces', undefined, true);
  }

  @Delete(`${GV}/:plural`)
  deleteCollectionAll(@Req() req: AuthedRequest, @Res() reply: FastifyReply, @Param('plural') plural: string) {
    return this.removeCollection(req, reply, this.clusterScope(req, plural, 'deletecollection'));
  }

  @Delete(`${GV}/namespaces/:ns/:plural`)
  deleteCollection(@Req() req: AuthedRequest, @Res() reply: FastifyReply, @Param('ns') ns: string, @Param('plural') plural: string) {
    return this.removeCollection(req, reply, this.scope(req, plural, ns));
  }

  // A collection is not replaced or patched as a whole, nor an item created by POST to itself:
  // 405, as kube-apiserver answers (the router's own 404 said "Cannot PUT ...").
  @Put('api/v1/namespaces')
  putNamespaces(@Req() req: AuthedRequest) {
    return this.notAllowed(req, 'namespaces', undefined, true);
  }

  @Patch('api/v1/namespaces')
  patchNamespaces(@Req() req: AuthedRequest) {
    return this.notAllowed(req, 'namespaces', undefined, true);
  }

  @Put(`${GV}/:plural`)
  putCollection(@Req() req: AuthedRequest, @Param('plural') plural: string) {
    return this.notAllowed(req, plural);
  }

  @Patch(`${GV}/:plural`)
  patchCollection(@Req() req: AuthedRequest, @Param('plural') plural: string) {
    return this.notAllowed(req, plural);
  }

  @Put(`${GV}/namespaces/:ns/:plural`)
  putNamespacedCollection(@Req() req: AuthedRequest, @Param('ns') ns: string, @Param('plural') plural: string) {
    return this.notAllowed(req, plural, ns);
  }

  @Patch(`${GV}/namespaces/:ns/:plural`)
  patchNamespacedCollection(@Req() req: AuthedRequest, @Param('ns') ns: string, @Param('plural') plural: string) {
    return this.notAllowed(req, plural, ns);
  }

  @Post('api/v1/namespaces/:name')
  namespaceItemNotAllowed(@Req() req: AuthedRequest) {
    return this.notAllowed(req, 'namespaces', undefined, true);
  }

  @Post(`${GV}/:plural/:name`)
  itemNotAllowed(@Req() req: AuthedRequest, @Param('plural') plural: string) {
    return this.notAllowed(req, plural);
  }

  @Post(`${GV}/namespaces/:ns/:plural/:name`)
  namespacedItemNotAllowed(@Req() req: AuthedRequest, @Param('ns') ns: string, @Param('plural') plural: string) {
    return this.notAllowed(req, plural, ns);
  }

  // A status subresource is read, replaced and patched only: 405 for a create or delete
  // there, as kube-apiserver's CRD handler answers (the router's 404 said it did not exist,
  // QA-127 F5). A kind without one has no such path: 404.
  @Post('api/v1/namespaces/:name/status')
  postNamespaceStatus(@Req() req: AuthedRequest) {
    return this.statusNotAllowed(req, 'namespaces', undefined, true);
  }

  @Delete('api/v1/namespaces/:name/status')
  deleteNamespaceStatus(@Req() req: AuthedRequest) {
    return this.statusNotAllowed(req, 'namespaces', undefined, true);
  }

  @Post(`${GV}/:plural/:name/status`)
  postClusterStatus(@Req() req: AuthedRequest, @Param('plural') plural: string) {
    return this.statusNotAllowed(req, plural);
  }

  @Delete(`${GV}/:plural/:name/status`)
  deleteClusterStatus(@Req() req: AuthedRequest, @Param('plural') plural: string) {
    return this.statusNotAllowed(req, plural);
  }

  @Post(`${GV}/namespaces/:ns/:plural/:name/status`)
  postNamespacedStatus(@Req() req: AuthedRequest, @Param('ns') ns: string, @Param('plural') plural: string) {
    return this.statusNotAllowed(req, plural, ns);
  }

  @Delete(`${GV}/namespaces/:ns/:plural/:name/status`)
  deleteNamespacedStatus(@Req() req: AuthedRequest, @Param('ns') ns: string, @Param('plural') plural: string) {
    return this.statusNotAllowed(req, plural, ns);
  }

  // ---- items: namespaces ----

  @Get('api/v1/namespaces/:name')
  getNamespace(@Req() req: AuthedRequest, @Res() reply: FastifyReply, @Param('name') name: string) {
    return this.get(req, reply, this.scope(req, 'namespaces', undefined, true), name);
  }

  @Put('api/v1/namespaces/:name')
  putNamespace(@Req() req: AuthedRequest, @Res() reply: FastifyReply, @Param('name') name: string) {
    return this.put(req, reply, this.scope(req, 'namespaces', undefined, true), name, 'main');
  }

  @Patch('api/v1/namespaces/:name')
  patchNamespace(@Req() req: AuthedRequest, @Res() reply: FastifyReply, @Param('name') name: string) {
    return this.patch(req, reply, this.scope(req, 'namespaces', undefined, true), name, 'main');
  }

  // The status subresource discovery lists for namespaces (their phase), as kube-apiserver serves it.
  @Get('api/v1/namespaces/:name/status')
  getNamespaceStatus(@Req() req: AuthedRequest, @Res() reply: FastifyReply, @Param('name') name: string) {
    return this.get(req, reply, this.scope(req, 'namespaces', undefined, true), name);
  }

  @Put('api/v1/namespaces/:name/status')
  putNamespaceStatus(@Req() req: AuthedRequest, @Res() reply: FastifyReply, @Param('name') name: string) {
    return this.put(req, reply, this.scope(req, 'namespaces', undefined, true), name, 'status');
  }

  @Patch('api/v1/namespaces/:name/status')
  patchNamespaceStatus(@Req() req: AuthedRequest, @Res() reply: FastifyReply, @Param('name') name: string) {
    return this.patch(req, reply, this.scope(req, 'namespaces', undefined, true), name, 'status');
  }

  @Delete('api/v1/namespaces/:name')
  deleteNamespace(@Req() req: AuthedRequest, @Res() reply: FastifyReply, @Param('name') name: string) {
    return this.remove(req, reply, this.scope(req, 'namespaces', undefined, true), name);
  }

  // ---- core/v1 resourcequotas: an admin sets them, the namespace's tenant reads them ----

  @Get('api/v1/resourcequotas')
  listAllQuotas(@Req() req: AuthedRequest, @Res() reply: FastifyReply) {
    return this.listOrWatch(req, reply, this.scope(req, QUOTAS, undefined, true));
  }

  @Post('api/v1/resourcequotas')
  createQuotaAll(@Req() req: AuthedRequest) {
    const scope = this.scope(req, QUOTAS, undefined, true);
    this.resources.authorize(scope, 'create');
    throw ApiErrors.methodNotAllowed('the server does not allow this method on the requested resource');
  }

  @Get('api/v1/namespaces/:ns/resourcequotas')
  listQuotas(@Req() req: AuthedRequest, @Res() reply: FastifyReply, @Param('ns') ns: string) {
    return this.listOrWatch(req, reply, this.scope(req, QUOTAS, ns, true));
  }

  @Post('api/v1/namespaces/:ns/resourcequotas')
  createQuota(@Req() req: AuthedRequest, @Res() reply: FastifyReply, @Param('ns') ns: string) {
    return this.create(req, reply, this.scope(req, QUOTAS, ns, true));
  }

  @Delete('api/v1/namespaces/:ns/resourcequotas')
  deleteQuotas(@Req() req: AuthedRequest, @Res() reply: FastifyReply, @Param('ns') ns: string) {
    return this.removeCollection(req, reply, this.scope(req, QUOTAS, ns, true));
  }

  @Get('api/v1/namespaces/:ns/resourcequotas/:name')
  getQuota(@Req() req: AuthedRequest, @Res() reply: FastifyReply, @Param('ns') ns: string, @Param('name') name: string) {
    return this.get(req, reply, this.scope(req, QUOTAS, ns, true), name);
  }

  @Put('api/v1/namespaces/:ns/resourcequotas/:name')
  putQuota(@Req() req: AuthedRequest, @Res() reply: FastifyReply, @Param('ns') ns: string, @Param('name') name: string) {
    return this.put(req, reply, this.scope(req, QUOTAS, ns, true), name, 'main');
  }

  @Patch('api/v1/namespaces/:ns/resourcequotas/:name')
  patchQuota(@Req() req: AuthedRequest, @Res() reply: FastifyReply, @Param('ns') ns: string, @Param('name') name: string) {
    return this.patch(req, reply, this.scope(req, QUOTAS, ns, true), name, 'main');
  }

  @Delete('api/v1/namespaces/:ns/resourcequotas/:name')
  deleteQuota(@Req() req: AuthedRequest, @Res() reply: FastifyReply, @Param('ns') ns: string, @Param('name') name: string) {
    return this.remove(req, reply, this.scope(req, QUOTAS, ns, true), name);
  }

  @Get('api/v1/namespaces/:ns/resourcequotas/:name/status')
  getQuotaStatus(@Req() req: AuthedRequest, @Res() reply: FastifyReply, @Param('ns') ns: string, @Param('name') name: string) {
    return this.get(req, reply, this.statusScope(req, QUOTAS, ns, true), name);
  }

  @Put('api/v1/namespaces/:ns/resourcequotas/:name/status')
  putQuotaStatus(@Req() req: AuthedRequest, @Res() reply: FastifyReply, @Param('ns') ns: string, @Param('name') name: string) {
    return this.put(req, reply, this.statusScope(req, QUOTAS, ns, true), name, 'status');
  }

  @Patch('api/v1/namespaces/:ns/resourcequotas/:name/status')
  patchQuotaStatus(@Req() req: AuthedRequest, @Res() reply: FastifyReply, @Param('ns') ns: string, @Param('name') name: string) {
    return this.patch(req, reply, this.statusScope(req, QUOTAS, ns, true), name, 'status');
  }

  // ---- core/v1 events: vnetd records them; clients read them ----

  private eventScope(req: AuthedRequest, namespace?: string): Scope {
    assertAcceptable(req.headers.accept);
    return { principal: req.principal!, type: EVENT_TYPE, namespace };
  }

  @Get('api/v1/events')
  listAllEvents(@Req() req: AuthedRequest, @Res() reply: FastifyReply) {
    return this.listOrWatch(req, reply, this.eventScope(req));
  }

  @Get('api/v1/namespaces/:ns/events')
  listEvents(@Req() req: AuthedRequest, @Res() reply: FastifyReply, @Param('ns') ns: string) {
    return this.listOrWatch(req, reply, this.eventScope(req, ns));
  }

  @Get('api/v1/namespaces/:ns/events/:name')
  getEvent(@Req() req: AuthedRequest, @Res() reply: FastifyReply, @Param('ns') ns: string, @Param('name') name: string) {
    return this.get(req, reply, this.eventScope(req, ns), name);
  }

  /** Writes of events: 403 to a tenant (authorization comes first), 405 to an admin. */
  private eventWrite(req: AuthedRequest, verb: 'create' | 'update' | 'patch' | 'delete' | 'deletecollection', namespace?: string): never {
    this.resources.authorize(this.eventScope(req, namespace), verb);
    throw ApiErrors.methodNotAllowed(`events are recorded by vnetd itself and expire an hour after they were last seen: ${verb} is not allowed`);
  }

  @Post('api/v1/events')
  createEventAll(@Req() req: AuthedRequest) {
    return this.eventWrite(req, 'create');
  }

  @Post('api/v1/namespaces/:ns/events')
  createEvent(@Req() req: AuthedRequest, @Param('ns') ns: string) {
    return this.eventWrite(req, 'create', ns);
  }

  @Delete('api/v1/events')
  deleteEventsAll(@Req() req: AuthedRequest) {
    return this.eventWrite(req, 'deletecollection');
  }

  @Delete('api/v1/namespaces/:ns/events')
  deleteEvents(@Req() req: AuthedRequest, @Param('ns') ns: string) {
    return this.eventWrite(req, 'deletecollection', ns);
  }

  @Put('api/v1/namespaces/:ns/events/:name')
  putEvent(@Req() req: AuthedRequest, @Param('ns') ns: string) {
    return this.eventWrite(req, 'update', ns);
  }

  @Patch('api/v1/namespaces/:ns/events/:name')
  patchEvent(@Req() req: AuthedRequest, @Param('ns') ns: string) {
    return this.eventWrite(req, 'patch', ns);
  }

  @Delete('api/v1/namespaces/:ns/events/:name')
  deleteEvent(@Req() req: AuthedRequest, @Param('ns') ns: string) {
    return this.eventWrite(req, 'delete', ns);
  }

  // ---- items: cluster-scoped kinds ----

  @Get(`${GV}/:plural/:name`)
  getCluster(@Req() req: AuthedRequest, @Res() reply: FastifyReply, @Param('plural') plural: string, @Param('name') name: string) {
    return this.get(req, reply, this.scope(req, plural), name);
  }

  @Get(`${GV}/:plural/:name/status`)
  getClusterStatus(@Req() req: AuthedRequest, @Res() reply: FastifyReply, @Param('plural') plural: string, @Param('name') name: string) {
    return this.get(req, reply, this.statusScope(req, plural), name);
  }

  @Put(`${GV}/:plural/:name`)
  putCluster(@Req() req: AuthedRequest, @Res() reply: FastifyReply, @Param('plural') plural: string, @Param('name') name: string) {
    return this.put(req, reply, this.scope(req, plural), name, 'main');
  }

  @Put(`${GV}/:plural/:name/status`)
  putClusterStatus(@Req() req: AuthedRequest, @Res() reply: FastifyReply, @Param('plural') plural: string, @Param('name') name: string) {
    return this.put(req, reply, this.statusScope(req, plural), name, 'status');
  }

  @Patch(`${GV}/:plural/:name`)
  patchCluster(@Req() req: AuthedRequest, @Res() reply: FastifyReply, @Param('plural') plural: string, @Param('name') name: string) {
    return this.patch(req, reply, this.scope(req, plural), name, 'main');
  }

  @Patch(`${GV}/:plural/:name/status`)
  patchClusterStatus(@Req() req: AuthedRequest, @Res() reply: FastifyReply, @Param('plural') plural: string, @Param('name') name: string) {
    return this.patch(req, reply, this.statusScope(req, plural), name, 'status');
  }

  @Delete(`${GV}/:plural/:name`)
  deleteCluster(@Req() req: AuthedRequest, @Res() reply: FastifyReply, @Param('plural') plural: string, @Param('name') name: string) {
    return this.remove(req, reply, this.scope(req, plural), name);
  }

  // ---- items: namespaced kinds ----

  @Get(`${GV}/namespaces/:ns/:plural/:name`)
  getNamespaced(@Req() req: AuthedRequest, @Res() reply: FastifyReply, @Param('ns') ns: string, @Param('plural') plural: string, @Param('name') name: string) {
    return this.get(req, reply, this.scope(req, plural, ns), name);
  }

  @Get(`${GV}/namespaces/:ns/:plural/:name/status`)
  getNamespacedStatus(@Req() req: AuthedRequest, @Res() reply: FastifyReply, @Param('ns') ns: string, @Param('plural') plural: string, @Param('name') name: string) {
    return this.get(req, reply, this.statusScope(req, plural, ns), name);
  }

  @Put(`${GV}/namespaces/:ns/:plural/:name`)
  putNamespaced(@Req() req: AuthedRequest, @Res() reply: FastifyReply, @Param('ns') ns: string, @Param('plural') plural: string, @Param('name') name: string) {
    return this.put(req, reply, this.scope(req, plural, ns), name, 'main');
  }

  @Put(`${GV}/namespaces/:ns/:plural/:name/status`)
  putNamespacedStatus(@Req() req: AuthedRequest, @Res() reply: FastifyReply, @Param('ns') ns: string, @Param('plural') plural: string, @Param('name') name: string) {
    return this.put(req, reply, this.statusScope(req, plural, ns), name, 'status');
  }

  @Patch(`${GV}/namespaces/:ns/:plural/:name`)
  patchNamespaced(@Req() req: AuthedRequest, @Res() reply: FastifyReply, @Param('ns') ns: string, @Param('plural') plural: string, @Param('name') name: string) {
    return this.patch(req, reply, this.scope(req, plural, ns), name, 'main');
  }

  @Patch(`${GV}/namespaces/:ns/:plural/:name/status`)
  patchNamespacedStatus(@Req() req: AuthedRequest, @Res() reply: FastifyReply, @Param('ns') ns: string, @Param('plural') plural: string, @Param('name') name: string) {
    return this.patch(req, reply, this.statusScope(req, plural, ns), name, 'status');
  }

  @Delete(`${GV}/namespaces/:ns/:plural/:name`)
  deleteNamespaced(@Req() req: AuthedRequest, @Res() reply: FastifyReply, @Param('ns') ns: string, @Param('plural') plural: string, @Param('name') name: string) {
    return this.remove(req, reply, this.scope(req, plural, ns), name);
  }

  // ---- verbs ----

  private async listOrWatch(req: AuthedRequest, reply: FastifyReply, scope: Scope): Promise<void> {
    const q = parseListQuery(req.query as Query);
    if (!q.watch) {
      sendList(req, reply, scope.type, await this.resources.list(scope, q));
      return;
    }
    const render = this.renderer(req, scope.type);
    const start = await this.watches.prepare(scope, q, render);
    reply.hijack();
    const raw = reply.raw;
    // HTTP/2 frames the stream itself and forbids HTTP/1.1's connection headers.
    const http1 = req.raw.httpVersionMajor === 1;
    raw.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-cache', ...(http1 ? { 'transfer-encoding': 'chunked' } : {}) });
    raw.flushHeaders();
    // Events are gathered until the event loop's check phase and leave as one chunk (one
    // write, one TLS record, one syscall), not one per event: besides one store commit's
    // events, that takes every commit of the requests read in the same loop turn (in a burst
    // of creates, writes to the watchers were a fifth of a controller's CPU).
    let pending: string[] | undefined;
    const checkStall = stallGuard(raw, (why) => {
      raw.destroy();
      this.watches.stalled(scope, why);
    });
    const flush = () => {
      const lines = pending;
      pending = undefined;
      if (lines && !raw.writableEnded && !raw.destroyed) {
        raw.write(lines.length === 1 ? lines[0]! : lines.join(''));
        checkStall();
      }
    };
    start({
      send: (type: WatchEventType, object: unknown) => {
        if (raw.writableEnded) return;
        const line = watchLine(type, object);
        if (pending) {
          pending.push(line);
          return;
        }
        pending = [line];
        setImmediate(flush);
      },
      end: () => {
        flush();
        if (!raw.writableEnded) raw.end();
      },
      // The request's 'close' fires once its body is read; the response's fires on disconnect.
      onClose: (cb) => onResponseClose(raw, cb),
    });
  }

  private renderer(req: FastifyRequest, type: ResourceType): (obj: KubeObject) => unknown {
    if (!wantsTable(req)) return (o) => o;
    const include = includeObjectOf(req);
    let first = true;
    return (o) => {
      const t = toTable(type, [o], { resourceVersion: o.metadata.resourceVersion }, include, first);
      first = false;
      return t;
    };
  }

  private async get(req: AuthedRequest, reply: FastifyReply, scope: Scope, name: string): Promise<void> {
    sendObject(req, reply, scope.type, 200, await this.resources.get(scope, name, one(req.query as Query, 'resourceVersion')));
  }

  private async create(req: AuthedRequest, reply: FastifyReply, scope: Scope): Promise<void> {
    const q = this.writeQuery(req);
    const body = decodeObjectBody(req.body, req.headers['content-type'], q.fieldValidation);
    const res = await this.resources.create(scope, body.value, { ...q, duplicateFields: body.duplicateFields });
    sendObject(req, reply, scope.type, res.code, res.object, res.warnings);
  }

  private async put(req: AuthedRequest, reply: FastifyReply, scope: Scope, name: string, sub: Subresource): Promise<void> {
    const q = this.writeQuery(req);
    const body = decodeObjectBody(req.body, req.headers['content-type'], q.fieldValidation);
    const res = await this.resources.update(scope, name, body.value, { ...q, duplicateFields: body.duplicateFields }, sub);
    sendObject(req, reply, scope.type, res.code, res.object, res.warnings);
  }

  private async patch(req: AuthedRequest, reply: FastifyReply, scope: Scope, name: string, sub: Subresource): Promise<void> {
    const q = this.writeQuery(req);
    const { type, patch, duplicateFields } = decodePatchBody(req.body, req.headers['content-type'], scope.type.group === '', q.fieldValidation);
    const res = await this.resources.patch(scope, name, type, patch, { ...q, duplicateFields }, sub);
    sendObject(req, reply, scope.type, res.code, res.object, res.warnings);
  }

  private writeQuery(req: AuthedRequest): WriteQuery {
    return parseWriteQuery(req.query as Query, req.headers['user-agent']);
  }

  /** A resource that exists, asked with a method it does not take (an unknown one is 404). */
  private notAllowed(req: AuthedRequest, plural: string, namespace?: string, core = false): never {
    this.scope(req, plural, namespace, core);
    throw ApiErrors.methodNotAllowed('the server does not allow this method on the requested resource');
  }

  private statusNotAllowed(req: AuthedRequest, plural: string, namespace?: string, core = false): never {
    this.statusScope(req, plural, namespace, core);
    throw ApiErrors.methodNotAllowed('the server does not allow this method on the requested resource');
  }

  /**
   * The scope of a kind's status subresource path: 404 for a kind without one, which
   * discovery does not list and kube-apiserver does not serve (a GET there returned the
   * object, and a PUT or PATCH wrote through it).
   */
  private statusScope(req: AuthedRequest, plural: string, namespace?: string, core = false): Scope {
    const scope = this.scope(req, plural, namespace, core);
    if (!scope.type.statusSchema) throw ApiErrors.notFoundPath();
    return scope;
  }

  private async removeCollection(req: AuthedRequest, reply: FastifyReply, scope: Scope): Promise<void> {
    const raw = Buffer.isBuffer(req.body) ? req.body : undefined;
    const options = parseDeleteOptions(raw && raw.length > 0 ? decodeJson(raw) : undefined, req.query as Query);
    const res = await this.resources.deleteCollection(scope, parseListQuery(req.query as Query), options);
    send(req, reply, 200, { apiVersion: scope.type.apiVersion, kind: scope.type.listKind, metadata: { resourceVersion: res.resourceVersion }, items: res.items }, res.warnings);
  }

  private async remove(req: AuthedRequest, reply: FastifyReply, scope: Scope, name: string): Promise<void> {
    const raw = Buffer.isBuffer(req.body) ? req.body : undefined;
    // As query parameters too (curl, older clients); the body's win.
    const options = parseDeleteOptions(raw && raw.length > 0 ? decodeJson(raw) : undefined, req.query as Query);
    const res = await this.resources.delete(scope, name, options);
    send(req, reply, res.code, res.object, res.warnings);
  }
}

/**
 * Watch lines by object and event type. The objects of one store event are shared by
 * every watch stream (ObjectStore.watch), so each is serialized once, not once for every
 * stream it goes to (an agent's three watches of a network, the other agents', kubectl's).
 */
const watchLines = new WeakMap<object, Partial<Record<WatchEventType, string>>>();

function watchLine(type: WatchEventType, object: unknown): string {
  if (typeof object !== 'object' || object === null) return `${JSON.stringify({ type, object })}\n`;
  let lines = watchLines.get(object);
  if (!lines) watchLines.set(object, (lines = {}));
  return (lines[type] ??= `${JSON.stringify({ type, object })}\n`);
}
