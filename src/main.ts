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
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

main().catch((err: unknown) => {
  process.stderr.write(`vnetd: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
