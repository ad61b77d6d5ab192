/**
 * Ready only for what the switch confirmed (QA-117 F2). A load balancer created while its
 * node's ovs-vswitchd is hung (SIGSTOP) was reported Ready, "flows installed on node(s)
 * local", seconds before any flow reached the switch: its flow_mods went out on the node's
 * lanes (the manager's extra connections), whose keepalive timed out before the main
 * connection's. The lanes' bundles failed with their connections, so the change was recorded
 * for the full sync after the reconnect and not sent; the main connection was still up, and
 * the node's next compile, finding nothing left to send, counted the node as realizing it.
 *
 * On real Open vSwitch (the production ChassisManager and PipelineReconciler over an
 * in-memory store), with the keepalive's timing made deterministic: the main connection
 * answers a barrier just before the stop (so it is declared dead 6 s later), and the lanes
 * are closed while the load balancer's bundles are on them (what their earlier timeout did).
 * Which connections carry its flows follows a hash of its uid, so a load balancer whose
 * bundles also went on the main connection is let through and another one tried. The load
 * balancer must stay not Ready for as long as the switch is stopped, and become Ready once
 * the resumed switch has its flows. Before the fix: Ready=True about 1.2 s into the stop.
 */
import pino from 'pino';
import { getCondition, setCondition } from '../../src/reconcile/conditions';
import type { Condition, KubeObject } from '../../src/resources/object';
import type { LoadBalancer, VirtualNetwork, VirtualPort } from '../../src/resources/kinds';
import { LOAD_BALANCERS, NETWORKS, PORTS } from '../../src/store/kinds';
import { eventually } from '../support/vnetd';
import { describeOvs } from './ovsdb-helpers';
import { brIntFlows, plugNic, startPipelineBed, type PipelineBed } from './pipeline-bed';

const NS = 'qf2';
/** The production keepalive: an echo after 2 s of silence, the peer dead after 6 s. */
const ECHO_MS = 2000;
const STOPPED_MS = 8000;

describeOvs('pipeline: nothing is Ready on a hung switch until the switch has confirmed its flows', () => {
  let pb: PipelineBed | undefined;
  afterAll(async () => pb?.stop(), 60_000);

  it("a load balancer created while ovs-vswitchd is stopped, whose lanes' bundles were lost, is not Ready until the resumed switch has its flows (QA-117 F2)", async () => {
    // The connections' debug lines say where a bundle goes out ("openflow send" of its
    // bundle_control, with the lane's number or none for the main connection).
    const lines: string[] = [];
    const logger = pino({ level: 'debug' }, { write: (l: string) => void lines.push(l) });
    const bundlesSince = (from: number) =>
      lines
        .slice(from)
        .map((l) => JSON.parse(l) as { lane?: number; type?: string; msg?: string })
        .filter((o) => o.type === 'bundle_control' && o.msg === 'openflow send');
    // No flow audit or verify: one under way when the switch stops would hold the load
    // balancer's change behind its request on the main connection until that times out.
    pb = await startPipelineBed({ hypervisors: 1, pipeline: { readiness: 'local', echoIntervalMs: ECHO_MS, flowAuditMs: 0, flowVerifyMs: 0, logger } });
    const { bed, objects, pipeline } = pb;
    const hv = bed.hypervisors[0]!;
    // Addresses as IPAM would say (there is no IPAM here).
    type WithConditions = KubeObject<unknown, { conditions?: Condition[] }>;
    const allocated = (type: typeof PORTS | typeof LOAD_BALANCERS, name: string) =>
      objects.modify<WithConditions>(type, NS, name, (cur) => ({ ...cur, status: { ...cur.status, conditions: setCondition(cur.status?.conditions, { type: 'AddressesAllocated', status: 'True', reason: 'Allocated', message: 'allocated' }) } }), { subresource: 'status' });
    const ready = async (type: typeof PORTS | typeof LOAD_BALANCERS, name: string) => getCondition((await objects.get<WithConditions>(type, NS, name))?.status?.conditions, 'Ready');
    const settle = () => new Promise((r) => setTimeout(r, 1000));

    // A network on the node (a bound port), so a load balancer on it needs the node's flows.
    await objects.create<VirtualNetwork>(NETWORKS, { apiVersion: 'vnet.dev/v1alpha1', kind: 'VirtualNetwork', metadata: { name: 'net', namespace: NS }, spec: { subnets: [{ cidr: '10.79.0.0/24' }], vni: 7901 } } as VirtualNetwork);
    await objects.create<VirtualPort>(PORTS, { apiVersion: 'vnet.dev/v1alpha1', kind: 'VirtualPort', metadata: { name: 'p', namespace: NS }, spec: { network: 'net', node: hv.name, mac: '0a:79:00:00:00:01', ips: ['10.79.0.10'], interfaceId: `${bed.prefix}-p` } } as VirtualPort);
    await allocated(PORTS, 'p');
    await plugNic(hv, `${bed.prefix}p`, `${bed.prefix}-p`);
    await eventually(async () => (await ready(PORTS, 'p'))?.status === 'True', 15_000, 50);
    // Past the node's bundle pacing (at most 400 ms, more in a burst): the load balancer's bundle goes at once.
    await settle();

    const agent = pipeline.agent(hv.name)!;
    expect(agent.lanes.length).toBeGreaterThan(0);
    const pid = hv.ovs.vswitchdPid!;
    const seen: string[] = [];
    const readyWhileStopped: string[] = [];
    // Which connections carry a load balancer's flows follows its owner id, a hash of its
    // uid: the bug needs them all on lanes. A load balancer whose bundle also went on the main
    // connection is let through (the switch resumed at once) and deleted, and another tried.
    let lb: string | undefined;
    let vip = '';
    let t0 = 0;
    for (let attempt = 1; lb === undefined; attempt++) {
      if (attempt > 8) throw new Error("precondition: 8 load balancers' bundles all went partly on the main connection");
      const name = `lb${attempt}`;
      vip = `10.79.0.${100 + attempt}`;
      // The main connection has just heard from the switch: it is declared dead no sooner than 6 s after the stop.
      await agent.conn.barrier();
      t0 = performance.now();
      const stoppedAt = lines.length;
      process.kill(pid, 'SIGSTOP');
      try {
        await objects.create<LoadBalancer>(LOAD_BALANCERS, {
          apiVersion: 'vnet.dev/v1alpha1',
          kind: 'LoadBalancer',
          metadata: { name, namespace: NS },
          spec: { network: 'net', vip, mac: `02:4c:42:00:00:${(0xa0 + attempt).toString(16)}`, listeners: [{ protocol: 'TCP', port: 80, targetPort: 8080 }], backends: [{ port: 'p' }] },
        } as LoadBalancer);
        await allocated(LOAD_BALANCERS, name);
        // Its bundles out (all in one turn), unanswered; its compile waits for them (the node compiles nothing else meanwhile).
        await eventually(async () => bundlesSince(stoppedAt).length > 0, 5000, 10);
        await new Promise((r) => setTimeout(r, 100));
        // All on lanes (else it is resumed at once below, and another one tried).
        if (!bundlesSince(stoppedAt).some((b) => b.lane === undefined)) {
          lb = name;
          const compiled = () => agent.compiles.full + agent.compiles.incremental;
          const before = compiled();
          // The lanes lost under the bundles, as their keepalive did first in QA's run.
          await Promise.all(agent.lanes.map((l) => l.close()));
          // Its compile ends with them, while the main connection is still up.
          await eventually(async () => compiled() > before, 3000, 10);
          expect(agent.conn.connected).toBe(true);
          // Another compile of the node, with nothing of its own to send: a new network elsewhere.
          await objects.create<VirtualNetwork>(NETWORKS, { apiVersion: 'vnet.dev/v1alpha1', kind: 'VirtualNetwork', metadata: { name: 'other', namespace: NS }, spec: { subnets: [{ cidr: '10.80.0.0/24' }], vni: 8001 } } as VirtualNetwork);
          let last = '';
          while (performance.now() - t0 < STOPPED_MS) {
            const r = await ready(LOAD_BALANCERS, name);
            const s = `${r?.status} ${r?.reason}: ${r?.message}`;
            if (s !== last) seen.push(`${Math.round(performance.now() - t0)} ms (stopped): ${(last = s)}`);
            if (r?.status === 'True') readyWhileStopped.push(s);
            await new Promise((r) => setTimeout(r, 20));
          }
        }
      } finally {
        process.kill(pid, 'SIGCONT');
      }
      if (lb !== undefined) break;
      // Not this one: its flows go in now; then it goes, and the node settles before the next.
      await eventually(async () => (await ready(LOAD_BALANCERS, name))?.status === 'True', 20_000, 50);
      await objects.delete(LOAD_BALANCERS, NS, name);
      await eventually(async () => (await objects.get(LOAD_BALANCERS, NS, name)) === undefined && !(await brIntFlows(hv)).some((l) => l.includes(`arp_tpa=${vip}`)), 20_000, 50);
      await settle();
    }
    const resumed = performance.now();
    await eventually(async () => (await ready(LOAD_BALANCERS, lb))?.status === 'True', 20_000, 50);
    const r = await ready(LOAD_BALANCERS, lb);
    seen.push(`${Math.round(performance.now() - resumed)} ms after the resume: ${r?.status} ${r?.reason}: ${r?.message}`);
    process.stdout.write(`[hung switch] load balancer ${lb} Ready:\n  ${seen.join('\n  ')}\n`);
    expect(readyWhileStopped).toEqual([]);
    // Ready now means the resumed switch has the flows: its ARP responder for the VIP, at least.
    expect((await brIntFlows(hv)).some((l) => l.includes(`arp_tpa=${vip}`))).toBe(true);
  }, 120_000);
});
