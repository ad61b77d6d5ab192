import { ResourceCatalog, NAMESPACE_TYPE } from '../resources/catalog';
import { findKind, KINDS, resourcePath } from './kinds';

describe('CLI kinds', () => {
  it('match the schema catalog (names, short names, scope)', () => {
    const catalog = ResourceCatalog.load();
    for (const t of [...catalog.types, NAMESPACE_TYPE]) {
      const k = KINDS.find((x) => x.kind === t.kind);
      expect(k).toBeDefined();
      expect({ plural: k!.plural, singular: k!.singular, namespaced: k!.namespaced, apiVersion: k!.apiVersion }).toEqual({ plural: t.plural, singular: t.singular, namespaced: t.namespaced, apiVersion: t.apiVersion });
      for (const s of t.shortNames) expect(k!.shortNames).toContain(s);
    }
    expect(KINDS).toHaveLength(catalog.types.length + 1);
  });

  it('finds kinds by any name and builds REST paths', () => {
    expect(findKind('vlb')?.kind).toBe('LoadBalancer');
    expect(findKind('VirtualPort')?.plural).toBe('virtualports');
    expect(findKind('virtualnetworks.vnet.dev')?.kind).toBe('VirtualNetwork');
    expect(resourcePath(findKind('vnet')!, 't1', 'blue')).toBe('/apis/vnet.dev/v1alpha1/namespaces/t1/virtualnetworks/blue');
    expect(resourcePath(findKind('node')!, 't1')).toBe('/apis/vnet.dev/v1alpha1/nodes');
    expect(resourcePath(findKind('ns')!, undefined, 't1')).toBe('/api/v1/namespaces/t1');
  });
});
