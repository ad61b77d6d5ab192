import { readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';
import { ResourceCatalog } from './catalog';
import { renderCrds } from './crds';
import { crdProblems, structuralSchemaProblems } from './structural-schema';

const dir = resolve(__dirname, '..', '..', 'deploy', 'crds');
const catalog = ResourceCatalog.load();

describe('generated CRDs', () => {
  it('are up to date with schemas/ (run `npm run schemas:gen` after changing a schema)', () => {
    const files = renderCrds(catalog);
    expect(readdirSync(dir).filter((f) => f.endsWith('.yaml')).sort()).toEqual([...files.keys()].sort());
    for (const [name, text] of files) expect(readFileSync(join(dir, name), 'utf8')).toBe(text);
  });

  it.each([...renderCrds(catalog).entries()])('%s is a structural v1 CRD with status (when the kind has one) and printer columns', (name, text) => {
    const crd = parse(text) as { apiVersion: string; spec: { names: { shortNames?: string[] }; versions: { schema: { openAPIV3Schema: Record<string, unknown> }; subresources: object; additionalPrinterColumns: unknown[] }[] } };
    expect(crd.apiVersion).toBe('apiextensions.k8s.io/v1');
    const v = crd.spec.versions[0]!;
    expect(v.subresources).toEqual(name === 'vnet.dev_nodeleases.yaml' ? undefined : { status: {} });
    expect(v.additionalPrinterColumns.length).toBeGreaterThan(1);
    expect(crd.spec.names.shortNames?.length).toBeGreaterThan(0);
    expect(crdProblems(crd)).toEqual([]);
  });
});

describe('structural-schema rules', () => {
  const root = (spec: Record<string, unknown>) => ({ type: 'object', properties: { metadata: { type: 'object' }, spec } });

  it('accept a typical structural schema', () => {
    const spec = {
      type: 'object',
      required: ['ports'],
      properties: {
        ports: { type: 'array', items: { type: 'object', required: ['name'], properties: { name: { type: 'string' }, port: { type: 'integer', minimum: 1 } } }, 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['name'] },
        labels: { type: 'object', additionalProperties: { type: 'string' } },
        target: { 'x-kubernetes-int-or-string': true },
        raw: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
        mode: { type: 'string', enum: ['a', 'b'], default: 'a' },
      },
    };
    expect(structuralSchemaProblems(root(spec))).toEqual([]);
  });

  it.each([
    ['a node without type', { type: 'object', properties: { x: { description: 'no type' } } }, 'openAPIV3Schema.spec.x: no type'],
    ['properties beside additionalProperties', { type: 'object', properties: { x: { type: 'string' } }, additionalProperties: { type: 'string' } }, 'openAPIV3Schema.spec: properties with additionalProperties'],
    ['a $ref', { type: 'object', properties: { x: { $ref: '#/x', type: 'string' } } }, 'openAPIV3Schema.spec.x: $ref not allowed'],
    ['oneOf', { type: 'object', oneOf: [{ required: ['a'] }] }, 'openAPIV3Schema.spec: oneOf not allowed'],
    ['JSON Schema draft-6 numeric exclusiveMinimum', { type: 'integer', exclusiveMinimum: 0 }, 'openAPIV3Schema.spec: exclusiveMinimum must be a boolean (OpenAPI v3.0), got 0'],
    ['an array without items', { type: 'array' }, 'openAPIV3Schema.spec: an array needs items'],
    ['a tuple items list', { type: 'array', items: [{ type: 'string' }] }, 'openAPIV3Schema.spec: items must be one schema, not a list'],
    ['an unknown JSON Schema keyword', { type: 'object', $id: 'x.json' }, 'openAPIV3Schema.spec: unknown field "$id"'],
    ['an unknown type', { type: 'null' }, 'openAPIV3Schema.spec: type must be one of object, array, string, integer, number, boolean, got "null"'],
    ['a type list', { type: ['string', 'null'] }, 'openAPIV3Schema.spec: type must be one of object, array, string, integer, number, boolean, got ["string","null"]'],
    ['a default of the wrong type', { type: 'integer', default: '1' }, 'openAPIV3Schema.spec: default "1" is not of type integer'],
    ['an unknown format', { type: 'string', format: 'ip' }, 'openAPIV3Schema.spec: format "ip" is not one Kubernetes knows'],
    ['a map list key that is optional', { type: 'array', items: { type: 'object', properties: { name: { type: 'string' } } }, 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['name'] }, 'openAPIV3Schema.spec: map key "name" must be required or defaulted'],
    ['int-or-string with a type', { type: 'string', 'x-kubernetes-int-or-string': true }, 'openAPIV3Schema.spec: x-kubernetes-int-or-string with a type'],
  ])('refuse %s', (_what, spec, problem) => {
    expect(structuralSchemaProblems(root(spec))).toContain(problem);
  });

  it('refuse a root that is not an object and root metadata beyond name/generateName', () => {
    expect(structuralSchemaProblems({ type: 'string' })).toContain('openAPIV3Schema: the root must be type object');
    const schema = { type: 'object', properties: { metadata: { type: 'object', properties: { labels: { type: 'object' } } } } };
    expect(structuralSchemaProblems(schema)).toContain('openAPIV3Schema.metadata.labels: only name and generateName may be restricted');
  });

  it('refuse CRD names, versions and printer columns a cluster would refuse', () => {
    const good = parse(renderCrds(catalog).get('vnet.dev_nodes.yaml')!) as { metadata: { name: string }; spec: { names: { shortNames: string[] }; versions: { storage: boolean; additionalPrinterColumns: { type: string; jsonPath: string }[] }[] } };
    const bad = structuredClone(good);
    bad.metadata.name = 'nodes.example.org';
    bad.spec.names.shortNames = ['VNode'];
    bad.spec.versions[0]!.storage = false;
    bad.spec.versions[0]!.additionalPrinterColumns[0]!.type = 'ip';
    bad.spec.versions[0]!.additionalPrinterColumns[1]!.jsonPath = 'spec.ovsdb';
    expect(crdProblems(bad)).toEqual([
      'metadata.name "nodes.example.org" must be <plural>.<group>',
      'spec.names.shortNames "VNode" must be a lowercase DNS label',
      'exactly one version must be the storage version',
      'spec.versions[v1alpha1]: printer column "Tunnel-IP": type must be one of integer, number, string, boolean, date',
      'spec.versions[v1alpha1]: printer column "OVSDB": jsonPath must start with "."',
    ]);
  });
});
