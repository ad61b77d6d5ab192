/**
 * `kubectl create namespace` sends protobuf (protobuf-wire.ts): its Namespace message's
 * metadata (field 1) -> name (1), generateName (2), labels (11), annotations (12) is what a
 * namespace needs.
 */
import { fields, str, unwrapUnknown, type Field } from './protobuf-wire';

function stringMap(entries: Field[]): Record<string, string> | undefined {
  if (entries.length === 0) return undefined;
  const out: Record<string, string> = {};
  for (const e of entries) {
    const kv = fields(e.bytes!);
    out[str(kv.find((f) => f.no === 1)) ?? ''] = str(kv.find((f) => f.no === 2)) ?? '';
  }
  return out;
}

export function decodeNamespace(body: Buffer): { apiVersion: string; kind: string; metadata: Record<string, unknown> } {
  const { apiVersion = 'v1', kind = 'Namespace', raw } = unwrapUnknown(body);
  const metaBytes = fields(raw).find((f) => f.no === 1)?.bytes ?? Buffer.alloc(0);
  const meta = fields(metaBytes);
  const metadata: Record<string, unknown> = {};
  const name = str(meta.find((f) => f.no === 1));
  const generateName = str(meta.find((f) => f.no === 2));
  if (name) metadata.name = name;
  if (generateName) metadata.generateName = generateName;
  const labels = stringMap(meta.filter((f) => f.no === 11));
  const annotations = stringMap(meta.filter((f) => f.no === 12));
  if (labels) metadata.labels = labels;
  if (annotations) metadata.annotations = annotations;
  return { apiVersion, kind, metadata };
}
