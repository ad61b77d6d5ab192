/** Wire constants of OpenFlow 1.3 (openflow-1.3.h, openflow-common.h). */
export const OFP13_VERSION = 0x04;
export const OFP_HEADER_LEN = 8;
export const OFP_TCP_PORT = 6653;

/** Reserved port numbers (ofp_port_no). */
export const OFPP = {
  MAX: 0xffffff00,
  IN_PORT: 0xfffffff8,
  TABLE: 0xfffffff9,
  NORMAL: 0xfffffffa,
  FLOOD: 0xfffffffb,
  ALL: 0xfffffffc,
  CONTROLLER: 0xfffffffd,
  LOCAL: 0xfffffffe,
  ANY: 0xffffffff,
} as const;

/** 16-bit OpenFlow 1.0 port numbers, still used by Nicira actions such as resubmit. */
export const OFPP10 = { IN_PORT: 0xfff8, NONE: 0xffff } as const;

export const OFPTT_ALL = 0xff;
export const OFPG = { MAX: 0xffffff00, ALL: 0xfffffffc, ANY: 0xffffffff } as const;
export const OFPM = { MAX: 0xffff0000, SLOWPATH: 0xfffffffd, CONTROLLER: 0xfffffffe, ALL: 0xffffffff } as const;
/** max_len value meaning "send the whole packet, do not buffer". */
export const OFPCML_NO_BUFFER = 0xffff;
export const OFP_NO_BUFFER = 0xffffffff;

/** Experimenter ids. */
export const NX_VENDOR_ID = 0x00002320;
export const ONF_VENDOR_ID = 0x4f4e4600;

/** ofp_flow_mod_flags. */
export const FlowModFlags = {
  SEND_FLOW_REM: 1 << 0,
  CHECK_OVERLAP: 1 << 1,
  RESET_COUNTS: 1 << 2,
  NO_PKT_COUNTS: 1 << 3,
  NO_BYT_COUNTS: 1 << 4,
} as const;

/**
 * ofp_config_flags. FRAG_NX_MATCH is Open vSwitch's (OFPC_FRAG_NX_MATCH, any OpenFlow
 * version): a first fragment's L4 fields are matched as they are, later fragments' read 0;
 * under FRAG_NORMAL every fragment's read 0.
 */
export const ConfigFlags = { FRAG_NORMAL: 0, FRAG_DROP: 1, FRAG_REASM: 2, FRAG_NX_MATCH: 3 } as const;

/** ofp_meter_flags. */
export const MeterFlags = { KBPS: 1, PKTPS: 2, BURST: 4, STATS: 8 } as const;

/** ofp_multipart_request_flags / reply flags. */
export const OFPMPF_MORE = 1;

/** ct_state bits (NXM_NX_CT_STATE), as OVS prints them (+new, +est, ...). */
export const CtState = {
  NEW: 1 << 0,
  EST: 1 << 1,
  REL: 1 << 2,
  RPL: 1 << 3,
  INV: 1 << 4,
  TRK: 1 << 5,
  SNAT: 1 << 6,
  DNAT: 1 << 7,
} as const;
