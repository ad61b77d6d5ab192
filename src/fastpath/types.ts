/** Typed views of the C API's enums and verdicts (mirrors native/include/vfp.h). */

export enum VerdictKind { Slow = 0, Local = 1, Encap = 2, Vip = 3 }
export enum SlowReason {
  None = 0, Malformed = 1, PortMiss = 2, MacMiss = 3, Arp = 4, Broadcast = 5,
  VniMiss = 6, VipFragment = 7, VipEmpty = 8, Underlay = 9, NoHeadroom = 10,
  /** A conntrack VIP's packet of a connection the fast path did not see from its SYN: OVS's. */
  VipNotOurs = 11,
  /** A conntrack VIP's SYN dealt to its own sender: OVS SNATs such a connection to the VIP. */
  VipHairpin = 12,
  /** A VM's router advertisement, ICMPv6 redirect or DHCP server reply: OVS's port security decides (router-guard.ts). */
  RouterGuard = 13,
}
export enum Encap { Vxlan = 0, Geneve = 1 }
export enum ParseError {
  Ok = 0, TruncEth = 1, TruncVlan = 2, TruncArp = 3, TruncIpv4 = 4, BadIpv4 = 5, BadIpv4Checksum = 6,
  TruncIpv6 = 7, BadIpv6 = 8, TruncL4 = 9, BadL4 = 10, TooManyVlans = 11,
}
export const PORT_UNDERLAY = 1;
/** A VM port of a network with load balancers: a remote client's connection to it may pass through (vfp.h VFP_PORT_CONNTRACK). */
export const PORT_CONNTRACK = 2;

export interface Verdict {
  kind: VerdictKind;
  reason: SlowReason;
  encap: Encap;
  err: ParseError;
  innerOff: number;
  l4port: number;
  /** Local port, VTEP id or backend id, by kind. */
  port: number;
  network: number;
  vni: number;
  /** 16 bytes, network order; IPv4 is ::ffff:a.b.c.d. */
  addr: Uint8Array;
}

export const TABLE_COUNTERS = [
  'portHit', 'portMiss', 'macHit', 'macMiss', 'vniHit', 'vniMiss', 'vipHit', 'vipMiss',
  'lruHit', 'lruMiss', 'parseErrors', 'batches', 'packets',
  'connNew', 'natForward', 'natReverse', 'connEvict', 'prevHit', 'connAdopted', 'connClosed', 'connPass',
  'icmpReverse',
] as const;
export type TableCounters = Record<(typeof TABLE_COUNTERS)[number], bigint>;
export const IFACE_COUNTERS = ['rx', 'rxBytes', 'fast', 'slow', 'drops', 'errors'] as const;
export type IfaceCounters = Record<(typeof IFACE_COUNTERS)[number], bigint>;

/** Why the fast path is off; it is reported once and vnetd runs without it. */
export type FastPathStatus =
  | { available: true; library: string }
  | { available: false; component: 'library' | 'afxdp'; reason: string };

export interface VtepSpec { id: number; ip: number; nextHopMac: Uint8Array; encap: Encap }
/** mac: where a conntrack VIP delivers to the backend (its port's MAC). */
export interface BackendSpec { id: number; addr: Uint8Array; port: number; weight: number; mac?: Uint8Array }
/** Flags of a VIP (vfp.h VFP_VIP_*). */
export const VIP_CLIENT_IP = 1;
export const VIP_CONNTRACK = 2;
/**
 * slots: OVS's slot table (one backend id per slot, NO_BACKEND for none; 1 to LB_SLOTS_MAX
 * slots): a conntrack VIP then deals new connections exactly as OVS's LbNat/LbSlot flows
 * do, not by Maglev.
 */
/** network: the VIP is that network's (only its ports' frames meet it; tenants may reuse an address). */
export interface VipSpec { network: number; proto: number; addr: Uint8Array; port: number; backends: BackendSpec[]; flags?: number; slots?: readonly number[] }
/** The size of OVS's smallest load-balancer slot table (src/pipeline LB_SLOTS_MIN). */
export const LB_SLOTS = 256;
/** The largest slot table (vfp.h VFP_LB_SLOTS_MAX, src/pipeline LB_SLOTS_MAX). */
export const LB_SLOTS_MAX = 8192;
export const NO_BACKEND = 0xffffffff;

export interface EncapParams {
  type: Encap; ttl: number; srcPort: number; vni: number;
  srcIp: number; dstIp: number; srcMac: Uint8Array; dstMac: Uint8Array; ipId: number;
}
