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

export function applyPatchOfType(type: PatchType, current: unknown, patch: unknown): unknown {
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
