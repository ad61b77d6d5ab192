/**
 * Health checks of a UDP-only load balancer end to end (QA-135 F6: a DNS VIP could not be
 * checked, and a backend whose UDP server died kept about half of the queries while status
 * said 2/2 healthy). Two backends on two hypervisors answer UDP on 5353 (and TCP on 8080),
 * a client VM on hv1 asks the VIP on 53:
 * - protocol UDP: a backend whose server stopped answers the probes with ICMP port
 *   unreachable, goes out within a few intervals (status says why), every query reaches the
 *   other backend; its server back, it comes back;
 * - protocol TCP with a port (8080) for the same UDP-only VIP: the same, by RST;
 * - protocol UDP with udp.expectReply (and a payload): a backend whose server is stopped with
 *   SIGSTOP (still bound: no ICMP) goes out within about interval x unhealthyThreshold and
 *   SIGCONT brings it back; without expectReply the same stopped server stays in.
 * Prints the times it measured and the queries answered.
 */
import type { ChildProcess } from 'node:child_process';
import type { LoadBalancer } from '../../src/resources/kinds';
import type { Vm } from '../harness/testbed';
import { describeOvs } from '../integration/ovsdb-helpers';
import { eventually } from '../support/vnetd';
import { G, overlayApi, overlayBed, startNamedServer, udpAnswers } from './overlay-support';

function log(line: string): void {
  process.stdout.write(`[overlay-lb-udp-health] ${line}\n`);
}

describeOvs('overlay: UDP-only load balancer with health checks', () => {
  const fixture = overlayBed();
  const api = overlayApi(fixture.vnetd);
  const { call, waitReady } = api;
  const ns = 'uh-lb';
  let vms: Record<'u1' | 'u2' | 'uc', Vm>;
  const servers = new Map<string, ChildProcess>();
  const tally = (names: string[]): Record<string, number> => names.reduce<Record<string, number>>((m, n) => ((m[n || '<none>'] = (m[n || '<none>'] ?? 0) + 1), m), {});
  const start = async (name: 'u1' | 'u2') => servers.set(name, await startNamedServer(vms[name], name, fixture.children));
  const stop = (name: 'u1' | 'u2') => process.kill(servers.get(name)!.pid!, 'SIGTERM');
  /** A hung server: stopped, its sockets still bound (the kernel queues datagrams, sends no ICMP). */
  const freeze = (name: 'u1' | 'u2') => process.kill(servers.get(name)!.pid!, 'SIGSTOP');
  const thaw = async (name: 'u1' | 'u2') => void process.kill(servers.get(name)!.pid!, 'SIGCONT');
  /** How a test takes a backend's server away and gives it back. */
  interface Fault {
    down(name: 'u1' | 'u2'): unknown;
    up(name: 'u1' | 'u2'): Promise<unknown>;
    what: string;
  }
  const killed: Fault = { down: stop, up: start, what: 'server stopped' };
  const frozen: Fault = { down: freeze, up: thaw, what: 'server stopped with SIGSTOP' };
  /** The VM's NIC down (its switch port's link goes down: Bound LinkDown), its server still running. */
  const linkDown: Fault = {
    down: (name) => vms[name].exec(['ip', 'link', 'set', 'dev', vms[name].iface, 'down']),
    up: (name) => vms[name].exec(['ip', 'link', 'set', 'dev', vms[name].iface, 'up']),
    what: "NIC's link set down",
  };
  const lbOf = async (name: string) => (await call('GET', `${G}/namespaces/${ns}/loadbalancers/${name}`)) as LoadBalancer;
  const healthyIn = async (lb: string, backend: string) => (await lbOf(lb)).status?.backends?.find((b) => b.name === backend)?.healthy;
  /** 20 queries from fresh source ports (no conntrack entry of an earlier round holds them). */
  let nextBase = 48000;
  const queries = async (vip: string) => udpAnswers(vms.uc, vip, 53, (nextBase += 20), 20, { waitMs: 1500 });

  beforeAll(async () => {
    await api.network(ns, 'net', { subnets: [{ cidr: '10.52.0.0/24' }] });
    const vm = async (name: string, hv: string) => (await api.vmFor(fixture.bed(), ns, 'net', name, hv, { vmName: `uh${name}` })).vm;
    vms = { u1: await vm('u1', 'hv1'), u2: await vm('u2', 'hv2'), uc: await vm('uc', 'hv1') };
    await start('u1');
    await start('u2');
  }, 90_000);

  /**
   * The load balancer `name` with `healthCheck` (1 s interval, out after 3 failures, in after
   * 1 success); `victim`'s server is stopped and started again. Returns what it measured.
   */
  async function outAndBack(name: string, healthCheck: Record<string, unknown>, victim: 'u1' | 'u2', why: RegExp, fault: Fault = killed, whileIn?: (vip: string) => Promise<void>): Promise<void> {
    const other = victim === 'u1' ? 'u2' : 'u1';
    const lb = (await call('POST', `${G}/namespaces/${ns}/loadbalancers`, {
      metadata: { name },
      spec: { network: 'net', listeners: [{ protocol: 'UDP', port: 53, targetPort: 5353 }], backends: [{ port: 'u1' }, { port: 'u2' }], healthCheck: { intervalSeconds: 1, timeoutSeconds: 1, unhealthyThreshold: 3, healthyThreshold: 1, ...healthCheck } },
    })) as LoadBalancer;
    await waitReady(ns, 'loadbalancers', name);
    const vip = lb.spec!.vip!;
    const both = await eventually(async () => {
      const a = await queries(vip);
      return a.every((x) => x.name) && new Set(a.map((x) => x.name)).size === 2 ? a : undefined;
    }, 20_000, 200);
    log(`${name}: both servers up: 20 queries ${JSON.stringify(tally(both.map((x) => x.name)))}`);
    // Checks of servers that answer keep them in: a few intervals later both still are.
    await new Promise((r) => setTimeout(r, 3500));
    expect([await healthyIn(name, 'u1'), await healthyIn(name, 'u2')]).toEqual([true, true]);
    await whileIn?.(vip);

    const t0 = performance.now();
    await fault.down(victim);
    const out = await eventually(async () => {
      const o = await lbOf(name);
      return o.status?.backends?.find((b) => b.name === victim)?.healthy === false ? o : undefined;
    }, 20_000, 100);
    const outMs = performance.now() - t0;
    const available = out.status?.conditions?.find((c) => c.type === 'BackendsAvailable');
    expect(out.status?.healthyBackends).toBe('1/2');
    expect(available?.message).toMatch(why);
    const whileOut = await queries(vip);
    log(`${name}: ${victim}'s ${fault.what} -> out after ${outMs.toFixed(0)} ms (${available?.message}); 20 queries: ${JSON.stringify(tally(whileOut.map((x) => x.name)))}`);
    expect(whileOut.map((x) => x.name)).toEqual(Array(20).fill(other));
    expect(new Set(whileOut.map((x) => x.from))).toEqual(new Set([vip]));

    const t1 = performance.now();
    await fault.up(victim);
    await eventually(async () => (await healthyIn(name, victim)) === true, 20_000, 100);
    const backMs = performance.now() - t1;
    const after = await eventually(async () => {
      const a = await queries(vip);
      return a.every((x) => x.name) && new Set(a.map((x) => x.name)).size === 2 ? a : undefined;
    }, 20_000, 200);
    log(`${name}: ${victim}'s server back -> in after ${backMs.toFixed(0)} ms; 20 queries: ${JSON.stringify(tally(after.map((x) => x.name)))}`);
    await call('DELETE', `${G}/namespaces/${ns}/loadbalancers/${name}`);
  }

  it('protocol UDP: a backend whose UDP server stopped answers ICMP port unreachable, goes out within a few intervals, every query reaches the other; back when its server is', async () => {
    await outAndBack('dns', { protocol: 'UDP' }, 'u2', /not: u2 \(failing health checks: UDP check: ICMP port unreachable since \S+\)/);
  }, 120_000);

  it('protocol TCP on a port of its own (8080) for a UDP-only VIP: the same, by RST', async () => {
    await outAndBack('dns-side', { protocol: 'TCP', port: 8080 }, 'u1', /not: u1 \(failing health checks: RST since \S+\)/);
  }, 120_000);

  it('udp.expectReply with a payload: a backend whose server is stopped with SIGSTOP (bound, no ICMP) goes out within about interval x unhealthyThreshold, every query reaches the other; SIGCONT brings it back', async () => {
    // Any datagram answers NAMED_SERVER's sockets; the payload is a DNS query for health.example.
    const payload = 'TEIBAAABAAAAAAAABmhlYWx0aAdleGFtcGxlAAABAAE=';
    try {
      // A backend querying its own VIP (hairpin: SNATed to the VIP when dealt to itself) is
      // answered: its server's reply to the VIP is a connection's, never taken for a probe's answer.
      const hairpin = async (vip: string) => {
        const a = await udpAnswers(vms.u1, vip, 53, (nextBase += 20), 20, { waitMs: 1500 });
        log(`dns-reply: u1 queries its own VIP: 20 queries ${JSON.stringify(tally(a.map((x) => x.name)))}`);
        expect(a.filter((x) => x.name === '')).toEqual([]);
        expect(new Set(a.map((x) => x.name))).toEqual(new Set(['u1', 'u2']));
      };
      await outAndBack('dns-reply', { protocol: 'UDP', udp: { payload, expectReply: true } }, 'u2', /not: u2 \(failing health checks: UDP check: no reply since \S+\)/, frozen, hairpin);
    } finally {
      await thaw('u2');
    }
  }, 120_000);

  it('a backend whose NIC link is down (Bound LinkDown) fails its UDP checks, whose silence passed before, and is back when its link is (QA-152 F2)', async () => {
    await outAndBack('dns-link', { protocol: 'UDP' }, 'u2', /NIC link is down/, linkDown);
  });

  it('without udp.expectReply (silence passes) the same stopped server stays in', async () => {
    const lb = (await call('POST', `${G}/namespaces/${ns}/loadbalancers`, {
      metadata: { name: 'dns-silent' },
      spec: { network: 'net', listeners: [{ protocol: 'UDP', port: 53, targetPort: 5353 }], backends: [{ port: 'u1' }, { port: 'u2' }], healthCheck: { protocol: 'UDP', intervalSeconds: 1, timeoutSeconds: 1, unhealthyThreshold: 3, healthyThreshold: 1 } },
    })) as LoadBalancer;
    await waitReady(ns, 'loadbalancers', 'dns-silent');
    const vip = lb.spec!.vip!;
    await eventually(async () => new Set((await queries(vip)).map((x) => x.name)).size === 2 || undefined, 20_000, 200);
    freeze('u1');
    try {
      // Twice interval x unhealthyThreshold: expectReply took its backend out within that.
      await new Promise((r) => setTimeout(r, 6000));
      const whileHung = await queries(vip);
      log(`dns-silent: u1's server stopped with SIGSTOP, 6 s later healthy=${await healthyIn('dns-silent', 'u1')}; 20 queries: ${JSON.stringify(tally(whileHung.map((x) => x.name)))}`);
      expect([await healthyIn('dns-silent', 'u1'), await healthyIn('dns-silent', 'u2')]).toEqual([true, true]);
      expect(whileHung.some((x) => x.name === '')).toBe(true);
    } finally {
      await thaw('u1');
    }
    await call('DELETE', `${G}/namespaces/${ns}/loadbalancers/dns-silent`);
  }, 60_000);

  it('a backend\'s ICMP port unreachable to a client still reaches the client (from the VIP), not the health checker', async () => {
    // Checked on 5353, which both serve; the second listener's target port 5355 nobody serves.
    const lb = (await call('POST', `${G}/namespaces/${ns}/loadbalancers`, {
      metadata: { name: 'dns-refused' },
      spec: { network: 'net', listeners: [{ protocol: 'UDP', port: 53, targetPort: 5353 }, { protocol: 'UDP', port: 54, targetPort: 5355 }], backends: [{ port: 'u1' }, { port: 'u2' }], healthCheck: { protocol: 'UDP', port: 5353, intervalSeconds: 1, timeoutSeconds: 1 } },
    })) as LoadBalancer;
    await waitReady(ns, 'loadbalancers', 'dns-refused');
    const vip = lb.spec!.vip!;
    // A connected UDP socket hears the ICMP error as ECONNREFUSED (only if it comes from the VIP:54 it sent to).
    const probe = `const u=require('dgram').createSocket('udp4');const t=setTimeout(()=>{console.log('timeout');process.exit(0)},3000);
u.on('error',(e)=>{clearTimeout(t);console.log(e.code);process.exit(0)});u.connect(54,process.argv[1],()=>{u.send('q');setTimeout(()=>u.send('q'),300)})`;
    const got = await vms.uc.exec([process.execPath, '-e', probe, vip]);
    log(`dns-refused: a query to ${vip}:54 (target port 5355, nothing listening): ${got.trim()}`);
    expect(got.trim()).toBe('ECONNREFUSED');
    await new Promise((r) => setTimeout(r, 2500));
    expect([await healthyIn('dns-refused', 'u1'), await healthyIn('dns-refused', 'u2')]).toEqual([true, true]);
    await call('DELETE', `${G}/namespaces/${ns}/loadbalancers/dns-refused`);
  }, 60_000);
});
