/**
 * Server-side printing (meta.k8s.io/v1 Table), which `kubectl get` asks for: the
 * printer columns declared in schemas/ plus Name and Age.
 */
import type { PrinterColumn, ResourceType } from '../resources/catalog';
import type { KubeObject } from '../resources/object';
import { humanAge } from '../resources/age';
import { involvedObjectText } from '../resources/event';
import { evaluate } from './jsonpath';
import { quotaUsageText } from '../quota/usage-text';
import type { ResourceQuotaStatus } from '../resources/kinds';

export interface TableColumn {
  name: string;
  type: string;
  format: string;
  description: string;
  priority: number;
}

export interface Table {
  kind: 'Table';
  apiVersion: 'meta.k8s.io/v1';
  metadata: { resourceVersion?: string; continue?: string };
  columnDefinitions: TableColumn[];
  rows: { cells: unknown[]; object: unknown }[];
}

function cell(type: string, found: unknown[]): unknown {
  // A column over an array of scalars (e.g. .spec.ips) reads best as a comma list.
  const values = found.flatMap((v) => (Array.isArray(v) && v.every((e) => typeof e !== 'object') ? v : [v]));
  if (values.length === 0) return type === 'integer' || type === 'number' || type === 'boolean' ? null : '<none>';
  if (values.length === 1 && typeof values[0] !== 'object') return values[0];
  return values.map((v) => (typeof v === 'object' ? JSON.stringify(v) : String(v))).join(',');
}

/** Listeners as kubectl shows a Service's PORT(S): 80/TCP,53/UDP (the ports alone said 80,80 for TCP and UDP on 80). */
function listenersCell(o: KubeObject): string {
  const listeners = (o.spec as { listeners?: Array<{ port?: unknown; protocol?: unknown }> } | undefined)?.listeners;
  if (!Array.isArray(listeners) || listeners.length === 0) return '<none>';
  return listeners.map((l) => `${String(l.port)}/${typeof l.protocol === 'string' ? l.protocol : 'TCP'}`).join(',');
}

/** An event's object as kubectl prints it: kind/name, the kind in lower case (virtualport/vm1). */
function involvedObjectCell(o: KubeObject): string {
  return involvedObjectText((o as { involvedObject?: { kind?: unknown; name?: unknown } }).involvedObject);
}

function cellOf(c: PrinterColumn, o: KubeObject): unknown {
  if (c.cell === 'quotaUsage') return quotaUsageText(o.status as ResourceQuotaStatus | undefined);
  if (c.cell === 'listeners') return listenersCell(o);
  if (c.cell === 'involvedObject') return involvedObjectCell(o);
  if (c.cell === 'age') {
    const at = evaluate(c.jsonPath, o)[0];
    return typeof at === 'string' ? humanAge(at) : '<unknown>';
  }
  return cell(c.type, evaluate(c.jsonPath, o));
}

/** A row's cells, column for column as columnsOf gives them. */
function cellsOf(type: ResourceType, o: KubeObject): unknown[] {
  const own = type.printerColumns.map((c) => cellOf(c, o));
  return type.ownColumns ? own : [o.metadata.name, ...own, humanAge(o.metadata.creationTimestamp)];
}

export function columnsOf(type: ResourceType): TableColumn[] {
  const own = type.printerColumns.map((c) => ({
    name: c.name,
    type: c.type,
    format: '',
    description: c.description ?? '',
    // Columns marked priority 1 in the schema show only with -o wide.
    priority: c.priority ?? 0,
  }));
  if (type.ownColumns) return own;
  return [
    { name: 'Name', type: 'string', format: 'name', description: 'Name of the object.', priority: 0 },
    ...own,
    { name: 'Age', type: 'string', format: '', description: 'Time since creation.', priority: 0 },
  ];
}

export function toTable(
  type: ResourceType,
  objects: KubeObject[],
  meta: { resourceVersion?: string; continue?: string },
  includeObject: 'None' | 'Metadata' | 'Object',
  withColumns = true,
): Table {
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata: meta,
    columnDefinitions: withColumns ? columnsOf(type) : [],
    rows: objects.map((o) => ({
      cells: cellsOf(type, o),
      object:
        includeObject === 'Object'
          ? o
          : includeObject === 'None'
            ? null
            : { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: o.metadata },
    })),
  };
}
