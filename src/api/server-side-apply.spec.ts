import type { KubeObject } from '../resources/object';
import { ApiError } from '../resources/status';
import { applyConfiguration, defaultFieldManager, fieldsOf, fromFieldsV1, managedFieldsAfterApply, managedFieldsAfterUpdate, managedFieldsOf, toFieldsV1 } from './server-side-apply';

type Net = KubeObject<{ subnets?: Array<{ cidr: string; gateway?: string }>; mtu?: number; encapsulation?: string }>;
const AV = 'vnet.dev/v1alpha1';
const now = new Date('2026-11-29T12:00:00Z');
const config = (spec: Record<string, unknown>, labels?: Record<string, string>) => ({ apiVersion: AV, kind: 'VirtualNetwork', metadata: { name: 'n', namespace: 't', ...(labels ? { labels } : {}) }, spec });
/** What the API does: merge, (admission: nothing here), then decide ownership on the result. */
const apply = (cur: Net | undefined, cfg: Record<string, unknown>, manager: string, force = false): Net => {
  const result = applyConfiguration<Net>(cur, cfg, manager);
  return { ...result, metadata: { ...result.metadata, managedFields: managedFieldsAfterApply(cur, result, cfg, { manager, force, apiVersion: AV, now }) } } as Net;
};
const managers = (o: Net) => managedFieldsOf(o).map((e) => `${e.manager}/${e.operation}: ${fromFieldsV1(e.fieldsV1).map((p) => p.join('.')).join(',')}`);

describe('server-side apply field management', () => {
  it('tracks spec leaves, each label, each finalizer, other lists whole; not identity, status or nulls', () => {
    const paths = fieldsOf({ apiVersion: AV, kind: 'X', metadata: { name: 'n', labels: { a: '1', b: '2' }, finalizers: ['f'] }, spec: { subnets: [{ cidr: '10.0.0.0/24' }], mtu: 1400, gone: null, empty: {} }, status: { vni: 1 } });
    expect(paths.map((p) => p.join('.')).sort()).toEqual(['metadata.finalizers.v:"f"', 'metadata.labels.a', 'metadata.labels.b', 'spec.empty', 'spec.mtu', 'spec.subnets']);
    const v1 = toFieldsV1(paths);
    expect(v1).toMatchObject({ 'f:spec': { 'f:mtu': {}, 'f:subnets': {} }, 'f:metadata': { 'f:labels': { 'f:a': {} } } });
    expect(fromFieldsV1(v1).map((p) => p.join('.')).sort()).toEqual(paths.map((p) => p.join('.')).sort());
    // Kubernetes' own markers ("." for the map itself, k: for list items) read as the field that holds them.
    expect(fromFieldsV1({ 'f:metadata': { 'f:labels': { '.': {}, 'f:a': {} } }, 'f:spec': { 'f:subnets': { 'k:{"cidr":"x"}': {} } } })).toEqual([['metadata', 'labels', 'a'], ['spec', 'subnets']]);
  });

  it('never walks into a prototype: a managedFields entry naming "f:__proto__" neither sets nor deletes anything on Object.prototype (QA-102)', () => {
    expect(fromFieldsV1({ 'f:metadata': { 'f:labels': { 'f:__proto__': { 'f:toString': {} }, 'f:a': {} } } })).toEqual([['metadata', 'labels', 'a']]);
    const hostile = { 'f:metadata': { 'f:labels': { 'f:__proto__': { 'f:hasOwnProperty': {} } } }, 'f:spec': { 'f:__proto__': { 'f:polluted': {} } } };
    const current = { ...config({ mtu: 1400 }, { a: '1' }), metadata: { name: 'n', namespace: 't', labels: { a: '1' }, managedFields: [{ manager: 'm', operation: 'Apply', apiVersion: AV, time: now.toISOString(), fieldsType: 'FieldsV1', fieldsV1: hostile }] } } as unknown as Net;
    const next = apply(current, config({ mtu: 1500 }), 'm');
    expect(next.spec).toEqual({ mtu: 1500 });
    expect(typeof Object.prototype.hasOwnProperty).toBe('function');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('creates, then removes what the manager stops applying, and keeps what another manager set', () => {
    const created = apply(undefined, config({ subnets: [{ cidr: '10.0.0.0/24' }], mtu: 1400 }, { team: 'a' }), 'flux');
    expect(created.spec).toEqual({ subnets: [{ cidr: '10.0.0.0/24' }], mtu: 1400 });
    expect(managers(created)).toEqual(['flux/Apply: metadata.labels.team,spec.subnets,spec.mtu']);
    const edited = { ...created, metadata: { ...created.metadata, managedFields: managedFieldsAfterUpdate(created, { ...created, spec: { ...created.spec, encapsulation: 'geneve' } }, 'kubectl-edit', AV, now) }, spec: { ...created.spec, encapsulation: 'geneve' } };
    const next = apply(edited, config({ subnets: [{ cidr: '10.0.0.0/24' }] }), 'flux');
    expect(next.spec).toEqual({ subnets: [{ cidr: '10.0.0.0/24' }], encapsulation: 'geneve' });
    expect(next.metadata.labels).toBeUndefined();
    expect(managers(next)).toEqual(['kubectl-edit/Update: spec.encapsulation', 'flux/Apply: spec.subnets']);
  });

  it('conflicts on a field another manager owns with another value, shares it with the same value, takes it when forced', () => {
    const a = apply(undefined, config({ subnets: [{ cidr: '10.0.0.0/24' }], mtu: 1400 }), 'a');
    let err: unknown;
    try {
      apply(a, config({ mtu: 1300 }), 'b');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).toStatus()).toMatchObject({ code: 409, reason: 'Conflict', message: 'Apply failed with 1 conflict: conflict with "a": .spec.mtu', details: { causes: [{ reason: 'FieldManagerConflict', field: '.spec.mtu' }] } });
    const shared = apply(a, config({ mtu: 1400 }), 'b');
    expect(managers(shared)).toEqual(['a/Apply: spec.subnets,spec.mtu', 'b/Apply: spec.mtu']);
    const forced = apply(a, config({ mtu: 1300 }), 'b', true);
    expect(forced.spec?.mtu).toBe(1300);
    expect(managers(forced)).toEqual(['a/Apply: spec.subnets', 'b/Apply: spec.mtu']);
    // a no longer owns mtu: applying without it leaves b's value.
    expect(apply(forced, config({ subnets: [{ cidr: '10.0.0.0/24' }] }), 'a').spec?.mtu).toBe(1300);
  });

  it('a write that is not an apply owns what it changed, and takes it from the others; a create owns what it set', () => {
    const created = { apiVersion: AV, kind: 'VirtualNetwork', metadata: { name: 'n' }, spec: { subnets: [{ cidr: '10.0.0.0/24' }], mtu: 1400 } } as Net;
    const first = managedFieldsAfterUpdate(undefined, created, 'kubectl-create', AV, now);
    expect(first.map((e) => [e.manager, e.operation])).toEqual([['kubectl-create', 'Update']]);
    const withFields = { ...created, metadata: { ...created.metadata, managedFields: first } } as Net;
    const patched = { ...withFields, spec: { ...withFields.spec, mtu: 1300 } } as Net;
    const after = managedFieldsAfterUpdate(withFields, patched, 'kubectl-patch', AV, now);
    expect(managers({ ...patched, metadata: { ...patched.metadata, managedFields: after } } as Net)).toEqual(['kubectl-create/Update: spec.subnets', 'kubectl-patch/Update: spec.mtu']);
    // Nothing changed: the entries stay as they were (no new timestamps).
    expect(managedFieldsAfterUpdate(withFields, withFields, 'other', AV, now)).toEqual(first);
  });

  it('decides on the admitted object: a list re-sent without its defaulted values is no change and no conflict', () => {
    const stored = apply(undefined, config({ subnets: [{ cidr: '10.0.0.0/24', gateway: '10.0.0.1' }] }), 'a');
    const cfg = config({ subnets: [{ cidr: '10.0.0.0/24' }] });
    const merged = applyConfiguration<Net>(stored, cfg, 'b');
    // Admission defaults the gateway again: the stored value, unchanged.
    const admitted = { ...merged, spec: { subnets: [{ cidr: '10.0.0.0/24', gateway: '10.0.0.1' }] } } as Net;
    expect(managedFieldsAfterApply(stored, admitted, cfg, { manager: 'b', force: false, apiVersion: AV, now }).map((e) => e.manager)).toEqual(['a', 'b']);
    expect(managedFieldsAfterUpdate(stored, admitted, 'c', AV, now)).toEqual(managedFieldsOf(stored));
  });

  it('adds and removes its own finalizers, never the others\'', () => {
    const stored = { apiVersion: AV, kind: 'VirtualNetwork', metadata: { name: 'n', finalizers: ['vnet.dev/ipam'], managedFields: [] }, spec: { mtu: 1400 } } as unknown as Net;
    const cfg = { ...config({ mtu: 1400 }), metadata: { name: 'n', finalizers: ['example.com/keep'] } };
    const held = apply(stored, cfg, 'a');
    expect(held.metadata.finalizers).toEqual(['vnet.dev/ipam', 'example.com/keep']);
    expect(managers(held)).toContain('a/Apply: metadata.finalizers.v:"example.com/keep",spec.mtu');
    expect(toFieldsV1([['metadata', 'finalizers', 'v:"x"']])).toEqual({ 'f:metadata': { 'f:finalizers': { 'v:"x"': {} } } });
    const dropped = apply(held, config({ mtu: 1400 }), 'a');
    expect(dropped.metadata.finalizers).toEqual(['vnet.dev/ipam']);
  });

  it('an empty map in a configuration adds nothing and takes nothing away', () => {
    const stored = apply(undefined, config({ mtu: 1400 }, { a: '1' }), 'a');
    const next = apply(stored, { ...config({ mtu: 1400 }), metadata: { name: 'n', labels: {} } }, 'b');
    expect(next.metadata.labels).toEqual({ a: '1' });
  });

  it('an object written before managedFields existed: its fields are before-first-apply\'s, so the first apply conflicts where it changes them and never removes them later', () => {
    const legacy = { apiVersion: AV, kind: 'VirtualNetwork', metadata: { name: 'n', labels: { team: 'x', env: 'prod' } }, spec: { mtu: 1400 } } as Net;
    expect(() => apply(legacy, config({ mtu: 1300 }), 'flux')).toThrow('conflict with "before-first-apply" using vnet.dev/v1alpha1: .spec.mtu');
    const first = apply(legacy, config({ mtu: 1400 }, { team: 'x' }), 'flux');
    // flux stops applying team: before-first-apply still holds it.
    expect(apply(first, config({ mtu: 1400 }), 'flux').metadata.labels).toEqual({ team: 'x', env: 'prod' });
  });

  it('an apply that sets nothing keeps no entry', () => {
    const stored = apply(undefined, config({ mtu: 1400 }), 'a');
    expect(managers(apply(stored, { apiVersion: AV, kind: 'VirtualNetwork', metadata: { name: 'n' } }, 'b'))).toEqual(['a/Apply: spec.mtu']);
  });

  it('names the manager of a write without one after the client program', () => {
    expect(defaultFieldManager('kubectl/v1.32.0 (linux/amd64) kubernetes/abc')).toBe('kubectl');
    expect(defaultFieldManager(undefined)).toBe('unknown');
  });
});
