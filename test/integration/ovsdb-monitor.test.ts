/**
 * Monitors and the cache against a real ovsdb-server: conditions and
 * monitor_cond_change, monitor_cond_since resume (found=true) after a dropped
 * connection, kill -9 of ovsdb-server in the middle of a write stream with the cache
 * converging and every change reported exactly once, oversized input, TCP transport
 * and both directions of the echo probe.
 */
import {
  MessageTooLargeError,
  cond,
  createOvsdbClient,
  type OvsdbClient,
  type Row,
  type RowChange,
} from '../../src/ovsdb';
import type { LabModel } from '../../src/ovsdb/testing/lab-schema';
import { listeningPort, startOvs, type OvsInstance } from '../harness/ovs';
import { describeOvs, dumpTable, labSchemaFile, replay, uuidOf, waitFor } from './ovsdb-helpers';

const schemaFile = labSchemaFile();

function labClient(inst: OvsInstance, extra: Partial<Parameters<typeof createOvsdbClient>[0]> = {}): OvsdbClient<LabModel> {
  return createOvsdbClient<LabModel>({
    endpoints: `unix:${inst.dbSocket}`,
    database: 'Lab',
    reconnect: { initialDelayMs: 50, maxDelayMs: 300 },
    ...extra,
  });
}

async function serverSwitches(inst: OvsInstance): Promise<Map<string, { name: unknown; weight: unknown }>> {
  const dump = await dumpTable(inst.dbSocket, 'Lab', 'Switch');
  return new Map(dump.map((r) => [uuidOf(r._uuid), { name: r.name, weight: r.weight }]));
}

function cacheSwitches(rows: Iterable<Row>): Map<string, { name: unknown; weight: unknown }> {
  return new Map([...rows].map((r) => [r._uuid, { name: r.name, weight: r.weight }]));
}

describeOvs('ovsdb monitors and cache', () => {
  const started: OvsInstance[] = [];
  const clients: Array<OvsdbClient<LabModel>> = [];
  async function lab(name: string, clustered = false): Promise<OvsInstance> {
    const i = await startOvs({ name, schema: schemaFile, vswitchd: false, clustered });
    started.push(i);
    return i;
  }
  function client(inst: OvsInstance, extra: Partial<Parameters<typeof createOvsdbClient>[0]> = {}): OvsdbClient<LabModel> {
    const c = labClient(inst, extra);
    clients.push(c);
    return c;
  }
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await Promise.all(started.map((i) => i.stop()));
  });

  it('conditional monitors, monitor_cond_change and cancel', async () => {
    const inst = await lab('mon-cond');
    const w = client(inst);
    const m = client(inst);
    await Promise.all([w.connect(), m.connect()]);
    await w.transact(w.ops.insert('Switch', { name: 'a', weight: 5 }), w.ops.insert('Switch', { name: 'b', weight: 20 }));

    const events: RowChange[] = [];
    await m.monitor({ tables: { Switch: { columns: ['name', 'weight'], where: [cond('weight', '>', 10)] } } });
    m.cache.on((e) => events.push(e));
    const names = (): string[] => m.cache.table('Switch').rows().map((r) => r.name).sort();
    expect(names()).toEqual(['b']);
    expect(m.cache.table('Switch').rows()[0]).toEqual({ _uuid: expect.any(String), name: 'b', weight: 20 });

    await w.transact(w.ops.update('Switch', [cond('name', '==', 'a')], { weight: 30 }));
    await waitFor(() => names().join() === 'a,b', 5000, 'a entering the condition');
    expect(events.map((e) => `${e.kind} ${e.new?.name}`)).toEqual(['insert a']);

    // A second monitor with monitor_cond (update2) on another table.
    const h2 = await m.monitor({ method: 'monitor_cond', tables: { Counter: {} } });
    await w.transact(w.ops.insert('Counter', { name: 'n', value: 1 }));
    await waitFor(() => m.cache.table('Counter').size === 1, 5000, 'counter insert');

    await h2.cancel();
    await w.transact(w.ops.insert('Counter', { name: 'm', value: 2 }));
    await new Promise((r) => setTimeout(r, 100));
    expect(m.cache.table('Counter').size).toBe(1); // cancelled: no more updates
  });

  it('keeps an optional column right through every change (ovsdb-server sends its new value, not a toggle)', async () => {
    const inst = await lab('mon-optional');
    const w = client(inst);
    const m = client(inst);
    await Promise.all([w.connect(), m.connect()]);
    await w.transact(w.ops.insert('Switch', { name: 'o', weight: 1 }));
    // update2 (monitor_cond) and update3 (monitor_cond_since) both carry diffs.
    await m.monitor({ method: 'monitor_cond', tables: { Switch: { columns: ['name', 'mode'] } } });
    const cached = () => m.cache.table('Switch').rows().find((r) => r.name === 'o')?.mode;
    for (const mode of ['fast', 'slow', 'fast', null, 'slow', null] as const) {
      await w.transact(w.ops.update('Switch', [cond('name', '==', 'o')], { mode }));
      const server = (await dumpTable(inst.dbSocket, 'Lab', 'Switch')).find((r) => r.name === 'o')!.mode;
      expect([mode, server]).toEqual([mode, mode ?? ['set', []]]);
      await waitFor(() => cached() === mode, 5000, `the cache to say ${mode}`);
    }
  });

  it('setConditions changes what the cache holds', async () => {
    const inst = await lab('mon-change');
    const w = client(inst);
    const m = client(inst);
    await Promise.all([w.connect(), m.connect()]);
    await w.transact(w.ops.insert('Switch', { name: 'a', weight: 5 }), w.ops.insert('Switch', { name: 'b', weight: 20 }));
    const h = await m.monitor({ tables: { Switch: { where: [cond('weight', '>', 10)] } } });
    const events: RowChange[] = [];
    m.cache.on((e) => events.push(e));
    await h.setConditions({ Switch: [cond('weight', '<', 10)] });
    expect(m.cache.table('Switch').rows().map((r) => r.name)).toEqual(['a']);
    expect(events.map((e) => `${e.kind} ${(e.new ?? e.old)!.name}`).sort()).toEqual(['delete b', 'insert a']);
  });

  it('resumes with monitor_cond_since after a dropped connection without a full resync', async () => {
    const inst = await lab('mon-since', true);
    const w = client(inst);
    const m = client(inst, { reconnect: { initialDelayMs: 400, maxDelayMs: 400 } });
    await Promise.all([w.connect(), m.connect()]);
    // Enough atoms in the database that the server keeps a useful transaction history.
    await w.transact(...Array.from({ length: 100 }, (_, i) => w.ops.insert('Counter', { name: `c${i}`, value: i })));
    await w.transact(w.ops.insert('Switch', { name: 's1', weight: 1 }));

    const starts: Array<{ found: boolean }> = [];
    m.on('monitorStarted', (e) => starts.push(e));
    const h = await m.monitor({ tables: { Switch: {}, Counter: {} } });
    const events: RowChange[] = [];
    m.cache.on((e) => events.push(e));
    await w.transact(w.ops.update('Switch', [cond('name', '==', 's1')], { weight: 2 }));
    await waitFor(() => events.length === 1, 5000, 'first update');
    const txnBefore = h.lastTxnId;
    expect(txnBefore).toMatch(/^[0-9a-f-]{36}$/);

    m.disconnect();
    // While m is away (it waits ~200-400 ms before reconnecting):
    await w.transact(w.ops.update('Switch', [cond('name', '==', 's1')], { weight: 3 }), w.ops.insert('Switch', { name: 's2' }));
    await w.transact(w.ops.delete('Counter', [cond('name', '==', 'c7')]));
    await waitFor(() => starts.length === 2, 10_000, 'monitor resumed');

    expect(starts.map((s) => s.found)).toEqual([false, true]);
    expect(h.lastTxnId).not.toBe(txnBefore);
    // Only the three changes made while away, once each (the server groups them by table).
    expect(events.map((e) => `${e.table} ${e.kind} ${(e.new ?? e.old)!.name}`).sort()).toEqual([
      'Counter delete c7',
      'Switch insert s2',
      'Switch update s1',
      'Switch update s1',
    ]);
    const s1 = events.filter((e) => e.new?.name === 's1');
    expect(s1[1]!.old).toEqual(s1[0]!.new); // the resumed update continues the chain
    expect(s1[1]!.new).toMatchObject({ weight: 3 });
    expect(m.cache.table('Counter').size).toBe(99);
  });

  it.each([['standalone', false], ['clustered', true]])(
    'kill -9 of ovsdb-server mid-stream (%s): cache converges, no lost or duplicated events',
    async (_kind, clustered) => {
      const inst = await lab(`kill-${clustered ? 'c' : 's'}`, clustered);
      const w = client(inst);
      const m = client(inst);
      await Promise.all([w.connect(), m.connect()]);
      const events: RowChange[] = [];
      await m.monitor({ tables: { Switch: {} } });
      m.cache.on((e) => events.push(e));

      // Stream of writes; the server dies in the middle of it.
      let writing = true;
      let committed = 0;
      const stream = (async () => {
        for (let i = 0; writing; i++) {
          try {
            await w.transact(
              w.ops.insert('Switch', { name: `k${i}`, weight: i % 100 }),
              w.ops.update('Switch', [cond('name', '==', `k${i - 1}`)], { weight: 99 }),
            );
            committed++;
          } catch {
            return; // connection gone: stop writing
          }
        }
      })();
      await waitFor(() => committed >= 15, 10_000, 'writes before the kill');
      await inst.killOvsdbServer('SIGKILL');
      await stream;
      writing = false;

      await inst.restartOvsdbServer();
      await waitFor(() => w.connected && m.connected, 15_000, 'both clients reconnected');
      // More changes after the restart, including to rows the monitor already knew.
      await w.transact(w.ops.delete('Switch', [cond('name', '==', 'k0')]));
      await w.transact(w.ops.update('Switch', [cond('name', '==', 'k1')], { weight: 7 }), w.ops.insert('Switch', { name: 'after' }));

      const want = await serverSwitches(inst);
      await waitFor(
        () => JSON.stringify([...cacheSwitches(m.cache.table('Switch').rows())].sort()) === JSON.stringify([...want].sort()),
        10_000,
        'cache to converge on the server state',
      );
      const replayed = replay(events);
      expect(cacheSwitches(replayed.values())).toEqual(want);
      expect(want.has(m.cache.table('Switch').rows().find((r) => r.name === 'after')!._uuid)).toBe(true);
    },
  );

  it('closes the connection with MessageTooLargeError on an oversized update', async () => {
    const inst = await lab('big');
    const w = client(inst);
    const m = client(inst, { maxMessageSize: 8192, reconnect: false });
    await Promise.all([w.connect(), m.connect()]);
    await m.monitor({ tables: { Switch: {} } });
    const disconnected = new Promise<Error | undefined>((r) => m.on('disconnected', (e) => r(e.error)));
    const other = Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`key${i}`, 'x'.repeat(50)]));
    await w.transact(w.ops.insert('Switch', { name: 'huge', other }));
    expect(await disconnected).toBeInstanceOf(MessageTooLargeError);
    expect(m.connected).toBe(false);
    expect(await w.echo(['fine'])).toEqual(['fine']);
  });

  it('answers ovsdb-server echo probes over TCP and sends its own', async () => {
    const inst = await startOvs({ name: 'tcp', vswitchd: false });
    started.push(inst);
    // Port 0: ovsdb-server picks and logs it, so no other test can take it in between.
    await inst.vsctl([
      '--', '--id=@m', 'create', 'Manager', 'target="ptcp:0:127.0.0.1"', 'inactivity_probe=1000',
      '--', 'add', 'Open_vSwitch', '.', 'manager_options', '@m',
    ]);
    const port = await listeningPort(inst);
    const logs: string[] = [];
    const logger = { debug: (_o: object, msg?: string) => logs.push(msg ?? ''), info: () => undefined, warn: () => undefined, error: () => undefined };
    const c = createOvsdbClient({ endpoints: `tcp:127.0.0.1:${port}`, inactivityProbeMs: 0, logger, reconnect: false });
    // ovsdb-server binds the manager target asynchronously: retry briefly.
    for (let i = 0; ; i++) {
      try {
        await c.connect();
        break;
      } catch (e) {
        if (i > 50) throw e;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    let dropped = false;
    c.on('disconnected', () => (dropped = true));
    await new Promise((r) => setTimeout(r, 2600)); // server probes after 1 s idle, drops after 2 s unanswered
    expect(logs.filter((l) => l === 'ovsdb: answering server echo').length).toBeGreaterThanOrEqual(1);
    expect(dropped).toBe(false);
    expect((await c.listDbs()).sort()).toEqual(['Open_vSwitch', '_Server']);
    await c.close();

    // Our own probe: idle for a while, the server answers, the connection survives.
    const p = createOvsdbClient({ endpoints: `unix:${inst.dbSocket}`, inactivityProbeMs: 150, reconnect: false });
    await p.connect();
    let pDropped = false;
    p.on('disconnected', () => (pDropped = true));
    await new Promise((r) => setTimeout(r, 600));
    expect(pDropped).toBe(false);
    await p.close();
  });
});
