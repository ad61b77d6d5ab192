/** `wait --for`: condition=TYPE[=STATUS] (STATUS defaults to True) or delete, as in kubectl wait. */
import type { KubeObject } from '../../resources/object';

export type WaitFor = { kind: 'condition'; type: string; status: string } | { kind: 'delete' };

export function parseWaitFor(text: string): WaitFor {
  if (text === 'delete') return { kind: 'delete' };
  const m = /^condition=([A-Za-z][\w.-]*)(?:=(\w+))?$/.exec(text);
  if (!m) throw new Error(`"${text}" is not condition=TYPE[=True|False|Unknown] or delete`);
  const raw = (m[2] ?? 'True').toLowerCase();
  const status = raw === 'true' ? 'True' : raw === 'false' ? 'False' : raw === 'unknown' ? 'Unknown' : undefined;
  if (!status) throw new Error(`"${text}": status "${m[2]}" is not True, False or Unknown`);
  return { kind: 'condition', type: m[1]!, status };
}

interface Cond {
  type: string;
  status: string;
  reason?: string;
  message?: string;
  observedGeneration?: number;
}

function conditionOf(o: KubeObject, type: string): Cond | undefined {
  const conds = (o.status as { conditions?: Cond[] } | undefined)?.conditions ?? [];
  return conds.find((c) => c.type.toLowerCase() === type.toLowerCase());
}

/**
 * Whether the object meets a condition wait. A condition observed for an older
 * generation does not count: it describes a spec that is no longer there.
 */
export function conditionMet(o: KubeObject, want: { type: string; status: string }): boolean {
  const c = conditionOf(o, want.type);
  if (!c || c.status !== want.status) return false;
  const gen = o.metadata.generation;
  return c.observedGeneration === undefined || gen === undefined || c.observedGeneration >= gen;
}

/** One phrase for a timeout message: what the condition is now. */
export function conditionSummary(o: KubeObject | undefined, type: string): string {
  if (!o) return 'the object does not exist';
  const c = conditionOf(o, type);
  if (!c) return `it has no ${type} condition yet`;
  const stale = c.observedGeneration !== undefined && o.metadata.generation !== undefined && c.observedGeneration < o.metadata.generation;
  return `${type} is ${c.status}${c.reason ? ` (${c.reason}${c.message ? `: ${c.message}` : ''})` : ''}${stale ? ' for an older generation' : ''}`;
}
