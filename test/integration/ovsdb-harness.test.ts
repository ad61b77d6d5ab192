/** The OVS test harness itself: private instances, netns, restarts, clean stop. */
import { existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { runPrefix, startOvs } from '../harness/ovs';
import { describeOvs } from './ovsdb-helpers';

function pidAlive(pid: number): boolean {
  try {
    const stat = execFileSync('cat', [`/proc/${pid}/stat`]).toString();
    return !/\) [ZX] /.test(stat);
  } catch {
    return false;
  }
}

describeOvs('OVS test harness', () => {
  it('runs ovs-vswitchd in a netns with a private rundir, restarts daemons and cleans up', async () => {
    expect(runPrefix()).toMatch(/^v[0-9a-z]{5}$/);
    const ns = `${runPrefix()}-h`;
    const ovs = await startOvs({ name: 'harness', netns: ns });
    try {
      expect(ovs.dbSocket.startsWith(ovs.dir)).toBe(true);
      await ovs.vsctl(['add-br', 'br-h', '--', 'set', 'Bridge', 'br-h', 'datapath_type=netdev']);
      expect(existsSync(ovs.bridgeMgmtSocket('br-h'))).toBe(true);
      expect(await ovs.ofctl(['dump-flows', 'br-h'])).toContain('actions=NORMAL');
      // The internal port's tap device lives in the netns, not here.
      expect(execFileSync('ip', ['netns', 'exec', ns, 'ip', 'link', 'show', 'br-h']).toString()).toContain('br-h');
      expect(await ovs.appctl('ovs-vswitchd', ['version'])).toContain('ovs-vswitchd');

      await ovs.killVswitchd('SIGKILL');
      await ovs.restartVswitchd();
      await ovs.vsctl(['add-port', 'br-h', 'p1', '--', 'set', 'Interface', 'p1', 'type=internal']);
      expect((await ovs.vsctl(['list-ports', 'br-h'])).trim()).toBe('p1');

      await ovs.restartOvsdbServer();
      expect((await ovs.vsctl(['list-br'])).trim()).toBe('br-h'); // data survives the restart
    } finally {
      const pids = ['ovsdb-server', 'ovs-vswitchd'].map((d) => Number(execFileSync('cat', [`${ovs.dir}/${d}.pid`]).toString()));
      await ovs.stop();
      expect(existsSync(ovs.dir)).toBe(false);
      expect(pids.some(pidAlive)).toBe(false);
      expect(existsSync(`/run/netns/${ns}`)).toBe(false);
    }
  });
});
