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

  describe('a node that missed one heartbeat (1 s leases: one every 333 ms) with a 30 s timeout', () => {
    const tunnels = (status: 'True' | 'False', reason: string, lost?: string[]) => ({
      conditions: [
        { type: 'Ready', status: 'True', reason: 'LayoutReady', message: 'ok', lastTransitionTime: '2026-11-30T00:00:00Z' },
        { type: 'TunnelsUp', status, reason, message: 'as probed', lastTransitionTime: '2026-11-30T00:00:00Z' },
      ],
      ...(lost ? { unansweredPeers: lost } : {}),
    });
    /** hv1 renews once then goes quiet; hv2 and hv3 renew every 250 ms, with the TunnelsUp given, for 3.2 s. */
    async function run(hv1Renews: boolean, peers: Record<'hv2' | 'hv3', ReturnType<typeof tunnels>>) {
      const objects = new ObjectStore(new MemoryStore());
      const log = pino({ level: 'silent' });
      await objects.create(NODES, { ...node('hv1'), status: tunnels('False', 'NoProbeAnswered', ['hv2', 'hv3']) } as HypervisorNode);
      for (const name of ['hv2', 'hv3'] as const) await objects.create(NODES, { ...node(name), status: peers[name] } as HypervisorNode);
      for (const name of ['hv1', 'hv2', 'hv3']) {
        await objects.create<NodeRealization>(NODE_REALIZATIONS, { apiVersion: 'vnet.dev/v1alpha1', kind: 'NodeRealization', metadata: { name }, spec: {}, status: { agent: claimed } });
        await objects.create<NodeLease>(NODE_LEASES, { apiVersion: 'vnet.dev/v1alpha1', kind: 'NodeLease', metadata: { name }, spec: { holderIdentity: 'host/1', leaseDurationSeconds: 1, renewTime: '2026-11-30T00:00:00.000Z' } });
      }
      const informers = new SharedInformers(objects.kv, log);
      const r = new NodeRealizationReconciler(objects, informers, log, { agentTimeoutMs: 30_000, checkEveryMs: 20 });
      const readyOf = async () => (await objects.get<HypervisorNode>(NODES, undefined, 'hv1'))!.status!.conditions!.find((c) => c.type === 'Ready')!;
      await r.start();
      const started = performance.now();
      let markedAfterMs: number | undefined;
      try {
        for (let i = 1; performance.now() - started < 3200; i++) {
          await new Promise((res) => setTimeout(res, 250));
          for (const name of hv1Renews ? ['hv1', 'hv2', 'hv3'] : ['hv2', 'hv3']) {
            await objects.modify<NodeLease>(NODE_LEASES, undefined, name, (cur) => ({ ...cur, spec: { ...cur.spec, renewTime: new Date(Date.UTC(2026, 10, 30, 0, 0, 0, i * 250)).toISOString() } }));
          }
          if (markedAfterMs === undefined && (await readyOf()).reason === 'AgentNotReporting') markedAfterMs = performance.now() - started;
        }
        return { ready: await readyOf(), markedAfterMs };
      } finally {
        await r.stop();
        informers.stop();
      }
    }

    it('is marked Ready=Unknown AgentNotReporting within about a heartbeat when every live peer lost its tunnels too (a crashed hypervisor), not after the timeout', async () => {
      const { ready, markedAfterMs } = await run(false, { hv2: tunnels('False', 'NoProbeAnswered', ['hv1']), hv3: tunnels('False', 'ProbesUnanswered', ['hv1']) });
      // Missed after max(1.25 x 333 ms, 333 ms + 2 s) = 2.33 s from the leader's start.
      expect(markedAfterMs).toBeGreaterThanOrEqual(2300);
      expect(markedAfterMs).toBeLessThan(3300);
      expect(ready).toMatchObject({
        status: 'Unknown',
        reason: 'AgentNotReporting',
        message: expect.stringMatching(/^the agent of node hv1 \(host\/1\) has not renewed its heartbeat \(NodeLease hv1\) for \d+ s \(last: 2026-11-30T00:00:00Z; one is due every 333 ms\), and no tunnel probe comes back from it to any of its peers \(hv2, hv3\): the hypervisor looks down, not just its agent late$/),
      });
    });

    it('is left alone while one live peer still reaches it, or while its own agent renews (its tunnels cut, not the host down)', async () => {
      expect((await run(false, { hv2: tunnels('False', 'ProbesUnanswered', ['hv1']), hv3: tunnels('True', 'ProbesAnswered') })).ready.reason).toBe('LayoutReady');
      expect((await run(true, { hv2: tunnels('False', 'ProbesUnanswered', ['hv1']), hv3: tunnels('False', 'ProbesUnanswered', ['hv1']) })).ready.reason).toBe('LayoutReady');
    });
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
