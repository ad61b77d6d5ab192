/**
 * Whether a node's underlay carries its networks' largest frames: every uplink of br-phy
 * (its system NICs: what encapsulated frames leave by) must have an MTU of at least the
 * largest network MTU plus what VXLAN or GENEVE adds (50 bytes over IPv4). An uplink set
 * smaller by hand (ip link set eth1 mtu 1400) dropped every full-size frame between
 * hypervisors while the Node, its tunnels, ports and trace all said fine (QA-155 F4); OVSDB
 * already held the uplink's MTU. Said as the Node's UnderlayMTU condition (pure; no I/O).
 */
import type { ConditionView } from './node-status';

/** What an overlay frame adds to a VM's (inner Ethernet, outer IPv4, UDP, VXLAN or GENEVE without options). */
export const ENCAP_OVERHEAD = 50;

export interface Uplink {
  name: string;
  /** The MTU OVS reads from the device (Interface.mtu); null or undefined: not known. */
  mtu: number | null | undefined;
}

/** The network with the largest MTU, as "namespace/name", and that MTU. */
export interface LargestNetwork {
  network: string;
  mtu: number;
}

export const UNDERLAY_MTU_FITS = 'UnderlayMTUFits';
export const UNDERLAY_MTU_TOO_SMALL = 'UnderlayMTUTooSmall';

export const UPLINK_MTU_UNKNOWN = 'UplinkMTUUnknown';

/** The condition for a node's br-phy uplinks; a verdict that no longer holds never stays (review: False for good once the networks went). */
export function underlayMtuCondition(uplinks: readonly Uplink[], largest: LargestNetwork | undefined): ConditionView {
  const known = uplinks.filter((u): u is Uplink & { mtu: number } => typeof u.mtu === 'number' && u.mtu > 0);
  if (!known.length) return { status: 'Unknown', reason: UPLINK_MTU_UNKNOWN, message: 'br-phy has no uplink whose MTU OVS knows: plug the hypervisor\'s underlay NIC into br-phy (ovs-vsctl add-port br-phy eth1)' };
  if (!largest) return { status: 'True', reason: UNDERLAY_MTU_FITS, message: `no network to carry yet (br-phy's uplinks: ${known.map((u) => `${u.name} ${u.mtu}`).join(', ')})` };
  const needed = largest.mtu + ENCAP_OVERHEAD;
  const small = known.filter((u) => u.mtu < needed).sort((a, b) => a.mtu - b.mtu || a.name.localeCompare(b.name));
  if (!small.length) {
    return { status: 'True', reason: UNDERLAY_MTU_FITS, message: `br-phy's uplinks (${known.map((u) => `${u.name} ${u.mtu}`).join(', ')}) carry the largest network MTU, ${largest.mtu} (${largest.network}), encapsulated (${needed})` };
  }
  const first = small[0]!;
  const names = small.map((u) => `${u.name} has MTU ${u.mtu}`).join(', ');
  return {
    status: 'False',
    reason: UNDERLAY_MTU_TOO_SMALL,
    message: `${names} on br-phy, but network ${largest.network}'s MTU ${largest.mtu} needs ${needed} on the underlay (VXLAN or GENEVE adds ${ENCAP_OVERHEAD}): frames larger than ${first.mtu - ENCAP_OVERHEAD} bytes between hypervisors are dropped (vnetd neither fragments nor answers too-big); raise it (ip link set ${first.name} mtu ${needed}) or lower the network's spec.mtu`,
  };
}
