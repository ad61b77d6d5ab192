import { ownerKey } from '../openflow/sync';
import { compileNode, compileScope, floodChunkKey, floodChunkOf, floodViewOf, type ScopeIndex } from './compiler';
import { formatPipelineFlow } from './format';
import type { LoadBalancerModel, LogicalModel, NetworkModel, NodeModel, PortModel } from './model';
import { OwnerIds, floodChunkOwner, lbMac, networkOwner } from './owners';
import { countPairMacs, pairMacHoldersOf, pairMacKey, pairMacShared, pairMacsOf, sharedPairMacsOf, type PairMacHolders } from './pair-macs';
import { TABLES } from './tables';

const nodes: NodeModel[] = [
  { name: 'hv1', tunnelIP: '198.18.0.1', tunnelPorts: { vxlan: 1, geneve: 2 } },
  { name: 'hv2', tunnelIP: '198.18.0.2', tunnelPorts: { vxlan: 1, geneve: 2 } },
  { name: 'hv3', tunnelIP: '198.18.0.3', tunnelPorts: { vxlan: 1 } },
];
const nets: NetworkModel[] = [
  { uid: 'blue', key: 't/blue', version: '1', vni: 100, encapsulation: 'vxlan' },
  { uid: 'red', key: 't/red', version: '1', vni: 200, encapsulation: 'geneve' },
];

function port(i: number, network: string, node: string | undefined, version = 1): PortModel {
  const h = (i & 0xff).toString(16).padStart(2, '0');
  // Unbound ports are declared on some node (spec.node) or on none, by turns (i + version).
  const declared = node ?? [undefined, 'hv1', 'hv2', 'hv3'][(i + version) % 4];
  return {
    uid: `p${i}`,
    key: `t/p${String(i).padStart(4, '0')}`,
    version: String(version),
    network,
    mac: `02:00:00:00:01:${h}`,
    ips: [`10.0.1.${i & 0xff}`],
    portSecurity: i % 5 !== 0,
    // By turns: no pairs; a pool MAC (held alone or shared); its own MAC; another port's own MAC (p0-p3's).
    allowedAddressPairs: [
      [],
      [{ ip: `10.0.2.${i & 0xff}`, mac: `02:aa:00:00:00:0${(i + version) % 3}` }],
      [{ ip: `10.0.3.${i & 0xff}`, mac: `02:00:00:00:01:${h}` }],
      [{ ip: `10.0.4.${i & 0xff}`, mac: `02:00:00:00:01:0${(i + version) % 4}` }],
    ][(i * 7 + version) % 4]!,
    binding: node ? { node, ofport: 100 + i } : undefined,
    expectedNode: declared,
  };
}

function lb(uid: string, network: string, backends: PortModel[]): LoadBalancerModel {
  return { uid, key: `t/${uid}`, version: '1', network, vip: '10.0.9.1', mac: lbMac(uid), listeners: [{ protocol: 'TCP', port: 80, targetPort: 8080 }], backends: backends.map((p) => ({ name: p.key, ip: p.ips[0]!, mac: p.mac, weight: 1, healthy: true, node: p.binding?.node, ofport: p.binding?.ofport })) };
}

function modelOf(ports: Map<string, PortModel>, lbs: Map<string, LoadBalancerModel>): LogicalModel {
  return { networks: new Map(nets.map((n) => [n.uid, n])), ports, nodes: new Map(nodes.map((n) => [n.name, n])), loadBalancers: lbs };
}

/** What a network's own flood flows depend on: its chunks per node and its bound nodes. */
function floodStructure(ports: Map<string, PortModel>, net: string): string {
  const inNet = [...ports.values()].filter((p) => p.network === net);
  // Where its unknown unicast goes too (the nodes holding a port without port security).
  const chunksOf = (c: Map<number, unknown>) => [...c.keys()].sort((a, b) => a - b);
  return JSON.stringify([...nodes.map((n) => [chunksOf(floodViewOf(inNet, n.name).chunks), chunksOf(floodViewOf(inNet, n.name).unknownChunks)]), [...floodViewOf(inNet, '').unknownNodes].sort()]);
}

function indexOf(m: LogicalModel): ScopeIndex {
  return {
    portsOf: (net) => [...m.ports.values()].filter((p) => p.network === net),
    lbsOf: (net) => [...(m.loadBalancers?.values() ?? [])].filter((l) => l.network === net).sort((a, b) => a.key.localeCompare(b.key)),
    floodChunksOf: (net, node) => floodViewOf([...m.ports.values()].filter((p) => p.network === net), node).chunks,
    unknownChunksOf: (net, node) => floodViewOf([...m.ports.values()].filter((p) => p.network === net), node).unknownChunks,
    boundNodesOf: (net) => floodViewOf([...m.ports.values()].filter((p) => p.network === net), '').boundNodes,
    unknownNodesOf: (net) => floodViewOf([...m.ports.values()].filter((p) => p.network === net), '').unknownNodes,
    pairMacShared: (net, mac) => pairMacShared(holdersIn(m), net, mac) || ownMac(m, net, mac),
    isOwnMac: (net, mac) => ownMac(m, net, mac),
    pairMacHolders: (net, mac) => pairMacHoldersOf(holdersIn(m), net, mac),
    sharedPairMacs: (net) => sharedPairMacsOf(holdersIn(m), net),
  };
}

const ownMac = (m: LogicalModel, net: string, mac: string): boolean => [...m.ports.values()].some((p) => p.network === net && p.mac.toLowerCase() === mac);

function holdersIn(m: LogicalModel): PairMacHolders {
  const holders: PairMacHolders = new Map();
  for (const p of m.ports.values()) if (m.networks.has(p.network)) countPairMacs(holders, p, 1);
  return holders;
}

type Table = Map<number, string>;
const sig = (flows: { flows: Parameters<typeof formatPipelineFlow>[0][] }) => flows.flows.map(formatPipelineFlow).join('\n');

function fullTable(m: LogicalModel, node: string, ids: OwnerIds): { table: Table; realizes: Map<string, string> } {
  const c = compileNode(m, node, ids);
  return { table: new Map([...c.owners].map(([k, o]) => [k, sig(o)])), realizes: c.realizes };
}

/** A tiny deterministic PRNG: the same sequence every run. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

describe('compileScope', () => {
  it('patching a node with the owners a change touches gives what a full compile gives (random changes)', () => {
    const r = rng(7);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
    const ids = new OwnerIds();
    const ports = new Map<string, PortModel>();
    const lbs = new Map<string, LoadBalancerModel>();
    for (let i = 0; i < 20; i++) ports.set(`p${i}`, port(i, pick(['blue', 'red']), pick(['hv1', 'hv2', 'hv3', undefined])));
    const state = new Map(nodes.map((n) => [n.name, fullTable(modelOf(ports, lbs), n.name, ids)]));
    let scopedOwners = 0;
    for (let step = 0; step < 200; step++) {
      const touched = { ports: new Set<string>(), networks: new Set<string>(), loadBalancers: new Set<string>(), floodChunks: new Set<string>(), pairMacs: new Set<string>() };
      const op = r();
      const i = Math.floor(r() * 30);
      const old = ports.get(`p${i}`);
      const chunkOf = (p: PortModel | undefined) => (p?.binding ? [floodChunkKey(p.network, floodChunkOf(p.binding.ofport))] : []);
      for (const k of chunkOf(old)) touched.floodChunks.add(k);
      // A port change touches its network's own owner only when the network's flood
      // structure moves (a chunk or a bound node appears or goes), as LiveModel decides.
      const structureBefore = new Map(['blue', 'red'].map((n) => [n, floodStructure(ports, n)]));
      // As LiveModel does: the pair MACs the changed port had or has; the other holders of one
      // that went from one holder to several or back; the holders of a pair naming its own MAC.
      const holdersBefore = holdersIn(modelOf(ports, lbs));
      const sharers = (was: PortModel | undefined, now: PortModel | undefined) => {
        const after = holdersIn(modelOf(ports, lbs));
        const count = (h: PairMacHolders, net: string, mac: string) => h.get(net)?.get(mac)?.size ?? 0;
        for (const q of [was, now]) {
          if (!q) continue;
          for (const mac of pairMacsOf(q)) {
            touched.pairMacs.add(pairMacKey(q.network, mac));
            if (count(holdersBefore, q.network, mac) >= 2 !== count(after, q.network, mac) >= 2) {
              for (const uid of [...pairMacHoldersOf(holdersBefore, q.network, mac), ...pairMacHoldersOf(after, q.network, mac)]) touched.ports.add(uid);
            }
          }
          const own = q.mac.toLowerCase();
          for (const uid of pairMacHoldersOf(after, q.network, own)) touched.ports.add(uid);
          if (pairMacHoldersOf(after, q.network, own).size) touched.pairMacs.add(pairMacKey(q.network, own));
        }
      };
      if (op < 0.15) {
        ports.delete(`p${i}`);
      } else if (op < 0.25) {
        const u = pick(['lb1', 'lb2']);
        const net = lbs.get(u)?.network ?? pick(['blue', 'red']);
        if (lbs.has(u) && r() < 0.4) lbs.delete(u);
        else lbs.set(u, lb(u, net, [...ports.values()].filter((p) => p.network === net).slice(0, 3)));
        touched.loadBalancers.add(u);
        touched.networks.add(net);
      } else {
        const p = port(i, old && r() < 0.8 ? old.network : pick(['blue', 'red']), pick(['hv1', 'hv2', 'hv3', undefined]), step);
        ports.set(p.uid, p);
        for (const k of chunkOf(p)) touched.floodChunks.add(k);
      }
      if (op >= 0.15 && op < 0.25) {
        // nothing more: a load balancer change
      } else {
        touched.ports.add(`p${i}`);
        sharers(old, ports.get(`p${i}`));
        for (const [n, before] of structureBefore) if (before !== floodStructure(ports, n)) touched.networks.add(n);
        const portNets = new Set([old?.network, ports.get(`p${i}`)?.network]);
        // As the reconciler does: load balancers of the port's networks are re-resolved and touched.
        for (const l of lbs.values()) if (portNets.has(l.network)) {
          lbs.set(l.uid, lb(l.uid, l.network, [...ports.values()].filter((p) => p.network === l.network).slice(0, 3)));
          touched.loadBalancers.add(l.uid);
        }
      }
      const m = modelOf(ports, lbs);
      for (const n of nodes) {
        const cur = state.get(n.name)!;
        const s = compileScope(m, n.name, ids, indexOf(m), touched, (net) => cur.table.has(ownerKey(networkOwner(net.vni))));
        scopedOwners += s.coveredOwners.size;
        for (const k of s.coveredOwners) {
          const o = s.owners.get(k);
          if (o) cur.table.set(k, sig(o));
          else cur.table.delete(k);
        }
        for (const uid of s.coveredUids) {
          const v = s.realizes.get(uid);
          if (v === undefined) cur.realizes.delete(uid);
          else cur.realizes.set(uid, v);
        }
        const want = fullTable(m, n.name, ids);
        expect(cur.table).toEqual(want.table);
        expect(cur.realizes).toEqual(want.realizes);
      }
    }
    // And it was incremental: far fewer owners than full compiles would have covered.
    expect(scopedOwners / (200 * nodes.length)).toBeLessThan(10);
  });

  it('one new port in a network of 100 or 2000 compiles 2 owners on each node (its own and its flood chunk), of the same size', () => {
    const outputs = (f: { instructions: ReadonlyArray<{ type: string; actions?: ReadonlyArray<{ type: string }> }> }) => f.instructions.flatMap((i) => i.actions ?? []).length;
    const cost = (n: number) => {
      const ids = new OwnerIds();
      // All with port security: the chunks' flows are the same whatever the ports' numbers.
      const ports = new Map<string, PortModel>(Array.from({ length: n }, (_, i) => [`p${i}`, { ...port(i, 'blue', i % 2 ? 'hv1' : 'hv2'), portSecurity: true }]));
      // Bound to the ofport after the last one, in a chunk hv1 already has: the network's own flows do not move.
      const np = { ...port(n + 1, 'blue', 'hv1'), binding: { node: 'hv1', ofport: 100 + n + 1 }, allowedAddressPairs: [] };
      ports.set(np.uid, np);
      const m = modelOf(ports, new Map());
      const chunk = floodChunkOf(np.binding.ofport);
      expect(floodViewOf([...ports.values()], 'hv1').chunks.get(chunk)!.size).toBeGreaterThan(1);
      return ['hv1', 'hv2'].map((node) => {
        const s = compileScope(m, node, ids, indexOf(m), { ports: new Set([np.uid]), networks: new Set(), loadBalancers: new Set(), floodChunks: new Set([floodChunkKey('blue', chunk)]) }, () => true);
        expect([...s.coveredOwners].sort()).toEqual([ownerKey(floodChunkOwner(100, chunk)), ownerKey(ids.portOwner(np.uid))].sort());
        expect(s.owners.get(ownerKey(ids.portOwner(np.uid)))!.flows.length).toBe(node === 'hv1' ? 6 : 2);
        const chunkFlows = s.owners.get(ownerKey(floodChunkOwner(100, chunk)))?.flows ?? [];
        // The chunk's one flow on each node (ports alternate between them), outputs to at most its 64 ofports.
        expect(chunkFlows).toHaveLength(1);
        expect(outputs(chunkFlows[0]!)).toBeLessThanOrEqual(64);
        return { node, flows: [...s.owners.values()].reduce((a, o) => a + o.flows.length, 0), actions: [...s.owners.values()].flatMap((o) => o.flows).reduce((a, f) => a + outputs(f), 0) };
      });
    };
    const small = cost(100);
    const big = cost(2000);
    // The same owners and flows; their size is bounded by a chunk (64 outputs), not by the network.
    expect(big.map((c) => c.flows)).toEqual(small.map((c) => c.flows));
    for (const c of [...small, ...big]) expect(c.actions).toBeLessThanOrEqual(64 + 30);
  });

  it('a network in scope that stays present recompiles its own flows, not its load balancers (QA-124 F2)', () => {
    const ids = new OwnerIds();
    const ports = new Map<string, PortModel>(Array.from({ length: 10 }, (_, i) => [`p${i}`, port(i, 'blue', 'hv1')]));
    const lbs = new Map(Array.from({ length: 50 }, (_, i) => [`lb${i}`, lb(`lb${i}`, 'blue', [ports.get('p1')!])] as const));
    // A port opening a new flood chunk on hv1: the network's flood flows change, its load balancers do not.
    const np = { ...port(11, 'blue', 'hv1'), binding: { node: 'hv1', ofport: 500 } };
    ports.set(np.uid, np);
    const m = modelOf(ports, lbs);
    const s = compileScope(m, 'hv1', ids, indexOf(m), { ports: new Set([np.uid]), networks: new Set(['blue']), loadBalancers: new Set(), floodChunks: new Set([floodChunkKey('blue', floodChunkOf(500))]) }, () => true);
    expect(s.coveredOwners.has(ownerKey(networkOwner(100)))).toBe(true);
    expect([...lbs.keys()].filter((u) => s.coveredOwners.has(ownerKey(ids.lbOwner(u))))).toEqual([]);
    // Where the network appears (hv2 had nothing of it), its load balancers come with it.
    const first = { ...port(12, 'blue', 'hv2'), binding: { node: 'hv2', ofport: 600 } };
    ports.set(first.uid, first);
    const m2 = modelOf(ports, lbs);
    const s2 = compileScope(m2, 'hv2', ids, indexOf(m2), { ports: new Set([first.uid]), networks: new Set(['blue']), loadBalancers: new Set(), floodChunks: new Set([floodChunkKey('blue', floodChunkOf(600))]) }, () => false);
    expect([...lbs.keys()].filter((u) => s2.coveredOwners.has(ownerKey(ids.lbOwner(u))))).toHaveLength(50);
  });

  it('the flood reaches every local port once, through bounded chunks, and the network flood flows list chunks, not ports', () => {
    const ports = new Map<string, PortModel>(Array.from({ length: 1000 }, (_, i) => [`p${i}`, port(i, 'blue', 'hv1')]));
    const c = compileNode(modelOf(ports, new Map()), 'hv1', new OwnerIds());
    const allChunkFlows = [...c.owners.values()].filter((o) => o.owner.category === floodChunkOwner(100, 0).category).flatMap((o) => o.flows);
    const outsOf = (flows: typeof allChunkFlows) => flows.flatMap((f) => f.instructions.flatMap((i) => ('actions' in i ? i.actions : []))).filter((a) => a.type === 'output').map((a) => (a as { port: number }).port);
    const chunkFlows = allChunkFlows.filter((f) => f.priority === 100);
    const outs = outsOf(chunkFlows);
    expect(outs.sort((a, b) => a - b)).toEqual(Array.from({ length: 1000 }, (_, i) => 100 + i));
    // Unknown unicast: each port without port security (every fifth) once, and no other.
    expect(outsOf(allChunkFlows.filter((f) => f.priority !== 100)).sort((a, b) => a - b)).toEqual(Array.from({ length: 200 }, (_, i) => 100 + i * 5));
    for (const f of chunkFlows) expect(f.instructions.flatMap((i) => ('actions' in i ? i.actions : [])).length).toBeLessThanOrEqual(64);
    const net = c.owners.get(ownerKey(networkOwner(100)))!.flows.filter((f) => f.tableId === TABLES.Flood.id);
    expect(net).toHaveLength(2);
    // 100..1099 spans chunks 1..17: a load and a resubmit each.
    for (const f of net) expect(f.instructions.flatMap((i) => ('actions' in i ? i.actions : [])).filter((a) => a.type === 'resubmit')).toHaveLength(17);
  });
});
