/**
 * Plain-text tables in kubectl's layout (upper-case headers, three-space gaps), shrunk to
 * fit a terminal width: the widest columns give up characters first and truncated cells
 * end in "…", so one long value cannot push every row onto two lines. Columns that tell rows
 * apart (names, MACs, addresses) are never cut: cut, different rows read the same (QA-98),
 * and kubectl cuts nothing; where they alone do not fit, the terminal wraps. Colour is
 * applied after padding, so escape codes never count toward a width.
 */

export interface Cell {
  text: string;
  /** An SGR colour for the cell (applied only when colour is on). */
  color?: Color;
}

export type Color = 'red' | 'green' | 'yellow' | 'bold' | 'dim';

const SGR: Record<Color, [string, string]> = {
  red: ['\x1b[31m', '\x1b[39m'],
  green: ['\x1b[32m', '\x1b[39m'],
  yellow: ['\x1b[33m', '\x1b[39m'],
  bold: ['\x1b[1m', '\x1b[22m'],
  dim: ['\x1b[2m', '\x1b[22m'],
};

export function paint(text: string, color: Color | undefined, enabled: boolean): string {
  if (!enabled || !color) return text;
  const [on, off] = SGR[color];
  return `${on}${text}${off}`;
}

export const GAP = 3;
/** A column is never shrunk below this (or its header, if shorter). */
export const MIN_WIDTH = 6;

/** Column widths that fit `maxWidth` (undefined = no limit), shrinking the widest first; `keep`: columns never shrunk. */
export function fitWidths(natural: number[], headers: number[], maxWidth: number | undefined, keep: readonly boolean[] = []): number[] {
  const widths = [...natural];
  if (maxWidth === undefined || widths.length === 0) return widths;
  const floor = widths.map((w, i) => (keep[i] ? w : Math.min(w, Math.max(MIN_WIDTH, Math.min(headers[i] ?? 0, 12)))));
  const total = () => widths.reduce((a, b) => a + b, 0) + GAP * (widths.length - 1);
  let excess = total() - maxWidth;
  while (excess > 0) {
    // The widest column that can still shrink loses down to the next widest (or the excess).
    let widest = -1;
    for (let i = 0; i < widths.length; i++) if (widths[i]! > floor[i]! && (widest < 0 || widths[i]! > widths[widest]!)) widest = i;
    if (widest < 0) break; // cannot fit: leave the minimum and let the terminal wrap
    const others = widths.filter((w, i) => i !== widest && w < widths[widest]!);
    const next = Math.max(floor[widest]!, others.length > 0 ? Math.max(...others) : 0);
    const cut = Math.max(1, Math.min(excess, widths[widest]! - next));
    widths[widest] = widths[widest]! - cut;
    excess -= cut;
  }
  return widths;
}

export function truncate(text: string, width: number): string {
  if (text.length <= width) return text;
  if (width <= 1) return text.slice(0, width);
  return `${text.slice(0, width - 1)}…`;
}

export interface TableOptions {
  maxWidth?: number;
  color: boolean;
  /** Widths already used for earlier rows (a watch prints row by row and keeps columns aligned). */
  minWidths?: number[];
  /** Receives the widths used, to pass back as minWidths next time. */
  onWidths?: (widths: number[]) => void;
  /** Per column: never shrunk (it tells rows apart). */
  keep?: readonly boolean[];
}

/** Renders rows (each a list of cells) under headers; returns lines without trailing spaces. */
export function renderTable(headers: string[], rows: Cell[][], opts: TableOptions): string[] {
  const natural = headers.map((h, i) => Math.max(h.length, opts.minWidths?.[i] ?? 0, ...rows.map((r) => r[i]?.text.length ?? 0)));
  const widths = fitWidths(
    natural,
    headers.map((h) => h.length),
    opts.maxWidth,
    opts.keep,
  );
  opts.onWidths?.(widths);
  const line = (cells: Cell[]) =>
    cells
      .map((c, i) => {
        const text = truncate(c.text, widths[i]!);
        const pad = i === cells.length - 1 ? '' : ' '.repeat(widths[i]! - text.length + GAP);
        return paint(text, c.color, opts.color) + pad;
      })
      .join('')
      .trimEnd();
  return [line(headers.map((h) => ({ text: h, color: 'bold' as const }))), ...rows.map(line)];
}

/** The colour kubectl users expect for a condition status or boolean. */
export function statusColor(text: string): Color | undefined {
  if (text === 'True' || text === 'true' || text === 'healthy') return 'green';
  if (text === 'False' || text === 'false' || text === 'unhealthy' || text === 'unresolved' || text === 'unbound') return 'red';
  if (text === 'Unknown' || text === 'unknown') return 'yellow';
  return undefined;
}
