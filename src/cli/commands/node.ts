/** vnetctl node list|get|cordon|uncordon (nodes register themselves or come from manifests: no create here). */
import { Command } from 'commander';
import type { HypervisorNode } from '../../resources/kinds';
import { attempt } from '../attempt';
import { kindByPlural } from '../kinds';
import { MERGE_PATCH, patchObject } from '../ops';
import { addReadDelete, examples, printWritten, type RuntimeOf } from './shared';

const NODES = kindByPlural('nodes');

export function nodeCommand(runtimeOf: RuntimeOf): Command {
  const group = new Command('node').description('hypervisors (Node) that vnetd programs (cluster-scoped; create them with vnetctl apply -f)');
  addReadDelete(group, NODES, runtimeOf, { delete: false });
  // As kubectl cordon sets a Kubernetes Node's spec.unschedulable (it works on core Nodes only).
  const cordon = (verb: 'cordon' | 'uncordon', unschedulable: boolean, description: string, example: string) =>
    examples(
      group
        .command(verb)
        .description(description)
        .argument('<name>', 'node name')
        .action(async (name: string, _o: unknown, cmd: Command) => {
          const rt = runtimeOf(cmd);
          // null removes the field, as kubectl uncordon leaves a Node without it.
          const updated = await attempt(rt, { verb: 'update', kind: NODES, name }, () => patchObject<HypervisorNode>(rt, NODES, undefined, name, MERGE_PATCH, { spec: { unschedulable: unschedulable ? true : null } }));
          printWritten(rt, NODES, updated, verb === 'cordon' ? 'cordoned' : 'uncordoned');
        }),
      [example],
    );
  cordon(
    'cordon',
    true,
    "drain the node's load balancer backends before its maintenance: they get no new connections while a backend elsewhere takes them, and their established ones go on (its VMs' ports and traffic are left alone)",
    'vnetctl node cordon hv2 && vnetctl lb status web   # hv2 backends: drained: its node hv2 is cordoned',
  );
  cordon('uncordon', false, 'give the node\'s load balancer backends new connections again', 'vnetctl node uncordon hv2');
  return examples(group, ['vnetctl node list', 'vnetctl node get local -o yaml', 'vnetctl node cordon hv2']);
}
