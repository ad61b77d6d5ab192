/**
 * The OpenAPI v3 documents kubectl reads for `apply`, `explain` and field validation,
 * generated from the catalog (i.e. from schemas/). Each kind's schema carries
 * x-kubernetes-group-version-kind; the PATCH operation lists fieldValidation and accepts
 * merge and JSON patches but not strategic merge (so kubectl uses merge-patch for us).
 */
import { EVENT_TYPE, NAMESPACE_TYPE, RESOURCE_QUOTA_TYPE, type ResourceCatalog, type ResourceType } from './catalog';
import type { JsonSchema } from './json-schema';
import { objectMetaSchema } from './object-meta.schema';

const META_REF = 'io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta';
const LISTMETA_REF = 'io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta';
const STATUS_REF = 'io.k8s.apimachinery.pkg.apis.meta.v1.Status';

export function schemaName(t: ResourceType): string {
  const group = t.group === '' ? 'io.k8s.api.core' : t.group.split('.').reverse().join('.');
  return `${group}.${t.version}.${t.kind}`;
}

function ref(name: string): JsonSchema {
  return { $ref: `#/components/schemas/${name}` };
}

function objectSchema(t: ResourceType): JsonSchema {
  const gvk = [{ group: t.group, version: t.version, kind: t.kind }];
  return {
    type: 'object',
    description: t.description,
    properties: {
      apiVersion: { type: 'string', description: 'APIVersion defines the versioned schema of this representation of an object.' },
      kind: { type: 'string', description: 'Kind is a string value representing the REST resource this object represents.' },
      metadata: { allOf: [ref(META_REF)], default: {}, description: 'Standard object metadata.' },
      ...(t.topLevelSchema ?? {
        ...(t.specSchema ? { spec: t.specSchema } : { spec: { type: 'object' } }),
        ...(t.statusSchema ? { status: t.statusSchema } : { status: { type: 'object' } }),
      }),
    },
    'x-kubernetes-group-version-kind': gvk,
  };
}

function listSchema(t: ResourceType): JsonSchema {
  return {
    type: 'object',
    required: ['items'],
    properties: {
      apiVersion: { type: 'string' },
      kind: { type: 'string' },
      metadata: { allOf: [ref(LISTMETA_REF)], default: {} },
      items: { type: 'array', items: ref(schemaName(t)) },
    },
    'x-kubernetes-group-version-kind': [{ group: t.group, version: t.version, kind: t.listKind }],
  };
}

const jsonContent = (schema: JsonSchema) => ({
  'application/json': { schema },
  'application/yaml': { schema },
});

function param(name: string, inWhere: 'query' | 'path', description: string, required = false): JsonSchema {
  return { name, in: inWhere, description, required, schema: { type: 'string', uniqueItems: true } };
}

const WRITE_PARAMS = [
  param('dryRun', 'query', 'When present, indicates that modifications should not be persisted. Valid value: All.'),
  param('fieldManager', 'query', 'A name associated with the actor or entity that is making these changes.'),
  param('fieldValidation', 'query', 'Ignore, Warn (default) or Strict: how to treat unknown fields.'),
];

const LIST_PARAMS = ['labelSelector', 'fieldSelector', 'limit', 'continue', 'resourceVersion', 'timeoutSeconds', 'watch', 'allowWatchBookmarks'].map((n) =>
  param(n, 'query', n),
);

function gvkExt(t: ResourceType, verb: string) {
  return { 'x-kubernetes-action': verb, 'x-kubernetes-group-version-kind': { group: t.group, version: t.version, kind: t.kind } };
}

function paths(t: ResourceType, base: string): Record<string, JsonSchema> {
  const obj = ref(schemaName(t));
  const ok = (schema: JsonSchema) => ({ '200': { description: 'OK', content: jsonContent(schema) } });
  const created = { ...ok(obj), '201': { description: 'Created', content: jsonContent(obj) } };
  const nsParam = t.namespaced ? [param('namespace', 'path', 'object name and auth scope, such as for teams and projects', true)] : [];
  const collection = t.namespaced ? `${base}/namespaces/{namespace}/${t.plural}` : `${base}/${t.plural}`;
  const item = `${collection}/{name}`;
  const nameParam = param('name', 'path', `name of the ${t.kind}`, true);
  const patchBody = {
    content: {
      'application/json-patch+json': { schema: { type: 'object' } },
      'application/merge-patch+json': { schema: { type: 'object' } },
      'application/apply-patch+yaml': { schema: { type: 'object' } },
    },
    required: true,
  };
  if (t.readOnly) {
    return {
      [collection]: { parameters: nsParam, get: { operationId: `list${t.kind}`, parameters: LIST_PARAMS, responses: ok(ref(`${schemaName(t)}List`)), ...gvkExt(t, 'list') } },
      [item]: { parameters: [nameParam, ...nsParam], get: { operationId: `read${t.kind}`, responses: ok(obj), ...gvkExt(t, 'get') } },
    };
  }
  const out: Record<string, JsonSchema> = {
    [collection]: {
      parameters: nsParam,
      get: { operationId: `list${t.kind}`, parameters: LIST_PARAMS, responses: ok(ref(`${schemaName(t)}List`)), ...gvkExt(t, 'list') },
      post: { operationId: `create${t.kind}`, parameters: WRITE_PARAMS, requestBody: { content: jsonContent(obj), required: true }, responses: created, ...gvkExt(t, 'post') },
    },
    [item]: {
      parameters: [nameParam, ...nsParam],
      get: { operationId: `read${t.kind}`, responses: ok(obj), ...gvkExt(t, 'get') },
      put: { operationId: `replace${t.kind}`, parameters: WRITE_PARAMS, requestBody: { content: jsonContent(obj), required: true }, responses: created, ...gvkExt(t, 'put') },
      patch: { operationId: `patch${t.kind}`, parameters: [...WRITE_PARAMS, param('force', 'query', 'Force is going to "force" Apply requests.')], requestBody: patchBody, responses: created, ...gvkExt(t, 'patch') },
      delete: { operationId: `delete${t.kind}`, parameters: [param('dryRun', 'query', 'dry run')], responses: ok(ref(STATUS_REF)), ...gvkExt(t, 'delete') },
    },
  };
  if (t.statusSchema) {
    out[`${item}/status`] = {
      parameters: [nameParam, ...nsParam],
      get: { operationId: `read${t.kind}Status`, responses: ok(obj), ...gvkExt(t, 'get') },
      put: { operationId: `replace${t.kind}Status`, parameters: WRITE_PARAMS, requestBody: { content: jsonContent(obj), required: true }, responses: created, ...gvkExt(t, 'put') },
      patch: { operationId: `patch${t.kind}Status`, parameters: [...WRITE_PARAMS, param('force', 'query', 'force')], requestBody: patchBody, responses: created, ...gvkExt(t, 'patch') },
    };
  }
  return out;
}

const sharedSchemas: Record<string, JsonSchema> = {
  [META_REF]: objectMetaSchema,
  [LISTMETA_REF]: {
    type: 'object',
    properties: { resourceVersion: { type: 'string' }, continue: { type: 'string' }, remainingItemCount: { type: 'integer' } },
  },
  [STATUS_REF]: {
    type: 'object',
    properties: {
      apiVersion: { type: 'string' },
      kind: { type: 'string' },
      code: { type: 'integer' },
      message: { type: 'string' },
      reason: { type: 'string' },
      status: { type: 'string' },
      details: { type: 'object' },
    },
    'x-kubernetes-group-version-kind': [{ group: '', version: 'v1', kind: 'Status' }],
  },
};

function document(title: string, types: ResourceType[], base: string): JsonSchema {
  const schemas: Record<string, JsonSchema> = { ...sharedSchemas };
  let allPaths: Record<string, JsonSchema> = {};
  for (const t of types) {
    schemas[schemaName(t)] = objectSchema(t);
    schemas[`${schemaName(t)}List`] = listSchema(t);
    allPaths = { ...allPaths, ...paths(t, base) };
  }
  return { openapi: '3.0.0', info: { title, version: 'v1alpha1' }, paths: allPaths, components: { schemas } };
}

export function groupDocument(catalog: ResourceCatalog): JsonSchema {
  return document('vnetd vnet.dev/v1alpha1', catalog.types, '/apis/vnet.dev/v1alpha1');
}

export function coreDocument(): JsonSchema {
  return document('vnetd core/v1', [NAMESPACE_TYPE, EVENT_TYPE, RESOURCE_QUOTA_TYPE], '/api/v1');
}
