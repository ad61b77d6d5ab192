/**
 * Flow-table sync against a real ovs-vswitchd (userspace datapath, own netns):
 * 10,000 flows in one bundle dumped back identical, bad flows failing the whole
 * bundle, resync after an ovs-vswitchd restart sending only missing flows, a
 * controller restart that adopts the switch's round and sends only what changed,
 * one under a new round that never empties the table, foreign flows that no
 * sync ever touches, and fencing by master generation between two leaders.
 */
import { writeFile } from 'node:fs/promises';
import { connect as netConnect, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { FlowModFlags, createConnection, type FlowModMessage, type OfMessage, type OpenFlowConnection } from '../../src/openflow';
import {
  DEFAULT_COOKIE_APP,
  FlowSyncError,
  InvalidDesiredStateError,
  appSelector,
  formatOwner,
  createFlowTableManager,
  decodeCookie,
  encodeCookie,
  flowKey,
  type DesiredFlow,
  type FlowTableFencedError,
  type FlowTableManager,
  type SyncResult,
} from '../../src/openflow/sync';
import { ovsAvailability, runPrefix, startOvs, type OvsInstance } from '../harness/ovs';
import { addFlowMods, flowText, generateFlow, generateFlows, normalizeOfctlDump, ofctlLine, ownerChanges, type GeneratedFlow } from './openflow-sync-fixtures';

const avail = ovsAvailability();
const describeOvs = avail.ok ? describe : describe.skip;

const N = 10_000;
const FOREIGN_COOKIE = 0x00000000deadbeefn; // app byte 0: not ours

/** A unix-socket relay to the bridge we can shut, to hold a reconnect back while the test restores flows. */
async function gate(listenPath: string, upstream: string): Promise<{ open: boolean; close(): Promise<void> }> {
  const state = { open: true };
  const sockets = new Set<Socket>();
  const server: Server = createServer((down) => {
    if (!state.open) return void down.destroy();
    const up = netConnect(upstream);
    for (const s of [down, up]) {
      sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => {
        sockets.delete(s);
        down.destroy();
        up.destroy();
      });
    }
    down.pipe(up);
    up.pipe(down);
  });
  await new Promise<void>((r) => server.listen(listenPath, r));
  return Object.assign(state, {
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  });
}

function desiredText(flows: readonly GeneratedFlow[], round: number): string[] {
  return flows.map((g) => flowText({ ...g.flow, cookie: encodeCookie({ round, app: DEFAULT_COOKIE_APP, ...g.owner }) })).sort();
}

describeOvs('flow-table sync against ovs-vswitchd', () => {
  let ovs: OvsInstance;
  let relay: Awaited<ReturnType<typeof gate>>;
  let conn: OpenFlowConnection;
  let manager: FlowTableManager;
  const flows = generateFlows(N);

  const ofctl = (...args: string[]): Promise<string> => ovs.ofctl(['-O', 'OpenFlow13', ...args]);
  const ourDump = async (c: OpenFlowConnection = conn): Promise<string[]> => (await c.dumpFlows(appSelector(DEFAULT_COOKIE_APP))).map(flowText).sort();
  const addForeign = async (): Promise<void> => {
    await ofctl('add-flow', 'br0', 'table=0,priority=1,actions=drop');
    await ofctl('add-flow', 'br0', `table=9,priority=7,cookie=0x${FOREIGN_COOKIE.toString(16)},reg0=0x7,actions=output:2`);
  };
  const expectForeignIntact = async (): Promise<void> => {
    const all = normalizeOfctlDump(await ofctl('dump-flows', 'br0'));
    expect(all).toContain('cookie=0x0, table=0, priority=1 actions=drop');
    expect(all).toContain('cookie=0xdeadbeef, table=9, priority=7,reg0=0x7 actions=output:2');
  };

  beforeAll(async () => {
    // Own netns: two userspace datapaths in one netns fight over the ovs-netdev tap device.
    ovs = await startOvs({ name: 'of-sync', netns: `${runPrefix()}-ofs` });
    await ovs.vsctl(['add-br', 'br0', '--', 'set', 'bridge', 'br0', 'datapath_type=netdev', 'protocols=OpenFlow13', 'fail_mode=secure']);
    for (const p of ['p1', 'p2']) await ovs.vsctl(['add-port', 'br0', p, '--', 'set', 'interface', p, 'type=internal', `ofport_request=${p.slice(1)}`]);
    await addForeign();
    relay = await gate(join(ovs.dir, 'relay.sock'), ovs.bridgeMgmtSocket('br0'));
    conn = createConnection(`unix:${join(ovs.dir, 'relay.sock')}`, { echoIntervalMs: 1000, reconnect: { initialDelayMs: 20, maxDelayMs: 100 } });
    await conn.ready();
  }, 60_000);

  afterAll(async () => {
    manager?.stop();
    await conn?.close();
    await relay?.close();
    await ovs?.stop();
  });

  it('installs 10,000 flows in one bundle and dumps them back identical', async () => {
    manager = createFlowTableManager(conn, { round: 1 });
    expect(await manager.apply(ownerChanges(flows))).toMatchObject({ sent: false }); // recorded until start()
    await manager.start();
    expect(manager.counters()).toMatchObject({ bundlesCommitted: 1, flowModsSent: N, lastSyncFlowMods: N, desiredFlows: N });

    // Our decoder and ovs-ofctl both see exactly the desired flows.
    expect(await ourDump()).toEqual(desiredText(flows, 1));
    const text = normalizeOfctlDump(await ofctl('dump-flows', 'br0'));
    expect(text).toHaveLength(N + 2);
    expect(text).toContain(
      'cookie=0x101560000000e, table=7, priority=105,ip,reg0=0x5a7,nw_dst=10.0.5.167 actions=set_field:02:00:00:00:05:a7->eth_dst,load:0xa7->NXM_NX_REG1[0..7],output:2,goto_table:8',
    );
    // What OVS reports back compares equal to what we asked for: a resync sends nothing.
    expect(await manager.resync()).toMatchObject({ sent: true, flowMods: 0 });
    expect(manager.counters().lastSyncUnchangedFlows).toBe(N);
    await expectForeignIntact();
  }, 60_000);

  it('sends only one owner’s delta for an incremental change', async () => {
    const owner = flows[0]!.owner;
    const mine = flows.filter((g) => g.owner.objectId === owner.objectId).map((g) => g.flow);
    const changed: DesiredFlow[] = [...mine.slice(1, 99), { ...mine[99]!, instructions: [{ type: 'goto_table', tableId: 200 }] }, generateFlow(N + 1).flow];
    const r = await manager.setDesired(owner, changed);
    expect(r).toMatchObject({ sent: true, flowMods: 3 }); // one delete, one modify, one add
    const dump = await conn.dumpFlows({ tableId: mine[99]!.tableId, cookie: encodeCookie({ round: 1, app: DEFAULT_COOKIE_APP, ...owner }), cookieMask: 0xffffffffffffffffn });
    expect(dump.find((f) => f.priority === mine[99]!.priority && f.match.some((m) => m.field === 'reg0' && m.value === 99))?.instructions).toEqual([{ type: 'goto_table', tableId: 200 }]);
    await manager.setDesired(owner, mine); // back to the original
    expect(await ourDump()).toEqual(desiredText(flows, 1));
  }, 30_000);

  it('a change of a flow\'s flags alone replaces it (OVS keeps flags through a modify), and then compares equal', async () => {
    const g = generateFlow(N + 7);
    const plain = g.flow;
    expect(await manager.setDesired(g.owner, [plain])).toMatchObject({ sent: true, flowMods: 1 });
    const flagged: DesiredFlow = { ...plain, flags: FlowModFlags.SEND_FLOW_REM };
    const flagsOnSwitch = async () =>
      (await conn.dumpFlows({ tableId: plain.tableId, cookie: encodeCookie({ round: 1, app: DEFAULT_COOKIE_APP, ...g.owner }), cookieMask: 0xffffffffffffffffn })).filter((f) => f.priority === plain.priority).map((f) => f.flags & FlowModFlags.SEND_FLOW_REM);
    // One flow_mod (an add replacing the flow); a modify_strict left the flag unset, and every sync sent it again.
    expect(await manager.setDesired(g.owner, [flagged])).toMatchObject({ sent: true, flowMods: 1 });
    expect(await flagsOnSwitch()).toEqual([FlowModFlags.SEND_FLOW_REM]);
    expect(await manager.resync()).toMatchObject({ flowMods: 0 });
    // And back, in a full sync too.
    expect(await manager.setDesired(g.owner, [plain])).toMatchObject({ sent: true, flowMods: 1 });
    expect(await flagsOnSwitch()).toEqual([0]);
    expect(await manager.resync()).toMatchObject({ flowMods: 0 });
    expect(await manager.setDesired(g.owner, [])).toMatchObject({ sent: true, flowMods: 1 });
  }, 30_000);

  it('an audit counts the table: flows deleted, or added under our cookie, behind its back get a full sync; foreign flows are counted and left', async () => {
    expect(await manager.audit()).toEqual({ checked: true, repaired: false, ours: N, desired: N, foreign: 2 });
    expect(manager.counters().foreignFlows).toBe(2);
    // Deleted by hand: 100 of ours in table 7.
    const victim = flows.find((g) => g.flow.tableId === 7)!;
    await ofctl('del-flows', 'br0', `table=7,cookie=0x${encodeCookie({ round: 1, app: DEFAULT_COOKIE_APP, ...victim.owner }).toString(16)}/-1`);
    const missing = N - (await ourDump()).length;
    expect(missing).toBeGreaterThan(0);
    const refilled = await manager.audit();
    expect(refilled).toMatchObject({ checked: true, repaired: true, ours: N - missing, desired: N });
    // Which flows, in words (QA-131 F5): the first few put back.
    expect(refilled.drift?.[0]).toMatch(/^missing: table=7, priority=\d+, /);
    expect(await ourDump()).toEqual(desiredText(flows, 1));
    // Added by hand under our app byte: removed by the full sync it triggers.
    const ours = encodeCookie({ round: 1, app: DEFAULT_COOKIE_APP, ...victim.owner });
    await ofctl('add-flow', 'br0', `table=3,priority=9,cookie=0x${ours.toString(16)},reg0=0x99999,actions=drop`);
    expect(await manager.audit()).toMatchObject({ repaired: true, ours: N + 1, drift: [`not desired: table=3, priority=9, cookie=0x${ours.toString(16)}, reg0=0x99999 actions=drop`] });
    expect(await ourDump()).toEqual(desiredText(flows, 1));
    expect(manager.counters().driftRepairs).toBe(2);
    await expectForeignIntact();
  }, 60_000);

  it('a verify reads every flow: one changed in place (its count unchanged, which an audit misses) is put back; foreign flows are left', async () => {
    const victim = flows.find((g) => g.flow.tableId === 7)!;
    const cookie = encodeCookie({ round: 1, app: DEFAULT_COOKIE_APP, ...victim.owner });
    const before = manager.counters().driftRepairs;
    expect(await manager.verify()).toEqual({ checked: true, repaired: false, changed: 0 });
    // Made to drop by hand: same match, same cookie, other actions.
    await ofctl('mod-flows', 'br0', `table=7,cookie=0x${cookie.toString(16)}/-1,actions=drop`);
    expect(await ourDump()).not.toEqual(desiredText(flows, 1));
    expect(await manager.audit()).toMatchObject({ checked: true, repaired: false });
    const r = await manager.verify();
    expect(r).toMatchObject({ checked: true, repaired: true });
    expect(r.changed).toBeGreaterThan(0);
    expect(r.drift?.[0]).toMatch(/^changed: table=7, priority=\d+, cookie=0x[0-9a-f]+, .* actions=drop, put back to actions=(?!drop)/);
    expect(await ourDump()).toEqual(desiredText(flows, 1));
    expect(manager.counters().driftRepairs).toBe(before + 1);
    await expectForeignIntact();
  }, 60_000);

  it('fails the whole bundle on a bad flow and leaves the table as it was', async () => {
    const before = normalizeOfctlDump(await ofctl('dump-flows', 'br0'));
    const committed = manager.counters().bundlesCommitted;
    const owner = { category: 2, objectId: 1 };
    const good = generateFlow(N + 5).flow;

    // Missing prerequisite: caught before anything is sent.
    const noPrereq: DesiredFlow = { tableId: 0, priority: 5, match: [{ field: 'tcp_dst', value: 80 }], instructions: [] };
    await expect(manager.setDesired(owner, [good, noPrereq])).rejects.toThrow(InvalidDesiredStateError);
    await expect(manager.setDesired(owner, [good, noPrereq])).rejects.toThrow(/match field tcp_dst requires eth_type=0x0800 or eth_type=0x86dd/);

    // Bad table id and a missing group: OVS rejects, the bundle fails as a whole.
    const badTable: DesiredFlow = { ...good, tableId: 255 };
    const e1 = await manager.setDesired(owner, [good, badTable]).catch((e: unknown) => e);
    expect(e1).toBeInstanceOf(FlowSyncError);
    // OVS refuses this one when it is added: the bundle is discarded, not committed.
    expect((e1 as FlowSyncError).message).toMatch(/^incremental flow sync rejected by the switch \(OFPFMFC_BAD_TABLE_ID\), nothing applied: OFPFMFC_BAD_TABLE_ID: add table=255, priority=102, cookie=0x1025600000001, .*\(owner 2\/1\)$/);
    const missingGroup: DesiredFlow = { tableId: 3, priority: 9, match: [], instructions: [{ type: 'apply_actions', actions: [{ type: 'group', groupId: 4242 }] }] };
    const e2 = await manager.setDesired(owner, [good, missingGroup]).catch((e: unknown) => e);
    expect(e2).toBeInstanceOf(FlowSyncError);
    expect((e2 as FlowSyncError).rejected).toEqual([expect.objectContaining({ error: 'OFPBAC_BAD_OUT_GROUP', owner })]);

    expect(normalizeOfctlDump(await ofctl('dump-flows', 'br0'))).toEqual(before);
    expect(manager.counters()).toMatchObject({ bundlesCommitted: committed, bundlesFailed: 2, desiredFlows: N });
    expect(await manager.resync()).toMatchObject({ flowMods: 0 });
  }, 30_000);

  it('after an ovs-vswitchd restart, reconnects and sends only the missing flows', async () => {
    // Restore half the flows (and the foreign ones) before letting the controller back
    // in, as ovs-save / flow-restore-wait would on an upgrade.
    const file = join(ovs.dir, 'restore.txt');
    await writeFile(file, flows.slice(0, N / 2).map((g) => ofctlLine(g, 1)).join('\n') + '\n');
    relay.open = false;
    const synced = new Promise<SyncResult>((resolve) => manager.once('synced', resolve));
    const sentBefore = manager.counters().flowModsSent;
    await ovs.restartVswitchd();
    for (let i = 0; ; i++) {
      try {
        await ofctl('--bundle', 'add-flows', 'br0', file);
        break;
      } catch (e) {
        if (i > 100) throw e; // the bridge comes back a moment after the daemon
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    await addForeign();
    relay.open = true;
    const r = await synced;
    expect(r).toMatchObject({ sent: true, flowMods: N / 2 });
    expect(manager.counters().flowModsSent - sentBefore).toBe(N / 2);
    expect(manager.counters().lastSyncUnchangedFlows).toBe(N / 2);
    expect(await ourDump()).toEqual(desiredText(flows, 1));
    await expectForeignIntact();
  }, 60_000);

  /** A new manager on a new connection, as a restarted controller has; its bundles recorded. */
  async function restartedManager(round?: number): Promise<{ bundles: OfMessage[][] }> {
    manager.stop();
    await conn.close();
    conn = createConnection(`unix:${ovs.bridgeMgmtSocket('br0')}`, { reconnect: false });
    await conn.ready();
    const bundles: OfMessage[][] = [];
    const spy: OpenFlowConnection = Object.create(conn, {
      bundle: { value: (msgs: readonly OfMessage[], opts?: { flags?: number }) => (bundles.push([...msgs]), conn.bundle(msgs, opts)) },
    }) as OpenFlowConnection;
    manager = createFlowTableManager(spy, round === undefined ? {} : { round });
    return { bundles };
  }

  /** Starts the manager while a second connection counts our flows, again and again: the table's sizes seen meanwhile. */
  async function startWatchingTable(): Promise<number[]> {
    const watcher = createConnection(`unix:${ovs.bridgeMgmtSocket('br0')}`, { reconnect: false });
    await watcher.ready();
    const counts: number[] = [];
    let watching = true;
    const watch = (async () => {
      while (watching) {
        const a = await watcher.multipart({ kind: 'aggregate', tableId: 0xff, outPort: 0xffffffff, outGroup: 0xffffffff, match: [], ...appSelector(DEFAULT_COOKIE_APP) });
        if (a.kind === 'aggregate') counts.push(a.flowCount);
      }
    })();
    await manager.start();
    await new Promise((r) => setTimeout(r, 20));
    watching = false;
    await watch;
    await watcher.close();
    return counts;
  }

  const ageOf = async (g: GeneratedFlow): Promise<number> => {
    const key = flowKey(g.flow.tableId, g.flow.priority, g.flow.match);
    const dump = await conn.dumpFlows({ tableId: g.flow.tableId, ...appSelector(DEFAULT_COOKIE_APP), match: g.flow.match });
    const f = dump.find((d) => flowKey(d.tableId, d.priority, d.match) === key);
    return f ? f.durationSec + f.durationNsec / 1e9 : -1;
  };

  it('a controller restart adopts the round on the switch and sends only what changed, leaving the rest untouched', async () => {
    // The new run wants 9,500 of the old flows plus 500 new ones.
    const next = [...flows.slice(0, N - 500), ...generateFlows(N + 500).slice(N)];
    const kept = flows[0]!;
    const { bundles } = await restartedManager();
    const ageBefore = await ageOf(kept);
    expect(ageBefore).toBeGreaterThan(0);
    await manager.apply(ownerChanges(next));
    const counts = await startWatchingTable();

    expect(manager.round).toBe(1);
    // Atomic: the switch goes from the old 10,000 straight to the new 10,000.
    expect(Math.min(...counts)).toBeGreaterThanOrEqual(N);
    expect(bundles).toHaveLength(1);
    const msgs = bundles[0] as FlowModMessage[];
    expect(msgs.filter((m) => m.command === 'add')).toHaveLength(500);
    expect(msgs.filter((m) => m.command === 'delete_strict')).toHaveLength(500);
    expect(msgs).toHaveLength(1000);
    expect(manager.counters().lastSyncUnchangedFlows).toBe(N - 500);
    // An unchanged flow was not re-added: its age goes on (OVS restarts it on an add).
    expect(await ageOf(kept)).toBeGreaterThanOrEqual(ageBefore);
    expect(await ourDump()).toEqual(desiredText(next, 1));
    await expectForeignIntact();
    flows.splice(0, N, ...next);
  }, 60_000);

  it('a restart under a new round replaces every flow without ever emptying the table, then deletes the old round', async () => {
    const { bundles } = await restartedManager(2);
    await manager.apply(ownerChanges(flows));
    const counts = await startWatchingTable();

    expect(manager.round).toBe(2);
    expect(counts.length).toBeGreaterThan(1);
    expect(Math.min(...counts)).toBeGreaterThanOrEqual(N);
    expect(bundles).toHaveLength(1);
    const msgs = bundles[0] as FlowModMessage[];
    expect(msgs.filter((m) => m.command === 'add')).toHaveLength(N);
    // The old round goes last, with one masked delete, after every new flow is in.
    expect(msgs).toHaveLength(N + 1);
    expect(msgs[N]).toMatchObject({ command: 'delete', tableId: 255, match: [], cookie: encodeCookie({ round: 1, category: 0, app: DEFAULT_COOKIE_APP, objectId: 0 }), cookieMask: 0xffff00ff00000000n });
    expect(await ourDump()).toEqual(desiredText(flows, 2));
    const rounds = new Set((await conn.dumpFlows(appSelector(DEFAULT_COOKIE_APP))).map((f) => decodeCookie(f.cookie).round));
    expect([...rounds]).toEqual([2]);
    await expectForeignIntact();
  }, 60_000);

  it("fencing: a newer leader's master claim demotes the old one, whose next change OVS refuses; a stale claim is refused; equal connections are untouched", async () => {
    // Another cookie app, so these managers' full syncs leave the 10,000 flows above alone.
    const APP = 0x57;
    const target = `unix:${ovs.bridgeMgmtSocket('br0')}`;
    const extra: OpenFlowConnection[] = [];
    const managers: FlowTableManager[] = [];
    const leader = async (generationId: bigint): Promise<{ m: FlowTableManager; fenced: FlowTableFencedError[] }> => {
      const c = createConnection(target, { reconnect: { initialDelayMs: 20, maxDelayMs: 100 } });
      extra.push(c);
      await c.ready();
      const m = createFlowTableManager(c, { app: APP, generationId });
      managers.push(m);
      const fenced: FlowTableFencedError[] = [];
      m.on('fenced', (e) => fenced.push(e));
      return { m, fenced };
    };
    const mine = async (): Promise<string[]> => (await conn.dumpFlows(appSelector(APP))).map((f) => `${f.tableId}/${f.priority}/${decodeCookie(f.cookie).objectId}`).sort();
    const all = generateFlows(N + 1200).slice(N + 1000);
    const first = all.slice(0, 100);
    try {
      const old = await leader(1000n);
      await old.m.start();
      expect(await old.m.apply(ownerChanges(first))).toMatchObject({ sent: true, flowMods: 100 });

      const next = await leader(1001n);
      await next.m.apply(ownerChanges(all));
      await next.m.start();
      const after = await mine();
      expect(after).toHaveLength(200);
      for (let i = 0; i < 50 && old.fenced.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
      expect(old.fenced).toHaveLength(1);
      expect(old.fenced[0]).toMatchObject({ generationId: 1000n, switchGenerationId: 1001n, how: 'demoted' });

      // The deposed leader's change goes nowhere, and OVS itself refuses its connection's bundles.
      const owner = first[0]!.owner;
      expect(await old.m.removeOwner(owner)).toMatchObject({ sent: false });
      const raw: FlowModMessage = { ...addFlowMods([first[0]!], 1)[0]!, command: 'delete_strict', cookie: 0n, cookieMask: 0n };
      await expect(extra[0]!.bundle([raw], { flags: 1 })).rejects.toThrow(/OFPBRC_IS_SECONDARY/);
      const bypass = createConnection(target);
      extra.push(bypass);
      await bypass.ready();
      await expect(bypass.request({ type: 'role_request', role: 'slave', generationId: 1000n })).rejects.toThrow(/OFPRRFC_STALE/);
      expect(await mine()).toEqual(after);

      // Reconnecting with the old generation: refused before anything is read or written.
      const stale = await leader(1000n);
      await stale.m.apply([{ owner, flows: [], groups: [] }]);
      await stale.m.start();
      expect(stale.m.fenced).toMatchObject({ how: 'stale claim', switchGenerationId: 1001n });
      expect(await mine()).toEqual(after);

      // Connections that claimed no role (ovs-ofctl's, the suite's own) still write.
      await ofctl('add-flow', 'br0', 'table=9,priority=3,reg0=0x3,actions=drop');
      await ofctl('del-flows', 'br0', '--strict', 'table=9,priority=3,reg0=0x3');
      const probe = addFlowMods([generateFlow(N + 2000)], 1)[0]!;
      await conn.bundle([probe, { ...probe, command: 'delete_strict', cookieMask: 0xffffffffffffffffn }], { flags: 1 });
      await expectForeignIntact();
      process.stdout.write(`[openflow-sync] fencing: generation 1000 demoted by 1001 (removal of owner ${formatOwner(owner)} not sent, its raw bundle refused), stale claim refused\n`);

      // The leader in office cleans up after the test.
      await next.m.apply(ownerChanges(all).map((c) => ({ owner: c.owner, flows: [], groups: [] })));
      expect(await mine()).toEqual([]);
    } finally {
      managers.forEach((m) => m.stop());
      await Promise.all(extra.map((c) => c.close()));
    }
  }, 60_000);
});
