/**
 * bench:fastpath part 2: VM to remote VM over the overlay (VXLAN) on the test bed, 64-byte
 * UDP frames, through three datapaths in one run on the same bed:
 *   1. OVS (userspace) with AF_PACKET ports (the VM taps and uplinks as system ports),
 *   2. OVS with `afxdp` ports (same ports, type=afxdp),
 *   3. vnetd's fast path (ports back to system type, Node spec.fastPath enabled).
 * The sender is native/build/udpgen (sendmmsg, 64 per call) inside VM a on hv1; on veth
 * the sending core bounds throughput, so each datapath is reported both as packets per
 * second delivered to VM b's interface and as datapath CPU time per delivered packet:
 *   OVS:       utime+stime of both hypervisors' ovs-vswitchd processes (all threads),
 *   fast path: utime+stime of the two vfp-runner threads (this process).
 * Kernel time spent in the veth/XDP receive path is charged to whichever thread the kernel
 * runs it on (mostly the sender), identically for the three, and is not in these figures.
 *
 *   npm run bench:fastpath   (part 2 runs after part 1; or npx tsx test/bench/fastpath-bed.bench.ts)
 *   BENCH_SECONDS=3 BENCH_ROUNDS=2
 */
/* eslint-disable no-console */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { HypervisorNode, VirtualPort } from '../../src/resources/kinds';
import { findBinary } from '../../src/chassis/ovs-daemons';
import { startTestbed, type Testbed, type Vm } from '../harness/testbed';
import { eventually, startTestVnetd, type TestVnetd } from '../support/vnetd';
import { G, joinBed, overlayApi } from '../e2e/overlay-support';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const UDPGEN = join(__dirname, '..', '..', 'native', 'build', 'udpgen');
const TICK = 100; // USER_HZ

type Mode = 'ovs-afpacket' | 'ovs-afxdp' | 'vnetd-fastpath';

/** utime and stime (clock ticks) of a process or thread. */
function cpuTicks(statPath: string): { user: number; sys: number } {
  const s = readFileSync(statPath, 'utf8');
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  return { user: Number(f[11]), sys: Number(f[12]) };
}

const addTicks = (a: { user: number; sys: number }, b: { user: number; sys: number }) => ({ user: a.user + b.user, sys: a.sys + b.sys });

/**
 * BENCH_PROFILE=DIR: while a datapath is measured, `perf record` samples its threads (or
 * processes) and `perf stat` counts their syscalls; reports land in DIR/<mode>-<round>.*.
 */
const PROFILE_DIR = process.env.BENCH_PROFILE;
function startProfile(mode: string, round: number, sel: string[]): () => Promise<void> {
  if (!PROFILE_DIR) return async () => {};
  const base = join(PROFILE_DIR, `${mode}-${round}`);
  // System-wide: the kernel work a datapath triggers runs in other threads too (the
  // sender's softirq, ksoftirqd); `perf report --sort comm,pid` splits it per thread.
  const rec = spawn('sh', ['-c', `perf record -q -a -e cpu-clock -g -o ${base}.data -- sleep ${SECONDS} 2> ${base}.err`], { stdio: 'ignore' });
  const events = ['sendto', 'poll', 'ppoll', 'recvfrom', 'sendmsg', 'recvmsg', 'sendmmsg', 'recvmmsg', 'epoll_wait'].map((e) => `syscalls:sys_enter_${e}`).join(',');
  const stat = spawn('perf', ['stat', '-x', ',', '-e', events, '-o', `${base}.syscalls`, ...sel, '--', 'sleep', String(SECONDS)], { stdio: 'ignore' });
  const exited = [rec, stat].map((c) => new Promise<void>((r) => c.on('exit', () => r())));
  return async () => {
    await Promise.all(exited);
    spawnSync('sh', ['-c', `perf report -i ${base}.data --stdio --no-children --sort comm,pid --percent-limit 0.5 -g none > ${base}.threads 2>/dev/null`]);
  };
}


function runnerThreads(): string[] {
  return readdirSync('/proc/self/task').filter((t) => readFileSync(`/proc/self/task/${t}/comm`, 'utf8').trim() === 'vfp-runner');
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) return console.log('skipped: not root');
  if (!findBinary('ovs-vswitchd')) return console.log('skipped: Open vSwitch not installed');
  if (!existsSync(UDPGEN)) execFileSync('make', ['-s', '-C', join(__dirname, '..', '..', 'native'), 'tools']);
  let v: TestVnetd | undefined;
  let bed: Testbed | undefined;
  try {
    v = await startTestVnetd({ chassis: true });
    bed = await startTestbed({ hypervisors: 2 });
    const vnetd = v;
    const { call, network, waitReady } = overlayApi(() => vnetd);
    await joinBed(bed, call, () => ({}));
    await network('bench', 'net', { subnets: [{ cidr: '10.80.0.0/24' }], encapsulation: 'vxlan' });
    const vm = async (name: string, hv: string): Promise<Vm> => {
      const p = (await call('POST', `${G}/namespaces/bench/virtualports`, { metadata: { name }, spec: { network: 'net', node: hv } })) as VirtualPort;
      const m = await bed!.addVm(hv, { name: `bn${name}`, ifaceId: p.spec!.interfaceId!, mac: p.spec!.mac, ip: `${p.spec!.ips![0]}/24` });
      await m.exec(['sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1']);
      await waitReady('bench', 'virtualports', name);
      return m;
    };
    const a = await vm('a', 'hv1');
    const b = await vm('b', 'hv2');
    const bIp = b.ip!.split('/')[0]!;
    const pingOk = () => a.exec(['ping', '-c', '1', '-W', '1', bIp]).then((o) => o.includes('1 received'), () => false);
    await eventually(pingOk, 15_000, 100);
    const vswitchdPids = bed.hypervisors.map((h) => readFileSync(join(h.ovs.dir, 'ovs-vswitchd.pid'), 'utf8').trim());
    const vswitchdStat = vswitchdPids.map((p) => `/proc/${p}/stat`);
    const rxB = async () => (JSON.parse(await b.exec(['ip', '-s', '-j', 'link', 'show', b.iface])) as { stats64: { rx: { packets: number } } }[])[0]!.stats64.rx.packets;

    const setPortType = async (type: string) => {
      for (const [vmx, hv] of [[a, bed!.hv('hv1')], [b, bed!.hv('hv2')]] as const) {
        for (const iface of [vmx.tap, hv.uplink]) await hv.ovs.vsctl(['set', 'Interface', iface, `type=${type}`]);
      }
      await eventually(pingOk, 20_000, 200);
    };
    const setFastPath = async (enabled: boolean) => {
      for (const h of bed!.hypervisors) {
        await vnetd.call('PATCH', `${G}/nodes/${h.name}`, { spec: { fastPath: { enabled, netns: h.netns } } }, { contentType: 'application/merge-patch+json' });
      }
      if (enabled) {
        for (const h of bed!.hypervisors) {
          await eventually(async () => ((await call('GET', `${G}/nodes/${h.name}`)) as HypervisorNode).status?.fastpath?.state === 'Running', 20_000, 100);
        }
      }
      await eventually(pingOk, 20_000, 200);
    };

    const measure = async (mode: Mode, round: number) => {
      const threads = runnerThreads();
      const fp = mode === 'vnetd-fastpath';
      const zero = { user: 0, sys: 0 };
      const cpu = () => (fp ? threads.reduce((s, t) => addTicks(s, cpuTicks(`/proc/self/task/${t}/stat`)), zero) : vswitchdStat.reduce((s, p) => addTicks(s, cpuTicks(p)), zero));
      const rx0 = await rxB(), c0 = cpu(), t0 = performance.now();
      const profiled = startProfile(mode, round, fp ? ['-t', threads.join(',')] : ['-p', vswitchdPids.join(',')]);
      const sent = Number((await a.exec([UDPGEN, bIp, '9', String(SECONDS)])).trim());
      await new Promise((r) => setTimeout(r, 300)); // frames still in flight
      const rx1 = await rxB(), c1 = cpu(), secs = (performance.now() - t0 - 300) / 1000;
      await profiled();
      const delivered = rx1 - rx0;
      const nsPer = (ticks: number) => (delivered ? ((ticks / TICK) * 1e9) / delivered : NaN);
      return {
        mode,
        sent,
        delivered,
        pps: delivered / secs,
        cpuNsPerPkt: nsPer(c1.user - c0.user + c1.sys - c0.sys),
        userNsPerPkt: nsPer(c1.user - c0.user),
        sysNsPerPkt: nsPer(c1.sys - c0.sys),
        threads: fp ? threads.length : 2,
      };
    };

    const results: Array<Awaited<ReturnType<typeof measure>>> = [];
    for (let round = 0; round < ROUNDS; round++) {
      await setPortType('system');
      results.push(await measure('ovs-afpacket', round));
      await setPortType('afxdp');
      results.push(await measure('ovs-afxdp', round));
      await setPortType('system');
      await setFastPath(true);
      results.push(await measure('vnetd-fastpath', round));
      if (process.env.BENCH_VERBOSE) {
        const text = (await vnetd.call('GET', '/metrics')).text;
        console.log(text.split('\n').filter((l) => l.startsWith('vnetd_fastpath_interface') || l.startsWith('vnetd_fastpath_xsk')).join('\n'));
      }
      await setFastPath(false);
    }
    const best = (m: Mode) => {
      const rs = results.filter((r) => r.mode === m);
      return { pps: Math.max(...rs.map((r) => r.pps)), cpu: Math.min(...rs.map((r) => r.cpuNsPerPkt)) };
    };
    for (const r of results) console.log(`${r.mode.padEnd(15)} sent ${r.sent} delivered ${r.delivered} (${(r.pps / 1e3).toFixed(0)} kpps), datapath CPU ${r.cpuNsPerPkt.toFixed(0)} ns/pkt (user ${r.userNsPerPkt.toFixed(0)}, sys ${r.sysNsPerPkt.toFixed(0)}) over ${r.threads} thread(s)/process(es)`);
    const ax = best('ovs-afxdp'), ap = best('ovs-afpacket'), fp = best('vnetd-fastpath');
    console.log(`\nbest of ${ROUNDS} rounds, ${SECONDS} s each, 64-byte UDP VM a (hv1) -> VM b (hv2) over VXLAN:`);
    console.log('| datapath | delivered kpps | datapath CPU ns/pkt | pps vs afxdp | CPU/pkt vs afxdp |');
    console.log('|---|---|---|---|---|');
    for (const [name, x] of [['OVS AF_PACKET ports', ap], ['OVS afxdp ports', ax], ['vnetd fast path', fp]] as const) {
      console.log(`| ${name} | ${(x.pps / 1e3).toFixed(0)} | ${x.cpu.toFixed(0)} | ${(x.pps / ax.pps).toFixed(2)}x | ${(x.cpu / ax.cpu).toFixed(2)}x |`);
    }
  } finally {
    await v?.stop();
    await bed?.stop();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
