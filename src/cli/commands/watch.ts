/**
 * vnetctl watch KIND [NAME]: streams ADDED/MODIFIED/DELETED events until interrupted
 * (or --timeout). Reconnects from the last resourceVersion when the server ends a
 * watch, and relists after 410 Expired, as an informer does.
 */
import { Command } from 'commander';
import type { KubeObject } from '../../resources/object';
import { attempt } from '../attempt';
import { UsageError } from '../errors';
import { parseDuration } from '../flags/duration';
import { findKind, KINDS, qualifiedName, resourcePath, type KindInfo } from '../kinds';
import { tableLines, toYaml } from '../output/printer';
import type { Runtime } from '../runtime';
import { examples, parser, type RuntimeOf } from './shared';

/** The longest event type: the EVENT column is that wide from the first row (ADDED), so a later MODIFIED does not shift the rest. */
const EVENT_WIDTH = 'MODIFIED'.length;

export class EventPrinter {
  private widths: number[] | undefined = [EVENT_WIDTH];
  private headerDone = false;

  constructor(
    private readonly rt: Pick<Runtime, 'output' | 'io' | 'term'>,
    private readonly kind: KindInfo,
    private readonly withNamespace: boolean,
  ) {}

  print(type: string, obj: KubeObject): void {
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
      default: {
        // Row by row, keeping the widths already used so columns stay aligned.
        const lines = tableLines(kind, [obj], { wide: rt.output === 'wide', withNamespace: this.withNamespace, prefix: { header: 'EVENT', values: [type] }, minWidths: this.widths, onWidths: (w) => (this.widths = w) }, rt.term);
        rt.io.out(`${(this.headerDone ? lines.slice(1) : lines).join('\n')}\n`);
        this.headerDone = true;
      }
    }
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
        const printer = new EventPrinter(rt, kind, all);
        const deadline = o.timeout !== undefined ? Date.now() + o.timeout : undefined;
        let rv: string | undefined;
        let skipInitial = !o.initial;
        await attempt(rt, { verb: 'watch', kind, name }, async () => {
          for (;;) {
            if (skipInitial) {
              // Start from "now": list once for the revision, print nothing.
              const list = await rt.client().call<{ metadata: { resourceVersion?: string } }>({ method: 'GET', path: resourcePath(kind, ns), query: { limit: 1 } });
              rv = list.metadata.resourceVersion;
              skipInitial = false;
            }
            let expired = false;
            const w = rt.client().watch<KubeObject>(
              resourcePath(kind, ns),
              { resourceVersion: rv, allowWatchBookmarks: true, ...(name ? { fieldSelector: `metadata.name=${name}` } : {}) },
              (ev) => {
                if (ev.type === 'ERROR') {
                  expired = true;
                  return true;
                }
                if (ev.object?.metadata?.resourceVersion) rv = ev.object.metadata.resourceVersion;
                if (ev.type !== 'BOOKMARK') printer.print(ev.type, ev.object);
                return false;
              },
            );
            const timer = deadline !== undefined ? setTimeout(() => w.stop(), Math.max(0, deadline - Date.now())) : undefined;
            const stopOnSignal = () => w.stop();
            process.once('SIGINT', stopOnSignal);
            process.once('SIGTERM', stopOnSignal);
            let how: string;
            try {
              how = await w.done;
            } finally {
              if (timer) clearTimeout(timer);
              process.off('SIGINT', stopOnSignal);
              process.off('SIGTERM', stopOnSignal);
            }
            if (how === 'stopped') return;
            // 410: our revision was compacted; relist (the ADDED events repeat current state).
            if (expired) rv = undefined;
          }
        });
      }),
    ['vnetctl watch vnet', 'vnetctl watch vlb web -o json', 'vnetctl watch vport -A --no-initial', 'vnetctl watch vnode --timeout 5m'],
  );
}
