import type { KubeObject } from '../resources/object';
import { addFinalizer, hasFinalizer, isBeingDeleted, removeFinalizer } from './finalizers';

const F = 'vnet.dev/ipam';
const obj = (finalizers?: string[], deletionTimestamp?: string): KubeObject => ({
  apiVersion: 'vnet.dev/v1alpha1',
  kind: 'VirtualPort',
  metadata: { name: 'p', namespace: 't', finalizers, deletionTimestamp },
});

describe('finalizers', () => {
  it('adds once, without mutating the input', () => {
    const o = obj();
    const a = addFinalizer(o, F);
    expect(a.metadata.finalizers).toEqual([F]);
    expect(o.metadata.finalizers).toBeUndefined();
    expect(addFinalizer(a, F)).toBe(a);
    expect(addFinalizer(obj(['other']), F).metadata.finalizers).toEqual(['other', F]);
  });

  it('removes every copy and drops an empty list', () => {
    const o = obj([F, 'other', F]);
    const r = removeFinalizer(o, F);
    expect(r.metadata.finalizers).toEqual(['other']);
    expect(o.metadata.finalizers).toEqual([F, 'other', F]);
    const empty = removeFinalizer(obj([F]), F);
    expect(empty.metadata).not.toHaveProperty('finalizers');
    const none = obj(['other']);
    expect(removeFinalizer(none, F)).toBe(none);
  });

  it('answers has and being-deleted', () => {
    expect(hasFinalizer(obj([F]), F)).toBe(true);
    expect(hasFinalizer(obj(), F)).toBe(false);
    expect(isBeingDeleted(obj([F], '2026-01-01T00:00:00Z'))).toBe(true);
    expect(isBeingDeleted(obj([F]))).toBe(false);
  });
});
