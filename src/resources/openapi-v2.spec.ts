import { ResourceCatalog } from './catalog';
import { coreDocument, groupDocument, schemaName } from './openapi';
import { schemaV2, swaggerDocument } from './openapi-v2';
import type { JsonSchema } from './json-schema';

describe('the OpenAPI v2 document (QA-134 F9)', () => {
  const catalog = ResourceCatalog.load();
  const doc = swaggerDocument([groupDocument(catalog), coreDocument()], { title: 'vnetd', version: 'v1alpha1' });
  const definitions = doc.definitions as Record<string, JsonSchema>;

  it('defines every kind served, and its list, with its group-version-kind', () => {
    for (const t of catalog.types) {
      expect(definitions[schemaName(t)]!['x-kubernetes-group-version-kind']).toEqual([{ group: 'vnet.dev', version: 'v1alpha1', kind: t.kind }]);
      expect(definitions[`${schemaName(t)}List`]).toBeDefined();
    }
    expect(definitions['io.k8s.api.core.v1.Namespace']!['x-kubernetes-group-version-kind']).toEqual([{ group: '', version: 'v1', kind: 'Namespace' }]);
    // Shared by both v3 documents, defined once.
    expect(Object.keys(definitions).filter((n) => n.endsWith('.ObjectMeta'))).toEqual(['io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta']);
    expect(doc.paths).toEqual({});
  });

  it("speaks v2 only: references into definitions, each one defined; no allOf or nullable", () => {
    const text = JSON.stringify(definitions);
    expect(text).not.toContain('#/components/');
    expect(text).not.toMatch(/"(allOf|nullable)":/);
    for (const [, ref] of text.matchAll(/"\$ref":"#\/definitions\/([^"]+)"/g)) expect(definitions[ref!]).toBeDefined();
    expect((definitions[schemaName(catalog.byPluralName('virtualnetworks')!)]!.properties as Record<string, JsonSchema>).metadata).toEqual({
      $ref: '#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta',
      description: 'Standard object metadata.',
    });
  });

  it('converts nested schemas: properties, items, additionalProperties', () => {
    const v3 = { type: 'object', properties: { a: { type: 'array', items: { allOf: [{ $ref: '#/components/schemas/X' }], default: {} } }, b: { type: 'string', nullable: true } }, additionalProperties: { type: 'object', additionalProperties: false } };
    expect(schemaV2(v3)).toEqual({ type: 'object', properties: { a: { type: 'array', items: { $ref: '#/definitions/X' } }, b: { type: 'string' } }, additionalProperties: { type: 'object', additionalProperties: false } });
  });
});
