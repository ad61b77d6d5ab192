/**
 * A hypervisor's ovsdb-server restarted on an empty database (no Open_vSwitch row): the
 * session creates the row, as `ovs-vsctl init` does, and lays br-int out again, where before
 * the Node said NoOpenVSwitchRow until someone ran ovs-vsctl by hand (QA-117 F5).
 */
import pino from 'pino';
import { NodeSession } from '../../src/chassis/node-session';
import type { LayoutOutcome } from '../../src/chassis/node-status';
import { installedVersions } from '../../src/chassis/ovs-daemons';
import { NODE_KEY } from '../../src/chassis/ovsdb-fence';
import { runPrefix, startOvs, type OvsInstance } from '../harness/ovs';
import { describeOvs, waitFor } from './ovsdb-helpers';

describeOvs('a database without an Open_vSwitch row', () => {
  let ovs: OvsInstance;
  let session: NodeSession | undefined;
  const spec = () => ({ tunnelIP: '192.168.251.1', ovsdb: `unix:${ovs.dbSocket}` });
  /** ensureLayout until Ready, as the chassis manager repeats it while ovs-vswitchd catches up. */
  const laidOut = async (s: NodeSession): Promise<LayoutOutcome> => {
    let outcome = await s.ensureLayout(spec());
    for (const deadline = Date.now() + 10_000; !outcome.ready && Date.now() < deadline; outcome = await s.ensureLayout(spec())) await new Promise((r) => setTimeout(r, 100));
    return outcome;
  };

  beforeAll(async () => {
    ovs = await startOvs({ name: 'chassis-empty-db', netns: `${runPrefix()}-ed` });
  }, 60_000);
  afterAll(async () => {
    await session?.close();
    await ovs?.stop();
  });

  it('is initialised by the session and br-int is laid out again', async () => {
    session = new NodeSession({ node: 'hv1', endpoint: `unix:${ovs.dbSocket}`, owner: 'vnetd', logger: pino({ level: 'silent' }), onChange: () => undefined });
    session.start();
    await waitFor(() => session!.ready, 10_000, 'session ready');
    expect(await laidOut(session)).toMatchObject({ ready: true });

    // What an empty database looks like to the session: the root row gone, and with it every bridge.
    const s = session;
    await s.client.transact(s.client.ops.delete('Open_vSwitch', []));
    await waitFor(() => s.openVSwitch() === undefined, 5_000, 'row gone from the replica');
    // Not through ovs-vsctl: any ovs-vsctl command creates the row when it is missing.
    expect(s.client.cache.table('Bridge').rows()).toHaveLength(0);
    await new Promise((r) => setTimeout(r, 500));
    expect(s.openVSwitch()).toBeUndefined();

    const outcome = await laidOut(s);
    expect(outcome).toMatchObject({ ready: true, reason: 'LayoutReady' });
    expect((await ovs.vsctl(['list-br'])).split('\n')).toContain('br-int');
    expect((await ovs.vsctl(['get', 'Open_vSwitch', '.', `external_ids:${NODE_KEY}`])).trim().replace(/"/g, '')).toBe('hv1');
    // With the versions ovs-ctl would have set (Node status.ovsVersion reads them): before, both empty.
    const [installed, row] = [await installedVersions(), s.openVSwitch()!];
    expect({ ovs: row.ovs_version, db: row.db_version }).toEqual({ ovs: installed.ovs, db: installed.db });
    expect(s.view()).toMatchObject({ ovsVersion: installed.ovs });
    // One row, however often it is asked.
    expect(await s.ensureLayout(spec())).toMatchObject({ ready: true });
    expect((await ovs.vsctl(['--columns=_uuid', 'list', 'Open_vSwitch'])).trim().split('\n').filter((l) => l.startsWith('_uuid'))).toHaveLength(1);
  }, 60_000);
});
