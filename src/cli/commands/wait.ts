/** vnetctl wait KIND NAME --for condition=Ready [--timeout 30s] */
import { Command, Option } from 'commander';
import { UsageError } from '../errors';
import { parseWaitFor, type WaitFor } from '../flags/condition';
import { parseDuration } from '../flags/duration';
import { findKind, KINDS, qualifiedName } from '../kinds';
import { renderObjects } from '../output/printer';
import { waitFor } from '../wait';
import { examples, namespaceFor, parser, type RuntimeOf } from './shared';

export function waitCommand(runtimeOf: RuntimeOf): Command {
  return examples(
    new Command('wait')
      .description('wait until objects meet a condition (watch-based; a spinner shows on a terminal)')
      .argument('<kind>', 'kind: vnet, vport, vlb, vnode (or full names)')
      .argument('<names...>', 'object names')
      .addOption(new Option('--for <condition>', 'condition=TYPE[=True|False|Unknown] or delete').argParser(parser(parseWaitFor)).default({ kind: 'condition', type: 'Ready', status: 'True' } satisfies WaitFor, 'condition=Ready'))
      .addOption(new Option('--timeout <duration>', 'give up after this long (e.g. 30s, 2m)').argParser(parser(parseDuration)).default(30_000, '30s'))
      .action(async (kindText: string, names: string[], o: { for: WaitFor; timeout: number }, cmd: Command) => {
        const rt = runtimeOf(cmd);
        const kind = findKind(kindText);
        if (!kind) throw new UsageError(`unknown kind "${kindText}": use one of ${KINDS.map((k) => k.shortNames[0] ?? k.plural).join(', ')}`);
        const ns = namespaceFor(rt, kind);
        const deadline = Date.now() + o.timeout;
        for (const name of names) {
          // One deadline for all names, as kubectl wait has.
          const obj = await waitFor(rt, kind, ns, name, o.for, Math.max(0, deadline - Date.now()), o.timeout);
          if (obj && (rt.output === 'json' || rt.output === 'yaml')) rt.io.out(renderObjects(kind, [obj], rt.output, rt.term, { single: true }));
          else if (rt.output === 'name') rt.io.out(`${qualifiedName(kind, name)}\n`);
          else rt.io.out(`${qualifiedName(kind, name)} ${o.for.kind === 'delete' ? 'deleted' : `condition met (${o.for.type}=${o.for.status})`}\n`);
        }
      }),
    ['vnetctl wait vnet blue', 'vnetctl wait vlb web --for condition=Ready --timeout 2m', 'vnetctl wait vport vm1-eth0 --for delete'],
  );
}
