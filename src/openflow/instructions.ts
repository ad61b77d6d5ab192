import { decodeActions, encodeActions } from './actions/codec';
import { Action } from './actions/types';
import { OpenFlowEncodeError } from './errors';
import { Reader } from './wire/reader';
import { Writer } from './wire/writer';

/** ofp_instruction_type. */
export const OFPIT = {
  GOTO_TABLE: 1,
  WRITE_METADATA: 2,
  WRITE_ACTIONS: 3,
  APPLY_ACTIONS: 4,
  CLEAR_ACTIONS: 5,
  METER: 6,
} as const;

export type Instruction =
  | { type: 'goto_table'; tableId: number }
  | { type: 'write_metadata'; metadata: bigint; mask: bigint }
  | { type: 'write_actions'; actions: Action[] }
  | { type: 'apply_actions'; actions: Action[] }
  | { type: 'clear_actions' }
  | { type: 'meter'; meterId: number }
  /** Unknown instruction, body after the 4-byte type/len header kept verbatim. */
  | { type: 'unknown'; instructionType: number; data: Buffer };

export function encodeInstructions(w: Writer, list: readonly Instruction[]): void {
  for (const i of list) encodeInstruction(w, i);
}

function encodeInstruction(w: Writer, i: Instruction): void {
  const start = w.length;
  w.u16(0).u16(0);
  let type: number;
  switch (i.type) {
    case 'goto_table':
      type = OFPIT.GOTO_TABLE;
      w.u8(i.tableId, 'goto_table table').zeros(3);
      break;
    case 'write_metadata':
      type = OFPIT.WRITE_METADATA;
      w.zeros(4).u64(i.metadata, 'metadata').u64(i.mask, 'metadata mask');
      break;
    case 'write_actions':
    case 'apply_actions':
      type = i.type === 'write_actions' ? OFPIT.WRITE_ACTIONS : OFPIT.APPLY_ACTIONS;
      w.zeros(4);
      encodeActions(w, i.actions);
      break;
    case 'clear_actions':
      type = OFPIT.CLEAR_ACTIONS;
      w.zeros(4);
      break;
    case 'meter':
      type = OFPIT.METER;
      w.u32(i.meterId, 'meter id');
      break;
    case 'unknown':
      type = i.instructionType;
      w.bytes(i.data);
      break;
    default:
      throw new OpenFlowEncodeError(`unknown instruction ${(i as { type: string }).type}`);
  }
  w.pad8(start);
  w.patchU16(start, type, 'instruction type');
  w.patchLength(start + 2, start);
}

export function decodeInstructions(r: Reader): Instruction[] {
  const out: Instruction[] = [];
  while (r.remaining > 0) {
    const type = r.u16('instruction type');
    const len = r.u16('instruction length');
    if (len < 8 || len % 8 !== 0) r.fail(`bad instruction length ${len}`);
    const body = r.sub(len - 4, 'instruction body');
    switch (type) {
      case OFPIT.GOTO_TABLE:
        out.push({ type: 'goto_table', tableId: body.u8('goto_table table') });
        break;
      case OFPIT.WRITE_METADATA: {
        body.skip(4);
        const metadata = body.u64('metadata');
        out.push({ type: 'write_metadata', metadata, mask: body.u64('metadata mask') });
        break;
      }
      case OFPIT.WRITE_ACTIONS:
      case OFPIT.APPLY_ACTIONS:
        body.skip(4);
        out.push({
          type: type === OFPIT.WRITE_ACTIONS ? 'write_actions' : 'apply_actions',
          actions: decodeActions(body),
        });
        break;
      case OFPIT.CLEAR_ACTIONS:
        out.push({ type: 'clear_actions' });
        break;
      case OFPIT.METER:
        out.push({ type: 'meter', meterId: body.u32('meter id') });
        break;
      default:
        out.push({ type: 'unknown', instructionType: type, data: body.rest() });
    }
  }
  return out;
}
