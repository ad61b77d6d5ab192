/**
 * The catalog of served kinds, read from the JSON Schemas in schemas/ (the one source of
 * truth): names, scope, printer columns, and the validated object schema of each kind.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { GROUP, VERSION } from './kinds';
import type { JsonSchema } from './json-schema';
import { objectMetaSchema } from './object-meta.schema';

export interface PrinterColumn {
  name: string;
  type: 'string' | 'integer' | 'number' | 'boolean' | 'date';
  jsonPath: string;
  description?: string;
  /** 0: shown by default; 1: only with -o wide. */
  priority?: number;
  /**
   * vnetd's own rendering of the cell where one path cannot say it (see api/table.ts); the CRDs
   * for a kube-apiserver keep jsonPath alone.
   */
  cell?: 'listeners' | 'age' | 'involvedObject' | 'quotaUsage';
}

/** Everything the API, the store and the generators need to know about one kind. */
export interface ResourceType {
  group: string;
  version: string;
  /** `group/version`, or `v1` for the core group. */
  apiVersion: string;
  kind: string;
  listKind: string;
  plural: string;
  singular: string;
  shortNames: string[];
  namespaced: boolean;
  categories: string[];
  printerColumns: PrinterColumn[];
  /** Only admin tokens may touch it. */
  adminOnly: boolean;
  description: string;
  /** Schema of spec and status with every $ref inlined (structural, CRD-compatible). */
  specSchema?: JsonSchema;
  statusSchema?: JsonSchema;
  /** Served for reading only: vnetd writes it, clients get, list and watch it (Events). */
  readOnly?: true;
  /** Fields at the top level instead of spec and status (an Event's), for the OpenAPI document. */
  topLevelSchema?: Record<string, JsonSchema>;
  /** Its printer columns are the whole table: no Name and Age added around them (Events, as kubectl prints them). */
  ownColumns?: true;
}

interface ResourceAnnotation {
  kind: string;
  listKind: string;
  plural: string;
  singular: string;
  shortNames?: string[];
  scope: 'Namespaced' | 'Cluster';
  categories?: string[];
  printerColumns?: PrinterColumn[];
  adminOnly?: boolean;
}

/** Where schemas/ lives: two levels up from both src/resources and dist/resources. */
export const SCHEMAS_DIR = resolve(__dirname, '..', '..', 'schemas');

/** The namespace created on first start, which clients use when they name none; it may not be deleted. */
export const DEFAULT_NAMESPACE = 'default';

/**
 * The label kube-apiserver puts on every namespace (since 1.21): its name, so that a namespace
 * selector can pick one by name. Set on create and on every update, whatever the client sent.
 */
export const NAMESPACE_NAME_LABEL = 'kubernetes.io/metadata.name';

export function withNamespaceNameLabel<T extends { metadata: { name?: string; labels?: Record<string, string> } }>(ns: T): T {
  const labels: unknown = ns.metadata.labels;
  // Labels that are not a map (or a name that is not a string) are validation's to refuse.
  const map = labels === undefined || (typeof labels === 'object' && labels !== null && !Array.isArray(labels));
  if (typeof ns.metadata.name === 'string' && ns.metadata.name && map) ns.metadata.labels = { ...(ns.metadata.labels ?? {}), [NAMESPACE_NAME_LABEL]: ns.metadata.name };
  return ns;
}

/** Namespaces are core/v1 and carry no spec of ours; they are served beside our group. */
export const NAMESPACE_TYPE: ResourceType = {
  group: '',
  version: 'v1',
  apiVersion: 'v1',
  kind: 'Namespace',
  listKind: 'NamespaceList',
  plural: 'namespaces',
  singular: 'namespace',
  shortNames: ['ns'],
  namespaced: false,
  categories: [],
  printerColumns: [{ name: 'Status', type: 'string', jsonPath: '.status.phase' }],
  adminOnly: false,
  description: 'A tenant: every VirtualNetwork, VirtualPort and LoadBalancer lives in one.',
  // core/v1's, as far as vnetd uses them: validated like every kind (a name that is not a
  // string was stored once and broke every client's list of namespaces).
  specSchema: { type: 'object', additionalProperties: false, properties: { finalizers: { type: 'array', items: { type: 'string' }, description: 'Finalizers of the namespace (kubernetes).' } } },
  statusSchema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      phase: { type: 'string', enum: ['Active', 'Terminating'], description: 'Active, or Terminating while its objects are deleted.' },
      conditions: { type: 'array', items: { type: 'object' } },
    },
  },
};

/**
 * core/v1 Events (resources/event.ts): served under /api/v1 beside namespaces, read-only (vnetd
 * records them, and they expire), printed as kubectl prints them.
 */
export const EVENT_TYPE: ResourceType = {
  group: '',
  version: 'v1',
  apiVersion: 'v1',
  kind: 'Event',
  listKind: 'EventList',
  plural: 'events',
  singular: 'event',
  shortNames: ['ev'],
  namespaced: true,
  categories: [],
  printerColumns: [
    { name: 'Last Seen', type: 'string', jsonPath: '.lastTimestamp', cell: 'age', description: 'Time since the event was last seen.' },
    { name: 'Type', type: 'string', jsonPath: '.type', description: 'Normal, or Warning where something is wrong.' },
    { name: 'Reason', type: 'string', jsonPath: '.reason' },
    { name: 'Object', type: 'string', jsonPath: '.involvedObject', cell: 'involvedObject', description: 'The object the event is about (kind/name).' },
    { name: 'Source', type: 'string', jsonPath: '.source.component', priority: 1 },
    { name: 'Message', type: 'string', jsonPath: '.message' },
    { name: 'First Seen', type: 'string', jsonPath: '.firstTimestamp', cell: 'age', priority: 1 },
    { name: 'Count', type: 'integer', jsonPath: '.count', priority: 1 },
    { name: 'Name', type: 'string', jsonPath: '.metadata.name', priority: 1 },
  ],
  adminOnly: false,
  description: 'What vnetd\'s controllers saw happen to an object: a condition gone wrong (Warning) and its recovery (Normal). Kept an hour after it was last seen.',
  readOnly: true,
  topLevelSchema: {
    involvedObject: {
      type: 'object',
      description: 'The object this event is about.',
      properties: {
        apiVersion: { type: 'string' },
        kind: { type: 'string' },
        name: { type: 'string' },
        namespace: { type: 'string', description: 'Absent for a cluster-scoped object (a Node): its events are in "default".' },
        uid: { type: 'string' },
        resourceVersion: { type: 'string', description: 'The object\'s resourceVersion when the event was first recorded.' },
      },
    },
    type: { type: 'string', description: 'Normal, or Warning where something is wrong.' },
    reason: { type: 'string', description: 'The reason of the condition that changed (BackendNotFound, SwitchUnreachable, ...), in UpperCamelCase.' },
    message: { type: 'string', description: 'The condition\'s type and message.' },
    count: { type: 'integer', description: 'How many times this event was seen.' },
    firstTimestamp: { type: 'string', format: 'date-time', description: 'When it was first seen.' },
    lastTimestamp: { type: 'string', format: 'date-time', description: 'When it was last seen; it is deleted an hour after.' },
    source: { type: 'object', properties: { component: { type: 'string' }, host: { type: 'string' } }, description: 'vnetd, and the host of the controller that recorded it.' },
    reportingComponent: { type: 'string' },
    reportingInstance: { type: 'string' },
  },
  ownColumns: true,
};

const QUOTA_MAP: JsonSchema = { type: 'object', additionalProperties: { type: 'string' } };

/**
 * core/v1 ResourceQuotas (quota/): what a namespace's objects may use, set by an admin, read by
 * its tenant. Served under /api/v1 beside namespaces and events, so that `kubectl create quota`
 * and `kubectl describe quota` work as against kube-apiserver.
 */
export const RESOURCE_QUOTA_TYPE: ResourceType = {
  group: '',
  version: 'v1',
  apiVersion: 'v1',
  kind: 'ResourceQuota',
  listKind: 'ResourceQuotaList',
  plural: 'resourcequotas',
  singular: 'resourcequota',
  shortNames: ['quota'],
  namespaced: true,
  categories: [],
  printerColumns: [{ name: 'Request', type: 'string', jsonPath: '.status.used', cell: 'quotaUsage', description: 'Each resource the quota limits: used/hard.' }],
  adminOnly: false,
  description:
    "What a namespace's objects may use at most: a write that would take the namespace past it is refused (403, \"exceeded quota\"). Written by an admin; its namespace's tenant reads it.",
  specSchema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      hard: {
        type: 'object',
        description:
          'The most the namespace may use of each resource: count/virtualnetworks.vnet.dev, count/virtualports.vnet.dev, count/loadbalancers.vnet.dev (or virtualnetworks, virtualports, loadbalancers); vnet.dev/lb-listeners and vnet.dev/lb-backends (summed over its load balancers); vnet.dev/lb-listener-backends (listeners x backends summed over its load balancers: each pair is one DNAT flow on every node that realizes the load balancer, what weighs on a hypervisor). Whole numbers ("10", 10, "2k").',
        additionalProperties: { 'x-kubernetes-int-or-string': true },
      },
    },
  },
  statusSchema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      hard: { ...QUOTA_MAP, description: 'spec.hard as vnetd enforces it.' },
      used: { ...QUOTA_MAP, description: "The namespace's usage of each resource spec.hard names (objects being deleted count until they are gone)." },
    },
  },
};

function inlineRefs(node: unknown, defs: Record<string, JsonSchema>): unknown {
  if (Array.isArray(node)) return node.map((n) => inlineRefs(n, defs));
  if (node === null || typeof node !== 'object') return node;
  const obj = node as Record<string, unknown>;
  if (typeof obj.$ref === 'string') {
    const name = obj.$ref.replace(/^.*#\/\$defs\//, '');
    const target = defs[name];
    if (!target) throw new Error(`schema reference ${obj.$ref} does not resolve`);
    return inlineRefs(target, defs);
  }
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) {
    if (k === '$defs' || k === '$id' || k === 'x-vnet-resource') continue;
    out[k] = inlineRefs(v, defs);
  }
  return out;
}

export class ResourceCatalog {
  private readonly byPlural = new Map<string, ResourceType>();

  constructor(readonly types: ResourceType[]) {
    for (const t of types) this.byPlural.set(t.plural, t);
  }

  static load(dir: string = SCHEMAS_DIR): ResourceCatalog {
    const files = readdirSync(dir).filter((f) => f.endsWith('.schema.json')).sort();
    const docs = files.map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as JsonSchema);
    const defs: Record<string, JsonSchema> = {};
    for (const d of docs) Object.assign(defs, (d.$defs as Record<string, JsonSchema> | undefined) ?? {});
    const types: ResourceType[] = [];
    for (const doc of docs) {
      const ann = doc['x-vnet-resource'] as ResourceAnnotation | undefined;
      if (!ann) continue;
      const inlined = inlineRefs(doc, defs) as JsonSchema;
      const props = (inlined.properties ?? {}) as Record<string, JsonSchema>;
      types.push({
        group: GROUP,
        version: VERSION,
        apiVersion: `${GROUP}/${VERSION}`,
        kind: ann.kind,
        listKind: ann.listKind,
        plural: ann.plural,
        singular: ann.singular,
        shortNames: ann.shortNames ?? [],
        namespaced: ann.scope === 'Namespaced',
        categories: ann.categories ?? [],
        printerColumns: ann.printerColumns ?? [],
        adminOnly: ann.adminOnly ?? false,
        description: typeof doc.description === 'string' ? doc.description : '',
        specSchema: props.spec,
        statusSchema: props.status,
      });
    }
    return new ResourceCatalog(types);
  }

  byPluralName(plural: string): ResourceType | undefined {
    return this.byPlural.get(plural);
  }

  mustGet(plural: string): ResourceType {
    const t = this.byPlural.get(plural);
    if (!t) throw new Error(`unknown resource ${plural}`);
    return t;
  }

  /** The full object schema (envelope + spec + status) a request body is validated against. */
  objectSchema(type: ResourceType): JsonSchema {
    return {
      type: 'object',
      description: type.description,
      additionalProperties: false,
      properties: {
        apiVersion: { type: 'string', description: 'APIVersion of this representation of the object.' },
        kind: { type: 'string', description: 'Kind of the object.' },
        metadata: objectMetaSchema,
        ...(type.specSchema ? { spec: type.specSchema } : {}),
        ...(type.statusSchema ? { status: type.statusSchema } : {}),
      },
      // As the CRDs say (crds.ts): a kind whose spec has required fields requires a spec.
      ...(specIsRequired(type) ? { required: ['spec'] } : {}),
    };
  }
}

/** The kind's spec has required fields, so the spec itself is required. */
export function specIsRequired(type: Pick<ResourceType, 'specSchema'>): boolean {
  return Array.isArray((type.specSchema as { required?: unknown } | undefined)?.required);
}
