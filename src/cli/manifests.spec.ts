import { parseManifests } from './manifests';

describe('parseManifests', () => {
  it('reads multi-document YAML, JSON and List wrappers, skipping empty documents', () => {
    const yaml = 'apiVersion: vnet.dev/v1alpha1\nkind: VirtualNetwork\nmetadata: {name: a}\n---\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: t1}\n';
    expect(parseManifests(yaml, 'f.yaml').map((m) => [m.kind.plural, m.object.metadata.name])).toEqual([['virtualnetworks', 'a'], ['namespaces', 't1']]);
    const json = JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [{ apiVersion: 'vnet.dev/v1alpha1', kind: 'Node', metadata: { name: 'hv1' } }] });
    expect(parseManifests(json, 'f.json')[0]!.kind.kind).toBe('Node');
  });

  it('names the file and document of what it cannot use', () => {
    expect(() => parseManifests('a: [', 'x.yaml')).toThrow(/cannot read x\.yaml: .*at line 1, column 5; fix the YAML\/JSON syntax$/);
    expect(() => parseManifests('apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\n', 'x.yaml')).toThrow(/does not serve apiVersion "apps\/v1" kind "Deployment"/);
    expect(() => parseManifests('apiVersion: vnet.dev/v1alpha1\nkind: Node\n---\nkind: Node\napiVersion: vnet.dev/v1alpha1\nmetadata: {}\n', 'x.yaml')).toThrow(/x\.yaml \(document 1\): metadata\.name is missing/);
  });
});
