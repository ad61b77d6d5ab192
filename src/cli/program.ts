/** The vnetctl command tree: global flags, command groups, and how usage errors are reported. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command, Option } from 'commander';
import { completeCommand, completionCommand } from './commands/completion';
import { lbCommand } from './commands/lb';
import { manifestCommands } from './commands/manifest';
import { namespaceCommand } from './commands/namespace';
import { networkCommand } from './commands/network';
import { nodeCommand } from './commands/node';
import { portCommand } from './commands/port';
import { quotaCommand } from './commands/quota';
import { examples, parser } from './commands/shared';
import { demoCommand } from './commands/demo';
import { traceCommand } from './commands/trace';
import { waitCommand } from './commands/wait';
import { watchCommand } from './commands/watch';
import { parseDuration } from './flags/duration';
import { OUTPUT_FORMATS } from './output/printer';
import type { Terminal } from './output/terminal';
import { Runtime, type GlobalOptions, type Io } from './runtime';

function version(): string {
  try {
    // Two levels up from both src/cli and dist/cli.
    return (JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version?: string }).version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

export interface ProgramHooks {
  term: Terminal;
  io: Io;
  /** Receives commander's own error text (unknown option, missing argument) instead of printing it. */
  onUsageError(message: string): void;
}

export function buildProgram(hooks: ProgramHooks): Command {
  const program = new Command('vnetctl');
  program
    .description('Command line for vnetd: virtual networks, ports, VIPs and load balancers')
    .version(version(), '--version', 'print the version')
    .option('--kubeconfig <file>', 'kubeconfig to use (default: $KUBECONFIG, $VNETD_DATA_DIR/admin.kubeconfig, ./.vnetd/admin.kubeconfig, ~/.kube/config)')
    .option('--context <name>', 'kubeconfig context to use (default: its current-context)')
    .option('-n, --namespace <ns>', "tenant namespace (default: the context's, else default)")
    .addOption(new Option('-o, --output <format>', 'output format').choices([...OUTPUT_FORMATS]).default('table'))
    .addOption(new Option('--request-timeout <duration>', 'give up on a request after this long, counted from sending it (name lookup and connecting included) to the last byte of its answer (0: no limit)').argParser(parser(parseDuration)).default(30_000, '30s'))
    .option('--dry-run', 'send every write as a server-side dry run: admitted, validated and answered (the VIP, addresses and MAC it would pick) as for real, nothing stored or reserved')
    .configureHelp({ showGlobalOptions: true, sortSubcommands: false })
    .exitOverride()
    .configureOutput({
      writeOut: (s) => hooks.io.out(s),
      writeErr: (s) => hooks.io.err(s),
      outputError: (s) => hooks.onUsageError(s.trim()),
    });

  const runtimeOf = (cmd: Command): Runtime => new Runtime(cmd.optsWithGlobals<GlobalOptions>(), hooks.term, hooks.io);
  for (const c of [
    namespaceCommand(runtimeOf),
    networkCommand(runtimeOf),
    portCommand(runtimeOf),
    lbCommand(runtimeOf),
    nodeCommand(runtimeOf),
    quotaCommand(runtimeOf),
    ...manifestCommands(runtimeOf),
    waitCommand(runtimeOf),
    watchCommand(runtimeOf),
    completionCommand(() => program, runtimeOf),
    traceCommand(runtimeOf),
    demoCommand(runtimeOf),
  ]) {
    program.addCommand(c);
  }
  program.addCommand(completeCommand(runtimeOf), { hidden: true });
  // addCommand (unlike .command()) does not copy settings: give every command the root's
  // error handling and output, recursively.
  const inherit = (cmd: Command) => {
    for (const c of cmd.commands) {
      c.copyInheritedSettings(cmd);
      inherit(c);
    }
  };
  inherit(program);
  return examples(program, [
    'vnetctl namespace create tenant-a',
    'vnetctl network create blue --subnet 10.0.0.0/24',
    'vnetctl port create vm1-eth0 --network blue --node hv1',
    'vnetctl lb create web --network blue --listen 80:8080/tcp --backend vm1-eth0 --backend vm2-eth0',
    'vnetctl lb status web',
    'vnetctl apply -f tenant.yaml && vnetctl wait vlb web',
  ]);
}
