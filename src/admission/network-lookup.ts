import { GROUP, type VirtualNetwork } from '../resources/kinds';
import type { ObjectStore } from '../store/object-store';
import type { StoredType } from '../store/keys';
import { AdmissionError } from './admission';

export const NETWORKS: StoredType = { group: GROUP, plural: 'virtualnetworks', namespaced: true };
export const PORTS: StoredType = { group: GROUP, plural: 'virtualports', namespaced: true };
export const LOAD_BALANCERS: StoredType = { group: GROUP, plural: 'loadbalancers', namespaced: true };

/** The network an object refers to by spec.network, or a 422 saying why it cannot be used. */
export async function referencedNetwork(objects: ObjectStore, namespace: string, name: string): Promise<VirtualNetwork> {
  const net = await objects.get<VirtualNetwork>(NETWORKS, namespace, name);
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
