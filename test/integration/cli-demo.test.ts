/**
 * `vnetctl demo up|down` and `vnetctl trace` against a vnetd with its embedded local OVS
 * (ovs-vswitchd in a private netns, so br-int stays off the host; the demo finds that
 * netns from ovs-vswitchd's PID). Runs the bundled CLI as a subprocess.
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { TABLES } from '../../src/pipeline/tables';
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

/** A new TCP connection from a demo VM to VIP:80 with the given source port; the server's answer. */
function connectFrom(vm: string, vip: string, localPort: number): Promise<string> {
  const js = `require('http').get({host:'${vip}',port:80,localPort:${localPort},agent:false,timeout:3000},r=>{let b='';r.on('data',d=>b+=d);r.on('end',()=>console.log(b.trim()))}).on('error',e=>console.log('error: '+e.message))`;
  return new Promise((resolve, reject) =>
    execFile('ip', ['netns', 'exec', `vdemo-${vm.replace(/^vdemo-/, '')}`, process.execPath, '-e', js], { timeout: 10_000 }, (err, out) => (err ? reject(err) : resolve(out.trim()))),
  );
}

const ipToNumber = (ip: string) => `0x${ip.split('.').map((o) => Number(o).toString(16).padStart(2, '0')).join('')}`;

(isRoot ? describeOvs : describe.skip)('vnetctl demo and trace on the local node', () => {
  const netns = `${runPrefix()}-dm`;
  let v: TestVnetd | undefined;
  // Kept so afterAll can stop a vnetd (and its OVS) that finishes starting after beforeAll timed out.
  let starting: Promise<TestVnetd> | undefined;
  let cli: CliRunner;
  let downDone = false;

  beforeAll(async () => {
    const t = Date.now();
    if (demoNetnsLeft().length) throw new Error(`vdemo-* network namespaces already exist on this machine (a demo is up?): ${demoNetnsLeft().join(', ')}`);
    execFileSync('ip', ['netns', 'add', netns]);
    // The test deletes flows by hand to show trace finding the disagreement: the flow audit
    // (which would put them back within seconds) is off for this vnetd.
    process.env.VNETD_FLOW_AUDIT_MS = '0';
    starting = startTestVnetd({ chassis: true, localOvs: true, localOvsNetns: netns });
    v = await starting;
    cli = await cliRunner({ KUBECONFIG: v.kubeconfigPath });
    await eventually(async () => {
      const r = await v!.call('GET', '/apis/vnet.dev/v1alpha1/nodes/local');
      return r.json?.status?.conditions?.some((c: { type: string; status: string }) => c.type === 'Ready' && c.status === 'True');
    }, 15_000);
    process.stdout.write(`[cli-demo] vnetd with local OVS Ready in ${Date.now() - t} ms\n`);
  }, 30_000);

  afterAll(async () => {
    // Clean up after a failure half-way; the test itself ends with demo down.
    v ??= await starting?.catch(() => undefined);
    if (v && !downDone) await (cli ?? (await cliRunner({ KUBECONFIG: v.kubeconfigPath }))).run(['demo', 'down']).catch(() => undefined);
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
    // ofproto/trace follows OVS's slot hash to the backend it picks for this 5-tuple; every
    // other backend is traced after its DNAT; each holds slots and a DNAT flow.
    const [b1, b2] = ['vdemo-b1', 'vdemo-b2'].map((n) => new RegExp(`VM vdemo-${n.slice(6)}: port ${n} (\\S+)`).exec(up.stdout)![1]!);
    expect(toVip.stdout).toMatch(new RegExp(`\\n  lb: +256 of 256 slots in LbSlot for ${vip}, 2 LbDnat flow\\(s\\) for ${vip}:80/tcp\\n`));
    expect(toVip.stdout).toMatch(/\n  pick: +OVS picks (vdemo-b[12]) \(DNAT to [0-9.]+:8080\) for this 5-tuple: multipath hashes it to slot (\d+) \(vnetd deals slot \2 to \1\)\n/);
    const picked = /OVS picks (vdemo-b[12])/.exec(toVip.stdout)![1]!;
    for (const [name, ip] of [['vdemo-b1', b1], ['vdemo-b2', b2]] as const) {
      const path = name === picked ? "OVS's pick: LbNat -> LbSlot -> LbDnat -> LbNat -> L2Lookup" : 'after its DNAT: LbNat -> L2Lookup';
      expect(toVip.stdout).toMatch(new RegExp(`\\n  backend ${name} ${ip}: \\d+ slots \\([0-9.]+%\\), weight 1, DNAT to ${ip}:8080: ${path}: output to ofport \\d+ \\(${name}\\): as the logical model says\\n`));
    }
    expect(toVip.stdout).toMatch(new RegExp(`verdict: +deliver \\(for this 5-tuple: OVS picks ${picked}\\)\\nOVS agrees with the logical path \\(deliver\\)\\. Every backend holds slots and a DNAT flow`));
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

    const [bad, icmpPort, zeroPort] = await Promise.all([
      cli.run(['trace', '--from', 'x', '--to', '10.0.0.300']),
      cli.run(['trace', '--from', 'x', '--to', '10.0.0.3', '--src-port', '41000']),
      cli.run(['trace', '--from', 'x', '--to', '10.0.0.3:80', '--src-port', '0']),
    ]);
    expect(bad.code).toBe(2);
    expect(icmpPort).toMatchObject({ code: 2, stdout: '', stderr: 'error: --src-port 41000: ICMP has no ports\n' });
    expect(zeroPort).toMatchObject({ code: 2, stdout: '' });
    expect(zeroPort.stderr).toMatch(/--src-port "0": expected a port number from 1 to 65535/);
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
    const lbReport = report.ovs.loadBalancer as { slots: number; pick: { backend: string }; backends: { backend: string; agrees: boolean; slots: number; dealt: number }[] };
    expect(lbReport.backends.map((b) => [b.backend, b.agrees]).sort()).toEqual([['vdemo-b1', true], ['vdemo-b2', true]]);
    expect(lbReport.slots).toBe(256);
    for (const b of lbReport.backends) expect(b.slots).toBe(b.dealt);
    expect(lbReport.pick.backend).toBe(picked);
    expect(parseYaml(asYaml.stdout)).toMatchObject({ logical: { verdict: 'deliver' }, ovs: { verdict: 'deliver' }, agrees: true });
    expect(asName).toMatchObject({ code: 2, stdout: '' });
    expect(asName.stderr).toMatch(/^error: trace prints a report, not objects: use -o table \(the default\), json or yaml\n$/);

    // OVS's pick is what the datapath does: a real connection from vdemo-c1 with the same
    // source port reaches the backend trace names (the servers answer "hello from bN").
    const sports = [41001, 41002, 41003, 41004, 41005, 41006, 41007, 41008];
    const picks = new Map<number, string>();
    for (const batch of [sports.slice(0, 4), sports.slice(4)]) {
      const runs = await Promise.all(batch.map((p) => cli.run(['-n', 'demo', 'trace', '--from', 'vdemo-c1', '--to', `${vip}:80`, '--src-port', String(p), '-o', 'json'])));
      runs.forEach((r, i) => {
        expect(r).toMatchObject({ code: 0, stderr: '' });
        const j = JSON.parse(r.stdout);
        expect(j).toMatchObject({ packet: { srcPort: batch[i] }, agrees: true });
        picks.set(batch[i]!, j.ovs.loadBalancer.pick.backend);
      });
    }
    const answers = new Map<number, string>();
    for (const p of sports) answers.set(p, `vdemo-${(await connectFrom('vdemo-c1', vip, p)).replace(/^hello from /, '')}`);
    expect(Object.fromEntries(answers)).toEqual(Object.fromEntries(picks));
    expect(new Set(picks.values()).size).toBe(2);
    const pickingB1 = sports.find((p) => picks.get(p) === 'vdemo-b1')!;
    const pickingB2 = sports.find((p) => picks.get(p) === 'vdemo-b2')!;

    // Break OVS behind vnetd's back (nothing resyncs until the next change): the flow that
    // hands b2's DNATed packets to L2 is gone, so b2's connections drop; trace must say so,
    // also for a 5-tuple OVS sends to b1.
    const mgmt = `unix:${v!.dataDir}/ovs/br-int.mgmt`;
    execFileSync('ovs-ofctl', ['-O', 'OpenFlow13', 'del-flows', mgmt, `table=${TABLES.LbNat.id},ip,nw_dst=${b2}`]);
    const [toB1, toB2] = await Promise.all(
      [pickingB1, pickingB2].map((p) => cli.run(['-n', 'demo', 'trace', '--from', 'vdemo-c1', '--to', `${vip}:80`, '--src-port', String(p)])),
    );
    for (const broken of [toB1, toB2]) {
      // A disagreement is a fault found: exit 1, the report on stdout, one line on stderr.
      expect(broken.code).toBe(1);
      expect(broken.stderr).toMatch(/^error: OVS disagrees with the logical path \((one disagreement|\d+ disagreements) in the report\)\n$/);
      expect(broken.stdout).toMatch(new RegExp(`\\n  backend vdemo-b2 ${b2}: .*: drop \\(datapath actions: drop\\): DISAGREES\\n`));
      expect(broken.stdout).toMatch(/\nDISAGREEMENT: backend vdemo-b2( \(OVS's pick for this 5-tuple\))?: the logical model delivers it to local port vdemo-b2 but OVS drops it/);
      expect(broken.stdout).not.toContain('OVS agrees');
    }
    expect(toB1.stdout).toMatch(/verdict: +deliver \(for this 5-tuple: OVS picks vdemo-b1\)/);
    expect(toB2.stdout).toMatch(/verdict: +drop \(for this 5-tuple: OVS picks vdemo-b2\)\nDISAGREEMENT: the logical model says deliver but OVS says drop/);
    // b1's DNAT flow gone: the connections its slots get are dropped.
    execFileSync('ovs-ofctl', ['-O', 'OpenFlow13', 'del-flows', mgmt, `table=${TABLES.LbDnat.id},tcp,nw_dst=${vip},reg3=${ipToNumber(b1)}`]);
    const noDnat = await cli.run(['-n', 'demo', 'trace', '--from', 'vdemo-c1', '--to', `${vip}:80`, '--src-port', String(pickingB1)]);
    expect(noDnat.code).toBe(1);
    expect(noDnat.stdout).toMatch(/\nDISAGREEMENT: backend vdemo-b1 has no LbDnat flow for [0-9.]+:80\/tcp: new connections hashed to its \d+ slots are dropped\n/);
    expect(noDnat.stdout).toMatch(/pick: +ofproto\/trace did not reach a DNAT in LbDnat/);
    expect(noDnat.stdout).toMatch(/verdict: +drop/);

    const t2 = Date.now();
    const down = await cli.run(['demo', 'down']);
    const t3 = Date.now();
    downDone = down.code === 0;
    expect(down).toMatchObject({ code: 0, stderr: '' });
    expect(down.stdout).toContain('demo is down');
    expect(demoNetnsLeft()).toEqual([]);
    expect(pids.filter(alive)).toEqual([]);
    expect((await v!.call('GET', '/apis/vnet.dev/v1alpha1/namespaces/demo/virtualports')).json.items).toEqual([]);
    // The namespace up made is gone too (QA-98: it stayed).
    expect(down.stdout).toContain('deleted Namespace demo');
    expect((await v!.call('GET', '/api/v1/namespaces/demo')).status).toBe(404);
    const ports = execFileSync('ovs-vsctl', [`--db=unix:${v!.dataDir}/ovs/db.sock`, 'list-ports', 'br-int']).toString();
    expect(ports).not.toContain('vdemo-');

    process.stdout.write(`[cli-demo] demo up ${upMs} ms, up again ${t1 - t0 - upMs} ms, traces ${t2 - t1} ms, down ${t3 - t2} ms\n`);
    const downAgain = await cli.run(['demo', 'down']);
    expect(downAgain).toMatchObject({ code: 0, stderr: '' });
  }, 120_000);
});
