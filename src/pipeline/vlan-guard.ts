/**
 * 802.1Q-tagged frames from VM ports, dropped whatever the port's port security, as OVN
 * drops them (ls_in_check_port_sec, `vlan.present`, unless a switch asks for vlan-passthru).
 *
 * OVS matches a tagged frame's inner Ethernet type, so port security let a VM's tagged frames
 * through with its own addresses and L2 delivery carried the tag to its neighbours (QA-92):
 * VLANs inside a tenant network nobody declared, which no flow of ours accounts for. The
 * overlay has no VLAN transparency to offer; a VM that wants several networks gets several
 * ports. Frames from tunnels are left alone: their sending node dropped them already.
 *
 * One node-wide flow, above every SpoofGuard allow and the router guard.
 */
import { OFPVID_PRESENT } from '../openflow';
import type { DesiredFlow } from '../openflow/sync';
import { FromLocalMark, matchMark } from './fields';
import { TABLES } from './tables';

export const VLAN_GUARD_PRIORITY = 140;

export function vlanGuardFlows(): DesiredFlow[] {
  return [{ tableId: TABLES.SpoofGuard.id, priority: VLAN_GUARD_PRIORITY, match: [matchMark(FromLocalMark), { field: 'vlan_vid', value: OFPVID_PRESENT, mask: OFPVID_PRESENT }], instructions: [] }];
}
