import { checkMatch } from '../openflow';
import { flowKey, ownerKey, type DesiredFlow } from '../openflow/sync';
import { compileNode, indexModel, type NodeCompilation } from './compiler';
import { LB_SLOTS, dealSlots, lbSlotCount, lbTableSize } from './load-balancer';
import { formatPipelineFlow } from './format';
import type { LoadBalancerModel, LogicalModel, NetworkModel, NodeModel, PortModel } from './model';
import { OwnerIds, floodChunkOwner, lbMac, networkOwner } from './owners';
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
    expect(TABLE_ORDER.map((t) => `${t.id}:${t.name}`)).toEqual(['0:Classifier', '1:SpoofGuard', '2:ArpResponder', '3:LbVip', '4:LbNat', '5:L2Lookup', '6:Flood', '7:LbSlot', '8:LbDnat', '9:FloodChunk']);
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
      // tunnel probes and their echoes (tunnel-probe.ts), one per tunnel port
      // Port security's router and DHCP-server guard, for every port that has it (router-guard.ts).
      'SpoofGuard, priority=130, PortSecured=1, icmp6,icmp_type=134 actions=drop',
      'SpoofGuard, priority=130, PortSecured=1, icmp6,icmp_type=137 actions=drop',
      'SpoofGuard, priority=130, PortSecured=1, udp,tp_src=67 actions=drop',
      'SpoofGuard, priority=130, PortSecured=1, udp6,tp_src=547 actions=drop',
      // And IPv6 first fragments whose ICMPv6, UDP or TCP header is in a later fragment (QA-133 F4).
      'SpoofGuard, priority=130, PortSecured=1, icmp6,nw_frag=first,icmp_type=0 actions=drop',
      'SpoofGuard, priority=130, PortSecured=1, udp6,nw_frag=first,tp_dst=0 actions=drop',
      'SpoofGuard, priority=130, PortSecured=1, tcp6,nw_frag=first,tp_dst=0 actions=drop',
      // 802.1Q-tagged frames from any VM port, port security or not (vlan-guard.ts).
      'SpoofGuard, priority=140, FromTunnel=0, vlan_vid=4096/0x1000 actions=drop',
      'Classifier, priority=101, in_port=1,tun_id=0,dl_type=0x88b5,dl_dst=02:76:6e:65:74:72 actions=meter:4,move:NXM_NX_TUN_IPV4_SRC[]->NXM_NX_TUN_IPV4_DST[],set_field:02:76:6e:65:74:65->eth_dst,IN_PORT',
      'Classifier, priority=100, in_port=1,tun_id=0,dl_type=0x88b5 actions=meter:2,CONTROLLER:1024',
      'Classifier, priority=101, in_port=2,tun_id=0,dl_type=0x88b5,dl_dst=02:76:6e:65:74:72 actions=meter:4,move:NXM_NX_TUN_IPV4_SRC[]->NXM_NX_TUN_IPV4_DST[],set_field:02:76:6e:65:74:65->eth_dst,IN_PORT',
      'Classifier, priority=100, in_port=2,tun_id=0,dl_type=0x88b5 actions=meter:2,CONTROLLER:1024',
      // This node's own tunnel endpoint: never output (OVS would decapsulate it: tunnel-guard.ts).
      'L2Lookup, priority=110, udp,nw_dst=198.18.0.1,tp_dst=4789 actions=drop',
      'L2Lookup, priority=110, udp,nw_dst=198.18.0.1,tp_dst=6081 actions=drop',
      // port a (local, ofport 5)
      'Classifier, priority=100, in_port=5 actions=load:0x64->Network,load:0->FromTunnel,load:0x1->PortSecured,goto_table:SpoofGuard',
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
      'Flood, priority=110, Network=100,FromTunnel=1 actions=load:0->FloodChunk,resubmit(,9)',
      'Flood, priority=100, Network=100 actions=load:0->FloodChunk,resubmit(,9),set_field:198.18.0.2->tun_dst,set_field:0x64->tun_id,output:1',
      // Unicast to no known MAC: nowhere, as no port of the network lacks port security.
      'L2Lookup, priority=1, Network=100,FromTunnel=1, dl_dst=00:00:00:00:00:00/01:00:00:00:00:00 actions=drop',
      'L2Lookup, priority=1, Network=100,FromTunnel=0, dl_dst=00:00:00:00:00:00/01:00:00:00:00:00 actions=drop',
      // its flood chunk 0 (ofports 0..63) on hv1
      'FloodChunk, priority=100, Network=100,FloodChunk=0 actions=output:5',
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
    const lines = text(compileNode(m, 'hv1', new OwnerIds()));
    expect(lines.filter((l) => l.startsWith('SpoofGuard') && !l.includes('PortSecured=1'))).toEqual(['SpoofGuard, priority=140, FromTunnel=0, vlan_vid=4096/0x1000 actions=drop', 'SpoofGuard, priority=100, in_port=5 actions=goto_table:ArpResponder']);
    // Nor the router guard's mark: it may be a router or a DHCP server.
    expect(lines.find((l) => l.startsWith('Classifier, priority=100, in_port=5'))).not.toContain('PortSecured');
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
      // + one flow per flood chunk (64 ofports) holding a local port.
      const chunks = new Set(ports.filter((p) => p.binding?.node === 'hv1').map((p) => Math.floor(p.binding!.ofport / 64))).size;
      // 7 pipeline flows, 7 router guards, the VLAN guard, 4 tunnel probe flows (reflect and to the controller, per tunnel port) and 2 tunnel guards, 5 of the network.
      expect(total).toBe(7 + 7 + 1 + 4 + 2 + 5 + chunks + (n / 2) * 6 + (n / 2) * 2);
    }
  });

  it('builds flows from shared, frozen parts where ports repeat them: about 6 objects per flow, not 12', () => {
    const ports = Array.from({ length: 200 }, (_, i) => port(`p${i}`, 'blue', 10 + i, i % 2 ? 'hv2' : 'hv1', { mac: mac(i), ips: [ip(i)] }));
    const ids = new OwnerIds();
    const c = compileNode(model([net('blue', 100)], ports), 'hv1', ids);
    const flowsOf = (p: PortModel) => c.owners.get(ownerKey(ids.portOwner(p.uid)))!.flows;
    // Two remote ports: the same actions toward the VTEP (one array) and the same ARP moves.
    const [r1, r2] = [flowsOf(ports[1]!), flowsOf(ports[3]!)];
    const l2 = (fs: DesiredFlow[]) => fs.find((f) => f.tableId === 5)!.instructions[0] as { actions: unknown[] };
    expect(l2(r1).actions).toBe(l2(r2).actions);
    const arp = (fs: DesiredFlow[]) => (fs.find((f) => f.tableId === 2)!.instructions[0] as { actions: unknown[] }).actions;
    expect(arp(r1)[0]).toBe(arp(r2)[0]);
    expect(r1[0]!.match[0]).toBe(r2[0]!.match[0]); // the network's register match
    // Shared means frozen: a change through one flow cannot reach the others.
    expect(() => (l2(r1).actions as unknown[]).push({})).toThrow(TypeError);
    expect(() => Object.assign(r1[0]!.match[0]!, { value: 7 })).toThrow(TypeError);
    // Object count: what a node's flows cost to hold (and a young-generation GC to copy).
    const seen = new Set<object>();
    const walk = (v: unknown): void => {
      if (v === null || typeof v !== 'object' || seen.has(v)) return;
      seen.add(v);
      for (const x of Object.values(v)) walk(x);
    };
    const all = [...c.owners.values()].flatMap((o) => o.flows);
    all.forEach(walk);
    expect(seen.size / all.length).toBeLessThan(7);
  });

  it('adding one port to a network of 1000 ports changes only a handful of flows', () => {
    const ports = Array.from({ length: 1000 }, (_, i) => port(`p${i}`, 'blue', 10 + i, i % 2 ? 'hv2' : 'hv1', { mac: mac(i), ips: [ip(i)] }));
    const ids = new OwnerIds();
    const before = compileNode(model([net('blue', 100)], ports), 'hv1', ids);
    // The next ofport (1010) falls in a flood chunk hv1 already has (960..1023).
    const added = () => port('new', 'blue', 1010, 'hv1', { mac: mac(2000), ips: [ip(2000)] });
    const after = compileNode(model([net('blue', 100)], [...ports, added()]), 'hv1', ids);
    const delta = flowDelta(before, after);
    expect(delta.changedOwners).toEqual([ownerKey(floodChunkOwner(100, 15)), ownerKey(ids.portOwner('new'))].sort());
    // 6 new flows for the port + its flood chunk's one flow now listing it; the network's flood flows stay.
    expect(delta.added).toBe(6 + 1);
    expect(delta.removed).toBe(1);
    // A port opening a new chunk also rewrites the network's two flood flows (once per 64 ofports).
    const opening = compileNode(model([net('blue', 100)], [...ports, port('new', 'blue', 2000, 'hv1', { mac: mac(2000), ips: [ip(2000)] })]), 'hv1', ids);
    expect(flowDelta(before, opening)).toMatchObject({ added: 6 + 1 + 2, removed: 2 });
    // On the other node the new port is remote: 2 flows, nothing else.
    const b2 = compileNode(model([net('blue', 100)], ports), 'hv2', ids);
    const a2 = compileNode(model([net('blue', 100)], [...ports, added()]), 'hv2', ids);
    expect(flowDelta(b2, a2)).toMatchObject({ added: 2, removed: 0 });
  });

  it('routes to a port declared on another node (expectedNode) before it is bound: its 2 remote flows only, nothing on its own node', () => {
    const declared = port('d', 'blue', 9, undefined, { expectedNode: 'hv2' });
    const m = model([net('blue', 100)], [port('a', 'blue', 5, 'hv1'), port('b', 'blue', 6, 'hv2'), declared]);
    const ids = new OwnerIds();
    const owner = ownerKey(ids.portOwner('d'));
    expect(compileNode(m, 'hv1', ids).owners.get(owner)?.flows.map(formatPipelineFlow)).toEqual([
      'ArpResponder, priority=100, Network=100, arp,arp_op=1,arp_tpa=10.0.0.9 actions=move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],set_field:02:00:00:00:00:09->eth_src,set_field:2->arp_op,move:NXM_NX_ARP_SHA[]->NXM_NX_ARP_THA[],set_field:02:00:00:00:00:09->arp_sha,move:NXM_OF_ARP_SPA[]->NXM_OF_ARP_TPA[],set_field:10.0.0.9->arp_spa,IN_PORT',
      'L2Lookup, priority=100, Network=100,FromTunnel=0, dl_dst=02:00:00:00:00:09 actions=set_field:198.18.0.2->tun_dst,set_field:0x64->tun_id,output:1',
    ]);
    // Bound there later: the remote flows on hv1 are the same (the plug adds flows on hv2 only).
    const bound = model([net('blue', 100)], [port('a', 'blue', 5, 'hv1'), port('b', 'blue', 6, 'hv2'), { ...declared, binding: { node: 'hv2', ofport: 9 } }]);
    expect(compileNode(bound, 'hv1', ids).owners.get(owner)?.flows).toEqual(compileNode(m, 'hv1', ids).owners.get(owner)?.flows);
    expect(compileNode(m, 'hv2', ids).owners.has(owner)).toBe(false);
    expect(compileNode(bound, 'hv2', ids).owners.get(owner)?.flows).toHaveLength(6);
  });

  it('allowed address pairs: a CIDR is a masked match (IPv4 and IPv6, /0 any address), and a pair twice, or repeating the port\'s own address, or "::", yields each flow once', () => {
    const m = model(
      [net('blue', 100)],
      [
        port('a', 'blue', 5, 'hv1', {
          ips: ['10.0.0.5', 'fd00::5'],
          allowedAddressPairs: [
            { ip: '10.0.0.64/28', mac: '02:00:00:00:00:05' },
            { ip: '10.0.0.50', mac: '02:00:00:00:00:05' },
            { ip: '10.0.0.50', mac: '02:00:00:00:00:05' },
            { ip: '10.0.0.5', mac: '02:00:00:00:00:05' },
            { ip: '10.0.0.77/32', mac: '02:00:00:00:00:05' },
            { ip: 'fd60::100/120', mac: '02:00:00:00:00:05' },
            { ip: '::', mac: '02:00:00:00:00:05' },
            { ip: '0.0.0.0/0', mac: '02:00:00:00:00:99' },
          ],
        }),
      ],
    );
    const flows = [...compileNode(m, 'hv1', new OwnerIds()).owners.values()].flatMap((o) => o.flows);
    const keys = flows.map((f) => flowKey(f.tableId, f.priority, f.match));
    expect(new Set(keys).size).toBe(keys.length);
    for (const f of flows) expect(() => checkMatch(f.match)).not.toThrow();
    const t = flows.map(formatPipelineFlow);
    expect(t).toContain('SpoofGuard, priority=100, in_port=5,dl_src=02:00:00:00:00:05,ip,nw_src=10.0.0.64/28 actions=goto_table:ArpResponder');
    expect(t).toContain('SpoofGuard, priority=100, in_port=5,dl_src=02:00:00:00:00:05,arp,arp_spa=10.0.0.64/28,arp_sha=02:00:00:00:00:05 actions=goto_table:ArpResponder');
    expect(t).toContain('SpoofGuard, priority=100, in_port=5,dl_src=02:00:00:00:00:05,ip,nw_src=10.0.0.77 actions=goto_table:ArpResponder');
    expect(t).toContain('SpoofGuard, priority=100, in_port=5,dl_src=02:00:00:00:00:99,ip actions=goto_table:ArpResponder');
    expect(t.filter((l) => l.includes('ipv6_src=fd60::100/ffff:ffff:ffff:ffff:ffff:ffff:ffff:ff00'))).not.toEqual([]);
    expect(t.filter((l) => l.includes('nw_src=10.0.0.50 '))).toHaveLength(1);
  });

  it('a pair MAC one port holds is an L2 entry to it on every node, below the ports\' own MACs; one several ports share goes to each of them and no other VM', () => {
    const l2 = (m: LogicalModel, node: string) => text(compileNode(m, node, new OwnerIds())).filter((l) => l.startsWith('L2Lookup, priority=90'));
    const vrrp = '00:00:5e:00:01:07';
    const alone = model(
      [net('blue', 100)],
      [
        // Also a broadcast pair MAC stored before admission refused it: never an L2 entry.
        port('a', 'blue', 5, 'hv1', { allowedAddressPairs: [{ ip: '10.0.0.50', mac: '02:00:00:00:00:aa' }, { ip: '10.0.0.51', mac: '02:00:00:00:00:AA' }, { ip: '10.0.0.52', mac: '02:00:00:00:00:05' }, { ip: '10.0.0.53', mac: 'ff:ff:ff:ff:ff:ff' }] }),
        port('b', 'blue', 6, 'hv2'),
      ],
    );
    expect(l2(alone, 'hv1')).toEqual(['L2Lookup, priority=90, Network=100, dl_dst=02:00:00:00:00:aa actions=output:5']);
    expect(l2(alone, 'hv2')).toEqual(['L2Lookup, priority=90, Network=100,FromTunnel=0, dl_dst=02:00:00:00:00:aa actions=set_field:198.18.0.1->tun_dst,set_field:0x64->tun_id,output:1']);
    const shared = model(
      [net('blue', 100), net('red', 200)],
      [
        port('a', 'blue', 5, 'hv1', { allowedAddressPairs: [{ ip: '10.0.0.50', mac: vrrp }] }),
        port('b', 'blue', 6, 'hv2', { allowedAddressPairs: [{ ip: '10.0.0.50', mac: vrrp }] }),
        // The same MAC in another network is another address space: held alone there.
        port('c', 'red', 7, 'hv1', { allowedAddressPairs: [{ ip: '10.0.0.50', mac: vrrp }] }),
      ],
    );
    expect(l2(shared, 'hv1')).toEqual([`L2Lookup, priority=90, Network=200, dl_dst=${vrrp} actions=output:7`]);
    expect(l2(shared, 'hv2')).toEqual([]);
    // More sharers than a flow should list: flooded in the network, as broadcast is (unknown unicast goes nowhere here).
    const many = model([net('blue', 100)], Array.from({ length: 65 }, (_, i) => port(`v${i}`, 'blue', 10 + i, 'hv1', { allowedAddressPairs: [{ ip: '10.0.0.250', mac: vrrp }] })));
    expect(text(compileNode(many, 'hv1', new OwnerIds())).filter((l) => l.includes(`dl_dst=${vrrp}`))).toEqual([`L2Lookup, priority=95, Network=100, dl_dst=${vrrp} actions=goto_table:Flood`]);
    // A pair naming another port's own MAC: no entry, not even while that port is unbound (QA-111 F4).
    const squat = model([net('blue', 100)], [port('own', 'blue', 9, undefined), port('sq', 'blue', 5, 'hv1', { allowedAddressPairs: [{ ip: '10.0.0.60', mac: '02:00:00:00:00:09' }] })]);
    expect(l2(squat, 'hv1')).toEqual([]);
    // Shared in blue: to every port declaring it (local, and the VTEP of a node with one), no other VM.
    const toHolders = (node: string) => text(compileNode(shared, node, new OwnerIds())).filter((l) => l.startsWith('L2Lookup, priority=95'));
    expect(toHolders('hv1')).toEqual([
      `L2Lookup, priority=95, Network=100,FromTunnel=0, dl_dst=${vrrp} actions=output:5,set_field:198.18.0.2->tun_dst,set_field:0x64->tun_id,output:1`,
      `L2Lookup, priority=95, Network=100,FromTunnel=1, dl_dst=${vrrp} actions=output:5`,
    ]);
    expect(toHolders('hv2')).toEqual([
      `L2Lookup, priority=95, Network=100,FromTunnel=0, dl_dst=${vrrp} actions=output:6,set_field:198.18.0.1->tun_dst,set_field:0x64->tun_id,output:1`,
      `L2Lookup, priority=95, Network=100,FromTunnel=1, dl_dst=${vrrp} actions=output:6`,
    ]);
  });

  it('unicast to a MAC nobody declared goes only toward ports without port security: nowhere when there are none, to the VTEPs of their nodes and the local ports where one is', () => {
    const three = (ports: PortModel[]): LogicalModel => {
      const m = model([net('blue', 100)], ports);
      (m.nodes as Map<string, NodeModel>).set('hv3', { name: 'hv3', tunnelIP: '198.18.0.3', tunnelPorts: { vxlan: 1, geneve: 2 } });
      return m;
    };
    const unknownFlows = (m: LogicalModel, node: string) => text(compileNode(m, node, new OwnerIds())).filter((l) => l.includes('dl_dst=00:00:00:00:00:00/01:00:00:00:00:00'));
    const secured = three([port('a', 'blue', 5, 'hv1'), port('b', 'blue', 6, 'hv2'), port('c', 'blue', 7, 'hv3')]);
    for (const node of ['hv1', 'hv2', 'hv3']) expect(unknownFlows(secured, node)).toEqual([
      'L2Lookup, priority=1, Network=100,FromTunnel=1, dl_dst=00:00:00:00:00:00/01:00:00:00:00:00 actions=drop',
      'L2Lookup, priority=1, Network=100,FromTunnel=0, dl_dst=00:00:00:00:00:00/01:00:00:00:00:00 actions=drop',
    ]);
    // c on hv3 has no port security (a VM answering from MACs vnetd was never told of).
    const open = three([port('a', 'blue', 5, 'hv1'), port('b', 'blue', 6, 'hv2'), port('c', 'blue', 7, 'hv3', { portSecurity: false })]);
    expect(unknownFlows(open, 'hv1')).toEqual([
      'L2Lookup, priority=1, Network=100,FromTunnel=1, dl_dst=00:00:00:00:00:00/01:00:00:00:00:00 actions=drop',
      // To hv3 only, not to hv2, whose ports all have port security; nor to hv1's own ports.
      'L2Lookup, priority=1, Network=100,FromTunnel=0, dl_dst=00:00:00:00:00:00/01:00:00:00:00:00 actions=set_field:198.18.0.3->tun_dst,set_field:0x64->tun_id,output:1',
    ]);
    expect(unknownFlows(open, 'hv3')).toEqual([
      'L2Lookup, priority=1, Network=100,FromTunnel=1, dl_dst=00:00:00:00:00:00/01:00:00:00:00:00 actions=load:0x1->UnknownChunk,load:0->FloodChunk,resubmit(,9)',
      'L2Lookup, priority=1, Network=100,FromTunnel=0, dl_dst=00:00:00:00:00:00/01:00:00:00:00:00 actions=load:0x1->UnknownChunk,load:0->FloodChunk,resubmit(,9)',
    ]);
    // There, to the ports without port security only: c, not d beside it in the same chunk.
    const withNeighbour = three([port('a', 'blue', 5, 'hv1'), port('c', 'blue', 7, 'hv3', { portSecurity: false }), port('d', 'blue', 8, 'hv3')]);
    expect(text(compileNode(withNeighbour, 'hv3', new OwnerIds())).filter((l) => l.startsWith('FloodChunk'))).toEqual([
      'FloodChunk, priority=100, Network=100,FloodChunk=0 actions=output:7,output:8',
      'FloodChunk, priority=110, Network=100,FloodChunk=0,UnknownChunk=1 actions=output:7',
    ]);
    // Broadcast still reaches every port and VTEP of the network (L2Lookup's miss, then Flood), and known MACs their port.
    const hv1 = text(compileNode(open, 'hv1', new OwnerIds()));
    expect(hv1).toContain('L2Lookup, priority=0 actions=goto_table:Flood');
    expect(hv1).toContain('Flood, priority=100, Network=100 actions=load:0->FloodChunk,resubmit(,9),set_field:198.18.0.2->tun_dst,set_field:0x64->tun_id,output:1,set_field:198.18.0.3->tun_dst,set_field:0x64->tun_id,output:1');
    expect(hv1).toContain('L2Lookup, priority=100, Network=100, dl_dst=02:00:00:00:00:05 actions=output:5');
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
    backends: backends.map((n) => ({ name: `p${n}`, ip: `10.0.0.${n}`, mac: `02:00:00:00:00:${n.toString(16).padStart(2, '0')}`, weight: 1, healthy: true })),
    ...extra,
  });
  const ports = () => [port('a', 'blue', 5, 'hv1'), port('b', 'blue', 6, 'hv2'), port('c', 'blue', 7, 'hv2')];
  const lbText = (c: NodeCompilation, ids: OwnerIds): string[] => c.owners.get(ownerKey(ids.lbOwner('lb1')))!.flows.map(formatPipelineFlow);
  /** slot -> backend IP, from the LbSlot flows. */
  const slotsOf = (flows: string[]): Map<number, string> => {
    const out = new Map<number, string>();
    for (const f of flows) {
      const m = /^LbSlot, .*LbSlot=(\d+).* actions=load:(0x[0-9a-f]+)->LbBackend/.exec(f);
      if (m) {
        const n = Number(m[2]);
        out.set(Number(m[1]), [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.'));
      }
    }
    return out;
  };

  it('compiles a VIP with backends into golden flows: slot hash, slot table, DNAT per backend; no groups', () => {
    const ids = new OwnerIds();
    const c = compileNode(model([net('blue', 100)], ports(), [lb([5, 6, 7])]), 'hv1', ids);
    const o = c.owners.get(ownerKey(ids.lbOwner('lb1')))!;
    expect(o.label).toBe('loadbalancer t/lb1');
    const m = lbMac('lb1');
    expect(m).toMatch(/^02:4c:42:[0-9a-f]{2}:[0-9a-f]{2}:[0-9a-f]{2}$/);
    const t = o.flows.map(formatPipelineFlow);
    expect(t.filter((l) => !l.startsWith('LbSlot'))).toEqual([
      `ArpResponder, priority=100, Network=100, arp,arp_op=1,arp_tpa=10.0.0.100 actions=move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],set_field:${m}->eth_src,set_field:2->arp_op,move:NXM_NX_ARP_SHA[]->NXM_NX_ARP_THA[],set_field:${m}->arp_sha,move:NXM_OF_ARP_SPA[]->NXM_OF_ARP_TPA[],set_field:10.0.0.100->arp_spa,IN_PORT`,
      `LbNat, priority=110, Network=100, ct_state=+new+trk,tcp,nw_dst=10.0.0.100,tp_dst=80 actions=multipath(symmetric_l3l4+udp,0,modulo_n,256,0,LbSlot),goto_table:LbSlot`,
      ...[5, 6, 7].map((n) => `LbDnat, priority=100, Network=100,LbBackend=${167772160 + n}, tcp,nw_dst=10.0.0.100,tp_dst=80 actions=ct(commit,table=LbNat,zone=101,nat(dst=10.0.0.${n}:8080))`),
      ...[5, 6, 7].map((n) => `LbNat, priority=100, Network=100, ct_state=+trk,dl_dst=${m},ip,nw_dst=10.0.0.${n} actions=set_field:02:00:00:00:00:0${n}->eth_dst,goto_table:L2Lookup`),
      // Hairpin: a backend dealt its own connection to the VIP is also SNATed to the VIP.
      ...[5, 6, 7].flatMap((n) => [
        `LbNat, priority=105, Network=100, ct_state=-rpl+trk,dl_dst=${m},ip,nw_src=10.0.0.${n},nw_dst=10.0.0.${n} actions=ct_clear,ct(commit,table=LbNat,zone=101,nat(src=10.0.0.100))`,
        `LbNat, priority=105, Network=100, ct_state=+rpl+trk,dl_dst=${m},ip,nw_src=10.0.0.${n},nw_dst=10.0.0.${n} actions=ct_clear,ct(table=LbNat,zone=101,nat)`,
        `LbNat, priority=105, Network=100, ct_state=+trk,dl_dst=${m},ip,nw_src=10.0.0.100,nw_dst=10.0.0.${n} actions=set_field:${m}->eth_src,set_field:02:00:00:00:00:0${n}->eth_dst,IN_PORT`,
      ]),
      // A local client's new connection to a port of the VIP no listener has: refused, not left to time out (QA-128 F5).
      ...['tcp', 'udp', 'sctp'].map((p) => `LbNat, priority=91, Network=100,FromTunnel=0, ct_state=+new+trk,dl_dst=${m},${p},nw_frag=no,nw_dst=10.0.0.100 actions=meter:1,CONTROLLER:128`),
      `LbNat, priority=90, Network=100, dl_dst=${m} actions=drop`,
    ]);
    const slots = t.filter((l) => l.startsWith('LbSlot'));
    expect(slots).toHaveLength(LB_SLOTS);
    expect(slots[0]).toMatch(/^LbSlot, priority=100, Network=100,LbSlot=0, ip,nw_dst=10.0.0.100 actions=load:0xa00000[567]->LbBackend,goto_table:LbDnat$/);
    // Every backend gets a fair share of the slots.
    const share = new Map<string, number>();
    for (const ip of slotsOf(t).values()) share.set(ip, (share.get(ip) ?? 0) + 1);
    expect([...share.keys()].sort()).toEqual(['10.0.0.5', '10.0.0.6', '10.0.0.7']);
    for (const n of share.values()) expect(n).toBeGreaterThan(LB_SLOTS / 3 - 25);
    expect(o.groups).toEqual([]);
    // The network sends its IP through conntrack, tunnel traffic included.
    const netFlows = c.owners.get(ownerKey(networkOwner(100)))!.flows.map(formatPipelineFlow);
    expect(netFlows).toContain('Classifier, priority=100, in_port=1,tun_id=0x64 actions=load:0x64->Network,load:0x1->FromTunnel,goto_table:LbVip');
    expect(netFlows).toContain('LbVip, priority=100, Network=100, ip actions=ct(table=LbNat,zone=101,nat)');
    expect(c.realizes.get('lb1')).toBe('1');
    for (const f of o.flows) expect(() => checkMatch(f.match)).not.toThrow();
    // goto_table only ever goes forward (OpenFlow refuses a backward goto).
    for (const f of o.flows) for (const i of f.instructions) if (i.type === 'goto_table') expect(i.tableId).toBeGreaterThan(f.tableId);
  });

  it('is installed only where its network is present; flow count is 5 + listeners x (1 + backends) + slots + 4 x backends', () => {
    const ids = new OwnerIds();
    const m = model([net('blue', 100), net('red', 200)], [port('a', 'blue', 5, 'hv1'), port('r', 'red', 6, 'hv2')], [lb([5, 6, 7])]);
    expect(compileNode(m, 'hv2', ids).realizes.has('lb1')).toBe(false);
    const c = compileNode(m, 'hv1', ids);
    expect(c.owners.get(ownerKey(ids.lbOwner('lb1')))!.flows).toHaveLength(5 + 1 * (1 + 3) + LB_SLOTS + 4 * 3);
  });

  it('removing a backend changes only the LB owner and moves only the slots it had', () => {
    const ids = new OwnerIds();
    const before = compileNode(model([net('blue', 100)], ports(), [lb([5, 6, 7])]), 'hv1', ids);
    const after = compileNode(model([net('blue', 100)], ports(), [lb([5, 7], { version: '2' })]), 'hv1', ids);
    const d = flowDelta(before, after);
    expect(d.changedOwners).toEqual([ownerKey(ids.lbOwner('lb1'))]);
    const a = slotsOf(lbText(before, ids));
    const b = slotsOf(lbText(after, ids));
    const moved = [...a].filter(([s, ip]) => b.get(s) !== ip);
    expect(moved.length).toBeGreaterThan(0);
    // Only 10.0.0.6's slots changed hands; everyone else's stayed put.
    expect(moved.every(([, ip]) => ip === '10.0.0.6')).toBe(true);
    expect([...b.values()]).not.toContain('10.0.0.6');
    // One DNAT flow, one MAC flow, three hairpin flows fewer, and one rewritten slot flow per moved slot.
    expect(d).toMatchObject({ added: moved.length, removed: moved.length + 5 });
  });

  it('a VIP with more than 4 backends gets a larger table (64 slots or more each), sized by all its backends, healthy or not', () => {
    const ids = new OwnerIds();
    const many = Array.from({ length: 20 }, (_, i) => 10 + i);
    const big = lb(many);
    // Five unhealthy: the table keeps its size (a health change never re-deals every slot),
    // and their slots go to the others, nobody else's moving.
    const withSick = { ...big, backends: big.backends.map((b, i) => (i < 5 ? { ...b, healthy: false } : b)) };
    const tables = [big, withSick].map((m) => {
      const t = lbText(compileNode(model([net('blue', 100)], ports(), [m]), 'hv1', ids), ids);
      expect(t).toContain('LbNat, priority=110, Network=100, ct_state=+new+trk,tcp,nw_dst=10.0.0.100,tp_dst=80 actions=multipath(symmetric_l3l4+udp,0,modulo_n,2048,0,LbSlot),goto_table:LbSlot');
      const slots = slotsOf(t);
      expect([...slots.keys()].sort((x, y) => x - y)).toEqual(Array.from({ length: 2048 }, (_, s) => s));
      const share = new Map<string, number>();
      for (const ip of slots.values()) share.set(ip, (share.get(ip) ?? 0) + 1);
      const healthy = m === big ? 20 : 15;
      expect(share.size).toBe(healthy);
      for (const n of share.values()) expect(n / (2048 / healthy)).toBeGreaterThan(0.6);
      return slots;
    });
    const sickIps = big.backends.slice(0, 5).map((b) => b.ip);
    for (const [s, ip] of tables[0]!) if (!sickIps.includes(ip)) expect(tables[1]!.get(s)).toBe(ip);
    // The reconciler's count (the spec's backends) is the one used when given.
    const t = lbText(compileNode(model([net('blue', 100)], ports(), [{ ...big, slots: 4096 }]), 'hv1', ids), ids);
    expect(slotsOf(t).size).toBe(4096);
    // The slot register is 16 bits wide: slot 4095 matches as itself, not as 255.
    expect(t.some((l) => l.startsWith('LbSlot, priority=100, Network=100,LbSlot=4095, '))).toBe(true);
  });

  it('unhealthy backends get no new connections but keep their MAC flow; none healthy refuses new connections (local clients\' through the controller, the rest dropped)', () => {
    const ids = new OwnerIds();
    const sick = lb([5, 6, 7]);
    const t = lbText(compileNode(model([net('blue', 100)], ports(), [{ ...sick, backends: sick.backends.map((b) => (b.ip === '10.0.0.6' ? { ...b, healthy: false } : b)) }]), 'hv1', ids), ids);
    expect(new Set(slotsOf(t).values())).toEqual(new Set(['10.0.0.5', '10.0.0.7']));
    expect(t.filter((l) => l.startsWith('LbDnat') && l.includes('nat(dst=10.0.0.6'))).toEqual([]);
    expect(t.some((l) => l.includes('nw_dst=10.0.0.6 actions=set_field:02:00:00:00:00:06->eth_dst'))).toBe(true);
    const none = lbText(compileNode(model([net('blue', 100)], ports(), [{ ...sick, backends: sick.backends.map((b) => ({ ...b, healthy: false })) }]), 'hv1', ids), ids);
    expect(none).toContain('LbNat, priority=110, Network=100, ct_state=+new+trk,tcp,nw_dst=10.0.0.100,tp_dst=80 actions=drop');
    // ...except a local client's, which goes to the controller to be refused (RST / ICMP port unreachable).
    expect(none.filter((l) => l.includes('CONTROLLER') && l.includes('tp_dst'))).toEqual([expect.stringMatching(/^LbNat, priority=111, Network=100,FromTunnel=0, ct_state=\+new\+trk,tcp,nw_dst=10\.0\.0\.100,tp_dst=80 actions=meter:1,CONTROLLER:128$/)]);
    expect(none.filter((l) => l.startsWith('LbSlot') || l.startsWith('LbDnat'))).toEqual([]);
  });

  it('session affinity ClientIP hashes the client address only', () => {
    const ids = new OwnerIds();
    const t = lbText(compileNode(model([net('blue', 100)], ports(), [lb([5, 6], { sessionAffinity: 'ClientIP' })]), 'hv1', ids), ids);
    expect(t).toContain('LbNat, priority=110, Network=100, ct_state=+new+trk,tcp,nw_dst=10.0.0.100,tp_dst=80 actions=multipath(nw_src,0,modulo_n,256,0,LbSlot),goto_table:LbSlot');
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

describe('lbSlotCount', () => {
  it('is 256 up to 4 backends, then a power of two with at least 64 slots per backend, at most 8192', () => {
    expect([0, 1, 4, 5, 8, 9, 16, 17, 32, 33, 64, 65, 128, 129, 5000].map(lbSlotCount)).toEqual([256, 256, 256, 512, 512, 1024, 1024, 2048, 2048, 4096, 4096, 8192, 8192, 8192, 8192]);
  });
});

describe('lbTableSize', () => {
  it('never shrinks below the size recorded in status, and ignores a recorded size that is no table size', () => {
    expect([lbTableSize(5), lbTableSize(4, 512), lbTableSize(4), lbTableSize(5, 256), lbTableSize(100, 512), lbTableSize(2, 8192)]).toEqual([512, 512, 256, 512, 8192, 8192]);
    expect([1000, 16384, 128, -512, 0.5].map((bad) => lbTableSize(2, bad))).toEqual([256, 256, 256, 256, 256]);
  });

  it('removing backends across a power of two with the size kept moves only their slots; without it, most slots', () => {
    const five = Array.from({ length: 5 }, (_, i) => ({ key: `10.1.0.${i + 1}`, weight: 1 }));
    const four = five.filter((x) => x.key !== '10.1.0.3');
    const before = dealSlots(five, lbTableSize(5)).map((i) => five[i]!.key);
    const kept = dealSlots(four, lbTableSize(4, lbTableSize(5))).map((i) => four[i]!.key);
    before.forEach((k, s) => expect(k === '10.1.0.3' ? kept[s] !== k : kept[s] === k).toBe(true));
    // At 256 slots, a connection's slot is its hash mod 256: the one of slot s + 256 moves to s.
    const shrunk = dealSlots(four, lbTableSize(4)).map((i) => four[i]!.key);
    const moved = before.filter((k, s) => k !== '10.1.0.3' && shrunk[s % 256] !== k).length;
    expect(moved / before.length).toBeGreaterThan(0.25);
  });
});

describe('dealSlots (rendezvous hashing)', () => {
  const bs = (n: number, weight = 1) => Array.from({ length: n }, (_, i) => ({ key: `10.1.0.${i + 1}`, weight }));

  it('does not depend on the order of the backends', () => {
    const a = bs(5);
    const keys = (list: typeof a) => dealSlots(list).map((i) => list[i]!.key);
    expect(keys([...a].reverse())).toEqual(keys(a));
  });

  it('removing one of n moves only its slots; adding one takes about 1/(n+1) from each', () => {
    const a = bs(4);
    const before = dealSlots(a).map((i) => a[i]!.key);
    const fewer = a.filter((b) => b.key !== '10.1.0.2');
    const after = dealSlots(fewer).map((i) => fewer[i]!.key);
    before.forEach((k, s) => {
      if (k !== '10.1.0.2') expect(after[s]).toBe(k);
      else expect(after[s]).not.toBe(k);
    });
    const more = [...a, { key: '10.1.0.99', weight: 1 }];
    const grown = dealSlots(more).map((i) => more[i]!.key);
    grown.forEach((k, s) => expect(k === before[s] || k === '10.1.0.99').toBe(true));
    const taken = grown.filter((k) => k === '10.1.0.99').length;
    expect(taken).toBeGreaterThan(LB_SLOTS / 5 - 25);
    expect(taken).toBeLessThan(LB_SLOTS / 5 + 25);
  });

  it('follows the weights and skips weight 0', () => {
    const list = [{ key: 'a', weight: 3 }, { key: 'b', weight: 1 }, { key: 'z', weight: 0 }];
    const d = dealSlots(list);
    const a = d.filter((i) => i === 0).length;
    expect(d).not.toContain(2);
    expect(a / LB_SLOTS).toBeGreaterThan(0.65);
    expect(a / LB_SLOTS).toBeLessThan(0.85);
    expect(dealSlots([])).toEqual(new Array(LB_SLOTS).fill(-1));
  });

  it('spreads load better in the larger table a VIP with many backends gets, and still moves only the slots of a backend that goes', () => {
    const spread = (n: number, slots: number, weight: (i: number) => number) => {
      const list = Array.from({ length: n }, (_, i) => ({ key: `10.3.${i >> 8}.${i & 255}`, weight: weight(i) }));
      const total = list.reduce((sum, b) => sum + b.weight, 0);
      const got = list.map(() => 0);
      for (const i of dealSlots(list, slots)) got[i]!++;
      const norm = got.map((g, i) => g / ((slots * list[i]!.weight) / total));
      return Math.max(...norm) / Math.min(...norm);
    };
    // 256 slots over 10 / 100 backends: the busiest got 1.7-2 / 5-20 times the least busy's share.
    const figures = [10, 100].flatMap((n) => [1, 0].map((equal) => {
      const w = (i: number) => (equal ? 1 : 1 + (i % 4));
      return { n, equal: !!equal, at256: spread(n, 256, w), sized: spread(n, lbSlotCount(n), w) };
    }));
    // Rendezvous deals each slot on its own: a backend's count varies by about 1/sqrt(its
    // slots), so weight-1 backends among weights 1..4 (41 slots each at 10 backends) vary most.
    for (const f of figures) expect([f, f.sized < (f.n === 10 ? 1.9 : 2.5)]).toEqual([f, true]);
    for (const f of figures.filter((x) => x.n === 100)) expect([f, f.at256 > 4 && f.sized < f.at256 / 2]).toEqual([f, true]);
    const list = bs(100);
    const before = dealSlots(list, lbSlotCount(100)).map((i) => list[i]!.key);
    const fewer = list.filter((b) => b.key !== '10.1.0.42');
    const after = dealSlots(fewer, lbSlotCount(100)).map((i) => fewer[i]!.key);
    before.forEach((k, s) => expect(k === '10.1.0.42' ? after[s] !== k : after[s] === k).toBe(true));
  });

  it('gives every weighted backend a slot, however small its weight (QA: weights 100/100/1 left the last with none), still independent of order', () => {
    for (const weights of [[100, 100, 1], [100, 100, 2], [50, 50, 1], [100, 1, 1, 1]]) {
      const list = weights.map((weight, i) => ({ key: `10.2.0.${i + 1}`, weight }));
      const d = dealSlots(list);
      for (let i = 0; i < list.length; i++) expect(d.filter((x) => x === i).length).toBeGreaterThanOrEqual(1);
      expect(dealSlots([...list].reverse()).map((i) => [...list].reverse()[i]!.key)).toEqual(d.map((i) => list[i]!.key));
    }
    // More backends than slots: each slot has one, the rest none.
    const many = bs(LB_SLOTS + 10);
    expect(new Set(dealSlots(many)).size).toBe(LB_SLOTS);
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

