/**
 * The match fields this library knows, with the exact header OVS 3.1 uses for
 * them in OpenFlow 1.3 (meta-flow.h: a field's OXM form when it has one "since
 * OF1.3" or earlier, otherwise its NXM form). Classes:
 *   0x0000 NXM_OF, 0x0001 NXM_NX (Nicira), 0x8000 OPENFLOW_BASIC,
 *   0x8001 OXM_OF_PKT_REGS (xreg), 0x1000 ERICOXM_OF (ND extensions),
 *   0xffff experimenter (followed by a 32-bit id).
 */
export const OXM_CLASS = {
  NXM_0: 0x0000,
  NXM_1: 0x0001,
  OPENFLOW_BASIC: 0x8000,
  PKT_REGS: 0x8001,
  /** OVS's ND extension fields (meta-flow.h ERICOXM_OF_*, OVS 2.11+). */
  ERICOXM_OF: 0x1000,
  EXPERIMENTER: 0xffff,
} as const;

export const NX_EXPERIMENTER_ID = 0x00002320;

/** How a field's value is represented in decoded objects. */
export interface KindValues {
  u8: number;
  u16: number;
  u32: number;
  u64: bigint;
  u128: bigint;
  mac: string;
  ipv4: string;
  ipv6: string;
}
export type FieldKind = keyof KindValues;

export const KIND_BYTES: Readonly<Record<FieldKind, number>> = {
  u8: 1,
  u16: 2,
  u32: 4,
  u64: 8,
  u128: 16,
  mac: 6,
  ipv4: 4,
  ipv6: 16,
};

/**
 * Prerequisites, named after OVS's MFP_*: what the rest of the match must pin
 * (exactly, without mask) before the field means anything.
 */
export type Prereq =
  | 'none'
  | 'vlan'
  | 'ip'
  | 'ipv4'
  | 'ipv6'
  | 'arp'
  | 'tcp'
  | 'udp'
  | 'sctp'
  | 'icmpv4'
  | 'icmpv6'
  | 'nd'
  | 'nd_solicit'
  | 'nd_advert';

export interface FieldDef {
  readonly oxmClass: number;
  readonly oxmField: number;
  readonly kind: FieldKind;
  readonly maskable: boolean;
  readonly prereq: Prereq;
  /** Only for class 0xffff. */
  readonly experimenter?: number;
}

// Generic helpers keep each field's `kind` literal, so FieldValue<'eth_dst'> is string, not a union.
type Def<K extends FieldKind> = FieldDef & { readonly kind: K };
const basic = <K extends FieldKind>(oxmField: number, kind: K, maskable: boolean, prereq: Prereq = 'none'): Def<K> => ({
  oxmClass: OXM_CLASS.OPENFLOW_BASIC,
  oxmField,
  kind,
  maskable,
  prereq,
});
const nx = <K extends FieldKind>(oxmField: number, kind: K, maskable: boolean): Def<K> => ({
  oxmClass: OXM_CLASS.NXM_1,
  oxmField,
  kind,
  maskable,
  prereq: 'none',
});
const eric = <K extends FieldKind>(oxmField: number, kind: K): Def<K> => ({ oxmClass: OXM_CLASS.ERICOXM_OF, oxmField, kind, maskable: false, prereq: 'nd' });
const reg = (n: number): Def<'u32'> => nx(n, 'u32', true);
const xreg = (n: number): Def<'u64'> => ({
  oxmClass: OXM_CLASS.PKT_REGS,
  oxmField: n,
  kind: 'u64',
  maskable: true,
  prereq: 'none',
});

export const FIELDS = {
  in_port: basic(0, 'u32', false),
  metadata: basic(2, 'u64', true),
  eth_dst: basic(3, 'mac', true),
  eth_src: basic(4, 'mac', true),
  eth_type: basic(5, 'u16', false),
  vlan_vid: basic(6, 'u16', true),
  vlan_pcp: basic(7, 'u8', false, 'vlan'),
  ip_dscp: basic(8, 'u8', false, 'ip'),
  ip_ecn: basic(9, 'u8', false, 'ip'),
  ip_proto: basic(10, 'u8', false, 'ip'),
  ipv4_src: basic(11, 'ipv4', true, 'ipv4'),
  ipv4_dst: basic(12, 'ipv4', true, 'ipv4'),
  tcp_src: basic(13, 'u16', true, 'tcp'),
  tcp_dst: basic(14, 'u16', true, 'tcp'),
  udp_src: basic(15, 'u16', true, 'udp'),
  udp_dst: basic(16, 'u16', true, 'udp'),
  sctp_src: basic(17, 'u16', true, 'sctp'),
  sctp_dst: basic(18, 'u16', true, 'sctp'),
  icmpv4_type: basic(19, 'u8', false, 'icmpv4'),
  icmpv4_code: basic(20, 'u8', false, 'icmpv4'),
  arp_op: basic(21, 'u16', false, 'arp'),
  arp_spa: basic(22, 'ipv4', true, 'arp'),
  arp_tpa: basic(23, 'ipv4', true, 'arp'),
  arp_sha: basic(24, 'mac', true, 'arp'),
  arp_tha: basic(25, 'mac', true, 'arp'),
  ipv6_src: basic(26, 'ipv6', true, 'ipv6'),
  ipv6_dst: basic(27, 'ipv6', true, 'ipv6'),
  ipv6_flabel: basic(28, 'u32', true, 'ipv6'),
  icmpv6_type: basic(29, 'u8', false, 'icmpv6'),
  icmpv6_code: basic(30, 'u8', false, 'icmpv6'),
  ipv6_nd_target: basic(31, 'ipv6', true, 'nd'),
  ipv6_nd_sll: basic(32, 'mac', true, 'nd_solicit'),
  ipv6_nd_tll: basic(33, 'mac', true, 'nd_advert'),
  // Rewritable in actions so flows can turn a solicitation into an advertisement.
  nd_reserved: eric(1, 'u32'),
  nd_options_type: eric(2, 'u8'),
  tunnel_id: basic(38, 'u64', true),
  reg0: reg(0),
  reg1: reg(1),
  reg2: reg(2),
  reg3: reg(3),
  reg4: reg(4),
  reg5: reg(5),
  reg6: reg(6),
  reg7: reg(7),
  reg8: reg(8),
  reg9: reg(9),
  reg10: reg(10),
  reg11: reg(11),
  reg12: reg(12),
  reg13: reg(13),
  reg14: reg(14),
  reg15: reg(15),
  xreg0: xreg(0),
  xreg1: xreg(1),
  xreg2: xreg(2),
  xreg3: xreg(3),
  xreg4: xreg(4),
  xreg5: xreg(5),
  xreg6: xreg(6),
  xreg7: xreg(7),
  tun_ipv4_src: nx(31, 'ipv4', true),
  tun_ipv4_dst: nx(32, 'ipv4', true),
  pkt_mark: nx(33, 'u32', true),
  ct_state: nx(105, 'u32', true),
  ct_zone: nx(106, 'u16', false),
  ct_mark: nx(107, 'u32', true),
  ct_label: nx(108, 'u128', true),
  /**
   * The protocol and destination port of the original direction of the packet's connection
   * (OVS 2.8+; the match needs ct_state +new, +est or +trk-inv). A first fragment has them,
   * its own port or not. Match ct_tp_dst with ct_nw_proto: OVS dumps ct_tp_* only beside it.
   */
  ct_nw_proto: nx(119, 'u8', false),
  ct_tp_dst: nx(125, 'u16', true),
  /** NXM_NX_IP_FRAG: bit 0 a fragment, bit 1 not the first (OVS's nw_frag=yes is 1/1). */
  ip_frag: nx(26, 'u8', true),
  // OVS 2.4+ sends dp_hash as a Nicira experimenter OXM in OF1.2+ (NXOXM_ET_DP_HASH).
  dp_hash: {
    oxmClass: OXM_CLASS.EXPERIMENTER,
    oxmField: 0,
    kind: 'u32' as const,
    maskable: true,
    prereq: 'none' as const,
    experimenter: NX_EXPERIMENTER_ID,
  },
} as const satisfies Record<string, FieldDef>;

export type FieldName = keyof typeof FIELDS;
export type FieldValue<N extends FieldName> = KindValues[(typeof FIELDS)[N]['kind']];

/** A known field; `mask` absent means exact match. */
export type KnownOxm = {
  [N in FieldName]: { field: N; value: FieldValue<N>; mask?: FieldValue<N> };
}[FieldName];

/** A field this library does not model, kept verbatim so decode never loses data. */
export interface UnknownOxm {
  field: 'unknown';
  oxmClass: number;
  oxmField: number;
  experimenter?: number;
  value: Buffer;
  mask?: Buffer;
}

export type Oxm = KnownOxm | UnknownOxm;

/** Convenience constructor with the value type checked against the field. */
export function oxm<N extends FieldName>(field: N, value: FieldValue<N>, mask?: FieldValue<N>): KnownOxm {
  return (mask === undefined ? { field, value } : { field, value, mask }) as KnownOxm;
}

const byHeader = new Map<number | string, FieldName>();
for (const [name, def] of Object.entries(FIELDS) as [FieldName, FieldDef][]) {
  byHeader.set(headerKey(def.oxmClass, def.oxmField, def.experimenter), name);
}
// Accept the NXM spellings OVS may use for fields that also have OXM forms.
byHeader.set(headerKey(OXM_CLASS.NXM_1, 16), 'tunnel_id'); // NXM_NX_TUN_ID
byHeader.set(headerKey(OXM_CLASS.NXM_1, 35), 'dp_hash'); // NXM_NX_DP_HASH
// OVS names the fields of move/load actions in their oldest form (NXM_OF_*, NXM_NX_*)
// when it reports flows back, even if the controller wrote their OXM form.
const NXM_ALIASES: ReadonlyArray<[number, number, FieldName]> = [
  [OXM_CLASS.NXM_0, 1, 'eth_dst'],
  [OXM_CLASS.NXM_0, 2, 'eth_src'],
  [OXM_CLASS.NXM_0, 3, 'eth_type'],
  [OXM_CLASS.NXM_0, 6, 'ip_proto'],
  [OXM_CLASS.NXM_0, 7, 'ipv4_src'],
  [OXM_CLASS.NXM_0, 8, 'ipv4_dst'],
  [OXM_CLASS.NXM_0, 9, 'tcp_src'],
  [OXM_CLASS.NXM_0, 10, 'tcp_dst'],
  [OXM_CLASS.NXM_0, 11, 'udp_src'],
  [OXM_CLASS.NXM_0, 12, 'udp_dst'],
  [OXM_CLASS.NXM_0, 13, 'icmpv4_type'],
  [OXM_CLASS.NXM_0, 14, 'icmpv4_code'],
  [OXM_CLASS.NXM_0, 15, 'arp_op'],
  [OXM_CLASS.NXM_0, 16, 'arp_spa'],
  [OXM_CLASS.NXM_0, 17, 'arp_tpa'],
  [OXM_CLASS.NXM_1, 17, 'arp_sha'],
  [OXM_CLASS.NXM_1, 18, 'arp_tha'],
  [OXM_CLASS.NXM_1, 19, 'ipv6_src'],
  [OXM_CLASS.NXM_1, 20, 'ipv6_dst'],
  [OXM_CLASS.NXM_1, 21, 'icmpv6_type'],
  [OXM_CLASS.NXM_1, 22, 'icmpv6_code'],
  [OXM_CLASS.NXM_1, 23, 'ipv6_nd_target'],
  [OXM_CLASS.NXM_1, 24, 'ipv6_nd_sll'],
  [OXM_CLASS.NXM_1, 25, 'ipv6_nd_tll'],
];
for (const [cls, field, name] of NXM_ALIASES) if (!byHeader.has(headerKey(cls, field))) byHeader.set(headerKey(cls, field), name);

/** A small integer for the usual headers (looked up once per field of every flow dumped), a string with an experimenter id. */
function headerKey(cls: number, field: number, experimenter?: number): number | string {
  return experimenter === undefined ? cls * 128 + field : `${cls}:${field}:${experimenter}`;
}

export function fieldByHeader(cls: number, field: number, experimenter?: number): FieldName | undefined {
  return byHeader.get(headerKey(cls, field, experimenter));
}

export function fieldDef(name: FieldName): FieldDef {
  return FIELDS[name];
}

export function isFieldName(s: string): s is FieldName {
  return Object.prototype.hasOwnProperty.call(FIELDS, s);
}
