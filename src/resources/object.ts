/** The Kubernetes object envelope every vnetd resource shares (metav1.ObjectMeta and friends). */

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
}

export interface ObjectMeta {
  name: string;
  /** Absent for cluster-scoped kinds (Node, Namespace). */
  namespace?: string;
  uid?: string;
  /** Decimal string of the store's modRevision; opaque to clients. */
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  deletionGracePeriodSeconds?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  finalizers?: string[];
  ownerReferences?: OwnerReference[];
  generateName?: string;
  managedFields?: unknown[];
  selfLink?: string;
}

/** A timestamp as Kubernetes writes metav1.Time (RFC 3339, whole seconds, UTC). */
export function kubeTime(at: Date): string {
  return at.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export type ConditionStatus = 'True' | 'False' | 'Unknown';

/** metav1.Condition. */
export interface Condition {
  type: string;
  status: ConditionStatus;
  observedGeneration?: number;
  lastTransitionTime: string;
  reason: string;
  message: string;
}

export interface ObjectStatusBase {
  observedGeneration?: number;
  conditions?: Condition[];
}

export interface KubeObject<Spec = unknown, Status = unknown> {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  spec?: Spec;
  status?: Status;
}
