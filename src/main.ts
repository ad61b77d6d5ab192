#!/usr/bin/env node
/**
 * vnetd. `vnetd` alone serves the API on the embedded defaults (see README);
 * `vnetd controller` is one replica of a highly available controller (VNETD_STORE);
 * `vnetd agent --node NAME` programs one hypervisor through the controller's API.
 */
import type { Logger } from 'pino';
import { parseCommandLine, USAGE } from './app/command-line';
import { loadConfig } from './app/config';
import { startVnetd } from './app/vnetd';

interface Running {
  logger: Logger;
  close(): Promise<void>;
}

async function start(argv: string[]): Promise<Running | undefined> {
  const cmd = parseCommandLine(argv, process.env);
  if (cmd.kind === 'help') {
    process.stdout.write(USAGE);
    return undefined;
  }
  if (cmd.kind === 'agent') {
    const { startAgent } = await import('./agent/agent');
    return startAgent(cmd.options);
  }
  const config = loadConfig(process.env, cmd.kind);
  return startVnetd(config, { role: cmd.kind });
}

async function main(): Promise<void> {
  const running = await start(process.argv.slice(2));
  if (!running) return;
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    running.logger.info({ event: 'vnetd.stopping', signal });
    running
      .close()
      .then(() => process.exit(0))
      .catch((err: unknown) => {
        running.logger.error({ err }, 'shutdown failed');
        process.exit(1);
      });
  };
  // A southbound connection dropping mid-request must not take the API down with it: log
  // the stray rejection (with its stack) and keep serving; the reconcilers retry.
  process.on('unhandledRejection', (err) => running.logger.error({ event: 'vnetd.unhandled_rejection', err }, 'unhandled promise rejection'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

main().catch((err: unknown) => {
  process.stderr.write(`vnetd: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(err instanceof Error && err.name === 'UsageError' ? 2 : 1);
});
