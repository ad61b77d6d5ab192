import { libvirtInterfaceXml, libvirtTakesInterfaceId, ovsVsctlPlug } from './libvirt';

describe('libvirtInterfaceXml', () => {
  it('renders the openvswitch virtualport interface and escapes attribute values', () => {
    expect(libvirtInterfaceXml("id'&<", '0a:58:00:00:00:01')).toBe(
      "<interface type='bridge'>\n  <source bridge='br-int'/>\n  <virtualport type='openvswitch'>\n    <parameters interfaceid='id&apos;&amp;&lt;'/>\n  </virtualport>\n  <mac address='0a:58:00:00:00:01'/>\n  <model type='virtio'/>\n</interface>",
    );
  });

  it('carries the network\'s MTU, which libvirt sets on the tap and offers to a virtio guest', () => {
    expect(libvirtInterfaceXml('vm1', '0a:58:00:00:00:01', 'br-int', 1450)).toContain("  <mac address='0a:58:00:00:00:01'/>\n  <mtu size='1450'/>\n  <model type='virtio'/>");
  });

  it('knows which interface ids libvirt carries (a lowercase UUID: it parses and reformats it) and quotes the rest for ovs-vsctl', () => {
    expect(libvirtTakesInterfaceId('668033d2-06a4-4aaa-aca5-30cde245e477')).toBe(true);
    for (const id of ['vm2-nic0', '668033D2-06A4-4AAA-ACA5-30CDE245E477', '668033d206a44aaaaca530cde245e477', '']) expect(libvirtTakesInterfaceId(id)).toBe(false);
    expect(ovsVsctlPlug("it's", '0a:58:00:00:00:01')).toBe("ovs-vsctl add-port br-int TAP -- set Interface TAP external_ids:iface-id='it'\\''s' external_ids:attached-mac=0a:58:00:00:00:01");
  });

  it('names a node\'s OVSDB with --db unless it is the system\'s socket', () => {
    // A tcp:/ssl: endpoint is a remote hypervisor's own OVS, the one libvirt plugs into there (review).
    for (const system of [undefined, '', 'unix:/var/run/openvswitch/db.sock', 'unix:/run/openvswitch/db.sock', 'tcp:192.0.2.10:6640', 'ssl:192.0.2.10:6640']) expect(ovsVsctlPlug('id', '0a:58:00:00:00:01', 'br-int', system)).toMatch(/^ovs-vsctl add-port /);
    expect(ovsVsctlPlug('id', '0a:58:00:00:00:01', 'br-int', 'unix:/root/.vnetd/ovs/db.sock')).toMatch(/^ovs-vsctl --db='unix:\/root\/\.vnetd\/ovs\/db\.sock' add-port br-int TAP /);
  });
});
