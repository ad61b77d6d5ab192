/**
 * `vnetctl demo up|down`: on the local node, two client VMs and two backend VMs as
 * network namespaces (vdemo-*) plugged into br-int, their network and ports in
 * namespace "demo", and a load balancer over the backends serving HTTP. `up` shows a
 * ping and requests through the VIP; `down` removes all of it. Both are idempotent.
 * `--prefix P` names another demo beside it (namespace P, VMs vP-*), so that two
 * operators, or a test and an operator, on one host do not take each other's (QA-132 F12).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Command } from 'commander';
import { DEFAULT_NAMESPACE } from '../../resources/catalog';
import type { HypervisorNode, LoadBalancer, VirtualPort } from '../../resources/kinds';
import type { KubeObject } from '../../resources/object';
import { ApiStatusError, CliError, UsageError } from '../errors';
import { KINDS, kindByPlural } from '../kinds';
import { createObject, deleteObject, getObject, listObjects } from '../ops';
import type { Runtime } from '../runtime';
import { waitFor } from '../wait';
import { inOvsNetns, localOvsOf, run, vsctl, type NodeOvs } from './node-ovs';
import { examples, parser, type RuntimeOf } from './shared';

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

/**
 * `--prefix`'s default: the names the demo had before it took a prefix, which the README's
 * commands (`vnetctl -n demo trace --from vdemo-c1 ...`) use.
 */
export const DEFAULT_DEMO_PREFIX = 'demo';
/** Linux's IFNAMSIZ (16) less the NUL: longer interface names are refused by the kernel. */
const IFNAME_MAX = 15;
/** The host end of a VM's veth, also its OVS port: the one name the kernel limits. */
const hostIfOf = (prefix: string, vm: string) => `v${prefix}-${vm}-h`;
/** 9: `v<prefix>-b1-h` must fit IFNAME_MAX. */
export const DEMO_PREFIX_MAX = IFNAME_MAX - Math.max(...VMS.map((vm) => hostIfOf('', vm).length));

/**
 * Every name one demo makes, on the host and in vnetd, derived from its prefix P: namespace
 * P, and `vP-` before each VM's netns, port, veth and server, its network and its load
 * balancer, as "demo" gives today's vdemo-*. P has no "-", so the names of two prefixes never
 * meet (`vab-c1` is prefix "ab"'s, never "a"'s), and `down` of one touches none of another's.
 */
export interface DemoNames {
  prefix: string;
  /** The tenant namespace of the demo's objects. */
  namespace: string;
  network: string;
  lb: string;
  /** VM -> its network namespace (ip netns), also the VirtualPort's name. */
  netns(vm: string): string;
  port(vm: string): string;
  /** VM -> the host end of its veth, plugged into br-int under this name. */
  hostIf(vm: string): string;
  /** An argv element of a backend's HTTP server, by which `down` knows its own servers. */
  serverMarker(vm: string): string;
  /** The state file (server PIDs), under vnetd's data dir. */
  stateFile: string;
  /** What to add to a printed `vnetctl demo ...` for it to mean this demo ("" for the default). */
  flag: string;
}

export function demoNames(prefix: string = DEFAULT_DEMO_PREFIX): DemoNames {
  const base = `v${prefix}-`;
  const isDefault = prefix === DEFAULT_DEMO_PREFIX;
  return {
    prefix,
    namespace: prefix,
    network: `${base}net`,
    lb: `${base}web`,
    netns: (vm) => `${base}${vm}`,
    port: (vm) => `${base}${vm}`,
    hostIf: (vm) => hostIfOf(prefix, vm),
    serverMarker: (vm) => `${base}server-${vm}`,
    // The default's file is where it always was, so `down` finds the servers an older `up` started.
    stateFile: join('demo', isDefault ? 'state.json' : `state-${prefix}.json`),
    flag: isDefault ? '' : ` --prefix ${prefix}`,
  };
}

/**
 * `--prefix`: what every name derives from, so it must be valid in all of them (exit 2
 * otherwise). The messages follow commander's "argument 'X' is invalid.", which names the flag.
 */
export function parseDemoPrefix(text: string): string {
  if (!/^[a-z0-9]+$/.test(text)) throw new UsageError("A prefix is lowercase letters and digits only: it starts the demo's namespace, network namespaces and interface names");
  if (text.length > DEMO_PREFIX_MAX) throw new UsageError(`A prefix is at most ${DEMO_PREFIX_MAX} characters: the VMs' host interfaces (here ${hostIfOf(text, BACKENDS[0]!)}) must fit Linux's ${IFNAME_MAX}`);
  // The namespace is the prefix, and `down` deletes it: vnetd refuses to delete its default one.
  if (text === DEFAULT_NAMESPACE) throw new UsageError(`The demo's namespace would be "${DEFAULT_NAMESPACE}", vnetd's own, which may not be deleted: pick another prefix`);
  return text;
}

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

const stateFile = (ovs: NodeOvs, names: DemoNames) => join(dirname(ovs.dir), names.stateFile);

function readState(ovs: NodeOvs, names: DemoNames): DemoState {
  try {
    return JSON.parse(readFileSync(stateFile(ovs, names), 'utf8')) as DemoState;
  } catch {
    return { servers: {} };
  }
}

function writeState(ovs: NodeOvs, names: DemoNames, s: DemoState): void {
  mkdirSync(dirname(stateFile(ovs, names)), { recursive: true, mode: 0o700 });
  writeFileSync(stateFile(ovs, names), `${JSON.stringify(s, null, 2)}\n`);
}

/** Only this demo's file: the directory goes once no other prefix's state is left in it. */
function removeState(ovs: NodeOvs, names: DemoNames): void {
  rmSync(stateFile(ovs, names), { force: true });
  try {
    rmdirSync(dirname(stateFile(ovs, names)));
  } catch {
    /* not empty (another demo is up) or already gone */
  }
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

/** The PID is still our server (not a recycled PID, nor another prefix's server). */
function ourServer(pid: number, names: DemoNames, vm: string): boolean {
  try {
    const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return cmd.includes(names.serverMarker(vm)) && running(pid);
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

async function plugVm(ovs: NodeOvs, names: DemoNames, vm: string, port: VirtualPort): Promise<void> {
  const ns = names.netns(vm);
  const hostIf = names.hostIf(vm);
  const mac = port.status?.mac ?? port.spec!.mac!;
  const ip = (port.status?.ips ?? port.spec!.ips!)[0]!;
  if (!netnsExists(ns)) await run('ip', ['netns', 'add', ns]);
  const inNs = await nsExec(ns, ['ip', '-o', 'link', 'show']);
  if (!/\beth0[@:]/.test(inNs)) {
    await inOvsNetns(ovs, ['ip', 'link', 'del', hostIf]).catch(() => undefined);
    await inOvsNetns(ovs, ['ip', 'link', 'add', hostIf, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
    await nsExec(ns, ['ip', 'link', 'set', 'lo', 'up']);
    await nsExec(ns, ['ip', 'link', 'set', 'eth0', 'address', mac, 'mtu', '1400', 'up']);
    await nsExec(ns, ['ip', 'addr', 'add', `${ip}/24`, 'dev', 'eth0']);
    await nsExec(ns, ['sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1']).catch(() => undefined);
    await nsExec(ns, ['ethtool', '-K', 'eth0', 'tx', 'off']).catch(() => undefined);
    await inOvsNetns(ovs, ['ip', 'link', 'set', hostIf, 'up']);
  }
  await vsctl(ovs, [
    '--may-exist', 'add-port', 'br-int', hostIf, '--', 'set', 'Interface', hostIf,
    `external_ids:iface-id=${port.spec!.interfaceId!}`, `external_ids:attached-mac=${mac}`,
  ]);
}

function startServer(names: DemoNames, vm: string): number {
  // The marker argument lets `down` tell its servers from a recycled PID or another prefix's.
  const child = spawn('ip', ['netns', 'exec', names.netns(vm), process.execPath, '-e', SERVER, vm, names.serverMarker(vm)], { detached: true, stdio: 'ignore' });
  child.unref();
  if (!child.pid) throw new CliError(`cannot start the HTTP server in ${names.netns(vm)}`);
  return child.pid;
}

/** The demo makes namespaces and veths on this host, which no server-side dry run covers. */
function refuseDryRun(rt: Runtime): void {
  if (rt.dryRun) throw new UsageError('vnetctl demo has no --dry-run: it makes network namespaces and veths on this host as well as objects');
}

async function demoUp(rt: Runtime, names: DemoNames): Promise<void> {
  refuseDryRun(rt);
  requireRoot('up');
  const ovs = await localOvs(rt, 'up');
  const say = (s: string) => rt.io.out(`${s}\n`);
  const ready = { kind: 'condition', type: 'Ready', status: 'True' } as const;
  const { namespace: ns, network: net, lb: lbName } = names;
  await createIfAbsent(rt, NAMESPACES, undefined, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  await createIfAbsent(rt, NETWORKS, ns, { apiVersion: 'vnet.dev/v1alpha1', kind: 'VirtualNetwork', metadata: { name: net }, spec: { subnets: [{ cidr: SUBNET }] } } as KubeObject);
  say(`network ${ns}/${net} (${SUBNET})`);
  const ports = new Map<string, VirtualPort>();
  for (const vm of VMS) {
    const p = await createIfAbsent<VirtualPort>(rt, PORTS, ns, { apiVersion: 'vnet.dev/v1alpha1', kind: 'VirtualPort', metadata: { name: names.port(vm) }, spec: { network: net, node: LOCAL } } as KubeObject);
    await plugVm(ovs, names, vm, p);
    ports.set(vm, p);
  }
  for (const vm of VMS) {
    await waitFor(rt, PORTS, ns, names.port(vm), ready, READY_MS);
    const p = ports.get(vm)!;
    say(`VM ${names.netns(vm)}: port ${names.port(vm)} ${p.spec!.ips![0]} ${p.spec!.mac} Ready`);
  }
  const state = readState(ovs, names);
  for (const vm of BACKENDS) {
    const pid = state.servers[vm];
    if (pid === undefined || !ourServer(pid, names, vm)) state.servers[vm] = startServer(names, vm);
  }
  writeState(ovs, names, state);
  await createIfAbsent(rt, LBS, ns, {
    apiVersion: 'vnet.dev/v1alpha1',
    kind: 'LoadBalancer',
    metadata: { name: lbName },
    spec: { network: net, listeners: [{ protocol: 'TCP', port: 80, targetPort: 8080 }], backends: BACKENDS.map((vm) => ({ port: names.port(vm) })) },
  } as KubeObject);
  const lb = (await waitFor(rt, LBS, ns, lbName, ready, READY_MS)) as LoadBalancer | undefined;
  const vip = lb?.status?.vip ?? lb?.spec?.vip;
  if (!vip) throw new CliError(`demo up: load balancer ${ns}/${lbName} is Ready but has no VIP`);
  say(`load balancer ${ns}/${lbName}: VIP ${vip}:80 -> ${BACKENDS.map(names.port).join(', ')} :8080 (HTTP servers PIDs ${BACKENDS.map((b) => state.servers[b]).join(', ')})`);

  const [c1, c2] = CLIENTS.map((c) => ports.get(c)!.spec!.ips![0]!);
  const [pinger, requester] = CLIENTS.map(names.netns) as [string, string];
  say(`\n$ ip netns exec ${pinger} ping -c 2 ${c2}`);
  const ping = await nsExec(pinger, ['ping', '-c', '2', '-i', '0.2', '-W', '2', c2!]).catch((e: Error) => {
    throw new CliError(`demo up: ping from ${c1} to ${c2} failed: ${e.message}`);
  });
  say(ping.trimEnd());
  say(`\n$ requests from ${requester} to http://${vip}/ (new connection each)`);
  // Servers may still be binding right after a fresh start: retry the whole probe briefly.
  let answers = '';
  for (let i = 0; i < 10; i++) {
    try {
      answers = await nsExec(requester, [process.execPath, '-e', CLIENT, `http://${vip}/`, '40', String(BACKENDS.length)]);
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
  say(`\n${nextSteps(names, vip)}`);
}

/** The last line of `up`: commands that name this demo's namespace, port and load balancer, copied as they are. */
export function nextSteps(names: DemoNames, vip: string): string {
  const ns = names.namespace;
  return `demo is up: both backends answered through ${vip}. Try: vnetctl -n ${ns} lb status ${names.lb}; vnetctl -n ${ns} trace --from ${names.port(CLIENTS[0]!)} --to ${vip}:80. Remove it with: vnetctl demo down${names.flag}`;
}

async function demoDown(rt: Runtime, names: DemoNames): Promise<void> {
  refuseDryRun(rt);
  requireRoot('down');
  const ovs = await localOvs(rt, 'down');
  const say = (s: string) => rt.io.out(`${s}\n`);
  const ns = names.namespace;
  const state = readState(ovs, names);
  for (const [vm, pid] of Object.entries(state.servers)) {
    if (ourServer(pid, names, vm)) {
      await stopServer(pid);
      say(`stopped HTTP server of ${names.netns(vm)} (PID ${pid})`);
    }
  }
  removeState(ovs, names);
  for (const vm of VMS) {
    await vsctl(ovs, ['--if-exists', 'del-port', 'br-int', names.hostIf(vm)]);
    await inOvsNetns(ovs, ['ip', 'link', 'del', names.hostIf(vm)]).catch(() => undefined);
    if (netnsExists(names.netns(vm))) {
      await run('ip', ['netns', 'del', names.netns(vm)]);
      say(`removed VM ${names.netns(vm)}`);
    }
  }
  const gone: Array<{ kind: typeof PORTS; name: string }> = [];
  if (await deleteIfPresent(rt, LBS, ns, names.lb)) gone.push({ kind: LBS, name: names.lb });
  for (const vm of VMS) if (await deleteIfPresent(rt, PORTS, ns, names.port(vm))) gone.push({ kind: PORTS, name: names.port(vm) });
  if (await deleteIfPresent(rt, NETWORKS, ns, names.network)) gone.push({ kind: NETWORKS, name: names.network });
  await Promise.all(gone.map((g) => waitFor(rt, g.kind, ns, g.name, { kind: 'delete' }, READY_MS)));
  for (const g of gone) say(`deleted ${g.kind.kind} ${ns}/${g.name}`);
  // The namespace `up` made goes too (QA-98: "removes all of it" left it), unless it holds
  // objects of someone else's: deleting it would delete them. Events are vnetd's, not anyone's.
  const others = (await Promise.all(KINDS.filter((k) => k.namespaced && !k.readOnly).map(async (k) => (await listObjects(rt, k, ns)).items.map((o) => `${k.kind} ${o.metadata.name}`)))).flat();
  if (others.length > 0) say(`kept namespace ${ns}: it holds objects the demo did not make (${others.join(', ')})`);
  else if (await deleteIfPresent(rt, NAMESPACES, undefined, ns)) {
    await waitFor(rt, NAMESPACES, undefined, ns, { kind: 'delete' }, READY_MS);
    say(`deleted Namespace ${ns}`);
  }
  say('demo is down');
}

export function demoCommand(runtimeOf: RuntimeOf): Command {
  const demo = new Command('demo').description('a local demo on this node: four VMs (network namespaces), a network and an HTTP load balancer (needs root)');
  const prefixHelp = (verb: string) =>
    `${verb} the demo of this prefix: namespace P, VMs (network namespaces and ports) vP-c1, vP-c2, vP-b1, vP-b2, network vP-net, load balancer vP-web; 1-${DEMO_PREFIX_MAX} lowercase letters and digits (another prefix is another demo beside it)`;
  const up = demo
    .command('up')
    .description('create the demo (idempotent) and show a ping and requests through the VIP')
    .option('--prefix <P>', prefixHelp('create'), parser(parseDemoPrefix), DEFAULT_DEMO_PREFIX)
    .action(async (o: { prefix: string }, cmd: Command) => demoUp(runtimeOf(cmd), demoNames(o.prefix)));
  examples(up, ['sudo vnetctl demo up', 'sudo vnetctl demo up --prefix alice']);
  const down = demo
    .command('down')
    .description("remove everything the demo created (idempotent); another prefix's demo stays")
    .option('--prefix <P>', prefixHelp('remove'), parser(parseDemoPrefix), DEFAULT_DEMO_PREFIX)
    .action(async (o: { prefix: string }, cmd: Command) => demoDown(runtimeOf(cmd), demoNames(o.prefix)));
  examples(down, ['sudo vnetctl demo down', 'sudo vnetctl demo down --prefix alice']);
  return examples(demo, [
    'sudo vnetctl demo up',
    'sudo vnetctl -n demo trace --from vdemo-c1 --to VIP:80',
    'sudo vnetctl demo down',
    'sudo vnetctl demo up --prefix alice',
    'sudo vnetctl -n alice trace --from valice-c1 --to VIP:80',
    'sudo vnetctl demo down --prefix alice',
  ]);
}
