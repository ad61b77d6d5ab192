/**
 * The last lines an in-process vnetd logged, kept in memory at debug level, and printed
 * only when a test of the file failed (test/support/jest-environment.js records that).
 * A flake seen once in CI otherwise leaves nothing to read: the test logs are silent by
 * default, and VNETD_TEST_LOG, which prints everything, is set only on a rerun.
 */
import { Writable } from 'node:stream';

/** How many lines a failed file prints, newest last: enough for the seconds before a timeout. */
const PRINTED_LINES = 250;
/** Fields every line has, left out of the compact form. */
const COMMON = new Set(['level', 'time', 'pid', 'hostname', 'msg', 'component']);
const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };

export class LogRing {
  private readonly lines: string[] = [];
  private next = 0;
  readonly stream: Writable;

  constructor(private readonly capacity = 2000) {
    this.stream = new Writable({
      write: (chunk: Buffer, _enc, done) => {
        for (const l of chunk.toString().split('\n')) if (l) this.push(l);
        done();
      },
    });
  }

  private push(line: string): void {
    if (this.lines.length < this.capacity) this.lines.push(line);
    else this.lines[this.next] = line;
    this.next = (this.next + 1) % this.capacity;
  }

  /** Oldest first. */
  tail(n: number): string[] {
    const ordered = this.lines.length < this.capacity ? this.lines : [...this.lines.slice(this.next), ...this.lines.slice(0, this.next)];
    return ordered.slice(-n);
  }

  /** Writes the tail to stdout, one compact line per event, when a test of this file failed. */
  printIfFailed(label: string): void {
    if (!testsFailed()) return;
    const lines = this.tail(PRINTED_LINES).map(compact);
    process.stdout.write(`--- ${label}: its last ${lines.length} log lines (a test of this file failed) ---\n${lines.join('\n')}\n--- end of ${label}'s log ---\n`);
  }
}

/** True once a test or hook of the running file failed. */
export function testsFailed(): boolean {
  return ((globalThis as { __vnetdTestFailures?: number }).__vnetdTestFailures ?? 0) > 0;
}

function compact(line: string): string {
  try {
    const o = JSON.parse(line) as Record<string, unknown>;
    const rest = Object.entries(o).filter(([k]) => !COMMON.has(k));
    const extra = rest.length ? ` ${JSON.stringify(Object.fromEntries(rest)).slice(0, 300)}` : '';
    const t = new Date(Number(o.time)).toISOString().slice(11, 23);
    return `${t} ${LEVELS[Number(o.level)] ?? o.level} ${o.component ? `[${String(o.component)}] ` : ''}${String(o.msg ?? '')}${extra}`;
  } catch {
    return line.slice(0, 400);
  }
}
