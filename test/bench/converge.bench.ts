/**
 * npm run bench:converge - vnetd beside OVN (ovn-central/ovn-host 23.03) on identical
 * test beds (test/harness/testbed.ts: 2 namespaced hypervisors, each with its own
 * userspace OVS), same run, same logical topology: one network with N ports split over
 * the two hypervisors (N from BENCH_N, default "100,1000").
 *
 * Per N, on a fresh bed for each side:
 *  - the N ports' NICs are OVS internal ports on br-int with external_ids:iface-id
 *    (no VM netns: binding only needs the Interface with an ofport), created BEFORE the
 *    clock starts, so both sides only bind and compute;
 *  - realize: vnetd: from the first API request (network + N VirtualPorts, 16 requests
 *    in flight) until every VirtualPort is Ready; OVN: one `ovn-nbctl` invocation
 *    (ls-add + lsp-add/lsp-set-addresses/lsp-set-port-security per port, `--`
 *    separated) followed by `ovn-nbctl --wait=hv sync` returning;
 *  - flows: `ovs-ofctl dump-flows br-int` lines with actions, per hypervisor;
 *  - new port to first ping: a real VM netns "a" on hv1 (existing, already pinging), then
 *    the clock starts at the API POST / lsp-add of port "b", its VM netns is plugged on
 *    hv2 (bed.addVm, same cost on both sides), and `ping -i 0.01` from b to a runs until
 *    the first reply line;
 *  - memory: vnetd runs in this process: process.memoryUsage().rss (includes the bench
 *    client); OVN: VmRSS of ovn-northd + NB + SB ovsdb-servers, and of ovn-controller
 *    per hypervisor (the hypervisors' own ovsdb-server/ovs-vswitchd excluded on both).
 * vnetd's store is SQLite with synchronous=FULL in a tmpdir: every write waits for fsync,
 * so its figures depend on the disk; BENCH_DATA_DIR=/dev/shm shows them without that.
 * The restart-loss measurement of the issue is not done here.
 * Everything started (beds, vnetd, OVN daemons by pidfile PID, netns with the per-run
 * prefix) is stopped on success, failure, and SIGINT/SIGTERM.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findBinary, runCommand } from '../../src/chassis/ovs-daemons';
import { ovsAvailability } from '../harness/ovs';
import { startTestbed, type Testbed, type Vm, type Hypervisor } from '../harness/testbed';
import { eventually, startTestVnetd, type TestVnetd } from '../support/vnetd';

const G = '/apis/vnet.dev/v1alpha1';
const NS = process.env.BENCH_N ?? '100,1000';
const SIZES = NS.split(',').map((s) => Number(s.trim())).filter((n) => n > 0);
const out = (s: string) => process.stdout.write(`${s}\n`);
const now = () => performance.now();

type Obj = { status?: { conditions?: Array<{ type: string; status: string; observedGeneration?: number }> }; metadata: { name: string; generation?: number } };
const readyNow = (o: Obj) => o.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True' && c.observedGeneration === o.metadata.generation) ?? false;

interface Result {
  realizeMs: number;
  flows: number[];
  firstPingMs: number;
  /** Part of firstPingMs after the VM's NIC was on br-int (bed.addVm returned). */
  afterPlugMs: number;
  rssMB: string;
}

async function flowCount(hv: Hypervisor): Promise<number> {
  const o = await hv.ovs.ofctl(['-O', 'OpenFlow13', 'dump-flows', `unix:${hv.ovs.bridgeMgmtSocket('br-int')}`]);
  return o.split('\n').filter((l) => l.includes('actions=')).length;
}

async function pinNeighbours(bed: Testbed): Promise<void> {
  const macs = await Promise.all(bed.hypervisors.map(async (h) => (await h.exec(['cat', '/sys/class/net/br-phy/address'])).trim()));
  for (const h of bed.hypervisors) {
    for (const [i, other] of bed.hypervisors.entries()) {
      if (other !== h) await h.ovs.appctl('ovs-vswitchd', ['tnl/neigh/set', 'br-phy', other.tunnelIP, macs[i]!]);
    }
  }
}

/** N internal ports on br-int, alternating hypervisors; iface-id = id(i). One ovs-vsctl per hypervisor per 200 ports. */
async function plugInternal(bed: Testbed, n: number, id: (i: number) => string): Promise<void> {
  await Promise.all(
    bed.hypervisors.map(async (hv, h) => {
      const mine = Array.from({ length: n }, (_, i) => i).filter((i) => i % bed.hypervisors.length === h);
      for (let k = 0; k < mine.length; k += 200) {
        const args: string[] = [];
        for (const i of mine.slice(k, k + 200)) {
          const name = `${bed.prefix}i${i}`;
          args.push('--', 'add-port', 'br-int', name, '--', 'set', 'Interface', name, 'type=internal', `external_ids:iface-id=${id(i)}`);
        }
        await hv.ovs.vsctl(args.slice(1));
      }
    }),
  );
}

async function waitBrInt(bed: Testbed): Promise<void> {
  await eventually(async () => {
    for (const hv of bed.hypervisors) if ((await hv.ovs.vsctl(['list-br'])).split('\n').indexOf('br-int') < 0) return false;
    return true;
  }, 30_000, 50);
}

/** Streams `ping -i 0.01` from vm to ip; resolves at the first reply. */
function firstReply(vm: Vm, ip: string, timeoutMs = 20_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(findBinary('ip')!, ['netns', 'exec', vm.netns, 'ping', '-n', '-i', '0.01', '-W', '1', '-w', String(Math.ceil(timeoutMs / 1000)), ip], { stdio: ['ignore', 'pipe', 'ignore'] });
    let done = false;
    child.stdout!.on('data', (c: Buffer) => {
      if (!done && c.toString().includes('bytes from')) {
        done = true;
        resolve();
        if (child.pid && child.exitCode === null) process.kill(child.pid, 'SIGTERM');
      }
    });
    child.on('exit', () => {
      if (!done) reject(new Error(`no reply from ${ip}`));
    });
  });
}

async function quiet(vm: Vm): Promise<void> {
  await vm.exec(['sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1']).catch(() => undefined);
}

// ---------------------------------------------------------------- vnetd

let phase = 'start';
// Reported, not fatal: a rejection nobody awaited inside vnetd must not abort the run (and skip cleanup).
process.on('unhandledRejection', (e) => out(`  unhandled rejection during ${phase}: ${e instanceof Error ? e.stack : String(e)}`));

async function benchVnetd(n: number): Promise<Result> {
  phase = `vnetd N=${n}`;
  let v: TestVnetd | undefined;
  let bed: Testbed | undefined;
  let dataDir: string | undefined;
  try {
    // BENCH_DATA_DIR (e.g. /dev/shm) puts vnetd's SQLite store there: separates compute from fsync latency.
    if (process.env.BENCH_DATA_DIR) dataDir = mkdtempSync(join(process.env.BENCH_DATA_DIR, 'vnetd-bench-'));
    v = await startTestVnetd({ chassis: true, dataDir });
    const call = async (method: string, path: string, body?: unknown) => {
      const r = await v!.call(method, path, body);
      if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${r.text}`);
      return r.json;
    };
    bed = await startTestbed({ hypervisors: 2 });
    for (const hv of bed.hypervisors) await call('POST', `${G}/nodes`, { metadata: { name: hv.name }, spec: hv.nodeSpec() });
    await bed.underlayReady();
    await pinNeighbours(bed);
    await waitBrInt(bed);
    const pfx = bed.prefix;
    const ifid = (i: number) => `${pfx}-p${i}`;
    await plugInternal(bed, n, ifid);
    const ns = 'bench';
    await v.call('POST', '/api/v1/namespaces', { metadata: { name: ns } });
    const hvs = bed.hypervisors.map((h) => h.name);

    // Realize N ports.
    const t0 = now();
    await call('POST', `${G}/namespaces/${ns}/virtualnetworks`, { metadata: { name: 'net' }, spec: { subnets: [{ cidr: '10.100.0.0/16' }] } });
    let next = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        for (let i = next++; i < n; i = next++) {
          await call('POST', `${G}/namespaces/${ns}/virtualports`, { metadata: { name: `p${i}` }, spec: { network: 'net', node: hvs[i % hvs.length], interfaceId: ifid(i) } });
        }
      }),
    );
    const postedMs = now() - t0;
    await eventually(async () => {
      const items = ((await v!.call('GET', `${G}/namespaces/${ns}/virtualports`)).json?.items ?? []) as Obj[];
      return items.length === n && items.every(readyNow);
    }, 600_000, 20);
    const realizeMs = now() - t0;
    out(`  vnetd N=${n}: ${n} POSTs done after ${postedMs.toFixed(0)} ms, all Ready after ${realizeMs.toFixed(0)} ms`);
    const flows = await Promise.all(bed.hypervisors.map(flowCount));

    // New port to first ping.
    const vmPort = async (name: string, hv: string) => {
      const tp = now();
      const port = await call('POST', `${G}/namespaces/${ns}/virtualports`, { metadata: { name }, spec: { network: 'net', node: hv } });
      out(`  vnetd N=${n}: POST virtualports/${name} took ${(now() - tp).toFixed(0)} ms`);
      const vm = await bed!.addVm(hv, { name, ifaceId: port.spec.interfaceId, mac: port.spec.mac, ip: `${port.spec.ips[0]}/16` });
      return { vm, ip: port.spec.ips[0] as string };
    };
    const a = await vmPort('a', hvs[0]!);
    await quiet(a.vm);
    await eventually(async () => readyNow((await v!.call('GET', `${G}/namespaces/${ns}/virtualports/a`)).json as Obj), 30_000, 20);
    const t1 = now();
    const b = await vmPort('b', hvs[1]!);
    const plugged = now();
    await firstReply(b.vm, a.ip);
    const firstPingMs = now() - t1;
    const afterPlugMs = now() - plugged;
    await quiet(b.vm);
    await eventually(async () => readyNow((await v!.call('GET', `${G}/namespaces/${ns}/virtualports/b`)).json as Obj), 30_000, 5);
    out(`  vnetd N=${n}: port b Ready ${(now() - t1).toFixed(0)} ms after its POST (observed after the first ping)`);
    const rss = process.memoryUsage().rss / 2 ** 20;
    return { realizeMs, flows, firstPingMs, afterPlugMs, rssMB: `${rss.toFixed(0)} (in-process, incl. bench)` };
  } finally {
    phase = 'vnetd teardown';
    // vnetd first: stopping OVS under a connected vnetd is not what is measured here.
    await v?.stop().catch((e) => out(`  vnetd stop: ${e}`));
    await bed?.stop().catch((e) => out(`  bed stop: ${e}`));
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------- OVN

/** OVN daemons we started, by pidfile; killed by PID. */
const ovnPidfiles = new Set<string>();
function killOvn(): void {
  for (const f of ovnPidfiles) {
    try {
      const pid = Number(readFileSync(f, 'utf8').trim());
      if (pid > 0) process.kill(pid, 'SIGTERM');
    } catch {
      /* gone */
    }
  }
  ovnPidfiles.clear();
}
process.on('exit', killOvn);
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => { killOvn(); process.exit(130); });

function rssOf(pidfile: string): number {
  try {
    const pid = readFileSync(pidfile, 'utf8').trim();
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

async function waitFile(f: string): Promise<void> {
  await eventually(async () => existsSync(f), 10_000, 20);
}

async function benchOvn(n: number): Promise<Result> {
  phase = `OVN N=${n}`;
  let bed: Testbed | undefined;
  const dir = mkdtempSync(join(tmpdir(), 'ovn-bench-'));
  const env = { ...process.env, OVN_RUNDIR: dir, OVN_LOGDIR: dir, OVN_DBDIR: dir, OVS_RUNDIR: dir, OVS_LOGDIR: dir };
  const nb = `unix:${dir}/nb.sock`;
  const sb = `unix:${dir}/sb.sock`;
  const nbctl = (args: string[]) => runCommand(findBinary('ovn-nbctl')!, [`--db=${nb}`, '--timeout=900', ...args], env);
  try {
    for (const [db, schema] of [['nb', '/usr/share/ovn/ovn-nb.ovsschema'], ['sb', '/usr/share/ovn/ovn-sb.ovsschema']] as const) {
      await runCommand(findBinary('ovsdb-tool')!, ['create', `${dir}/${db}.db`, schema], env);
      ovnPidfiles.add(`${dir}/${db}.pid`);
      await runCommand(findBinary('ovsdb-server')!, [`${dir}/${db}.db`, `--remote=punix:${dir}/${db}.sock`, `--pidfile=${dir}/${db}.pid`, `--unixctl=${dir}/${db}.ctl`, `--log-file=${dir}/${db}.log`, '--detach'], env);
    }
    await waitFile(`${dir}/nb.sock`);
    await waitFile(`${dir}/sb.sock`);
    ovnPidfiles.add(`${dir}/northd.pid`);
    await runCommand(findBinary('ovn-northd')!, [`--ovnnb-db=${nb}`, `--ovnsb-db=${sb}`, `--pidfile=${dir}/northd.pid`, `--unixctl=${dir}/northd.ctl`, `--log-file=${dir}/northd.log`, '--detach'], env);
    await nbctl(['init']);

    bed = await startTestbed({ hypervisors: 2, bridges: 'testbed' });
    await bed.underlayReady();
    await pinNeighbours(bed);
    for (const hv of bed.hypervisors) {
      await hv.ovs.vsctl([
        'set', 'Open_vSwitch', '.',
        `external_ids:system-id=${bed.prefix}-${hv.name}`, `external_ids:ovn-remote=${sb}`, 'external_ids:ovn-encap-type=geneve',
        `external_ids:ovn-encap-ip=${hv.tunnelIP}`, 'external_ids:ovn-bridge=br-int', 'external_ids:ovn-bridge-datapath-type=netdev',
      ]);
      const pidfile = `${dir}/ctl-${hv.name}.pid`;
      ovnPidfiles.add(pidfile);
      // In the hypervisor's netns, against its OVS db; br-int.mgmt is found through OVS_RUNDIR.
      await runCommand(findBinary('ip')!, [
        'netns', 'exec', hv.netns, 'env', `OVS_RUNDIR=${hv.ovs.runDir}`, `OVN_RUNDIR=${dir}`,
        findBinary('ovn-controller')!, `unix:${hv.ovs.dbSocket}`, `--pidfile=${pidfile}`, `--log-file=${dir}/ctl-${hv.name}.log`, '--detach',
      ], env);
    }
    // Both chassis registered and their tunnels up before anything is timed.
    await eventually(async () => (await runCommand(findBinary('ovn-sbctl')!, [`--db=${sb}`, '--bare', '--columns=name', 'list', 'Chassis'], env)).split('\n').filter(Boolean).length === 2, 30_000, 50);
    await nbctl(['--wait=hv', 'sync']);
    const pfx = bed.prefix;
    const ifid = (i: number) => `${pfx}-p${i}`;
    await plugInternal(bed, n, ifid);
    const ip = (i: number) => `10.100.${(i + 10) >> 8}.${(i + 10) & 255}`;
    const mac = (i: number) => `0a:00:00:00:${(((i + 10) >> 8) & 255).toString(16).padStart(2, '0')}:${((i + 10) & 255).toString(16).padStart(2, '0')}`;

    const t0 = now();
    const args = ['ls-add', 'net'];
    for (let i = 0; i < n; i++) {
      const addr = `${mac(i)} ${ip(i)}`;
      args.push('--', 'lsp-add', 'net', ifid(i), '--', 'lsp-set-addresses', ifid(i), addr, '--', 'lsp-set-port-security', ifid(i), addr);
    }
    await nbctl(args);
    const postedMs = now() - t0;
    await nbctl(['--wait=hv', 'sync']);
    const realizeMs = now() - t0;
    out(`  OVN   N=${n}: ovn-nbctl batch done after ${postedMs.toFixed(0)} ms, --wait=hv sync returned after ${realizeMs.toFixed(0)} ms`);
    const flows = await Promise.all(bed.hypervisors.map(flowCount));

    const vmPort = async (name: string, hv: string, i: number) => {
      const id = `${pfx}-vm-${name}`;
      const addr = `${mac(i)} ${ip(i)}`;
      await nbctl(['lsp-add', 'net', id, '--', 'lsp-set-addresses', id, addr, '--', 'lsp-set-port-security', id, addr]);
      const vm = await bed!.addVm(hv, { name, ifaceId: id, mac: mac(i), ip: `${ip(i)}/16` });
      return { vm, ip: ip(i) };
    };
    const a = await vmPort('a', 'hv1', n);
    await quiet(a.vm);
    await nbctl(['--wait=hv', 'sync']);
    const t1 = now();
    const b = await vmPort('b', 'hv2', n + 1);
    const plugged = now();
    await firstReply(b.vm, a.ip);
    const firstPingMs = now() - t1;
    const afterPlugMs = now() - plugged;
    const central = rssOf(`${dir}/nb.pid`) + rssOf(`${dir}/sb.pid`) + rssOf(`${dir}/northd.pid`);
    const ctl = bed.hypervisors.map((h) => rssOf(`${dir}/ctl-${h.name}.pid`).toFixed(0));
    return { realizeMs, flows, firstPingMs, afterPlugMs, rssMB: `${central.toFixed(0)} central (northd+NB+SB) + ${ctl.join('/')} ovn-controller` };
  } finally {
    killOvn();
    await bed?.stop().catch((e) => out(`  bed stop: ${e}`));
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  const avail = ovsAvailability();
  if (!avail.ok) {
    out(`skipped: ${avail.reason}`);
    return;
  }
  for (const b of ['ovn-nbctl', 'ovn-sbctl', 'ovn-northd', 'ovn-controller']) {
    if (!findBinary(b)) {
      out(`skipped: ${b} not found (apt-get install ovn-central ovn-host)`);
      return;
    }
  }
  const rows: Array<{ n: number; v: Result; o: Result }> = [];
  for (const n of SIZES) {
    out(`N=${n}`);
    const v = await benchVnetd(n);
    const o = await benchOvn(n);
    rows.push({ n, v, o });
  }
  const r = (a: number, b: number) => (b > 0 ? (a / b).toFixed(2) : '-');
  out('');
  out('| N | realize vnetd (ms) | realize OVN (ms) | ratio vnetd/OVN | flows/hv vnetd | flows/hv OVN | ratio | new port -> first ping vnetd (ms) [after plug] | OVN (ms) [after plug] | ratio | controller RSS vnetd (MiB) | OVN (MiB) |');
  out('|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const { n, v, o } of rows) {
    const fv = v.flows.reduce((s, x) => s + x, 0);
    const fo = o.flows.reduce((s, x) => s + x, 0);
    out(`| ${n} | ${v.realizeMs.toFixed(0)} | ${o.realizeMs.toFixed(0)} | ${r(v.realizeMs, o.realizeMs)} | ${v.flows.join('/')} | ${o.flows.join('/')} | ${r(fv, fo)} | ${v.firstPingMs.toFixed(0)} [${v.afterPlugMs.toFixed(0)}] | ${o.firstPingMs.toFixed(0)} [${o.afterPlugMs.toFixed(0)}] | ${r(v.firstPingMs, o.firstPingMs)} | ${v.rssMB} | ${o.rssMB} |`);
  }
  out('');
  out('Restart loss: not measured by this script.');
}

main().then(
  () => process.exit(0),
  (e) => {
    out(`converge bench failed: ${e instanceof Error ? e.stack : String(e)}`);
    killOvn();
    process.exit(1);
  },
);
