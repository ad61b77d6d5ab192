/**
 * The AF_XDP fast path end to end: two simulated hypervisors (netns + userspace OVS each)
 * registered with spec.fastPath {enabled, netns}; vnetd runs a fast-path runner per node
 * (a C thread inside the hypervisor's netns) on the VM NICs and the underlay NIC.
 *
 * What is measured, per direction, over an established ping and TCP exchange between VMs
 * on different hypervisors:
 *  - the fast path's classifier counters (via /metrics): frames taken on the fast path on
 *    the sender's VM NIC (encapsulated there) and on the receiver's underlay NIC
 *    (decapsulated and delivered);
 *  - OVS's OpenFlow counters for the same traffic: hv1's L2Lookup flow toward b's MAC
 *    (what would encapsulate a -> b) and hv2's tunnel classifier flow for the VNI (what
 *    would receive it). Those must not move while the fast path carries the traffic.
 * ARP stays with OVS (the ARP responder answers it), so the first resolution is counted
 * there before the measurement starts.
 */
import type { ChildProcess } from 'node:child_process';
import { TABLES } from '../../src/pipeline/tables';
import type { HypervisorNode, VirtualPort } from '../../src/resources/kinds';
import { startTestbed, type Testbed, type Vm } from '../harness/testbed';
import { describeOvs } from '../integration/ovsdb-helpers';
import { eventually, startTestVnetd, type TestVnetd } from '../support/vnetd';
import { G, joinBed, overlayApi, tcpExchange } from './overlay-support';

function log(line: string): void {
  process.stdout.write(`[overlay-fastpath] ${line}\n`);
}

describeOvs('overlay with the AF_XDP fast path', () => {
  let v: TestVnetd;
  let bed: Testbed;
  const servers = new Set<ChildProcess>();
  const api = overlayApi(() => v);
  const { call, waitReady, network } = api;

  const vmFor = (ns: string, net: string, name: string, hv: string) => api.vmFor(bed, ns, net, name, hv);
  const ping = (from: Vm, ip: string, extra: string[] = ['-c', '1']) =>
    from.exec(['ping', '-W', '1', ...extra, ip]).then(
      (o) => o,
      () => '',
    );
  const flowPackets = async (vm: Vm, filter: string): Promise<number> => {
    const out = await vm.hypervisor.ovs.ofctl(['-O', 'OpenFlow13', 'dump-flows', `unix:${vm.hypervisor.ovs.bridgeMgmtSocket('br-int')}`, filter]);
    return [...out.matchAll(/n_packets=(\d+)/g)].reduce((s, m) => s + Number(m[1]), 0);
  };
  const node = async (name: string) => (await call('GET', `${G}/nodes/${name}`)) as HypervisorNode;
  /** vnetd_fastpath_interface_packets_total{node, interface, kind} from /metrics. */
  const fastCounter = async (nodeName: string, iface: string, kind: string): Promise<number> => {
    const text = (await v.call('GET', '/metrics')).text;
    const line = text.split('\n').find((l) => l.startsWith('vnetd_fastpath_interface_packets_total{') && l.includes(`node="${nodeName}"`) && l.includes(`interface="${iface}"`) && l.includes(`kind="${kind}"`));
    return Number(line?.split(' ').pop() ?? 0);
  };
  const tcp = (server: Vm, client: Vm, ip: string, port: number) => tcpExchange(server, client, ip, port, servers);
  /** What a failed exchange leaves behind: the fast path's non-zero counters, node status, each VM's offloads and TCP drops. */
  const explainFailure = async (what: string, vms: Vm[]): Promise<void> => {
    const text = (await v.call('GET', '/metrics')).text;
    log(`${what}; fast path metrics:\n${text.split('\n').filter((l) => l.startsWith('vnetd_fastpath') && !l.endsWith(' 0')).join('\n')}`);
    for (const hv of ['hv1', 'hv2']) log(`${hv} fastpath status: ${JSON.stringify((await node(hv)).status?.fastpath)}`);
    for (const vm of vms) {
      const offloads = (await vm.exec(['ethtool', '-k', vm.iface]).catch((e: Error) => e.message)).split('\n').filter((l) => /checksum|segmentation-offload/.test(l));
      const tcpStats = await vm.exec(['nstat', '-az', 'TcpInCsumErrors', 'TcpOutRsts', 'TcpRetransSegs', 'TcpExtTCPSynRetrans']).catch((e: Error) => e.message);
      log(`${vm.name} (${vm.mac}): ${offloads.join('; ')}\n${tcpStats}`);
    }
  };

  beforeAll(async () => {
    v = await startTestVnetd({ chassis: true });
    bed = await startTestbed({ hypervisors: 2 });
    await joinBed(bed, call, (hv) => ({ fastPath: { enabled: true, netns: hv.netns } }));
  }, 60_000);

  afterAll(async () => {
    for (const c of servers) if (c.pid) process.kill(c.pid, 'SIGTERM');
    await v?.stop();
    await bed?.stop();
  }, 60_000);

  for (const [i, encapsulation] of (['vxlan', 'geneve'] as const).entries()) it(`ping and TCP between hypervisors over ${encapsulation.toUpperCase()} take the fast path; OVS flow counters for that traffic stay still`, async () => {
    const ns = `${encapsulation.slice(0, 2)}-fp`;
    const net = await network(ns, 'net', { subnets: [{ cidr: `10.7${i}.0.0/24` }], encapsulation });
    const a = await vmFor(ns, 'net', 'a', 'hv1');
    const b = await vmFor(ns, 'net', 'b', 'hv2');
    const bIp = b.port.spec!.ips![0]!;
    // Both runners up, with AF_XDP ports on the VM NIC and the underlay NIC.
    for (const hv of ['hv1', 'hv2']) {
      const st = await eventually(async () => {
        const fp = (await node(hv)).status?.fastpath;
        return fp?.state === 'Running' && (fp.interfaces ?? 0) >= 2 ? fp : undefined;
      }, 20_000, 100).catch(async () => {
        throw new Error(`fast path on ${hv} not running: ${JSON.stringify((await node(hv)).status?.fastpath)}`);
      });
      log(`${hv}: fast path ${st.state} on ${st.interfaces} interfaces`);
    }
    // Resolve ARP (OVS answers it) and make sure the path works end to end.
    await eventually(async () => (await ping(a.vm, bIp)).includes('1 received'), 15_000, 100).catch(async (e: unknown) => {
      await explainFailure('no ping', [a.vm, b.vm]);
      throw e;
    });
    // OpenFlow statistics reach dump-flows with the revalidator's delay (up to ~1 s).
    await new Promise((r) => setTimeout(r, 1500));
    const vni = `0x${(net.spec.vni as number).toString(16)}`;
    const tunnelOfport = Number((await bed.hv('hv2').ovs.vsctl(['get', 'Interface', encapsulation === 'vxlan' ? 'vxlan0' : 'genev0', 'ofport'])).trim());
    const ovsL2 = () => flowPackets(a.vm, `table=${TABLES.L2Lookup.id},dl_dst=${b.vm.mac}`);
    const ovsTunnelIn = () => flowPackets(b.vm, `table=${TABLES.Classifier.id},in_port=${tunnelOfport},tun_id=${vni}`);
    const fpA = () => fastCounter('hv1', a.vm.tap, 'fast');
    const fpB = () => fastCounter('hv2', b.vm.tap, 'fast');
    const fpUl2 = () => fastCounter('hv2', bed.hv('hv2').uplink, 'fast');
    const before = { l2: await ovsL2(), tun: await ovsTunnelIn(), a: await fpA(), b: await fpB(), ul2: await fpUl2() };

    const N = 20;
    const out = await ping(a.vm, bIp, ['-c', String(N), '-i', '0.05']);
    expect(out).toContain(`${N} received`);
    const rttAvg = /rtt [^=]+= ([\d.]+)\/([\d.]+)/.exec(out)?.[2] ?? '?';
    const reply = await tcp(b.vm, a.vm, bIp, 7100 + i).catch(async (e: unknown) => {
      await explainFailure('no TCP exchange after the pings', [a.vm, b.vm]);
      throw e;
    });
    expect(reply).toMatch(/^pong-\d+$/);
    await new Promise((r) => setTimeout(r, 1500));
    const after = { l2: await ovsL2(), tun: await ovsTunnelIn(), a: await fpA(), b: await fpB(), ul2: await fpUl2() };
    const d = { l2: after.l2 - before.l2, tun: after.tun - before.tun, a: after.a - before.a, b: after.b - before.b, ul2: after.ul2 - before.ul2 };
    log(
      `${encapsulation}: ${N} pings (rtt avg ${rttAvg} ms) + 1 TCP exchange a(hv1) -> b(hv2): fast path took ${d.a} frames on a's NIC, ${d.b} on b's NIC, ` +
        `${d.ul2} tunnel frames on hv2's underlay; OVS counted ${d.l2} on hv1's L2 flow to b and ${d.tun} on hv2's tunnel classifier`,
    );
    // Requests a -> b, replies b -> a, and each TCP segment: at least N each way.
    expect(d.a).toBeGreaterThanOrEqual(N);
    expect(d.b).toBeGreaterThanOrEqual(N);
    expect(d.ul2).toBeGreaterThanOrEqual(N);
    expect(d.l2).toBe(0);
    expect(d.tun).toBe(0);
    // Node status carries the counters too (copied periodically).
    const st = (await node('hv1')).status?.fastpath;
    expect(st?.counters?.tables).toBeDefined();
  }, 90_000);

  it('IPv6 with port security takes the fast path too (ping6 and TCP over IPv6), neighbour discovery stays with OVS, a spoofed IPv6 source is not carried', async () => {
    const ns = 'fp-v6';
    await network(ns, 'net', { subnets: [{ cidr: '10.73.0.0/24' }, { cidr: 'fd00:73::/64' }] });
    const vm6 = async (name: string, hv: string) => {
      const port = (await call('POST', `${G}/namespaces/${ns}/virtualports`, { metadata: { name }, spec: { network: 'net', node: hv } })) as VirtualPort;
      const ips = port.spec!.ips!;
      const ip6 = ips.find((x) => x.includes(':'))!;
      const vm = await bed.addVm(hv, { name: `f6${name}`, ifaceId: port.spec!.interfaceId!, mac: port.spec!.mac, ip: `${ips.find((x) => !x.includes(':'))!}/24` });
      await vm.exec(['sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=0']);
      await vm.exec(['ip', '-6', 'addr', 'add', `${ip6}/64`, 'dev', vm.iface, 'nodad']);
      await waitReady(ns, 'virtualports', name);
      return { vm, ip6 };
    };
    const a = await vm6('a', 'hv1');
    const b = await vm6('b', 'hv2');
    const ping6 = (extra: string[]) => a.vm.exec(['ping', '-6', '-W', '1', ...extra, b.ip6]).then((o) => o, () => '');
    // Neighbour discovery first (OVS's ND responder answers it), then the measurement.
    await eventually(async () => (await ping6(['-c', '1'])).includes('1 received'), 15_000, 100);
    await new Promise((r) => setTimeout(r, 1500));
    const ovsL2 = () => flowPackets(a.vm, `table=${TABLES.L2Lookup.id},dl_dst=${b.vm.mac}`);
    const fpA = () => fastCounter('hv1', a.vm.tap, 'fast');
    const fpB = () => fastCounter('hv2', b.vm.tap, 'fast');
    const before = { l2: await ovsL2(), a: await fpA(), b: await fpB() };
    const N = 20;
    const out = await ping6(['-c', String(N), '-i', '0.05']);
    expect(out).toContain(`${N} received`);
    expect(await tcp(b.vm, a.vm, b.ip6, 7200)).toMatch(/^pong-\d+$/);
    await new Promise((r) => setTimeout(r, 1500));
    const d = { l2: (await ovsL2()) - before.l2, a: (await fpA()) - before.a, b: (await fpB()) - before.b };
    log(`IPv6: ${N} pings + 1 TCP exchange a(hv1) -> b(hv2) over IPv6: fast path took ${d.a} frames on a's NIC, ${d.b} on b's; OVS counted ${d.l2} on hv1's L2 flow to b`);
    expect(d.a).toBeGreaterThanOrEqual(N);
    expect(d.b).toBeGreaterThanOrEqual(N);
    expect(d.l2).toBe(0);
    // A source address the port does not own is not a pair in vfp_src6: OVS gets it and drops it.
    await a.vm.exec(['ip', '-6', 'addr', 'add', 'fd00:73::bad/64', 'dev', a.vm.iface, 'nodad']);
    const spoofBefore = await fpA();
    expect(await a.vm.exec(['ping', '-6', '-c', '3', '-i', '0.2', '-W', '1', '-I', 'fd00:73::bad', b.ip6]).then((o) => o, (e: Error) => e.message)).not.toContain(' 0% packet loss');
    expect((await fpA()) - spoofBefore).toBe(0);
  }, 90_000);

  it('port security holds on the fast path: a spoofed source IP is not carried (OVS drops it), an allowed pair is', async () => {
    const ns = 'fp-sec';
    await network(ns, 'net', { subnets: [{ cidr: '10.72.0.0/24' }] });
    const port = (await call('POST', `${G}/namespaces/${ns}/virtualports`, { metadata: { name: 's' }, spec: { network: 'net', node: 'hv1', ips: ['10.72.0.10'], allowedAddressPairs: [{ ip: '10.72.0.200' }] } })) as VirtualPort;
    const s = await bed.addVm('hv1', { name: 'fpsecs', ifaceId: port.spec!.interfaceId!, mac: port.spec!.mac, ip: '10.72.0.10/24' });
    await s.exec(['sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1']);
    await waitReady(ns, 'virtualports', 's');
    const d = await vmFor(ns, 'net', 'd', 'hv2');
    const dIp = d.port.spec!.ips![0]!;
    await eventually(async () => ((await node('hv1')).status?.fastpath?.interfaces ?? 0) >= 3, 20_000, 100);
    await eventually(async () => (await ping(s, dIp)).includes('1 received'), 15_000, 100);
    // Spoofed source IP: the XDP filter does not hand it to the fast path; OVS's guard drops it.
    await s.exec(['ip', 'addr', 'add', '10.72.0.77/24', 'dev', s.iface]);
    const fast0 = await fastCounter('hv1', s.tap, 'fast');
    const rx0 = (JSON.parse(await d.vm.exec(['ip', '-s', '-j', 'link', 'show', d.vm.iface])) as { stats64: { rx: { packets: number } } }[])[0]!.stats64.rx.packets;
    expect(await ping(s, dIp, ['-c', '3', '-i', '0.2', '-I', '10.72.0.77'])).not.toContain(' 0% packet loss');
    const rx1 = (JSON.parse(await d.vm.exec(['ip', '-s', '-j', 'link', 'show', d.vm.iface])) as { stats64: { rx: { packets: number } } }[])[0]!.stats64.rx.packets;
    const spoofedFast = (await fastCounter('hv1', s.tap, 'fast')) - fast0;
    expect(spoofedFast).toBe(0);
    expect(rx1 - rx0).toBe(0);
    // The allowed pair passes, on the fast path (its ARP goes through OVS, its IP does not).
    await s.exec(['ip', 'addr', 'add', '10.72.0.200/24', 'dev', s.iface]);
    await eventually(async () => (await ping(s, dIp, ['-c', '1', '-I', '10.72.0.200'])).includes('1 received'), 10_000, 100);
    const fast2 = await fastCounter('hv1', s.tap, 'fast');
    expect(await ping(s, dIp, ['-c', '5', '-i', '0.1', '-I', '10.72.0.200'])).toContain('5 received');
    const pairFast = (await fastCounter('hv1', s.tap, 'fast')) - fast2;
    expect(pairFast).toBeGreaterThanOrEqual(5);
    log(`port security: spoofed source IP: ${spoofedFast} frames on the fast path, ${rx1 - rx0} received; allowed pair: 5 pings, ${pairFast} frames on the fast path`);
  }, 90_000);
});
