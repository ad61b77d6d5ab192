import { FieldName, FieldValue } from '../oxm/fields';

/** A bit range of a field, as in OVS's `NXM_NX_REG0[0..15]`. */
export interface Subfield {
  field: FieldName;
  /** Lowest bit, counted from the least significant bit. */
  ofs: number;
  nbits: number;
}

export type SetFieldAction = {
  [N in FieldName]: { type: 'set_field'; field: N; value: FieldValue<N> };
}[FieldName];

export interface NatAction {
  type: 'nat';
  /** Absent: "nat" alone, which only applies NAT already recorded on the connection. */
  direction?: 'src' | 'dst';
  persistent?: boolean;
  portHash?: boolean;
  portRandom?: boolean;
  /** IPv4 or IPv6 address range; both ends in the same family. */
  ipMin?: string;
  ipMax?: string;
  portMin?: number;
  portMax?: number;
}

export interface CtAction {
  type: 'ct';
  commit?: boolean;
  force?: boolean;
  /** Immediate zone, or a subfield holding it (e.g. NXM_NX_REG6[0..15]). */
  zone?: number | Subfield;
  /** Recirculate to this table; absent means no recirculation. */
  table?: number;
  /** ALG port (21 ftp, 69 tftp); absent means none. */
  alg?: number;
  /** Nested actions (nat, set_field on ct_mark / ct_label). */
  actions: Action[];
}

/** NX_HASH_FIELDS_* (nicira-ext.h), by the names ovs-ofctl uses. */
export const MULTIPATH_FIELDS = ['eth_src', 'symmetric_l4', 'symmetric_l3l4', 'symmetric_l3l4+udp', 'nw_src', 'nw_dst', 'symmetric_l3'] as const;
export type MultipathFields = (typeof MULTIPATH_FIELDS)[number];
/** NX_MP_ALG_* (nicira-ext.h). */
export const MULTIPATH_ALGORITHMS = ['modulo_n', 'hash_threshold', 'hrw', 'iter_hash'] as const;
export type MultipathAlgorithm = (typeof MULTIPATH_ALGORITHMS)[number];

/**
 * NXAST_MULTIPATH: hashes `fields` (with `basis`), picks a link in 0..nLinks-1 with
 * `algorithm` and writes it to `dst` (at least ceil(log2(nLinks)) bits wide).
 */
export interface MultipathAction {
  type: 'multipath';
  fields: MultipathFields;
  basis: number;
  algorithm: MultipathAlgorithm;
  /** 1..65536. */
  nLinks: number;
  /** Algorithm argument (iter_hash: max iterations); 0 for the others. */
  arg: number;
  dst: Subfield;
}

export type Action =
  | { type: 'output'; port: number; maxLen: number }
  | { type: 'group'; groupId: number }
  | SetFieldAction
  | { type: 'push_vlan'; ethertype: number }
  | { type: 'pop_vlan' }
  | { type: 'dec_nw_ttl' }
  /** NXAST_RESUBMIT_TABLE; port 0xfff8 = in_port, table 255 = current table. */
  | { type: 'resubmit'; port: number; table: number }
  /** NXAST_REG_LOAD: how OVS sends a load into part of a field (a whole field uses set_field). */
  | { type: 'reg_load'; dst: Subfield; value: bigint }
  | { type: 'reg_move'; src: Subfield; dst: Subfield }
  /** clause is 1-based as ovs-ofctl prints it (conjunction(id,clause/nClauses)). */
  | { type: 'conjunction'; id: number; clause: number; nClauses: number }
  | CtAction
  /** NXAST_CT_CLEAR: forgets the packet's conntrack state, so a later ct() looks it up afresh. */
  | { type: 'ct_clear' }
  | NatAction
  | MultipathAction
  /** NXAST_CONTROLLER: packet-in with a reason and controller id. */
  | { type: 'controller'; maxLen: number; controllerId: number; reason: number }
  /** NXAST_NOTE: opaque bytes; decoded notes include the zero padding. */
  | { type: 'note'; data: Buffer }
  /** Anything else, kept verbatim (body after the 4-byte type/len header). */
  | { type: 'unknown'; actionType: number; data: Buffer };

export type ActionType = Action['type'];
