/**
 * The libvirt domain XML <interface> that plugs a KVM guest's NIC into br-int with the
 * port's interfaceId: libvirt then sets external_ids:iface-id on the OVS Interface, which
 * is what binds the VirtualPort on its node.
 */
import { isSystemOvsdb, ovsVsctlFor } from '../chassis/system-ovsdb';

export { isSystemOvsdb };

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

/**
 * libvirt parses <parameters interfaceid> as a UUID (it refuses the domain XML otherwise) and
 * writes it back formatted, lowercase: only an id in that form is set on the OVS Interface as
 * the port has it. vnetd's default, the port's uid, is one.
 */
export function libvirtTakesInterfaceId(interfaceId: string): boolean {
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(interfaceId);
}

/**
 * For an interface id libvirt cannot carry, or a node whose Open vSwitch is not the system's:
 * what plugs the NIC in by hand instead. `ovsdb`: the node's spec.ovsdb, named with --db when
 * it is not the system's socket (QA-98: `npm start`'s own OVS, and the command failed as printed).
 */
export function ovsVsctlPlug(interfaceId: string, mac: string, bridge = 'br-int', ovsdb?: string): string {
  const q = (v: string) => `'${v.replace(/'/g, `'\\''`)}'`;
  return `${ovsVsctlFor(ovsdb)} add-port ${bridge} TAP -- set Interface TAP external_ids:iface-id=${q(interfaceId)} external_ids:attached-mac=${mac}`;
}
