/**
 * Request bodies arrive as raw buffers (every content type is registered as a buffer
 * parser) and are decoded here, so that malformed input becomes a Status, not a
 * framework error page.
 */
import type { Readable } from 'node:stream';
import { parse as parseYaml } from 'yaml';
import { ApiError, ApiErrors } from '../resources/status';
import { decodeCoreObject } from './protobuf-core';
import { isKubernetesProtobuf } from './protobuf-wire';
import { duplicateFields } from './duplicate-fields';
import type { FieldValidation } from '../resources/schema-validator';

export const BODY_LIMIT = 1024 * 1024;

/** How much of a refused body is read and dropped before its connection is closed instead. */
export const DISCARD_LIMIT = 64 * 1024 * 1024;

/**
 * Reads and drops the rest of a body refused unread (413), then calls `done`: the answer
 * goes out once the client has sent it all, and the connection serves the next request.
 * Answering at once and closing left unread bytes behind, and the reset took the answer
 * with it: Node clients saw EPIPE over HTTP/1.1 from 4 MiB, and over HTTP/2, where a stream
 * answered early is reset, ENHANCE_YOUR_CALM from 8 MiB. Past DISCARD_LIMIT `done` is
 * called with `overflow` and the rest is left unread (the caller closes the connection).
 */
export function drainBody(body: Readable & { complete?: boolean }, done: (overflow: boolean) => void): void {
  if (body.complete || body.readableEnded || body.destroyed) {
    done(false);
    return;
  }
  let dropped = 0;
  let called = false;
  const finish = (overflow: boolean) => {
    if (called) return;
    called = true;
    body.removeListener('data', onData);
    done(overflow);
  };
  const onData = (chunk: Buffer) => {
    dropped += chunk.length;
    if (dropped <= DISCARD_LIMIT) return;
    body.pause();
    finish(true);
  };
  body.on('data', onData);
  body.once('end', () => finish(false));
  // A client gone mid-body: nobody to answer, but the reply must still end.
  body.once('close', () => finish(false));
  body.resume();
}

/** The body media types of the API (create/update and the patch types). */
export const API_MEDIA_TYPES = [
  'application/json',
  'application/yaml',
  'application/vnd.kubernetes.protobuf',
  'application/merge-patch+json',
  'application/json-patch+json',
  'application/apply-patch+yaml',
  'application/strategic-merge-patch+json',
] as const;

export type PatchType = 'merge' | 'json' | 'apply' | 'strategic';

export function mediaType(contentType: string | undefined): string {
  return (contentType ?? '').split(';')[0]!.trim().toLowerCase();
}

export function patchTypeOf(contentType: string | undefined): PatchType {
  switch (mediaType(contentType)) {
    case 'application/merge-patch+json':
      return 'merge';
    case 'application/json-patch+json':
      return 'json';
    case 'application/apply-patch+yaml':
    case 'application/apply-patch+cbor':
      return 'apply';
    case 'application/strategic-merge-patch+json':
      return 'strategic';
    default:
      throw ApiErrors.unsupportedMediaType(contentType ?? '');
  }
}

/** A request body as the bytes it came as (Fastify hands over a Buffer, a string or parsed JSON). */
export function asBuffer(body: unknown): Buffer {
  if (Buffer.isBuffer(body)) return body;
  if (body === undefined || body === null) return Buffer.alloc(0);
  if (typeof body === 'string') return Buffer.from(body);
  return Buffer.from(JSON.stringify(body));
}

/**
 * A decoded body, with the fields its JSON named twice in one object when field validation
 * asked for them (duplicate-fields.ts; YAML's parser refuses them itself, protobuf has none).
 */
export interface DecodedBody {
  value: unknown;
  duplicateFields: string[];
}

/** Decodes a create/update body (JSON, YAML, or protobuf for core/v1 namespaces and resource quotas). */
export function decodeObjectBody(body: unknown, contentType: string | undefined, fieldValidation: FieldValidation = 'Ignore'): DecodedBody {
  const buf = asBuffer(body);
  if (buf.length === 0) throw ApiErrors.badRequest('the request body is empty: an object is required');
  const type = mediaType(contentType);
  if (type === 'application/vnd.kubernetes.protobuf' || isKubernetesProtobuf(buf)) {
    try {
      return { value: checkedBody(decodeCoreObject(buf)), duplicateFields: [] };
    } catch (err) {
      throw ApiErrors.badRequest(`unable to decode protobuf body: ${(err as Error).message}`);
    }
  }
  if (type === 'application/yaml' || type === 'application/apply-patch+yaml') return { value: decodeYaml(buf), duplicateFields: [] };
  if (type !== '' && type !== 'application/json' && !type.endsWith('+json')) throw ApiErrors.unsupportedMediaType(type);
  return parseJson(buf, fieldValidation);
}

export function decodeJson(buf: Buffer): unknown {
  return parseJson(buf, 'Ignore').value;
}

/** The text is made once, for the parse and for the scan of duplicates (about one more parse's cost). */
function parseJson(buf: Buffer, fieldValidation: FieldValidation): DecodedBody {
  const text = buf.toString('utf8');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw ApiErrors.badRequest(`the body of the request is not valid JSON: ${(err as Error).message}`);
  }
  return { value: checkedBody(value), duplicateFields: fieldValidation === 'Ignore' ? [] : duplicateFields(text) };
}

/**
 * The deepest nesting a body may have. The kinds' schemas need under 10 levels; thousands
 * (in a free-form field such as managedFields) overflowed the stack of the recursive code
 * after decoding (merge patch, the store's serialization) and answered 500.
 */
export const MAX_BODY_DEPTH = 100;

/**
 * A key no object may have. JSON.parse keeps "__proto__" as an own key, but every later
 * `obj[key] = ...` on it (merge patch, server-side apply's field walk) reaches the object's
 * prototype instead: through apply it set a label on Object.prototype, which crashed vnetd
 * (QA-102). No kind has such a field, and no label or annotation key may start with "_".
 */
const FORBIDDEN_KEY = '__proto__';

/** A node of the walk below: its parent and its key there, so that a path is only built for an error. */
interface Visit {
  value: object;
  depth: number;
  parent?: Visit;
  key?: string | number;
}

function pathOf(n: Visit): string {
  const keys: string[] = [];
  for (let at: Visit | undefined = n; at?.parent; at = at.parent) keys.push(typeof at.key === 'number' ? `[${at.key}]` : `.${at.key}`);
  return keys.reverse().join('');
}

/**
 * The value, unless it nests deeper than MAX_BODY_DEPTH or has a "__proto__" key (400).
 * Iterative: never recurses itself.
 */
function checkedBody(value: unknown): unknown {
  if (typeof value !== 'object' || value === null) return value;
  const stack: Visit[] = [{ value, depth: 1 }];
  while (stack.length > 0) {
    const n = stack.pop()!;
    if (n.depth > MAX_BODY_DEPTH) throw ApiErrors.badRequest(`the body of the request nests more than ${MAX_BODY_DEPTH} levels deep`);
    if (Object.hasOwn(n.value, FORBIDDEN_KEY)) {
      const path = pathOf(n);
      throw ApiErrors.badRequest(`the body of the request has a "${FORBIDDEN_KEY}" key${path === '' ? '' : ` in ${path}`}: no field may have that name`);
    }
    if (Array.isArray(n.value)) {
      n.value.forEach((child: unknown, key) => typeof child === 'object' && child !== null && stack.push({ value: child, depth: n.depth + 1, parent: n, key }));
    } else {
      for (const key in n.value) {
        const child = (n.value as Record<string, unknown>)[key];
        if (typeof child === 'object' && child !== null && Object.hasOwn(n.value, key)) stack.push({ value: child, depth: n.depth + 1, parent: n, key });
      }
    }
  }
  return value;
}

export function decodeYaml(buf: Buffer): unknown {
  try {
    return checkedBody(parseYaml(buf.toString('utf8')));
  } catch (err) {
    if (err instanceof ApiError) throw err;
    throw ApiErrors.badRequest(`the body of the request is not valid YAML: ${(err as Error).message}`);
  }
}

/**
 * Decodes a PATCH body according to its patch type. `strategicOk`: the kind is a built-in
 * one (Namespace), to which kubectl apply, patch and edit send strategic merge patches.
 */
export function decodePatchBody(
  body: unknown,
  contentType: string | undefined,
  strategicOk = false,
  fieldValidation: FieldValidation = 'Ignore',
): { type: PatchType; patch: unknown; duplicateFields: string[] } {
  const type = patchTypeOf(contentType);
  if (type === 'strategic' && !strategicOk) {
    throw ApiErrors.unsupportedMediaType(
      'application/strategic-merge-patch+json (vnet.dev kinds are custom resources: use application/merge-patch+json)',
    );
  }
  const buf = asBuffer(body);
  if (buf.length === 0) throw ApiErrors.badRequest('the patch body is empty');
  if (type === 'apply') return { type, patch: decodeYaml(buf), duplicateFields: [] };
  const { value, duplicateFields } = parseJson(buf, fieldValidation);
  return { type, patch: value, duplicateFields };
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
