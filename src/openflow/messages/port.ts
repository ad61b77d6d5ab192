import { macFromBytes, macToBytes } from '../wire/addr';
import { Reader } from '../wire/reader';
import { Writer } from '../wire/writer';

/** struct ofp_port (64 bytes): a port as features/port-desc/port-status describe it. */
export interface PortDesc {
  portNo: number;
  hwAddr: string;
  name: string;
  /** ofp_port_config bits (PORT_DOWN = 1, NO_RECV = 4, NO_FWD = 32, NO_PACKET_IN = 64). */
  config: number;
  /** ofp_port_state bits (LINK_DOWN = 1, BLOCKED = 2, LIVE = 4). */
  state: number;
  curr: number;
  advertised: number;
  supported: number;
  peer: number;
  currSpeed: number;
  maxSpeed: number;
}

export const PORT_DESC_LEN = 64;
const NAME_LEN = 16;

export function encodePortDesc(w: Writer, p: PortDesc): void {
  w.u32(p.portNo, 'port_no').zeros(4).bytes(macToBytes(p.hwAddr)).zeros(2);
  w.bytes(fixedString(p.name, NAME_LEN));
  for (const v of [p.config, p.state, p.curr, p.advertised, p.supported, p.peer, p.currSpeed, p.maxSpeed]) w.u32(v);
}

export function decodePortDesc(r: Reader): PortDesc {
  const portNo = r.u32('port_no');
  r.skip(4);
  const hwAddr = macFromBytes(r.bytes(6, 'hw_addr'));
  r.skip(2);
  const name = readFixedString(r, NAME_LEN);
  const n = (): number => r.u32('port field');
  return {
    portNo,
    hwAddr,
    name,
    config: n(),
    state: n(),
    curr: n(),
    advertised: n(),
    supported: n(),
    peer: n(),
    currSpeed: n(),
    maxSpeed: n(),
  };
}

/** Writes a NUL-padded fixed-width string, truncated so a NUL always ends it. */
export function fixedString(s: string, len: number): Buffer {
  const out = Buffer.alloc(len);
  out.write(s, 0, len - 1, 'latin1');
  return out;
}

export function readFixedString(r: Reader, len: number): string {
  const b = r.bytes(len, 'string');
  const end = b.indexOf(0);
  return b.subarray(0, end < 0 ? len : end).toString('latin1');
}

export type PortStatusReason = 'add' | 'delete' | 'modify';
const REASONS: readonly PortStatusReason[] = ['add', 'delete', 'modify'];

export interface PortStatusMessage {
  type: 'port_status';
  xid: number;
  reason: PortStatusReason;
  port: PortDesc;
}

export function encodePortStatus(w: Writer, m: PortStatusMessage): void {
  w.u8(REASONS.indexOf(m.reason) >>> 0, 'port status reason').zeros(7);
  encodePortDesc(w, m.port);
}

export function decodePortStatus(r: Reader, xid: number): PortStatusMessage {
  const n = r.u8('reason');
  const reason = REASONS[n];
  if (reason === undefined) r.fail(`unknown port status reason ${n}`);
  r.skip(7);
  return { type: 'port_status', xid, reason, port: decodePortDesc(r) };
}

/** ofp_port_config bits a controller sets with a port mod (OpenFlow 1.3 7.2.1). */
export const OFPPC = { PORT_DOWN: 1 << 0, NO_RECV: 1 << 2, NO_FWD: 1 << 5, NO_PACKET_IN: 1 << 6 } as const;

/**
 * OFPT_PORT_MOD (struct ofp11_port_mod, 32 bytes after the header): sets the `mask` bits of a
 * port's config to those of `config`. hwAddr must be the port's (the switch checks it); an
 * advertise of 0 leaves the port's advertised features alone.
 */
export interface PortModMessage {
  type: 'port_mod';
  xid: number;
  portNo: number;
  hwAddr: string;
  config: number;
  mask: number;
  advertise: number;
}

export function encodePortMod(w: Writer, m: PortModMessage): void {
  w.u32(m.portNo, 'port_no').zeros(4).bytes(macToBytes(m.hwAddr)).zeros(2);
  w.u32(m.config, 'config').u32(m.mask, 'mask').u32(m.advertise, 'advertise').zeros(4);
}

export function decodePortMod(r: Reader, xid: number): PortModMessage {
  const portNo = r.u32('port_no');
  r.skip(4);
  const hwAddr = macFromBytes(r.bytes(6, 'hw_addr'));
  r.skip(2);
  const config = r.u32('config');
  const mask = r.u32('mask');
  const advertise = r.u32('advertise');
  r.skip(4);
  return { type: 'port_mod', xid, portNo, hwAddr, config, mask, advertise };
}
