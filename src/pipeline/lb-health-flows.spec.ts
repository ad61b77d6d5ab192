import { checkMatch, decodeMessage, encodeMessage, flowMod, type FlowModMessage } from '../openflow';
import { formatPipelineFlow } from './format';
import { lbFlows } from './load-balancer';
import type { LoadBalancerModel, NetworkModel } from './model';
import { lbMac } from './owners';

const net: NetworkModel = { uid: 'n', key: 't/n', version: '1', vni: 4242, encapsulation: 'geneve' };
const dns = (vip: string, ips: string[], extra: Partial<LoadBalancerModel>): LoadBalancerModel => ({
  uid: 'dns',
  key: 't/dns',
  version: '1',
  network: 'n',
  vip,
  mac: lbMac('dns'),
  listeners: [{ protocol: 'UDP', port: 53, targetPort: 5353 }],
  backends: ips.map((ip, i) => ({ name: `b${i}`, ip, mac: `02:00:00:00:00:0${i + 1}`, weight: 1, healthy: true })),
  ...extra,
});
const text = (lb: LoadBalancerModel): string[] => lbFlows(lb, net).flows.map(formatPipelineFlow);

describe('UDP health check flows', () => {
  it('send ICMP port unreachables to the VIP from a backend on a local VM port, related to no connection, to the controller, and drop UDP answers from the checked port', () => {
    const flows = text(dns('10.0.0.100', ['10.0.0.5', '10.0.0.6', '10.0.0.5'], { udpHealthCheckPorts: [5353] }));
    const icmp = flows.filter((f) => /icmp_type=3/.test(f));
    // One per distinct backend address: no other VM's error reaches vnetd.
    expect(icmp).toHaveLength(2);
    expect(icmp.map((f) => /nw_src=([\d.]+)/.exec(f)?.[1]).sort()).toEqual(['10.0.0.5', '10.0.0.6']);
    for (const f of icmp) {
      expect(f).toMatch(/priority=120,/);
      for (const part of ['FromTunnel=0', 'ct_state=-rel+trk', `dl_dst=${lbMac('dns')}`, 'icmp,', 'icmp_code=3', 'nw_dst=10.0.0.100', 'actions=CONTROLLER:128']) expect(f).toContain(part);
    }
    const answers = flows.filter((f) => /udp,.*tp_src=5353/.test(f));
    // The answers' drop, and a client's new datagram from port 5353 to the listener, above it.
    expect(answers).toHaveLength(2);
    const drop = answers.find((f) => /priority=120,/.test(f))!;
    expect(drop).toMatch(/actions=drop$/);
    expect(drop).toContain('nw_dst=10.0.0.100');
    const client = answers.find((f) => /priority=121,/.test(f))!;
    expect(client).toMatch(/ct_state=\+new\+trk,.*tp_dst=53,/);
    expect(client).toContain('multipath');
  });

  it('use ICMPv6 type 1 code 4 for an IPv6 VIP, and every flow encodes and decodes', () => {
    const lb = dns('fd00::64', ['fd00::5'], { udpHealthCheckPorts: [5353, 5354] });
    const flows = lbFlows(lb, net).flows;
    const icmp = flows.map(formatPipelineFlow).filter((f) => /icmp6,/.test(f) && /priority=120,/.test(f));
    expect(icmp).toHaveLength(1);
    expect(icmp[0]).toMatch(/icmp_type=1,icmp_code=4 actions=CONTROLLER:128$/);
    expect(icmp[0]).toContain('ipv6_dst=fd00::64');
    expect(icmp[0]).toContain('ipv6_src=fd00::5');
    expect(flows.map(formatPipelineFlow).filter((f) => /priority=120,.*udp6,.*tp_src=535[34] actions=drop$/.test(f))).toHaveLength(2);
    for (const f of flows) {
      checkMatch(f.match);
      const m = flowMod({ command: 'add', tableId: f.tableId, priority: f.priority, match: f.match, instructions: f.instructions });
      expect((decodeMessage(encodeMessage(m)) as FlowModMessage).match).toEqual(m.match);
    }
  });

  it('with expectReply, send UDP answers from each backend address and checked port, on a local VM port, part of no connection, to the controller instead of dropping them', () => {
    const lb = dns('10.0.0.100', ['10.0.0.5', '10.0.0.6', '10.0.0.5'], { udpHealthCheckPorts: [5353, 5354], udpHealthExpectReply: true });
    const flows = text(lb);
    const answers = flows.filter((f) => /priority=120,.*udp,.*tp_src=535[34]/.test(f));
    // 2 distinct addresses x 2 checked ports, and no drop flow left.
    expect(answers).toHaveLength(4);
    expect(answers.map((f) => `${/nw_src=([\d.]+)/.exec(f)?.[1]}:${/tp_src=(\d+)/.exec(f)?.[1]}`).sort()).toEqual(['10.0.0.5:5353', '10.0.0.5:5354', '10.0.0.6:5353', '10.0.0.6:5354']);
    for (const f of answers) {
      // Not established, related, a reply or invalid: a hairpin or a client's reply never matches.
      for (const part of ['FromTunnel=0', 'ct_state=-est-rel-rpl-inv+trk', `dl_dst=${lbMac('dns')}`, 'nw_dst=10.0.0.100', 'actions=CONTROLLER:128']) expect(f).toContain(part);
    }
    expect(flows.filter((f) => /udp,.*tp_src=.* actions=drop$/.test(f))).toEqual([]);
    // The ICMP flows stay: a port unreachable still fails the check at once.
    expect(flows.filter((f) => /icmp_type=3/.test(f))).toHaveLength(2);
    // Without it, the flow count per backend is unchanged: 1 drop per port.
    const before = lbFlows(dns('10.0.0.100', ['10.0.0.5', '10.0.0.6'], { udpHealthCheckPorts: [5353, 5354] }), net).flows.length;
    expect(lbFlows(dns('10.0.0.100', ['10.0.0.5', '10.0.0.6'], { udpHealthCheckPorts: [5353, 5354], udpHealthExpectReply: true }), net).flows.length).toBe(before - 2 + 4);
    const v6 = lbFlows(dns('fd00::64', ['fd00::5'], { udpHealthCheckPorts: [53], udpHealthExpectReply: true }), net).flows;
    expect(v6.map(formatPipelineFlow).filter((f) => /udp6,.*ipv6_src=fd00::5.*tp_src=53 actions=CONTROLLER:128$/.test(f))).toHaveLength(1);
    for (const f of [...lbFlows(lb, net).flows, ...v6]) {
      checkMatch(f.match);
      const m = flowMod({ command: 'add', tableId: f.tableId, priority: f.priority, match: f.match, instructions: f.instructions });
      expect((decodeMessage(encodeMessage(m)) as FlowModMessage).match).toEqual(m.match);
    }
  });

  it('are not there without UDP checks; a TCP check on a side port of a UDP-only VIP sends only its TCP answers', () => {
    const none = text(dns('10.0.0.100', ['10.0.0.5'], {}));
    expect(none.filter((f) => /icmp_type|tp_src/.test(f))).toEqual([]);
    const side = text(dns('10.0.0.100', ['10.0.0.5'], { healthCheckPorts: [8053] }));
    expect(side.filter((f) => /icmp_type|udp,.*tp_src/.test(f))).toEqual([]);
    const tcp = side.filter((f) => /tp_src=8053/.test(f));
    expect(tcp).toEqual([expect.stringMatching(/priority=120, .*tcp,.*tp_src=8053 actions=CONTROLLER:128$/)]);
  });
});
