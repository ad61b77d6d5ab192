/**
 * bench:fastpath part 2: VM to remote VM over the overlay (VXLAN) on the test bed, 64-byte
 * UDP and TCP frames, through three datapaths in one run on the same bed:
 *   1. OVS (userspace) with AF_PACKET ports (the VM taps and uplinks as system ports),
 *   2. OVS with `afxdp` ports (same ports, type=afxdp),
 *   3. vnetd's fast path (ports back to system type, Node spec.fastPath enabled).
 * UDP comes from native/build/udpgen (sendmmsg, 64 per call) inside VM a on hv1, TCP from
 * native/build/tcpgen (pure ACKs of one established connection a -> b, written to a's NIC
 * with AF_PACKET sendmmsg: b's TCP takes each and answers nothing, see tcpgen.c); on veth
 * the sending core bounds throughput, so each datapath is reported both as packets per
 * second delivered to VM b's interface and as datapath CPU time per delivered packet:
 *   OVS:       run time (schedstat) of every thread of both hypervisors' ovs-vswitchd,
 *   fast path: run time of the two vfp-runner threads (this process), plus ovs-vswitchd's
 *              own while the fast path runs (it stays the slow path beside it; the ratio
 *              column counts it, the per-mode line shows it apart).
 * The kernel charges work to the thread that triggers it, the same way for the three: the
 * VM-facing veth's XDP program and the copy into an AF_XDP socket run in the sender's
 * softirq (not in these figures), while a transmit (AF_XDP copy mode: sendto; AF_PACKET:
 * send) runs the next hop's receive work (underlay bridge, the other hypervisor's veth +
 * XDP + copy, VM b's IP stack) in softirq on the transmitting thread: the OVS pmd or main
 * thread, or the vfp-runner. That shared kernel work is in both sides' figures;
 * BENCH_PROFILE splits it out per packet (CpuBreakdown).
 *
 *   npm run bench:fastpath   (part 2 runs after part 1; or npx tsx test/bench/fastpath-bed.bench.ts)
 *   BENCH_SECONDS=3 BENCH_ROUNDS=2 BENCH_PROTOS=udp,tcp BENCH_VERBOSE=1 (fast-path counters)
 *   BENCH_PROFILE=DIR (perf record/stat while each datapath runs, see startProfile)
 *   BENCH_MODES=afxdp,fastpath (a subset of afpacket,afxdp,fastpath)
 *   BENCH_RUNNER_CPUS=LIST|pmd (pin the runner threads; default: the scheduler places them)
 *   BENCH_RX=napi (every veth end on the path receives in its own NAPI kernel thread, as a
 *              NIC does on its own interrupt, instead of in the transmitting thread: see
 *              threadedReceive)
 */
/* eslint-disable no-console */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import type { HypervisorNode, VirtualPort } from '../../src/resources/kinds';
import { findBinary } from '../../src/chassis/ovs-daemons';
import { nsExec, startTestbed, type Testbed, type Vm } from '../harness/testbed';
import { eventually, startTestVnetd, type TestVnetd } from '../support/vnetd';
import { G, joinBed, overlayApi } from '../e2e/overlay-support';
import { VIP_SETTLE_MS } from '../../src/fastpath/node-runner';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const UDPGEN = join(__dirname, '..', '..', 'native', 'build', 'udpgen');
const TCPGEN = join(__dirname, '..', '..', 'native', 'build', 'tcpgen');
const TCP_PORT = '5001';
const TICK = 100; // USER_HZ

type Mode = 'ovs-afpacket' | 'ovs-afxdp' | 'vnetd-fastpath';
/**
 * udp-vip: udpgen's flow to a load balancer's VIP (UDP 53 -> b:9), NATed both ways.
 * udp-lbnet: udpgen's flow a -> b while their network has a load balancer whose backend is
 * neither (OVS runs it through its conntrack; the fast path, since 2026-11-30, does not).
 */
type Proto = 'udp' | 'tcp' | 'udp-vip' | 'udp-lbnet';
const PROTOS: Proto[] = (process.env.BENCH_PROTOS ?? 'udp,tcp,udp-vip,udp-lbnet').split(',') as Proto[];
const lbOf = (p: Proto): 'vip' | 'other' | undefined => (p === 'udp-vip' ? 'vip' : p === 'udp-lbnet' ? 'other' : undefined);
/** BENCH_RUNNER_CPUS=LIST pins the runner threads (taskset); "pmd": where OVS pinned its pmd
 * threads (with pmd-cpu-mask unset, both hypervisors' pmds on one core). Unset: each datapath
 * runs with its own defaults, OVS's pmds pinned, the runners placed by the scheduler (no
 * gain from pinning was measurable on the shared 2-core machine). */
const RUNNER_CPUS = process.env.BENCH_RUNNER_CPUS;
/** BENCH_MODES=afxdp,fastpath (any of afpacket, afxdp, fastpath) runs only those datapaths. */
const MODES = new Set((process.env.BENCH_MODES ?? 'afpacket,afxdp,fastpath').split(','));
/**
 * BENCH_RX=napi: veth hands a transmitted frame to its peer's receive path in the sender's
 * softirq, so the next hop's receive (the underlay bridge, the other hypervisor's XDP and
 * the copy into its socket, VM b's IP stack) is charged to whichever datapath thread
 * transmits; a NIC's receive runs on the receiving side's interrupt instead. With GRO on a
 * veth has NAPI, and with `threaded` that NAPI runs in a kernel thread of its own: the
 * receive work then leaves the datapath's threads for those, for the three datapaths
 * alike. Their run time is reported apart (receiveNsPerPkt).
 */
const RX_THREADS = process.env.BENCH_RX === 'napi';

/** utime and stime (clock ticks) of a process or thread. */
function cpuTicks(statPath: string): { user: number; sys: number } {
  const s = readFileSync(statPath, 'utf8');
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  return { user: Number(f[11]), sys: Number(f[12]) };
}

const addTicks = (a: { user: number; sys: number }, b: { user: number; sys: number }) => ({ user: a.user + b.user, sys: a.sys + b.sys });

/**
 * Nanoseconds a set of threads has run, from each thread's schedstat (exact run time kept
 * by the scheduler, where utime/stime are 10 ms tick samples). A thread that ends during
 * a measurement is read as of the last time it was seen, so its time before the end is
 * still counted.
 */
class ThreadClock {
  private readonly last = new Map<string, number>();
  constructor(private readonly tasks: () => string[]) {}
  read(): number {
    for (const t of this.tasks()) {
      try {
        this.last.set(t, Number(readFileSync(`${t}/schedstat`, 'utf8').split(' ')[0]));
      } catch {
        // the thread ended between listing and reading: its last reading stands
      }
    }
    let sum = 0;
    for (const ns of this.last.values()) sum += ns;
    return sum;
  }
}

/** Every thread of the given processes, as /proc task directories. */
const tasksOf = (pids: string[]) => () =>
  pids.flatMap((p) => {
    try {
      return readdirSync(`/proc/${p}/task`).map((t) => `/proc/${p}/task/${t}`);
    } catch {
      return []; // the process is gone
    }
  });

/** Where a datapath's thread CPU went, from perf samples (ns, summed over its threads). */
interface CpuBreakdown {
  /** Receive work of the next hop (bridge, veth NAPI + XDP + copy into an AF_XDP socket,
   * the VM's IP/UDP/TCP stack) that the kernel runs in softirq on the transmitting thread. */
  downstream: number;
  /** AF_XDP copy-mode transmit itself: an skb per frame, the copy, veth_xmit. */
  xmit: number;
  /** Other syscalls (poll, sched_yield, recvfrom ...) and other kernel work. */
  kernel: number;
  /** The datapath's own user-space code. */
  user: number;
}

const DOWNSTREAM = new Set(['net_rx_action', 'process_backlog', '__napi_poll']);

/** Sums `perf script` samples of the given threads into CpuBreakdown categories. */
function breakdown(dataFile: string, tids: Set<string>): CpuBreakdown {
  const out = spawnSync('perf', ['script', '-i', dataFile, '-F', 'tid,period,ip,sym'], { encoding: 'utf8', maxBuffer: 1 << 30 }).stdout ?? '';
  const b: CpuBreakdown = { downstream: 0, xmit: 0, kernel: 0, user: 0 };
  for (const sample of out.split('\n\n')) {
    const lines = sample.split('\n').filter((l) => l.trim());
    const head = lines[0]?.trim().split(/\s+/);
    if (!head || !tids.has(head[0]!)) continue;
    const period = Number(head[1]);
    const frames = lines.slice(1).map((l) => l.trim().split(/\s+/));
    const syms = frames.map((f) => f[1] ?? '');
    if (syms.some((x) => DOWNSTREAM.has(x))) b.downstream += period;
    else if (syms.includes('__xsk_generic_xmit')) b.xmit += period;
    else if ((frames[0]?.[0] ?? '').startsWith('ffffffff')) b.kernel += period;
    else b.user += period;
  }
  return b;
}

/**
 * BENCH_PROFILE=DIR: while a datapath is measured, `perf record -a` samples the whole
 * machine (the work a datapath triggers runs in other threads too: the sender, ksoftirqd)
 * and `perf stat` counts the datapath's syscalls; files land in DIR/<mode>-<proto>-<round>.*
 * and the datapath threads' samples are summed into a CpuBreakdown.
 */
const PROFILE_DIR = process.env.BENCH_PROFILE;
function startProfile(name: string, round: number, sel: string[], tids: Set<string>): () => Promise<CpuBreakdown | undefined> {
  if (!PROFILE_DIR) return async () => undefined;
  const base = join(PROFILE_DIR, `${name}-${round}`);
  const rec = spawn('sh', ['-c', `perf record -q -a -e cpu-clock -g -o ${base}.data -- sleep ${SECONDS} 2> ${base}.err`], { stdio: 'ignore' });
  const events = ['sendto', 'poll', 'ppoll', 'recvfrom', 'sendmsg', 'recvmsg', 'sendmmsg', 'recvmmsg', 'sched_yield'].map((e) => `syscalls:sys_enter_${e}`).join(',');
  const stat = spawn('perf', ['stat', '-x', ',', '-e', events, '-o', `${base}.syscalls`, ...sel, '--', 'sleep', String(SECONDS)], { stdio: 'ignore' });
  const exited = [rec, stat].map((c) => new Promise<void>((r) => c.on('exit', () => r())));
  return async () => {
    await Promise.all(exited);
    spawnSync('sh', ['-c', `perf report -i ${base}.data --stdio --no-children --sort comm,pid --percent-limit 0.5 -g none > ${base}.threads 2>/dev/null`]);
    return breakdown(`${base}.data`, tids);
  };
}

/** Every veth end on the path VM a -> VM b (and back): each receives in a NAPI thread. */
async function threadedReceive(bed: Testbed, vms: Vm[]): Promise<void> {
  const ends: Array<[string, string]> = [];
  for (const h of bed.hypervisors) ends.push([h.netns, h.uplink]);
  for (const m of vms) ends.push([m.netns, m.iface], [m.hypervisor.netns, m.tap]);
  const ul = JSON.parse(await nsExec(bed.underlayNetns, ['ip', '-j', '-d', 'link', 'show', 'type', 'veth'])) as { ifname: string }[];
  for (const l of ul) ends.push([bed.underlayNetns, l.ifname]);
  for (const [netns, dev] of ends) {
    await nsExec(netns, ['ethtool', '-K', dev, 'gro', 'on']);
    await nsExec(netns, ['sh', '-c', `echo 1 > /sys/class/net/${dev}/threaded`]);
  }
}

/** The NAPI kernel threads of this bed's interfaces (named napi/<dev>-<id>). */
function napiThreads(prefix: string): string[] {
  return readdirSync('/proc').filter((p) => {
    if (!/^\d+$/.test(p)) return false;
    try {
      const comm = readFileSync(`/proc/${p}/comm`, 'utf8');
      return comm.startsWith(`napi/${prefix}`.slice(0, 15));
    } catch {
      return false;
    }
  });
}

function runnerThreads(): string[] {
  return readdirSync('/proc/self/task').filter((t) => readFileSync(`/proc/self/task/${t}/comm`, 'utf8').trim() === 'vfp-runner');
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) return console.log('skipped: not root');
  if (!findBinary('ovs-vswitchd')) return console.log('skipped: Open vSwitch not installed');
  if (!existsSync(UDPGEN) || !existsSync(TCPGEN)) execFileSync('make', ['-s', '-C', join(__dirname, '..', '..', 'native'), 'tools']);
  const children = new Set<ChildProcess>();
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
    if (RX_THREADS) await threadedReceive(bed, [a, b]);
    const prefix = bed.prefix;
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

    /** TCP: b holds one accepted connection open while a sends segments of that flow (see tcpgen.c). */
    const tcpListener = async (): Promise<ChildProcess> => {
      const l = spawn('ip', ['netns', 'exec', b.netns, TCPGEN, 'listen', TCP_PORT, String(SECONDS + 10)], { stdio: ['ignore', 'pipe', 'inherit'] });
      children.add(l);
      l.on('exit', () => children.delete(l));
      await new Promise<void>((resolve, reject) => {
        l.stdout!.once('data', () => resolve());
        l.once('exit', (code) => reject(new Error(`tcpgen listen exited (${code})`)));
      });
      return l;
    };
    // After a datapath switch, vnetd's control plane is still writing status and tables for a
    // moment (measured: the first fast-path run's process CPU was twice the next one's).
    const settle = () => new Promise((r) => setTimeout(r, 1500));
    /**
     * The load balancer of udp-vip, only while that proto runs: a network with one has all its
     * IP through OVS's conntrack, and its ports' other traffic off the fast path, which would
     * change what udp and tcp measure.
     */
    let lbVip: string | undefined;
    let otherLb = false;
    const ensureLb = async (want: 'vip' | 'other' | undefined, fastPath: boolean) => {
      await ensureVipLb(want === 'vip', fastPath);
      if (want === 'other' && !otherLb) {
        // Its backend a port with no NIC (declared on hv2): a and b stay no backend.
        await call('POST', `${G}/namespaces/bench/virtualports`, { metadata: { name: 'c' }, spec: { network: 'net', node: 'hv2' } });
        await call('POST', `${G}/namespaces/bench/loadbalancers`, {
          metadata: { name: 'other' },
          spec: { network: 'net', listeners: [{ protocol: 'UDP', port: 53, targetPort: 9 }], backends: [{ port: 'c' }] },
        });
        otherLb = true;
        await new Promise((r) => setTimeout(r, VIP_SETTLE_MS + 1000));
        await settle();
      } else if (want !== 'other' && otherLb) {
        await call('DELETE', `${G}/namespaces/bench/loadbalancers/other`);
        await eventually(async () => (await vnetd.call('GET', `${G}/namespaces/bench/loadbalancers/other`)).status === 404, 20_000, 100);
        await call('DELETE', `${G}/namespaces/bench/virtualports/c`);
        await eventually(async () => (await vnetd.call('GET', `${G}/namespaces/bench/virtualports/c`)).status === 404, 20_000, 100);
        otherLb = false;
        await eventually(pingOk, 20_000, 200);
        await settle();
      }
    };
    const ensureVipLb = async (on: boolean, fastPath: boolean) => {
      if (on && !lbVip) {
        const lb = (await call('POST', `${G}/namespaces/bench/loadbalancers`, {
          metadata: { name: 'vip' },
          spec: { network: 'net', listeners: [{ protocol: 'UDP', port: 53, targetPort: 9 }], backends: [{ port: 'b' }] },
        })) as { spec: { vip: string } };
        await waitReady('bench', 'loadbalancers', 'vip');
        lbVip = lb.spec.vip;
        // The fast path takes a new load balancer's flows once its network has settled.
        if (fastPath) await new Promise((r) => setTimeout(r, VIP_SETTLE_MS + 1000));
        await settle();
      } else if (!on && lbVip) {
        await call('DELETE', `${G}/namespaces/bench/loadbalancers/vip`);
        await eventually(async () => (await vnetd.call('GET', `${G}/namespaces/bench/loadbalancers/vip`)).status === 404, 20_000, 100);
        lbVip = undefined;
        await eventually(pingOk, 20_000, 200);
        await settle();
      }
    };
    const generate = async (proto: Proto): Promise<number> => {
      if (proto === 'udp' || proto === 'udp-lbnet') return Number((await a.exec([UDPGEN, bIp, '9', String(SECONDS)])).trim());
      if (proto === 'udp-vip') return Number((await a.exec([UDPGEN, lbVip!, '53', String(SECONDS)])).trim());
      const l = await tcpListener();
      try {
        return Number((await a.exec([TCPGEN, 'send', a.iface, bIp, TCP_PORT, String(SECONDS)])).trim());
      } finally {
        l.kill('SIGKILL');
      }
    };

    /** BENCH_VERBOSE: where frames were lost, for any datapath (veth XDP ring drops on VM a's
     * tap and hv2's uplink, VM b's receive drops, the kernel's per-CPU backlog drops). */
    const lossCounters = async (): Promise<Map<string, number>> => {
      const m = new Map<string, number>();
      if (!process.env.BENCH_VERBOSE) return m;
      const ethtool = async (label: string, hv: string, dev: string) => {
        const out = await bed!.hv(hv).exec(['ethtool', '-S', dev]).catch(() => '');
        for (const [, k, v] of out.matchAll(/^\s*(rx_queue_0_drops|rx_queue_0_xdp_redirect|rx_queue_0_xdp_packets):\s*(\d+)/gm)) m.set(`${label}.${k}`, Number(v));
      };
      await ethtool('hv1-tap', 'hv1', a.tap);
      await ethtool('hv2-uplink', 'hv2', bed!.hv('hv2').uplink);
      const bStats = (JSON.parse(await b.exec(['ip', '-s', '-j', 'link', 'show', b.iface])) as { stats64: { rx: { dropped: number } } }[])[0]!;
      m.set('vm-b.rx_dropped', bStats.stats64.rx.dropped);
      const softnet = readFileSync('/proc/net/softnet_stat', 'utf8').trim().split('\n');
      m.set('softnet.dropped', softnet.reduce((sum, l) => sum + parseInt(l.split(' ')[1]!, 16), 0));
      return m;
    };
    const lossDelta = (a0: Map<string, number>, a1: Map<string, number>) => [...a1].map(([k, v]) => `${k} ${v - (a0.get(k) ?? 0)}`).join(', ');

    /**
     * VM b's received packets, read from a process inside its netns (/proc/PID/net/dev shows
     * that process's netns): a file read, cheap enough to sample every 50 ms while traffic
     * flows (`ip -s link` in the netns is a process per reading).
     */
    const probe = spawn('ip', ['netns', 'exec', b.netns, 'sleep', '86400'], { stdio: 'ignore' });
    children.add(probe);
    const rxBNow = (): number | undefined => {
      const line = readFileSync(`/proc/${probe.pid}/net/dev`, 'utf8').split('\n').find((l) => l.trim().startsWith(`${b.iface}:`));
      return line === undefined ? undefined : Number(line.split(':')[1]!.trim().split(/\s+/)[1]);
    };
    // Once it runs sleep, `ip netns exec` has entered the netns (b.iface may exist in ours too).
    await eventually(async () => readFileSync(`/proc/${probe.pid}/comm`, 'utf8').trim() === 'sleep' && rxBNow() !== undefined, 5_000, 20);
    const SAMPLE_MS = 50;

    /**
     * CPU per packet and packets per second over the steady part of a run: from the first
     * sample after traffic reached VM b to the last one before it stopped, every 50 ms
     * interval in between carrying traffic. The whole window (generator start-up, the
     * 300 ms drain after it) also holds idle time, which a busy-polling datapath (OVS's pmd
     * threads) pays in CPU and a sleeping one (the runners) does not: counting it would
     * flatter the fast path by the length of the idle edges, not by its work per packet.
     */
    interface Sample { t: number; rx: number; dp: number; ovs: number; napi: number }
    const steady = (samples: Sample[]) => {
      const moving = samples.map((x, i) => i > 0 && x.rx > samples[i - 1]!.rx);
      const first = moving.indexOf(true), last = moving.lastIndexOf(true) - 1;
      if (first < 0 || last <= first) return undefined;
      const a0 = samples[first]!, a1 = samples[last]!, pkts = a1.rx - a0.rx;
      return { pps: (pkts * 1000) / (a1.t - a0.t), cpuNsPerPkt: (a1.dp - a0.dp) / pkts, ovsNsPerPkt: (a1.ovs - a0.ovs) / pkts, napiNsPerPkt: (a1.napi - a0.napi) / pkts, secs: (a1.t - a0.t) / 1000 };
    };

    const measure = async (mode: Mode, proto: Proto, round: number) => {
      const losses0 = await lossCounters();
      const threads = runnerThreads();
      const fp = mode === 'vnetd-fastpath';
      const zero = { user: 0, sys: 0 };
      const cpu = () => (fp ? threads.reduce((s, t) => addTicks(s, cpuTicks(`/proc/self/task/${t}/stat`)), zero) : vswitchdStat.reduce((s, p) => addTicks(s, cpuTicks(p)), zero));
      // Run time of the datapath's threads, and of ovs-vswitchd while the fast path runs
      // (it stays the slow path beside it, so its CPU then is reported too).
      const ovsClock = new ThreadClock(tasksOf(vswitchdPids));
      const clock = fp ? new ThreadClock(() => threads.map((t) => `/proc/self/task/${t}`)) : ovsClock;
      // This process's other threads (vnetd's control plane, the bench itself): not the
      // datapath, shown so a busy control plane during a run can be seen.
      const othersClock = new ThreadClock(() => readdirSync('/proc/self/task').filter((t) => !threads.includes(t)).map((t) => `/proc/self/task/${t}`));
      const others0 = othersClock.read();
      const napi = napiThreads(prefix);
      if (RX_THREADS && napi.length === 0) throw new Error('BENCH_RX=napi: no NAPI thread found for this bed');
      const rxClock = new ThreadClock(() => napi.map((p) => `/proc/${p}`));
      const samples: Sample[] = [];
      const sample = () => {
        const dp = clock.read();
        samples.push({ t: performance.now(), rx: rxBNow() ?? NaN, dp, ovs: fp ? ovsClock.read() : dp, napi: rxClock.read() });
      };
      const rx0 = await rxB(), c0 = cpu(), t0 = performance.now();
      sample();
      const timer = setInterval(sample, SAMPLE_MS);
      const tids = new Set<string>(fp ? threads : vswitchdPids.flatMap((p) => readdirSync(`/proc/${p}/task`)));
      const profiled = startProfile(`${mode}-${proto}`, round, fp ? ['-t', threads.join(',')] : ['-p', vswitchdPids.join(',')], tids);
      const sent = await generate(proto).finally(() => clearInterval(timer));
      await new Promise((r) => setTimeout(r, 300)); // frames still in flight
      sample();
      const rx1 = await rxB(), c1 = cpu(), secs = (performance.now() - t0 - 300) / 1000;
      const othersMs = (othersClock.read() - others0) / 1e6;
      const cpuSplit = await profiled();
      const losses = lossDelta(losses0, await lossCounters());
      const delivered = rx1 - rx0;
      const nsPer = (ticks: number) => (delivered ? ((ticks / TICK) * 1e9) / delivered : NaN);
      const whole = samples[samples.length - 1]!, start = samples[0]!;
      const st = steady(samples);
      return {
        mode,
        proto,
        sent,
        delivered,
        /** Over the steady part (see steady()); the whole window's figures follow. */
        pps: st?.pps ?? NaN,
        cpuNsPerPkt: st?.cpuNsPerPkt ?? NaN,
        ovsBesideNsPerPkt: fp ? st?.ovsNsPerPkt : undefined,
        napiThreads: napi.length,
        receiveNsPerPkt: st?.napiNsPerPkt ?? NaN,
        steadySecs: st?.secs ?? 0,
        windowPps: delivered / secs,
        windowCpuNsPerPkt: delivered ? (whole.dp - start.dp) / delivered : NaN,
        windowOvsBesideNsPerPkt: fp && delivered ? (whole.ovs - start.ovs) / delivered : undefined,
        userNsPerPkt: nsPer(c1.user - c0.user),
        sysNsPerPkt: nsPer(c1.sys - c0.sys),
        threads: fp ? threads.length : 2,
        othersMs,
        round,
        cpuSplit,
        losses,
      };
    };

    /** The cores OVS pinned its pmd threads to (named pmd-cNN), e.g. "1". */
    const ovsPmdCores = (): string | undefined => {
      const cores = new Set<string>();
      for (const p of vswitchdPids) {
        for (const t of readdirSync(`/proc/${p}/task`)) {
          const m = /^pmd-c(\d+)/.exec(readFileSync(`/proc/${p}/task/${t}/comm`, 'utf8'));
          if (m) cores.add(String(Number(m[1])));
        }
      }
      return cores.size ? [...cores].join(',') : undefined;
    };
    let pmdCores: string | undefined;

    const results: Array<Awaited<ReturnType<typeof measure>>> = [];
    for (let round = 0; round < ROUNDS; round++) {
      if (MODES.has('afpacket')) {
        await setPortType('system');
        await settle();
        for (const proto of PROTOS) {
          await ensureLb(lbOf(proto), false);
          results.push(await measure('ovs-afpacket', proto, round));
        }
      }
      if (MODES.has('afxdp')) {
        await setPortType('afxdp');
        await settle();
        for (const proto of PROTOS) {
          await ensureLb(lbOf(proto), false);
          results.push(await measure('ovs-afxdp', proto, round));
        }
        pmdCores = pmdCores ?? ovsPmdCores();
      }
      if (!MODES.has('fastpath')) continue;
      await setPortType('system');
      await setFastPath(true);
      await settle();
      if (RUNNER_CPUS) for (const t of runnerThreads()) execFileSync('taskset', ['-pc', RUNNER_CPUS === 'pmd' ? pmdCores ?? String(cpus().length - 1) : RUNNER_CPUS, t], { stdio: 'ignore' });
      for (const proto of PROTOS) {
        await ensureLb(lbOf(proto), true);
        results.push(await measure('vnetd-fastpath', proto, round));
      }
      if (process.env.BENCH_VERBOSE) {
        const text = (await vnetd.call('GET', '/metrics')).text;
        console.log(text.split('\n').filter((l) => l.startsWith('vnetd_fastpath_interface') || l.startsWith('vnetd_fastpath_xsk')).join('\n'));
        // Where frames the fast path never saw were lost: the VM-facing veth's XDP counters.
        console.log(await bed.hv('hv1').exec(['ethtool', '-S', a.tap]).catch((e: Error) => e.message));
      }
      await ensureLb(undefined, true);
      await setFastPath(false);
    }
    for (const r of results) {
      const beside = r.ovsBesideNsPerPkt === undefined ? '' : `; ovs-vswitchd beside it ${r.ovsBesideNsPerPkt.toFixed(0)} ns/pkt`;
      const wBeside = r.windowOvsBesideNsPerPkt === undefined ? '' : ` + ${r.windowOvsBesideNsPerPkt.toFixed(0)}`;
      const napi = RX_THREADS ? `; receive in ${r.napiThreads} NAPI threads ${r.receiveNsPerPkt.toFixed(0)} ns/pkt` : '';
      console.log(`${r.mode.padEnd(15)} ${r.proto} sent ${r.sent} delivered ${r.delivered}; steady ${r.steadySecs.toFixed(1)} s: ${(r.pps / 1e3).toFixed(0)} kpps, datapath CPU ${r.cpuNsPerPkt.toFixed(0)} ns/pkt over ${r.threads} thread(s)/process(es)${beside}${napi}`);
      console.log(`${''.padEnd(19)}whole window: ${(r.windowPps / 1e3).toFixed(0)} kpps, ${r.windowCpuNsPerPkt.toFixed(0)}${wBeside} ns/pkt (ticks: user ${r.userNsPerPkt.toFixed(0)}, sys ${r.sysNsPerPkt.toFixed(0)}); this process's other threads ${r.othersMs.toFixed(0)} ms`);
      if (r.losses) console.log(`${''.padEnd(19)}counters: ${r.losses}`);
      const c = r.cpuSplit;
      if (c) {
        const ns = (x: number) => (x / r.delivered).toFixed(0);
        console.log(`${''.padEnd(19)}perf ns/pkt: downstream receive softirq ${ns(c.downstream)}, AF_XDP copy-mode xmit ${ns(c.xmit)}, other kernel ${ns(c.kernel)}, user ${ns(c.user)}`);
      }
    }
    // The machine is shared: compare datapaths within a round (they ran back to back), then
    // summarize the rounds.
    const rxMode = RX_THREADS ? 'each veth receiving in its own NAPI thread (BENCH_RX=napi)' : "each veth's receive in the transmitting thread";
    console.log(`\n${ROUNDS} rounds, ${SECONDS} s each, 64-byte frames VM a (hv1) -> VM b (hv2) over VXLAN, ${rxMode}; load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}:`);
    console.log('| round | proto | OVS AF_PACKET kpps / ns per pkt | OVS afxdp kpps / ns per pkt | vnetd fast path (+ OVS beside it) kpps / ns per pkt | fast path vs afxdp: pps / CPU per pkt |');
    console.log('|---|---|---|---|---|---|');
    // The fast path's CPU counts ovs-vswitchd's beside it (its slow path).
    const total = (r: (typeof results)[number]) => r.cpuNsPerPkt + (r.ovsBesideNsPerPkt ?? 0);
    // With BENCH_RX=napi, the receive work the NAPI threads did per packet follows in brackets.
    const rx = (r: (typeof results)[number]) => (RX_THREADS ? ` [${r.receiveNsPerPkt.toFixed(0)}]` : '');
    const cell = (r: (typeof results)[number] | undefined) => (r ? `${(r.pps / 1e3).toFixed(0)} / ${total(r).toFixed(0)}${rx(r)}` : '-');
    for (let round = 0; round < ROUNDS; round++) {
      for (const proto of PROTOS) {
        const of = (m: Mode) => results.find((r) => r.round === round && r.proto === proto && r.mode === m);
        const ap = of('ovs-afpacket'), ax = of('ovs-afxdp'), fp = of('vnetd-fastpath');
        const ratio = ax && fp ? `${(fp.pps / ax.pps).toFixed(2)}x / ${(total(fp) / total(ax)).toFixed(2)}x` : '-';
        const name = proto === 'udp-vip' ? 'UDP to a VIP' : proto === 'udp-lbnet' ? 'UDP, network with a load balancer' : proto.toUpperCase();
        console.log(`| ${round + 1} | ${name} | ${cell(ap)} | ${cell(ax)} | ${cell(fp)} | ${ratio} |`);
      }
    }
  } finally {
    for (const c of children) c.kill('SIGKILL');
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
