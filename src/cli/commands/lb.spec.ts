import type { LoadBalancer } from '../../resources/kinds';
import { portOfAddress } from './lb';

describe('lb: an address given for a backend declared by its port', () => {
  const lb = {
    apiVersion: 'vnet.dev/v1alpha1',
    kind: 'LoadBalancer',
    metadata: { name: 'web', namespace: 't' },
    spec: { network: 'net', listeners: [{ port: 80 }], backends: [{ port: 'b1' }, { port: 'b2' }, { ip: '10.0.0.9' }] },
    status: { backends: [{ name: 'b1', ip: '10.0.0.3', node: 'hv1', healthy: true }, { name: 'b2', ip: '10.0.0.4', node: 'hv2', healthy: true }, { name: '10.0.0.9', ip: '10.0.0.9', node: '', healthy: true }] },
  } as unknown as LoadBalancer;

  it('names the port whose address it is', () => {
    expect(portOfAddress(lb, { ip: '10.0.0.4' })).toBe('; 10.0.0.4 is the address of backend b2 (a VirtualPort): name it instead, --backend b2');
  });

  it('says nothing for a port name, an unknown address or an address backend', () => {
    expect(portOfAddress(lb, { port: 'b9' })).toBe('');
    expect(portOfAddress(lb, { ip: '10.0.0.77' })).toBe('');
    expect(portOfAddress(lb, { ip: '10.0.0.9' })).toBe('');
    expect(portOfAddress({ ...lb, status: undefined } as LoadBalancer, { ip: '10.0.0.4' })).toBe('');
  });
});
