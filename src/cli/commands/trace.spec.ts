import type { HypervisorNode, LoadBalancer, VirtualNetwork, VirtualPort } from '../../resources/kinds';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildProgram } from '../program';
import { LB_SLOTS } from '../../pipeline/load-balancer';
import { natOf, parseLbDnats, parseLbPick, parseLbSlots } from './trace-lb-flows';
import { ipv6RegisterNames } from './trace-lb';
import { checkLbFlows, pickReport } from './trace-lb-match';
import { deliveriesOf, pathTrouble, traceExitCode } from './trace';
import { EXIT_ERROR, EXIT_OK } from '../errors';
import { linkLocalOf } from '../../pipeline/port-security-v6';
import { logicalPath, macOf, parseSrcIp, parseSrcMac, parseSrcPort, parseTarget, type LogicalLb, type TraceInput } from './trace-logical';
import { renderTraceText, whereOvs, type TraceReport } from './trace-report';
import { afterDnat, deliveryMismatch, ovsFlow, summarizeOvsTrace } from './trace-ovs';

/** Captured on the demo (vnetctl demo up, OVS 3.1): VIP 10.99.0.6:80 -> b1 10.99.0.4, b2 10.99.0.5 :8080, VNI 0x4547f0. */
const captured = (name: string) => readFileSync(join(__dirname, 'testdata', name), 'utf8');

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

describe('trace: what the nodes on the path report', () => {
  const down = (name: string, conditions: Array<{ type: string; status: string; reason: string; message: string }>) => ({ ...nodes.find((n) => n.metadata.name === name)!, status: { conditions } }) as HypervisorNode;
  it('names a cut tunnel or a switch that does not answer on the path, which the flow tables cannot show (QA-93: "OVS agrees ... (deliver)")', () => {
    const cut = [
      down('hv1', [{ type: 'Ready', status: 'True', reason: 'Connected', message: '' }, { type: 'TunnelsUp', status: 'False', reason: 'NoProbeAnswered', message: 'no tunnel probe answered by hv2 for 15 s' }]),
      down('hv2', [{ type: 'Ready', status: 'False', reason: 'SwitchUnreachable', message: 'ovs-vswitchd does not answer' }]),
    ];
    const delivery = logicalPath({ ...input('10.0.0.3', 'icmp'), nodes: cut }).delivery;
    expect(pathTrouble(cut, 'hv1', [{ delivery: delivery! }])).toEqual([
      'node hv2 is Ready=False SwitchUnreachable: ovs-vswitchd does not answer',
      'node hv1 is TunnelsUp=False NoProbeAnswered: no tunnel probe answered by hv2 for 15 s',
    ]);
    // Delivered on the same node: a tunnel's trouble is not this packet's.
    expect(pathTrouble(cut, 'hv1', [{ delivery: logicalPath({ ...input('10.0.0.4', 'icmp'), nodes: cut }).delivery! }])).toEqual([]);
    expect(pathTrouble(nodes, 'hv1', [{ delivery: delivery! }])).toEqual([]);
    const report: TraceReport = {
      packet: { from: 'a', src: '10.0.0.2', to: '10.0.0.3', proto: 'icmp' },
      logical: { steps: [], verdict: 'deliver' },
      ovs: { node: 'hv1', flow: 'in_port=3', tables: ['Classifier'], datapathActions: '5', end: 'output to ofport 5', verdict: 'deliver' },
      disagreements: [],
      trouble: pathTrouble(cut, 'hv1', [{ delivery: delivery! }]),
      agrees: true,
    };
    const text = renderTraceText(report);
    expect(text).toContain('TROUBLE on the path: node hv1 is TunnelsUp=False NoProbeAnswered');
    expect(text).toContain('OVS agrees with the logical path (deliver) in its flow tables; but the packet would not get through as the nodes report (TROUBLE above).');
  });
});

describe('trace: a VIP path from a node whose connection-tracking table is full', () => {
  it('names it (its new connections to VIPs are dropped there), and only for a path through a VIP', () => {
    const full = [{ ...nodes[0]!, status: { conditions: [{ type: 'ConntrackPressure', status: 'True', reason: 'ConntrackTableFull', message: 'all 8 connection-tracking entries are in use' }] } }, nodes[1]!] as HypervisorNode[];
    expect(pathTrouble(full, 'hv1', [], true)).toEqual(['node hv1 is ConntrackPressure=True ConntrackTableFull: all 8 connection-tracking entries are in use']);
    expect(pathTrouble(full, 'hv1', [], false)).toEqual([]);
    const room = [{ ...nodes[0]!, status: { conditions: [{ type: 'ConntrackPressure', status: 'False', reason: 'ConntrackTableHasRoom', message: 'under 90%' }] } }, nodes[1]!] as HypervisorNode[];
    expect(pathTrouble(room, 'hv1', [], true)).toEqual([]);
  });
});

describe('trace: what the nodes on the path of a VIP report (QA-126 H3)', () => {
  it('names the node of each backend reached through a cut tunnel, and exits 1', () => {
    const both = { ...lb, status: { vip: '10.0.0.100', backends: [{ name: 'b1', healthy: true }, { name: 'b2', healthy: true }] } } as LoadBalancer;
    const cut = [
      { ...nodes[0]!, status: { conditions: [{ type: 'TunnelsUp', status: 'False', reason: 'NoProbeAnswered', message: 'no tunnel probe answered by hv2 for 15 s' }] } },
      { ...nodes[1]!, status: { conditions: [{ type: 'TunnelsUp', status: 'False', reason: 'NoProbeAnswered', message: 'no tunnel probe answered by hv1 for 15 s' }] } },
    ] as HypervisorNode[];
    const logical = logicalPath({ ...input('10.0.0.100:80', 'tcp'), lbs: [both], nodes: cut });
    expect(logical.lb!.choices.map((c) => c.backend)).toEqual(['b1', 'b2']);
    const trouble = pathTrouble(cut, 'hv1', deliveriesOf(logical));
    // Before: nothing, and "OVS agrees with the logical path (deliver)" with exit 0.
    expect(trouble).toEqual([
      'node hv1 is TunnelsUp=False NoProbeAnswered: no tunnel probe answered by hv2 for 15 s',
      'node hv2 (the node of backend b2) is TunnelsUp=False NoProbeAnswered: no tunnel probe answered by hv1 for 15 s',
    ]);
    const report: TraceReport = {
      packet: { from: 'a', src: '10.0.0.2', to: '10.0.0.100:80', proto: 'tcp' },
      logical: { steps: [], verdict: 'deliver', loadBalancer: logical.lb },
      ovs: { node: 'hv1', flow: 'in_port=3', tables: ['Classifier'], datapathActions: '5', end: 'output to ofport 5', verdict: 'deliver' },
      disagreements: [],
      trouble,
      agrees: true,
    };
    expect(renderTraceText(report)).toContain('but connections dealt to the backends named in TROUBLE above would not get through');
    expect(traceExitCode(report)).toBe(EXIT_ERROR);
    // Only local backends: the tunnels are not this connection's.
    expect(pathTrouble(cut, 'hv1', deliveriesOf(logicalPath({ ...input('10.0.0.100:80', 'tcp'), nodes: cut })))).toEqual([]);
  });
});

describe('trace: logical path', () => {
  it('tunnels to the remote node VTEP with the VNI', () => {
    const p = logicalPath(input('10.0.0.3', 'icmp'));
    expect(p.deliver).toBe(true);
    expect(p.dstMac).toBe('0a:58:00:00:00:03');
    expect(p.lines.join('\n')).toMatch(/port b on node hv2: tunnel \(vxlan, VNI 77\) to VTEP 192\.168\.1\.2/);
  });
  it('load balancer: names each left-out backend with its own reason: unhealthy, not bound, unresolved (its port deleted), drained (QA-128 F8)', () => {
    const mixed = {
      ...lb,
      spec: { ...lb.spec!, backends: [{ port: 'b1' }, { port: 'b2' }, { port: 'b4' }, { port: 'b5' }, { port: 'b' }, { port: 'b3', weight: 0 }] },
      status: {
        vip: '10.0.0.100',
        backends: [
          { name: 'b1', ip: '10.0.0.4', node: 'hv1', healthy: true },
          { name: 'b2', ip: '10.0.0.5', node: 'hv2', healthy: false },
          // Its port deleted: status reports it not healthy, with no address and no node.
          { name: 'b4', ip: '', node: '', healthy: false },
          // Its port there but bound nowhere.
          { name: 'b', ip: '10.0.0.3', node: '', healthy: false },
          { name: 'b3', ip: '10.0.0.6', node: 'hv2', healthy: true },
        ],
      },
    } as LoadBalancer;
    const p = logicalPath({ ...input('10.0.0.100:80', 'tcp'), ports: [...ports, port('b3', '10.0.0.6', 'hv2', 7)], lbs: [mixed] });
    expect(p.lines.join('\n')).toContain(
      'DNAT to b1 10.0.0.4:8080, its only usable backend (left out as unhealthy: b2) (left out as not bound to a node: b) (left out until a port of the network has them: b4, b5) (left out as drained (weight 0): b3)',
    );
    expect(p.lb).toMatchObject({ unhealthy: ['b2'], unbound: ['b'], unresolved: ['b4', 'b5'], weightZero: ['b3'], unhealthyIps: ['10.0.0.5', '10.0.0.3'] });
  });

  it('load balancer: a backend drained because its node is cordoned (status.backends nodeCordoned) is left out, saying so', () => {
    const cordoned = {
      ...lb,
      spec: { ...lb.spec!, backends: [{ port: 'b1' }, { port: 'b3' }] },
      status: { vip: '10.0.0.100', backends: [{ name: 'b1', ip: '10.0.0.4', node: 'hv1', healthy: true }, { name: 'b3', ip: '10.0.0.6', node: 'hv2', healthy: true, nodeCordoned: true }] },
    } as LoadBalancer;
    const p = logicalPath({ ...input('10.0.0.100:80', 'tcp'), ports: [...ports, port('b3', '10.0.0.6', 'hv2', 7)], lbs: [cordoned] });
    expect(p.lines.join('\n')).toContain('DNAT to b1 10.0.0.4:8080, its only usable backend (left out as drained, their node cordoned: b3 (node hv2))');
    expect(p.lb?.choices.map((c) => c.backend)).toEqual(['b1']);
  });

  it('load balancer: lists only healthy backends; no listener or icmp to the VIP drops', () => {
    const p = logicalPath(input('10.0.0.100:80', 'tcp'));
    expect(p.deliver).toBe(true);
    expect(p.lines.join('\n')).toMatch(/DNAT to b1 10\.0\.0\.4:8080, its only usable backend \(left out as unhealthy: b2\)/);
    expect(p.lb?.choices).toEqual([{ backend: 'b1', ip: '10.0.0.4', targetPort: 8080, weight: 1, delivery: { kind: 'local', port: 'b1', ofport: 5 } }]);
    expect(p.lb).toMatchObject({ unhealthy: ['b2'], unhealthyIps: ['10.0.0.5'], hashOf: '5-tuple', vni: 77 });
    expect(p.lines.join('\n')).toMatch(/local port b1 on node hv1 \(ofport 5\)/);
    expect(logicalPath(input('10.0.0.100:81', 'tcp')).deliver).toBe(false);
    expect(logicalPath(input('10.0.0.100:80', 'udp')).deliver).toBe(false);
    expect(logicalPath(input('10.0.0.100', 'icmp')).deliver).toBe(false);
  });
  it('traces SCTP, which load balancers take, to an SCTP listener', () => {
    const sctp = { ...lb, spec: { ...lb.spec!, listeners: [{ protocol: 'SCTP', port: 3868, targetPort: 3868 }] } } as LoadBalancer;
    const p = logicalPath({ ...input('10.0.0.100:3868', 'sctp'), lbs: [sctp] });
    expect(p.deliver).toBe(true);
    expect(p.lb).toMatchObject({ proto: 'sctp', port: 3868 });
    expect(logicalPath({ ...input('10.0.0.100:3868', 'tcp'), lbs: [sctp] }).deliver).toBe(false);
    expect(ovsFlow(3, a, '0a:58:00:00:00:64', parseTarget('10.0.0.100:3868'), 'sctp', 40000)).toBe('in_port=3,sctp,dl_src=0a:58:00:00:00:02,dl_dst=0a:58:00:00:00:64,nw_src=10.0.0.2,nw_dst=10.0.0.100,nw_ttl=64,sctp_src=40000,sctp_dst=3868');
  });
  it('drops outside the subnets and to unknown addresses; a missing network drops', () => {
    const off = logicalPath(input('10.1.0.1', 'icmp'));
    expect(off.deliver).toBe(false);
    expect(off.dstMac).toBeUndefined();
    expect(logicalPath(input('10.0.0.50', 'icmp')).lines.join('\n')).toMatch(/no port of blue has 10\.0\.0\.50/);
    // The subnet's gateway, its first address here: said to be answered by no one (QA-132 F5).
    expect(logicalPath(input('10.0.0.1', 'icmp')).lines.join('\n')).toContain('gateway:  10.0.0.1 is the gateway of subnet 10.0.0.0/24, kept from ports; vnetd runs no router, so nothing answers it until a router VM of yours holds it');
    expect(logicalPath(input('10.0.0.50', 'icmp')).lines.join('\n')).not.toContain('gateway:');
    expect(logicalPath({ ...input('10.0.0.3', 'icmp'), network: undefined }).lines.join('\n')).toMatch(/blue does not exist: drop/);
  });
  it('an address no port has as its own, but one holds by an allowed address pair (an address or a CIDR): flooded, and that port answers', () => {
    const holder = { ...port('h', '10.0.0.9', 'hv2', 7), spec: { ...port('h', '10.0.0.9', 'hv2', 7).spec!, allowedAddressPairs: [{ ip: '10.0.0.50' }, { ip: '10.0.0.64/28', mac: '02:00:00:00:00:99' }] } } as VirtualPort;
    const withPairs = (to: string): TraceInput => ({ ...input(to, 'icmp'), ports: [...ports, holder] });
    const exact = logicalPath(withPairs('10.0.0.50'));
    expect(exact.deliver).toBe(true);
    expect(exact.lines.join('\n')).toMatch(/no port of blue has 10\.0\.0\.50 as its own address: ARP request flooded .*port h may answer, its allowed address pair 10\.0\.0\.50 covers it/);
    expect(exact.lines.join('\n')).toMatch(/port h on node hv2: tunnel/);
    const ranged = logicalPath(withPairs('10.0.0.70'));
    expect(ranged.deliver).toBe(true);
    // A pair MAC one port holds is an L2 entry to it (pipeline/pair-macs.ts); OVS is traced with it.
    expect(ranged.lines.join('\n')).toMatch(/allowed address pair 10\.0\.0\.64\/28 covers it \(with MAC 02:00:00:00:00:99\)\nl2:       dst MAC 02:00:00:00:00:99 \(port h's allowed pair MAC\): port h on node hv2: tunnel/);
    expect([ranged.dstMac, ranged.delivery?.kind]).toEqual(['02:00:00:00:00:99', 'tunnel']);
    expect(logicalPath(withPairs('10.0.0.80')).deliver).toBe(false);
    // Declared by two ports (VRRP peers): to both.
    const peer = { ...port('k', '10.0.0.11', 'hv1', 8), spec: { ...port('k', '10.0.0.11', 'hv1', 8).spec!, allowedAddressPairs: [{ ip: '10.0.0.64/28', mac: '02:00:00:00:00:99' }] } } as VirtualPort;
    const shared = logicalPath({ ...input('10.0.0.70', 'icmp'), ports: [...ports, holder, peer] });
    expect(shared.lines.join('\n')).toMatch(/dst MAC 02:00:00:00:00:99 is the allowed pair MAC of 2 ports \(h, k\): sent to each of them, whichever holds it now/);
    expect([shared.dstMac, shared.delivery]).toEqual(['02:00:00:00:00:99', undefined]);
    // A pair naming another port's own MAC: that port's entry is above the pair's (QA-113).
    const squatter = { ...port('s', '10.0.0.12', 'hv2', 9), spec: { ...port('s', '10.0.0.12', 'hv2', 9).spec!, allowedAddressPairs: [{ ip: '10.0.0.90', mac: macOf(a) }] } } as VirtualPort;
    const owned = logicalPath({ ...input('10.0.0.90', 'icmp'), from: ports[1]!, ports: [...ports, squatter] });
    expect(owned.lines.join('\n')).toContain(`dst MAC ${macOf(a)} is port a's own MAC, above the pair's entry`);
    expect(owned.delivery).toMatchObject({ port: 'a' });
  });

  it('a NIC whose link is down (Bound LinkDown) takes nothing the switch sends it, and sends nothing', () => {
    const down = (p: VirtualPort) => ({ ...p, status: { ...p.status, conditions: [{ type: 'Bound', status: 'True', reason: 'LinkDown', message: 'bound to interface t (ofport 4) on node hv2, but its link is down', lastTransitionTime: '2026-12-04T00:00:00Z' }] } }) as VirtualPort;
    const to = logicalPath({ ...input('10.0.0.3', 'icmp'), ports: [a, down(ports[1]!), ...ports.slice(2)] });
    expect(to.deliver).toBe(false);
    expect(to.delivery).toMatchObject({ kind: 'refused', port: 'b', why: expect.stringContaining("its VM's NIC link is down (Bound LinkDown)") });
    const from = logicalPath({ ...input('10.0.0.3', 'icmp'), from: down(a) });
    expect(from.deliver).toBe(false);
    expect(from.lines.join('\n')).toContain("port a's NIC link is down (Bound LinkDown): its VM sends nothing");
  });

  it('--src-ip / --src-mac over IPv6: link-local addresses of the port\'s and its pairs\' MACs pass; a port without IPv6 sends none', () => {
    const v6 = { ...a, spec: { ...a.spec!, ips: ['10.0.0.2', 'fd00::2'], allowedAddressPairs: [{ ip: 'fd00::100', mac: '00:00:5e:00:02:01' }] } } as VirtualPort;
    const verdict = (f: VirtualPort, srcIp: string, srcMac?: string) => logicalPath({ ...input('fd00::3', 'icmp'), from: f, srcIp, srcMac }).lines.find((l) => l.startsWith('security:'));
    expect(verdict(v6, linkLocalOf('00:00:5e:00:02:01'), '00:00:5e:00:02:01')).toContain("link-local address of its allowed pair's MAC: allowed");
    expect(verdict(v6, linkLocalOf(macOf(a)!))).toContain("link-local address of the port's MAC: allowed");
    expect(verdict(v6, linkLocalOf('00:00:5e:00:02:01'))).toContain('dropped');
    // An IPv4-only port: OVS drops every IPv6 packet it sends, its link-local ones too.
    expect(verdict(a, linkLocalOf(macOf(a)!))).toContain('the port has no IPv6 address nor IPv6 allowed pair, so port security lets no IPv6 through: dropped');
  });

  it('--src-ip / --src-mac: what port security makes of a source the port does not send from by default (QA-93)', () => {
    const vrrp = { ...a, spec: { ...a.spec!, allowedAddressPairs: [{ ip: '10.0.0.100' }, { ip: '10.0.0.200/30', mac: '00:00:5e:00:01:01' }] } } as VirtualPort;
    const from = (srcIp?: string, srcMac?: string, f: VirtualPort = vrrp) => logicalPath({ ...input('10.0.0.3', 'icmp'), from: f, srcIp, srcMac });
    const text = (p: ReturnType<typeof logicalPath>) => p.lines.join('\n');
    // The port's own, given explicitly: allowed, as by default.
    expect(text(from('10.0.0.2'))).toContain("security: port security on: source 0a:58:00:00:00:02 / 10.0.0.2 are the port's own: allowed");
    // An allowed pair's address with the port's MAC, and a CIDR pair's with its own MAC.
    const pair = from('10.0.0.100');
    expect([pair.deliver, pair.src, pair.srcMac]).toEqual([true, '10.0.0.100', undefined]);
    expect(text(pair)).toContain('match its allowed address pair 10.0.0.100: allowed');
    const ranged = from('10.0.0.201', '00:00:5e:00:01:01');
    expect([ranged.deliver, ranged.srcMac]).toEqual([true, '00:00:5e:00:01:01']);
    expect(text(ranged)).toContain('match its allowed address pair 10.0.0.200/30 (00:00:5e:00:01:01): allowed');
    // Spoofed: an address no pair covers, a pair's address with the wrong MAC, a MAC nobody declared.
    const spoofed = from('10.0.0.77');
    expect(spoofed.deliver).toBe(false);
    expect(text(spoofed)).toContain("security: port security on: source 0a:58:00:00:00:02 / 10.0.0.77: 10.0.0.77 is neither the port's address (10.0.0.2) nor covered by an allowed address pair with MAC 0a:58:00:00:00:02 (10.0.0.100, 10.0.0.200/30 (00:00:5e:00:01:01)): dropped (table SpoofGuard)");
    // The MAC the VM would send to is still known: OVS's trace shows the drop too.
    expect(spoofed.dstMac).toBe(macOf(ports[1]!));
    expect(from('10.0.0.201').deliver).toBe(false);
    const otherMac = from(undefined, '02:00:00:00:00:ee');
    expect(otherMac.deliver).toBe(false);
    expect(text(otherMac)).toContain("MAC 02:00:00:00:00:ee is not the port's 0a:58:00:00:00:02 nor an allowed pair's: dropped");
    // Without port security anything goes.
    const open = from('10.0.0.77', '02:00:00:00:00:ee', { ...a, spec: { ...a.spec!, portSecurity: false } } as VirtualPort);
    expect([open.deliver, open.src, open.srcMac]).toEqual([true, '10.0.0.77', '02:00:00:00:00:ee']);
    // And the flow OVS traces carries them.
    expect(ovsFlow(3, a, macOf(ports[1]!)!, parseTarget('10.0.0.3'), 'icmp', undefined, open.src, open.srcMac)).toContain('dl_src=02:00:00:00:00:ee,dl_dst=0a:58:00:00:00:03,nw_src=10.0.0.77,');
    // Bad input, one clear line each.
    expect(parseSrcIp('FD00::0005')).toBe('fd00::5');
    expect(() => parseSrcIp('10.0.0.0/24')).toThrow('--src-ip "10.0.0.0/24": expected an IPv4 or IPv6 address (no port, no prefix)');
    expect(parseSrcMac('00-00-5E-00-01-01')).toBe('00:00:5e:00:01:01');
    expect(() => parseSrcMac('01:00:5e:00:00:01')).toThrow('--src-mac "01:00:5e:00:00:01": 01:00:5e:00:00:01 is a multicast MAC address');
    expect(() => parseSrcMac('nope')).toThrow(/--src-mac "nope": "nope" is not a MAC address/);
  });

  it('a port on no node (pinned to a node that does not exist, or unbound now) is neither traced from nor delivered to; a NIC with another MAC refuses both ways', () => {
    const bound = (name: string, ip: string, reason: string, message: string, node?: string): VirtualPort => {
      const p = port(name, ip, node ?? 'nosuchnode', node ? 8 : undefined);
      return { ...p, status: { ...(node ? { node, ofport: 8 } : {}), conditions: [{ type: 'Bound', status: node ? 'True' : 'False', reason, message, lastTransitionTime: '2026-12-03T16:00:00Z' }] } } as VirtualPort;
    };
    const ghost = bound('ghost', '10.0.0.20', 'NodeNotFound', 'pinned to node nosuchnode, which does not exist');
    const to = logicalPath({ ...input('10.0.0.20', 'icmp'), ports: [...ports, ghost] });
    // QA: "tunnel (vxlan, VNI ...) to VTEP <unknown node>", verdict deliver, and OVS blamed for flooding.
    expect(to.deliver).toBe(false);
    expect(to.delivery).toMatchObject({ kind: 'flood', port: 'ghost' });
    // Its ARP is answered nowhere (its answers come with its binding: QA-130, trace said answered); the VM does not send.
    expect(to.lines.join('\n')).toMatch(/arp: +10\.0\.0\.20 is port ghost \(.*\), but no switch answers for it: ARP request flooded to the network's ports and VTEPs \(table Flood\), no VM answers, and the VM does not send to 10\.0\.0\.20/);
    expect(to.dstMac).toBeUndefined();
    expect(to.lines.join('\n')).toMatch(/with its MAC still cached: port ghost is on no node \(Bound=False NodeNotFound: pinned to node nosuchnode, which does not exist\): no switch knows its MAC, so the frame is unknown unicast, dropped, as no other bound port of the network is without port security \(table L2Lookup\), and no VM takes it/);
    // With a bound port without port security in the network, unknown unicast goes toward its node.
    const open = ports.map((p, i) => (i === ports.length - 1 ? { ...p, spec: { ...p.spec!, portSecurity: false } } : p));
    const toOpen = logicalPath({ ...input('10.0.0.20', 'icmp'), ports: [...open, ghost] });
    expect(toOpen.lines.join('\n')).toMatch(new RegExp(`unknown unicast, sent only to its ports without port security \\(${open.at(-1)!.metadata.name} on ${open.at(-1)!.status!.node}\\) \\(tables L2Lookup, FloodChunk\\), and no VM takes it`));
    // The sender itself the only one without port security: nowhere (never back out of its own port).
    const aOpen = { ...a, spec: { ...a.spec!, portSecurity: false } } as typeof a;
    const selfOnly = logicalPath({ ...input('10.0.0.20', 'icmp'), from: aOpen, ports: [...ports.map((p) => (p === a ? aOpen : p)), ghost] });
    expect(selfOnly.lines.join('\n')).toContain('unknown unicast, dropped, as no other bound port of the network is without port security');
    expect(deliveryMismatch(to.delivery!, { tables: [], actions: '1,2', deliver: true, outputs: [1, 2], tunnelDsts: ['192.168.1.2'] })).toBeUndefined();
    const from = logicalPath({ ...input('10.0.0.3', 'icmp'), from: ghost });
    expect(from.deliver).toBe(false);
    expect(from.lines.join('\n')).toMatch(/binding: +port ghost is on no node \(Bound=False NodeNotFound: .*\): no switch has flows for its VM's NIC, so nothing it sends is forwarded/);
    // Its NIC on the underlay bridge: not cut off (QA-131).
    const onPhy = bound('phy', '10.0.0.23', 'WrongBridge', "interface tap9 on node hv1 has external_ids:iface-id=x but is on bridge br-phy, not br-int: ... br-phy is the underlay: its VM is on the hypervisors' own network, ...");
    expect(logicalPath({ ...input('10.0.0.3', 'icmp'), from: onPhy }).lines.join('\n')).toMatch(/binding: +port phy is on no node \(.*\): its VM's NIC is on the underlay bridge: what it sends goes onto the hypervisors' own network, not through any tenant network \(it reaches their tunnel endpoints: unplug it\)/);
    // A port only pinned, with no status yet, is on no node either.
    expect(logicalPath({ ...input('10.0.0.3', 'icmp'), from: { ...port('p', '10.0.0.21', 'hv1'), status: {} } as VirtualPort }).deliver).toBe(false);

    const mism = 'bound to interface tap1 (ofport 8) on node hv2, but the VM\'s MAC there (external_ids:attached-mac) is 52:54:00:aa:bb:cc, not the port\'s 0a:58:00:00:00:22: give the VM\'s NIC the port\'s MAC';
    const odd = bound('odd', '10.0.0.22', 'MacMismatch', mism, 'hv2');
    const fromOdd = logicalPath({ ...input('10.0.0.2', 'icmp'), from: odd, ports: [...ports, odd] });
    expect(fromOdd).toMatchObject({ deliver: false, srcMac: '52:54:00:aa:bb:cc' });
    expect(fromOdd.lines.join('\n')).toMatch(/its VM's NIC sends from 52:54:00:aa:bb:cc, not the port's 0a:58:00:00:00:22 \(Bound MacMismatch\): dropped \(table SpoofGuard\)/);
    expect(ovsFlow(8, odd, '0a:58:00:00:00:02', parseTarget('10.0.0.2'), 'icmp', undefined, undefined, fromOdd.srcMac)).toMatch(/dl_src=52:54:00:aa:bb:cc,/);
    const toOdd = logicalPath({ ...input('10.0.0.22', 'icmp'), ports: [...ports, odd] });
    expect(toOdd.deliver).toBe(false);
    expect(toOdd.lines.join('\n')).toMatch(/port odd on node hv2: tunnel .*; but its VM's NIC has MAC 52:54:00:aa:bb:cc, not the port's 0a:58:00:00:00:22 \(Bound MacMismatch\): the VM drops it/);
    // What the switch does is compared as for a plain tunnel.
    expect(deliveryMismatch(toOdd.delivery!, { tables: [], actions: 'drop', deliver: false, outputs: [], tunnelDsts: [] })).toMatch(/tunnels it to node hv2 but OVS drops it/);
  });

  it('parses --to', () => {
    expect(parseTarget('10.0.0.1:80')).toEqual({ ip: '10.0.0.1', port: 80 });
    expect(() => parseTarget('10.0.0.300')).toThrow(/expected an IPv4 address/);
    // IPv6: bare, or in brackets with a port (as URLs write it); the address canonical.
    expect(parseTarget('fd00::5')).toEqual({ ip: 'fd00::5' });
    expect(parseTarget('[FD00:0:0::5]:80')).toEqual({ ip: 'fd00::5', port: 80 });
    expect(parseTarget('[fd00::5]')).toEqual({ ip: 'fd00::5' });
    expect(() => parseTarget('[10.0.0.1]:80')).toThrow(/expected an IPv4 address, optionally with :PORT .*or an IPv6 address, with a port in brackets/);
    for (const bad of ['[fd00::5]:', '[fd00::5]:http', 'fd00::zz', '[fd00::5', '10.0.0.1:80:1', '10.0.0.1:', '']) expect(() => parseTarget(bad)).toThrow(/expected an IPv4 address/);
    expect(() => parseTarget('[fd00::5]:65536')).toThrow(/port 65536 is outside 1-65535/);
    expect(() => parseTarget('10.0.0.1:0')).toThrow(/outside 1-65535/);
  });
});

describe('trace: ofproto/trace summary', () => {
  it('names the tables and reads the final datapath actions', () => {
    const text = ' 0. in_port=3, priority 100\n    goto_table:1\n 1. reg0=0x1, priority 100\n    goto_table:5\n 5. dl_dst=0a:58:00:00:00:03\n    output:4\n\nFinal flow: unchanged\nDatapath actions: 4\n';
    expect(summarizeOvsTrace(text)).toEqual({ tables: ['Classifier', 'SpoofGuard', 'L2Lookup'], actions: '4', deliver: true, outputs: [4], tunnelDsts: [] });
    expect(summarizeOvsTrace(' 0. in_port=3\n    drop\nDatapath actions: drop\n').deliver).toBe(false);
    // A flood's output to the input port, which OVS skips, is not an output (QA: listed as one).
    const flood = 'Flow: in_port=6,dl_dst=ff:ff:ff:ff:ff:ff\n 9. priority 10\n    output:6\n     >> skipping output to input port\n    output:2\nDatapath actions: 2\n';
    expect(summarizeOvsTrace(flood).outputs).toEqual([2]);
    expect(summarizeOvsTrace(' 4. priority 1\nDatapath actions: hash(sym_l4(0)),recirc(0x6)\n').deliver).toBeUndefined();
    expect(summarizeOvsTrace('Datapath actions: ct(zone=1),recirc(0x1)\n\nDatapath actions: set(tunnel(dst=1.2.3.4)),2\n').deliver).toBe(true);
  });
});

describe('trace: through a VIP', () => {
  const all = { ...lb, status: { vip: '10.0.0.100' } } as LoadBalancer;
  const vipInput = (): TraceInput => ({ ...input('10.0.0.100:80', 'tcp'), lbs: [all] });

  it('says the backend depends on the hash and where each one ends', () => {
    const p = logicalPath(vipInput());
    expect(p.lines.join('\n')).toMatch(/one of 2 backends, which one depends on the hash of the 5-tuple: it picks one of 256 slots, dealt to the backends by weight/);
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

  it('compares where OVS ends a backend\'s packet with the logical delivery', () => {
    const out = (outputs: number[], tunnelDsts: string[] = []) => ({ tables: [], actions: outputs.length ? '3' : 'drop', deliver: outputs.length > 0, outputs, tunnelDsts });
    expect(deliveryMismatch({ kind: 'local', port: 'b1', ofport: 5 }, out([5]))).toBeUndefined();
    expect(deliveryMismatch({ kind: 'local', port: 'b1', ofport: 5 }, out([6]))).toMatch(/to port b1 \(ofport 5\) but OVS sends it to output to ofport 6/);
    expect(deliveryMismatch({ kind: 'local', port: 'b1', ofport: 5 }, out([]))).toMatch(/delivers it to local port b1 but OVS drops it/);
    expect(deliveryMismatch({ kind: 'tunnel', port: 'b2', node: 'hv2', vtep: '192.168.1.2' }, out([1], ['192.168.1.2']))).toBeUndefined();
    expect(deliveryMismatch({ kind: 'tunnel', port: 'b2', node: 'hv2', vtep: '192.168.1.2' }, out([1], ['192.168.1.3']))).toMatch(/VTEP 192\.168\.1\.2 but OVS sends it to .*tunnel destination 192\.168\.1\.3/);
    expect(deliveryMismatch({ kind: 'drop', why: 'x' }, out([1]))).toMatch(/drops it \(x\) but OVS delivers it/);
    // OVS reaching the right place among others is a flood, not agreement.
    expect(deliveryMismatch({ kind: 'local', port: 'b1', ofport: 5 }, out([5, 6, 1], ['192.168.1.2']))).toMatch(/to port b1 only but OVS floods it: output to ofport 5, 6, 1 with tunnel destination 192\.168\.1\.2/);
    expect(deliveryMismatch({ kind: 'tunnel', port: 'b2', node: 'hv2', vtep: '192.168.1.2' }, out([1, 5], ['192.168.1.2']))).toMatch(/tunnels it to hv2 only but OVS floods it/);
    expect(deliveryMismatch({ kind: 'tunnel', port: 'b2', node: 'hv2', vtep: '192.168.1.2' }, out([1, 1], ['192.168.1.2', '192.168.1.3']))).toMatch(/floods it/);
  });

  it('rewrites the destination as a backend\'s DNAT does', () => {
    expect(afterDnat('in_port=3,tcp,nw_src=10.0.0.2,nw_dst=10.0.0.100,nw_ttl=64,tp_src=40000,tp_dst=80', '10.0.0.4', 8080)).toBe('in_port=3,tcp,nw_src=10.0.0.2,nw_dst=10.0.0.4,nw_ttl=64,tp_src=40000,tp_dst=8080');
    expect(afterDnat('in_port=3,udp,nw_src=10.0.0.2,nw_dst=10.0.0.100,nw_ttl=64,udp_src=40000,udp_dst=53', '10.0.0.4', 5353)).toBe('in_port=3,udp,nw_src=10.0.0.2,nw_dst=10.0.0.4,nw_ttl=64,udp_src=40000,udp_dst=5353');
  });

  it('an output to IN_PORT is an output to the traced packet\'s own port (a hairpin); a packet-in is a refusal, not a drop', () => {
    const hairpin = 'Flow: tcp,in_port=5,vlan_tci=0x0000\n 4. ct_state=+trk,dl_dst=02:4c:42:00:00:01, priority 105\n    set_field:02:4c:42:00:00:01->eth_src\n    IN_PORT\nDatapath actions: set(eth(src=02:4c:42:00:00:01)),6\n';
    const s = summarizeOvsTrace(hairpin);
    expect(s).toMatchObject({ outputs: [5], deliver: true });
    expect(deliveryMismatch({ kind: 'local', port: 'b1', ofport: 5 }, s)).toBeUndefined();
    const refused = summarizeOvsTrace('Flow: tcp,in_port=3\n 4. priority 111\n    CONTROLLER:128\nDatapath actions: userspace(pid=0,controller(reason=1,dont_send=0,continuation=0,recirc_id=7,rule_cookie=0x1,controller_id=0,max_len=128))\n');
    expect(refused.deliver).toBe(false);
    expect(whereOvs(refused, () => undefined)).toMatch(/^to vnetd \(controller\), which refuses a new connection with a TCP RST, an ICMP or ICMPv6 port unreachable or an SCTP ABORT/);
  });

  it('reads OpenFlow outputs and tunnel destinations from a trace', () => {
    const text = ' 5. dl_dst=0a:58:00:00:00:05, priority 100\n    set_field:192.168.1.2->tun_dst\n    set_field:0x4d->tun_id\n    output:1\nDatapath actions: set(tunnel(dst=192.168.1.2)),2\n';
    expect(summarizeOvsTrace(text)).toMatchObject({ outputs: [1], tunnelDsts: ['192.168.1.2'], deliver: true });
    // After a tunnel output the trace continues into the underlay bridge: not the pipeline's tables.
    const tunnel = 'bridge("br-int")\n 5. dl_dst=0a:58:00:00:00:05, priority 100\n    set_field:198.18.0.2->tun_dst\n    output:2\n     -> output to native tunnel\n\n        bridge("br-phy")\n        ----------------\n         0. priority 0\n            output:1\nDatapath actions: tnl_push(...),3\n';
    expect(summarizeOvsTrace(tunnel)).toMatchObject({ tables: ['L2Lookup'], outputs: [2], tunnelDsts: ['198.18.0.2'], deliver: true });
  });
});

describe('trace: a VIP\'s slot table and DNAT flows (captured on the demo)', () => {
  const VNI = 0x4547f0;
  const demoPort = (name: string, ip: string, ofport: number) => ({ ...port(name, ip, 'local', ofport), spec: { ...port(name, ip, 'local', ofport).spec!, network: 'demo-net' } }) as VirtualPort;
  const client = demoPort('c1', '10.99.0.2', 3);
  const demoPorts = [client, demoPort('b1', '10.99.0.4', 5), demoPort('b2', '10.99.0.5', 6)];
  const demoNet = { ...network, metadata: { name: 'demo-net' }, spec: { subnets: [{ cidr: '10.99.0.0/24' }] }, status: { vni: VNI } } as VirtualNetwork;
  const demoLb = (extra: Partial<NonNullable<LoadBalancer['spec']>> = {}, status?: LoadBalancer['status']) =>
    ({ metadata: { name: 'web', uid: 'u2' }, spec: { network: 'demo-net', vip: '10.99.0.6', listeners: [{ protocol: 'TCP', port: 80, targetPort: 8080 }], backends: [{ port: 'b1' }, { port: 'b2' }], ...extra }, status: status ?? { vip: '10.99.0.6' } }) as LoadBalancer;
  const logicalLb = (l = demoLb()): LogicalLb => logicalPath({ from: client, network: demoNet, ports: demoPorts, lbs: [l], nodes: [{ metadata: { name: 'local' }, spec: { tunnelIP: '192.168.1.1' } }] as HypervisorNode[], to: parseTarget('10.99.0.6:80'), proto: 'tcp' }).lb!;
  const slots = () => parseLbSlots(captured('lb-slot-flows.txt'), '10.99.0.6', VNI);
  const dnats = () => parseLbDnats(captured('lb-dnat-flows.txt'), '10.99.0.6', 'tcp', 80, VNI);

  it('reads slot -> backend from LbSlot and backend -> DNAT from LbDnat, for this VIP and network only', () => {
    const s = slots();
    expect(s.size).toBe(LB_SLOTS);
    expect([s.get(0), s.get(1), s.get(7), s.get(255)]).toEqual(['10.99.0.4', '10.99.0.5', '10.99.0.5', '10.99.0.5']);
    expect([...s.values()].filter((ip) => ip === '10.99.0.4')).toHaveLength(135);
    expect(parseLbSlots(captured('lb-slot-flows.txt'), '10.99.0.6', VNI + 1).size).toBe(0);
    expect(parseLbSlots(captured('lb-slot-flows.txt'), '10.99.0.7').size).toBe(0);
    expect(dnats()).toEqual([
      { register: 0x0a630004, backend: '10.99.0.4', nat: { ip: '10.99.0.4', port: 8080 }, actions: 'ct(commit,table=4,zone=18486,nat(dst=10.99.0.4:8080))', packets: 4 },
      { register: 0x0a630005, backend: '10.99.0.5', nat: { ip: '10.99.0.5', port: 8080 }, actions: 'ct(commit,table=4,zone=18486,nat(dst=10.99.0.5:8080))', packets: 2 },
    ]);
    expect(parseLbDnats(captured('lb-dnat-flows.txt'), '10.99.0.6', 'tcp', 81, VNI)).toEqual([]);
    expect(parseLbDnats(captured('lb-dnat-flows.txt'), '10.99.0.6', 'udp', 80, VNI)).toEqual([]);
  });

  it('follows ofproto/trace (--ct-next trk,new twice) through multipath, LbSlot and LbDnat to the backend OVS picks', () => {
    const text = captured('ofproto-trace-vip.txt');
    expect(parseLbPick(text)).toEqual({ slot: 7, backend: '10.99.0.5', nat: { ip: '10.99.0.5', port: 8080 } });
    expect(summarizeOvsTrace(text)).toMatchObject({ tables: ['Classifier', 'SpoofGuard', 'ArpResponder', 'LbVip', 'LbNat', 'LbSlot', 'LbDnat', 'LbNat', 'L2Lookup'], outputs: [6], deliver: true });
    expect(pickReport(logicalLb(), parseLbPick(text)!)).toEqual({ slot: 7, dnat: '10.99.0.5:8080', backend: 'b2', dealtTo: 'b2' });
    // A trace that stops before LbDnat (no slot flow for the hash) has no pick.
    expect(parseLbPick(text.slice(0, text.indexOf(' 8. ')))).toBeUndefined();
  });

  it('the captured table is exactly vnetd\'s dealing over the logical backends: no disagreement', () => {
    const { checks, mismatches } = checkLbFlows(logicalLb(), slots(), dnats());
    expect(mismatches).toEqual([]);
    expect(checks.map((c) => [c.entry.backend, c.entry.slots, c.entry.dealt, c.entry.share, c.entry.dnat, c.entry.connections, c.mismatches])).toEqual([
      ['b1', 135, 135, 52.7, '10.99.0.4:8080', 4, []],
      ['b2', 121, 121, 47.3, '10.99.0.5:8080', 2, []],
    ]);
  });

  it('names a backend the status reports unhealthy that OVS still deals slots and a DNAT to, and missing slots', () => {
    const lb = logicalLb(demoLb({}, { vip: '10.99.0.6', backends: [{ name: 'b1', ip: '10.99.0.4', node: 'local', healthy: true, connections: 0 }, { name: 'b2', ip: '10.99.0.5', node: 'local', healthy: false, connections: 0 }] }));
    const s = slots();
    s.delete(3);
    s.delete(200);
    const { checks, mismatches } = checkLbFlows(lb, s, dnats());
    expect(mismatches).toEqual(['OVS has 254 of 256 LbSlot flows for 10.99.0.6: new connections hashed to slots 3, 200 are dropped']);
    expect(checks[1]!.entry).toMatchObject({ ip: '10.99.0.5', slots: 119 });
    expect(checks[1]!.entry.backend).toBeUndefined();
    expect(checks[1]!.mismatches).toEqual([
      'OVS deals 119 of 256 slots of 10.99.0.6 to 10.99.0.5, which is not a backend the logical model uses (the status reports it unhealthy)',
      'OVS has an LbDnat flow for 10.99.0.6:80/tcp to 10.99.0.5:8080, which is not a backend the logical model uses (the status reports it unhealthy)',
    ]);
  });

  it('names a logical backend without slots or DNAT flow, a wrong target port, a slot table dealt otherwise', () => {
    const lb = logicalLb();
    const allB1 = new Map([...slots()].map(([k]) => [k, '10.99.0.4']));
    const noB2 = checkLbFlows(lb, allB1, dnats().slice(0, 1));
    expect(noB2.checks[1]!.mismatches).toEqual([
      "backend b2 (weight 1) holds none of OVS's 256 slots for 10.99.0.6: OVS never sends it a new connection",
      'backend b2 has no LbDnat flow for 10.99.0.6:80/tcp',
    ]);
    const noDnat = checkLbFlows(lb, slots(), dnats().slice(0, 1));
    expect(noDnat.checks[1]!.mismatches).toEqual(['backend b2 has no LbDnat flow for 10.99.0.6:80/tcp: new connections hashed to its 121 slots are dropped']);
    const wrongPort = dnats().map((d) => ({ ...d, nat: { ip: d.nat!.ip, port: 8081 } }));
    expect(checkLbFlows(lb, slots(), wrongPort).checks[0]!.mismatches).toEqual(["OVS DNATs b1's connections to port 8081, the listener's target port is 8080"]);
    const swapped = slots();
    swapped.set(0, '10.99.0.5');
    expect(checkLbFlows(lb, swapped, dnats()).mismatches).toEqual(["OVS's LbSlot table for 10.99.0.6 differs from vnetd's dealing over the same backends in 1 of 256 slots (e.g. slot 0: OVS b2, dealt to b1)"]);
    const stray = [...dnats(), { register: 0x0a630009, backend: '10.99.0.9', nat: { ip: '10.99.0.9', port: 8080 }, actions: 'ct(...)', packets: 0 }];
    expect(checkLbFlows(lb, slots(), stray).checks[2]!.mismatches).toEqual(['OVS has an LbDnat flow for 10.99.0.6:80/tcp to 10.99.0.9:8080 (no slot leads to it), which is not a backend the logical model uses']);
  });

  it('logical side: ClientIP affinity hashes the client address; weight 0 and duplicate addresses get no slots', () => {
    const affinity = logicalPath({ from: client, network: demoNet, ports: demoPorts, lbs: [demoLb({ sessionAffinity: 'ClientIP' })], nodes: [], to: parseTarget('10.99.0.6:80'), proto: 'tcp' });
    expect(affinity.lines.join('\n')).toMatch(/depends on the hash of the client address 10\.99\.0\.2 \(sessionAffinity ClientIP/);
    expect(affinity.lb?.hashOf).toBe('client address');
    const l = logicalLb(demoLb({ backends: [{ port: 'b1', weight: 0 }, { port: 'b2' }, { ip: '10.99.0.5' }] }));
    expect(l.choices.map((c) => c.backend)).toEqual(['b2']);
    expect(l.weightZero).toEqual(['b1']);
    const none = logicalPath({ from: client, network: demoNet, ports: demoPorts, lbs: [demoLb({ backends: [] })], nodes: [], to: parseTarget('10.99.0.6:80'), proto: 'tcp' });
    expect(none).toMatchObject({ deliver: false, refused: 'vnetd answers a TCP RST from the VIP' });
    expect(none.lines.join('\n')).toMatch(/no usable backend: new connections are refused: vnetd answers a TCP RST from the VIP/);
    // A port no listener has is refused the same way, not dropped (QA-152 F9: "verdict: drop" for a RST).
    const noListener = logicalPath({ from: client, network: demoNet, ports: demoPorts, lbs: [demoLb()], nodes: [], to: parseTarget('10.99.0.6:81'), proto: 'udp' });
    expect(noListener).toMatchObject({ deliver: false, refused: 'vnetd answers an ICMP port unreachable from the VIP' });
    expect(noListener.lines.at(-1)).toMatch(/has no UDP listener on port 81 \(listeners: 80\/TCP\): refused: vnetd answers an ICMP port unreachable from the VIP \(table LbNat, to the controller\)$/);
    const report: TraceReport = { packet: { from: 'c1', to: '10.99.0.6:81', proto: 'udp' }, logical: { steps: noListener.lines, verdict: 'drop', refused: noListener.refused }, ovs: {}, disagreements: [] };
    expect(renderTraceText(report)).toContain('  verdict:  refused (vnetd answers an ICMP port unreachable from the VIP)');
  });

  it('--src-port is part of the traced flow and must be a port', () => {
    expect(ovsFlow(3, client, '02:4c:42:5c:99:45', parseTarget('10.99.0.6:80'), 'tcp', 41000)).toMatch(/,tcp_src=41000,tcp_dst=80$/);
    expect(ovsFlow(3, client, '02:4c:42:5c:99:45', parseTarget('10.99.0.6:80'), 'tcp')).toMatch(/,tcp_src=40000,tcp_dst=80$/);
    expect(parseSrcPort('41000')).toBe(41000);
    expect(() => parseSrcPort('0')).toThrow(/--src-port "0": expected a port number from 1 to 65535/);
    expect(() => parseSrcPort('70000')).toThrow(/1 to 65535/);
    expect(() => parseSrcPort('8o')).toThrow(/1 to 65535/);
  });

  it('renders the pick and each backend\'s share', () => {
    const report: TraceReport = {
      packet: { from: 'c1', src: '10.99.0.2', srcPort: 41000, to: '10.99.0.6:80', proto: 'tcp' },
      logical: { steps: ['lb: ...'], verdict: 'deliver', loadBalancer: logicalLb() },
      ovs: {
        node: 'local',
        flow: 'in_port=3,tcp',
        tables: ['LbNat', 'LbSlot', 'LbDnat', 'LbNat', 'L2Lookup'],
        datapathActions: '8',
        end: 'output to ofport 6 (b2)',
        verdict: 'deliver',
        loadBalancer: {
          slots: 256,
          pick: { slot: 7, dnat: '10.99.0.5:8080', backend: 'b2', dealtTo: 'b2' },
          backends: [
            { ip: '10.99.0.4', backend: 'b1', weight: 1, slots: 135, share: 52.7, dealt: 135, dnat: '10.99.0.4:8080', picked: false, tables: ['LbNat', 'L2Lookup'], end: 'output to ofport 5 (b1)', deliver: true, agrees: true },
            { ip: '10.99.0.5', backend: 'b2', weight: 1, slots: 121, share: 47.3, dealt: 121, dnat: '10.99.0.5:8080', picked: true, tables: ['LbNat', 'LbSlot', 'LbDnat', 'LbNat', 'L2Lookup'], end: 'output to ofport 6 (b2)', deliver: true, agrees: true },
          ],
        },
      },
      disagreements: [],
      agrees: true,
    };
    const text = renderTraceText(report);
    expect(text).toContain('Logical path (tcp 10.99.0.2:41000 -> 10.99.0.6:80):');
    expect(text).toContain('  lb:       256 of 256 slots in LbSlot for 10.99.0.6, 2 LbDnat flow(s) for 10.99.0.6:80/tcp\n');
    expect(text).toContain('  pick:     OVS picks b2 (DNAT to 10.99.0.5:8080) for this 5-tuple: multipath hashes it to slot 7 (vnetd deals slot 7 to b2)\n');
    expect(text).toContain('  backend b1 10.99.0.4: 135 slots (52.7%), weight 1, DNAT to 10.99.0.4:8080: after its DNAT: LbNat -> L2Lookup: output to ofport 5 (b1): as the logical model says\n');
    expect(text).toContain("  backend b2 10.99.0.5: 121 slots (47.3%), weight 1, DNAT to 10.99.0.5:8080: OVS's pick: LbNat -> LbSlot -> LbDnat -> LbNat -> L2Lookup: output to ofport 6 (b2): as the logical model says\n");
    expect(text).toMatch(/verdict: +deliver \(for this 5-tuple: OVS picks b2\)\nOVS agrees with the logical path \(deliver\)\. Every backend holds slots and a DNAT flow/);
  });
});

/**
 * Captured on the test bed (test/integration/cli-trace-overlay.test.ts, OVS 3.1): VIP
 * fd00:42::100 (VNI 0x60e947), TCP 80 -> 8080 and UDP 53 -> 5353, backends b1
 * fd00:42::3fb0:93b7:eb98:40e3 (weight 1, hv1) and b2 fd00:42::dcd6:9768:30bf:742f (weight 2,
 * hv2). An IPv6 backend's LbBackend register holds a hash of its address, not the address.
 */
describe('trace: IPv6', () => {
  const VNI6 = 0x60e947;
  const VIP6 = 'fd00:42::100';
  const [IP1, IP2] = ['fd00:42::3fb0:93b7:eb98:40e3', 'fd00:42::dcd6:9768:30bf:742f'];
  const dual = (name: string, v4: string, v6: string, node: string, ofport?: number): VirtualPort => {
    const p = port(name, v4, node, ofport);
    return { ...p, spec: { ...p.spec!, network: 'net6', ips: [v4, v6] } } as VirtualPort;
  };
  const client6 = dual('client', '10.42.0.2', 'fd00:42::3d12:1e6b:d38a:5725', 'hv1', 5);
  const ports6 = [client6, dual('b1', '10.42.0.3', IP1, 'hv1', 6), dual('b2', '10.42.0.4', IP2, 'hv2', 3)];
  const net6 = { ...network, metadata: { name: 'net6' }, spec: { subnets: [{ cidr: '10.42.0.0/24' }, { cidr: 'fd00:42::/64' }] }, status: { vni: VNI6 } } as VirtualNetwork;
  // The spec writes the VIP in another spelling: the same address.
  const lb6 = { metadata: { name: 'web6', uid: 'u6' }, spec: { network: 'net6', vip: 'FD00:42:0::100', listeners: [{ protocol: 'TCP', port: 80, targetPort: 8080 }, { protocol: 'UDP', port: 53, targetPort: 5353 }], backends: [{ port: 'b1' }, { port: 'b2', weight: 2 }] } } as LoadBalancer;
  const input6 = (to: string, proto: TraceInput['proto'], from = client6): TraceInput => ({ from, network: net6, ports: ports6, lbs: [lb6], nodes, to: parseTarget(to), proto });
  const logical6 = () => logicalPath(input6(`[${VIP6}]:80`, 'tcp')).lb!;

  it('logical path: the port\'s IPv6 source, Neighbor Discovery answered locally, the tunnel; a port without IPv6 sends nothing', () => {
    const p = logicalPath(input6(IP2, 'icmp'));
    expect(p).toMatchObject({ deliver: true, dstMac: macOf(ports6[2]!), delivery: { kind: 'tunnel', port: 'b2', node: 'hv2', vtep: '192.168.1.2' } });
    expect(p.lines.join('\n')).toContain('from:     port client (0a:58:00:00:00:02 fd00:42::3d12:1e6b:d38a:5725) on node hv1');
    expect(p.lines.join('\n')).toContain(`nd:       ${IP2} is port b2 (0a:58:00:00:00:04): the Neighbor Solicitation answered on this node (table ArpResponder)`);
    expect(logicalPath(input6('fd00:42::99', 'icmp')).lines.join('\n')).toMatch(/no port of net6 has fd00:42::99: Neighbor Solicitation \(to its solicited-node multicast group\) flooded/);
    expect(logicalPath(input6('fd00:43::1', 'icmp')).lines.join('\n')).toMatch(/fd00:43::1 is outside network net6's subnets/);
    const v4only = port('old', '10.42.0.9', 'hv1', 9);
    const none = logicalPath(input6(IP2, 'icmp', { ...v4only, spec: { ...v4only.spec!, network: 'net6' } } as VirtualPort));
    expect(none.deliver).toBe(false);
    expect(none.lines.join('\n')).toContain('source:   port old has no IPv6 address (10.42.0.9): the VM would not send this packet');
    // IPv4 from the same dual-stack port still takes its IPv4 address.
    expect(logicalPath(input6('10.42.0.4', 'icmp')).lines[0]).toContain('(0a:58:00:00:00:02 10.42.0.2)');
  });

  it('ofproto/trace flows: tcp6/udp6/icmp6 with ipv6_src and ipv6_dst; a DNAT rewrites ipv6_dst', () => {
    expect(ovsFlow(5, client6, '02:4c:42:e0:cc:f9', parseTarget(`[${VIP6}]:80`), 'tcp')).toBe('in_port=5,tcp6,dl_src=0a:58:00:00:00:02,dl_dst=02:4c:42:e0:cc:f9,ipv6_src=fd00:42::3d12:1e6b:d38a:5725,ipv6_dst=fd00:42::100,nw_ttl=64,tcp_src=40000,tcp_dst=80');
    expect(ovsFlow(5, client6, '0a:58:00:00:00:04', parseTarget(IP2), 'icmp')).toBe(`in_port=5,icmp6,dl_src=0a:58:00:00:00:02,dl_dst=0a:58:00:00:00:04,ipv6_src=fd00:42::3d12:1e6b:d38a:5725,ipv6_dst=${IP2},nw_ttl=64,icmpv6_type=128,icmpv6_code=0`);
    expect(ovsFlow(5, client6, 'm', parseTarget(`[${VIP6}]:53`), 'udp', 41000)).toMatch(/,udp6,.*,udp_src=41000,udp_dst=53$/);
    expect(afterDnat(ovsFlow(5, client6, 'm', parseTarget(`[${VIP6}]:80`), 'tcp'), IP1, 8080)).toMatch(new RegExp(`,ipv6_dst=${IP1},nw_ttl=64,tcp_src=40000,tcp_dst=8080$`));
  });

  it('a VIP: backends by their IPv6 addresses, named through the register hash vnetd gives them; the captured tables agree with vnetd\'s dealing', () => {
    const lb = logical6();
    expect(lb.choices.map((c) => [c.backend, c.ip, c.weight])).toEqual([['b1', IP1, 1], ['b2', IP2, 2]]);
    expect(logicalPath(input6(`[${VIP6}]:80`, 'tcp')).lines.join('\n')).toContain(`nd:       ${VIP6} is the VIP of load balancer web6: the Neighbor Solicitation answered on this node`);
    expect(logicalPath(input6(`[${VIP6}]:80`, 'tcp')).lines.join('\n')).toContain(`b1 [${IP1}]:8080, b2 [${IP2}]:8080 w2`);
    const names = ipv6RegisterNames(lb, []);
    // The same values the pipeline wrote into the captured flows.
    expect([names(0xd2d009b9), names(0xfc5128d4)]).toEqual([IP1, IP2]);
    const dnats = parseLbDnats(captured('lb6-dnat-flows.txt'), VIP6, 'tcp', 80, VNI6, names);
    expect(dnats.map((d) => [d.backend, d.nat])).toEqual([[IP1, { ip: IP1, port: 8080 }], [IP2, { ip: IP2, port: 8080 }]]);
    expect(parseLbDnats(captured('lb6-dnat-flows.txt'), VIP6, 'udp', 53, VNI6, names).map((d) => d.nat?.port)).toEqual([5353, 5353]);
    const slots = parseLbSlots(captured('lb6-slot-flows.txt'), VIP6, VNI6, names);
    expect(slots.size).toBe(256);
    expect(parseLbSlots(captured('lb6-slot-flows.txt'), 'fd00:42::101', VNI6, names).size).toBe(0);
    const { checks, mismatches } = checkLbFlows(lb, slots, dnats);
    expect(mismatches).toEqual([]);
    expect(checks.map((c) => [c.entry.backend, c.entry.slots, c.entry.dealt, c.entry.dnat, c.mismatches])).toEqual([
      ['b1', 74, 74, `[${IP1}]:8080`, []],
      ['b2', 182, 182, `[${IP2}]:8080`, []],
    ]);
    const text = captured('ofproto-trace-vip6.txt');
    expect(parseLbPick(text, names)).toEqual({ slot: 9, backend: IP1, nat: { ip: IP1, port: 8080 } });
    expect(pickReport(lb, parseLbPick(text, names)!)).toEqual({ slot: 9, dnat: `[${IP1}]:8080`, backend: 'b1', dealtTo: 'b1' });
  });

  it('a register no logical backend has is named by its LbDnat flow\'s target, else shown as the value', () => {
    // b2 gone from the logical model (say, unhealthy): OVS's flows for it still name its address.
    const lb = { ...logical6(), choices: logical6().choices.slice(0, 1) };
    const raw = parseLbDnats(captured('lb6-dnat-flows.txt'), VIP6, 'tcp', 80, VNI6, (v) => String(v));
    const names = ipv6RegisterNames(lb, raw);
    expect([names(0xfc5128d4), names(0x1234)]).toEqual([IP2, '0x00001234']);
    const { mismatches, checks } = checkLbFlows(lb, parseLbSlots(captured('lb6-slot-flows.txt'), VIP6, VNI6, names), parseLbDnats(captured('lb6-dnat-flows.txt'), VIP6, 'tcp', 80, VNI6, names));
    expect(mismatches).toEqual([]);
    expect(checks[1]!.mismatches).toEqual([`OVS deals 182 of 256 slots of ${VIP6} to ${IP2}, which is not a backend the logical model uses`, `OVS has an LbDnat flow for [${VIP6}]:80/tcp to [${IP2}]:8080, which is not a backend the logical model uses`]);
  });

  it('link-local: to a port\'s EUI-64 address from the sender\'s own, whatever the subnets; multicast and IPv4-mapped targets are refused', () => {
    const b2LinkLocal = 'fe80::858:ff:fe00:4'; // 0a:58:00:00:00:04
    const p = logicalPath(input6(b2LinkLocal, 'icmp'));
    expect(p).toMatchObject({ deliver: true, src: 'fe80::858:ff:fe00:2', delivery: { kind: 'tunnel', port: 'b2' } });
    expect(p.lines.join('\n')).toContain('source:   fe80::858:ff:fe00:4 is link-local: the VM sends from its own link-local address fe80::858:ff:fe00:2');
    // Not answered by vnetd (it answers declared addresses): flooded, the VM answers (QA-156 F7).
    expect(p.lines.join('\n')).toContain("is port b2's link-local address (0a:58:00:00:00:04): the Neighbor Solicitation is flooded to the network's ports and VTEPs (table Flood) and its VM answers it");
    expect(p.lines.join('\n')).not.toContain('answered on this node');
    expect(ovsFlow(5, client6, p.dstMac!, parseTarget(b2LinkLocal), 'icmp', undefined, p.src)).toContain(',ipv6_src=fe80::858:ff:fe00:2,ipv6_dst=fe80::858:ff:fe00:4,');
    expect(logicalPath(input6('fe80::1', 'icmp')).lines.join('\n')).toMatch(/no port of net6 has fe80::1/);
    expect(() => parseTarget('ff02::1')).toThrow('--to "ff02::1": ff02::1 is a multicast address; trace follows one unicast packet');
    expect(() => parseTarget('239.1.2.3')).toThrow(/is a multicast address/);
    expect(() => parseTarget('[::ffff:10.42.0.3]:80')).toThrow('--to "[::ffff:10.42.0.3]:80": ::ffff:10.42.0.3 is an IPv4-mapped address; trace the IPv4 address itself (10.42.0.3)');
  });

  it('hairpin when the packet comes from the backend\'s own address or another address of its port; an IP backend owned through an allowed pair is resolved; refusals by protocol', () => {
    // The client holds a second address that is an IP backend: dealt to it, its packets from its first address are a hairpin too (QA-113 F3).
    const two = { ...client6, spec: { ...client6.spec!, ips: ['10.42.0.2', 'fd00:42::2', 'fd00:42::20'] } } as VirtualPort;
    const ipBackend = { ...lb6, spec: { ...lb6.spec!, backends: [{ ip: 'fd00:42::20' }, { port: 'b2' }] } } as LoadBalancer;
    const viaFirst = logicalPath({ ...input6(`[${VIP6}]:80`, 'tcp', two), ports: [two, ...ports6.slice(1)], lbs: [ipBackend] });
    const viaFirstLines = viaFirst.lines.join('\n');
    expect(viaFirstLines).toContain('-> fd00:42::20: ');
    expect(viaFirstLines).toContain('(hairpin: this backend is an address of the sending port itself, so the connection is also SNATed to the VIP');
    expect(viaFirstLines.match(/hairpin/g)).toHaveLength(1);
    const fromIt = { ...two, spec: { ...two.spec!, ips: ['10.42.0.2', 'fd00:42::20'] } } as VirtualPort;
    expect(logicalPath({ ...input6(`[${VIP6}]:80`, 'tcp', fromIt), ports: [fromIt, ...ports6.slice(1)], lbs: [ipBackend] }).lines.join('\n')).toContain('(hairpin: the source is this backend');
    // fd00:42::30 is b1's through an allowed address pair: a usable backend, delivered to b1.
    const paired = { ...ports6[1]!, spec: { ...ports6[1]!.spec!, allowedAddressPairs: [{ ip: 'fd00:42::30' }] } } as VirtualPort;
    const pairLb = { ...lb6, spec: { ...lb6.spec!, backends: [{ ip: 'FD00:42::30' }] } } as LoadBalancer;
    const viaPair = logicalPath({ ...input6(`[${VIP6}]:80`, 'tcp'), ports: [client6, paired, ports6[2]!], lbs: [pairLb] });
    expect(viaPair.lb?.choices).toEqual([{ backend: 'fd00:42::30', ip: 'fd00:42::30', targetPort: 8080, weight: 1, delivery: { kind: 'local', port: 'b1', ofport: 6 } }]);
    expect(viaPair.lines.join('\n')).toContain('new connections DNAT to [fd00:42::30]:8080, its only usable backend');
    const empty = (proto: TraceInput['proto'], to: string, protocol: string) =>
      logicalPath({ ...input6(to, proto), lbs: [{ ...lb6, spec: { ...lb6.spec!, listeners: [{ protocol, port: 80 }], backends: [] } } as LoadBalancer] }).lines.join('\n');
    expect(empty('udp', `[${VIP6}]:80`, 'UDP')).toContain('refused: vnetd answers an ICMPv6 port unreachable from the VIP');
    expect(empty('sctp', `[${VIP6}]:80`, 'SCTP')).toContain('refused: vnetd answers an SCTP ABORT from the VIP');
    expect(empty('tcp', `[${VIP6}]:80`, 'TCP')).toContain('refused: vnetd answers a TCP RST from the VIP');
  });

  it('the text report writes an IPv6 source with its port in brackets', () => {
    const r: TraceReport = { packet: { from: 'client', src: 'fd00:42::2', srcPort: 41000, to: `[${VIP6}]:80`, proto: 'tcp' }, logical: { steps: [], verdict: 'deliver' }, ovs: {}, disagreements: [] };
    expect(renderTraceText(r).split('\n')[0]).toBe(`Logical path (tcp [fd00:42::2]:41000 -> [${VIP6}]:80):`);
  });

  it('reads IPv6 DNAT targets in each form OVS prints', () => {
    expect(natOf('ct(commit,nat(dst=2001:db8::4))')).toEqual({ ip: '2001:db8::4', port: undefined });
    expect(natOf('ct(commit,nat(dst=1234:5678::9-1234:5678::a))')).toEqual({ ip: '1234:5678::9', port: undefined });
    expect(natOf('ct(commit,nat(dst=[2001:db8::4]:8080))')).toEqual({ ip: '2001:db8::4', port: 8080 });
    expect(natOf('ct(commit,nat(dst=[fd00::4]:8080))')).toEqual({ ip: 'fd00::4', port: 8080 });
    expect(natOf('ct(commit,nat(dst=fd00::4))')).toEqual({ ip: 'fd00::4', port: undefined });
    expect(natOf('ct(commit,nat(dst=[fd00::4]-[fd00::9]:8080-8081))')).toEqual({ ip: 'fd00::4', port: 8080 });
    expect(natOf('ct(commit,nat(dst=10.0.0.4-10.0.0.9:80))')).toEqual({ ip: '10.0.0.4', port: 80 });
  });
});

describe('trace with a token that may not read Nodes (a tenant\'s)', () => {
  const refusal = 'Node.vnet.dev is forbidden: User "tenant-a" cannot list resource "nodes" in API group "vnet.dev" at the cluster scope: Node objects are admin-only';
  const api = '/apis/vnet.dev/v1alpha1';
  let server: Server;
  let dir: string;
  let kubeconfig: string;
  /** What GET /nodes answers: the tenant's 403 unless a test says otherwise. */
  let nodesAnswer: { code: number; body: unknown };
  let networkAnswer: { code: number; body: unknown };
  beforeAll(async () => {
    const b = ports[1]!;
    const routes: Record<string, () => { code: number; body: unknown }> = {
      [`${api}/namespaces/t1/virtualports/a`]: () => ({ code: 200, body: a }),
      [`${api}/namespaces/t1/virtualnetworks/blue`]: () => networkAnswer,
      [`${api}/namespaces/t1/virtualports`]: () => ({ code: 200, body: { items: [a, b], metadata: {} } }),
      [`${api}/namespaces/t1/loadbalancers`]: () => ({ code: 200, body: { items: [], metadata: {} } }),
      [`${api}/nodes`]: () => nodesAnswer,
    };
    server = createServer((req, res) => {
      const route = routes[new URL(req.url ?? '/', 'http://x').pathname];
      const { code, body } = route ? route() : { code: 404, body: { kind: 'Status', message: 'not found', code: 404 } };
      res.writeHead(code, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    dir = mkdtempSync(join(tmpdir(), 'vnetctl-trace-'));
    kubeconfig = join(dir, 'tenant.kubeconfig');
    const yaml = [
      'apiVersion: v1',
      'kind: Config',
      `clusters: [{ name: c, cluster: { server: "http://127.0.0.1:${(server.address() as AddressInfo).port}" } }]`,
      'users: [{ name: tenant-a, user: { token: t } }]',
      'contexts: [{ name: tenant, context: { cluster: c, user: tenant-a, namespace: t1 } }]',
      'current-context: tenant',
    ];
    writeFileSync(kubeconfig, `${yaml.join('\n')}\n`);
  });
  beforeEach(() => {
    networkAnswer = { code: 200, body: network };
    nodesAnswer = { code: 403, body: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', reason: 'Forbidden', code: 403, message: refusal } };
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    rmSync(dir, { recursive: true, force: true });
  });
  const vnetctl = async (...args: string[]): Promise<string> => {
    let out = '';
    const term = { isTTY: false, stderrIsTTY: false, color: false };
    const program = buildProgram({ term, io: { out: (s) => (out += s), err: (s) => (out += s) }, onUsageError: () => undefined });
    await program.parseAsync(['--kubeconfig', kubeconfig, ...args], { from: 'user' });
    return out;
  };

  it('says the token may not read Nodes (the 403\'s words), so OVS is not traced, and still prints the logical path (QA-112: "not bound to a known node")', async () => {
    const text = await vnetctl('trace', '--from', 'a', '--to', '10.0.0.3');
    expect(text).toContain('Logical path (icmp 10.0.0.2 -> 10.0.0.3):\n  from:     port a (0a:58:00:00:00:02 10.0.0.2) on node hv1, network blue\n');
    expect(text).toContain('port b on node hv2: tunnel (vxlan, VNI 77) to VTEP ? (this token may not read Nodes) (table L2Lookup)');
    expect(text).toContain('  verdict:  deliver\n');
    expect(text).toContain(`OVS: not traced here (this token may not read Nodes, so the OVS half cannot be traced: ${refusal})\n`);
    expect(text).not.toContain('not bound to a known node');
    const report = JSON.parse(await vnetctl('trace', '--from', 'a', '--to', '10.0.0.3', '-o', 'json')) as TraceReport;
    expect(report).toMatchObject({ logical: { verdict: 'deliver' }, ovs: { skipped: `this token may not read Nodes, so the OVS half cannot be traced: ${refusal}` }, disagreements: [] });
  });

  it('a network it cannot read is the command\'s failure, not "does not exist: drop"; one that is gone is a step of the path', async () => {
    networkAnswer = { code: 500, body: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', reason: 'InternalError', code: 500, message: 'etcd is down' } };
    await expect(vnetctl('trace', '--from', 'a', '--to', '10.0.0.3')).rejects.toThrow(/^cannot get virtualnetwork "blue" in namespace "t1": etcd is down/);
    networkAnswer = { code: 404, body: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', reason: 'NotFound', code: 404, message: 'virtualnetworks.vnet.dev "blue" not found' } };
    expect(await vnetctl('trace', '--from', 'a', '--to', '10.0.0.3')).toMatch(/blue does not exist: drop/);
  });

  it('any other failure to list Nodes is the command\'s, in one line', async () => {
    nodesAnswer = { code: 500, body: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', reason: 'InternalError', code: 500, message: 'etcd is down' } };
    await expect(vnetctl('trace', '--from', 'a', '--to', '10.0.0.3')).rejects.toThrow(/^cannot list nodes: etcd is down; this is vnetd's fault/);
  });
});

describe('trace: the exit code', () => {
  const report = (disagreements: string[], agrees?: boolean): TraceReport => ({ packet: { from: 'a', src: '10.0.0.2', to: '10.0.0.3', proto: 'icmp' }, logical: { steps: [], verdict: 'deliver' }, ovs: {}, disagreements, ...(agrees !== undefined ? { agrees } : {}) });

  it('is 1 when the report says DISAGREEMENT (QA-112: it was 0), 0 when OVS agrees or was not traced here', () => {
    expect(traceExitCode(report(['the logical model says deliver but OVS says drop (drop)'], false))).toBe(EXIT_ERROR);
    // Named while the verdict stays undetermined (a backend's slots, the far end of a tunnel): still a fault found.
    expect(traceExitCode(report(['on hv2, after the tunnel: the logical model delivers it to local port b but OVS drops it']))).toBe(EXIT_ERROR);
    expect(traceExitCode(report([], true))).toBe(EXIT_OK);
    expect(traceExitCode(report([]))).toBe(EXIT_OK);
    // A TROUBLE line (a cut tunnel on the path) is a fault found too (QA-126 H3: it exited 0).
    expect(traceExitCode({ ...report([], true), trouble: ['node hv2 is TunnelsUp=False NoProbeAnswered'] })).toBe(EXIT_ERROR);
  });

  it('is said in trace --help', async () => {
    let help = '';
    const program = buildProgram({ term: { isTTY: false, stderrIsTTY: false, color: false }, io: { out: (s) => (help += s), err: (s) => (help += s) }, onUsageError: () => undefined });
    await program.parseAsync(['trace', '--help'], { from: 'user' }).catch(() => undefined);
    expect(help.replace(/\s+/g, ' ')).toContain('every disagreement, and any trouble the nodes on the path report (a cut tunnel, a switch not answering), is named, and any makes it exit 1 (0 otherwise, also when OVS is not traced here)');
  });
});
