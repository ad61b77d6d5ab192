#!/usr/bin/env node
/**
 * vnetd. `vnetd` alone serves the API on the embedded defaults (see README);
 * `vnetd controller` is one replica of a highly available controller (VNETD_STORE);
 * `vnetd agent --node NAME` programs one hypervisor through the controller's API.
 */
import type { Logger } from 'pino';
import { parseCommandLine, USAGE } from './app/command-line';
import { loadConfig } from './app/config';
import { startVnetd, type CloseOptions } from './app/vnetd';

interface Running {
  logger: Logger;
  close(options?: CloseOptions): Promise<void>;
}

async function start(argv: string[]): Promise<Running | undefined> {
  const cmd = parseCommandLine(argv, process.env);
  if (cmd.kind === 'help') {
    process.stdout.write(USAGE);
    return undefined;
  }
  if (cmd.kind === 'agent') {
    const { startAgent } = await import('./agent/agent');
    const agent = await startAgent(cmd.options);
    // Superseded by a newer agent for the same node: not a failure of this one, so exit 0
    // (systemd's Restart=on-failure leaves it stopped instead of taking the node back).
    void agent.fenced.then((reason) => {
      process.stderr.write(`vnetd agent: stopped, fenced off by a newer agent for node ${cmd.options.node}: ${reason}\n`);
      process.exit(0);
    });
    // Claiming the node and starting to program it happen after start-up returns (the Node
    // may not exist yet); a failure there is the process's failure.
    agent.claimed.catch((err: unknown) => {
      process.stderr.write(`vnetd agent: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    });
    return agent;
  }
  const config = loadConfig(process.env, cmd.kind);
  return startVnetd(config, { role: cmd.kind });
}

/** How long a signal that came during the start waits for it to end before the process just exits. */
const SIGNAL_DURING_START_MS = 2000;

async function main(): Promise<void> {
  // Installed before the start: vnetd logs "vnetd.ready" before start() returns, and a
  // supervisor that stops it at once (the build's code-cache primer does) found no handler
  // yet, so the default action killed it without a clean stop (once in CI, under load). A
  // signal during the start still ends the process soon, as before, if the start goes on.
  let running: Running | undefined;
  let asked: string | undefined;
  let giveUp: NodeJS.Timeout | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    if (running) return stop(running, signal);
    asked ??= signal;
    giveUp ??= setTimeout(() => process.exit(128 + (signal === 'SIGINT' ? 2 : 15)), SIGNAL_DURING_START_MS).unref();
  };
  process.on('SIGINT', () => onSignal('SIGINT'));
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  running = await start(process.argv.slice(2));
  clearTimeout(giveUp);
  if (!running) return;
  const up = running;
  // A southbound connection dropping mid-request must not take the API down with it: log
  // the stray rejection (with its stack) and keep serving; the reconcilers retry.
  process.on('unhandledRejection', (err) => up.logger.error({ event: 'vnetd.unhandled_rejection', err }, 'unhandled promise rejection'));
  if (asked) stop(up, asked);
}

/**
 * How long a stop may take before the process exits anyway (1), naming the step it was stuck
 * in: a stop that never ended kept reconciling and held the store's lock, so the next start
 * was refused (QA-127 F3, QA-124 F9). Well inside a supervisor's own grace (systemd 90 s,
 * Kubernetes 30 s), which would end it without saying why.
 */
const STOP_DEADLINE_MS = Number(process.env.VNETD_STOP_DEADLINE_MS) || 20_000;

let stopping = false;
function stop(running: Running, signal: string): void {
  if (stopping) return;
  stopping = true;
  const t0 = performance.now();
  let step = 'starting to stop';
  setTimeout(() => {
    running.logger.error({ event: 'vnetd.stop_overran', step, ms: Math.round(performance.now() - t0) }, `${signal}: still stopping after ${STOP_DEADLINE_MS} ms, stuck ${step}; exiting without finishing (the switches keep their flows)`);
    process.exit(1);
  }, STOP_DEADLINE_MS).unref();
  // The embedded OVS outlives this process (the VMs keep their traffic) unless told otherwise.
  const keepLocalOvs = process.env.VNETD_LOCAL_OVS_STOP !== '1';
  // Said as it will be (QA-98: "keep their flows", then the embedded OVS stopped).
  running.logger.info({ event: 'vnetd.stopping', signal }, `${signal}: stopping (${keepLocalOvs ? 'the switches keep their flows' : 'the embedded Open vSwitch stops too, VNETD_LOCAL_OVS_STOP=1; other switches keep their flows'})`);
  running
    .close({ keepLocalOvs, onStep: (s) => (step = s) })
    .then(() => {
      running.logger.info({ event: 'vnetd.stopped', ms: Math.round(performance.now() - t0) }, 'stopped');
      process.exit(0);
    })
    .catch((err: unknown) => {
      running.logger.error({ err }, 'shutdown failed');
      process.exit(1);
    });
}

main().catch((err: unknown) => {
  process.stderr.write(`vnetd: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(err instanceof Error && err.name === 'UsageError' ? 2 : 1);
});
