import { dedupOwnerReferences, duplicateOwnerReferencesWarning, ownerReferenceCauses } from './owner-references';

const ref = (kind: string, name: string, uid: string, extra: Record<string, unknown> = {}) => ({ apiVersion: 'vnet.dev/v1alpha1', kind, name, uid, ...extra });

describe('ownerReferences as kube-apiserver takes them (QA-134 F2)', () => {
  it('allows one controller reference, and names the first and each further one', () => {
    expect(ownerReferenceCauses([ref('VirtualNetwork', 'blue', 'u1', { controller: true }), ref('LoadBalancer', 'web', 'u2', { controller: false })])).toEqual([]);
    const refs = [ref('VirtualNetwork', 'blue', 'u1', { controller: true }), ref('LoadBalancer', 'web', 'u2', { controller: true }), ref('Node', 'hv1', 'u3', { controller: true })];
    const causes = ownerReferenceCauses(refs);
    expect(causes.map((c) => c.message.replace(/^Invalid value: .*: Only/, 'Only'))).toEqual([
      'Only one reference can have Controller set to true. Found "true" in references for VirtualNetwork/blue and LoadBalancer/web',
      'Only one reference can have Controller set to true. Found "true" in references for VirtualNetwork/blue and Node/hv1',
    ]);
    expect(causes[0]).toMatchObject({ field: 'metadata.ownerReferences', reason: 'FieldValueInvalid', message: expect.stringContaining(`Invalid value: ${JSON.stringify(refs)}: `) });
  });

  it('refuses empty fields, an apiVersion without a version, and an Event as owner', () => {
    const causes = ownerReferenceCauses([{ apiVersion: 'apps/', kind: '', name: '', uid: '' }, { apiVersion: 'v1', kind: 'Event', name: 'e', uid: 'u' }, ref('VirtualNetwork', 'n', 'u4')]);
    expect(causes.map((c) => `${c.field}: ${c.message}`)).toEqual([
      'metadata.ownerReferences.apiVersion: Invalid value: "apps/": version must not be empty',
      'metadata.ownerReferences.kind: Invalid value: "": must not be empty',
      'metadata.ownerReferences.name: Invalid value: "": must not be empty',
      'metadata.ownerReferences.uid: Invalid value: "": must not be empty',
      'metadata.ownerReferences: Invalid value: {"apiVersion":"v1","kind":"Event","name":"e","uid":"u"}: /v1, Kind=Event is disallowed from being an owner',
    ]);
    expect(ownerReferenceCauses([ref('Namespace', 'n', 'u', { apiVersion: 'v1' }), ref('X', 'y', 'z', { apiVersion: 'a/b/c' })]).map((c) => c.field)).toEqual(['metadata.ownerReferences.apiVersion']);
  });

  it('drops a reference equal to an earlier one in every field, and keeps one that differs in any', () => {
    const a = ref('VirtualNetwork', 'blue', 'u1');
    const { refs, duplicates } = dedupOwnerReferences([a, ref('LoadBalancer', 'web', 'u2'), { ...a }, ref('VirtualNetwork', 'blue', 'u1', { controller: true }), { ...a }]);
    expect(refs).toEqual([a, ref('LoadBalancer', 'web', 'u2'), ref('VirtualNetwork', 'blue', 'u1', { controller: true })]);
    expect(duplicates).toEqual(['u1', 'u1']);
    expect(duplicateOwnerReferencesWarning(duplicates)).toBe('.metadata.ownerReferences contains duplicate entries; API server dedups owner references in 1.20+, and may reject such requests as early as 1.24; please fix your requests; duplicate UID(s) observed: u1, u1');
  });
});
