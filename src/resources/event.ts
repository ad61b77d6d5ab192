/**
 * core/v1 Events, as kube-apiserver serves them and kubectl reads them (`kubectl get events`,
 * the Events of `kubectl describe`): vnetd's controllers record what went wrong with an object
 * (and when it recovered) so that it can be read after the fact, not only in the object's
 * current conditions. Written by vnetd alone, read by anyone who may read the namespace.
 */
import type { KubeObject } from './object';

export type EventType = 'Normal' | 'Warning';

/** corev1.ObjectReference, as far as an event names its object. */
export interface InvolvedObject {
  apiVersion: string;
  kind: string;
  name: string;
  namespace?: string;
  uid?: string;
  /** The object's resourceVersion when the event was first recorded. */
  resourceVersion?: string;
}

/** corev1.Event: no spec or status, its fields at the top level (kube's shape, which kubectl decodes). */
export interface KubeEvent extends KubeObject {
  involvedObject: InvolvedObject;
  reason: string;
  message: string;
  type: EventType;
  source: { component: string; host?: string };
  firstTimestamp: string;
  lastTimestamp: string;
  count: number;
  reportingComponent: string;
  reportingInstance: string;
}

/** The namespace of a cluster-scoped object's events, as Kubernetes records a Node's. */
export const CLUSTER_EVENTS_NAMESPACE = 'default'; // always there: vnetd makes it and refuses its deletion

/** The longest name a DNS subdomain may have; an event's is its object's and a hex suffix. */
const NAME_MAX = 253;

/** kube's event name: the object's name and the time in hex (`vm1.17f3a2b4c5d6e7f8`). */
export function eventName(objectName: string, nowNs: bigint): string {
  const suffix = `.${nowNs.toString(16)}`;
  return `${objectName.slice(0, NAME_MAX - suffix.length)}${suffix}`;
}

/** An event's object as kubectl prints it: kind/name, the kind in lower case (virtualport/vm1); the server's Table and vnetctl alike. */
export function involvedObjectText(ref: { kind?: unknown; name?: unknown } | undefined): string {
  return typeof ref?.kind === 'string' && typeof ref.name === 'string' ? `${ref.kind.toLowerCase()}/${ref.name}` : '<none>';
}

/** Oldest first by when they were last seen (then first seen, then name), as `kubectl events` and a describe's Events list them. */
export function lastSeenOrder(a: Pick<KubeEvent, 'lastTimestamp' | 'firstTimestamp' | 'metadata'>, b: Pick<KubeEvent, 'lastTimestamp' | 'firstTimestamp' | 'metadata'>): number {
  return (a.lastTimestamp ?? '').localeCompare(b.lastTimestamp ?? '') || (a.firstTimestamp ?? '').localeCompare(b.firstTimestamp ?? '') || a.metadata.name.localeCompare(b.metadata.name);
}
