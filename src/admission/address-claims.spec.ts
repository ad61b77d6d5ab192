import type { VirtualNetwork } from '../resources/kinds';
import { allocatorsOf } from './address-claims';

const net = (generation: number, cidr: string, uid = 'u-net'): VirtualNetwork =>
  ({ apiVersion: 'vnet.dev/v1alpha1', kind: 'VirtualNetwork', metadata: { name: 'n', namespace: 't', uid, generation }, spec: { subnets: [{ cidr }] } }) as VirtualNetwork;

describe('allocatorsOf', () => {
  it('builds a network generation\'s allocators once, and again when the spec (generation) or the network (uid) changes', () => {
    const a = allocatorsOf(net(1, '10.0.0.0/24'));
    expect(allocatorsOf(net(1, '10.0.0.0/24'))).toBe(a);
    const b = allocatorsOf(net(2, '10.1.0.0/16'));
    expect(b).not.toBe(a);
    expect(b[0]!.cidr).toBe('10.1.0.0/16');
    expect(allocatorsOf(net(1, '10.2.0.0/24', 'u-other'))[0]!.cidr).toBe('10.2.0.0/24');
  });
});
