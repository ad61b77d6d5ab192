import pino from 'pino';
import type { HypervisorNode, NodeLease, NodeRealization } from '../resources/kinds';
import { MemoryStore } from '../reconcile/testing/memory-store';
import { NODES, NODE_LEASES, NODE_REALIZATIONS } from '../store/kinds';
import { ObjectStore } from '../store/object-store';
import { NodeLeaseHeartbeat } from './node-lease';

const node: HypervisorNode = { apiVersion: 'vnet.dev/v1alpha1', kind: 'Node', metadata: { name: 'hv1' }, spec: { tunnelIP: '192.0.2.1' } };

async function until<T>(read: () => Promise<T>, ok: (v: T) => boolean): Promise<T> {
  const deadline = Date.now() + 3000;
  let v = await read();
  while (!ok(v)) {
    if (Date.now() > deadline) throw new Error(`not met within 3000 ms: ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 10));
    v = await read();
  }
  return v;
}

describe('NodeLeaseHeartbeat', () => {
  const silent = pino({ level: 'silent' });

  it('creates the lease owned by its Node, then renews it in place: renewTime moves, acquireTime and transitions stay', async () => {
    const objects = new ObjectStore(new MemoryStore());
    const hv1 = await objects.create(NODES, node);
    const lease = async () => objects.get<NodeLease>(NODE_LEASES, undefined, 'hv1');
    const beat = new NodeLeaseHeartbeat(objects, 'hv1', 'host/7', silent, 40);
    beat.start();
    try {
      const first = await until(lease, (l) => l !== undefined);
      expect(first!.metadata.ownerReferences).toEqual([{ apiVersion: 'vnet.dev/v1alpha1', kind: 'Node', name: 'hv1', uid: hv1.metadata.uid }]);
      expect(first!.spec).toEqual({ holderIdentity: 'host/7', leaseDurationSeconds: 1, acquireTime: first!.spec!.renewTime, renewTime: expect.any(String), leaseTransitions: 0 });
      const later = await until(lease, (l) => l!.spec!.renewTime! > first!.spec!.renewTime!);
      expect(later!.metadata.uid).toBe(first!.metadata.uid);
      expect(later!.spec).toMatchObject({ holderIdentity: 'host/7', acquireTime: first!.spec!.acquireTime, leaseTransitions: 0 });
    } finally {
      await beat.stop();
    }
    // Stopped: no more renewals.
    const stoppedAt = (await lease())!.metadata.resourceVersion;
    await new Promise((r) => setTimeout(r, 120));
    expect((await lease())!.metadata.resourceVersion).toBe(stoppedAt);
  });

  it('takes over a lease another agent holds only with the node\'s claim: a stalled agent whose claim is gone writes nothing and is told', async () => {
    const objects = new ObjectStore(new MemoryStore());
    await objects.create(NODES, node);
    const lease = async () => objects.get<NodeLease>(NODE_LEASES, undefined, 'hv1');
    const claimBy = async (holder: string) => {
      if (!(await objects.get(NODE_REALIZATIONS, undefined, 'hv1'))) await objects.create(NODE_REALIZATIONS, { apiVersion: 'vnet.dev/v1alpha1', kind: 'NodeRealization', metadata: { name: 'hv1' }, spec: {} });
      await objects.modify<NodeRealization>(NODE_REALIZATIONS, undefined, 'hv1', (cur) => ({ ...cur, status: { agent: { holder, claimTime: new Date().toISOString(), generation: '1' } } }), { subresource: 'status' });
    };
    await claimBy('host/1');
    const old = new NodeLeaseHeartbeat(objects, 'hv1', 'host/1', silent, 1000);
    old.start();
    await until(lease, (l) => l?.spec?.holderIdentity === 'host/1');
    // A newer agent claims the node and takes the lease while the first one is stalled.
    await claimBy('host/2');
    const next = new NodeLeaseHeartbeat(objects, 'hv1', 'host/2', silent, 1000);
    next.start();
    const taken = await until(lease, (l) => l?.spec?.holderIdentity === 'host/2');
    // The first one beats again: it does not write over the lease, and hears who has the node.
    const told: string[] = [];
    const stale = new NodeLeaseHeartbeat(objects, 'hv1', 'host/1', silent, 40, (by) => told.push(by));
    stale.start();
    try {
      await until(async () => told, (t) => t.length > 0);
      expect(told).toEqual(['host/2']);
      expect((await lease())!.metadata.resourceVersion).toBe(taken!.metadata.resourceVersion);
    } finally {
      await Promise.all([old.stop(), next.stop(), stale.stop()]);
    }
  });

  it('counts a new holder as a transition, and creates the lease again after it was deleted (its Node re-created: the new uid owns it)', async () => {
    const objects = new ObjectStore(new MemoryStore());
    await objects.create(NODES, node);
    const lease = async () => objects.get<NodeLease>(NODE_LEASES, undefined, 'hv1');
    const old = new NodeLeaseHeartbeat(objects, 'hv1', 'host/1', silent, 1000);
    old.start();
    await until(lease, (l) => l?.spec?.holderIdentity === 'host/1');
    await old.stop();
    const next = new NodeLeaseHeartbeat(objects, 'hv1', 'host/2', silent, 40);
    const before = Date.parse((await lease())!.spec!.acquireTime!);
    await new Promise((r) => setTimeout(r, 5));
    next.start();
    try {
      const taken = await until(lease, (l) => l?.spec?.holderIdentity === 'host/2');
      expect(taken!.spec!.leaseTransitions).toBe(1);
      // Acquired by this takeover (its renewals every 40 ms may have moved renewTime past it
      // by the time a loaded machine reads the lease: a CI run saw 58 ms).
      expect(Date.parse(taken!.spec!.acquireTime!)).toBeGreaterThan(before);
      expect(Date.parse(taken!.spec!.acquireTime!)).toBeLessThanOrEqual(Date.parse(taken!.spec!.renewTime!));
      await objects.delete(NODES, undefined, 'hv1');
      await objects.delete(NODE_LEASES, undefined, 'hv1');
      const renewed = await objects.create(NODES, node);
      const again = await until(lease, (l) => l !== undefined);
      expect(again!.metadata.ownerReferences?.[0]?.uid).toBe(renewed.metadata.uid);
      expect(again!.spec).toMatchObject({ holderIdentity: 'host/2', leaseTransitions: 0 });
    } finally {
      await next.stop();
    }
  });

  it('without its Node, logs once and keeps trying; renews once the Node exists', async () => {
    const objects = new ObjectStore(new MemoryStore());
    const lines: Array<{ event?: string; msg?: string }> = [];
    const log = pino({ level: 'info' }, { write: (l: string) => void lines.push(JSON.parse(l) as { event?: string }) });
    const beat = new NodeLeaseHeartbeat(objects, 'hv1', 'host/1', log, 30);
    beat.start();
    try {
      await new Promise((r) => setTimeout(r, 150));
      expect(lines.filter((l) => l.event === 'agent.lease_renew_failed')).toEqual([expect.objectContaining({ msg: expect.stringMatching(/^could not renew NodeLease hv1; retrying in \d+ ms, backing off to 7\.5 ms$/) })]);
      await objects.create(NODES, node);
      await until(async () => objects.get<NodeLease>(NODE_LEASES, undefined, 'hv1'), (l) => l !== undefined);
      await until(async () => lines, (ls) => ls.some((l) => l.event === 'agent.lease_renewed'));
    } finally {
      await beat.stop();
    }
  });

  it('retries a failed renewal long before the next beat, backing off to a quarter of the interval', async () => {
    const objects = new ObjectStore(new MemoryStore());
    await objects.create(NODES, node);
    const tries: number[] = [];
    let failures = 3;
    const modify = objects.modify.bind(objects);
    objects.modify = (async (...args: Parameters<typeof modify>) => {
      tries.push(performance.now());
      if (failures-- > 0) throw new Error('HTTP 503');
      return modify(...args);
    }) as typeof objects.modify;
    // A 60 s interval: without the retries the lease would wait a minute after each failure.
    const beat = new NodeLeaseHeartbeat(objects, 'hv1', 'host/1', silent, 60_000);
    const t0 = performance.now();
    beat.start();
    try {
      const lease = await until(async () => objects.get<NodeLease>(NODE_LEASES, undefined, 'hv1'), (l) => l !== undefined);
      // Three failures, then a success (a create: the lease did not exist), within about 0.1 + 0.2 + 0.4 s.
      expect(tries).toHaveLength(4);
      expect(performance.now() - t0).toBeLessThan(2_000);
      expect(lease?.spec?.holderIdentity).toBe('host/1');
    } finally {
      await beat.stop();
    }
  });
});
