import { OwnerIds, compileNode, compileScope, floodChunkKey, formatPipelineFlow, networkOwner } from '../../pipeline';
import { ownerKey } from '../../openflow/sync';
import type { HypervisorNode, LoadBalancer, VirtualNetwork, VirtualPort } from '../../resources/kinds';
import { LiveModel, nicMacMismatched } from './pipeline-model';
import { resolveBackends } from './lb-backends';

const network: VirtualNetwork = { apiVersion: 'vnet.dev/v1alpha1', kind: 'VirtualNetwork', metadata: { name: 'net', namespace: 't', uid: 'net-uid', generation: 1 }, spec: { subnets: [{ cidr: '10.0.0.0/24' }], vni: 100 } } as VirtualNetwork;
const nodes = ['hv1', 'hv2'].map((name) => ({ apiVersion: 'vnet.dev/v1alpha1', kind: 'Node', metadata: { name, uid: name }, spec: { tunnelIP: name === 'hv1' ? '198.18.0.1' : '198.18.0.2' } }) as HypervisorNode);

function port(i: number, bound?: { node: string; ofport: number }): VirtualPort {
  return {
    apiVersion: 'vnet.dev/v1alpha1',
    kind: 'VirtualPort',
    metadata: { name: `p${i}`, namespace: 't', uid: `p${i}-uid`, generation: 1 },
    spec: { network: 'net', mac: `02:00:00:00:00:${i.toString(16).padStart(2, '0')}`, ips: [`10.0.0.${i}`] },
    status: bound ? { node: bound.node, ofport: bound.ofport, conditions: [{ type: 'Bound', status: 'True', reason: 'InterfaceFound', message: '', lastTransitionTime: '' }] } : {},
  } as VirtualPort;
}

const key = (i: number) => `/registry/vnet.dev/virtualports/t/p${i}`;

describe('a NIC plugged with another MAC than its port\'s (QA-151 F3)', () => {
  const open = (i: number, reason: string, bound = { node: 'hv1', ofport: 10 }): VirtualPort => {
    const p = port(i, bound);
    return { ...p, spec: { ...p.spec!, portSecurity: false }, status: { ...p.status, conditions: [{ type: 'Bound', status: 'True', reason, message: '', lastTransitionTime: '' }] } } as VirtualPort;
  };

  it('gets port security whatever spec.portSecurity says, from its Bound condition or the hypervisor\'s attached-mac, and the change is a new version of the port', () => {
    const m = new LiveModel(() => [], () => ({ vxlan: 1 }));
    m.rebuild([network], [open(1, 'InterfaceFound'), open(2, 'MacMismatch')], nodes, []);
    const ps = (uid: string) => m.model.ports.get(uid)?.portSecurity;
    // Before: a tenant who claimed another tenant's VM's interface id got its traffic with port security off.
    expect([ps('p1-uid'), ps('p2-uid')]).toEqual([false, true]);
    const before = m.model.ports.get('p1-uid')!.version;
    m.portChanged(key(1), open(1, 'MacMismatch'));
    expect(ps('p1-uid')).toBe(true);
    expect(m.model.ports.get('p1-uid')!.version).not.toBe(before);
    expect(nicMacMismatched(open(3, 'InterfaceFound'), { node: 'hv1', ofport: 10, nicMac: '02:AA:00:00:00:01' })).toBe(true);
    expect(nicMacMismatched(open(3, 'MacMismatch'), { node: 'hv1', ofport: 10, nicMac: '02:00:00:00:00:03' })).toBe(false);
    expect(nicMacMismatched(open(3, 'MacMismatch'), undefined)).toBe(true);
  });
});

describe('LiveModel flood bookkeeping', () => {
  const model = () => {
    const m = new LiveModel(() => [], () => ({ vxlan: 1 }));
    // hv1 holds ofports 10 and 11 (flood chunk 0); hv2 ofport 70 (chunk 1).
    m.rebuild([network], [port(1, { node: 'hv1', ofport: 10 }), port(2, { node: 'hv1', ofport: 11 }), port(3, { node: 'hv2', ofport: 70 })], nodes, []);
    return m;
  };

  it('keeps local ofports by node and chunk, and the nodes holding the network', () => {
    const m = model();
    expect([...m.floodChunksOf('net-uid', 'hv1')!].map(([c, o]) => [c, [...o.keys()]])).toEqual([[0, [10, 11]]]);
    expect([...m.floodChunksOf('net-uid', 'hv2')!.keys()]).toEqual([1]);
    expect([...m.boundNodesOf('net-uid')].sort()).toEqual(['hv1', 'hv2']);
  });

  it('a port joining a chunk that has ports touches its chunk, not its network', () => {
    const t = model().portChanged(key(4), port(4, { node: 'hv1', ofport: 12 }));
    expect(t.floodChunks).toEqual(new Set([floodChunkKey('net-uid', 0)]));
    expect(t.networks.size).toBe(0);
    expect(t.ports).toEqual(new Set(['p4-uid']));
  });

  it('a port opening a chunk, leaving the last one, or the network gaining a node touches the network too', () => {
    const m = model();
    const opens = m.portChanged(key(4), port(4, { node: 'hv1', ofport: 200 }));
    expect(opens.networks).toEqual(new Set(['net-uid']));
    expect(opens.floodChunks).toEqual(new Set([floodChunkKey('net-uid', 3)]));
    // Unbound again: chunk 3 on hv1 is empty.
    expect(m.portChanged(key(4), port(4)).networks).toEqual(new Set(['net-uid']));
    // The only port on hv2 moves to hv1's chunk 0: hv2 no longer holds the network.
    const moved = m.portChanged(key(3), port(3, { node: 'hv1', ofport: 12 }));
    expect(moved.networks).toEqual(new Set(['net-uid']));
    expect(moved.floodChunks).toEqual(new Set([floodChunkKey('net-uid', 1), floodChunkKey('net-uid', 0)]));
    expect([...m.boundNodesOf('net-uid')]).toEqual(['hv1']);
    expect(m.floodChunksOf('net-uid', 'hv2')).toBeUndefined();
  });

  it('a node gaining its first port without port security, or losing its last, touches the network (where its unknown unicast goes); a second one does not', () => {
    const m = model();
    const open = (p: VirtualPort): VirtualPort => ({ ...p, spec: { ...p.spec!, portSecurity: false } });
    expect([...m.unknownNodesOf('net-uid')]).toEqual([]);
    // p2 stays in its chunk on hv1: only port security changes.
    expect(m.portChanged(key(2), open(port(2, { node: 'hv1', ofport: 11 }))).networks).toEqual(new Set(['net-uid']));
    expect([...m.unknownNodesOf('net-uid')]).toEqual(['hv1']);
    expect(m.portChanged(key(4), open(port(4, { node: 'hv1', ofport: 12 }))).networks.size).toBe(0);
    expect(m.portChanged(key(4), undefined).networks.size).toBe(0);
    expect(m.portChanged(key(2), port(2, { node: 'hv1', ofport: 11 })).networks).toEqual(new Set(['net-uid']));
    expect([...m.unknownNodesOf('net-uid')]).toEqual([]);
  });

  it('a port changed in place (same binding) or deleted from a chunk that keeps ports does not touch the network', () => {
    const m = model();
    const same = m.portChanged(key(1), { ...port(1, { node: 'hv1', ofport: 10 }), metadata: { ...port(1).metadata, generation: 2 } });
    expect(same.networks.size).toBe(0);
    expect(m.portChanged(key(2), undefined).networks.size).toBe(0);
    expect([...m.floodChunksOf('net-uid', 'hv1')!.get(0)!.keys()]).toEqual([10]);
  });
});

describe('LiveModel load balancers', () => {
  const lb = (backends: number, status?: LoadBalancer['status']): LoadBalancer =>
    ({
      apiVersion: 'vnet.dev/v1alpha1',
      kind: 'LoadBalancer',
      metadata: { name: 'web', namespace: 't', uid: 'lb-uid', generation: backends },
      spec: { network: 'net', vip: '10.0.0.100', listeners: [{ port: 80, protocol: 'TCP' }], backends: Array.from({ length: backends }, (_, i) => ({ port: `p${i + 1}` })) },
      ...(status ? { status } : {}),
    }) as LoadBalancer;
  const KEY = '/registry/vnet.dev/loadbalancers/t/web';

  it('sizes the slot table by the spec\'s backends, never smaller than recorded in status or than it had', () => {
    const m = new LiveModel(() => [], () => ({ vxlan: 1 }));
    m.rebuild([network], [], nodes, [lb(5)]);
    const slots = () => m.loadBalancers.get('lb-uid')!.slots;
    expect(slots()).toBe(512);
    // A backend removed before the controller recorded 512 in status: the table keeps its size.
    m.lbChanged(KEY, lb(4));
    expect(slots()).toBe(512);
    // A new process (no model before) takes the recorded size.
    const fresh = new LiveModel(() => [], () => ({ vxlan: 1 }));
    fresh.rebuild([network], [], nodes, [lb(4, { slots: 1024 })]);
    expect(fresh.loadBalancers.get('lb-uid')!.slots).toBe(1024);
  });
});

describe('LiveModel pair MACs', () => {
  const withPair = (i: number, mac: string, bound?: { node: string; ofport: number }): VirtualPort => {
    const p = port(i, bound);
    return { ...p, spec: { ...p.spec!, allowedAddressPairs: [{ ip: `10.0.0.${100 + i}`, mac }] } };
  };

  it('a port declaring a pair MAC another port holds touches that port too (its L2 entry goes), and so does its leaving', () => {
    const m = new LiveModel(() => [], () => ({ vxlan: 1 }));
    m.rebuild([network], [withPair(1, '00:00:5e:00:01:07', { node: 'hv1', ofport: 10 }), port(2, { node: 'hv2', ofport: 11 })], nodes, []);
    expect(m.pairMacShared('net-uid', '00:00:5e:00:01:07')).toBe(false);
    const joins = m.portChanged(key(2), withPair(2, '00:00:5E:00:01:07', { node: 'hv2', ofport: 11 }));
    expect(joins.ports).toEqual(new Set(['p1-uid', 'p2-uid']));
    expect(m.pairMacShared('net-uid', '00:00:5e:00:01:07')).toBe(true);
    const leaves = m.portChanged(key(2), undefined);
    expect(leaves.ports).toEqual(new Set(['p1-uid', 'p2-uid']));
    expect(m.pairMacShared('net-uid', '00:00:5e:00:01:07')).toBe(false);
    // A port without pairs touches only itself.
    expect(m.portChanged(key(3), port(3, { node: 'hv2', ofport: 12 })).ports).toEqual(new Set(['p3-uid']));
  });

  it('a third port joining a shared pair MAC touches only itself and the MAC\'s owner; a port whose own MAC a pair names touches that pair\'s port', () => {
    const m = new LiveModel(() => [], () => ({ vxlan: 1 }));
    const vrrp = '00:00:5e:00:01:07';
    m.rebuild([network], [withPair(1, vrrp), withPair(2, vrrp)], nodes, []);
    const third = m.portChanged(key(3), withPair(3, vrrp, { node: 'hv1', ofport: 13 }));
    expect(third.ports).toEqual(new Set(['p3-uid']));
    expect(third.pairMacs).toEqual(new Set([`${vrrp}/net-uid`]));
    // p5 names p4's own MAC (02:00:00:00:00:04) before p4 exists: held alone until p4 comes, then no entry of its own.
    m.portChanged(key(5), withPair(5, '02:00:00:00:00:04'));
    expect(m.pairMacShared('net-uid', '02:00:00:00:00:04')).toBe(false);
    const owner = m.portChanged(key(4), port(4, { node: 'hv2', ofport: 14 }));
    expect(owner.ports).toEqual(new Set(['p4-uid', 'p5-uid']));
    expect(m.pairMacShared('net-uid', '02:00:00:00:00:04')).toBe(true);
    expect(m.portChanged(key(4), undefined).ports).toEqual(new Set(['p4-uid', 'p5-uid']));
  });
});

describe('LiveModel drives compileScope to what a full compile gives (pair MACs, own MACs, bindings, port security; random changes)', () => {
  it('for every node after every change', () => {
    let s = 11;
    const r = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
    // Pair MACs from a small pool, some the own MACs of p1/p2 (02:00:00:00:00:01, :02).
    const pool = ['00:00:5e:00:01:07', '02:aa:00:00:00:01', '02:00:00:00:00:01', '02:00:00:00:00:02'];
    const make = (i: number, gen: number): VirtualPort => {
      const b = pick([undefined, { node: 'hv1', ofport: 10 + i }, { node: 'hv2', ofport: 40 + i }]);
      const p = port(i, b);
      const pairs = r() < 0.6 ? [{ ip: `10.0.0.${100 + i}`, mac: pick(pool) }] : [];
      // Some without port security: where the network's unknown unicast goes follows them.
      return { ...p, metadata: { ...p.metadata, generation: gen }, spec: { ...p.spec!, allowedAddressPairs: pairs, portSecurity: r() < 0.8 } };
    };
    const nodesWithTunnels = nodes;
    const m = new LiveModel(() => [], () => ({ vxlan: 1 }));
    m.rebuild([network], [], nodesWithTunnels, []);
    const ids = new OwnerIds();
    const sig = (o: { flows: Parameters<typeof formatPipelineFlow>[0][] }) => o.flows.map(formatPipelineFlow).join('\n');
    const tables = new Map(['hv1', 'hv2'].map((n) => [n, new Map([...compileNode(m.model, n, ids, m.index()).owners].map(([k, o]) => [k, sig(o)]))]));
    for (let step = 0; step < 300; step++) {
      const i = 1 + Math.floor(r() * 6);
      const t = m.portChanged(key(i), r() < 0.2 ? undefined : make(i, step + 2));
      for (const [node, table] of tables) {
        const scoped = compileScope(m.model, node, ids, m, t, (net) => table.has(ownerKey(networkOwner(net.vni))));
        for (const k of scoped.coveredOwners) {
          const o = scoped.owners.get(k);
          if (o) table.set(k, sig(o));
          else table.delete(k);
        }
        const full = new Map([...compileNode(m.model, node, ids, m.index()).owners].map(([k, o]) => [k, sig(o)]));
        expect(table).toEqual(full);
      }
    }
  });
});

describe('LiveModel: a port change resolves again only the load balancers it may move (QA-124 F2)', () => {
  const lbOf = (i: number, backends: NonNullable<LoadBalancer['spec']>['backends']): LoadBalancer =>
    ({
      apiVersion: 'vnet.dev/v1alpha1',
      kind: 'LoadBalancer',
      metadata: { name: `lb${i}`, namespace: 't', uid: `lb${i}-uid`, generation: 1 },
      spec: { network: 'net', vip: `10.0.1.${i}`, listeners: [{ port: 80, protocol: 'TCP' }], backends },
    }) as LoadBalancer;
  const lbKey = (i: number) => `/registry/vnet.dev/loadbalancers/t/lb${i}`;

  it('a new port in a network of 200 load balancers touches none of them; binding a backend touches its own', () => {
    const m = new LiveModel(resolveBackends, () => ({ vxlan: 1 }));
    const ports = Array.from({ length: 40 }, (_, i) => port(i + 1, { node: i % 2 ? 'hv1' : 'hv2', ofport: 10 + i }));
    const lbs = Array.from({ length: 200 }, (_, i) => lbOf(i, [{ port: `p${1 + (i % 20)}` }, { ip: `10.0.0.${21 + (i % 20)}` }]));
    m.rebuild([network], ports, nodes, lbs);
    expect(m.portChanged(key(50), port(50, { node: 'hv1', ofport: 90 })).loadBalancers.size).toBe(0);
    // p3 backs lb2, lb22, lb42, ... by name; p23 backs the same ones by address.
    const named = m.portChanged(key(3), port(3, { node: 'hv1', ofport: 91 }));
    expect([...named.loadBalancers].sort()).toEqual(Array.from({ length: 10 }, (_, k) => `lb${2 + 20 * k}-uid`).sort());
    expect(m.loadBalancers.get('lb2-uid')!.backends.find((b) => b.name === 'p3')!.ofport).toBe(91);
    expect(m.portChanged(key(23), undefined).loadBalancers.size).toBe(10);
    expect(m.loadBalancers.get('lb2-uid')!.backends.map((b) => b.name)).toEqual(['p3']);
  });

  it('keeps every load balancer resolved as a fresh resolve would, and patches nodes to what a full compile gives (random changes)', () => {
    let s = 5;
    const r = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
    // Pairs from a small pool of addresses and MACs, some other ports' own: address backends
    // resolve by own address, by a pair (alone or ambiguous), and hairpin peers move with MACs.
    const make = (i: number, gen: number): VirtualPort => {
      const p = port(i, pick([undefined, { node: 'hv1', ofport: 10 + i }, { node: 'hv2', ofport: 40 + i }]));
      const pairs = r() < 0.6 ? [{ ip: pick(['10.0.0.200', '10.0.0.201', '10.0.0.192/29', `10.0.0.${100 + i}`]), mac: pick(['02:aa:00:00:00:01', '02:00:00:00:00:01', '02:00:00:00:00:02', undefined]) }] : [];
      const ips = r() < 0.2 ? [`10.0.0.${pick([1, 2, 3])}`] : [`10.0.0.${i}`];
      return { ...p, metadata: { ...p.metadata, generation: gen }, spec: { ...p.spec!, ips, allowedAddressPairs: pairs.map((a) => (a.mac ? a : { ip: a.ip })) } };
    };
    const lbs = [
      lbOf(1, [{ port: 'p1' }, { port: 'p2' }]),
      lbOf(2, [{ ip: '10.0.0.200' }, { ip: '10.0.0.3' }]),
      lbOf(3, [{ ip: '10.0.0.196' }, { port: 'p4' }]),
      lbOf(4, [{ port: 'p5' }, { ip: '10.0.0.104' }]),
    ];
    const m = new LiveModel(resolveBackends, () => ({ vxlan: 1 }));
    m.rebuild([network], [], nodes, lbs);
    const ids = new OwnerIds();
    const sig = (o: { flows: Parameters<typeof formatPipelineFlow>[0][] }) => o.flows.map(formatPipelineFlow).join('\n');
    const tables = new Map(['hv1', 'hv2'].map((n) => [n, new Map([...compileNode(m.model, n, ids, m.index()).owners].map(([k, o]) => [k, sig(o)]))]));
    let touchedLbs = 0;
    for (let step = 0; step < 200; step++) {
      const i = 1 + Math.floor(r() * 6);
      const t = m.portChanged(key(i), r() < 0.2 ? undefined : make(i, step + 2));
      touchedLbs += t.loadBalancers.size;
      const net = m.model.networks.get('net-uid')!;
      for (const lb of lbs) expect(m.loadBalancers.get(`${lb.metadata.uid}`)!.backends).toEqual(resolveBackends(lb, net, m.model.ports));
      for (const [node, table] of tables) {
        const scoped = compileScope(m.model, node, ids, m, t, (n) => table.has(ownerKey(networkOwner(n.vni))));
        for (const k of scoped.coveredOwners) {
          const o = scoped.owners.get(k);
          if (o) table.set(k, sig(o));
          else table.delete(k);
        }
        expect(table).toEqual(new Map([...compileNode(m.model, node, ids, m.index()).owners].map(([k, o]) => [k, sig(o)])));
      }
    }
    // Not every load balancer on every change (4 per change before).
    expect(touchedLbs / 200).toBeLessThan(3);
  });
});
