/**
 * `kubectl create namespace` sends protobuf (no fallback to JSON): magic `k8s\0`, then a
 * runtime.Unknown whose field 2 (raw) holds the Namespace message. We read only what a
 * namespace needs: metadata (field 1) -> name (1), generateName (2), labels (11),
 * annotations (12).
 */
const MAGIC = Buffer.from([0x6b, 0x38, 0x73, 0x00]);

export class ProtobufDecodeError extends Error {}

interface Field {
  no: number;
  wire: number;
  bytes?: Buffer;
  varint?: bigint;
}

function fields(buf: Buffer): Field[] {
  const out: Field[] = [];
  let i = 0;
  const varint = (): bigint => {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      if (i >= buf.length) throw new ProtobufDecodeError('truncated varint');
      const b = buf[i++]!;
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return result;
      shift += 7n;
      if (shift > 63n) throw new ProtobufDecodeError('varint too long');
    }
  };
  while (i < buf.length) {
    const key = Number(varint());
    const no = key >> 3;
    const wire = key & 7;
    if (wire === 0) out.push({ no, wire, varint: varint() });
    else if (wire === 2) {
      const len = Number(varint());
      if (i + len > buf.length) throw new ProtobufDecodeError('truncated field');
      out.push({ no, wire, bytes: buf.subarray(i, i + len) });
      i += len;
    } else if (wire === 1) i += 8;
    else if (wire === 5) i += 4;
    else throw new ProtobufDecodeError(`unsupported wire type ${wire}`);
  }
  return out;
}

function str(f: Field | undefined): string | undefined {
  return f?.bytes?.toString('utf8');
}

function stringMap(entries: Field[]): Record<string, string> | undefined {
  if (entries.length === 0) return undefined;
  const out: Record<string, string> = {};
  for (const e of entries) {
    const kv = fields(e.bytes!);
    out[str(kv.find((f) => f.no === 1)) ?? ''] = str(kv.find((f) => f.no === 2)) ?? '';
  }
  return out;
}

export function isKubernetesProtobuf(body: Buffer): boolean {
  return body.length >= 4 && body.subarray(0, 4).equals(MAGIC);
}

export function decodeNamespace(body: Buffer): { apiVersion: string; kind: string; metadata: Record<string, unknown> } {
  if (!isKubernetesProtobuf(body)) throw new ProtobufDecodeError('missing k8s protobuf magic');
  const unknown = fields(body.subarray(4));
  const typeMeta = fields(unknown.find((f) => f.no === 1)?.bytes ?? Buffer.alloc(0));
  const apiVersion = str(typeMeta.find((f) => f.no === 1)) ?? 'v1';
  const kind = str(typeMeta.find((f) => f.no === 2)) ?? 'Namespace';
  const raw = unknown.find((f) => f.no === 2)?.bytes;
  if (!raw) throw new ProtobufDecodeError('empty object');
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
