/**
 * Chaos on a real deployment on this machine: a three-member etcd cluster on loopback, two
 * `vnetd controller` replicas sharing it, two hypervisors of the test bed each programmed
 * by its own `vnetd agent`. Under a steady load of port creations and a 10 ms ping between
 * VMs on the two hypervisors:
 *   (b) kill -9 the leading controller: the standby takes over within 5 s and, as leader,
 *       makes a port created after the takeover Ready; no ping lost;
 *   (a) kill -9 the etcd raft leader: etcd elects another within 5 s, vnetd keeps (or
 *       re-establishes) a controller leader within 5 s, and the ping loses nothing;
 *   (c) kill -9 and restart an agent: its switch keeps forwarding (no ping lost), the new
 *       agent adopts the flows in place (same cookie round) and installs a port created
 *       while no agent ran.
 * After each: every acknowledged write is stored with the address it was acknowledged
 * with, nothing unattempted exists, no address is given twice. Each test prints what it
 * measured.
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { etcdAvailability, startEtcdCluster, type EtcdCluster } from '../harness/etcd';
import { startTestbed, type Testbed, type Vm } from '../harness/testbed';
import { joinBed, readyNow, type Obj } from '../e2e/overlay-support';
import { describeOvs } from '../integration/ovsdb-helpers';
import { eventually, type ApiResponse } from '../support/vnetd';
import {
  G,
  RoleMonitor,
  WriteLoad,
  api,
  flowRounds,
  freePort,
  longestLeaderless,
  readCredentials,
  startController,
  startPing,
  type Controller,
  type ControllerSpec,
  type Credentials,
  type Proc,
  spawnVnetd,
} from './chaos-support';

const etcdMissing = etcdAvailability();
if (etcdMissing) process.stdout.write(`[chaos] skipping: ${etcdMissing}\n`);
const describeChaos = etcdMissing ? (name: string, fn: () => void) => describe.skip(name, fn) : describeOvs;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Pings these tests may lose: none when etcd's leader or an agent dies; at most one around
 * a controller takeover (b), whose new leader starts by syncing both switches while CI's
 * other suites share the two cores. The losses seen before (1 or 3 pings in (b) in two of
 * eight runs, 3 in (c) once) came from plugging the late port's NIC during the ping, not
 * from the failure: see plugLateVm. With the NICs plugged beforehand, 0 lost in 3 of 3
 * runs of all three (2026-11-29). Each test prints what it lost.
 */
const PING_LOSS_TOLERATED = 0;
const TAKEOVER_PING_LOSS_TOLERATED = 1;

describeChaos('chaos: controller and etcd failover', () => {
  let cluster: EtcdCluster | undefined;
  let dataDir: string | undefined;
  let bed: Testbed | undefined;
  const specs: ControllerSpec[] = [];
  const ctrls: Controller[] = [];
  const agents = new Map<string, Proc>();
  const track = new Set<ChildProcess>();
  const monitor = new RoleMonitor(() => ctrls);
  let creds: Credentials;
  let vms: [Vm, Vm];

  /** The first live replica that answers (any replica serves the API). */
  const call = async (method: string, path: string, body?: unknown): Promise<ApiResponse> => {
    let last: unknown;
    for (const c of ctrls.filter((x) => x.alive())) {
      try {
        return await api(() => c.url, creds)(method, path, body);
      } catch (err) {
        last = err;
      }
    }
    throw new Error(`no controller answered: ${String(last)}`);
  };
  const must = async (method: string, path: string, body?: unknown) => {
    const r = await call(method, path, body);
    if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${r.text}`);
    return r.json;
  };
  const leaderNow = async (): Promise<Controller> =>
    eventually(async () => {
      const roles = await Promise.all(ctrls.map((c) => (c.alive() ? c.role() : undefined)));
      return ctrls.find((_, i) => roles[i] === true);
    }, 15_000, 50);
  // Agents reach the API through ctrl-b (what a Service in front of the replicas would pick
  // once ctrl-a, the first leader and the victim of (b), is gone).
  const startAgent = (node: string) => {
    const hv = bed!.hv(node);
    const kubeconfig = join(dataDir!, 'agent.kubeconfig');
    if (!existsSync(kubeconfig)) {
      const admin = readFileSync(join(dataDir!, 'admin.kubeconfig'), 'utf8');
      writeFileSync(kubeconfig, admin.replace(/server: .*/, `server: ${ctrls[1]!.url}`), { mode: 0o600 });
    }
    agents.set(node, spawnVnetd(`agent-${node}`, ['agent', '--node', node, '--kubeconfig', kubeconfig], { VNETD_OVSDB: `unix:${hv.ovs.dbSocket}` }, dataDir!));
  };
  const restart = async (i: number) => {
    ctrls[i] = startController(specs[i]!);
    await eventually(async () => (await ctrls[i]!.role()) !== undefined, 60_000, 100);
  };

  beforeAll(async () => {
    cluster = await startEtcdCluster(3);
    const dir = mkdtempSync(join(tmpdir(), 'vnetd-chaos-'));
    dataDir = dir;
    for (const name of ['ctrl-a', 'ctrl-b']) {
      specs.push({ name, port: await freePort(), dataDir: dir, etcd: cluster.endpoints });
    }
    // The first replica writes the shared PKI and admin kubeconfig; the second reuses them.
    ctrls[0] = startController(specs[0]!);
    creds = await readCredentials(dir);
    await eventually(async () => (await ctrls[0]!.role()) === true, 60_000, 100);
    await restart(1);
    monitor.start();

    bed = await startTestbed({ hypervisors: 2 });
    for (const hv of bed.hypervisors) startAgent(hv.name);
    await joinBed(bed, must);
    await must('POST', '/api/v1/namespaces', { metadata: { name: 'chaos' } });
    await must('POST', `${G}/namespaces/chaos/virtualnetworks`, { metadata: { name: 'pnet' }, spec: { subnets: [{ cidr: '10.50.0.0/24' }] } });
    await must('POST', `${G}/namespaces/chaos/virtualnetworks`, { metadata: { name: 'lnet' }, spec: { subnets: [{ cidr: '10.128.0.0/16' }] } });
    const out: Vm[] = [];
    for (const hv of bed.hypervisors) {
      const port = await must('POST', `${G}/namespaces/chaos/virtualports`, { metadata: { name: `vm-${hv.name}` }, spec: { network: 'pnet', node: hv.name } });
      out.push(await bed.addVm(hv.name, { name: `c${hv.name}`, ifaceId: port.spec.interfaceId, mac: port.spec.mac, ip: `${port.spec.ips[0]}/24` }));
    }
    vms = out as [Vm, Vm];
    for (const hv of bed.hypervisors) {
      await eventually(async () => readyNow((await call('GET', `${G}/namespaces/chaos/virtualports/vm-${hv.name}`)).json as Obj), 30_000, 100);
    }
    const target = vms[1].ip!.split('/')[0]!;
    await eventually(() => vms[0].exec(['ping', '-c', '1', '-W', '1', target]).then(() => true, () => false), 15_000, 100);
  }, 180_000);

  /**
   * The NIC of a port the test declares during the failure, plugged before the ping starts
   * (its iface-id and MAC are given to the port later): ovs-vswitchd's userspace datapath
   * loses a packet now and then while a port is added to any of its bridges, even one
   * vnetd does not manage (an experiment plugging six veths into a separate bridge during
   * a 10 ms ping lost 1-3 pings in 5 of 9 rounds, none in 14 rounds without). That loss is
   * OVS's, and these tests measure what a failure of etcd, a controller or an agent costs.
   */
  const plugLateVm = (node: string, name: string): Promise<Vm> => bed!.addVm(node, { name, ifaceId: `${name}-${process.pid}` });
  /** Declares the port of a NIC plugged by plugLateVm (a change of the VM's address is not one of OVS's). */
  const declareLatePort = async (name: string, vm: Vm): Promise<void> => {
    const port = await must('POST', `${G}/namespaces/chaos/virtualports`, { metadata: { name }, spec: { network: 'pnet', node: vm.hypervisor.name, interfaceId: vm.ifaceId, mac: vm.mac } });
    await vm.exec(['ip', 'addr', 'add', `${port.spec.ips[0]}/24`, 'dev', vm.iface]);
  };

  /** Write loads of the tests: stopped after each even when it failed half-way (a running load keeps Jest from exiting). */
  const loads = new Set<WriteLoad>();
  const newLoad = (tag: string): WriteLoad => {
    const l = new WriteLoad(() => ctrls, creds, 'chaos', 'lnet', tag);
    loads.add(l);
    return l;
  };
  afterEach(async () => {
    await Promise.all([...loads].map((l) => l.stop()));
    loads.clear();
  });

  afterAll(async () => {
    monitor.stop();
    for (const c of track) if (c.pid && c.exitCode === null) process.kill(c.pid, 'SIGTERM');
    await Promise.all([...ctrls, ...agents.values()].map((c) => c.kill('SIGKILL')));
    await bed?.stop();
    await cluster?.stop();
    if (!dataDir) return;
    if (process.env.VNETD_TEST_LOG) {
      for (const f of readdirSync(dataDir).filter((x) => x.endsWith('.log'))) process.stdout.write(`--- ${f}\n${readFileSync(join(dataDir, f), 'utf8')}`);
    }
    rmSync(dataDir, { recursive: true, force: true });
  }, 60_000);

  it('(b) kill -9 of the leading controller: standby leads within 5 s, no write lost, no duplicate address, at most one ping lost', async () => {
    const victim = await leaderNow();
    const lateVm = await plugLateVm('hv1', 'clate');
    const load = newLoad('b');
    load.start(2);
    const ping = startPing(vms[0], vms[1], 800, track);
    await sleep(1000);
    const t0 = performance.now();
    await victim.kill('SIGKILL');
    const next = await monitor.leaderAfter(t0, victim.name, 15_000);
    const takeoverMs = next.at - t0;
    // Bring the victim back (as a standby) while checking the new leader.
    const back = restart(ctrls.indexOf(victim));
    // The new leader reconciles: a port created now on hv1 becomes Ready (bound and
    // programmed by the agent, Ready aggregated by the leader from the agents' reports).
    await declareLatePort('late-b', lateVm);
    let lastStatus: unknown;
    await eventually(async () => {
      const p = (await call('GET', `${G}/namespaces/chaos/virtualports/late-b`)).json as Obj;
      lastStatus = p.status;
      return readyNow(p);
    }, 60_000, 100).catch((e: Error) => {
      throw new Error(`port created after the takeover not Ready: ${JSON.stringify(lastStatus)} (${e.message})`);
    });
    const reprogramMs = performance.now() - t0;
    await back;
    const r = await ping.done;
    await load.stop();
    const w = await load.check(call);
    process.stdout.write(
      `[chaos b] kill -9 leader ${victim.name}: ${next.name} leader after ${takeoverMs.toFixed(0)} ms, a port created then Ready ${reprogramMs.toFixed(0)} ms after the kill; ` +
        `writes: ${w.acked} acknowledged all stored, ${w.extra} unacknowledged stored, ${load.failures} failed; ` +
        `ping every 10 ms: ${r.sent} sent, ${r.sent - r.received} lost${r.missing.length ? ` (icmp_seq ${r.missing.slice(0, 20).join(',')})` : ''}; two leaders at once in ${monitor.splitBrain(t0)} polls\n`,
    );
    expect(takeoverMs).toBeLessThan(5000);
    expect(w.acked).toBeGreaterThan(0);
    expect(r.sent).toBe(800);
    expect(r.sent - r.received).toBeLessThanOrEqual(TAKEOVER_PING_LOSS_TOLERATED);
    expect(monitor.splitBrain(t0)).toBe(0);
  }, 120_000);

  it('(a) kill -9 of the etcd leader: etcd and vnetd have a leader within 5 s, no write lost, no duplicate address, no ping lost', async () => {
    // eventually() wants a truthy value: member 0 is a valid leader, so wrap the index.
    const etcdLeader = (await eventually(async () => {
      const l = await cluster!.leader();
      return l === undefined ? undefined : { l };
    }, 10_000, 50)).l;
    const ctrlBefore = await leaderNow();
    const load = newLoad('a');
    load.start(2);
    const ping = startPing(vms[0], vms[1], 600, track);
    await sleep(1000);
    const t0 = performance.now();
    await cluster!.members[etcdLeader]!.crash();
    let seenLeader: number | undefined;
    const newEtcdLeader = await eventually(async () => {
      const l = (seenLeader = await cluster!.leader());
      return l !== undefined && l !== etcdLeader ? { l } : undefined;
    }, 15_000, 25).catch((e: Error) => {
      throw new Error(`etcd has no new leader after killing member ${etcdLeader} (pid ${cluster!.members[etcdLeader]!.pid}): last answer ${seenLeader} (${e.message})`);
    });
    const etcdMs = performance.now() - t0;
    await sleep(3000);
    const leaderless = longestLeaderless(monitor.samples, t0);
    const ctrlAfter = await leaderNow();
    await cluster!.members[etcdLeader]!.restart();
    const r = await ping.done;
    await load.stop();
    const w = await load.check(call);
    process.stdout.write(
      `[chaos a] kill -9 etcd leader (member ${etcdLeader}): member ${newEtcdLeader.l} leader after ${etcdMs.toFixed(0)} ms; controller leader ${ctrlBefore.name} -> ${ctrlAfter.name}, longest stretch without one ${leaderless.toFixed(0)} ms; ` +
        `writes: ${w.acked} acknowledged all stored, ${w.extra} unacknowledged stored, ${load.failures} failed; ` +
        `ping every 10 ms: ${r.sent} sent, ${r.sent - r.received} lost${r.missing.length ? ` (icmp_seq ${r.missing.slice(0, 20).join(',')})` : ''}; two leaders at once in ${monitor.splitBrain(t0)} polls\n`,
    );
    expect(etcdMs).toBeLessThan(5000);
    expect(leaderless).toBeLessThan(5000);
    expect(w.acked).toBeGreaterThan(0);
    expect(r.sent).toBe(600);
    expect(r.sent - r.received).toBeLessThanOrEqual(PING_LOSS_TOLERATED);
    expect(monitor.splitBrain(t0)).toBe(0);
  }, 120_000);

  it('(c) kill -9 and restart of an agent: no ping lost, the new agent keeps the flows in place and installs what came meanwhile, no write lost', async () => {
    const hv = bed!.hv('hv2');
    const lateVm = await plugLateVm('hv2', 'clatec');
    const before = await flowRounds(hv);
    const ctrlBefore = await leaderNow();
    const load = newLoad('c');
    load.start(2);
    const ping = startPing(vms[0], vms[1], 600, track);
    await sleep(1000);
    const t0 = performance.now();
    await agents.get('hv2')!.kill('SIGKILL');
    // Ready only once a new agent has synced hv2's table, bound this port's VM and installed its flows.
    await declareLatePort('late-c', lateVm);
    startAgent('hv2');
    let last: unknown;
    await eventually(async () => {
      const p = (await call('GET', `${G}/namespaces/chaos/virtualports/late-c`)).json as Obj;
      last = p?.status;
      return readyNow(p);
    }, 60_000, 100).catch((e: Error) => {
      throw new Error(`the port created while hv2 had no agent is not Ready: ${JSON.stringify(last)} (${e.message})`);
    });
    const reprogramMs = performance.now() - t0;
    const after = await flowRounds(hv);
    const r = await ping.done;
    await load.stop();
    const w = await load.check(call);
    const ctrlAfter = await leaderNow();
    process.stdout.write(
      `[chaos c] kill -9 + restart agent hv2: a port created meanwhile Ready ${reprogramMs.toFixed(0)} ms after the kill, cookie rounds on br-int ${JSON.stringify([...before])} -> ${JSON.stringify([...after])}; controller leader ${ctrlBefore.name} -> ${ctrlAfter.name}; ` +
        `writes: ${w.acked} acknowledged all stored, ${w.extra} unacknowledged stored, ${load.failures} failed; ` +
        `ping every 10 ms: ${r.sent} sent, ${r.sent - r.received} lost${r.missing.length ? ` (icmp_seq ${r.missing.slice(0, 20).join(',')})` : ''}\n`,
    );
    expect(ctrlAfter.name).toBe(ctrlBefore.name);
    // The new agent adopted the round: its flows were compared and left in place, not re-added.
    expect(before.size).toBe(1);
    expect(after).toEqual(before);
    expect(w.acked).toBeGreaterThan(0);
    expect(r.sent).toBe(600);
    expect(r.sent - r.received).toBeLessThanOrEqual(PING_LOSS_TOLERATED);
  }, 120_000);
});
