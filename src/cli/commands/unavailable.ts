/**
 * Commands whose backend does not exist yet. They are listed (so --help and completion
 * show where they will be) but fail with one clear line and exit 1.
 */
import { Command } from 'commander';
import { CliError } from '../errors';

function pending(cmd: Command, what: string): Command {
  // Any arguments are accepted: the answer is the same whatever the user typed.
  return cmd.argument('[args...]').allowUnknownOption(true).action(() => {
    throw new CliError(`cannot run "vnetctl ${what}": not available yet: needs the pipeline (issue 5)`);
  });
}

export function unavailableCommands(): Command[] {
  const trace = pending(
    new Command('trace').description("explain a packet's path (logical decisions and OVS ofproto/trace) [not available yet: needs the pipeline, issue 5]"),
    'trace',
  );
  const demo = new Command('demo').description('create/remove a local two-VM demo with a load balancer [not available yet: needs the pipeline, issue 5]');
  demo.addCommand(pending(new Command('up').description('set up the demo'), 'demo up'));
  demo.addCommand(pending(new Command('down').description('remove the demo'), 'demo down'));
  return [trace, demo];
}
