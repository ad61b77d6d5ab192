/**
 * The small JSONPath subset printer columns use: `.a.b`, `[n]`, `[*]`, and
 * `[?(@.key=="value")]`. Returns every match, in order.
 */
type Step = { prop: string } | { index: number } | { all: true } | { filterKey: string; filterValue: string };

function parse(path: string): Step[] {
  const steps: Step[] = [];
  const re = /\.([A-Za-z0-9_-]+)|\[(\d+)\]|\[\*\]|\[\?\(@\.([A-Za-z0-9_-]+)==["']([^"']*)["']\)\]/g;
  let m: RegExpExecArray | null;
  let consumed = 0;
  while ((m = re.exec(path)) !== null) {
    if (m.index !== consumed) throw new Error(`unsupported JSONPath ${path}`);
    consumed = re.lastIndex;
    if (m[1] !== undefined) steps.push({ prop: m[1] });
    else if (m[2] !== undefined) steps.push({ index: Number(m[2]) });
    else if (m[3] !== undefined) steps.push({ filterKey: m[3], filterValue: m[4]! });
    else steps.push({ all: true });
  }
  if (consumed !== path.length) throw new Error(`unsupported JSONPath ${path}`);
  return steps;
}

export function evaluate(path: string, root: unknown): unknown[] {
  let current: unknown[] = [root];
  for (const step of parse(path)) {
    const next: unknown[] = [];
    for (const v of current) {
      if (v === null || v === undefined) continue;
      if ('prop' in step) {
        if (typeof v === 'object' && !Array.isArray(v) && step.prop in (v as object)) next.push((v as Record<string, unknown>)[step.prop]);
      } else if ('index' in step) {
        if (Array.isArray(v) && step.index < v.length) next.push(v[step.index]);
      } else if ('all' in step) {
        if (Array.isArray(v)) next.push(...v);
        else if (typeof v === 'object') next.push(...Object.values(v as object));
      } else if (Array.isArray(v)) {
        next.push(...v.filter((e) => e && typeof e === 'object' && String((e as Record<string, unknown>)[step.filterKey]) === step.filterValue));
      }
    }
    current = next;
  }
  return current.filter((v) => v !== undefined);
}
