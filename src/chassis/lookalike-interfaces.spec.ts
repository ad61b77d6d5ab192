import type { VirtualPort } from '../resources/kinds';
import { lookalikeNote, lookalikesOf, type UnclaimedInterface } from './lookalike-interfaces';

const UID = '3f2c9a7e-5b1d-4c8e-9f60-1a2b3c4d5e6f';
const port = (name = 'web', ns = 'tenant-a'): VirtualPort => ({ apiVersion: 'vnet.dev/v1alpha1', kind: 'VirtualPort', metadata: { name, namespace: ns, uid: UID }, spec: { network: 'net', interfaceId: UID } });
const nic = (interfaceId: string, name = 'tap0', node = 'hv1'): UnclaimedInterface => ({ node, name, interfaceId });

describe('lookalikesOf: unclaimed interfaces that look meant for a port whose NIC is found nowhere', () => {
  it("names a NIC whose iface-id is the port's name (or namespace/name), the usual slip: its interface id defaults to its uid", () => {
    for (const seen of ['web', 'tenant-a/web', 'web.tenant-a']) {
      expect(lookalikesOf(port(), UID, [nic(seen)])).toEqual([{ ...nic(seen), why: "the port's name, not its interface id" }]);
    }
  });

  it('names a NIC whose iface-id differs in case, by spaces around it, or by a few edits (a swapped pair is two)', () => {
    expect(lookalikesOf(port(), UID, [nic(UID.toUpperCase())])[0]?.why).toBe('its interface id in other letter case');
    expect(lookalikesOf(port(), UID, [nic(` ${UID}`)])[0]?.why).toBe('its interface id with spaces around it');
    const swapped = UID.slice(0, 4) + UID[5] + UID[4] + UID.slice(6);
    expect(lookalikesOf(port(), UID, [nic(swapped)])[0]?.why).toBe('2 characters off its interface id');
    const short = port('db', 'ns');
    expect(lookalikesOf(short, 'iface-vm-typo', [nic('iface-vm-tpyo')])[0]?.why).toBe('2 characters off its interface id');
  });

  it('leaves out what is another VM more likely than a typo: short ids a letter apart beyond one edit, other UUIDs, the id itself', () => {
    const short = { ...port('a', 'ns'), spec: { network: 'net', interfaceId: 'web1' } };
    expect(lookalikesOf(short, 'web1', [nic('web2')])).toHaveLength(1);
    expect(lookalikesOf(short, 'web1', [nic('wbe2'), nic('web12x')])).toEqual([]);
    expect(lookalikesOf(port(), UID, [nic('9d7e1f00-2a3b-4c5d-8e9f-a0b1c2d3e4f5'), nic(UID)])).toEqual([]);
  });

  it('orders the nearest first and names at most three', () => {
    const near = UID.slice(0, -1) + 'x';
    const far = UID.slice(0, -3) + 'xyz';
    const found = lookalikesOf(port(), UID, [nic(far, 'tapf'), nic(near, 'tapn', 'hv2'), nic('web', 'tapw'), nic(UID.toUpperCase(), 'tapu'), nic(far, 'tapg', 'hv3')]);
    expect(found.map((f) => f.name)).toEqual(['tapn', 'tapf', 'tapg']);
  });
});

describe('lookalikeNote', () => {
  it('is empty when nothing looks meant for the port', () => {
    expect(lookalikeNote(port(), UID, [nic('other')])).toBe('');
    expect(lookalikeNote(port(), UID, [])).toBe('');
  });

  it("says where the NIC is, why it looks so, and the command that gives it the port's interface id", () => {
    expect(lookalikeNote(port(), UID, [nic('web', 'vnet7')])).toBe(
      `; interface vnet7 on node hv1 has iface-id=web (the port's name, not its interface id), which no port claims: is it this port's VM? Then give it the port's interface id (ovs-vsctl set Interface vnet7 external_ids:iface-id=${UID}; spec.interfaceId cannot change)`,
    );
    expect(lookalikeNote(port(), UID, [nic('web', 'vnet7'), nic('tenant-a/web', 'vnet8', 'hv2')])).toContain(`(ovs-vsctl set Interface NAME external_ids:iface-id=${UID};`);
    // A node whose switch is not the system's (npm start's own): the command names it (QA-132 F2).
    const own = { ...nic('web', 'vnet7'), ovsdb: 'unix:/srv/vnetd/ovs/db.sock' };
    expect(lookalikeNote(port(), UID, [own])).toContain(`(ovs-vsctl --db='unix:/srv/vnetd/ovs/db.sock' set Interface vnet7 external_ids:iface-id=${UID};`);
    expect(lookalikeNote(port(), UID, [{ ...own, ovsdb: 'unix:/run/openvswitch/db.sock' }])).toContain(`(ovs-vsctl set Interface vnet7 `);
  });
});
