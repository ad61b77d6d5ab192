/**
 * `vnetctl demo up|down` and `vnetctl trace` against a vnetd with its embedded local OVS
 * (ovs-vswitchd in a private netns, so br-int stays off the host; the demo finds that
 * netns from ovs-vswitchd's PID). Runs the bundled CLI as a subprocess.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { runPrefix } from '../harness/ovs';
import { eventually, startTestVnetd, type TestVnetd } from '../support/vnetd';
import { cliRunner, type CliRunner } from './cli-support';
import { describeOvs } from './ovsdb-helpers';

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const demoNetnsLeft = () => ['c1', 'c2', 'b1', 'b2'].filter((vm) => existsSync(`/run/netns/vdemo-${vm}`));
/** Running: a zombie (not reaped by a container's pid 1) counts as gone. */
const alive = (pid: number) => {
  try {
    return !/^\d+ \(.*\) [ZX] /s.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
};

(isRoot ? describeOvs : describe.skip)('vnetctl demo and trace on the local node', () => {
  const netns = `${runPrefix()}-dm`;
  let v: TestVnetd | undefined;
  let cli: CliRunner;
  let downDone = false;

  beforeAll(async () => {
    const t = Date.now();
    if (demoNetnsLeft().length) throw new Error(`vdemo-* network namespaces already exist on this machine (a demo is up?): ${demoNetnsLeft().join(', ')}`);
    execFileSync('ip', ['netns', 'add', netns]);
    v = await startTestVnetd({ chassis: true, localOvs: true, localOvsNetns: netns });
    cli = await cliRunner({ KUBECONFIG: v.kubeconfigPath });
    await eventually(async () => {
      const r = await v!.call('GET', '/apis/vnet.dev/v1alpha1/nodes/local');
      return r.json?.status?.conditions?.some((c: { type: string; status: string }) => c.type === 'Ready' && c.status === 'True');
    }, 15_000);
    process.stdout.write(`[cli-demo] vnetd with local OVS Ready in ${Date.now() - t} ms\n`);
  }, 30_000);

  afterAll(async () => {
    // Clean up after a failure half-way; the test itself ends with demo down.
    if (cli && v && !downDone) await cli.run(['demo', 'down']).catch(() => undefined);
    await v?.stop();
    try {
      execFileSync('ip', ['netns', 'del', netns]);
    } catch {
      /* already gone */
    }
  }, 30_000);

  it('demo up shows a ping and both backends through the VIP, is idempotent; trace agrees with OVS; demo down removes everything', async () => {
    const t0 = Date.now();
    const up = await cli.run(['demo', 'up']);
    const upMs = Date.now() - t0;
    expect(up.stderr).toBe('');
    expect(up.code).toBe(0);
    expect(up.stdout).toMatch(/2 received/);
    expect(up.stdout).toContain('hello from b1');
    expect(up.stdout).toContain('hello from b2');
    const vip = /VIP (\d+\.\d+\.\d+\.\d+):80/.exec(up.stdout)![1]!;
    const state = JSON.parse(readFileSync(`${v!.dataDir}/demo/state.json`, 'utf8')) as { servers: Record<string, number> };
    const pids = Object.values(state.servers);
    expect(pids).toHaveLength(2);

    const again = await cli.run(['demo', 'up']);
    expect(again.code).toBe(0);
    expect(Object.values((JSON.parse(readFileSync(`${v!.dataDir}/demo/state.json`, 'utf8')) as { servers: Record<string, number> }).servers)).toEqual(pids);

    const t1 = Date.now();
    const c2 = /VM vdemo-c2: port vdemo-c2 (\S+)/.exec(up.stdout)![1]!;
    const [toVip, toPort, noListener, outside] = await Promise.all([
      cli.run(['-n', 'demo', 'trace', '--from', 'vdemo-c1', '--to', `${vip}:80`]),
      cli.run(['-n', 'demo', 'trace', '--from', 'vdemo-c1', '--to', c2, '--proto', 'icmp']),
      cli.run(['-n', 'demo', 'trace', '--from', 'vdemo-c1', '--to', `${vip}:81`]),
      cli.run(['-n', 'demo', 'trace', '--from', 'vdemo-c1', '--to', '192.0.2.1']),
    ]);
    if (process.env.VNETD_TEST_LOG) process.stdout.write(`${up.stdout}\n${toVip.stdout}\n${toPort.stdout}\n${noListener.stdout}\n${outside.stdout}\n`);
    for (const r of [toVip, toPort, noListener, outside]) expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(toVip.stdout).toMatch(/lb: +vdemo-web .*one of 2 backends, which one depends on the hash of the 5-tuple.*vdemo-b1.*vdemo-b2/);
    expect(toVip.stdout).toMatch(/OVS ofproto\/trace on node local/);
    expect(toVip.stdout).toMatch(/tables: +Classifier -> SpoofGuard/);
    // Each bucket of the VIP's select group, traced after its DNAT, ends at its backend's port.
    const [b1, b2] = ['vdemo-b1', 'vdemo-b2'].map((n) => new RegExp(`VM vdemo-${n.slice(6)}: port ${n} (\\S+)`).exec(up.stdout)![1]!);
    expect(toVip.stdout).toMatch(/group: +LbNat sends new connections to select group \d+ \(2 buckets\)/);
    expect(toVip.stdout).toMatch(new RegExp(`bucket \\d: DNAT to ${b1}:8080 \\(vdemo-b1, weight 1\\): LbNat -> L2Lookup: output to ofport \\d+ \\(vdemo-b1\\): as the logical model says`));
    expect(toVip.stdout).toMatch(new RegExp(`bucket \\d: DNAT to ${b2}:8080 \\(vdemo-b2, weight 1\\): LbNat -> L2Lookup: output to ofport \\d+ \\(vdemo-b2\\): as the logical model says`));
    expect(toVip.stdout).toMatch(/verdict: +deliver \(2 of 2 traced buckets deliver\)\nOVS agrees with the logical path \(deliver\)\. Every bucket is a logical backend/);
    expect(toVip.stdout).not.toContain('DISAGREEMENT');
    expect(toPort.stdout).toMatch(/local port vdemo-c2 on node local/);
    expect(toPort.stdout).toContain('OVS agrees with the logical path (deliver).');
    expect(noListener.stdout).toMatch(/no TCP listener on port 81[\s\S]*verdict: +drop/);
    expect(outside.stdout).toMatch(/outside network vdemo-net's subnets[\s\S]*OVS: not traced here \(no destination MAC/);
    expect(noListener.stdout).toContain('OVS agrees with the logical path (drop).');

    // lb status on a realized LB: the node that installed its flows, each backend's node.
    const status = await cli.run(['-n', 'demo', 'lb', 'status', 'vdemo-web']);
    expect(status).toMatchObject({ code: 0, stderr: '' });
    expect(status.stdout).toMatch(new RegExp(`\\nVIP: +${vip}\\n`));
    expect(status.stdout).toMatch(/\nNodes realized: +local\n/);
    // Health and connections are "-" until the dataplane reports them.
    expect(status.stdout).toMatch(new RegExp(`\\n +port/vdemo-b1 +${b1} +local +1 +(healthy|-) +(\\d+|-)\\n`));
    expect(status.stdout).toMatch(new RegExp(`\\n +port/vdemo-b2 +${b2} +local +1 +(healthy|-) +(\\d+|-)\\n`));

    const bad = await cli.run(['trace', '--from', 'x', '--to', '10.0.0.300']);
    expect(bad.code).toBe(2);
    // The same report for scripts; -o name has no meaning for a report.
    const [asJson, asYaml, asName] = await Promise.all([
      cli.run(['-n', 'demo', 'trace', '--from', 'vdemo-c1', '--to', `${vip}:80`, '-o', 'json']),
      cli.run(['-n', 'demo', 'trace', '--from', 'vdemo-c1', '--to', c2, '-o', 'yaml']),
      cli.run(['-n', 'demo', 'trace', '--from', 'vdemo-c1', '--to', c2, '-o', 'name']),
    ]);
    expect(asJson).toMatchObject({ code: 0, stderr: '' });
    const report = JSON.parse(asJson.stdout);
    expect(report).toMatchObject({ packet: { from: 'vdemo-c1', to: `${vip}:80`, proto: 'tcp' }, logical: { verdict: 'deliver' }, ovs: { node: 'local', verdict: 'deliver' }, disagreements: [], agrees: true });
    expect(report.logical.loadBalancer.choices.map((c: { backend: string }) => c.backend)).toEqual(['vdemo-b1', 'vdemo-b2']);
    expect(report.ovs.group.buckets.map((b: { backend: string; agrees: boolean }) => [b.backend, b.agrees]).sort()).toEqual([['vdemo-b1', true], ['vdemo-b2', true]]);
    expect(parseYaml(asYaml.stdout)).toMatchObject({ logical: { verdict: 'deliver' }, ovs: { verdict: 'deliver' }, agrees: true });
    expect(asName).toMatchObject({ code: 2, stdout: '' });
    expect(asName.stderr).toMatch(/^error: trace prints a report, not objects: use -o table \(the default\), json or yaml\n$/);

    // Break OVS behind vnetd's back (nothing resyncs until the next change): the flow that
    // hands b2's DNATed packets to L2 is gone, so b2's bucket drops; trace must say so.
    execFileSync('ovs-ofctl', ['-O', 'OpenFlow13', 'del-flows', `unix:${v!.dataDir}/ovs/br-int.mgmt`, `table=4,ip,nw_dst=${b2}`]);
    const broken = await cli.run(['-n', 'demo', 'trace', '--from', 'vdemo-c1', '--to', `${vip}:80`]);
    expect(broken).toMatchObject({ code: 0, stderr: '' });
    expect(broken.stdout).toMatch(new RegExp(`bucket \\d: DNAT to ${b2}:8080 \\(vdemo-b2, weight 1\\): LbNat: drop .*: DISAGREES`));
    expect(broken.stdout).toMatch(/verdict: +deliver \(1 of 2 traced buckets deliver\)/);
    expect(broken.stdout).toMatch(/\nDISAGREEMENT: bucket \d \(vdemo-b2\): the logical model delivers it to local port vdemo-b2 but OVS drops it/);
    expect(broken.stdout).not.toContain('OVS agrees');

    const t2 = Date.now();
    const down = await cli.run(['demo', 'down']);
    const t3 = Date.now();
    downDone = down.code === 0;
    expect(down).toMatchObject({ code: 0, stderr: '' });
    expect(down.stdout).toContain('demo is down');
    expect(demoNetnsLeft()).toEqual([]);
    expect(pids.filter(alive)).toEqual([]);
    expect((await v!.call('GET', '/apis/vnet.dev/v1alpha1/namespaces/demo/virtualports')).json.items).toEqual([]);
    const ports = execFileSync('ovs-vsctl', [`--db=unix:${v!.dataDir}/ovs/db.sock`, 'list-ports', 'br-int']).toString();
    expect(ports).not.toContain('vdemo-');

    process.stdout.write(`[cli-demo] demo up ${upMs} ms, up again ${t1 - t0 - upMs} ms, traces ${t2 - t1} ms, down ${t3 - t2} ms\n`);
    const downAgain = await cli.run(['demo', 'down']);
    expect(downAgain).toMatchObject({ code: 0, stderr: '' });
  }, 120_000);
});
