import pino from 'pino';
import type { KubeEvent } from '../../resources/event';
import type { KubeObject } from '../../resources/object';
import { EVENTS, NAMESPACES } from '../../store/kinds';
import { ObjectStore } from '../../store/object-store';
import { SqliteStore } from '../../store/sqlite-store';
import { SharedInformers } from '../shared-informers';
import { EventRecorder } from './event-recorder';

const port = (name: string, namespace = 't', uid = `uid-${name}`): KubeObject => ({ apiVersion: 'vnet.dev/v1alpha1', kind: 'VirtualPort', metadata: { name, namespace, uid, resourceVersion: '7' } });
const node: KubeObject = { apiVersion: 'vnet.dev/v1alpha1', kind: 'Node', metadata: { name: 'hv1', uid: 'uid-hv1' } };

async function bed(options: { burst?: number; perSecond?: number; allBurst?: number; allPerSecond?: number } = {}) {
  const objects = new ObjectStore(SqliteStore.open(':memory:'));
  for (const name of ['t', 'default', 'going', 'soon-going']) await objects.create(NAMESPACES, { apiVersion: 'v1', kind: 'Namespace', metadata: { name, finalizers: ['kubernetes'] } });
  await objects.delete(NAMESPACES, undefined, 'going');
  const informers = new SharedInformers(objects.kv);
  let now = new Date('2026-12-05T10:00:00Z');
  const recorder = new EventRecorder({ objects, informers, logger: pino({ level: 'silent' }), instance: 'vnetd-test', host: 'h1', now: () => now, ttlMs: 3_600_000, sweepMs: 3_600_000, ...options });
  await recorder.start();
  const events = async (namespace = 't') => (await objects.list<KubeEvent>(EVENTS, namespace)).items;
  const close = async () => {
    await recorder.stop();
    informers.stop();
  };
  return { objects, informers, recorder, events, close, advance: (ms: number) => (now = new Date(now.getTime() + ms)) };
}

describe('EventRecorder', () => {
  it('records an event as kubectl reads it, and counts its repeats into it', async () => {
    const b = await bed();
    b.recorder.record(port('vm1'), 'Warning', 'NodeNotFound', 'Bound: node hv9 does not exist');
    await b.recorder.flush();
    b.advance(5_000);
    b.recorder.record(port('vm1'), 'Warning', 'NodeNotFound', 'Bound: node hv9 does not exist');
    b.recorder.record(port('vm1'), 'Warning', 'NodeNotFound', 'Bound: node hv9 does not exist');
    await b.recorder.flush();
    const [e, ...more] = await b.events();
    expect(more).toEqual([]);
    expect(e).toMatchObject({
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { namespace: 't', name: expect.stringMatching(/^vm1\.[0-9a-f]+$/) },
      involvedObject: { apiVersion: 'vnet.dev/v1alpha1', kind: 'VirtualPort', name: 'vm1', namespace: 't', uid: 'uid-vm1', resourceVersion: '7' },
      type: 'Warning',
      reason: 'NodeNotFound',
      message: 'Bound: node hv9 does not exist',
      source: { component: 'vnetd', host: 'h1' },
      reportingComponent: 'vnetd',
      reportingInstance: 'vnetd-test',
      firstTimestamp: '2026-12-05T10:00:00Z',
      lastTimestamp: '2026-12-05T10:00:05Z',
      count: 3,
    });
    // Another message, type or object is another event.
    b.recorder.record(port('vm1'), 'Normal', 'InterfaceFound', 'Bound: bound');
    b.recorder.record(port('vm2'), 'Warning', 'NodeNotFound', 'Bound: node hv9 does not exist');
    await b.recorder.flush();
    expect((await b.events()).map((x) => `${x.involvedObject.name} ${x.reason} ${x.count}`).sort()).toEqual(['vm1 InterfaceFound 1', 'vm1 NodeNotFound 3', 'vm2 NodeNotFound 1']);
    await b.close();
  });

  it('counts into an event written before a restart (a new recorder finds it through the store)', async () => {
    const b = await bed();
    b.recorder.record(port('vm1'), 'Warning', 'WrongBridge', 'Bound: on br0');
    await b.recorder.flush();
    await b.recorder.stop();
    const again = new EventRecorder({ objects: b.objects, informers: b.informers, logger: pino({ level: 'silent' }), instance: 'vnetd-2' });
    await again.start();
    again.record(port('vm1'), 'Warning', 'WrongBridge', 'Bound: on br0');
    await again.flush();
    expect((await b.events()).map((e) => e.count)).toEqual([2]);
    await again.stop();
    b.informers.stop();
  });

  it('records a cluster-scoped object\'s events in "default"; none in a namespace missing or being deleted', async () => {
    const b = await bed();
    b.recorder.record(node, 'Warning', 'AgentNotReporting', 'Ready: the agent stopped reporting');
    b.recorder.record(port('x', 'going'), 'Warning', 'NodeNotFound', 'm');
    b.recorder.record(port('y', 'nowhere'), 'Warning', 'NodeNotFound', 'm');
    await b.recorder.flush();
    expect((await b.events('default')).map((e) => [e.involvedObject.kind, e.involvedObject.name, e.involvedObject.namespace])).toEqual([['Node', 'hv1', undefined]]);
    expect(await b.objects.count(EVENTS)).toBe(1);
    await b.close();
  });

  it('lets an object record a burst, then one event per interval; the latest held back is recorded once the limit allows', async () => {
    const b = await bed({ burst: 3, perSecond: 1 / 300 });
    const summary = async () => (await b.events()).map((e) => `${e.involvedObject.name} ${e.type} ${e.reason} x${e.count}: ${e.message}`).sort();
    // A port flapping between the wrong bridge and bound.
    for (let i = 0; i < 10; i++) b.recorder.record(port('vm1'), i % 2 ? 'Normal' : 'Warning', i % 2 ? 'InterfaceFound' : 'WrongBridge', `flap ${i}`);
    await b.recorder.flush();
    expect(await summary()).toEqual(['vm1 Normal InterfaceFound x1: flap 1', 'vm1 Warning WrongBridge x2: flap 2']);
    // Its last state (flap 9: bound) waits; another object has its own bucket.
    b.recorder.record(port('vm2'), 'Warning', 'WrongBridge', 'another object');
    b.recorder.retryDeferred();
    await b.recorder.flush();
    expect(await summary()).toEqual(['vm1 Normal InterfaceFound x1: flap 1', 'vm1 Warning WrongBridge x2: flap 2', 'vm2 Warning WrongBridge x1: another object']);
    b.advance(300_000);
    b.recorder.retryDeferred();
    await b.recorder.flush();
    expect(await summary()).toEqual(['vm1 Normal InterfaceFound x2: flap 9', 'vm1 Warning WrongBridge x2: flap 2', 'vm2 Warning WrongBridge x1: another object']);
    // Nothing left waiting: a later retry records nothing more.
    b.advance(300_000);
    b.recorder.retryDeferred();
    await b.recorder.flush();
    expect((await summary())[0]).toBe('vm1 Normal InterfaceFound x2: flap 9');
    await b.close();
  });

  it('counts a repeat with another message into its event, which takes the latest message (messages carry times and counts)', async () => {
    const b = await bed();
    b.recorder.record(port('vm1'), 'Warning', 'SwitchUnreachable', 'Ready: the switch of node hv1 does not answer since 10:00:00');
    await b.recorder.flush();
    b.advance(60_000);
    b.recorder.record(port('vm1'), 'Warning', 'SwitchUnreachable', 'Ready: the switch of node hv1 does not answer since 10:01:00');
    await b.recorder.flush();
    expect((await b.events()).map((e) => [e.count, e.message, e.firstTimestamp, e.lastTimestamp])).toEqual([[2, 'Ready: the switch of node hv1 does not answer since 10:01:00', '2026-12-05T10:00:00Z', '2026-12-05T10:01:00Z']]);
    await b.close();
  });

  it('writes nothing into a namespace whose deletion began after the event was queued (its informer not told yet)', async () => {
    const b = await bed();
    // Queued behind other writes, so that the deletion commits before it is written.
    for (let i = 0; i < 30; i++) b.recorder.record(port(`ahead${i}`), 'Warning', 'R', 'm');
    b.recorder.record(port('late', 'soon-going'), 'Warning', 'R', 'm');
    await b.objects.delete(NAMESPACES, undefined, 'soon-going');
    await b.recorder.flush();
    expect(await b.objects.count(EVENTS)).toBe(30);
    expect(await b.events('soon-going')).toEqual([]);
    await b.close();
  });

  it('holds all objects together to a burst, then a rate (an incident that touches thousands of ports)', async () => {
    const b = await bed({ allBurst: 4, allPerSecond: 1 });
    for (let i = 0; i < 10; i++) b.recorder.record(port(`vm${i}`), 'Warning', 'SwitchUnreachable', 'Ready: the switch does not answer');
    await b.recorder.flush();
    expect(await b.objects.count(EVENTS)).toBe(4);
    b.advance(2_000);
    for (let i = 10; i < 20; i++) b.recorder.record(port(`vm${i}`), 'Warning', 'SwitchUnreachable', 'Ready: the switch does not answer');
    await b.recorder.flush();
    expect(await b.objects.count(EVENTS)).toBe(6);
    await b.close();
  });

  it('deletes events last seen longer ago than the TTL, and keeps those seen since', async () => {
    const b = await bed();
    b.recorder.record(port('old'), 'Warning', 'R', 'm');
    b.recorder.record(port('kept'), 'Warning', 'R', 'm');
    await b.recorder.flush();
    b.advance(3_000_000);
    b.recorder.record(port('kept'), 'Warning', 'R', 'm');
    await b.recorder.flush();
    b.advance(700_000);
    // The informer must have seen the repeat, or the sweep would judge the old copy.
    const deadline = Date.now() + 2_000;
    while (b.informers.of<KubeEvent>(EVENTS).list().find((e) => e.involvedObject.name === 'kept')?.count !== 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    expect(await b.recorder.sweep()).toBe(1);
    expect((await b.events()).map((e) => e.involvedObject.name)).toEqual(['kept']);
    await b.close();
  });

  it('records nothing for an object without a uid, nor once stopped', async () => {
    const b = await bed();
    b.recorder.record({ ...port('vm1'), metadata: { name: 'nouid', namespace: 't' } }, 'Warning', 'R', 'm');
    await b.recorder.flush();
    // A stop drops what is queued and not started: a leader stepping down does not wait for it.
    for (let i = 0; i < 30; i++) b.recorder.record(port(`queued${i}`), 'Warning', 'R', 'm');
    await b.recorder.stop();
    const written = await b.objects.count(EVENTS);
    expect(written).toBeLessThan(5);
    b.recorder.record(port('vm1'), 'Warning', 'R', 'm');
    await b.recorder.flush();
    expect(await b.objects.count(EVENTS)).toBe(written);
    b.informers.stop();
  });
});
