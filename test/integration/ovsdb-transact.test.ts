/**
 * The client against a real ovsdb-server: every transact operation, the typed errors
 * of RFC 7047, locks, cancel, the _Server database and concurrency, cross-checked with
 * ovsdb-client / ovs-vsctl.
 */
import * as net from 'node:net';
import {
  Aborted,
  ConstraintViolation,
  DomainError,
  DuplicateUuidName,
  NotOwner,
  OvsdbRangeError,
  ReferentialIntegrityViolation,
  RequestCancelledError,
  SchemaError,
  TimedOut,
  TransactionError,
  UnknownColumn,
  cond,
  createOvsdbClient,
  mutation,
  namedUuid,
  type OperationError,
  type OvsdbClient,
} from '../../src/ovsdb';
import type { LabModel } from '../../src/ovsdb/testing/lab-schema';
import type { OpenVSwitchModel } from '../../src/ovsdb/models/open_vswitch';
import { startOvs, type OvsInstance } from '../harness/ovs';
import { describeOvs, dumpTable, labSchemaFile, uuidOf, waitFor } from './ovsdb-helpers';

async function failure(p: Promise<unknown>): Promise<OperationError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(TransactionError);
  return (e as TransactionError).first;
}

describeOvs('ovsdb client: transactions on a real ovsdb-server', () => {
  let lab: OvsInstance;
  let c: OvsdbClient<LabModel>;
  let c2: OvsdbClient<LabModel>;

  beforeAll(async () => {
    lab = await startOvs({ name: 'lab-tx', schema: labSchemaFile(), vswitchd: false });
    c = createOvsdbClient<LabModel>({ endpoints: `unix:${lab.dbSocket}`, database: 'Lab' });
    c2 = createOvsdbClient<LabModel>({ endpoints: `unix:${lab.dbSocket}`, database: 'Lab' });
    await Promise.all([c.connect(), c2.connect()]);
  });
  afterAll(async () => {
    await c?.close();
    await c2?.close();
    await lab?.stop();
  });

  it('lists databases, reads the schema, server id and the _Server database', async () => {
    expect((await c.listDbs()).sort()).toEqual(['Lab', '_Server']);
    expect(c.schema.name).toBe('Lab');
    expect(Object.keys(c.schema.tables).sort()).toEqual(['Counter', 'Port', 'Switch']);
    expect(await c.getServerId()).toMatch(/^[0-9a-f-]{36}$/);
    const dbs = await c.serverDatabases();
    expect(dbs.find((d) => d.name === 'Lab')).toMatchObject({ model: 'standalone', connected: true, leader: true });
    expect(await c.echo(['ping', 1])).toEqual(['ping', 1]);
  });

  it('insert (with uuid-name references), select, update, mutate, delete, wait, comment, commit', async () => {
    const o = c.ops;
    const [sw, p1] = await c.transact(
      o.insert('Switch', { name: 'sw1', ports: [namedUuid('p1')], other: { a: '1' }, vlans: new Map([[10, 'ten']]) }, { uuidName: 'sw' }),
      o.insert('Port', { name: 'p1', tag: 5, ext: { 'iface-id': 'vm1' } }, { uuidName: 'p1' }),
      o.comment('vnetd integration test'),
      o.commit(true),
    );
    const swId = uuidOf(sw!.uuid);
    const p1Id = uuidOf(p1!.uuid);

    const [sel] = await c.transact(o.select('Switch', [cond('name', '==', 'sw1')], ['name', 'ports', '_uuid']));
    expect(sel!.rows).toEqual([{ _uuid: ['uuid', swId], name: 'sw1', ports: ['uuid', p1Id] }]);

    const [upd] = await c.transact(o.update('Switch', [cond('_uuid', '==', swId)], { weight: 42, mode: 'fast', enabled: true }));
    expect(upd!.count).toBe(1);

    const [mut] = await c.transact(
      o.mutate('Switch', [cond('name', '==', 'sw1')], [
        mutation('tags', 'insert', [1, 2, 3]),
        mutation('tags', 'delete', [2]),
        mutation('weight', '-=', 2),
        mutation('other', 'insert', { b: '2' }),
        mutation('other', 'delete', ['a']),
      ]),
    );
    expect(mut!.count).toBe(1);

    // wait succeeds at once when the condition already holds.
    await c.transact(o.wait('Switch', [cond('name', '==', 'sw1')], { columns: ['weight'], until: '==', rows: [{ weight: 40 }], timeout: 0 }));

    // Cross-check with ovsdb-client.
    const [row] = await dumpTable(lab.dbSocket, 'Lab', 'Switch');
    expect(row).toMatchObject({ name: 'sw1', weight: 40, mode: 'fast', enabled: true, other: ['map', [['b', '2']]], tags: ['set', [1, 3]] });
    expect(row!.vlans).toEqual(['map', [[10, 'ten']]]);

    // Deleting the switch garbage-collects its (non-root) port.
    const [del] = await c.transact(o.delete('Switch', [cond('_uuid', '==', swId)]));
    expect(del!.count).toBe(1);
    expect(await dumpTable(lab.dbSocket, 'Lab', 'Port')).toEqual([]);
  });

  it('maps every failure to its typed error with the failed operation and index', async () => {
    const o = c.ops;
    const ghost = '0bad0bad-0000-4000-8000-000000000000';

    let e = await failure(c.transact(o.comment('x'), o.insert('Switch', { name: 'big', weight: 500 })));
    expect(e).toBeInstanceOf(ConstraintViolation);
    expect(e.index).toBe(1);
    expect(e.operation).toMatchObject({ op: 'insert', table: 'Switch' });

    e = await failure(c.transact(o.insert('Switch', { name: 'd1' }, { uuidName: 'x' }), o.insert('Switch', { name: 'd2' }, { uuidName: 'x' })));
    expect(e).toBeInstanceOf(DuplicateUuidName);

    // A dangling strong reference is only detected at commit: the extra trailing result.
    const ops = [o.insert('Switch', { name: 'dangling', ports: [ghost] })];
    e = await failure(c.transact(...ops));
    expect(e).toBeInstanceOf(ReferentialIntegrityViolation);
    expect(e.index).toBe(1);
    expect(e.operation).toBeUndefined();

    // Unique index (Switch.name) violation.
    await c.transact(o.insert('Switch', { name: 'uniq' }));
    e = await failure(c.transact(o.insert('Switch', { name: 'uniq' })));
    expect(e).toBeInstanceOf(ConstraintViolation);

    await c.transact(o.insert('Counter', { name: 'big', value: 2 ** 62 }));
    e = await failure(c.transact(o.mutate('Counter', [cond('name', '==', 'big')], [mutation('value', '+=', 2 ** 62)])));
    expect(e).toBeInstanceOf(OvsdbRangeError);
    e = await failure(c.transact(o.mutate('Counter', [cond('name', '==', 'big')], [mutation('value', '/=', 0)])));
    expect(e).toBeInstanceOf(DomainError);

    e = await failure(c.transact(o.wait('Counter', [cond('name', '==', 'big')], { columns: ['value'], until: '==', rows: [{ value: 1 }], timeout: 0 })));
    expect(e).toBeInstanceOf(TimedOut);

    e = await failure(c.transact(o.insert('Counter', { name: 'never' }), o.abort()));
    expect(e).toBeInstanceOf(Aborted);
    expect((await dumpTable(lab.dbSocket, 'Lab', 'Counter')).map((r) => r.name)).not.toContain('never');

    // A hand-written operation the schema-aware builder would have refused.
    e = await failure(c.transact({ op: 'insert', table: 'Switch', row: { name: 'x', nope: 1 } }));
    expect(e).toBeInstanceOf(UnknownColumn);
    expect(() => o.insert('Switch', { nope: 1 } as never)).toThrow(SchemaError);
  });

  it('locks: lock, contention, locked notification, assert, steal and stolen', async () => {
    const events: string[] = [];
    c.on('locked', (e) => events.push(`c1 locked ${e.lock}`));
    c.on('stolen', (e) => events.push(`c1 stolen ${e.lock}`));
    c2.on('locked', (e) => events.push(`c2 locked ${e.lock}`));

    expect(await c.lock('L')).toBe(true);
    expect(await c2.lock('L')).toBe(false);
    await c.transact(c.ops.assert('L'), c.ops.comment('holder may write'));
    expect(await failure(c2.transact(c2.ops.assert('L')))).toBeInstanceOf(NotOwner);

    await c.unlock('L'); // c2 was queued: it gets the lock and a "locked" notification
    await new Promise((r) => setTimeout(r, 100));
    expect(events).toContain('c2 locked L');
    await c2.transact(c2.ops.assert('L'));

    expect(await c.lock('M')).toBe(true);
    expect(await c2.steal('M')).toBe(true);
    await new Promise((r) => setTimeout(r, 100));
    expect(events).toContain('c1 stolen M');
    expect(await failure(c.transact(c.ops.assert('M')))).toBeInstanceOf(NotOwner);
    await c2.unlock('M');
    await c2.unlock('L');
  });

  it('cancels a blocked transaction', async () => {
    await c.transact(c.ops.insert('Counter', { name: 'blocker', value: 1 }));
    // Blocks until value != 1, which never happens.
    const req = c.transactOn('Lab', [
      c.ops.wait('Counter', [cond('name', '==', 'blocker')], { columns: ['value'], until: '!=', rows: [{ value: 1 }] }),
    ]);
    setTimeout(() => req.cancel(), 50);
    await expect(req.result).rejects.toBeInstanceOf(RequestCancelledError);
    expect(await c.echo(['still alive'])).toEqual(['still alive']);
  });

  it('runs 100 concurrent transactions', async () => {
    const [r] = await c.transact(c.ops.insert('Counter', { name: 'hits', value: 0 }));
    const id = uuidOf(r!.uuid);
    const t0 = Date.now();
    await Promise.all([
      ...Array.from({ length: 50 }, () => c.transact(c.ops.mutate('Counter', [cond('_uuid', '==', id)], [mutation('value', '+=', 1)]))),
      ...Array.from({ length: 50 }, (_, i) => c2.transact(c2.ops.insert('Port', { name: `cp${i}` }), c2.ops.mutate('Counter', [cond('_uuid', '==', id)], [mutation('value', '+=', 1)]))),
    ]);
    const elapsed = Date.now() - t0;
    const [sel] = await c.transact(c.ops.select('Counter', [cond('_uuid', '==', id)], ['value']));
    expect(sel!.rows).toEqual([{ value: 100 }]);
    expect(elapsed).toBeLessThan(10_000);
  });

  it('ignores garbage from another client: the server drops that session only', async () => {
    const raw = net.connect(lab.dbSocket);
    await new Promise((r) => raw.once('connect', r));
    const closed = new Promise((r) => raw.once('close', r));
    raw.write('{"method": nonsense}');
    await closed;
    expect(await c.echo([])).toEqual([]);
  });
});

describeOvs('ovsdb client: Open_vSwitch database with generated models', () => {
  let ovs: OvsInstance;
  let c: OvsdbClient<OpenVSwitchModel>;

  beforeAll(async () => {
    ovs = await startOvs({ name: 'ovs-tx', vswitchd: false });
    c = createOvsdbClient<OpenVSwitchModel>({ endpoints: `unix:${ovs.dbSocket}` });
    await c.connect();
  });
  afterAll(async () => {
    await c?.close();
    await ovs?.stop();
  });

  it('creates a bridge/port/interface the way ovs-vsctl does, and ovs-vsctl sees it', async () => {
    await c.monitor({ tables: { Open_vSwitch: { columns: ['bridges'] }, Bridge: {}, Port: {}, Interface: {} } });
    const root = c.cache.table('Open_vSwitch').rows()[0]!;
    const o = c.ops;
    await c.transact(
      o.insert('Interface', { name: 'br-t', type: 'internal', external_ids: { 'iface-id': 'vm-7' } }, { uuidName: 'i' }),
      o.insert('Port', { name: 'br-t', interfaces: [namedUuid('i')] }, { uuidName: 'p' }),
      o.insert('Bridge', { name: 'br-t', ports: [namedUuid('p')], datapath_type: 'netdev', fail_mode: 'secure' }, { uuidName: 'b' }),
      o.mutate('Open_vSwitch', [cond('_uuid', '==', root._uuid)], [mutation('bridges', 'insert', [namedUuid('b')])]),
    );
    expect((await ovs.vsctl(['list-br'])).trim()).toBe('br-t');
    expect((await ovs.vsctl(['get', 'Interface', 'br-t', 'external_ids:iface-id'])).trim()).toBe('vm-7');
    expect((await ovs.vsctl(['get-fail-mode', 'br-t'])).trim()).toBe('secure');

    const ifaces = c.cache.table('Interface');
    ifaces.addIndex('iface-id', (r) => r.external_ids['iface-id']);
    expect(ifaces.lookupOne('iface-id', 'vm-7')?.name).toBe('br-t');
    const bridges = c.cache.table('Bridge');
    bridges.addIndex('name', 'name');
    expect(bridges.lookupOne('name', 'br-t')?.fail_mode).toBe('secure');

    // And the other way round: a change made by ovs-vsctl reaches the cache.
    await ovs.vsctl(['set', 'Interface', 'br-t', 'external_ids:iface-id=vm-8']);
    await waitFor(() => ifaces.lookup('iface-id', 'vm-8').length === 1, 5000, 'vsctl change in cache');
    expect(ifaces.lookupOne('iface-id', 'vm-8')?.name).toBe('br-t');
    expect(ifaces.lookup('iface-id', 'vm-7')).toEqual([]);
  });
});
