import { ResourceCatalog, EVENT_TYPE, NAMESPACE_TYPE, RESOURCE_QUOTA_TYPE } from '../resources/catalog';
import { findKind, KINDS, resourcePath } from './kinds';

describe('CLI kinds', () => {
  it('match the schema catalog (names, short names, scope)', () => {
    const catalog = ResourceCatalog.load();
    for (const t of [...catalog.types, NAMESPACE_TYPE, RESOURCE_QUOTA_TYPE, EVENT_TYPE]) {
      const k = KINDS.find((x) => x.kind === t.kind);
      expect(k).toBeDefined();
      expect({ plural: k!.plural, singular: k!.singular, namespaced: k!.namespaced, apiVersion: k!.apiVersion }).toEqual({ plural: t.plural, singular: t.singular, namespaced: t.namespaced, apiVersion: t.apiVersion });
      for (const s of t.shortNames) expect(k!.shortNames).toContain(s);
    }
    expect(KINDS).toHaveLength(catalog.types.length + 3);
  });

  it('a Node\'s fast path state is a wide column, in vnetctl and in kubectl\'s Table (QA-93: an Unavailable fast path showed only in -o yaml)', () => {
    const node = findKind('node')!;
    const column = node.columns.find((c) => c.header === 'FASTPATH');
    expect(column?.wide).toBe(true);
    const obj = { apiVersion: 'vnet.dev/v1alpha1', kind: 'Node', metadata: { name: 'hv1' }, status: { fastpath: { state: 'Unavailable', reason: 'no AF_XDP' } } };
    expect(column!.value(obj as never)).toBe('Unavailable');
    expect(column!.value({ ...obj, status: {} } as never)).toBe('-');
    const printer = ResourceCatalog.load().types.find((t) => t.kind === 'Node')!.printerColumns.find((c) => c.name === 'Fast-Path');
    expect(printer).toMatchObject({ jsonPath: '.status.fastpath.state', priority: 1 });
  });

  it('finds kinds by any name and builds REST paths', () => {
    expect(findKind('vlb')?.kind).toBe('LoadBalancer');
    // The nouns of vnetctl's own command groups (QA-132 F6: `vnetctl wait port X` was an unknown kind).
    expect(['port', 'ports', 'net', 'network', 'networks', 'lb', 'lbs', 'nodes'].map((n) => findKind(n)?.kind)).toEqual(['VirtualPort', 'VirtualPort', 'VirtualNetwork', 'VirtualNetwork', 'VirtualNetwork', 'LoadBalancer', 'LoadBalancer', 'Node']);
    expect(findKind('VirtualPort')?.plural).toBe('virtualports');
    expect(findKind('virtualnetworks.vnet.dev')?.kind).toBe('VirtualNetwork');
    expect(resourcePath(findKind('vnet')!, 't1', 'blue')).toBe('/apis/vnet.dev/v1alpha1/namespaces/t1/virtualnetworks/blue');
    expect(resourcePath(findKind('node')!, 't1')).toBe('/apis/vnet.dev/v1alpha1/nodes');
    expect(resourcePath(findKind('ns')!, undefined, 't1')).toBe('/api/v1/namespaces/t1');
  });
});
