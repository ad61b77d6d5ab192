import { OpenFlowBundleError, OpenFlowRequestError } from '../connection-errors';
import { formatFlow } from '../format/flow';
import { OfMessage } from '../message';
import { FlowOwner, decodeCookie, formatOwner } from './cookie';

/** A desired flow or group was refused before anything was sent. */
export class InvalidDesiredStateError extends Error {
  override readonly name = 'InvalidDesiredStateError';
  constructor(
    readonly owner: FlowOwner,
    readonly detail: string,
    override readonly cause?: Error,
  ) {
    super(`owner ${formatOwner(owner)}: ${detail}`);
  }
}

/** An owner's change left out of an update because another owner holds one of its flows or groups (DesiredState.prepare's onConflict). */
export interface OwnerConflict {
  owner: FlowOwner;
  holder: FlowOwner;
  /** "flow KEY" or "group ID". */
  what: string;
}

/** Two owners want the same flow (table, priority, match) or the same group id. */
export class DesiredStateConflictError extends InvalidDesiredStateError {
  constructor(
    owner: FlowOwner,
    readonly holder: FlowOwner,
    what: string,
  ) {
    super(owner, `${what} is already owned by ${formatOwner(holder)}`);
  }
}

/** One message the switch refused, described for humans. */
export interface RejectedMessage {
  error: string;
  /** ovs-ofctl-style text of the flow or group. */
  text: string;
  owner?: FlowOwner;
}

function describeMessage(m: OfMessage | undefined): { text: string; owner?: FlowOwner } {
  if (m?.type === 'flow_mod') {
    const c = decodeCookie(m.cookie);
    return { text: `${m.command} ${formatFlow(m)}`, owner: { category: c.category, objectId: c.objectId } };
  }
  if (m?.type === 'group_mod') return { text: `group ${m.command} group_id=${m.groupId},type=${m.groupType}` };
  return { text: m?.type ?? 'unknown message' };
}

/**
 * The switch rejected a sync bundle. Bundles are atomic, so the switch kept
 * its previous table and the manager kept its previous desired state.
 */
export class FlowSyncError extends Error {
  override readonly name = 'FlowSyncError';
  readonly rejected: RejectedMessage[];
  constructor(
    readonly phase: 'full' | 'incremental',
    override readonly cause: OpenFlowBundleError,
    /** Spread over lanes, other lanes' bundles may have committed; a full sync follows. */
    readonly partial = false,
  ) {
    const rejected = cause.failures.map((f) => ({ error: f.error.name, ...describeMessage(f.request) }));
    const lines = rejected.map((r) => `${r.error}: ${r.text}${r.owner ? ` (owner ${formatOwner(r.owner)})` : ''}`);
    const applied = partial ? "other owners' bundles may have applied, the next sync restores the previous state" : 'nothing applied';
    super(`${phase} flow sync rejected by the switch (${cause.error.name}), ${applied}${lines.length ? `: ${lines.join('; ')}` : ''}`);
    this.rejected = rejected;
  }
}

/** How a switch fenced a manager off: its claim refused, its role taken, or a bundle refused. */
export type FencedHow = 'stale claim' | 'demoted' | 'refused bundle';

/**
 * Another controller holds the switch's master role under a newer generation (or the
 * switch remembers one): this manager's generation is stale for good, so it sends nothing
 * more. What the caller should do is stop acting as the leader.
 */
export class FlowTableFencedError extends Error {
  override readonly name = 'FlowTableFencedError';
  constructor(
    /** The generation this manager claimed the master role with. */
    readonly generationId: bigint,
    /** The switch's master generation when it told us (undefined if it did not say). */
    readonly switchGenerationId: bigint | undefined,
    readonly how: FencedHow,
  ) {
    super(`fenced by the switch (${how}): our generation ${generationId}, the switch's master generation ${switchGenerationId ?? 'unknown'}`);
  }
}

/** The switch refused a write because this connection is a slave (another master took over). */
export function refusedAsSlave(e: unknown): boolean {
  if (!(e instanceof OpenFlowRequestError)) return false;
  if (e.error.name === 'OFPBRC_IS_SECONDARY') return true;
  return e instanceof OpenFlowBundleError && e.failures.some((f) => f.error.name === 'OFPBRC_IS_SECONDARY');
}
