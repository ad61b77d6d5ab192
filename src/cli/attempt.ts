/** Runs one API operation and turns its failure into the one-line CliError the user sees. */
import { describeError } from './describe-error';
import { CliError } from './errors';
import { describeObject, type KindInfo } from './kinds';
import type { Runtime } from './runtime';

export interface AttemptSpec {
  /** e.g. "create", "delete", "add a backend to". */
  verb: string;
  kind: KindInfo;
  name?: string;
  /** Field path -> flag, for causes. */
  flags?: readonly (readonly [string, string])[];
  /** The object's namespace when it is not -n's or the context's (a manifest's own). */
  namespace?: string;
}

export function flagLookup(flags: readonly (readonly [string, string])[] | undefined): ((field: string) => string | undefined) | undefined {
  if (!flags) return undefined;
  return (field) => flags.find(([prefix]) => field === prefix || field.startsWith(`${prefix}[`) || field.startsWith(`${prefix}.`))?.[1];
}

export async function attempt<T>(rt: Runtime, spec: AttemptSpec, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof CliError) throw err;
    let ns: string | undefined;
    try {
      ns = spec.kind.namespaced ? (spec.namespace ?? rt.namespace()) : undefined;
    } catch {
      ns = undefined;
    }
    const target = spec.name !== undefined ? describeObject(spec.kind, spec.name, ns) : `${spec.kind.plural}${ns ? ` in namespace "${ns}"` : ''}`;
    throw new CliError(describeError(err, rt.errorContext(`${spec.verb} ${target}`, spec.kind, flagLookup(spec.flags), spec.namespace)), undefined, err);
  }
}
