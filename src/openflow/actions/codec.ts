import { NX_VENDOR_ID } from '../constants';
import { OpenFlowEncodeError } from '../errors';
import { Reader } from '../wire/reader';
import { Writer } from '../wire/writer';
import { decodeNicira, encodeNicira, isNicira } from './nicira';
import { OFPAT, decodeStandard, encodeStandard, isStandard } from './standard';
import { Action } from './types';

/**
 * Action lists: each action is type(16) len(16) body, len a multiple of 8.
 * Unknown actions survive a decode/encode cycle as { type: 'unknown' }.
 */
export function encodeActions(w: Writer, actions: readonly Action[]): void {
  for (const a of actions) encodeAction(w, a);
}

export function encodeAction(w: Writer, a: Action): void {
  const start = w.length;
  w.u16(0).u16(0);
  let type: number;
  if (a.type === 'unknown') {
    type = a.actionType;
    w.bytes(a.data);
  } else if (isStandard(a)) {
    type = encodeStandard(w, a);
  } else if (isNicira(a)) {
    type = OFPAT.EXPERIMENTER;
    encodeNicira(w, a, encodeActions);
  } else {
    throw new OpenFlowEncodeError(`unknown action type ${(a as { type: string }).type}`);
  }
  w.pad8(start);
  w.patchU16(start, type, 'action type');
  w.patchLength(start + 2, start);
}

export function decodeActions(r: Reader): Action[] {
  const out: Action[] = [];
  while (r.remaining > 0) out.push(decodeAction(r));
  return out;
}

function raw(type: number, body: Reader): Action {
  return { type: 'unknown', actionType: type, data: body.bytesAt0() };
}

export function decodeAction(r: Reader): Action {
  const type = r.u16('action type');
  const len = r.u16('action length');
  if (len < 8 || len % 8 !== 0) r.fail(`bad action length ${len}`);
  const body = r.sub(len - 4, 'action body');
  if (type === OFPAT.EXPERIMENTER) {
    const vendor = body.u32('action experimenter');
    if (vendor !== NX_VENDOR_ID) return raw(type, body);
    return decodeNicira(body, decodeActions) ?? raw(type, body);
  }
  return decodeStandard(type, body) ?? raw(type, body);
}
