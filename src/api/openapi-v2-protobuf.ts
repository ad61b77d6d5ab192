/**
 * The OpenAPI v2 document as gnostic's protobuf (openapi.v2.Document, OpenAPIv2.proto), which
 * is the only form client-go's discovery OpenAPISchema() takes: kubectl explain
 * --output=plaintext-openapiv2 and kubectl's v2 validation read it so. Only the messages and
 * fields the document (openapi-v2.ts) uses are written, its schemas; field numbers are gnostic's.
 * Values of `Any` fields (enum, default, x- extensions) are YAML text, as gnostic keeps them.
 */
import { stringify } from 'yaml';
import type { JsonSchema } from '../resources/json-schema';

type Part = Buffer | undefined;

function varint(n: bigint): Buffer {
  const out: number[] = [];
  let v = BigInt.asUintN(64, n);
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return Buffer.from(out);
}

const key = (no: number, wire: number) => varint(BigInt((no << 3) | wire));

/** A length-delimited field (a string or a message), written even when empty: an empty message is there, not absent. */
function bytes(no: number, body: Buffer): Buffer {
  return Buffer.concat([key(no, 2), varint(BigInt(body.length)), body]);
}

function str(no: number, v: unknown): Part {
  return typeof v === 'string' && v !== '' ? bytes(no, Buffer.from(v, 'utf8')) : undefined;
}

function strs(no: number, v: unknown): Part[] {
  return Array.isArray(v) ? v.map((s) => str(no, s)) : [];
}

function bool(no: number, v: unknown): Part {
  return v === true ? Buffer.concat([key(no, 0), varint(1n)]) : undefined;
}

function int(no: number, v: unknown): Part {
  return typeof v === 'number' && Number.isInteger(v) ? Buffer.concat([key(no, 0), varint(BigInt(v))]) : undefined;
}

function double(no: number, v: unknown): Part {
  if (typeof v !== 'number') return undefined;
  const b = Buffer.alloc(8);
  b.writeDoubleLE(v);
  return Buffer.concat([key(no, 1), b]);
}

function message(...parts: (Part | Part[])[]): Buffer {
  return Buffer.concat(parts.flat().filter((p): p is Buffer => p !== undefined));
}

/** Any { yaml = 2 } */
const any = (v: unknown) => message(str(2, stringify(v)));

/** NamedAny { name = 1; value = 2 } for each x- key. */
function extensions(no: number, o: JsonSchema): Part[] {
  return Object.entries(o)
    .filter(([k]) => k.startsWith('x-'))
    .map(([k, v]) => bytes(no, message(str(1, k), bytes(2, any(v)))));
}

/** Schema, with its nested Properties, ItemsItem, TypeItem and AdditionalPropertiesItem. */
export function encodeSchema(s: JsonSchema): Buffer {
  const type = typeof s.type === 'string' ? [s.type] : Array.isArray(s.type) ? s.type : [];
  const props = s.properties as Record<string, JsonSchema> | undefined;
  const items = s.items as JsonSchema | undefined;
  const extra = s.additionalProperties as JsonSchema | boolean | undefined;
  return message(
    str(1, s.$ref),
    str(2, s.format),
    str(3, s.title),
    str(4, s.description),
    s.default !== undefined ? bytes(5, any(s.default)) : undefined,
    double(6, s.multipleOf),
    double(7, s.maximum),
    bool(8, s.exclusiveMaximum),
    double(9, s.minimum),
    bool(10, s.exclusiveMinimum),
    int(11, s.maxLength),
    int(12, s.minLength),
    str(13, s.pattern),
    int(14, s.maxItems),
    int(15, s.minItems),
    bool(16, s.uniqueItems),
    int(17, s.maxProperties),
    int(18, s.minProperties),
    strs(19, s.required),
    Array.isArray(s.enum) ? s.enum.map((e) => bytes(20, any(e))) : [],
    // AdditionalPropertiesItem { oneof: schema = 1, boolean = 2 }: a oneof's false is written, unlike a plain field's.
    extra === undefined ? undefined : bytes(21, typeof extra === 'boolean' ? Buffer.concat([key(2, 0), varint(extra ? 1n : 0n)]) : bytes(1, encodeSchema(extra))),
    type.length > 0 ? bytes(22, message(strs(1, type))) : undefined,
    items ? bytes(23, message(bytes(1, encodeSchema(items)))) : undefined,
    // Properties { repeated NamedSchema additional_properties = 1 }: present even when empty (an object, not a map).
    props ? bytes(25, message(Object.entries(props).map(([n, p]) => bytes(1, message(str(1, n), bytes(2, encodeSchema(p))))))) : undefined,
    bool(27, s.readOnly),
    extensions(31, s),
  );
}

/** Document: swagger 1, info 2 (title 1, version 2), paths 8 (none: see openapi-v2.ts), definitions 9 (NamedSchema 1). */
export function encodeOpenApiV2(doc: JsonSchema): Buffer {
  const info = (doc.info ?? {}) as JsonSchema;
  const definitions = (doc.definitions ?? {}) as Record<string, JsonSchema>;
  return message(
    str(1, doc.swagger),
    bytes(2, message(str(1, info.title), str(2, info.version))),
    bytes(8, Buffer.alloc(0)),
    bytes(9, message(Object.entries(definitions).map(([n, s]) => bytes(1, message(str(1, n), bytes(2, encodeSchema(s))))))),
  );
}
