import { OpenFlowEncodeError } from '../errors';
import { FIELDS, KnownOxm } from '../oxm/fields';
import { decodeOxm, encodeOxm } from '../oxm/oxm';
import { Reader } from '../wire/reader';
import { Writer } from '../wire/writer';
import { Action, SetFieldAction } from './types';

/** ofp_action_type values of OpenFlow 1.3. */
export const OFPAT = {
  OUTPUT: 0,
  PUSH_VLAN: 17,
  POP_VLAN: 18,
  GROUP: 22,
  DEC_NW_TTL: 24,
  SET_FIELD: 25,
  EXPERIMENTER: 0xffff,
} as const;

type StandardAction = Extract<Action, { type: 'output' | 'group' | 'set_field' | 'push_vlan' | 'pop_vlan' | 'dec_nw_ttl' }>;

const STANDARD_TYPES: ReadonlySet<string> = new Set<StandardAction['type']>(['output', 'group', 'set_field', 'push_vlan', 'pop_vlan', 'dec_nw_ttl']);

export function isStandard(a: Action): a is StandardAction {
  // A constant set: this runs for every action of every flow_mod encoded or compared.
  return STANDARD_TYPES.has(a.type);
}

/** Writes the body of a standard action; the caller writes type/len and pads. */
export function encodeStandard(w: Writer, a: StandardAction): number {
  switch (a.type) {
    case 'output':
      w.u32(a.port, 'output port').u16(a.maxLen, 'output max_len').zeros(6);
      return OFPAT.OUTPUT;
    case 'group':
      w.u32(a.groupId, 'group id');
      return OFPAT.GROUP;
    case 'push_vlan':
      w.u16(a.ethertype, 'push_vlan ethertype').zeros(2);
      return OFPAT.PUSH_VLAN;
    case 'pop_vlan':
      w.zeros(4);
      return OFPAT.POP_VLAN;
    case 'dec_nw_ttl':
      w.zeros(4);
      return OFPAT.DEC_NW_TTL;
    case 'set_field':
      if (!(a.field in FIELDS)) throw new OpenFlowEncodeError(`set_field: unknown field ${String(a.field)}`);
      // The OXM follows the 4-byte header directly; the caller pads to 8.
      encodeOxm(w, { field: a.field, value: a.value } as KnownOxm);
      return OFPAT.SET_FIELD;
  }
}

/** Decodes a standard action body (after type/len); undefined if the type is not standard. */
export function decodeStandard(type: number, r: Reader): Action | undefined {
  switch (type) {
    case OFPAT.OUTPUT: {
      const port = r.u32('output port');
      const maxLen = r.u16('output max_len');
      return { type: 'output', port, maxLen };
    }
    case OFPAT.GROUP:
      return { type: 'group', groupId: r.u32('group id') };
    case OFPAT.PUSH_VLAN:
      return { type: 'push_vlan', ethertype: r.u16('push_vlan ethertype') };
    case OFPAT.POP_VLAN:
      return { type: 'pop_vlan' };
    case OFPAT.DEC_NW_TTL:
      return { type: 'dec_nw_ttl' };
    case OFPAT.SET_FIELD: {
      const f = decodeOxm(r);
      if (f.field === 'unknown') return undefined;
      if (f.mask !== undefined) r.fail('set_field with a mask');
      return { type: 'set_field', field: f.field, value: f.value } as SetFieldAction;
    }
    default:
      return undefined;
  }
}
