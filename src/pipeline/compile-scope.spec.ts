import { ownerKey } from '../openflow/sync';
import { compileNode, compileScope, type ScopeIndex } from './compiler';
import { formatPipelineFlow } from './format';
import type { LoadBalancerModel, LogicalModel, NetworkModel, NodeModel, PortModel } from './model';
import { OwnerIds, lbMac, networkOwner } from './owners';

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
    allowedAddressPairs: [],
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

function indexOf(m: LogicalModel): ScopeIndex {
  return {
    portsOf: (net) => [...m.ports.values()].filter((p) => p.network === net),
    lbsOf: (net) => [...(m.loadBalancers?.values() ?? [])].filter((l) => l.network === net).sort((a, b) => a.key.localeCompare(b.key)),
  };
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
      const touched = { ports: new Set<string>(), networks: new Set<string>(), loadBalancers: new Set<string>() };
      const op = r();
      const i = Math.floor(r() * 30);
      const old = ports.get(`p${i}`);
      if (old) touched.networks.add(old.network);
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
        touched.networks.add(p.network);
      }
      if (op >= 0.15 && op < 0.25) {
        // nothing more: a load balancer change
      } else {
        touched.ports.add(`p${i}`);
        // As the reconciler does: load balancers of a touched network are re-resolved and touched.
        for (const l of lbs.values()) if (touched.networks.has(l.network)) {
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

  it('one new port in a network of 1000 compiles 2 owners on each node (its own and the network flood owner)', () => {
    const ids = new OwnerIds();
    const ports = new Map<string, PortModel>(Array.from({ length: 1000 }, (_, i) => [`p${i}`, port(i, 'blue', i % 2 ? 'hv1' : 'hv2')]));
    const np = port(5001, 'blue', 'hv1');
    ports.set(np.uid, np);
    const m = modelOf(ports, new Map());
    for (const node of ['hv1', 'hv2']) {
      const s = compileScope(m, node, ids, indexOf(m), { ports: new Set([np.uid]), networks: new Set(['blue']), loadBalancers: new Set() }, () => true);
      expect([...s.coveredOwners].sort()).toEqual([ownerKey(networkOwner(100)), ownerKey(ids.portOwner(np.uid))].sort());
      expect(s.owners.get(ownerKey(ids.portOwner(np.uid)))!.flows.length).toBe(node === 'hv1' ? 6 : 2);
    }
  });
});
