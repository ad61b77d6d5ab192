/**
 * Incremental realization at scale, on real Open vSwitch: a network with 1000 ports bound
 * on hv1 (and 100 on hv2, so hv1 also holds remote entries), then one more port, then
 * another. Each new port must cost a handful of flow_mods and compile a handful of flow
 * owners on each node, the same for the second as for the first, whatever the network's
 * size; and the flows per port stay constant (6 for a local port with port security and
 * one IPv4 address, 2 for a remote one). A change that recompiled or re-sent the whole
 * node (thousands of owners or flows) fails it.
 *
 * VM NICs are OVS internal ports on br-int carrying external_ids:iface-id (what binding
 * needs: an Interface with an ofport), plugged 200 per ovs-vsctl call.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipelineFlows } from '../../src/pipeline/compiler';
import { startTestbed, type Hypervisor, type Testbed } from '../harness/testbed';
import { G, joinBed, overlayApi, readyNow, type Obj } from '../e2e/overlay-support';
import { eventually, startTestVnetd, type TestVnetd } from '../support/vnetd';
import { describeOvs } from './ovsdb-helpers';

const LOCAL = 1000;
const REMOTE = 100;
const NS = 'scale';

async function flowCount(hv: Hypervisor): Promise<number> {
  const o = await hv.ovs.ofctl(['-O', 'OpenFlow13', 'dump-flows', `unix:${hv.ovs.bridgeMgmtSocket('br-int')}`]);
  return o.split('\n').filter((l) => l.includes('actions=')).length;
}

async function plug(hv: Hypervisor, ids: Array<{ name: string; ifaceId: string }>): Promise<void> {
  for (let k = 0; k < ids.length; k += 200) {
    const args: string[] = [];
    for (const { name, ifaceId } of ids.slice(k, k + 200)) args.push('--', 'add-port', 'br-int', name, '--', 'set', 'Interface', name, 'type=internal', `external_ids:iface-id=${ifaceId}`);
    await hv.ovs.vsctl(args.slice(1));
  }
}

describeOvs('pipeline at scale: one more port in a network of 1000', () => {
  let v: TestVnetd | undefined;
  let bed: Testbed | undefined;
  // The store in memory when possible: this is about compile and flow_mods, not about
  // fsync (thousands of durable status writes take minutes on a busy disk).
  const dataDir = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'vnetd-scale-'));
  const api = overlayApi(() => v!);

  afterAll(async () => {
    await v?.stop();
    await bed?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }, 120_000);

  it('sends a handful of flow_mods and compiles a handful of owners per new port, the same for each; flows per port constant', async () => {
    v = await startTestVnetd({ chassis: true, dataDir });
    bed = await startTestbed({ hypervisors: 2 });
    await joinBed(bed, api.call);
    await eventually(async () => bed!.hypervisors.every((h) => v!.pipeline.agent(h.name)?.inSync), 30_000, 50);
    const [hv1, hv2] = bed.hypervisors as [Hypervisor, Hypervisor];
    const pfx = bed.prefix;
    const ifaceId = (i: number) => `${pfx}-s${i}`;
    const nodeOf = (i: number) => (i < LOCAL ? hv1 : hv2);
    await plug(hv1, Array.from({ length: LOCAL }, (_, i) => ({ name: `${pfx}s${i}`, ifaceId: ifaceId(i) })));
    await plug(hv2, Array.from({ length: REMOTE }, (_, j) => ({ name: `${pfx}s${LOCAL + j}`, ifaceId: ifaceId(LOCAL + j) })));

    const t0 = performance.now();
    await api.network(NS, 'big', { subnets: [{ cidr: '10.90.0.0/16' }] });
    let next = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        for (let i = next++; i < LOCAL + REMOTE; i = next++) {
          await api.call('POST', `${G}/namespaces/${NS}/virtualports`, { metadata: { name: `s${i}` }, spec: { network: 'big', node: nodeOf(i).name, interfaceId: ifaceId(i) } });
        }
      }),
    );
    await eventually(async () => {
      const items = ((await v!.call('GET', `${G}/namespaces/${NS}/virtualports`)).json?.items ?? []) as Obj[];
      return items.length === LOCAL + REMOTE && items.every(readyNow);
    }, 240_000, 100);
    const buildMs = performance.now() - t0;
    // Fixed pipeline flows (table misses, the ND responder's node-wide ones) + the network's
    // tunnel classifier and two flood flows (3).
    const fixed = pipelineFlows().length + 3;
    const expected = { [hv1.name]: fixed + 6 * LOCAL + 2 * REMOTE, [hv2.name]: fixed + 6 * REMOTE + 2 * LOCAL };
    await eventually(async () => (await flowCount(hv1)) === expected[hv1.name] && (await flowCount(hv2)) === expected[hv2.name], 30_000, 100).catch(async () => {
      throw new Error(`flows hv1=${await flowCount(hv1)} hv2=${await flowCount(hv2)}, expected ${JSON.stringify(expected)}`);
    });

    /** Adds one port bound on hv1 and returns what it cost each node once it is Ready everywhere. */
    const addOne = async (i: number) => {
      const before = bed!.hypervisors.map((h) => ({ flows: v!.pipeline.agent(h.name)!.manager.counters().flowModsSent, compiles: { ...v!.pipeline.agent(h.name)!.compiles } }));
      await plug(hv1, [{ name: `${pfx}s${i}`, ifaceId: ifaceId(i) }]);
      const t = performance.now();
      await api.call('POST', `${G}/namespaces/${NS}/virtualports`, { metadata: { name: `s${i}` }, spec: { network: 'big', node: hv1.name, interfaceId: ifaceId(i) } });
      await api.waitReady(NS, 'virtualports', `s${i}`, 30_000);
      const readyMs = performance.now() - t;
      return bed!.hypervisors.map((h, k) => {
        const a = v!.pipeline.agent(h.name)!;
        return {
          node: h.name,
          flowMods: a.manager.counters().flowModsSent - before[k]!.flows,
          fullCompiles: a.compiles.full - before[k]!.compiles.full,
          ownersCompiled: a.compiles.ownersCompiled - before[k]!.compiles.ownersCompiled,
          readyMs,
        };
      });
    };
    const first = await addOne(LOCAL + REMOTE);
    const second = await addOne(LOCAL + REMOTE + 1);
    const flowsAfter = { [hv1.name]: await flowCount(hv1), [hv2.name]: await flowCount(hv2) };
    process.stdout.write(
      `[pipeline-scale] ${LOCAL} + ${REMOTE} ports Ready in ${buildMs.toFixed(0)} ms; flows hv1/hv2 ${expected[hv1.name]}/${expected[hv2.name]}; ` +
        `one more port: ${first.map((c) => `${c.node} ${c.flowMods} flow_mods, ${c.ownersCompiled} owners compiled, ${c.fullCompiles} full`).join('; ')} (Ready ${first[0]!.readyMs.toFixed(0)} ms); ` +
        `another: ${second.map((c) => `${c.node} ${c.flowMods} flow_mods, ${c.ownersCompiled} owners compiled`).join('; ')}\n`,
    );
    for (const cost of [first, second]) {
      for (const c of cost) {
        expect(c.fullCompiles).toBe(0);
        // hv1: 6 flows of the local port + its network's 2 flood flows rewritten; hv2: 2 remote entries.
        expect(c.flowMods).toBeLessThanOrEqual(c.node === hv1.name ? 10 : 4);
        expect(c.flowMods).toBeGreaterThan(0);
        // Per reconcile: the port's owner and its network's; a port event or two (create, bind).
        expect(c.ownersCompiled).toBeLessThanOrEqual(8);
      }
    }
    // Constant: the second port cost what the first did.
    expect(second.map((c) => c.flowMods)).toEqual(first.map((c) => c.flowMods));
    // And flows per port stayed constant: 6 more on hv1, 2 more on hv2 per port.
    expect(flowsAfter).toEqual({ [hv1.name]: expected[hv1.name]! + 12, [hv2.name]: expected[hv2.name]! + 4 });
  }, 600_000);
});
