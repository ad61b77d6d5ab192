#!/usr/bin/env node
/** vnetd: serve the API on the embedded defaults (see README). */
import { loadConfig } from './app/config';
import { startVnetd } from './app/vnetd';

async function main(): Promise<void> {
  const config = loadConfig();
  const vnetd = await startVnetd(config);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    vnetd.logger.info({ event: 'vnetd.stopping', signal });
    vnetd
      .close()
      .then(() => process.exit(0))
      .catch((err: unknown) => {
        vnetd.logger.error({ err }, 'shutdown failed');
        process.exit(1);
      });
  };
  // A southbound connection dropping mid-request must not take the API down with it: log
  // the stray rejection (with its stack) and keep serving; the reconcilers retry.
  process.on('unhandledRejection', (err) => vnetd.logger.error({ event: 'vnetd.unhandled_rejection', err }, 'unhandled promise rejection'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

main().catch((err: unknown) => {
  process.stderr.write(`vnetd: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
