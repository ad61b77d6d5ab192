import pino from 'pino';
import type { NodeRealization } from '../resources/kinds';
import { MemoryStore } from '../reconcile/testing/memory-store';
import { NODE_REALIZATIONS } from '../store/kinds';
import { ObjectStore } from '../store/object-store';
import { ApiUnavailableError } from './api-store';
import { claimNode } from './node-claim';

const log = pino({ level: 'silent' });
const realization = (agent?: NonNullable<NodeRealization['status']>['agent']): NodeRealization => ({
  apiVersion: 'vnet.dev/v1alpha1',
  kind: 'NodeRealization',
  metadata: { name: 'hv1' },
  spec: {},
  ...(agent ? { status: { agent, realized: { u1: '3' } } } : {}),
});
const stored = async (objects: ObjectStore) => (await objects.get<NodeRealization>(NODE_REALIZATIONS, undefined, 'hv1'))!;

describe('claimNode', () => {
  it('waits while the API is unavailable (its store down: 503) instead of failing the agent', async () => {
    const objects = new ObjectStore(new MemoryStore());
    await objects.create(NODE_REALIZATIONS, realization());
    let outages = 2;
    const flaky = Object.create(objects) as ObjectStore;
    flaky.modify = (async (...args: Parameters<ObjectStore['modify']>) => {
      if (outages-- > 0) throw new ApiUnavailableError('GET x: the API at https://c:8443 is unavailable (HTTP 503): etcd');
      return objects.modify(...args);
    }) as ObjectStore['modify'];
    expect(await claimNode(flaky, 'hv1', 'a/1', log, { retryMs: 1 })).toBeGreaterThan(0n);
    expect(outages).toBe(-1);
  });

  it('claims above the previous claim, the switch\'s generation and the revision; keeps the rest of the status', async () => {
    const objects = new ObjectStore(new MemoryStore());
    await objects.create(NODE_REALIZATIONS, realization({ holder: 'old/1', claimTime: '2026-11-29T00:00:00Z', generation: '40' }));
    const rv = Number((await stored(objects)).metadata.resourceVersion);
    expect(rv).toBeLessThan(40);
    expect(await claimNode(objects, 'hv1', 'a/2', log)).toBe(41n);
    expect(await claimNode(objects, 'hv1', 'b/3', log, { recorded: 900n })).toBe(901n);
    const now = await stored(objects);
    expect(now.status).toEqual({ realized: { u1: '3' }, agent: { holder: 'b/3', claimTime: expect.any(String), generation: '901' } });
    // Nothing claimed before, nothing recorded: above the object's resourceVersion.
    const fresh = new ObjectStore(new MemoryStore());
    await fresh.create(NODE_REALIZATIONS, realization());
    const freshRv = BigInt((await stored(fresh)).metadata.resourceVersion!);
    expect(await claimNode(fresh, 'hv1', 'c/4', log)).toBe(freshRv + 1n);
  });

  it('waits for the NodeRealization (the leader creates it), and gives up when stopped', async () => {
    const objects = new ObjectStore(new MemoryStore());
    const claim = claimNode(objects, 'hv1', 'a/2', log, { retryMs: 10 });
    await new Promise((r) => setTimeout(r, 50));
    await objects.create(NODE_REALIZATIONS, realization());
    expect(await claim).toBeGreaterThan(0n);
    const stopping = new AbortController();
    const never = claimNode(new ObjectStore(new MemoryStore()), 'hv1', 'b/3', log, { retryMs: 10, signal: stopping.signal });
    stopping.abort();
    expect(await never).toBeUndefined();
  });
});
