import type { KubeObject } from '../resources/object';
import { onlyStatusChanged, sameSpecAndLifecycle } from './predicates';

const obj = (over: Partial<KubeObject> = {}): KubeObject => ({
  apiVersion: 'vnet.dev/v1alpha1',
  kind: 'Node',
  metadata: { name: 'hv1', uid: 'u', generation: 1, resourceVersion: '5' },
  spec: { tunnelIP: '192.0.2.1' },
  status: { boundPorts: 1 },
  ...over,
});

describe('onlyStatusChanged', () => {
  it('is true for a status write (resourceVersion moves too)', () => {
    expect(onlyStatusChanged(obj(), obj({ status: { boundPorts: 2 }, metadata: { name: 'hv1', uid: 'u', generation: 1, resourceVersion: '6' } }))).toBe(true);
  });
  it('is false when spec, generation, deletion, finalizers or labels change', () => {
    expect(onlyStatusChanged(obj(), obj({ spec: { tunnelIP: '192.0.2.2' } }))).toBe(false);
    expect(onlyStatusChanged(obj(), obj({ metadata: { name: 'hv1', uid: 'u', generation: 2 } }))).toBe(false);
    expect(onlyStatusChanged(obj(), obj({ metadata: { name: 'hv1', uid: 'u', generation: 1, deletionTimestamp: '2026-11-28T10:00:00Z' } }))).toBe(false);
    expect(onlyStatusChanged(obj(), obj({ metadata: { name: 'hv1', uid: 'u', generation: 1, finalizers: ['f'] } }))).toBe(false);
    expect(onlyStatusChanged(obj(), obj({ metadata: { name: 'hv1', uid: 'u', generation: 1, labels: { a: 'b' } } }))).toBe(false);
  });
});

describe('sameSpecAndLifecycle', () => {
  it('is true when only status, labels, annotations or resourceVersion changed', () => {
    expect(sameSpecAndLifecycle(obj(), obj({ status: { boundPorts: 9 } }))).toBe(true);
    expect(sameSpecAndLifecycle(obj(), obj({ metadata: { name: 'hv1', uid: 'u', generation: 1, resourceVersion: '9', labels: { a: 'b' }, annotations: { n: 'x' } } }))).toBe(true);
    // Key order and an undefined property are not changes (the stored JSON is the same).
    expect(sameSpecAndLifecycle(obj({ spec: { a: 1, b: 2 } }), obj({ spec: { b: 2, a: 1, c: undefined } }))).toBe(true);
  });

  it('is false when spec, generation, uid, deletion or finalizers changed', () => {
    expect(sameSpecAndLifecycle(obj(), obj({ spec: { tunnelIP: '192.0.2.9' } }))).toBe(false);
    expect(sameSpecAndLifecycle(obj(), obj({ metadata: { name: 'hv1', uid: 'u', generation: 2 } }))).toBe(false);
    expect(sameSpecAndLifecycle(obj(), obj({ metadata: { name: 'hv1', uid: 'other', generation: 1 } }))).toBe(false);
    expect(sameSpecAndLifecycle(obj(), obj({ metadata: { name: 'hv1', uid: 'u', generation: 1, deletionTimestamp: '2026-11-28T10:00:00Z' } }))).toBe(false);
    expect(sameSpecAndLifecycle(obj(), obj({ metadata: { name: 'hv1', uid: 'u', generation: 1, finalizers: ['f'] } }))).toBe(false);
    expect(sameSpecAndLifecycle(obj({ metadata: { name: 'hv1', uid: 'u', generation: 1, finalizers: ['f', 'g'] } }), obj({ metadata: { name: 'hv1', uid: 'u', generation: 1, finalizers: ['f'] } }))).toBe(false);
  });
});
