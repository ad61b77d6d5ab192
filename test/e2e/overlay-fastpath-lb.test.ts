/**
 * Load-balancer VIPs on the AF_XDP fast path (issue 6), on the two-hypervisor bed: a client
 * VM on hv1, a VIP with backends on hv1 and hv2, the fast path enabled on both Nodes.
 *
 * What it proves, over TCP connections client -> VIP:
 *  - every connection succeeds and its peer address (what the replies come from) is the
 *    VIP, and backends on both hypervisors serve;
 *  - the fast path carried them: hv1's VIP lookups and new-connection counter move by at
 *    least the number of connections, forward DNATs and reverse NATs both happen;
 *  - OVS did not dispatch them: the LbSlot and LbDnat flows (which count exactly the
 *    connections OVS load-balances) stay still on both nodes;
 *  - on hv2, the backends' node, the connections passed through the fast path from their
 *    first packet off the tunnel (connPass), and OVS's conntrack there saw none of their
 *    packets;
 *  - the LoadBalancer's status.backends still counts them (the fast path's per-backend
 *    dispatch counts are added to OVS's);
 *  - UDP flows to the VIP (a datagram from each of 40 source ports, twice) too: each taken
 *    at its first datagram and kept, answered from the VIP, none dispatched by OVS;
 *  - a backend reaching its own VIP (hairpin) is answered by itself too (OVS takes those);
 *  - the fast path carries VIPs by default, and spec.fastPath.loadBalancers: false hands
 *    them back to OVS.
 */
import { TABLES } from '../../src/pipeline/tables';
import type { HypervisorNode, LoadBalancer } from '../../src/resources/kinds';
import type { Vm } from '../harness/testbed';
import { describeOvs } from '../integration/ovsdb-helpers';
import { eventually } from '../support/vnetd';
import { G, overlayApi, overlayBed, startNamedServer, udpAnswers } from './overlay-support';

// Node status counters every 300 ms (read at module load, before the fixture starts vnetd).
process.env.VNETD_FASTPATH_STATUS_MS = '300';

function log(line: string): void {
  process.stdout.write(`[overlay-fastpath-lb] ${line}\n`);
}

/** Backend server: answers every connection with its name. */

/** Client: count connections to vip:port, `par` at a time; prints [{name, peer}] ("" on failure). */
const CLIENT = `const [vip,port,count,par]=process.argv.slice(1).map((x,i)=>i?Number(x):x);const net=require('net');const out=[];let next=0;
function one(){return new Promise(r=>{let buf='';const s=net.connect({host:vip,port});const done=(name)=>{clearTimeout(t);out.push({name,peer:s.remoteAddress||''});s.end();r()};const t=setTimeout(()=>done(''),5000);s.on('data',d=>{buf+=d;if(buf.includes('\\n'))done(buf.trim())});s.on('error',()=>done(''))})}
async function worker(){while(next<count){next++;await one()}}Promise.all(Array.from({length:par},worker)).then(()=>console.log(JSON.stringify(out)))`;

/** CLIENT from fixed source ports base..base+count-1, each connection held 300 ms after its answer. */
const PINNED_CLIENT = `const [vip,port,base,count,par]=process.argv.slice(1).map((x,i)=>i?Number(x):x);const net=require('net');const out=[];let next=0;
function one(i){return new Promise(r=>{let buf='';const s=net.connect({host:vip,port,localPort:base+i});const done=(name)=>{clearTimeout(t);out[i]={name,peer:s.remoteAddress||''};setTimeout(()=>{s.end();r()},name?300:0)};const t=setTimeout(()=>done(''),5000);s.on('data',d=>{buf+=d;if(buf.includes('\\n')&&!out[i])done(buf.trim())});s.on('error',()=>{if(!out[i])done('')})})}
async function worker(){while(next<count){await one(next++)}}Promise.all(Array.from({length:par},worker)).then(()=>console.log(JSON.stringify(out)))`;

describeOvs('overlay: load balancer VIP on the AF_XDP fast path', () => {
  const fixture = overlayBed();
  const { children } = fixture;
  const api = overlayApi(fixture.vnetd);
  const { call, waitReady } = api;

  const vmFor = (ns: string, net: string, name: string, hv: string) => api.vmFor(fixture.bed(), ns, net, name, hv, { vmName: `fl${name}`.slice(0, 8) });
  const startServer = (vm: Vm, name: string) => startNamedServer(vm, name, children);
  const connections = async (client: Vm, vip: string, count: number): Promise<Array<{ name: string; peer: string }>> =>
    JSON.parse(await client.exec([process.execPath, '-e', CLIENT, vip, '80', String(count), '5'])) as Array<{ name: string; peer: string }>;
  const node = async (name: string) => (await call('GET', `${G}/nodes/${name}`)) as HypervisorNode;
  const tableCounters = async (name: string): Promise<Record<string, number>> => ((await node(name)).status?.fastpath?.counters?.tables ?? {}) as Record<string, number>;
  /** A node's table counters once `counter` has moved by `by` since `before` (status is copied every 300 ms), or as they are after 10 s. */
  const countersOnceMoved = (name: string, before: Record<string, number>, counter: string, by: number): Promise<Record<string, number>> =>
    eventually(async () => {
      const c = await tableCounters(name);
      return (c[counter] ?? 0) - (before[counter] ?? 0) >= by ? c : undefined;
    }, 10_000, 100).catch(async () => tableCounters(name));
  /** Packets counted by OVS's load-balancing dispatch tables on a hypervisor. */
  const ovsLbPackets = async (hvName: string): Promise<number> => {
    const hv = fixture.bed().hv(hvName);
    let n = 0;
    for (const t of [TABLES.LbSlot.id, TABLES.LbDnat.id]) {
      const out = await hv.ovs.ofctl(['-O', 'OpenFlow13', 'dump-flows', `unix:${hv.ovs.bridgeMgmtSocket('br-int')}`, `table=${t}`]);
      n += [...out.matchAll(/n_packets=(\d+)/g)].reduce((s, m) => s + Number(m[1]), 0);
    }
    return n;
  };
  /**
   * IPv4 packets OVS ran through its conntrack on a hypervisor (the LbVip flows of networks with
   * load balancers, which every IPv4 packet of such a network crosses in OVS's pipeline).
   */
  const ovsTracked = async (hvName: string): Promise<number> => {
    const hv = fixture.bed().hv(hvName);
    const out = await hv.ovs.ofctl(['-O', 'OpenFlow13', 'dump-flows', `unix:${hv.ovs.bridgeMgmtSocket('br-int')}`, `table=${TABLES.LbVip.id}`]);
    return out.split('\n').filter((l) => /[ ,]ip[, ]/.test(l)).reduce((s, l) => s + Number(/n_packets=(\d+)/.exec(l)?.[1] ?? 0), 0);
  };
  /** vnetd_fastpath_table_lookups_total{node, table="vip", result="hit"}. */
  const vipHits = async (nodeName: string): Promise<number> => {
    const text = (await fixture.vnetd().call('GET', '/metrics')).text;
    const line = text.split('\n').find((l) => l.startsWith('vnetd_fastpath_table_lookups_total{') && l.includes(`node="${nodeName}"`) && l.includes('table="vip"') && l.includes('result="hit"'));
    return Number(line?.split(' ').pop() ?? 0);
  };

  it('TCP connections to a VIP with backends on both hypervisors go through the fast path: all succeed, replies come from the VIP, OVS dispatches none of them', async () => {
    for (const hv of fixture.bed().hypervisors) {
      // loadBalancers left out: the fast path carries VIPs by default.
      await api.replace<HypervisorNode>(`${G}/nodes/${hv.name}`, (cur) => ({ ...cur, spec: { ...cur.spec, fastPath: { enabled: true, netns: hv.netns } } }));
    }
    const ns = 'fp-lb';
    await fixture.vnetd().call('POST', '/api/v1/namespaces', { metadata: { name: ns } });
    await call('POST', `${G}/namespaces/${ns}/virtualnetworks`, { metadata: { name: 'net' }, spec: { subnets: [{ cidr: '10.46.0.0/24' }] } });
    const client = await vmFor(ns, 'net', 'client', 'hv1');
    const backends = [await vmFor(ns, 'net', 'b1', 'hv1'), await vmFor(ns, 'net', 'b2', 'hv2'), await vmFor(ns, 'net', 'b3', 'hv2')];
    const peer = await vmFor(ns, 'net', 'peer', 'hv2'); // a port of the network that is no backend
    await Promise.all(backends.map((b) => startServer(b.vm, b.port.metadata.name)));
    const lb = (await call('POST', `${G}/namespaces/${ns}/loadbalancers`, {
      metadata: { name: 'web' },
      spec: { network: 'net', listeners: [{ protocol: 'TCP', port: 80, targetPort: 8080 }, { protocol: 'UDP', port: 53, targetPort: 5353 }], backends: backends.map((b) => ({ port: b.port.metadata.name })) },
    })) as LoadBalancer;
    await waitReady(ns, 'loadbalancers', 'web');
    const vip = lb.spec!.vip!;
    // Both runners up: hv1 with the client's and b1's NICs + underlay, hv2 with b2's and b3's + underlay.
    for (const hv of ['hv1', 'hv2']) {
      await eventually(async () => {
        const fp = (await node(hv)).status?.fastpath;
        return fp?.state === 'Running' && (fp.interfaces ?? 0) >= 3 ? fp : undefined;
      }, 30_000, 100).catch(async () => {
        throw new Error(`fast path on ${hv} not running: ${JSON.stringify((await node(hv)).status?.fastpath)}`);
      });
    }
    // The first connection resolves the VIP's ARP (OVS answers it); wait until the fast path takes them.
    await eventually(async () => {
      const r = await connections(client.vm, vip, 1);
      return r[0]?.name && (await vipHits('hv1')) > 0;
    }, 30_000, 200).catch(async (e: unknown) => {
      log(`fast path never took a VIP connection; hv1 status: ${JSON.stringify((await node('hv1')).status?.fastpath)}`);
      throw e;
    });
    // OpenFlow statistics reach dump-flows with the revalidator's delay (up to ~1 s).
    await new Promise((r) => setTimeout(r, 1500));
    const before = { ovs1: await ovsLbPackets('hv1'), ovs2: await ovsLbPackets('hv2'), hits: await vipHits('hv1'), t: await tableCounters('hv1'), t2: await tableCounters('hv2'), tracked2: await ovsTracked('hv2') };

    const N = 60;
    const got = await connections(client.vm, vip, N);
    await new Promise((r) => setTimeout(r, 1500));
    const after = { ovs1: await ovsLbPackets('hv1'), ovs2: await ovsLbPackets('hv2'), hits: await vipHits('hv1'), tracked2: await ovsTracked('hv2') };
    const t = await countersOnceMoved('hv1', before.t, 'connNew', N);
    const dist = got.reduce<Record<string, number>>((m, c) => ((m[c.name || '<failed>'] = (m[c.name || '<failed>'] ?? 0) + 1), m), {});
    // hv2, the node of b2 and b3: each of their connections passed through its fast path, from
    // its SYN off the tunnel, and none of their packets crossed OVS there.
    const onHv2 = (dist['b2'] ?? 0) + (dist['b3'] ?? 0);
    const t2 = await countersOnceMoved('hv2', before.t2, 'connPass', onHv2);
    const d = {
      connNew: (t.connNew ?? 0) - (before.t.connNew ?? 0),
      natForward: (t.natForward ?? 0) - (before.t.natForward ?? 0),
      natReverse: (t.natReverse ?? 0) - (before.t.natReverse ?? 0),
      vipHits: after.hits - before.hits,
      ovsHv1: after.ovs1 - before.ovs1,
      ovsHv2: after.ovs2 - before.ovs2,
    };
    const d2 = { connPass: (t2.connPass ?? 0) - (before.t2.connPass ?? 0), ovsTracked: after.tracked2 - before.tracked2 };
    log(`${N} connections to ${vip}:80: per backend ${JSON.stringify(dist)}; hv1 fast path: ${JSON.stringify(d)}; hv2 (b2, b3): ${JSON.stringify(d2)}`);
    expect(got.filter((c) => !c.name)).toEqual([]);
    // Replies come from the VIP: the client's sockets are connected to it, never to a backend.
    expect(new Set(got.map((c) => c.peer))).toEqual(new Set([vip]));
    // Backends on both hypervisors served.
    expect(Object.keys(dist).sort()).toEqual(['b1', 'b2', 'b3']);
    // The fast path dispatched every connection (SYN, data, FIN/ACKs) and un-NATed the replies.
    expect(d.connNew).toBeGreaterThanOrEqual(N);
    expect(d.vipHits).toBeGreaterThanOrEqual(3 * N);
    expect(d.natReverse).toBeGreaterThanOrEqual(2 * N);
    // OVS's load balancer dispatched none of them.
    expect(d.ovsHv1).toBe(0);
    expect(d.ovsHv2).toBe(0);
    expect(d2.connPass).toBeGreaterThanOrEqual(onHv2);
    // None of their packets crossed OVS there (about 400 did before); a stray packet of the
    // network (a late segment of a warm-up connection) is tolerated.
    expect(d2.ovsTracked).toBeLessThanOrEqual(4);
    // status.backends still counts them: the fast path's dispatch counts are added to LbDnat's
    // (at least what this measurement saw per backend; the warm-up connections come on top).
    const statusCounts = async () => Object.fromEntries((((await call('GET', `${G}/namespaces/${ns}/loadbalancers/web`)) as LoadBalancer).status?.backends ?? []).map((b) => [b.name, b.connections ?? 0]));
    const counted = await eventually(async () => {
      const s = await statusCounts();
      return Object.entries(dist).every(([name, n]) => (s[name] ?? 0) >= n) ? s : undefined;
    }, 20_000, 250).catch(async () => expect(await statusCounts()).toEqual(`at least ${JSON.stringify(dist)}`));
    log(`status.backends connections: ${JSON.stringify(counted)}`);

    // UDP (DNS-like: one datagram from each of 40 source ports, then again from the same
    // ports): every flow answered by its backend, from the VIP; the fast path took each flow
    // at its first datagram and kept it for the second; OVS dispatched none.
    const udpBefore = { t: await tableCounters('hv1'), t2: await tableCounters('hv2'), ovs1: await ovsLbPackets('hv1'), ovs2: await ovsLbPackets('hv2'), tracked2: await ovsTracked('hv2') };
    const udpFirst = await udpAnswers(client.vm, vip, 53, 48000, 40);
    const udpAgain = await udpAnswers(client.vm, vip, 53, 48000, 40);
    await new Promise((r) => setTimeout(r, 1500));
    const udpT = await countersOnceMoved('hv1', udpBefore.t, 'connNew', 40);
    const udpD = {
      connNew: (udpT.connNew ?? 0) - (udpBefore.t.connNew ?? 0),
      natReverse: (udpT.natReverse ?? 0) - (udpBefore.t.natReverse ?? 0),
      ovsHv1: (await ovsLbPackets('hv1')) - udpBefore.ovs1,
      ovsHv2: (await ovsLbPackets('hv2')) - udpBefore.ovs2,
    };
    const udpDist = udpFirst.reduce<Record<string, number>>((m, x) => ((m[x.name || '<none>'] = (m[x.name || '<none>'] ?? 0) + 1), m), {});
    const udpOnHv2 = (udpDist['b2'] ?? 0) + (udpDist['b3'] ?? 0);
    const udpT2 = await countersOnceMoved('hv2', udpBefore.t2, 'connPass', udpOnHv2);
    const udpD2 = { connPass: (udpT2.connPass ?? 0) - (udpBefore.t2.connPass ?? 0), ovsTracked: (await ovsTracked('hv2')) - udpBefore.tracked2 };
    log(`UDP: 40 flows to ${vip}:53, twice: per backend ${JSON.stringify(udpDist)}; hv1 fast path: ${JSON.stringify(udpD)}; hv2 (b2, b3): ${JSON.stringify(udpD2)}`);
    expect(udpFirst.filter((x) => !x.name)).toEqual([]);
    expect(Object.keys(udpDist).sort()).toEqual(['b1', 'b2', 'b3']);
    expect(udpAgain.map((x) => x.name)).toEqual(udpFirst.map((x) => x.name));
    expect(new Set([...udpFirst, ...udpAgain].map((x) => x.from))).toEqual(new Set([vip]));
    expect(udpD.connNew).toBe(40);
    expect(udpD.natReverse).toBeGreaterThanOrEqual(80);
    expect(udpD.ovsHv1).toBe(0);
    expect(udpD.ovsHv2).toBe(0);
    // Each flow to b2 or b3 passed through hv2's fast path once (its second round found it there).
    expect(udpD2.connPass).toBe(udpOnHv2);
    expect(udpD2.ovsTracked).toBeLessThanOrEqual(4);

    // Ordinary traffic between two ports of the load-balanced network that are no backends (the
    // client on hv1, the peer on hv2) takes the fast path both ways: none of it crosses OVS's
    // conntrack on either node (before, every IP packet of such a network did, about 200 per node
    // for these pings). The backends' replies to connections OVS dealt still reach OVS (the
    // settling connections above, and overlay-lb in the fast-path project, depend on it).
    const plainBefore = { t1: await ovsTracked('hv1'), t2: await ovsTracked('hv2') };
    const pings = await client.vm.exec(['ping', '-c', '100', '-i', '0.01', '-W', '1', '-q', peer.port.spec!.ips![0]!]);
    await new Promise((r) => setTimeout(r, 1500));
    const plain = { ovsTrackedHv1: (await ovsTracked('hv1')) - plainBefore.t1, ovsTrackedHv2: (await ovsTracked('hv2')) - plainBefore.t2 };
    const received = Number(/(\d+) received/.exec(pings)?.[1] ?? 0);
    log(`client (hv1) to peer (hv2), both no backend: 100 pings, ${received} answered; OVS's conntrack counted ${JSON.stringify(plain)}`);
    expect(received).toBe(100);
    expect(plain.ovsTrackedHv1).toBeLessThanOrEqual(4);
    expect(plain.ovsTrackedHv2).toBeLessThanOrEqual(4);

    // Hairpin: b1 (hv1) to its own VIP. Connections dealt to b1 itself are left to OVS, which
    // SNATs them to the VIP; the others the fast path carries as any client's.
    const own = await connections(backends[0]!.vm, vip, N);
    const ownDist = own.reduce<Record<string, number>>((m, c) => ((m[c.name || '<failed>'] = (m[c.name || '<failed>'] ?? 0) + 1), m), {});
    log(`hairpin: ${N} connections from b1 to its own VIP: ${JSON.stringify(ownDist)}`);
    expect(own.filter((c) => !c.name)).toEqual([]);
    expect(ownDist['b1'] ?? 0).toBeGreaterThan(5);
    expect(new Set(own.map((c) => c.peer))).toEqual(new Set([vip]));

    // loadBalancers: false hands VIPs back to OVS: new connections are OVS's again.
    for (const hv of fixture.bed().hypervisors) {
      await api.replace<HypervisorNode>(`${G}/nodes/${hv.name}`, (cur) => ({ ...cur, spec: { ...cur.spec, fastPath: { ...cur.spec!.fastPath, loadBalancers: false } } }));
    }
    const handedBack = await eventually(async () => {
      const fpBefore = (await tableCounters('hv1')).connNew ?? 0;
      const ovsBefore = await ovsLbPackets('hv1');
      const c = await connections(client.vm, vip, 10);
      await new Promise((r) => setTimeout(r, 1500));
      const fp = ((await tableCounters('hv1')).connNew ?? 0) - fpBefore;
      const ovsMoved = (await ovsLbPackets('hv1')) - ovsBefore;
      return c.every((x) => x.name) && fp === 0 && ovsMoved >= 10 ? { ovsMoved, fp } : undefined;
    }, 30_000, 500);
    log(`loadBalancers: false: 10 connections, OVS's LbSlot/LbDnat counted ${handedBack.ovsMoved} packets, the fast path took none`);

    // Turned off and on again at run time on hv1: it runs again at once and takes the VIP's new
    // connections. Before, it stayed Unavailable ("xsk_socket__create: Device or resource busy"):
    // the backends' servers, started from this process, had inherited its AF_XDP sockets.
    const fastPathState = async () => (await node('hv1')).status?.fastpath?.state;
    await api.replace<HypervisorNode>(`${G}/nodes/hv1`, (cur) => ({ ...cur, spec: { ...cur.spec, fastPath: { enabled: false } } }));
    await eventually(async () => (await fastPathState()) === 'Disabled', 30_000, 200);
    for (const hv of fixture.bed().hypervisors) {
      await api.replace<HypervisorNode>(`${G}/nodes/${hv.name}`, (cur) => ({ ...cur, spec: { ...cur.spec, fastPath: { enabled: true, netns: hv.netns, loadBalancers: true } } }));
    }
    const t0 = Date.now();
    await eventually(async () => (await fastPathState()) === 'Running', 20_000, 100).catch(async () => expect((await node('hv1')).status?.fastpath).toEqual('Running'));
    const runningAfter = Date.now() - t0;
    const retaken = await eventually(async () => {
      const before = (await tableCounters('hv1')).connNew ?? 0;
      const c = await connections(client.vm, vip, 10);
      await new Promise((r) => setTimeout(r, 500));
      const taken = ((await tableCounters('hv1')).connNew ?? 0) - before;
      return c.every((x) => x.name) && taken >= 10 ? taken : undefined;
    }, 30_000, 500);
    log(`fast path off and on again on hv1: Running ${runningAfter} ms after it was enabled; 10 connections, ${retaken} new on its fast path`);
  }, 180_000);

  it('two tenants with the same addresses (CIDR, VIP, client, backends) and the same 4-tuples at once: each reaches its own backends through the fast path', async () => {
    for (const hv of fixture.bed().hypervisors) {
      await api.replace<HypervisorNode>(`${G}/nodes/${hv.name}`, (cur) => ({ ...cur, spec: { ...cur.spec, fastPath: { enabled: true, netns: hv.netns, loadBalancers: true } } }));
    }
    const VIP = '10.47.0.100';
    const tenants = ['ta', 'tb'];
    const clients: Record<string, Vm> = {};
    // Every address chosen, so both tenants have the very same ones.
    const vmAt = (t: string, name: string, hv: string, ip: string) => api.vmFor(fixture.bed(), `fp-${t}`, 'net', name, hv, { vmName: `fl${name}`.slice(0, 8), spec: { ips: [ip] } });
    for (const t of tenants) {
      await fixture.vnetd().call('POST', '/api/v1/namespaces', { metadata: { name: `fp-${t}` } });
      await call('POST', `${G}/namespaces/fp-${t}/virtualnetworks`, { metadata: { name: 'net' }, spec: { subnets: [{ cidr: '10.47.0.0/24' }] } });
      clients[t] = (await vmAt(t, `${t}-cli`, 'hv1', '10.47.0.5')).vm;
    }
    for (const t of tenants) {
      const bes = [await vmAt(t, `${t}-b1`, 'hv1', '10.47.0.11'), await vmAt(t, `${t}-b2`, 'hv2', '10.47.0.12')];
      await Promise.all(bes.map((b) => startServer(b.vm, b.port.metadata.name)));
      await call('POST', `${G}/namespaces/fp-${t}/loadbalancers`, {
        metadata: { name: 'web' },
        spec: { network: 'net', vip: VIP, listeners: [{ protocol: 'TCP', port: 80, targetPort: 8080 }, { protocol: 'UDP', port: 53, targetPort: 5353 }], backends: bes.map((b) => ({ port: b.port.metadata.name })) },
      });
      await waitReady(`fp-${t}`, 'loadbalancers', 'web');
    }
    // Both networks past their settle period: the fast path takes each tenant's VIP connections.
    let warmUp = 0;
    const took = await eventually(async () => {
      const before = (await tableCounters('hv1')).connNew ?? 0;
      const r = await Promise.all(tenants.map((t) => connections(clients[t]!, VIP, 4)));
      warmUp += 4;
      const c = await countersOnceMoved('hv1', { connNew: before }, 'connNew', 8);
      return r.every((x, i) => x.every((y) => y.name.startsWith(`${tenants[i]}-`))) && (c.connNew ?? 0) - before >= 8 ? true : undefined;
    }, 30_000, 500).catch(() => false);
    expect(took).toBe(true);

    // The same source ports from both clients at once: identical 4-tuples (client, port, VIP,
    // 80) in two networks, each connection held open 300 ms so that the two overlap.
    const N = 30;
    const before = await tableCounters('hv1');
    const [a, b] = await Promise.all(tenants.map(async (t) => JSON.parse(await clients[t]!.exec([process.execPath, '-e', PINNED_CLIENT, VIP, '80', '47000', String(N), '10'])) as Array<{ name: string; peer: string }>));
    const udp = await Promise.all(tenants.map((t) => udpAnswers(clients[t]!, VIP, 53, 48100, 20)));
    const after = await countersOnceMoved('hv1', before, 'connNew', 2 * N + 40);
    const tally = (xs: Array<{ name: string }>) => xs.reduce<Record<string, number>>((m, x) => ((m[x.name || '<failed>'] = (m[x.name || '<failed>'] ?? 0) + 1), m), {});
    log(`two tenants, VIP ${VIP}, client 10.47.0.5, ${N} TCP connections each from ports 47000+ at once: ta ${JSON.stringify(tally(a!))}, tb ${JSON.stringify(tally(b!))}; UDP from 48100+: ta ${JSON.stringify(tally(udp[0]!))}, tb ${JSON.stringify(tally(udp[1]!))}; hv1 connNew +${(after.connNew ?? 0) - (before.connNew ?? 0)}`);
    for (const [t, got] of [['ta', a!], ['tb', b!], ['ta', udp[0]!], ['tb', udp[1]!]] as const) {
      expect(got.filter((x) => !x.name.startsWith(`${t}-b`))).toEqual([]);
      expect(new Set(got.map((x) => ('peer' in x ? x.peer : x.from)))).toEqual(new Set([VIP]));
    }
    expect(new Set([...a!, ...b!].map((x) => x.name))).toEqual(new Set(['ta-b1', 'ta-b2', 'tb-b1', 'tb-b2']));
    // The fast path dispatched both tenants' connections and flows.
    expect((after.connNew ?? 0) - (before.connNew ?? 0)).toBeGreaterThanOrEqual(2 * N + 40);
    // Each tenant's status.backends counts its own connections and flows only (the fast path's
    // counts were summed across tenants with the same VIP and backend addresses before).
    const counted = async (t: string) => ((((await call('GET', `${G}/namespaces/fp-${t}/loadbalancers/web`)) as LoadBalancer).status?.backends ?? []).reduce((n, x) => n + (x.connections ?? 0), 0));
    const own = N + 20;
    const totals = await eventually(async () => {
      const c = await Promise.all(tenants.map(counted));
      return c.every((n) => n >= own) ? c : undefined;
    }, 20_000, 250).catch(async () => Promise.all(tenants.map(counted)));
    log(`status.backends connections, summed per tenant: ${JSON.stringify(totals)} (each made ${own}, plus ${warmUp} warming up)`);
    for (const n of totals) {
      expect(n).toBeGreaterThanOrEqual(own);
      expect(n).toBeLessThanOrEqual(own + warmUp);
    }
  }, 150_000);

  it('a network with an IPv6 VIP: its ports that are no backend keep their IPv4 on the fast path; its IPv6, and the VIP\'s connections, are OVS\'s and work', async () => {
    for (const hv of fixture.bed().hypervisors) {
      await api.replace<HypervisorNode>(`${G}/nodes/${hv.name}`, (cur) => ({ ...cur, spec: { ...cur.spec, fastPath: { enabled: true, netns: hv.netns, loadBalancers: true } } }));
    }
    const ns = 'fp-six';
    await fixture.vnetd().call('POST', '/api/v1/namespaces', { metadata: { name: ns } });
    await call('POST', `${G}/namespaces/${ns}/virtualnetworks`, { metadata: { name: 'net' }, spec: { subnets: [{ cidr: '10.48.0.0/24' }, { cidr: 'fd00:48::/64' }] } });
    /** A dual-stack VM: vmFor's, with IPv6 on again and the port's IPv6 address. */
    const dual = async (name: string, hv: string) => {
      const v = await api.vmFor(fixture.bed(), ns, 'net', name, hv, { vmName: `f6${name}`.slice(0, 8) });
      const ip6 = v.port.spec!.ips!.find((i) => i.includes(':'))!;
      await v.vm.exec(['sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=0']);
      await v.vm.exec(['ip', '-6', 'addr', 'add', `${ip6}/64`, 'dev', v.vm.iface, 'nodad']);
      return { ...v, ip4: v.port.spec!.ips!.find((i) => !i.includes(':'))!, ip6 };
    };
    const client = await dual('cli', 'hv1'), peer = await dual('peer', 'hv2'), backend = await dual('be', 'hv2');
    await startServer(backend.vm, 'be');
    const vip = 'fd00:48::100';
    await call('POST', `${G}/namespaces/${ns}/loadbalancers`, {
      metadata: { name: 'web6' },
      spec: { network: 'net', vip, listeners: [{ protocol: 'TCP', port: 80, targetPort: 8080 }], backends: [{ port: 'be' }] },
    });
    await waitReady(ns, 'loadbalancers', 'web6');

    // The IPv6 VIP's connections: OVS deals them and un-DNATs their replies (the fast path
    // deals IPv4 VIPs only), so the client's IPv6 and the backend's are left to OVS.
    const six = await eventually(async () => {
      const c = await connections(client.vm, vip, 20);
      return c.every((x) => x.name === 'be') ? c : undefined;
    }, 20_000, 250);
    expect(new Set(six.map((c) => c.peer))).toEqual(new Set([vip]));
    const pings6 = await client.vm.exec(['ping', '-6', '-c', '20', '-i', '0.01', '-W', '1', '-q', peer.ip6]);
    expect(Number(/(\d+) received/.exec(pings6)?.[1] ?? 0)).toBe(20);
    // Its ordinary IPv4 between the two ports that are no backend is the fast path's: none of it
    // crosses OVS's conntrack (before, one IPv6 load balancer put every port of its network on
    // OVS, and OVS's conntrack counted about 200 packets per node here).
    const before = { t1: await ovsTracked('hv1'), t2: await ovsTracked('hv2') };
    const pings = await client.vm.exec(['ping', '-c', '100', '-i', '0.01', '-W', '1', '-q', peer.ip4]);
    await new Promise((r) => setTimeout(r, 1500));
    const moved = { ovsTrackedHv1: (await ovsTracked('hv1')) - before.t1, ovsTrackedHv2: (await ovsTracked('hv2')) - before.t2 };
    const received = Number(/(\d+) received/.exec(pings)?.[1] ?? 0);
    log(`a network with the IPv6 VIP ${vip}: 20 connections answered by its backend from the VIP, 20 of 20 ping6 answered; 100 IPv4 pings between two ports that are no backend, ${received} answered; OVS's conntrack counted ${JSON.stringify(moved)}`);
    expect(received).toBe(100);
    expect(moved.ovsTrackedHv1).toBeLessThanOrEqual(4);
    expect(moved.ovsTrackedHv2).toBeLessThanOrEqual(4);
  }, 150_000);
});
