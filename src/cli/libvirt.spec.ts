import { libvirtInterfaceXml } from './libvirt';

describe('libvirtInterfaceXml', () => {
  it('renders the openvswitch virtualport interface and escapes attribute values', () => {
    expect(libvirtInterfaceXml("id'&<", '0a:58:00:00:00:01')).toBe(
      "<interface type='bridge'>\n  <source bridge='br-int'/>\n  <virtualport type='openvswitch'>\n    <parameters interfaceid='id&apos;&amp;&lt;'/>\n  </virtualport>\n  <mac address='0a:58:00:00:00:01'/>\n  <model type='virtio'/>\n</interface>",
    );
  });

  it('carries the network\'s MTU, which libvirt sets on the tap and offers to a virtio guest', () => {
    expect(libvirtInterfaceXml('vm1', '0a:58:00:00:00:01', 'br-int', 1450)).toContain("  <mac address='0a:58:00:00:00:01'/>\n  <mtu size='1450'/>\n  <model type='virtio'/>");
  });
});
