/**
 * Fencing on a hypervisor's database against a real ovsdb-server: a leader's NodeSession
 * records its generation in the Open_vSwitch row before its first layout write; a newer
 * leader's claim makes the older one's guarded transactions fail whole (nothing of them
 * applied), its ensureLayout throw OvsdbFencedError and tell onFenced once; a session with a
 * lower generation writes nothing at all.
 */
import pino from 'pino';
import { NodeSession } from '../../src/chassis/node-session';
import { GENERATION_KEY, OvsdbFencedError, guardOp } from '../../src/chassis/ovsdb-fence';
import { TransactionError, cond, mutation } from '../../src/ovsdb';
import { runPrefix, startOvs, type OvsInstance } from '../harness/ovs';
import { describeOvs, waitFor } from './ovsdb-helpers';

describeOvs('OVSDB fencing by leader generation', () => {
  let ovs: OvsInstance;
  const sessions: NodeSession[] = [];
  const fenced: Array<{ generation: bigint; databaseGeneration: bigint }> = [];
  const logger = pino({ level: 'silent' });
  const spec = (tunnelIP: string) => ({ tunnelIP, ovsdb: `unix:${ovs.dbSocket}` });

  beforeAll(async () => {
    ovs = await startOvs({ name: 'ovsdb-fence', netns: `${runPrefix()}-of` });
  }, 60_000);
  afterAll(async () => {
    await Promise.all(sessions.map((s) => s.close()));
    await ovs?.stop();
  });

  const session = async (generation: bigint): Promise<NodeSession> => {
    const s = new NodeSession({ node: 'hv1', endpoint: `unix:${ovs.dbSocket}`, owner: 'vnetd', logger, generation, onChange: () => undefined, onFenced: (e) => fenced.push(e) });
    sessions.push(s);
    s.start();
    await waitFor(() => s.ready, 10_000, 'session ready');
    return s;
  };
  const recorded = async (): Promise<string> => (await ovs.vsctl(['get', 'Open_vSwitch', '.', `external_ids:${GENERATION_KEY}`])).trim().replace(/"/g, '');

  it("a newer leader's claim fences the older one: its guarded writes fail whole, its layout throws; a lower generation writes nothing", async () => {
    const old = await session(5n);
    await old.ensureLayout(spec('192.168.252.1'));
    expect(await recorded()).toBe('5');

    const next = await session(6n);
    await next.ensureLayout(spec('192.168.252.1'));
    expect(await recorded()).toBe('6');

    // What the old leader would send: refused by ovsdb-server on the guard, nothing applied.
    const uuid = old.openVSwitch()!._uuid;
    const probe = old.client.ops.mutate('Open_vSwitch', [cond('_uuid', '==', uuid)], [mutation('external_ids', 'insert', { 'fence-probe': 'x' })]);
    const err = await old.client.transact(guardOp(old.client.ops, uuid, 5n), probe).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransactionError);
    expect((err as TransactionError).first).toMatchObject({ error: 'timed out', index: 0 });
    expect(await ovs.vsctl(['get', 'Open_vSwitch', '.', 'external_ids'])).not.toContain('fence-probe');
    // The newer leader's guard passes.
    await next.client.transact(guardOp(next.client.ops, uuid, 6n), probe);
    expect(await ovs.vsctl(['get', 'Open_vSwitch', '.', 'external_ids'])).toContain('fence-probe');

    // The old leader's layout change (a new tunnel address) is not applied, and it is told once.
    const tunnelBefore = (await ovs.vsctl(['get', 'Interface', 'vxlan0', 'options:local_ip'])).trim();
    await expect(old.ensureLayout(spec('192.168.252.99'))).rejects.toBeInstanceOf(OvsdbFencedError);
    await expect(old.ensureLayout(spec('192.168.252.99'))).rejects.toThrow(/generation 5 is below 6/);
    expect(fenced).toEqual([expect.objectContaining({ generation: 5n, databaseGeneration: 6n })]);
    expect((await ovs.vsctl(['get', 'Interface', 'vxlan0', 'options:local_ip'])).trim()).toBe(tunnelBefore);

    // A session started with a lower generation writes nothing, not even its claim.
    const stale = await session(4n);
    await expect(stale.ensureLayout(spec('192.168.252.98'))).rejects.toBeInstanceOf(OvsdbFencedError);
    expect(await recorded()).toBe('6');
    expect((await ovs.vsctl(['get', 'Interface', 'vxlan0', 'options:local_ip'])).trim()).toBe(tunnelBefore);

    // The leader in office still changes the layout.
    await next.ensureLayout(spec('192.168.252.2'));
    expect((await ovs.vsctl(['get', 'Interface', 'vxlan0', 'options:local_ip'])).trim()).toMatch(/192\.168\.252\.2/);
  }, 60_000);
});
