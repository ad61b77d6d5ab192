import { chooseDatapath, desiredLayout, stableDatapathId } from './layout';

const input = (over: Partial<Parameters<typeof desiredLayout>[0]> = {}) => ({
  nodeName: 'hv1',
  spec: { tunnelIP: '192.0.2.1' },
  datapathTypes: ['netdev', 'system'],
  ifaceTypes: ['vxlan', 'geneve', 'internal', 'system'],
  controllerTarget: 'punix:/run/ovs/br-int.vnetd',
  ...over,
});

describe('chooseDatapath', () => {
  it('prefers netdev: "system" in datapath_types does not prove the kernel module exists', () => {
    expect(chooseDatapath({ tunnelIP: 'x' }, ['netdev', 'system'])).toEqual({ ok: true, type: 'netdev' });
    expect(chooseDatapath({ tunnelIP: 'x' }, ['system'])).toEqual({ ok: true, type: 'system' });
  });
  it('honours spec.datapath when offered, and says why not otherwise', () => {
    expect(chooseDatapath({ tunnelIP: 'x', datapath: 'system' }, ['netdev', 'system'])).toEqual({ ok: true, type: 'system' });
    const r = chooseDatapath({ tunnelIP: 'x', datapath: 'system' }, ['netdev']);
    expect(r).toMatchObject({ ok: false, reason: 'DatapathUnsupported' });
  });
  it('waits for ovs-vswitchd to report types unless the spec names one', () => {
    expect(chooseDatapath({ tunnelIP: 'x' }, [])).toMatchObject({ ok: false, reason: 'DatapathUnknown' });
    expect(chooseDatapath({ tunnelIP: 'x', datapath: 'netdev' }, [])).toEqual({ ok: true, type: 'netdev' });
  });
});

describe('desiredLayout', () => {
  it('builds br-int (secure, controller, flow-based tunnels) and br-phy for netdev', () => {
    const r = desiredLayout(input());
    if (!r.ok) throw new Error(r.message);
    const [brInt, brPhy] = r.layout.bridges;
    expect(brInt).toMatchObject({
      name: 'br-int',
      datapathType: 'netdev',
      failMode: 'secure',
      controller: { target: 'punix:/run/ovs/br-int.vnetd', connectionMode: 'out-of-band' },
      otherConfig: { 'disable-in-band': 'true' },
    });
    expect(brInt!.ports).toEqual([
      { name: 'br-int', type: 'internal', options: {} },
      { name: 'vxlan0', type: 'vxlan', options: { remote_ip: 'flow', key: 'flow', local_ip: '192.0.2.1' } },
      { name: 'genev0', type: 'geneve', options: { remote_ip: 'flow', key: 'flow', local_ip: '192.0.2.1' } },
    ]);
    expect(brPhy).toMatchObject({ name: 'br-phy', failMode: 'standalone', ports: [{ name: 'br-phy', type: 'internal' }] });
    expect(brPhy!.controller).toBeUndefined();
  });
  it('has no br-phy on the kernel datapath and skips tunnel types the host lacks', () => {
    const r = desiredLayout(input({ spec: { tunnelIP: '192.0.2.1', datapath: 'system' }, ifaceTypes: ['vxlan', 'internal'] }));
    if (!r.ok) throw new Error(r.message);
    expect(r.layout.bridges.map((b) => b.name)).toEqual(['br-int']);
    expect(r.layout.bridges[0]!.ports.map((p) => p.name)).toEqual(['br-int', 'vxlan0']);
    expect(r.layout.notes[0]).toMatch(/geneve/);
  });
  it('derives a stable, valid datapath-id per node and bridge', () => {
    const id = stableDatapathId('hv1', 'br-int');
    expect(id).toMatch(/^[0-9a-f]{16}$/);
    expect(stableDatapathId('hv1', 'br-int')).toBe(id);
    expect(stableDatapathId('hv2', 'br-int')).not.toBe(id);
  });
});
