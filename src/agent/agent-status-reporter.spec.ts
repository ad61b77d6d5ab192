import pino from 'pino';
import type { HypervisorNode } from '../resources/kinds';
import { MemoryStore } from '../reconcile/testing/memory-store';
import { NODES } from '../store/kinds';
import { ObjectStore } from '../store/object-store';
import { AgentStatusReporter } from './agent-status-reporter';

describe('AgentStatusReporter', () => {
  it('turns a burst of reports into one status write of the latest map, sorted by uid', async () => {
    const objects = new ObjectStore(new MemoryStore());
    await objects.create(NODES, { apiVersion: 'vnet.dev/v1alpha1', kind: 'Node', metadata: { name: 'hv1' }, spec: { tunnelIP: '127.0.0.1' } } as HypervisorNode);
    const writes: string[] = [];
    const modify = objects.modify.bind(objects);
    objects.modify = (async (...args: Parameters<typeof modify>) => {
      writes.push(String(args[2]));
      return modify(...args);
    }) as typeof objects.modify;
    const reporter = new AgentStatusReporter(objects, 'hv1', pino({ level: 'silent' }), 30);
    // The pipeline reports the same live map after every compile, mutated in between.
    const realized = new Map<string, string>();
    for (let i = 0; i < 500; i++) {
      realized.set(`uid-${(i * 7919) % 500}`, `v${i}`);
      reporter.report(realized);
    }
    const stored = async () => (await objects.get<HypervisorNode>(NODES, undefined, 'hv1'))?.status?.realized as Record<string, string> | undefined;
    let got: Record<string, string> | undefined;
    const deadline = Date.now() + 3000;
    while (Date.now() < deadline && Object.keys((got = await stored()) ?? {}).length < 500) await new Promise((r) => setTimeout(r, 10));
    await reporter.stop();
    expect(writes).toEqual(['hv1']);
    const keys = Object.keys(got ?? {});
    expect(keys).toHaveLength(500);
    expect(keys).toEqual([...keys].sort());
    expect(got!['uid-0']).toBe('v0');
  });

  it('writes the failing backends with the realized map in one write, and removes the field once none fail', async () => {
    const objects = new ObjectStore(new MemoryStore());
    await objects.create(NODES, { apiVersion: 'vnet.dev/v1alpha1', kind: 'Node', metadata: { name: 'hv1' }, spec: { tunnelIP: '127.0.0.1' } } as HypervisorNode);
    let writes = 0;
    const modify = objects.modify.bind(objects);
    objects.modify = (async (...args: Parameters<typeof modify>) => {
      writes++;
      return modify(...args);
    }) as typeof objects.modify;
    const reporter = new AgentStatusReporter(objects, 'hv1', pino({ level: 'silent' }), 30);
    const status = async () => (await objects.get<HypervisorNode>(NODES, undefined, 'hv1'))?.status;
    const until = async (ok: (s: HypervisorNode['status']) => boolean) => {
      const deadline = Date.now() + 3000;
      while (Date.now() < deadline && !ok(await status())) await new Promise((r) => setTimeout(r, 10));
      return status();
    };
    const failing = [{ loadBalancer: 'lb1', ip: '10.0.0.5', reason: 'RST', since: '2026-11-29T10:00:00.000Z' }];
    reporter.report(new Map([['uid-1', 'v1']]));
    reporter.reportUnhealthyBackends(failing);
    const both = await until((s) => s?.unhealthyBackends !== undefined);
    expect(both).toMatchObject({ realized: { 'uid-1': 'v1' }, unhealthyBackends: failing });
    expect(writes).toBe(1);
    reporter.reportUnhealthyBackends([]);
    const cleared = await until((s) => s?.unhealthyBackends === undefined);
    await reporter.stop();
    expect(cleared).toMatchObject({ realized: { 'uid-1': 'v1' } });
    expect(cleared).not.toHaveProperty('unhealthyBackends');
    expect(writes).toBe(2);
  });
});
