/**
 * Load balancer health checks where agents program the hypervisors (`vnetd controller`
 * + one `vnetd agent` per node, as the scale-out deployment runs): the client is on hv1,
 * one backend on each hypervisor. hv2's agent is the only process with a connection to
 * hv2's switch, so only it can probe the backend bound there; hv1's agent must still stop
 * sending it new connections once it fails. Proves on real packets that:
 *  - a backend on the other hypervisor whose server stopped leaves hv1's slot table (its
 *    DNAT flows go) after the probes from its own node fail, and every new connection
 *    then reaches the survivor;
 *  - hv2's Node status says which backend fails and why, and the LoadBalancer's
 *    status.backends (written by the controller) says it is unhealthy;
 *  - it comes back once its server answers again, and the report is withdrawn;
 *  - deleting the load balancer while a backend fails withdraws the report too.
 * And that what each agent installed is reported in its NodeRealization, not in the Node
 * every agent watches, and that a port created before its NIC is plugged goes to Ready
 * without a NotBound written on the way. Prints how long each step took.
 */
import { ApiClient } from '../../src/cli/http/client';
import type { BackendStatus, HypervisorNode, LoadBalancer, NodeRealization, VirtualNetwork, VirtualPort } from '../../src/resources/kinds';
import type { Vm } from '../harness/testbed';
import { describeOvs } from '../integration/ovsdb-helpers';
import { eventually, readKubeconfig } from '../support/vnetd';
import { G, agentsBed, overlayApi, startNamedServer, udpAnswers } from './overlay-support';

function log(line: string): void {
  process.stdout.write(`[agents-lb-health] ${line}\n`);
}

/** count connections to vip:port, 5 at a time; prints the JSON list of who answered each ("" when nobody did). */
const CLIENT = `const [vip,port,count]=process.argv.slice(1).map((x,i)=>i?Number(x):x);const net=require('net');const out=[];let next=0;
function one(){return new Promise(r=>{let buf='';const s=net.connect({host:vip,port});const done=(name)=>{clearTimeout(t);out.push(name);try{s.resetAndDestroy()}catch{s.destroy()}r()};const t=setTimeout(()=>done(''),3000);s.on('data',d=>{buf+=d;if(buf.includes('\\n'))done(buf.trim())});s.on('error',()=>done(''))})}
async function worker(){while(next++<count)await one()}Promise.all(Array.from({length:5},worker)).then(()=>console.log(JSON.stringify(out)))`;

describeOvs('agents: load balancer health checks across hypervisors', () => {
  const setup = agentsBed({ dispatchReportMs: 1000 });
  const { children, agents, startAgentFor } = setup;
  const api = overlayApi(setup.vnetd);
  const { call, waitReady } = api;

  const connections = async (client: Vm, vip: string, count: number): Promise<Record<string, number>> => {
    const names = JSON.parse(await client.exec([process.execPath, '-e', CLIENT, vip, '80', String(count)])) as string[];
    return names.reduce<Record<string, number>>((m, n) => ((m[n || '<failed>'] = (m[n || '<failed>'] ?? 0) + 1), m), {});
  };
  /** DNAT flows toward ip on a node's switch: what sends that node's clients to the backend. */
  const dnatOn = async (node: string, ip: string): Promise<number> => {
    const hv = setup.bed().hv(node);
    const flows = await hv.ovs.ofctl(['-O', 'OpenFlow13', 'dump-flows', `unix:${hv.ovs.bridgeMgmtSocket('br-int')}`]);
    return flows.split('\n').filter((l) => l.includes(`nat(dst=${ip}:`)).length;
  };
  const reported = async (node: string) => ((await call('GET', `${G}/nodes/${node}`)) as HypervisorNode).status?.unhealthyBackends ?? [];

  it('a backend on the other hypervisor that fails its checks from its own node leaves the slot tables of every node, and comes back', async () => {
    const ns = 'agents-lb';
    await api.network(ns, 'net', { subnets: [{ cidr: '10.60.0.0/24' }] });
    const vmFor = (name: string, hv: string) => api.vmFor(setup.bed(), ns, 'net', name, hv, { vmName: `ah${name}` });
    // Every Ready reason the ports go through, from before their creates.
    const { server, ca, token } = readKubeconfig(setup.vnetd().kubeconfigPath);
    const client0 = new ApiClient({ server, ca, token, insecure: false, contextName: 'test', source: setup.vnetd().kubeconfigPath });
    const listed = (await call('GET', `${G}/namespaces/${ns}/virtualports`)) as { metadata: { resourceVersion: string } };
    const reasons: string[] = [];
    const portWatch = client0.watch<VirtualPort>(`${G}/namespaces/${ns}/virtualports`, { resourceVersion: listed.metadata.resourceVersion }, (ev) => {
      const ready = ev.object.status?.conditions?.find((c) => c.type === 'Ready');
      if (ready) reasons.push(`${ev.object.metadata.name}:${ready.reason}`);
    });
    const client = await vmFor('client', 'hv1');
    const near = await vmFor('b1', 'hv1');
    const far = await vmFor('b2', 'hv2');
    // The watch may trail the GETs that saw the last port Ready by a loop turn or two.
    await eventually(async () => ['client', 'b1', 'b2'].every((n) => reasons.includes(`${n}:Realized`)), 10_000, 20);
    portWatch.stop();
    // Each was created before its NIC was plugged: the binding comes from its agent, and no
    // NotBound was written meanwhile (one store revision per port, sent to every agent).
    // Realizing is written after REALIZING_QUIET_MS (5 s) without the flows: a loaded CI machine
    // once took that long for b2; it says nothing about the binding.
    const slow = reasons.filter((r) => r.endsWith(':Realizing'));
    if (slow.length) process.stdout.write(`[agents-lb-health] realized after over 5 s: ${slow.join(', ')}\n`);
    expect(reasons.filter((r) => !r.endsWith(':Realized') && !r.endsWith(':Realizing'))).toEqual([]);
    expect(new Set(reasons.filter((r) => r.endsWith(':Realized')))).toEqual(new Set(['client:Realized', 'b1:Realized', 'b2:Realized']));
    const farIp = far.port.spec!.ips![0]!;
    await startNamedServer(near.vm, 'b1', children);
    let farServer = await startNamedServer(far.vm, 'b2', children);
    const lb = (await call('POST', `${G}/namespaces/${ns}/loadbalancers`, {
      metadata: { name: 'web' },
      spec: {
        network: 'net',
        listeners: [{ protocol: 'TCP', port: 80, targetPort: 8080 }],
        backends: [{ port: 'b1' }, { port: 'b2' }],
        healthCheck: { protocol: 'TCP', intervalSeconds: 1, timeoutSeconds: 1, unhealthyThreshold: 3, healthyThreshold: 1 },
      },
    })) as LoadBalancer;
    const readyLb = (await waitReady(ns, 'loadbalancers', 'web')) as unknown as LoadBalancer;
    const vip = lb.spec!.vip!;
    // Edited (a weight, and back), it stays Ready: its Ready for the previous generation
    // stands while the agents install and report the new flows (it once flipped to
    // Realizing for that round trip on every edit).
    const lbReady: string[] = [];
    const lbWatch = client0.watch<LoadBalancer>(`${G}/namespaces/${ns}/loadbalancers`, { resourceVersion: readyLb.metadata.resourceVersion }, (ev) => {
      const r = ev.object.status?.conditions?.find((c) => c.type === 'Ready');
      if (r) lbReady.push(`g${ev.object.metadata.generation} ${r.status}:${r.reason}@${r.observedGeneration}`);
    });
    for (const [i, weight] of [2, 1].entries()) {
      expect((await setup.vnetd().call('PATCH', `${G}/namespaces/${ns}/loadbalancers/web`, { spec: { backends: [{ port: 'b1', weight }, { port: 'b2' }] } }, { contentType: 'application/merge-patch+json' })).status).toBe(200);
      const generation = readyLb.metadata.generation! + i + 1;
      await eventually(async () => lbReady.at(-1) === `g${generation} True:Realized@${generation}`, 20_000, 20);
    }
    lbWatch.stop();
    log(`lb edited twice: Ready ${lbReady.join(' -> ')}`);
    expect(lbReady.filter((r) => !r.includes(' True:'))).toEqual([]);
    // Ready came from what each agent reported in its NodeRealization; the Nodes, which
    // every agent watches, carry none of it.
    for (const hv of ['hv1', 'hv2']) {
      const rz = (await call('GET', `${G}/noderealizations/${hv}`)) as NodeRealization;
      expect(rz.status?.realized?.[lb.metadata.uid!]).toBeDefined();
      expect(rz.status?.objects).toBe(Object.keys(rz.status!.realized!).length);
      expect(((await call('GET', `${G}/nodes/${hv}`)) as HypervisorNode).status).not.toHaveProperty('realized');
    }
    const status = async (): Promise<BackendStatus[]> => ((await call('GET', `${G}/namespaces/${ns}/loadbalancers/web`)) as LoadBalancer).status?.backends ?? [];

    const before = await connections(client.vm, vip, 40);
    log(`both servers up: 40 connections ${JSON.stringify(before)}`);
    expect(Object.keys(before).sort()).toEqual(['b1', 'b2']);
    // The controller writes health and placement, and the connections each agent counted on
    // its node (hv1's DNAT flows dispatched all 40: the client is there), summed.
    const up = await eventually(async () => {
      const s = await status();
      return s.length === 2 && s.every((b) => b.healthy) && s.reduce((n, b) => n + (b.connections ?? 0), 0) === 40 ? s : undefined;
    }, 20_000, 250);
    expect(up.map((b) => [b.name, b.node, b.connections])).toEqual([
      ['b1', 'hv1', before.b1],
      ['b2', 'hv2', before.b2],
    ]);
    const vni = ((await call('GET', `${G}/namespaces/${ns}/virtualnetworks/net`)) as VirtualNetwork).status!.vni!;
    expect(((await call('GET', `${G}/noderealizations/hv1`)) as NodeRealization).status?.dispatched).toEqual({
      [`${vni}/${vip}/${near.port.spec!.ips![0]}`]: before.b1,
      [`${vni}/${vip}/${farIp}`]: before.b2,
    });

    // b2's server stops: its SYNs get RSTs on hv2; after 3 failures hv2's agent reports it
    // and hv1's agent takes it out of hv1's slot table.
    let t = performance.now();
    process.kill(farServer.pid!, 'SIGTERM');
    await eventually(async () => (await dnatOn('hv1', farIp)) === 0, 20_000, 100);
    const outMs = performance.now() - t;
    const report = await reported('hv2');
    expect(report).toEqual([{ loadBalancer: lb.metadata.uid, ip: farIp, reason: 'RST', since: expect.any(String) }]);
    expect(await reported('hv1')).toEqual([]);
    const whileDown = await connections(client.vm, vip, 40);
    log(`b2's server stopped: out of hv1's slot table after ${outMs.toFixed(0)} ms (1 s checks, 3 failures); hv2 reports ${JSON.stringify(report)}; 40 connections ${JSON.stringify(whileDown)}`);
    expect(whileDown).toEqual({ b1: 40 });
    await eventually(async () => (await status()).find((b) => b.name === 'b2')?.healthy === false, 15_000, 250);
    expect(await dnatOn('hv2', farIp)).toBe(0);

    // hv2's agent restarts while b2 still fails: it starts from its own report, so its
    // first compile leaves b2 out of hv2's slot table too (a fresh start would put it back
    // for the three failed checks it takes to learn again), and the report stays.
    // Nor does a restart flap its ports' Bound (QA: Unknown NodeDisconnected, then True, 21 ms apart, every port).
    const boundFlaps: string[] = [];
    const beforeRestart = ((await call('GET', `${G}/namespaces/${ns}/virtualports`)) as { metadata: { resourceVersion: string } }).metadata.resourceVersion;
    const boundWatch = client0.watch<VirtualPort>(`${G}/namespaces/${ns}/virtualports`, { resourceVersion: beforeRestart }, (ev) => {
      const bound = ev.object.status?.conditions?.find((c) => c.type === 'Bound');
      if (bound && bound.status !== 'True') boundFlaps.push(`${ev.object.metadata.name}:${bound.status}:${bound.reason}`);
    });
    await agents.get('hv2')!.close();
    await startAgentFor('hv2');
    let seen = 0;
    for (const deadline = performance.now() + 4000; performance.now() < deadline; ) seen += await dnatOn('hv2', farIp);
    boundWatch.stop();
    expect(seen).toBe(0);
    expect(boundFlaps).toEqual([]);
    expect((await reported('hv2')).map((b) => b.ip)).toEqual([farIp]);
    log('hv2\'s agent restarted while b2 failed: no DNAT flow toward b2 on hv2 in the 4 s after, its report kept');

    // Back: one successful check brings it in again everywhere, and the report goes.
    t = performance.now();
    farServer = await startNamedServer(far.vm, 'b2', children);
    await eventually(async () => (await dnatOn('hv1', farIp)) > 0, 20_000, 100);
    const inMs = performance.now() - t;
    expect(await reported('hv2')).toEqual([]);
    const afterUp = await connections(client.vm, vip, 40);
    log(`b2's server back: in hv1's slot table again after ${inMs.toFixed(0)} ms; 40 connections ${JSON.stringify(afterUp)}`);
    expect(Object.keys(afterUp).sort()).toEqual(['b1', 'b2']);
    await eventually(async () => (await status()).every((b) => b.healthy), 15_000, 250);
    // The counts are counters: b2's DNAT flows on hv1 went with its failure and came back
    // counting from 0, and what they had counted is kept (QA: the count fell to 0 at every flap).
    const want = { b1: before.b1! + (whileDown.b1 ?? 0) + (afterUp.b1 ?? 0), b2: before.b2! + (afterUp.b2 ?? 0) };
    let counted: Record<string, number | undefined> = {};
    await eventually(async () => {
      counted = Object.fromEntries((await status()).map((b) => [b.name, b.connections]));
      return counted.b1 === want.b1 && counted.b2 === want.b2;
    }, 15_000, 250).catch(() => {
      throw new Error(`status.backends[].connections ${JSON.stringify(counted)}, expected the three rounds summed ${JSON.stringify(want)}`);
    });
    // hv1's agent (the client's node: it counted them all) restarts: the counts go on from its
    // report, what b2's removed flows had counted included (they once fell back to what the
    // surviving flows' counters said). Connections made before the new agent's first count
    // of the switch, on a backend whose flows were once removed, may go uncounted (the
    // carry-over is its report less that count): b2 never goes down, b1 is exact.
    await agents.get('hv1')!.close();
    await startAgentFor('hv1');
    const afterRestart = await connections(client.vm, vip, 10);
    const want2 = { b1: want.b1 + (afterRestart.b1 ?? 0), b2: want.b2 + (afterRestart.b2 ?? 0) };
    await eventually(async () => {
      counted = Object.fromEntries((await status()).map((b) => [b.name, b.connections]));
      return counted.b1 === want2.b1 && (counted.b2 ?? 0) >= want.b2 && (counted.b2 ?? 0) <= want2.b2;
    }, 20_000, 250).catch(() => {
      throw new Error(`after hv1's agent restarted: status.backends[].connections ${JSON.stringify(counted)}, expected b1 ${want2.b1} and b2 from ${want.b2} to ${want2.b2}`);
    });
    log(`hv1's agent restarted: connections ${JSON.stringify(counted)} (went on from ${JSON.stringify(want)}; ${JSON.stringify(afterRestart)} made right after the restart)`);

    // Deleted while b2 fails: its report is withdrawn with the load balancer.
    process.kill(farServer.pid!, 'SIGTERM');
    await eventually(async () => (await reported('hv2')).length === 1, 20_000, 100);
    await call('DELETE', `${G}/namespaces/${ns}/loadbalancers/web`);
    t = performance.now();
    await eventually(async () => (await reported('hv2')).length === 0, 15_000, 100);
    log(`load balancer deleted while b2 failed: hv2's report withdrawn after ${(performance.now() - t).toFixed(0)} ms`);
    // Gone only once both agents report its flows removed (vnet.dev/dataplane, lifted by the
    // controller from their reports): at that moment neither node has a DNAT flow of it.
    await eventually(async () => (await setup.vnetd().call('GET', `${G}/namespaces/${ns}/loadbalancers/web`)).status === 404, 15_000, 50);
    log(`load balancer gone ${(performance.now() - t).toFixed(0)} ms after its DELETE`);
    expect(await dnatOn('hv1', near.port.spec!.ips![0]!)).toBe(0);
    expect(await dnatOn('hv2', near.port.spec!.ips![0]!)).toBe(0);
  }, 120_000);

  it('UDP checks: a UDP-only backend on the other hypervisor whose server stopped is reported by its own node (ICMP port unreachable) and leaves the client node\'s slot table; with udp.expectReply, so does one whose server is SIGSTOPped (no reply)', async () => {
    const ns = 'agents-udp';
    await api.network(ns, 'net', { subnets: [{ cidr: '10.64.0.0/24' }] });
    const vmFor = async (name: string, hv: string) => api.vmFor(setup.bed(), ns, 'net', name, hv, { vmName: `au${name}` });
    const [{ vm: client }, { vm: near }, { vm: far, port: farPort }] = [await vmFor('uc', 'hv1'), await vmFor('u1', 'hv1'), await vmFor('u2', 'hv2')];
    const farIp = farPort.spec!.ips![0]!;
    await startNamedServer(near, 'u1', children);
    let farServer = await startNamedServer(far, 'u2', children);
    const lb = (await call('POST', `${G}/namespaces/${ns}/loadbalancers`, {
      metadata: { name: 'dns' },
      spec: { network: 'net', listeners: [{ protocol: 'UDP', port: 53, targetPort: 5353 }], backends: [{ port: 'u1' }, { port: 'u2' }], healthCheck: { protocol: 'UDP', intervalSeconds: 1, timeoutSeconds: 1, unhealthyThreshold: 3, healthyThreshold: 1 } },
    })) as LoadBalancer;
    await waitReady(ns, 'loadbalancers', 'dns');
    const vip = lb.spec!.vip!;
    let base = 49000;
    const queries = async () => (await udpAnswers(client, vip, 53, (base += 20), 20, { waitMs: 1500 })).map((a) => a.name);
    const tally = (names: string[]) => names.reduce<Record<string, number>>((m, n) => ((m[n || '<none>'] = (m[n || '<none>'] ?? 0) + 1), m), {});
    const both = await eventually(async () => {
      const a = await queries();
      return a.every(Boolean) && new Set(a).size === 2 ? a : undefined;
    }, 20_000, 200);
    let t = performance.now();
    process.kill(farServer.pid!, 'SIGTERM');
    await eventually(async () => (await dnatOn('hv1', farIp)) === 0, 20_000, 100);
    const outMs = performance.now() - t;
    expect(await reported('hv2')).toEqual([{ loadBalancer: lb.metadata.uid, ip: farIp, reason: 'UDP check: ICMP port unreachable', since: expect.any(String) }]);
    const whileDown = await queries();
    log(`UDP checks: 20 queries ${JSON.stringify(tally(both))}; u2's server stopped -> out of hv1's slot table after ${outMs.toFixed(0)} ms (1 s checks, 3 failures), hv2 reports "UDP check: ICMP port unreachable"; 20 queries ${JSON.stringify(tally(whileDown))}`);
    expect(whileDown).toEqual(Array(20).fill('u1'));
    t = performance.now();
    farServer = await startNamedServer(far, 'u2', children);
    await eventually(async () => (await dnatOn('hv1', farIp)) > 0, 20_000, 100);
    log(`UDP checks: u2's server back -> in hv1's slot table again after ${(performance.now() - t).toFixed(0)} ms`);
    expect(await reported('hv2')).toEqual([]);

    // udp.expectReply: hv2's agent sends its backend's answers to itself; a server stopped with
    // SIGSTOP (still bound: no ICMP) fails there and leaves hv1's slot table.
    const udp = { payload: 'TEIBAAABAAAAAAAABmhlYWx0aAdleGFtcGxlAAABAAE=', expectReply: true };
    const patched = await setup.vnetd().call('PATCH', `${G}/namespaces/${ns}/loadbalancers/dns`, { spec: { healthCheck: { udp } } }, { contentType: 'application/merge-patch+json' });
    expect(patched.status).toBe(200);
    // Answered probes keep both in (were the answers lost, u2 would be out within ~3 s).
    await new Promise((r) => setTimeout(r, 4000));
    expect([await dnatOn('hv1', farIp) > 0, await reported('hv2')]).toEqual([true, []]);
    t = performance.now();
    process.kill(farServer.pid!, 'SIGSTOP');
    try {
      await eventually(async () => (await dnatOn('hv1', farIp)) === 0, 20_000, 100);
      const hungMs = performance.now() - t;
      expect(await reported('hv2')).toEqual([{ loadBalancer: lb.metadata.uid, ip: farIp, reason: 'UDP check: no reply', since: expect.any(String) }]);
      const whileHung = await queries();
      log(`UDP checks with udp.expectReply: u2's server stopped with SIGSTOP -> out of hv1's slot table after ${hungMs.toFixed(0)} ms, hv2 reports "UDP check: no reply"; 20 queries ${JSON.stringify(tally(whileHung))}`);
      expect(whileHung).toEqual(Array(20).fill('u1'));
    } finally {
      process.kill(farServer.pid!, 'SIGCONT');
    }
    t = performance.now();
    await eventually(async () => (await dnatOn('hv1', farIp)) > 0, 20_000, 100);
    log(`UDP checks with udp.expectReply: SIGCONT -> in hv1's slot table again after ${(performance.now() - t).toFixed(0)} ms`);
    expect(await reported('hv2')).toEqual([]);
    await call('DELETE', `${G}/namespaces/${ns}/loadbalancers/dns`);
  }, 120_000);

  it("the agents did all of it with their own node's token: the API refused none of their requests", async () => {
    const refused = await setup.refused();
    log(`the API's 403 answers over the file: ${refused.length ? refused.join(', ') : 'none'}`);
    expect(refused).toEqual([]);
  });
});
