/**
 * Flows as readable golden strings: ovs-ofctl text with table names instead of numbers
 * and register fields by their pipeline names ("Network=0x64", "load:0x64->Network").
 */
import { formatFlow, type Action, type KnownOxm, type Oxm } from '../openflow';
import { formatActions } from '../openflow/format/actions';
import type { DesiredFlow } from '../openflow/sync';
import { FIELD_NAMES } from './fields';
import { tableName } from './tables';

/** A register match by its fields' names: one field, or several of one register matched at once (matchFields). */
function regName(m: KnownOxm): string | undefined {
  const mask = 'mask' in m && m.mask !== undefined ? Number(m.mask) : 0xffffffff;
  const fullOf = (f: (typeof FIELD_NAMES)[number]) => (f.sub.nbits >= 32 ? 0xffffffff : ((1 << f.sub.nbits) - 1) * 2 ** f.sub.ofs);
  const valueOf = (f: (typeof FIELD_NAMES)[number]) => `${f.name}=${Math.floor(Number(m.value) / 2 ** f.sub.ofs) % 2 ** f.sub.nbits}`;
  const exact = FIELD_NAMES.find((f) => f.sub.field === m.field && fullOf(f) === mask);
  if (exact) return valueOf(exact);
  const parts = FIELD_NAMES.filter((f) => f.sub.field === m.field && (fullOf(f) & mask) >>> 0 === fullOf(f) >>> 0);
  const covered = parts.reduce((a, f) => a + fullOf(f), 0);
  return parts.length > 1 && covered === mask ? parts.map(valueOf).join(',') : undefined;
}

/** goto_table:N and ct(...,table=N,...) by table name. */
function namedTables(text: string): string {
  return text.replace(/goto_table:(\d+)/g, (_, id: string) => `goto_table:${tableName(Number(id))}`).replace(/(ct\([^)]*?)table=(\d+)/g, (_, pre: string, id: string) => `${pre}table=${tableName(Number(id))}`);
}

/** A bucket's (or any) action list with table names. */
export function formatPipelineActions(actions: readonly Action[]): string {
  return namedTables(formatActions(actions));
}

export function formatPipelineFlow(f: DesiredFlow): string {
  const named: string[] = [];
  const rest: Oxm[] = [];
  for (const m of f.match) {
    const n = m.field === 'unknown' ? undefined : regName(m);
    if (n) named.push(n);
    else rest.push(m);
  }
  let text = formatFlow({ ...f, match: rest, cookie: undefined });
  text = text.replace(/^table=(\d+)/, (_, id: string) => tableName(Number(id)));
  text = namedTables(text);
  for (const fld of FIELD_NAMES) {
    const bits = fld.sub.nbits >= 32 ? '' : fld.sub.nbits === 1 ? fld.sub.ofs : `${fld.sub.ofs}..${fld.sub.ofs + fld.sub.nbits - 1}`;
    const nxm = `NXM_NX_REG${fld.sub.field.slice(3)}[${bits}]`;
    text = text.split(nxm).join(fld.name);
  }
  if (named.length) text = text.replace(/^([^,]+, priority=\d+)/, `$1, ${named.join(',')}`);
  return text;
}
