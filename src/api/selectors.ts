/**
 * Label selectors with Kubernetes syntax: `a=b`, `a==b`, `a!=b`, `a in (x,y)`, `a notin (x)`,
 * `a`, `!a`, comma = AND; and an object filter of labels and fields (field selectors:
 * ../resources/field-selector.ts).
 */
import { matchesFields, SelectorSyntaxError, type FieldRequirement } from '../resources/field-selector';
import type { KubeObject } from '../resources/object';
import { labelKeyError, labelValueError } from '../admission/names';

export { SelectorSyntaxError };
export { escapeFieldValue, fieldValue, matchesFields, parseFieldSelector, type FieldRequirement } from '../resources/field-selector';

export type Requirement =
  | { key: string; op: 'in' | 'notin'; values: string[] }
  | { key: string; op: 'exists' | '!exists' };

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
  return splitTerms(s).map((term) => checked(parseTerm(term)));
}

function parseTerm(term: string): Requirement {
  let m = /^([A-Za-z0-9./_-]+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(term);
  if (m) {
    const values = m[3]!.split(',').map((v) => v.trim());
    // As apimachinery: "for 'in', 'notin' operators, values set can't be empty".
    if (values.length === 1 && values[0] === '') throw new SelectorSyntaxError(`unable to parse requirement: "${term}": for 'in', 'notin' operators, values set can't be empty`);
    return { key: m[1]!, op: m[2] as 'in' | 'notin', values };
  }
  m = /^([A-Za-z0-9./_-]+)\s*(==|=|!=)\s*([A-Za-z0-9._-]*)$/.exec(term);
  if (m) return { key: m[1]!, op: m[2] === '!=' ? 'notin' : 'in', values: [m[3]!] };
  m = /^(!?)([A-Za-z0-9./_-]+)$/.exec(term);
  if (m) return { key: m[2]!, op: m[1] ? '!exists' : 'exists' };
  throw new SelectorSyntaxError(`unable to parse requirement: "${term}"`);
}

/**
 * The key and values a label may have, as apimachinery's NewRequirement checks them: a
 * selector no label can match is a mistake to say (QA-102: 64-character values were taken),
 * in kube-apiserver's words.
 */
function checked(r: Requirement): Requirement {
  const keyError = labelKeyError(r.key);
  if (keyError) throw new SelectorSyntaxError(`unable to parse requirement: key: Invalid value: "${r.key}": ${keyError}`);
  if (r.op === 'in' || r.op === 'notin') {
    r.values.forEach((v, i) => {
      const valueError = labelValueError(v);
      if (valueError) throw new SelectorSyntaxError(`unable to parse requirement: values[${i}][${r.key}]: Invalid value: "${v}": ${valueError}`);
    });
  }
  return r;
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


export interface ObjectFilter {
  labels: Requirement[];
  fields: FieldRequirement[];
}

export function matches(filter: ObjectFilter, obj: KubeObject): boolean {
  return matchesLabels(filter.labels, obj.metadata.labels) && matchesFields(filter.fields, obj);
}
