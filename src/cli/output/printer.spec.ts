import type { KubeEvent } from '../../resources/event';
import { findKind, kindByPlural } from '../kinds';
import { renderObjects } from './printer';

const term = { isTTY: false, stderrIsTTY: false, color: false };
const EVENTS = kindByPlural('events');
const ago = (s: number) => new Date(Date.now() - s * 1000).toISOString();
const event = (name: string, lastSeenAgo: number, over: Partial<KubeEvent> = {}): KubeEvent => ({
  apiVersion: 'v1',
  kind: 'Event',
  metadata: { name, namespace: 'd2' },
  involvedObject: { apiVersion: 'vnet.dev/v1alpha1', kind: 'LoadBalancer', name: 'web', namespace: 'd2' },
  reason: 'BackendNotFound',
  message: 'BackendsAvailable: backend absent: no VirtualPort "absent"',
  type: 'Warning',
  source: { component: 'vnetd' },
  firstTimestamp: ago(lastSeenAgo + 60),
  lastTimestamp: ago(lastSeenAgo),
  count: 2,
  reportingComponent: 'vnetd',
  reportingInstance: 'vnetd-1',
  ...over,
});

describe('renderObjects: events, as kubectl get events prints them', () => {
  // The server lists by name: here a newer event's name sorts first.
  const items = [event('web.2', 30, { type: 'Normal', reason: 'AllBackendsAvailable', message: 'BackendsAvailable: all 1' }), event('web.1', 600)];

  it('LAST SEEN, TYPE, REASON, OBJECT, MESSAGE, oldest first, with no NAME column', () => {
    const lines = renderObjects(EVENTS, items, 'table', term).trimEnd().split('\n');
    expect(lines[0]).toMatch(/^LAST SEEN +TYPE +REASON +OBJECT +MESSAGE$/);
    expect(lines[1]).toMatch(/^10m +Warning +BackendNotFound +loadbalancer\/web +BackendsAvailable: backend absent/);
    expect(lines[2]).toMatch(/^30s +Normal +AllBackendsAvailable +loadbalancer\/web +BackendsAvailable: all 1$/);
  });

  it('-o wide adds SOURCE, FIRST SEEN, COUNT and the NAME last; -A the NAMESPACE first', () => {
    const wide = renderObjects(EVENTS, items, 'wide', term).split('\n');
    expect(wide[0]).toMatch(/^LAST SEEN +TYPE +REASON +OBJECT +SOURCE +MESSAGE +FIRST SEEN +COUNT +NAME$/);
    expect(wide[1]).toMatch(/ vnetd +BackendsAvailable: .* 11m +2 +web\.1$/);
    expect(renderObjects(EVENTS, items, 'table', term, { withNamespace: true }).split('\n')[0]).toMatch(/^NAMESPACE +LAST SEEN +TYPE/);
  });

  it('-o name and json in the same order', () => {
    expect(renderObjects(EVENTS, items, 'name', term)).toBe('event/web.1\nevent/web.2\n');
    expect(JSON.parse(renderObjects(EVENTS, items, 'json', term)).items.map((e: KubeEvent) => e.metadata.name)).toEqual(['web.1', 'web.2']);
  });

  it('leaves other kinds in the order the server gave, NAME first', () => {
    const nets = ['b', 'a'].map((name) => ({ apiVersion: 'vnet.dev/v1alpha1', kind: 'VirtualNetwork', metadata: { name } }));
    const lines = renderObjects(findKind('vnet')!, nets, 'table', term).split('\n');
    expect([lines[0]!.split(/ +/)[0], lines[1]!.split(' ')[0], lines[2]!.split(' ')[0]]).toEqual(['NAME', 'b', 'a']);
  });
});
