/**
 * The rules the Kubernetes API server applies to a v1 CustomResourceDefinition before it
 * accepts it (k8s.io/apiextensions-apiserver validation): structural openAPIV3Schema,
 * names, versions, printer columns. Used by the tests of the generated CRDs and of the
 * deploy manifests, so a CRD that a real cluster would refuse fails here first. Where a
 * rule is stricter than the API server's (no allOf/anyOf/oneOf/not at all) it says so.
 */

type Schema = Record<string, unknown>;

/** The fields of apiextensions/v1 JSONSchemaProps: anything else is an unknown field. */
const SCHEMA_KEYS = new Set([
  'id', '$schema', '$ref', 'description', 'type', 'format', 'title', 'default', 'maximum', 'exclusiveMaximum',
  'minimum', 'exclusiveMinimum', 'maxLength', 'minLength', 'pattern', 'maxItems', 'minItems', 'uniqueItems',
  'multipleOf', 'enum', 'maxProperties', 'minProperties', 'required', 'items', 'allOf', 'oneOf', 'anyOf', 'not',
  'properties', 'additionalProperties', 'patternProperties', 'dependencies', 'additionalItems', 'definitions',
  'externalDocs', 'example', 'nullable', 'x-kubernetes-preserve-unknown-fields', 'x-kubernetes-embedded-resource',
  'x-kubernetes-int-or-string', 'x-kubernetes-list-map-keys', 'x-kubernetes-list-type', 'x-kubernetes-map-type',
  'x-kubernetes-validations',
]);

/** Refused in CRD schemas by the API server (and, for the combinators, by our generator's contract). */
const FORBIDDEN_KEYS = ['$ref', '$schema', 'id', 'definitions', 'dependencies', 'patternProperties', 'additionalItems', 'allOf', 'anyOf', 'oneOf', 'not'];

const TYPES = new Set(['object', 'array', 'string', 'integer', 'number', 'boolean']);

/** Formats the API server validates; others are ignored (and warned about by recent servers). */
const FORMATS = new Set([
  'bsonobjectid', 'uri', 'email', 'hostname', 'ipv4', 'ipv6', 'cidr', 'mac', 'uuid', 'uuid3', 'uuid4', 'uuid5',
  'isbn', 'isbn10', 'isbn13', 'creditcard', 'ssn', 'hexcolor', 'rgbcolor', 'byte', 'password', 'date', 'duration',
  'datetime', 'date-time', 'int32', 'int64', 'float', 'double',
]);

const PRINTER_COLUMN_TYPES = new Set(['integer', 'number', 'string', 'boolean', 'date']);
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

function isObject(v: unknown): v is Schema {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function valueMatchesType(value: unknown, type: unknown): boolean {
  switch (type) {
    case 'object': return isObject(value);
    case 'array': return Array.isArray(value);
    case 'string': return typeof value === 'string';
    case 'integer': return Number.isInteger(value);
    case 'number': return typeof value === 'number';
    case 'boolean': return typeof value === 'boolean';
    default: return true;
  }
}

function checkNode(node: unknown, path: string, root: boolean, out: string[]): void {
  if (!isObject(node)) {
    out.push(`${path}: a schema must be an object`);
    return;
  }
  for (const key of Object.keys(node)) if (!SCHEMA_KEYS.has(key)) out.push(`${path}: unknown field "${key}"`);
  for (const key of FORBIDDEN_KEYS) if (key in node) out.push(`${path}: ${key} not allowed`);
  if (node.uniqueItems === true) out.push(`${path}: uniqueItems: true not allowed`);

  const intOrString = node['x-kubernetes-int-or-string'] === true;
  const preserve = node['x-kubernetes-preserve-unknown-fields'] === true;
  const type = node.type;
  if (type === undefined || type === '') {
    if (!intOrString && !preserve) out.push(`${path}: no type`);
  } else if (typeof type !== 'string' || !TYPES.has(type)) {
    out.push(`${path}: type must be one of ${[...TYPES].join(', ')}, got ${JSON.stringify(type)}`);
  } else if (intOrString) {
    out.push(`${path}: x-kubernetes-int-or-string with a type`);
  }
  if (root && type !== 'object') out.push(`${path}: the root must be type object`);
  if (node['x-kubernetes-embedded-resource'] === true && type !== 'object') out.push(`${path}: x-kubernetes-embedded-resource needs type object`);

  for (const key of ['exclusiveMinimum', 'exclusiveMaximum', 'nullable', 'x-kubernetes-preserve-unknown-fields', 'x-kubernetes-int-or-string', 'x-kubernetes-embedded-resource']) {
    if (key in node && typeof node[key] !== 'boolean') out.push(`${path}: ${key} must be a boolean (OpenAPI v3.0), got ${JSON.stringify(node[key])}`);
  }
  for (const key of ['maxLength', 'minLength', 'maxItems', 'minItems', 'maxProperties', 'minProperties']) {
    if (key in node && !(Number.isInteger(node[key]) && (node[key] as number) >= 0)) out.push(`${path}: ${key} must be a non-negative integer`);
  }
  if ('format' in node && !FORMATS.has(String(node.format))) out.push(`${path}: format "${String(node.format)}" is not one Kubernetes knows`);
  if ('pattern' in node) {
    try {
      new RegExp(String(node.pattern), 'u');
    } catch (err) {
      out.push(`${path}: pattern does not compile: ${(err as Error).message}`);
    }
  }
  if ('enum' in node) {
    if (!Array.isArray(node.enum) || node.enum.length === 0) out.push(`${path}: enum must be a non-empty list`);
    else for (const v of node.enum) if (!valueMatchesType(v, type)) out.push(`${path}: enum value ${JSON.stringify(v)} is not of type ${String(type)}`);
  }
  if ('default' in node && !valueMatchesType(node.default, type)) out.push(`${path}: default ${JSON.stringify(node.default)} is not of type ${String(type)}`);
  if ('required' in node && !(Array.isArray(node.required) && node.required.every((r) => typeof r === 'string'))) out.push(`${path}: required must be a list of names`);

  const properties = node.properties;
  if (properties !== undefined) {
    if (!isObject(properties)) out.push(`${path}: properties must be a map`);
    if (type !== undefined && type !== 'object') out.push(`${path}: properties on a non-object`);
  }
  if ('additionalProperties' in node) {
    if (properties !== undefined) out.push(`${path}: properties with additionalProperties`);
    if (isObject(node.additionalProperties)) checkNode(node.additionalProperties, `${path}{}`, false, out);
    else if (typeof node.additionalProperties !== 'boolean') out.push(`${path}: additionalProperties must be a schema or a boolean`);
  }
  if (type === 'array') {
    if (!('items' in node)) out.push(`${path}: an array needs items`);
    else if (!isObject(node.items)) out.push(`${path}: items must be one schema, not a list`);
  } else if ('items' in node) {
    out.push(`${path}: items on a non-array`);
  }
  if (isObject(node.items)) checkNode(node.items, `${path}[]`, false, out);

  checkListType(node, path, out);

  if (isObject(properties)) {
    for (const [name, child] of Object.entries(properties)) {
      if (root && name === 'metadata') checkRootMetadata(child, `${path}.metadata`, out);
      else checkNode(child, `${path}.${name}`, false, out);
    }
  }
}

/** At the root, metadata is the API server's: only `type: object` and limits on name/generateName. */
function checkRootMetadata(node: unknown, path: string, out: string[]): void {
  if (!isObject(node)) {
    out.push(`${path}: a schema must be an object`);
    return;
  }
  if (node.type !== 'object') out.push(`${path}: must be type object`);
  for (const key of Object.keys(node)) if (!['type', 'properties', 'description'].includes(key)) out.push(`${path}: only type and name/generateName limits are allowed, found "${key}"`);
  if (isObject(node.properties)) {
    for (const [name, child] of Object.entries(node.properties)) {
      if (name !== 'name' && name !== 'generateName') out.push(`${path}.${name}: only name and generateName may be restricted`);
      else if (!isObject(child) || child.type !== 'string') out.push(`${path}.${name}: must be type string`);
      else checkNode(child, `${path}.${name}`, false, out);
    }
  }
}

function checkListType(node: Schema, path: string, out: string[]): void {
  const listType = node['x-kubernetes-list-type'];
  if (listType === undefined) {
    if ('x-kubernetes-list-map-keys' in node) out.push(`${path}: x-kubernetes-list-map-keys without x-kubernetes-list-type: map`);
    return;
  }
  if (node.type !== 'array') out.push(`${path}: x-kubernetes-list-type on a non-array`);
  if (!['atomic', 'set', 'map'].includes(String(listType))) out.push(`${path}: x-kubernetes-list-type must be atomic, set or map`);
  if (listType !== 'map') return;
  const keys = node['x-kubernetes-list-map-keys'];
  const items = isObject(node.items) ? node.items : undefined;
  if (!Array.isArray(keys) || keys.length === 0) {
    out.push(`${path}: a map list needs x-kubernetes-list-map-keys`);
    return;
  }
  if (items?.type !== 'object') {
    out.push(`${path}: a map list needs items of type object`);
    return;
  }
  const required = Array.isArray(items.required) ? (items.required as string[]) : [];
  const props = isObject(items.properties) ? items.properties : {};
  for (const k of keys as string[]) {
    const prop = props[k];
    if (!isObject(prop)) out.push(`${path}: map key "${k}" is not a property of the items`);
    else if (!required.includes(k) && !('default' in prop)) out.push(`${path}: map key "${k}" must be required or defaulted`);
  }
}

/** Problems Kubernetes would report for an openAPIV3Schema; empty when it is structural. */
export function structuralSchemaProblems(schema: unknown, path = 'openAPIV3Schema'): string[] {
  const out: string[] = [];
  checkNode(schema, path, true, out);
  return out;
}

interface PrinterColumn {
  name?: unknown;
  type?: unknown;
  jsonPath?: unknown;
  priority?: unknown;
}

/** Problems Kubernetes would report for a v1 CRD object (names, versions, schema, columns). */
export function crdProblems(crd: unknown): string[] {
  const out: string[] = [];
  if (!isObject(crd)) return ['the CRD is not an object'];
  if (crd.apiVersion !== 'apiextensions.k8s.io/v1') out.push(`apiVersion must be apiextensions.k8s.io/v1, got ${String(crd.apiVersion)}`);
  if (crd.kind !== 'CustomResourceDefinition') out.push(`kind must be CustomResourceDefinition, got ${String(crd.kind)}`);
  const spec = isObject(crd.spec) ? crd.spec : {};
  const names = isObject(spec.names) ? spec.names : {};
  const group = String(spec.group ?? '');
  const name = isObject(crd.metadata) ? String(crd.metadata.name) : '';
  if (!group.includes('.')) out.push(`spec.group "${group}" must be a domain with a dot`);
  if (name !== `${String(names.plural)}.${group}`) out.push(`metadata.name "${name}" must be <plural>.<group>`);
  for (const key of ['plural', 'singular']) {
    if (!DNS_LABEL.test(String(names[key] ?? ''))) out.push(`spec.names.${key} "${String(names[key])}" must be a lowercase DNS label`);
  }
  if (!/^[A-Z][A-Za-z0-9]*$/.test(String(names.kind ?? ''))) out.push(`spec.names.kind "${String(names.kind)}" must be CamelCase`);
  if (names.listKind !== undefined && names.listKind === names.kind) out.push('spec.names.listKind must differ from kind');
  for (const s of Array.isArray(names.shortNames) ? names.shortNames : []) {
    if (!DNS_LABEL.test(String(s))) out.push(`spec.names.shortNames "${String(s)}" must be a lowercase DNS label`);
  }
  if (spec.scope !== 'Namespaced' && spec.scope !== 'Cluster') out.push(`spec.scope must be Namespaced or Cluster, got ${String(spec.scope)}`);

  const versions = Array.isArray(spec.versions) ? (spec.versions as Schema[]) : [];
  if (versions.length === 0) out.push('spec.versions is empty');
  if (versions.filter((v) => v.storage === true).length !== 1) out.push('exactly one version must be the storage version');
  for (const v of versions) {
    const at = `spec.versions[${String(v.name)}]`;
    const schema = isObject(v.schema) ? v.schema.openAPIV3Schema : undefined;
    if (schema === undefined) out.push(`${at}: no schema.openAPIV3Schema`);
    else out.push(...structuralSchemaProblems(schema, `${at}.openAPIV3Schema`));
    const sub = isObject(v.subresources) ? v.subresources : {};
    if ('scale' in sub && !isObject(sub.scale)) out.push(`${at}: subresources.scale must be an object`);
    if ('status' in sub && !(isObject(sub.status) && Object.keys(sub.status).length === 0)) out.push(`${at}: subresources.status must be {}`);
    for (const c of (Array.isArray(v.additionalPrinterColumns) ? v.additionalPrinterColumns : []) as PrinterColumn[]) {
      const col = `${at}: printer column "${String(c.name)}"`;
      if (typeof c.name !== 'string' || c.name === '') out.push(`${col}: no name`);
      if (!PRINTER_COLUMN_TYPES.has(String(c.type))) out.push(`${col}: type must be one of ${[...PRINTER_COLUMN_TYPES].join(', ')}`);
      if (typeof c.jsonPath !== 'string' || !c.jsonPath.startsWith('.')) out.push(`${col}: jsonPath must start with "."`);
      if (c.priority !== undefined && !(Number.isInteger(c.priority) && (c.priority as number) >= 0)) out.push(`${col}: priority must be a non-negative integer`);
    }
  }
  return out;
}
