/**
 * Fencing on a hypervisor's database, the OVSDB half of what the switch's master role does
 * for flows (FlowTableManagerOptions.generationId). A leader records its generation in the
 * Open_vSwitch row (external_ids:vnetd-generation) unless a higher one is there, and every
 * layout transaction it sends starts with a wait op that fails it whole unless the row
 * still holds that generation: once a newer leader has recorded its own, a deposed one's
 * writes change nothing. OVSDB conditions cannot compare strings as numbers, so the claim
 * is a compare-and-set of the whole external_ids column as the replica shows it.
 */
import { TimedOut, TransactionError, cond, type Operation, type OperationBuilder } from '../ovsdb';
import type { OpenVSwitch, OpenVSwitchModel } from '../ovsdb/models/open_vswitch';

export const GENERATION_KEY = 'vnetd-generation';
/**
 * The Node whose switch this is, recorded with the first claim (or, for a process that
 * never claims, its first layout pass). An agent started with the wrong --node (or a second
 * Node object naming this database) would compile another node's flows over this one's and
 * rewrite its tunnels' local_ip; it refuses instead.
 */
export const NODE_KEY = 'vnetd-node';

/** The Node name recorded in the row, if any. */
export function nodeIn(ovs: Pick<OpenVSwitch, 'external_ids'> | undefined): string | undefined {
  return ovs?.external_ids[NODE_KEY] || undefined;
}

/** Why a database whose row records `recorded` (nodeIn) is not `node`'s to program, or undefined. */
export function foreignNode(recorded: string | undefined, node: string): string | undefined {
  if (recorded === undefined || recorded === node) return undefined;
  return `this Open vSwitch belongs to Node "${recorded}" (external_ids:${NODE_KEY} of its Open_vSwitch row), not "${node}": start the agent with --node ${recorded}, or, if the hypervisor really changed its name, clear it first: ovs-vsctl remove Open_vSwitch . external_ids ${NODE_KEY}`;
}

/** A newer leader has recorded its generation in the hypervisor's database. */
export class OvsdbFencedError extends Error {
  override readonly name = 'OvsdbFencedError';
  constructor(
    readonly generation: bigint,
    readonly databaseGeneration: bigint,
  ) {
    super(`fenced off: this leader's generation ${generation} is below ${databaseGeneration}, recorded in the hypervisor's database by a newer leader`);
  }
}

/** A generation as vnetd writes it (decimal, at most 20 digits); undefined for anything else. */
export function parseGeneration(v: string | undefined): bigint | undefined {
  return v !== undefined && /^\d{1,20}$/.test(v) ? BigInt(v) : undefined;
}

/** The generation recorded in the row (undefined: none, or not a number vnetd wrote). */
export function generationIn(ovs: Pick<OpenVSwitch, 'external_ids'> | undefined): bigint | undefined {
  return parseGeneration(ovs?.external_ids[GENERATION_KEY]);
}

/** Sets `entries` in the row's external_ids, failing whole (on its first op) if external_ids changed since the replica's `ovs`. */
function setExternalIdsOps(ops: OperationBuilder<OpenVSwitchModel>, ovs: OpenVSwitch, entries: Record<string, string>): Operation[] {
  const where = [cond('_uuid', '==', ovs._uuid)];
  return [
    ops.wait('Open_vSwitch', where, { columns: ['external_ids'], until: '==', rows: [{ external_ids: ovs.external_ids }], timeout: 0 }),
    ops.update('Open_vSwitch', where, { external_ids: { ...ovs.external_ids, ...entries } }),
  ];
}

/** Records the node's name in the row (a process without a generation: it never claims). */
export function recordNodeOps(ops: OperationBuilder<OpenVSwitchModel>, ovs: OpenVSwitch, node: string): Operation[] {
  return setExternalIdsOps(ops, ovs, { [NODE_KEY]: node });
}

/** Records `generation` and the node's name in the row. */
export function claimOps(ops: OperationBuilder<OpenVSwitchModel>, ovs: OpenVSwitch, generation: bigint, node: string): Operation[] {
  return setExternalIdsOps(ops, ovs, { [GENERATION_KEY]: generation.toString(), [NODE_KEY]: node });
}

/** Put first in a transaction: fails it unless the row still holds `generation`. */
export function guardOp(ops: OperationBuilder<OpenVSwitchModel>, ovsUuid: string, generation: bigint): Operation {
  const where = [cond('_uuid', '==', ovsUuid), cond('external_ids', 'includes', { [GENERATION_KEY]: generation.toString() })];
  return ops.wait('Open_vSwitch', where, { columns: ['external_ids'], until: '!=', rows: [], timeout: 0 });
}

/** The transaction failed on its first op, a wait: the guard or the claim's compare. */
export function failedFirstWait(e: unknown): boolean {
  return e instanceof TransactionError && e.first instanceof TimedOut && e.first.index === 0;
}
