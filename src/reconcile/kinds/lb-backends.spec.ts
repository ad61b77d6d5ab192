import type { LbBackendModel, NetworkModel, PortModel } from '../../pipeline';
import type { LoadBalancer } from '../../resources/kinds';
import { drainedOnCordonedNodes, outOnDownSwitches, pairHolders, resolveBackends } from './lb-backends';

const net: NetworkModel = { uid: 'n', key: 't/blue', version: '1', vni: 7, encapsulation: 'vxlan' };
const port = (name: string, n: number, pairs: Array<{ ip: string; mac?: string }> = []): PortModel => ({
  uid: `u-${name}`,
  key: `t/${name}`,
  version: '1',
  network: 'n',
  mac: `02:00:00:00:00:0${n}`,
  ips: [`10.0.0.${n}`],
  portSecurity: true,
  allowedAddressPairs: pairs.map((p) => ({ ip: p.ip, mac: p.mac ?? `02:00:00:00:00:0${n}` })),
  binding: { node: 'hv1', ofport: n },
});
const lbWith = (ips: string[]): LoadBalancer => ({
  apiVersion: 'vnet.dev/v1alpha1',
  kind: 'LoadBalancer',
  metadata: { name: 'web', namespace: 't', uid: 'lb' },
  spec: { network: 'blue', vip: '10.0.0.100', listeners: [{ port: 80, protocol: 'TCP' }], backends: ips.map((ip) => ({ ip })) },
});

describe('resolveBackends', () => {
  it('an address backend resolves to the one port whose allowed pairs cover it: an address, a /32, or a wider CIDR (QA: a CIDR pair never resolved)', () => {
    const b3 = port('b3', 3, [{ ip: '10.0.0.60/32' }, { ip: '10.0.0.48/29' }, { ip: '10.0.0.70' }]);
    const ports = new Map([b3, port('b4', 4)].map((p) => [p.key, p]));
    const got = resolveBackends(lbWith(['10.0.0.60', '10.0.0.50', '10.0.0.70', '10.0.0.4', '10.0.0.90']), net, ports);
    expect(got.map((b) => [b.name, b.mac, b.node])).toEqual([
      ['10.0.0.60', b3.mac, 'hv1'],
      ['10.0.0.50', b3.mac, 'hv1'],
      ['10.0.0.70', b3.mac, 'hv1'],
      ['10.0.0.4', '02:00:00:00:00:04', 'hv1'],
    ]);
  });

  it('an address several ports\' pairs cover (a VRRP pair) resolves to none of them: which one holds it is not known (QA: the first was taken, and the VIP answered nothing)', () => {
    const b1 = port('b1', 1, [{ ip: '10.0.0.40' }]), b2 = port('b2', 2, [{ ip: '10.0.0.40/31' }]);
    const ports = new Map([b1, b2].map((p) => [p.key, p]));
    expect(resolveBackends(lbWith(['10.0.0.40']), net, ports)).toEqual([]);
    expect(pairHolders('10.0.0.40', [b1, b2]).map((p) => p.key)).toEqual(['t/b1', 't/b2']);
    // A port's own address is its own, whatever pairs cover it elsewhere.
    expect(resolveBackends(lbWith(['10.0.0.2']), net, new Map([...ports, ['t/b5', port('b5', 5, [{ ip: '10.0.0.0/29' }])]])).map((b) => b.mac)).toEqual([b2.mac]);
  });

  it('a backend lists its port\'s other addresses of the VIP\'s family, each with the MAC it is sent from: its connections from them to the VIP are hairpins too (QA-113 F3)', () => {
    const b3 = { ...port('b3', 3, [{ ip: '10.0.0.60' }, { ip: '10.0.0.48/29', mac: '02:00:00:00:99:03' }, { ip: 'fd00::3' }]), ips: ['10.0.0.3', 'fd00::33'] };
    const ports = new Map([b3, port('b4', 4)].map((p) => [p.key, p]));
    const [byPair, byPort, plain] = resolveBackends({ ...lbWith(['10.0.0.60', '10.0.0.4']), spec: { ...lbWith([]).spec!, backends: [{ ip: '10.0.0.60' }, { port: 'b3' }, { ip: '10.0.0.4' }] } }, net, ports);
    expect(byPair!.peers).toEqual([
      { family: 4, mac: b3.mac, ip: '10.0.0.3' },
      { family: 4, mac: '02:00:00:00:99:03', ip: '10.0.0.48', mask: '255.255.255.248' },
    ]);
    expect(byPort!.ip).toBe('10.0.0.3');
    expect(byPort!.peers).toEqual([
      { family: 4, mac: b3.mac, ip: '10.0.0.60' },
      { family: 4, mac: '02:00:00:00:99:03', ip: '10.0.0.48', mask: '255.255.255.248' },
    ]);
    // A port with one address of the family has none: no flows beyond the backend's own.
    expect(plain!.peers).toBeUndefined();
  });

  it('no peers by a MAC another port may send from: a VRRP peer sharing the pair MAC would have its own connections sent back out of its port (review 121)', () => {
    const vrrp = { ip: '10.0.0.200', mac: '00:00:5e:00:01:07' };
    const p1 = port('p1', 1, [vrrp]), p2 = port('p2', 2, [vrrp]);
    const ports = new Map([p1, p2].map((p) => [p.key, p]));
    const [byPort] = resolveBackends({ ...lbWith([]), spec: { ...lbWith([]).spec!, backends: [{ port: 'p1' }] } }, net, ports);
    expect(byPort!.peers).toBeUndefined();
    // Held alone, the pair is a peer.
    const [alone] = resolveBackends({ ...lbWith([]), spec: { ...lbWith([]).spec!, backends: [{ port: 'p1' }] } }, net, new Map([[p1.key, p1]]));
    expect(alone!.peers).toEqual([{ family: 4, mac: vrrp.mac, ip: vrrp.ip }]);
  });
});

describe('outOnDownSwitches (QA-135 F1)', () => {
  const b = (name: string, node: string | undefined, healthy = true, weight = 1): LbBackendModel => ({ name, ip: `10.0.0.${name.length}`, mac: '02:00:00:00:00:01', weight, healthy, ...(node ? { node } : {}) });
  const down = (node: string) => node === 'hv2';
  const healthyNames = (bs: LbBackendModel[]) => bs.filter((x) => x.healthy).map((x) => x.name);

  it('takes the backends on a node whose switch does not answer out while another backend takes connections', () => {
    expect(healthyNames(outOnDownSwitches([b('a', 'hv1'), b('bb', 'hv2'), b('ccc', 'hv2')], down))).toEqual(['a']);
  });

  it('keeps them all when every backend left is on such nodes: unhealthy, drained (weight 0) or unbound elsewhere', () => {
    expect(healthyNames(outOnDownSwitches([b('a', 'hv1', false), b('bb', 'hv2')], down))).toEqual(['bb']);
    expect(healthyNames(outOnDownSwitches([b('a', 'hv1', true, 0), b('bb', 'hv2')], down))).toEqual(['a', 'bb']);
    expect(healthyNames(outOnDownSwitches([b('a', undefined, false), b('bb', 'hv2')], down))).toEqual(['bb']);
  });

  it('returns the same list, untouched, where no healthy backend is on such a node', () => {
    const list = [b('a', 'hv1'), b('bb', 'hv2', false)];
    expect(outOnDownSwitches(list, down)).toBe(list);
  });
});

describe('drainedOnCordonedNodes', () => {
  const b = (name: string, node: string | undefined, healthy = true, weight = 1): LbBackendModel => ({ name, ip: `10.0.0.${name.length}`, mac: '02:00:00:00:00:01', weight, healthy, ...(node ? { node } : {}) });
  const cordoned = (node: string) => node === 'hv2';
  const weights = (bs: LbBackendModel[]) => Object.fromEntries(bs.map((x) => [x.name, x.weight]));

  it('drains (weight 0, healthy still) the backends on a cordoned node while another backend takes connections', () => {
    const out = drainedOnCordonedNodes([b('a', 'hv1', true, 3), b('bb', 'hv2', true, 2), b('ccc', undefined)], cordoned);
    expect(weights(out)).toEqual({ a: 3, bb: 0, ccc: 1 });
    expect(out.every((x) => x.healthy)).toBe(true);
  });

  it('keeps them when no backend elsewhere takes connections: unhealthy, drained, or none', () => {
    expect(weights(drainedOnCordonedNodes([b('a', 'hv1', false), b('bb', 'hv2')], cordoned))).toEqual({ a: 1, bb: 1 });
    expect(weights(drainedOnCordonedNodes([b('a', 'hv1', true, 0), b('bb', 'hv2')], cordoned))).toEqual({ a: 0, bb: 1 });
    expect(weights(drainedOnCordonedNodes([b('bb', 'hv2'), b('cc', 'hv2')], cordoned))).toEqual({ bb: 1, cc: 1 });
  });

  it('returns the same list, untouched, where no weighted healthy backend is on a cordoned node', () => {
    const list = [b('a', 'hv1'), b('bb', 'hv2', false)];
    expect(drainedOnCordonedNodes(list, cordoned)).toBe(list);
  });
});
