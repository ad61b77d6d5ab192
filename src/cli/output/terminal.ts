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
