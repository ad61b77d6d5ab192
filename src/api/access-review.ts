/**
 * Self reviews, as kube-apiserver serves them, so that `kubectl auth can-i` (with --list) and
 * `kubectl auth whoami` answer instead of NotFound. Every answer is the API's own decision
 * (ResourceService.authorize, given here as `authorize`), asked of the kinds vnetd serves:
 * nothing of the policy is written twice.
 */
import { EVENT_TYPE, NAMESPACE_TYPE, RESOURCE_QUOTA_TYPE, type ResourceCatalog, type ResourceType } from '../resources/catalog';
import { ApiError } from '../resources/status';
import type { Subresource } from '../store/object-store';
import type { Principal } from './auth/principal';
import { ANY_NODE } from '../admission/access-token.admission';
import { perNodeNames } from './auth/node-authorizer';
import type { Scope, Verb } from './resource.service';
import { REVIEW_GROUPS } from './review-groups';

export interface ResourceAttributes {
  namespace?: string;
  verb?: string;
  group?: string;
  version?: string;
  resource?: string;
  subresource?: string;
  name?: string;
}

export interface NonResourceAttributes {
  path?: string;
  verb?: string;
}

export interface AccessReviewSpec {
  resourceAttributes?: ResourceAttributes;
  nonResourceAttributes?: NonResourceAttributes;
}

export interface AccessDecision {
  allowed: boolean;
  reason?: string;
}

export interface ResourceRule {
  verbs: string[];
  apiGroups: string[];
  resources: string[];
  resourceNames?: string[];
}

export interface RulesStatus {
  resourceRules: ResourceRule[];
  nonResourceRules: Array<{ verbs: string[]; nonResourceURLs: string[] }>;
  incomplete: boolean;
}

/** The API's decision: throws its 403 (an ApiError) when the principal may not. */
export type Authorize = (scope: Scope, verb: Verb, name?: string, subresource?: Subresource) => void;

/** What any caller with a valid token reads beyond the resources: all but /metrics, which is an admin's. */
const READABLE_PATHS = ['/api', '/api/*', '/apis', '/apis/*', '/healthz', '/livez', '/openapi/*', '/readyz', '/version'];

const VERBS: readonly Verb[] = ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete', 'deletecollection'];
/** What the status subresource serves (the object is made, listed and deleted as a whole). */
const STATUS_VERBS: readonly Verb[] = ['get', 'update', 'patch'];

const verbsOf = (sub: Subresource): readonly Verb[] => (sub === 'status' ? STATUS_VERBS : VERBS);

/** Whether principal may do what spec asks, and why not. */
export function reviewAccess(p: Principal, spec: AccessReviewSpec | undefined, catalog: ResourceCatalog, authorize: Authorize): AccessDecision {
  if (p.admin) return { allowed: true, reason: `${p.name} is a vnetd admin` };
  const r = spec?.resourceAttributes;
  if (!r) {
    // Beyond resources vnetd asks only for a valid token (discovery, /version, health), and
    // reading is all there is; /metrics is an admin's (its series name every tenant's objects).
    const verb = spec?.nonResourceAttributes?.verb ?? '';
    const path = spec?.nonResourceAttributes?.path ?? '';
    if (verb !== 'get' && verb !== 'head') return { allowed: false, reason: `vnetd serves no "${verb}" beyond its resources` };
    if (path === '/metrics' || path.startsWith('/metrics/')) return { allowed: false, reason: '/metrics is for admins: its series name every tenant\'s objects' };
    return { allowed: true, reason: 'any authenticated caller may read' };
  }
  // Every caller may create its own reviews (kube-apiserver's system:basic-user), and discovery
  // lists them (QA-134 F9): can-i said "vnetd serves no resource" for what it answers.
  const review = REVIEW_GROUPS.find((g) => g.group === (r.group ?? '') && g.resources.some((x) => x.name === r.resource));
  if (review) return r.verb === 'create' && !r.subresource ? { allowed: true, reason: 'any authenticated caller may create its own reviews' } : { allowed: false, reason: `${r.resource} take only create` };
  const type = typeOf(catalog, r.group ?? '', r.resource ?? '');
  if (!type) return { allowed: false, reason: `vnetd serves no resource "${r.resource ?? ''}"${r.group ? ` in API group "${r.group}"` : ''} (a tenant has vnet.dev kinds in its namespaces)` };
  const subresource = r.subresource ? (r.subresource === 'status' ? 'status' : undefined) : 'main';
  if (!subresource) return { allowed: false, reason: `${type.plural} have no subresource "${r.subresource}"` };
  const verbs = r.verb === '*' ? verbsOf(subresource) : verbsOf(subresource).filter((v) => v === r.verb);
  if (verbs.length === 0) return { allowed: false, reason: `vnetd serves no verb "${r.verb ?? ''}"${subresource === 'status' ? ' on the status subresource' : ''}` };
  const scope: Scope = { principal: p, type, namespace: type.namespaced && r.namespace ? r.namespace : undefined };
  for (const verb of verbs) {
    const why = refusal(() => authorize(scope, verb, r.name || undefined, subresource));
    if (why !== undefined) return { allowed: false, reason: why };
  }
  const filtered = p.node === undefined ? type.namespaced && !r.namespace : !r.name && perNodeNames(type);
  return { allowed: true, reason: filtered && (r.verb === 'list' || r.verb === 'watch') ? (p.node === undefined ? 'listed across namespaces, filtered to yours' : "listed, filtered to your node's") : 'allowed' };
}

/** What principal may do in namespace, as rules (`kubectl auth can-i --list`). */
export function reviewRules(p: Principal, namespace: string, catalog: ResourceCatalog, authorize: Authorize): RulesStatus {
  if (p.admin) return { resourceRules: [{ verbs: ['*'], apiGroups: ['*'], resources: ['*'] }], nonResourceRules: [{ verbs: ['*'], nonResourceURLs: ['*'] }], incomplete: false };
  const rules: ResourceRule[] = [];
  const may = (scope: Scope, verb: Verb, sub: Subresource, name?: string) => refusal(() => authorize(scope, verb, name, sub)) === undefined;
  for (const type of [NAMESPACE_TYPE, EVENT_TYPE, RESOURCE_QUOTA_TYPE, ...catalog.types]) {
    const scope: Scope = { principal: p, type, namespace: type.namespaced ? namespace : undefined };
    const subresources = type.statusSchema ? (['main', 'status'] as const) : (['main'] as const);
    for (const sub of subresources) {
      const verbs = verbsOf(sub).filter((v) => may(scope, v, sub));
      const resource = sub === 'main' ? type.plural : `${type.plural}/status`;
      if (verbs.length) rules.push({ verbs: [...verbs], apiGroups: [type.group], resources: [resource] });
    }
    if (p.node !== undefined && p.node !== ANY_NODE) {
      // An agent's own node's objects, by name (a NodeRealization, a NodeLease, its Node's status).
      for (const sub of subresources) {
        const unnamed = new Set(verbsOf(sub).filter((v) => may(scope, v, sub)));
        const named = verbsOf(sub).filter((v) => !unnamed.has(v) && may(scope, v, sub, p.node));
        const resource = sub === 'main' ? type.plural : `${type.plural}/status`;
        if (named.length) rules.push({ verbs: named, apiGroups: [type.group], resources: [resource], resourceNames: [p.node] });
      }
    }
    if (type === NAMESPACE_TYPE) {
      // A tenant reads its own namespaces by name.
      const names = [...p.namespaces].filter((n) => may(scope, 'get', 'main', n)).sort();
      if (names.length) rules.push({ verbs: ['get'], apiGroups: [type.group], resources: [type.plural], resourceNames: names });
    }
  }
  for (const g of REVIEW_GROUPS) rules.push({ verbs: ['create'], apiGroups: [g.group], resources: g.resources.map((x) => x.name) });
  return { resourceRules: rules, nonResourceRules: [{ verbs: ['get'], nonResourceURLs: READABLE_PATHS }], incomplete: false };
}

/** Who the caller is (`kubectl auth whoami`). */
export function userInfo(p: Principal): { username: string; groups: string[]; extra?: Record<string, string[]> } {
  if (p.admin) return { username: p.name, groups: ['system:masters', 'system:authenticated'] };
  // As a kubelet's: Kubernetes' Node authorizer knows its callers by this group.
  if (p.node !== undefined) return { username: p.name, groups: ['system:nodes', 'system:authenticated'], extra: { 'vnet.dev/node': [p.node] } };
  return { username: p.name, groups: ['system:authenticated'], extra: { 'vnet.dev/namespaces': [...p.namespaces].sort() } };
}

function typeOf(catalog: ResourceCatalog, group: string, resource: string): ResourceType | undefined {
  if (resource === 'namespaces') return group === '' ? NAMESPACE_TYPE : undefined;
  if (resource === 'events') return group === '' ? EVENT_TYPE : undefined;
  if (resource === 'resourcequotas') return group === '' ? RESOURCE_QUOTA_TYPE : undefined;
  const type = catalog.byPluralName(resource);
  return type && type.group === group ? type : undefined;
}

/** The API's reason for refusing (what follows "is forbidden: " in its 403), or undefined when it allows. */
function refusal(decide: () => void): string | undefined {
  try {
    decide();
    return undefined;
  } catch (err) {
    if (!(err instanceof ApiError) || err.code !== 403) throw err;
    const at = err.message.indexOf('is forbidden: ');
    return at < 0 ? err.message : err.message.slice(at + 'is forbidden: '.length);
  }
}
