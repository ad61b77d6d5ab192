/** vnetctl quota create|list|get|delete: a namespace's ResourceQuotas (core/v1), and which resources are at their limit. */
import { Command } from 'commander';
import type { ResourceQuota } from '../../resources/kinds';
import { attempt } from '../attempt';
import { kindByPlural } from '../kinds';
import { createObject } from '../ops';
import { addReadDelete, examples, printWritten, repeatable, type RuntimeOf } from './shared';

const QUOTAS = kindByPlural('resourcequotas');
const FLAGS = [
  ['metadata.name', 'NAME'],
  ['spec.hard', '--hard'],
] as const;

/** --hard RESOURCE=N: the resource names and quantities are checked by the server (it knows which it counts). */
function parseHard(text: string): [string, string] {
  const m = /^([^=\s]+)=(\S+)$/.exec(text);
  if (!m) throw new Error(`"${text}" is not RESOURCE=N, like count/virtualports.vnet.dev=20 or vnet.dev/lb-listener-backends=10k`);
  return [m[1]!, m[2]!];
}

export function quotaCommand(runtimeOf: RuntimeOf): Command {
  const group = new Command('quota').description(
    "a namespace's resource quotas (ResourceQuota): the most its networks, ports and load balancers may use; a write past one is refused (an admin sets them, the namespace's tenant reads them)",
  );
  examples(
    group
      .command('create')
      .description('create a resource quota in the namespace (admin)')
      .argument('<name>', 'quota name (DNS label)')
      .requiredOption(
        '--hard <resource=n>',
        'a limit (repeat): count/virtualnetworks.vnet.dev, count/virtualports.vnet.dev, count/loadbalancers.vnet.dev, vnet.dev/lb-listeners, vnet.dev/lb-backends, vnet.dev/lb-listener-backends',
        repeatable(parseHard),
      )
      .action(async (name: string, o: { hard: Array<[string, string]> }, cmd: Command) => {
        const rt = runtimeOf(cmd);
        const body: ResourceQuota = { apiVersion: QUOTAS.apiVersion, kind: QUOTAS.kind, metadata: { name }, spec: { hard: Object.fromEntries(o.hard) } };
        const created = await attempt(rt, { verb: 'create', kind: QUOTAS, name, flags: FLAGS }, () => createObject<ResourceQuota>(rt, QUOTAS, rt.namespace(), body));
        printWritten(rt, QUOTAS, created, 'created');
      }),
    [
      'vnetctl quota create tenant-a --hard count/virtualports.vnet.dev=200 --hard count/loadbalancers.vnet.dev=20 -n tenant-a',
      'vnetctl quota create lb-size --hard vnet.dev/lb-listener-backends=10k -n tenant-a',
    ],
  );
  addReadDelete(group, QUOTAS, runtimeOf, { delete: true });
  return examples(group, ['vnetctl quota list', 'vnetctl quota list -A', 'vnetctl quota get tenant-a -o yaml']);
}
