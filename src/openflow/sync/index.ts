/**
 * Flow-table sync: keeps a switch's flows and groups equal to what owners
 * desire, sending only differences in atomic bundles, with Antrea-style
 * cookies (owner + round) so that nothing is ever flushed, and a restart
 * sends only what changed while the controller was away.
 */
export * from './cookie';
export { createFlowTableManager } from './manager';
export type { AuditResult, FlowTableManager, FlowTableManagerOptions } from './manager';
export type { DesiredFlow, DesiredGroup, OwnerChange, SyncCounters, SyncResult } from './types';
export { FlowSyncError, FlowTableFencedError, InvalidDesiredStateError, DesiredStateConflictError, type OwnerConflict } from './errors';
export type { RejectedMessage } from './errors';
export { flowKey, matchKey, flowSignature, groupSignature } from './flow-key';
