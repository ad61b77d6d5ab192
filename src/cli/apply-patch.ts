/**
 * kubectl's client-side apply, so `vnetctl apply` and `kubectl apply` take turns on the
 * same objects: the manifest last applied is kept in the
 * `kubectl.kubernetes.io/last-applied-configuration` annotation (serialized exactly as
 * kubectl does: compact JSON, sorted keys, `annotations: {}` kept, trailing newline), and
 * each apply sends a three-way JSON merge patch:
 *   - fields in the last-applied manifest that the new manifest no longer has -> null (removed);
 *   - fields of the new manifest that differ from the live object -> set;
 *   - anything else on the live object (labels, fields set by others) -> left alone.
 * Arrays are atomic in a JSON merge patch: a changed list replaces the live one.
 */
import type { KubeObject } from '../resources/object';

export const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

export type Json = null | boolean | number | string | Json[] | JsonObject;
export interface JsonObject {
  [key: string]: Json;
}

function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Compact JSON with object keys sorted at every level (Go's encoding/json of a map, as kubectl writes it). */
export function canonicalJson(v: unknown): string {
  const sort = (x: unknown): unknown => {
    if (Array.isArray(x)) return x.map(sort);
    if (!isObject(x)) return x;
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(x).sort()) out[k] = sort(x[k]);
    return out;
  };
  return JSON.stringify(sort(v));
}

function equal(a: unknown, b: unknown): boolean {
  return canonicalJson(a) === canonicalJson(b);
}

/** Metadata only the server sets: never part of what is applied. */
const SERVER_OWNED = ['resourceVersion', 'uid', 'creationTimestamp', 'generation', 'managedFields', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'selfLink'] as const;

export interface AppliedConfiguration {
  /** What apply wants the object to look like, last-applied annotation included (the create body). */
  modified: JsonObject;
  /** The annotation's value. */
  lastApplied: string;
}

/** The manifest as apply sends it; `namespace` is set on namespaced objects, as kubectl does. */
export function appliedConfiguration(manifest: KubeObject, namespace: string | undefined): AppliedConfiguration {
  const obj = JSON.parse(JSON.stringify(manifest)) as JsonObject;
  delete obj.status;
  const metadata = (isObject(obj.metadata) ? obj.metadata : {}) as JsonObject;
  for (const k of SERVER_OWNED) delete metadata[k];
  if (namespace !== undefined) metadata.namespace = namespace;
  const annotations: JsonObject = isObject(metadata.annotations) ? { ...metadata.annotations } : {};
  delete annotations[LAST_APPLIED];
  metadata.annotations = annotations;
  obj.metadata = metadata;
  const lastApplied = `${canonicalJson(obj)}\n`;
  const modified = JSON.parse(JSON.stringify(obj)) as JsonObject;
  (modified.metadata as JsonObject).annotations = { ...annotations, [LAST_APPLIED]: lastApplied };
  return { modified, lastApplied };
}

/** The last-applied manifest recorded on a live object: undefined when absent; throws when it is not a JSON object. */
export function lastAppliedOf(live: KubeObject): JsonObject | undefined {
  const text = live.metadata.annotations?.[LAST_APPLIED];
  if (text === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new Error(`its ${LAST_APPLIED} annotation is not JSON`);
  }
  if (!isObject(parsed)) throw new Error(`its ${LAST_APPLIED} annotation is not a JSON object`);
  return parsed;
}

/** Fields of `original` that `modified` dropped, as nulls (recursing into objects present in both). */
function deletions(original: JsonObject, modified: JsonObject): JsonObject {
  const out: JsonObject = {};
  for (const [k, was] of Object.entries(original)) {
    if (!(k in modified)) out[k] = null;
    else {
      const now = modified[k];
      if (isObject(was) && isObject(now)) {
        const sub = deletions(was, now);
        if (Object.keys(sub).length > 0) out[k] = sub;
      }
    }
  }
  return out;
}

/** Fields of `modified` that differ from `current`; fields only `current` has are kept (no deletions). */
function changes(current: JsonObject, modified: JsonObject): JsonObject {
  const out: JsonObject = {};
  for (const [k, want] of Object.entries(modified)) {
    if (!(k in current)) {
      if (want !== null) out[k] = want;
      continue;
    }
    const have = current[k];
    if (isObject(have) && isObject(want)) {
      const sub = changes(have, want);
      if (Object.keys(sub).length > 0) out[k] = sub;
    } else if (!equal(have, want)) out[k] = want;
  }
  return out;
}

function merge(a: JsonObject, b: JsonObject): JsonObject {
  const out: JsonObject = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const prev = out[k];
    out[k] = isObject(prev) && isObject(v) ? merge(prev, v) : v;
  }
  return out;
}

/**
 * The JSON merge patch that takes `current` to `modified` while removing only what the
 * previous apply (`original`, undefined when the object was never applied) set and the
 * manifest no longer has. Empty ({}) when nothing changes.
 */
export function threeWayMergePatch(original: JsonObject | undefined, modified: JsonObject, current: JsonObject): JsonObject {
  return merge(deletions(original ?? {}, modified), changes(current, modified));
}
