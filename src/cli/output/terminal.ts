/** What the output streams are: a terminal (width, colour) or a pipe/file. */

export interface Terminal {
  isTTY: boolean;
  stderrIsTTY: boolean;
  /** Width to fit tables to; undefined when not a terminal and COLUMNS is unset. */
  columns?: number;
  color: boolean;
}

export function detectTerminal(env: NodeJS.ProcessEnv = process.env, out: NodeJS.WriteStream = process.stdout, err: NodeJS.WriteStream = process.stderr): Terminal {
  const isTTY = out.isTTY === true;
  const envCols = Number(env.COLUMNS);
  const columns = isTTY && out.columns ? out.columns : Number.isInteger(envCols) && envCols > 0 ? envCols : undefined;
  // https://no-color.org: any non-empty NO_COLOR disables colour; TERM=dumb too.
  const color = isTTY && !env.NO_COLOR && env.TERM !== 'dumb';
  return { isTTY, stderrIsTTY: err.isTTY === true, columns, color };
}

/**
 * The escape sequences vnetctl writes itself: table.ts's colours (SGR 1, 2, 22, 31-33, 39)
 * and the wait spinner's erase-line.
 */
const OWN_SEQUENCE = /\x1b\[(?:(?:3[1239]|22|1|2)m|K)/y;

/**
 * `text` made safe to print: every C0 control character but newline and tab is written in
 * caret notation ("^[" for ESC, as kubectl's EscapeTerminal), DEL and C1 as "\u009b", except the
 * sequences vnetctl writes itself and a carriage return that starts the write (the
 * spinner's). What the server sends is written by others (an agent's Node status, a
 * tenant's annotations, events): raw, an ESC could retitle or clear the terminal, move the
 * cursor over what was printed, or write the clipboard (OSC 52).
 */
export function escapeTerminal(text: string): string {
  return text.replace(/[\x00-\x08\x0b-\x1f\x7f-\x9f]/g, (c: string, at: number) => {
    if (c === '\r' && at === 0) return c;
    if (c === '\x1b') {
      OWN_SEQUENCE.lastIndex = at;
      if (OWN_SEQUENCE.test(text)) return c;
    }
    const code = c.charCodeAt(0);
    // DEL and C1 as JSON's escapes: JSON.stringify leaves them raw, and -o json stays JSON of the same value.
    return code < 0x20 ? `^${String.fromCharCode(code + 64)}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}
