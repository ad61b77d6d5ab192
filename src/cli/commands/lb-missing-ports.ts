/**
 * vnetctl lb create / add-backend refuse a backend naming a VirtualPort that does not exist in
 * the namespace (a typo, QA-152 F7): the API takes it with a warning, as a Service takes a
 * selector nothing matches, and a port created later under that name would join the VIP with
 * nobody acting. --allow-missing keeps the API's way, for a port still to come.
 */
import { closest, distance } from 'fastest-levenshtein';
import type { Backend, VirtualPort } from '../../resources/kinds';
import { CliError } from '../errors';
import { backendLabel, kindByPlural } from '../kinds';
import { listObjects } from '../ops';
import type { Runtime } from '../runtime';

const PORTS = kindByPlural('virtualports');

/** A name this close to an existing port's is likely a typo of it (r11 for r1, web-l for web-1). */
const TYPO_DISTANCE = 2;

/** The backends of `backends` naming ports that `existing` lacks, each with the closest existing name when it looks like a typo. */
export function missingPorts(backends: readonly Backend[], existing: readonly string[]): Array<{ backend: Backend; suggestion?: string }> {
  const have = new Set(existing);
  const out: Array<{ backend: Backend; suggestion?: string }> = [];
  for (const b of backends) {
    if (b.port === undefined || have.has(b.port)) continue;
    const near = existing.length ? closest(b.port, [...existing]) : undefined;
    out.push({ backend: b, ...(near !== undefined && distance(b.port, near) <= TYPO_DISTANCE ? { suggestion: near } : {}) });
  }
  return out;
}

/** Throws one line naming the first missing port (and the likely intended one), unless every named port exists. */
export async function refuseMissingPorts(rt: Runtime, lbName: string, backends: readonly Backend[], verb: 'create' | 'add a backend to'): Promise<void> {
  if (!backends.some((b) => b.port !== undefined)) return;
  const ns = rt.namespace();
  const ports = await listObjects<VirtualPort>(rt, PORTS, ns);
  const missing = missingPorts(backends, ports.items.map((p) => p.metadata.name));
  const first = missing[0];
  if (!first) return;
  const others = missing.length > 1 ? ` (and ${missing.slice(1).map((m) => backendLabel(m.backend)).join(', ')})` : '';
  const hint = first.suggestion ? `did you mean ${first.suggestion}? ` : '';
  throw new CliError(
    `cannot ${verb} loadbalancer "${lbName}": backend ${backendLabel(first.backend)}${others}: no VirtualPort "${first.backend.port}" in namespace "${ns}"; ${hint}nothing was changed (--allow-missing adds it anyway: it takes connections once a port of that name exists)`,
  );
}
