/** A resourceVersion a client sent, read as lists and watches read it. */
import { ApiErrors } from '../resources/status';
import type { Store } from '../store/store';

/**
 * The revision a resourceVersion names, once the store has reached it: a decimal number
 * (400 otherwise, as the apiserver's strconv.ParseUint), at most the store's current
 * revision (504 Too large resource version otherwise, with Retry-After).
 */
export async function reachedRevision(kv: Store, text: string): Promise<number> {
  const asked = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(asked)) throw ApiErrors.badRequest(`invalid resource version: "${text}"`);
  const current = await kv.currentRevision();
  if (asked > current) throw ApiErrors.tooLargeResourceVersion(asked, current);
  return asked;
}
