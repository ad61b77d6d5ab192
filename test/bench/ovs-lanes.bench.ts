/**
 * What installing flows costs ovs-vswitchd itself (its CPU time), on a bridge with 0 and with
 * 1,500 ports of the userspace datapath, as vnetd sends them: 12,000 flows in bundles
 * ("plans") of 70 or 200 flow_mods, one after the other; each plan split over 1, 2 or 4
 * OpenFlow connections ("lanes") to the bridge, all lanes' bundles awaited before the next.
 *
 *   npx tsx test/bench/ovs-lanes.bench.ts
 *
 * Why: in bench:converge at N=3000, ovs-vswitchd used more CPU than vnetd (two of them,
 * 10.3-12.9 s against vnetd's 6.5-8.1 s, 2 cores). ovs-vswitchd reads at most 50 OpenFlow
 * messages per connection per main-loop iteration (ofproto/connmgr.c), and each iteration
 * of the userspace datapath's main thread also polls every non-pmd port (a read() per
 * tap), so its cost grows with messages/50 x ports. More connections take more messages
 * per iteration. Ratios are to 1 lane in the same run (the host is shared and noisy).
 */
/* eslint-disable no-console */
import { processCpuMs } from './process-cpu';
import { createConnection, type OpenFlowConnection } from '../../src/openflow';
import { startTestbed } from '../harness/testbed';
import { addFlowMods, generateFlows, type GeneratedFlow } from '../integration/openflow-sync-fixtures';

const FLOWS = 12_000;

async function install(lanes: OpenFlowConnection[], flows: readonly GeneratedFlow[], plan: number): Promise<void> {
  for (let at = 0; at < flows.length; at += plan) {
    const part = flows.slice(at, at + plan);
    await Promise.all(lanes.map((c, k) => c.bundle(addFlowMods(part.filter((_, i) => i % lanes.length === k), 1), { flags: 3 })));
  }
}

async function main(): Promise<void> {
  const flows = generateFlows(FLOWS);
  for (const ports of [0, 1500]) {
    const bed = await startTestbed({ hypervisors: 1, bridges: 'testbed' });
    try {
      const hv = bed.hypervisors[0]!;
      for (let k = 0; k < ports; k += 200) {
        const args: string[] = [];
        for (let i = k; i < Math.min(ports, k + 200); i++) args.push('--', 'add-port', 'br-int', `${bed.prefix}i${i}`, '--', 'set', 'Interface', `${bed.prefix}i${i}`, 'type=internal');
        await hv.ovs.vsctl(args.slice(1));
      }
      const pid = hv.ovs.vswitchdPid!;
      for (const plan of [70, 200]) {
        const base: number[] = [];
        for (const n of [1, 2, 4]) {
          const lanes = await Promise.all(
            Array.from({ length: n }, async () => {
              const c = createConnection(`unix:${hv.ovs.bridgeMgmtSocket('br-int')}`, { reconnect: false, requestTimeoutMs: 600_000 });
              await c.ready();
              return c;
            }),
          );
          await hv.ovs.ofctl(['-O', 'OpenFlow13', 'del-flows', 'br-int']);
          await new Promise((r) => setTimeout(r, 1000));
          const c0 = processCpuMs(pid);
          const t0 = performance.now();
          await install(lanes, flows, plan);
          const cpu = processCpuMs(pid) - c0;
          const wall = performance.now() - t0;
          for (const c of lanes) await c.close();
          base.push(cpu);
          console.log(`${ports} ports, plans of ${plan}, ${n} lane(s): ovs-vswitchd CPU ${cpu.toFixed(0)} ms (${(cpu / base[0]!).toFixed(2)}x 1 lane), wall ${wall.toFixed(0)} ms`);
        }
      }
    } finally {
      await bed.stop();
    }
  }
}

void main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
