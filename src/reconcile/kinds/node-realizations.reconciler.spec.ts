import pino from 'pino';
import type { HypervisorNode, NodeLease, NodeRealization } from '../../resources/kinds';
import { NODES, NODE_LEASES, NODE_REALIZATIONS } from '../../store/kinds';
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
  // Agents renew their NodeLease; an agent of an earlier release renewed status.agent.renewTime.
  const renewals: Array<[string, (objects: ObjectStore, i: number) => Promise<unknown>]> = [
    ['its NodeLease', async (objects, i) => {
      const spec = { holderIdentity: 'host/1', renewTime: `2026-11-30T00:00:0${i}.000Z` };
      if (i === 1) return objects.create<NodeLease>(NODE_LEASES, { apiVersion: 'vnet.dev/v1alpha1', kind: 'NodeLease', metadata: { name: 'hv1' }, spec });
      return objects.modify<NodeLease>(NODE_LEASES, undefined, 'hv1', (cur) => ({ ...cur, spec }));
    }],
    ['status.agent.renewTime (an earlier release)', (objects, i) =>
      objects.modify<NodeRealization>(NODE_REALIZATIONS, undefined, 'hv1', (cur) => ({ ...cur, status: { agent: { ...claimed, renewTime: `2026-11-30T00:00:0${i}Z` } } }), { subresource: 'status' })],
  ];
  const claimed = { holder: 'host/1', claimTime: '2026-11-30T00:00:00Z', generation: '5' };

  it.each(renewals)('marks a claimed node Ready=Unknown once its agent has not renewed %s for the timeout, and only a claimed one', async (_how, renew) => {
    const objects = new ObjectStore(new MemoryStore());
    const log = pino({ level: 'silent' });
    for (const name of ['hv1', 'hv2']) {
      await objects.create(NODES, { ...node(name), status: { conditions: [{ type: 'Ready', status: 'True', reason: 'LayoutReady', message: 'ok', lastTransitionTime: '2026-11-30T00:00:00Z' }] } } as HypervisorNode);
    }
    await objects.create<NodeRealization>(NODE_REALIZATIONS, { apiVersion: 'vnet.dev/v1alpha1', kind: 'NodeRealization', metadata: { name: 'hv1' }, spec: {}, status: { agent: claimed } });
    await objects.create<NodeRealization>(NODE_REALIZATIONS, { apiVersion: 'vnet.dev/v1alpha1', kind: 'NodeRealization', metadata: { name: 'hv2' }, spec: {} });
    const informers = new SharedInformers(objects.kv, log);
    const r = new NodeRealizationReconciler(objects, informers, log, { agentTimeoutMs: 1000, checkEveryMs: 20 });
    const ready = async (name: string) => (await objects.get<HypervisorNode>(NODES, undefined, name))!.status!.conditions!.find((c) => c.type === 'Ready')!;
    await r.start();
    try {
      // Renewed five times, 250 ms apart (1.25 s in all, over the 1 s timeout): still as the agent
      // wrote it. (150 ms apart against 300 ms failed in CI: a loaded machine fired a timer late.)
      for (let i = 1; i <= 5; i++) {
        await new Promise((res) => setTimeout(res, 250));
        await renew(objects, i);
      }
      expect((await ready('hv1')).reason).toBe('LayoutReady');
      // Then silence.
      await eventually(async () => (await ready('hv1')).reason === 'AgentNotReporting');
      expect(await ready('hv1')).toMatchObject({ status: 'Unknown', message: expect.stringMatching(/^the agent of node hv1 \(host\/1\) has not renewed its heartbeat \(NodeLease hv1\) for \d+ s \(last: 2026-11-30T00:00:05/) });
      // hv2 was never claimed: no agent to miss.
      expect((await ready('hv2')).reason).toBe('LayoutReady');
    } finally {
      await r.stop();
      informers.stop();
    }
  });

  it('warns once per node when the timeout is shorter than an agent\'s lease (three of its heartbeats), and not when it is not', async () => {
    const objects = new ObjectStore(new MemoryStore());
    const lines: Array<{ event?: string; node?: string; msg?: string }> = [];
    const log = pino({ level: 'warn' }, { write: (l: string) => void lines.push(JSON.parse(l) as { event?: string }) });
    await objects.create(NODES, node('hv1'));
    await objects.create(NODES, node('hv2'));
    for (const name of ['hv1', 'hv2']) {
      await objects.create<NodeRealization>(NODE_REALIZATIONS, { apiVersion: 'vnet.dev/v1alpha1', kind: 'NodeRealization', metadata: { name }, spec: {}, status: { agent: claimed } });
    }
    const lease = (name: string, leaseDurationSeconds: number, i: number) => ({ holderIdentity: 'host/1', leaseDurationSeconds, renewTime: `2026-11-30T00:00:0${i}.000Z` });
    await objects.create<NodeLease>(NODE_LEASES, { apiVersion: 'vnet.dev/v1alpha1', kind: 'NodeLease', metadata: { name: 'hv1' }, spec: lease('hv1', 60, 0) });
    await objects.create<NodeLease>(NODE_LEASES, { apiVersion: 'vnet.dev/v1alpha1', kind: 'NodeLease', metadata: { name: 'hv2' }, spec: lease('hv2', 30, 0) });
    const informers = new SharedInformers(objects.kv, log);
    const r = new NodeRealizationReconciler(objects, informers, log, { agentTimeoutMs: 30_000 });
    await r.start();
    try {
      for (let i = 1; i <= 3; i++) await objects.modify<NodeLease>(NODE_LEASES, undefined, 'hv1', (cur) => ({ ...cur, spec: lease('hv1', 60, i) }));
      await eventually(async () => lines.length > 0);
      await new Promise((res) => setTimeout(res, 100));
      expect(lines).toEqual([expect.objectContaining({ event: 'node.agent_timeout_short', node: 'hv1', msg: expect.stringContaining('set the timeout to 60000 ms or more') })]);
    } finally {
      await r.stop();
      informers.stop();
    }
  });

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
