/**
 * An agent's generation: before it programs anything, the agent records itself in its
 * NodeRealization's status.agent, and the resourceVersion of that write is its generation.
 * Store revisions only rise, so an agent started later for the same node holds a higher
 * one, and a controller elected later (whose generation is its election key's revision,
 * leader-generation.ts) does too when the store is etcd. The agent then claims its
 * node's switch and database with it (the fencing the controllers use): a second agent
 * for the same node, by mistake or during a surging rolling update, fences the first off
 * the switch, and the first stops instead of undoing the second's work.
 */
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { NodeRealization } from '../resources/kinds';
import { NODE_REALIZATIONS } from '../store/kinds';
import type { ObjectStore } from '../store/object-store';

export interface NodeClaimOptions {
  /** Between reads while the NodeRealization does not exist yet (the controller's leader creates it with the Node). */
  retryMs?: number;
  /** Resolves when the claim should be given up (the agent is closing). */
  stopped?: Promise<void>;
}

/** Who claims: stable for a process, readable by an operator. */
export const claimHolder = (): string => `${hostname()}/${process.pid}`;

/**
 * Records `holder` as the node's agent; resolves with the write's resourceVersion (the
 * generation), or undefined if stopped first. Waits while the NodeRealization is missing.
 */
export async function claimNode(objects: ObjectStore, node: string, holder: string, log: Logger, o: NodeClaimOptions = {}): Promise<bigint | undefined> {
  let stopped = false;
  void o.stopped?.then(() => (stopped = true));
  let waitingLogged = false;
  while (!stopped) {
    const claimed = await objects.modify<NodeRealization>(
      NODE_REALIZATIONS,
      undefined,
      node,
      (cur) => ({ ...cur, status: { ...(cur.status ?? {}), agent: { holder, claimTime: new Date().toISOString() } } }),
      { subresource: 'status' },
    );
    if (claimed) {
      const generation = BigInt(claimed.object.metadata.resourceVersion!);
      log.info({ event: 'agent.claimed', node, holder, generation: generation.toString() }, `claimed node ${node} as generation ${generation}`);
      return generation;
    }
    if (!waitingLogged) {
      waitingLogged = true;
      log.info({ event: 'agent.waiting_for_node', node }, `waiting for NodeRealization ${node} (the controller's leader creates it once Node ${node} exists)`);
    }
    await Promise.race([new Promise((r) => setTimeout(r, o.retryMs ?? 500)), o.stopped]);
  }
  return undefined;
}
