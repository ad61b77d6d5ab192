import { checkMatch } from '../openflow';
import { flowKey, ownerKey } from '../openflow/sync';
import { compileNode, indexModel, type NodeCompilation } from './compiler';
import { formatPipelineActions, formatPipelineFlow } from './format';
import type { LoadBalancerModel, LogicalModel, NetworkModel, NodeModel, PortModel } from './model';
import { OwnerIds, lbMac, networkOwner } from './owners';
import { TABLE_ORDER } from './tables';

const net = (uid: string, vni: number, encapsulation: 'vxlan' | 'geneve' = 'vxlan'): NetworkModel => ({ uid, key: `t/${uid}`, version: '1', vni, encapsulation });
const port = (uid: string, network: string, n: number, node: string | undefined, extra: Partial<PortModel> = {}): PortModel => ({
  uid,
  key: `t/${uid}`,
  version: '1',
  network,
  mac: `02:00:00:00:00:${n.toString(16).padStart(2, '0')}`,
  ips: [`10.0.0.${n}`],
  portSecurity: true,
  allowedAddressPairs: [],
  binding: node ? { node, ofport: n } : undefined,
  ...extra,
});
const nodes = (): Map<string, NodeModel> =>
  new Map([
    ['hv1', { name: 'hv1', tunnelIP: '198.18.0.1', tunnelPorts: { vxlan: 1, geneve: 2 } }],
    ['hv2', { name: 'hv2', tunnelIP: '198.18.0.2', tunnelPorts: { vxlan: 1, geneve: 2 } }],
  ]);

function model(networks: NetworkModel[], ports: PortModel[], lbs: LoadBalancerModel[] = []): LogicalModel {
  return { networks: new Map(networks.map((n) => [n.uid, n])), ports: new Map(ports.map((p) => [p.uid, p])), nodes: nodes(), loadBalancers: new Map(lbs.map((l) => [l.uid, l])) };
}

function text(c: NodeCompilation): string[] {
  return [...c.owners.values()].flatMap((o) => o.flows.map(formatPipelineFlow));
}

describe('pipeline tables', () => {
  it('are declared by name, in order', () => {
    expect(TABLE_ORDER.map((t) => `${t.id}:${t.name}`)).toEqual(['0:Classifier', '1:SpoofGuard', '2:ArpResponder', '3:LbVip', '4:LbNat', '5:L2Lookup', '6:Flood']);
  });
});

describe('compileNode', () => {
  const small = () =>
    model(
      [net('blue', 100)],
      [
        port('a', 'blue', 5, 'hv1', { allowedAddressPairs: [{ ip: '10.0.0.50', mac: '02:00:00:00:00:05' }] }),
        port('b', 'blue', 6, 'hv2'),
        port('c', 'blue', 7, undefined), // not bound anywhere: no flows
      ],
    );

  it('compiles a small topology into golden flows', () => {
    const c = compileNode(small(), 'hv1', new OwnerIds());
    expect(text(c)).toEqual([
      'ArpResponder, priority=0 actions=goto_table:LbVip',
      'LbVip, priority=0 actions=goto_table:L2Lookup',
      'LbNat, priority=0 actions=goto_table:L2Lookup',
      'L2Lookup, priority=0 actions=goto_table:Flood',
      'ArpResponder, priority=110, icmp6,icmp_type=135,ipv6_src=:: actions=goto_table:LbVip',
      'ArpResponder, priority=110, icmp6,icmp_type=135,nd_sll=00:00:00:00:00:00 actions=goto_table:LbVip',
      'ArpResponder, priority=120, NdReply=1, icmp6,icmp_type=136 actions=move:NXM_OF_ETH_SRC[]->NXM_NX_ND_TLL[],IN_PORT',
      // port a (local, ofport 5)
      'Classifier, priority=100, in_port=5 actions=load:0x64->Network,load:0->FromTunnel,goto_table:SpoofGuard',
      'SpoofGuard, priority=100, in_port=5,dl_src=02:00:00:00:00:05,ip,nw_src=10.0.0.5 actions=goto_table:ArpResponder',
      'SpoofGuard, priority=100, in_port=5,dl_src=02:00:00:00:00:05,arp,arp_spa=10.0.0.5,arp_sha=02:00:00:00:00:05 actions=goto_table:ArpResponder',
      'SpoofGuard, priority=100, in_port=5,dl_src=02:00:00:00:00:05,ip,nw_src=10.0.0.50 actions=goto_table:ArpResponder',
      'SpoofGuard, priority=100, in_port=5,dl_src=02:00:00:00:00:05,arp,arp_spa=10.0.0.50,arp_sha=02:00:00:00:00:05 actions=goto_table:ArpResponder',
      'ArpResponder, priority=110, Network=100, in_port=5,arp,arp_op=1,arp_tpa=10.0.0.5 actions=goto_table:L2Lookup',
      'ArpResponder, priority=100, Network=100, arp,arp_op=1,arp_tpa=10.0.0.5 actions=move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],set_field:02:00:00:00:00:05->eth_src,set_field:2->arp_op,move:NXM_NX_ARP_SHA[]->NXM_NX_ARP_THA[],set_field:02:00:00:00:00:05->arp_sha,move:NXM_OF_ARP_SPA[]->NXM_OF_ARP_TPA[],set_field:10.0.0.5->arp_spa,IN_PORT',
      'L2Lookup, priority=100, Network=100, dl_dst=02:00:00:00:00:05 actions=output:5',
      // port b (remote, on hv2)
      'ArpResponder, priority=100, Network=100, arp,arp_op=1,arp_tpa=10.0.0.6 actions=move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],set_field:02:00:00:00:00:06->eth_src,set_field:2->arp_op,move:NXM_NX_ARP_SHA[]->NXM_NX_ARP_THA[],set_field:02:00:00:00:00:06->arp_sha,move:NXM_OF_ARP_SPA[]->NXM_OF_ARP_TPA[],set_field:10.0.0.6->arp_spa,IN_PORT',
      'L2Lookup, priority=100, Network=100,FromTunnel=0, dl_dst=02:00:00:00:00:06 actions=set_field:198.18.0.2->tun_dst,set_field:0x64->tun_id,output:1',
      // network blue
      'Classifier, priority=100, in_port=1,tun_id=0x64 actions=load:0x64->Network,load:0x1->FromTunnel,goto_table:L2Lookup',
      'Flood, priority=110, Network=100,FromTunnel=1 actions=output:5',
      'Flood, priority=100, Network=100 actions=output:5,set_field:198.18.0.2->tun_dst,set_field:0x64->tun_id,output:1',
    ]);
    expect(c.realizes).toEqual(new Map([['a', '1'], ['b', '1'], ['blue', '1']]));
  });

  it('emits only valid matches (prerequisites present)', () => {
    for (const f of [...compileNode(small(), 'hv1', new OwnerIds()).owners.values()].flatMap((o) => o.flows)) expect(() => checkMatch(f.match)).not.toThrow();
  });

  it('uses the tunnel port of the network’s encapsulation and isolates networks by VNI', () => {
    const m = model([net('blue', 100), net('red', 200, 'geneve')], [port('a', 'blue', 5, 'hv1'), port('b', 'blue', 6, 'hv2'), port('r1', 'red', 5, 'hv2'), port('r2', 'red', 6, 'hv1', { mac: '02:00:00:00:00:05' })]);
    const t = text(compileNode(m, 'hv1', new OwnerIds()));
    expect(t).toContain('Classifier, priority=100, in_port=2,tun_id=0xc8 actions=load:0xc8->Network,load:0x1->FromTunnel,goto_table:L2Lookup');
    // Same MAC in two networks: two entries, each keyed by its own network.
    expect(t).toContain('L2Lookup, priority=100, Network=100, dl_dst=02:00:00:00:00:05 actions=output:5');
    expect(t).toContain('L2Lookup, priority=100, Network=200,FromTunnel=0, dl_dst=02:00:00:00:00:05 actions=set_field:198.18.0.2->tun_dst,set_field:0xc8->tun_id,output:2');
  });

  it('without port security a port gets one pass-through flow instead of the guard', () => {
    const m = model([net('blue', 100)], [port('a', 'blue', 5, 'hv1', { portSecurity: false })]);
    expect(text(compileNode(m, 'hv1', new OwnerIds())).filter((l) => l.startsWith('SpoofGuard'))).toEqual(['SpoofGuard, priority=100, in_port=5 actions=goto_table:ArpResponder']);
  });

  it('keeps the flow count per port small and constant: 6 per local port, 2 per remote port', () => {
    for (const n of [10, 100, 1000]) {
      const ports = Array.from({ length: n }, (_, i) => port(`p${i}`, 'blue', 10 + i, i % 2 ? 'hv2' : 'hv1', { mac: mac(i), ips: [ip(i)] }));
      const ids = new OwnerIds();
      const c = compileNode(model([net('blue', 100)], ports), 'hv1', ids);
      const counts = ports.map((p) => c.owners.get(ownerKey(ids.portOwner(p.uid)))?.flows.length);
      expect(new Set(counts.filter((_, i) => i % 2 === 0))).toEqual(new Set([6]));
      expect(new Set(counts.filter((_, i) => i % 2 === 1))).toEqual(new Set([2]));
      const total = [...c.owners.values()].reduce((s, o) => s + o.flows.length, 0);
      expect(total).toBe(7 + 3 + (n / 2) * 6 + (n / 2) * 2);
    }
  });

  it('adding one port to a network of 1000 ports changes only a handful of flows', () => {
    const ports = Array.from({ length: 1000 }, (_, i) => port(`p${i}`, 'blue', 10 + i, i % 2 ? 'hv2' : 'hv1', { mac: mac(i), ips: [ip(i)] }));
    const ids = new OwnerIds();
    const before = compileNode(model([net('blue', 100)], ports), 'hv1', ids);
    const after = compileNode(model([net('blue', 100)], [...ports, port('new', 'blue', 2000, 'hv1', { mac: mac(2000), ips: [ip(2000)] })]), 'hv1', ids);
    const delta = flowDelta(before, after);
    expect(delta.changedOwners).toEqual([ownerKey(networkOwner(100)), ownerKey(ids.portOwner('new'))].sort());
    // 6 new flows for the port + the two flood flows of its network now listing it.
    expect(delta.added).toBe(6 + 2);
    expect(delta.removed).toBe(2);
    // On the other node the new port is remote: 2 flows, nothing else.
    const b2 = compileNode(model([net('blue', 100)], ports), 'hv2', ids);
    const a2 = compileNode(model([net('blue', 100)], [...ports, port('new', 'blue', 2000, 'hv1', { mac: mac(2000), ips: [ip(2000)] })]), 'hv2', ids);
    expect(flowDelta(b2, a2)).toMatchObject({ added: 2, removed: 0 });
  });

  it('gives flows to a node only for networks with a port bound there', () => {
    const m = model([net('blue', 100)], [port('b', 'blue', 6, 'hv2')]);
    const c = compileNode(m, 'hv1', new OwnerIds());
    expect([...c.owners.values()].map((o) => o.label)).toEqual(['pipeline']);
    expect(c.realizes.size).toBe(0);
    expect(compileNode(m, 'hv1', new OwnerIds(), indexModel(m)).owners.size).toBe(1);
  });
});

describe('load balancers', () => {
  const lb = (backends: number[], extra: Partial<LoadBalancerModel> = {}): LoadBalancerModel => ({
    uid: 'lb1',
    key: 't/lb1',
    version: '1',
    network: 'blue',
    vip: '10.0.0.100',
    mac: lbMac('lb1'),
    listeners: [{ protocol: 'TCP', port: 80, targetPort: 8080 }],
    backends: backends.map((n) => ({ ip: `10.0.0.${n}`, mac: `02:00:00:00:00:${n.toString(16).padStart(2, '0')}`, weight: 1 })),
    ...extra,
  });
  const ports = () => [port('a', 'blue', 5, 'hv1'), port('b', 'blue', 6, 'hv2'), port('c', 'blue', 7, 'hv2')];

  it('compiles a VIP with backends into golden flows and a select group', () => {
    const ids = new OwnerIds();
    const c = compileNode(model([net('blue', 100)], ports(), [lb([5, 6, 7])]), 'hv1', ids);
    const o = c.owners.get(ownerKey(ids.lbOwner('lb1')))!;
    expect(o.label).toBe('loadbalancer t/lb1');
    const m = lbMac('lb1');
    expect(m).toMatch(/^02:4c:42:[0-9a-f]{2}:[0-9a-f]{2}:[0-9a-f]{2}$/);
    const g = ids.groupId('lb1', 'TCP/80');
    expect(o.flows.map(formatPipelineFlow)).toEqual([
      `ArpResponder, priority=100, Network=100, arp,arp_op=1,arp_tpa=10.0.0.100 actions=move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],set_field:${m}->eth_src,set_field:2->arp_op,move:NXM_NX_ARP_SHA[]->NXM_NX_ARP_THA[],set_field:${m}->arp_sha,move:NXM_OF_ARP_SPA[]->NXM_OF_ARP_TPA[],set_field:10.0.0.100->arp_spa,IN_PORT`,
      `LbNat, priority=110, Network=100, ct_state=+new+trk,tcp,nw_dst=10.0.0.100,tp_dst=80 actions=group:${g}`,
      `LbNat, priority=100, Network=100, ct_state=+trk,dl_dst=${m},ip,nw_dst=10.0.0.5 actions=set_field:02:00:00:00:00:05->eth_dst,goto_table:L2Lookup`,
      `LbNat, priority=100, Network=100, ct_state=+trk,dl_dst=${m},ip,nw_dst=10.0.0.6 actions=set_field:02:00:00:00:00:06->eth_dst,goto_table:L2Lookup`,
      `LbNat, priority=100, Network=100, ct_state=+trk,dl_dst=${m},ip,nw_dst=10.0.0.7 actions=set_field:02:00:00:00:00:07->eth_dst,goto_table:L2Lookup`,
      `LbNat, priority=90, Network=100, dl_dst=${m} actions=drop`,
    ]);
    expect(o.groups).toHaveLength(1);
    expect(o.groups![0]).toMatchObject({ groupId: g, groupType: 'select' });
    expect(o.groups![0].buckets.map((b) => [b.weight, formatPipelineActions(b.actions)])).toEqual([5, 6, 7].map((n) => [1, `ct(commit,table=LbNat,zone=101,nat(dst=10.0.0.${n}:8080))`]));
    // The network sends its IP through conntrack, tunnel traffic included.
    const netFlows = c.owners.get(ownerKey(networkOwner(100)))!.flows.map(formatPipelineFlow);
    expect(netFlows).toContain('Classifier, priority=100, in_port=1,tun_id=0x64 actions=load:0x64->Network,load:0x1->FromTunnel,goto_table:LbVip');
    expect(netFlows).toContain('LbVip, priority=100, Network=100, ip actions=ct(table=LbNat,zone=101,nat)');
    expect(c.realizes.get('lb1')).toBe('1');
    for (const f of o.flows) expect(() => checkMatch(f.match)).not.toThrow();
  });

  it('is installed only where its network is present; flow count is 3 + listeners + backends', () => {
    const ids = new OwnerIds();
    const m = model([net('blue', 100), net('red', 200)], [port('a', 'blue', 5, 'hv1'), port('r', 'red', 6, 'hv2')], [lb([5, 6, 7])]);
    expect(compileNode(m, 'hv2', ids).realizes.has('lb1')).toBe(false);
    const c = compileNode(m, 'hv1', ids);
    expect(c.owners.get(ownerKey(ids.lbOwner('lb1')))!.flows).toHaveLength(1 + 1 + 3 + 1);
  });

  it('removing a backend changes only the LB owner (one bucket and one flow fewer)', () => {
    const ids = new OwnerIds();
    const before = compileNode(model([net('blue', 100)], ports(), [lb([5, 6, 7])]), 'hv1', ids);
    const after = compileNode(model([net('blue', 100)], ports(), [lb([5, 7], { version: '2' })]), 'hv1', ids);
    const d = flowDelta(before, after);
    expect(d.changedOwners).toEqual([ownerKey(ids.lbOwner('lb1'))]);
    expect(d).toMatchObject({ added: 0, removed: 1 });
    expect(after.owners.get(ownerKey(ids.lbOwner('lb1')))!.groups![0].buckets).toHaveLength(2);
  });

  it('without backends drops new connections to the VIP and has no group', () => {
    const ids = new OwnerIds();
    const o = compileNode(model([net('blue', 100)], ports(), [lb([])]), 'hv1', ids).owners.get(ownerKey(ids.lbOwner('lb1')))!;
    expect(o.groups).toEqual([]);
    expect(o.flows.map(formatPipelineFlow)).toContain('LbNat, priority=110, Network=100, ct_state=+new+trk,tcp,nw_dst=10.0.0.100,tp_dst=80 actions=drop');
  });

  it('networks without a load balancer keep tunnel traffic off conntrack', () => {
    const t = text(compileNode(model([net('blue', 100)], ports()), 'hv1', new OwnerIds()));
    expect(t.filter((l) => l.startsWith('LbVip') || l.startsWith('LbNat'))).toEqual(['LbVip, priority=0 actions=goto_table:L2Lookup', 'LbNat, priority=0 actions=goto_table:L2Lookup']);
  });
});

function mac(i: number): string {
  return `02:00:00:00:${((i >> 8) & 0xff).toString(16).padStart(2, '0')}:${(i & 0xff).toString(16).padStart(2, '0')}`;
}
function ip(i: number): string {
  return `10.0.${(i >> 8) & 0xff}.${i & 0xff}`;
}

/** Flows added and removed between two compiles, by flow identity + content, like the manager's diff. */
function flowDelta(a: NodeCompilation, b: NodeCompilation): { added: number; removed: number; changedOwners: number[] } {
  const set = (c: NodeCompilation) => new Set([...c.owners.values()].flatMap((o) => o.flows.map((f) => `${ownerKey(o.owner)} ${flowKey(f.tableId, f.priority, f.match)} ${formatPipelineFlow(f)}`)));
  const sa = set(a);
  const sb = set(b);
  const added = [...sb].filter((x) => !sa.has(x));
  const removed = [...sa].filter((x) => !sb.has(x));
  const changedOwners = [...new Set([...added, ...removed].map((x) => Number(x.split(' ')[0])))].sort();
  return { added: added.length, removed: removed.length, changedOwners };
}

