/**
 * Two agents for one node (a mistake, or a rolling update that surges): the newer one
 * takes the switch over and the older one stops, instead of the two undoing each other's
 * flows. Each agent claims the node in its NodeRealization (status.agent) with a
 * generation above the previous claim's and the switch's, and claims the switch's
 * OpenFlow master role and the database's vnetd-generation with it. Proves, with a 10 ms ping between two VMs of the
 * node running throughout, that:
 *  - the second agent's generation is higher, it is recorded in the hypervisor's database,
 *    and the first agent reports itself fenced and stops;
 *  - the takeover loses no packet and leaves the flows in place (same cookie round, none
 *    re-added);
 *  - the new agent programs what comes next (a new port becomes Ready and answers pings);
 *  - a switch that has seen a generation far above the store's (a store restored from an
 *    old backup) does not leave the next agent fenced: it counts from the switch's.
 */
import type { ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { startAgent, type RunningAgent } from '../../src/agent/agent';
import type { NodeRealization } from '../../src/resources/kinds';
import { CLUSTER_EVENTS_NAMESPACE } from '../../src/resources/event';
import { startOvs } from '../harness/ovs';
import { startTestbed, type Testbed } from '../harness/testbed';
import { describeOvs } from '../integration/ovsdb-helpers';
import { eventually, startTestVnetd, type TestVnetd } from '../support/vnetd';
import { flowRounds, startPing } from '../chaos/chaos-support';
import { cliRunner } from '../integration/cli-support';
import { G, joinBed, overlayApi, startNamedServer } from './overlay-support';

// Heartbeats every 300 ms, a silent agent noticed after 2 s (defaults 20 s / 60 s): read
// when the controller's leader and the agents start, in this process.
process.env.VNETD_AGENT_HEARTBEAT_MS = '300';
process.env.VNETD_AGENT_TIMEOUT_MS = '2000';

function log(line: string): void {
  process.stdout.write(`[agents-fencing] ${line}\n`);
}

describeOvs('agents: a second agent for the same node fences the first off', () => {
  let v: TestVnetd;
  let bed: Testbed;
  const agents: RunningAgent[] = [];
  const children = new Set<ChildProcess>();
  const api = overlayApi(() => v);
  /** hv1's agent token (AccessToken spec.node: hv1), as each host's agent should hold. */
  let hv1Kubeconfig: string;
  const newAgent = () => {
    const a = startAgent({ node: 'hv1', kubeconfig: hv1Kubeconfig, ovsdb: `unix:${bed.hv('hv1').ovs.dbSocket}`, logLevel: process.env.VNETD_TEST_LOG ?? 'silent', workers: 2, metricsAddress: '127.0.0.1:0' });
    return a.then((x) => (agents.push(x), x));
  };

  beforeAll(async () => {
    v = await startTestVnetd({ role: 'controller' });
    hv1Kubeconfig = await v.agentKubeconfig('hv1');
    bed = await startTestbed({ hypervisors: 1 });
    await newAgent();
    await joinBed(bed, api.call);
  }, 90_000);

  afterAll(async () => {
    // Jest runs later files in this worker process: they get the defaults back.
    delete process.env.VNETD_AGENT_HEARTBEAT_MS;
    delete process.env.VNETD_AGENT_TIMEOUT_MS;
    for (const c of children) if (c.pid && c.exitCode === null) process.kill(c.pid, 'SIGTERM');
    for (const a of agents) await a.close();
    await bed?.stop();
    await v?.stop();
  }, 60_000);

  it('the agent serves its node\'s flow-table series at its own /metrics; the controller, its leadership', async () => {
    const [first] = agents as [RunningAgent];
    const generation = (await first.claimed)!;
    expect(first.metrics?.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const scrape = async (path = '/metrics') => {
      const r = await fetch(`${first.metrics!.url}${path}`);
      return { status: r.status, text: await r.text() };
    };
    const synced = await eventually(async () => {
      const m = await scrape();
      return /^vnetd_openflow_in_sync\{node="hv1"\} 1$/m.test(m.text) ? m.text : undefined;
    }, 15_000, 100);
    expect(synced).toMatch(new RegExp(`^vnetd_agent_generation\\{node="hv1"\\} ${generation}$`, 'm'));
    expect(synced).toMatch(/^vnetd_openflow_desired_flows\{node="hv1"\} [1-9]\d*$/m);
    expect(synced).toMatch(/^vnetd_process_cpu_seconds_total /m);
    expect((await scrape('/healthz')).status).toBe(404);
    // The controller programs no switch here: no switch series (they were HELP lines with no
    // samples), and it says that it leads.
    const controller = (await v.call('GET', '/metrics')).text;
    expect(controller).not.toMatch(/vnetd_openflow_|vnetd_fastpath_/);
    expect(controller).toMatch(/^vnetd_leader\{identity="[^"]+"\} 1$/m);
    log(`agent /metrics at ${first.metrics!.url}: in sync, generation ${generation}; controller: vnetd_leader 1`);
  }, 60_000);

  it('the newer agent takes the switch over without a lost packet; the older one stops', async () => {
    const ns = 'fencing';
    await api.network(ns, 'net', { subnets: [{ cidr: '10.61.0.0/24' }] });
    const a = await api.vmFor(bed, ns, 'net', 'a', 'hv1', { vmName: 'fa' });
    const b = await api.vmFor(bed, ns, 'net', 'b', 'hv1', { vmName: 'fb' });
    // The NIC of the port declared after the takeover, plugged now: adding a port to a
    // bridge can cost OVS's userspace datapath a packet (see the chaos tests' plugLateVm).
    const c = await bed.addVm('hv1', { name: 'fc', ifaceId: `fencing-c-${process.pid}` });
    const [first] = agents as [RunningAgent];
    const firstGeneration = (await first.claimed)!;
    const hv = bed.hv('hv1');
    const recorded = async () => (await hv.ovs.vsctl(['--if-exists', 'get', 'Open_vSwitch', '.', 'external_ids:vnetd-generation'])).trim().replace(/"/g, '');
    await eventually(async () => (await recorded()) === firstGeneration.toString(), 10_000, 50);
    const roundsBefore = await flowRounds(hv);
    expect(roundsBefore.size).toBe(1);

    const COUNT = 500;
    const ping = startPing(a.vm, b.vm, COUNT, children);
    await new Promise((r) => setTimeout(r, 1000));

    const t0 = performance.now();
    const second = await newAgent();
    const secondGeneration = (await second.claimed)!;
    expect(secondGeneration).toBeGreaterThan(firstGeneration);
    let timer: NodeJS.Timeout | undefined;
    const reason = await Promise.race([first.fenced, new Promise<string>((_, reject) => (timer = setTimeout(() => reject(new Error('the first agent was not fenced within 15 s')), 15_000)))]).finally(() => clearTimeout(timer));
    const fencedMs = performance.now() - t0;
    await eventually(async () => (await recorded()) === secondGeneration.toString(), 10_000, 50);
    const claim = ((await api.call('GET', `${G}/noderealizations/hv1`)) as NodeRealization).status?.agent;
    expect(claim).toEqual({ holder: expect.stringMatching(/\/\d+$/), claimTime: expect.any(String), generation: secondGeneration.toString(), switch: expect.stringMatching(/^[0-9a-f-]{36}$/), ...(claim?.renewTime ? { renewTime: expect.any(String) } : {}) });
    // What `kubectl get noderealizations` shows: who programs the node, with which generation.
    const table = (await v.call('GET', `${G}/noderealizations`, undefined, { accept: 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json' })).json as { columnDefinitions: Array<{ name: string }>; rows: Array<{ cells: unknown[] }> };
    const columns = table.columnDefinitions.map((c) => c.name);
    expect(columns).toEqual(['Name', 'Agent', 'Generation', 'Objects', 'Reported', 'Age']);
    expect(table.rows[0]!.cells.slice(0, 3)).toEqual(['hv1', claim!.holder, secondGeneration.toString()]);
    // And `vnetctl get noderealizations -o wide`.
    const cli = await cliRunner({ KUBECONFIG: v.kubeconfigPath });
    const listed = await cli.run(['get', 'noderealizations', '-o', 'wide']);
    expect(listed.code).toBe(0);
    expect(listed.stdout.split('\n')[0]).toMatch(/^NAME\s+AGENT\s+GENERATION\s+OBJECTS/);
    expect(listed.stdout.split('\n')[1]!.split(/\s+/).slice(0, 3)).toEqual(['hv1', claim!.holder, secondGeneration.toString()]);

    // The new agent programs what comes next.
    const late = (await api.call('POST', `${G}/namespaces/${ns}/virtualports`, { metadata: { name: 'c' }, spec: { network: 'net', node: 'hv1', interfaceId: c.ifaceId, mac: c.mac } })) as { spec: { ips: string[] } };
    await c.exec(['ip', 'addr', 'add', `${late.spec.ips[0]}/24`, 'dev', c.iface]);
    await api.waitReady(ns, 'virtualports', 'c', 20_000);
    await eventually(() => c.exec(['ping', '-c', '1', '-W', '1', a.port.spec!.ips![0]!]).then(() => true, () => false), 10_000, 100);

    const { sent, received } = await ping.done;
    const roundsAfter = await flowRounds(hv);
    log(
      `generations ${firstGeneration} -> ${secondGeneration}; the first agent fenced ${fencedMs.toFixed(0)} ms after the second started (${reason}); ` +
        `cookie rounds ${JSON.stringify([...roundsBefore])} -> ${JSON.stringify([...roundsAfter])}; ping every 10 ms: ${sent} sent, ${sent - received} lost`,
    );
    expect(reason).toMatch(/generation/);
    expect(sent).toBe(COUNT);
    expect(sent - received).toBe(0);
    expect(roundsAfter).toEqual(roundsBefore);

    // The switch has seen a generation far above the store's (the store restored from an
    // old backup, or created anew): the next agent counts from the switch's, and programs.
    await second.close();
    const far = 1_000_000_000_000n;
    await hv.ovs.vsctl(['set', 'Open_vSwitch', '.', `external_ids:vnetd-generation=${far}`]);
    const third = await newAgent();
    const thirdGeneration = (await third.claimed)!;
    expect(thirdGeneration).toBeGreaterThan(far);
    await eventually(async () => (await recorded()) === thirdGeneration.toString(), 10_000, 50);
    const d = await api.vmFor(bed, ns, 'net', 'd', 'hv1', { vmName: 'fd' });
    await eventually(() => d.vm.exec(['ping', '-c', '1', '-W', '1', a.port.spec!.ips![0]!]).then(() => true, () => false), 10_000, 100);
    log(`after the switch recorded ${far}: the next agent claimed ${thirdGeneration} and programmed a new port (Ready ${d.readyMs.toFixed(0)} ms after its POST)`);
  }, 120_000);

  it('an agent with this node\'s name on another switch refuses while this node\'s agent lives (the same --node on a second hypervisor)', async () => {
    const other = await startOvs({ name: 'fence-other', vswitchd: false });
    try {
      const rz = () => api.call('GET', `${G}/noderealizations/hv1`) as Promise<NodeRealization>;
      const before = (await rz()).status?.agent;
      expect(before?.switch).toMatch(/^[0-9a-f-]{36}$/);
      const t0 = performance.now();
      const impostor = await startAgent({ node: 'hv1', kubeconfig: hv1Kubeconfig, ovsdb: `unix:${other.dbSocket}`, logLevel: process.env.VNETD_TEST_LOG ?? 'silent', workers: 2 });
      agents.push(impostor);
      await expect(impostor.claimed).rejects.toThrow(/^node hv1 is held by the vnetd agent .+ on another switch \(Open_vSwitch [0-9a-f-]{36}; this agent's is [0-9a-f-]{36}\), and that agent's heartbeat goes on: .*Is --node hv1 right for this one\?/);
      log(`an agent of hv1 on another switch refused after ${(performance.now() - t0).toFixed(0)} ms (one lease duration watched)`);
      // The node's own agent keeps it: its claim unchanged, not fenced (QA: it stopped, and the node's ports went NotBound).
      expect((await rz()).status?.agent).toEqual(before);
      expect(agents.filter((a) => a !== impostor).length).toBeGreaterThan(0);
    } finally {
      await other.stop();
    }
  }, 60_000);

  it('an agent started with another node\'s name on this switch refuses, and leaves it alone', async () => {
    const hv = bed.hv('hv1');
    await api.call('POST', `${G}/nodes`, { metadata: { name: 'hv9' }, spec: { tunnelIP: '198.18.0.99' } });
    expect((await hv.ovs.vsctl(['get', 'Open_vSwitch', '.', 'external_ids:vnetd-node'])).trim().replace(/"/g, '')).toBe('hv1');
    const flowsBefore = await flowRounds(hv);
    const localIp = async () => (await hv.ovs.vsctl(['get', 'Interface', 'vxlan0', 'options:local_ip'])).trim();
    const ipBefore = await localIp();
    const wrong = await startAgent({ node: 'hv9', kubeconfig: await v.agentKubeconfig('hv9'), ovsdb: `unix:${hv.ovs.dbSocket}`, logLevel: process.env.VNETD_TEST_LOG ?? 'silent', workers: 2 });
    agents.push(wrong);
    await expect(wrong.claimed).rejects.toThrow(/this Open vSwitch belongs to Node "hv1" \(external_ids:vnetd-node of its Open_vSwitch row\), not "hv9": start the agent with --node hv1/);
    // The running agent was not fenced, and nothing of the switch changed.
    expect(await flowRounds(hv)).toEqual(flowsBefore);
    expect(await localIp()).toBe(ipBefore);
    // A port pinned to hv9, which no agent has claimed, says that is what it waits for.
    await api.call('POST', `${G}/namespaces/fencing/virtualports`, { metadata: { name: 'on-hv9' }, spec: { network: 'net', node: 'hv9' } });
    const ready = await eventually(async () => {
      const p = (await api.call('GET', `${G}/namespaces/fencing/virtualports/on-hv9`)) as { status?: { conditions?: Array<{ type: string; reason?: string; message?: string }> } };
      const c = p.status?.conditions?.find((x) => x.type === 'Ready');
      return c?.reason === 'NoAgent' ? c : undefined;
    }, 15_000);
    expect(ready.message).toBe('no vnetd agent has claimed node hv9: run vnetd agent --node hv9 on that hypervisor');
    // Pinned to a node that does not exist (a typo): said so, not NoAgent; once the Node is
    // created, the reason follows (it waits for that node's agent).
    const readyOf = async (name: string) => ((await api.call('GET', `${G}/namespaces/fencing/virtualports/${name}`)) as { status?: { conditions?: Array<{ type: string; reason?: string; message?: string }> } }).status?.conditions?.find((x) => x.type === 'Ready');
    await api.call('POST', `${G}/namespaces/fencing/virtualports`, { metadata: { name: 'on-hv8' }, spec: { network: 'net', node: 'hv8' } });
    const missing = await eventually(async () => ((await readyOf('on-hv8'))?.reason === 'NodeNotFound' ? readyOf('on-hv8') : undefined), 15_000);
    expect(missing?.message).toMatch(/^node hv8 \(spec\.node\) does not exist: /);
    await api.call('POST', `${G}/nodes`, { metadata: { name: 'hv8' }, spec: { tunnelIP: '198.18.0.98' } });
    await eventually(async () => (await readyOf('on-hv8'))?.reason === 'NoAgent', 15_000);
    // The Node itself, never claimed, says so once the agent timeout (2 s here) has passed, as
    // Kubernetes marks a node whose kubelet never posted (QA: it stayed without any status).
    type NodeObj = { status?: { conditions?: Array<{ type: string; status: string; reason?: string; message?: string }> } };
    const nodeReady = await eventually(async () => {
      const c = ((await api.call('GET', `${G}/nodes/hv8`)) as NodeObj).status?.conditions?.find((x) => x.type === 'Ready');
      return c?.reason === 'NoAgent' ? c : undefined;
    }, 15_000, 100);
    expect(nodeReady).toMatchObject({ status: 'Unknown', message: expect.stringMatching(/^no vnetd agent has claimed node hv8 \(for \d+ s\): run vnetd agent --node hv8 on that hypervisor$/) });
    for (const name of ['on-hv9', 'on-hv8']) await api.call('DELETE', `${G}/namespaces/fencing/virtualports/${name}`);
    for (const name of ['hv9', 'hv8']) await api.call('DELETE', `${G}/nodes/${name}`);
  }, 60_000);

  it("an agent holding another node's token says so and stops before its claim, and leaves this node's agent alone", async () => {
    const rz = () => api.call('GET', `${G}/noderealizations/hv1`) as Promise<NodeRealization>;
    const before = (await rz()).status?.agent;
    const flowsBefore = await flowRounds(bed.hv('hv1'));
    const stolen = await startAgent({ node: 'hv1', kubeconfig: await v.agentKubeconfig('hv7'), ovsdb: `unix:${bed.hv('hv1').ovs.dbSocket}`, logLevel: process.env.VNETD_TEST_LOG ?? 'silent', workers: 2 });
    agents.push(stolen);
    await expect(stolen.claimed).rejects.toThrow("the agent's token (token:agent-hv7) is node hv7's agent token, not node hv1's: start the agent with --node hv7, or give it node hv1's");
    expect((await rz()).status?.agent).toEqual(before);
    expect(await flowRounds(bed.hv('hv1'))).toEqual(flowsBefore);
  }, 30_000);

  it('a node whose agent stops renewing its heartbeat turns Ready=Unknown, and Ready again when an agent is back', async () => {
    type NodeObj = { status?: { conditions?: Array<{ type: string; status: string; reason?: string; message?: string }> } };
    const ready = async () => ((await api.call('GET', `${G}/nodes/hv1`)) as NodeObj).status?.conditions?.find((c) => c.type === 'Ready');
    // The heartbeat is the NodeLease (renewed every 300 ms here), not the NodeRealization's 200 KB report.
    type Lease = { metadata: { resourceVersion: string; ownerReferences?: Array<{ kind: string; name: string }> }; spec: { holderIdentity?: string; renewTime?: string } };
    const lease = async () => (await api.call('GET', `${G}/nodeleases/hv1`)) as Lease;
    const getRz = async () => (await api.call('GET', `${G}/noderealizations/hv1`)) as NodeRealization;
    // Once the agent's report has settled (the ports of the test before), renewals leave it alone.
    const rz = await eventually(async () => {
      const before = await getRz();
      await sleep(600);
      const after = await getRz();
      return before.metadata.resourceVersion === after.metadata.resourceVersion ? after : undefined;
    }, 15_000, 10);
    const first = await lease();
    expect(first.spec.holderIdentity).toBe(rz.status?.agent?.holder);
    expect(first.metadata.ownerReferences).toEqual([expect.objectContaining({ kind: 'Node', name: 'hv1' })]);
    const second = await eventually(async () => { const l = await lease(); return l.spec.renewTime! > first.spec.renewTime! ? l : undefined; }, 5_000, 50);
    await eventually(async () => (await lease()).spec.renewTime! > second.spec.renewTime!, 5_000, 50);
    const rzAfter = await getRz();
    expect(rzAfter.metadata.resourceVersion).toBe(rz.metadata.resourceVersion);
    expect(rzAfter.status?.agent?.renewTime).toBeUndefined();
    expect((await ready())?.status).toBe('True');
    // A health-checked backend on the node: once nobody checks it (its agent silent: a dead
    // hypervisor, as far as anyone can tell), it counts as failing, as Kubernetes takes a
    // NotReady node's pods out of their endpoints; it once stayed healthy for good.
    const d = await api.vmFor(bed, 'fencing', 'net', 'hc', 'hv1', { vmName: 'fhc' });
    await startNamedServer(d.vm, 'd', children);
    await api.call('POST', `${G}/namespaces/fencing/loadbalancers`, { metadata: { name: 'web' }, spec: { network: 'net', listeners: [{ port: 80, targetPort: 8080 }], backends: [{ port: 'hc' }], healthCheck: { protocol: 'TCP', intervalSeconds: 1 } } });
    type LbObj = { status?: { healthyBackends?: string; backends?: Array<{ name: string; healthy: boolean }> } };
    const lbHealthy = async () => ((await api.call('GET', `${G}/namespaces/fencing/loadbalancers/web`)) as LbObj).status?.healthyBackends;
    await eventually(async () => (await lbHealthy()) === '1/1', 15_000, 100);
    for (const a of agents.splice(0)) await a.close();
    const t0 = performance.now();
    const silent = await eventually(async () => {
      const c = await ready();
      return c?.reason === 'AgentNotReporting' ? c : undefined;
    }, 15_000, 100);
    const markedMs = performance.now() - t0;
    expect(silent).toMatchObject({ status: 'Unknown', message: expect.stringMatching(/^the agent of node hv1 \(.+\) has not renewed its heartbeat \(NodeLease hv1\) for \d+ s/) });
    // And the Node says it in its events, as Kubernetes' NodeNotReady (QA-135 F7: only its ports did).
    type Ev = { reason: string; type: string; involvedObject: { kind: string; name: string } };
    const nodeEvents = async () => ((await api.call('GET', `/api/v1/namespaces/${CLUSTER_EVENTS_NAMESPACE}/events`)) as { items: Ev[] }).items.filter((e) => e.involvedObject.kind === 'Node' && e.involvedObject.name === 'hv1');
    await eventually(async () => (await nodeEvents()).some((e) => e.type === 'Warning' && e.reason === 'AgentNotReporting'), 10_000, 200);
    // The agent's other conditions are no longer its word either: Unknown, as a kubelet's are.
    const others = async () => (((await api.call('GET', `${G}/nodes/hv1`)) as NodeObj).status?.conditions ?? []).filter((c) => c.type !== 'Ready');
    const stale = await others();
    expect(stale.map((c) => c.type)).toContain('Connected');
    expect(stale.filter((c) => c.status !== 'Unknown' || c.reason !== 'AgentNotReporting')).toEqual([]);
    // A port for hv1 declared meanwhile waits for that agent, and says so (not NotBound: no VM is at fault).
    type PortObj = { status?: { conditions?: Array<{ type: string; status?: string; reason?: string; message?: string }> } };
    // The port bound there is no longer known to be realized, as a Pod on a NotReady node (QA: Ready=True Realized).
    const boundReady = async () => ((await api.call('GET', `${G}/namespaces/fencing/virtualports/hc`)) as PortObj).status?.conditions?.find((x) => x.type === 'Ready');
    const boundSilent = await eventually(async () => ((await boundReady())?.reason === 'AgentNotReporting' ? boundReady() : undefined), 15_000, 100).catch(boundReady);
    expect(boundSilent).toMatchObject({ status: 'False', reason: 'AgentNotReporting', message: expect.stringMatching(/^the agent of its node hv1 stopped reporting \(marked silent at .+\): whether its flows are still in place is not known/) });
    const portReady = async () => ((await api.call('GET', `${G}/namespaces/fencing/virtualports/while-silent`)) as PortObj).status?.conditions?.find((x) => x.type === 'Ready');
    await api.call('POST', `${G}/namespaces/fencing/virtualports`, { metadata: { name: 'while-silent' }, spec: { network: 'net', node: 'hv1' } });
    const waiting = await eventually(async () => ((await portReady())?.reason === 'AgentNotReporting' ? portReady() : undefined), 15_000, 100);
    expect(waiting?.message).toMatch(/^the vnetd agent of node hv1 \(.+\) stopped reporting \(marked silent at .+; vnetctl get node hv1 names its last renewal\): is it running\?$/);
    // The load balancer edited meanwhile waits for that agent too, and says so, not "Realizing" for good.
    expect((await v.call('PATCH', `${G}/namespaces/fencing/loadbalancers/web`, { spec: { listeners: [{ port: 80, targetPort: 8080 }, { port: 81, targetPort: 8080 }] } }, { contentType: 'application/merge-patch+json' })).status).toBe(200);
    const lbReady = async () => ((await api.call('GET', `${G}/namespaces/fencing/loadbalancers/web`)) as PortObj).status?.conditions?.find((x) => x.type === 'Ready');
    const lbWaiting = await eventually(async () => ((await lbReady())?.reason === 'AgentNotReporting' ? lbReady() : undefined), 15_000, 100);
    expect(lbWaiting?.message).toBe('flows not yet installed on node(s) hv1 (of hv1); the agent of node(s) hv1 is not reporting');
    await eventually(async () => (await lbHealthy()) === '0/1', 10_000, 100).catch(async () => {
      throw new Error(`the backend on the silent node still counts as healthy: ${await lbHealthy()}`);
    });
    await newAgent();
    const t1 = performance.now();
    await eventually(async () => (await ready())?.status === 'True', 15_000, 100);
    await eventually(async () => (await nodeEvents()).some((e) => e.type === 'Normal' && e.involvedObject.name === 'hv1'), 10_000, 200);
    await eventually(async () => (await others()).find((c) => c.type === 'Connected')?.status === 'True', 15_000, 100);
    // The agent back, the port waits for its VM's NIC again, and the load balancer is realized.
    await eventually(async () => (await portReady())?.reason === 'NotBound', 15_000, 100);
    await eventually(async () => (await lbReady())?.reason === 'Realized', 15_000, 100);
    await eventually(async () => (await boundReady())?.status === 'True', 15_000, 100);
    await api.call('DELETE', `${G}/namespaces/fencing/virtualports/while-silent`);
    // Its agent back, its own checks decide again.
    await eventually(async () => (await lbHealthy()) === '1/1', 20_000, 100);
    log(`agent stopped: Node Ready=Unknown after ${markedMs.toFixed(0)} ms (timeout 2000 ms); a new agent: Ready=True after ${(performance.now() - t1).toFixed(0)} ms`);
  }, 60_000);

  it('a Node deleted while its agent is down holds nothing back: its network and load balancer are Ready again, its bound port says NodeNotFound; created again, all come back', async () => {
    type Cond = { type: string; status: string; reason?: string; message?: string };
    type Any = { spec?: Record<string, unknown>; status?: { conditions?: Cond[] } };
    const readyOf = async (path: string) => ((await api.call('GET', `${G}/${path}`)) as Any).status?.conditions?.find((c) => c.type === 'Ready');
    await eventually(async () => (await readyOf('namespaces/fencing/virtualports/hc'))?.status === 'True', 15_000, 100);
    const spec = ((await api.call('GET', `${G}/nodes/hv1`)) as Any).spec!;
    for (const a of agents.splice(0)) await a.close();
    await eventually(async () => (await readyOf('nodes/hv1'))?.reason === 'AgentNotReporting', 15_000, 100);
    await api.call('DELETE', `${G}/nodes/hv1`);
    // QA: with nobody to unbind its ports, every object of its networks stayed Realizing for good.
    await eventually(async () => (await readyOf('namespaces/fencing/virtualnetworks/net'))?.status === 'True', 15_000, 100);
    await eventually(async () => (await readyOf('namespaces/fencing/loadbalancers/web'))?.status === 'True', 15_000, 100);
    const hc = await eventually(async () => ((await readyOf('namespaces/fencing/virtualports/hc'))?.reason === 'NodeNotFound' ? readyOf('namespaces/fencing/virtualports/hc') : undefined), 15_000, 100);
    expect(hc).toMatchObject({ status: 'False', message: expect.stringMatching(/^bound to node hv1, which no longer exists/) });
    await api.call('POST', `${G}/nodes`, { metadata: { name: 'hv1' }, spec });
    await newAgent();
    await eventually(async () => (await readyOf('namespaces/fencing/virtualports/hc'))?.status === 'True', 20_000, 100);
    log('Node deleted while its agent was down: network and load balancer Ready, its bound port NodeNotFound; created again with an agent: Ready');
  }, 60_000);
});
