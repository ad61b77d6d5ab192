import { formatFlow } from '../format/flow';
import { formatInstructions } from '../format/actions';
import { GroupDesc, FlowStats } from '../messages/multipart-reply';
import { roundOf } from './cookie';
import { FlowEntry, GroupEntry, PreparedOwner, entrySignature } from './desired-state';
import { REPORTED_FLOW_FLAGS, flowKey, flowSignature, groupSignature } from './flow-key';
import { SyncPlan, addFlow, deleteFlow, deleteRound, emptyPlan, groupMod, modifyFlow, ownerCookie } from './plan';

export interface CookieContext {
  round: number;
  app: number;
}

/**
 * The round a new run adopts from what the switch holds: the one carrying most of our
 * flows (the latest on a tie), so that a restart rewrites nothing that is already right;
 * undefined when the switch holds none of ours.
 */
export function adoptableRound(dump: readonly FlowStats[]): number | undefined {
  const counts = new Map<number, number>();
  for (const f of dump) {
    const r = roundOf(f.cookie);
    if (r !== 0) counts.set(r, (counts.get(r) ?? 0) + 1);
  }
  let best: number | undefined;
  for (const [r, n] of counts) {
    const have = best === undefined ? -1 : counts.get(best)!;
    if (n > have || (n === have && r > best!)) best = r;
  }
  return best;
}

/** Flows planned between two turns of the event loop (planFullSync). */
const PLAN_SLICE = 4096;

const nextTurn = (): Promise<void> => new Promise((r) => setImmediate(r));

/** Differences a full sync describes, at most: enough to tell an operator what was touched. */
const DRIFT_SAMPLES = 3;

/**
 * Full reconciliation: the switch's flows of our app (dumped with an app cookie
 * filter, so foreign flows are not even seen) and its groups in our id range,
 * against everything desired.
 */
export async function planFullSync(
  desiredFlows: Iterable<FlowEntry>,
  desiredGroups: Iterable<GroupEntry>,
  dump: readonly FlowStats[],
  groups: readonly GroupDesc[],
  ownsGroup: (id: number) => boolean,
  ctx: CookieContext,
): Promise<{ plan: SyncPlan; unchanged: number; removed: number; drift: string[] }> {
  const plan = emptyPlan();
  // The first few differences in words (flows as ovs-ofctl prints them): a repair after a hand
  // edit said only how many flows it rewrote, not which (QA-131 F5).
  const drift: string[] = [];
  // Checked before the text is built: a first sync onto an empty table adds every flow.
  const noting = () => drift.length < DRIFT_SAMPLES;
  const onSwitch = new Map<string, FlowStats>();
  const staleRounds = new Set<number>();
  // Half a million flows took 6-10 s in one go, and the event loop with them: every other
  // switch's keepalive went unanswered (QA-124 F1). It lets I/O run between slices; the
  // caller holds the sync queue, so the desired state does not change meanwhile.
  let n = 0;
  for (const f of dump) {
    if (++n % PLAN_SLICE === 0) await nextTurn();
    const round = roundOf(f.cookie);
    if (round === 0) continue; // not ours: round 0 is never used
    if (round !== ctx.round) staleRounds.add(round);
    onSwitch.set(flowKey(f.tableId, f.priority, f.match), f);
  }

  let unchanged = 0;
  const cookies = new Map<number, bigint>();
  for (const e of desiredFlows) {
    if (++n % PLAN_SLICE === 0) await nextTurn();
    let cookie = cookies.get(e.owner);
    if (cookie === undefined) cookies.set(e.owner, (cookie = ownerCookie(e.owner, ctx.round, ctx.app)));
    const have = onSwitch.get(e.key);
    if (have) onSwitch.delete(e.key);
    if (!have || have.cookie !== cookie || flagsDiffer(have.flags, e.flow.flags)) {
      plan.flowAdds.push(addFlow(e, cookie));
      if (noting()) drift.push(have ? `rewritten (cookie or flags): ${formatFlow(have)}` : `missing: ${formatFlow(e.flow)}`);
    } else if (flowSignature(have) !== entrySignature(e)) {
      plan.flowModifies.push(modifyFlow(e, cookie));
      if (noting()) drift.push(`changed: ${formatFlow(have)}, put back to actions=${formatInstructions(e.flow.instructions)}`);
    } else unchanged++;
  }
  // What is left on the switch is ours but no longer wanted. Flows of this
  // round go one by one; previous rounds go with one masked delete each.
  for (const f of onSwitch.values()) {
    if (roundOf(f.cookie) !== ctx.round) continue;
    plan.flowDeletes.push(deleteFlow({ flow: f }, f.cookie));
    if (noting()) drift.push(`not desired: ${formatFlow(f)}`);
  }
  for (const r of [...staleRounds].sort((a, b) => a - b)) plan.staleRoundDeletes.push(deleteRound(r, ctx.app));

  const groupsOnSwitch = new Map<number, GroupDesc>();
  for (const g of groups) if (ownsGroup(g.groupId)) groupsOnSwitch.set(g.groupId, g);
  for (const e of desiredGroups) {
    const have = groupsOnSwitch.get(e.group.groupId);
    groupsOnSwitch.delete(e.group.groupId);
    if (!have) {
      plan.groupAdds.push(groupMod('add', e.group));
      if (noting()) drift.push(`missing: group ${e.group.groupId}`);
    } else if (groupSignature(have) !== e.sig) {
      plan.groupModifies.push(groupMod('modify', e.group));
      if (noting()) drift.push(`changed: group ${e.group.groupId}`);
    }
  }
  for (const g of groupsOnSwitch.values()) {
    plan.groupDeletes.push(groupMod('delete', g));
    if (noting()) drift.push(`not desired: group ${g.groupId}`);
  }
  return { plan, unchanged, removed: onSwitch.size, drift };
}

/**
 * An incremental update: only the touched owners' old and new desired state
 * are compared. The switch is assumed to hold the old state, which is true
 * after a full sync on this connection and every accepted update since.
 */
export function planIncremental(prepared: readonly PreparedOwner[], ctx: CookieContext): SyncPlan {
  const plan = emptyPlan();
  for (const p of prepared) {
    const cookie = ownerCookie(p.owner, ctx.round, ctx.app);
    for (const [key, e] of p.newFlows) {
      const old = p.oldFlows.get(key);
      // The same entry: the owner's very flow object again (DesiredState.prepare), unchanged.
      if (old === e) continue;
      if (!old || flagsDiffer(old.flow.flags, e.flow.flags)) plan.flowAdds.push(addFlow(e, cookie));
      else if (entrySignature(old) !== entrySignature(e)) plan.flowModifies.push(modifyFlow(e, cookie));
    }
    // A strict delete with the full cookie mask cannot remove a flow another
    // owner just added under the same key: its cookie differs.
    for (const [key, old] of p.oldFlows) if (!p.newFlows.has(key)) plan.flowDeletes.push(deleteFlow(old, cookie));
    for (const [id, g] of p.newGroups) {
      const old = p.oldGroups.get(id);
      if (!old) plan.groupAdds.push(groupMod('add', g.group));
      else if (old.sig !== g.sig) plan.groupModifies.push(groupMod('modify', g.group));
    }
    for (const [id, old] of p.oldGroups) if (!p.newGroups.has(id)) plan.groupDeletes.push(groupMod('delete', old.group));
  }
  // A group id moving from one owner to another exists on the switch already: modify it, keep it.
  const deleted = new Set(plan.groupDeletes.map((g) => g.groupId));
  if (deleted.size > 0) {
    const moved = new Set(plan.groupAdds.filter((g) => deleted.has(g.groupId)).map((g) => g.groupId));
    plan.groupModifies.push(...plan.groupAdds.filter((g) => moved.has(g.groupId)).map((g) => ({ ...g, command: 'modify' as const })));
    plan.groupAdds = plan.groupAdds.filter((g) => !moved.has(g.groupId));
    plan.groupDeletes = plan.groupDeletes.filter((g) => !moved.has(g.groupId));
  }
  return plan;
}

/**
 * OVS keeps a flow's flags through a modify (measured: SEND_FLOW_REM asked by a modify_strict
 * never showed in the dump, and every sync modified the flow again): a change of the flags
 * it reports is an add, which replaces the flow (in the same bundle, no packet sees it missing).
 */
function flagsDiffer(a: number | undefined, b: number | undefined): boolean {
  return (((a ?? 0) ^ (b ?? 0)) & REPORTED_FLOW_FLAGS) !== 0;
}
