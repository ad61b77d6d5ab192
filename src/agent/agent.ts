/** vnetd agent: not built yet; the controller programs hypervisors with VNETD_CHASSIS=1. */
import type { Logger } from 'pino';
import type { AgentCommand } from '../app/command-line';

export async function startAgent(options: AgentCommand): Promise<{ logger: Logger; close(): Promise<void> }> {
  throw new Error(`vnetd agent is not implemented yet (node ${options.node}); run vnetd controller with VNETD_CHASSIS=1`);
}
