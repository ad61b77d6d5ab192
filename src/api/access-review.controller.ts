/**
 * authorization.k8s.io/v1 SelfSubjectAccessReview and SelfSubjectRulesReview, and
 * authentication.k8s.io/v1 SelfSubjectReview: what `kubectl auth can-i` and `kubectl auth
 * whoami` create (decisions in access-review.ts). kubectl sends them as protobuf; JSON is
 * taken too. Nothing is stored: each is answered as it comes, 201 as kube-apiserver does.
 */
import { Controller, Delete, Get, Inject, Patch, Post, Put, Req, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { ResourceCatalog } from '../resources/catalog';
import { ApiErrors } from '../resources/status';
import { reviewAccess, reviewRules, userInfo, type AccessReviewSpec, type Authorize } from './access-review';
import type { AuthedRequest } from './auth.guard';
import { decodeMessage, isKubernetesProtobuf, unwrapUnknown, type MessageLayout } from './protobuf-wire';
import { asBuffer, decodeJson } from './request-body';
import { ResourceService } from './resource.service';
import { send } from './respond';

const AUTHORIZATION = 'authorization.k8s.io/v1';
const AUTHENTICATION = 'authentication.k8s.io/v1';

const RESOURCE_ATTRIBUTES: MessageLayout = { 1: 'namespace', 2: 'verb', 3: 'group', 4: 'version', 5: 'resource', 6: 'subresource', 7: 'name' };
/** SelfSubjectAccessReview: spec (2) -> resourceAttributes (1), nonResourceAttributes (2: path 1, verb 2). */
const ACCESS_REVIEW: MessageLayout = { 2: ['spec', { 1: ['resourceAttributes', RESOURCE_ATTRIBUTES], 2: ['nonResourceAttributes', { 1: 'path', 2: 'verb' }] }] };
/** SelfSubjectRulesReview: spec (2) -> namespace (1). */
const RULES_REVIEW: MessageLayout = { 2: ['spec', { 1: 'namespace' }] };

@Controller()
export class AccessReviewController {
  constructor(
    @Inject(ResourceCatalog) private readonly catalog: ResourceCatalog,
    @Inject(ResourceService) private readonly resources: ResourceService,
  ) {}

  private readonly authorize: Authorize = (scope, verb, name, subresource) => this.resources.authorize(scope, verb, name, subresource);

  @Post(`apis/${AUTHORIZATION}/selfsubjectaccessreviews`)
  access(@Req() req: AuthedRequest, @Res() reply: FastifyReply): void {
    const spec = specOf<AccessReviewSpec>(req.body, ACCESS_REVIEW, 'SelfSubjectAccessReview');
    if (!spec.resourceAttributes && !spec.nonResourceAttributes) throw ApiErrors.invalid({ group: 'authorization.k8s.io', kind: 'selfsubjectaccessreviews', kindName: 'SelfSubjectAccessReview' }, [{ reason: 'FieldValueRequired', field: 'spec', message: 'exactly one of resourceAttributes or nonResourceAttributes must be set' }]);
    const status = reviewAccess(req.principal!, spec, this.catalog, this.authorize);
    send(req, reply, 201, { apiVersion: AUTHORIZATION, kind: 'SelfSubjectAccessReview', metadata: { creationTimestamp: null }, spec, status });
  }

  @Post(`apis/${AUTHORIZATION}/selfsubjectrulesreviews`)
  rules(@Req() req: AuthedRequest, @Res() reply: FastifyReply): void {
    const spec = specOf<{ namespace?: string }>(req.body, RULES_REVIEW, 'SelfSubjectRulesReview');
    const status = reviewRules(req.principal!, spec.namespace ?? '', this.catalog, this.authorize);
    send(req, reply, 201, { apiVersion: AUTHORIZATION, kind: 'SelfSubjectRulesReview', metadata: { creationTimestamp: null }, spec, status });
  }

  @Post(`apis/${AUTHENTICATION}/selfsubjectreviews`)
  whoami(@Req() req: AuthedRequest, @Res() reply: FastifyReply): void {
    send(req, reply, 201, { apiVersion: AUTHENTICATION, kind: 'SelfSubjectReview', metadata: { creationTimestamp: new Date().toISOString() }, status: { userInfo: userInfo(req.principal!) } });
  }
}

/** The reviews' collections, and a name under each: only create (POST) is served there. */
const REVIEW_PATHS = [`apis/${AUTHORIZATION}/selfsubjectaccessreviews`, `apis/${AUTHORIZATION}/selfsubjectrulesreviews`, `apis/${AUTHENTICATION}/selfsubjectreviews`].flatMap((p) => [p, `${p}/:name`]);

/**
 * Any other verb on a review is a 405, as kube-apiserver answers it: a review is created and
 * answered, never stored, so there is nothing to get, list, change or delete (`kubectl get
 * selfsubjectaccessreviews` was a 404, which read as "no such resource").
 */
@Controller()
export class ReviewMethodsController {
  // One handler per verb: Nest keeps one route per method, the last decorator's.
  @Get(REVIEW_PATHS)
  get(): never {
    return notAllowed();
  }

  @Put(REVIEW_PATHS)
  put(): never {
    return notAllowed();
  }

  @Patch(REVIEW_PATHS)
  patch(): never {
    return notAllowed();
  }

  @Delete(REVIEW_PATHS)
  delete(): never {
    return notAllowed();
  }
}

function notAllowed(): never {
  throw ApiErrors.methodNotAllowed('the server does not allow this method on the requested resource');
}

/** A review's spec, from protobuf (by layout) or JSON; a body of another kind is refused. */
function specOf<T>(body: unknown, layout: MessageLayout, kind: string): T {
  const buf = asBuffer(body);
  let review: { kind?: unknown; spec?: unknown };
  if (isKubernetesProtobuf(buf)) {
    try {
      const { kind: sent, raw } = unwrapUnknown(buf);
      review = { kind: sent, ...decodeMessage(raw, layout) };
    } catch (err) {
      throw ApiErrors.badRequest(`unable to decode protobuf body: ${(err as Error).message}`);
    }
  } else review = (buf.length ? (decodeJson(buf) ?? {}) : {}) as typeof review;
  if (review.kind !== undefined && review.kind !== kind) throw ApiErrors.badRequest(`expected a ${kind}, got a ${String(review.kind)}`);
  return (review.spec ?? {}) as T;
}
