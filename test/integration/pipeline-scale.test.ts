/**
 * Incremental realization at scale, on real Open vSwitch: two networks on the same two
 * nodes, "small" (100 ports bound on hv1, 10 on hv2) and "big" (2000 on hv1, 100 on hv2,
 * so hv1 also holds remote entries), then a few more ports in each. A new port must cost
 * the same flow_mods in both networks (its 6 flows, its flood chunk's one flow, and the
 * network's 2 flood flows only when it opens a chunk), compile a handful of owners of
 * bounded size (no flood list of the network's ports: a recompiled list of 2000 ports
 * fails it) and no full compile; and the flows per port stay constant (6 for a local port
 * with port security and one IPv4 address, 2 for a remote one, plus one per flood chunk).
 *
 * VM NICs are OVS internal ports on br-int carrying external_ids:iface-id (what binding
 * needs: an Interface with an ofport), plugged 200 per ovs-vsctl call.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipelineFlows } from '../../src/pipeline/compiler';
import { routerGuardFlows } from '../../src/pipeline/router-guard';
import { tunnelGuardFlows } from '../../src/pipeline/tunnel-guard';
import { vlanGuardFlows } from '../../src/pipeline/vlan-guard';
import { startTestbed, type Hypervisor, type Testbed } from '../harness/testbed';
import { G, joinBed, overlayApi, readyNow, type Obj } from '../e2e/overlay-support';
import { eventually, startTestVnetd, type TestVnetd } from '../support/vnetd';
import { describeOvs } from './ovsdb-helpers';

const NS = 'scale';
/** Ports of each network, by node; port indexes are global so iface-ids never repeat. */
const NETS = [
  { name: 'small', cidr: '10.91.0.0/16', local: 100, remote: 10 },
  { name: 'big', cidr: '10.90.0.0/16', local: 2000, remote: 100 },
] as const;
const ADDED_PER_NET = 3;

async function flowCount(hv: Hypervisor): Promise<number> {
  const o = await hv.ovs.ofctl(['-O', 'OpenFlow13', 'dump-flows', `unix:${hv.ovs.bridgeMgmtSocket('br-int')}`]);
  return o.split('\n').filter((l) => l.includes('actions=')).length;
}

/** Interface name -> ofport on a node. */
async function ofports(hv: Hypervisor): Promise<Map<string, number>> {
  const o = await hv.ovs.vsctl(['--bare', '--columns=name,ofport', '--format=csv', '--no-headings', 'list', 'Interface']);
  return new Map(o.trim().split('\n').map((l) => l.split(',')).map(([n, p]) => [n!, Number(p)]));
}

async function plug(hv: Hypervisor, ids: Array<{ name: string; ifaceId: string }>): Promise<void> {
  for (let k = 0; k < ids.length; k += 200) {
    const args: string[] = [];
    for (const { name, ifaceId } of ids.slice(k, k + 200)) args.push('--', 'add-port', 'br-int', name, '--', 'set', 'Interface', name, 'type=internal', `external_ids:iface-id=${ifaceId}`);
    await hv.ovs.vsctl(args.slice(1));
  }
}

describeOvs('pipeline at scale: one more port in a network of 100 and of 2000', () => {
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

  it('a new port costs the same flow_mods and bounded compile work in a network of 100 and of 2000; flows per port constant', async () => {
    v = await startTestVnetd({ chassis: true, dataDir });
    bed = await startTestbed({ hypervisors: 2 });
    await joinBed(bed, api.call);
    await eventually(async () => bed!.hypervisors.every((h) => v!.pipeline.agent(h.name)?.inSync), 30_000, 50);
    const [hv1, hv2] = bed.hypervisors as [Hypervisor, Hypervisor];
    const pfx = bed.prefix;
    const ifaceId = (i: number) => `${pfx}-s${i}`;
    const ifName = (i: number) => `${pfx}s${i}`;
    /** Every port: its index, network and node. */
    const ports: Array<{ i: number; net: string; hv: Hypervisor }> = [];
    for (const n of NETS) {
      for (let k = 0; k < n.local; k++) ports.push({ i: ports.length, net: n.name, hv: hv1 });
      for (let k = 0; k < n.remote; k++) ports.push({ i: ports.length, net: n.name, hv: hv2 });
    }
    for (const hv of [hv1, hv2]) await plug(hv, ports.filter((p) => p.hv === hv).map((p) => ({ name: ifName(p.i), ifaceId: ifaceId(p.i) })));

    const t0 = performance.now();
    for (const n of NETS) await api.network(NS, n.name, { subnets: [{ cidr: n.cidr }] });
    let next = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        for (let k = next++; k < ports.length; k = next++) {
          const p = ports[k]!;
          await api.call('POST', `${G}/namespaces/${NS}/virtualports`, { metadata: { name: `s${p.i}` }, spec: { network: p.net, node: p.hv.name, interfaceId: ifaceId(p.i) } });
        }
      }),
    );
    await eventually(async () => {
      const items = ((await v!.call('GET', `${G}/namespaces/${NS}/virtualports`)).json?.items ?? []) as Obj[];
      return items.length === ports.length && items.every(readyNow);
    }, 400_000, 200);
    const buildMs = performance.now() - t0;

    // Flood chunks (64 consecutive ofports) holding a local port of a network, per node.
    const chunksOn = async (hv: Hypervisor, list: typeof ports) => {
      const of = await ofports(hv);
      const set = new Set(list.filter((p) => p.hv === hv).map((p) => `${p.net}/${Math.floor(of.get(ifName(p.i))! / 64) % 256}`));
      return set;
    };
    const expectedFlows = async (hv: Hypervisor) => {
      // Fixed pipeline flows (table misses, the ND responder's node-wide ones), the router
      // guard's, the tunnel guard's for the node's tunnel IP, the tunnel probes' two per
      // tunnel port (VXLAN and GENEVE: reflect, and to the controller) + per network its tunnel
      // classifier, two flood flows and two unknown unicast flows (5) + one flow per flood chunk.
      const local = ports.filter((p) => p.hv === hv).length;
      const fixed = pipelineFlows().length + routerGuardFlows().length + vlanGuardFlows().length + tunnelGuardFlows(hv.tunnelIP).length;
      return fixed + 4 + 5 * NETS.length + (await chunksOn(hv, ports)).size + 6 * local + 2 * (ports.length - local);
    };
    const expected = { [hv1.name]: await expectedFlows(hv1), [hv2.name]: await expectedFlows(hv2) };
    await eventually(async () => (await flowCount(hv1)) === expected[hv1.name] && (await flowCount(hv2)) === expected[hv2.name], 30_000, 100).catch(async () => {
      throw new Error(`flows hv1=${await flowCount(hv1)} hv2=${await flowCount(hv2)}, expected ${JSON.stringify(expected)}`);
    });

    /** Adds one port of `net` bound on hv1 and returns what it cost each node once it is Ready everywhere. */
    const addOne = async (net: string) => {
      const p = { i: ports.length, net, hv: hv1 };
      const chunksBefore = await chunksOn(hv1, ports);
      const before = bed!.hypervisors.map((h) => ({ flows: v!.pipeline.agent(h.name)!.manager.counters().flowModsSent, compiles: { ...v!.pipeline.agent(h.name)!.compiles } }));
      await plug(hv1, [{ name: ifName(p.i), ifaceId: ifaceId(p.i) }]);
      ports.push(p);
      const opensChunk = !chunksBefore.has([...(await chunksOn(hv1, [p]))][0]!);
      const t = performance.now();
      await api.call('POST', `${G}/namespaces/${NS}/virtualports`, { metadata: { name: `s${p.i}` }, spec: { network: net, node: hv1.name, interfaceId: ifaceId(p.i) } });
      await api.waitReady(NS, 'virtualports', `s${p.i}`, 30_000);
      const readyMs = performance.now() - t;
      return bed!.hypervisors.map((h, k) => {
        const a = v!.pipeline.agent(h.name)!;
        const b = before[k]!.compiles;
        return {
          net,
          node: h.name,
          opensChunk,
          flowMods: a.manager.counters().flowModsSent - before[k]!.flows,
          fullCompiles: a.compiles.full - b.full,
          ownersCompiled: a.compiles.ownersCompiled - b.ownersCompiled,
          actionsCompiled: a.compiles.actionsCompiled - b.actionsCompiled,
          compileMs: a.compiles.compileMs - b.compileMs,
          readyMs,
        };
      });
    };
    const costs: Array<Awaited<ReturnType<typeof addOne>>> = [];
    for (let r = 0; r < ADDED_PER_NET; r++) for (const n of NETS) costs.push(await addOne(n.name));
    const fmt = (c: Awaited<ReturnType<typeof addOne>>[number]) =>
      `${c.node} ${c.flowMods} flow_mods${c.opensChunk && c.node === hv1.name ? ' (new chunk)' : ''}, ${c.ownersCompiled} owners, ${c.actionsCompiled} actions compiled in ${c.compileMs.toFixed(1)} ms`;
    process.stdout.write(
      `[pipeline-scale] ${ports.length - ADDED_PER_NET * NETS.length} ports in ${NETS.map((n) => `${n.name} (${n.local} + ${n.remote})`).join(' and ')} Ready in ${buildMs.toFixed(0)} ms; flows hv1/hv2 ${expected[hv1.name]}/${expected[hv2.name]}\n` +
        costs.map((cost) => `[pipeline-scale] one more port in ${cost[0]!.net}: ${cost.map(fmt).join('; ')} (Ready ${cost[0]!.readyMs.toFixed(0)} ms)\n`).join(''),
    );
    for (const cost of costs) {
      for (const c of cost) {
        expect(c.fullCompiles).toBe(0);
        // hv1: the port's 6 flows + its chunk's flow (+ the network's 2 flood flows when it opens the chunk); hv2: 2 remote entries.
        expect(c.flowMods).toBe(c.node === hv1.name ? 7 + (c.opensChunk ? 2 : 0) : 2);
        // Per reconcile: the port's owner and its chunk's (and its network's); a port event or two (create, bind).
        expect(c.ownersCompiled).toBeLessThanOrEqual(9);
        // Bounded work: a few port owners and chunk flows (64 outputs at most), never a list of the network's ports.
        expect(c.actionsCompiled).toBeLessThan(400);
      }
    }
    // The same work in a network of 2000 as in one of 100 (compile time printed above; compared loosely, the machine is shared).
    const mean = (net: string) => {
      const xs = costs.filter((c) => c[0]!.net === net).map((c) => c[0]!.compileMs);
      return xs.reduce((a, b) => a + b, 0) / xs.length;
    };
    process.stdout.write(`[pipeline-scale] mean compile per added port on hv1: small ${mean('small').toFixed(2)} ms, big ${mean('big').toFixed(2)} ms\n`);
    // And flows per port stayed constant: 6 more on hv1 and 2 more on hv2 per port (+1 per chunk opened on hv1).
    const opened = costs.filter((c) => c[0]!.opensChunk).length;
    const added = costs.length;
    expect({ [hv1.name]: await flowCount(hv1), [hv2.name]: await flowCount(hv2) }).toEqual({ [hv1.name]: expected[hv1.name]! + 6 * added + opened, [hv2.name]: expected[hv2.name]! + 2 * added });

    // A tenant's new network, and its deletion, beside these ports: no flows until a port of
    // it is bound, so no model rebuild and no full compile of either node (each network
    // created cost both, O(every port), before 2026-12-02), and not one flow_mod.
    const snap = () => bed!.hypervisors.map((h) => ({ full: v!.pipeline.agent(h.name)!.compiles.full, mods: v!.pipeline.agent(h.name)!.manager.counters().flowModsSent }));
    const s0 = snap();
    const tn = performance.now();
    await api.network(NS, 'extra', { subnets: [{ cidr: '10.99.0.0/24' }] });
    await api.waitReady(NS, 'virtualnetworks', 'extra', 30_000);
    const netReadyMs = performance.now() - tn;
    await api.call('DELETE', `${G}/namespaces/${NS}/virtualnetworks/extra`);
    await eventually(async () => (await v!.call('GET', `${G}/namespaces/${NS}/virtualnetworks/extra`)).status === 404, 30_000, 20);
    const goneMs = performance.now() - tn - netReadyMs;
    await new Promise((r) => setTimeout(r, 300)); // a node reconcile the events queued, if any
    const s1 = snap();
    process.stdout.write(`[pipeline-scale] a new network beside them: Ready in ${netReadyMs.toFixed(0)} ms, deleted in ${goneMs.toFixed(0)} ms; full compiles ${s1.map((x, k) => x.full - s0[k]!.full).join('/')}, flow_mods ${s1.map((x, k) => x.mods - s0[k]!.mods).join('/')}\n`);
    expect(s1.map((x, k) => x.full - s0[k]!.full)).toEqual([0, 0]);
    expect(s1.map((x, k) => x.mods - s0[k]!.mods)).toEqual([0, 0]);
  }, 900_000);
});
