import { MatchPrerequisiteError, OpenFlowEncodeError } from '../errors';
import { FIELDS, KnownOxm, Oxm, Prereq } from './fields';
import { isUintOf, valueToBytes } from './value';

export const ETH_TYPE = { IPV4: 0x0800, ARP: 0x0806, RARP: 0x8035, IPV6: 0x86dd } as const;
export const IP_PROTO = { ICMP: 1, TCP: 6, UDP: 17, ICMPV6: 58, SCTP: 132 } as const;
/** OFPVID_PRESENT: set in vlan_vid when the packet has an 802.1Q header. */
export const OFPVID_PRESENT = 0x1000;

/**
 * Checks a match the way a switch would (OFPBMC_BAD_PREREQ, OFPBMC_DUP_FIELD,
 * OFPBMC_BAD_WILDCARDS) so the error surfaces at the call site with the field's
 * name instead of as an asynchronous ERROR from the switch.
 */
export function checkMatch(fields: readonly Oxm[]): void {
  // Runs for every flow_mod encoded and every desired flow: plain loops and locals over a
  // handful of fields, no Map or Set. Only exact (unmasked) values satisfy prerequisites.
  const exact: ExactValues = { eth_type: undefined, ip_proto: undefined, icmpv6_type: undefined };
  let vlan: Oxm | undefined;
  let anyPrereq = false;
  for (let i = 0; i < fields.length; i++) {
    const f = fields[i] as Oxm;
    for (let j = 0; j < i; j++) {
      if (sameField(f, fields[j] as Oxm)) throw new OpenFlowEncodeError(`match field ${fieldLabel(f)} appears twice`);
    }
    if (f.field === 'unknown') continue;
    if (f.mask === undefined) {
      if (f.field === 'eth_type' || f.field === 'ip_proto' || f.field === 'icmpv6_type') exact[f.field] = f.value;
    } else {
      checkMaskedValue(f as KnownOxm & { mask: NonNullable<KnownOxm['mask']> });
    }
    if (f.field === 'vlan_vid') vlan = f;
    if (FIELDS[f.field].prereq !== 'none') anyPrereq = true;
  }
  if (!anyPrereq) return;
  for (const f of fields) {
    if (f.field === 'unknown') continue;
    const p = FIELDS[f.field].prereq;
    if (p === 'none') continue;
    const missing = missingPrereq(p, exact, vlan);
    if (missing) throw new MatchPrerequisiteError(f.field, missing);
  }
}

/** The exact values of the fields other fields' prerequisites name. */
interface ExactValues {
  eth_type: number | undefined;
  ip_proto: number | undefined;
  icmpv6_type: number | undefined;
}

function fieldLabel(f: Oxm): string {
  return f.field === 'unknown' ? `u:${f.oxmClass}:${f.oxmField}:${f.experimenter ?? ''}` : f.field;
}

function sameField(a: Oxm, b: Oxm): boolean {
  if (a.field !== 'unknown' || b.field !== 'unknown') return a.field === b.field;
  return a.oxmClass === b.oxmClass && a.oxmField === b.oxmField && a.experimenter === b.experimenter;
}

function missingPrereq(
  p: Prereq,
  exact: ExactValues,
  vlan: Oxm | undefined,
): string | undefined {
  const eth = exact.eth_type;
  const proto = exact.ip_proto;
  const isIp = eth === ETH_TYPE.IPV4 || eth === ETH_TYPE.IPV6;
  switch (p) {
    case 'none':
      return undefined;
    case 'vlan': {
      const present =
        vlan !== undefined &&
        vlan.field === 'vlan_vid' &&
        (vlan.value & OFPVID_PRESENT) !== 0 &&
        (vlan.mask === undefined || (vlan.mask & OFPVID_PRESENT) !== 0);
      return present ? undefined : 'vlan_vid with OFPVID_PRESENT (0x1000)';
    }
    case 'ip':
      return isIp ? undefined : 'eth_type=0x0800 or eth_type=0x86dd';
    case 'ipv4':
      return eth === ETH_TYPE.IPV4 ? undefined : 'eth_type=0x0800';
    case 'ipv6':
      return eth === ETH_TYPE.IPV6 ? undefined : 'eth_type=0x86dd';
    case 'arp':
      return eth === ETH_TYPE.ARP || eth === ETH_TYPE.RARP ? undefined : 'eth_type=0x0806';
    case 'tcp':
      return l4(isIp, proto, IP_PROTO.TCP, 'tcp');
    case 'udp':
      return l4(isIp, proto, IP_PROTO.UDP, 'udp');
    case 'sctp':
      return l4(isIp, proto, IP_PROTO.SCTP, 'sctp');
    case 'icmpv4':
      return eth !== ETH_TYPE.IPV4 ? 'eth_type=0x0800' : proto !== IP_PROTO.ICMP ? 'ip_proto=1 (icmp)' : undefined;
    case 'icmpv6':
      return eth !== ETH_TYPE.IPV6 ? 'eth_type=0x86dd' : proto !== IP_PROTO.ICMPV6 ? 'ip_proto=58 (icmpv6)' : undefined;
    case 'nd':
    case 'nd_solicit':
    case 'nd_advert': {
      const base = missingPrereq('icmpv6', exact, vlan);
      if (base) return base;
      const t = exact.icmpv6_type;
      const ok = p === 'nd' ? t === 135 || t === 136 : p === 'nd_solicit' ? t === 135 : t === 136;
      return ok ? undefined : p === 'nd' ? 'icmpv6_type=135 or 136' : `icmpv6_type=${p === 'nd_solicit' ? 135 : 136}`;
    }
  }
}

// A plain function, not a closure inside missingPrereq: this runs per flow_mod.
function l4(isIp: boolean, proto: unknown, n: number, name: string): string | undefined {
  return !isIp ? 'eth_type=0x0800 or eth_type=0x86dd' : proto !== n ? `ip_proto=${n} (${name})` : undefined;
}

/** A value bit outside its mask is rejected by OVS (OFPBMC_BAD_WILDCARDS). */
function checkMaskedValue(f: KnownOxm & { mask: NonNullable<KnownOxm['mask']> }): void {
  const kind = FIELDS[f.field].kind;
  // Integers are compared as they are (no two Buffers per masked field per flow), once
  // both are valid values of the field's width (valueToBytes' checks and messages).
  if (isUintOf(f.value, kind) && isUintOf(f.mask, kind)) {
    // At most 32 bits wide: JavaScript's bitwise operators keep every bit of them.
    if ((f.value & ~f.mask) !== 0) throw new OpenFlowEncodeError(`match field ${f.field}: value has bits outside its mask`);
    return;
  }
  const v = valueToBytes(kind, f.value, f.field);
  const m = valueToBytes(kind, f.mask, `${f.field} mask`);
  for (let i = 0; i < v.length; i++) {
    if (((v[i] as number) & ~(m[i] as number)) !== 0) {
      throw new OpenFlowEncodeError(`match field ${f.field}: value has bits outside its mask`);
    }
  }
}
