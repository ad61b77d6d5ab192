import type { VirtualNetwork } from '../resources/kinds';
import { allocatorsOf, excludedRangesNote } from './address-claims';

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

describe('excludedRangesNote', () => {
  it('names the excluded ranges of the family\'s subnets, and nothing when there are none', () => {
    const dual = { ...net(1, '10.9.0.0/29'), metadata: { name: 'n', namespace: 't', uid: 'u-ex', generation: 1 } } as VirtualNetwork;
    dual.spec!.subnets = [{ cidr: '10.9.0.0/29', excludeRanges: [{ start: '10.9.0.2', end: '10.9.0.4' }] }, { cidr: 'fd00:9::/64' }];
    const allocators = allocatorsOf(dual);
    expect(excludedRangesNote(allocators, 4)).toBe(' (excluded range 10.9.0.2-10.9.0.4 of 10.9.0.0/29 is never picked, though an address there may be named)');
    expect(excludedRangesNote(allocators, 6)).toBe('');
  });
});
