/** vnetctl node list|get (nodes register themselves or come from manifests: no create here). */
import { Command } from 'commander';
import { kindByPlural } from '../kinds';
import { addReadDelete, examples, type RuntimeOf } from './shared';

export function nodeCommand(runtimeOf: RuntimeOf): Command {
  const group = new Command('node').description('hypervisors (Node) that vnetd programs (cluster-scoped; create them with vnetctl apply -f)');
  addReadDelete(group, kindByPlural('nodes'), runtimeOf, { delete: false });
  return examples(group, ['vnetctl node list', 'vnetctl node get local -o yaml']);
}
