import { Priority, compileNode, indexModel } from './compiler';
import { onlyAddsTo, planFastPath, type FastPathPlan } from './fastpath-plan';
import { LbSlotField, NetworkField } from './fields';
import { lbFlows } from './load-balancer';
import type { LoadBalancerModel, LogicalModel, NetworkModel, NodeModel, PortModel } from './model';
import { OwnerIds } from './owners';
import { TABLES } from './tables';

const net = (uid: string, vni: number, encapsulation: 'vxlan' | 'geneve' = 'vxlan'): NetworkModel => ({ uid, key: `t/${uid}`, version: '1', vni, encapsulation });
const mac = (n: number) => `02:00:00:00:00:${n.toString(16).padStart(2, '0')}`;
const port = (uid: string, network: string, n: number, node: string | undefined, extra: Partial<PortModel> = {}): PortModel => ({
  uid,
  key: `t/${uid}`,
  version: '1',
  network,
  mac: mac(n),
  ips: [`10.0.0.${n}`],
  portSecurity: true,
  allowedAddressPairs: [],
  binding: node ? { node, ofport: n } : undefined,
  ...extra,
});

function model(networks: NetworkModel[], ports: PortModel[], lbs: LoadBalancerModel[] = [], nodes?: NodeModel[]): LogicalModel {
  const ns = nodes ?? [
    { name: 'hv1', tunnelIP: '198.18.0.1', tunnelPorts: { vxlan: 1, geneve: 2 } },
    { name: 'hv2', tunnelIP: '198.18.0.2', tunnelPorts: { vxlan: 1, geneve: 2 } },
    { name: 'hv3', tunnelIP: '198.18.0.3', tunnelPorts: { vxlan: 1, geneve: 2 } },
  ];
  return {
    networks: new Map(networks.map((n) => [n.uid, n])),
    ports: new Map(ports.map((p) => [p.uid, p])),
    nodes: new Map(ns.map((n) => [n.name, n])),
    loadBalancers: new Map(lbs.map((l) => [l.uid, l])),
  };
}

/** A three-node, three-network topology with VXLAN and GENEVE, unbound ports and a load balancer. */
function sample(): LogicalModel {
  return model(
    [net('blue', 100), net('red', 200, 'geneve'), net('green', 300)],
    [
      port('b1', 'blue', 11, 'hv1', { allowedAddressPairs: [{ ip: '10.0.0.99', mac: mac(11) }] }),
      // A pair MAC b2 alone declares; one b3 and b4 share (VRRP); r2's pair repeats r1's own MAC.
      port('b2', 'blue', 12, 'hv1', { allowedAddressPairs: [{ ip: '10.0.0.98', mac: '02:aa:00:00:00:01' }] }),
      port('b3', 'blue', 13, 'hv2', { allowedAddressPairs: [{ ip: '10.0.0.97', mac: '00:00:5e:00:01:07' }, { ip: '10.0.0.96', mac: '02:aa:00:00:00:03' }] }),
      port('b4', 'blue', 14, 'hv3', { allowedAddressPairs: [{ ip: '10.0.0.97', mac: '00:00:5e:00:01:07' }] }),
      port('b5', 'blue', 15, undefined), // unbound: nowhere
      port('r1', 'red', 21, 'hv1', { portSecurity: false }),
      port('r2', 'red', 22, 'hv2', { allowedAddressPairs: [{ ip: '10.0.0.95', mac: mac(21) }] }),
      // A pair naming blue's load balancer's MAC (stored before admission refused it): OVS drops frames to it before L2Lookup.
      port('b8', 'blue', 18, 'hv2', { allowedAddressPairs: [{ ip: '10.0.0.94', mac: '02:4c:42:00:00:01' }] }),
      port('g1', 'green', 31, 'hv2'), // green is not present on hv1
      port('g2', 'green', 32, 'hv3'),
    ],
    [
      {
        uid: 'lb1', key: 't/lb1', version: '1', network: 'blue', vip: '10.0.0.200', mac: '02:4c:42:00:00:01',
        listeners: [{ protocol: 'TCP', port: 80, targetPort: 8080 }, { protocol: 'SCTP', port: 9, targetPort: 9 }],
        backends: [
          { name: 'b13', ip: '10.0.0.13', mac: mac(13), weight: 2, healthy: true },
          { name: 'b14', ip: '10.0.0.14', mac: mac(14), weight: 0, healthy: true },
          { name: 'b12', ip: '10.0.0.12', mac: mac(12), weight: 3, healthy: false },
          { name: 'b13again', ip: '10.0.0.13', mac: mac(13), weight: 5, healthy: true },
        ],
        sessionAffinity: 'ClientIP',
      },
      // IPv6: the classifier's VIP table is IPv4, so OVS keeps this one's connections.
      {
        uid: 'lb6', key: 't/lb6', version: '1', network: 'blue', vip: 'fd00::200', mac: '02:4c:42:00:00:06',
        listeners: [{ protocol: 'TCP', port: 80, targetPort: 8080 }],
        backends: [{ name: 'b6', ip: 'fd00::13', mac: mac(13), weight: 1, healthy: true }],
      },
    ],
  );
}

type Where = string; // "local:5" or "remote:198.18.0.2/vni 100/port 1"

/** Where br-int's L2Lookup table sends (network, MAC) for traffic of local ports. */
function ovsDeliveries(m: LogicalModel, node: string): Map<string, Where> {
  const c = compileNode(m, node, new OwnerIds());
  const out = new Map<string, Where>();
  // LbNat drops what is sent to a load balancer's MAC and not to its VIP before L2Lookup (load-balancer.ts).
  const lbMacs = new Set([...(m.loadBalancers?.values() ?? [])].map((lb) => `${m.networks.get(lb.network)?.vni}/${lb.mac}`));
  const priority = new Map<string, number>();
  for (const o of c.owners.values()) {
    for (const f of o.flows) {
      // A pair MAC several ports share goes to all of them: OVS's (the fast path has no entry, its frames reach OVS);
      // so does unicast to no known MAC (a masked match, not an entry).
      if (f.tableId !== TABLES.L2Lookup.id || !f.priority || f.priority === Priority.SharedPairMac || f.priority === Priority.UnknownUnicast) continue;
      const reg = f.match.find((x) => x.field === NetworkField.sub.field && (x as { mask?: number }).mask !== undefined) as { value: number } | undefined;
      const dst = f.match.find((x) => x.field === 'eth_dst') as { value: string } | undefined;
      if (!reg || !dst) continue;
      const actions = f.instructions.flatMap((i) => (i.type === 'apply_actions' ? i.actions : []));
      const output = actions.find((a) => a.type === 'output') as { port: number } | undefined;
      const tunDst = actions.find((a) => a.type === 'set_field' && a.field === 'tun_ipv4_dst') as { value: string } | undefined;
      const tunId = actions.find((a) => a.type === 'set_field' && a.field === 'tunnel_id') as { value: bigint } | undefined;
      const where = tunDst ? `remote:${tunDst.value}/vni ${tunId?.value}/port ${output?.port}` : `local:${output?.port}`;
      // The highest priority entry for a MAC is where OVS sends it (a port's own MAC above a pair's).
      const k = `${reg.value}/${dst.value}`;
      if ((priority.get(k) ?? -1) >= f.priority || lbMacs.has(k)) continue;
      priority.set(k, f.priority);
      out.set(k, where);
    }
  }
  return out;
}

function planDeliveries(p: FastPathPlan, m: LogicalModel): Map<string, Where> {
  const out = new Map<string, Where>();
  const tunnelPort = (encap: 'vxlan' | 'geneve') => m.nodes.get(p.node)?.tunnelPorts?.[encap];
  for (const e of p.macs) {
    const where = e.to.kind === 'local' ? `local:${e.to.ofport}` : `remote:${e.to.ip}/vni ${e.to.vni}/port ${tunnelPort(e.to.encap)}`;
    out.set(`${e.network}/${e.mac}`, where);
  }
  return out;
}

describe('planFastPath', () => {
  it('delivers every (network, MAC) where the OVS flows deliver it, on every node', () => {
    const m = sample();
    for (const node of ['hv1', 'hv2', 'hv3']) {
      const ovs = ovsDeliveries(m, node);
      const fp = planDeliveries(planFastPath(m, node), m);
      expect(ovs.size).toBeGreaterThan(0);
      // The pair MAC b2 alone holds is switched on every node where blue is; the shared one nowhere.
      expect(fp.get('100/02:aa:00:00:00:01')).toBe(node === 'hv1' ? 'local:12' : 'remote:198.18.0.1/vni 100/port 1');
      expect(fp.has('100/00:00:5e:00:01:07')).toBe(false);
      expect([...fp.entries()].sort()).toEqual([...ovs.entries()].sort());
    }
  });

  it('agrees with OVS while a node has no tunnel port yet (no remote entries on either side)', () => {
    const base = sample();
    const m = { ...base, nodes: new Map([...base.nodes].map(([k, n]) => [k, k === 'hv1' ? { ...n, tunnelPorts: undefined } : n])) };
    const fp = planFastPath(m, 'hv1');
    expect(fp.macs.every((e) => e.to.kind === 'local')).toBe(true);
    expect([...planDeliveries(fp, m).entries()].sort()).toEqual([...ovsDeliveries(m, 'hv1').entries()].sort());
  });

  it('lists local ports, present VNIs, VTEPs per (node, encapsulation) and VIPs for hv1', () => {
    const p = planFastPath(sample(), 'hv1');
    expect(p.localVtep).toBe('198.18.0.1');
    expect(p.ports.map((x) => [x.ofport, x.network, x.mac, x.portSecurity])).toEqual([
      [11, 100, mac(11), true],
      [12, 100, mac(12), true],
      [21, 200, mac(21), false],
    ]);
    expect(p.ports[0]!.sources).toEqual([{ mac: mac(11), ip: '10.0.0.11' }, { mac: mac(11), ip: '10.0.0.99' }]);
    expect(p.vnis).toEqual([{ vni: 100, network: 100, encap: 'vxlan' }, { vni: 200, network: 200, encap: 'geneve' }]); // green (300) is not present
    expect(p.vteps).toEqual([
      { id: 1, node: 'hv2', ip: '198.18.0.2', encap: 'geneve' },
      { id: 2, node: 'hv2', ip: '198.18.0.2', encap: 'vxlan' },
      { id: 3, node: 'hv3', ip: '198.18.0.3', encap: 'vxlan' },
    ]);
    expect(p.macs.find((e) => e.mac === mac(22))!.to).toEqual({ kind: 'remote', vtep: 1, node: 'hv2', ip: '198.18.0.2', vni: 200, encap: 'geneve' });
    expect(p.macs.some((e) => e.mac === mac(15) || e.mac === mac(31))).toBe(false);
    // TCP listener only (SCTP is not classified), no IPv6 VIP, targetPort used, one backend per address
    // (the first, as OVS's slot table); weight-0 and unhealthy backends stay at weight 0 (no
    // new connections, established ones kept, as OVS's conntrack keeps them); affinity carried.
    expect(p.lbGuards.map((g) => g.network)).toEqual([100]);
    expect(p.vips).toEqual([{
      network: 100, lb: 'lb1', proto: 'TCP', vip: '10.0.0.200', port: 80, affinity: 'ClientIP',
      backends: [
        { ip: '10.0.0.13', port: 8080, weight: 2, mac: mac(13) },
        { ip: '10.0.0.14', port: 8080, weight: 0, mac: mac(14) },
        { ip: '10.0.0.12', port: 8080, weight: 0, mac: mac(12) },
      ],
      // OVS's slot table: only 10.0.0.13 gets new connections.
      slots: Array.from({ length: 256 }, () => 0),
    }]);
  });

  it('marks which ports of a load-balanced network keep only their VIP connections on the fast path (conntrackOnly)', () => {
    const lb = (listeners: LoadBalancerModel['listeners'], vip = '10.0.0.200'): LoadBalancerModel => ({
      uid: 'lb', key: 't/lb', version: '1', network: 'blue', vip, mac: '02:4c:42:00:00:01', listeners,
      backends: [{ name: 'b3', ip: '10.0.0.3', mac: mac(3), weight: 1, healthy: true }, { name: 'ext', ip: '10.0.0.9', mac: '', weight: 1, healthy: true }],
    });
    const ports = [
      port('c1', 'blue', 1, 'hv1'), // a client
      port('c2', 'blue', 2, 'hv1', { portSecurity: false }), // may send from any address
      port('b3', 'blue', 3, 'hv1'), // a backend by MAC
      port('c4', 'blue', 4, 'hv1', { allowedAddressPairs: [{ ip: '10.0.0.9', mac: mac(4) }] }), // serves a backend address
      port('r5', 'red', 5, 'hv1'), // another network, no load balancer
    ];
    const only = (lbs: LoadBalancerModel[]) => planFastPath(model([net('blue', 100), net('red', 200)], ports, lbs), 'hv1').ports.map((p) => [p.ofport, p.conntrackOnly]).sort((a, b) => Number(a[0]) - Number(b[0]));
    const tcpUdp = lb([{ protocol: 'TCP', port: 80, targetPort: 8080 }, { protocol: 'UDP', port: 53, targetPort: 53 }]);
    expect(only([tcpUdp])).toEqual([[1, false], [2, true], [3, true], [4, true], [5, undefined]]);
    // Load balancers the fast path does not deal (an SCTP listener, an IPv6 VIP) change nothing
    // here: a client keeps its ordinary traffic; what they touch is held back by the network's
    // guard (its VIP and backend addresses; node-tables.ts turns it into XDP keys). Until
    // 2026-11-30 one such load balancer put every port of its network on OVS.
    const v6: LoadBalancerModel = { ...lb([{ protocol: 'TCP', port: 80, targetPort: 8080 }], 'fd00::200'), uid: 'lb6', key: 't/lb6', backends: [{ name: 'b3', ip: 'fd00::3', mac: mac(3), weight: 1, healthy: true }] };
    expect(only([lb([{ protocol: 'SCTP', port: 9, targetPort: 9 }])])).toEqual([[1, false], [2, true], [3, true], [4, true], [5, undefined]]);
    expect(only([tcpUdp, v6])).toEqual([[1, false], [2, true], [3, true], [4, true], [5, undefined]]);
    expect(only([])).toEqual([[1, undefined], [2, undefined], [3, undefined], [4, undefined], [5, undefined]]);
    const guards = (lbs: LoadBalancerModel[]) => planFastPath(model([net('blue', 100), net('red', 200)], ports, lbs), 'hv1').lbGuards;
    expect(guards([tcpUdp, v6])).toEqual([{ network: 100, vips: ['10.0.0.200', 'fd00::200'], backends: ['10.0.0.3', '10.0.0.9', 'fd00::3'] }]);
    expect(guards([])).toEqual([]);
  });

  it('gives each VIP the slot table of its OVS LbSlot flows, so both datapaths deal a connection to the same backend', () => {
    const backends = [11, 12, 13, 14].map((n, i) => ({ name: `p${n}`, ip: `10.0.0.${n}`, mac: mac(n), weight: [1, 3, 2, 5][i]!, healthy: n !== 14 }));
    const lb: LoadBalancerModel = { uid: 'lb2', key: 't/lb2', version: '1', network: 'blue', vip: '10.0.0.201', mac: '02:4c:42:00:00:02', listeners: [{ protocol: 'TCP', port: 80, targetPort: 8080 }, { protocol: 'UDP', port: 53, targetPort: 5353 }], backends };
    const m = model([net('blue', 100)], [port('b1', 'blue', 11, 'hv1')], [lb]);
    const ovs = new Map<number, string>();
    for (const f of lbFlows(lb, m.networks.get('blue')!).flows.filter((x) => x.tableId === TABLES.LbSlot.id)) {
      const slot = Number(f.match.find((x) => x.field === LbSlotField.sub.field)?.value);
      const actions = f.instructions.flatMap((i) => (i.type === 'apply_actions' ? i.actions : []));
      const load = actions.find((a) => a.type === 'reg_load');
      const ip = Number(load?.type === 'reg_load' ? load.value : -1);
      ovs.set(slot, [ip >>> 24, (ip >>> 16) & 255, (ip >>> 8) & 255, ip & 255].join('.'));
    }
    expect(ovs.size).toBe(256);
    const vips = planFastPath(m, 'hv1').vips;
    expect(vips.map((v) => v.port)).toEqual([80, 53]);
    for (const v of vips) {
      expect(v.slots).toHaveLength(256);
      v.slots.forEach((i, s) => expect([s, v.backends[i]!.ip]).toEqual([s, ovs.get(s)]));
      // The unhealthy backend keeps its place (weight 0) but no slot.
      expect(v.slots.some((i) => v.backends[i]!.ip === '10.0.0.14')).toBe(false);
    }
  });

  it('is empty for a node with no bound port, and for a node the model does not know', () => {
    const m = sample();
    const none = planFastPath(model([net('blue', 100)], [port('x', 'blue', 5, 'hv2')]), 'hv1');
    expect(none).toEqual({ node: 'hv1', localVtep: '198.18.0.1', ports: [], vnis: [], vteps: [], macs: [], vips: [], lbGuards: [] });
    expect(planFastPath(m, 'nowhere')).toEqual({ node: 'nowhere', ports: [], vnis: [], vteps: [], macs: [], vips: [], lbGuards: [] });
  });

  it('is deterministic and takes a prebuilt index', () => {
    const m = sample();
    expect(planFastPath(m, 'hv2', indexModel(m))).toEqual(planFastPath(m, 'hv2'));
  });
});

describe('onlyAddsTo', () => {
  const base = sample();
  const withPorts = (extra: PortModel[], drop: string[] = []): LogicalModel => ({ ...base, ports: new Map([...[...base.ports].filter(([uid]) => !drop.includes(uid)), ...extra.map((p) => [p.uid, p] as const)]) });
  const plan = (m: LogicalModel) => planFastPath(m, 'hv1');
  const before = plan(base);

  it('is true for the same plan and for one with more ports, local or remote', () => {
    expect(onlyAddsTo(plan(base))(before)).toBe(true);
    expect(onlyAddsTo(plan(withPorts([port('b6', 'blue', 16, 'hv1'), port('b7', 'blue', 17, 'hv2'), port('g3', 'green', 33, 'hv1')])))(before)).toBe(true);
  });

  it('is false when a port goes, moves, or changes what it may send; when a MAC gets a second destination; when VIPs change', () => {
    expect(onlyAddsTo(plan(withPorts([], ['b3'])))(before)).toBe(false);
    expect(onlyAddsTo(plan(withPorts([port('b3', 'blue', 13, 'hv3')])))(before)).toBe(false);
    expect(onlyAddsTo(plan(withPorts([port('b2', 'blue', 12, 'hv1', { allowedAddressPairs: [{ ip: '10.0.0.98', mac: mac(12) }] })])))(before)).toBe(false);
    // Another port with b3's MAC on hv3 (a duplicate while a VM moves).
    expect(onlyAddsTo(plan(withPorts([port('b3x', 'blue', 13, 'hv3', { uid: 'b3x', ips: ['10.0.0.113'] })])))(before)).toBe(false);
    const lbs = new Map(base.loadBalancers);
    lbs.set('lb1', { ...lbs.get('lb1')!, backends: lbs.get('lb1')!.backends.slice(0, 1) });
    expect(onlyAddsTo(plan({ ...base, loadBalancers: lbs }))(before)).toBe(false);
  });
});
