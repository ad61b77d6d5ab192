import type { HypervisorNode, LoadBalancer, VirtualNetwork, VirtualPort } from '../../resources/kinds';
import { logicalPath, parseTarget, type TraceInput } from './trace-logical';
import { afterDnat, deliveryMismatch, matchBuckets, parseGroupBuckets, summarizeOvsTrace } from './trace-ovs';

const port = (name: string, ip: string, node: string, ofport?: number): VirtualPort =>
  ({ apiVersion: 'vnet.dev/v1alpha1', kind: 'VirtualPort', metadata: { name }, spec: { network: 'blue', node, mac: `0a:58:00:00:00:${ip.split('.')[3]!.padStart(2, '0')}`, ips: [ip] }, status: { ofport, node } }) as VirtualPort;
const network = { apiVersion: 'vnet.dev/v1alpha1', kind: 'VirtualNetwork', metadata: { name: 'blue' }, spec: { subnets: [{ cidr: '10.0.0.0/24' }], vni: 77 } } as VirtualNetwork;
const nodes = [{ metadata: { name: 'hv1' }, spec: { tunnelIP: '192.168.1.1' } }, { metadata: { name: 'hv2' }, spec: { tunnelIP: '192.168.1.2' } }] as HypervisorNode[];
const lb = {
  metadata: { name: 'web', uid: 'u1' },
  spec: { network: 'blue', vip: '10.0.0.100', listeners: [{ protocol: 'TCP', port: 80, targetPort: 8080 }], backends: [{ port: 'b1' }, { port: 'b2' }] },
  status: { vip: '10.0.0.100', backends: [{ name: 'b1', healthy: true }, { name: 'b2', healthy: false }] },
} as LoadBalancer;
const a = port('a', '10.0.0.2', 'hv1', 3);
const ports = [a, port('b', '10.0.0.3', 'hv2', 4), port('b1', '10.0.0.4', 'hv1', 5), port('b2', '10.0.0.5', 'hv2', 6)];
const input = (to: string, proto: TraceInput['proto']): TraceInput => ({ from: a, network, ports, lbs: [lb], nodes, to: parseTarget(to), proto });

describe('trace: logical path', () => {
  it('tunnels to the remote node VTEP with the VNI', () => {
    const p = logicalPath(input('10.0.0.3', 'icmp'));
    expect(p.deliver).toBe(true);
    expect(p.dstMac).toBe('0a:58:00:00:00:03');
    expect(p.lines.join('\n')).toMatch(/port b on node hv2: tunnel \(vxlan, VNI 77\) to VTEP 192\.168\.1\.2/);
  });
  it('load balancer: lists only healthy backends; no listener or icmp to the VIP drops', () => {
    const p = logicalPath(input('10.0.0.100:80', 'tcp'));
    expect(p.deliver).toBe(true);
    expect(p.lines.join('\n')).toMatch(/DNAT to b1 10\.0\.0\.4:8080, its only healthy backend \(left out as unhealthy: b2\)/);
    expect(p.lb?.choices).toEqual([{ backend: 'b1', ip: '10.0.0.4', targetPort: 8080, weight: 1, delivery: { kind: 'local', port: 'b1', ofport: 5 } }]);
    // A bucket OVS still has for the unhealthy backend is named as such.
    const stale = matchBuckets(p.lb!, [{ index: 1, weight: 1, actions: 'ct(nat(dst=10.0.0.5:8080))', natIp: '10.0.0.5', natPort: 8080 }]);
    expect(stale.checks[0]!.mismatches).toEqual(['OVS can send new connections to 10.0.0.5, which is not a backend the logical model uses (the status reports it unhealthy)']);
    expect(p.lines.join('\n')).toMatch(/local port b1 on node hv1 \(ofport 5\)/);
    expect(logicalPath(input('10.0.0.100:81', 'tcp')).deliver).toBe(false);
    expect(logicalPath(input('10.0.0.100:80', 'udp')).deliver).toBe(false);
    expect(logicalPath(input('10.0.0.100', 'icmp')).deliver).toBe(false);
  });
  it('drops outside the subnets and to unknown addresses; a missing network drops', () => {
    const off = logicalPath(input('10.1.0.1', 'icmp'));
    expect(off.deliver).toBe(false);
    expect(off.dstMac).toBeUndefined();
    expect(logicalPath(input('10.0.0.50', 'icmp')).lines.join('\n')).toMatch(/no port of blue has 10\.0\.0\.50/);
    expect(logicalPath({ ...input('10.0.0.3', 'icmp'), network: undefined }).lines.join('\n')).toMatch(/blue does not exist: drop/);
  });
  it('parses --to', () => {
    expect(parseTarget('10.0.0.1:80')).toEqual({ ip: '10.0.0.1', port: 80 });
    expect(() => parseTarget('10.0.0.300')).toThrow(/expected an IPv4 address/);
    expect(() => parseTarget('10.0.0.1:0')).toThrow(/outside 1-65535/);
  });
});

describe('trace: ofproto/trace summary', () => {
  it('names the tables and reads the final datapath actions', () => {
    const text = ' 0. in_port=3, priority 100\n    goto_table:1\n 1. reg0=0x1, priority 100\n    goto_table:5\n 5. dl_dst=0a:58:00:00:00:03\n    output:4\n\nFinal flow: unchanged\nDatapath actions: 4\n';
    expect(summarizeOvsTrace(text)).toEqual({ tables: ['Classifier', 'SpoofGuard', 'L2Lookup'], actions: '4', deliver: true, outputs: [4], tunnelDsts: [], groups: [] });
    expect(summarizeOvsTrace(' 0. in_port=3\n    drop\nDatapath actions: drop\n').deliver).toBe(false);
    expect(summarizeOvsTrace(' 4. priority 1\nDatapath actions: hash(sym_l4(0)),recirc(0x6)\n').deliver).toBeUndefined();
    expect(summarizeOvsTrace('Datapath actions: ct(zone=1),recirc(0x1)\n\nDatapath actions: set(tunnel(dst=1.2.3.4)),2\n').deliver).toBe(true);
  });
});

describe('trace: through a VIP', () => {
  const all = { ...lb, status: { vip: '10.0.0.100' } } as LoadBalancer;
  const vipInput = (): TraceInput => ({ ...input('10.0.0.100:80', 'tcp'), lbs: [all] });

  it('says the backend depends on the hash and where each one ends', () => {
    const p = logicalPath(vipInput());
    expect(p.lines.join('\n')).toMatch(/one of 2 backends, which one depends on the hash of the 5-tuple/);
    expect(p.lb?.choices.map((c) => c.delivery)).toEqual([
      { kind: 'local', port: 'b1', ofport: 5 },
      { kind: 'tunnel', port: 'b2', node: 'hv2', vtep: '192.168.1.2' },
    ]);
  });

  it('leaves out backends no port has, as the pipeline does', () => {
    const withIp = { ...all, spec: { ...all.spec!, backends: [{ port: 'b1' }, { ip: '10.0.0.77' }, { ip: '10.0.0.5' }] } } as LoadBalancer;
    const p = logicalPath({ ...vipInput(), lbs: [withIp] });
    expect(p.lb?.choices.map((c) => c.backend)).toEqual(['b1', '10.0.0.5']);
    expect(p.lb?.unresolved).toEqual(['10.0.0.77']);
  });

  const dump =
    'OFPST_GROUP_DESC reply (OF1.3) (xid=0x2):\n group_id=7,type=select,bucket=actions=ct(commit,table=4,zone=64994,nat(dst=10.0.0.4:8080)),bucket=weight:3,actions=ct(commit,table=4,zone=64994,nat(dst=10.0.0.9:8080))\n group_id=8,type=select,bucket=actions=drop\n';

  it('reads a select group\'s buckets from dump-groups', () => {
    expect(parseGroupBuckets(dump, 7)).toEqual([
      { index: 0, weight: 1, actions: 'ct(commit,table=4,zone=64994,nat(dst=10.0.0.4:8080))', natIp: '10.0.0.4', natPort: 8080 },
      { index: 1, weight: 3, actions: 'ct(commit,table=4,zone=64994,nat(dst=10.0.0.9:8080))', natIp: '10.0.0.9', natPort: 8080 },
    ]);
    expect(parseGroupBuckets(dump, 8)).toEqual([{ index: 0, weight: 1, actions: 'drop', natIp: undefined, natPort: undefined }]);
    expect(parseGroupBuckets(dump, 9)).toBeUndefined();
  });

  it('names buckets the logical model does not have and backends without a bucket', () => {
    const p = logicalPath(vipInput());
    const { checks, missing } = matchBuckets(p.lb!, parseGroupBuckets(dump, 7)!);
    expect(checks[0]).toMatchObject({ backend: 'b1', mismatches: [] });
    expect(checks[1]!.mismatches).toEqual(['OVS can send new connections to 10.0.0.9, which is not a backend the logical model uses']);
    expect(missing).toEqual(['b2']);
  });

  it('compares where OVS ends a bucket\'s packet with the logical delivery', () => {
    const out = (outputs: number[], tunnelDsts: string[] = []) => ({ tables: [], actions: outputs.length ? '3' : 'drop', deliver: outputs.length > 0, outputs, tunnelDsts, groups: [] });
    expect(deliveryMismatch({ kind: 'local', port: 'b1', ofport: 5 }, out([5]))).toBeUndefined();
    expect(deliveryMismatch({ kind: 'local', port: 'b1', ofport: 5 }, out([6]))).toMatch(/to port b1 \(ofport 5\) but OVS sends it to output to ofport 6/);
    expect(deliveryMismatch({ kind: 'local', port: 'b1', ofport: 5 }, out([]))).toMatch(/delivers it to local port b1 but OVS drops it/);
    expect(deliveryMismatch({ kind: 'tunnel', port: 'b2', node: 'hv2', vtep: '192.168.1.2' }, out([1], ['192.168.1.2']))).toBeUndefined();
    expect(deliveryMismatch({ kind: 'tunnel', port: 'b2', node: 'hv2', vtep: '192.168.1.2' }, out([1], ['192.168.1.3']))).toMatch(/VTEP 192\.168\.1\.2 but OVS sends it to .*tunnel destination 192\.168\.1\.3/);
    expect(deliveryMismatch({ kind: 'drop', why: 'x' }, out([1]))).toMatch(/drops it \(x\) but OVS delivers it/);
  });

  it('rewrites the destination as a bucket\'s DNAT does', () => {
    expect(afterDnat('in_port=3,tcp,nw_src=10.0.0.2,nw_dst=10.0.0.100,nw_ttl=64,tp_src=40000,tp_dst=80', '10.0.0.4', 8080)).toBe('in_port=3,tcp,nw_src=10.0.0.2,nw_dst=10.0.0.4,nw_ttl=64,tp_src=40000,tp_dst=8080');
  });

  it('reads OpenFlow outputs, tunnel destinations and groups from a trace', () => {
    const text = ' 4. ct_state=+new+trk, priority 110\n    group:7\n     -> no live bucket\n 5. dl_dst=0a:58:00:00:00:05, priority 100\n    set_field:192.168.1.2->tun_dst\n    set_field:0x4d->tun_id\n    output:1\nDatapath actions: set(tunnel(dst=192.168.1.2)),2\n';
    expect(summarizeOvsTrace(text)).toMatchObject({ outputs: [1], tunnelDsts: ['192.168.1.2'], groups: [7], deliver: true });
    // After a tunnel output the trace continues into the underlay bridge: not the pipeline's tables.
    const tunnel = 'bridge("br-int")\n 5. dl_dst=0a:58:00:00:00:05, priority 100\n    set_field:198.18.0.2->tun_dst\n    output:2\n     -> output to native tunnel\n\n        bridge("br-phy")\n        ----------------\n         0. priority 0\n            output:1\nDatapath actions: tnl_push(...),3\n';
    expect(summarizeOvsTrace(tunnel)).toMatchObject({ tables: ['L2Lookup'], outputs: [2], tunnelDsts: ['198.18.0.2'], deliver: true });
  });
});
