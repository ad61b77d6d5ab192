/**
 * A node's bundle pacing holds back changes of its flows, not realizations: on real Open
 * vSwitch (two hypervisors), with the production ChassisManager and PipelineReconciler over
 * an in-memory store and a pacing interval of 6 s, a port declared on hv2 and plugged there
 * just after hv1 sent a bundle is Ready as soon as hv2 has its local flows. Its plug changes
 * nothing on hv1 (hv1's entries for it follow spec.node, and hv2 is a VTEP of the network already), but Ready waits for every node of
 * the network to realize the port's new generation, and hv1's reconcile waited out the
 * interval before it compiled (that nothing changed): 0.3-0.4 s after a burst in
 * bench:converge, the whole interval here. A change of hv1's flows still waits.
 */
import { isTrue, setCondition } from '../../src/reconcile/conditions';
import type { VirtualNetwork, VirtualPort } from '../../src/resources/kinds';
import { NETWORKS, PORTS } from '../../src/store/kinds';
import type { Hypervisor } from '../harness/testbed';
import { eventually } from '../support/vnetd';
import { describeOvs } from './ovsdb-helpers';
import { brIntFlows as flows, plugNic as plug, startPipelineBed, type PipelineBed } from './pipeline-bed';

const NS = 'paced';
// Long enough that a loaded machine (b's local flows took 2 s once in CI, beside two other jobs) stays well inside it.
const INTERVAL_MS = 6000;

describeOvs('pipeline: bundle pacing holds back flow changes, not a realization that changes none', () => {
  let pb: PipelineBed | undefined;
  afterAll(async () => pb?.stop(), 60_000);

  it('a port plugged on hv2 just after hv1 sent a bundle is Ready without waiting for hv1\'s interval; hv1\'s own next change waits', async () => {
    pb = await startPipelineBed({ hypervisors: 2, pipeline: { readiness: 'local', nodeBundleIntervalMs: INTERVAL_MS, nodeBundleMaxIntervalMs: INTERVAL_MS } });
    const { bed, objects } = pb;
    const [hv1, hv2] = bed.hypervisors as [Hypervisor, Hypervisor];

    await objects.create<VirtualNetwork>(NETWORKS, { apiVersion: 'vnet.dev/v1alpha1', kind: 'VirtualNetwork', metadata: { name: 'net', namespace: NS }, spec: { subnets: [{ cidr: '10.78.0.0/24' }], vni: 7801 } } as VirtualNetwork);
    // Declared with its addresses (no IPAM here: its condition is set as IPAM would).
    const port = async (name: string, node: string, mac: string, ip: string) => {
      await objects.create<VirtualPort>(PORTS, {
        apiVersion: 'vnet.dev/v1alpha1',
        kind: 'VirtualPort',
        metadata: { name, namespace: NS },
        spec: { network: 'net', node, mac, ips: [ip], interfaceId: `${bed.prefix}-${name}` },
      } as VirtualPort);
      // Coalesced with the chassis layer's first binding write (same turn): that write must
      // keep this condition (it dropped it, deciding the binding for the stored revision).
      const written = await objects.modify<VirtualPort>(PORTS, NS, name, (cur) => ({ ...cur, status: { ...cur.status, conditions: setCondition(cur.status?.conditions, { type: 'AddressesAllocated', status: 'True', reason: 'Allocated', message: ip }) } }), { subresource: 'status' });
      expect(isTrue(written?.object.status?.conditions, 'AddressesAllocated')).toBe(true);
    };
    const ready = async (name: string) => isTrue((await objects.get<VirtualPort>(PORTS, NS, name))?.status?.conditions, 'Ready');

    // The network on both nodes (a port bound on each: each is the other's VTEP already);
    // a and c declared on hv1, b on hv2, none plugged yet; then both nodes quiet for a whole
    // interval, so that the next change of each goes at once.
    await port('y', hv1.name, '0a:78:00:00:00:01', '10.78.0.1');
    await port('z', hv2.name, '0a:78:00:00:00:02', '10.78.0.2');
    await plug(hv1, `${bed.prefix}y`, `${bed.prefix}-y`);
    await plug(hv2, `${bed.prefix}z`, `${bed.prefix}-z`);
    await port('a', hv1.name, '0a:78:00:00:00:0a', '10.78.0.10');
    await port('b', hv2.name, '0a:78:00:00:00:0b', '10.78.0.11');
    await port('c', hv1.name, '0a:78:00:00:00:0c', '10.78.0.12');
    await eventually(async () => (await ready('y')) && (await ready('z')) && (await flows(hv1)).some((l) => l.includes('dl_dst=0a:78:00:00:00:0b')), 15_000, 50);
    await new Promise((r) => setTimeout(r, INTERVAL_MS + 500));

    // a's NIC on hv1: a bundle to hv1 (a's local flows), which starts its interval. (On hv2
    // it changes nothing: a's entries there follow spec.node.)
    const ofA = await plug(hv1, `${bed.prefix}a`, `${bed.prefix}-a`);
    await eventually(async () => (await flows(hv1)).some((l) => l.includes(`in_port=${ofA}`)), 15_000, 10);
    const hv1Sent = Date.now();

    // b's NIC on hv2 within hv1's interval: hv2's flows go at once, and hv1 has nothing to change.
    const ofB = await plug(hv2, `${bed.prefix}b`, `${bed.prefix}-b`);
    await eventually(async () => (await flows(hv2)).some((l) => l.includes(`in_port=${ofB}`)), 15_000, 10);
    const localFlowsMs = Date.now() - hv1Sent;
    await eventually(() => ready('b'), 15_000, 10);
    const readyMs = Date.now() - hv1Sent;
    process.stdout.write(`[pacing] after hv1's bundle: b's local flows on hv2 at ${localFlowsMs} ms, b Ready at ${readyMs} ms (hv1's interval: ${INTERVAL_MS} ms)\n`);
    // Before, Ready came when hv1's interval was up.
    expect(readyMs).toBeLessThan(INTERVAL_MS / 2);

    // c's NIC on hv1 within its interval: a change of hv1's flows, which still waits for it.
    const ofC = await plug(hv1, `${bed.prefix}c`, `${bed.prefix}-c`);
    await eventually(async () => (await flows(hv1)).some((l) => l.includes(`in_port=${ofC}`)), 15_000, 10);
    const cMs = Date.now() - hv1Sent;
    process.stdout.write(`[pacing] c's local flows on hv1 at ${cMs} ms\n`);
    expect(cMs).toBeGreaterThanOrEqual(INTERVAL_MS - 250);
  }, 120_000);
});
