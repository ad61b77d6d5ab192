/** The embedded local OVS: starts under the data dir, registers Node "local", outlives a stopping vnetd (adopted by the next), or stops exactly its daemons when told. */
import { execFileSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
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

    // A vnetd stopping as SIGTERM stops it (keepLocalOvs) leaves the switch running, so
    // the VMs keep their traffic (QA: 13.5 s cut off on a mere restart); the next start
    // adopts the very same daemons.
    const pids = [...local.pids];
    await v.close({ keepLocalOvs: true });
    expect(pids.every(pidAlive)).toBe(true);
    const again = await startTestVnetd({ chassis: true, localOvs: true, localOvsNetns: netns, dataDir: v.dataDir });
    v = again;
    expect([...again.localOvs!.pids].sort()).toEqual([...pids].sort());
    await eventually(async () => (await again.objects.get<HypervisorNode>(NODES, undefined, 'local'))?.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True', 15_000);
    // Told to stop it (the default in-process; VNETD_LOCAL_OVS_STOP=1 for the daemon), it stops exactly those.
    await again.close();
    expect(pids.some(pidAlive)).toBe(false);
    // The database stays for the next start.
    expect(existsSync(`${again.dataDir}/ovs/conf.db`)).toBe(true);
    rmSync(again.dataDir, { recursive: true, force: true });
  });
  it('starts again a daemon that died (kill -9), ovsdb-server or ovs-vswitchd, and Node local is Ready again (QA-117: the switch stayed down until restarted by hand)', async () => {
    v = await startTestVnetd({ chassis: true, localOvs: true, localOvsNetns: netns });
    const local = v.localOvs!;
    const ready = async () => (await v!.objects.get<HypervisorNode>(NODES, undefined, 'local'))?.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True';
    await eventually(ready, 15_000);
    for (const i of [0, 1]) {
      const old = local.pids[i]!;
      process.kill(old, 'SIGKILL');
      await eventually(async () => local.pids[i] !== old && pidAlive(local.pids[i]!), 15_000, 100);
      await eventually(ready, 20_000, 100);
    }
    expect(local.pids.every(pidAlive)).toBe(true);
    await v.close();
    v = undefined;
  }, 90_000);
});
