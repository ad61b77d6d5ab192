import { createConnection, type OpenFlowConnection } from '../connection';
import { OpenFlowConnectionError } from '../connection-errors';
import { FlowModMessage } from '../messages/flow-mod';
import { OfMessage } from '../message';
import { startFakeSwitch, type FakeSwitch } from '../testing/fake-switch';
import { FlowOwner, decodeCookie, encodeCookie } from './cookie';
import { flowKey } from './flow-key';
import { DesiredStateConflictError, FlowSyncError, FlowTableFencedError, InvalidDesiredStateError } from './errors';
import { LANE_MESSAGES, createFlowTableManager, type FlowTableManager } from './manager';
import { DesiredFlow, DesiredGroup } from './types';

const PORT = 1;
const NET = 2;
const owner = (category: number, objectId: number): FlowOwner => ({ category, objectId });

function flow(tableId: number, reg0: number, out = 1): DesiredFlow {
  return {
    tableId,
    priority: 100,
    match: [{ field: 'reg0', value: reg0 }],
    instructions: [{ type: 'apply_actions', actions: [{ type: 'output', port: out, maxLen: 0 }] }],
  };
}

const group = (groupId: number, port: number): DesiredGroup => ({
  groupId,
  groupType: 'select',
  buckets: [{ weight: 1, watchPort: 0xffffffff, watchGroup: 0xffffffff, actions: [{ type: 'output', port, maxLen: 0 }] }],
});

/** "add t0 reg0=1" style summary of a bundle's messages. */
function summary(msgs: readonly OfMessage[]): string[] {
  return msgs.map((m) => {
    if (m.type === 'group_mod') return `group ${m.command} ${m.groupId}`;
    if (m.type !== 'flow_mod') return m.type;
    const reg0 = m.match.find((f) => f.field === 'reg0');
    const c = decodeCookie(m.cookie);
    const what = m.command === 'delete' ? `round=${c.round}` : `t${m.tableId} reg0=${reg0?.value}`;
    return `${m.command} ${what}`;
  });
}

const key = (tableId: number, reg0: number): string => flowKey(tableId, 100, [{ field: 'reg0', value: reg0 }]);
const lastBundle = (sw: FakeSwitch): string[] => summary(sw.committed[sw.committed.length - 1] ?? []);

describe('FlowTableManager (fake switch)', () => {
  let sw: FakeSwitch;
  const conns: OpenFlowConnection[] = [];
  const managers: FlowTableManager[] = [];

  beforeEach(async () => {
    sw = await startFakeSwitch();
  });
  afterEach(async () => {
    managers.splice(0).forEach((m) => m.stop());
    await Promise.all(conns.splice(0).map((c) => c.close()));
    await sw.close();
  });

  async function openConn(): Promise<OpenFlowConnection> {
    const c = createConnection(sw.target, { reconnect: { initialDelayMs: 10, maxDelayMs: 50 } });
    conns.push(c);
    await c.ready();
    return c;
  }

  async function connect(opts: Parameters<typeof createFlowTableManager>[1] = { round: 1 }): Promise<FlowTableManager> {
    const c = await openConn();
    const m = createFlowTableManager(c, opts);
    managers.push(m);
    await m.start();
    return m;
  }

  it('installs desired state in one bundle and sends nothing when already in sync', async () => {
    const m = await connect();
    await m.setDesired(owner(PORT, 1), [flow(0, 1), flow(1, 1)], [group(10, 1)]);
    await m.setDesired(owner(PORT, 2), [flow(0, 2)]);
    expect(sw.flows.size).toBe(3);
    expect([...sw.flows.values()].map((f) => decodeCookie(f.cookie))).toContainEqual({ round: 1, category: PORT, app: 0x56, objectId: 2 });
    expect(sw.committed).toHaveLength(2);
    expect(lastBundle(sw)).toEqual(['add t0 reg0=2']);

    const r = await m.resync();
    expect(r).toMatchObject({ sent: true, flowMods: 0, groupMods: 0 });
    expect(sw.committed).toHaveLength(2); // an empty plan sends no bundle at all
    expect(m.counters()).toMatchObject({ flowModsSent: 3, groupModsSent: 1, bundlesCommitted: 2, fullSyncs: 2, lastSyncUnchangedFlows: 3, desiredFlows: 3, desiredGroups: 1 });
  });

  it("sends only the changed owner's delta: add, modify_strict, delete_strict", async () => {
    const m = await connect();
    await m.setDesired(owner(PORT, 1), [flow(0, 1), flow(0, 2), flow(0, 3)]);
    await m.setDesired(owner(PORT, 2), [flow(0, 9)]);
    const r = await m.setDesired(owner(PORT, 1), [flow(0, 1), flow(0, 2, 7), flow(0, 4)]);
    expect(r).toMatchObject({ sent: true, flowMods: 3 });
    expect(lastBundle(sw)).toEqual(['add t0 reg0=4', 'modify_strict t0 reg0=2', 'delete_strict t0 reg0=3']);
    // Modify and delete only hit the flow if it still carries this owner's cookie.
    const mods = sw.committed[sw.committed.length - 1] as FlowModMessage[];
    expect(mods.slice(1).every((x) => x.cookie === encodeCookie({ round: 1, category: PORT, app: 0x56, objectId: 1 }) && x.cookieMask === 0xffffffffffffffffn)).toBe(true);

    await m.removeOwner(owner(PORT, 1));
    expect(lastBundle(sw)).toEqual(['delete_strict t0 reg0=1', 'delete_strict t0 reg0=2', 'delete_strict t0 reg0=4']);
    expect([...sw.flows.keys()]).toEqual([key(0, 9)]);
  });

  it('retire() removes every flow and group of ours in one bundle and leaves the rest', async () => {
    sw.install({ tableId: 0, priority: 5, match: [], instructions: [] }); // cookie 0, as ovs-ofctl adds
    const m = await connect();
    await m.setDesired(owner(PORT, 1), [flow(0, 1), flow(1, 1)], [group(10, 1)]);
    await m.setDesired(owner(PORT, 2), [flow(0, 2)]);
    const bundles = sw.committed.length;
    expect(await m.retire()).toMatchObject({ sent: true, flowMods: 3, groupMods: 1 });
    expect(sw.committed).toHaveLength(bundles + 1);
    expect([...sw.flows.values()].map((f) => f.cookie)).toEqual([0n]);
    expect(sw.groups.size).toBe(0);
    expect(m.counters()).toMatchObject({ desiredFlows: 0, desiredGroups: 0 });
  });

  it('never touches flows it does not own, whatever the sync', async () => {
    sw.install({ tableId: 0, priority: 5, match: [], instructions: [] }); // cookie 0, as ovs-ofctl adds
    const otherApp = encodeCookie({ round: 1, category: PORT, app: 0x41, objectId: 1 });
    sw.install({ tableId: 0, priority: 6, match: [], instructions: [], cookie: otherApp });
    const m = await connect();
    await m.setDesired(owner(PORT, 1), [flow(0, 1)]);
    await m.removeOwner(owner(PORT, 1));
    await m.resync();
    const m2 = await connect({ round: 2 });
    await m2.setDesired(owner(PORT, 1), [flow(0, 1)]);
    await m2.resync();
    expect([...sw.flows.values()].map((f) => f.cookie).sort()).toEqual([0n, otherApp, encodeCookie({ round: 2, category: PORT, app: 0x56, objectId: 1 })].sort());
  });

  it('a new round installs its flows first, then deletes the old round with one masked delete', async () => {
    const m1 = await connect({ round: 7 });
    await m1.setDesired(owner(PORT, 1), [flow(0, 1), flow(0, 2)]);
    await m1.setDesired(owner(NET, 1), [flow(3, 50)]);
    m1.stop();

    const m2 = createFlowTableManager(conns[0] as OpenFlowConnection, { round: 8 });
    managers.push(m2);
    // Desired before the first sync: recorded, not sent.
    expect(await m2.setDesired(owner(PORT, 1), [flow(0, 1), flow(0, 3)])).toMatchObject({ sent: false });
    await m2.start();
    expect(lastBundle(sw)).toEqual(['add t0 reg0=1', 'add t0 reg0=3', 'delete round=7']);
    const del = sw.committed[sw.committed.length - 1]?.at(-1) as FlowModMessage;
    expect(del).toMatchObject({ command: 'delete', tableId: 255, cookie: 0x0007_00_56_00000000n, cookieMask: 0xffff_00_ff_00000000n, match: [] });
    expect([...sw.flows.keys()].sort()).toEqual([key(0, 1), key(0, 3)]);
    expect([...sw.flows.values()].every((f) => decodeCookie(f.cookie).round === 8)).toBe(true);
  });

  it('a restart adopts the round on the switch and sends only what differs from it', async () => {
    const m1 = await connect({});
    expect(m1.round).toBe(1); // an empty switch
    await m1.setDesired(owner(PORT, 1), [flow(0, 1), flow(0, 2)]);
    await m1.setDesired(owner(NET, 1), [flow(3, 50)]);
    m1.stop();
    const bundles = sw.committed.length;

    // Unchanged: nothing is sent at all, and nothing is said above info.
    const warned: Array<{ obj: object; msg?: string }> = [];
    const logger = { debug: () => {}, info: () => {}, warn: (obj: object, msg?: string) => void warned.push({ obj, msg }) };
    const m2 = createFlowTableManager(conns[0] as OpenFlowConnection, { logger });
    managers.push(m2);
    await m2.setDesired(owner(PORT, 1), [flow(0, 1), flow(0, 2)]);
    await m2.setDesired(owner(NET, 1), [flow(3, 50)]);
    const sent = m2.counters().flowModsSent;
    await m2.start();
    expect(m2.counters()).toMatchObject({ fullSyncs: 1, flowModsSent: sent, lastSyncFlowMods: 0 });
    expect(m2.round).toBe(1);
    expect(sw.committed).toHaveLength(bundles);
    expect(m2.counters().lastSyncUnchangedFlows).toBe(3);
    expect(warned).toEqual([]);
    m2.stop();

    // Changed while no controller ran: one add, one delete of this round's flow, nothing else;
    // the removal is a warning (a store that never programmed the switch looks the same).
    const m3 = createFlowTableManager(conns[0] as OpenFlowConnection, { logger });
    managers.push(m3);
    await m3.setDesired(owner(PORT, 1), [flow(0, 1), flow(0, 3)]);
    await m3.setDesired(owner(NET, 1), [flow(3, 50)]);
    await m3.start();
    expect(lastBundle(sw)).toEqual(['add t0 reg0=3', 'delete_strict t0 reg0=2']);
    expect(warned).toEqual([{ obj: { removed: 1, dumped: 3 }, msg: expect.stringMatching(/^openflow first sync: removed 1 of this application's flows/) }]);
    expect(m3.round).toBe(1);
    expect([...sw.flows.keys()].sort()).toEqual([key(0, 1), key(0, 3), key(3, 50)].sort());
  });

  it('adopts the round holding most of our flows; the others are rewritten or deleted with one masked delete', async () => {
    const cookie = (round: number, objectId: number) => encodeCookie({ round, category: PORT, app: 0x56, objectId });
    sw.install({ ...flow(0, 1), cookie: cookie(41, 1) });
    sw.install({ ...flow(0, 2), cookie: cookie(41, 1) });
    sw.install({ ...flow(0, 6), cookie: cookie(41, 1) });
    sw.install({ ...flow(0, 3), cookie: cookie(42, 2) }); // a later round with fewer flows
    sw.install({ ...flow(0, 4), cookie: cookie(42, 2) });
    sw.install({ ...flow(0, 5), cookie: cookie(43, 3) });
    const m = createFlowTableManager(await openConn(), {});
    managers.push(m);
    await m.setDesired(owner(PORT, 1), [flow(0, 1), flow(0, 2)]);
    await m.setDesired(owner(PORT, 2), [flow(0, 3)]);
    await m.start();
    expect(m.round).toBe(41);
    // 42's flow that is still wanted moves to round 41, 41's unwanted one goes alone,
    // the rest of 42 and 43 by mask, last.
    expect(lastBundle(sw)).toEqual(['add t0 reg0=3', 'delete_strict t0 reg0=6', 'delete round=42', 'delete round=43']);
    expect([...sw.flows.values()].map((f) => f.cookie).sort()).toEqual([cookie(41, 1), cookie(41, 1), cookie(41, 2)].sort());
  });

  it('picks round 1 on a switch without flows of ours, and the latest round on a tie', async () => {
    const cookie = (round: number) => encodeCookie({ round, category: PORT, app: 0x56, objectId: 1 });
    sw.install({ ...flow(0, 1), cookie: cookie(7) });
    sw.install({ ...flow(0, 2), cookie: cookie(9) });
    const m = await connect({});
    expect(m.round).toBe(9);
    expect(sw.flows.size).toBe(0); // nobody desires the old flows
  });

  it('resyncs after a switch restart, sending only what is missing', async () => {
    const m = await connect();
    await m.setDesired(owner(PORT, 1), [flow(0, 1), flow(0, 2), flow(0, 3)], [group(10, 1)]);
    const before = m.counters().flowModsSent;

    // Restart that kept the tables but lost one flow (e.g. flows restored by ovs-save).
    const synced = new Promise((r) => m.once('synced', r));
    sw.flows.delete(key(0, 2));
    sw.restart();
    await synced;
    expect(lastBundle(sw)).toEqual(['add t0 reg0=2']);
    expect(m.counters().flowModsSent - before).toBe(1);

    // Restart that lost everything: all of it goes back, groups first.
    const again = new Promise((r) => m.once('synced', r));
    sw.restart({ wipe: true });
    await again;
    expect(lastBundle(sw)).toEqual(['group add 10', 'add t0 reg0=1', 'add t0 reg0=2', 'add t0 reg0=3']);
  });

  it('refuses a flow with a missing prerequisite before sending anything', async () => {
    const m = await connect();
    const bad: DesiredFlow = { tableId: 0, priority: 1, match: [{ field: 'tcp_dst', value: 80 }], instructions: [] };
    await expect(m.setDesired(owner(PORT, 1), [flow(0, 1), bad])).rejects.toThrow(InvalidDesiredStateError);
    await expect(m.setDesired(owner(PORT, 1), [bad])).rejects.toThrow(/tcp_dst requires eth_type=0x0800 or eth_type=0x86dd/);
    expect(sw.committed).toHaveLength(0);
    expect(m.counters().desiredFlows).toBe(0);
  });

  it('a rejected bundle changes neither the switch nor the desired state', async () => {
    const m = await connect();
    await m.setDesired(owner(PORT, 1), [flow(0, 1)]);
    const usesMissingGroup: DesiredFlow = {
      tableId: 0,
      priority: 9,
      match: [],
      instructions: [{ type: 'apply_actions', actions: [{ type: 'group', groupId: 99 }] }],
    };
    const err = await m.setDesired(owner(PORT, 1), [flow(0, 1, 5), flow(0, 2), usesMissingGroup]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FlowSyncError);
    expect((err as FlowSyncError).message).toMatch(/incremental flow sync rejected by the switch \(OFPBFC_MSG_FAILED\), nothing applied: OFPBAC_BAD_OUT_GROUP: add table=0, priority=9, cookie=0x1015600000001 actions=group:99 \(owner 1\/1\)/);
    expect((err as FlowSyncError).rejected).toEqual([expect.objectContaining({ error: 'OFPBAC_BAD_OUT_GROUP', owner: owner(PORT, 1) })]);
    expect([...sw.flows.keys()]).toEqual([key(0, 1)]);
    expect(m.counters()).toMatchObject({ bundlesFailed: 1, desiredFlows: 1 });
    // The old desired state is still the reference: a resync finds nothing to do.
    expect(await m.resync()).toMatchObject({ flowMods: 0 });
  });

  it('programs groups: add before flows, modify in place, delete after flows', async () => {
    const m = await connect({ round: 1, groupIdRange: { min: 10, max: 19 } });
    sw.groups.set(50, { groupId: 50, groupType: 'all', buckets: [] }); // outside our range: foreign
    const lb = owner(3, 1);
    const viaGroup: DesiredFlow = { ...flow(0, 1), instructions: [{ type: 'apply_actions', actions: [{ type: 'group', groupId: 10 }] }] };
    await m.setDesired(lb, [viaGroup], [group(10, 1)]);
    expect(lastBundle(sw)).toEqual(['group add 10', 'add t0 reg0=1']);
    await m.setDesired(lb, [viaGroup], [group(10, 2)]);
    expect(lastBundle(sw)).toEqual(['group modify 10']);
    await m.removeOwner(lb);
    expect(lastBundle(sw)).toEqual(['delete_strict t0 reg0=1', 'group delete 10']);
    sw.groups.set(11, { groupId: 11, groupType: 'all', buckets: [] }); // ours by range, desired by nobody
    await m.resync();
    expect([...sw.groups.keys()]).toEqual([50]);
    await expect(m.setDesired(lb, [], [group(20, 1)])).rejects.toThrow(/outside the managed range 10..19/);
  });

  it('moves a group between owners in one update without deleting it', async () => {
    const m = await connect();
    await m.setDesired(owner(3, 1), [], [group(10, 1)]);
    await m.apply([
      { owner: owner(3, 1), flows: [] },
      { owner: owner(3, 2), flows: [], groups: [group(10, 2)] },
    ]);
    expect(lastBundle(sw)).toEqual(['group modify 10']);
    expect(sw.groups.has(10)).toBe(true);
  });

  it('refuses two owners wanting the same flow, but lets a flow move in one update', async () => {
    const m = await connect();
    await m.setDesired(owner(PORT, 1), [flow(0, 1)]);
    await expect(m.setDesired(owner(PORT, 2), [flow(0, 1)])).rejects.toThrow(DesiredStateConflictError);
    await m.apply([
      { owner: owner(PORT, 1), flows: [] },
      { owner: owner(PORT, 2), flows: [flow(0, 1)] },
    ]);
    // The add replaces the flow with the new owner's cookie; the strict delete with the old cookie is then a no-op.
    expect(lastBundle(sw)).toEqual(['add t0 reg0=1', 'delete_strict t0 reg0=1']);
    expect(decodeCookie([...sw.flows.values()][0]?.cookie ?? 0n).objectId).toBe(2);
  });

  it('with onConflict, an owner wanting another\'s flow is left out (keeping its previous flows) and the rest of the update goes ahead', async () => {
    const m = await connect();
    await m.setDesired(owner(PORT, 1), [flow(0, 1)]);
    await m.setDesired(owner(PORT, 2), [flow(0, 5)]);
    const refused: string[] = [];
    await m.apply(
      [
        { owner: owner(PORT, 2), flows: [flow(0, 1)] }, // 1's flow: left out, keeps flow 5
        { owner: owner(PORT, 3), flows: [flow(0, 3)] },
        // 4 takes flow 5, which 2 gave up in this update, but 2 is left out and keeps it: 4 is left out too.
        { owner: owner(PORT, 4), flows: [flow(0, 5), flow(0, 6)] },
      ],
      { onConflict: (c) => refused.push(`${c.owner.objectId} -> ${c.holder.objectId}`) },
    );
    expect([...new Set(refused)]).toEqual(['2 -> 1', '4 -> 2']);
    expect(lastBundle(sw)).toEqual(['add t0 reg0=3']);
    expect([...sw.flows.values()].map((f) => decodeCookie(f.cookie).objectId).sort()).toEqual([1, 2, 3]);
    // The left-out owner is retried as the caller sends it again, once the holder is gone.
    await m.apply([{ owner: owner(PORT, 1), flows: [] }, { owner: owner(PORT, 2), flows: [flow(0, 1)] }], { onConflict: () => refused.push('again') });
    expect(refused).not.toContain('again');
  });

  it('with onConflict, an owner whose own flows are invalid (the same flow twice, a missing prerequisite) is left out alone: the rest of the node goes ahead', async () => {
    const m = await connect();
    await m.setDesired(owner(PORT, 1), [flow(0, 1)]);
    const bad: DesiredFlow = { tableId: 0, priority: 1, match: [{ field: 'tcp_dst', value: 80 }], instructions: [] };
    const refused: string[] = [];
    await m.apply(
      [
        { owner: owner(PORT, 1), flows: [flow(0, 7), flow(0, 7)] }, // keeps flow 1
        { owner: owner(PORT, 2), flows: [bad] },
        { owner: owner(PORT, 3), flows: [flow(0, 3)] },
      ],
      { onConflict: (c) => refused.push(`${c.owner.objectId} -> ${c.holder.objectId}: ${c.what}`) },
    );
    expect([...new Set(refused)]).toEqual(['1 -> 1: flow in table 0 priority 100 listed twice (reg0=0x7)', expect.stringMatching(/^2 -> 2: flow in table 0 priority 1: match field tcp_dst requires/)]);
    expect(lastBundle(sw)).toEqual(['add t0 reg0=3']);
    expect([...sw.flows.values()].map((f) => decodeCookie(f.cookie).objectId).sort()).toEqual([1, 3]);
    // Without onConflict the whole update is refused, as before.
    await expect(m.apply([{ owner: owner(PORT, 2), flows: [bad] }])).rejects.toThrow(InvalidDesiredStateError);
  });

  /**
   * Pacing on a clock that moves only when the test or a pacing wait moves it: the waits the
   * manager asks for are exact, whatever the machine's load (wall-clock bounds failed under
   * load: "at once" took more than 300 ms there).
   */
  function virtualClock() {
    const waits: number[] = [];
    let t = 1000;
    return {
      waits,
      advance: (ms: number) => void (t += ms),
      clock: { now: () => t, sleep: async (ms: number) => void (waits.push(Math.round(ms)), (t += ms)) },
    };
  }

  it('paces incremental bundles minIntervalMs apart: a change right after a bundle waits, one after a quiet spell goes at once', async () => {
    const v = virtualClock();
    const m = await connect({ round: 1, minIntervalMs: 400, clock: v.clock });
    await m.setDesired(owner(PORT, 1), [flow(0, 1)]);
    expect(v.waits).toEqual([]);
    await m.setDesired(owner(PORT, 2), [flow(0, 2)]);
    expect(v.waits).toEqual([400]);
    v.advance(450);
    await m.setDesired(owner(PORT, 3), [flow(0, 3)]);
    expect(v.waits).toEqual([400]);
    // A full sync is not held back, right after a bundle as it may be.
    sw.flows.clear();
    await m.resync();
    expect(v.waits).toEqual([400]);
    expect(sw.flows.size).toBe(3);
  });

  it('doubles the interval while changes keep coming, up to maxIntervalMs, and starts again from minIntervalMs after a quiet spell', async () => {
    const v = virtualClock();
    const m = await connect({ round: 1, minIntervalMs: 400, maxIntervalMs: 1000, clock: v.clock });
    for (let n = 1; n <= 4; n++) await m.setDesired(owner(PORT, n), [flow(0, n)]);
    // The first at once, then 400, 800 and 1000 (capped, not 1600).
    expect(v.waits).toEqual([400, 800, 1000]);
    v.advance(1100);
    await m.setDesired(owner(PORT, 5), [flow(0, 5)]);
    await m.setDesired(owner(PORT, 6), [flow(0, 6)]);
    // At once after the quiet spell, then back to 400 (not 800 or 1000).
    expect(v.waits).toEqual([400, 800, 1000, 400]);
    expect(sw.flows.size).toBe(6);
  });

  it('with burstGraceMs, keeps minIntervalMs for a burst that has not lasted that long, and doubles after', async () => {
    const v = virtualClock();
    const m = await connect({ round: 1, minIntervalMs: 400, maxIntervalMs: 3200, burstGraceMs: 1000, clock: v.clock });
    for (let n = 1; n <= 6; n++) await m.setDesired(owner(PORT, n), [flow(0, n)]);
    // Bundles at 0, 400 and 800 ms: within the grace, no doubling; the one at 1200 ms is past
    // it, so the next waits 800, then 1600.
    expect(v.waits).toEqual([400, 400, 400, 800, 1600]);
    expect(sw.flows.size).toBe(6);
  });

  it('pace() waits out the interval for a caller that computes its change after it, which then goes at once and still counts as a burst', async () => {
    const v = virtualClock();
    const m = await connect({ round: 1, minIntervalMs: 400, maxIntervalMs: 1600, clock: v.clock });
    await m.setDesired(owner(PORT, 1), [flow(0, 1)]);
    await m.pace();
    expect(v.waits).toEqual([400]);
    await m.setDesired(owner(PORT, 2), [flow(0, 2)]);
    expect(v.waits).toEqual([400]);
    // Held back once since the last bundle: the interval doubled.
    await m.setDesired(owner(PORT, 3), [flow(0, 3)]);
    expect(v.waits).toEqual([400, 800]);
    expect(sw.flows.size).toBe(3);
  });

  it('paces on the real clock by default', async () => {
    const m = await connect({ round: 1, minIntervalMs: 200 });
    await m.setDesired(owner(PORT, 1), [flow(0, 1)]);
    const t0 = performance.now();
    await m.setDesired(owner(PORT, 2), [flow(0, 2)]);
    // A lower bound only: a loaded machine may take longer, never less.
    expect(performance.now() - t0).toBeGreaterThanOrEqual(190);
  });

  it('records changes while disconnected and installs them on reconnect', async () => {
    const m = await connect();
    await m.setDesired(owner(PORT, 1), [flow(0, 1)]);
    const down = new Promise((r) => conns[0]?.once('disconnected', r));
    sw.restart({ wipe: true });
    await down;
    const synced = new Promise((r) => m.once('synced', r));
    const r = await m.setDesired(owner(PORT, 2), [flow(0, 2)]);
    await synced;
    // Either queued before the reconnect (not sent) or after it (sent incrementally): both end in sync.
    expect(typeof r.sent).toBe('boolean');
    await m.resync();
    expect([...sw.flows.keys()].sort()).toEqual([key(0, 1), key(0, 2)]);
  });

  describe('fencing by master generation', () => {
    async function leader(generationId: bigint): Promise<{ m: FlowTableManager; conn: OpenFlowConnection; seen: FlowTableFencedError[] }> {
      const conn = await openConn();
      const m = createFlowTableManager(conn, { round: 1, generationId });
      const seen: FlowTableFencedError[] = [];
      m.on('fenced', (e) => seen.push(e));
      managers.push(m);
      await m.start();
      return { m, conn, seen };
    }

    it('claims the master role before it reads or writes anything, on every connection', async () => {
      const a = await leader(5n);
      expect(sw.generationId).toBe(5n);
      await a.m.setDesired(owner(PORT, 1), [flow(0, 1)]);
      expect(sw.flows.size).toBe(1);
      // A reconnect claims again before its full sync.
      const down = new Promise((r) => a.conn.once('disconnected', r));
      const synced = new Promise((r) => a.m.once('synced', r));
      sw.restart({ wipe: true });
      await down;
      await synced;
      expect(sw.flows.size).toBe(1);
      const order = sw.received.map((m) => (m.type === 'role_request' ? `${m.role} ${m.generationId}` : m.type));
      expect(order).toEqual(['master 5', 'multipart_request', 'multipart_request', 'master 5', 'multipart_request', 'multipart_request']);
      expect(a.m.fenced).toBeUndefined();
    });

    it("a newer leader's claim demotes the old one: its next change is not sent, and it is fenced once with the new generation", async () => {
      const a = await leader(5n);
      await a.m.setDesired(owner(PORT, 1), [flow(0, 1)]);
      const fenced = new Promise<FlowTableFencedError>((r) => a.m.once('fenced', r));
      const b = await leader(6n);
      await b.m.setDesired(owner(PORT, 2), [flow(0, 2)]);
      const e = await fenced;
      expect(e).toMatchObject({ generationId: 5n, switchGenerationId: 6n, how: 'demoted' });
      const bundles = sw.committed.length;
      const r = await a.m.setDesired(owner(PORT, 3), [flow(0, 3)]);
      expect(r.sent).toBe(false);
      expect(await a.m.resync()).toMatchObject({ sent: false });
      expect(sw.committed).toHaveLength(bundles);
      // The new leader's full sync made the table its own; the old one added nothing after it.
      expect([...sw.flows.keys()]).toEqual([key(0, 2)]);
      expect(a.seen).toHaveLength(1);
      expect(b.m.fenced).toBeUndefined();
    });

    it('a bundle the switch refuses because we are a slave fences the manager and applies nothing', async () => {
      const a = await leader(5n);
      // As if demoted without hearing of it: the role status is not what fences here.
      sw.failWhen((m) => (m.type === 'flow_mod' ? 'OFPBRC_IS_SECONDARY' : undefined));
      const r = await a.m.setDesired(owner(PORT, 1), [flow(0, 1)]);
      expect(r.sent).toBe(false);
      expect(a.m.fenced).toMatchObject({ how: 'refused bundle', generationId: 5n, switchGenerationId: 5n });
      expect(sw.flows.size).toBe(0);
      expect(a.m.counters().bundlesFailed).toBe(1);
      sw.failWhen(undefined);
      expect(await a.m.setDesired(owner(PORT, 2), [flow(0, 2)])).toMatchObject({ sent: false });
      expect(sw.flows.size).toBe(0);
    });

    it('a claim below the switch\'s generation is refused: fenced before any flow is read or written', async () => {
      const b = await leader(8n);
      await b.m.setDesired(owner(PORT, 2), [flow(0, 2)]);
      const bundles = sw.committed.length;
      const stale = createFlowTableManager(await openConn(), { round: 1, generationId: 7n });
      managers.push(stale);
      await stale.setDesired(owner(PORT, 1), [flow(0, 1)]);
      await stale.start();
      expect(stale.fenced).toMatchObject({ generationId: 7n, switchGenerationId: 8n, how: 'stale claim' });
      expect(sw.committed).toHaveLength(bundles);
      expect([...sw.flows.keys()]).toEqual([key(0, 2)]);
      expect(b.m.fenced).toBeUndefined();
    });

    it('lanes with a generation commit only while the main connection is still the master, told or not', async () => {
      // A switch that does not announce demotions: the old master must ask before its lanes commit.
      await sw.close();
      sw = await startFakeSwitch({ roleStatus: false });
      const owners = (ids: number[], out: number) => ids.map((id) => ({ owner: owner(PORT, id), flows: [flow(0, id, out), flow(1, id, out), flow(2, id, out)], groups: [] as DesiredGroup[] }));
      const ids = Array.from({ length: 40 }, (_, i) => i + 1); // 120 flow_mods: 3 lanes' worth
      const a = createFlowTableManager(await openConn(), { round: 1, generationId: 5n, lanes: [await openConn(), await openConn(), await openConn()] });
      managers.push(a);
      await a.start();
      expect(await a.apply(owners(ids, 1))).toMatchObject({ sent: true, flowMods: 120 });
      expect(sw.committed.length).toBeGreaterThan(1); // spread over lanes
      expect(sw.flows.size).toBe(120);
      // A newer master takes the switch (its full sync removes what it does not want); the old one is not told.
      const b = await connect({ round: 1, generationId: 6n });
      expect(sw.flows.size).toBe(0);
      const bundles = sw.committed.length;
      expect(a.fenced).toBeUndefined();
      const r = await a.apply(owners(ids, 2));
      // The main connection's bundle is refused as a slave's, the lanes' are withheld: nothing applied.
      expect(r.sent).toBe(false);
      expect(sw.committed).toHaveLength(bundles);
      expect(sw.flows.size).toBe(0);
      expect(a.fenced).toMatchObject({ generationId: 5n, switchGenerationId: 6n });
      expect(b.fenced).toBeUndefined();
    });

    it('a main connection not claimed again yet (a reconnect) withholds the lanes without fencing; the next sync claims and installs', async () => {
      const owners = (ids: number[], out: number) => ids.map((id) => ({ owner: owner(PORT, id), flows: [flow(0, id, out), flow(1, id, out), flow(2, id, out)], groups: [] as DesiredGroup[] }));
      const ids = Array.from({ length: 40 }, (_, i) => i + 1);
      const a = createFlowTableManager(await openConn(), { round: 1, generationId: 5n, lanes: [await openConn(), await openConn(), await openConn()] });
      managers.push(a);
      await a.start();
      expect(await a.apply(owners(ids, 1))).toMatchObject({ sent: true });
      // As right after a reconnect: the main connection is equal, nobody else is master.
      sw.forgetRoles();
      expect((await a.apply(owners(ids, 2))).sent).toBe(false);
      expect(a.fenced).toBeUndefined();
      // The next operation's full sync claims master again and puts the whole change in.
      expect(await a.resync()).toMatchObject({ sent: true });
      expect(a.fenced).toBeUndefined();
      expect(sw.flows.size).toBe(120);
      expect([...sw.flows.values()].every((f) => JSON.stringify(f.instructions).includes('"port":2'))).toBe(true);
    });
  });
});

describe('FlowTableManager with lanes (fake switch)', () => {
  let sw: FakeSwitch;
  const conns: OpenFlowConnection[] = [];
  let m: FlowTableManager;

  const open = async (): Promise<OpenFlowConnection> => {
    const c = createConnection(sw.target, { reconnect: { initialDelayMs: 10, maxDelayMs: 50 } });
    conns.push(c);
    await c.ready();
    return c;
  };
  beforeEach(async () => {
    sw = await startFakeSwitch();
    const main = await open();
    m = createFlowTableManager(main, { round: 1, groupIdRange: { min: 10, max: 19 }, lanes: [await open(), await open(), await open()] });
    await m.start();
  });
  afterEach(async () => {
    m.stop();
    await Promise.all(conns.splice(0).map((c) => c.close()));
    await sw.close();
  });

  /** `owners` owners of 3 flows each (tables 0-2, reg0 = owner id). */
  const owners = (ids: number[], out = 1) => ids.map((id) => ({ owner: owner(PORT, id), flows: [flow(0, id, out), flow(1, id, out), flow(2, id, out)], groups: [] as DesiredGroup[] }));
  const ownerOf = (msg: OfMessage): number => (msg.type === 'flow_mod' ? decodeCookie(msg.cookie).objectId : -1);

  it('spreads a large change over lanes, each owner whole in one bundle; groups before and after the flows', async () => {
    const lb = owner(3, 1);
    const viaGroup: DesiredFlow = { ...flow(0, 1000), instructions: [{ type: 'apply_actions', actions: [{ type: 'group', groupId: 10 }] }] };
    const ids = Array.from({ length: 40 }, (_, i) => i + 1); // 120 flow_mods: 3 lanes' worth
    const r = await m.apply([...owners(ids), { owner: lb, flows: [viaGroup], groups: [group(10, 1)] }]);
    expect(r).toMatchObject({ sent: true, flowMods: 121, groupMods: 1 });
    expect(sw.flows.size).toBe(121);
    // The group first, alone; then one bundle per lane used, together all the flows.
    expect(summary(sw.committed[0]!)).toEqual(['group add 10']);
    const flowBundles = sw.committed.slice(1);
    expect(flowBundles).toHaveLength(Math.ceil(121 / LANE_MESSAGES));
    expect(flowBundles.reduce((n, b) => n + b.length, 0)).toBe(121);
    const laneOfOwner = new Map<number, number>();
    flowBundles.forEach((b, lane) => b.forEach((msg) => {
      const o = ownerOf(msg);
      expect(laneOfOwner.get(o) ?? lane).toBe(lane); // never split
      laneOfOwner.set(o, lane);
    }));
    expect(m.counters()).toMatchObject({ bundlesCommitted: 1 + flowBundles.length, flowModsSent: 121 });

    // Removing them all: flows over the lanes, then the group delete last, alone.
    const before = sw.committed.length;
    await m.apply([...ids.map((id) => ({ owner: owner(PORT, id), flows: [], groups: [] })), { owner: lb, flows: [], groups: [] }]);
    expect(sw.flows.size).toBe(0);
    expect(summary(sw.committed[sw.committed.length - 1]!)).toEqual(['group delete 10']);
    expect(sw.committed.length - before).toBe(1 + Math.ceil(121 / LANE_MESSAGES));
  });

  it('keeps a small change, and every full sync, one atomic bundle on the main connection', async () => {
    await m.apply(owners([1, 2, 3]));
    expect(sw.committed).toHaveLength(1);
    sw.flows.clear();
    const ids = Array.from({ length: 40 }, (_, i) => i + 1);
    await m.apply(owners(ids)); // incremental: spread
    const spread = sw.committed.length;
    expect(spread).toBe(1 + Math.ceil(120 / LANE_MESSAGES));
    sw.flows.clear();
    const r = await m.resync(); // full: 120 flows back in one bundle
    expect(r).toMatchObject({ flowMods: 120 });
    expect(sw.committed).toHaveLength(spread + 1);
  });

  it("lanes lost under their bundles while the main connection stays up: not in sync (nothing to send next is no proof), until the full sync the manager queues itself (QA-117 F2)", async () => {
    // A lane whose connection goes while its bundle waits for the switch's answer (its
    // keepalive timed out first on a hung switch): it still looked connected when picked.
    const lost = (lane: OpenFlowConnection): OpenFlowConnection =>
      Object.assign(Object.create(lane) as OpenFlowConnection, { bundle: () => Promise.reject(new OpenFlowConnectionError('peer silent for 6000 ms')) });
    const main = await open();
    const lm = createFlowTableManager(main, { round: 1, lanes: [lost(await open()), lost(await open()), lost(await open())] });
    try {
      await lm.start();
      expect(lm.inSync).toBe(true);
      const synced: boolean[] = [];
      lm.on('synced', (r) => synced.push(r.sent));
      const ids = Array.from({ length: 40 }, (_, i) => i + 1); // 120 flow_mods: over the main connection and the lanes
      const r = await lm.apply(owners(ids));
      expect(r.sent).toBe(false);
      expect(main.connected).toBe(true);
      // Recorded, not confirmed: applying the same again has nothing to send, yet the switch lacks flows.
      expect(lm.inSync).toBe(false);
      expect(sw.flows.size).toBeLessThan(120);
      // No reconnect is coming: the manager settles it with a full sync on the main connection.
      for (const deadline = Date.now() + 2000; !lm.inSync && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 5));
      expect(lm.inSync).toBe(true);
      expect(synced).toEqual([true]);
      expect(sw.flows.size).toBe(120);
    } finally {
      lm.stop();
    }
  });

  it("a lane's rejected bundle: FlowSyncError (partial), and the next operation's full sync puts the previous state back", async () => {
    await m.apply(owners([1, 2]));
    const usesMissingGroup: DesiredFlow = { tableId: 0, priority: 9, match: [], instructions: [{ type: 'apply_actions', actions: [{ type: 'group', groupId: 19 }] }] };
    const ids = Array.from({ length: 40 }, (_, i) => i + 10);
    const err = await m.apply([...owners(ids), { owner: owner(PORT, 99), flows: [usesMissingGroup], groups: [] }]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FlowSyncError);
    expect((err as FlowSyncError).partial).toBe(true);
    expect((err as FlowSyncError).message).toMatch(/rejected by the switch \(OFPBFC_MSG_FAILED\), other owners' bundles may have applied, the next sync restores the previous state: OFPBAC_BAD_OUT_GROUP/);
    expect(sw.flows.size).toBeGreaterThan(6); // the other lanes committed
    // The next change first restores what the manager knows to be desired, then applies itself.
    await m.apply(owners([3]));
    expect([...sw.flows.keys()].sort()).toEqual([1, 2, 3].flatMap((id) => [key(0, id), key(1, id), key(2, id)]).sort());
    expect(m.counters()).toMatchObject({ bundlesFailed: 1, desiredFlows: 9 });
  });

  it('a group delete rejected after the lanes committed is a partial failure too, and the next sync restores the previous state', async () => {
    const lb = owner(3, 1);
    const viaGroup: DesiredFlow = { ...flow(0, 1000), instructions: [{ type: 'apply_actions', actions: [{ type: 'group', groupId: 10 }] }] };
    const ids = Array.from({ length: 40 }, (_, i) => i + 1);
    await m.apply([...owners(ids), { owner: lb, flows: [viaGroup], groups: [group(10, 1)] }]);
    sw.failWhen((msg) => (msg.type === 'group_mod' && msg.command === 'delete' ? 'OFPGMFC_UNKNOWN_GROUP' : undefined));
    const err = await m.apply([...ids.map((id) => ({ owner: owner(PORT, id), flows: [], groups: [] })), { owner: lb, flows: [], groups: [] }]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FlowSyncError);
    expect((err as FlowSyncError).partial).toBe(true);
    expect(sw.flows.size).toBe(0); // the lanes' deletes did commit
    expect(sw.groups.has(10)).toBe(true);
    sw.failWhen(undefined);
    // What the manager knows to be installed is still the previous state: the next sync puts it back.
    await m.resync();
    expect(sw.flows.size).toBe(121);
    expect(m.counters()).toMatchObject({ bundlesFailed: 1, desiredFlows: 121, desiredGroups: 1 });
  });
});

