import type { NativeLib } from '../native';

/**
 * lib with some calls replaced, for specs that watch or slow what the fast path asks of its
 * library (an override calls the real one through lib).
 */
export function libWith(lib: NativeLib, overrides: Partial<NativeLib>): NativeLib {
  return new Proxy(lib, { get: (target, k: keyof NativeLib) => overrides[k] ?? target[k] });
}
