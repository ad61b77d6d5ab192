/**
 * `vnetctl trace` across two hypervisors (a test bed of namespaced OVS instances joined to
 * vnetd): through a VIP whose backends sit on both nodes, trace follows OVS's slot hash to
 * the backend it picks for the 5-tuple and traces the other one after its DNAT; the remote
 * backend's path ends in the tunnel to the other node's VTEP, its share of the slots
 * follows its weight, and trace says so beside the logical model. No traffic is sent:
 * trace only reads the API and asks OVS.
 */
import { linkLocalOf } from '../../src/pipeline/port-security-v6';
import type { LoadBalancer, VirtualPort } from '../../src/resources/kinds';
import { G, joinBed, overlayApi } from '../e2e/overlay-support';
import { startTestbed, type Testbed, type Vm } from '../harness/testbed';
import { eventually } from '../support/vnetd';
import { startTestVnetd, type TestVnetd } from '../support/vnetd';
import { cliRunner, type CliRunner } from './cli-support';
import { describeOvs } from './ovsdb-helpers';

describeOvs('vnetctl trace across two hypervisors', () => {
  let v: TestVnetd;
  let bed: Testbed;
  let cli: CliRunner;
  const { call, network, waitReady } = overlayApi(() => v);

  beforeAll(async () => {
    v = await startTestVnetd({ chassis: true });
    bed = await startTestbed({ hypervisors: 2 });
    await joinBed(bed, call);
    cli = await cliRunner({ KUBECONFIG: v.kubeconfigPath });
  }, 60_000);

  afterAll(async () => {
    await bed?.stop();
    await v?.stop();
  }, 60_000);

  const vms = new Map<string, Vm>();
  const portOn = async (name: string, hv: string, ns = 'tr'): Promise<VirtualPort> => {
    const port = (await call('POST', `${G}/namespaces/${ns}/virtualports`, { metadata: { name }, spec: { network: 'net', node: hv } })) as VirtualPort;
    const v4 = port.spec!.ips!.find((a) => !a.includes(':'));
    vms.set(`${ns}/${name}`, await bed.addVm(hv, { name: `${ns}${name}`.slice(0, 8), ifaceId: port.spec!.interfaceId!, mac: port.spec!.mac, ...(v4 ? { ip: `${v4}/24` } : {}) }));
    await waitReady(ns, 'virtualports', name);
    return port;
  };

  it('through a VIP: OVS picks a backend for the 5-tuple; the local backend ends at the local port, the remote one in the tunnel to its node; plain traces name the tunnel too', async () => {
    await network('tr', 'net', { subnets: [{ cidr: '10.41.0.0/24' }] });
    await portOn('client', 'hv1');
    const b1 = await portOn('b1', 'hv1');
    const b2 = await portOn('b2', 'hv2');
    const lb = (await call('POST', `${G}/namespaces/tr/loadbalancers`, {
      metadata: { name: 'web' },
      spec: { network: 'net', listeners: [{ protocol: 'TCP', port: 80, targetPort: 8080 }, { protocol: 'UDP', port: 53, targetPort: 5353 }], backends: [{ port: 'b1' }, { port: 'b2', weight: 2 }] },
    })) as LoadBalancer;
    await waitReady('tr', 'loadbalancers', 'web');
    const vip = lb.spec!.vip!;
    const hv2 = bed.hypervisors.find((h) => h.name === 'hv2')!.tunnelIP;
    const [ip1, ip2] = [b1, b2].map((p) => p.spec!.ips![0]!);

    const [toVip, toB2, json] = await Promise.all([
      cli.run(['-n', 'tr', 'trace', '--from', 'client', '--to', `${vip}:80`]),
      cli.run(['-n', 'tr', 'trace', '--from', 'client', '--to', ip2]),
      cli.run(['-n', 'tr', 'trace', '--from', 'client', '--to', `${vip}:80`, '-o', 'json']),
    ]);
    if (process.env.VNETD_TEST_LOG) process.stdout.write(`${toVip.stdout}\n${toB2.stdout}\n`);
    for (const r of [toVip, toB2, json]) expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(toVip.stdout).toMatch(new RegExp(`-> b2: port b2 on node hv2: tunnel \\(vxlan, VNI \\d+\\) to VTEP ${hv2}`));
    const picked = /pick: +OVS picks (b[12]) \(DNAT to [0-9.]+:8080\) for this 5-tuple: multipath hashes it to slot \d+/.exec(toVip.stdout)?.[1];
    expect(picked).toBeDefined();
    const path = (b: string) => (b === picked ? "OVS's pick: LbNat -> LbSlot -> LbDnat -> LbNat -> L2Lookup" : 'after its DNAT: LbNat -> L2Lookup');
    expect(toVip.stdout).toMatch(new RegExp(`backend b1 ${ip1}: \\d+ slots \\([0-9.]+%\\), weight 1, DNAT to ${ip1}:8080: ${path('b1')}: output to ofport \\d+ \\(b1\\): as the logical model says`));
    expect(toVip.stdout).toMatch(new RegExp(`backend b2 ${ip2}: \\d+ slots \\([0-9.]+%\\), weight 2, DNAT to ${ip2}:8080: ${path('b2')}: output to ofport \\d+, tunnel destination ${hv2}: as the logical model says`));
    expect(toVip.stdout).toContain('OVS agrees with the logical path (deliver). Every backend holds slots and a DNAT flow');
    expect(toB2.stdout).toMatch(new RegExp(`end: +output to ofport \\d+, tunnel destination ${hv2}\\nverdict|end: +output to ofport \\d+, tunnel destination ${hv2}\\n +verdict: +deliver`));
    // ...and traced again on hv2 as it arrives through the tunnel: delivered to b2 there.
    expect(toB2.stdout).toMatch(new RegExp(`OVS ofproto/trace on node hv2, arriving through the tunnel \\(br-int in_port=\\d+,tun_id=0x[0-9a-f]+,tun_src=[0-9.]+,tun_dst=${hv2},icmp,`));
    expect(toB2.stdout).toMatch(/arriving through the tunnel[^\n]*\n +tables: +Classifier -> [^\n]*L2Lookup\n[^\n]*\n +end: +output to ofport \d+ \(b2\)\n/);
    expect(toB2.stdout).toContain('OVS agrees with the logical path (deliver).');
    const report = JSON.parse(json.stdout);
    expect(report.agrees).toBe(true);
    const backends = report.ovs.loadBalancer.backends as { backend: string; weight: number; slots: number; dealt: number }[];
    expect(backends.map((b) => `${b.backend}/${b.weight}`).sort()).toEqual(['b1/1', 'b2/2']);
    // Shares follow the weights (loosely: weight 2 holds more slots than weight 1), exactly as vnetd deals them.
    const [s1, s2] = ['b1', 'b2'].map((n) => backends.find((b) => b.backend === n)!);
    expect(s1!.slots + s2!.slots).toBe(256);
    expect(s2!.slots).toBeGreaterThan(s1!.slots);
    for (const b of backends) expect(b.slots).toBe(b.dealt);

    // UDP through the VIP (udp_src/udp_dst for ofproto/trace), a backend to its own VIP
    // (hairpin: back out of its own port, from the VIP), and a VIP with no backend (refused).
    await call('POST', `${G}/namespaces/tr/loadbalancers`, { metadata: { name: 'none' }, spec: { network: 'net', listeners: [{ protocol: 'TCP', port: 80 }], backends: [] } });
    await waitReady('tr', 'loadbalancers', 'none');
    const noneVip = ((await call('GET', `${G}/namespaces/tr/loadbalancers/none`)) as LoadBalancer).spec!.vip!;
    const [udp, hairpin, refused] = await Promise.all([
      cli.run(['-n', 'tr', 'trace', '--from', 'client', '--to', `${vip}:53`, '--proto', 'udp']),
      cli.run(['-n', 'tr', 'trace', '--from', 'b1', '--to', `${vip}:80`, '-o', 'json']),
      cli.run(['-n', 'tr', 'trace', '--from', 'client', '--to', `${noneVip}:80`]),
    ]);
    if (process.env.VNETD_TEST_LOG) process.stdout.write(`${udp.stdout}\n${hairpin.stdout}\n${refused.stdout}\n`);
    for (const r of [udp, hairpin, refused]) expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(udp.stdout).toMatch(/pick: +OVS picks b[12] \(DNAT to [0-9.]+:5353\)/);
    expect(udp.stdout).toContain('OVS agrees with the logical path (deliver).');
    const h = JSON.parse(hairpin.stdout);
    expect(h.logical.steps.join('\n')).toMatch(/-> b1: .*\(hairpin: the source is this backend/);
    expect(h.ovs.loadBalancer.backends.find((b: { backend: string }) => b.backend === 'b1').end).toMatch(/^output to ofport \d+ \(b1\)/);
    expect(h.disagreements).toEqual([]);
    expect(h.agrees).toBe(true);
    expect(refused.stdout).toMatch(/new connections are refused: vnetd answers a TCP RST from the VIP/);
    expect(refused.stdout).toMatch(/end: +to vnetd \(controller\), which refuses/);
    expect(refused.stdout).toContain('OVS agrees with the logical path (drop).');

    // b1's VM NIC down (Bound LinkDown): a 5-tuple OVS deals to b1 goes unanswered, which trace
    // says as TROUBLE and exit 1 (QA-131: "deliver ... OVS agrees", exit 0).
    const b1vm = vms.get('tr/b1')!;
    await b1vm.exec(['ip', 'link', 'set', b1vm.iface, 'down']);
    try {
      await eventually(async () => ((await call('GET', `${G}/namespaces/tr/virtualports/b1`)) as VirtualPort).status?.conditions?.some((c) => c.type === 'Bound' && c.reason === 'LinkDown'), 15_000, 100);
      let toB1: string | undefined;
      for (let p = 40000; p < 40040 && !toB1; p++) {
        const r = JSON.parse((await cli.run(['-n', 'tr', 'trace', '--from', 'client', '--to', `${vip}:80`, '--src-port', String(p), '-o', 'json'])).stdout);
        if (r.ovs.loadBalancer?.pick?.backend === 'b1') toB1 = String(p);
      }
      expect(toB1).toBeDefined();
      const down = await cli.run(['-n', 'tr', 'trace', '--from', 'client', '--to', `${vip}:80`, '--src-port', toB1!]);
      expect(down.code).toBe(1);
      expect(down.stdout).toMatch(/TROUBLE on the path: backend b1, OVS's pick for this 5-tuple, takes nothing: its VM's NIC link is down \(Bound LinkDown\)/);
    } finally {
      await b1vm.exec(['ip', 'link', 'set', b1vm.iface, 'up']);
    }
  }, 120_000);

  it('--src-ip / --src-mac: an allowed pair\'s address is delivered, a spoofed one dropped at SpoofGuard, and OVS agrees both ways', async () => {
    // The network and b2 of the test above.
    const vr = (await call('POST', `${G}/namespaces/tr/virtualports`, { metadata: { name: 'vr' }, spec: { network: 'net', node: 'hv1', allowedAddressPairs: [{ ip: '10.41.0.200' }, { ip: '10.41.0.210', mac: '00:00:5e:00:01:01' }] } })) as VirtualPort;
    await bed.addVm('hv1', { name: 'trvr', ifaceId: vr.spec!.interfaceId!, mac: vr.spec!.mac, ip: `${vr.spec!.ips![0]}/24` });
    await waitReady('tr', 'virtualports', 'vr');
    const ip2 = ((await call('GET', `${G}/namespaces/tr/virtualports/b2`)) as VirtualPort).spec!.ips![0]!;
    const trace = (...extra: string[]) => cli.run(['-n', 'tr', 'trace', '--from', 'vr', '--to', `${ip2}:80`, ...extra, '-o', 'json']);
    const [pair, pairMac, spoofed, wrongMac, bad] = await Promise.all([
      trace('--src-ip', '10.41.0.200'),
      trace('--src-ip', '10.41.0.210', '--src-mac', '00:00:5e:00:01:01'),
      trace('--src-ip', '10.41.0.99'),
      trace('--src-ip', '10.41.0.210'),
      cli.run(['-n', 'tr', 'trace', '--from', 'vr', '--to', ip2, '--src-ip', 'fd00::5']),
    ]);
    for (const r of [pair, pairMac, spoofed, wrongMac]) expect(r).toMatchObject({ code: 0, stderr: '' });
    const [p, pm, sp, wm] = [pair, pairMac, spoofed, wrongMac].map((r) => JSON.parse(r.stdout));
    expect(p.ovs.flow).toContain(',nw_src=10.41.0.200,');
    expect(pm.ovs.flow).toContain('dl_src=00:00:5e:00:01:01,');
    for (const r of [p, pm]) expect([r.logical.verdict, r.ovs.verdict, r.agrees]).toEqual(['deliver', 'deliver', true]);
    expect(sp.logical.steps.join('\n')).toContain('10.41.0.99 is neither the port\'s address');
    // Dropped in OVS too, at SpoofGuard: the logical model and the switch agree.
    for (const r of [sp, wm]) {
      expect([r.logical.verdict, r.ovs.verdict, r.agrees]).toEqual(['drop', 'drop', true]);
      expect(r.ovs.tables).toEqual(['Classifier', 'SpoofGuard']);
    }
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim()).toBe(`error: --src-ip fd00::5 is IPv6 and --to ${ip2} IPv4: one packet has one family`);
  }, 60_000);

  it('IPv6: through an IPv6 VIP (backends by their IPv6 addresses; the backend register holds a hash of each), to a peer across the tunnel, and from a port without IPv6', async () => {
    await network('t6', 'net', { subnets: [{ cidr: '10.42.0.0/24' }, { cidr: 'fd00:42::/64' }] });
    await network('t6', 'v4only', { subnets: [{ cidr: '10.43.0.0/24' }] });
    await portOn('client', 'hv1', 't6');
    const [b1, b2] = [await portOn('b1', 'hv1', 't6'), await portOn('b2', 'hv2', 't6')];
    await call('POST', `${G}/namespaces/t6/virtualports`, { metadata: { name: 'old' }, spec: { network: 'v4only', node: 'hv1' } });
    const vip = 'fd00:42::100';
    await call('POST', `${G}/namespaces/t6/loadbalancers`, {
      metadata: { name: 'web6' },
      spec: { network: 'net', vip, listeners: [{ protocol: 'TCP', port: 80, targetPort: 8080 }, { protocol: 'UDP', port: 53, targetPort: 5353 }], backends: [{ port: 'b1' }, { port: 'b2', weight: 2 }] },
    });
    await waitReady('t6', 'loadbalancers', 'web6');
    const hv2 = bed.hypervisors.find((h) => h.name === 'hv2')!.tunnelIP;
    const [ip1, ip2] = [b1, b2].map((p) => p.spec!.ips!.find((a) => a.includes(':'))!);

    // The VIP written in another spelling is the same address.
    const b2LinkLocal = linkLocalOf(b2.spec!.mac!);
    const [toVip, toB2, json, udp, noV6, linkLocal] = await Promise.all([
      cli.run(['-n', 't6', 'trace', '--from', 'client', '--to', `[FD00:42:0:0::100]:80`]),
      cli.run(['-n', 't6', 'trace', '--from', 'client', '--to', ip2]),
      cli.run(['-n', 't6', 'trace', '--from', 'client', '--to', `[${vip}]:80`, '-o', 'json']),
      cli.run(['-n', 't6', 'trace', '--from', 'client', '--to', `[${vip}]:53`, '--proto', 'udp']),
      cli.run(['-n', 't6', 'trace', '--from', 'old', '--to', ip2]),
      cli.run(['-n', 't6', 'trace', '--from', 'client', '--to', `[${b2LinkLocal}]:22`, '-o', 'json']),
    ]);
    if (process.env.VNETD_TEST_LOG) process.stdout.write(`${toVip.stdout}\n${toB2.stdout}\n${udp.stdout}\n${noV6.stdout}\n`);
    for (const r of [toVip, toB2, json, udp, noV6, linkLocal]) expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(toVip.stdout).toContain(`nd:       ${vip} is the VIP of load balancer web6: the Neighbor Solicitation answered on this node`);
    expect(toVip.stdout).toMatch(new RegExp(`-> b2: port b2 on node hv2: tunnel \\(vxlan, VNI \\d+\\) to VTEP ${hv2}`));
    const picked = /pick: +OVS picks (b[12]) \(DNAT to \[[0-9a-f:]+\]:8080\) for this 5-tuple: multipath hashes it to slot \d+/.exec(toVip.stdout)?.[1];
    expect(picked).toBeDefined();
    const path = (b: string) => (b === picked ? "OVS's pick: LbNat -> LbSlot -> LbDnat -> LbNat -> L2Lookup" : 'after its DNAT: LbNat -> L2Lookup');
    expect(toVip.stdout).toContain(`backend b1 ${ip1}: `);
    expect(toVip.stdout).toMatch(new RegExp(`backend b1 ${ip1}: \\d+ slots \\([0-9.]+%\\), weight 1, DNAT to \\[${ip1}\\]:8080: ${path('b1')}: output to ofport \\d+ \\(b1\\): as the logical model says`));
    expect(toVip.stdout).toMatch(new RegExp(`backend b2 ${ip2}: \\d+ slots \\([0-9.]+%\\), weight 2, DNAT to \\[${ip2}\\]:8080: ${path('b2')}: output to ofport \\d+, tunnel destination ${hv2}: as the logical model says`));
    expect(toVip.stdout).toContain('OVS agrees with the logical path (deliver). Every backend holds slots and a DNAT flow');
    const report = JSON.parse(json.stdout);
    expect(report.ovs.flow).toMatch(/^in_port=\d+,tcp6,.*,ipv6_src=fd00:42::[0-9a-f:]+,ipv6_dst=fd00:42::100,nw_ttl=64,tcp_src=40000,tcp_dst=80$/);
    expect(report.agrees).toBe(true);
    expect(report.disagreements).toEqual([]);
    const backends = report.ovs.loadBalancer.backends as { backend: string; ip: string; slots: number; dealt: number }[];
    expect(backends.map((b) => `${b.backend} ${b.ip}`).sort()).toEqual([`b1 ${ip1}`, `b2 ${ip2}`]);
    expect(backends.reduce((n, b) => n + b.slots, 0)).toBe(256);
    for (const b of backends) expect(b.slots).toBe(b.dealt);
    expect(udp.stdout).toMatch(/pick: +OVS picks b[12] \(DNAT to \[[0-9a-f:]+\]:5353\)/);
    expect(udp.stdout).toContain('OVS agrees with the logical path (deliver).');
    // ICMPv6 echo to b2 across the tunnel, traced again on hv2 as it arrives there.
    expect(toB2.stdout).toContain(`nd:       ${ip2} is port b2`);
    expect(toB2.stdout).toMatch(new RegExp(`OVS ofproto/trace on node hv2, arriving through the tunnel \\(br-int in_port=\\d+,tun_id=0x[0-9a-f]+,tun_src=[0-9.]+,tun_dst=${hv2},icmp6,`));
    expect(toB2.stdout).toMatch(/arriving through the tunnel[^\n]*\n +tables: +Classifier -> [^\n]*L2Lookup\n[^\n]*\n +end: +output to ofport \d+ \(b2\)\n/);
    expect(toB2.stdout).toContain('OVS agrees with the logical path (deliver).');
    // To b2's link-local address, from the client's own: port security and OVS agree across the tunnel.
    const ll = JSON.parse(linkLocal.stdout);
    expect(ll.packet.src).toBe(linkLocalOf(((await call('GET', `${G}/namespaces/t6/virtualports/client`)) as VirtualPort).spec!.mac!));
    expect(ll.ovs.flow).toContain(`,ipv6_dst=${b2LinkLocal},`);
    expect(ll.ovs.remote.end).toMatch(/^output to ofport \d+ \(b2\)$/);
    expect([ll.agrees, ll.disagreements]).toEqual([true, []]);
    expect(noV6.stdout).toMatch(/port old has no IPv6 address \(10\.43\.0\.\d+\): the VM would not send this packet/);

    // Bad input: one clear line, exit code 2.
    const bad = await cli.run(['-n', 't6', 'trace', '--from', 'client', '--to', `[${vip}]:0`]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain(`--to "[${vip}]:0": port 0 is outside 1-65535`);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
  }, 90_000);

  it('a hung switch on the path (ovs-vswitchd stopped with SIGSTOP): trace says so as TROUBLE and exits 1 within --ovs-timeout, not the 20 s default', async () => {
    const hv1 = bed.hypervisors.find((h) => h.name === 'hv1')!;
    const pid = hv1.ovs.vswitchdPid!;
    process.kill(pid, 'SIGSTOP');
    try {
      const t0 = performance.now();
      const hung = await cli.run(['-n', 'tr', 'trace', '--from', 'client', '--to', '10.41.0.3', '--ovs-timeout', '2s']);
      const ms = performance.now() - t0;
      process.stdout.write(`[cli-trace] hung ovs-vswitchd: exit ${hung.code} after ${ms.toFixed(0)} ms\n`);
      expect(hung.code).toBe(1);
      expect(hung.stdout).toMatch(/TROUBLE on the path: node hv1's ovs-vswitchd did not answer ofproto\/trace within 2 s: it is hung or overloaded/);
      expect(ms).toBeLessThan(15_000);
      const bad = await cli.run(['-n', 'tr', 'trace', '--from', 'client', '--to', '10.41.0.3', '--ovs-timeout', 'soon']);
      expect(bad.code).toBe(2);
      expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
  }, 60_000);
});
