import type { Interface } from '../ovsdb/models/open_vswitch';
import { Activations } from './activations';

const row = (name: string, ofport: number, id: string) => ({ name, ofport, external_ids: { 'iface-id': id } }) as unknown as Partial<Interface>;

describe('Activations', () => {
  it('holds for the NIC as it was announced on: its ofport and iface-id; forgotten when its row goes, is renumbered or given another iface-id', () => {
    const a = new Activations();
    a.set('hv2', { name: 'tap2', ofport: 8, ifaceId: 'vm1', at: 1000 });
    expect(a.at('hv2', 'tap2', 8, 'vm1')).toBe(1000);
    expect(a.at('hv1', 'tap2', 8, 'vm1')).toBeUndefined();
    expect(a.at('hv2', 'tap2', 9, 'vm1')).toBeUndefined();
    expect(a.at('hv2', 'tap2', 8, 'vm2')).toBeUndefined();
    // Another column changed (link_state): kept.
    expect(a.rowChanged('hv2', row('tap2', 8, 'vm1'), { ...row('tap2', 8, 'vm1'), link_state: 'down' } as Partial<Interface>)).toBe(false);
    expect(a.at('hv2', 'tap2', 8, 'vm1')).toBe(1000);
    // Another iface-id: gone.
    expect(a.rowChanged('hv2', row('tap2', 8, 'vm1'), row('tap2', 8, 'vm9'))).toBe(true);
    expect(a.at('hv2', 'tap2', 8, 'vm1')).toBeUndefined();
    // Deleted, renumbered: gone.
    a.set('hv2', { name: 'tap2', ofport: 8, ifaceId: 'vm1', at: 1000 });
    expect(a.rowChanged('hv2', row('tap2', 8, 'vm1'), undefined)).toBe(true);
    a.set('hv2', { name: 'tap2', ofport: 8, ifaceId: 'vm1', at: 1000 });
    expect(a.rowChanged('hv2', row('tap2', 8, 'vm1'), row('tap2', 12, 'vm1'))).toBe(true);
    // A node's session dropped: all of its activations go.
    a.set('hv2', { name: 'tap2', ofport: 8, ifaceId: 'vm1', at: 1000 });
    a.forgetNode('hv2');
    expect(a.at('hv2', 'tap2', 8, 'vm1')).toBeUndefined();
  });
});
