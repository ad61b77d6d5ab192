/**
 * npm run bench:converge - vnetd beside OVN (ovn-central/ovn-host 23.03) on identical
 * test beds (test/harness/testbed.ts: 2 namespaced hypervisors, each with its own
 * userspace OVS), same run, same logical topology: one network with N ports split over
 * the two hypervisors.
 *
 *   npm run bench:converge -- --sizes=100,1000,3000 [--sides=vnetd,ovn,floor,agents] [--no-restart]
 *   (or BENCH_N=100,1000; default 100,1000: OVN alone takes ~150 s at N=3000)
 *
 * Per N, on a fresh bed for each side:
 *  - the N ports' NICs are OVS internal ports on br-int with external_ids:iface-id
 *    (no VM netns: binding only needs the Interface with an ofport), created BEFORE the
 *    clock starts, so both sides only bind and compute;
 *  - realize: vnetd: from the first API request (network + N VirtualPorts, 16 requests
 *    in flight, --clients=K for K) until every VirtualPort is Ready (followed on a watch); OVN: one `ovn-nbctl` invocation
 *    (ls-add + lsp-add/lsp-set-addresses/lsp-set-port-security per port, `--`
 *    separated) followed by `ovn-nbctl --wait=hv sync` returning;
 *  - flows: `ovs-ofctl dump-flows br-int` lines with actions, per hypervisor;
 *  - new port to first ping: a real VM netns "a" on hv1 (existing, already pinging); the
 *    clock starts at the API POST / lsp-add of port "b"; b's VM netns and NIC are made
 *    off the bridge (same cost on both sides) with `ping -D -i 0.001` from b to a already
 *    running, then the NIC is plugged into br-int on hv2 (ovs-vsctl add-port with the
 *    iface-id, what libvirt does when the VM starts). Reported: POST to first reply,
 *    [plug to first reply], and the controller's part: from the moment the Interface got
 *    its ofport (stamped by an `ovsdb-client monitor` of the hypervisor's Interface table,
 *    the update both controllers receive) to the first reply. add-port itself waits for
 *    ovs-vswitchd to reconfigure (150-600 ms at 1500 ports per bridge, OVS's cost on both
 *    sides). The reply time is ping's own stamp (-D), not when this process read the
 *    line; pings go out every 1 ms (-i 0.001, root) whatever happened to the previous
 *    one. In both VMs ARP retries every 1 ms (neigh retrans_time_ms=1,
 *    mcast_solicit=30000) instead of Linux's 1 s: with the default, an ARP request sent a
 *    moment before the flows are in is retried only a second later, and that second (not
 *    the controller) is what the figure used to show. Same on both sides. vnetd's steps
 *    (Bound and Ready, stamped as a watch on port b delivers them) are printed beside it; with
 *    BENCH_VNETD_LOG=debug BENCH_LOG_DIR=DIR, `npx tsx test/bench/newport-trace.ts
 *    DIR/vnetd-N<n>-1.log <plug epoch>` shows where vnetd spent the time;
 *  - new port, NIC first (port c): the other order of a VM's start. c's NIC is on br-int with
 *    its iface-id (ovs-vswitchd done reconfiguring) and a ping from it to a runs before the
 *    port is declared (vnetd: POST with c's MAC and IP; OVN: one ovn-nbctl lsp-add with
 *    addresses and port security). Declaration to first reply is the controller's whole
 *    part, with no OVS port reconfiguration in it. The floor's port c has every flow it
 *    needs but one that drops its traffic, removed by a flow_mod + barrier over a
 *    connection already open: what OVS itself takes from a flow change to traffic, over
 *    the same path (c on hv2, its peer on hv1, a geneve tunnel between);
 *  - packets lost across a controller restart: `ping -i 0.01` from b to a; after 1 s
 *    vnetd: kill -9 of the vnetd process and a new one on the same data dir, until the
 *    new one has synced both nodes' tables (its /metrics: vnetd_openflow_in_sync 1 on
 *    each; it adopts the cookie round it finds and sends only what differs, so the
 *    switch shows nothing); OVN: kill -9 of ovn-controller on BOTH
 *    hypervisors (the daemons that program the flows; northd and the databases keep
 *    running) and a new one on each, until `--wait=hv sync` returns and the flow count
 *    is back. Then 1 s more; lost = icmp_seq numbers missing below the last answered;
 *  - the OVS floor (`--sides=...,floor`): what no controller can beat on this machine. A
 *    bed without any controller, the same N internal ports (N/2 per hypervisor), VM a and
 *    the unplugged VM b both on hv2, b's NIC plugged with an ofport_request and every flow
 *    the ping needs installed before (ARP answered on the bridge, unicast by MAC: nothing
 *    flooded to the N/2 ports): the same ping across the same add-port. Plug to first reply
 *    there is OVS alone (add-port's reconfiguration with N/2 ports on the bridge, then the
 *    first packets' upcalls); the controllers' figures above it are what they add.
 *    BENCH_CAPTURE=1 adds tcpdump's stamps on b's NIC (ARP answer in, first echo request
 *    out) on every side;
 *  - the agents side (`--sides=...,agents`): vnetd as operators scale it out, a `vnetd
 *    controller` (SQLite) and a `vnetd agent` per hypervisor, each its own process: the
 *    same steps, its CPU and RSS summed over the three; its restart is OVN's (kill -9 of
 *    both agents, new ones), converged when each new agent has logged its full sync;
 *  - memory: vnetd runs as its own process (`node --import tsx src/main.ts`): its VmRSS;
 *    OVN: VmRSS of ovn-northd + NB + SB ovsdb-servers, and of ovn-controller per
 *    hypervisor (the hypervisors' own ovsdb-server/ovs-vswitchd excluded on both).
 * vnetd's store is SQLite with synchronous=FULL in a tmpdir: every write waits for fsync,
 * so its figures depend on the disk; BENCH_DATA_DIR=/dev/shm shows them without that.
 * BENCH_FASTPATH=1 runs vnetd's sides with the AF_XDP fast path on every hypervisor (each port's
 * NIC an AF_XDP port; set VFP_XSK_VM_UMEM small, e.g. 64/64: the default UMEM pins 9 MiB per
 * NIC) and also reports when each node's runner had every NIC open.
 * BENCH_VNETD_PROF=DIR writes a CPU profile of each vnetd run there (--cpu-prof). vnetd runs
 * from the compiled build as `npm start` does (built once per run; BENCH_VNETD_TSX=1: from
 * the sources under tsx).
 * Everything started (beds, vnetd, OVN daemons by pidfile PID, netns with the per-run
 * prefix) is stopped on success, failure, and SIGINT/SIGTERM.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, copyFileSync, mkdtempSync, openSync, readFileSync, rmSync, existsSync, unlinkSync, writeFileSync } from 'node:fs';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { findBinary, runCommand } from '../../src/chassis/ovs-daemons';
import { ApiClient, type Query } from '../../src/cli/http/client';
import { ApiClient as Http2ApiClient } from '../../src/agent/api-client';
import { createConnection, flowMod } from '../../src/openflow';
import { ovsAvailability } from '../harness/ovs';
import { startTestbed, type Testbed, type Vm, type Hypervisor } from '../harness/testbed';
import { eventually, httpsCall, nodesInSync, readKubeconfig, type ApiResponse } from '../support/vnetd';
import { ioDelta, mainThreadCpuMs, processCpuMs, processIo, threadCpuDelta, threadCpuMs } from './process-cpu';
import { startStandInApi } from './stand-in-api';

const G = '/apis/vnet.dev/v1alpha1';
const ROOT = resolve(__dirname, '..', '..');
const arg = (name: string): string | undefined => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
/** API requests in flight while vnetd's side creates the ports (--clients, default 16). */
const CLIENTS = Number(arg('clients') ?? 16);
if (!Number.isInteger(CLIENTS) || CLIENTS < 1) throw new Error(`--clients must be a whole number of at least 1, got "${arg('clients')}"`);
const SIZES = (arg('sizes') ?? process.env.BENCH_N ?? '100,1000').split(',').map((s) => Number(s.trim())).filter((n) => n > 0);
const SIDES = new Set((arg('sides') ?? 'vnetd,ovn').split(','));
const RESTART = !process.argv.includes('--no-restart');
/**
 * --warmup=K: before the measured burst, vnetd's side realizes K ports (on the same NICs, in
 * another network, in rounds of N) and deletes them again, so the burst meets a process that has run before,
 * as a controller in service has, rather than one started seconds earlier (whose JIT compiles
 * its hot code during the burst). Default 0: a fresh process.
 */
const WARMUP = Number(arg('warmup') ?? 0);
/** BENCH_FASTPATH=1: the fast path on every hypervisor (see the header). */
const FASTPATH = process.env.BENCH_FASTPATH === '1';
if (!Number.isInteger(WARMUP) || WARMUP < 0) throw new Error(`--warmup must be a whole number, got "${arg('warmup')}"`);
/**
 * --client-warmup=K (default 3000): before vnetd's burst, this process's own client code
 * (the requests, their JSON answers, the watch's line parsing) runs K requests and a watch
 * of K events against a stand-in API on loopback (stand-in-api.ts), so V8 compiling the
 * bench's side does not take a core from a freshly started vnetd. vnetd sees none of it.
 */
const CLIENT_WARMUP = Number(arg('client-warmup') ?? 3000);
if (!Number.isInteger(CLIENT_WARMUP) || CLIENT_WARMUP < 0) throw new Error(`--client-warmup must be a whole number, got "${arg('client-warmup')}"`);
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
  /** The new port's steps: see newPortLine(). */
  newPort?: PlugTimes & { posted: number };
  /** Port c: its NIC on br-int first, then the port declared (pingAcrossDeclare). */
  declared?: DeclareTimes;
  rssMB: string;
  restart?: RestartLoss;
}

interface RestartLoss {
  lost: number;
  answered: number;
  /** From kill -9 until the new controller had converged. */
  convergeMs: number;
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

async function quiet(vm: Vm): Promise<void> {
  await vm.exec(['sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1']).catch(() => undefined);
}

/** ARP retried every millisecond (not every second) for 30 s while the first ping waits for its answer. */
async function fastArp(vm: Pick<Vm, 'exec' | 'iface'>): Promise<void> {
  await vm.exec(['sysctl', '-qw', `net.ipv4.neigh.${vm.iface}.retrans_time_ms=1`, `net.ipv4.neigh.${vm.iface}.mcast_solicit=30000`]);
}

/**
 * `ping -i 0.01` from vm to ip around a controller restart: restart() runs 1 s after the
 * first packet and resolves once the controller has converged; 1 s later the ping stops.
 * Lost: icmp_seq numbers missing below the highest answered (the tail still in flight
 * when ping stops is not loss).
 */
async function lossAcross(vm: Vm, ip: string, restart: () => Promise<void>): Promise<RestartLoss> {
  let out = '';
  const child = spawn(findBinary('ip')!, ['netns', 'exec', vm.netns, 'ping', '-n', '-i', '0.01', '-W', '2', ip], { stdio: ['ignore', 'pipe', 'ignore'] });
  children.add(child);
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise((r) => child.once('exit', r));
  try {
    await new Promise((r) => setTimeout(r, 1000));
    const t0 = now();
    await restart();
    const convergeMs = now() - t0;
    await new Promise((r) => setTimeout(r, 1000));
    const seqs = new Set([...out.matchAll(/icmp_seq=(\d+)/g)].map((m) => Number(m[1])));
    const last = Math.max(0, ...seqs);
    return { lost: last - seqs.size, answered: seqs.size, convergeMs };
  } finally {
    if (child.pid && child.exitCode === null) child.kill('SIGINT');
    await exited;
    children.delete(child);
  }
}

/**
 * A VM whose NIC exists (veth, address, fast ARP) but is not on br-int yet, so a ping can
 * already run in it when the clock starts; plug() adds the tap to br-int with its
 * iface-id, what a hypervisor does when the VM starts.
 */
interface UnpluggedVm extends Vm {
  plug(): Promise<void>;
  remove(): Promise<void>;
}

async function unpluggedVm(bed: Testbed, hv: Hypervisor, o: { name: string; ifaceId: string; mac: string; ip: string; ofportRequest?: number }): Promise<UnpluggedVm> {
  const ipBin = findBinary('ip')!;
  const netns = `${bed.prefix}-u-${o.name}`;
  const iface = `${bed.prefix}u${o.name}`;
  const tap = `${bed.prefix}w${o.name}`;
  await runCommand(ipBin, ['netns', 'add', netns]);
  const exec = (args: string[]) => runCommand(ipBin, ['netns', 'exec', netns, ...args]);
  await runCommand(ipBin, ['link', 'add', tap, 'netns', hv.netns, 'type', 'veth', 'peer', 'name', iface, 'netns', netns]);
  await exec(['ip', 'link', 'set', 'lo', 'up']);
  await exec(['ip', 'link', 'set', iface, 'address', o.mac, 'mtu', '1450', 'up']);
  await exec(['ip', 'addr', 'add', o.ip, 'dev', iface]);
  await exec(['sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1']).catch(() => undefined);
  if (findBinary('ethtool')) await exec(['ethtool', '-K', iface, 'tx', 'off']).catch(() => undefined);
  await hv.exec(['ip', 'link', 'set', tap, 'up']);
  const vm: UnpluggedVm = {
    name: o.name, hypervisor: hv, netns, iface, tap, ifaceId: o.ifaceId, mac: o.mac, ip: o.ip, exec,
    ofport: async () => Number((await hv.ovs.vsctl(['get', 'Interface', tap, 'ofport'])).trim()),
    plug: async () => {
      const request = o.ofportRequest ? [`ofport_request=${o.ofportRequest}`] : [];
      await hv.ovs.vsctl(['add-port', 'br-int', tap, '--', 'set', 'Interface', tap, ...request, `external_ids:iface-id=${o.ifaceId}`, `external_ids:attached-mac="${o.mac}"`, 'external_ids:iface-status=active']);
    },
    remove: async () => {
      await hv.ovs.vsctl(['--if-exists', 'del-port', 'br-int', tap]).catch(() => undefined);
      await runCommand(ipBin, ['netns', 'del', netns]).catch(() => undefined);
    },
  };
  await fastArp(vm);
  return vm;
}

/** Epoch ms of the plug's steps and of the first reply. */
interface PlugTimes {
  plugStart: number;
  /** add-port's transaction committed: the Interface row appeared in the hypervisor's OVSDB. */
  inserted: number;
  /** ovs-vswitchd gave the Interface its ofport: from here on the controller can act. */
  ofport: number;
  /** ovs-vsctl add-port returned (it waits for ovs-vswitchd to reconfigure). */
  plugEnd: number;
  firstReply: number;
  /** BENCH_CAPTURE=1: what the VM's NIC saw first (tcpdump's stamps): the ARP answer, its first echo request out. */
  seen?: { arpReply?: number; echoRequest?: number };
}

/** tcpdump on the VM's NIC (BENCH_CAPTURE=1): when the first ARP reply came in and the first echo request went out. */
function captureFirsts(vm: Vm): { ready: Promise<void>; stop(): Promise<{ arpReply?: number; echoRequest?: number }> } {
  const child = spawn(findBinary('ip')!, ['netns', 'exec', vm.netns, 'tcpdump', '-tt', '-n', '-l', '--immediate-mode', '-i', vm.iface, 'arp or icmp'], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let text = '';
  child.stdout!.on('data', (c: Buffer) => (text += c.toString()));
  const ready = new Promise<void>((r) => {
    child.stderr!.on('data', (c: Buffer) => c.toString().includes('listening') && r());
    setTimeout(r, 2000);
  });
  const first = (re: RegExp) => {
    const m = new RegExp(`^(\\d+\\.\\d+) .*${re.source}`, 'm').exec(text);
    return m ? Number(m[1]) * 1000 : undefined;
  };
  return {
    ready,
    stop: async () => {
      await new Promise((r) => setTimeout(r, 100));
      if (child.exitCode === null) child.kill('SIGINT');
      await new Promise((r) => (child.exitCode === null ? child.once('exit', r) : r(undefined)));
      children.delete(child);
      return { arpReply: first(/ARP, Reply/), echoRequest: first(/ICMP echo request/) };
    },
  };
}

/**
 * Watches the hypervisor's Interface table with `ovsdb-client --timestamp monitor` (the
 * updates both controllers receive) and returns when the row named name appeared and
 * when it had an ofport, as epoch ms: ovsdb-client's own stamp of each update (this
 * process may read its output tens of ms later on a loaded machine).
 */
function watchInterface(hv: Hypervisor, name: string): { inserted: Promise<number>; ofport: Promise<number>; ready: Promise<void>; stop(): void } {
  const child = spawn(findBinary('ovsdb-client')!, ['--timestamp', 'monitor', `unix:${hv.ovs.dbSocket}`, 'Open_vSwitch', 'Interface', 'name,ofport', '--format=csv'], {
    stdio: ['ignore', 'pipe', 'ignore'],
    env: { ...process.env, TZ: 'UTC' },
  });
  children.add(child);
  let buf = '';
  let onReady!: () => void;
  let onInserted!: (t: number) => void;
  let onOfport!: (t: number) => void;
  const ready = new Promise<void>((r) => (onReady = r));
  const inserted = new Promise<number>((r) => (onInserted = r));
  const ofport = new Promise<number>((r) => (onOfport = r));
  let t = Date.now();
  child.stdout!.on('data', (c: Buffer) => {
    buf += c.toString();
    const lines = buf.split('\n');
    buf = lines.pop()!;
    for (const l of lines) {
      // "2026-11-28 09:44:18.995": the update's arrival, UTC (TZ above).
      const stamp = /^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d\.\d{3})$/.exec(l.trim());
      if (stamp) t = Date.parse(`${stamp[1]}T${stamp[2]}Z`);
      // The first update (the initial rows) says the monitor is in place.
      if (l.startsWith('row,')) onReady();
      const m = new RegExp(`^[^,]*,(insert|new|initial),${name},(.*)$`).exec(l);
      if (!m) continue;
      if (m[1] === 'insert') onInserted(t);
      if (Number(m[2]) > 0) onOfport(t);
    }
  });
  return {
    inserted,
    ofport,
    ready,
    stop: () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      children.delete(child);
    },
  };
}

/**
 * Starts `ping -D -i 0.001` from vm to ip (before the NIC is plugged), runs plug(), and
 * returns the epoch ms of the plug's steps and of the first reply (ping -D stamps each
 * reply line with the time it was received). One packet per millisecond: the interval
 * does not hide a controller that is faster than it.
 */
async function pingAcrossPlug(vm: UnpluggedVm, ip: string, timeoutMs = 30_000): Promise<PlugTimes> {
  const watch = watchInterface(vm.hypervisor, vm.tap);
  await watch.ready;
  const capture = process.env.BENCH_CAPTURE ? captureFirsts(vm) : undefined;
  await capture?.ready;
  const ping = pingUntilReply(vm, ip, timeoutMs);
  try {
    // Let ping start sending (and ARP fail) first: the plug must find it running.
    await new Promise((r) => setTimeout(r, 300));
    const plugStart = Date.now();
    await vm.plug();
    const plugEnd = Date.now();
    const firstReply = await ping.reply;
    const seen = await capture?.stop();
    return { plugStart, inserted: await watch.inserted, ofport: await watch.ofport, plugEnd, firstReply, seen };
  } finally {
    watch.stop();
    ping.stop();
  }
}

/**
 * `ping -D -i 0.001` from vm to ip: `reply` is the epoch ms of the first reply (ping's own
 * stamp of its arrival), rejected when ping gives up after timeoutMs.
 */
function pingUntilReply(vm: Vm, ip: string, timeoutMs: number): { reply: Promise<number>; stop(): void } {
  let out = '';
  const child = spawn(findBinary('ip')!, ['netns', 'exec', vm.netns, 'ping', '-n', '-D', '-i', '0.001', '-W', '1', '-w', String(Math.ceil(timeoutMs / 1000)), ip], { stdio: ['ignore', 'pipe', 'ignore'] });
  children.add(child);
  const reply = new Promise<number>((resolve, reject) => {
    child.stdout!.on('data', (c: Buffer) => {
      // A reply line may arrive in two chunks; unanswered pings print nothing (or "From ...").
      out = out.slice(-300) + c.toString();
      const m = /\[(\d+\.\d+)\] \d+ bytes from/.exec(out);
      if (m) resolve(Number(m[1]) * 1000);
    });
    child.on('exit', () => reject(new Error(`no reply from ${ip}`)));
  });
  reply.catch(() => undefined);
  return {
    reply,
    stop: () => {
      if (child.pid && child.exitCode === null) child.kill('SIGINT');
      children.delete(child);
    },
  };
}

/** The NIC-first case, epoch ms: the declaration sent, answered (API response / ovn-nbctl exit), the first reply. */
interface DeclareTimes {
  declared: number;
  answered: number;
  firstReply: number;
  /** BENCH_CAPTURE=1: what the VM's NIC saw first, as for port b. */
  seen?: { arpReply?: number; echoRequest?: number };
}

/**
 * The other order of a VM's start: its NIC is on br-int already (plugged with its iface-id,
 * ovs-vswitchd done reconfiguring), a ping from it to ip runs (ARP unanswered), and only
 * then is the port declared (declare(): the API POST / ovn-nbctl lsp-add). Declaration to
 * first reply is then the controller's part alone: no OVS port reconfiguration in it.
 */
async function pingAcrossDeclare(vm: UnpluggedVm, ip: string, declare: () => Promise<unknown>, timeoutMs = 30_000): Promise<DeclareTimes> {
  await vm.plug();
  // add-port returned after ovs-vswitchd reconfigured; let its port-add work settle.
  await new Promise((r) => setTimeout(r, 500));
  const capture = process.env.BENCH_CAPTURE ? captureFirsts(vm) : undefined;
  await capture?.ready;
  const ping = pingUntilReply(vm, ip, timeoutMs);
  try {
    await new Promise((r) => setTimeout(r, 300));
    const declared = Date.now();
    await declare();
    const answered = Date.now();
    const firstReply = await ping.reply;
    return { declared, answered, firstReply, seen: await capture?.stop() };
  } finally {
    ping.stop();
  }
}

function declareLine(side: string, n: number, d: DeclareTimes, what: string): string {
  const rel = (x: number | undefined) => (x === undefined ? '-' : `${(x - d.declared).toFixed(0)} ms`);
  const seen = d.seen ? ` (NIC got its ARP answer ${rel(d.seen.arpReply)}, sent its first echo request ${rel(d.seen.echoRequest)})` : '';
  return `  ${side} N=${n}: port c, NIC on br-int first, then ${what}: answered ${(d.answered - d.declared).toFixed(0)} ms, first reply ${(d.firstReply - d.declared).toFixed(0)} ms after it was sent${seen} (sent at epoch ${d.declared})`;
}

/** The new port's steps, from the plug (and the controller's part: from the ofport to the first reply). */
function newPortLine(p: PlugTimes, posted: number): string {
  const rel = (x: number) => `${(x - p.plugStart).toFixed(0)} ms`;
  const seen = p.seen ? `, NIC got its ARP answer ${p.seen.arpReply ? rel(p.seen.arpReply) : '-'} and sent its first echo request ${p.seen.echoRequest ? rel(p.seen.echoRequest) : '-'}` : '';
  return (
    `port b, from the plug: row in OVSDB ${rel(p.inserted)}, ofport ${rel(p.ofport)}, add-port returned ${rel(p.plugEnd)}${seen}, first reply ${rel(p.firstReply)}; ` +
    `ofport to first reply ${(p.firstReply - p.ofport).toFixed(0)} ms (POST to plug ${(p.plugStart - posted).toFixed(0)} ms; plug at epoch ${p.plugStart})`
  );
}

/** The new-port figures of a run, one row per N: the controller's part (ofport to first reply) first. */
function newPortTable(rows: Array<{ n: number; v?: Result; o?: Result; f?: Result }>): string[] {
  const ms = (x: number | undefined) => (x === undefined ? '-' : x.toFixed(0));
  const part = (r: Result | undefined, from: 'ofport' | 'inserted' | 'plugStart') => (r?.newPort ? r.newPort.firstReply - r.newPort[from] : undefined);
  const three = (from: 'ofport' | 'inserted' | 'plugStart', v?: Result, o?: Result, f?: Result) => `${ms(part(v, from))} / ${ms(part(o, from))} / ${ms(part(f, from))}`;
  const addPort = (r?: Result) => ms(r?.newPort && r.newPort.plugEnd - r.newPort.plugStart);
  const declared = (r?: Result) => ms(r?.declared && r.declared.firstReply - r.declared.declared);
  return [
    '| N | ofport to first reply vnetd / OVN / OVS floor (ms) | OVSDB row to first reply vnetd / OVN / floor (ms) | plug to first reply vnetd / OVN / floor (ms) | add-port (ovs-vsctl) vnetd / OVN / floor (ms) | NIC on br-int first: declared to first reply vnetd / OVN / floor (ms) |',
    '|---|---|---|---|---|---|',
    ...rows.map(({ n, v, o, f }) => `| ${n} | ${three('ofport', v, o, f)} | ${three('inserted', v, o, f)} | ${three('plugStart', v, o, f)} | ${addPort(v)} / ${addPort(o)} / ${addPort(f)} | ${declared(v)} / ${declared(o)} / ${declared(f)} |`),
  ];
}

/** Child processes of ours (ping, vnetd), ended by PID on exit. */
const children = new Set<ChildProcess>();
/** Keeps child in `children` (ended at exit, however the run ends) until it exits. */
function track(child: ChildProcess): void {
  children.add(child);
  child.once('exit', () => children.delete(child));
}

// ---------------------------------------------------------------- vnetd

let phase = 'start';
// Reported, not fatal: a rejection nobody awaited inside vnetd must not abort the run (and skip cleanup).
process.on('unhandledRejection', (e) => out(`  unhandled rejection during ${phase}: ${e instanceof Error ? e.stack : String(e)}`));

/** What the bench's clients talk to: vnetd's API, or the stand-in that warms them. */
interface ApiSide {
  call(method: string, path: string, body?: unknown): Promise<ApiResponse>;
  /**
   * Streams a watch (as `kubectl wait` follows one) to onEvent; done resolves when onEvent
   * returns true, and rejects if the stream ends or stop() is called before that.
   */
  watch(path: string, query: Query, onEvent: (event: { type: string; object: Obj }) => boolean): { done: Promise<void>; stop(): void };
}

interface VnetdProcess extends ApiSide {
  child: ChildProcess;
}

/**
 * ApiSide.call: one HTTP/2 connection carrying every request in flight, as client-go and
 * kubectl use vnetd's API (BENCH_HTTP1=1: HTTP/1.1, a connection per request in flight, as
 * this bench measured until 2026-11-30).
 */
function callThrough(server: string, ca: string, token: string): ApiSide['call'] {
  if (process.env.BENCH_HTTP1 === '1') return (method, path, body) => httpsCall(server, ca, method, path, body, { defaultToken: token });
  const client = new Http2ApiClient(server, ca, token);
  return async (method, path, body) => {
    const r = await client.call(method, path, body);
    return { status: r.status, headers: {}, text: r.text, json: r.body };
  };
}

/** ApiSide.watch over an ApiClient. */
function watchThrough(api: ApiClient): ApiSide['watch'] {
  return (path, query, onEvent) => {
    const w = api.watch<Obj>(path, query, onEvent);
    const done = w.done.then((how) => {
      if (how !== 'satisfied') throw new Error(`watch ${path}: ${how} before its condition held`);
    });
    return { done, stop: w.stop };
  };
}

let vnetdRuns = 0;
/** all-in-one: one process programs both hypervisors; agents: `vnetd controller` + one `vnetd agent` per hypervisor. */
type VnetdMode = 'all-in-one' | 'agents';
let vnetdEntry: string[] | undefined;

/**
 * What `npm start` runs: the bundled build (dist/bundle/vnetd.js, built once per bench run),
 * so that a restart's figures include no on-the-fly TypeScript transpiling.
 * BENCH_VNETD_ENTRY=dist/main.js runs the per-file tsc build instead; BENCH_VNETD_TSX=1 the
 * sources under tsx (no build step).
 */
function vnetdEntryArgs(): string[] {
  if (vnetdEntry) return vnetdEntry;
  if (process.env.BENCH_VNETD_TSX) return (vnetdEntry = ['--import', 'tsx', join(ROOT, 'src/main.ts')]);
  execFileSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
  return (vnetdEntry = [join(ROOT, process.env.BENCH_VNETD_ENTRY ?? 'dist/bundle/vnetd.js')]);
}

/** BENCH_VNETD_PROF=DIR: a CPU profile of each vnetd process (controller, agents) in DIR. */
const profFlags = (): string[] => (process.env.BENCH_VNETD_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_VNETD_PROF}`] : []);

/**
 * vnetd as its own process on dataDir (what an operator runs), its API read from the
 * kubeconfig it writes: all-in-one programming the hypervisors itself, or (`agents`) a
 * `vnetd controller` whose agents do (startAgentProcess).
 */
async function startVnetdProcess(dataDir: string, mode: VnetdMode = 'all-in-one'): Promise<VnetdProcess> {
  const kubeconfig = join(dataDir, 'admin.kubeconfig');
  if (existsSync(kubeconfig)) unlinkSync(kubeconfig);
  // BENCH_VNETD_NODE_FLAGS: extra Node/V8 flags for vnetd alone (not this process), to compare.
  const flags = (process.env.BENCH_VNETD_NODE_FLAGS ?? '').split(/\s+/).filter(Boolean);
  const logPath = join(dataDir, `vnetd-${++vnetdRuns}.log`);
  const child = spawnLogged(
    [...flags, ...profFlags(), ...vnetdEntryArgs(), ...(mode === 'agents' ? ['controller'] : [])],
    { VNETD_DATA_DIR: dataDir, VNETD_LISTEN: '127.0.0.1:0', VNETD_LOG_LEVEL: process.env.BENCH_VNETD_LOG ?? 'warn', VNETD_LOCAL_OVS: '0', VNETD_CHASSIS: mode === 'agents' ? '0' : '1' },
    logPath,
  );
  await eventually(async () => existsSync(kubeconfig) || child.exitCode !== null, 60_000, 50);
  if (child.exitCode !== null) throw new Error(`vnetd exited with ${child.exitCode}: ${readFileSync(logPath, 'utf8').slice(-2000)}`);
  const { server, ca, token } = readKubeconfig(kubeconfig);
  const api = new ApiClient({ server, ca, token, insecure: false, contextName: 'bench', source: kubeconfig });
  return {
    child,
    call: callThrough(server, ca, token),
    watch: watchThrough(api),
  };
}

/** Where an agent's kubeconfig is: its own node's agent token (writeAgentKubeconfigs), as deployed agents hold. */
const agentKubeconfig = (dataDir: string, hv: Hypervisor): string => join(dataDir, `agent-${hv.name}.kubeconfig`);

/** For each hypervisor, an agent token of its node and a kubeconfig with it (kept for the agents restarted later in the run). */
async function writeAgentKubeconfigs(call: ReturnType<typeof mustCall>, dataDir: string, hvs: readonly Hypervisor[]): Promise<void> {
  const admin = readFileSync(join(dataDir, 'admin.kubeconfig'), 'utf8');
  for (const hv of hvs) {
    const made = (await call('POST', `${G}/accesstokens`, { metadata: { name: `agent-${hv.name}` }, spec: { node: hv.name } })) as { status: { token: string } };
    const cfg = parseYaml(admin) as { users: Array<{ user: { token: string } }> };
    cfg.users[0]!.user.token = made.status.token;
    writeFileSync(agentKubeconfig(dataDir, hv), stringifyYaml(cfg), { mode: 0o600 });
  }
}

/**
 * `vnetd agent` for one hypervisor (the agents side), on its node's agent token,
 * logging to dataDir/agent-HV-K.log at `level` (info shows its full syncs).
 */
function startAgentProcess(dataDir: string, hv: Hypervisor, level: string): { child: ChildProcess; logPath: string } {
  const logPath = join(dataDir, `agent-${hv.name}-${++vnetdRuns}.log`);
  const child = spawnLogged([...profFlags(), ...vnetdEntryArgs(), 'agent', '--node', hv.name, '--kubeconfig', agentKubeconfig(dataDir, hv)], { VNETD_OVSDB: `unix:${hv.ovs.dbSocket}`, VNETD_LOG_LEVEL: level }, logPath);
  return { child, logPath };
}

/** `node ARGS` from the project root with env added to this process's, its output in logPath; tracked (ended at exit). */
function spawnLogged(args: string[], env: Record<string, string>, logPath: string): ChildProcess {
  const log = openSync(logPath, 'w');
  const child = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', log, log] });
  closeSync(log);
  track(child);
  return child;
}

/** ovs-vswitchd's coverage counters (totals): BENCH_OVS_COVERAGE=1 prints what grew during the burst. */
async function ovsCoverage(hv: Hypervisor): Promise<Map<string, number>> {
  const text = await hv.ovs.appctl('ovs-vswitchd', ['coverage/show']);
  const m = new Map<string, number>();
  for (const line of text.split('\n')) {
    const x = /^(\S+)\s+.*total:\s*(\d+)/.exec(line);
    if (x) m.set(x[1]!, Number(x[2]));
  }
  return m;
}

/**
 * CPU (ms) of what shares the machine with vnetd while it realizes: this process (the
 * clients and the watch) and both hypervisors' OVS daemons; since `base` when given. On 2
 * cores their sum with vnetd's bounds how fast any realize can be.
 */
interface OtherCpu { client: number; vswitchd: number; ovsdb: number }
function otherCpuMs(bed: Testbed, base?: OtherCpu): OtherCpu {
  const sum = (pidOf: (hv: Hypervisor) => number | undefined) =>
    bed.hypervisors.reduce((s, hv) => {
      const pid = pidOf(hv);
      return s + (pid ? processCpuMs(pid) : 0);
    }, 0);
  const u = process.cpuUsage();
  const cur = { client: (u.user + u.system) / 1000, vswitchd: sum((hv) => hv.ovs.vswitchdPid), ovsdb: sum((hv) => hv.ovs.ovsdbServerPid) };
  return base ? { client: cur.client - base.client, vswitchd: cur.vswitchd - base.vswitchd, ovsdb: cur.ovsdb - base.ovsdb } : cur;
}

function stopProcess(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((r) => {
    child.once('exit', () => r());
    child.kill(signal);
  });
}

/** v.call that throws on an error status; resolves with the answer's JSON. */
function mustCall(v: ApiSide) {
  return async (method: string, path: string, body?: unknown) => {
    const r = await v.call(method, path, body);
    if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${r.text}`);
    return r.json;
  };
}

/** f(0..k-1), CLIENTS of them in flight (as the bench's API clients send their requests). */
async function eachClient(k: number, f: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      for (let i = next++; i < k; i = next++) await f(i);
    }),
  );
}

/**
 * Resolves once k ports of the namespace are Ready, followed on a watch from the list's
 * current revision (as `kubectl wait` does): polling a list of N objects every few ms would
 * load vnetd with O(N) work per poll, more than realizing the ports costs at N=3000.
 */
async function watchAllReady(v: ApiSide, ports: string, k: number): Promise<{ done: Promise<void>; stop(): void; revision: string }> {
  const revision = ((await v.call('GET', ports)).json as { metadata?: { resourceVersion?: string } } | undefined)?.metadata?.resourceVersion ?? '0';
  const ready = new Set<string>();
  const w = v.watch(ports, { resourceVersion: revision }, (ev) => {
    if (ev.type === 'ADDED' || ev.type === 'MODIFIED') {
      if (readyNow(ev.object)) ready.add(ev.object.metadata.name);
      else ready.delete(ev.object.metadata.name);
    }
    return ready.size === k;
  });
  return { ...w, revision };
}

/**
 * --warmup=K: K ports realized in network `warm` on the NICs the measured ports will use (in
 * rounds of at most n, the NICs there are), each round deleted with its network before the
 * next; returns once the namespace has no port left (their finalizers wait for the flows to go).
 */
async function warmUp(v: VnetdProcess, ns: string, total: number, n: number, ifid: (i: number) => string, hvs: string[], side: string): Promise<void> {
  const t0 = now();
  const call = mustCall(v);
  const ports = `${G}/namespaces/${ns}/virtualports`;
  const isEmpty = async (path: string) => (((await v.call('GET', path)).json as { items?: unknown[] } | undefined)?.items?.length ?? 1) === 0;
  let rounds = 0;
  for (let done = 0; done < total; done += n, rounds++) {
    const k = Math.min(n, total - done);
    const allReady = await watchAllReady(v, ports, k);
    await call('POST', `${G}/namespaces/${ns}/virtualnetworks`, { metadata: { name: 'warm' }, spec: { subnets: [{ cidr: '10.101.0.0/16' }] } });
    await eachClient(k, (i) => call('POST', ports, { metadata: { name: `w${i}` }, spec: { network: 'warm', node: hvs[i % hvs.length], interfaceId: ifid(i) } }));
    await allReady.done;
    await eachClient(k, (i) => call('DELETE', `${ports}/w${i}`));
    await call('DELETE', `${G}/namespaces/${ns}/virtualnetworks/warm`);
    await eventually(async () => (await isEmpty(ports)) && (await isEmpty(`${G}/namespaces/${ns}/virtualnetworks`)), 300_000, 100);
  }
  out(`  ${side} N=${n}: warm-up, ${total} ports realized and deleted in ${rounds} round(s): ${(now() - t0).toFixed(0)} ms`);
}

/** --client-warmup: this process's client code, warmed against a stand-in API (vnetd untouched). */
async function warmClients(k: number, side: string, n: number): Promise<void> {
  const t0 = now();
  const cpu0 = process.cpuUsage();
  const stand = await startStandInApi(k);
  try {
    const api = new ApiClient({ server: stand.server, ca: stand.ca, token: 'stand-in', insecure: false, contextName: 'stand-in', source: 'stand-in' });
    const v: ApiSide = {
      call: callThrough(stand.server, stand.ca, 'stand-in'),
      watch: watchThrough(api),
    };
    const ports = `${G}/namespaces/bench/virtualports`;
    const call = mustCall(v);
    const allReady = await watchAllReady(v, ports, k);
    await eachClient(k, (i) => call('POST', ports, { metadata: { name: `p${i}` }, spec: { network: 'net', node: `hv${(i % 2) + 1}`, interfaceId: `stand-in-p${i}` } }));
    await allReady.done;
  } finally {
    await stand.close();
  }
  const cpu = process.cpuUsage(cpu0);
  out(`  ${side} N=${n}: this bench's clients warmed on a stand-in API (${k} requests, ${k} watch events): ${(now() - t0).toFixed(0)} ms, ${((cpu.user + cpu.system) / 1000).toFixed(0)} ms of its CPU`);
}

/** vnetd's side of one N: all-in-one, or (agents) a controller and one agent per hypervisor. */
async function benchVnetd(n: number, mode: VnetdMode = 'all-in-one'): Promise<Result> {
  const side = mode === 'agents' ? 'agents' : 'vnetd';
  phase = `${side} N=${n}`;
  let agents: Array<{ child: ChildProcess; logPath: string }> = [];
  /** vnetd's processes: all-in-one, or the controller and the agents. */
  const pids = () => [v!.child.pid!, ...agents.map((a) => a.child.pid!)];
  const sumOver = (f: (pid: number) => number) => pids().reduce((t, pid) => t + f(pid), 0);
  const cleanups: Array<() => Promise<void>> = [];
  let v: VnetdProcess | undefined;
  let bed: Testbed | undefined;
  // BENCH_DATA_DIR (e.g. /dev/shm) puts vnetd's SQLite store there: separates compute from fsync latency.
  const dataDir = mkdtempSync(join(process.env.BENCH_DATA_DIR ?? tmpdir(), 'vnetd-bench-'));
  const runsBefore = vnetdRuns;
  try {
    v = await startVnetdProcess(dataDir, mode);
    const call = mustCall(v);
    bed = await startTestbed({ hypervisors: 2 });
    for (const hv of bed.hypervisors) await call('POST', `${G}/nodes`, { metadata: { name: hv.name }, spec: { ...hv.nodeSpec(), ...(FASTPATH ? { fastPath: { enabled: true, netns: hv.netns } } : {}) } });
    // The agents build br-phy, which the underlay waits for.
    if (mode === 'agents') {
      await writeAgentKubeconfigs(call, dataDir, bed.hypervisors);
      agents = bed.hypervisors.map((hv) => startAgentProcess(dataDir, hv, process.env.BENCH_VNETD_LOG ?? 'warn'));
    }
    await bed.underlayReady();
    await pinNeighbours(bed);
    await waitBrInt(bed);
    const pfx = bed.prefix;
    const ifid = (i: number) => `${pfx}-p${i}`;
    await plugInternal(bed, n, ifid);
    const ns = 'bench';
    await v.call('POST', '/api/v1/namespaces', { metadata: { name: ns } });
    const hvs = bed.hypervisors.map((h) => h.name);

    if (WARMUP > 0) await warmUp(v, ns, WARMUP, n, ifid, hvs, side);
    if (CLIENT_WARMUP > 0) await warmClients(CLIENT_WARMUP, side, n);

    // Realize N ports. Realized = every port Ready, followed on a watch from before the first request.
    const allReady = await watchAllReady(v, `${G}/namespaces/${ns}/virtualports`, n);
    const revisionBefore = allReady.revision;
    // What the bed costs with nobody asking anything of it (N ports plugged, no flows yet).
    const idle0 = otherCpuMs(bed);
    await new Promise((r) => setTimeout(r, 2000));
    const idle = otherCpuMs(bed, idle0);
    out(`  ${side} N=${n}: idle bed, 2000 ms: ovs-vswitchd ${idle.vswitchd.toFixed(0)} ms, ovsdb-server ${idle.ovsdb.toFixed(0)} ms of CPU`);
    const coverage0 = process.env.BENCH_OVS_COVERAGE ? await ovsCoverage(bed.hv('hv1')) : undefined;
    const cpu0 = sumOver(processCpuMs);
    const perProcess0 = pids().map(processCpuMs);
    const io0 = pids().map(processIo);
    const mainCpu0 = sumOver(mainThreadCpuMs);
    const threads0 = threadCpuMs(v.child.pid!);
    const agentThreads0 = agents.map((a) => threadCpuMs(a.child.pid!));
    const others0 = otherCpuMs(bed);
    const t0 = now();
    await call('POST', `${G}/namespaces/${ns}/virtualnetworks`, { metadata: { name: 'net' }, spec: { subnets: [{ cidr: '10.100.0.0/16' }] } });
    await eachClient(n, (i) => call('POST', `${G}/namespaces/${ns}/virtualports`, { metadata: { name: `p${i}` }, spec: { network: 'net', node: hvs[i % hvs.length], interfaceId: ifid(i) } }));
    const postedMs = now() - t0;
    const timeout = setTimeout(() => allReady.stop(), 900_000);
    await allReady.done.finally(() => clearTimeout(timeout));
    const realizeMs = now() - t0;
    const realizeCpuMs = sumOver(processCpuMs) - cpu0;
    const realizeMainCpuMs = sumOver(mainThreadCpuMs) - mainCpu0;
    const threadsCpu =
      mode === 'agents'
        ? `controller ${(processCpuMs(v.child.pid!) - perProcess0[0]!).toFixed(0)}, ${agents.map((a, i) => `agent ${hvs[i]} ${(processCpuMs(a.child.pid!) - perProcess0[i + 1]!).toFixed(0)}`).join(', ')}; the controller's threads: ${threadCpuDelta(threads0, threadCpuMs(v.child.pid!))}` +
          agents.map((a, i) => `; agent ${hvs[i]}'s threads: ${threadCpuDelta(agentThreads0[i]!, threadCpuMs(a.child.pid!))}`).join('')
        : threadCpuDelta(threads0, threadCpuMs(v.child.pid!));
    const others = otherCpuMs(bed, others0);
    const io = pids().map((pid, i) => ioDelta(io0[i]!, processIo(pid)));
    out(`  ${side} N=${n}: system calls over the burst: ${mode === 'agents' ? `controller ${io[0]}; ${agents.map((_, i) => `agent ${hvs[i]} ${io[i + 1]}`).join('; ')}` : io[0]}`);
    if (coverage0) {
      const after = await ovsCoverage(bed.hv('hv1'));
      const top = [...after].map(([k, v]) => [k, v - (coverage0.get(k) ?? 0)] as const).filter(([, d]) => d > 0).sort((a, b) => b[1] - a[1]).slice(0, 25);
      out(`  ${side} N=${n}: hv1 ovs-vswitchd coverage counters over the burst: ${top.map(([k, d]) => `${k} ${d}`).join(', ')}`);
    }
    // Confirmed by one list: N ports, every one Ready.
    const list = (await v.call('GET', `${G}/namespaces/${ns}/virtualports`)).json as { items?: Obj[]; metadata?: { resourceVersion?: string } } | undefined;
    const items = list?.items ?? [];
    if (items.length !== n || !items.every(readyNow)) throw new Error(`watch said all ${n} ports Ready, the list has ${items.filter(readyNow).length} Ready of ${items.length}`);
    const revisionAfter = list?.metadata?.resourceVersion ?? '';
    // Store revisions spent: how many transactions realizing N ports took (per port: create, status writes).
    const txns = Number(revisionAfter) - Number(revisionBefore);
    out(`  ${side} N=${n}: ${n} POSTs done after ${postedMs.toFixed(0)} ms, all Ready after ${realizeMs.toFixed(0)} ms (${txns} store revisions, ${(txns / n).toFixed(2)} per port; vnetd CPU ${realizeCpuMs.toFixed(0)} ms, ${(realizeCpuMs / n).toFixed(2)} ms per port, its main thread ${realizeMainCpuMs.toFixed(0)} ms; per thread, name/start order, node/0 being that main thread: ${threadsCpu})`);
    out(`  ${side} N=${n}: CPU of the rest in the same ${realizeMs.toFixed(0)} ms: this bench (the ${CLIENTS} clients, the watch) ${others.client.toFixed(0)} ms, ovs-vswitchd ${others.vswitchd.toFixed(0)} ms, ovsdb-server ${others.ovsdb.toFixed(0)} ms (2 cores: ${(2 * realizeMs).toFixed(0)} ms available)`);
    const flows = await Promise.all(bed.hypervisors.map(flowCount));
    if (FASTPATH) {
      // Every NIC of the burst open on each node's runner (plus the underlay), and how long after the first request.
      const want = bed.hypervisors.map((_, h) => Array.from({ length: n }, (_, i) => i).filter((i) => i % bed!.hypervisors.length === h).length + 1);
      const states = await eventually(async () => {
        const fps = await Promise.all(hvs.map(async (h) => ((await call('GET', `${G}/nodes/${h}`)) as { status?: { fastpath?: { state?: string; interfaces?: number; reason?: string } } }).status?.fastpath));
        if (fps.some((f) => f?.state === 'Unavailable')) throw new Error(`fast path unavailable: ${JSON.stringify(fps)}`);
        return fps.every((f, h) => f?.state === 'Running' && f.interfaces === want[h]) ? fps : undefined;
      }, 600_000, 200);
      out(`  ${side} N=${n}: fast path Running on every NIC (${states.map((f, h) => `${hvs[h]} ${f!.interfaces}`).join(', ')} interfaces) ${(now() - t0).toFixed(0)} ms after the first request`);
    }

    // New port to first ping.
    const vmPort = async (name: string, hv: string) => {
      const port = await call('POST', `${G}/namespaces/${ns}/virtualports`, { metadata: { name }, spec: { network: 'net', node: hv } });
      const posted = now();
      const vm = await bed!.addVm(hv, { name, ifaceId: port.spec.interfaceId, mac: port.spec.mac, ip: `${port.spec.ips[0]}/16` });
      await fastArp(vm);
      return { vm, ip: port.spec.ips[0] as string, posted };
    };
    const a = await vmPort('a', hvs[0]!);
    await quiet(a.vm);
    await eventually(async () => readyNow((await v!.call('GET', `${G}/namespaces/${ns}/virtualports/a`)).json as Obj), 30_000, 20);
    // Port b: POST, its VM's NIC prepared off the bridge with a ping from it to a already
    // running, then the NIC plugged into br-int (the hypervisor starting the VM).
    const t1 = Date.now();
    const bp = await call('POST', `${G}/namespaces/${ns}/virtualports`, { metadata: { name: 'b' }, spec: { network: 'net', node: hvs[1]! } });
    const bvm = await unpluggedVm(bed, bed.hv(hvs[1]!), { name: 'b', ifaceId: bp.spec.interfaceId, mac: bp.spec.mac, ip: `${bp.spec.ips[0]}/16` });
    cleanups.push(() => bvm.remove());
    // Steps of port b as the API shows them: a watch from its creation on (one stream,
    // events stamped on arrival; a 5 ms poll used to load vnetd's API while it was measured).
    const seen: { bound?: number; ready?: number } = {};
    const bWatch = v.watch(`${G}/namespaces/${ns}/virtualports`, { fieldSelector: 'metadata.name=b', resourceVersion: bp.metadata.resourceVersion }, (ev) => {
      const o = ev.object as Obj & { status?: { conditions?: Array<{ type: string; status: string }> } };
      if (seen.bound === undefined && o.status?.conditions?.some((c) => c.type === 'Bound' && c.status === 'True')) seen.bound = Date.now();
      if (seen.ready === undefined && readyNow(o)) seen.ready = Date.now();
      return seen.ready !== undefined;
    });
    bWatch.done.catch(() => undefined); // ends by stop() below at the latest
    const p = await pingAcrossPlug(bvm, a.ip);
    const firstPingMs = p.firstReply - t1;
    const afterPlugMs = p.firstReply - p.plugStart;
    await eventually(async () => seen.ready !== undefined, 30_000, 5).catch(() => undefined);
    bWatch.stop();
    const rel = (x: number | undefined) => (x === undefined ? '-' : `${(x - p.plugStart).toFixed(0)} ms`);
    out(`  ${side} N=${n}: ${newPortLine(p, t1)}, Bound seen ${rel(seen.bound)}, Ready seen ${rel(seen.ready)}`);
    const b = { vm: bvm };
    // Port c: the VM's NIC on br-int first (its MAC and IP chosen by the VM), then the POST.
    const C = { ifaceId: `${pfx}-vm-c`, mac: '0a:00:00:00:ff:03', ip: '10.100.250.3' };
    const cvm = await unpluggedVm(bed, bed.hv(hvs[1]!), { name: 'c', ifaceId: C.ifaceId, mac: C.mac, ip: `${C.ip}/16` });
    cleanups.push(() => cvm.remove());
    const declared = await pingAcrossDeclare(cvm, a.ip, () =>
      call('POST', `${G}/namespaces/${ns}/virtualports`, { metadata: { name: 'c' }, spec: { network: 'net', node: hvs[1]!, interfaceId: C.ifaceId, mac: C.mac, ips: [C.ip] } }),
    );
    out(declareLine(side, n, declared, 'the POST'));
    const rss = pids().map(rssOfPid);
    /** kill -9 of every agent (as OVN's side kills its ovn-controllers), new ones logging at info: done once each has finished its full sync. */
    const restartAgents = async () => {
      for (const a of agents) await stopProcess(a.child, 'SIGKILL');
      agents = bed!.hypervisors.map((hv) => startAgentProcess(dataDir, hv, 'info'));
      await eventually(async () => agents.every((a) => readFileSync(a.logPath, 'utf8').includes('openflow full sync done')), 300_000, 100);
    };

    let restart: RestartLoss | undefined;
    if (RESTART) {
      restart = await lossAcross(b.vm, a.ip, async () => {
        if (mode === 'agents') {
          await restartAgents();
          return;
        }
        await stopProcess(v!.child, 'SIGKILL');
        v = await startVnetdProcess(dataDir);
        // Every 100 ms: a /metrics render costs the new process ~6 ms of its busy event loop.
        await eventually(async () => {
          const synced = await nodesInSync(v!.call).catch(() => new Set<string>());
          return bed!.hypervisors.every((hv) => synced.has(hv.name));
        }, 300_000, 100);
      });
      out(`  ${side} N=${n}: restart (${mode === 'agents' ? 'kill -9 of both agents, new ones' : 'kill -9, new process'}): ${restart.lost} of ${restart.lost + restart.answered} pings lost, converged ${restart.convergeMs.toFixed(0)} ms after the kill`);
    }
    const rssMB = mode === 'agents' ? `${rss[0]!.toFixed(0)} controller + ${rss.slice(1).map((x) => x.toFixed(0)).join('/')} agents` : `${rss[0]!.toFixed(0)}`;
    return { realizeMs, flows, firstPingMs, afterPlugMs, rssMB, restart, newPort: { ...p, posted: t1 }, declared };
  } finally {
    phase = 'vnetd teardown';
    // vnetd first: stopping OVS under a connected vnetd is not what is measured here.
    for (const a of agents) await stopProcess(a.child, 'SIGTERM').catch((e) => out(`  agent stop: ${e}`));
    if (v) await stopProcess(v.child, 'SIGTERM').catch((e) => out(`  vnetd stop: ${e}`));
    for (const c of cleanups) await c();
    await bed?.stop().catch((e) => out(`  bed stop: ${e}`));
    // BENCH_LOG_DIR keeps vnetd's logs (with BENCH_VNETD_LOG=debug: timestamps of every step).
    // Named by this N's runs (1: the first process, 2: the one after the restart).
    if (process.env.BENCH_LOG_DIR) for (let i = runsBefore + 1; i <= vnetdRuns; i++) if (existsSync(join(dataDir, `vnetd-${i}.log`))) copyFileSync(join(dataDir, `vnetd-${i}.log`), join(process.env.BENCH_LOG_DIR, `vnetd-N${n}-${i - runsBefore}.log`));
    // And the agents' (agents side), by hypervisor and the same run number.
    if (process.env.BENCH_LOG_DIR) for (const hv of bed?.hypervisors ?? []) for (let i = runsBefore + 1; i <= vnetdRuns; i++) if (existsSync(join(dataDir, `agent-${hv.name}-${i}.log`))) copyFileSync(join(dataDir, `agent-${hv.name}-${i}.log`), join(process.env.BENCH_LOG_DIR, `agent-${hv.name}-N${n}-${i - runsBefore}.log`));
    // BENCH_KEEP_DATA=1 keeps the data dir (the store: which writes realizing N ports took).
    if (process.env.BENCH_KEEP_DATA) out(`  vnetd data dir kept: ${dataDir}`);
    else rmSync(dataDir, { recursive: true, force: true });
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
/** OVN's databases, logs and sockets, one directory per run: removed at exit however the run ends. */
const ovnDirs = new Set<string>();
process.on('exit', () => {
  killOvn();
  for (const c of children) if (c.pid && c.exitCode === null) c.kill('SIGKILL');
  for (const d of ovnDirs) rmSync(d, { recursive: true, force: true });
});
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => { killOvn(); process.exit(130); });

function rssOfPid(pid: number | string): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

function rssOf(pidfile: string): number {
  try {
    return rssOfPid(readFileSync(pidfile, 'utf8').trim());
  } catch {
    return 0;
  }
}

async function waitFile(f: string): Promise<void> {
  await eventually(async () => existsSync(f), 10_000, 20);
}

async function benchOvn(n: number): Promise<Result> {
  phase = `OVN N=${n}`;
  const cleanups: Array<() => Promise<void>> = [];
  let bed: Testbed | undefined;
  const dir = mkdtempSync(join(tmpdir(), 'ovn-bench-'));
  ovnDirs.add(dir);
  const env = { ...process.env, OVN_RUNDIR: dir, OVN_LOGDIR: dir, OVN_DBDIR: dir, OVS_RUNDIR: dir, OVS_LOGDIR: dir };
  const nb = `unix:${dir}/nb.sock`;
  const sb = `unix:${dir}/sb.sock`;
  // runCommand's own default timeout is 30 s: OVN's --wait=hv sync takes longer from N=1000 on.
  // Tracked in children: an interrupted run ends it (its --wait=hv sync outlives the databases it waits on).
  const nbctl = (args: string[]) =>
    runCommand(findBinary('ovn-nbctl')!, [`--db=${nb}`, '--timeout=900', ...args], env, 900_000, track);
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

    const startController = async (hv: Hypervisor) => {
      const pidfile = `${dir}/ctl-${hv.name}.pid`;
      ovnPidfiles.add(pidfile);
      // In the hypervisor's netns, against its OVS db; br-int.mgmt is found through OVS_RUNDIR.
      await runCommand(findBinary('ip')!, [
        'netns', 'exec', hv.netns, 'env', `OVS_RUNDIR=${hv.ovs.runDir}`, `OVN_RUNDIR=${dir}`,
        findBinary('ovn-controller')!, `unix:${hv.ovs.dbSocket}`, `--pidfile=${pidfile}`, `--log-file=${dir}/ctl-${hv.name}.log`, '--detach',
      ], env);
    };
    bed = await startTestbed({ hypervisors: 2, bridges: 'testbed' });
    await bed.underlayReady();
    await pinNeighbours(bed);
    for (const hv of bed.hypervisors) {
      await hv.ovs.vsctl([
        'set', 'Open_vSwitch', '.',
        `external_ids:system-id=${bed.prefix}-${hv.name}`, `external_ids:ovn-remote=${sb}`, 'external_ids:ovn-encap-type=geneve',
        `external_ids:ovn-encap-ip=${hv.tunnelIP}`, 'external_ids:ovn-bridge=br-int', 'external_ids:ovn-bridge-datapath-type=netdev',
      ]);
      await startController(hv);
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
      await fastArp(vm);
      return { vm, ip: ip(i) };
    };
    const a = await vmPort('a', 'hv1', n);
    await quiet(a.vm);
    await nbctl(['--wait=hv', 'sync']);
    // Port b as on the vnetd side: lsp-add, the VM's NIC prepared with a ping to a running, then plugged.
    const t1 = Date.now();
    const bid = `${pfx}-vm-b`;
    await nbctl(['lsp-add', 'net', bid, '--', 'lsp-set-addresses', bid, `${mac(n + 1)} ${ip(n + 1)}`, '--', 'lsp-set-port-security', bid, `${mac(n + 1)} ${ip(n + 1)}`]);
    const bvm = await unpluggedVm(bed, bed.hv('hv2'), { name: 'b', ifaceId: bid, mac: mac(n + 1), ip: `${ip(n + 1)}/16` });
    cleanups.push(() => bvm.remove());
    const p = await pingAcrossPlug(bvm, a.ip);
    const firstPingMs = p.firstReply - t1;
    const afterPlugMs = p.firstReply - p.plugStart;
    out(`  OVN   N=${n}: ${newPortLine(p, t1)}`);
    const b = { vm: bvm };
    // Port c as on the vnetd side: the NIC on br-int first, then lsp-add (one ovn-nbctl, as for b).
    const cid = `${pfx}-vm-c`;
    const caddr = `${mac(n + 2)} ${ip(n + 2)}`;
    const cvm = await unpluggedVm(bed, bed.hv('hv2'), { name: 'c', ifaceId: cid, mac: mac(n + 2), ip: `${ip(n + 2)}/16` });
    cleanups.push(() => cvm.remove());
    const declared = await pingAcrossDeclare(cvm, a.ip, () => nbctl(['lsp-add', 'net', cid, '--', 'lsp-set-addresses', cid, caddr, '--', 'lsp-set-port-security', cid, caddr]));
    out(declareLine('OVN  ', n, declared, 'lsp-add'));
    const central = rssOf(`${dir}/nb.pid`) + rssOf(`${dir}/sb.pid`) + rssOf(`${dir}/northd.pid`);
    const ctl = bed.hypervisors.map((h) => rssOf(`${dir}/ctl-${h.name}.pid`).toFixed(0));

    let restart: RestartLoss | undefined;
    if (RESTART) {
      const flowsBefore = await Promise.all(bed.hypervisors.map(flowCount));
      restart = await lossAcross(b.vm, a.ip, async () => {
        // kill -9 of both ovn-controllers, then new ones (northd and the databases stay up).
        await Promise.all(
          bed!.hypervisors.map(async (hv) => {
            const pidfile = `${dir}/ctl-${hv.name}.pid`;
            const pid = Number(readFileSync(pidfile, 'utf8').trim());
            process.kill(pid, 'SIGKILL');
            await eventually(async () => !existsSync(`/proc/${pid}`), 10_000, 5);
            rmSync(pidfile, { force: true });
            await startController(hv);
          }),
        );
        await nbctl(['--wait=hv', 'sync']);
        await eventually(async () => (await Promise.all(bed!.hypervisors.map(flowCount))).every((f, i) => f >= flowsBefore[i]!), 300_000, 50);
      });
      out(`  OVN   N=${n}: restart (kill -9 of both ovn-controllers, new ones): ${restart.lost} of ${restart.lost + restart.answered} pings lost, converged ${restart.convergeMs.toFixed(0)} ms after the kill`);
    }
    return { realizeMs, flows, firstPingMs, afterPlugMs, rssMB: `${central.toFixed(0)} central (northd+NB+SB) + ${ctl.join('/')} ovn-controller`, restart, newPort: { ...p, posted: t1 }, declared };
  } finally {
    killOvn();
    for (const c of cleanups) await c();
    await bed?.stop().catch((e) => out(`  bed stop: ${e}`));
    rmSync(dir, { recursive: true, force: true });
    ovnDirs.delete(dir);
  }
}

// ---------------------------------------------------------------- OVS floor

/** Adds flows (ovs-ofctl syntax) to br-int of hv, one ovs-ofctl each. */
async function addFlows(hv: Hypervisor, flows: string[]): Promise<void> {
  for (const f of flows) await hv.ovs.ofctl(['-O', 'OpenFlow13', 'add-flow', `unix:${hv.ovs.bridgeMgmtSocket('br-int')}`, f]);
}

/**
 * OVS alone: no controller, br-int forwarding with NORMAL, the same N ports (N/2 on each
 * hypervisor) and the same ping across the same add-port as on the controllers' beds, VM a
 * and VM b both on hv2 (NORMAL cannot use the flow-based tunnel ports).
 */
async function benchFloor(n: number): Promise<Result> {
  phase = `floor N=${n}`;
  const cleanups: Array<() => Promise<void>> = [];
  let bed: Testbed | undefined;
  try {
    bed = await startTestbed({ hypervisors: 2, bridges: 'testbed' });
    const pfx = bed.prefix;
    await plugInternal(bed, n, (i) => `${pfx}-p${i}`);
    const hv = bed.hv('hv2');
    const A = { mac: '0a:00:00:00:ff:01', ip: '10.100.250.1' };
    const B = { mac: '0a:00:00:00:ff:02', ip: '10.100.250.2', ofport: 60000 };
    const a = await bed.addVm('hv2', { name: 'a', ifaceId: `${pfx}-vm-a`, mac: A.mac, ip: `${A.ip}/16` });
    await fastArp(a);
    await quiet(a);
    // Everything b needs, in place before it is plugged (its ofport requested): ARP answered
    // on the bridge as vnetd's responder does (nothing flooded to the N/2 ports), unicast by
    // destination MAC. What is left is OVS's own work.
    const answer = (x: { mac: string; ip: string }) =>
      `move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],set_field:${x.mac}->eth_src,set_field:2->arp_op,move:NXM_NX_ARP_SHA[]->NXM_NX_ARP_THA[],set_field:${x.mac}->arp_sha,move:NXM_OF_ARP_SPA[]->NXM_OF_ARP_TPA[],set_field:${x.ip}->arp_spa,in_port`;
    await addFlows(hv, [
      `priority=20,arp,arp_op=1,arp_tpa=${A.ip},actions=${answer(A)}`,
      `priority=20,arp,arp_op=1,arp_tpa=${B.ip},actions=${answer(B)}`,
      `priority=10,dl_dst=${A.mac},actions=output:${await a.ofport()}`,
      `priority=10,dl_dst=${B.mac},actions=output:${B.ofport}`,
    ]);
    const t1 = Date.now();
    const bvm = await unpluggedVm(bed, hv, { name: 'b', ifaceId: `${pfx}-vm-b`, mac: B.mac, ip: `${B.ip}/16`, ofportRequest: B.ofport });
    cleanups.push(() => bvm.remove());
    const p = await pingAcrossPlug(bvm, '10.100.250.1');
    out(`  floor N=${n}: ${newPortLine(p, t1)}`);
    // Port c on hv2 and VM x on hv1, over a geneve tunnel as the controllers' c and a are:
    // every flow both need in place (ARP answered on each side, unicast by MAC, to and from
    // the tunnel) but one on hv2 that drops c's traffic. The "declaration" is that flow's
    // removal: one flow_mod, less than any controller can send for a new port.
    await bed.underlayReady();
    await pinNeighbours(bed);
    const hv1 = bed.hv('hv1');
    const X = { mac: '0a:00:00:00:ff:04', ip: '10.100.250.4' };
    const C = { mac: '0a:00:00:00:ff:03', ip: '10.100.250.3', ofport: 60001 };
    const TUN = 60002;
    for (const h of [hv1, hv]) {
      await h.ovs.vsctl(['add-port', 'br-int', 'tun', '--', 'set', 'Interface', 'tun', 'type=geneve', `ofport_request=${TUN}`, 'options:remote_ip=flow', 'options:key=flow', `options:local_ip=${h.tunnelIP}`]);
    }
    const x = await bed.addVm('hv1', { name: 'x', ifaceId: `${pfx}-vm-x`, mac: X.mac, ip: `${X.ip}/16` });
    await fastArp(x);
    await quiet(x);
    const toward = (h: Hypervisor) => `set_field:${h.tunnelIP}->tun_dst,output:${TUN}`;
    await addFlows(hv1, [`priority=20,arp,arp_op=1,arp_tpa=${C.ip},actions=${answer(C)}`, `priority=10,dl_dst=${X.mac},actions=output:${await x.ofport()}`, `priority=10,dl_dst=${C.mac},actions=${toward(hv)}`]);
    await addFlows(hv, [`priority=30,in_port=${C.ofport},actions=drop`, `priority=20,arp,arp_op=1,arp_tpa=${X.ip},actions=${answer(X)}`, `priority=10,dl_dst=${C.mac},actions=output:${C.ofport}`, `priority=10,dl_dst=${X.mac},actions=${toward(hv1)}`]);
    const cvm = await unpluggedVm(bed, hv, { name: 'c', ifaceId: `${pfx}-vm-c`, mac: C.mac, ip: `${C.ip}/16`, ofportRequest: C.ofport });
    cleanups.push(() => cvm.remove());
    // Over a connection already open, as a controller's is (an ovs-ofctl process takes 30-130 ms to connect at N=3000).
    const of = createConnection(`unix:${hv.ovs.bridgeMgmtSocket('br-int')}`, { reconnect: false });
    cleanups.push(() => of.close());
    await of.ready();
    const declared = await pingAcrossDeclare(cvm, X.ip, () =>
      of.transact([flowMod({ command: 'delete_strict', tableId: 0, priority: 30, match: [{ field: 'in_port', value: C.ofport }] })]),
    );
    out(declareLine('floor', n, declared, 'the flow that dropped its traffic removed (flow_mod + barrier)'));
    const flows = await Promise.all(bed.hypervisors.map(flowCount));
    return { realizeMs: NaN, flows, firstPingMs: p.firstReply - t1, afterPlugMs: p.firstReply - p.plugStart, rssMB: '-', newPort: { ...p, posted: t1 }, declared };
  } finally {
    phase = 'floor teardown';
    for (const c of cleanups) await c();
    await bed?.stop().catch((e) => out(`  bed stop: ${e}`));
  }
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  const avail = ovsAvailability();
  if (!avail.ok) {
    out(`skipped: ${avail.reason}`);
    return;
  }
  for (const b of SIDES.has('ovn') ? ['ovn-nbctl', 'ovn-sbctl', 'ovn-northd', 'ovn-controller'] : []) {
    if (!findBinary(b)) {
      out(`skipped: ${b} not found (apt-get install ovn-central ovn-host)`);
      return;
    }
  }
  const r = (a: number | undefined, b: number | undefined) => (a !== undefined && b !== undefined && b > 0 ? (a / b).toFixed(2) : '-');
  const f = (x: number | undefined) => (x === undefined ? '-' : x.toFixed(0));
  const sum = (xs: number[] | undefined) => xs?.reduce((s, x) => s + x, 0);
  const loss = (x: RestartLoss | undefined) => (x ? `${x.lost} (${(x.lost * 10).toFixed(0)} ms), converged ${(x.convergeMs / 1000).toFixed(1)} s` : '-');
  const header = [
    '| N | realize vnetd (ms) | realize OVN (ms) | ratio vnetd/OVN | flows/hv vnetd | flows/hv OVN | ratio | new port -> first ping vnetd (ms) [after plug] | OVN (ms) [after plug] | ratio | pings lost across restart vnetd | OVN | controller RSS vnetd (MiB) | OVN (MiB) |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  const row = ({ n, v, o }: { n: number; v?: Result; o?: Result }) =>
    `| ${n} | ${f(v?.realizeMs)} | ${f(o?.realizeMs)} | ${r(v?.realizeMs, o?.realizeMs)} | ${v?.flows.join('/') ?? '-'} | ${o?.flows.join('/') ?? '-'} | ${r(sum(v?.flows), sum(o?.flows))} | ${f(v?.firstPingMs)} [${f(v?.afterPlugMs)}] | ${f(o?.firstPingMs)} [${f(o?.afterPlugMs)}] | ${r(v?.firstPingMs, o?.firstPingMs)} | ${loss(v?.restart)} | ${loss(o?.restart)} | ${v?.rssMB ?? '-'} | ${o?.rssMB ?? '-'} |`;
  // One side failing at one N (a timeout at N=3000) leaves '-' and the rest of the run.
  const attempt = async (what: string, fn: () => Promise<Result>): Promise<Result | undefined> => {
    try {
      return await fn();
    } catch (e) {
      out(`  ${what} failed: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`);
      return undefined;
    }
  };
  const rows: Array<{ n: number; v?: Result; o?: Result; f?: Result; a?: Result }> = [];
  for (const n of SIZES) {
    out(`N=${n}`);
    const v = SIDES.has('vnetd') ? await attempt(`vnetd N=${n}`, () => benchVnetd(n)) : undefined;
    const a = SIDES.has('agents') ? await attempt(`agents N=${n}`, () => benchVnetd(n, 'agents')) : undefined;
    const o = SIDES.has('ovn') ? await attempt(`OVN N=${n}`, () => benchOvn(n)) : undefined;
    const f = SIDES.has('floor') ? await attempt(`floor N=${n}`, () => benchFloor(n)) : undefined;
    rows.push({ n, v, o, f, a });
    // The row at once: a later, bigger N may take long or fail.
    for (const l of [...header, row({ n, v, o })]) out(`  ${l}`);
  }
  out('');
  for (const l of [...header, ...rows.map(row)]) out(l);
  if (SIDES.has('agents')) {
    // The same columns with vnetd split as operators scale it out: controller + one agent per hypervisor.
    out('');
    out('vnetd as `vnetd controller` + `vnetd agent` per hypervisor (in the vnetd columns):');
    for (const l of [...header, ...rows.map((r) => row({ n: r.n, v: r.a, o: r.o }))]) out(l);
  }
  out('');
  for (const l of newPortTable(rows)) out(l);
  out('');
  out('New port: pings every 1 ms; restart: pings every 10 ms, vnetd kill -9 + new process (agents: kill -9 of both agents + new ones); OVN kill -9 of ovn-controller on both hypervisors + new ones.');
}

main().then(
  () => process.exit(0),
  (e) => {
    out(`converge bench failed: ${e instanceof Error ? e.stack : String(e)}`);
    killOvn();
    process.exit(1);
  },
);
