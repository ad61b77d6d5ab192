import { CtState } from '../constants';
import { FIELDS, KnownOxm } from '../oxm/fields';

export function hex(v: number | bigint): string {
  return v === 0 || v === 0n ? '0' : `0x${v.toString(16)}`;
}

/** Fields ovs-ofctl prints in decimal. */
const DECIMAL = new Set<string>([
  'in_port',
  'vlan_vid',
  'vlan_pcp',
  'ip_dscp',
  'ip_ecn',
  'ip_proto',
  'tcp_src',
  'tcp_dst',
  'udp_src',
  'udp_dst',
  'sctp_src',
  'sctp_dst',
  'icmpv4_type',
  'icmpv4_code',
  'icmpv6_type',
  'icmpv6_code',
  'arp_op',
  'ct_zone',
  'ct_nw_proto',
  'ct_tp_dst',
]);

/** nw_frag as ovs-ofctl prints it: value/mask of NXM_NX_IP_FRAG's two bits. */
const IP_FRAG_NAMES: ReadonlyMap<string, string> = new Map([
  ['1/1', 'yes'],
  ['0/1', 'no'],
  ['0/3', 'no'],
  ['1/3', 'first'],
  ['3/3', 'later'],
  ['0/2', 'not_later'],
]);

function prefixLen(maskBits: bigint, width: number): number | undefined {
  for (let n = 0; n <= width; n++) {
    const m = n === 0 ? 0n : ((1n << BigInt(n)) - 1n) << BigInt(width - n);
    if (m === maskBits) return n;
  }
  return undefined;
}

function ipv4Bits(s: string): bigint {
  return s.split('.').reduce((a, p) => (a << 8n) | BigInt(Number(p)), 0n);
}

const CT_STATE_NAMES: ReadonlyArray<[number, string]> = Object.entries(CtState).map(([k, v]) => [v, k.toLowerCase()]);

/** ct_state as OVS prints it: +trk+est for set bits, -new for masked-out ones. */
function formatCtState(value: number, mask: number): string {
  let s = '';
  for (const [bit, name] of CT_STATE_NAMES) {
    if (!(mask & bit)) continue;
    s += `${value & bit ? '+' : '-'}${name}`;
  }
  return s || '0/0';
}

/** Formats a field value (and mask) the way ovs-ofctl prints it in a match. */
export function formatFieldValue(f: KnownOxm): string {
  const kind = FIELDS[f.field].kind;
  if (f.field === 'ct_state') return formatCtState(f.value, f.mask ?? 0xffffffff);
  if (f.field === 'ip_frag') return IP_FRAG_NAMES.get(`${f.value}/${f.mask ?? 3}`) ?? `${hex(f.value)}/${hex(f.mask ?? 3)}`;
  if (kind === 'ipv4' && typeof f.value === 'string') {
    if (typeof f.mask !== 'string') return f.value;
    const n = prefixLen(ipv4Bits(f.mask), 32);
    return n === undefined ? `${f.value}/${f.mask}` : n === 32 ? f.value : `${f.value}/${n}`;
  }
  if (typeof f.value === 'string') return f.mask === undefined ? f.value : `${f.value}/${String(f.mask)}`;
  const val = DECIMAL.has(f.field) ? String(f.value) : hex(f.value);
  return typeof f.mask === 'number' || typeof f.mask === 'bigint' ? `${val}/${hex(f.mask)}` : val;
}
