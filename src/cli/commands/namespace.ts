/**
 * vnetctl namespace create|list|get|delete: the tenants (core/v1 Namespaces) every network,
 * port and load balancer lives in. Without it a new tenant needed kubectl before its first
 * `vnetctl network create -n NS` (QA: one of three day-2 steps that needed kubectl).
 */
import { Command } from 'commander';
import type { KubeObject } from '../../resources/object';
import { attempt } from '../attempt';
import { kindByPlural } from '../kinds';
import { createObject } from '../ops';
import { addReadDelete, examples, printWritten, type RuntimeOf } from './shared';

const NAMESPACES = kindByPlural('namespaces');
const FLAGS = [['metadata.name', 'NAME']] as const;

export function namespaceCommand(runtimeOf: RuntimeOf): Command {
  const group = new Command('namespace').alias('ns').description('namespaces (Namespace): the tenants that networks, ports and load balancers live in (creating and deleting them takes an admin token)');
  examples(
    group
      .command('create')
      .description('create a namespace')
      .argument('<name>', 'namespace name (DNS label)')
      .action(async (name: string, _o: unknown, cmd: Command) => {
        const rt = runtimeOf(cmd);
        const body: KubeObject = { apiVersion: NAMESPACES.apiVersion, kind: NAMESPACES.kind, metadata: { name } };
        const created = await attempt(rt, { verb: 'create', kind: NAMESPACES, name, flags: FLAGS }, () => createObject(rt, NAMESPACES, undefined, body));
        printWritten(rt, NAMESPACES, created, 'created');
      }),
    ['vnetctl namespace create tenant-a', 'vnetctl ns create tenant-a -o yaml'],
  );
  addReadDelete(group, NAMESPACES, runtimeOf, {
    delete: true,
    // What kubectl's delete says nothing about and an on-call deleting a "spare" namespace must know.
    deleteNote: 'Deleting a namespace deletes everything in it: its networks, ports, load balancers and quotas (it stays Terminating until they are gone; --wait waits for that). The namespace "default" may not be deleted. See what it holds first: vnetctl network list -n NAME; vnetctl lb list -n NAME.',
  });
  return examples(group, ['vnetctl namespace create tenant-a', 'vnetctl network create blue --subnet 10.0.0.0/24 -n tenant-a', 'vnetctl namespace list', 'vnetctl namespace delete tenant-a --wait']);
}
