/**
 * The generic verbs of the Kubernetes API over every served kind: authorization,
 * decoding, schema validation, admission, and the store. Controllers only translate HTTP
 * to calls of this class; reconcilers never go through it (they use ObjectStore).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { AdmissionError, SUBNET_CHANGING, type AdmissionContext, type KindAdmission, type ObjectReader } from '../admission/admission';
import type { AccessToken } from '../admission/access-token.admission';
import { dns1123LabelError, dns1123SubdomainError, labelKeyError, labelValueError } from '../admission/names';
import { FOREGROUND_DELETION, ORPHAN } from '../resources/finalizers';
import { DEFAULT_NAMESPACE, EVENT_TYPE, NAMESPACE_TYPE, RESOURCE_QUOTA_TYPE, withNamespaceNameLabel, type ResourceCatalog, type ResourceType } from '../resources/catalog';
import type { KubeEvent } from '../resources/event';
import { kubeTime, type KubeObject } from '../resources/object';
import type { SchemaValidator } from '../resources/schema-validator';
import { ApiError, ApiErrors, cause, type StatusCause } from '../resources/status';
import { InvalidResourceVersionError, ObjectStore, parseRv, UidPreconditionError, type Subresource } from '../store/object-store';
import { listPrefix, objectKey } from '../store/keys';
import { ConflictError, GoneError, KeyExistsError, KeyNotFoundError, type TxnOp } from '../store/store';
import { isSubnetChangeKey } from '../ipam/allocation-registry';
import { canUseNamespace, type Principal } from './auth/principal';
import { leaseRefusal, nodeRefusal, portBindingRefusal, visibleToNode } from './auth/node-authorizer';
import type { HypervisorNode, VirtualPort } from '../resources/kinds';
import { NODES, RESOURCE_QUOTAS } from '../store/kinds';
import { formatToken, hashSecret, mintSecret } from './auth/token';
import { cloneJson } from '../resources/clone-json';
import { applyPatchOfType } from './patch';
import { decodeContinue, encodeContinue, type ListQuery, type WriteQuery } from './query';
import { isPlainObject, type PatchType } from './request-body';
import { applyConfiguration, managedFieldsAfterApply, managedFieldsAfterUpdate, type ManagedFieldsEntry } from './server-side-apply';
import { matches } from './selectors';
import { unsupportedField } from '../resources/field-selector';
import { pointRead } from './point-read';
import { dedupOwnerReferences, duplicateOwnerReferencesWarning, ownerReferenceCauses } from './owner-references';
import { canonicalFormWarnings } from './canonical-forms';
import { sameValue } from '../resources/same-value';
import { reachedRevision } from './resource-version';
import { QuotaExceededError, QuotaGate, isQuotaKey, type QuotaCharge } from '../quota/quota-gate';
import { isQuotaKind } from '../quota/resources';

/** Kubernetes' limits: a generated name's prefix (63 minus 5 random characters), all annotations of an object. */
const MAX_GENERATE_NAME_PREFIX = 58;
const MAX_ANNOTATION_BYTES = 256 * 1024;

export type Verb = 'get' | 'list' | 'watch' | 'create' | 'update' | 'patch' | 'delete' | 'deletecollection';

export interface Scope {
  principal: Principal;
  type: ResourceType;
  /** The namespace in the URL (namespaced kinds); undefined = all namespaces / cluster scope. */
  namespace?: string;
}

export interface ListResponse<T> {
  items: T[];
  resourceVersion: string;
  continue?: string;
}

export interface WriteResponse<T> {
  object: T;
  /** HTTP code: 201 for a create, 200 otherwise, 200 otherwise (a delete waiting on finalizers returns the object with its deletionTimestamp). */
  code: number;
  warnings: string[];
}

export interface DeleteOptions {
  preconditions?: { uid?: string; resourceVersion?: string };
  dryRun?: string[];
  propagationPolicy?: string;
  /** Deprecated in Kubernetes for propagationPolicy=Orphan, still sent by old clients. */
  orphanDependents?: boolean;
}

/** What a delete's propagationPolicy adds to the object (see GarbageCollector). */
const PROPAGATION_FINALIZERS: Record<string, readonly string[]> = { Background: [], Foreground: [FOREGROUND_DELETION], Orphan: [ORPHAN] };

const MAX_ALLOCATION_RETRIES = 8;

/** The core/v1 kinds served through the generic verbs (events have routes of their own). */
const CORE_TYPES: ReadonlyMap<string, ResourceType> = new Map([
  ['namespaces', NAMESPACE_TYPE],
  ['resourcequotas', RESOURCE_QUOTA_TYPE],
]);

const READ_VERBS: ReadonlySet<Verb> = new Set(['get', 'list', 'watch']);

/** Nothing charged: a kind without quota, or a namespace without one that limits it. */
const NO_CHARGE: QuotaCharge = { ops: [], release: () => undefined };

export interface ResourceServiceHooks {
  /** Told after each write this service makes (caches of the kind forget the object). */
  afterWrite?(type: ResourceType, namespace: string | undefined, name: string): void;
  /** Where a create's namespace is looked up (default: the store). */
  namespaces?: ObjectReader<KubeObject>;
}

function rid(type: ResourceType, name?: string) {
  return { group: type.group, kind: type.plural, name };
}

/** A 403 in kube-apiserver's words: who cannot do what to which resource where, and why. */
function forbidden(p: Principal, type: ResourceType, name: string | undefined, namespace: string | undefined, verb: string, resource: string, why: string): ApiError {
  const where = namespace ? ` in the namespace "${namespace}"` : ' at the cluster scope';
  return ApiErrors.forbidden(rid(type, name), `User "${p.name}" cannot ${verb} resource "${resource}"${type.group ? ` in API group "${type.group}"` : ''}${where}: ${why}`);
}

export class ResourceService {
  /** ResourceQuota admission of every write of a kind that uses quota (quota/quota-gate.ts). */
  private readonly quotas: QuotaGate;

  constructor(
    private readonly catalog: ResourceCatalog,
    private readonly objects: ObjectStore,
    private readonly validator: SchemaValidator,
    private readonly admissions: ReadonlyMap<string, KindAdmission>,
    private readonly admissionContext: AdmissionContext,
    private readonly log: Logger,
    private readonly hooks: ResourceServiceHooks = {},
  ) {
    this.quotas = new QuotaGate(objects);
  }

  /** `core`: the path is under /api/v1 (namespaces, resourcequotas), where vnet.dev's kinds are not served. */
  resolveType(plural: string, namespaced: boolean | undefined, core = false): ResourceType {
    const type = core ? CORE_TYPES.get(plural) : plural === 'namespaces' && namespaced === undefined ? NAMESPACE_TYPE : this.catalog.byPluralName(plural);
    if (!type || (namespaced === true && !type.namespaced)) throw ApiErrors.notFoundPath(plural);
    return type;
  }

  // ---- authorization -------------------------------------------------------------

  authorize(scope: Scope, verb: Verb, name?: string, subresource: Subresource = 'main'): void {
    const { principal: p, type, namespace } = scope;
    if (p.admin) return;
    const deny = (why: string) => {
      throw forbidden(p, type, name, namespace, verb, type.plural, why);
    };
    if (p.node !== undefined) {
      const why = nodeRefusal(p.node, type, verb, name, subresource);
      if (why !== undefined) deny(why);
      return;
    }
    if (type === NAMESPACE_TYPE) {
      if (verb === 'list' || verb === 'watch') return; // filtered to the tenant's own
      if (verb === 'get' && name && p.namespaces.has(name)) return;
      deny(verb === 'get' ? 'not one of your namespaces' : 'namespaces are managed by an admin');
    }
    if (!type.namespaced || type.adminOnly) deny(`${type.kind} objects are admin-only`);
    // As Kubernetes' edit and view roles: a tenant reads its namespace's quotas, an admin sets them.
    if (type === RESOURCE_QUOTA_TYPE && !READ_VERBS.has(verb)) deny('resource quotas are set by an admin');
    if (type.readOnly && verb !== 'get' && verb !== 'list' && verb !== 'watch') deny(`${type.plural} are recorded by vnetd itself`);
    if (namespace === undefined) {
      if (verb === 'list' || verb === 'watch') return; // filtered
      deny('a namespace is required');
    }
    if (!canUseNamespace(p, namespace!)) deny('not one of your namespaces');
    // Status is what vnetd's controllers observed (Ready, bindings, addresses): a tenant's
    // write there was reverted within seconds, and meanwhile fooled kubectl wait. As
    // Kubernetes' edit role, which grants no status subresource.
    if (subresource === 'status' && (verb === 'update' || verb === 'patch')) deny('the status subresource is written by vnetd itself');
  }

  /**
   * What an agent's token may write is decided on the object too (node-authorizer.ts): a
   * port's status, its binding only; a NodeLease, of a Node that exists, owned by it alone, with no finalizers.
   * A port's check is of the object the write replaces, so the write is held to it: one
   * without a precondition gets this one's, and one with another revision is the conflict the
   * store would answer (a 409 the agent retries from the newer copy, not a 403 for what changed
   * since; and never a write of a newer revision that was not checked).
   */
  private async checkAgentWrite(p: Principal, type: ResourceType, next: KubeObject, current?: KubeObject): Promise<void> {
    const { name, namespace } = next.metadata;
    const refuse = (verb: string, resource: string, why: string) => forbidden(p, type, name, namespace, verb, resource, why);
    const nodeOf = (n: string) => this.objects.get<HypervisorNode>(NODES, undefined, n);
    if (type.kind === 'NodeLease') {
      const why = await leaseRefusal(next, current === undefined, nodeOf);
      if (why !== undefined) throw refuse(current ? 'update' : 'create', type.plural, why);
      return;
    }
    if (type.kind !== 'VirtualPort' || !current) return;
    let expected: number | undefined;
    try {
      expected = parseRv(next.metadata.resourceVersion);
    } catch (err) {
      throw this.storeError(type, name, err);
    }
    const stored = Number(current.metadata.resourceVersion);
    if (expected === undefined) next.metadata.resourceVersion = current.metadata.resourceVersion;
    else if (expected !== stored) throw this.storeError(type, name, new ConflictError(objectKey(type, namespace, name), expected, stored));
    const why = await portBindingRefusal(p.node!, current as VirtualPort, next as VirtualPort, nodeOf);
    if (why !== undefined) throw refuse('update', `${type.plural}/status`, why);
  }

  /** 400 for a field selector on a field the kind does not offer, as kube-apiserver answers. */
  checkFieldSelector(type: ResourceType, q: ListQuery): void {
    const field = unsupportedField(type.kind, q.filter.fields);
    if (field !== undefined) throw ApiErrors.badRequest(`field label not supported: ${field}`);
  }

  /** For all-namespace lists and watches: what a tenant may see. */
  visible(principal: Principal, type: ResourceType, obj: KubeObject): boolean {
    if (principal.admin) return true;
    if (principal.node !== undefined) return visibleToNode(principal.node, type, obj.metadata.name);
    if (type === NAMESPACE_TYPE) return principal.namespaces.has(obj.metadata.name);
    // A cluster-scoped object's events (a Node's, in "default") are as admin-only as the
    // object: they name hypervisors and their OVSDB endpoints (found in review).
    if (type === EVENT_TYPE && (obj as KubeEvent).involvedObject?.namespace !== obj.metadata.namespace) return false;
    return obj.metadata.namespace !== undefined && principal.namespaces.has(obj.metadata.namespace);
  }

  // ---- reads ---------------------------------------------------------------------

  /**
   * resourceVersion as kube-apiserver reads it for a GET: unset or "0", any (the latest
   * here); N, not older than N: the latest once the store has reached N (400 for one that is
   * no number, 504 for one it has not reached; QA: both were ignored).
   */
  async get<T extends KubeObject>(scope: Scope, name: string, resourceVersion?: string): Promise<T> {
    this.authorize(scope, 'get', name);
    if (resourceVersion && resourceVersion !== '0') await reachedRevision(this.objects.kv, resourceVersion);
    const obj = await this.objects.get<T>(scope.type, scope.namespace, name);
    if (!obj || !this.visible(scope.principal, scope.type, obj)) throw ApiErrors.notFound(rid(scope.type, name));
    return obj;
  }

  /**
   * resourceVersion as Kubernetes reads it for a list: unset, the latest; "0", any (the
   * latest here); N with resourceVersionMatch=Exact (or, as the apiserver still does for
   * older clients, N with a limit and no match), the snapshot at N (410 once compacted);
   * otherwise N is "not older than": the latest, which is. N above the store's revision
   * is 504 Too large resource version, with Retry-After. A continue token carries its own
   * revision, read the same way.
   */
  async list<T extends KubeObject>(scope: Scope, q: ListQuery): Promise<ListResponse<T>> {
    this.authorize(scope, 'list');
    this.checkFieldSelector(scope.type, q);
    let revision: number | undefined;
    let startAfter: string | undefined;
    let exact = false;
    if (q.continueToken) {
      if (q.resourceVersion && q.resourceVersion !== '0') throw ApiErrors.badRequest('specifying resource version is not allowed when using continue');
      const c = decodeContinue(q.continueToken);
      // A token is its list's: one from another kind or namespace would start anywhere.
      if (!c.start.startsWith(listPrefix(scope.type, scope.namespace))) throw ApiErrors.badRequest('the continue token is not for this list (another kind or namespace): start the list again without it');
      // A token naming a revision the store has not reached (forged, or from a store since
      // restored to an older state) is what a resourceVersion ahead of the store is: 504 Too
      // large resource version, not the store's refusal as a 500 (QA-127 F6).
      revision = await reachedRevision(this.objects.kv, String(c.rv));
      startAfter = c.start;
    } else if (q.resourceVersion && q.resourceVersion !== '0') {
      const asked = await reachedRevision(this.objects.kv, q.resourceVersion);
      // ("00" is 0: any revision, as the apiserver parses it.)
      exact = asked > 0 && (q.resourceVersionMatch === 'Exact' || (q.resourceVersionMatch === undefined && q.limit > 0));
      if (exact) revision = asked;
    }
    if (!q.continueToken) {
      const one = await this.listOne<T>(scope, q, revision, exact);
      if (one) return one;
    }
    const items: T[] = [];
    let rv = '';
    let next: string | undefined;
    // Filters apply after reading, so keep reading pages until the limit is met.
    for (;;) {
      let page;
      try {
        page = await this.objects.list<T>(scope.type, scope.namespace, {
          limit: q.limit > 0 ? Math.max(q.limit - items.length, 50) : undefined,
          startAfter,
          revision,
        });
      } catch (err) {
        if (err instanceof GoneError) {
          if (exact) throw ApiErrors.gone('The resourceVersion for the provided list is too old.');
          throw ApiErrors.gone(`The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.`);
        }
        throw err;
      }
      rv = page.resourceVersion;
      revision = Number(page.resourceVersion);
      let consumedAll = true;
      for (const [i, o] of page.items.entries()) {
        if (!this.visible(scope.principal, scope.type, o) || !matches(q.filter, o)) continue;
        items.push(o);
        if (q.limit > 0 && items.length >= q.limit) {
          const lastKey = objectKey(scope.type, o.metadata.namespace, o.metadata.name);
          if (i < page.items.length - 1 || page.nextStartAfter) next = lastKey;
          consumedAll = false;
          break;
        }
      }
      if (!consumedAll || !page.nextStartAfter) break;
      startAfter = page.nextStartAfter;
    }
    return { items, resourceVersion: rv, continue: next ? encodeContinue({ rv: Number(rv), start: next }) : undefined };
  }

  /** A list whose selector names one object at most (see point-read.ts); undefined: it does not. */
  private async listOne<T extends KubeObject>(scope: Scope, q: ListQuery, revision: number | undefined, exact: boolean): Promise<ListResponse<T> | undefined> {
    let read;
    try {
      read = await pointRead<T>(this.objects, scope.type, scope.namespace, q.filter.fields, revision);
    } catch (err) {
      if (err instanceof GoneError && exact) throw ApiErrors.gone('The resourceVersion for the provided list is too old.');
      throw err;
    }
    if (!read) return undefined;
    const o = read.object;
    const items = o && this.visible(scope.principal, scope.type, o) && matches(q.filter, o) ? [o] : [];
    return { items, resourceVersion: read.resourceVersion };
  }

  // ---- writes --------------------------------------------------------------------

  private checkEnvelope(type: ResourceType, body: unknown, namespace: string | undefined): asserts body is KubeObject {
    if (!isPlainObject(body)) throw ApiErrors.badRequest('the request body must be a JSON object');
    const b = body as Record<string, unknown>;
    if (b.apiVersion !== undefined && b.apiVersion !== type.apiVersion) {
      throw ApiErrors.badRequest(`the API version in the data (${String(b.apiVersion)}) does not match the expected API version (${type.apiVersion})`);
    }
    if (b.kind !== undefined && b.kind !== type.kind) {
      throw ApiErrors.badRequest(`the kind in the data (${String(b.kind)}) does not match the expected kind (${type.kind})`);
    }
    if (b.metadata !== undefined && !isPlainObject(b.metadata)) throw ApiErrors.badRequest('metadata must be an object');
    b.apiVersion = type.apiVersion;
    b.kind = type.kind;
    b.metadata ??= {};
    const meta = b.metadata as Record<string, unknown>;
    // An empty namespace ("", or null, which decodes to it) is unset: the request's is taken, as
    // kube-apiserver takes it; only another one is refused (QA-134 F3: "" was a 400).
    const unset = meta.namespace === undefined || meta.namespace === null || meta.namespace === '';
    if (type.namespaced) {
      if (!unset && meta.namespace !== namespace) {
        throw ApiErrors.badRequest('the namespace of the provided object does not match the namespace sent on the request');
      }
      meta.namespace = namespace;
    } else if (!unset) {
      throw ApiErrors.badRequest(`${type.kind} is cluster-scoped: metadata.namespace must be empty`);
    } else delete meta.namespace;
  }

  /**
   * A server-side apply's request: a field manager, and a configuration of this kind for
   * this object (what it names must match the URL; it is not merged as a whole, so nothing
   * else would check it).
   */
  private checkApplyConfiguration(type: ResourceType, config: unknown, name: string, namespace: string | undefined, q: WriteQuery): void {
    if (!q.fieldManager) {
      throw ApiErrors.invalid({ group: 'meta.k8s.io', kind: 'PatchOptions', kindName: 'PatchOptions', name: '' }, [{ field: 'fieldManager', reason: 'FieldValueRequired', message: 'Required value: is required for apply patch' }]);
    }
    if (!isPlainObject(config)) throw ApiErrors.badRequest('an apply configuration must be an object');
    if (config.apiVersion === undefined || config.kind === undefined) throw ApiErrors.badRequest('an apply configuration must give apiVersion and kind');
    const meta = isPlainObject(config.metadata) ? config.metadata : {};
    if (meta.name !== undefined && meta.name !== name) throw ApiErrors.badRequest(`the name of the object (${String(meta.name)}) does not match the name on the URL (${name})`);
    this.checkEnvelope(type, { apiVersion: config.apiVersion, kind: config.kind, metadata: { ...(meta.namespace !== undefined ? { namespace: meta.namespace } : {}) } }, namespace);
  }

  /**
   * `metadataWritten`: the request sets metadata (not a status write, which keeps the stored
   * one). `before`: the stored object an update replaces; annotation keys and finalizers it
   * already had are not checked again (accepted before these checks existed, they must not
   * block the update that removes them, or a finalizer's removal).
   */
  private validate(type: ResourceType, obj: KubeObject, q: WriteQuery, warnings: string[], metadataWritten = true, before?: KubeObject): void {
    dropNullMetadata(obj);
    const causes: StatusCause[] = [];
    const res = this.validator.validate(type, obj, q.fieldValidation);
    causes.push(...res.causes);
    if (q.fieldValidation === 'Warn') warnings.push(...res.pruned.map((f) => `unknown field "${f}"`));
    // A condition type once per status, as metav1.Condition lists are keyed (QA-106: an agent's
    // JSON patch added two more Bound conditions, and readers take whichever comes first).
    if (!metadataWritten) {
      const conditions = (obj.status as { conditions?: unknown } | undefined)?.conditions;
      causes.push(...duplicateConditions(conditions), ...malformedConditions(conditions, (before?.status as { conditions?: unknown } | undefined)?.conditions));
    }
    // As Kubernetes' field validation: a field named twice keeps its last value, said so.
    for (const f of q.duplicateFields ?? []) {
      if (q.fieldValidation === 'Strict') causes.push({ field: f, reason: 'FieldValueDuplicate', message: `duplicate field "${f}"` });
      else if (q.fieldValidation === 'Warn') warnings.push(`duplicate field "${f}"`);
    }
    if (metadataWritten && Array.isArray(obj.metadata.ownerReferences)) {
      const { refs, duplicates } = dedupOwnerReferences(obj.metadata.ownerReferences);
      if (duplicates.length > 0) {
        obj.metadata.ownerReferences = refs;
        warnings.push(duplicateOwnerReferencesWarning(duplicates));
      }
      // References stored before this check are not judged again (as annotations below),
      // compared as deduplicated too: a stored list with a repeat would never equal its own.
      const stored = before?.metadata.ownerReferences;
      if (!sameValue(refs, Array.isArray(stored) ? dedupOwnerReferences(stored).refs : stored)) causes.push(...ownerReferenceCauses(refs));
    }
    const name = obj.metadata.name;
    // One cause per field: a name the schema refused already (over 253 characters) is not also told it is over 63.
    if (typeof name === 'string' && !causes.some((c) => c.field === 'metadata.name')) {
      const why = type.namespaced || type === NAMESPACE_TYPE ? dns1123LabelError(name) : dns1123SubdomainError(name);
      if (why) causes.push({ field: 'metadata.name', reason: 'FieldValueInvalid', message: `Invalid value: "${name}": ${why}` });
    }
    const annotationBytes = Object.entries(obj.metadata.annotations ?? {}).reduce((n, [k, v]) => n + Buffer.byteLength(k) + (typeof v === 'string' ? Buffer.byteLength(v) : 0), 0);
    if (metadataWritten && annotationBytes > MAX_ANNOTATION_BYTES) {
      causes.push({ field: 'metadata.annotations', reason: 'FieldValueTooLong', message: `Too long: must have at most ${MAX_ANNOTATION_BYTES} bytes (has ${annotationBytes})` });
    }
    // Keys as Kubernetes has them (qualified names, optionally prefixed): annotations' and finalizers'.
    const hadKeys = new Set(Object.keys(before?.metadata.annotations ?? {}));
    const hadFinalizers = new Set(before?.metadata.finalizers ?? []);
    for (const k of metadataWritten ? Object.keys(obj.metadata.annotations ?? {}).filter((x) => !hadKeys.has(x)) : []) {
      const kw = labelKeyError(k.toLowerCase());
      if (kw) causes.push({ field: 'metadata.annotations', reason: 'FieldValueInvalid', message: `Invalid value: "${k}": ${kw}` });
    }
    for (const f of metadataWritten ? (obj.metadata.finalizers ?? []).filter((x) => !hadFinalizers.has(x)) : []) {
      const fw = typeof f === 'string' ? labelKeyError(f) : 'must be a string';
      if (fw) causes.push({ field: 'metadata.finalizers', reason: 'FieldValueInvalid', message: `Invalid value: "${String(f)}": ${fw}` });
    }
    for (const [k, v] of Object.entries(obj.metadata.labels ?? {})) {
      const kw = labelKeyError(k);
      if (kw) causes.push({ field: 'metadata.labels', reason: 'FieldValueInvalid', message: `Invalid value: "${k}": ${kw}` });
      const vw = typeof v === 'string' ? labelValueError(v) : 'must be a string';
      if (vw) causes.push({ field: `metadata.labels`, reason: 'FieldValueInvalid', message: `Invalid value: "${String(v)}": ${vw}` });
    }
    if (causes.length > 0) throw this.invalid(type, name, causes);
  }

  private invalid(type: ResourceType, name: string | undefined, causes: StatusCause[]): ApiError {
    return ApiErrors.invalid({ group: type.group, kind: type.plural, kindName: type.kind, name }, causes);
  }

  /**
   * The namespace a namespaced object is created in must exist and not be terminating; its
   * revision as read, which the create's transaction checks. `fresh`: from the store, not the
   * cache (which may lag another replica's commit).
   */
  private async requireNamespace(type: ResourceType, namespace: string | undefined, fresh = false): Promise<number | undefined> {
    if (!type.namespaced) return undefined;
    const ns = this.hooks.namespaces && !fresh ? await this.hooks.namespaces.get(undefined, namespace!) : await this.objects.get(NAMESPACE_TYPE, undefined, namespace!);
    if (!ns) throw ApiErrors.notFound({ group: '', kind: 'namespaces', name: namespace });
    if (ns.metadata.deletionTimestamp) {
      throw ApiErrors.forbidden(rid(type), `unable to create new content in namespace ${namespace} because it is being terminated`);
    }
    return Number(ns.metadata.resourceVersion);
  }

  private admissionFor(type: ResourceType): KindAdmission {
    const a = this.admissions.get(type.plural);
    if (!a) throw ApiErrors.internal(`no admission for ${type.plural}`);
    return a;
  }

  private translateAdmission(type: ResourceType, name: string, err: unknown): never {
    if (!(err instanceof AdmissionError)) throw err;
    // Refused only because an update of the network's subnets is in progress: try again, 409.
    if (err.causes.every((c) => c.reason === SUBNET_CHANGING)) throw ApiErrors.conflict(rid(type, name), err.causes.map((c) => `${c.field}: ${c.message}`).join(', '), err.causes);
    throw this.invalid(type, name, err.causes.map((c) => (c.reason === SUBNET_CHANGING ? { ...c, reason: 'FieldValueInvalid' } : c)));
  }

  /** `appliedBy`: a server-side apply creating the object, by this field manager. */
  async create<T extends KubeObject>(scope: Scope, body: unknown, q: WriteQuery, appliedBy?: string): Promise<WriteResponse<T>> {
    const { type, namespace } = scope;
    this.checkEnvelope(type, body, namespace);
    const meta = body.metadata;
    // As Kubernetes: the prefix is cut to 58 characters so that the name stays a valid label.
    if (!meta.name && meta.generateName) meta.name = `${meta.generateName.slice(0, MAX_GENERATE_NAME_PREFIX)}${randomBytes(4).toString('hex').slice(0, 5)}`;
    if (!meta.name) throw this.invalid(type, undefined, [{ field: 'metadata.name', reason: 'FieldValueRequired', message: 'Required value: name or generateName is required' }]);
    this.authorize(scope, 'create', meta.name);
    if (type === NAMESPACE_TYPE) withNamespaceNameLabel(body);
    const warnings: string[] = [];
    this.validate(type, body, q, warnings);
    if (scope.principal.node !== undefined) await this.checkAgentWrite(scope.principal, type, body);
    let namespaceRevision = await this.requireNamespace(type, namespace);
    const namespaceKey = type.namespaced ? objectKey(NAMESPACE_TYPE, undefined, namespace!) : undefined;
    // An object of that name is a 409 before admission claims anything: its own addresses,
    // claimed by it, were refused as "already allocated" (422, QA: an exported object created
    // again), and a dry run never writes, so never met the store's refusal (QA: "created").
    const existing = await this.objects.get(type, namespace, meta.name);
    if (existing) throw ApiErrors.alreadyExists(rid(type, meta.name), !!existing.metadata.deletionTimestamp);
    const admission = this.admissionFor(type);
    // Server-owned fields are never taken from the request.
    for (const k of ['uid', 'resourceVersion', 'generation', 'creationTimestamp', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'selfLink', 'managedFields'] as const) {
      delete meta[k];
    }
    delete body.status;
    // Ownership is of what the client sent: the finalizers the server adds next are nobody's
    // (an apply owning vnet.dev/ipam would remove it the next time it does not send it).
    const sentFinalizers = meta.finalizers;
    meta.finalizers = [...new Set([...(meta.finalizers ?? []), ...admission.finalizers])];
    if (meta.finalizers.length === 0) delete meta.finalizers;
    // The decoded body is this request's own: it stays as the pristine copy each attempt
    // clones (admission writes into its candidate).
    const pristine = body;

    let secret: string | undefined;
    for (let attempt = 0; ; attempt++) {
      const candidate = cloneJson(pristine) as T;
      candidate.metadata.uid = randomUUID();
      let admitted;
      try {
        admitted = await admission.create(candidate, this.admissionContext);
      } catch (err) {
        this.translateAdmission(type, meta.name, err);
      }
      const obj = admitted.object as T;
      let charge: QuotaCharge;
      try {
        charge = await this.chargeQuota(type, namespace, obj.spec, undefined, !!q.dryRun);
      } catch (err) {
        admitted.abandon?.();
        throw this.quotaError(type, meta.name, err);
      }
      // Who set what, on the object as it will be stored (with admission's defaults, as Kubernetes records a create).
      const asSent = <O extends KubeObject>(o: O): O => ({ ...o, metadata: { ...o.metadata, finalizers: sentFinalizers } });
      setManagedFields(
        obj,
        appliedBy !== undefined
          ? managedFieldsAfterApply(undefined, obj, asSent(pristine) as unknown as Record<string, unknown>, { manager: appliedBy, force: q.force, apiVersion: type.apiVersion })
          : managedFieldsAfterUpdate(undefined, asSent(obj), q.manager, type.apiVersion),
      );
      if (type.kind === 'AccessToken') {
        secret = mintSecret();
        (obj as unknown as AccessToken).status = { tokenHash: hashSecret(secret) };
      }
      // This attempt's: a retried create is admitted again.
      const sent = [...warnings, ...(admitted.warnings ?? []), ...canonicalFormWarnings(pristine.spec, obj.spec)];
      if (q.dryRun) {
        admitted.abandon?.();
        charge.release();
        // As the store would set them (its status already says observedGeneration 1).
        obj.metadata.generation = 1;
        obj.metadata.creationTimestamp = kubeTime(new Date());
        return { object: obj, code: 201, warnings: sent };
      }
      try {
        // The namespace as it was read: a create another replica's cache let through after the
        // namespace began terminating (its revision moved on) fails here, and is refused on its
        // retry, instead of outliving the namespace (QA-99: 3-5 of 20 deleted namespaces kept
        // networks created through a replica that was not the leader).
        const guard: TxnOp[] = namespaceKey !== undefined && namespaceRevision !== undefined ? [{ type: 'check', key: namespaceKey, expectedModRevision: namespaceRevision }] : [];
        const created = await this.objects.create(type, obj, [...(admitted.ops ?? []), ...guard, ...charge.ops]);
        charge.release();
        admitted.committed?.();
        this.hooks.afterWrite?.(type, namespace, created.metadata.name);
        if (type.group === RESOURCE_QUOTAS.group && type.plural === RESOURCE_QUOTAS.plural && namespace !== undefined) this.quotas.created(namespace);
        if (secret) (created as unknown as AccessToken).status!.token = formatToken(created.metadata.name, secret);
        this.log.info({ event: 'object.created', kind: type.kind, namespace, name: created.metadata.name, rv: created.metadata.resourceVersion });
        return { object: created, code: 201, warnings: sent };
      } catch (err) {
        charge.release();
        // Nothing of the request was stored: what admission picked is free again.
        admitted.abandon?.();
        // Another write charged the namespace's quota since it was read here: charge it again.
        if (err instanceof ConflictError && isQuotaKey(err.key) && attempt + 1 < MAX_ALLOCATION_RETRIES) continue;
        // A network announced a subnet change since this request read it: admit it again against it.
        if (err instanceof ConflictError && isSubnetChangeKey(err.key) && attempt + 1 < MAX_ALLOCATION_RETRIES) continue;
        // The namespace changed since it was read (terminating, gone, or only relabelled): read it from the store.
        if (err instanceof ConflictError && err.key === namespaceKey && attempt + 1 < MAX_ALLOCATION_RETRIES) {
          namespaceRevision = await this.requireNamespace(type, namespace, true);
          continue;
        }
        // Still racing after every attempt: the client's to retry (409), not a server error.
        if (err instanceof ConflictError && (err.key === namespaceKey || isSubnetChangeKey(err.key) || isQuotaKey(err.key))) throw ApiErrors.conflict(rid(type, meta.name), 'its namespace, network or quota kept changing under concurrent requests; try again');
        if (err instanceof KeyExistsError) {
          if (err.key === objectKey(type, namespace, meta.name)) throw ApiErrors.alreadyExists(rid(type, meta.name));
          // Another request claimed the same address/MAC/VNI between our read and write: choose again.
          if (attempt + 1 < MAX_ALLOCATION_RETRIES) continue;
          throw ApiErrors.conflict(rid(type, meta.name), 'allocation kept racing with concurrent requests; try again');
        }
        throw err;
      }
    }
  }

  async update<T extends KubeObject>(scope: Scope, name: string, body: unknown, q: WriteQuery, subresource: Subresource = 'main'): Promise<WriteResponse<T>> {
    const { type, namespace } = scope;
    this.checkEnvelope(type, body, namespace);
    if (body.metadata.name === undefined) body.metadata.name = name;
    if (body.metadata.name !== name) throw ApiErrors.badRequest(`the name of the object (${body.metadata.name}) does not match the name on the URL (${name})`);
    this.authorize(scope, 'update', name, subresource);
    // "0" is "any version" to a list or watch, and no precondition at all to a write: not one
    // here, except for namespaces, which kube-apiserver updates unconditionally.
    if ((!body.metadata.resourceVersion || body.metadata.resourceVersion === '0') && type !== NAMESPACE_TYPE) {
      // An object that is not there is a 404 first, as kube-apiserver answers a custom resource.
      if (!(await this.objects.get(type, namespace, name))) throw ApiErrors.notFound(rid(type, name));
      throw this.invalid(type, name, [{ field: 'metadata.resourceVersion', reason: 'FieldValueInvalid', message: 'Invalid value: 0x0: must be specified for an update' }]);
    }
    return this.replace<T>(scope, name, body as T, q, subresource);
  }

  /**
   * Shared by PUT and PATCH: validate, admit, write with the object's resourceVersion as
   * precondition. `applied`: the configuration of the server-side apply `next` comes from
   * (see managedFieldsAfterApply).
   */
  private async replace<T extends KubeObject>(scope: Scope, name: string, next: T, q: WriteQuery, subresource: Subresource, applied?: Record<string, unknown>): Promise<WriteResponse<T>> {
    const { type, namespace } = scope;
    const warnings: string[] = [];
    const current = await this.objects.get<T>(type, namespace, name);
    if (!current) throw ApiErrors.notFound(rid(type, name));
    if (subresource === 'status') {
      // Only status changes through /status: take everything else from the stored object.
      // Its old status is not copied: an agent's NodeRealization report is ~200 KB of it.
      const { status: _replaced, ...rest } = current;
      const merged = { ...structuredClone(rest), status: next.status } as T;
      merged.metadata.resourceVersion = next.metadata.resourceVersion;
      next = merged;
    } else {
      // Through the main resource status does not change (ObjectStore.merge keeps the stored
      // one), so a status the client sent is neither validated nor stored, as in Kubernetes.
      const { status: _ignored, ...rest } = next;
      next = (current.status === undefined ? rest : { ...rest, status: current.status }) as T;
      if (type === NAMESPACE_TYPE) withNamespaceNameLabel(next);
    }
    this.validate(type, next, q, warnings, subresource === 'main', current);
    if (scope.principal.node !== undefined) await this.checkAgentWrite(scope.principal, type, next, current);
    let admittedOps: TxnOp[] = [];
    let abandon: (() => void | Promise<void>) | undefined;
    if (subresource === 'main') {
      const added = (next.metadata.finalizers ?? []).filter((f) => !(current.metadata.finalizers ?? []).includes(f));
      if (current.metadata.deletionTimestamp && added.length > 0) {
        throw this.invalid(type, name, [{ field: 'metadata.finalizers', reason: 'FieldValueForbidden', message: 'Forbidden: no new finalizers can be added if the object is being deleted' }]);
      }
      // vnetd's own finalizers stay until the object is being deleted: a `kubectl replace`
      // of a manifest without them (or a patch dropping them) would otherwise let a
      // network go with ports on it and leave addresses claimed by objects that are gone.
      // Once deleting, a client may still remove them (the way out of a stuck delete).
      if (!current.metadata.deletionTimestamp) {
        const own = this.admissionFor(type).finalizers;
        const kept = [...new Set([...(next.metadata.finalizers ?? []), ...own])];
        if (kept.length > 0) next.metadata.finalizers = kept;
      }
      // The spec as the request made it: admission rewrites values in place (QA-134 F6).
      const asSent = cloneJson(next.spec);
      try {
        const admitted = await this.admissionFor(type).update(current, next, q.dryRun ? { ...this.admissionContext, dryRun: true } : this.admissionContext);
        next = admitted.object as T;
        admittedOps = admitted.ops;
        abandon = admitted.abandon;
        warnings.push(...(admitted.warnings ?? []), ...canonicalFormWarnings(asSent, next.spec));
      } catch (err) {
        this.translateAdmission(type, name, err);
      }
    }
    try {
      let res;
      try {
        if (subresource === 'main') {
          // The server's record, never the client's copy of it (a PUT sends back what it read),
          // decided on the object as admitted: re-sent defaults change nothing. (An apply's
          // field conflict throws here, after admission: what admission set aside goes back.)
          const o = { manager: q.fieldManager ?? q.manager, force: q.force, apiVersion: type.apiVersion };
          setManagedFields(next, applied ? managedFieldsAfterApply(current, next, applied, o) : managedFieldsAfterUpdate(current, next, q.manager, type.apiVersion));
        }
        res = await this.updateCharged(type, namespace, current, next, subresource, admittedOps, !!q.dryRun);
      } catch (err) {
        // Awaited: a patch retried on a conflict admits again at once, and must find it withdrawn.
        await abandon?.();
        throw err;
      }
      if (q.dryRun) {
        await abandon?.();
        return { object: res.object, code: 200, warnings };
      }
      this.hooks.afterWrite?.(type, namespace, name);
      this.log.info({ event: res.deleted ? 'object.deleted' : 'object.updated', kind: type.kind, namespace, name, rv: res.object.metadata.resourceVersion, subresource });
      return { object: res.object, code: 200, warnings };
    } catch (err) {
      throw this.storeError(type, name, err);
    }
  }

  async patch<T extends KubeObject>(scope: Scope, name: string, patchType: PatchType, patch: unknown, q: WriteQuery, subresource: Subresource = 'main'): Promise<WriteResponse<T>> {
    const { type, namespace } = scope;
    this.authorize(scope, 'patch', name, subresource);
    if (q.force && patchType !== 'apply') {
      // As kube-apiserver: force takes conflicts from other managers, which only an apply has.
      throw ApiErrors.invalid({ group: 'meta.k8s.io', kind: 'PatchOptions', kindName: 'PatchOptions.meta.k8s.io', name: '' }, [cause('force', 'Forbidden: may not be specified for non-apply patch', 'FieldValueForbidden')]);
    }
    const serverSideApply = patchType === 'apply' && subresource === 'main';
    if (serverSideApply) this.checkApplyConfiguration(type, patch, name, namespace, q);
    for (let attempt = 0; ; attempt++) {
      const current = await this.objects.get<T>(type, namespace, name);
      if (!current) {
        if (serverSideApply) {
          // Server-side apply creates what does not exist yet.
          const body = structuredClone(patch) as Record<string, unknown>;
          if (isPlainObject(body)) {
            body.metadata = { ...(isPlainObject(body.metadata) ? body.metadata : {}), name };
          }
          return this.create<T>(scope, body, q, q.fieldManager);
        }
        throw ApiErrors.notFound(rid(type, name));
      }
      // Each attempt from the patch as sent (applyPatchOfType copies it; an apply's configuration too).
      const patched = serverSideApply ? applyConfiguration(current, structuredClone(patch) as Record<string, unknown>, q.fieldManager!) : (applyPatchOfType(patchType, current, patch) as T);
      this.checkEnvelope(type, patched, namespace);
      if (patched.metadata.name !== name) throw ApiErrors.badRequest('the patch must not change metadata.name');
      const rvInPatch = isPlainObject(patch) && isPlainObject(patch.metadata) && typeof patch.metadata.resourceVersion === 'string' ? patch.metadata.resourceVersion : undefined;
      // A JSON patch may set it too (replace /metadata/resourceVersion): a precondition as well.
      const rvPatched = !serverSideApply && typeof patched.metadata.resourceVersion === 'string' && patched.metadata.resourceVersion !== current.metadata.resourceVersion ? patched.metadata.resourceVersion : undefined;
      const explicit = rvInPatch ?? rvPatched;
      const explicitRv = explicit !== undefined;
      // An apply's configuration keeps only its fields: its resourceVersion is a precondition still.
      patched.metadata.resourceVersion = explicit ?? current.metadata.resourceVersion;
      try {
        return await this.replace<T>(scope, name, patched, q, subresource, serverSideApply ? (patch as Record<string, unknown>) : undefined);
      } catch (err) {
        // A patch without its own resourceVersion is retried against the newer object.
        const fieldConflict = err instanceof ApiError && (err.details?.causes ?? []).some((c) => c.reason === 'FieldManagerConflict');
        const retriable = err instanceof ApiError && err.reason === 'Conflict' && !fieldConflict && !explicitRv && attempt < 5;
        if (!retriable) throw err;
      }
    }
  }

  async delete<T extends KubeObject>(scope: Scope, name: string, options: DeleteOptions): Promise<WriteResponse<T>> {
    const { type, namespace } = scope;
    this.authorize(scope, 'delete', name);
    // kube-apiserver's rule: the namespace every client falls back to is never deleted
    // (vnetd creates it only on first start; deleted, every command without -n would fail).
    if (type === NAMESPACE_TYPE && name === DEFAULT_NAMESPACE) throw ApiErrors.forbidden(rid(type, name), 'this namespace may not be deleted');
    const dryRun = (options.dryRun ?? []).includes('All');
    const policy = options.propagationPolicy ?? (options.orphanDependents === true ? 'Orphan' : 'Background');
    const finalizers = PROPAGATION_FINALIZERS[policy];
    if (!finalizers) {
      throw this.invalid(type, name, [{ field: 'propagationPolicy', reason: 'FieldValueNotSupported', message: `Unsupported value: "${policy}": supported values: "Foreground", "Background", "Orphan"` }]);
    }
    try {
      // A namespace's content goes with it whatever the policy (the namespace reconciler deletes
      // it; nothing refers to a namespace by ownerReferences): no finalizer the garbage
      // collector would have to remove, which it never did, leaving the namespace Terminating.
      // A namespace answers its DELETE already Terminating, as kube-apiserver's does (QA: Active, then Terminating on the next GET).
      const terminating = (next: T): void => {
        const ns = next as { status?: Record<string, unknown> };
        ns.status = { ...ns.status, phase: 'Terminating' };
      };
      let res;
      for (let attempt = 1; ; attempt++) {
        // What the kind commits with the start of a deletion (a network's: the guard of its claims).
        const startingOps = dryRun ? [] : ((await this.admissions.get(type.plural)?.deletionOps?.(namespace, name, this.admissionContext)) ?? []);
        try {
          res = await this.objects.delete<T>(type, namespace, name, { preconditions: options.preconditions, dryRun, finalizers: type === NAMESPACE_TYPE ? [] : finalizers, startingOps, ...(type === NAMESPACE_TYPE ? { deleting: terminating } : {}) });
          break;
        } catch (err) {
          // A subnet update announced itself meanwhile: read its key again.
          if ((err instanceof ConflictError || err instanceof KeyExistsError) && isSubnetChangeKey(err.key) && attempt < 3) continue;
          throw err;
        }
      }
      const warnings = (await this.admissions.get(type.plural)?.deleteWarnings?.(res.object, this.admissionContext).catch(() => [])) ?? [];
      if (dryRun) return { object: res.object, code: 200, warnings };
      this.hooks.afterWrite?.(type, namespace, name);
      this.log.info({ event: res.deleted ? 'object.deleted' : 'object.terminating', kind: type.kind, namespace, name });
      return { object: res.object, code: 200, warnings };
    } catch (err) {
      throw this.storeError(type, name, err);
    }
  }

  /**
   * DELETE on a collection (deletecollection, as kube-apiserver serves it for custom
   * resources): every object the selectors match, each deleted as its own DELETE would be
   * (finalizers, propagation, dry run, warnings). Answers the list of what it deleted; one
   * still held by a finalizer shows its deletionTimestamp. Namespaces have no such verb.
   */
  async deleteCollection<T extends KubeObject>(scope: Scope, q: ListQuery, options: DeleteOptions): Promise<{ items: T[]; resourceVersion: string; warnings: string[] }> {
    if (scope.type === NAMESPACE_TYPE) throw ApiErrors.methodNotAllowed('the server does not allow this method on the requested resource');
    this.authorize(scope, 'deletecollection');
    const listed = await this.list<T>(scope, { ...q, limit: 0, continueToken: undefined });
    const items: T[] = [];
    const warnings: string[] = [];
    for (const o of listed.items) {
      try {
        const res = await this.delete<T>({ ...scope, namespace: o.metadata.namespace }, o.metadata.name, options);
        items.push(res.object);
        warnings.push(...res.warnings);
      } catch (err) {
        // Deleted by someone else since the list: what was asked is done.
        if (!(err instanceof ApiError && err.code === 404)) throw err;
      }
    }
    return { items, resourceVersion: String(await this.objects.kv.currentRevision()), warnings };
  }

  /**
   * Charges the namespace's quotas for a write of `spec` (replacing `before`'s) of a kind that
   * uses quota. Exceeding one is 403 Forbidden with Kubernetes' "exceeded quota" message.
   */
  private async chargeQuota(type: ResourceType, namespace: string | undefined, spec: unknown, before: { spec: unknown } | undefined, dryRun: boolean): Promise<QuotaCharge> {
    if (type.group === '' || !isQuotaKind(type.kind) || namespace === undefined) return NO_CHARGE;
    return this.quotas.charge(namespace, type.kind, spec, before, dryRun);
  }

  private quotaError(type: ResourceType, name: string, err: unknown): unknown {
    return err instanceof QuotaExceededError ? ApiErrors.forbidden(rid(type, name), err.message) : err;
  }

  /**
   * An update's write with its quota charge (the main resource), charged again when another
   * write charged the same quota between its read and this commit.
   */
  private async updateCharged<T extends KubeObject>(type: ResourceType, namespace: string | undefined, current: T, next: T, subresource: Subresource, ops: TxnOp[], dryRun: boolean) {
    for (let attempt = 0; ; attempt++) {
      let charge = NO_CHARGE;
      try {
        if (subresource === 'main') charge = await this.chargeQuota(type, namespace, next.spec, { spec: current.spec }, dryRun);
        return await this.objects.update(type, next, { subresource, extraOps: [...ops, ...charge.ops], dryRun });
      } catch (err) {
        if (err instanceof ConflictError && isQuotaKey(err.key) && attempt + 1 < MAX_ALLOCATION_RETRIES) continue;
        throw this.quotaError(type, next.metadata.name, err);
      } finally {
        charge.release();
      }
    }
  }

  private storeError(type: ResourceType, name: string, err: unknown): unknown {
    if (err instanceof ConflictError) {
      return ApiErrors.conflict(rid(type, name), 'the object has been modified; please apply your changes to the latest version and try again');
    }
    if (err instanceof UidPreconditionError) return ApiErrors.conflict(rid(type, name), err.message);
    if (err instanceof KeyNotFoundError) return ApiErrors.notFound(rid(type, name));
    if (err instanceof InvalidResourceVersionError) {
      return this.invalid(type, name, [{ field: 'metadata.resourceVersion', reason: 'FieldValueInvalid', message: `Invalid value: "${err.resourceVersion}": must be a resourceVersion returned by the server` }]);
    }
    if (err instanceof KeyExistsError) return ApiErrors.conflict(rid(type, name), 'an address or identifier this change needs is already allocated');
    return err;
  }
}

/** A cause for each condition whose type an earlier one in the list has. */
function duplicateConditions(conditions: unknown): StatusCause[] {
  if (!Array.isArray(conditions)) return [];
  const seen = new Set<unknown>();
  const causes: StatusCause[] = [];
  conditions.forEach((c: unknown, i) => {
    const type = isPlainObject(c) ? c.type : undefined;
    if (type === undefined) return;
    if (seen.has(type)) causes.push({ field: `status.conditions[${i}].type`, reason: 'FieldValueDuplicate', message: `Duplicate value: ${JSON.stringify(type)}` });
    seen.add(type);
  });
  return causes;
}

/** metav1.Condition's patterns (its OpenAPI schema, as controller-gen writes it into a CRD). */
const CONDITION_TYPE = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$/;
const CONDITION_REASON = /^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$/;

/**
 * A cause for each condition whose type or reason is not metav1.Condition's shape: a
 * reason is one CamelCase word for machines (and for `kubectl get` columns, where an
 * agent's reason with spaces, newlines or escape sequences would land). As Kubernetes'
 * validation ratcheting, a condition the stored status already had unchanged is not judged
 * again: a write of something else must not fail on it.
 */
function malformedConditions(conditions: unknown, stored: unknown): StatusCause[] {
  if (!Array.isArray(conditions)) return [];
  const before = new Map<unknown, unknown>(Array.isArray(stored) ? stored.filter(isPlainObject).map((c) => [c.type, c.reason]) : []);
  const causes: StatusCause[] = [];
  conditions.forEach((c: unknown, i) => {
    if (!isPlainObject(c)) return;
    const { type, reason } = c;
    if (before.has(type) && before.get(type) === reason) return;
    if (typeof type === 'string' && !CONDITION_TYPE.test(type)) {
      causes.push({ field: `status.conditions[${i}].type`, reason: 'FieldValueInvalid', message: `Invalid value: ${JSON.stringify(type)}: status.conditions[${i}].type in body should match '${CONDITION_TYPE.source}'` });
    }
    if (typeof reason === 'string' && !CONDITION_REASON.test(reason)) {
      causes.push({ field: `status.conditions[${i}].reason`, reason: 'FieldValueInvalid', message: `Invalid value: ${JSON.stringify(reason)}: status.conditions[${i}].reason in body should match '${CONDITION_REASON.source}'` });
    }
  });
  return causes;
}

/** Sets metadata.managedFields, or leaves none when nobody manages anything. */
function setManagedFields(obj: unknown, entries: ManagedFieldsEntry[]): void {
  const meta = (obj as { metadata: { managedFields?: ManagedFieldsEntry[] } }).metadata;
  if (entries.length > 0) meta.managedFields = entries;
  else delete meta.managedFields;
}

/**
 * What clients that write every field send as null where they mean "none": metadata's maps
 * and lists, and a spec or status (kube-apiserver drops them: unset for built-in kinds,
 * pruned for custom resources).
 */
function dropNullMetadata(obj: KubeObject): void {
  const o = obj as unknown as Record<string, unknown>;
  for (const k of ['spec', 'status'] as const) if (o[k] === null) delete o[k];
  const meta = obj.metadata as unknown as Record<string, unknown>;
  for (const k of ['labels', 'annotations', 'finalizers', 'ownerReferences', 'managedFields']) if (meta[k] === null) delete meta[k];
}
