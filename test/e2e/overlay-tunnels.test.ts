/**
 * Tunnel health on the test bed: each node's controller sends probes through its tunnel
 * ports to every peer, which sends them back (src/reconcile/kinds/tunnel-probes.ts), and the
 * Node's TunnelsUp condition says whether they come back. A hypervisor whose tunnel IP is
 * taken off br-phy (as on a host whose Node names an address it does not have) keeps its flows
 * and stays Ready, but its overlay carries nothing: TunnelsUp goes False on it, naming its
 * peers, and on its peer, naming it; with the address back, True on both. Prints the times.
 */
import type { HypervisorNode, LoadBalancer } from '../../src/resources/kinds';
import { describeOvs } from '../integration/ovsdb-helpers';
import { eventually } from '../support/vnetd';
import { agentsBed, overlayApi, overlayBed } from './overlay-support';

// Probes every 500 ms (5 s in production): a lost round trip is seen after 2 s.
const probeMsBefore = process.env.VNETD_TUNNEL_PROBE_MS;
process.env.VNETD_TUNNEL_PROBE_MS = '500';

function log(line: string): void {
  process.stdout.write(`[overlay-tunnels] ${line}\n`);
}

afterAll(() => {
  if (probeMsBefore === undefined) delete process.env.VNETD_TUNNEL_PROBE_MS;
  else process.env.VNETD_TUNNEL_PROBE_MS = probeMsBefore;
});

type Call = ReturnType<typeof overlayApi>['call'];

/**
 * A Node's TunnelsUp and Ready conditions, once TunnelsUp has `status` (and, for False, names
 * both tunnel types: the two echoes of a round come back a moment apart, so the first False may
 * name one).
 */
function until(call: Call, hv: string, status: 'True' | 'False', timeoutMs = 20_000) {
  return eventually(async () => {
    const n = (await call('GET', `/apis/vnet.dev/v1alpha1/nodes/${hv}`)) as HypervisorNode;
    const c = n.status?.conditions ?? [];
    const tunnels = c.find((x) => x.type === 'TunnelsUp');
    // (A node's first True may be NoPeers: its peers answer probes once they report TunnelsUp themselves.)
    const done = tunnels?.status === status && tunnels.reason === (status === 'True' ? 'ProbesAnswered' : 'NoProbeAnswered');
    return done ? { tunnels, ready: c.find((x) => x.type === 'Ready') } : undefined;
  }, timeoutMs, 100);
}

describeOvs('overlay: tunnel probes and the Node TunnelsUp condition', () => {
  const fixture = overlayBed();
  const { call, network, vmFor, waitReady } = overlayApi(fixture.vnetd);

  it('TunnelsUp follows the round trips: False on both ends while one hypervisor lacks its tunnel IP, True again once it has it back; Ready stays True; a load balancer says whom its backends on cut-off nodes reach', async () => {
    const [hv1, hv2] = fixture.bed().hypervisors;
    // A load balancer with a backend on each side of the cut (no health check: those probe from
    // the backend's own node, across no tunnel, and pass).
    const ns = 't-lb';
    await network(ns, 'net', { subnets: [{ cidr: '10.41.0.0/24' }] });
    const backends = [await vmFor(fixture.bed(), ns, 'net', 'tb1', hv1!.name), await vmFor(fixture.bed(), ns, 'net', 'tb2', hv2!.name)];
    await call('POST', `/apis/vnet.dev/v1alpha1/namespaces/${ns}/loadbalancers`, {
      metadata: { name: 'web' },
      spec: { network: 'net', listeners: [{ protocol: 'TCP', port: 80 }], backends: backends.map((b) => ({ port: b.port.metadata.name })) },
    });
    await waitReady(ns, 'loadbalancers', 'web');
    const lbUntil = (ok: (message: string) => boolean) =>
      eventually(async () => {
        const lb = (await call('GET', `/apis/vnet.dev/v1alpha1/namespaces/${ns}/loadbalancers/web`)) as LoadBalancer;
        const c = lb.status?.conditions?.find((x) => x.type === 'BackendsAvailable');
        return lb.status?.healthyBackends === '2/2' && c && ok(c.message ?? '') ? c : undefined;
      }, 20_000, 100);
    await lbUntil((m) => m === 'all 2 backends get connections');
    const up1 = await until(call, hv1!.name, 'True');
    const up2 = await until(call, hv2!.name, 'True');
    log(`both nodes: ${up1.tunnels!.reason} (${up1.tunnels!.message}); ${up2.tunnels!.reason}`);
    expect(up1.tunnels!.message).toBe('tunnel probes to every Ready peer come back');

    const t0 = performance.now();
    await hv2!.exec(['ip', 'addr', 'del', `${hv2!.tunnelIP}/24`, 'dev', 'br-phy']);
    try {
      const down2 = await until(call, hv2!.name, 'False');
      const down1 = await until(call, hv1!.name, 'False');
      log(`hv2's tunnel IP removed: False after ${(performance.now() - t0).toFixed(0)} ms; hv2: ${down2.tunnels!.message}; hv1: ${down1.tunnels!.message}`);
      expect(down2.tunnels).toMatchObject({ reason: 'NoProbeAnswered' });
      // With one peer either end may be at fault: the message names both.
      expect(down2.tunnels!.message).toContain(`from ${hv1!.name} (geneve), ${hv1!.name} (vxlan): check that this host and ${hv1!.name} hold their tunnel IPs (${hv2!.tunnelIP}, ${hv1!.tunnelIP})`);
      expect(down1.tunnels!.message).toContain(`from ${hv2!.name} (geneve), ${hv2!.name} (vxlan)`);
      // Its flows are all there: Ready says nothing of this (before, nothing did).
      expect(down2.ready?.status).toBe('True');
      // Both ends are cut off: each backend is reached from its own node only, and the load
      // balancer says so (QA-93: it said all was well); still counted, for each node's own clients.
      const cut = await lbUntil((m) => m.includes('cut off'));
      log(`load balancer across the cut: said after ${(performance.now() - t0).toFixed(0)} ms; BackendsAvailable=${cut?.status}: ${cut?.message}`);
      expect(cut!.reason).toBe('SomeBackendsCutOff');
      expect(cut!.message).toMatch(new RegExp(`^all 2 backends get connections; reached by clients on their own node only: tb1 \\(node ${hv1!.name} is cut off the overlay: .*; tb2 \\(node ${hv2!.name} is cut off the overlay: `));
    } finally {
      await hv2!.exec(['ip', 'addr', 'replace', `${hv2!.tunnelIP}/24`, 'dev', 'br-phy']);
    }
    const t1 = performance.now();
    await until(call, hv2!.name, 'True');
    await until(call, hv1!.name, 'True');
    const back = await lbUntil((m) => m === 'all 2 backends get connections');
    log(`tunnel IP back: True on both, and the load balancer's note gone, after ${(performance.now() - t1).toFixed(0)} ms`);
    expect(back).toMatchObject({ status: 'True', reason: 'AllBackendsAvailable' });
  }, 120_000);
});

describeOvs('agents: tunnel probes between the agents of two hypervisors', () => {
  const setup = agentsBed();
  const { call } = overlayApi(setup.vnetd);

  it('each switch reflects the other\'s probes: TunnelsUp True on both nodes; False on hv1 while hv2 lacks its tunnel IP', async () => {
    const [hv1, hv2] = setup.bed().hypervisors;
    await until(call, hv1!.name, 'True');
    await until(call, hv2!.name, 'True');
    await hv2!.exec(['ip', 'addr', 'del', `${hv2!.tunnelIP}/24`, 'dev', 'br-phy']);
    try {
      const down1 = await until(call, hv1!.name, 'False');
      log(`agents: hv2's tunnel IP removed: hv1 ${down1.tunnels!.reason}`);
    } finally {
      await hv2!.exec(['ip', 'addr', 'replace', `${hv2!.tunnelIP}/24`, 'dev', 'br-phy']);
    }
    await until(call, hv1!.name, 'True');
  }, 120_000);

  it("an agent that stops leaves its peers' tunnels up: its switch still reflects their probes (QA-146 F1: they said False within 13 s, blaming the underlay, while the tunnels carried traffic)", async () => {
    const [hv1, hv2] = setup.bed().hypervisors;
    await until(call, hv1!.name, 'True');
    await setup.agents.get(hv2!.name)!.close();
    try {
      // Five times the two rounds (500 ms each) a probe has to come back: still answered.
      const t0 = performance.now();
      while (performance.now() - t0 < 6000) {
        const tunnels = ((await call('GET', `/apis/vnet.dev/v1alpha1/nodes/${hv1!.name}`)) as HypervisorNode).status?.conditions?.find((c) => c.type === 'TunnelsUp');
        expect(tunnels).toMatchObject({ status: 'True', reason: 'ProbesAnswered' });
        await new Promise((r) => setTimeout(r, 250));
      }
      log(`agents: hv2's agent stopped: hv1 stayed TunnelsUp=True ProbesAnswered for ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    } finally {
      await setup.startAgentFor(hv2!.name);
    }
  }, 120_000);
});
