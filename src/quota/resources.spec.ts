import { parseQuantity, usageDelta, usageOf } from './resources';

describe('quota resources', () => {
  it('parses whole quantities as kubectl writes them, and says why others are refused', () => {
    expect(parseQuantity(10)).toEqual({ value: 10 });
    expect(parseQuantity('10')).toEqual({ value: 10 });
    expect(parseQuantity('2k')).toEqual({ value: 2000 });
    expect(parseQuantity('1Ki')).toEqual({ value: 1024 });
    expect(parseQuantity('0')).toEqual({ value: 0 });
    for (const bad of ['500m', '1.5', '-1', '', 'ten', 1.5, -1, null, '99999999999999999999']) expect(parseQuantity(bad)).toHaveProperty('error');
  });

  it('counts a load balancer by listeners x backends, and the change of an update only', () => {
    const before = usageOf('LoadBalancer', { listeners: [{ port: 80 }, { port: 443 }], backends: [{ ip: 'a' }, { ip: 'b' }] });
    expect(Object.fromEntries(before)).toEqual({ loadbalancers: 1, 'lb-listeners': 2, 'lb-backends': 2, 'lb-listener-backends': 4 });
    const after = usageOf('LoadBalancer', { listeners: [{ port: 80 }], backends: [{ ip: 'a' }, { ip: 'b' }, { ip: 'c' }] });
    expect(Object.fromEntries(usageDelta(after, before))).toEqual({ 'lb-listeners': -1, 'lb-backends': 1, 'lb-listener-backends': -1 });
    // Whatever a client sent is counted, never trusted: no listeners array is none.
    expect(usageOf('LoadBalancer', { listeners: 'x' }).get('lb-listener-backends')).toBe(0);
    expect(Object.fromEntries(usageDelta(usageOf('VirtualPort', {}), undefined))).toEqual({ virtualports: 1 });
  });
});
