/** Applies merge patches (RFC 7386) and JSON patches (RFC 6902) to a stored object. */
import { applyPatch, type Operation } from 'fast-json-patch';
import { ApiError, ApiErrors } from '../resources/status';
import { isPlainObject, type PatchType } from './request-body';

export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isPlainObject(patch)) return structuredClone(patch);
  const out: Record<string, unknown> = isPlainObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

/**
 * A strategic merge patch of a Namespace (the only built-in kind served): a merge patch,
 * except that metadata.finalizers merge as a set and metadata.ownerReferences by uid, as
 * ObjectMeta's patch strategies say, with the directives kubectl sends for them
 * ($setElementOrder, $deleteFromPrimitiveList, $patch: delete in a list element).
 */
export function strategicMergeNamespace(current: unknown, patch: unknown): unknown {
  if (!isPlainObject(patch)) throw ApiErrors.badRequest('a strategic merge patch must be a JSON object');
  const directive = findDirective(patch, ['metadata']);
  if (directive) throw ApiErrors.badRequest(`strategic merge patch: directive "${directive}" is not supported on namespaces`);
  const meta = isPlainObject(patch.metadata) ? patch.metadata : undefined;
  const cur = isPlainObject(current) && isPlainObject(current.metadata) ? current.metadata : {};
  const plainMeta = meta && Object.fromEntries(Object.entries(meta).filter(([k]) => !k.startsWith('$') && k !== 'finalizers' && k !== 'ownerReferences'));
  const merged = mergePatch(current, meta ? { ...patch, metadata: plainMeta } : patch) as Record<string, unknown> & { metadata: Record<string, unknown> };
  if (!meta) return merged;
  const drop = new Set(asStrings(meta['$deleteFromPrimitiveList/finalizers'], 'finalizers'));
  if (meta.finalizers === null) delete merged.metadata.finalizers;
  else if (meta.finalizers !== undefined || drop.size) {
    const next = [...new Set([...asStrings(cur.finalizers, 'finalizers'), ...asStrings(meta.finalizers ?? [], 'finalizers')])].filter((f) => !drop.has(f));
    if (next.length) merged.metadata.finalizers = next;
    else delete merged.metadata.finalizers;
  }
  if (meta.ownerReferences === null) delete merged.metadata.ownerReferences;
  else if (meta.ownerReferences !== undefined) {
    if (!Array.isArray(meta.ownerReferences)) throw ApiErrors.badRequest('strategic merge patch: metadata.ownerReferences must be a list');
    const refs = new Map<string, unknown>((Array.isArray(cur.ownerReferences) ? cur.ownerReferences : []).map((r) => [String((r as { uid?: unknown }).uid), r]));
    for (const r of meta.ownerReferences) {
      if (!isPlainObject(r) || typeof r.uid !== 'string') throw ApiErrors.badRequest('strategic merge patch: each metadata.ownerReferences element needs a uid');
      if (r.$patch === 'delete') refs.delete(r.uid);
      else refs.set(r.uid, mergePatch(refs.get(r.uid), r));
    }
    if (refs.size) merged.metadata.ownerReferences = [...refs.values()];
    else delete merged.metadata.ownerReferences;
  }
  return merged;
}

const KNOWN_DIRECTIVES = new Set(['$setElementOrder/finalizers', '$setElementOrder/ownerReferences', '$deleteFromPrimitiveList/finalizers']);

/** The first directive ($-key) other than those handled under metadata, anywhere in the patch. */
function findDirective(v: unknown, path: string[], at: string[] = []): string | undefined {
  if (Array.isArray(v)) {
    // $patch: delete is handled only in metadata.ownerReferences' elements.
    const inRefs = at.join('.') === 'metadata.ownerReferences';
    for (const e of v) {
      const d = findDirective(isPlainObject(e) && inRefs ? Object.fromEntries(Object.entries(e).filter(([k, x]) => k !== '$patch' || x !== 'delete')) : e, path, at);
      if (d) return d;
    }
    return undefined;
  }
  if (!isPlainObject(v)) return undefined;
  for (const [k, x] of Object.entries(v)) {
    if (k.startsWith('$') && !(at.join('.') === path.join('.') && KNOWN_DIRECTIVES.has(k))) return k;
    const d = k.startsWith('$') ? undefined : findDirective(x, path, [...at, k]);
    if (d) return d;
  }
  return undefined;
}

function asStrings(v: unknown, field: string): string[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw ApiErrors.badRequest(`strategic merge patch: metadata.${field} must be a list of strings`);
  return v as string[];
}

export function applyPatchOfType(type: PatchType, current: unknown, sent: unknown): unknown {
  // The result must share nothing with the patch: a JSON patch's values go into the document as
  // they are, and later operations (or admission, writing into the result) changed them in the
  // patch itself, which a retry after a conflict then applied (QA-96: backends ap4, not ap2-ap4).
  const patch = structuredClone(sent);
  if (type === 'strategic') return strategicMergeNamespace(current, patch);
  if (type === 'merge' || type === 'apply') {
    if (!isPlainObject(patch)) throw ApiErrors.badRequest('a merge patch must be a JSON object');
    return mergePatch(current, patch);
  }
  if (!Array.isArray(patch)) throw ApiErrors.badRequest('a JSON patch must be an array of operations');
  try {
    return applyPatch(structuredClone(current), patch as Operation[], true, false).newDocument;
  } catch (err) {
    if (err instanceof ApiError) throw err;
    const e = err as { name?: string; message?: string };
    throw new ApiError(422, 'Invalid', `the server rejected our request due to an error in our request: json patch: ${(e.message ?? String(err)).split('\n')[0]}`);
  }
}
