import type { VirtualNetwork } from '../resources/kinds';
import { AdmissionError, type AdmissionContext } from './admission';

import { NETWORKS } from '../store/kinds';

export { LOAD_BALANCERS, NETWORKS, PORTS } from '../store/kinds';

/**
 * The network an object refers to by spec.network (read-only), or a 422 saying why it cannot
 * be used. `fresh`: from the store itself, not ctx.networks (a cache that may lag a commit).
 */
export async function referencedNetwork(ctx: AdmissionContext, namespace: string, name: string, fresh = false): Promise<VirtualNetwork> {
  const net = ctx.networks && !fresh ? await ctx.networks.get(namespace, name) : await ctx.objects.get<VirtualNetwork>(NETWORKS, namespace, name);
  if (!net) {
    throw new AdmissionError([
      { field: 'spec.network', reason: 'FieldValueNotFound', message: `Not found: "${name}": no VirtualNetwork "${name}" in namespace "${namespace}"` },
    ]);
  }
  if (net.metadata.deletionTimestamp) {
    throw new AdmissionError([
      { field: 'spec.network', reason: 'FieldValueForbidden', message: `Forbidden: VirtualNetwork "${name}" is being deleted` },
    ]);
  }
  return net;
}
