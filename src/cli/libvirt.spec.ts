import { libvirtInterfaceXml } from './libvirt';

describe('libvirtInterfaceXml', () => {
  it('renders the openvswitch virtualport interface and escapes attribute values', () => {
    expect(libvirtInterfaceXml("id'&<", '0a:58:00:00:00:01')).toBe(
      "<interface type='bridge'>\n  <source bridge='br-int'/>\n  <virtualport type='openvswitch'>\n    <parameters interfaceid='id&apos;&amp;&lt;'/>\n  </virtualport>\n  <mac address='0a:58:00:00:00:01'/>\n</interface>",
    );
  });
});
