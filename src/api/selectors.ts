/**
 * Label and field selectors with Kubernetes syntax:
 *   labels: `a=b`, `a==b`, `a!=b`, `a in (x,y)`, `a notin (x)`, `a`, `!a`, comma = AND
 *   fields: `metadata.name=x`, `metadata.namespace!=y`
 */
import type { KubeObject } from '../resources/object';

export type Requirement =
  | { key: string; op: 'in' | 'notin'; values: string[] }
  | { key: string; op: 'exists' | '!exists' };

export class SelectorSyntaxError extends Error {}

/** Splits on commas that are not inside parentheses. */
function splitTerms(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of s) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out.map((t) => t.trim()).filter((t) => t.length > 0);
}

export function parseLabelSelector(s: string | undefined): Requirement[] {
  if (!s || !s.trim()) return [];
  return splitTerms(s).map((term) => {
    let m = /^([A-Za-z0-9./_-]+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(term);
    if (m) return { key: m[1]!, op: m[2] as 'in' | 'notin', values: m[3]!.split(',').map((v) => v.trim()) };
    m = /^([A-Za-z0-9./_-]+)\s*(==|=|!=)\s*([A-Za-z0-9._-]*)$/.exec(term);
    if (m) return { key: m[1]!, op: m[2] === '!=' ? 'notin' : 'in', values: [m[3]!] };
    m = /^(!?)([A-Za-z0-9./_-]+)$/.exec(term);
    if (m) return { key: m[2]!, op: m[1] ? '!exists' : 'exists' };
    throw new SelectorSyntaxError(`unable to parse requirement: "${term}"`);
  });
}

export function matchesLabels(reqs: Requirement[], labels: Record<string, string> | undefined): boolean {
  const l = labels ?? {};
  return reqs.every((r) => {
    const has = Object.prototype.hasOwnProperty.call(l, r.key);
    switch (r.op) {
      case 'exists':
        return has;
      case '!exists':
        return !has;
      case 'in':
        return has && r.values.includes(l[r.key]!);
      case 'notin':
        return !has || !r.values.includes(l[r.key]!);
    }
  });
}

/**
 * Field labels beyond name and namespace, as Kubernetes offers spec.nodeName for pods:
 * what a per-node agent selects on (ports of its node, objects of one network). A field
 * an object lacks reads as "" (so `spec.node=` selects unpinned ports).
 */
const SPEC_FIELDS = ['spec.node', 'spec.network'] as const;
type SpecField = (typeof SPEC_FIELDS)[number];

export interface FieldRequirement {
  field: 'metadata.name' | 'metadata.namespace' | SpecField;
  equals: boolean;
  value: string;
}

export function parseFieldSelector(s: string | undefined): FieldRequirement[] {
  if (!s || !s.trim()) return [];
  return splitTerms(s).map((term) => {
    const m = /^([A-Za-z.]+)\s*(==|=|!=)\s*(.*)$/.exec(term);
    if (!m) throw new SelectorSyntaxError(`invalid field selector: "${term}"`);
    const field = m[1]!;
    if (field !== 'metadata.name' && field !== 'metadata.namespace' && !(SPEC_FIELDS as readonly string[]).includes(field)) {
      throw new SelectorSyntaxError(`field label not supported: ${field}`);
    }
    return { field: field as FieldRequirement['field'], equals: m[2] !== '!=', value: m[3]!.trim() };
  });
}

/** The value a field selector compares (a field the object lacks reads as ""). */
export function fieldValue(field: FieldRequirement['field'], obj: KubeObject): string {
  if (field === 'metadata.name') return obj.metadata.name;
  if (field === 'metadata.namespace') return obj.metadata.namespace ?? '';
  const spec = (obj as { spec?: Record<string, unknown> }).spec;
  return String(spec?.[field.slice('spec.'.length)] ?? '');
}

export function matchesFields(reqs: FieldRequirement[], obj: KubeObject): boolean {
  return reqs.every((r) => (fieldValue(r.field, obj) === r.value) === r.equals);
}

export interface ObjectFilter {
  labels: Requirement[];
  fields: FieldRequirement[];
}

export function matches(filter: ObjectFilter, obj: KubeObject): boolean {
  return matchesLabels(filter.labels, obj.metadata.labels) && matchesFields(filter.fields, obj);
}
