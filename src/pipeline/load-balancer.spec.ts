import { checkMatch, decodeMessage, encodeMessage, flowMod, type FlowModMessage } from '../openflow';
import { backendRegisterValues, lbFlows } from './load-balancer';
import { lbMac } from './owners';
import type { LoadBalancerModel, NetworkModel } from './model';
import { TABLES } from './tables';

const net: NetworkModel = { uid: 'n', key: 't/n', version: '1', vni: 4242, encapsulation: 'geneve' };
const lb6 = (ips: string[]): LoadBalancerModel => ({
  uid: 'lb6',
  key: 't/lb6',
  version: '1',
  network: 'n',
  vip: 'fd00:10::64',
  mac: lbMac('lb6'),
  listeners: [{ protocol: 'TCP', port: 80, targetPort: 8080 }],
  backends: ips.map((ip, i) => ({ name: `b${i}`, ip, mac: `02:00:00:00:00:0${i + 1}`, weight: 1, healthy: true })),
  healthCheckPorts: [33000],
});

describe('lbFlows for an IPv6 VIP', () => {
  const flows = lbFlows(lb6(['fd00:10::5', 'fd00:10::6', 'fd00:10::7']), net).flows;

  it('answers Neighbor Solicitations for the VIP (no ARP) and matches IPv6 throughout', () => {
    const fields = (t: number) => flows.filter((f) => f.tableId === t).flatMap((f) => f.match.map((m) => m.field));
    expect(fields(TABLES.ArpResponder.id)).toEqual(expect.arrayContaining(['icmpv6_type', 'ipv6_nd_target']));
    expect(fields(TABLES.ArpResponder.id)).not.toContain('arp_tpa');
    for (const t of [TABLES.LbNat.id, TABLES.LbSlot.id, TABLES.LbDnat.id]) expect(fields(t)).not.toContain('ipv4_dst');
    const dnat = flows.filter((f) => f.tableId === TABLES.LbDnat.id);
    expect(dnat).toHaveLength(3);
    const natTo = dnat.map((f) => JSON.stringify(f.instructions)).map((j) => /"ipMin":"([^"]+)"/.exec(j)?.[1]).sort();
    expect(natTo).toEqual(['fd00:10::5', 'fd00:10::6', 'fd00:10::7']);
  });

  it('every flow is valid OpenFlow and survives an encode/decode round trip (an IPv6 VIP once failed to encode and stopped a node)', () => {
    for (const f of flows) {
      checkMatch(f.match);
      const m = flowMod({ command: 'add', tableId: f.tableId, priority: f.priority, match: f.match, instructions: f.instructions });
      const back = decodeMessage(encodeMessage(m)) as FlowModMessage;
      expect(back.match).toEqual(m.match);
    }
  });

  it('gives each backend a register value of its own that does not move when others come and go', () => {
    const all = backendRegisterValues(lb6(['fd00:10::5', 'fd00:10::6', 'fd00:10::7']).backends);
    const fewer = backendRegisterValues(lb6(['fd00:10::7', 'fd00:10::5']).backends);
    expect(new Set(all.values()).size).toBe(3);
    expect(fewer.get('fd00:10::5')).toBe(all.get('fd00:10::5'));
    expect(fewer.get('fd00:10::7')).toBe(all.get('fd00:10::7'));
    // IPv4 backends keep their address as the value (what counting and tracing read).
    expect([...backendRegisterValues([{ name: 'a', ip: '10.0.0.5', mac: '02:00:00:00:00:05', weight: 1, healthy: true }]).values()]).toEqual([0x0a000005]);
  });
});
