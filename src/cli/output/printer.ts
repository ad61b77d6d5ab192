/** Prints objects in the format -o asks for: table, wide, json, yaml or name. */
import { stringify } from 'yaml';
import type { KubeObject } from '../../resources/object';
import { qualifiedName, type KindInfo } from '../kinds';
import { renderTable, statusColor, type Cell } from './table';
import type { Terminal } from './terminal';

export const OUTPUT_FORMATS = ['table', 'wide', 'json', 'yaml', 'name'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

export interface TableRenderOptions {
  wide: boolean;
  /** Adds a NAMESPACE column (lists across namespaces). */
  withNamespace: boolean;
  /** Leading column, e.g. the watch event type. */
  prefix?: { header: string; values: string[] };
  minWidths?: number[];
  onWidths?: (widths: number[]) => void;
}

export function tableLines(kind: KindInfo, objects: KubeObject[], opts: TableRenderOptions, term: Terminal): string[] {
  const cols = kind.columns.filter((c) => opts.wide || !c.wide);
  // Where NAME goes: first, or (nameWide) last and only with -o wide.
  const nameFirst = kind.nameWide ? [] : [true];
  const nameLast = kind.nameWide && opts.wide ? [true] : [];
  const headers = [
    ...(opts.prefix ? [opts.prefix.header] : []),
    ...(opts.withNamespace ? ['NAMESPACE'] : []),
    ...nameFirst.map(() => 'NAME'),
    ...cols.map((c) => c.header),
    ...nameLast.map(() => 'NAME'),
  ];
  const rows: Cell[][] = objects.map((o, i) => [
    ...(opts.prefix ? [{ text: opts.prefix.values[i] ?? '' }] : []),
    ...(opts.withNamespace ? [{ text: o.metadata.namespace ?? '' }] : []),
    ...nameFirst.map(() => ({ text: o.metadata.name })),
    ...cols.map((c) => {
      const text = c.value(o);
      return { text, color: c.header === 'READY' || c.header === 'CONNECTED' || c.header === 'TUNNELS' ? statusColor(text) : undefined };
    }),
    ...nameLast.map(() => ({ text: o.metadata.name })),
  ]);
  const keep = [...(opts.prefix ? [true] : []), ...(opts.withNamespace ? [true] : []), ...nameFirst, ...cols.map((c) => c.identifies === true), ...nameLast];
  return renderTable(headers, rows, { maxWidth: term.columns, color: term.color, minWidths: opts.minWidths, onWidths: opts.onWidths, keep });
}

/** Drops what nobody wants to read back (managedFields), as kubectl does by default. */
function clean(o: KubeObject): KubeObject {
  if (!o.metadata.managedFields) return o;
  const { managedFields: _drop, ...metadata } = o.metadata;
  return { ...o, metadata };
}

export function toJson(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

export function toYaml(value: unknown): string {
  return stringify(value, { lineWidth: 0 });
}

/**
 * Renders objects of one kind. `single` prints one object as itself in json/yaml (not a
 * List), as `kubectl get KIND NAME` does.
 */
export function renderObjects(kind: KindInfo, objects: KubeObject[], format: OutputFormat, term: Terminal, opts: { single?: boolean; withNamespace?: boolean } = {}): string {
  const cleaned = objects.map(clean);
  if (kind.order) cleaned.sort(kind.order);
  switch (format) {
    case 'json':
      return toJson(opts.single && cleaned.length === 1 ? cleaned[0] : { apiVersion: 'v1', kind: 'List', items: cleaned, metadata: {} });
    case 'yaml':
      return toYaml(opts.single && cleaned.length === 1 ? cleaned[0] : { apiVersion: 'v1', kind: 'List', items: cleaned, metadata: {} });
    case 'name':
      return cleaned.map((o) => `${qualifiedName(kind, o.metadata.name)}\n`).join('');
    case 'table':
    case 'wide': {
      if (cleaned.length === 0) return '';
      const lines = tableLines(kind, cleaned, { wide: format === 'wide', withNamespace: opts.withNamespace ?? false }, term);
      return `${lines.join('\n')}\n`;
    }
  }
}
