/**
 * The libvirt domain XML <interface> that plugs a KVM guest's NIC into br-int with the
 * port's interfaceId: libvirt then sets external_ids:iface-id on the OVS Interface, which
 * is what binds the VirtualPort on its node.
 */
function attr(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/'/g, '&apos;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/**
 * `mtu`: the network's (spec.mtu). libvirt sets it on the tap device and, with virtio-net
 * (host_mtu), offers it to the guest, which then never sends a frame the overlay would
 * have to drop: the tunnel header does not fit in a 1500-byte underlay frame on top of a
 * 1500-byte one, and OVS drops such frames without telling the sender.
 */
export function libvirtInterfaceXml(interfaceId: string, mac: string, bridge = 'br-int', mtu?: number): string {
  return [
    `<interface type='bridge'>`,
    `  <source bridge='${attr(bridge)}'/>`,
    `  <virtualport type='openvswitch'>`,
    `    <parameters interfaceid='${attr(interfaceId)}'/>`,
    `  </virtualport>`,
    `  <mac address='${attr(mac)}'/>`,
    ...(mtu !== undefined ? [`  <mtu size='${mtu}'/>`] : []),
    `  <model type='virtio'/>`,
    `</interface>`,
  ].join('\n');
}
