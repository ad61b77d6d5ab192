/**
 * Field selectors with Kubernetes' syntax and escaping (apimachinery's fields package):
 * `metadata.name=x`, `metadata.namespace!=y`, `spec.node=`, comma = AND; `\`, `,` and `=`
 * in a value escaped with a backslash. Shared by the API, which parses and matches them,
 * and the agents, which write them.
 */
import type { KubeObject } from './object';

export class SelectorSyntaxError extends Error {}

/**
 * Field labels beyond name and namespace, as Kubernetes offers spec.nodeName for pods:
 * what a per-node agent selects on (ports of its node, objects of one network, the port of
 * one of its NICs, ports bound to it). A field an object lacks reads as "" (so `spec.node=`
 * selects unpinned ports). Which kind offers which is KIND_FIELDS'.
 */
const OBJECT_FIELDS = ['spec.node', 'spec.network', 'spec.interfaceId', 'status.node'] as const;
/**
 * An Event's, as kube-apiserver offers them: `kubectl describe` finds an object's events by
 * involvedObject.{name,namespace,kind,uid}; `source` is source.component.
 */
const EVENT_FIELDS = [
  'involvedObject.kind',
  'involvedObject.name',
  'involvedObject.namespace',
  'involvedObject.uid',
  'involvedObject.apiVersion',
  'involvedObject.resourceVersion',
  'involvedObject.fieldPath',
  'reason',
  'type',
  'source',
  'reportingComponent',
] as const;
type ObjectField = (typeof OBJECT_FIELDS)[number] | (typeof EVENT_FIELDS)[number];
const FIELDS: readonly string[] = [...OBJECT_FIELDS, ...EVENT_FIELDS];

export interface FieldRequirement {
  field: 'metadata.name' | 'metadata.namespace' | ObjectField;
  equals: boolean;
  value: string;
}

/**
 * A value as a field selector must carry it (Kubernetes' fields.EscapeValue): `\`, `,` and
 * `=` escaped with a backslash, so that an interface id or a name holding them selects
 * exactly itself.
 */
export function escapeFieldValue(value: string): string {
  return value.replace(/[\\,=]/g, (c) => `\\${c}`);
}

/** Splits on commas that are not escaped (Kubernetes' splitTerms). */
function splitFieldTerms(s: string): string[] {
  const out: string[] = [];
  let cur = '';
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!;
    if (ch === '\\' && i + 1 < s.length) {
      cur += ch + s[++i]!;
      continue;
    }
    if (ch === ',') {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out.filter((t) => t.length > 0);
}

/** The term's first operator, as Kubernetes' splitTerm finds it (escapes belong to values, after it). */
function splitFieldTerm(term: string): { lhs: string; op: '=' | '==' | '!='; rhs: string } | undefined {
  for (let i = 0; i < term.length; i++) {
    for (const op of ['!=', '==', '='] as const) {
      if (term.startsWith(op, i)) return { lhs: term.slice(0, i), op, rhs: term.slice(i + op.length) };
    }
  }
  return undefined;
}

function unescapeFieldValue(v: string): string {
  let out = '';
  for (let i = 0; i < v.length; i++) {
    const ch = v[i]!;
    if (ch === '\\') {
      const next = v[i + 1];
      if (next !== '\\' && next !== ',' && next !== '=') throw new SelectorSyntaxError(`invalid field selector value: invalid escape sequence in "${v}"`);
      out += next;
      i++;
    } else if (ch === ',' || ch === '=') {
      throw new SelectorSyntaxError(`invalid field selector value: unescaped "${ch}" in "${v}"`);
    } else out += ch;
  }
  return out;
}

export function parseFieldSelector(s: string | undefined): FieldRequirement[] {
  if (!s || !s.trim()) return [];
  return splitFieldTerms(s).map((term) => {
    const parts = splitFieldTerm(term);
    if (!parts) throw new SelectorSyntaxError(`invalid field selector: "${term}"`);
    // The name may be spaced from its operator; the value is taken as it is (Kubernetes
    // trims neither, and an escaped value cannot protect its spaces).
    const field = parts.lhs.trim();
    if (field !== 'metadata.name' && field !== 'metadata.namespace' && !FIELDS.includes(field)) {
      throw new SelectorSyntaxError(`field label not supported: ${field}`);
    }
    return { field: field as FieldRequirement['field'], equals: parts.op !== '!=', value: unescapeFieldValue(parts.rhs) };
  });
}

/** The value a field selector compares (a field the object lacks reads as ""). */
export function fieldValue(field: FieldRequirement['field'], obj: KubeObject): string {
  if (field === 'metadata.name') return obj.metadata.name;
  if (field === 'metadata.namespace') return obj.metadata.namespace ?? '';
  const top = obj as unknown as Record<string, unknown>;
  const path = field === 'source' ? 'source.component' : field;
  const dot = path.indexOf('.');
  if (dot < 0) return String(top[path] ?? '');
  const section = top[path.slice(0, dot)] as Record<string, unknown> | undefined;
  return String(section?.[path.slice(dot + 1)] ?? '');
}

/**
 * The field labels each kind offers beside metadata.name and metadata.namespace (which every
 * kind has): its own fields only, as kube-apiserver decides them per resource. One set for
 * every kind made `spec.network=blue` select no network and `spec.interfaceId!=x` every one,
 * where kube-apiserver says the label is not supported (QA-134 F5). A token's spec.node is its
 * agent's node.
 */
const KIND_FIELDS: ReadonlyMap<string, readonly string[]> = new Map<string, readonly string[]>([
  ['VirtualPort', OBJECT_FIELDS],
  ['LoadBalancer', ['spec.network']],
  ['AccessToken', ['spec.node']],
  ['Event', EVENT_FIELDS],
]);

/** The field labels a kind offers, metadata.name and metadata.namespace first. */
function supportedFields(kind: string): readonly string[] {
  return ['metadata.name', 'metadata.namespace', ...(KIND_FIELDS.get(kind) ?? [])];
}

/**
 * The first field of a selector that the kind does not offer (kube-apiserver's 400 "field
 * label not supported"): another kind's field would select as if the object had it empty.
 */
export function unsupportedField(kind: string, reqs: readonly FieldRequirement[]): string | undefined {
  const own = supportedFields(kind);
  return reqs.find((r) => !own.includes(r.field))?.field;
}

export function matchesFields(reqs: FieldRequirement[], obj: KubeObject): boolean {
  return reqs.every((r) => (fieldValue(r.field, obj) === r.value) === r.equals);
}
