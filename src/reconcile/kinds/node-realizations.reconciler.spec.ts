import pino from 'pino';
import type { HypervisorNode, NodeRealization } from '../../resources/kinds';
import { NODES, NODE_REALIZATIONS } from '../../store/kinds';
import { ObjectStore } from '../../store/object-store';
import { SharedInformers } from '../shared-informers';
import { MemoryStore } from '../testing/memory-store';
import { NodeRealizationReconciler } from './node-realizations.reconciler';

const node = (name: string): HypervisorNode => ({ apiVersion: 'vnet.dev/v1alpha1', kind: 'Node', metadata: { name }, spec: { tunnelIP: '192.0.2.1' } });

async function eventually(ok: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 3000;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error('condition not met within 3000 ms');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('NodeRealizationReconciler', () => {
  it('keeps one NodeRealization per Node: made with it, made again if deleted, deleted with it (orphans too)', async () => {
    const objects = new ObjectStore(new MemoryStore());
    const log = pino({ level: 'silent' });
    await objects.create(NODES, node('hv1'));
    // Left from a Node deleted while no leader ran.
    await objects.create<NodeRealization>(NODE_REALIZATIONS, { apiVersion: 'vnet.dev/v1alpha1', kind: 'NodeRealization', metadata: { name: 'gone' }, spec: {} });
    const informers = new SharedInformers(objects.kv, log);
    const r = new NodeRealizationReconciler(objects, informers, log);
    await r.start();
    const names = async () => (await objects.list<NodeRealization>(NODE_REALIZATIONS, undefined)).items.map((o) => o.metadata.name).sort();
    try {
      await eventually(async () => JSON.stringify(await names()) === '["hv1"]');
      await objects.create(NODES, node('hv2'));
      await eventually(async () => JSON.stringify(await names()) === '["hv1","hv2"]');
      await objects.delete(NODE_REALIZATIONS, undefined, 'hv2');
      await eventually(async () => JSON.stringify(await names()) === '["hv1","hv2"]');
      await objects.delete(NODES, undefined, 'hv1');
      await eventually(async () => JSON.stringify(await names()) === '["hv2"]');
    } finally {
      await r.stop();
      informers.stop();
    }
  });
});
