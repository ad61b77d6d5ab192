/**
 * `vnetctl trace` across two hypervisors (a test bed of namespaced OVS instances joined to
 * vnetd): through a VIP whose backends sit on both nodes, every bucket of the select group
 * is traced after its DNAT, the remote backend's bucket ends in the tunnel to the other
 * node's VTEP, and trace says so beside the logical model. No traffic is sent: trace only
 * reads the API and asks OVS.
 */
import type { LoadBalancer, VirtualPort } from '../../src/resources/kinds';
import { G, joinBed, overlayApi } from '../e2e/overlay-support';
import { startTestbed, type Testbed } from '../harness/testbed';
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

  const portOn = async (name: string, hv: string): Promise<VirtualPort> => {
    const port = (await call('POST', `${G}/namespaces/tr/virtualports`, { metadata: { name }, spec: { network: 'net', node: hv } })) as VirtualPort;
    await bed.addVm(hv, { name: `tr${name}`.slice(0, 8), ifaceId: port.spec!.interfaceId!, mac: port.spec!.mac, ip: `${port.spec!.ips![0]}/24` });
    await waitReady('tr', 'virtualports', name);
    return port;
  };

  it('through a VIP: the local bucket ends at the local port, the remote one in the tunnel to its node; plain traces name the tunnel too', async () => {
    await network('tr', 'net', { subnets: [{ cidr: '10.41.0.0/24' }] });
    await portOn('client', 'hv1');
    const b1 = await portOn('b1', 'hv1');
    const b2 = await portOn('b2', 'hv2');
    const lb = (await call('POST', `${G}/namespaces/tr/loadbalancers`, {
      metadata: { name: 'web' },
      spec: { network: 'net', listeners: [{ protocol: 'TCP', port: 80, targetPort: 8080 }], backends: [{ port: 'b1' }, { port: 'b2', weight: 2 }] },
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
    expect(toVip.stdout).toMatch(new RegExp(`bucket \\d: DNAT to ${ip1}:8080 \\(b1, weight 1\\): LbNat -> L2Lookup: output to ofport \\d+ \\(b1\\): as the logical model says`));
    expect(toVip.stdout).toMatch(new RegExp(`bucket \\d: DNAT to ${ip2}:8080 \\(b2, weight 2\\): LbNat -> L2Lookup: output to ofport \\d+, tunnel destination ${hv2}: as the logical model says`));
    expect(toVip.stdout).toContain('OVS agrees with the logical path (deliver). Every bucket is a logical backend');
    expect(toB2.stdout).toMatch(new RegExp(`end: +output to ofport \\d+, tunnel destination ${hv2}\\nverdict|end: +output to ofport \\d+, tunnel destination ${hv2}\\n +verdict: +deliver`));
    expect(toB2.stdout).toContain('OVS agrees with the logical path (deliver).');
    const report = JSON.parse(json.stdout);
    expect(report.agrees).toBe(true);
    expect(report.ovs.group.buckets.map((b: { backend: string; weight: number }) => `${b.backend}/${b.weight}`).sort()).toEqual(['b1/1', 'b2/2']);
  }, 90_000);
});
