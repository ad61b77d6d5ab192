/**
 * kubectl-style generic verbs: `get|apply|delete -f FILE` over manifests, and
 * `get KIND [NAME...]` (-w to follow changes) / `delete KIND NAME...` by kind name. Manifest errors do not stop
 * the batch: every object is tried, each failure is one line, and the exit code is 1.
 */
import { readFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import type { KubeObject } from '../../resources/object';
import { attempt } from '../attempt';
import { ApiStatusError, CliError, UsageError, failsEveryObject } from '../errors';
import { appliedConfiguration, LAST_APPLIED, lastAppliedOf, threeWayMergePatch, type JsonObject } from '../apply-patch';
import { describeObject, findKind, KINDS, qualifiedName, type KindInfo } from '../kinds';
import { EVENTS, eventsNamespace, listEvents, type EventSubject } from '../events';
import { readManifests, type Manifest } from '../manifests';
import { createObject, getObject, listObjects, MERGE_PATCH, patchObject } from '../ops';
import { renderObjects } from '../output/printer';
import type { Runtime } from '../runtime';
import { parseDuration } from '../flags/duration';
import { deleteEach, deleteNamed, deleteSelected, examples, getNamed, namespaceFor, parser, selects, type RuntimeOf, type Selection } from './shared';
import { EventPrinter, streamEvents } from './watch';

const collect = (v: string, prev: string[] | undefined) => [...(prev ?? []), v];

function namespaceOf(rt: Runtime, m: Manifest): string | undefined {
  if (!m.kind.namespaced) return undefined;
  const own = m.object.metadata.namespace;
  if (own && rt.opts.namespace && own !== rt.opts.namespace) {
    throw new CliError(`cannot use ${m.source}: its namespace "${own}" differs from -n ${rt.opts.namespace}; drop one of them`);
  }
  return own ?? rt.namespace();
}

/**
 * Runs fn for every manifest; collects failures into one exit code. One manifest's failure is
 * the one error line; a usage mistake, or a failure every object would meet (vnetd
 * unreachable, credentials refused), stops the batch at once instead of repeating itself.
 */
async function eachManifest(rt: Runtime, manifests: Manifest[], fn: (m: Manifest, ns: string | undefined) => Promise<void>): Promise<void> {
  let failed = 0;
  for (const [i, m] of manifests.entries()) {
    try {
      await fn(m, namespaceOf(rt, m));
    } catch (err) {
      if (!(err instanceof CliError) || err instanceof UsageError || manifests.length === 1) throw err;
      if (failsEveryObject(err)) throw new CliError(`${err.message} (stopped at ${m.source}: ${i} of ${manifests.length} object(s) done${failed ? `, ${failed} failed` : ''})`, err.exitCode, err.underlying);
      rt.io.err(`error: ${err.message}\n`);
      failed++;
    }
  }
  if (failed > 0) throw new CliError(`${failed} of ${manifests.length} object(s) failed`);
}

function stdin(): string {
  return readFileSync(0, 'utf8');
}

const APPLY_TRIES = 5;

/** 404 NotFound as undefined. */
async function getIfExists(rt: Runtime, m: Manifest, ns: string | undefined): Promise<KubeObject | undefined> {
  try {
    return await getObject(rt, m.kind, ns, m.object.metadata.name);
  } catch (err) {
    if (err instanceof ApiStatusError && err.httpStatus === 404 && err.reason === 'NotFound') return undefined;
    throw err;
  }
}

/**
 * kubectl's client-side apply: create with the last-applied annotation, or send the
 * three-way merge patch (see apply-patch.ts) guarded by the live resourceVersion,
 * recomputed when another writer got there first.
 */
async function apply(rt: Runtime, m: Manifest, ns: string | undefined): Promise<void> {
  const name = m.object.metadata.name;
  const spec = { kind: m.kind, name, verb: 'apply', ...(ns !== undefined ? { namespace: ns } : {}) };
  const { modified } = appliedConfiguration(m.object, ns);
  const { result, verb } = await attempt(rt, spec, async () => {
    for (let i = 1; ; i++) {
      const live = await getIfExists(rt, m, ns);
      if (!live) return { result: await createObject(rt, m.kind, ns, modified as unknown as KubeObject), verb: 'created' };
      let original: JsonObject | undefined;
      try {
        original = lastAppliedOf(live);
      } catch (err) {
        throw new CliError(`cannot apply ${describeObject(m.kind, name, ns)}: ${(err as Error).message}; remove it (kubectl annotate ${m.kind.plural} ${name} ${LAST_APPLIED}-) and apply again`);
      }
      const patch = threeWayMergePatch(original, modified, live as unknown as JsonObject);
      if (Object.keys(patch).length === 0) return { result: live, verb: 'unchanged' };
      const guarded = { ...patch, metadata: { ...((patch.metadata as JsonObject | undefined) ?? {}), resourceVersion: live.metadata.resourceVersion ?? null } };
      try {
        const result = await patchObject(rt, m.kind, ns, name, MERGE_PATCH, guarded);
        // A patch can be a no-op for the server (a list re-sent with the values it defaulted): say so.
        // A dry run keeps the resourceVersion whatever it would change: the patch says it.
        return { result, verb: !rt.dryRun && result.metadata.resourceVersion === live.metadata.resourceVersion ? 'unchanged' : 'configured' };
      } catch (err) {
        if (!(err instanceof ApiStatusError && err.httpStatus === 409 && err.reason === 'Conflict') || i >= APPLY_TRIES) throw err;
      }
    }
  });
  if (rt.output === 'table' || rt.output === 'wide') rt.io.out(`${qualifiedName(m.kind, name)} ${verb}${verb === 'unchanged' ? '' : rt.dryRunNote}\n`);
  else rt.io.out(renderObjects(m.kind, [result], rt.output, rt.term, { single: true }));
}

function groupByKind(objs: { kind: KindInfo; object: KubeObject }[]): Map<KindInfo, KubeObject[]> {
  const by = new Map<KindInfo, KubeObject[]>();
  for (const o of objs) by.set(o.kind, [...(by.get(o.kind) ?? []), o.object]);
  return by;
}

/** Prints objects of several kinds: one table per kind (with a blank line between), or one List. */
function printMixed(rt: Runtime, objs: { kind: KindInfo; object: KubeObject }[], withNamespace: boolean): void {
  if (rt.output === 'json' || rt.output === 'yaml') {
    const single = objs.length === 1;
    rt.io.out(renderObjects(objs[0]!.kind, objs.map((o) => o.object), rt.output, rt.term, { single }));
    return;
  }
  const parts = [...groupByKind(objs)].map(([kind, list]) => renderObjects(kind, list, rt.output, rt.term, { withNamespace }));
  rt.io.out(parts.join(rt.output === 'name' ? '' : '\n'));
}

/**
 * kubectl's TYPE/NAME form (`vlb/web vport/vm1`): each argument its own kind and name;
 * undefined when the first argument is a kind alone. Mixing the forms is refused, as kubectl
 * does. It was "unknown kind \"vlb/web\"" (QA-128 F8).
 */
function typedNames(kindText: string | undefined, names: string[]): Array<{ kind: KindInfo; name: string }> | undefined {
  if (!kindText?.includes('/')) return undefined;
  return [kindText, ...names].map((arg) => typedName(arg, `"${arg}": give every object as TYPE/NAME (vlb/web), or a KIND and then names (vlb web), not both`));
}

/** One TYPE/NAME (vlb/web); `malformed`, the line a usage error says otherwise. */
function typedName(arg: string, malformed: string): { kind: KindInfo; name: string } {
  const i = arg.indexOf('/');
  if (i <= 0 || i === arg.length - 1) throw new UsageError(malformed);
  return { kind: kindArg(arg.slice(0, i)), name: arg.slice(i + 1) };
}

/**
 * get events --for KIND/NAME, as `kubectl events --for`: that object's events (its own
 * namespace's, a Node's in "default"). Checked before anything is read: it goes with the
 * events kind alone, and selects one object's, so neither event names nor --watch go with it.
 */
function eventSubjectOf(forText: string | undefined, kind: KindInfo, names: readonly string[], watch: boolean): EventSubject | undefined {
  if (forText === undefined) return undefined;
  if (kind !== EVENTS) throw new UsageError(`--for selects events by the object they are about: vnetctl get events --for ${forText}`);
  if (names.length > 0) throw new UsageError(`--for lists the events of one object: give it no event names (${names.join(', ')})`);
  if (watch) throw new UsageError('--for cannot be combined with --watch; vnetctl get events --watch follows all of the namespace\'s events');
  const subject = typedName(forText, `--for "${forText}": give the object as KIND/NAME, e.g. --for vlb/web`);
  if (subject.kind.readOnly) throw new UsageError(`--for "${forText}": events are about networks, ports, load balancers and nodes, not about ${subject.kind.plural}`);
  return subject;
}

function kindArg(text: string): KindInfo {
  const k = findKind(text);
  if (!k) throw new UsageError(`unknown kind "${text}": use one of ${KINDS.map((x) => x.shortNames[0] ?? x.plural).join(', ')} (or their full names)`);
  return k;
}

/** A kind to delete by name or selection: events are vnetd's (405 for each, one line per event of --all), refused at once. */
function deletableKind(text: string): KindInfo {
  const kind = kindArg(text);
  if (kind.readOnly) throw new UsageError(`${kind.plural} are recorded by vnetd itself and expire an hour after they were last seen: they cannot be deleted`);
  return kind;
}

export function manifestCommands(runtimeOf: RuntimeOf): Command[] {
  const get = examples(
    new Command('get')
      .description('show objects from manifest files (-f) or by kind and name')
      .argument('[kind]', 'kind: vnet, vport, vlb, vnode, ns, ev (events), quota, vtoken (or full names)')
      .argument('[names...]', 'object names (all when omitted)')
      .option('-f, --filename <file>', 'manifest file, directory or - for stdin (repeatable)', collect)
      .option('-A, --all-namespaces', 'with a KIND: list across namespaces')
      .option('-w, --watch', 'after listing, print each change (Ctrl-C to stop)')
      .option('--output-watch-events', 'with --watch: an EVENT column (ADDED, MODIFIED, DELETED)')
      .option('--for <kind/name>', 'with events: only those about this object, e.g. --for vlb/web')
      .action(async (kindText: string | undefined, names: string[], o: { filename?: string[]; allNamespaces?: boolean; watch?: boolean; outputWatchEvents?: boolean; for?: string }, cmd: Command) => {
        const rt = runtimeOf(cmd);
        if (o.filename) {
          if (kindText) throw new UsageError('cannot combine -f with a KIND argument; use one or the other');
          if (o.for !== undefined) throw new UsageError('--for goes with events: vnetctl get events --for KIND/NAME');
          if (o.watch) throw new UsageError('cannot combine -f with --watch; watch a KIND [NAME]');
          const found: { kind: KindInfo; object: KubeObject }[] = [];
          await eachManifest(rt, readManifests(o.filename, stdin), async (m, ns) => {
            found.push({ kind: m.kind, object: await attempt(rt, { verb: 'get', kind: m.kind, name: m.object.metadata.name, ...(ns !== undefined ? { namespace: ns } : {}) }, () => getObject(rt, m.kind, ns, m.object.metadata.name)) });
          }).finally(() => {
            if (found.length > 0) printMixed(rt, found, false);
          });
          return;
        }
        if (!kindText) throw new UsageError('say what to get: vnetctl get KIND [NAME] or vnetctl get -f FILE');
        const typed = typedNames(kindText, names);
        if (typed) {
          if (o.for !== undefined) throw new UsageError('--for goes with events: vnetctl get events --for KIND/NAME');
          if (o.allNamespaces) throw new UsageError('-A/--all-namespaces lists every namespace: it cannot be used with names; give the namespace with -n instead');
          if (o.watch) throw new UsageError('--watch follows a KIND [NAME]: vnetctl get vlb web --watch');
          const kinds = new Set(typed.map((t) => t.kind));
          if (kinds.size === 1) {
            const kind = typed[0]!.kind;
            await getNamed(rt, kind, namespaceFor(rt, kind), typed.map((t) => t.name));
            return;
          }
          const found: { kind: KindInfo; object: KubeObject }[] = [];
          for (const t of typed) found.push({ kind: t.kind, object: await attempt(rt, { verb: 'get', kind: t.kind, name: t.name }, () => getObject(rt, t.kind, namespaceFor(rt, t.kind), t.name)) });
          printMixed(rt, found, false);
          return;
        }
        const kind = kindArg(kindText);
        const subject = eventSubjectOf(o.for, kind, names, o.watch === true);
        const all = kind.namespaced && o.allNamespaces === true;
        // As kubectl: a name is in one namespace, which -A does not say.
        if (all && names.length > 0) throw new UsageError(`-A/--all-namespaces lists every namespace: it cannot be used with names (${names.join(', ')}); give the namespace with -n instead`);
        const ns = eventsNamespace(subject?.kind, kind.namespaced && !all ? rt.namespace() : undefined);
        if (o.watch) {
          // As kubectl: one object or a whole collection.
          if (names.length > 1) throw new UsageError(`--watch follows one object or all of a kind, not ${names.length}; give one name or none`);
          await streamEvents(rt, { kind, ns, name: names[0], initial: true, mustExist: true }, new EventPrinter(rt, kind, all, o.outputWatchEvents === true));
          return;
        }
        if (names.length === 0) {
          const items = await attempt(rt, { verb: 'list', kind, ...(ns !== undefined ? { namespace: ns } : {}) }, async () => (subject ? listEvents(rt, ns, subject) : (await listObjects(rt, kind, ns)).items));
          const about = subject ? ` about ${subject.kind.singular}/${subject.name}` : '';
          if (items.length === 0 && (rt.output === 'table' || rt.output === 'wide')) rt.io.err(`No ${kind.plural} found${about}${ns ? ` in namespace "${ns}"` : ''}.\n`);
          else rt.io.out(renderObjects(kind, items, rt.output, rt.term, { withNamespace: all }));
          return;
        }
        await getNamed(rt, kind, ns, names);
      }),
    ['vnetctl get -f network.yaml', 'vnetctl get vnet', 'vnetctl get vport vm1-eth0 -o yaml', 'vnetctl get vlb/web vport/vm1-eth0', 'vnetctl get vlb -A -o wide', 'vnetctl get vnet -w --output-watch-events', 'vnetctl get events   # oldest first, as kubectl events', 'vnetctl get events --for vlb/web -o wide', 'vnetctl get ev -A -w'],
  );
  const applyCmd = examples(
    new Command('apply')
      .description('create objects from manifests, or update them as kubectl apply does (three-way merge with the last-applied-configuration annotation: fields removed from the manifest are removed, fields set by others are kept)')
      .requiredOption('-f, --filename <file>', 'manifest file, directory or - for stdin (repeatable)', collect)
      .action(async (o: { filename: string[] }, cmd: Command) => {
        const rt = runtimeOf(cmd);
        await eachManifest(rt, readManifests(o.filename, stdin), (m, ns) => apply(rt, m, ns));
      }),
    ['vnetctl apply -f tenant-a/', 'vnetctl apply -f lb.yaml -n tenant-a', 'cat net.json | vnetctl apply -f -'],
  );
  const del = examples(
    new Command('delete')
      .description('delete objects named in manifests (-f) or by kind and name')
      .argument('[kind]', 'kind (vnet, vport, vlb, vnode, ns, vtoken)')
      .argument('[names...]', 'object names')
      .option('-f, --filename <file>', 'manifest file, directory or - for stdin (repeatable)', collect)
      .option('-l, --selector <labels>', 'with KIND: delete the objects this label selector matches, e.g. role=client')
      .option('--all', 'with KIND: delete every object of the kind')
      .option('-A, --all-namespaces', 'with -l or --all: in every namespace you can see')
      .option('--ignore-not-found', 'treat objects that do not exist as deleted')
      .option('--wait', 'wait until the objects are gone')
      .addOption(new Option('--timeout <duration>', 'how long --wait waits (e.g. 30s, 2m)').argParser(parser(parseDuration)).default(60_000, '60s'))
      .action(async (kindText: string | undefined, names: string[], o: Selection & { filename?: string[]; ignoreNotFound?: boolean; wait?: boolean; timeout: number }, cmd: Command) => {
        const rt = runtimeOf(cmd);
        const wait = { wait: o.wait === true, timeout: o.timeout, ignoreNotFound: o.ignoreNotFound === true };
        const selecting = o.selector !== undefined || o.all === true || o.allNamespaces === true;
        if (o.filename) {
          if (kindText) throw new UsageError('cannot combine -f with a KIND argument; use one or the other');
          if (selecting) throw new UsageError('-l, --all and -A go with a KIND, not with -f');
          // Every manifest's namespace is settled before anything is deleted: a destructive
          // command whose input contradicts itself deletes nothing.
          const targets = readManifests(o.filename, stdin).map((m) => ({ kind: m.kind, ns: namespaceOf(rt, m), name: m.object.metadata.name }));
          await deleteEach(rt, targets, wait);
          return;
        }
        if (selecting) {
          if (!kindText) throw new UsageError('say which kind: vnetctl delete KIND -l SELECTOR (or --all)');
          const kind = deletableKind(kindText);
          if (selects(names, o, kindText)) await deleteSelected(rt, kind, o, wait);
          return;
        }
        const typed = typedNames(kindText, names);
        if (typed) {
          await deleteEach(rt, typed.map((t) => ({ kind: t.kind, ns: namespaceFor(rt, t.kind), name: t.name })), wait);
          return;
        }
        if (!kindText || names.length === 0) throw new UsageError('say what to delete: vnetctl delete KIND NAME... or vnetctl delete -f FILE');
        await deleteNamed(rt, deletableKind(kindText), names, wait);
      }),
    ['vnetctl delete -f tenant-a/', 'vnetctl delete vlb web', 'vnetctl delete vlb/web vport/vm1-eth0', 'vnetctl delete -f lb.yaml --ignore-not-found', 'vnetctl delete vport -l role=client -A'],
  );
  return [get, applyCmd, del];
}
