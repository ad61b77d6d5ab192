/**
 * vnetctl watch KIND [NAME]: streams ADDED/MODIFIED/DELETED events until interrupted
 * (or --timeout). Reconnects from the last resourceVersion when the server ends a
 * watch or goes away (retrying until it is back), and relists after 410 Expired, as an
 * informer does.
 */
import { Command } from 'commander';
import type { KubeObject } from '../../resources/object';
import { attempt } from '../attempt';
import { UsageError } from '../errors';
import { parseDuration } from '../flags/duration';
import { findKind, KINDS, qualifiedName, resourcePath, type KindInfo } from '../kinds';
import { getObject, listObjects } from '../ops';
import { renderObjects, tableLines, toYaml } from '../output/printer';
import { resumableWatch } from '../resumable-watch';
import type { Runtime } from '../runtime';
import { examples, parser, type RuntimeOf } from './shared';

/** The longest event type: the EVENT column is that wide from the first row (ADDED), so a later MODIFIED does not shift the rest. */
const EVENT_WIDTH = 'MODIFIED'.length;

export class EventPrinter {
  private widths: number[] | undefined;
  private headerDone = false;

  constructor(
    private readonly rt: Pick<Runtime, 'output' | 'io' | 'term'>,
    private readonly kind: KindInfo,
    private readonly withNamespace: boolean,
    /** false: the objects alone, as kubectl get -w prints them without --output-watch-events. */
    private readonly withEvents = true,
  ) {
    if (withEvents) this.widths = [EVENT_WIDTH];
  }

  print(type: string, obj: KubeObject): void {
    if (this.repeatsRow(type, obj)) return;
    if (!this.withEvents) return this.printObject(obj);
    const { rt, kind } = this;
    switch (rt.output) {
      case 'json':
        rt.io.out(JSON.stringify({ type, object: obj }) + '\n');
        return;
      case 'yaml':
        rt.io.out(`---\n${toYaml({ type, object: obj })}`);
        return;
      case 'name':
        rt.io.out(`${type} ${qualifiedName(kind, obj.metadata.name)}\n`);
        return;
      default:
        this.printRow(obj, { header: 'EVENT', values: [type] });
    }
  }

  /** The table row last printed of each object (namespace/name). */
  private readonly lastRows = new Map<string, string>();

  /**
   * A MODIFIED whose table row reads as the last one printed of the object: a status write of
   * what the table does not show (a load balancer's connection counts, every 5 s under
   * traffic) printed the same row again and again, and real changes drowned (QA-152 F9).
   * Tables only: json, yaml and name print every event, for scripts.
   */
  private repeatsRow(type: string, obj: KubeObject): boolean {
    const { rt, kind } = this;
    if (rt.output !== 'table' && rt.output !== 'wide') return false;
    // With its uid: an object made again under the name (a relist that missed the delete) starts afresh.
    const key = `${keyOf(obj)}/${obj.metadata.uid ?? ''}`;
    if (type === 'DELETED') {
      this.lastRows.delete(key);
      return false;
    }
    // Without its creation time: AGE ("45s", "46s") would make every row differ from the last.
    const ageless = { ...obj, metadata: { ...obj.metadata, creationTimestamp: undefined } };
    // Untruncated and uncoloured: a change in a cell a narrow terminal cuts short is a change.
    const row = tableLines(kind, [ageless], { wide: rt.output === 'wide', withNamespace: this.withNamespace }, { ...rt.term, columns: undefined, color: false })[1];
    const same = type === 'MODIFIED' && row !== undefined && this.lastRows.get(key) === row;
    if (row !== undefined) this.lastRows.set(key, row);
    return same;
  }

  private printObject(obj: KubeObject): void {
    const { rt, kind } = this;
    switch (rt.output) {
      case 'json':
      case 'yaml':
        rt.io.out(`${rt.output === 'yaml' ? '---\n' : ''}${renderObjects(kind, [obj], rt.output, rt.term, { single: true })}`);
        return;
      case 'name':
        rt.io.out(`${qualifiedName(kind, obj.metadata.name)}\n`);
        return;
      default:
        this.printRow(obj, undefined);
    }
  }

  /** Row by row, keeping the widths already used so columns stay aligned. */
  private printRow(obj: KubeObject, prefix: { header: string; values: string[] } | undefined): void {
    const { rt, kind } = this;
    const lines = tableLines(kind, [obj], { wide: rt.output === 'wide', withNamespace: this.withNamespace, prefix, minWidths: this.widths, onWidths: (w) => (this.widths = w) }, rt.term);
    rt.io.out(`${(this.headerDone ? lines.slice(1) : lines).join('\n')}\n`);
    this.headerDone = true;
  }
}

export interface WatchTarget {
  kind: KindInfo;
  /** undefined: every namespace (or a cluster-scoped kind). */
  ns: string | undefined;
  name?: string;
  /** ADDED events for the objects there are when the watch starts. */
  initial: boolean;
  /** A named object must exist when the watch starts (get NAME -w, as kubectl's); else the watch waits for it, saying so. */
  mustExist?: boolean;
  /** Epoch ms to stop at. */
  deadline?: number;
}

/**
 * What the stream has said of each object, by namespace/name: a list after 410 Expired then
 * says only what changed while the watch was away, as an informer's replace does: ADDED for
 * new objects, MODIFIED for changed ones, DELETED for those gone (QA: every object again as
 * ADDED, and no DELETED for one deleted in the gap).
 */
export class StreamedObjects {
  private readonly known = new Map<string, KubeObject>();

  /** A watch event, as printed. */
  saw(type: string, obj: KubeObject): void {
    if (type === 'DELETED') this.known.delete(keyOf(obj));
    else if (type === 'ADDED' || type === 'MODIFIED') this.known.set(keyOf(obj), obj);
  }

  /** A full list: the events that bring what was said to it (the first list: every object ADDED). */
  listed(items: readonly KubeObject[], first: boolean): Array<['ADDED' | 'MODIFIED' | 'DELETED', KubeObject]> {
    const out: Array<['ADDED' | 'MODIFIED' | 'DELETED', KubeObject]> = [];
    const seen = new Set<string>();
    for (const obj of items) {
      const key = keyOf(obj);
      seen.add(key);
      const before = this.known.get(key);
      this.known.set(key, obj);
      if (first || !before) out.push(['ADDED', obj]);
      else if (before.metadata.resourceVersion !== obj.metadata.resourceVersion) out.push(['MODIFIED', obj]);
    }
    if (!first) {
      for (const [key, obj] of this.known) {
        if (seen.has(key)) continue;
        this.known.delete(key);
        out.push(['DELETED', obj]);
      }
    }
    return out;
  }
}

function keyOf(obj: KubeObject): string {
  return `${obj.metadata.namespace ?? ''}/${obj.metadata.name}`;
}

/** Lists for a revision to watch from, printing what the list changes (see StreamedObjects; nothing when quiet); says whether any matched. */
async function listAt(rt: Runtime, t: WatchTarget, fieldSelector: string | undefined, printer: EventPrinter, streamed: StreamedObjects, first: boolean, quiet: boolean): Promise<{ resourceVersion?: string; found: boolean }> {
  const list = await listObjects(rt, t.kind, t.ns, { fieldSelector });
  for (const [type, obj] of streamed.listed(list.items, first)) if (!quiet) printer.print(type, obj);
  return { resourceVersion: list.metadata.resourceVersion, found: list.items.length > 0 };
}

/**
 * Prints events until Ctrl-C (SIGINT/SIGTERM) or the deadline. The stream is resumed
 * from the last resourceVersion when it ends or vnetd goes away, so no event is printed
 * twice or lost; after 410 Expired the objects are listed again and what changed meanwhile is
 * printed (StreamedObjects), as an informer does.
 */
export async function streamEvents(rt: Runtime, t: WatchTarget, printer: EventPrinter): Promise<void> {
  const fieldSelector = t.name ? `metadata.name=${t.name}` : undefined;
  const interrupted = new AbortController();
  // The first Ctrl-C ends the stream (a list under way is let finish, up to the request
  // timeout); a second one does not wait for it.
  const stop = (signal: NodeJS.Signals) => {
    if (interrupted.signal.aborted) process.exit(signal === 'SIGINT' ? 130 : 143);
    interrupted.abort();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  let first = true;
  const streamed = new StreamedObjects();
  try {
    await attempt(rt, { verb: 'watch', kind: t.kind, name: t.name }, () =>
      resumableWatch<KubeObject>(rt.client(), {
        path: resourcePath(t.kind, t.ns),
        query: { fieldSelector },
        deadline: t.deadline,
        signal: interrupted.signal,
        relist: async () => {
          const { resourceVersion, found } = await listAt(rt, t, fieldSelector, printer, streamed, first, first && !t.initial);
          // A named object that is not there: get -w fails at once (the GET's 404, with what
          // to do), as kubectl get NAME -w answers NotFound; watch waits for it, and says so
          // (QA: a silent stream looked like a hang).
          if (first && t.name !== undefined && !found) {
            if (t.mustExist) await getObject(rt, t.kind, t.ns, t.name);
            else rt.io.err(`no ${qualifiedName(t.kind, t.name)}${t.ns ? ` in namespace ${t.ns}` : ''} yet: watching for it (Ctrl-C to stop)\n`);
          }
          first = false;
          return { resourceVersion };
        },
        onEvent: (ev) => {
          streamed.saw(ev.type, ev.object);
          printer.print(ev.type, ev.object);
          return false;
        },
      }),
    );
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
}

export function watchCommand(runtimeOf: RuntimeOf): Command {
  return examples(
    new Command('watch')
      .description('stream changes to objects of a kind (Ctrl-C to stop)')
      .argument('<kind>', 'kind: vnet, vport, vlb, vnode, ns (or full names)')
      .argument('[name]', 'only this object')
      .option('-A, --all-namespaces', 'watch every namespace you can see')
      .option('--timeout <duration>', 'stop after this long (default: until interrupted)', parser(parseDuration))
      .option('--no-initial', 'skip the ADDED events for objects that already exist')
      .action(async (kindText: string, name: string | undefined, o: { allNamespaces?: boolean; timeout?: number; initial: boolean }, cmd: Command) => {
        const rt = runtimeOf(cmd);
        const kind = findKind(kindText);
        if (!kind) throw new UsageError(`unknown kind "${kindText}": use one of ${KINDS.map((k) => k.shortNames[0] ?? k.plural).join(', ')}`);
        const all = kind.namespaced && o.allNamespaces === true;
        const ns = kind.namespaced && !all ? rt.namespace() : undefined;
        const deadline = o.timeout !== undefined ? Date.now() + o.timeout : undefined;
        await streamEvents(rt, { kind, ns, name, initial: o.initial, deadline }, new EventPrinter(rt, kind, all));
      }),
    ['vnetctl watch vnet', 'vnetctl watch vlb web -o json', 'vnetctl watch vport -A --no-initial', 'vnetctl watch vnode --timeout 5m'],
  );
}
