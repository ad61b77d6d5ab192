/**
 * kubectl's typed commands send core/v1 objects as protobuf (protobuf-wire.ts): `kubectl create
 * namespace` a Namespace, `kubectl create quota` a ResourceQuota. Both start with metadata
 * (field 1) -> name (1), generateName (2), namespace (3), labels (11), annotations (12); a
 * ResourceQuota's spec (2) has hard (1), a map of names to Quantity messages (their string, 1).
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

/** A core/v1 object kubectl sent as protobuf: a Namespace (the default) or a ResourceQuota. */
export function decodeCoreObject(body: Buffer): { apiVersion: string; kind: string; metadata: Record<string, unknown>; spec?: Record<string, unknown> } {
  const { apiVersion = 'v1', kind = 'Namespace', raw } = unwrapUnknown(body);
  const top = fields(raw);
  const out = { apiVersion, kind, metadata: metadataOf(top.find((f) => f.no === 1)?.bytes ?? Buffer.alloc(0)) };
  if (kind !== 'ResourceQuota') return out;
  const spec = fields(top.find((f) => f.no === 2)?.bytes ?? Buffer.alloc(0));
  const hard: Record<string, string> = {};
  for (const entry of spec.filter((f) => f.no === 1)) {
    const kv = fields(entry.bytes!);
    const quantity = fields(kv.find((f) => f.no === 2)?.bytes ?? Buffer.alloc(0));
    hard[str(kv.find((f) => f.no === 1)) ?? ''] = str(quantity.find((f) => f.no === 1)) ?? '';
  }
  return { ...out, spec: { hard } };
}

function metadataOf(metaBytes: Buffer): Record<string, unknown> {
  const meta = fields(metaBytes);
  const metadata: Record<string, unknown> = {};
  const name = str(meta.find((f) => f.no === 1));
  const generateName = str(meta.find((f) => f.no === 2));
  const namespace = str(meta.find((f) => f.no === 3));
  if (name) metadata.name = name;
  if (generateName) metadata.generateName = generateName;
  if (namespace) metadata.namespace = namespace;
  const labels = stringMap(meta.filter((f) => f.no === 11));
  const annotations = stringMap(meta.filter((f) => f.no === 12));
  if (labels) metadata.labels = labels;
  if (annotations) metadata.annotations = annotations;
  return metadata;
}
