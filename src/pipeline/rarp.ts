/**
 * RARP activation of a live migration's destination NIC (OVN's `activation-strategy=rarp`).
 *
 * During a live migration an unpinned port's NIC is on two hypervisors; its binding stays on
 * one (the source) while both are up, and the other NIC (the standby) is dropped at the
 * Classifier as any unbound NIC. Right after the migration completes, qemu announces the VM
 * from the destination (announce_self: RARP requests, EtherType 0x8035, source MAC and sender
 * hardware address the VM's, broadcast, 5 of them 50/150/250/350 ms apart). A standby NIC gets
 * one flow here: those frames, from that NIC, with the port's MAC, untagged, go to the
 * controller (metered), which moves the binding to it (chassis/binding.ts). Everything else
 * from it stays dropped by the table's miss.
 *
 * Pure: flows and frame parsing only; what a frame activates is decided above.
 */
import { OFPP, macFromBytes, type KnownOxm } from '../openflow';
import type { DesiredFlow } from '../openflow/sync';
import { ACTIVATION_METER } from './meters';
import { deepFreeze } from './shared-parts';
import { TABLES } from './tables';

/** RARP's EtherType (RFC 903). */
export const RARP_ETHERTYPE = 0x8035;
/** RFC 903 "request reverse": what qemu's announce_self sends. */
export const RARP_OP_REQUEST_REVERSE = 3;
/**
 * Above a bound port's classification (100) and every Classifier flow matching in_port alone:
 * a standby NIC has no other flow there, and the in_port match means no other port's frames
 * can ever hit it, whatever their MAC.
 */
export const RARP_WATCH_PRIORITY = 120;
/** A RARP frame is 42 bytes (60 padded): all the controller needs. */
export const RARP_PACKET_IN_BYTES = 64;

/** Shared by every watch flow: through the node's activation meter to the controller. */
const WATCH_INSTRUCTIONS: DesiredFlow['instructions'] = deepFreeze([
  { type: 'meter', meterId: ACTIVATION_METER.meterId },
  { type: 'apply_actions', actions: [{ type: 'output', port: OFPP.CONTROLLER, maxLen: RARP_PACKET_IN_BYTES }] },
]);

/**
 * The flow of one standby NIC (ofport on this node) of a port with MAC `mac`. vlan_vid 0
 * (OFPVID_NONE): untagged only, as qemu sends it; OVS matches a tagged frame's inner EtherType,
 * and a VM's tagged frames are never its announcement (vlan-guard.ts drops them from bound ports).
 */
export function rarpWatchFlow(ofport: number, mac: string): DesiredFlow {
  const match: KnownOxm[] = [
    { field: 'in_port', value: ofport },
    { field: 'vlan_vid', value: 0 },
    { field: 'eth_src', value: mac.toLowerCase() },
    { field: 'eth_type', value: RARP_ETHERTYPE },
  ];
  return { tableId: TABLES.Classifier.id, priority: RARP_WATCH_PRIORITY, match, instructions: WATCH_INSTRUCTIONS };
}

/** Why a frame is not a RARP announcement, or its MAC. */
export type RarpParse = { ok: true; mac: string } | { ok: false; why: string };

const hex = (b: Buffer, at: number): string => macFromBytes(b.subarray(at, at + 6));

/**
 * A VM's announcement, strictly (RFC 903 over Ethernet, as qemu's announce_self builds it):
 * untagged EtherType 0x8035, hardware type 1 (Ethernet), protocol 0x0800, lengths 6 and 4,
 * opcode 3 (request reverse), the sender hardware address equal to the frame's source MAC.
 * An 802.1Q-tagged frame is refused (the flow matches untagged frames only; this is the
 * second check). The MAC is lower-case.
 */
export function parseRarpAnnouncement(frame: Buffer): RarpParse {
  if (frame.length < 42) return { ok: false, why: `truncated (${frame.length} bytes, a RARP frame has 42)` };
  const type = frame.readUInt16BE(12);
  if (type !== RARP_ETHERTYPE) return { ok: false, why: `EtherType 0x${type.toString(16)} is not RARP` };
  if (frame.readUInt16BE(14) !== 1 || frame.readUInt16BE(16) !== 0x0800 || frame[18] !== 6 || frame[19] !== 4) return { ok: false, why: 'not Ethernet/IPv4 RARP' };
  const op = frame.readUInt16BE(20);
  if (op !== RARP_OP_REQUEST_REVERSE) return { ok: false, why: `opcode ${op}, not ${RARP_OP_REQUEST_REVERSE} (request reverse)` };
  const src = hex(frame, 6);
  const sha = hex(frame, 22);
  if (src !== sha) return { ok: false, why: `sender hardware address ${sha} is not the source MAC ${src}` };
  return { ok: true, mac: src };
}
