import type { Instruction } from '../instructions';
import type { Bucket, GroupType } from '../messages/group';
import type { Match } from '../oxm/match';
import type { FlowOwner } from './cookie';

/** A flow as its owner wants it; the manager adds the cookie. */
export interface DesiredFlow {
  tableId: number;
  priority: number;
  match: Match;
  instructions: Instruction[];
  idleTimeout?: number;
  hardTimeout?: number;
  /** FlowModFlags bits (only SEND_FLOW_REM / NO_PKT_COUNTS / NO_BYT_COUNTS persist in OVS). */
  flags?: number;
}

export interface DesiredGroup {
  groupId: number;
  groupType: GroupType;
  buckets: Bucket[];
}

/** One owner's complete desired state; `flows` and `groups` replace what it had. */
export interface OwnerChange {
  owner: FlowOwner;
  flows: readonly DesiredFlow[];
  groups?: readonly DesiredGroup[];
}

/** What one sync or incremental update sent. */
export interface SyncResult {
  /** False when the switch was not connected: desired state is kept and synced on connect. */
  sent: boolean;
  flowMods: number;
  groupMods: number;
  durationMs: number;
}

/** Monotonic counters for metrics (flow_mods sent, bundles, last sync duration...). */
export interface SyncCounters {
  flowModsSent: number;
  groupModsSent: number;
  bundlesCommitted: number;
  bundlesFailed: number;
  /** Full resyncs (on connect, reconnect or explicit resync()). */
  fullSyncs: number;
  /** Incremental updates that reached the switch. */
  incrementalUpdates: number;
  lastSyncDurationMs: number;
  lastSyncFlowMods: number;
  /** Flows of ours that the last full sync found already right on the switch. */
  lastSyncUnchangedFlows: number;
  /** Audits that found our flows off and repaired them: audit() (the count differed, resynced) and verify() (flows or groups changed in place). */
  driftRepairs: number;
  /** Flows on the switch that are not ours (another cookie), as the last audit counted them. */
  foreignFlows: number;
  desiredFlows: number;
  desiredGroups: number;
}

export function emptyCounters(): SyncCounters {
  return {
    flowModsSent: 0,
    groupModsSent: 0,
    bundlesCommitted: 0,
    bundlesFailed: 0,
    fullSyncs: 0,
    incrementalUpdates: 0,
    lastSyncDurationMs: 0,
    lastSyncFlowMods: 0,
    lastSyncUnchangedFlows: 0,
    driftRepairs: 0,
    foreignFlows: 0,
    desiredFlows: 0,
    desiredGroups: 0,
  };
}
