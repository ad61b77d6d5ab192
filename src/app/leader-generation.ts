/**
 * The leaders' generation: a number in the store that each new leader raises by one at the
 * start of its term, through its fenced view of the store (so only the leader in office can
 * raise it). The pipeline claims every switch's OpenFlow master role with it: a switch
 * refuses a lower generation's claim and demotes the previous master, so a leader deposed
 * while it stalled cannot overwrite its successor's flows (FlowTableManagerOptions.generationId).
 *
 * A counter kept in the store, not the election key's revision: a switch outlives an etcd
 * cluster that is re-created or restored from an old backup, and remembers a generation the
 * store never saw. A leader fenced off by such a switch raises the counter above it (which
 * only the leader in office can do) and starts a new term.
 */
import { ConflictError, KeyExistsError, type Store } from '../store/store';

/** Outside /registry/: not an API object, never listed or watched by the informers. */
export const LEADER_GENERATION_KEY = '/leadership/generation';

interface StoredGeneration {
  /** A decimal string: the generation is a 64-bit number. */
  generation: string;
}

/** Concurrent raises only come from a deposed leader's late retry; a few rounds settle them. */
const ATTEMPTS = 5;

/**
 * Raises the stored generation to one more than it was, and to at least `atLeast`, and
 * returns it. Through a fenced store it fails with FencedOffError once this process is not
 * the leader.
 */
export async function raiseLeaderGeneration(store: Store, atLeast = 0n): Promise<bigint> {
  for (let attempt = 1; ; attempt++) {
    const cur = await store.get<StoredGeneration>(LEADER_GENERATION_KEY);
    const before = cur ? BigInt(cur.value.generation) : 0n;
    const next = before + 1n > atLeast ? before + 1n : atLeast;
    const value: StoredGeneration = { generation: next.toString() };
    try {
      await store.txn([cur ? { type: 'update', key: LEADER_GENERATION_KEY, value, expectedModRevision: cur.modRevision } : { type: 'create', key: LEADER_GENERATION_KEY, value }]);
      return next;
    } catch (err) {
      if (attempt >= ATTEMPTS || !(err instanceof ConflictError || err instanceof KeyExistsError)) throw err;
    }
  }
}
