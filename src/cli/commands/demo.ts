/**
 * `vnetctl demo up|down`: on the local node, two client VMs and two backend VMs as
 * network namespaces (vdemo-*) plugged into br-int, their network and ports in
 * namespace "demo", and a load balancer over the backends serving HTTP. `up` shows a
 * ping and requests through the VIP; `down` removes all of it. Both are idempotent.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Command } from 'commander';
import type { HypervisorNode, LoadBalancer, VirtualPort } from '../../resources/kinds';
import type { KubeObject } from '../../resources/object';
import { ApiStatusError, CliError, UsageError } from '../errors';
import { KINDS, kindByPlural } from '../kinds';
import { createObject, deleteObject, getObject, listObjects } from '../ops';
import type { Runtime } from '../runtime';
import { waitFor } from '../wait';
import { inOvsNetns, localOvsOf, run, vsctl, type NodeOvs } from './node-ovs';
import { examples, type RuntimeOf } from './shared';

export const DEMO_NS = 'demo';
export const DEMO_PREFIX = 'vdemo-';
const NET = `${DEMO_PREFIX}net`;
const LB = `${DEMO_PREFIX}web`;
const SUBNET = '10.99.0.0/24';
const CLIENTS = ['c1', 'c2'];
const BACKENDS = ['b1', 'b2'];
const VMS = [...CLIENTS, ...BACKENDS];
const LOCAL = 'local';
const READY_MS = 30_000;

const NAMESPACES = kindByPlural('namespaces');
const NETWORKS = kindByPlural('virtualnetworks');
const PORTS = kindByPlural('virtualports');
const LBS = kindByPlural('loadbalancers');
const NODES = kindByPlural('nodes');

const SERVER = `const n=process.argv[1];require('http').createServer((q,s)=>{s.setHeader('connection','close');s.end('hello from '+n+'\\n')}).listen(8080)`;
/** Up to N new connections to url, stops once every backend answered; prints one line per answer. */
const CLIENT = `const [u,n,want]=process.argv.slice(1);const seen=new Set();let i=0;
function one(){return new Promise(r=>{const q=require('http').get(u,{agent:false,timeout:3000},s=>{let b='';s.on('data',d=>b+=d);s.on('end',()=>r(b.trim()))});q.on('error',e=>r('error: '+e.message));q.on('timeout',()=>{q.destroy(new Error('timed out'))})})}
(async()=>{while(i++<Number(n)&&seen.size<Number(want)){const a=await one();console.log(a);if(a.startsWith('hello from '))seen.add(a)}process.exit(seen.size>=Number(want)?0:1)})()`;

const netnsOf = (vm: string) => `${DEMO_PREFIX}${vm}`;
const hostIf = (vm: string) => `${DEMO_PREFIX}${vm}-h`; // <= 15 chars
const portName = (vm: string) => `${DEMO_PREFIX}${vm}`;

interface DemoState {
  servers: Record<string, number>;
}

function requireRoot(what: string): void {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    throw new CliError(`cannot run "vnetctl demo ${what}": it needs root (it creates network namespaces and OVS ports): run it with sudo`);
  }
}

async function localOvs(rt: Runtime, what: string): Promise<NodeOvs> {
  let node: HypervisorNode;
  try {
    node = await getObject<HypervisorNode>(rt, NODES, undefined, LOCAL);
  } catch (err) {
    if (err instanceof ApiStatusError && err.httpStatus === 404) throw new CliError(`cannot run "vnetctl demo ${what}": vnetd has no Node "local": start vnetd with its local OVS (npm start) on this machine`);
    throw err;
  }
  const ovs = localOvsOf(node);
  if (typeof ovs === 'string') throw new CliError(`cannot run "vnetctl demo ${what}": the local node's OVS is not on this machine: ${ovs}`);
  return ovs;
}

const stateFile = (ovs: NodeOvs) => join(dirname(ovs.dir), 'demo', 'state.json');

function readState(ovs: NodeOvs): DemoState {
  try {
    return JSON.parse(readFileSync(stateFile(ovs), 'utf8')) as DemoState;
  } catch {
    return { servers: {} };
  }
}

function writeState(ovs: NodeOvs, s: DemoState): void {
  mkdirSync(dirname(stateFile(ovs)), { recursive: true, mode: 0o700 });
  writeFileSync(stateFile(ovs), `${JSON.stringify(s, null, 2)}\n`);
}

/** Running (a zombie, whose parent has not reaped it yet, counts as gone). */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) [ZX] /s.test(stat);
  } catch {
    return false;
  }
}

async function stopServer(pid: number): Promise<void> {
  process.kill(pid, 'SIGTERM');
  for (let i = 0; i < 50 && running(pid); i++) await new Promise((r) => setTimeout(r, 50));
  if (running(pid)) process.kill(pid, 'SIGKILL');
}

/** The PID is still our server (not a recycled PID). */
function ourServer(pid: number, vm: string): boolean {
  try {
    const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return cmd.includes(`${DEMO_PREFIX}server-${vm}`) && running(pid);
  } catch {
    return false;
  }
}

async function createIfAbsent<T extends KubeObject>(rt: Runtime, kind: typeof PORTS, ns: string | undefined, body: KubeObject): Promise<T> {
  try {
    return await createObject<T>(rt, kind, ns, body);
  } catch (err) {
    if (err instanceof ApiStatusError && err.httpStatus === 409) return getObject<T>(rt, kind, ns, body.metadata.name);
    throw err;
  }
}

async function deleteIfPresent(rt: Runtime, kind: typeof PORTS, ns: string | undefined, name: string): Promise<boolean> {
  try {
    await deleteObject(rt, kind, ns, name);
    return true;
  } catch (err) {
    if (err instanceof ApiStatusError && err.httpStatus === 404) return false;
    throw err;
  }
}

const netnsExists = (ns: string) => existsSync(`/run/netns/${ns}`);
const nsExec = (ns: string, args: string[]) => run('ip', ['netns', 'exec', ns, ...args]);

async function plugVm(ovs: NodeOvs, vm: string, port: VirtualPort): Promise<void> {
  const ns = netnsOf(vm);
  const mac = port.status?.mac ?? port.spec!.mac!;
  const ip = (port.status?.ips ?? port.spec!.ips!)[0]!;
  if (!netnsExists(ns)) await run('ip', ['netns', 'add', ns]);
  const inNs = await nsExec(ns, ['ip', '-o', 'link', 'show']);
  if (!/\beth0[@:]/.test(inNs)) {
    await inOvsNetns(ovs, ['ip', 'link', 'del', hostIf(vm)]).catch(() => undefined);
    await inOvsNetns(ovs, ['ip', 'link', 'add', hostIf(vm), 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
    await nsExec(ns, ['ip', 'link', 'set', 'lo', 'up']);
    await nsExec(ns, ['ip', 'link', 'set', 'eth0', 'address', mac, 'mtu', '1400', 'up']);
    await nsExec(ns, ['ip', 'addr', 'add', `${ip}/24`, 'dev', 'eth0']);
    await nsExec(ns, ['sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1']).catch(() => undefined);
    await nsExec(ns, ['ethtool', '-K', 'eth0', 'tx', 'off']).catch(() => undefined);
    await inOvsNetns(ovs, ['ip', 'link', 'set', hostIf(vm), 'up']);
  }
  await vsctl(ovs, [
    '--may-exist', 'add-port', 'br-int', hostIf(vm), '--', 'set', 'Interface', hostIf(vm),
    `external_ids:iface-id=${port.spec!.interfaceId!}`, `external_ids:attached-mac=${mac}`,
  ]);
}

function startServer(vm: string): number {
  // argv[0] of node is our marker, so `down` can tell its servers from a recycled PID.
  const child = spawn('ip', ['netns', 'exec', netnsOf(vm), process.execPath, '-e', SERVER, vm, `${DEMO_PREFIX}server-${vm}`], { detached: true, stdio: 'ignore' });
  child.unref();
  if (!child.pid) throw new CliError(`cannot start the HTTP server in ${netnsOf(vm)}`);
  return child.pid;
}

/** The demo makes namespaces and veths on this host, which no server-side dry run covers. */
function refuseDryRun(rt: Runtime): void {
  if (rt.dryRun) throw new UsageError('vnetctl demo has no --dry-run: it makes network namespaces and veths on this host as well as objects');
}

async function demoUp(rt: Runtime): Promise<void> {
  refuseDryRun(rt);
  requireRoot('up');
  const ovs = await localOvs(rt, 'up');
  const say = (s: string) => rt.io.out(`${s}\n`);
  const ready = { kind: 'condition', type: 'Ready', status: 'True' } as const;
  await createIfAbsent(rt, NAMESPACES, undefined, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: DEMO_NS } });
  await createIfAbsent(rt, NETWORKS, DEMO_NS, { apiVersion: 'vnet.dev/v1alpha1', kind: 'VirtualNetwork', metadata: { name: NET }, spec: { subnets: [{ cidr: SUBNET }] } } as KubeObject);
  say(`network ${DEMO_NS}/${NET} (${SUBNET})`);
  const ports = new Map<string, VirtualPort>();
  for (const vm of VMS) {
    const p = await createIfAbsent<VirtualPort>(rt, PORTS, DEMO_NS, { apiVersion: 'vnet.dev/v1alpha1', kind: 'VirtualPort', metadata: { name: portName(vm) }, spec: { network: NET, node: LOCAL } } as KubeObject);
    await plugVm(ovs, vm, p);
    ports.set(vm, p);
  }
  for (const vm of VMS) {
    await waitFor(rt, PORTS, DEMO_NS, portName(vm), ready, READY_MS);
    const p = ports.get(vm)!;
    say(`VM ${netnsOf(vm)}: port ${portName(vm)} ${p.spec!.ips![0]} ${p.spec!.mac} Ready`);
  }
  const state = readState(ovs);
  for (const vm of BACKENDS) {
    const pid = state.servers[vm];
    if (pid === undefined || !ourServer(pid, vm)) state.servers[vm] = startServer(vm);
  }
  writeState(ovs, state);
  await createIfAbsent(rt, LBS, DEMO_NS, {
    apiVersion: 'vnet.dev/v1alpha1',
    kind: 'LoadBalancer',
    metadata: { name: LB },
    spec: { network: NET, listeners: [{ protocol: 'TCP', port: 80, targetPort: 8080 }], backends: BACKENDS.map((vm) => ({ port: portName(vm) })) },
  } as KubeObject);
  const lb = (await waitFor(rt, LBS, DEMO_NS, LB, ready, READY_MS)) as LoadBalancer | undefined;
  const vip = lb?.status?.vip ?? lb?.spec?.vip;
  if (!vip) throw new CliError(`demo up: load balancer ${DEMO_NS}/${LB} is Ready but has no VIP`);
  say(`load balancer ${DEMO_NS}/${LB}: VIP ${vip}:80 -> ${BACKENDS.map(portName).join(', ')} :8080 (HTTP servers PIDs ${BACKENDS.map((b) => state.servers[b]).join(', ')})`);

  const [c1, c2] = CLIENTS.map((c) => ports.get(c)!.spec!.ips![0]!);
  say(`\n$ ip netns exec ${netnsOf(CLIENTS[0]!)} ping -c 2 ${c2}`);
  const ping = await nsExec(netnsOf(CLIENTS[0]!), ['ping', '-c', '2', '-i', '0.2', '-W', '2', c2!]).catch((e: Error) => {
    throw new CliError(`demo up: ping from ${c1} to ${c2} failed: ${e.message}`);
  });
  say(ping.trimEnd());
  say(`\n$ requests from ${netnsOf(CLIENTS[1]!)} to http://${vip}/ (new connection each)`);
  // Servers may still be binding right after a fresh start: retry the whole probe briefly.
  let answers = '';
  for (let i = 0; i < 10; i++) {
    try {
      answers = await nsExec(netnsOf(CLIENTS[1]!), [process.execPath, '-e', CLIENT, `http://${vip}/`, '40', String(BACKENDS.length)]);
      break;
    } catch (e) {
      answers = (e as Error).message;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  const lines = answers.trim().split('\n').filter((l) => l.startsWith('hello from '));
  for (const l of lines) say(`  ${l}`);
  const seen = new Set(lines);
  if (seen.size < BACKENDS.length) throw new CliError(`demo up: requests through the VIP ${vip} did not reach every backend (${[...seen].join(', ') || answers.trim().split('\n')[0]})`);
  say(`\ndemo is up: both backends answered through ${vip}. Try: vnetctl -n ${DEMO_NS} lb status ${LB}; vnetctl -n ${DEMO_NS} trace --from ${portName(CLIENTS[0]!)} --to ${vip}:80. Remove it with: vnetctl demo down`);
}

async function demoDown(rt: Runtime): Promise<void> {
  refuseDryRun(rt);
  requireRoot('down');
  const ovs = await localOvs(rt, 'down');
  const say = (s: string) => rt.io.out(`${s}\n`);
  const state = readState(ovs);
  for (const [vm, pid] of Object.entries(state.servers)) {
    if (ourServer(pid, vm)) {
      await stopServer(pid);
      say(`stopped HTTP server of ${netnsOf(vm)} (PID ${pid})`);
    }
  }
  rmSync(join(dirname(ovs.dir), 'demo'), { recursive: true, force: true });
  for (const vm of VMS) {
    await vsctl(ovs, ['--if-exists', 'del-port', 'br-int', hostIf(vm)]);
    await inOvsNetns(ovs, ['ip', 'link', 'del', hostIf(vm)]).catch(() => undefined);
    if (netnsExists(netnsOf(vm))) {
      await run('ip', ['netns', 'del', netnsOf(vm)]);
      say(`removed VM ${netnsOf(vm)}`);
    }
  }
  const gone: Array<{ kind: typeof PORTS; name: string }> = [];
  if (await deleteIfPresent(rt, LBS, DEMO_NS, LB)) gone.push({ kind: LBS, name: LB });
  for (const vm of VMS) if (await deleteIfPresent(rt, PORTS, DEMO_NS, portName(vm))) gone.push({ kind: PORTS, name: portName(vm) });
  if (await deleteIfPresent(rt, NETWORKS, DEMO_NS, NET)) gone.push({ kind: NETWORKS, name: NET });
  await Promise.all(gone.map((g) => waitFor(rt, g.kind, DEMO_NS, g.name, { kind: 'delete' }, READY_MS)));
  for (const g of gone) say(`deleted ${g.kind.kind} ${DEMO_NS}/${g.name}`);
  // The namespace `up` made goes too (QA-98: "removes all of it" left it), unless it holds
  // objects of someone else's: deleting it would delete them.
  const others = (await Promise.all(KINDS.filter((k) => k.namespaced).map(async (k) => (await listObjects(rt, k, DEMO_NS)).items.map((o) => `${k.kind} ${o.metadata.name}`)))).flat();
  if (others.length > 0) say(`kept namespace ${DEMO_NS}: it holds objects the demo did not make (${others.join(', ')})`);
  else if (await deleteIfPresent(rt, NAMESPACES, undefined, DEMO_NS)) {
    await waitFor(rt, NAMESPACES, undefined, DEMO_NS, { kind: 'delete' }, READY_MS);
    say(`deleted Namespace ${DEMO_NS}`);
  }
  say('demo is down');
}

export function demoCommand(runtimeOf: RuntimeOf): Command {
  const demo = new Command('demo').description('a local demo on this node: four VMs (network namespaces), a network and an HTTP load balancer (needs root)');
  examples(demo.command('up').description('create the demo (idempotent) and show a ping and requests through the VIP').action(async (_o: unknown, cmd: Command) => demoUp(runtimeOf(cmd))), ['sudo vnetctl demo up']);
  examples(demo.command('down').description('remove everything the demo created (idempotent)').action(async (_o: unknown, cmd: Command) => demoDown(runtimeOf(cmd))), ['sudo vnetctl demo down']);
  return examples(demo, ['sudo vnetctl demo up', 'sudo vnetctl -n demo trace --from vdemo-c1 --to VIP:80', 'sudo vnetctl demo down']);
}
