/**
 * status.conditions with Kubernetes semantics (apimachinery's meta.SetStatusCondition):
 * one entry per type; lastTransitionTime moves only when status flips, so "Ready since"
 * stays meaningful across reconciles that merely refresh the message.
 *
 * Pure: functions return a new array, or the very same array when nothing changed, so
 * `next !== prev` tells the caller whether a status write is needed, and arrays taken
 * from an informer's cache are never mutated.
 */
import { kubeTime, type Condition, type ConditionStatus } from '../resources/object';

export type ConditionInput = Omit<Condition, 'lastTransitionTime'> & { lastTransitionTime?: string };

type Conditions = readonly Condition[] | undefined;

export function getCondition(conditions: Conditions, type: string): Condition | undefined {
  // A loop, not find(): called several times per reconcile of every object.
  if (!conditions) return undefined;
  for (const c of conditions) if (c.type === type) return c;
  return undefined;
}

export function isTrue(conditions: Conditions, type: string): boolean {
  return getCondition(conditions, type)?.status === 'True';
}

export function isFalse(conditions: Conditions, type: string): boolean {
  return getCondition(conditions, type)?.status === 'False';
}

export function conditionStatus(conditions: Conditions, type: string): ConditionStatus {
  return getCondition(conditions, type)?.status ?? 'Unknown';
}

/**
 * Sets (adds or replaces) the condition of input.type. lastTransitionTime: kept when
 * status is unchanged, else input.lastTransitionTime or now.
 */
export function setCondition(conditions: Conditions, input: ConditionInput, now?: Date): Condition[] {
  const list = conditions ?? [];
  const i = list.findIndex((c) => c.type === input.type);
  const existing = i >= 0 ? list[i] : undefined;
  if (
    existing &&
    existing.status === input.status &&
    existing.reason === input.reason &&
    existing.message === input.message &&
    existing.observedGeneration === input.observedGeneration
  ) {
    return conditions as Condition[];
  }
  const next: Condition = {
    type: input.type,
    status: input.status,
    observedGeneration: input.observedGeneration,
    lastTransitionTime:
      existing && existing.status === input.status
        ? existing.lastTransitionTime
        : (input.lastTransitionTime ?? rfc3339(now ?? new Date())),
    reason: input.reason,
    message: input.message,
  };
  if (next.observedGeneration === undefined) delete next.observedGeneration;
  return i >= 0 ? list.map((c, j) => (j === i ? next : c)) : [...list, next];
}

/** Removes the condition of type; returns the input itself (even undefined) if there was none. */
export function removeCondition(conditions: Conditions, type: string): Condition[] | undefined {
  if (!conditions?.some((c) => c.type === type)) return conditions as Condition[] | undefined;
  return conditions.filter((c) => c.type !== type);
}

let lastSecond = NaN;
let lastText = '';

/** metav1.Time is RFC 3339 at second precision (formatted once per second: bursts of status writes share it). */
function rfc3339(d: Date): string {
  const second = Math.floor(d.getTime() / 1000);
  if (second !== lastSecond) {
    lastSecond = second;
    lastText = kubeTime(d);
  }
  return lastText;
}
