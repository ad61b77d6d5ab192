/** Pieces every command module uses: runtime lookup, examples in --help, and common subcommands. */
import { Command, InvalidArgumentError, Option } from 'commander';
import type { KubeObject } from '../../resources/object';
import { attempt } from '../attempt';
import { qualifiedName, type KindInfo } from '../kinds';
import { ApiStatusError, CliError, UsageError, failsEveryObject } from '../errors';
import { deleteObject, getObject, listObjects } from '../ops';
import { renderObjects } from '../output/printer';
import type { Runtime } from '../runtime';
import { parseDuration } from '../flags/duration';
import { waitFor } from '../wait';

export type RuntimeOf = (cmd: Command) => Runtime;

export function examples(cmd: Command, lines: string[]): Command {
  return cmd.addHelpText('after', `\nExamples:\n${lines.map((l) => `  ${l}`).join('\n')}\n`);
}

/** Adapts a throwing parser to commander's argParser (its errors are usage errors, exit 2). */
export function parser<T>(fn: (text: string) => T): (value: string) => T {
  return (value) => {
    try {
      return fn(value);
    } catch (err) {
      throw new InvalidArgumentError((err as Error).message);
    }
  };
}

/** For repeatable flags: --subnet A --subnet B. */
export function repeatable<T>(fn: (text: string) => T): (value: string, previous: T[] | undefined) => T[] {
  const one = parser(fn);
  return (value, previous) => [...(previous ?? []), one(value)];
}

export function integer(min: number, max: number): (text: string) => number {
  return (text) => {
    if (!/^\d+$/.test(text)) throw new Error(`"${text}" is not a whole number`);
    const n = Number(text);
    if (n < min || n > max) throw new Error(`${n} is outside ${min}-${max}`);
    return n;
  };
}

/** Prints what a create/apply returned: a "created" line and the row in table formats, the object otherwise. */
export function printWritten(rt: Runtime, kind: KindInfo, obj: KubeObject, verb: string): void {
  const format = rt.output;
  if (format === 'table' || format === 'wide') {
    rt.io.out(`${qualifiedName(kind, obj.metadata.name)} ${verb}${rt.dryRunNote}\n`);
    rt.io.out(renderObjects(kind, [obj], format, rt.term));
  } else rt.io.out(renderObjects(kind, [obj], format, rt.term, { single: true }));
}

/**
 * Adds `list`, `get NAME...` and `delete NAME...` for a kind under a command group.
 * `deleteNote`: what deleting one does beyond the object itself, printed in `delete --help`.
 */
export function addReadDelete(group: Command, kind: KindInfo, runtimeOf: RuntimeOf, opts: { delete: boolean; deleteNote?: string }): void {
  const noun = kind.kind;
  const listCmd = group
    .command('list')
    .alias('ls')
    .description(`list ${noun}s${kind.namespaced ? ' in the namespace' : ''}`)
    .option('-l, --selector <labels>', 'label selector, e.g. tier=web');
  if (kind.namespaced) listCmd.option('-A, --all-namespaces', 'list across all namespaces you can see');
  examples(
    listCmd.action(async (o: { selector?: string; allNamespaces?: boolean }, cmd: Command) => {
        const rt = runtimeOf(cmd);
        const all = kind.namespaced && o.allNamespaces === true;
        const res = await attempt(rt, { verb: 'list', kind }, () => listObjects(rt, kind, kind.namespaced && !all ? rt.namespace() : undefined, { labelSelector: o.selector }));
        if (res.items.length === 0 && (rt.output === 'table' || rt.output === 'wide')) {
          rt.io.err(`No ${kind.plural} found${kind.namespaced && !all ? ` in namespace "${rt.namespace()}"` : ''}.\n`);
          return;
        }
        rt.io.out(renderObjects(kind, res.items, rt.output, rt.term, { withNamespace: all }));
      }),
    [`vnetctl ${kind.command} list`, ...(kind.namespaced ? [`vnetctl ${kind.command} list -A -o wide`] : []), `vnetctl ${kind.command} list -o name`],
  );
  examples(
    group
      .command('get')
      .description(`show ${noun}s by name`)
      .argument('<name...>', `${noun} name(s)`)
      .action(async (names: string[], _o: unknown, cmd: Command) => {
        const rt = runtimeOf(cmd);
        await getNamed(rt, kind, namespaceFor(rt, kind), names);
      }),
    [`vnetctl ${kind.command} get NAME`, `vnetctl ${kind.command} get NAME -o yaml`],
  );
  if (!opts.delete) return;
  examples(
    addSelectionOptions(
      group
        .command('delete')
        .alias('rm')
        .description(`delete ${noun}s by name, or those a label selector matches (-l), or all of them (--all)${opts.deleteNote ? `\n\n${opts.deleteNote}` : ''}`)
        .argument('[name...]', `${noun} name(s)`),
      kind.namespaced,
    )
      .option('--wait', 'wait until the objects are gone (finalizers done)')
      .addOption(new Option('--timeout <duration>', 'how long --wait waits (e.g. 30s, 2m)').argParser(parser(parseDuration)).default(60_000, '60s'))
      .action(async (names: string[], o: Selection & { wait?: boolean; timeout: number }, cmd: Command) => {
        const rt = runtimeOf(cmd);
        const wait = { wait: o.wait === true, timeout: o.timeout };
        if (selects(names, o, kind.command ?? kind.plural)) await deleteSelected(rt, kind, o, wait);
        else await deleteNamed(rt, kind, names, wait);
      }),
    [`vnetctl ${kind.command} delete NAME`, `vnetctl ${kind.command} delete NAME --wait`, `vnetctl ${kind.command} delete -l role=client${kind.namespaced ? ' -A' : ''}`],
  );
}

/** Which objects a delete takes when it names none: a label selector, or all; across namespaces with -A. */
export interface Selection {
  selector?: string;
  all?: boolean;
  allNamespaces?: boolean;
}

/** A delete command's -l, --all and (namespaced kinds) -A, as kubectl delete has them. */
export function addSelectionOptions(cmd: Command, namespaced: boolean): Command {
  cmd.option('-l, --selector <labels>', 'delete the objects this label selector matches, e.g. role=client').option('--all', 'delete every object of the kind');
  if (namespaced) cmd.option('-A, --all-namespaces', 'with -l or --all: in every namespace you can see');
  return cmd;
}

/** Whether a delete goes by selection (-l/--all) rather than by names; contradictory or empty requests are refused here, before anything is deleted. */
export function selects(names: readonly string[], o: Selection, command: string): boolean {
  const selecting = o.selector !== undefined || o.all === true;
  if (o.selector !== undefined && o.all) throw new UsageError('-l and --all contradict each other: delete what a selector matches, or everything');
  if (selecting && names.length > 0) throw new UsageError(`names and ${o.all ? '--all' : '-l'} contradict each other: delete by name, or by selection`);
  if (o.allNamespaces && !selecting) throw new UsageError('-A deletes across namespaces only with -l SELECTOR or --all');
  if (o.selector !== undefined && o.selector.trim() === '') throw new UsageError('-l needs a label selector, e.g. -l role=client');
  if (!selecting && names.length === 0) throw new UsageError(`say what to delete: vnetctl ${command} delete NAME..., -l SELECTOR or --all`);
  return selecting;
}

/**
 * Deletes what a selection lists now, each as deleteEach does (one line per object, --wait
 * at the end); an object gone meanwhile is not an error. Nothing matched: said on stderr, as kubectl does.
 */
export async function deleteSelected(rt: Runtime, kind: KindInfo, o: Selection, wait: { wait: boolean; timeout: number }): Promise<void> {
  const everywhere = kind.namespaced && o.allNamespaces === true;
  const ns = kind.namespaced && !everywhere ? rt.namespace() : undefined;
  const res = await attempt(rt, { verb: 'list', kind }, () => listObjects(rt, kind, ns, o.selector !== undefined ? { labelSelector: o.selector } : {}));
  if (res.items.length === 0) {
    rt.io.err(`No ${kind.plural} found${ns !== undefined ? ` in namespace "${ns}"` : ''}${o.selector !== undefined ? ` matching ${o.selector}` : ''}.\n`);
    return;
  }
  await deleteEach(rt, res.items.map((obj) => ({ kind, ns: kind.namespaced ? obj.metadata.namespace : undefined, name: obj.metadata.name })), { ...wait, ignoreNotFound: true });
}

/**
 * Gets each named object as kubectl does: those found are printed; each one that is not
 * (or fails) says why on its own line, and the command fails with a count. (QA: one name
 * not found printed nothing for the others.) One name that fails is the one error line.
 */
/** The namespace a name of `kind` is in: -n (or the kubeconfig's) for a namespaced kind, none for a cluster-scoped one. */
export function namespaceFor(rt: Runtime, kind: KindInfo): string | undefined {
  return kind.namespaced ? rt.namespace() : undefined;
}

export async function getNamed(rt: Runtime, kind: KindInfo, ns: string | undefined, names: string[]): Promise<void> {
  const objs: KubeObject[] = [];
  const failures: CliError[] = [];
  for (const name of names) {
    try {
      objs.push(await attempt(rt, { verb: 'get', kind, name }, () => getObject(rt, kind, ns, name)));
    } catch (err) {
      if (!(err instanceof CliError) || names.length === 1) throw err;
      failures.push(err);
    }
  }
  if (objs.length) rt.io.out(renderObjects(kind, objs, rt.output, rt.term, { single: names.length === 1 }));
  for (const f of failures) rt.io.err(`error: ${f.message}\n`);
  if (failures.length > 0) throw new CliError(`${failures.length} of ${names.length} object(s) failed`);
}

/** One object to delete, as deleteEach takes it. */
export interface DeleteTarget {
  kind: KindInfo;
  ns: string | undefined;
  name: string;
}

/**
 * Deletes each object as kubectl does: a line for each delete the server accepted, as it
 * is accepted; a failed one (or one not found, unless ignoreNotFound) says why on its own
 * line and the others still go; --wait waits for all the accepted ones at the end. One
 * target that fails is the command's one error line; several end with a count.
 */
export async function deleteEach(rt: Runtime, targets: DeleteTarget[], o: { wait: boolean; timeout: number; ignoreNotFound?: boolean }): Promise<void> {
  const accepted: DeleteTarget[] = [];
  const failures: CliError[] = [];
  for (const t of targets) {
    try {
      const gone = await attempt(rt, { verb: 'delete', kind: t.kind, name: t.name, ...(t.ns !== undefined ? { namespace: t.ns } : {}) }, async () => {
        try {
          await deleteObject(rt, t.kind, t.ns, t.name);
          return false;
        } catch (err) {
          if (o.ignoreNotFound && err instanceof ApiStatusError && err.httpStatus === 404) return true;
          throw err;
        }
      });
      if (gone) continue;
      accepted.push(t);
      rt.io.out(rt.output === 'name' ? `${qualifiedName(t.kind, t.name)}\n` : `${qualifiedName(t.kind, t.name)} deleted${rt.dryRunNote}\n`);
    } catch (err) {
      if (!(err instanceof CliError)) throw err;
      if (targets.length === 1) throw err;
      if (failsEveryObject(err)) throw new CliError(`${err.message} (stopped at ${qualifiedName(t.kind, t.name)}: ${accepted.length} of ${targets.length} deleted)`, err.exitCode, err.underlying);
      rt.io.err(`error: ${err.message}\n`);
      failures.push(err);
    }
  }
  // Wait only after every delete was sent: objects may hold each other (a network waits for its ports).
  // A dry run deleted nothing to wait for.
  if (o.wait && !rt.dryRun) await waitAllDeleted(rt, accepted, o.timeout);
  if (failures.length > 0) throw new CliError(`${failures.length} of ${targets.length} object(s) failed`);
}

export function deleteNamed(rt: Runtime, kind: KindInfo, names: string[], o: { wait: boolean; timeout: number; ignoreNotFound?: boolean }): Promise<void> {
  const ns = namespaceFor(rt, kind);
  return deleteEach(rt, names.map((name) => ({ kind, ns, name })), o);
}

/** Waits (concurrently, one deadline) until all the objects are gone. */
export async function waitAllDeleted(rt: Runtime, objs: { kind: KindInfo; ns: string | undefined; name: string }[], timeout: number): Promise<void> {
  await Promise.all(objs.map((o) => waitFor(rt, o.kind, o.ns, o.name, { kind: 'delete' }, timeout)));
}
