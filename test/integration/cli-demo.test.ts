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
/** The VMs of the demo of `prefix` still on this machine (network namespaces v<prefix>-*). */
const demoNetnsLeft = (prefix: string) => ['c1', 'c2', 'b1', 'b2'].map((vm) => `v${prefix}-${vm}`).filter((ns) => existsSync(`/run/netns/${ns}`));
/** Running: a zombie (not reaped by a container's pid 1) counts as gone. */
const alive = (pid: number) => {
  try {
    return !/^\d+ \(.*\) [ZX] /s.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
};

/** A new TCP connection from a demo VM (its netns) to VIP:80 with the given source port; the server's answer. */
function connectFrom(netns: string, vip: string, localPort: number): Promise<string> {
  const js = `require('http').get({host:'${vip}',port:80,localPort:${localPort},agent:false,timeout:3000},r=>{let b='';r.on('data',d=>b+=d);r.on('end',()=>console.log(b.trim()))}).on('error',e=>console.log('error: '+e.message))`;
  return new Promise((resolve, reject) =>
    execFile('ip', ['netns', 'exec', netns, process.execPath, '-e', js], { timeout: 10_000 }, (err, out) => (err ? reject(err) : resolve(out.trim()))),
  );
}

const ipToNumber = (ip: string) => `0x${ip.split('.').map((o) => Number(o).toString(16).padStart(2, '0')).join('')}`;

(isRoot ? describeOvs : describe.skip)('vnetctl demo and trace on the local node', () => {
  const netns = `${runPrefix()}-dm`;
  // The demo runs with a per-run --prefix (QA-132 F12): its network namespaces, veths and
  // servers never meet an operator's demo (vdemo-*) on this machine, nor another run's. OTHER
  // is a second demo beside it, to show that down of one leaves the other whole.
  const P = runPrefix();
  const OTHER = `${P}b`;
  const B = `v${P}-`;
  const stateOf = (prefix: string) => JSON.parse(readFileSync(`${v!.dataDir}/demo/state-${prefix}.json`, 'utf8')) as { servers: Record<string, number> };
  let v: TestVnetd | undefined;
  // Kept so afterAll can stop a vnetd (and its OVS) that finishes starting after beforeAll timed out.
  let starting: Promise<TestVnetd> | undefined;
  let cli: CliRunner;
  let downDone = false;
  let otherDownDone = false;

  beforeAll(async () => {
    const t = Date.now();
    const left = [...demoNetnsLeft(P), ...demoNetnsLeft(OTHER)];
    if (left.length) throw new Error(`this run's demo network namespaces already exist on this machine: ${left.join(', ')}`);
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
    const c = v && (!downDone || !otherDownDone) ? (cli ?? (await cliRunner({ KUBECONFIG: v.kubeconfigPath }))) : undefined;
    if (c && !downDone) await c.run(['demo', 'down', '--prefix', P]).catch(() => undefined);
    if (c && !otherDownDone) await c.run(['demo', 'down', '--prefix', OTHER]).catch(() => undefined);
    await v?.stop();
    try {
      execFileSync('ip', ['netns', 'del', netns]);
    } catch {
      /* already gone */
    }
  }, 30_000);

  it('demo up --prefix shows a ping and both backends through the VIP, is idempotent; a second prefix beside it goes down alone; trace agrees with OVS; demo down removes everything', async () => {
    const t0 = Date.now();
    // Two demos at once on one node, as two operators would run them.
    const [up, otherUp] = await Promise.all([cli.run(['demo', 'up', '--prefix', P]), cli.run(['demo', 'up', '--prefix', OTHER])]);
    const upMs = Date.now() - t0;
    for (const u of [up, otherUp]) {
      expect(u.stderr).toBe('');
      expect(u.code).toBe(0);
      expect(u.stdout).toMatch(/2 received/);
      expect(u.stdout).toContain('hello from b1');
      expect(u.stdout).toContain('hello from b2');
    }
    const vip = /VIP (\d+\.\d+\.\d+\.\d+):80/.exec(up.stdout)![1]!;
    // The next steps name this demo's namespace, port and load balancer, and its down.
    expect(up.stdout).toContain(`Try: vnetctl -n ${P} lb status ${B}web; vnetctl -n ${P} trace --from ${B}c1 --to ${vip}:80. Remove it with: vnetctl demo down --prefix ${P}\n`);
    const pids = Object.values(stateOf(P).servers);
    expect(pids).toHaveLength(2);
    const otherPids = Object.values(stateOf(OTHER).servers);
    expect(otherPids).toHaveLength(2);

    const tAgain = Date.now();
    const again = await cli.run(['demo', 'up', '--prefix', P]);
    const againMs = Date.now() - tAgain;
    expect(again.code).toBe(0);
    expect(Object.values(stateOf(P).servers)).toEqual(pids);

    // down of the other prefix takes its VMs, servers, OVS ports, objects and namespace, and
    // nothing of this one (whose traces and connections below still work).
    const tOther = Date.now();
    const otherDown = await cli.run(['demo', 'down', '--prefix', OTHER]);
    const otherDownMs = Date.now() - tOther;
    otherDownDone = otherDown.code === 0;
    expect(otherDown).toMatchObject({ code: 0, stderr: '' });
    expect(otherDown.stdout).toContain(`deleted Namespace ${OTHER}`);
    expect(demoNetnsLeft(OTHER)).toEqual([]);
    expect(otherPids.filter(alive)).toEqual([]);
    expect(demoNetnsLeft(P)).toHaveLength(4);
    expect(pids.filter(alive)).toEqual(pids);
    expect(Object.values(stateOf(P).servers)).toEqual(pids);
    expect((await v!.call('GET', `/apis/vnet.dev/v1alpha1/namespaces/${P}/virtualports`)).json.items).toHaveLength(4);
    const bothPorts = execFileSync('ovs-vsctl', [`--db=unix:${v!.dataDir}/ovs/db.sock`, 'list-ports', 'br-int']).toString();
    expect(bothPorts).not.toContain(`v${OTHER}-`);
    expect(bothPorts.split('\n').filter((l) => l.startsWith(B)).sort()).toEqual(['b1', 'b2', 'c1', 'c2'].map((vm) => `${B}${vm}-h`));

    const t1 = Date.now();
    const c2 = new RegExp(`VM ${B}c2: port ${B}c2 (\\S+)`).exec(up.stdout)![1]!;
    const [toVip, toPort, noListener, outside] = await Promise.all([
      cli.run(['-n', P, 'trace', '--from', `${B}c1`, '--to', `${vip}:80`]),
      cli.run(['-n', P, 'trace', '--from', `${B}c1`, '--to', c2, '--proto', 'icmp']),
      cli.run(['-n', P, 'trace', '--from', `${B}c1`, '--to', `${vip}:81`]),
      cli.run(['-n', P, 'trace', '--from', `${B}c1`, '--to', '192.0.2.1']),
    ]);
    if (process.env.VNETD_TEST_LOG) process.stdout.write(`${up.stdout}\n${toVip.stdout}\n${toPort.stdout}\n${noListener.stdout}\n${outside.stdout}\n`);
    for (const r of [toVip, toPort, noListener, outside]) expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(toVip.stdout).toMatch(new RegExp(`lb: +${B}web .*one of 2 backends, which one depends on the hash of the 5-tuple.*${B}b1.*${B}b2`));
    expect(toVip.stdout).toMatch(/OVS ofproto\/trace on node local/);
    expect(toVip.stdout).toMatch(/tables: +Classifier -> SpoofGuard/);
    // ofproto/trace follows OVS's slot hash to the backend it picks for this 5-tuple; every
    // other backend is traced after its DNAT; each holds slots and a DNAT flow.
    const [b1, b2] = [`${B}b1`, `${B}b2`].map((n) => new RegExp(`VM ${n}: port ${n} (\\S+)`).exec(up.stdout)![1]!);
    expect(toVip.stdout).toMatch(new RegExp(`\\n  lb: +256 of 256 slots in LbSlot for ${vip}, 2 LbDnat flow\\(s\\) for ${vip}:80/tcp\\n`));
    expect(toVip.stdout).toMatch(new RegExp(`\\n  pick: +OVS picks (${B}b[12]) \\(DNAT to [0-9.]+:8080\\) for this 5-tuple: multipath hashes it to slot (\\d+) \\(vnetd deals slot \\2 to \\1\\)\\n`));
    const picked = new RegExp(`OVS picks (${B}b[12])`).exec(toVip.stdout)![1]!;
    for (const [name, ip] of [[`${B}b1`, b1], [`${B}b2`, b2]] as const) {
      const path = name === picked ? "OVS's pick: LbNat -> LbSlot -> LbDnat -> LbNat -> L2Lookup" : 'after its DNAT: LbNat -> L2Lookup';
      expect(toVip.stdout).toMatch(new RegExp(`\\n  backend ${name} ${ip}: \\d+ slots \\([0-9.]+%\\), weight 1, DNAT to ${ip}:8080: ${path}: output to ofport \\d+ \\(${name}\\): as the logical model says\\n`));
    }
    expect(toVip.stdout).toMatch(new RegExp(`verdict: +deliver \\(for this 5-tuple: OVS picks ${picked}\\)\\nOVS agrees with the logical path \\(deliver\\)\\. Every backend holds slots and a DNAT flow`));
    expect(toVip.stdout).not.toContain('DISAGREEMENT');
    expect(toPort.stdout).toMatch(new RegExp(`local port ${B}c2 on node local`));
    expect(toPort.stdout).toContain('OVS agrees with the logical path (deliver).');
    expect(noListener.stdout).toMatch(/no TCP listener on port 81[\s\S]*verdict: +drop/);
    expect(outside.stdout).toMatch(new RegExp(`outside network ${B}net's subnets[\\s\\S]*OVS: not traced here \\(no destination MAC`));
    expect(noListener.stdout).toContain('OVS agrees with the logical path (drop).');

    // lb status on a realized LB: the node that installed its flows, each backend's node.
    const status = await cli.run(['-n', P, 'lb', 'status', `${B}web`]);
    expect(status).toMatchObject({ code: 0, stderr: '' });
    expect(status.stdout).toMatch(new RegExp(`\\nVIP: +${vip}\\n`));
    expect(status.stdout).toMatch(/\nNodes realized: +local\n/);
    // Health and connections are "-" until the dataplane reports them.
    expect(status.stdout).toMatch(new RegExp(`\\n +port/${B}b1 +${b1} +local +1 +(healthy|-) +(\\d+|-)\\n`));
    expect(status.stdout).toMatch(new RegExp(`\\n +port/${B}b2 +${b2} +local +1 +(healthy|-) +(\\d+|-)\\n`));

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
      cli.run(['-n', P, 'trace', '--from', `${B}c1`, '--to', `${vip}:80`, '-o', 'json']),
      cli.run(['-n', P, 'trace', '--from', `${B}c1`, '--to', c2, '-o', 'yaml']),
      cli.run(['-n', P, 'trace', '--from', `${B}c1`, '--to', c2, '-o', 'name']),
    ]);
    expect(asJson).toMatchObject({ code: 0, stderr: '' });
    const report = JSON.parse(asJson.stdout);
    expect(report).toMatchObject({ packet: { from: `${B}c1`, to: `${vip}:80`, proto: 'tcp' }, logical: { verdict: 'deliver' }, ovs: { node: 'local', verdict: 'deliver' }, disagreements: [], agrees: true });
    expect(report.logical.loadBalancer.choices.map((c: { backend: string }) => c.backend)).toEqual([`${B}b1`, `${B}b2`]);
    const lbReport = report.ovs.loadBalancer as { slots: number; pick: { backend: string }; backends: { backend: string; agrees: boolean; slots: number; dealt: number }[] };
    expect(lbReport.backends.map((b) => [b.backend, b.agrees]).sort()).toEqual([[`${B}b1`, true], [`${B}b2`, true]]);
    expect(lbReport.slots).toBe(256);
    for (const b of lbReport.backends) expect(b.slots).toBe(b.dealt);
    expect(lbReport.pick.backend).toBe(picked);
    expect(parseYaml(asYaml.stdout)).toMatchObject({ logical: { verdict: 'deliver' }, ovs: { verdict: 'deliver' }, agrees: true });
    expect(asName).toMatchObject({ code: 2, stdout: '' });
    expect(asName.stderr).toMatch(/^error: trace prints a report, not objects: use -o table \(the default\), json or yaml\n$/);

    // OVS's pick is what the datapath does: a real connection from the demo's c1 with the same
    // source port reaches the backend trace names (the servers answer "hello from bN").
    const sports = [41001, 41002, 41003, 41004, 41005, 41006, 41007, 41008];
    const picks = new Map<number, string>();
    for (const batch of [sports.slice(0, 4), sports.slice(4)]) {
      const runs = await Promise.all(batch.map((p) => cli.run(['-n', P, 'trace', '--from', `${B}c1`, '--to', `${vip}:80`, '--src-port', String(p), '-o', 'json'])));
      runs.forEach((r, i) => {
        expect(r).toMatchObject({ code: 0, stderr: '' });
        const j = JSON.parse(r.stdout);
        expect(j).toMatchObject({ packet: { srcPort: batch[i] }, agrees: true });
        picks.set(batch[i]!, j.ovs.loadBalancer.pick.backend);
      });
    }
    const answers = new Map<number, string>();
    for (const p of sports) answers.set(p, `${B}${(await connectFrom(`${B}c1`, vip, p)).replace(/^hello from /, '')}`);
    expect(Object.fromEntries(answers)).toEqual(Object.fromEntries(picks));
    expect(new Set(picks.values()).size).toBe(2);
    const pickingB1 = sports.find((p) => picks.get(p) === `${B}b1`)!;
    const pickingB2 = sports.find((p) => picks.get(p) === `${B}b2`)!;

    // Break OVS behind vnetd's back (nothing resyncs until the next change): the flow that
    // hands b2's DNATed packets to L2 is gone, so b2's connections drop; trace must say so,
    // also for a 5-tuple OVS sends to b1.
    const mgmt = `unix:${v!.dataDir}/ovs/br-int.mgmt`;
    execFileSync('ovs-ofctl', ['-O', 'OpenFlow13', 'del-flows', mgmt, `table=${TABLES.LbNat.id},ip,nw_dst=${b2}`]);
    const [toB1, toB2] = await Promise.all(
      [pickingB1, pickingB2].map((p) => cli.run(['-n', P, 'trace', '--from', `${B}c1`, '--to', `${vip}:80`, '--src-port', String(p)])),
    );
    for (const broken of [toB1, toB2]) {
      // A disagreement is a fault found: exit 1, the report on stdout, one line on stderr.
      expect(broken.code).toBe(1);
      expect(broken.stderr).toMatch(/^error: OVS disagrees with the logical path \((one disagreement|\d+ disagreements) in the report\)\n$/);
      expect(broken.stdout).toMatch(new RegExp(`\\n  backend ${B}b2 ${b2}: .*: drop \\(datapath actions: drop\\): DISAGREES\\n`));
      expect(broken.stdout).toMatch(new RegExp(`\\nDISAGREEMENT: backend ${B}b2( \\(OVS's pick for this 5-tuple\\))?: the logical model delivers it to local port ${B}b2 but OVS drops it`));
      expect(broken.stdout).not.toContain('OVS agrees');
    }
    expect(toB1.stdout).toMatch(new RegExp(`verdict: +deliver \\(for this 5-tuple: OVS picks ${B}b1\\)`));
    expect(toB2.stdout).toMatch(new RegExp(`verdict: +drop \\(for this 5-tuple: OVS picks ${B}b2\\)\\nDISAGREEMENT: the logical model says deliver but OVS says drop`));
    // b1's DNAT flow gone: the connections its slots get are dropped.
    execFileSync('ovs-ofctl', ['-O', 'OpenFlow13', 'del-flows', mgmt, `table=${TABLES.LbDnat.id},tcp,nw_dst=${vip},reg3=${ipToNumber(b1)}`]);
    const noDnat = await cli.run(['-n', P, 'trace', '--from', `${B}c1`, '--to', `${vip}:80`, '--src-port', String(pickingB1)]);
    expect(noDnat.code).toBe(1);
    expect(noDnat.stdout).toMatch(new RegExp(`\\nDISAGREEMENT: backend ${B}b1 has no LbDnat flow for [0-9.]+:80/tcp: new connections hashed to its \\d+ slots are dropped\\n`));
    expect(noDnat.stdout).toMatch(/pick: +ofproto\/trace did not reach a DNAT in LbDnat/);
    expect(noDnat.stdout).toMatch(/verdict: +drop/);

    const t2 = Date.now();
    const down = await cli.run(['demo', 'down', '--prefix', P]);
    const t3 = Date.now();
    downDone = down.code === 0;
    expect(down).toMatchObject({ code: 0, stderr: '' });
    expect(down.stdout).toContain('demo is down');
    expect(demoNetnsLeft(P)).toEqual([]);
    expect(pids.filter(alive)).toEqual([]);
    expect((await v!.call('GET', `/apis/vnet.dev/v1alpha1/namespaces/${P}/virtualports`)).json.items).toEqual([]);
    // The namespace up made is gone too (QA-98: it stayed).
    expect(down.stdout).toContain(`deleted Namespace ${P}`);
    expect((await v!.call('GET', `/api/v1/namespaces/${P}`)).status).toBe(404);
    // No state file of either demo is left behind.
    expect(existsSync(`${v!.dataDir}/demo`)).toBe(false);
    const ports = execFileSync('ovs-vsctl', [`--db=unix:${v!.dataDir}/ovs/db.sock`, 'list-ports', 'br-int']).toString();
    expect(ports).not.toContain(B);

    process.stdout.write(`[cli-demo] two demos up ${upMs} ms, up again ${againMs} ms, the other down ${otherDownMs} ms, traces ${t2 - t1} ms, down ${t3 - t2} ms\n`);
    const downAgain = await cli.run(['demo', 'down', '--prefix', P]);
    expect(downAgain).toMatchObject({ code: 0, stderr: '' });
  }, 120_000);
});
