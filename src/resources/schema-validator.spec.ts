/**
 * The validators compile lazily: building a SchemaValidator compiles nothing (it sat on
 * vnetd's start-up path), a kind compiles on its first validation, warmUp compiles the rest.
 */
import { ResourceCatalog } from './catalog';
import { SchemaValidator } from './schema-validator';

describe('SchemaValidator compiles lazily', () => {
  it('compiles nothing when built, a kind on its first validation, every kind on warmUp', async () => {
    const catalog = ResourceCatalog.load();
    const compiled: string[] = [];
    const objectSchema = catalog.objectSchema.bind(catalog);
    catalog.objectSchema = (t) => (compiled.push(t.plural), objectSchema(t));
    const validator = new SchemaValidator(catalog);
    expect(compiled).toEqual([]);
    const nodes = catalog.types.find((t) => t.plural === 'nodes')!;
    const bad = { apiVersion: 'vnet.dev/v1alpha1', kind: 'Node', metadata: { name: 'hv1' }, spec: { tunnelIP: 7 } };
    expect(validator.validate(nodes, bad, 'Strict').causes).toEqual([expect.objectContaining({ field: 'spec.tunnelIP' })]);
    expect(validator.validate(nodes, { ...bad, spec: { tunnelIP: '198.18.0.1' } }, 'Strict').causes).toEqual([]);
    expect(compiled).toEqual(['nodes']);
    await validator.warmUp();
    expect([...compiled].sort()).toEqual(catalog.types.map((t) => t.plural).sort());
  });
});
