/** vnetctl lb create|add-backend|set-weight|remove-backend|add-listener|set-listener|remove-listener|set-health|status|list|get|delete */
import { setTimeout as sleep } from 'node:timers/promises';
import { Command } from 'commander';
import type { KubeEvent } from '../../resources/event';
import type { Backend, HypervisorNode, Listener, LoadBalancer, VirtualPort } from '../../resources/kinds';
import { attempt, type AttemptSpec } from '../attempt';
import { ApiStatusError, CliError, UsageError } from '../errors';
import { listEvents } from '../events';
import { parseBackend, sameBackend } from '../flags/backend';
import { healthCheckForCreate, parseHealthEdit, type HealthFlagValues } from '../flags/health';
import { parseListen } from '../flags/listen';
import { backendLabel, describeObject, kindByPlural, listenerLabel, qualifiedName } from '../kinds';
import { createObject, getObject, JSON_PATCH, listObjects, patchObject, type JsonPatchOp } from '../ops';
import { renderObjects } from '../output/printer';
import type { Runtime } from '../runtime';
import { portProto, sameListener, setTargetPortOps, targetPortHint } from './lb-listeners';
import { refuseMissingPorts } from './lb-missing-ports';
import { addHealthTuningOptions, DEFAULT_HEALTH_CHECK, describeHealthCheck, healthCheckOps, NO_HEALTH_CHECK } from './lb-health-check';
import { renderLbStatus, type PortFacts } from './lb-status';
import { addReadDelete, examples, parser, printWritten, repeatable, type RuntimeOf } from './shared';

const LBS = kindByPlural('loadbalancers');
const PORTS = kindByPlural('virtualports');
const NODES = kindByPlural('nodes');
const FLAGS = [
  ['metadata.name', 'NAME'],
  ['spec.network', '--network'],
  ['spec.vip', '--vip'],
  ['spec.listeners', '--listen'],
  ['spec.backends', '--backend'],
  // The specific fields first: a cause's field is matched against these in order.
  ['spec.healthCheck.intervalSeconds', '--health-interval'],
  ['spec.healthCheck.timeoutSeconds', '--health-timeout'],
  ['spec.healthCheck.healthyThreshold', '--healthy-threshold'],
  ['spec.healthCheck.unhealthyThreshold', '--unhealthy-threshold'],
  ['spec.healthCheck.protocol', '--health-protocol'],
  ['spec.healthCheck.port', '--health-port'],
  ['spec.healthCheck.udp.payload', '--health-udp-payload-hex'],
  ['spec.healthCheck.udp', '--health-udp-expect-reply'],
  ['spec.healthCheck', '--health-check'],
] as const;
/** set-health has no --health-check: a cause on the whole check is left unnamed rather than named by a flag it lacks. */
const SET_HEALTH_FLAGS = FLAGS.filter(([field]) => field !== 'spec.healthCheck');
/** Tries of an edit that other writers keep getting in before (each round, one of them wins). */
const MAX_TRIES = 12;

/** A json-patch test on the generation that failed means someone else changed the spec first: re-read and retry. */
function lostRace(err: unknown): boolean {
  return err instanceof ApiStatusError && (err.httpStatus === 409 || (err.httpStatus === 422 && /test operation failed/i.test(err.status.message)));
}

/** Before try i (from 2): 10 ms doubling to 320 ms, with jitter, so that writers that collided spread out. */
function retryDelayMs(i: number): number {
  return Math.min(320, 10 * 2 ** (i - 2)) * (0.5 + Math.random());
}

/**
 * Read-modify-write of a load balancer through a JSON patch guarded by a test on
 * metadata.generation, retried when another writer changed the spec first. The generation
 * moves with the spec only: a guard on the resourceVersion also lost to every status write
 * (connection counts, health), and 8 concurrent add-backends failed one (QA). No ops:
 * nothing to write, the object is returned as read.
 */
async function editLoadBalancer(rt: Runtime, name: string, verb: string, edit: (lb: LoadBalancer) => JsonPatchOp[], flags: AttemptSpec['flags'] = FLAGS): Promise<LoadBalancer> {
  const ns = rt.namespace();
  return attempt(rt, { verb, kind: LBS, name, flags }, async () => {
    for (let i = 1; ; i++) {
      const lb = await getObject<LoadBalancer>(rt, LBS, ns, name);
      // The API takes the edit (as kube-apiserver does) and nothing ever realizes it (QA-96).
      if (lb.metadata.deletionTimestamp) {
        const waits = (lb.metadata.finalizers ?? []).join(', ');
        throw new CliError(`cannot ${verb} ${describeObject(LBS, name, ns)}: it is being deleted${waits ? ` (it waits for its finalizers: ${waits})` : ''}, so the change would never take effect; create a load balancer under another name, or wait for this one to go`);
      }
      const ops = edit(lb);
      if (ops.length === 0) return lb;
      try {
        return await patchObject<LoadBalancer>(rt, LBS, ns, name, JSON_PATCH, [{ op: 'test', path: '/metadata/generation', value: lb.metadata.generation }, ...ops]);
      } catch (err) {
        if (!lostRace(err)) throw err;
        if (i >= MAX_TRIES) {
          throw new CliError(`cannot ${verb} ${describeObject(LBS, name, ns)}: other writers changed its spec before each of ${MAX_TRIES} tries; run the command again`, undefined, err);
        }
        await sleep(retryDelayMs(i + 1));
      }
    }
  });
}

function editBackends(rt: Runtime, name: string, verb: string, edit: (lb: LoadBalancer, current: Backend[]) => JsonPatchOp[]): Promise<LoadBalancer> {
  return editLoadBalancer(rt, name, verb, (lb) => edit(lb, lb.spec?.backends ?? []));
}

/** Addresses and nodes of the port backends, for the status view; best effort (a tenant may not list ports). */
async function portFacts(rt: Runtime, lb: LoadBalancer): Promise<Map<string, PortFacts>> {
  const out = new Map<string, PortFacts>();
  if (!(lb.spec?.backends ?? []).some((b) => b.port !== undefined)) return out;
  try {
    const ports = await listObjects<VirtualPort>(rt, PORTS, rt.namespace());
    for (const p of ports.items) out.set(p.metadata.name, { ips: p.status?.ips ?? p.spec?.ips ?? [], node: p.status?.node ?? p.spec?.node });
  } catch {
    /* the table shows "-" instead */
  }
  return out;
}

/** The Nodes, for what they report against the backends; undefined where the token may not read them (a tenant's). */
async function nodesOf(rt: Runtime): Promise<HypervisorNode[] | undefined> {
  try {
    return (await listObjects<HypervisorNode>(rt, NODES, undefined)).items;
  } catch {
    return undefined;
  }
}

/** The load balancer's events (undefined: the server serves none, or would not give them). */
async function eventsOf(rt: Runtime, lb: LoadBalancer): Promise<KubeEvent[] | undefined> {
  try {
    return await listEvents(rt, lb.metadata.namespace ?? rt.namespace(), { kind: LBS, name: lb.metadata.name, uid: lb.metadata.uid });
  } catch {
    return undefined;
  }
}

/**
 * An address given where a backend is declared by its port (QA: "10.77.0.4 is not one of its
 * backends" while port b2, 10.77.0.4, was): names the port, as the status resolves it.
 */
export function portOfAddress(lb: LoadBalancer, b: Backend): string {
  if (b.ip === undefined) return '';
  const hit = (lb.status?.backends ?? []).find((s) => s.ip === b.ip && (lb.spec?.backends ?? []).some((x) => x.port === s.name));
  return hit ? `; ${b.ip} is the address of backend ${hit.name} (a VirtualPort): name it instead, --backend ${hit.name}` : '';
}

/** The VirtualPorts the --backend flags name (undefined for an address, or a port not there): for addressOfPort. */
function portsNamed(rt: Runtime, backends: readonly Backend[]): Promise<Array<VirtualPort | undefined>> {
  return Promise.all(backends.map((b) => (b.port === undefined ? undefined : getObject<VirtualPort>(rt, PORTS, rt.namespace(), b.port).catch(() => undefined))));
}

/** The hint for a port named where the load balancer lists its address instead (QA-107); suffix: what the flag's value goes on with. */
function addressOfPort(backends: readonly Backend[], port: VirtualPort | undefined, suffix: string): string {
  const ip = port?.spec?.ips?.find((a) => backends.some((x) => x.port === undefined && x.ip === a));
  return port && ip ? `; ${ip}, the address of VirtualPort ${port.metadata.name}, is: name it instead, --backend ${ip}${suffix}` : '';
}

/** An edited load balancer: one line after its name in a table output, else the object. */
function printEdited(rt: Runtime, lb: LoadBalancer, line: (lb: LoadBalancer) => string): void {
  if (rt.output === 'table' || rt.output === 'wide') rt.io.out(`${qualifiedName(LBS, lb.metadata.name)}${line(lb)}${rt.dryRunNote}\n`);
  else rt.io.out(renderObjects(LBS, [lb], rt.output, rt.term, { single: true }));
}

function printBackends(rt: Runtime, lb: LoadBalancer, what: string): void {
  printEdited(rt, lb, (cur) => {
    const list = (cur.spec?.backends ?? []).map(backendLabel);
    return ` ${what}; backends now: ${list.length ? list.join(', ') : '<none>'}`;
  });
}

/** A flag given twice for one thing (the same backend, port and protocol): refused before anything is sent. */
function refuseRepeated<T>(items: readonly T[], same: (a: T, b: T) => boolean, say: (item: T, earlier: T) => string): void {
  for (const [i, item] of items.entries()) {
    const earlier = items.slice(0, i).find((x) => same(x, item));
    if (earlier) throw new UsageError(say(item, earlier));
  }
}

function refuseRepeatedBackends(backends: readonly Backend[]): void {
  refuseRepeated(backends, sameBackend, (b, earlier) => `--backend ${backendLabel(b)} is given twice (also as ${backendLabel(earlier)}); give each backend once`);
}

function refuseRepeatedListeners(listeners: readonly Listener[]): void {
  refuseRepeated(listeners, sameListener, (l, earlier) => `--listen ${listenerLabel(l)} is given twice (also as ${listenerLabel(earlier)}); give each port and protocol once`);
}

function printListeners(rt: Runtime, lb: LoadBalancer, what: string): void {
  printEdited(rt, lb, (cur) => ` ${what}; listeners now: ${(cur.spec?.listeners ?? []).map(listenerLabel).join(', ') || '<none>'}`);
}

function printHealthCheck(rt: Runtime, lb: LoadBalancer): void {
  printEdited(rt, lb, (cur) => `: health check ${cur.spec?.healthCheck ? describeHealthCheck(cur.spec.healthCheck) : `off (${NO_HEALTH_CHECK})`}`);
}

export function lbCommand(runtimeOf: RuntimeOf): Command {
  const group = new Command('lb').description('load balancers (LoadBalancer): a VIP with L4 listeners balanced over weighted backends (a table of 256 to 8192 slots, 64 or more per backend, dealt by weighted rendezvous hashing, used alike by OVS and the fast path; it grows with the backends and never shrinks)');
  const create = group
    .command('create')
    .description('create a load balancer on a network')
    .argument('<name>', 'load balancer name (DNS label)')
    .requiredOption('--network <net>', 'the VirtualNetwork that carries the VIP')
    .option('--vip <ip>', 'the virtual IP (allocated from the network when omitted)')
    .requiredOption('--listen <port[:target][/proto]>', 'a listener, e.g. 80:8080/tcp (repeatable)', repeatable(parseListen))
    .option('--backend <port|ip[=weight]>', 'a backend VirtualPort name or IP, optional weight 0-100 (0: drained; repeatable)', repeatable(parseBackend))
    .option('--session-affinity <mode>', 'None or ClientIP (any case)', parser((t) => {
      // As --listen takes tcp or TCP: the case of a flag value never mattered elsewhere.
      const mode = ['None', 'ClientIP'].find((m) => m.toLowerCase() === t.toLowerCase());
      if (!mode) throw new Error(`"${t}" is not None or ClientIP`);
      return mode;
    }))
    .option('--allow-missing', 'take backends naming VirtualPorts that do not exist yet (without it, such a name is refused as a typo)')
    .option('--health-check', `check the backends from the VIP on their listeners' target ports (TCP connects; UDP datagrams with --health-protocol udp): ${DEFAULT_HEALTH_CHECK} unless tuned with the flags below (without it, ${NO_HEALTH_CHECK})`);
  addHealthTuningOptions(create, (dflt) => `default ${dflt}; implies --health-check`);
  examples(
    create.action(async (name: string, o: { network: string; vip?: string; listen: Listener[]; backend?: Backend[]; sessionAffinity?: 'None' | 'ClientIP'; healthCheck?: boolean; allowMissing?: boolean } & HealthFlagValues, cmd: Command) => {
        // Before anything is sent: a bad value creates nothing.
        if (o.vip !== undefined && o.vip.trim() === '') throw new UsageError('--vip needs an address (leave the flag out to have one allocated)');
        if (o.network.trim() === '') throw new UsageError('--network needs the name of the VirtualNetwork that carries the VIP');
        const healthCheck = healthCheckForCreate(o);
        const rt = runtimeOf(cmd);
        if (!o.allowMissing) await attempt(rt, { verb: 'create', kind: LBS, name, flags: FLAGS }, () => refuseMissingPorts(rt, name, o.backend ?? [], 'create'));
        const body: LoadBalancer = {
          apiVersion: LBS.apiVersion,
          kind: LBS.kind,
          metadata: { name },
          spec: {
            network: o.network,
            listeners: o.listen,
            ...(o.vip ? { vip: o.vip } : {}),
            ...(o.backend ? { backends: o.backend } : {}),
            ...(o.sessionAffinity ? { sessionAffinity: o.sessionAffinity } : {}),
            ...(healthCheck ? { healthCheck } : {}),
          },
        };
        const created = await attempt(rt, { verb: 'create', kind: LBS, name, flags: FLAGS }, () => createObject<LoadBalancer>(rt, LBS, rt.namespace(), body));
        printWritten(rt, LBS, created, 'created');
      }),
    [
      'vnetctl lb create web --network blue --listen 80:8080/tcp --backend vm1-eth0 --backend vm2-eth0',
      'vnetctl lb create dns --network blue --vip 10.0.0.53 --listen 53/udp --listen 53/tcp --backend 10.0.0.11=2 --backend 10.0.0.12',
      'vnetctl lb create api --network blue --listen 443 --backend vm1-eth0 --backend vm2-eth0 --health-check',
      'vnetctl lb create db --network blue --listen 5432 --backend vm3-eth0 --health-interval 10s --unhealthy-threshold 2',
      'vnetctl lb create dns --network blue --listen 53:5353/udp --backend vm1-eth0 --backend vm2-eth0 --health-protocol udp',
      'vnetctl lb create syslog --network blue --listen 514/udp --backend vm1-eth0 --health-protocol tcp --health-port 8514',
      'vnetctl lb create resolver --network blue --listen 53/udp --backend vm1-eth0 --backend vm2-eth0 --health-dns-query health.example.com --health-interval 2s',
      'vnetctl lb create game --network blue --listen 7777/udp --backend vm1-eth0 --health-udp-payload-hex "ff ff ff ff 70 69 6e 67" --health-udp-expect-reply',
    ],
  );
  examples(
    group
      .command('add-backend')
      .description('add backends to a load balancer')
      .argument('<name>', 'load balancer name')
      .requiredOption('--backend <port|ip[=weight]>', 'backend to add (repeatable)', repeatable(parseBackend))
      .option('--allow-missing', 'take backends naming VirtualPorts that do not exist yet (without it, such a name is refused as a typo)')
      .action(async (name: string, o: { backend: Backend[]; allowMissing?: boolean }, cmd: Command) => {
        const rt = runtimeOf(cmd);
        refuseRepeatedBackends(o.backend);
        if (!o.allowMissing) await attempt(rt, { verb: 'add a backend to', kind: LBS, name, flags: FLAGS }, () => refuseMissingPorts(rt, name, o.backend, 'add a backend to'));
        const lb = await editBackends(rt, name, 'add a backend to', (cur, backends) => {
          for (const b of o.backend) {
            const dup = backends.find((x) => sameBackend(x, b));
            if (dup) throw new CliError(`cannot add backend ${backendLabel(b)} to loadbalancer "${cur.metadata.name}": it is already a backend (${backendLabel(dup)}); change its weight with: vnetctl lb set-weight ${cur.metadata.name} --backend ${b.port ?? b.ip}=N`);
          }
          return backends.length === 0 && cur.spec?.backends === undefined
            ? [{ op: 'add', path: '/spec/backends', value: o.backend }]
            : o.backend.map((b) => ({ op: 'add' as const, path: '/spec/backends/-', value: b }));
        });
        printBackends(rt, lb, `added ${o.backend.map(backendLabel).join(', ')}`);
      }),
    ['vnetctl lb add-backend web --backend vm3-eth0', 'vnetctl lb add-backend web --backend 10.0.0.40=3 --backend vm4-eth0'],
  );
  examples(
    group
      .command('set-weight')
      .description("change backends' weights in place: their connections stay; weight 0 drains a backend (no new connections, its established TCP connections go on; UDP flows are dealt again a second later), where removing it resets them")
      .argument('<name>', 'load balancer name')
      .requiredOption('--backend <port|ip=weight>', 'backend and its new weight, 0-100 (0: drain; repeatable)', repeatable(parseBackend))
      .action(async (name: string, o: { backend: Backend[] }, cmd: Command) => {
        const rt = runtimeOf(cmd);
        for (const b of o.backend) {
          if (b.weight === undefined) throw new UsageError(`--backend ${backendLabel(b)}: give the new weight, e.g. --backend ${b.port ?? b.ip}=2`);
        }
        refuseRepeatedBackends(o.backend);
        // A port named where its address is the backend: the addresses of the ports named, for the hint.
        const named = await portsNamed(rt, o.backend);
        const lb = await editBackends(rt, name, 'set a backend weight of', (cur, backends) =>
          o.backend.map((b, k) => {
            const i = backends.findIndex((x) => sameBackend(x, b));
            if (i < 0) throw new CliError(`cannot set the weight of ${b.port ?? b.ip} in loadbalancer "${cur.metadata.name}": it is not one of its backends (${backends.map(backendLabel).join(', ') || 'none'})${portOfAddress(cur, b)}${addressOfPort(backends, named[k], '=N')}`);
            return { op: 'add' as const, path: `/spec/backends/${i}/weight`, value: b.weight };
          }),
        );
        printBackends(rt, lb, `weights set: ${o.backend.map(backendLabel).join(', ')}`);
      }),
    ['vnetctl lb set-weight web --backend vm3-eth0=3', 'vnetctl lb set-weight web --backend 10.0.0.40=1 --backend vm4-eth0=4', 'vnetctl lb set-weight web --backend vm2-eth0=0   # drain it, then remove-backend'],
  );
  examples(
    group
      .command('remove-backend')
      .description('remove backends from a load balancer')
      .argument('<name>', 'load balancer name')
      .requiredOption('--backend <port|ip>', 'backend to remove (repeatable)', repeatable(parseBackend))
      .action(async (name: string, o: { backend: Backend[] }, cmd: Command) => {
        const rt = runtimeOf(cmd);
        // As add-backend and set-weight refuse them (QA-96: a weight was ignored, a repeat removed "twice").
        for (const b of o.backend) {
          if (b.weight !== undefined) throw new UsageError(`--backend ${backendLabel(b)}: remove-backend takes no weight; to drain it first: vnetctl lb set-weight ${name} --backend ${b.port ?? b.ip}=0`);
        }
        refuseRepeatedBackends(o.backend);
        const named = await portsNamed(rt, o.backend);
        const lb = await editBackends(rt, name, 'remove a backend from', (cur, backends) => {
          const indexes = o.backend.map((b, k) => {
            const i = backends.findIndex((x) => sameBackend(x, b));
            if (i < 0) {
              throw new CliError(`cannot remove backend ${b.port ?? b.ip} from loadbalancer "${cur.metadata.name}": it is not one of its backends (${backends.map(backendLabel).join(', ') || 'none'})${portOfAddress(cur, b)}${addressOfPort(backends, named[k], '')}`);
            }
            return i;
          });
          // Highest index first, so earlier removals do not shift later ones.
          return [...new Set(indexes)].sort((a, b) => b - a).map((i) => ({ op: 'remove' as const, path: `/spec/backends/${i}` }));
        });
        printBackends(rt, lb, `removed ${o.backend.map((b) => b.port ?? b.ip).join(', ')}`);
      }),
    ['vnetctl lb remove-backend web --backend vm3-eth0'],
  );
  examples(
    group
      .command('add-listener')
      .description('add listeners to a load balancer (a VIP belongs to one load balancer: more ports on it are more listeners of that one)')
      .argument('<name>', 'load balancer name')
      .requiredOption('--listen <port[:target][/proto]>', 'a listener to add, e.g. 443:8443/tcp (repeatable)', repeatable(parseListen))
      .action(async (name: string, o: { listen: Listener[] }, cmd: Command) => {
        const rt = runtimeOf(cmd);
        refuseRepeatedListeners(o.listen);
        const lb = await editLoadBalancer(rt, name, 'add a listener to', (cur) => {
          const listeners = cur.spec?.listeners ?? [];
          for (const l of o.listen) {
            const at = listeners.findIndex((x) => sameListener(x, l));
            if (at >= 0) throw new CliError(`cannot add listener ${listenerLabel(l)} to loadbalancer "${cur.metadata.name}": it already listens on ${portProto(listeners[at]!)} (${listenerLabel(listeners[at]!)})${targetPortHint(cur, at, l)}`);
          }
          return o.listen.map((l) => ({ op: 'add' as const, path: '/spec/listeners/-', value: l }));
        });
        printListeners(rt, lb, `added ${o.listen.map(listenerLabel).join(', ')}`);
      }),
    ['vnetctl lb add-listener web --listen 443:8443/tcp', 'vnetctl lb add-listener dns --listen 53/udp --listen 53/tcp'],
  );
  examples(
    group
      .command('set-listener')
      .description("change an existing listener's target port in place (a listener is its port and protocol, which stay): its established TCP connections keep the old port, new ones go to the new one, and its running UDP flows move to it about a second later")
      .argument('<name>', 'load balancer name')
      .requiredOption('--listen <port[:target][/proto]>', 'the port and protocol of a listener and its new target port, e.g. 80:8081/tcp (without :TARGET, the port itself; repeatable)', repeatable(parseListen))
      .action(async (name: string, o: { listen: Listener[] }, cmd: Command) => {
        const rt = runtimeOf(cmd);
        refuseRepeatedListeners(o.listen);
        const lb = await editLoadBalancer(rt, name, 'set a listener of', (cur) => setTargetPortOps(cur, o.listen));
        printListeners(rt, lb, `set ${o.listen.map(listenerLabel).join(', ')}`);
      }),
    ['vnetctl lb set-listener web --listen 80:8081/tcp', 'vnetctl lb set-listener dns --listen 53:5353/udp --listen 53:5353/tcp', 'vnetctl lb set-listener web --listen 443   # target port back to 443'],
  );
  examples(
    group
      .command('remove-listener')
      .description('remove listeners from a load balancer: new connections to that port of the VIP are refused (TCP RST, ICMP port unreachable, SCTP ABORT), as by a listener without backends; the VIP and its other listeners stay')
      .argument('<name>', 'load balancer name')
      .requiredOption('--listen <port[/proto]>', 'the port and protocol of a listener to remove, e.g. 443/tcp (repeatable)', repeatable(parseListen))
      .action(async (name: string, o: { listen: Listener[] }, cmd: Command) => {
        const rt = runtimeOf(cmd);
        refuseRepeatedListeners(o.listen);
        const lb = await editLoadBalancer(rt, name, 'remove a listener from', (cur) => {
          const listeners = cur.spec?.listeners ?? [];
          const indexes = o.listen.map((l) => {
            const i = listeners.findIndex((x) => sameListener(x, l));
            if (i < 0) throw new CliError(`cannot remove listener ${portProto(l)} from loadbalancer "${cur.metadata.name}": it does not listen there (${listeners.map(listenerLabel).join(', ') || 'no listeners'})`);
            return i;
          });
          if (new Set(indexes).size >= listeners.length) throw new CliError(`cannot remove every listener of loadbalancer "${cur.metadata.name}": a load balancer listens on at least one port; delete it instead: vnetctl lb delete ${cur.metadata.name}`);
          return [...new Set(indexes)].sort((a, b) => b - a).map((i) => ({ op: 'remove' as const, path: `/spec/listeners/${i}` }));
        });
        printListeners(rt, lb, `removed ${o.listen.map(portProto).join(', ')}`);
      }),
    ['vnetctl lb remove-listener web --listen 443/tcp'],
  );
  examples(
    addHealthTuningOptions(
      group
        .command('set-health')
        .description(`change or remove a load balancer's health check (TCP or UDP): the settings given replace the current ones, the others are kept; a load balancer without a check gets one, with the defaults (${DEFAULT_HEALTH_CHECK}) for the settings not given`)
        .argument('<name>', 'load balancer name'),
      (dflt) => `kept when not given; the server's default is ${dflt}`,
    )
      .option('--health-check', `turn the check on with the defaults (${DEFAULT_HEALTH_CHECK}); a check already on is left as it is`)
      .option('--off', `remove the health check (then ${NO_HEALTH_CHECK}); give it alone`)
      .action(async (name: string, o: HealthFlagValues & { off?: boolean; healthCheck?: boolean }, cmd: Command) => {
        const edit = parseHealthEdit(o);
        const rt = runtimeOf(cmd);
        const lb = await editLoadBalancer(rt, name, 'set the health check of', (cur) => healthCheckOps(cur.spec?.healthCheck, edit), SET_HEALTH_FLAGS);
        printHealthCheck(rt, lb);
      }),
    ['vnetctl lb set-health web --health-check', 'vnetctl lb set-health web --health-interval 10s', 'vnetctl lb set-health dns --health-protocol udp --health-port none', 'vnetctl lb set-health dns --health-dns-query health.example.com', 'vnetctl lb set-health dns --no-health-udp-expect-reply --health-udp-payload-hex none', 'vnetctl lb set-health web --unhealthy-threshold 5 --healthy-threshold 1', 'vnetctl lb set-health web --off'],
  );
  examples(
    group
      .command('status')
      .description('show a load balancer: VIP, listeners, backends with node, health and connections, the nodes that realized it, conditions, latest events')
      .argument('<name>', 'load balancer name')
      .action(async (name: string, _o: unknown, cmd: Command) => {
        const rt = runtimeOf(cmd);
        const lb = await attempt(rt, { verb: 'get', kind: LBS, name }, () => getObject<LoadBalancer>(rt, LBS, rt.namespace(), name));
        if (rt.output === 'table' || rt.output === 'wide') {
          // Two reads that do not wait on each other.
          const [ports, events, nodes] = await Promise.all([portFacts(rt, lb), eventsOf(rt, lb), nodesOf(rt)]);
          rt.io.out(renderLbStatus(lb, rt.term, ports, new Date(), events, nodes));
        } else rt.io.out(renderObjects(LBS, [lb], rt.output, rt.term, { single: true }));
      }),
    ['vnetctl lb status web', 'vnetctl lb status web -o json'],
  );
  addReadDelete(group, LBS, runtimeOf, { delete: true });
  return examples(group, ['vnetctl lb create web --network blue --listen 80:8080/tcp --backend vm1-eth0 --backend vm2-eth0', 'vnetctl lb add-backend web --backend vm3-eth0', 'vnetctl lb status web']);
}
