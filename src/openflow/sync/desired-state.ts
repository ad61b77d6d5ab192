import { OFPG } from '../constants';
import { checkMatch } from '../oxm/prereq';
import { FlowOwner, formatOwner, ownerFromKey, ownerKey } from './cookie';
import { DesiredStateConflictError, InvalidDesiredStateError, type OwnerConflict } from './errors';
import { flowKey, flowSignature, groupSignature } from './flow-key';
import { DesiredFlow, DesiredGroup, OwnerChange } from './types';
import { formatMatch } from '../format/flow';

/** A desired flow with its identity computed once. */
export interface FlowEntry {
  key: string;
  owner: number;
  flow: DesiredFlow;
  /** flowSignature(), computed on first use: most flows are never compared. */
  sig?: string;
}

/**
 * Signatures of shared instruction lists (flows without timeouts or flags): a load balancer's
 * slot flows share one list per backend, and each kept its own copy of the same string (65 B a
 * flow, 18 MB at 1,000 load balancers: QA-129).
 */
const sharedSignatures = new WeakMap<readonly object[], string>();

export function entrySignature(e: FlowEntry): string {
  if (e.sig === undefined) {
    const f = e.flow;
    const plain = !f.idleTimeout && !f.hardTimeout && !f.flags;
    const known = plain ? sharedSignatures.get(f.instructions) : undefined;
    e.sig = known ?? flowSignature({ idleTimeout: f.idleTimeout ?? 0, hardTimeout: f.hardTimeout ?? 0, flags: f.flags ?? 0, instructions: f.instructions });
    if (plain && known === undefined && Object.isFrozen(f.instructions)) sharedSignatures.set(f.instructions, e.sig);
  }
  return e.sig;
}

export interface GroupEntry {
  owner: number;
  group: DesiredGroup;
  sig: string;
}

/** One owner's state before and after a change, validated but not yet committed. */
export interface PreparedOwner {
  owner: number;
  oldFlows: ReadonlyMap<string, FlowEntry>;
  newFlows: Map<string, FlowEntry>;
  oldGroups: ReadonlyMap<number, GroupEntry>;
  newGroups: Map<number, GroupEntry>;
}

interface OwnerState {
  flows: Map<string, FlowEntry>;
  groups: Map<number, GroupEntry>;
}

const EMPTY_FLOWS: ReadonlyMap<string, FlowEntry> = new Map();
/** Owners of at least this many flows have their unchanged flow objects recognised (entriesByFlow). */
const REUSE_ENTRIES_FROM = 1024;
const EMPTY_GROUPS: ReadonlyMap<number, GroupEntry> = new Map();

/**
 * Everything the owners want, indexed by flow key and group id. Changes are
 * validated in prepare() (prerequisites, duplicates, conflicts between owners)
 * and only applied by commit(), after the switch has accepted them: a refused
 * bundle leaves this state exactly as it was.
 */
export class DesiredState {
  private readonly owners = new Map<number, OwnerState>();
  private readonly flowOwner = new Map<string, number>();
  private readonly groupOwner = new Map<number, number>();
  /** Bumped by every commit, so a prepared change can tell whether it is still current. */
  private versionValue = 0;

  constructor(private readonly groupRange: { min: number; max: number }) {}

  get version(): number {
    return this.versionValue;
  }

  get flowCount(): number {
    return this.flowOwner.size;
  }

  get groupCount(): number {
    return this.groupOwner.size;
  }

  *flows(): IterableIterator<FlowEntry> {
    for (const o of this.owners.values()) yield* o.flows.values();
  }

  *groups(): IterableIterator<GroupEntry> {
    for (const o of this.owners.values()) yield* o.groups.values();
  }

  /** Forgets every owner: the switch is to hold none of our flows or groups. */
  clear(): void {
    this.owners.clear();
    this.flowOwner.clear();
    this.groupOwner.clear();
    this.versionValue++;
  }

  ownsGroupId(id: number): boolean {
    return id >= this.groupRange.min && id <= this.groupRange.max;
  }

  /**
   * Validates changes against each other and the owners they leave untouched. Two owners
   * wanting the same flow (table, priority, match) or group id throw, unless onConflict is
   * given: then the later owner's change is left out (its previous flows stay as they were)
   * and reported, and the rest goes ahead, so one object's bad flows cannot hold every
   * other owner's changes back. So is, with onConflict, an owner whose own flows are
   * invalid (one that cannot be encoded, the same flow twice): reported as its own holder.
   */
  prepare(changes: readonly OwnerChange[], onConflict?: (c: OwnerConflict) => void): PreparedOwner[] {
    const out: PreparedOwner[] = [];
    const touched = new Set<number>();
    for (const c of changes) {
      const owner = ownerKey(c.owner);
      if (touched.has(owner)) throw new InvalidDesiredStateError(c.owner, 'appears twice in one update');
      const prev = this.owners.get(owner);
      let newFlows: Map<string, FlowEntry>;
      let newGroups: Map<number, GroupEntry>;
      try {
        newFlows = this.prepareFlows(c.owner, c.flows);
        newGroups = this.prepareGroups(c.owner, c.groups ?? []);
      } catch (e) {
        if (!onConflict || !(e instanceof InvalidDesiredStateError)) throw e;
        onConflict({ owner: c.owner, holder: c.owner, what: e.detail });
        continue;
      }
      touched.add(owner);
      out.push({ owner, oldFlows: prev?.flows ?? EMPTY_FLOWS, newFlows, oldGroups: prev?.groups ?? EMPTY_GROUPS, newGroups });
    }
    // A left-out owner keeps its previous flows: another owner may not take them over, so
    // the check runs again without it until nothing more is left out.
    for (;;) {
      const refused = this.conflicts(out, touched);
      if (!refused.length) return out;
      for (const r of refused) {
        if (!onConflict) throw new DesiredStateConflictError(ownerFromKey(r.owner), ownerFromKey(r.holder), r.what);
        onConflict({ owner: ownerFromKey(r.owner), holder: ownerFromKey(r.holder), what: r.what });
        touched.delete(r.owner);
      }
      const gone = new Set(refused.map((r) => r.owner));
      out.splice(0, out.length, ...out.filter((p) => !gone.has(p.owner)));
    }
  }

  /**
   * Owners whose new flows or groups another owner holds: one touched earlier in this
   * update, or an owner it leaves untouched. (A key may move between owners within one
   * update.)
   */
  private conflicts(out: readonly PreparedOwner[], touched: ReadonlySet<number>): Array<{ owner: number; holder: number; what: string }> {
    const claimedFlows = new Map<string, number>();
    const claimedGroups = new Map<number, number>();
    const refused: Array<{ owner: number; holder: number; what: string }> = [];
    for (const p of out) {
      let conflict: { holder: number; what: string } | undefined;
      for (const key of p.newFlows.keys()) {
        const holder = claimedFlows.get(key) ?? this.flowOwner.get(key);
        if (holder !== undefined && holder !== p.owner && (claimedFlows.has(key) || !touched.has(holder))) {
          conflict = { holder, what: `flow ${key}` };
          break;
        }
      }
      if (!conflict) {
        for (const id of p.newGroups.keys()) {
          const holder = claimedGroups.get(id) ?? this.groupOwner.get(id);
          if (holder !== undefined && holder !== p.owner && (claimedGroups.has(id) || !touched.has(holder))) {
            conflict = { holder, what: `group ${id}` };
            break;
          }
        }
      }
      if (conflict) {
        refused.push({ owner: p.owner, ...conflict });
        continue;
      }
      for (const key of p.newFlows.keys()) claimedFlows.set(key, p.owner);
      for (const id of p.newGroups.keys()) claimedGroups.set(id, p.owner);
    }
    return refused;
  }

  commit(prepared: readonly PreparedOwner[]): void {
    this.versionValue++;
    // Drop every touched owner's old entries first so moved keys end up with their new owner.
    for (const p of prepared) {
      // A key the owner keeps is set again below: not deleted first (most of a big owner's).
      for (const key of p.oldFlows.keys()) if (!p.newFlows.has(key) && this.flowOwner.get(key) === p.owner) this.flowOwner.delete(key);
      for (const id of p.oldGroups.keys()) if (this.groupOwner.get(id) === p.owner) this.groupOwner.delete(id);
    }
    for (const p of prepared) {
      for (const key of p.newFlows.keys()) this.flowOwner.set(key, p.owner);
      for (const id of p.newGroups.keys()) this.groupOwner.set(id, p.owner);
      if (p.newFlows.size === 0 && p.newGroups.size === 0) this.owners.delete(p.owner);
      else this.owners.set(p.owner, { flows: p.newFlows, groups: p.newGroups });
    }
  }

  private prepareFlows(owner: FlowOwner, flows: readonly DesiredFlow[]): Map<string, FlowEntry> {
    const out = new Map<string, FlowEntry>();
    const o = ownerKey(owner);
    const reused = this.entriesByFlow(o, flows.length);
    for (const flow of flows) {
      // The very flow object the owner had (a compile reusing it, lb-flow-reuse.ts): checked
      // and keyed then, and unchanged (flows are never modified), so its entry stands.
      const had = reused?.get(flow);
      if (had) {
        if (out.has(had.key)) throw new InvalidDesiredStateError(owner, `flow in table ${flow.tableId} priority ${flow.priority} listed twice (${formatMatch(flow.match) || 'any'})`);
        out.set(had.key, had);
        continue;
      }
      try {
        checkMatch(flow.match);
      } catch (e) {
        throw new InvalidDesiredStateError(owner, `flow in table ${flow.tableId} priority ${flow.priority}: ${(e as Error).message}`, e as Error);
      }
      const key = flowKey(flow.tableId, flow.priority, flow.match);
      if (out.has(key)) throw new InvalidDesiredStateError(owner, `flow in table ${flow.tableId} priority ${flow.priority} listed twice (${formatMatch(flow.match) || 'any'})`);
      // sig's slot from the start: added later, it took a property store of its own per entry (40 B: QA-129).
      out.set(key, { key, owner: o, flow, sig: undefined });
    }
    return out;
  }

  /**
   * An owner's current entries by flow object, for a list of many flows: a map of a few
   * entries costs more than keying them again.
   */
  private entriesByFlow(owner: number, flows: number): Map<DesiredFlow, FlowEntry> | undefined {
    const prev = this.owners.get(owner)?.flows;
    if (!prev || flows < REUSE_ENTRIES_FROM || prev.size < REUSE_ENTRIES_FROM) return undefined;
    const out = new Map<DesiredFlow, FlowEntry>();
    for (const e of prev.values()) out.set(e.flow, e);
    return out;
  }

  private prepareGroups(owner: FlowOwner, groups: readonly DesiredGroup[]): Map<number, GroupEntry> {
    const out = new Map<number, GroupEntry>();
    const o = ownerKey(owner);
    for (const group of groups) {
      if (!this.ownsGroupId(group.groupId) || group.groupId > OFPG.MAX) {
        throw new InvalidDesiredStateError(
          owner,
          `group id ${group.groupId} is outside the managed range ${this.groupRange.min}..${this.groupRange.max} (owner ${formatOwner(owner)})`,
        );
      }
      if (out.has(group.groupId)) throw new InvalidDesiredStateError(owner, `group ${group.groupId} listed twice`);
      out.set(group.groupId, { owner: o, group, sig: groupSignature(group) });
    }
    return out;
  }
}
