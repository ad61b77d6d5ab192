/** Go-style durations for --timeout: 30s, 2m, 1m30s, 500ms, 1h; a bare number is seconds. */
const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** The longest a Node timer waits (2^31 - 1 ms, 24.8 days): longer ones fire at once. */
export const MAX_DURATION_MS = 2 ** 31 - 1;

export function parseDuration(text: string): number {
  const t = text.trim();
  if (/^\d+(\.\d+)?$/.test(t)) return checked(text, Math.round(Number(t) * 1000));
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/gy;
  let total = 0;
  let matched = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(t)) !== null) {
    total += Number(m[1]) * UNITS[m[2]!]!;
    matched = re.lastIndex;
  }
  if (t.length === 0 || matched !== t.length) throw new Error(`"${text}" is not a duration like 30s, 2m or 1m30s`);
  return checked(text, Math.round(total));
}

function checked(text: string, ms: number): number {
  if (ms > MAX_DURATION_MS) throw new Error(`"${text}" is longer than the longest wait, ${formatDuration(MAX_DURATION_MS - (MAX_DURATION_MS % 3_600_000))}`);
  return ms;
}

export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  if (ms < 1000) return `${ms}ms`;
  // 1.5s stays 1.5s (a timeout is reported as given), tenths at most.
  if (ms < 60_000) return `${Number((ms / 1000).toFixed(1))}s`;
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const [h, m, rest] = [Math.floor(s / 3600), Math.floor((s % 3600) / 60), s % 60];
  return `${h ? `${h}h` : ''}${m ? `${m}m` : ''}${rest ? `${rest}s` : ''}`;
}
