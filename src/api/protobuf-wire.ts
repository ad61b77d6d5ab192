/**
 * The Kubernetes protobuf envelope as kubectl sends built-in kinds (no fallback to JSON):
 * magic `k8s\0`, then a runtime.Unknown: field 1 TypeMeta (apiVersion 1, kind 2), field 2
 * (raw) the object's message. Only reading, of string and message fields, is done here:
 * answers go back as JSON, which kubectl accepts.
 */
const MAGIC = Buffer.from([0x6b, 0x38, 0x73, 0x00]);

export class ProtobufDecodeError extends Error {}

export interface Field {
  no: number;
  wire: number;
  bytes?: Buffer;
  varint?: bigint;
}

export function fields(buf: Buffer): Field[] {
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

export function str(f: Field | undefined): string | undefined {
  return f?.bytes?.toString('utf8');
}

export function isKubernetesProtobuf(body: Buffer): boolean {
  return body.length >= 4 && body.subarray(0, 4).equals(MAGIC);
}

/** The envelope's type and its object's message. */
export function unwrapUnknown(body: Buffer): { apiVersion?: string; kind?: string; raw: Buffer } {
  if (!isKubernetesProtobuf(body)) throw new ProtobufDecodeError('missing k8s protobuf magic');
  const unknown = fields(body.subarray(4));
  const typeMeta = fields(unknown.find((f) => f.no === 1)?.bytes ?? Buffer.alloc(0));
  const raw = unknown.find((f) => f.no === 2)?.bytes;
  if (!raw) throw new ProtobufDecodeError('empty object');
  return { apiVersion: str(typeMeta.find((f) => f.no === 1)), kind: str(typeMeta.find((f) => f.no === 2)), raw };
}

/** A message's layout: field number -> a string field's JSON name, or a message field's name and layout. */
export interface MessageLayout {
  [no: number]: string | [string, MessageLayout];
}

/** A message as JSON, by its layout (fields it does not name are left out). */
export function decodeMessage(buf: Buffer, layout: MessageLayout): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of fields(buf)) {
    const how = layout[f.no];
    if (how === undefined || f.bytes === undefined) continue;
    if (typeof how === 'string') out[how] = f.bytes.toString('utf8');
    else out[how[0]] = decodeMessage(f.bytes, how[1]);
  }
  return out;
}
