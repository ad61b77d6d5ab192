/**
 * An agent's generation. Before it programs anything, the agent reads the generation its
 * node's database records (external_ids:vnetd-generation), then claims the node in its
 * NodeRealization (status.agent) with a generation above three things: the one claimed
 * there before, the one the database records, and the object's resourceVersion (so it is
 * above any controller generation of an earlier etcd revision too). The write is a
 * compare-and-set, so two agents claiming at once get different generations and the later
 * one the higher. The agent then claims the switch and the database with it (the fencing
 * the controllers use): a second agent for the same node, by mistake or during a surging
 * rolling update, fences the first off the switch, and the first stops instead of
 * undoing the second's work. Counting from the database as well as the store keeps a
 * store restored from an old backup, or created anew, from leaving every agent fenced.
 * The database alone is read, not the switch: the switch is claimed only after the
 * database records the generation (NodeSession.generationRecorded), so the database's is
 * never below the switch's, even when an agent died between the two claims.
 */
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { ApiUnavailableError } from './api-store';
import type { Logger } from 'pino';
import { parseGeneration } from '../chassis/ovsdb-fence';
import type { NodeLease, NodeRealization } from '../resources/kinds';
import { NODE_LEASES, NODE_REALIZATIONS } from '../store/kinds';
import type { ObjectStore } from '../store/object-store';

export interface NodeClaimOptions {
  /** The generation the node's database records (readNodeDatabase), if any. */
  recorded?: bigint;
  /** Between reads while the NodeRealization does not exist yet (the controller's leader creates it with the Node). */
  retryMs?: number;
  /** Aborted when the claim should be given up (the agent is closing). */
  signal?: AbortSignal;
  /** Which switch the agent programs (NodeDatabaseSnapshot.switchId): recorded with the claim. */
  switchId?: string;
}

/**
 * The node is claimed by a live agent on another switch: the same --node given to a second
 * hypervisor by mistake. Taking it would fence the right agent off its own switch (it stops,
 * exit 0) and leave the node's ports unbound (QA); so this agent refuses instead, as one
 * started with another node's name on a claimed switch does. An agent of the same switch (a
 * restart, a surging update) still takes over, and so does any once the holder's heartbeat stops.
 */
export class ClaimedElsewhereError extends Error {}

const UNAVAILABLE_RELOG_MS = 60_000;

/** Who claims: stable for a process, readable by an operator. */
export const claimHolder = (): string => `${hostname()}/${process.pid}`;

/**
 * The holder of the node's claim when it is not `holder` (a newer agent has claimed the node
 * since); undefined while the claim is holder's, or nobody's. One read of the NodeRealization.
 */
export async function claimedByOther(objects: ObjectStore, node: string, holder: string): Promise<string | undefined> {
  const claim = (await objects.get<NodeRealization>(NODE_REALIZATIONS, undefined, node))?.status?.agent?.holder;
  return claim !== undefined && claim !== holder ? claim : undefined;
}

const max = (...xs: bigint[]): bigint => xs.reduce((a, b) => (b > a ? b : a), 0n);

/**
 * Records `holder` as the node's agent; resolves with its generation, or undefined if
 * stopped first. Waits while the NodeRealization is missing.
 */
export async function claimNode(objects: ObjectStore, node: string, holder: string, log: Logger, o: NodeClaimOptions = {}): Promise<bigint | undefined> {
  let waitingLogged = false;
  /** When the API was last said to be unavailable: said again each minute it stays so, not only once. */
  let unavailableLoggedAt = -Infinity;
  const since = performance.now();
  while (!o.signal?.aborted) {
    let claimed;
    try {
      claimed = await claimOnce();
    } catch (err) {
      // The controller is there but its store is not (etcd down): wait for it, as for the Node.
      if (!(err instanceof ApiUnavailableError)) throw err;
      if (performance.now() - unavailableLoggedAt >= UNAVAILABLE_RELOG_MS) {
        const waited = Math.round((performance.now() - since) / 1000);
        log.warn({ event: 'agent.api_unavailable', node, err: err.message, waitedSeconds: waited }, `${err.message}; retrying${waited ? ` (waiting for ${waited} s)` : ''}`);
        unavailableLoggedAt = performance.now();
      }
      await sleep(o.retryMs ?? 500, undefined, { signal: o.signal }).catch(() => undefined);
      continue;
    }
    const generation = claimed?.object.status?.agent?.generation;
    if (generation !== undefined) {
      log.info({ event: 'agent.claimed', node, holder, generation }, `claimed node ${node} as generation ${generation}`);
      return BigInt(generation);
    }
    if (!waitingLogged) {
      waitingLogged = true;
      log.info({ event: 'agent.waiting_for_node', node }, `waiting for NodeRealization ${node} (the controller's leader creates it once Node ${node} exists)`);
    }
    await sleep(o.retryMs ?? 500, undefined, { signal: o.signal }).catch(() => undefined);
  }
  return undefined;

  async function claimOnce() {
    const before = await objects.get<NodeRealization>(NODE_REALIZATIONS, undefined, node);
    const theirs = before?.status?.agent;
    if (o.switchId && theirs?.switch && theirs.switch !== o.switchId && theirs.holder && (await heartbeatGoesOn(objects, node, theirs.holder, o.signal))) {
      throw new ClaimedElsewhereError(
        `node ${node} is held by the vnetd agent ${theirs.holder} on another switch (Open_vSwitch ${theirs.switch}; this agent's is ${o.switchId}), and that agent's heartbeat goes on: an agent does not take a node from a live agent of another hypervisor. Is --node ${node} right for this one? (Stop that agent first to move the node here.)`,
      );
    }
    return objects.modify<NodeRealization>(
      NODE_REALIZATIONS,
      undefined,
      node,
      (cur) => {
        const generation = max(parseGeneration(cur.status?.agent?.generation) ?? 0n, o.recorded ?? 0n, parseGeneration(cur.metadata.resourceVersion) ?? 0n) + 1n;
        return { ...cur, status: { ...(cur.status ?? {}), agent: { holder, claimTime: new Date().toISOString(), generation: generation.toString(), ...(o.switchId ? { switch: o.switchId } : {}) } } };
      },
      { subresource: 'status' },
    );
  }
}

/**
 * Whether `holder` still renews the node's NodeLease: watched for one lease duration (no
 * comparison of this host's clock with the holder's). A lease of another holder, or none, is no heartbeat.
 */
async function heartbeatGoesOn(objects: ObjectStore, node: string, holder: string, signal?: AbortSignal): Promise<boolean> {
  const read = async () => (await objects.get<NodeLease>(NODE_LEASES, undefined, node))?.spec;
  const first = await read();
  if (first?.holderIdentity !== holder) return false;
  const until = performance.now() + (first.leaseDurationSeconds ?? 60) * 1000;
  while (performance.now() < until && !signal?.aborted) {
    await sleep(Math.min(500, Math.max(0, until - performance.now())), undefined, { signal }).catch(() => undefined);
    const now = await read();
    if (now?.holderIdentity === holder && now.renewTime !== first.renewTime) return true;
  }
  return false;
}
