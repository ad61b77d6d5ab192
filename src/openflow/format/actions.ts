import { Action, NatAction, Subfield } from '../actions/types';
import { fieldBits } from '../actions/subfield';
import { OFPP } from '../constants';
import { KnownOxm } from '../oxm/fields';
import { Instruction } from '../instructions';
import { SET_FIELD_NAMES, formatPort, formatPort16, nxmName } from './names';
import { formatFieldValue, hex } from './values';

const PACKET_IN_REASONS = ['no_match', 'action', 'invalid_ttl', 'action_set', 'group', 'packet_out'];

/** NXM_NX_REG0[] for a whole field, NXM_NX_REG0[0..15] for a range, [5] for one bit. */
export function formatSubfield(sf: Subfield): string {
  const name = nxmName(sf.field);
  if (sf.ofs === 0 && sf.nbits === fieldBits(sf)) return `${name}[]`;
  if (sf.nbits === 1) return `${name}[${sf.ofs}]`;
  return `${name}[${sf.ofs}..${sf.ofs + sf.nbits - 1}]`;
}

function formatNat(a: NatAction): string {
  if (!a.direction) return 'nat';
  const parts: string[] = [];
  let range = '';
  if (a.ipMin !== undefined) {
    const v6 = a.ipMin.includes(':');
    const br = (s: string): string => (v6 && a.portMin !== undefined ? `[${s}]` : s);
    range = `=${br(a.ipMin)}`;
    if (a.ipMax !== undefined && a.ipMax !== a.ipMin) range += `-${br(a.ipMax)}`;
    if (a.portMin !== undefined && a.portMin !== 0) {
      range += `:${a.portMin}`;
      if (a.portMax !== undefined && a.portMax !== 0 && a.portMax !== a.portMin) range += `-${a.portMax}`;
    }
    if (a.persistent) parts.push('persistent');
    if (a.portHash) parts.push('hash');
    if (a.portRandom) parts.push('random');
  }
  return `nat(${[a.direction + range, ...parts].join(',')})`;
}

export function formatAction(a: Action): string {
  switch (a.type) {
    case 'output':
      return a.port === OFPP.CONTROLLER ? `CONTROLLER:${a.maxLen}` : a.port >= 0xfffffff8 ? formatPort(a.port) : `output:${a.port}`;
    case 'group':
      return `group:${a.groupId}`;
    case 'set_field':
      return `set_field:${formatFieldValue({ field: a.field, value: a.value } as KnownOxm)}->${SET_FIELD_NAMES[a.field] ?? a.field}`;
    case 'push_vlan':
      return `push_vlan:${hex(a.ethertype)}`;
    case 'pop_vlan':
      return 'pop_vlan';
    case 'dec_nw_ttl':
      return 'dec_ttl';
    case 'resubmit':
      if (a.port !== 0xfff8 && a.table === 255) return `resubmit:${formatPort16(a.port)}`;
      return `resubmit(${a.port === 0xfff8 ? '' : formatPort16(a.port)},${a.table === 255 ? '' : a.table})`;
    case 'reg_load':
      return `load:${hex(a.value)}->${formatSubfield(a.dst)}`;
    case 'reg_move':
      return `move:${formatSubfield(a.src)}->${formatSubfield(a.dst)}`;
    case 'conjunction':
      return `conjunction(${a.id},${a.clause}/${a.nClauses})`;
    case 'ct': {
      const parts: string[] = [];
      if (a.commit) parts.push('commit');
      if (a.force) parts.push('force');
      if (a.table !== undefined) parts.push(`table=${a.table}`);
      if (typeof a.zone === 'object') parts.push(`zone=${formatSubfield(a.zone)}`);
      else if (a.zone) parts.push(`zone=${a.zone}`);
      // Like OVS: a leading nat is printed outside exec(...).
      let rest = a.actions;
      const first = rest[0];
      if (first?.type === 'nat') {
        parts.push(formatNat(first));
        rest = rest.slice(1);
      }
      if (rest.length) parts.push(`exec(${formatActions(rest)})`);
      if (a.alg !== undefined) parts.push(a.alg === 21 ? 'alg=ftp' : a.alg === 69 ? 'alg=tftp' : `alg=${a.alg}`);
      return `ct(${parts.join(',')})`;
    }
    case 'nat':
      return formatNat(a);
    case 'ct_clear':
      return 'ct_clear';
    case 'controller': {
      if (a.reason === 1 && a.controllerId === 0) return `CONTROLLER:${a.maxLen}`;
      const parts: string[] = [];
      if (a.reason !== 1) parts.push(`reason=${PACKET_IN_REASONS[a.reason] ?? a.reason}`);
      if (a.maxLen !== 0xffff) parts.push(`max_len=${a.maxLen}`);
      if (a.controllerId !== 0) parts.push(`id=${a.controllerId}`);
      return `controller(${parts.join(',')})`;
    }
    case 'note':
      return `note:${[...a.data].map((b) => b.toString(16).padStart(2, '0')).join('.')}`;
    case 'multipath':
      return `multipath(${a.fields},${a.basis},${a.algorithm},${a.nLinks},${a.arg},${formatSubfield(a.dst)})`;
    case 'unknown':
      return `unknown_action(type=${a.actionType},${a.data.toString('hex')})`;
  }
}

export function formatActions(actions: readonly Action[]): string {
  return actions.length === 0 ? 'drop' : actions.map(formatAction).join(',');
}

/** Instructions in the order OVS prints them, whatever their order on the wire. */
const INSTRUCTION_ORDER: Instruction['type'][] = [
  'meter',
  'apply_actions',
  'clear_actions',
  'write_actions',
  'write_metadata',
  'goto_table',
  'unknown',
];

export function formatInstructions(list: readonly Instruction[]): string {
  const parts: string[] = [];
  const sorted = [...list].sort((a, b) => INSTRUCTION_ORDER.indexOf(a.type) - INSTRUCTION_ORDER.indexOf(b.type));
  for (const i of sorted) {
    switch (i.type) {
      case 'meter':
        parts.push(`meter:${i.meterId}`);
        break;
      case 'apply_actions':
        if (i.actions.length) parts.push(i.actions.map(formatAction).join(','));
        break;
      case 'clear_actions':
        parts.push('clear_actions');
        break;
      case 'write_actions':
        parts.push(`write_actions(${i.actions.map(formatAction).join(',')})`);
        break;
      case 'write_metadata':
        parts.push(i.mask === 0xffffffffffffffffn ? `write_metadata:${hex(i.metadata)}` : `write_metadata:${hex(i.metadata)}/${hex(i.mask)}`);
        break;
      case 'goto_table':
        parts.push(`goto_table:${i.tableId}`);
        break;
      case 'unknown':
        parts.push(`unknown_instruction(type=${i.instructionType})`);
        break;
    }
  }
  return parts.length ? parts.join(',') : 'drop';
}
