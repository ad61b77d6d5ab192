/**
 * The libvirt domain XML <interface> that plugs a KVM guest's NIC into br-int with the
 * port's interfaceId: libvirt then sets external_ids:iface-id on the OVS Interface, which
 * is what binds the VirtualPort on its node.
 */
function attr(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/'/g, '&apos;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export function libvirtInterfaceXml(interfaceId: string, mac: string, bridge = 'br-int'): string {
  return [
    `<interface type='bridge'>`,
    `  <source bridge='${attr(bridge)}'/>`,
    `  <virtualport type='openvswitch'>`,
    `    <parameters interfaceid='${attr(interfaceId)}'/>`,
    `  </virtualport>`,
    `  <mac address='${attr(mac)}'/>`,
    `</interface>`,
  ].join('\n');
}
