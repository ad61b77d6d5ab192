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

describe('SchemaValidator messages and metadata', () => {
  const catalog = ResourceCatalog.load();
  const validator = new SchemaValidator(catalog);
  const nodes = catalog.types.find((t) => t.plural === 'nodes')!;
  const node = (metadata: Record<string, unknown>, spec: unknown = { tunnelIP: '198.18.0.1' }) => ({ apiVersion: 'vnet.dev/v1alpha1', kind: 'Node', metadata: { name: 'hv1', ...metadata }, spec });

  it('takes null timestamps (kubectl sends creationTimestamp: null) and nothing else that is not a string', () => {
    expect(validator.validate(nodes, node({ creationTimestamp: null, deletionTimestamp: null }), 'Strict').causes).toEqual([]);
    expect(validator.validate(nodes, node({ creationTimestamp: 5 }), 'Strict').causes).toEqual([expect.objectContaining({ field: 'metadata.creationTimestamp', message: 'Invalid value: 5: must be of type string' })]);
  });

  it('says a list is too long by its count, as Kubernetes does, never by quoting it whole', () => {
    const lbs = catalog.types.find((t) => t.plural === 'loadbalancers')!;
    const backends = Array.from({ length: 1025 }, (_, i) => ({ ip: `10.0.${i >> 8}.${i & 255}` }));
    const lb = { apiVersion: 'vnet.dev/v1alpha1', kind: 'LoadBalancer', metadata: { name: 'big', namespace: 't' }, spec: { network: 'n', listeners: [{ port: 80 }], backends } };
    expect(validator.validate(lbs, lb, 'Strict').causes).toEqual([{ field: 'spec.backends', reason: 'FieldValueTooMany', message: 'Too many: 1025: must have at most 1024 items' }]);
  });

  it('requires a spec where the kind has required spec fields', () => {
    const { spec: _none, ...specless } = node({});
    expect(validator.validate(nodes, specless, 'Strict').causes).toEqual([{ field: 'spec', reason: 'FieldValueRequired', message: 'Required value' }]);
    expect(validator.validate(nodes, node({}, null), 'Warn').causes).toEqual([expect.objectContaining({ field: 'spec', reason: 'FieldValueTypeInvalid' })]);
  });
});
