import { findKind } from './kinds';
import { eventsNamespace, subjectSelector } from './events';

describe('the events of one object', () => {
  it('are selected by its kind and name, and its uid when known (not an earlier object of the name)', () => {
    expect(subjectSelector({ kind: findKind('vlb')!, name: 'web' })).toBe('involvedObject.kind=LoadBalancer,involvedObject.name=web');
    expect(subjectSelector({ kind: findKind('vport')!, name: 'vm1', uid: 'u-1' })).toBe('involvedObject.kind=VirtualPort,involvedObject.name=vm1,involvedObject.uid=u-1');
  });

  it('are in its namespace, a Node\'s in "default" (as Kubernetes records them), everywhere with -A', () => {
    expect(eventsNamespace(findKind('vlb'), 't1')).toBe('t1');
    expect(eventsNamespace(findKind('node'), 't1')).toBe('default');
    expect(eventsNamespace(findKind('node'), undefined)).toBeUndefined();
    expect(eventsNamespace(undefined, 't1')).toBe('t1');
  });
});
