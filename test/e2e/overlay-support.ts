/** Shared by the overlay e2e files: joining a test bed to vnetd, and packet captures in VMs. */
import { spawn, type ChildProcess } from 'node:child_process';
import { startAgent, type RunningAgent } from '../../src/agent/agent';
import type { AgentCommand } from '../../src/app/command-line';
import type { VirtualPort } from '../../src/resources/kinds';
import { startTestbed, type Testbed, type Vm } from '../harness/testbed';
import { eventually, replaceOnConflict, startTestVnetd, type TestVnetd } from '../support/vnetd';
import { longestReplyGap, replyTimes } from '../support/ping';

type Call = (method: string, path: string, body?: unknown) => Promise<unknown>;

export const G = '/apis/vnet.dev/v1alpha1';

export type Obj = { status?: { conditions?: Array<{ type: string; status: string; observedGeneration?: number }> }; metadata: { generation?: number; uid?: string } };

/** Ready=True for the object's current generation. */
export const readyNow = (o: Obj | undefined): boolean =>
  o?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True' && c.observedGeneration === o.metadata.generation) ?? false;

/**
 * API helpers over the file's vnetd (a getter: it is started in beforeAll): `call` throws on
 * any non-2xx answer, `network` creates its namespace first, `waitReady` polls for readyNow,
 * `vmFor` creates a port and the quiet VM (no IPv6 chatter) that plugs it, then waits for Ready.
 */
export function overlayApi(vnetd: () => TestVnetd) {
  const call = async (method: string, path: string, body?: unknown) => {
    const r = await vnetd().call(method, path, body);
    if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${r.text}`);
    return r.json;
  };
  /** replaceOnConflict (load balancer and node status are rewritten while traffic flows); throws unless the PUT succeeded. */
  const replace = async <T extends Obj>(path: string, change: (cur: T) => unknown): Promise<T> => {
    const { response: r } = await replaceOnConflict<T>(vnetd(), path, change);
    if (r.status >= 300) throw new Error(`PUT ${path}: ${r.status} ${r.text}`);
    return r.json as T;
  };
  const network = async (ns: string, name: string, spec: Record<string, unknown>) => {
    await vnetd().call('POST', '/api/v1/namespaces', { metadata: { name: ns } });
    return call('POST', `${G}/namespaces/${ns}/virtualnetworks`, { metadata: { name }, spec });
  };
  const waitReady = async (ns: string, plural: string, name: string, timeoutMs = 15_000) =>
    eventually(async () => {
      const o = (await vnetd().call('GET', `${G}/namespaces/${ns}/${plural}/${name}`)).json as Obj;
      return readyNow(o) ? o : undefined;
    }, timeoutMs);
  const vmFor = async (bed: Testbed, ns: string, net: string, name: string, hv: string, o: { vmName?: string; spec?: Record<string, unknown> } = {}): Promise<{ vm: Vm; port: VirtualPort; readyMs: number }> => {
    const t0 = performance.now();
    const port = (await call('POST', `${G}/namespaces/${ns}/virtualports`, { metadata: { name }, spec: { network: net, node: hv, ...o.spec } })) as VirtualPort;
    const vm = await bed.addVm(hv, { name: o.vmName ?? `${ns.slice(0, 3)}${name}`.slice(0, 8), ifaceId: port.spec!.interfaceId!, mac: port.spec!.mac, ip: `${port.spec!.ips![0]}/24` });
    await vm.exec(['sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1']);
    await vm.hypervisor.exec(['sysctl', '-qw', `net.ipv6.conf.${vm.tap}.disable_ipv6=1`]).catch(() => undefined);
    await waitReady(ns, 'virtualports', name);
    return { vm, port, readyMs: performance.now() - t0 };
  };
  return { call, replace, network, waitReady, vmFor };
}

/** With VNETD_FASTPATH=1 the suites run with the fast path on: tell vnetd where each hypervisor's interfaces are. */
/** A Node's spec.fastPath when the suite runs with the fast path on (VNETD_FASTPATH=1). */
export const fastPathFromEnv = (hv: Testbed['hypervisors'][number]): Record<string, unknown> => (process.env.VNETD_FASTPATH === '1' ? { fastPath: { netns: hv.netns } } : {});

/**
 * Registers every hypervisor as a Node, waits for the underlay, and pins the underlay
 * neighbours so the first overlay packet does not wait for ARP on br-phy. extraSpec adds
 * fields to each Node's spec (e.g. fastPath).
 */
export async function joinBed(bed: Testbed, call: Call, extraSpec: (hv: Testbed['hypervisors'][number]) => Record<string, unknown> = fastPathFromEnv): Promise<void> {
  for (const hv of bed.hypervisors) await call('POST', '/apis/vnet.dev/v1alpha1/nodes', { metadata: { name: hv.name }, spec: { ...hv.nodeSpec(), ...extraSpec(hv) } });
  await bed.underlayReady();
  // A suite run with the fast path on proves nothing if AF_XDP could not start: say why and stop.
  for (const hv of bed.hypervisors.filter((h) => extraSpec(h).fastPath)) {
    const fp = await eventually(async () => ((await call('GET', `/apis/vnet.dev/v1alpha1/nodes/${hv.name}`)) as { status?: { fastpath?: { state?: string; reason?: string } } }).status?.fastpath, 30_000, 100);
    if (fp.state === 'Unavailable' || fp.state === 'Disabled') throw new Error(`fast path on ${hv.name} is ${fp.state}: ${fp.reason ?? 'no reason given'}`);
  }
  const macs = await Promise.all(bed.hypervisors.map(async (h) => (await h.exec(['cat', '/sys/class/net/br-phy/address'])).trim()));
  for (const h of bed.hypervisors) {
    for (const [i, other] of bed.hypervisors.entries()) {
      if (other !== h) await h.ovs.appctl('ovs-vswitchd', ['tnl/neigh/set', 'br-phy', other.tunnelIP, macs[i]!]);
    }
  }
}

/**
 * tcpdump on a VM's interface, started once it says it is listening; stop() waits
 * `settleMs` for frames still crossing a tunnel and returns the lines seen. A test that
 * expects frames passes `until`: stop() then also waits (up to 5 s) until the lines seen
 * satisfy it, because a tcpdump starved of CPU (CI: two cores, load 6-8) reads its socket
 * late and drops what it has not read when it is ended. The process is kept in `track` so
 * the file's afterAll can end it (by PID) if a test fails first.
 */
export async function startCapture(vm: Pick<Vm, 'netns' | 'iface'>, track: Set<ChildProcess>, filter = 'not ip6', settleMs = 300): Promise<{ stop(until?: (lines: string[]) => boolean): Promise<string[]> }> {
  const child = spawn('ip', ['netns', 'exec', vm.netns, 'tcpdump', '-l', '-n', '-e', '-i', vm.iface, filter], { stdio: ['ignore', 'pipe', 'pipe'] });
  track.add(child);
  child.on('exit', () => track.delete(child));
  // 'close', not 'exit': the last lines may still be in the pipe when the process exits.
  const closed = new Promise((r) => child.once('close', r));
  let text = '';
  const lines = () => text.split('\n').filter(Boolean);
  child.stdout!.on('data', (c: Buffer) => (text += c.toString()));
  await new Promise<void>((resolve) => {
    const t = setTimeout(resolve, 2000);
    child.stderr!.on('data', (c: Buffer) => {
      if (c.toString().includes('listening')) {
        clearTimeout(t);
        resolve();
      }
    });
  });
  return {
    async stop(until) {
      await new Promise((r) => setTimeout(r, settleMs));
      if (until) await eventually(async () => until(lines()), 5_000, 50).catch(() => undefined);
      if (child.pid && child.exitCode === null) process.kill(child.pid, 'SIGTERM');
      await closed;
      track.delete(child);
      return lines();
    },
  };
}

/**
 * A backend for the load-balancer tests: answers every TCP connection and every line with its
 * name on port 8080, and every UDP datagram with its name on port 5353 (on 5354: "NAME@5354").
 */
export const NAMED_SERVER = `const n=process.argv[1];const d=require('dgram');const udp=(port,text,done)=>{const u=d.createSocket('udp4');u.on('message',(m,r)=>u.send(text,r.port,r.address));u.bind(port,done)};
require('net').createServer(s=>{s.on('error',()=>{});s.write(n+'\\n');s.on('data',()=>s.write(n+'\\n'))}).listen(8080,()=>udp(5353,n,()=>udp(5354,n+'@5354',()=>console.log('listening'))))`;

/**
 * UDP clients from fixed source ports base..base+count-1 (DNS resolvers, syslog), one datagram
 * each to vip:port ("q", or `size` bytes: more than the VMs' MTU is a fragmented datagram),
 * over IPv6 to an IPv6 vip; prints per source port the answer ("" when none came within
 * `wait` ms, default 2 s) and the address it came from.
 */
const UDP_CLIENTS = `const d=require('dgram');const [vip,port,base,n,size,wait]=process.argv.slice(1).map((x,i)=>i?Number(x):x);const out=[];let left=n;
for(let i=0;i<n;i++){const s=d.createSocket(vip.includes(':')?'udp6':'udp4');let done=false;const fin=(name,from)=>{if(done)return;done=true;clearTimeout(t);out[i]={name,from};s.close();if(--left===0)console.log(JSON.stringify(out))};const t=setTimeout(()=>fin('',''),wait||2000);s.on('message',(m,r)=>fin(m.toString(),r.address));s.on('error',()=>fin('',''));s.bind(base+i,()=>s.send(size?Buffer.alloc(size,120):'q',port,vip))}`;

/**
 * `count` TCP connections to vip:port one after the other, from source ports base.., each
 * reading the first line a NAMED_SERVER sends (the backend's name; "" when nothing came
 * within 2 s); prints the names as a JSON array.
 */
export const NAMES_OVER_TCP = `const [vip,port,n,base]=process.argv.slice(1).map((x,i)=>i?Number(x):x);const net=require('net');const out=[];
function one(i){return new Promise(r=>{let buf='';const s=net.connect({host:vip,port,localPort:base+i});const done=(name)=>{clearTimeout(t);out.push(name);try{s.resetAndDestroy()}catch{s.destroy()}r()};const t=setTimeout(()=>done(''),2000);s.on('data',d=>{buf+=d;if(buf.includes('\\n'))done(buf.split('\\n')[0].trim())});s.on('error',()=>done(''))})}
(async()=>{for(let i=0;i<n;i++)await one(i);console.log(JSON.stringify(out))})()`;

/** What each of `count` UDP clients (source ports from `base`) got back from vip:port. */
export async function udpAnswers(vm: Vm, vip: string, port: number, base: number, count: number, o: { size?: number; waitMs?: number } = {}): Promise<Array<{ name: string; from: string }>> {
  return JSON.parse(await vm.exec([process.execPath, '-e', UDP_CLIENTS, vip, String(port), String(base), String(count), String(o.size ?? 0), String(o.waitMs ?? 0)])) as Array<{ name: string; from: string }>;
}

/** NAMED_SERVER in vm's netns, kept in `track` (ended by the file's afterAll), once it listens. */
export async function startNamedServer(vm: Vm, name: string, track: Set<ChildProcess>, timeoutMs = 10_000): Promise<ChildProcess> {
  const c = spawn('ip', ['netns', 'exec', vm.netns, process.execPath, '-e', NAMED_SERVER, name], { stdio: ['ignore', 'pipe', 'ignore'] });
  track.add(c);
  c.on('exit', () => track.delete(c));
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`server ${name} did not start`)), timeoutMs);
    c.stdout!.on('data', (d: Buffer) => {
      if (d.toString().includes('listening')) {
        clearTimeout(t);
        resolve();
      }
    });
  });
  return c;
}

/**
 * One TCP exchange: a socat server in `server` answering "pong-PID", reached from `client`
 * (retried until it answers within timeoutMs); IPv6 when `ip` is one. The server forks per
 * connection: one attempt that connects but then times out (a loaded machine) must not
 * leave every retry refused. The server process is kept in `track` so the file's afterAll
 * can end it if the test fails first.
 */
export async function tcpExchange(server: Vm, client: Vm, ip: string, port: number, track: Set<ChildProcess>, timeoutMs = 20_000): Promise<string> {
  const v6 = ip.includes(':');
  const child = spawn('ip', ['netns', 'exec', server.netns, 'socat', '-T5', `${v6 ? 'TCP6' : 'TCP'}-LISTEN:${port},reuseaddr,fork`, 'SYSTEM:echo pong-$$'], { stdio: 'ignore' });
  track.add(child);
  child.on('exit', () => track.delete(child));
  try {
    return await eventually(async () => {
      const out = await client.exec(['sh', '-c', `echo ping | socat -T3 - ${v6 ? `TCP6:[${ip}]` : `TCP:${ip}`}:${port},connect-timeout=2`]).catch(() => '');
      return out.includes('pong') ? out.trim() : undefined;
    }, timeoutMs, 100);
  } finally {
    if (child.pid && child.exitCode === null) process.kill(child.pid, 'SIGTERM');
  }
}

/**
 * A MAC and address the VM holds beyond its port's, as a nested VM's or keepalived's
 * use_vmac: a macvlan on its NIC (checksums in software, as the harness sets its NIC) with
 * the address as a /32, so the NIC's own subnet route stays. Returns the macvlan's name.
 */
export async function addMacvlan(vm: Pick<Vm, 'iface' | 'exec'>, mac: string, ip: string): Promise<string> {
  const mv = `${vm.iface}m`;
  await vm.exec(['ip', 'link', 'add', mv, 'link', vm.iface, 'address', mac, 'type', 'macvlan', 'mode', 'bridge']);
  await vm.exec(['ethtool', '-K', mv, 'tx', 'off']);
  await vm.exec(['ip', 'addr', 'add', `${ip}/32`, 'dev', mv]);
  await vm.exec(['ip', 'link', 'set', mv, 'up']);
  return mv;
}

/** A NIC without a VM behind it: an OVS internal port on br-int with the port's iface-id (binds it, carries no traffic). */
export async function plugInternalNic(hv: Testbed['hypervisors'][number], name: string, ifaceId: string): Promise<void> {
  await hv.ovs.vsctl(['add-port', 'br-int', name, '--', 'set', 'Interface', name, 'type=internal', `external_ids:iface-id=${ifaceId}`]);
}

/**
 * The lifecycle several overlay files share: a vnetd that programs the nodes, a
 * two-hypervisor test bed joined to it (both made in beforeAll, hence the getters), and a
 * set for the processes a test starts, ended by PID at teardown even when a test failed.
 */
export function overlayBed(): { vnetd: () => TestVnetd; bed: () => Testbed; children: Set<ChildProcess> } {
  let v: TestVnetd | undefined;
  let bed: Testbed | undefined;
  const children = new Set<ChildProcess>();
  beforeAll(async () => {
    v = await startTestVnetd({ chassis: true });
    bed = await startTestbed({ hypervisors: 2 });
    await joinBed(bed, overlayApi(() => v!).call);
  }, 60_000);
  afterAll(async () => {
    for (const c of children) if (c.pid && c.exitCode === null) process.kill(c.pid, 'SIGTERM');
    await bed?.stop();
    await v?.stop();
  }, 60_000);
  return { vnetd: () => v!, bed: () => bed!, children };
}

/**
 * The same for the agents' files: a `vnetd controller` with no chassis layer, a
 * two-hypervisor bed, and one agent per hypervisor (started before the bed joins: the agents
 * build br-phy, which the underlay waits for, once their Node exists). startAgentFor starts
 * (or, after a test closed one, restarts) a node's agent; every agent is closed at teardown.
 * Each agent holds its own node's token (AccessToken spec.node), as a host's agent should:
 * everything these tests see an agent do, it does within what that token allows.
 */
export function agentsBed(options: Partial<AgentCommand> = {}): {
  vnetd: () => TestVnetd;
  bed: () => Testbed;
  children: Set<ChildProcess>;
  agents: Map<string, RunningAgent>;
  startAgentFor(node: string): Promise<RunningAgent>;
  /** The API's 403 answers so far, as "verb resource: count" (its /metrics): an agent refused a write it needs shows here. */
  refused(): Promise<string[]>;
} {
  let v: TestVnetd | undefined;
  let bed: Testbed | undefined;
  const children = new Set<ChildProcess>();
  const agents = new Map<string, RunningAgent>();
  const kubeconfigs = new Map<string, Promise<string>>();
  const kubeconfigOf = (node: string) => kubeconfigs.get(node) ?? kubeconfigs.set(node, v!.agentKubeconfig(node)).get(node)!;
  const startAgentFor = async (node: string) => {
    const a = await startAgent({ node, kubeconfig: await kubeconfigOf(node), ovsdb: `unix:${bed!.hv(node).ovs.dbSocket}`, logLevel: process.env.VNETD_TEST_LOG ?? 'silent', workers: 2, ...options });
    agents.set(node, a);
    return a;
  };
  beforeAll(async () => {
    v = await startTestVnetd({ role: 'controller' });
    bed = await startTestbed({ hypervisors: 2 });
    for (const hv of bed.hypervisors) await startAgentFor(hv.name);
    await joinBed(bed, overlayApi(() => v!).call);
  }, 90_000);
  afterAll(async () => {
    for (const c of children) if (c.pid && c.exitCode === null) process.kill(c.pid, 'SIGTERM');
    for (const a of agents.values()) await a.close();
    await bed?.stop();
    await v?.stop();
  }, 60_000);
  const refused = async () => {
    const text = (await v!.call('GET', '/metrics')).text;
    return [...text.matchAll(/^vnetd_apiserver_requests_total\{verb="([^"]*)",resource="([^"]*)",code="403"\} (\d+)$/gm)].map((m) => `${m[1]} ${m[2]}: ${m[3]}`);
  };
  return { vnetd: () => v!, bed: () => bed!, children, agents, startAgentFor, refused };
}

/**
 * A `ping -D` every `intervalS` from vm to ip for `seconds`, kept in `track`; done() gives the
 * output, how many went out and were answered, and the longest time between two replies (the
 * outage a VM's peer sees, to the ping's interval).
 */
export function startStampedPing(vm: Pick<Vm, 'netns'>, ip: string, seconds: number, track: Set<ChildProcess>, intervalS = 0.01): { done: Promise<{ sent: number; received: number; gapMs: number; gapFrom: number; gaps: Array<{ from: number; ms: number }> }> } {
  const child = spawn('ip', ['netns', 'exec', vm.netns, 'ping', '-n', '-D', '-i', String(intervalS), '-W', '1', '-w', String(seconds), ip], { stdio: ['ignore', 'pipe', 'ignore'] });
  track.add(child);
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  const done = new Promise<{ sent: number; received: number; gapMs: number; gapFrom: number; gaps: Array<{ from: number; ms: number }> }>((res) =>
    child.once('close', () => {
      track.delete(child);
      const gap = longestReplyGap(out);
      const times = replyTimes(out).map((r) => r.at);
      // Every stretch of 5 intervals or more without a reply, for a test to say where they were.
      const gaps = times.slice(1).flatMap((t, i) => (t - times[i]! >= intervalS * 5000 ? [{ from: times[i]!, ms: t - times[i]! }] : []));
      res({ sent: Number(/(\d+) packets transmitted/.exec(out)?.[1] ?? 0), received: times.length, gapMs: gap?.ms ?? Infinity, gapFrom: gap?.from ?? 0, gaps });
    }),
  );
  return { done };
}

/**
 * A live migration's destination, as libvirt makes it: a NIC on hypervisor `to` with the
 * source VM's iface-id, MAC and address, plugged while the source runs, its link down (the
 * VM paused there until switchover).
 */
export async function migrationTarget(bed: Testbed, source: Vm, to: string, name: string): Promise<Vm> {
  const dest = await bed.addVm(to, { name, ifaceId: source.ifaceId, mac: source.mac, ipv6: false });
  await dest.exec(['ip', 'link', 'set', dest.iface, 'down']);
  if (source.ip) await dest.exec(['ip', 'addr', 'add', source.ip, 'dev', dest.iface]);
  await dest.hypervisor.exec(['sysctl', '-qw', `net.ipv6.conf.${dest.tap}.disable_ipv6=1`]).catch(() => undefined);
  return dest;
}

/**
 * qemu's announce_self after a live migration (net/announce.c, defaults): 5 RARP requests
 * (EtherType 0x8035, opcode 3, broadcast, source and sender hardware address the VM's MAC),
 * 50, 150, 250 and 350 ms apart. argv: interface, MAC, and "wait" to send only once a line
 * comes on stdin (started ahead: python's start inside a netns takes up to a second here,
 * which is no part of a migration). Prints when each frame went (epoch ms).
 */
const ANNOUNCE_SELF = `
import socket, sys, time
iface, mac = sys.argv[1:3]
m = bytes.fromhex(mac.replace(':', ''))
frame = b'\\xff' * 6 + m + b'\\x80\\x35' + b'\\x00\\x01\\x08\\x00\\x06\\x04\\x00\\x03' + m + b'\\x00' * 4 + m + b'\\x00' * 4 + b'\\x00' * 18
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((iface, 0))
if sys.argv[3:] == ['wait']:
    print('ready', flush=True)
    sys.stdin.readline()
for delay in (0, 0.05, 0.15, 0.25, 0.35):
    time.sleep(delay)
    s.send(frame)
    print('%.3f' % (time.time() * 1000), flush=True)
`;

/** Sends qemu's announcement of `mac` (the VM's own by default) from inside the VM (about 0.8 s); returns when each frame went (epoch ms). */
export async function announceSelf(vm: Vm, mac = vm.mac): Promise<number[]> {
  return (await vm.exec(['python3', '-c', ANNOUNCE_SELF, vm.iface, mac])).split('\n').filter(Boolean).map(Number);
}

/** qemu's announcement, ready to go: `go()` sends it at once; `sent` says when each frame went (epoch ms). */
export async function armAnnouncement(vm: Vm, track: Set<ChildProcess>): Promise<{ go(): void; sent: Promise<number[]> }> {
  const child = spawn('ip', ['netns', 'exec', vm.netns, 'python3', '-c', ANNOUNCE_SELF, vm.iface, vm.mac, 'wait'], { stdio: ['pipe', 'pipe', 'inherit'] });
  track.add(child);
  let out = '';
  let ready!: () => void;
  const isReady = new Promise<void>((r) => (ready = r));
  child.stdout!.on('data', (c: Buffer) => {
    out += c.toString();
    if (out.includes('ready')) ready();
  });
  const sent = new Promise<number[]>((res, rej) =>
    child.once('close', (code) => {
      track.delete(child);
      if (code !== 0) rej(new Error(`announcement from ${vm.name} exited ${code}`));
      else res(out.split('\n').filter((l) => /^[\d.]+$/.test(l)).map(Number));
    }),
  );
  await Promise.race([isReady, sent]);
  return { go: () => child.stdin!.end('go\n'), sent };
}

/**
 * A live migration's destination as qemu makes it: a NIC on hypervisor `to` with the source
 * VM's iface-id, MAC and address, plugged while the source runs, its link up (qemu holds the
 * tap, the VM paused: as a standby NIC it gets nothing and what it sends is dropped).
 */
export async function migrationTargetUp(bed: Testbed, source: Vm, to: string, name: string): Promise<Vm> {
  const dest = await bed.addVm(to, { name, ifaceId: source.ifaceId, mac: source.mac, ipv6: false });
  await dest.hypervisor.exec(['sysctl', '-qw', `net.ipv6.conf.${dest.tap}.disable_ipv6=1`]).catch(() => undefined);
  if (source.ip) await dest.exec(['ip', 'addr', 'add', source.ip, 'dev', dest.iface]);
  return dest;
}

/**
 * A live migration's switchover with both taps' links up, as qemu's are: the source VM stops
 * answering (its address taken away inside it; its NIC and tap stay up, so OVS link_state
 * stays up), then the destination runs and announces itself (`announcement`, armed ahead).
 * Returns when it began (epoch ms, as ping -D stamps).
 */
export async function switchoverLinksUp(source: Vm, announcement: { go(): void }): Promise<number> {
  const at = Date.now();
  await source.exec(['ip', 'addr', 'flush', 'dev', source.iface]);
  announcement.go();
  return at;
}

/** The OVS link_state of a VM's tap on its hypervisor ("up" or "down"). */
export async function tapLinkState(vm: Vm): Promise<string> {
  return (await vm.hypervisor.ovs.vsctl(['get', 'Interface', vm.tap, 'link_state'])).trim().replace(/"/g, '');
}

/** A live migration's switchover: the source VM stops (its NIC's link down), the destination runs (its link up). Returns when it began (epoch ms, as ping -D stamps). */
export async function switchover(source: Vm, dest: Vm): Promise<number> {
  const at = Date.now();
  await source.exec(['ip', 'link', 'set', source.iface, 'down']);
  await dest.exec(['ip', 'link', 'set', dest.iface, 'up']);
  return at;
}
