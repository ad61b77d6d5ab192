/** The embedded local OVS: starts under the data dir, registers Node "local", stops exactly its daemons. */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { pidAlive } from '../../src/chassis/ovs-daemons';
import { NODES } from '../../src/store/kinds';
import type { HypervisorNode } from '../../src/resources/kinds';
import { runPrefix } from '../harness/ovs';
import { startTestVnetd, eventually, type TestVnetd } from '../support/vnetd';
import { describeOvs } from './ovsdb-helpers';

describeOvs('chassis: embedded local OVS', () => {
  const netns = `${runPrefix()}-lo`;
  let v: TestVnetd | undefined;

  beforeAll(() => execFileSync('ip', ['netns', 'add', netns]));
  afterAll(async () => {
    await v?.stop();
    execFileSync('ip', ['netns', 'del', netns]);
  });

  it('starts ovsdb-server and ovs-vswitchd, registers Node local which becomes Ready, and stops cleanly', async () => {
    v = await startTestVnetd({ chassis: true, localOvs: true, localOvsNetns: netns });
    const local = v.localOvs!;
    expect(local).toBeDefined();
    expect(local.dir).toBe(`${v.dataDir}/ovs`);
    expect(local.pids).toHaveLength(2);
    expect(local.pids.every(pidAlive)).toBe(true);
    const node = await eventually(async () => {
      const n = await v!.objects.get<HypervisorNode>(NODES, undefined, 'local');
      return n?.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True' ? n : undefined;
    }, 15_000);
    expect(node.spec).toMatchObject({ tunnelIP: '127.0.0.1', ovsdb: `unix:${v.dataDir}/ovs/db.sock` });
    expect(node.status).toMatchObject({ connected: true, datapathTypes: expect.arrayContaining(['netdev']) });
    expect(node.status!.ovsVersion).toMatch(/^\d+\.\d+/);
    // ovs-vswitchd runs in the netns we gave it, so br-int's tap device is there.
    expect(execFileSync('ip', ['netns', 'exec', netns, 'ip', 'link', 'show', 'br-int']).toString()).toContain('br-int');

    const pids = [...local.pids];
    await v.close();
    expect(pids.some(pidAlive)).toBe(false);
    // The database stays for the next start.
    expect(existsSync(`${v.dataDir}/ovs/conf.db`)).toBe(true);
  });
});
