/**
 * Bounds the Warning headers of one response as kube-apiserver does (its warning filter:
 * 4 KiB in all, each warning cut to 256 characters once that is exceeded, duplicates sent
 * once). A load balancer with a thousand unresolved backends made a thousand headers,
 * 194 KB, which kubectl refused (HTTP/2 FRAME_SIZE_ERROR) and vnetctl called unreachable,
 * for a write that was stored (QA-124 F5). What is left out is counted in a last warning.
 */
const TOTAL_CHARS = 4096;
const ITEM_CHARS = 256;

export function limitWarnings(warnings: readonly string[]): string[] {
  const unique = [...new Set(warnings)];
  const total = (ws: readonly string[]) => ws.reduce((n, w) => n + w.length, 0);
  if (total(unique) <= TOTAL_CHARS) return unique;
  const cut = unique.map((w) => (w.length > ITEM_CHARS ? `${w.slice(0, ITEM_CHARS - 3)}...` : w));
  const kept: string[] = [];
  let used = 0;
  for (const w of cut) {
    if (used + w.length > TOTAL_CHARS - 64) break;
    kept.push(w);
    used += w.length;
  }
  const left = cut.length - kept.length;
  if (left > 0) kept.push(`${left} more warning${left === 1 ? '' : 's'} not shown`);
  return kept;
}
