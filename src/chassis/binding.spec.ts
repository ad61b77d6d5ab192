import type { VirtualPort } from '../resources/kinds';
import { ACTIVATED, activationTime, bindingStatus, firstReadyInterface, interfaceIsLive, readyInterfaces, takesOverActivated, takesOverLinkDown } from './binding';

const now = new Date('2026-01-01T00:00:00Z');
const port = (spec: Partial<VirtualPort['spec']> = {}, status?: VirtualPort['status']): VirtualPort => ({
  apiVersion: 'vnet.dev/v1alpha1',
  kind: 'VirtualPort',
  metadata: { name: 'p', namespace: 't', uid: 'uid-1', generation: 3 },
  spec: { network: 'n', interfaceId: 'vm1-eth0', node: 'hv1', ...spec },
  status,
});
const bound = (c: ReturnType<typeof bindingStatus>) => c.conditions?.find((x) => x.type === 'Bound');

describe('bindingStatus', () => {
  it('binds to the interface with an ofport on the port\'s node', () => {
    const s = bindingStatus(port({}, { mac: 'm' }), [{ node: 'hv1', connected: true, interfaces: [{ name: 'tap1', ofport: 7, error: null }] }], now);
    expect(s).toMatchObject({ mac: 'm', node: 'hv1', ofport: 7 });
    expect(bound(s)).toMatchObject({ status: 'True', reason: 'InterfaceFound', observedGeneration: 3 });
  });

  it('bound to a NIC whose VM MAC (attached-mac) is not the port\'s: still bound, but says MacMismatch; case does not matter; no attached-mac, no check', () => {
    const views = (attachedMac?: string) => [{ node: 'hv1', connected: true, interfaces: [{ name: 'tap1', ofport: 7, error: null, attachedMac }] }];
    const p = port({ mac: '02:00:00:00:00:01' });
    const s = bindingStatus(p, views('02:00:00:00:00:99'), now);
    expect([s.node, s.ofport]).toEqual(['hv1', 7]);
    expect(bound(s)).toMatchObject({ status: 'True', reason: 'MacMismatch', message: expect.stringContaining("is 02:00:00:00:00:99, not the port's 02:00:00:00:00:01") });
    expect(bound(bindingStatus(p, views('02:00:00:00:00:01'.toUpperCase()), now))).toMatchObject({ status: 'True', reason: 'InterfaceFound' });
    expect(bound(bindingStatus(p, views(), now))).toMatchObject({ status: 'True', reason: 'InterfaceFound' });
  });

  it('unbinds when the interface is gone, clearing node and ofport', () => {
    const prev = bindingStatus(port(), [{ node: 'hv1', connected: true, interfaces: [{ name: 'tap1', ofport: 7, error: null }] }], now);
    const s = bindingStatus(port({}, prev), [{ node: 'hv1', connected: true, interfaces: [] }], now);
    expect(s.node).toBeUndefined();
    expect(s.ofport).toBeUndefined();
    expect(bound(s)).toMatchObject({ status: 'False', reason: 'InterfaceNotFound' });
    expect(bound(s)!.message).toContain('iface-id=vm1-eth0');
  });

  it('bound to a NIC whose link is down: still bound (its flows stay), but says LinkDown; up or unknown, InterfaceFound', () => {
    const views = (linkState: 'up' | 'down' | null) => [{ node: 'hv1', connected: true, interfaces: [{ name: 'tap1', ofport: 7, error: null, linkState }] }];
    const s = bindingStatus(port(), views('down'), now);
    expect([s.node, s.ofport]).toEqual(['hv1', 7]);
    expect(bound(s)).toMatchObject({ status: 'True', reason: 'LinkDown', message: expect.stringContaining('bound to interface tap1 (ofport 7) on node hv1, but its link is down') });
    expect(bound(bindingStatus(port(), views('up'), now))).toMatchObject({ status: 'True', reason: 'InterfaceFound' });
    expect(bound(bindingStatus(port(), views(null), now))).toMatchObject({ status: 'True', reason: 'InterfaceFound' });
    expect(bound(s)!.message).toContain("the VM's NIC is down or the VM is not running");
    // Set down on the host (OVS admin_state), not by the VM: said so, with how to bring it up (QA-131).
    const hostDown = bindingStatus(port(), [{ node: 'hv1', connected: true, interfaces: [{ name: 'tap1', ofport: 7, error: null, linkState: 'down', adminDown: true }] }], now);
    expect(bound(hostDown)).toMatchObject({ reason: 'LinkDown', message: expect.stringContaining('but its link is down (OVS link_state): it is set down on the host (OVS admin_state down): bring it up (ip link set tap1 up, or ovs-ofctl mod-port br-int tap1 up)') });
  });

  it('a pinned port whose NIC is on another node says where it is; an unpinned port does not need to', () => {
    const here = [{ node: 'hv1', connected: true, interfaces: [] }];
    const s = bindingStatus(port(), here, now, [{ node: 'hv2', name: 'tap9' }]);
    expect([s.node, s.ofport]).toEqual([undefined, undefined]);
    expect(bound(s)).toMatchObject({
      status: 'False',
      reason: 'InterfaceOnOtherNode',
      message: "no interface with external_ids:iface-id=vm1-eth0 on node hv1, the port's spec.node; it is on node hv2 (interface tap9): start the VM on hv1, or set spec.node to hv2 (or leave spec.node out to bind wherever the NIC is)",
    });
    // Pinned to a node that does not exist: NodeNotFound, not advice to start the VM there (QA-132 F10).
    expect(bound(bindingStatus(port({ node: 'hv7' }), [], now, [{ node: 'hv2', name: 'tap9' }]))).toMatchObject({
      reason: 'NodeNotFound',
      message: "node hv7 (the port's spec.node) does not exist; the port's NIC is on node hv2 (interface tap9): set spec.node to hv2 (or leave spec.node out to bind wherever the NIC is), or create Node hv7",
    });
    expect(bound(bindingStatus(port(), here, now, []))).toMatchObject({ reason: 'InterfaceNotFound' });
  });

  it('says WrongBridge for a NIC with the port\'s iface-id on another bridge, and unbinds a port bound before', () => {
    const prev = bindingStatus(port(), [{ node: 'hv1', connected: true, interfaces: [{ name: 'tap1', ofport: 7, error: null }] }], now);
    const s = bindingStatus(port({}, prev), [{ node: 'hv1', connected: true, interfaces: [], misplaced: [{ name: 'tap1', bridge: 'br-phy' }] }], now);
    expect([s.node, s.ofport]).toEqual([undefined, undefined]);
    // br-phy is the underlay: the VM is not cut off, and the message says so (QA-131).
    expect(bound(s)).toMatchObject({
      status: 'False',
      reason: 'WrongBridge',
      message: "interface tap1 on node hv1 has external_ids:iface-id=vm1-eth0 but is on bridge br-phy, not br-int: only br-int's interfaces are bound (libvirt <source bridge='br-int'/>). br-phy is the underlay: its VM is on the hypervisors' own network, reaches their tunnel endpoints and can send into any tenant network's tunnels; unplug it from br-phy now.",
    });
    const other = bindingStatus(port(), [{ node: 'hv1', connected: true, interfaces: [], misplaced: [{ name: 'tap1', bridge: 'br-ex' }] }], now);
    expect(bound(other)!.message).toBe("interface tap1 on node hv1 has external_ids:iface-id=vm1-eth0 but is on bridge br-ex, not br-int: only br-int's interfaces are bound (libvirt <source bridge='br-int'/>).");
    // One on br-int as well: that one is bound.
    expect(bound(bindingStatus(port(), [{ node: 'hv1', connected: true, interfaces: [{ name: 'tap2', ofport: 9, error: null }], misplaced: [{ name: 'tap1', bridge: 'br-phy' }] }], now))).toMatchObject({ status: 'True' });
  });

  it('reports a pending or failed interface without an ofport', () => {
    expect(bound(bindingStatus(port(), [{ node: 'hv1', connected: true, interfaces: [{ name: 't', ofport: null, error: null }] }], now))).toMatchObject({ status: 'False', reason: 'InterfacePending' });
    const failed = bindingStatus(port(), [{ node: 'hv1', connected: true, interfaces: [{ name: 't', ofport: -1, error: 'could not open network device t' }] }], now);
    expect(bound(failed)).toMatchObject({ status: 'False', reason: 'InterfaceError' });
    expect(bound(failed)!.message).toContain('could not open');
  });

  it('keeps the last binding while the node is disconnected (Unknown)', () => {
    const prev = bindingStatus(port(), [{ node: 'hv1', connected: true, interfaces: [{ name: 'tap1', ofport: 7, error: null }] }], now);
    const s = bindingStatus(port({}, prev), [{ node: 'hv1', connected: false, interfaces: [] }], now);
    expect(s).toMatchObject({ node: 'hv1', ofport: 7 });
    expect(bound(s)).toMatchObject({ status: 'Unknown', reason: 'NodeDisconnected' });
  });

  it('changes nothing while the first connection to a node it may bind on is still being made', () => {
    const later = new Date('2026-01-01T00:05:00Z');
    const prev = bindingStatus(port(), [{ node: 'hv1', connected: true, interfaces: [{ name: 'tap1', ofport: 7, error: null }] }], now);
    // A restarted controller before its OVSDB session to hv1 is up: not Unknown, not unbound.
    expect(bindingStatus(port({}, prev), [{ node: 'hv1', connected: false, settling: true, interfaces: [] }], later)).toEqual(prev);
    // Unpinned: absent from the node that is up, and another still settling: no news either.
    const unpinned = port({ node: undefined }, prev);
    const views = [
      { node: 'hv0', connected: true, interfaces: [] },
      { node: 'hv1', connected: false, settling: true, interfaces: [] },
    ];
    expect(bindingStatus(unpinned, views, later)).toEqual(prev);
    // Found on a node that is up: bound there at once, whatever the others.
    const moved = bindingStatus(unpinned, [{ ...views[0]!, interfaces: [{ name: 'tap9', ofport: 9, error: null }] }, views[1]!], later);
    expect(moved).toMatchObject({ node: 'hv0', ofport: 9 });
    // Once that first attempt has failed, the node is disconnected: Unknown, as before.
    expect(bound(bindingStatus(port({}, prev), [{ node: 'hv1', connected: false, interfaces: [] }], later))).toMatchObject({ status: 'Unknown', reason: 'NodeDisconnected' });
  });

  it('without spec.node, binds wherever the interface appears', () => {
    const s = bindingStatus(port({ node: undefined }), [
      { node: 'hv2', connected: true, interfaces: [{ name: 'tap9', ofport: 3, error: null }] },
      { node: 'hv1', connected: true, interfaces: [] },
    ], now);
    expect(s).toMatchObject({ node: 'hv2', ofport: 3 });
  });

  it('says when the named node does not exist', () => {
    expect(bound(bindingStatus(port({ node: 'nope' }), [], now))).toMatchObject({ status: 'False', reason: 'NodeNotFound' });
  });
});

describe('a pinned port bound on its node whose iface-id is on another node too (QA-135 F3)', () => {
  it('stays bound and Ready, and says where the other NIC is (InterfaceAlsoOnOtherNode, a Warning event); LinkDown and MacMismatch say it too', () => {
    const views = (linkState: 'up' | 'down' = 'up', attachedMac?: string) => [{ node: 'hv2', connected: true, interfaces: [{ name: 'tap1', ofport: 7, error: null, linkState, attachedMac }] }];
    const p = port({ node: 'hv2', mac: '02:00:00:00:00:01' }, { node: 'hv2', ofport: 7 });
    const stale = [{ node: 'hv1', name: 'tapx' }];
    const note = "; its iface-id is also on node hv1 (interface tapx), where the port does not bind (spec.node is hv2): a tap left behind by an aborted live migration, or the VM running twice? Remove it there (ovs-vsctl del-port tapx), or set spec.node to hv1 if the VM runs there now";
    const s = bindingStatus(p, views(), now, stale);
    expect(s).toMatchObject({ node: 'hv2', ofport: 7 });
    expect(bound(s)).toMatchObject({ status: 'True', reason: 'InterfaceAlsoOnOtherNode', message: `bound to interface tap1 (ofport 7) on node hv2${note}` });
    // Gone there: InterfaceFound again.
    expect(bound(bindingStatus(port(p.spec, s), views(), now, []))).toMatchObject({ status: 'True', reason: 'InterfaceFound', message: 'bound to interface tap1 (ofport 7) on node hv2' });
    // Down here and up there is most likely the VM moved without its port: said with LinkDown.
    expect(bound(bindingStatus(p, views('down'), now, stale))).toMatchObject({ reason: 'LinkDown', message: expect.stringContaining(note) });
    expect(bound(bindingStatus(p, views('up', '02:00:00:00:00:99'), now, stale))).toMatchObject({ reason: 'MacMismatch', message: expect.stringContaining(note) });
    // An unpinned port binds wherever its NIC is: no such note (elsewhere is for pinned ports only).
    expect(bound(bindingStatus(port({ node: undefined }), views(), now, stale))).toMatchObject({ reason: 'InterfaceFound' });
  });
});

describe('firstReadyInterface', () => {
  it('is readyInterfaces()[0] with the list length, the earliest of the lowest node name winning', () => {
    const views = [
      { node: 'hv2', interfaces: [{ name: 'a', ofport: 4 }] },
      { node: 'hv1', interfaces: [{ name: 'b', ofport: null }, { name: 'c', ofport: -1 }, { name: 'd', ofport: 9 }, { name: 'e', ofport: 2 }] },
      { node: 'hv1', interfaces: [{ name: 'f', ofport: 1 }] },
    ];
    const all = readyInterfaces(views);
    const first = firstReadyInterface(views)!;
    expect({ node: first.node, ...first.iface }).toEqual(all[0]);
    expect(first.iface.name).toBe('d');
    expect(first.count).toBe(all.length);
    expect(firstReadyInterface([{ node: 'hv1', interfaces: [{ name: 'x', ofport: null }] }])).toBeUndefined();
  });

  it('names the other nodes an interface is present on in the Bound message', () => {
    const s = bindingStatus(port({ node: undefined }), [
      { node: 'hv2', connected: true, interfaces: [{ name: 'tap9', ofport: 3, error: null }] },
      { node: 'hv1', connected: true, interfaces: [{ name: 'tap1', ofport: 5, error: null }] },
    ], now);
    expect(s).toMatchObject({ node: 'hv1', ofport: 5 });
    expect(bound(s)!.message).toBe("bound to interface tap1 (ofport 5) on node hv1 (also present on hv2/tap9; the binding stays here until its interface here is gone, or its link is down while another's is up, or the VM announces itself on another (RARP))");
  });

  it('stays where it is bound while its interface is there, whatever node the NIC appears on too (live migration)', () => {
    const both = [
      { node: 'hv1', connected: true, interfaces: [{ name: 'dst', ofport: 8, error: null }] },
      { node: 'hv2', connected: true, interfaces: [{ name: 'src', ofport: 3, error: null }] },
    ];
    // Bound on hv2 (the source): hv1's NIC, earlier by name, does not take it.
    const s = bindingStatus(port({ node: undefined }, { node: 'hv2', ofport: 3 }), both, now);
    expect(s).toMatchObject({ node: 'hv2', ofport: 3 });
    expect(firstReadyInterface(both, 'hv2')).toMatchObject({ node: 'hv2', count: 2 });
    // The source's NIC gone: the destination's.
    expect(bindingStatus(port({ node: undefined }, s), [both[0]!, { ...both[1]!, interfaces: [] }], now)).toMatchObject({ node: 'hv1', ofport: 8 });
  });
  it('a live migration\'s switchover (the source\'s link down, the destination\'s up) moves the binding at once; both up or both down, it stays (QA-135 F2)', () => {
    const nic = (name: string, ofport: number, linkState: 'up' | 'down') => ({ name, ofport, error: null, linkState });
    const views = (src: 'up' | 'down', dst: 'up' | 'down') => [
      { node: 'hv2', connected: true, interfaces: [nic('dst', 8, dst)] },
      { node: 'hv1', connected: true, interfaces: [nic('src', 3, src)] },
    ];
    const onHv1 = port({ node: undefined }, { node: 'hv1', ofport: 3 });
    const onHv2 = port({ node: undefined }, { node: 'hv2', ofport: 8 });
    // The destination's NIC plugged, its VM paused (link down): bound on the source.
    expect(bindingStatus(onHv1, views('up', 'down'), now)).toMatchObject({ node: 'hv1', ofport: 3 });
    // Switchover: the source's tap still plugged, its link down; the destination's up. Before, bound
    // to the source (LinkDown) until its tap was deleted.
    const moved = bindingStatus(onHv1, views('down', 'up'), now);
    expect(moved).toMatchObject({ node: 'hv2', ofport: 8 });
    expect(bound(moved)).toMatchObject({ status: 'True', reason: 'InterfaceFound', message: expect.stringContaining('also present on hv1/src (link down') });
    // Never between two live NICs: both up, wherever it is bound it stays (hv1 first by name or not).
    expect(bindingStatus(onHv1, views('up', 'up'), now)).toMatchObject({ node: 'hv1' });
    expect(bindingStatus(onHv2, views('up', 'up'), now)).toMatchObject({ node: 'hv2' });
    // Both down (both VMs paused, say): it stays too, and says LinkDown.
    const down = bindingStatus(onHv2, views('down', 'down'), now);
    expect(down).toMatchObject({ node: 'hv2' });
    expect(bound(down)).toMatchObject({ reason: 'LinkDown' });
    // A migration aborted after switchover (the source runs again, the destination stops): back.
    expect(bindingStatus(onHv2, views('up', 'down'), now)).toMatchObject({ node: 'hv1', ofport: 3 });
    // Not bound yet: the live one, whatever the names.
    expect(bindingStatus(port({ node: undefined }), views('down', 'up'), now)).toMatchObject({ node: 'hv2' });
    // The pipeline reads OVSDB rows (link_state) and chooses the same.
    const rows = (src: string, dst: string) => [
      { node: 'hv2', interfaces: [{ ofport: 8, error: null, link_state: dst }] },
      { node: 'hv1', interfaces: [{ ofport: 3, error: null, link_state: src }] },
    ];
    expect(firstReadyInterface(rows('down', 'up'), 'hv1', interfaceIsLive)!.node).toBe('hv2');
    expect(firstReadyInterface(rows('up', 'up'), 'hv1', interfaceIsLive)!.node).toBe('hv1');
    expect(firstReadyInterface(rows('down', 'down'), 'hv1', interfaceIsLive)!.node).toBe('hv1');
  });

  it("a live interface over a leftover with the same iface-id on the same node, whatever their order (QA-126 H6)", () => {
    // A VM restarted after a crash: its old tap's row stayed, link down; the new tap is up.
    const leftover = { name: 'tap14', ofport: 11, error: null, linkState: 'down' as const };
    const live = { name: 'tap9', ofport: 6, error: null, linkState: 'up' as const };
    for (const interfaces of [[leftover, live], [live, leftover]]) {
      const views = [{ node: 'hv2', connected: true, interfaces }];
      // Before, a restarted controller with the rows in this order bound the port to tap14 (LinkDown, traffic cut).
      const s = bindingStatus(port({ node: 'hv2' }, { node: 'hv2', ofport: 11 }), views, now);
      expect(s).toMatchObject({ node: 'hv2', ofport: 6 });
      expect(bound(s)).toMatchObject({ status: 'True', reason: 'InterfaceFound', message: expect.stringContaining('also present on hv2/tap14 (link down: a leftover of an earlier VM? ovs-vsctl del-port tap14)') });
      // The pipeline reads OVSDB rows (link_state) and must choose the same.
      const rows = interfaces.map((i) => ({ name: i.name, ofport: i.ofport, error: null, link_state: i.linkState }));
      expect(firstReadyInterface([{ node: 'hv2', interfaces: rows }], 'hv2', interfaceIsLive)!.iface.name).toBe('tap9');
    }
    // An interface with an error loses to one without; an internal port's link state is not read.
    expect(firstReadyInterface([{ node: 'hv1', interfaces: [{ ofport: 3, error: 'could not open', link_state: 'up' }, { ofport: 4, error: null, link_state: 'up' }] }], undefined, interfaceIsLive)!.iface.ofport).toBe(4);
    expect(interfaceIsLive({ type: 'internal', link_state: 'down', error: null })).toBe(true);
    // Every one down: the earliest, as before (and LinkDown says so).
    const down = bindingStatus(port(), [{ node: 'hv1', connected: true, interfaces: [leftover, { ...live, linkState: 'down' }] }], now);
    expect(down).toMatchObject({ ofport: 11 });
    expect(bound(down)).toMatchObject({ reason: 'LinkDown' });
  });
});

describe('takesOverLinkDown', () => {
  it("another node's agent takes a port bound to a NIC whose link is down, with a live NIC of its own; never one bound to a live NIC (QA-135 F2)", () => {
    const nic = (node: string, linkState: 'up' | 'down') => [{ node, connected: true, interfaces: [{ name: `tap-${node}`, ofport: 4, error: null, linkState }] }];
    const unpinned = (status?: VirtualPort['status']) => port({ node: undefined }, status);
    // What each agent decides from its own switch only.
    const onSource = (link: 'up' | 'down') => unpinned(bindingStatus(unpinned({ node: 'hv1', ofport: 4 }), nic('hv1', link), now));
    const fromDest = (cur: VirtualPort, link: 'up' | 'down') => unpinned(bindingStatus(cur, nic('hv2', link), now));
    // Switchover: the source's agent said LinkDown, the destination's NIC is up: taken.
    expect(takesOverLinkDown(onSource('down'), fromDest(onSource('down'), 'up'))).toBe(true);
    // The source's NIC up (the destination's NIC plugged before switchover): not taken, up or down there.
    expect(takesOverLinkDown(onSource('up'), fromDest(onSource('up'), 'up'))).toBe(false);
    // Both down: not taken (it would only move a LinkDown).
    expect(takesOverLinkDown(onSource('down'), fromDest(onSource('down'), 'down'))).toBe(false);
    // Unbinding a port bound elsewhere is never it.
    expect(takesOverLinkDown(onSource('down'), unpinned({ conditions: [] }))).toBe(false);
  });
});

describe('RARP activation (a live migration with both taps up)', () => {
  const T1 = Date.parse('2026-12-07T10:00:00.000Z');
  const T2 = Date.parse('2026-12-07T10:05:00.000Z');
  const nic = (name: string, ofport: number, activatedAt?: number, linkState: 'up' | 'down' = 'up') => ({ name, ofport, error: null, linkState, ...(activatedAt !== undefined ? { activatedAt } : {}) });
  const views = (src?: number, dst?: number, dstLink: 'up' | 'down' = 'up') => [
    { node: 'hv2', connected: true, interfaces: [nic('dst', 8, dst, dstLink)] },
    { node: 'hv1', connected: true, interfaces: [nic('src', 3, src)] },
  ];
  const unpinned = (status?: VirtualPort['status']) => port({ node: undefined }, status);

  it('an activated NIC ranks above a merely live one, wherever the port is bound; the most recently activated of two wins; a down one counts for nothing', () => {
    const onHv1 = unpinned({ node: 'hv1', ofport: 3 });
    // Both up, none activated: it stays (as before).
    expect(bindingStatus(onHv1, views(), now)).toMatchObject({ node: 'hv1', ofport: 3 });
    // The destination's NIC activated: moved, said Activated with the node and time.
    const moved = bindingStatus(onHv1, views(undefined, T1), now);
    expect(moved).toMatchObject({ node: 'hv2', ofport: 8 });
    expect(bound(moved)).toMatchObject({ status: 'True', reason: ACTIVATED, message: expect.stringContaining("bound to interface dst (ofport 8) on node hv2: activated by the VM's RARP announcement at 2026-12-07T10:00:00.000Z there") });
    expect(activationTime(unpinned(moved))).toBe(T1);
    // Then it stays there, the source's NIC still up.
    expect(bindingStatus(unpinned(moved), views(undefined, T1), now)).toMatchObject({ node: 'hv2' });
    // Migrated back (the source's new NIC announced later): back; the older activation does not hold it.
    expect(bindingStatus(unpinned(moved), views(T2, T1), now)).toMatchObject({ node: 'hv1', ofport: 3 });
    expect(bindingStatus(onHv1, views(T1, T2), now)).toMatchObject({ node: 'hv2' });
    // Activated, but its link down: the live one.
    expect(bindingStatus(onHv1, views(undefined, T1, 'down'), now)).toMatchObject({ node: 'hv1' });
    // The pipeline's choice from OVSDB rows is the same.
    const rows = [
      { node: 'hv1', interfaces: [{ name: 'src', ofport: 3, error: null, link_state: 'up' }] },
      { node: 'hv2', interfaces: [{ name: 'dst', ofport: 8, error: null, link_state: 'up' }] },
    ];
    expect(firstReadyInterface(rows, 'hv1', interfaceIsLive)!.node).toBe('hv1');
    expect(firstReadyInterface(rows, 'hv1', interfaceIsLive, (i) => (i.name === 'dst' ? T1 : undefined))!.node).toBe('hv2');
    expect(firstReadyInterface(rows, 'hv2', interfaceIsLive, (i) => (i.name === 'dst' ? T1 : T2))!.node).toBe('hv1');
    // On one node, an activated later row over the earliest one.
    expect(firstReadyInterface([{ node: 'hv1', interfaces: [{ name: 'a', ofport: 3 }, { name: 'b', ofport: 4 }] }], 'hv1', () => true, (i) => (i.name === 'b' ? T1 : undefined))!.iface.name).toBe('b');
  });

  it("takesOverActivated: another node's agent takes a port bound to a live NIC when its own NIC was activated (later than the binding's own activation), bound to an OpenFlow port", () => {
    const onSource = unpinned(bindingStatus(unpinned({ node: 'hv1', ofport: 4 }), [{ node: 'hv1', connected: true, interfaces: [nic('src', 4)] }], now));
    const fromDest = (cur: VirtualPort, at?: number) => unpinned(bindingStatus(cur, [{ node: 'hv2', connected: true, interfaces: [nic('dst', 8, at)] }], now));
    const at = (t: number) => t + 1000;
    expect(takesOverActivated(onSource, fromDest(onSource, T1), at(T1))).toBe(true);
    // Not activated: not taken (and not LinkDown either).
    expect(takesOverActivated(onSource, fromDest(onSource), at(T1))).toBe(false);
    expect(takesOverLinkDown(onSource, fromDest(onSource))).toBe(false);
    // Bound by a later activation there: not taken back by an older one.
    const activatedThere = unpinned(bindingStatus(unpinned({ node: 'hv1', ofport: 4 }), [{ node: 'hv1', connected: true, interfaces: [nic('src', 4, T2)] }], now));
    expect(takesOverActivated(activatedThere, fromDest(activatedThere, T1), at(T2))).toBe(false);
    expect(takesOverActivated(onSource, fromDest(activatedThere, T2 + 1), at(T2))).toBe(true);
    // Only an activation of now counts: not one long past, nor one ahead of the clock (a forged far-future time outranked every real one for good: review).
    expect(takesOverActivated(onSource, fromDest(onSource, T1), T1 + 3_600_000)).toBe(false);
    expect(takesOverActivated(onSource, fromDest(onSource, T2), T1)).toBe(false);
    expect(activationTime(fromDest(onSource, T2), T1)).toBeUndefined();
    // No OpenFlow port named: no NIC, no taking.
    const noPort = fromDest(onSource, T1);
    expect(takesOverActivated(onSource, unpinned({ ...noPort.status, ofport: undefined }), at(T1))).toBe(false);
    // Unbinding is never it.
    expect(takesOverActivated(onSource, unpinned({ conditions: [] }))).toBe(false);
  });
});
