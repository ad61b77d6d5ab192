import type { HypervisorNode, LoadBalancer, VirtualNetwork, VirtualPort } from '../../resources/kinds';
import { logicalPath, parseTarget, summarizeOvsTrace, type TraceInput } from './trace';

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
    expect(p.lines.join('\n')).toMatch(/one of 1 backend\(s\).*b1 10\.0\.0\.4:8080/);
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
    expect(summarizeOvsTrace(text)).toEqual({ tables: ['Classifier', 'SpoofGuard', 'L2Lookup'], actions: '4', deliver: true });
    expect(summarizeOvsTrace(' 0. in_port=3\n    drop\nDatapath actions: drop\n').deliver).toBe(false);
    expect(summarizeOvsTrace(' 4. priority 1\nDatapath actions: hash(sym_l4(0)),recirc(0x6)\n').deliver).toBeUndefined();
    expect(summarizeOvsTrace('Datapath actions: ct(zone=1),recirc(0x1)\n\nDatapath actions: set(tunnel(dst=1.2.3.4)),2\n').deliver).toBe(true);
  });
});
