#!/usr/bin/env node
/**
 * vnetctl's entry point: runs the command and maps every outcome to an exit code
 * (0 ok, 1 the operation failed, 2 the command line was wrong), printing any error as
 * one line on stderr.
 */
import { CommanderError } from 'commander';
import { describeError } from './describe-error';
import { CliError, EXIT_BROKEN_PIPE, EXIT_ERROR, EXIT_OK, EXIT_USAGE } from './errors';
import { paint } from './output/table';
import { detectTerminal, escapeTerminal } from './output/terminal';
import { buildProgram } from './program';

/** The command path the user typed (`lb add-backend`), for the --help hint after a usage error. */
export function commandPath(argv: string[], root: import('commander').Command): string {
  const path: string[] = [];
  let cmd = root;
  // An option's value is no command (QA-98: `-n lb port create` pointed at "vnetctl lb --help").
  const takesValue = (flag: string): boolean => {
    for (let c: import('commander').Command | null = cmd; c; c = c.parent) {
      const option = c.options.find((o) => o.long === flag || o.short === flag);
      if (option) return option.required || option.optional;
    }
    return false;
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg.startsWith('-')) {
      if (!arg.includes('=') && takesValue(arg)) i++;
      continue;
    }
    const next = cmd.commands.find((c) => c.name() === arg || c.aliases().includes(arg));
    if (!next) break;
    path.push(next.name());
    cmd = next;
  }
  return ['vnetctl', ...path].join(' ');
}

export async function run(argv: string[]): Promise<number> {
  const term = detectTerminal();
  const io = { out: (s: string) => void process.stdout.write(escapeTerminal(s)), err: (s: string) => void process.stderr.write(escapeTerminal(s)) };
  const errLine = (msg: string) => io.err(`${paint('error:', 'red', term.stderrIsTTY && !process.env.NO_COLOR)} ${msg}\n`);
  let usage: string | undefined;
  const program = buildProgram({ term, io, onUsageError: (m) => (usage = m) });
  try {
    await program.parseAsync(argv, { from: 'user' });
    return EXIT_OK;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.exitCode === 0) return EXIT_OK; // --help, --version
      // One line: commander puts its "(Did you mean ...?)" on a line of its own.
      const msg = (usage ?? err.message).replace(/^error:\s*/, '').replace(/\s*\n\s*/g, ' ');
      // Help shown because a group was run without a subcommand: it is already printed.
      if (err.code !== 'commander.help') errLine(`${msg} (see "${commandPath(argv, program)} --help")`);
      return EXIT_USAGE;
    }
    if (err instanceof CliError) {
      errLine(err.message.replace(/^error:\s*/, ''));
      return err.exitCode;
    }
    errLine(describeError(err));
    return EXIT_ERROR;
  }
}

if (require.main === module) {
  // `vnetctl get ports | head -1`: once the reader is gone, stop quietly (Node ignores SIGPIPE,
  // so every later write would fail with EPIPE, and the first one threw a stack trace).
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(EXIT_BROKEN_PIPE);
    throw err;
  });
  void run(process.argv.slice(2)).then((code) => {
    // Flush stdout before exiting: watch sockets and keep-alive agents would otherwise hold the process open.
    process.stdout.write('', (err?: NodeJS.ErrnoException | null) => process.exit(err?.code === 'EPIPE' ? EXIT_BROKEN_PIPE : code));
  });
}
