import type { HypervisorNode } from '../resources/kinds';
import { ObjectStore } from '../store/object-store';
import { MemoryStore } from '../reconcile/testing/memory-store';
import { AllocationRegistry } from '../ipam/allocation-registry';
import { AdmissionError, type AdmissionContext } from './admission';
import { NodeAdmission } from './node.admission';

const node = (tunnelIP: string, labels?: Record<string, string>): HypervisorNode => ({ apiVersion: 'vnet.dev/v1alpha1', kind: 'Node', metadata: { name: 'hv6', ...(labels ? { labels } : {}) }, spec: { tunnelIP } });

describe('NodeAdmission: an IPv6 tunnel address', () => {
  const store = new MemoryStore();
  const ctx: AdmissionContext = { objects: new ObjectStore(store), allocations: new AllocationRegistry(store) };
  const admission = new NodeAdmission();

  it('is refused on create and when the address changes to one (QA-156 F1: accepted, and the node got no flows)', async () => {
    await expect(admission.create(node('fd00:56::1'), ctx)).rejects.toBeInstanceOf(AdmissionError);
    await expect(admission.update(node('192.0.2.1'), node('fd00:56::1'), ctx)).rejects.toThrow(/an IPv6 underlay is not supported yet/);
  });

  it('leaves a Node stored before with one editable: relabelled, cordoned, or moved to IPv4 (review)', async () => {
    await expect(admission.update(node('fd00:56::1'), node('FD00:56:0::1', { rack: '1' }), ctx)).resolves.toMatchObject({ object: { metadata: { labels: { rack: '1' } } } });
    await expect(admission.update(node('fd00:56::1'), node('192.0.2.9'), ctx)).resolves.toBeDefined();
  });
});
