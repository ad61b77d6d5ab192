/**
 * Reading core/v1 Events: the one reader behind `lb status`'s Events and `vnetctl get events
 * --for KIND/NAME`. vnetd serves them under /api/v1 (events.k8s.io is not served) and selects
 * an object's by involvedObject fields, as kubectl describe asks for them.
 */
import { CLUSTER_EVENTS_NAMESPACE, type KubeEvent } from '../resources/event';
import { kindByPlural, type KindInfo } from './kinds';
import { listObjects } from './ops';
import type { Runtime } from './runtime';

export const EVENTS = kindByPlural('events');

/** The object whose events are asked for; its uid, when known, leaves out an earlier object of the name. */
export interface EventSubject {
  kind: KindInfo;
  name: string;
  uid?: string;
}

export function subjectSelector(s: EventSubject): string {
  return `involvedObject.kind=${s.kind.kind},involvedObject.name=${s.name}${s.uid ? `,involvedObject.uid=${s.uid}` : ''}`;
}

/**
 * Where an object's events are: its own namespace, or "default" for a cluster-scoped one (a
 * Node's, as Kubernetes records them); undefined for every namespace.
 */
export function eventsNamespace(subject: KindInfo | undefined, ns: string | undefined): string | undefined {
  return subject && !subject.namespaced && ns !== undefined ? CLUSTER_EVENTS_NAMESPACE : ns;
}

/** The events in ns (undefined: every namespace the token may read), only the subject's when given. Errors propagate. */
export async function listEvents(rt: Runtime, ns: string | undefined, subject?: EventSubject): Promise<KubeEvent[]> {
  const res = await listObjects<KubeEvent>(rt, EVENTS, eventsNamespace(subject?.kind, ns), subject ? { fieldSelector: subjectSelector(subject) } : {});
  return res.items;
}
