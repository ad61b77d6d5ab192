/**
 * Load balancing end to end (issue 5, test 5): a VIP with three backends on both
 * hypervisors, TCP clients in a VM of the same network. Proves on real packets that the
 * VIP answers ARP, that 300 connections all succeed and reach every backend, that the
 * replies come from the VIP (conntrack un-DNATs them on the client's node), that
 * removing a backend moves only its connections (established connections to the other
 * backends keep working, new connections never reach the removed one, and new connections
 * from source ports that were on a survivor keep their backend), that status.backends
 * counts the connections each backend got, that a backend whose port is unbound gets no
 * new connections until it is bound again, and that ClientIP affinity sends every
 * connection of one client to one backend, and that active TCP health checks take a
 * backend whose server stopped out of the slot table and bring it back; and that a backend
 * reaching its own VIP (hairpin) is answered by itself too; and that a VIP without a
 * healthy backend refuses connections at once (TCP RST, ICMP port unreachable). Prints the
 * distribution it measured.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { VIP_SETTLE_MS } from '../../src/fastpath/node-runner';
import { parseLbSlots } from '../../src/cli/commands/trace-lb-flows';
import { openFastPath } from '../../src/fastpath';
import { TABLES } from '../../src/pipeline/tables';
import type { BackendStatus, LoadBalancer } from '../../src/resources/kinds';
import type { Vm } from '../harness/testbed';
import { cliRunner } from '../integration/cli-support';
import { describeOvs } from '../integration/ovsdb-helpers';
import { eventually } from '../support/vnetd';
import { G, addMacvlan, overlayApi, overlayBed, startNamedServer, udpAnswers } from './overlay-support';


function log(line: string): void {
  process.stdout.write(`[overlay-lb] ${line}\n`);
}

/** Backend server: answers every connection (and every line it gets) with its name. */

/**
 * Client: count connections to vip:port from fixed source ports (base+i), `par` at a
 * time; each reads the first line (the backend's name) and resets the connection (no
 * TIME_WAIT anywhere, so a later run may reuse the ports). Prints JSON
 * [{lp, name, peer}] with name "" on failure.
 */
const CLIENT = `const [vip,port,count,base,par]=process.argv.slice(1).map((x,i)=>i?Number(x):x);const net=require('net');const out=[];let next=0;
function one(i){return new Promise(r=>{let buf='';const s=net.connect({host:vip,port,localPort:base+i});const done=(name)=>{clearTimeout(t);out.push({lp:base+i,name,peer:s.remoteAddress||''});try{s.resetAndDestroy()}catch{s.destroy()}r()};const t=setTimeout(()=>done(''),5000);s.on('data',d=>{buf+=d;if(buf.includes('\\n'))done(buf.trim())});s.on('error',()=>done(''))})}
async function worker(){while(next<count){await one(next++)}}Promise.all(Array.from({length:par},worker)).then(()=>console.log(JSON.stringify(out)))`;

/**
 * Persistent client: opens count connections, prints the backend of each; then on every
 * stdin line pokes each connection and prints who answered ("" when nobody did in 3 s).
 */
const PERSISTENT = `const [vip,port,count,base]=process.argv.slice(1).map((x,i)=>i?Number(x):x);const net=require('net');
const socks=Array.from({length:count},(_,i)=>{const s=net.connect({host:vip,port,localPort:base+i});s.buf='';s.on('data',d=>{s.buf+=d});s.on('error',()=>{s.dead=true});return s});
function collect(){const t0=Date.now();return new Promise(r=>{const iv=setInterval(()=>{if(socks.every(s=>s.buf.includes('\\n'))||Date.now()-t0>3000){clearInterval(iv);r(socks.map(s=>{const l=s.buf.split('\\n')[0].trim();s.buf='';return l}))}},20)})}
collect().then(a=>console.log(JSON.stringify(a)));
require('readline').createInterface({input:process.stdin}).on('line',()=>{for(const s of socks)if(!s.dead)s.write('x\\n');collect().then(a=>console.log(JSON.stringify(a)))})`;

describeOvs('overlay: load balancer VIP across two hypervisors', () => {
  const fixture = overlayBed();
  const { children } = fixture;

  const api = overlayApi(fixture.vnetd);
  const { call, waitReady } = api;
  const vmFor = (ns: string, net: string, name: string, hv: string) => api.vmFor(fixture.bed(), ns, net, name, hv, { vmName: `lb${name}`.slice(0, 8) });
  const nodeIn = (vm: Vm, args: string[], stdio: 'pipe' | 'ignore' = 'pipe'): ChildProcess => {
    const c = spawn('ip', ['netns', 'exec', vm.netns, process.execPath, ...args], { stdio: stdio === 'pipe' ? ['pipe', 'pipe', 'pipe'] : 'ignore' });
    children.add(c);
    c.on('exit', () => children.delete(c));
    return c;
  };
  const startServer = (vm: Vm, name: string) => startNamedServer(vm, name, children);
  /** The VIP flows the fast path has dealt on a node so far (vnetd_fastpath_vip_connections_total, event new). */
  const fastPathDealt = async (node: string): Promise<number> => {
    const metrics = (await fixture.vnetd().call('GET', '/metrics')).text;
    return Number(metrics.split('\n').find((l) => l.startsWith('vnetd_fastpath_vip_connections_total{') && l.includes(`node="${node}"`) && l.includes('event="new"'))?.split(' ').pop() ?? 0);
  };
  /** Frames a node's fast path forwarded from an interface (vnetd_fastpath_interface_packets_total, kind fast). */
  const fastPathForwarded = async (node: string, iface: string): Promise<number> => {
    const metrics = (await fixture.vnetd().call('GET', '/metrics')).text;
    return Number(metrics.split('\n').find((l) => l.startsWith('vnetd_fastpath_interface_packets_total{') && l.includes(`node="${node}"`) && l.includes(`interface="${iface}"`) && l.includes('kind="fast"'))?.split(' ').pop() ?? 0);
  };
  const connections = async (client: Vm, vip: string, count: number, base: number, port = 80): Promise<Array<{ lp: number; name: string; peer: string }>> =>
    JSON.parse(await client.exec([process.execPath, '-e', CLIENT, vip, String(port), String(count), String(base), '10'])) as Array<{ lp: number; name: string; peer: string }>;
  /**
   * With the fast path on, a new load balancer's VIPs settle on OVS first (VIP_SETTLE_MS): waits
   * until the client's node's fast path deals a probe connection (source ports 39000 up, which
   * the cases' own never use), rather than sleeping VIP_SETTLE_MS: on a loaded machine the
   * apply after the settle came late, and all 150 connections of a case went to OVS (CI).
   */
  const fastPathDealing = async (client: Vm, vip: string): Promise<void> => {
    if (process.env.VNETD_FASTPATH !== '1') return;
    let probe = 39000;
    await eventually(async () => {
      const before = await fastPathDealt(client.hypervisor.name);
      await connections(client, vip, 1, probe++);
      return eventually(async () => (await fastPathDealt(client.hypervisor.name)) > before, 1_000, 100).catch(() => false);
    }, 20_000, 250);
  };
  const tally = (names: string[]): Record<string, number> => names.reduce<Record<string, number>>((m, n) => ((m[n || '<failed>'] = (m[n || '<failed>'] ?? 0) + 1), m), {});
  /** PERSISTENT's connections from client: who answered them at first (held), then at each poke(); end() closes them. */
  const persistentClient = async (client: Vm, vip: string, count: number, base: number) => {
    const c = nodeIn(client, ['-e', PERSISTENT, vip, '80', String(count), String(base)]);
    const lines: string[] = [];
    let partial = '';
    c.stdout!.on('data', (d: Buffer) => {
      partial += d.toString();
      const parts = partial.split('\n');
      partial = parts.pop()!;
      lines.push(...parts.filter(Boolean));
    });
    const line = async (n: number): Promise<string[]> => JSON.parse(await eventually(async () => lines[n], 10_000, 20)) as string[];
    const held = await line(0);
    let pokes = 0;
    return {
      held,
      poke: () => (c.stdin!.write('poke\n'), line(++pokes)),
      end: () => {
        c.stdin!.end();
        if (c.pid && c.exitCode === null) process.kill(c.pid, 'SIGTERM');
      },
    };
  };


  it('VIP with three backends: 300 connections all succeed, reach every backend, replies from the VIP, counted in status; removing a backend moves only its connections; an unbound backend is skipped until bound again; ClientIP affinity; active TCP health checks', async () => {
    const ns = 'e-lb';
    await fixture.vnetd().call('POST', '/api/v1/namespaces', { metadata: { name: ns } });
    await call('POST', `${G}/namespaces/${ns}/virtualnetworks`, { metadata: { name: 'net' }, spec: { subnets: [{ cidr: '10.40.0.0/24' }] } });
    const client = await vmFor(ns, 'net', 'client', 'hv1');
    const backends = [await vmFor(ns, 'net', 'b1', 'hv1'), await vmFor(ns, 'net', 'b2', 'hv2'), await vmFor(ns, 'net', 'b3', 'hv2')];
    const servers = await Promise.all(backends.map((b) => startServer(b.vm, b.port.metadata.name)));
    const t0 = performance.now();
    const lb = (await call('POST', `${G}/namespaces/${ns}/loadbalancers`, {
      metadata: { name: 'web' },
      spec: { network: 'net', listeners: [{ protocol: 'TCP', port: 80, targetPort: 8080 }], backends: backends.map((b) => ({ port: b.port.metadata.name })) },
    })) as LoadBalancer;
    await waitReady(ns, 'loadbalancers', 'web');
    const readyMs = performance.now() - t0;
    const vip = lb.spec!.vip!;

    // 300 connections, source ports 41000..41299.
    const t1 = performance.now();
    const first = await connections(client.vm, vip, 300, 41000);
    const connMs = performance.now() - t1;
    const dist = tally(first.map((c) => c.name));
    log(`LB Ready in ${readyMs.toFixed(0)} ms; 300 connections to ${vip}:80 in ${connMs.toFixed(0)} ms; per backend: ${JSON.stringify(dist)}`);
    expect(first.filter((c) => !c.name)).toEqual([]);
    for (const b of backends) expect(dist[b.port.metadata.name] ?? 0).toBeGreaterThan(30);
    // The client talks to the VIP only: every peer address is the VIP, never a backend's.
    expect(new Set(first.map((c) => c.peer))).toEqual(new Set([vip]));
    expect(await client.vm.exec(['ip', 'neigh', 'show', vip])).toMatch(/lladdr 02:4c:42:/);

    // status.backends counts exactly the connections each backend got (refreshed every 5 s).
    const statusBackends = async (): Promise<BackendStatus[]> => ((await call('GET', `${G}/namespaces/${ns}/loadbalancers/web`)) as LoadBalancer).status?.backends ?? [];
    const counted = await eventually(async () => {
      const s = await statusBackends();
      return s.length === 3 && s.every((b) => b.connections === (dist[b.name] ?? 0)) ? s : undefined;
    }, 20_000, 250).catch(async () => expect(await statusBackends()).toEqual('connections per backend equal to ' + JSON.stringify(dist)));
    // switchCounters is vnetd's bookkeeping for a restart (the client's node's DNAT counters behind
    // each count; what the fast path dealt is in connections, not on the switch).
    expect((counted as BackendStatus[]).map(({ switchCounters: _, ...b }) => b)).toEqual(backends.map((b) => ({ name: b.port.metadata.name, ip: b.port.spec!.ips![0], node: b.vm.hypervisor.name, healthy: true, connections: dist[b.port.metadata.name] })));
    for (const b of counted as BackendStatus[]) expect(Object.entries(b.switchCounters ?? {}).every(([node, n]) => node === client.vm.hypervisor.name && n <= b.connections!)).toBe(true);
    log(`status.backends after 300 connections: ${JSON.stringify(counted)}`);
    /** Connections the client's fast path took from their SYN (with the fast path on). */
    const fastPathTook = async (): Promise<number> => {
      const metrics = (await fixture.vnetd().call('GET', '/metrics')).text;
      return Number(metrics.split('\n').find((l) => l.startsWith('vnetd_fastpath_vip_connections_total{') && l.includes(`node="${client.vm.hypervisor.name}"`) && l.includes('event="new"'))?.split(' ').pop() ?? 0);
    };
    const tookFirst = await fastPathTook();

    // Long-lived connections across the backend removal.
    const persistent = await persistentClient(client.vm, vip, 30, 43000);
    const held = persistent.held;
    expect(held.filter((n) => !n)).toEqual([]);

    // Remove b2 (on hv2).
    const removed = 'b2';
    const t2 = performance.now();
    await api.replace<LoadBalancer>(`${G}/namespaces/${ns}/loadbalancers/web`, (cur) => ({ ...cur, spec: { ...cur.spec, backends: cur.spec!.backends!.filter((b) => b.port !== removed) } }));
    await waitReady(ns, 'loadbalancers', 'web');
    const removeMs = performance.now() - t2;
    // Its conntrack entries on the client's node (closed connections of the 300 above) are
    // flushed: a client reusing a 5-tuple (UDP) would otherwise stay stuck on it.
    const removedIp = backends.find((b) => b.port.metadata.name === removed)!.port.spec!.ips![0]!;
    const vniOf = ((await call('GET', `${G}/namespaces/${ns}/virtualnetworks/net`)) as { spec: { vni: number } }).spec.vni;
    /** Conntrack entries of the network's zone on the client's node whose replies come from ip (and that `also` accepts). */
    const entries = async (ip: string, also: (line: string) => boolean = () => true) =>
      (await client.vm.hypervisor.ovs.appctl('ovs-vswitchd', ['dpctl/dump-conntrack', `zone=${(vniOf % 65535) + 1}`])).split('\n').filter((l) => l.includes(`reply=(src=${ip},`) && also(l)).length;
    await eventually(async () => (await entries(removedIp)) === 0, 10_000, 100);
    const flushedMs = performance.now() - t2;
    // OVS's conntrack holds the others' (with the fast path on, it carried these TCP
    // connections itself, and OVS's conntrack never saw them).
    if (process.env.VNETD_FASTPATH !== '1') expect(await entries(backends[0]!.port.spec!.ips![0]!)).toBeGreaterThan(0);

    // Established connections to the remaining backends are untouched.
    const poked = await persistent.poke();
    const kept = held.map((n, i) => ({ before: n, after: poked[i] })).filter((c) => c.before !== removed);
    expect(kept.filter((c) => c.after !== c.before)).toEqual([]);
    persistent.end();

    // New connections (the same source ports again): never the removed backend; the others keep serving.
    // With the fast path on, the first 300 went through OVS (a new load balancer's VIPs settle
    // there for VIP_SETTLE_MS) and these through the fast path, which must deal them alike.
    await fastPathDealing(client.vm, vip);
    const tookBefore = await fastPathTook();
    const second = await connections(client.vm, vip, 300, 41000);
    if (process.env.VNETD_FASTPATH === '1') {
      const took = (await fastPathTook()) - tookBefore;
      log(`the fast path on ${client.vm.hypervisor.name} took ${tookFirst} of the first 300 connections (settling: OVS's) and ${took} of the second 300`);
      expect(took).toBeGreaterThanOrEqual(300);
    }
    const dist2 = tally(second.map((c) => c.name));
    const before = new Map(first.map((c) => [c.lp, c.name]));
    const survivors = second.filter((c) => before.get(c.lp) !== removed);
    const moved = survivors.filter((c) => before.get(c.lp) !== c.name).length;
    log(
      `removed ${removed}: Ready again in ${removeMs.toFixed(0)} ms, its conntrack entries flushed after ${flushedMs.toFixed(0)} ms; ${kept.length} established connections to the others all still answered by the same backend; ` +
        `new connections per backend: ${JSON.stringify(dist2)}; of ${survivors.length} source ports not on ${removed} before, ${moved} now land on another backend`,
    );
    // Minimal disruption: only the removed backend's share moved.
    expect(moved).toBe(0);
    expect(second.filter((c) => !c.name)).toEqual([]);
    expect(dist2[removed]).toBeUndefined();
    for (const b of backends.filter((x) => x.port.metadata.name !== removed)) expect(dist2[b.port.metadata.name] ?? 0).toBeGreaterThan(60);
    expect(new Set(second.map((c) => c.peer))).toEqual(new Set([vip]));

    // Passive health: b3's port unbound (its OVS port deleted) -> no new connections for
    // it; bound again -> back, with the same source ports on it as before.
    const sick = backends[2]!;
    const sickIp = sick.port.spec!.ips![0]!;
    /** DNAT flows to `ip` on both nodes (of the listener on `listenerPort` only, when given). */
    const dnatTo = async (ip: string, listenerPort?: number): Promise<number> => {
      let n = 0;
      for (const hv of fixture.bed().hypervisors) {
        const flows = await hv.ovs.ofctl(['-O', 'OpenFlow13', 'dump-flows', `unix:${hv.ovs.bridgeMgmtSocket('br-int')}`]);
        n += flows.split('\n').filter((l) => l.includes(`nat(dst=${ip}:`) && (listenerPort === undefined || l.includes(`tp_dst=${listenerPort} `))).length;
      }
      return n;
    };
    const t4 = performance.now();
    await sick.vm.hypervisor.ovs.vsctl(['del-port', 'br-int', sick.vm.tap]);
    await eventually(async () => (await dnatTo(sickIp)) === 0, 15_000, 100);
    const excludeMs = performance.now() - t4;
    const third = await connections(client.vm, vip, 100, 41000);
    expect(third.filter((c) => !c.name)).toEqual([]);
    expect(third.filter((c) => c.name === sick.port.metadata.name)).toEqual([]);
    await eventually(async () => (await statusBackends()).find((b) => b.name === sick.port.metadata.name)?.healthy === false, 20_000, 250);
    // /metrics says so too, for alerts: the backend's health gauge and the VIP's backends getting connections.
    const metrics = (await fixture.vnetd().call('GET', '/metrics')).text;
    expect(metrics).toContain(`vnetd_loadbalancer_backend_healthy{namespace="${ns}",loadbalancer="web",backend="${sick.port.metadata.name}",node=""} 0`);
    // (Two backends left since one was removed above: one gets connections.)
    expect(metrics).toMatch(new RegExp(`vnetd_loadbalancer_backends_available\\{namespace="${ns}",loadbalancer="web"\\} 1\n`));
    expect(metrics).toMatch(new RegExp(`vnetd_loadbalancer_backends\\{namespace="${ns}",loadbalancer="web"\\} 2\n`));
    await sick.vm.hypervisor.ovs.vsctl([
      'add-port', 'br-int', sick.vm.tap, '--', 'set', 'Interface', sick.vm.tap,
      `external_ids:iface-id=${sick.vm.ifaceId}`, `external_ids:attached-mac="${sick.vm.mac}"`, `external_ids:vm-uuid=${sick.vm.name}`, 'external_ids:iface-status=active',
    ]);
    const t5 = performance.now();
    await eventually(async () => (await dnatTo(sickIp)) > 0, 15_000, 100);
    // Its MAC is reachable again once the port's L2 flow is in: wait until a connection to it works.
    await waitReady(ns, 'virtualports', sick.port.metadata.name);
    const includeMs = performance.now() - t5;
    const fourth = await connections(client.vm, vip, 300, 41000);
    const back = new Map(second.map((c) => [c.lp, c.name]));
    const changed = fourth.filter((c) => back.get(c.lp) !== c.name).length;
    log(`unbound ${sick.port.metadata.name}: out of the VIP in ${excludeMs.toFixed(0)} ms, 100 new connections ${JSON.stringify(tally(third.map((c) => c.name)))}; bound again: back in ${includeMs.toFixed(0)} ms, 300 connections ${JSON.stringify(tally(fourth.map((c) => c.name)))}, ${changed} source ports on another backend than before the unbind`);
    expect(fourth.filter((c) => !c.name)).toEqual([]);
    expect(changed).toBe(0);
    await eventually(async () => (await statusBackends()).find((b) => b.name === sick.port.metadata.name)?.healthy === true, 20_000, 250);

    // Session affinity ClientIP: every connection of the client to one backend.
    await api.replace<LoadBalancer>(`${G}/namespaces/${ns}/loadbalancers/web`, (cur) => ({ ...cur, spec: { ...cur.spec, sessionAffinity: 'ClientIP' } }));
    await waitReady(ns, 'loadbalancers', 'web');
    const sticky = await connections(client.vm, vip, 100, 42000);
    const distSticky = tally(sticky.map((c) => c.name));
    log(`sessionAffinity ClientIP: 100 connections from one client: ${JSON.stringify(distSticky)}`);
    expect(sticky.filter((c) => !c.name)).toEqual([]);
    expect(Object.keys(distSticky)).toHaveLength(1);

    // Active TCP health checks (second LB, b1 + b3): b3's server stopped -> its port
    // still bound but answering RST -> out after 3 failed checks; server back -> in again.
    const hc = (await call('POST', `${G}/namespaces/${ns}/loadbalancers`, {
      metadata: { name: 'checked' },
      spec: {
        network: 'net',
        listeners: [{ protocol: 'TCP', port: 81, targetPort: 8080 }, { protocol: 'UDP', port: 53, targetPort: 5353 }],
        backends: [{ port: 'b1' }, { port: 'b3' }],
        healthCheck: { protocol: 'TCP', intervalSeconds: 1, timeoutSeconds: 1, unhealthyThreshold: 3, healthyThreshold: 1 },
      },
    })) as LoadBalancer;
    await waitReady(ns, 'loadbalancers', 'checked');
    const hcVip = hc.spec!.vip!;
    const hcStatus = async (): Promise<BackendStatus[]> => ((await call('GET', `${G}/namespaces/${ns}/loadbalancers/checked`)) as LoadBalancer).status?.backends ?? [];
    const bothUp = tally((await connections(client.vm, hcVip, 60, 44000, 81)).map((c) => c.name));
    expect(Object.keys(bothUp).sort()).toEqual(['b1', 'b3']);
    // A client whose source port is the checked port (8080): served, not taken for a probe's answer (QA: refused).
    const fromChecked = await connections(client.vm, hcVip, 1, 8080, 81);
    expect(fromChecked.filter((c) => !c.name)).toEqual([]);
    const b3server = servers[2]!;
    // UDP clients from 40 fixed source ports (DNS resolvers, syslog), each answered by its
    // backend (through OVS's conntrack, or the fast path's flows when it runs), from the VIP.
    const udpFirst = await eventually(async () => {
      const a = await udpAnswers(client.vm, hcVip, 53, 47000, 40);
      return a.every((x) => x.name) ? a : undefined;
    }, 10_000, 200);
    expect(Object.keys(tally(udpFirst.map((x) => x.name))).sort()).toEqual(['b1', 'b3']);
    expect(new Set(udpFirst.map((x) => x.from))).toEqual(new Set([hcVip]));
    const t6 = performance.now();
    process.kill(b3server.pid!, 'SIGTERM');
    await eventually(async () => (await dnatTo(sickIp, 81)) === 0, 20_000, 100);
    const downMs = performance.now() - t6;
    const whileDown = await connections(client.vm, hcVip, 60, 44000, 81);
    expect(whileDown.filter((c) => c.name !== 'b1')).toEqual([]);
    // Status follows the health change itself, not the next 5 s refresh.
    const hcLb = async () => (await call('GET', `${G}/namespaces/${ns}/loadbalancers/checked`)) as LoadBalancer;
    const marked = await eventually(async () => { const o = await hcLb(); return o.status?.backends?.find((b) => b.name === 'b3')?.healthy === false ? o : undefined; }, 20_000, 50);
    const statusLagMs = performance.now() - t6 - downMs;
    expect(marked.status?.healthyBackends).toBe('1/2');
    expect(marked.status?.conditions?.find((c) => c.type === 'BackendsAvailable')).toMatchObject({ status: 'True', reason: 'SomeBackendsUnavailable', message: expect.stringMatching(/^1 of 2 backends gets connections; not: b3 \(failing health checks: RST since \S+\)$/) });
    log(`b3 out of the slot table -> its status said so ${statusLagMs.toFixed(0)} ms later (healthyBackends ${marked.status?.healthyBackends})`);
    if (process.env.VNETD_FASTPATH !== '1') {
      // OVS's conntrack: b3's UDP entries are flushed a second after it left the slot table,
      // b1's (its flows from before) stay. With the fast path on, it carried these flows and
      // OVS's conntrack has none.
      const udpTo = (ip: string) => entries(ip, (l) => l.startsWith('udp,') && l.includes(`dst=${hcVip},`));
      await eventually(async () => (await udpTo(sickIp)) === 0, 10_000, 100);
      expect(await udpTo(backends[0]!.port.spec!.ips![0]!)).toBeGreaterThan(0);
    }
    // A UDP client keeping its source port must not stay on the backend that failed its checks
    // (QA: stuck on the dead backend for as long as it sent): OVS's conntrack entries of b3 go
    // a second later, the fast path deals such a flow again at its next datagram.
    const udpMoved = await eventually(async () => {
      const a = await udpAnswers(client.vm, hcVip, 53, 47000, 40);
      return a.every((x) => x.name === 'b1') ? a : undefined;
    }, 10_000, 200);
    log(`b3 unhealthy: the UDP clients it answered are answered by b1 ${(performance.now() - t6 - downMs).toFixed(0)} ms after it left the slot table (${udpFirst.filter((x) => x.name === 'b3').length} of 40 moved)`);
    expect(new Set(udpMoved.map((x) => x.from))).toEqual(new Set([hcVip]));

    await startServer(sick.vm, 'b3');
    const t7 = performance.now();
    await eventually(async () => (await dnatTo(sickIp, 81)) > 0, 20_000, 100);
    const upMs = performance.now() - t7;
    const afterUp = tally((await connections(client.vm, hcVip, 60, 44000, 81)).map((c) => c.name));
    log(`health checks (1 s interval, 3 failures / 1 success): b3's server stopped -> out of the slot table after ${downMs.toFixed(0)} ms, 60 connections ${JSON.stringify(tally(whileDown.map((c) => c.name)))}; server back -> in again after ${upMs.toFixed(0)} ms, 60 connections ${JSON.stringify(afterUp)}`);
    expect(Object.keys(afterUp).sort()).toEqual(['b1', 'b3']);
    await eventually(async () => (await hcStatus()).find((b) => b.name === 'b3')?.healthy === true, 20_000, 250);
    expect((await hcLb()).status?.conditions?.find((c) => c.type === 'BackendsAvailable')).toMatchObject({ status: 'True', reason: 'AllBackendsAvailable' });
    // The UDP listener's targetPort changes: clients keeping their source ports are answered on
    // the new port (OVS's entries to the old port are flushed a second later; the fast path
    // deals such a flow again at its next datagram). Before, they stayed on the old port for
    // as long as they sent.
    await eventually(async () => (await udpAnswers(client.vm, hcVip, 53, 47000, 40)).every((x) => x.name && !x.name.includes('@')), 10_000, 200);
    await api.replace<LoadBalancer>(`${G}/namespaces/${ns}/loadbalancers/checked`, (cur) => ({ ...cur, spec: { ...cur.spec, listeners: cur.spec!.listeners.map((l) => (l.protocol === 'UDP' ? { ...l, targetPort: 5354 } : l)) } }));
    await waitReady(ns, 'loadbalancers', 'checked');
    const t8 = performance.now();
    const onNewPort = await eventually(async () => {
      const a = await udpAnswers(client.vm, hcVip, 53, 47000, 40);
      return a.every((x) => x.name.endsWith('@5354')) ? a : undefined;
    }, 10_000, 200);
    log(`UDP targetPort 5353 -> 5354: the 40 clients answered on the new port ${(performance.now() - t8).toFixed(0)} ms after the load balancer was Ready (${JSON.stringify(tally(onNewPort.map((x) => x.name)))})`);
    // The same change as vnetctl lb remove-listener, then add-listener: the clients' flows to
    // the removed listener are flushed with it, so after the add they are answered on its new
    // target port. Before, they stayed on the old one for as long as they sent (QA-128 F1).
    await api.replace<LoadBalancer>(`${G}/namespaces/${ns}/loadbalancers/checked`, (cur) => ({ ...cur, spec: { ...cur.spec, listeners: cur.spec!.listeners.filter((l) => l.protocol !== 'UDP') } }));
    await waitReady(ns, 'loadbalancers', 'checked');
    await new Promise((r) => setTimeout(r, 1500)); // the flush, a second after the compile
    await api.replace<LoadBalancer>(`${G}/namespaces/${ns}/loadbalancers/checked`, (cur) => ({ ...cur, spec: { ...cur.spec, listeners: [...cur.spec!.listeners, { protocol: 'UDP', port: 53, targetPort: 5353 }] } }));
    await waitReady(ns, 'loadbalancers', 'checked');
    const t9 = performance.now();
    const onReAdded = await eventually(async () => {
      const a = await udpAnswers(client.vm, hcVip, 53, 47000, 40);
      return a.every((x) => x.name && !x.name.includes('@')) ? a : undefined;
    }, 10_000, 200);
    log(`UDP listener removed, then added with targetPort 5353: the 40 clients answered on 5353 ${(performance.now() - t9).toFixed(0)} ms after the load balancer was Ready (${JSON.stringify(tally(onReAdded.map((x) => x.name)))})`);
    await call('DELETE', `${G}/namespaces/${ns}/loadbalancers/checked`);

    // Deleting the load balancer takes its flows and groups off both nodes.
    const lbMacNow = /lladdr (\S+)/.exec(await client.vm.exec(['ip', 'neigh', 'show', vip]))?.[1] ?? '';
    const t3 = performance.now();
    await call('DELETE', `${G}/namespaces/${ns}/loadbalancers/web`);
    const leftover = async () => {
      const out: string[] = [];
      for (const hv of fixture.bed().hypervisors) {
        const sock = `unix:${hv.ovs.bridgeMgmtSocket('br-int')}`;
        const flows = await hv.ovs.ofctl(['-O', 'OpenFlow13', 'dump-flows', sock]);
        const groups = await hv.ovs.ofctl(['-O', 'OpenFlow13', 'dump-groups', sock]);
        out.push(...flows.split('\n').filter((l) => l.includes(vip) || l.includes(hcVip) || (lbMacNow && l.includes(lbMacNow))), ...groups.split('\n').filter((l) => l.includes('group_id=')));
      }
      return out;
    };
    await eventually(async () => ((await leftover()).length === 0 ? true : undefined), 10_000, 50).catch(async () => expect(await leftover()).toEqual([]));
    log(`deleted: VIP flows and groups gone from both nodes ${(performance.now() - t3).toFixed(0)} ms after DELETE`);
  }, 240_000);

  it('weight 0 drains a backend: its established connections go on, new ones go to the others', async () => {
    const ns = 'd-lb';
    await fixture.vnetd().call('POST', '/api/v1/namespaces', { metadata: { name: ns } });
    await call('POST', `${G}/namespaces/${ns}/virtualnetworks`, { metadata: { name: 'net' }, spec: { subnets: [{ cidr: '10.43.0.0/24' }] } });
    const [client, d1, d2] = [await vmFor(ns, 'net', 'd0', 'hv1'), await vmFor(ns, 'net', 'd1', 'hv1'), await vmFor(ns, 'net', 'd2', 'hv2')];
    for (const [b, name] of [[d1, 'd1'], [d2, 'd2']] as const) await startServer(b.vm, name);
    const lb = (await call('POST', `${G}/namespaces/${ns}/loadbalancers`, {
      metadata: { name: 'drain' },
      spec: { network: 'net', listeners: [{ protocol: 'TCP', port: 80, targetPort: 8080 }], backends: [{ port: 'd1' }, { port: 'd2' }] },
    })) as LoadBalancer;
    await waitReady(ns, 'loadbalancers', 'drain');
    const vip = lb.spec!.vip!;
    const persistent = await persistentClient(client.vm, vip, 20, 44000);
    const held = persistent.held;
    expect(held.filter((n) => !n)).toEqual([]);
    expect(held).toContain('d2');
    // Drain d2.
    await api.replace<LoadBalancer>(`${G}/namespaces/${ns}/loadbalancers/drain`, (cur) => ({ ...cur, spec: { ...cur.spec!, backends: [{ port: 'd1' }, { port: 'd2', weight: 0 }] } }));
    await waitReady(ns, 'loadbalancers', 'drain');
    const drained = await eventually(async () => {
      const o = (await call('GET', `${G}/namespaces/${ns}/loadbalancers/drain`)) as LoadBalancer;
      const c = o.status?.conditions?.find((x) => x.type === 'BackendsAvailable');
      return c?.message?.includes('d2 (drained: weight 0)') && c.observedGeneration === o.metadata.generation ? c : undefined;
    }, 10_000, 50);
    // Drained on purpose: a reason of its own, which records no Warning (QA-132 F8).
    expect(drained).toMatchObject({ status: 'True', reason: 'SomeBackendsDrained' });
    await new Promise((r) => setTimeout(r, 1500)); // past any conntrack flush (a second after)
    const poked = await persistent.poke();
    const toD2 = held.filter((n) => n === 'd2').length;
    log(`drain: ${toD2} of ${held.length} held connections on d2; after weight 0 they answered ${JSON.stringify(tally(poked.filter((_, i) => held[i] === 'd2')))}`);
    expect(poked).toEqual(held);
    persistent.end();
    const fresh = await connections(client.vm, vip, 60, 45000);
    expect(fresh.filter((c) => !c.name)).toEqual([]);
    expect(tally(fresh.map((c) => c.name))).toEqual({ d1: 60 });
  });

  it('vnetctl node cordon drains the backends on that hypervisor: its established connections go on, new ones go elsewhere; uncordon brings them back', async () => {
    const ns = 'cordon-lb';
    await fixture.vnetd().call('POST', '/api/v1/namespaces', { metadata: { name: ns } });
    await call('POST', `${G}/namespaces/${ns}/virtualnetworks`, { metadata: { name: 'net' }, spec: { subnets: [{ cidr: '10.49.0.0/24' }] } });
    const [client, k1, k2] = [await vmFor(ns, 'net', 'k0', 'hv1'), await vmFor(ns, 'net', 'k1', 'hv1'), await vmFor(ns, 'net', 'k2', 'hv2')];
    for (const [b, name] of [[k1, 'k1'], [k2, 'k2']] as const) await startServer(b.vm, name);
    const lb = (await call('POST', `${G}/namespaces/${ns}/loadbalancers`, {
      metadata: { name: 'web' },
      spec: { network: 'net', listeners: [{ protocol: 'TCP', port: 80, targetPort: 8080 }], backends: [{ port: 'k1' }, { port: 'k2' }] },
    })) as LoadBalancer;
    await waitReady(ns, 'loadbalancers', 'web');
    const vip = lb.spec!.vip!;
    const persistent = await persistentClient(client.vm, vip, 20, 46000);
    const held = persistent.held;
    expect(held.filter((n) => !n)).toEqual([]);
    expect(held).toContain('k2');
    const cli = await cliRunner({ KUBECONFIG: fixture.vnetd().kubeconfigPath });
    const available = async () => ((await call('GET', `${G}/namespaces/${ns}/loadbalancers/web`)) as LoadBalancer).status?.conditions?.find((x) => x.type === 'BackendsAvailable');
    let uncordoned: Awaited<ReturnType<typeof cli.run>> | undefined;
    try {
      const cordoned = await cli.run(['node', 'cordon', 'hv2']);
      expect(cordoned.stderr).toBe('');
      expect(cordoned.stdout).toMatch(/^node\.vnet\.dev\/hv2 cordoned\n/);
      expect(cordoned.stdout).toMatch(/CORDONED[\s\S]*\btrue\b/);
      const t0 = performance.now();
      const drained = await eventually(async () => {
        const c = await available();
        return c?.message?.includes('k2 (drained: its node hv2 is cordoned)') ? c : undefined;
      }, 10_000, 50);
      // Drained on purpose: the operator's doing, no Warning.
      expect(drained).toMatchObject({ status: 'True', reason: 'SomeBackendsDrained' });
      await new Promise((r) => setTimeout(r, 1500)); // past any conntrack flush (a second after)
      const poked = await persistent.poke();
      expect(poked).toEqual(held);
      const fresh = await connections(client.vm, vip, 40, 47000);
      log(`cordon hv2: status said drained ${(performance.now() - t0).toFixed(0)} ms after the cordon; ${held.filter((n) => n === 'k2').length} of ${held.length} held connections on k2 went on; 40 new connections: ${JSON.stringify(tally(fresh.map((c) => c.name)))}`);
      expect(tally(fresh.map((c) => c.name))).toEqual({ k1: 40 });
      // vnetctl trace leaves it out as OVS's slot table does, and finds nothing wrong.
      const trace = await cli.run(['-n', ns, 'trace', '--from', 'k0', '--to', `${vip}:80`]);
      expect(trace.stdout).toContain('left out as drained, their node cordoned: k2 (node hv2)');
      expect([trace.code, trace.stderr]).toEqual([0, '']);
      // A mistyped node: one clear line, nothing written.
      const typo = await cli.run(['node', 'cordon', 'hv9']);
      expect(typo.code).not.toBe(0);
      expect(typo.stderr.trim().split('\n')).toHaveLength(1);
      expect(typo.stderr).toMatch(/hv9/);
    } finally {
      // (Checked after: an expect failing here would hide the one that failed above.)
      uncordoned = await cli.run(['node', 'uncordon', 'hv2']);
      persistent.end();
    }
    expect(uncordoned?.stdout).toMatch(/^node\.vnet\.dev\/hv2 uncordoned\n/);
    await eventually(async () => ((await available())?.reason === 'AllBackendsAvailable' ? true : undefined), 10_000, 50);
    const back = await connections(client.vm, vip, 40, 48000);
    expect(back.filter((c) => !c.name)).toEqual([]);
    expect(tally(back.map((c) => c.name)).k2).toBeGreaterThan(0);
  });

  it('a load balancer deleted and made again with the same VIP and backends counts its own connections only, from 0', async () => {
    const ns = 'again-lb';
    await fixture.vnetd().call('POST', '/api/v1/namespaces', { metadata: { name: ns } });
    await call('POST', `${G}/namespaces/${ns}/virtualnetworks`, { metadata: { name: 'net' }, spec: { subnets: [{ cidr: '10.47.0.0/24' }] } });
    const [client, m1, m2] = [await vmFor(ns, 'net', 'm0', 'hv1'), await vmFor(ns, 'net', 'm1', 'hv1'), await vmFor(ns, 'net', 'm2', 'hv2')];
    for (const [b, name] of [[m1, 'm1'], [m2, 'm2']] as const) await startServer(b.vm, name);
    const path = `${G}/namespaces/${ns}/loadbalancers/again`;
    const make = async (vip?: string): Promise<string> => {
      const lb = (await call('POST', `${G}/namespaces/${ns}/loadbalancers`, {
        metadata: { name: 'again' },
        spec: { network: 'net', ...(vip ? { vip } : {}), listeners: [{ protocol: 'TCP', port: 80, targetPort: 8080 }], backends: [{ port: 'm1' }, { port: 'm2' }] },
      })) as LoadBalancer;
      await waitReady(ns, 'loadbalancers', 'again');
      // With the fast path on, its VIP settles on OVS first (VIP_SETTLE_MS): then the fast path deals, and counts, its connections.
      if (process.env.VNETD_FASTPATH === '1') await new Promise((r) => setTimeout(r, VIP_SETTLE_MS + 500));
      return lb.spec!.vip!;
    };
    const fastPathTook = async (): Promise<number> => {
      const metrics = (await fixture.vnetd().call('GET', '/metrics')).text;
      return Number(metrics.split('\n').find((l) => l.startsWith('vnetd_fastpath_vip_connections_total{') && l.includes(`node="${client.vm.hypervisor.name}"`) && l.includes('event="new"'))?.split(' ').pop() ?? 0);
    };
    const took0 = await fastPathTook();
    const counted = async (): Promise<number | undefined> => {
      const s = ((await call('GET', path)) as LoadBalancer).status?.backends;
      return s?.length === 2 && s.every((b) => b.connections !== undefined) ? s.reduce((n, b) => n + b.connections!, 0) : undefined;
    };
    const vip = await make();
    const first = await connections(client.vm, vip, 40, 46000);
    expect(first.filter((c) => !c.name)).toEqual([]);
    await eventually(async () => ((await counted()) === 40 ? true : undefined), 20_000, 250).catch(async () => expect(await counted()).toBe(40));
    await call('DELETE', path);
    await eventually(async () => (await fixture.vnetd().call('GET', path)).status === 404, 20_000, 100);
    expect(await make(vip)).toBe(vip);
    const second = await connections(client.vm, vip, 10, 46100);
    expect(second.filter((c) => !c.name)).toEqual([]);
    // Counted every 5 s: past two counts, it is its own 10, never 50.
    await eventually(async () => ((await counted()) === 10 ? true : undefined), 20_000, 250).catch(async () => expect(await counted()).toBe(10));
    await new Promise((r) => setTimeout(r, 11_000));
    const after = await counted();
    const took = (await fastPathTook()) - took0;
    log(`made again on ${vip}: its status counts ${after} connections (its own 10; its predecessor had 40); the fast path dealt ${took} of the 50`);
    expect(after).toBe(10);
    if (process.env.VNETD_FASTPATH === '1') expect(took).toBe(50);
  });

  it('a VIP without a healthy backend refuses at once: TCP RST and UDP port unreachable from the VIP, a flood of it metered at the switch; with a backend again it serves', async () => {
    const ns = 'r-lb';
    await fixture.vnetd().call('POST', '/api/v1/namespaces', { metadata: { name: ns } });
    await call('POST', `${G}/namespaces/${ns}/virtualnetworks`, { metadata: { name: 'net' }, spec: { subnets: [{ cidr: '10.42.0.0/24' }] } });
    const [client, b] = [await vmFor(ns, 'net', 'r1', 'hv1'), await vmFor(ns, 'net', 'r2', 'hv2')];
    const lb = (await call('POST', `${G}/namespaces/${ns}/loadbalancers`, {
      metadata: { name: 'empty' },
      spec: { network: 'net', listeners: [{ protocol: 'TCP', port: 80, targetPort: 8080 }, { protocol: 'UDP', port: 53, targetPort: 5353 }], backends: [] },
    })) as LoadBalancer;
    await waitReady(ns, 'loadbalancers', 'empty');
    const vip = lb.spec!.vip!;
    // What a TCP connect and a connected UDP socket's send see, and how long it took.
    const probe = `const [vip]=process.argv.slice(1);const t0=performance.now();const ms=()=>Math.round(performance.now()-t0);const out={};
const s=require('net').connect({host:vip,port:80});s.setTimeout(3000,()=>{out.tcp='timeout';s.destroy();udp()});s.on('connect',()=>{out.tcp='connected';s.destroy();udp()});s.on('error',(e)=>{out.tcp=e.code;out.tcpMs=ms();udp()});
function udp(){const u=require('dgram').createSocket('udp4');const t1=performance.now();const tm=setTimeout(()=>{out.udp='timeout';closed=true;u.close();done()},3000);
let closed=false;u.on('error',(e)=>{clearTimeout(tm);out.udp=e.code;out.udpMs=Math.round(performance.now()-t1);closed=true;u.close();done()});u.connect(53,vip,()=>{u.send('q');setTimeout(()=>closed||u.send('q'),200)})}
function done(){console.log(JSON.stringify(out))}`;
    const refusals = async () => {
      const text = (await fixture.vnetd().call('GET', '/metrics')).text;
      return Number(text.split('\n').find((l) => l.startsWith('vnetd_lb_refused_total{') && l.includes('node="hv1"') && l.includes('result="answered"'))?.split(' ').pop() ?? 0);
    };
    const before = await refusals();
    const got = JSON.parse(await client.vm.exec([process.execPath, '-e', probe, vip])) as { tcp: string; tcpMs?: number; udp: string; udpMs?: number };
    log(`no backend: TCP ${got.tcp} after ${got.tcpMs} ms, UDP ${got.udp} after ${got.udpMs} ms`);
    // Without the refusal the connect times out (SYN retries) and the UDP socket hears nothing.
    expect(got).toMatchObject({ tcp: 'ECONNREFUSED', udp: 'ECONNREFUSED' });
    expect(got.tcpMs).toBeLessThan(1000);
    expect(await eventually(async () => ((await refusals()) - before >= 2 ? true : undefined), 10_000, 100)).toBe(true);
    // A flood at the empty VIP: the switch's refusal meter (1,000 a second, burst 200) lets a
    // bounded part of it reach vnetd, answered or paced; before it, all 3,000 were packet-ins.
    const reached = async () => {
      const text = (await fixture.vnetd().call('GET', '/metrics')).text;
      return text.split('\n').filter((l) => l.startsWith('vnetd_lb_refused_total{') && l.includes('node="hv1"')).reduce((sum, l) => sum + Number(l.split(' ').pop()), 0);
    };
    const reachedBefore = await reached();
    // Unconnected: the ICMP errors the answered ones bring do not fail its later sends.
    const flood = `const u=require('dgram').createSocket('udp4');const [vip]=process.argv.slice(1);const t0=performance.now();let n=0;
u.on('error',()=>undefined);const next=()=>{for(let i=0;i<100&&n<3000;i++,n++)u.send('q',53,vip);if(n<3000)setImmediate(next);else setTimeout(()=>{console.log(Math.round(performance.now()-t0));u.close()},300)};next()`;
    const floodMs = Number(await client.vm.exec([process.execPath, '-e', flood, vip]));
    await new Promise((r) => setTimeout(r, 1000));
    const reachedVnetd = (await reached()) - reachedBefore;
    log(`a flood of 3000 UDP datagrams at the empty VIP in ${floodMs} ms: ${reachedVnetd} reached vnetd (meter: 1000/s, burst 200)`);
    expect(reachedVnetd).toBeGreaterThan(0);
    expect(reachedVnetd).toBeLessThan(300 + floodMs * 1.2);
    expect(reachedVnetd).toBeLessThan(2000);
    // A backend comes: the refuse flows give way to the slot table.
    await startServer(b.vm, 'r2');
    const tAdd = performance.now();
    await api.replace<LoadBalancer>(`${G}/namespaces/${ns}/loadbalancers/empty`, (cur) => ({ ...cur, spec: { ...cur.spec!, backends: [{ port: b.port.metadata.name }] } }));
    await waitReady(ns, 'loadbalancers', 'empty');
    const tReady = performance.now();
    // Its status follows the spec change itself, not the next 5 s refresh (QA: BACKENDS and
    // BackendsAvailable described the previous generation for up to 5 s).
    const lbNow = async () => (await call('GET', `${G}/namespaces/${ns}/loadbalancers/empty`)) as LoadBalancer;
    const followed = await eventually(async () => { const o = await lbNow(); return o.status?.healthyBackends === '1/1' ? o : undefined; }, 10_000, 25);
    const statusMs = performance.now() - tAdd;
    const afterReadyMs = performance.now() - tReady;
    expect(followed.status?.conditions?.find((c) => c.type === 'BackendsAvailable')).toMatchObject({ status: 'True', observedGeneration: followed.metadata.generation });
    log(`backend added: BACKENDS 1/1 in status ${statusMs.toFixed(0)} ms after the change, ${afterReadyMs.toFixed(0)} ms after Ready was seen`);
    // The refresh every 5 s made it 0-5 s after Ready. Measured from Ready, not from the PUT:
    // on a loaded CI machine the PUT and Ready alone took over a second once.
    expect(afterReadyMs).toBeLessThan(1000);
    const served = await eventually(async () => {
      const c = await connections(client.vm, vip, 10, 45200);
      return c.every((x) => x.name === 'r2') ? c : undefined;
    }, 10_000, 200);
    expect(served).toHaveLength(10);
    // The network filling its share of hv1's connection-tracking table (a limit of 8 here, the
    // network's half of it 4): a Warning ConntrackZoneFull on the network, which its tenant
    // reads (QA-133 F3: its new connections there were dropped with nothing said to it).
    // Not with the fast path on: it deals these datagrams itself, outside OVS's table.
    if (process.env.VNETD_FASTPATH === '1') log('conntrack share: not checked with the fast path on (it deals the VIP\'s datagrams outside OVS\'s table)');
    else await expectZoneFullEvent();
    async function expectZoneFullEvent(): Promise<void> {
      const hv1 = client.vm.hypervisor;
      await hv1.ovs.appctl('ovs-vswitchd', ['dpctl/ct-set-maxconns', '8']);
      try {
        // vnetd's next reading (every 10 s) gives each network's zone 4; a zone counts the
        // connections made after its limit, so the table is emptied once it is there.
        await eventually(async () => /^zone=\d+,limit=4,/m.test(await hv1.ovs.appctl('ovs-vswitchd', ['dpctl/ct-get-limits'])), 30_000, 200);
        await hv1.ovs.appctl('ovs-vswitchd', ['dpctl/flush-conntrack']);
        type Ev = { reason: string; type: string; message: string; involvedObject: { kind: string; name: string } };
        const t0 = performance.now();
        const zoneFull = await eventually(async () => {
          await client.vm.exec(['bash', '-c', `for i in $(seq 1 12); do echo x > /dev/udp/${vip}/53; done`]);
          const evs = ((await call('GET', `/api/v1/namespaces/${ns}/events`)) as { items: Ev[] }).items;
          return evs.find((e) => e.reason === 'ConntrackZoneFull' && e.involvedObject.kind === 'VirtualNetwork' && e.involvedObject.name === 'net');
        }, 30_000, 1000);
        log(`a network at its conntrack share on hv1: ${zoneFull!.type} ${zoneFull!.reason} on its VirtualNetwork after ${(performance.now() - t0).toFixed(0)} ms (10 s readings)`);
        expect(zoneFull!.message).toMatch(/^on node hv1, all 4 connection-tracking entries this network may hold are in use/);
      } finally {
        await hv1.ovs.appctl('ovs-vswitchd', ['dpctl/ct-set-maxconns', '3000000']);
        await hv1.ovs.appctl('ovs-vswitchd', ['dpctl/flush-conntrack']);
        // The zones' limits back to half of 3,000,000 before the next test opens connections.
        await eventually(async () => !/,limit=4,/.test(await hv1.ovs.appctl('ovs-vswitchd', ['dpctl/ct-get-limits'])), 30_000, 200);
      }
    }
    // Its listeners on 80 and 53 removed (another one stays): those ports of the VIP refuse
    // as a listener without backends does. Before, nothing answered: the connect and the
    // datagram timed out (QA-128 F5).
    await api.replace<LoadBalancer>(`${G}/namespaces/${ns}/loadbalancers/empty`, (cur) => ({ ...cur, spec: { ...cur.spec!, listeners: [{ protocol: 'TCP', port: 81, targetPort: 8080 }] } }));
    await waitReady(ns, 'loadbalancers', 'empty');
    const removed = await eventually(async () => {
      const g = JSON.parse(await client.vm.exec([process.execPath, '-e', probe, vip])) as { tcp: string; tcpMs?: number; udp: string; udpMs?: number };
      return g.tcp === 'ECONNREFUSED' && g.udp === 'ECONNREFUSED' ? g : undefined;
    }, 10_000, 200).catch(async () => JSON.parse(await client.vm.exec([process.execPath, '-e', probe, vip])) as { tcp: string; tcpMs?: number; udp: string; udpMs?: number });
    log(`no listener on the port: TCP ${removed.tcp} after ${removed.tcpMs} ms, UDP ${removed.udp} after ${removed.udpMs} ms`);
    expect(removed).toMatchObject({ tcp: 'ECONNREFUSED', udp: 'ECONNREFUSED' });
    expect(removed.tcpMs).toBeLessThan(1000);
    await call('DELETE', `${G}/namespaces/${ns}/loadbalancers/empty`);
  }, 120_000);

  it('QA-152 F8: an ICMP error a backend sends about a datagram to the VIP comes from the VIP and quotes it: a connected UDP socket gets ECONNREFUSED from a backend with nothing listening, local or remote (with the fast path on: rewritten by it)', async () => {
    const ns = 'icmp-lb';
    await fixture.vnetd().call('POST', '/api/v1/namespaces', { metadata: { name: ns } });
    await call('POST', `${G}/namespaces/${ns}/virtualnetworks`, { metadata: { name: 'net' }, spec: { subnets: [{ cidr: '10.56.3.0/24' }] } });
    const [client, local, remote] = [await vmFor(ns, 'net', 'ic1', 'hv1'), await vmFor(ns, 'net', 'ic2', 'hv1'), await vmFor(ns, 'net', 'ic3', 'hv2')];
    // One load balancer per backend, so that which backend a datagram meets is known; nothing
    // listens on 5454 on either.
    const vips: Record<string, string> = {};
    for (const [name, b] of [['err-local', local], ['err-remote', remote]] as const) {
      const lb = (await call('POST', `${G}/namespaces/${ns}/loadbalancers`, {
        metadata: { name },
        spec: { network: 'net', listeners: [{ protocol: 'UDP', port: 54, targetPort: 5454 }], backends: [{ port: b.port.metadata!.name }] },
      })) as LoadBalancer;
      vips[name] = lb.spec!.vip!;
    }
    for (const name of Object.keys(vips)) await waitReady(ns, 'loadbalancers', name);
    // A connected UDP socket's sends until an error or an answer, and every ICMP destination
    // unreachable about it the client's node delivered (a raw socket's copy): its source, and
    // the datagram it quotes.
    const probe = `import socket,sys,json,time
vip,port=sys.argv[1],int(sys.argv[2])
raw=socket.socket(socket.AF_INET,socket.SOCK_RAW,socket.IPPROTO_ICMP)
u=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);u.connect((vip,port));lport=u.getsockname()[1];u.settimeout(0.5)
out={'udp':'timeout','lport':lport,'icmp':[]};t0=time.time()
for i in range(6):
  u.send(b'q')
  try:
    u.recv(100);out['udp']='answered';break
  except ConnectionRefusedError:
    out['udp']='ECONNREFUSED';out['ms']=round((time.time()-t0)*1000);break
  except socket.timeout:
    pass
raw.settimeout(0.3)
try:
  while True:
    d,a=raw.recvfrom(4096);h=(d[0]&15)*4;q=d[h+8:]
    if d[h]!=3 or len(q)<20:continue
    qh=(q[0]&15)*4
    if len(q)<qh+4 or int.from_bytes(q[qh:qh+2],'big')!=lport:continue
    out['icmp'].append({'from':a[0],'code':d[h+1],'quotedSrc':socket.inet_ntoa(q[12:16]),'quotedDst':socket.inet_ntoa(q[16:20]),'quotedPort':int.from_bytes(q[qh+2:qh+4],'big')})
except socket.timeout:
  pass
print(json.dumps(out))`;
    type Probe = { udp: string; ms?: number; lport: number; icmp: Array<{ from: string; code: number; quotedSrc: string; quotedDst: string; quotedPort: number }> };
    const run = async (vip: string): Promise<Probe> => JSON.parse(await client.vm.exec(['/usr/bin/python3', '-c', probe, vip, '54'])) as Probe;
    const tables = async (): Promise<Record<string, number>> =>
      (((await call('GET', `${G}/nodes/hv1`)) as { status?: { fastpath?: { counters?: { tables?: Record<string, number> } } } }).status?.fastpath?.counters?.tables ?? {});
    const fast = process.env.VNETD_FASTPATH === '1';
    for (const [name, vip] of Object.entries(vips)) {
      // With the fast path on, a new VIP settles on OVS first (VIP_SETTLE_MS): probes until
      // hv1's fast path dealt the flow (connNew), and then its ICMP error (icmpReverse).
      let moved = { connNew: 0, icmpReverse: 0 };
      const got = await eventually(async () => {
        const before = await tables();
        const g = await run(vip);
        if (!fast) return g;
        const after = await eventually(async () => {
          const t = await tables();
          return (t.connNew ?? 0) > (before.connNew ?? 0) && (t.icmpReverse ?? 0) > (before.icmpReverse ?? 0) ? t : undefined;
        }, 1_500, 100).catch(() => undefined);
        if (!after) return undefined;
        moved = { connNew: (after.connNew ?? 0) - (before.connNew ?? 0), icmpReverse: (after.icmpReverse ?? 0) - (before.icmpReverse ?? 0) };
        return g;
      }, 30_000, 500).catch(() => run(vip));
      log(`${name} (${vip}:54, nothing listening on its backend): UDP ${got.udp} after ${got.ms} ms; ICMP ${JSON.stringify(got.icmp)}${fast ? `; hv1 fast path: ${JSON.stringify(moved)}` : ''}`);
      // Untranslated (QA-152 F8), the error came from the backend's address quoting
      // backend:5454: the socket matched nothing and timed out.
      expect(got.udp).toBe('ECONNREFUSED');
      expect(got.icmp.length).toBeGreaterThan(0);
      for (const i of got.icmp) expect(i).toEqual({ from: vip, code: 3, quotedSrc: client.port.spec!.ips![0]!, quotedDst: vip, quotedPort: 54 });
      if (fast) {
        expect(moved.connNew).toBeGreaterThanOrEqual(1);
        expect(moved.icmpReverse).toBeGreaterThanOrEqual(1);
      }
    }
    for (const name of Object.keys(vips)) await call('DELETE', `${G}/namespaces/${ns}/loadbalancers/${name}`);
  }, 120_000);

  it('a hung switch (ovs-vswitchd stopped, its connection not yet timed out): its backend is taken out naming the switch, not blamed for failing its checks, and the status is not held up', async () => {
    const ns = 'hung-lb';
    await fixture.vnetd().call('POST', '/api/v1/namespaces', { metadata: { name: ns } });
    await call('POST', `${G}/namespaces/${ns}/virtualnetworks`, { metadata: { name: 'net' }, spec: { subnets: [{ cidr: '10.44.0.0/24' }] } });
    const b = await vmFor(ns, 'net', 'hg1', 'hv2');
    await startServer(b.vm, 'hg1');
    await call('POST', `${G}/namespaces/${ns}/loadbalancers`, {
      metadata: { name: 'checked' },
      spec: { network: 'net', listeners: [{ protocol: 'TCP', port: 80, targetPort: 8080 }], backends: [{ port: 'hg1' }], healthCheck: { protocol: 'TCP', intervalSeconds: 1, timeoutSeconds: 1, unhealthyThreshold: 2, healthyThreshold: 1 } },
    });
    await waitReady(ns, 'loadbalancers', 'checked');
    const available = async () => {
      const s = ((await call('GET', `${G}/namespaces/${ns}/loadbalancers/checked`)) as LoadBalancer).status;
      return { healthy: s?.backends?.[0]?.healthy, message: s?.conditions?.find((c) => c.type === 'BackendsAvailable')?.message ?? '' };
    };
    // A backend starts healthy: passing its checks shows only as staying so for more than two
    // failures' time (a loaded CI machine once flipped it, "no answer", before the stop).
    await eventually(async () => (await available()).healthy === true, 10_000, 100);
    const steadySince = performance.now();
    while (performance.now() - steadySince < 3000) {
      if ((await available()).healthy !== true) throw new Error(`backend hg1 fails its checks before its switch is stopped: ${(await available()).message}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    // Stopped for 6 s: 2 failures in a row take 2-3 s; the OpenFlow keepalive declares the
    // switch dead after 6 s without a message (of which up to 3 may have passed already: then the
    // node is SwitchUnreachable, its backends "not checked: the switch ... does not answer",
    // which names the switch too).
    const pid = fixture.bed().hv('hv2').ovs.vswitchdPid!;
    const seen: Array<{ healthy?: boolean; message: string }> = [];
    const t0 = performance.now();
    let outMs: number | undefined;
    process.kill(pid, 'SIGSTOP');
    try {
      while (performance.now() - t0 < 6000) {
        const a = await available();
        seen.push(a);
        if (a.healthy === false && outMs === undefined) outMs = performance.now() - t0;
        await new Promise((r) => setTimeout(r, 200));
      }
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    const out = seen.filter((a) => a.healthy === false);
    log(`hung switch on hv2: its backend out after ${outMs?.toFixed(0) ?? '-'} ms; said: ${out[0]?.message ?? '-'}`);
    // Out while hung (nothing reaches it), the status not held up by the hung switch's flow dump...
    expect(outMs).toBeDefined();
    // ...and the switch named, never the backend (QA-93: "failing health checks: no answer").
    expect(out.every((a) => a.message.includes('the switch of node hv2') && !a.message.includes('failing health checks'))).toBe(true);
    const t1 = performance.now();
    await eventually(async () => (await available()).healthy === true, 15_000, 100);
    log(`switch resumed: its backend in again after ${(performance.now() - t1).toFixed(0)} ms`);
    await call('DELETE', `${G}/namespaces/${ns}/loadbalancers/checked`);
  }, 60_000);

  it('hairpin: a backend reaching its own VIP is answered by itself as often as by the others, from the VIP, and a long connection to itself holds', async () => {
    const ns = 'h-lb';
    await fixture.vnetd().call('POST', '/api/v1/namespaces', { metadata: { name: ns } });
    await call('POST', `${G}/namespaces/${ns}/virtualnetworks`, { metadata: { name: 'net' }, spec: { subnets: [{ cidr: '10.41.0.0/24' }] } });
    const [h1, h2] = [await vmFor(ns, 'net', 'h1', 'hv1'), await vmFor(ns, 'net', 'h2', 'hv2')];
    await Promise.all([h1, h2].map((b) => startServer(b.vm, b.port.metadata.name)));
    const lb = (await call('POST', `${G}/namespaces/${ns}/loadbalancers`, {
      metadata: { name: 'self' },
      spec: { network: 'net', listeners: [{ protocol: 'TCP', port: 80, targetPort: 8080 }], backends: [h1, h2].map((b) => ({ port: b.port.metadata.name })) },
    })) as LoadBalancer;
    await waitReady(ns, 'loadbalancers', 'self');
    const vip = lb.spec!.vip!;
    const got = await connections(h1.vm, vip, 60, 45000);
    const dist = tally(got.map((c) => c.name));
    log(`hairpin: 60 connections from backend h1 to its own VIP ${vip}: ${JSON.stringify(dist)}`);
    // Without the SNAT to the VIP, every connection dealt to h1 itself fails (its kernel drops b -> b).
    expect(got.filter((c) => !c.name)).toEqual([]);
    expect(dist['h1'] ?? 0).toBeGreaterThan(10);
    expect(dist['h2'] ?? 0).toBeGreaterThan(10);
    expect(new Set(got.map((c) => c.peer))).toEqual(new Set([vip]));
    // A hairpin connection carries on past its first answer (both directions through both NATs).
    const persistent = await persistentClient(h1.vm, vip, 20, 45100);
    const held = persistent.held;
    const poked = await persistent.poke();
    persistent.end();
    expect(held.filter((n) => !n)).toEqual([]);
    expect(held).toContain('h1');
    expect(poked).toEqual(held);
    log(`hairpin: 20 long connections ${JSON.stringify(tally(held))}, every one answering again after a poke`);
    await call('DELETE', `${G}/namespaces/${ns}/loadbalancers/self`);
  }, 120_000);

  it('a UDP request too big for one frame (fragmented) reaches a backend through the VIP and is answered from it (QA-116 F1)', async () => {
    const ns = 'fr-lb';
    await api.network(ns, 'net', { subnets: [{ cidr: '10.44.0.0/24' }] });
    const [f1, f2, fc, fd] = [await vmFor(ns, 'net', 'f1', 'hv1'), await vmFor(ns, 'net', 'f2', 'hv2'), await vmFor(ns, 'net', 'fc', 'hv1'), await vmFor(ns, 'net', 'fd', 'hv2')];
    await Promise.all([f1, f2].map((b) => startServer(b.vm, b.port.metadata.name)));
    const lb = (await call('POST', `${G}/namespaces/${ns}/loadbalancers`, {
      metadata: { name: 'big' },
      spec: { network: 'net', listeners: [{ protocol: 'UDP', port: 53, targetPort: 5353 }], backends: [{ port: 'f1' }, { port: 'f2' }] },
    })) as LoadBalancer;
    await waitReady(ns, 'loadbalancers', 'big');
    const vip = lb.spec!.vip!;
    // 3000 bytes from each of 20 source ports: three fragments each on the VMs' 1450-byte MTU.
    for (const client of [fc, fd]) {
      const got = await udpAnswers(client.vm, vip, 53, 47500, 20, { size: 3000, waitMs: 3000 });
      const dist = tally(got.map((g) => g.name));
      log(`fragmented UDP: 20 datagrams of 3000 bytes from ${client.port.metadata.name} (${client.vm.hypervisor.name}) to ${vip}:53: ${JSON.stringify(dist)}, answered from ${JSON.stringify([...new Set(got.map((g) => g.from))])}`);
      // Before: none answered (the listener matched the UDP port, which OVS looks no fragment up with).
      expect(got.filter((g) => !g.name)).toEqual([]);
      expect(new Set(got.map((g) => g.from))).toEqual(new Set([vip]));
      // Fragments are dealt by the client's address (a later fragment has no ports): one backend per client.
      expect(Object.keys(dist)).toHaveLength(1);
      // Small datagrams from the same source ports keep their backend (the conntrack entries).
      const again = await udpAnswers(client.vm, vip, 53, 47500, 20, { size: 100, waitMs: 3000 });
      expect(again.map((g) => g.name)).toEqual(got.map((g) => g.name));
    }
    await call('DELETE', `${G}/namespaces/${ns}/loadbalancers/big`);
  }, 120_000);

  it('a UDP 5-tuple keeps its backend when its datagrams grow too big for one frame: small ones, then a fragmented one, all answered by one backend per source port, from the VIP, whichever datapath deals them (QA-122 F2)', async () => {
    const ns = 'fs-lb';
    await api.network(ns, 'net', { subnets: [{ cidr: '10.48.0.0/24' }] });
    const [s1, s2, sc, sd] = [await vmFor(ns, 'net', 's1', 'hv1'), await vmFor(ns, 'net', 's2', 'hv2'), await vmFor(ns, 'net', 'sc', 'hv1'), await vmFor(ns, 'net', 'sd', 'hv2')];
    await Promise.all([s1, s2].map((b) => startServer(b.vm, b.port.metadata.name)));
    const t0 = performance.now();
    const lb = (await call('POST', `${G}/namespaces/${ns}/loadbalancers`, {
      metadata: { name: 'grow' },
      spec: { network: 'net', listeners: [{ protocol: 'UDP', port: 53, targetPort: 5353 }], backends: [{ port: 's1' }, { port: 's2' }] },
    })) as LoadBalancer;
    await waitReady(ns, 'loadbalancers', 'grow');
    const vip = lb.spec!.vip!;
    // With the fast path on, its VIP settles on OVS first (VIP_SETTLE_MS); then the fast path
    // deals the small datagrams' flows (by their 5-tuples), which OVS never sees.
    const fastPathOn = process.env.VNETD_FASTPATH === '1';
    if (fastPathOn) await new Promise((r) => setTimeout(r, Math.max(0, VIP_SETTLE_MS + 500 - (performance.now() - t0))));
    for (const [n, client] of [sc, sd].entries()) {
      const base = 47900 + n * 100;
      const before = await fastPathDealt(client.vm.hypervisor.name);
      // Two small datagrams from each of 20 source ports, then 3000 bytes from the same ones
      // (three fragments each on the VMs' 1450-byte MTU).
      const small = await udpAnswers(client.vm, vip, 53, base, 20, { size: 100, waitMs: 3000 });
      const again = await udpAnswers(client.vm, vip, 53, base, 20, { size: 100, waitMs: 3000 });
      const big = await udpAnswers(client.vm, vip, 53, base, 20, { size: 3000, waitMs: 3000 });
      const fastPath = (await fastPathDealt(client.vm.hypervisor.name)) - before;
      const moved = big.filter((g, i) => g.name !== small[i]!.name);
      log(`UDP small then fragmented: 20 source ports of ${client.port.metadata.name} (${client.vm.hypervisor.name}) to ${vip}:53: small ${JSON.stringify(tally(small.map((g) => g.name)))}, 3000 bytes ${JSON.stringify(tally(big.map((g) => g.name)))}, ${moved.length} of 20 on another backend${fastPathOn ? `; the fast path dealt ${fastPath} flows` : ''}`);
      if (fastPathOn) expect(fastPath).toBeGreaterThanOrEqual(20); // the case at hand: flows the fast path dealt
      expect([...small, ...again, ...big].filter((g) => !g.name || g.from !== vip)).toEqual([]);
      expect(new Set(small.map((g) => g.name))).toEqual(new Set(['s1', 's2'])); // dealt by their 5-tuples
      expect(again.map((g) => g.name)).toEqual(small.map((g) => g.name));
      // Before (fast path on): 10-13 of 20 went to the other backend (OVS dealt the fragmented
      // datagram by the client's address, never having seen the flow).
      expect(moved).toEqual([]);
    }
    await call('DELETE', `${G}/namespaces/${ns}/loadbalancers/grow`);
  }, 120_000);

  it('a UDP reply too big for one frame (fragmented) comes from the VIP, to clients on both nodes, from local and remote backends (QA-116 F2)', async () => {
    const ns = 'fq-lb';
    await api.network(ns, 'net', { subnets: [{ cidr: '10.45.0.0/24' }] });
    const [q1, q2, qc, qd] = [await vmFor(ns, 'net', 'q1', 'hv1'), await vmFor(ns, 'net', 'q2', 'hv2'), await vmFor(ns, 'net', 'qc', 'hv1'), await vmFor(ns, 'net', 'qd', 'hv2')];
    // Backends answering each datagram with as many bytes as it asks for (its name first): 3000
    // bytes are three fragments on the VMs' 1450-byte MTU.
    const BIG_ANSWER = `const n=process.argv[1];const u=require('dgram').createSocket('udp4');u.on('message',(m,r)=>{const b=Buffer.alloc(Number(m.toString())||1,46);b.write(n);u.send(b,r.port,r.address)});u.bind(5353,()=>console.log('listening'))`;
    await Promise.all(
      [q1, q2].map(
        (b) =>
          new Promise<void>((resolve, reject) => {
            const c = nodeIn(b.vm, ['-e', BIG_ANSWER, b.port.metadata.name]);
            const t = setTimeout(() => reject(new Error(`server ${b.port.metadata.name} did not start`)), 10_000);
            c.stdout!.on('data', (d: Buffer) => d.toString().includes('listening') && (clearTimeout(t), resolve()));
          }),
      ),
    );
    const t0 = performance.now();
    const lb = (await call('POST', `${G}/namespaces/${ns}/loadbalancers`, {
      metadata: { name: 'big' },
      spec: { network: 'net', listeners: [{ protocol: 'UDP', port: 53, targetPort: 5353 }], backends: [{ port: 'q1' }, { port: 'q2' }] },
    })) as LoadBalancer;
    await waitReady(ns, 'loadbalancers', 'big');
    const vip = lb.spec!.vip!;
    // With the fast path on, its VIP settles on OVS first (VIP_SETTLE_MS); then the fast path
    // deals the flows, and so un-DNATs their replies (OVS never sees those connections).
    const fastPathOn = process.env.VNETD_FASTPATH === '1';
    if (fastPathOn) await new Promise((r) => setTimeout(r, Math.max(0, VIP_SETTLE_MS + 500 - (performance.now() - t0))));
    // 100-byte requests asking for 3000 bytes, from 16 source ports (dealt by their ports, so
    // both backends); unconnected sockets, to see where an answer comes from (a connected one,
    // as most resolvers use, drops an answer from another address).
    const ASK = `const d=require('dgram');const [vip,base,n,want]=process.argv.slice(1).map((x,i)=>i?Number(x):x);const out=[];let left=n;
for(let i=0;i<n;i++){const s=d.createSocket('udp4');let done=false;const fin=(name,from,len)=>{if(done)return;done=true;clearTimeout(t);out[i]={name,from,len};s.close();if(--left===0)console.log(JSON.stringify(out))};const t=setTimeout(()=>fin('','',0),3000);s.on('message',(m,r)=>fin(m.toString().replace(/\\.+$/,''),r.address,m.length));s.on('error',()=>fin('','',0));const q=Buffer.alloc(100,32);q.write(String(want));s.bind(base+i,()=>s.send(q,53,vip))}`;
    for (const client of [qc, qd]) {
      const before = await fastPathDealt(client.vm.hypervisor.name);
      // The backend on the other node: its replies cross the tunnel.
      const remote = [q1, q2].find((b) => b.vm.hypervisor.name !== client.vm.hypervisor.name)!;
      const remoteBefore = await fastPathForwarded(remote.vm.hypervisor.name, remote.vm.tap);
      const got = await eventually(async () => {
        const r = JSON.parse(await client.vm.exec([process.execPath, '-e', ASK, vip, '47700', '16', '3000'])) as Array<{ name: string; from: string; len: number }>;
        return r.every((g) => g.name) ? r : undefined;
      }, 20_000, 500).catch(async () => JSON.parse(await client.vm.exec([process.execPath, '-e', ASK, vip, '47700', '16', '3000'])) as Array<{ name: string; from: string; len: number }>);
      const dist = tally(got.map((g) => g.name));
      const fastPath = (await fastPathDealt(client.vm.hypervisor.name)) - before;
      const remoteFrames = (await fastPathForwarded(remote.vm.hypervisor.name, remote.vm.tap)) - remoteBefore;
      const remoteAnswers = got.filter((g) => g.name === remote.port.metadata.name).length;
      log(`fragmented UDP replies: 16 answers of 3000 bytes to ${client.port.metadata.name} (${client.vm.hypervisor.name}) from ${vip}:53: ${JSON.stringify(dist)}, from ${JSON.stringify(tally(got.map((g) => g.from)))}${fastPathOn ? `; the fast path dealt ${fastPath} flows; ${remote.vm.hypervisor.name}'s forwarded ${remoteFrames} frames of ${remote.port.metadata.name}'s ${remoteAnswers} answers` : ''}`);
      // The case at hand: flows the fast path dealt (their replies' first fragments are its, by their ports).
      if (fastPathOn) expect(fastPath).toBeGreaterThanOrEqual(16);
      // A remote backend's fragments (three per answer) leave its node through the fast path,
      // in the order it sent them. Before, its node's OVS switched them, and its userspace
      // datapath sent a batch's upcalled frames before its cached ones: a later fragment could
      // reach the client's node first, which then left the whole answer to its OVS, without
      // NAT state for it: 1 answer in 32 came from the backend's address, in 1 CI run of 5.
      if (fastPathOn) expect(remoteFrames).toBeGreaterThanOrEqual(3 * remoteAnswers);
      expect(got.filter((g) => !g.name)).toEqual([]);
      expect(got.map((g) => g.len)).toEqual(got.map(() => 3000));
      // Before (fast path on): every answer came from its backend's own address (10.45.0.x), local or remote.
      expect(new Set(got.map((g) => g.from))).toEqual(new Set([vip]));
      expect(Object.keys(dist).sort()).toEqual(['q1', 'q2']);
    }
    await call('DELETE', `${G}/namespaces/${ns}/loadbalancers/big`);
  }, 120_000);

  it('hairpin from another address: a VM reaching a VIP whose backend is its allowed pair is answered by itself, from the VIP (QA-113 F3)', async () => {
    const ns = 'hp-lb';
    await api.network(ns, 'net', { subnets: [{ cidr: '10.43.0.0/24' }] });
    // hp1 holds 10.43.0.200 by an allowed pair (as a keepalived or container address); its connections leave from its own address.
    const pairIp = '10.43.0.200';
    const hp1 = await api.vmFor(fixture.bed(), ns, 'net', 'hp1', 'hv1', { vmName: 'lbhp1', spec: { allowedAddressPairs: [{ ip: pairIp }] } });
    await hp1.vm.exec(['ip', 'addr', 'add', `${pairIp}/24`, 'dev', hp1.vm.iface]);
    const hp2 = await vmFor(ns, 'net', 'hp2', 'hv2');
    await Promise.all([hp1, hp2].map((b) => startServer(b.vm, b.port.metadata.name)));
    const lb = (await call('POST', `${G}/namespaces/${ns}/loadbalancers`, {
      metadata: { name: 'pair' },
      spec: { network: 'net', listeners: [{ protocol: 'TCP', port: 80, targetPort: 8080 }], backends: [{ ip: pairIp }, { port: 'hp2' }] },
    })) as LoadBalancer;
    await waitReady(ns, 'loadbalancers', 'pair');
    const vip = lb.spec!.vip!;
    const got = await connections(hp1.vm, vip, 60, 45200);
    const dist = tally(got.map((c) => c.name));
    log(`hairpin from another address: 60 connections from hp1 (${hp1.port.spec!.ips![0]}) to ${vip}, whose backend ${pairIp} is hp1's pair: ${JSON.stringify(dist)}`);
    // Before: every connection dealt to hp1 itself failed (out of the port it came in on: OpenFlow drops it).
    expect(got.filter((c) => !c.name)).toEqual([]);
    expect(dist['hp1'] ?? 0).toBeGreaterThan(10);
    expect(dist['hp2'] ?? 0).toBeGreaterThan(10);
    expect(new Set(got.map((c) => c.peer))).toEqual(new Set([vip]));
    // Connections from the pair address itself stay the plain hairpin.
    const fromPair = JSON.parse(await hp1.vm.exec([process.execPath, '-e', `const net=require('net');const out=[];let n=0;function one(){return new Promise(r=>{let b='';const s=net.connect({host:'${vip}',port:80,localAddress:'${pairIp}'});const t=setTimeout(()=>{out.push('');s.destroy();r()},5000);s.on('data',d=>{b+=d;if(b.includes('\\n')){clearTimeout(t);out.push(b.trim());s.destroy();r()}});s.on('error',()=>{clearTimeout(t);out.push('');r()})})}(async()=>{while(n++<30)await one();console.log(JSON.stringify(out))})()`])) as string[];
    log(`and 30 from ${pairIp} itself: ${JSON.stringify(tally(fromPair))}`);
    expect(fromPair.filter((n) => !n)).toEqual([]);
    await call('DELETE', `${G}/namespaces/${ns}/loadbalancers/pair`);
  }, 120_000);

  it('a backend held by a CIDR pair answers clients on its own hypervisor and elsewhere, from the VIP, whichever datapath deals them (QA-122)', async () => {
    const ns = 'cp-lb';
    await api.network(ns, 'net', { subnets: [{ cidr: '10.46.0.0/24' }] });
    // cp1 holds 10.46.0.200/29 by an allowed pair; .201 in it is a backend.
    const cp1 = await api.vmFor(fixture.bed(), ns, 'net', 'cp1', 'hv1', { vmName: 'lbcp1', spec: { allowedAddressPairs: [{ ip: '10.46.0.200/29' }] } });
    await cp1.vm.exec(['ip', 'addr', 'add', '10.46.0.201/24', 'dev', cp1.vm.iface]);
    const cp2 = await vmFor(ns, 'net', 'cp2', 'hv2');
    const [near, far] = [await vmFor(ns, 'net', 'cpn', 'hv1'), await vmFor(ns, 'net', 'cpf', 'hv2')];
    await Promise.all([cp1, cp2].map((b) => startServer(b.vm, b.port.metadata.name)));
    const t0 = performance.now();
    const lb = (await call('POST', `${G}/namespaces/${ns}/loadbalancers`, {
      metadata: { name: 'cidr' },
      spec: { network: 'net', listeners: [{ protocol: 'TCP', port: 80, targetPort: 8080 }], backends: [{ ip: '10.46.0.201' }, { port: 'cp2' }] },
    })) as LoadBalancer;
    await waitReady(ns, 'loadbalancers', 'cidr');
    const vip = lb.spec!.vip!;
    // With the fast path on, its VIPs settle on OVS first (VIP_SETTLE_MS): then it would deal them.
    if (process.env.VNETD_FASTPATH === '1') await new Promise((r) => setTimeout(r, Math.max(0, VIP_SETTLE_MS + 500 - (performance.now() - t0))));
    for (const client of [near, far]) {
      const got = await connections(client.vm, vip, 40, 45300);
      log(`CIDR pair backend: 40 connections from ${client.port.metadata.name} (${client.vm.hypervisor.name}) to ${vip}: ${JSON.stringify(tally(got.map((c) => c.name)))}`);
      // Before, with the fast path on: the ones dealt to 10.46.0.201 from hv1 got its answers from 10.46.0.201 itself, and failed.
      expect(got.filter((c) => !c.name)).toEqual([]);
      expect(new Set(got.map((c) => c.peer))).toEqual(new Set([vip]));
      expect(new Set(got.map((c) => c.name))).toEqual(new Set(['cp1', 'cp2']));
    }
    await call('DELETE', `${G}/namespaces/${ns}/loadbalancers/cidr`);
  }, 120_000);

  it('a VRRP holder sending from a shared pair address (its pair MAC on a macvlan) is answered by VMs on both nodes and through a VIP (QA-122 F7); so is a port without port security from a MAC no port has', async () => {
    const ns = 'vr-lb';
    await api.network(ns, 'net', { subnets: [{ cidr: '10.47.0.0/24' }] });
    // Two VRRP peers declare the same pair (address and virtual MAC); vr1 holds it now.
    const pair = { ip: '10.47.0.250', mac: '00:00:5e:00:01:2f' };
    const peer = (name: string, hv: string) => api.vmFor(fixture.bed(), ns, 'net', name, hv, { vmName: `lb${name}`, spec: { allowedAddressPairs: [pair] } });
    const [vr1] = [await peer('vr1', 'hv1'), await peer('vr2', 'hv2')];
    const [tn, tf, b1, b2] = [await vmFor(ns, 'net', 'vtn', 'hv1'), await vmFor(ns, 'net', 'vtf', 'hv2'), await vmFor(ns, 'net', 'vb1', 'hv1'), await vmFor(ns, 'net', 'vb2', 'hv2')];
    await Promise.all([tn, tf, b1, b2].map((b) => startServer(b.vm, b.port.metadata.name)));
    const t0 = performance.now();
    const lb = (await call('POST', `${G}/namespaces/${ns}/loadbalancers`, {
      metadata: { name: 'vrrp' },
      spec: { network: 'net', listeners: [{ protocol: 'UDP', port: 53, targetPort: 5353 }, { protocol: 'TCP', port: 80, targetPort: 8080 }], backends: [{ port: 'vb1' }, { port: 'vb2' }] },
    })) as LoadBalancer;
    await waitReady(ns, 'loadbalancers', 'vrrp');
    const vip = lb.spec!.vip!;
    // The holder sends from the pair as keepalived's use_vmac does: a macvlan on its NIC with
    // the virtual MAC and address (checksums in software, as the harness sets its NIC), and
    // routes that pick it (the address's /32 alone, so the NIC's own subnet route stays).
    const mv = await addMacvlan(vr1.vm, pair.mac, pair.ip);
    // Only the macvlan answers for the pair (else the NIC answers ARP for it with its own MAC).
    await vr1.vm.exec(['sysctl', '-qw', 'net.ipv4.conf.all.arp_ignore=1']);
    for (const to of [tn, tf]) await vr1.vm.exec(['ip', 'route', 'add', `${to.port.spec!.ips![0]}/32`, 'dev', mv, 'src', pair.ip]);
    await vr1.vm.exec(['ip', 'route', 'add', `${vip}/32`, 'dev', mv, 'src', pair.ip]);
    // The peers know the pair's MAC (as after the holder's gratuitous ARP).
    for (const v of [tn, tf, b1, b2]) await v.vm.exec(['ip', 'neigh', 'replace', pair.ip, 'lladdr', pair.mac, 'dev', v.vm.iface, 'nud', 'permanent']);
    // With the fast path on, its VIPs settle on OVS first (VIP_SETTLE_MS): then it would deal them.
    if (process.env.VNETD_FASTPATH === '1') await new Promise((r) => setTimeout(r, Math.max(0, VIP_SETTLE_MS + 500 - (performance.now() - t0))));
    const fastPathOn = process.env.VNETD_FASTPATH === '1';
    const dealt = async (): Promise<number> => {
      const metrics = (await fixture.vnetd().call('GET', '/metrics')).text;
      return Number(metrics.split('\n').find((l) => l.startsWith('vnetd_fastpath_vip_connections_total{') && l.includes('node="hv1"') && l.includes('event="new"'))?.split(' ').pop() ?? 0);
    };
    const dealt0 = await dealt();
    const seen: Record<string, string> = {};
    for (const [i, to] of [tn, tf].entries()) {
      const ip = to.port.spec!.ips![0]!;
      const got = await udpAnswers(vr1.vm, ip, 5353, 47800 + i * 100, 40, { waitMs: 3000 });
      seen[to.port.metadata.name] = `${got.filter((g) => g.name).length}/40`;
      log(`VRRP holder (${pair.ip}, ${pair.mac}) to ${to.port.metadata.name} (${to.vm.hypervisor.name}) over UDP: ${JSON.stringify(tally(got.map((g) => g.name)))}`);
      expect(got.filter((g) => g.name !== to.port.metadata.name || g.from !== ip)).toEqual([]);
    }
    const viaVip = await udpAnswers(vr1.vm, vip, 53, 48000, 40, { waitMs: 3000 });
    log(`VRRP holder to ${vip} over UDP: ${JSON.stringify(tally(viaVip.map((g) => g.name)))} from ${JSON.stringify(tally(viaVip.map((g) => g.from)))}`);
    const tcp = await connections(vr1.vm, vip, 20, 48100);
    seen['vip/udp'] = `${viaVip.filter((g) => g.name).length}/40`;
    seen['vip/tcp'] = `${tcp.filter((c) => c.name).length}/20`;
    log(`VRRP holder to ${vip}: UDP ${JSON.stringify(tally(viaVip.map((g) => g.name)))}, TCP ${JSON.stringify(tally(tcp.map((c) => c.name)))}; answered ${JSON.stringify(seen)}`);
    // Before (fast path on): none of the VIP's answers reached the holder.
    expect(viaVip.filter((g) => !g.name || g.from !== vip)).toEqual([]);
    expect(tcp.filter((c) => !c.name || c.peer !== vip)).toEqual([]);
    expect(new Set([...viaVip.map((g) => g.name), ...tcp.map((c) => c.name)])).toEqual(new Set(['vb1', 'vb2']));
    // The fast path leaves the shared pair's VIP connections to OVS (it could not deliver their
    // replies to a MAC with several holders), and still deals the holder's from its own address.
    const fromPair = (await dealt()) - dealt0;
    await vr1.vm.exec(['ip', 'route', 'del', `${vip}/32`]);
    const own = await udpAnswers(vr1.vm, vip, 53, 48200, 40, { waitMs: 3000 });
    const fromOwn = (await dealt()) - dealt0 - fromPair;
    log(`from its own address ${vr1.port.spec!.ips![0]}: UDP ${JSON.stringify(tally(own.map((g) => g.name)))}${fastPathOn ? `; the fast path dealt ${fromPair} of the pair's flows and connections, ${fromOwn} of these` : ''}`);
    expect(own.filter((g) => !g.name || g.from !== vip)).toEqual([]);
    if (fastPathOn) {
      expect(fromPair).toBe(0);
      expect(fromOwn).toBeGreaterThanOrEqual(40);
    }
    // The same for a port without port security sending from a MAC and address no port has (a
    // nested VM's): OVS floods the replies to that MAC, the fast path could not deliver them.
    const open = await api.vmFor(fixture.bed(), ns, 'net', 'vro', 'hv1', { vmName: 'lbvro', spec: { portSecurity: false } });
    const nested = { ip: '10.47.0.240', mac: '02:ab:cd:00:00:47' };
    const omv = await addMacvlan(open.vm, nested.mac, nested.ip);
    await open.vm.exec(['ip', 'route', 'add', `${vip}/32`, 'dev', omv, 'src', nested.ip]);
    for (const v of [b1, b2]) await v.vm.exec(['ip', 'neigh', 'replace', nested.ip, 'lladdr', nested.mac, 'dev', v.vm.iface, 'nud', 'permanent']);
    const dealtNested0 = await dealt();
    const fromNested = await udpAnswers(open.vm, vip, 53, 48300, 40, { waitMs: 3000 });
    const nestedDealt = (await dealt()) - dealtNested0;
    log(`a port without port security from ${nested.ip} (${nested.mac}, no port's) to ${vip}: UDP ${JSON.stringify(tally(fromNested.map((g) => g.name)))}${fastPathOn ? `; the fast path dealt ${nestedDealt}` : ''}`);
    // Before (fast path on): the fast path dealt them, and lost every reply (a MAC miss).
    expect(fromNested.filter((g) => !g.name || g.from !== vip)).toEqual([]);
    if (fastPathOn) expect(nestedDealt).toBe(0);
    await call('DELETE', `${G}/namespaces/${ns}/loadbalancers/vrrp`);
  }, 120_000);

  it('a VIP with six backends gets a 512-slot table: every connection reaches the backend its 5-tuple hashes to in OVS\'s table, whichever datapath deals it; removing two keeps the size, and only their connections move', async () => {
    const ns = 'w-lb';
    await fixture.vnetd().call('POST', '/api/v1/namespaces', { metadata: { name: ns } });
    await call('POST', `${G}/namespaces/${ns}/virtualnetworks`, { metadata: { name: 'net' }, spec: { subnets: [{ cidr: '10.42.0.0/24' }] } });
    // Two backend VMs (one per hypervisor) with three addresses each: their own and two
    // allowed pairs, each a backend of its own.
    const extra = { w1: ['10.42.0.201', '10.42.0.202'], w2: ['10.42.0.203', '10.42.0.204'] };
    const client = await vmFor(ns, 'net', 'wc', 'hv1');
    const hosts = [];
    for (const [name, hv] of [['w1', 'hv1'], ['w2', 'hv2']] as const) {
      const h = await api.vmFor(fixture.bed(), ns, 'net', name, hv, { vmName: `lb${name}`, spec: { allowedAddressPairs: extra[name].map((ip) => ({ ip })) } });
      for (const ip of extra[name]) await h.vm.exec(['ip', 'addr', 'add', `${ip}/24`, 'dev', h.vm.iface]);
      hosts.push(h);
    }
    // Each answers with the address the connection reached (the DNAT's target).
    for (const h of hosts) {
      const c = nodeIn(h.vm, ['-e', `require('net').createServer(s=>{s.on('error',()=>{});s.end(s.localAddress+'\\n')}).listen(8080,'0.0.0.0',()=>console.log('listening'))`]);
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`server in ${h.port.metadata.name} did not start`)), 10_000);
        c.stdout!.on('data', (d: Buffer) => d.toString().includes('listening') && (clearTimeout(t), resolve()));
      });
    }
    const backendIps = hosts.flatMap((h) => [h.port.spec!.ips![0]!, ...extra[h.port.metadata.name as 'w1' | 'w2']]);
    const lb = (await call('POST', `${G}/namespaces/${ns}/loadbalancers`, {
      metadata: { name: 'wide' },
      spec: { network: 'net', listeners: [{ protocol: 'TCP', port: 80, targetPort: 8080 }], backends: backendIps.map((ip) => ({ ip })) },
    })) as LoadBalancer;
    await waitReady(ns, 'loadbalancers', 'wide');
    const vip = lb.spec!.vip!;
    // OVS's table on the client's node: 512 slots (64 or more per backend), each backend's.
    const table = await eventually(async () => {
      const hv = client.vm.hypervisor;
      const dump = await hv.ovs.ofctl(['-O', 'OpenFlow13', 'dump-flows', `unix:${hv.ovs.bridgeMgmtSocket('br-int')}`, `table=${TABLES.LbSlot.id},ip,nw_dst=${vip}`]);
      const slots = parseLbSlots(dump, vip);
      return slots.size === 512 ? slots : undefined;
    }, 10_000, 100);
    expect(new Set(table.values())).toEqual(new Set(backendIps));
    await fastPathDealing(client.vm, vip);
    const took = async (): Promise<number> => {
      const metrics = (await fixture.vnetd().call('GET', '/metrics')).text;
      return Number(metrics.split('\n').find((l) => l.startsWith('vnetd_fastpath_vip_connections_total{') && l.includes(`node="${client.vm.hypervisor.name}"`) && l.includes('event="new"'))?.split(' ').pop() ?? 0);
    };
    const tookBefore = await took();
    const got = await connections(client.vm, vip, 150, 46000);
    const fp = openFastPath().fastPath;
    if (!fp) throw new Error('libvnetfp must build for the tests');
    const ip4 = (a: string) => a.split('.').reduce((n, x) => n * 256 + Number(x), 0);
    const clientIp = client.port.spec!.ips![0]!;
    const wrong = got.filter((c) => c.name !== table.get(fp.lib.ovsLbSlot(ip4(clientIp), ip4(vip), 6, c.lp, 80, 0, 512)));
    const dist = tally(got.map((c) => c.name));
    const fastPath = (await took()) - tookBefore;
    log(`VIP with 6 backends: 512 LbSlot flows; 150 connections per backend address ${JSON.stringify(dist)}; ${150 - wrong.length} reached the backend OVS's table gives their 5-tuple${process.env.VNETD_FASTPATH === '1' ? `; the fast path dealt ${fastPath}` : ''}`);
    expect(got.filter((c) => !c.name)).toEqual([]);
    expect(wrong).toEqual([]);
    for (const ip of backendIps) expect(dist[ip] ?? 0).toBeGreaterThan(5);
    expect(new Set(got.map((c) => c.peer))).toEqual(new Set([vip]));
    if (process.env.VNETD_FASTPATH === '1') expect(fastPath).toBeGreaterThanOrEqual(150);
    // The recorded size (status.slots) keeps the table at 512 when two backends go (4 would
    // make 256, re-dealing every slot): the same source ports keep their backend unless it went.
    await eventually(async () => ((await call('GET', `${G}/namespaces/${ns}/loadbalancers/wide`)) as LoadBalancer).status?.slots === 512, 10_000, 100);
    const gone = [backendIps[1]!, backendIps[4]!];
    await api.replace<LoadBalancer>(`${G}/namespaces/${ns}/loadbalancers/wide`, (cur) => ({ ...cur, spec: { ...cur.spec, backends: cur.spec!.backends!.filter((b) => !gone.includes(b.ip!)) } }));
    await waitReady(ns, 'loadbalancers', 'wide');
    await eventually(async () => {
      const hv = client.vm.hypervisor;
      const dump = await hv.ovs.ofctl(['-O', 'OpenFlow13', 'dump-flows', `unix:${hv.ovs.bridgeMgmtSocket('br-int')}`, `table=${TABLES.LbSlot.id},ip,nw_dst=${vip}`]);
      const slots = parseLbSlots(dump, vip);
      return slots.size === 512 && ![...slots.values()].some((ip) => gone.includes(ip!)) ? true : undefined;
    }, 10_000, 100);
    if (process.env.VNETD_FASTPATH === '1') await new Promise((r) => setTimeout(r, 1000)); // the fast path's apply of the same compile
    const again = await connections(client.vm, vip, 150, 46000);
    const before = new Map(got.map((c) => [c.lp, c.name]));
    const kept = again.filter((c) => !gone.includes(before.get(c.lp)!));
    const moved = kept.filter((c) => c.name !== before.get(c.lp));
    log(`removed ${gone.join(', ')}: still 512 slots; of ${kept.length} source ports on the other backends, ${moved.length} moved`);
    expect(again.filter((c) => !c.name || gone.includes(c.name))).toEqual([]);
    expect(moved).toEqual([]);
    await call('DELETE', `${G}/namespaces/${ns}/loadbalancers/wide`);
  }, 120_000);
});
