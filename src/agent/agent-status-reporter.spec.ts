import pino from 'pino';
import type { HypervisorNode, NodeRealization } from '../resources/kinds';
import { MemoryStore } from '../reconcile/testing/memory-store';
import { NODES, NODE_REALIZATIONS } from '../store/kinds';
import { ObjectStore } from '../store/object-store';
import { AgentStatusReporter } from './agent-status-reporter';

const node = (status?: HypervisorNode['status']): HypervisorNode => ({ apiVersion: 'vnet.dev/v1alpha1', kind: 'Node', metadata: { name: 'hv1' }, spec: { tunnelIP: '127.0.0.1' }, ...(status ? { status } : {}) });
const realization: NodeRealization = { apiVersion: 'vnet.dev/v1alpha1', kind: 'NodeRealization', metadata: { name: 'hv1' }, spec: {} };

/** A store with hv1's Node (and its NodeRealization unless told otherwise), counting status writes per kind. */
async function setup(o: { realization?: boolean; nodeStatus?: HypervisorNode['status'] } = {}) {
  const objects = new ObjectStore(new MemoryStore());
  await objects.create(NODES, node());
  if (o.nodeStatus) await objects.modify<HypervisorNode>(NODES, undefined, 'hv1', (cur) => ({ ...cur, status: o.nodeStatus }), { subresource: 'status' });
  if (o.realization ?? true) await objects.create(NODE_REALIZATIONS, realization);
  const writes: string[] = [];
  const modify = objects.modify.bind(objects);
  objects.modify = (async (...args: Parameters<typeof modify>) => {
    const before = await objects.get(args[0], args[1], args[2]);
    const r = await modify(...args);
    const after = await objects.get(args[0], args[1], args[2]);
    if (before && after && before.metadata.resourceVersion !== after.metadata.resourceVersion) writes.push(args[0].plural);
    return r;
  }) as typeof objects.modify;
  const reporter = new AgentStatusReporter(objects, 'hv1', pino({ level: 'silent' }), 30);
  const until = async <T>(read: () => Promise<T>, ok: (v: T) => boolean): Promise<T> => {
    const deadline = Date.now() + 3000;
    let v = await read();
    while (Date.now() < deadline && !ok(v)) {
      await new Promise((r) => setTimeout(r, 10));
      v = await read();
    }
    return v;
  };
  const nodeStatus = async () => (await objects.get<HypervisorNode>(NODES, undefined, 'hv1'))?.status;
  const report = async () => (await objects.get<NodeRealization>(NODE_REALIZATIONS, undefined, 'hv1'))?.status;
  return { objects, writes, reporter, until, nodeStatus, report };
}

/** When each write to a NodeRealization began (performance.now()), as objects makes them from now on. */
function realizationWriteStarts(objects: ObjectStore): number[] {
  const starts: number[] = [];
  const modify = objects.modify.bind(objects);
  objects.modify = (async (...args: Parameters<typeof modify>) => {
    if (args[0] === NODE_REALIZATIONS) starts.push(performance.now());
    return modify(...args);
  }) as typeof objects.modify;
  return starts;
}

describe('AgentStatusReporter', () => {
  it('turns a burst of reports into one write of the latest map, sorted by uid, to the NodeRealization, not the Node', async () => {
    const { writes, reporter, until, nodeStatus, report } = await setup();
    // The pipeline reports the same live map after every compile, mutated in between.
    const realized = new Map<string, string>();
    for (let i = 0; i < 500; i++) {
      realized.set(`uid-${(i * 7919) % 500}`, `v${i}`);
      reporter.report(realized);
    }
    const got = await until(report, (s) => Object.keys(s?.realized ?? {}).length === 500);
    await reporter.stop();
    expect(writes).toEqual(['noderealizations']);
    const keys = Object.keys(got?.realized ?? {});
    expect(keys).toEqual([...keys].sort());
    expect(got).toMatchObject({ objects: 500, reportTime: expect.any(String) });
    expect(got!.realized!['uid-0']).toBe('v0');
    expect(await nodeStatus()).toBeUndefined();
  });

  it('spaces the writes of a long burst by the size of the report', async () => {
    const { objects, reporter } = await setup();
    const starts = realizationWriteStarts(objects);
    // 5,000 objects: a write at most every 500 ms, not every 30 ms (the delay). Counted, not
    // timed gap by gap: a loaded machine can only delay writes, so the count over the burst
    // is a bound that holds however late each one went out.
    const realized = new Map(Array.from({ length: 5000 }, (_, i) => [`uid-${i}`, 'v1'] as [string, string]));
    const t0 = performance.now();
    for (let v = 2; performance.now() - t0 < 2_000; v++) {
      realized.set('uid-0', `v${v}`);
      reporter.report(realized);
      await new Promise((r) => setTimeout(r, 5));
    }
    const burstMs = performance.now() - t0;
    await reporter.stop();
    expect(starts.length).toBeGreaterThanOrEqual(2);
    expect(starts.length).toBeLessThanOrEqual(Math.floor(burstMs / 500) + 1);
  });

  it('writes a lone change at once, and one that follows a write no sooner than the delay after it', async () => {
    const { objects } = await setup();
    const starts = realizationWriteStarts(objects);
    const delayMs = 600;
    const reporter = new AgentStatusReporter(objects, 'hv1', pino({ level: 'silent' }), delayMs);
    const t0 = performance.now();
    reporter.report(new Map([['uid-a', 'v1']]));
    const deadline = Date.now() + 5000;
    while (starts.length < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    // A port's Ready waits for this write: it used to wait for the delay first.
    expect(starts[0]! - t0).toBeLessThan(delayMs / 2);
    reporter.report(new Map([['uid-a', 'v1'], ['uid-b', 'v1']]));
    while (starts.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    await reporter.stop();
    expect(starts).toHaveLength(2);
    expect(starts[1]! - starts[0]!).toBeGreaterThanOrEqual(delayMs - 5);
  });

  it('writes the dispatched counts beside the realized map, each part kept when only the other changes', async () => {
    const { writes, reporter, until, report } = await setup();
    reporter.report(new Map([['uid-1', 'v1']]));
    await until(report, (s) => s?.realized?.['uid-1'] === 'v1');
    reporter.reportDispatched(new Map([['7/10.0.0.100/10.0.0.6', 3], ['7/10.0.0.100/10.0.0.5', 12]]));
    const counted = await until(report, (s) => s?.dispatched !== undefined);
    expect(counted).toMatchObject({ realized: { 'uid-1': 'v1' }, objects: 1, dispatched: { '7/10.0.0.100/10.0.0.5': 12, '7/10.0.0.100/10.0.0.6': 3 } });
    expect(Object.keys(counted!.dispatched!)).toEqual(['7/10.0.0.100/10.0.0.5', '7/10.0.0.100/10.0.0.6']);
    reporter.report(new Map([['uid-1', 'v2']]));
    const after = await until(report, (s) => s?.realized?.['uid-1'] === 'v2');
    expect(after?.dispatched).toEqual(counted!.dispatched);
    // The same counts again write nothing.
    const before = writes.length;
    reporter.reportDispatched(new Map([['7/10.0.0.100/10.0.0.5', 12], ['7/10.0.0.100/10.0.0.6', 3]]));
    await new Promise((r) => setTimeout(r, 100));
    await reporter.stop();
    expect(writes.length).toBe(before);
  });

  it('writes the switch counters behind the dispatched counts beside them, and again when only they change (QA-132 F1)', async () => {
    const { reporter, until, report } = await setup();
    reporter.reportDispatched(new Map([['7/10.0.0.100/10.0.0.5', 12]]), new Map([['7/10.0.0.100/10.0.0.5', 4]]));
    expect(await until(report, (s) => s?.dispatched !== undefined)).toMatchObject({ dispatched: { '7/10.0.0.100/10.0.0.5': 12 }, dispatchedOnSwitch: { '7/10.0.0.100/10.0.0.5': 4 } });
    // Its flows removed: the count stays, its counter is off the switch.
    reporter.reportDispatched(new Map([['7/10.0.0.100/10.0.0.5', 12]]), new Map());
    const after = await until(report, (s) => s?.dispatchedOnSwitch !== undefined && Object.keys(s.dispatchedOnSwitch).length === 0);
    await reporter.stop();
    expect(after).toMatchObject({ dispatched: { '7/10.0.0.100/10.0.0.5': 12 }, dispatchedOnSwitch: {} });
  });

  it('writes the port security drops it is told of, appended, the newest 20 kept, for the controller to record as events (QA-131 F9)', async () => {
    const { reporter, until, report } = await setup();
    const drop = (i: number) => ({ port: 't/vm1', uid: 'u1', time: `2026-12-07T00:00:${String(i).padStart(2, '0')}.000Z`, message: `on node hv1, port security dropped ${i} frame(s)` });
    reporter.reportPortSecurityDrops(drop(1));
    expect((await until(report, (s) => s?.portSecurityDrops !== undefined))?.portSecurityDrops).toEqual([drop(1)]);
    for (let i = 2; i <= 25; i++) reporter.reportPortSecurityDrops(drop(i));
    const after = await until(report, (s) => s?.portSecurityDrops?.at(-1)?.time === drop(25).time);
    await reporter.stop();
    expect(after?.portSecurityDrops).toEqual(Array.from({ length: 20 }, (_, i) => drop(i + 6)));
  });

  it('writes the repairs on its node it is told of, appended, the newest 20 kept, for the controller to record on the Node (QA-155 F5)', async () => {
    const { reporter, until, report } = await setup();
    const ev = (i: number) => ({ time: `2026-12-08T00:00:${String(i).padStart(2, '0')}.000Z`, type: 'Warning' as const, reason: 'FlowsRepaired', message: `repair ${i}` });
    reporter.reportNodeEvent(ev(1));
    expect((await until(report, (s) => s?.nodeEvents !== undefined))?.nodeEvents).toEqual([ev(1)]);
    for (let i = 2; i <= 25; i++) reporter.reportNodeEvent(ev(i));
    const after = await until(report, (s) => s?.nodeEvents?.at(-1)?.time === ev(25).time);
    await reporter.stop();
    expect(after?.nodeEvents).toEqual(Array.from({ length: 20 }, (_, i) => ev(i + 6)));
  });

  it('writes the report and its claim again when its NodeRealization was deleted and created anew, empty, with nothing compiled since', async () => {
    const { objects, reporter, until, report } = await setup();
    const verifying = new AgentStatusReporter(objects, 'hv1', pino({ level: 'silent' }), 30, 200, 'host/7');
    await reporter.stop();
    const claim = { holder: 'host/7', claimTime: '2026-11-30T00:00:00.000Z', generation: '12' };
    await objects.modify<NodeRealization>(NODE_REALIZATIONS, undefined, 'hv1', (cur) => ({ ...cur, status: { agent: claim } }), { subresource: 'status' });
    verifying.report(new Map([['uid-1', 'v1']]));
    verifying.reportDispatched(new Map([['7/10.0.0.100/10.0.0.5', 4]]));
    await until(report, (s) => s?.realized?.['uid-1'] === 'v1' && s.dispatched !== undefined);
    await objects.delete(NODE_REALIZATIONS, undefined, 'hv1');
    await objects.create(NODE_REALIZATIONS, realization);
    expect(await report()).toBeUndefined();
    const again = await until(report, (s) => s?.realized?.['uid-1'] === 'v1');
    await verifying.stop();
    expect(again).toMatchObject({ agent: claim, realized: { 'uid-1': 'v1' }, objects: 1, dispatched: { '7/10.0.0.100/10.0.0.5': 4 } });
  });

  it('a graceful stop writes what is pending (the last counts); a report after another agent claimed the node is not written', async () => {
    const { objects, reporter, report } = await setup();
    await reporter.stop();
    const mine = { holder: 'host/7', claimTime: '2026-12-03T00:00:00.000Z', generation: '12' };
    await objects.modify<NodeRealization>(NODE_REALIZATIONS, undefined, 'hv1', (cur) => ({ ...cur, status: { agent: mine } }), { subresource: 'status' });
    // A long delay: nothing goes out before the stop unless the stop writes it.
    const stopping = new AgentStatusReporter(objects, 'hv1', pino({ level: 'silent' }), 60_000, 60_000, 'host/7');
    stopping.report(new Map([['uid-1', 'v1']]));
    await new Promise((r) => setTimeout(r, 20));
    stopping.reportDispatched(new Map([['7/10.0.0.100/10.0.0.5', 9]]));
    await stopping.stop({ flush: true });
    expect(await report()).toMatchObject({ agent: mine, dispatched: { '7/10.0.0.100/10.0.0.5': 9 } });

    // A newer agent has claimed the node: this one (being fenced off) writes nothing over its report.
    const newer = { holder: 'host/8', claimTime: '2026-12-03T00:01:00.000Z', generation: '13' };
    await objects.modify<NodeRealization>(NODE_REALIZATIONS, undefined, 'hv1', (cur) => ({ ...cur, status: { agent: newer, realized: { 'uid-2': 'v9' } } }), { subresource: 'status' });
    const old = new AgentStatusReporter(objects, 'hv1', pino({ level: 'silent' }), 1, 60_000, 'host/7');
    old.report(new Map([['uid-1', 'v2']]));
    old.reportDispatched(new Map([['7/10.0.0.100/10.0.0.5', 10]]));
    await new Promise((r) => setTimeout(r, 50));
    await old.stop({ flush: true });
    expect(await report()).toEqual({ agent: newer, realized: { 'uid-2': 'v9' } });
  });

  it('a report of failing backends after another agent claimed the node does not overwrite the successor\'s', async () => {
    const { objects, reporter, nodeStatus } = await setup();
    await reporter.stop();
    const newer = { holder: 'host/8', claimTime: '2026-12-03T00:01:00.000Z', generation: '13' };
    await objects.modify<NodeRealization>(NODE_REALIZATIONS, undefined, 'hv1', (cur) => ({ ...cur, status: { agent: newer } }), { subresource: 'status' });
    const theirs = [{ loadBalancer: 'lb1', ip: '10.0.0.5', reason: 'RST', since: '2026-12-03T00:01:30.000Z' }];
    await objects.modify<HypervisorNode>(NODES, undefined, 'hv1', (cur) => ({ ...cur, status: { unhealthyBackends: theirs } }), { subresource: 'status' });
    const old = new AgentStatusReporter(objects, 'hv1', pino({ level: 'silent' }), 1, 60_000, 'host/7');
    old.reportUnhealthyBackends([]);
    await new Promise((r) => setTimeout(r, 50));
    await old.stop({ flush: true });
    expect(await nodeStatus()).toEqual({ unhealthyBackends: theirs });

    // Its own claim: written.
    const mine = new AgentStatusReporter(objects, 'hv1', pino({ level: 'silent' }), 1, 60_000, 'host/8');
    mine.reportUnhealthyBackends([]);
    await new Promise((r) => setTimeout(r, 50));
    await mine.stop({ flush: true });
    expect(await nodeStatus()).toEqual({});
  });

  it('writes the failing backends to the Node, and removes the field once none fail', async () => {
    const { writes, reporter, until, nodeStatus, report } = await setup();
    const failing = [{ loadBalancer: 'lb1', ip: '10.0.0.5', reason: 'RST', since: '2026-11-29T10:00:00.000Z' }];
    reporter.report(new Map([['uid-1', 'v1']]));
    reporter.reportUnhealthyBackends(failing);
    expect(await until(nodeStatus, (s) => s?.unhealthyBackends !== undefined)).toEqual({ unhealthyBackends: failing });
    expect((await report())?.realized).toEqual({ 'uid-1': 'v1' });
    reporter.reportUnhealthyBackends([]);
    const cleared = await until(nodeStatus, (s) => s?.unhealthyBackends === undefined);
    await reporter.stop();
    expect(cleared).toEqual({});
    expect(writes.sort()).toEqual(['noderealizations', 'nodes', 'nodes']);
  });

  it('holds the report until the leader has created the NodeRealization, and removes an earlier release\'s report from the Node', async () => {
    const { objects, reporter, until, nodeStatus, report } = await setup({ realization: false, nodeStatus: { realized: { old: 'v0' }, boundPorts: 2 } });
    reporter.report(new Map([['uid-1', 'v1']]));
    expect(await until(nodeStatus, (s) => s?.realized === undefined)).toEqual({ boundPorts: 2 });
    await new Promise((r) => setTimeout(r, 100));
    await objects.create(NODE_REALIZATIONS, realization);
    const got = await until(report, (s) => s?.realized !== undefined);
    await reporter.stop();
    expect(got?.realized).toEqual({ 'uid-1': 'v1' });
  });

  it('backs off while its NodeRealization does not exist (a deleted Node), 0.5 s doubling to 5 s, where it retried twice a second for as long as it ran (QA-99)', async () => {
    const { objects, reporter } = await setup({ realization: false });
    const starts = realizationWriteStarts(objects);
    reporter.report(new Map([['uid-1', 'v1']]));
    await new Promise((r) => setTimeout(r, 4000));
    await reporter.stop();
    // 0.5 + 1 + 2 s between tries: four at most in 4 s (eight or nine before).
    expect(starts.length).toBeGreaterThanOrEqual(2);
    expect(starts.length).toBeLessThanOrEqual(4);
    const gaps = starts.slice(1).map((t, i) => t - starts[i]!);
    // (Doubled, less a jitter of up to a quarter.)
    expect(gaps[1] ?? 1000).toBeGreaterThan(gaps[0]! * 1.3);
  }, 10_000);

  it('backs off the same while the store refuses its writes (an etcd outage, a revoked token), and warns once, then once more when it reports again (QA-146 F3: every 0.5 s, a warning each)', async () => {
    const objects = new ObjectStore(new MemoryStore());
    await objects.create(NODES, node());
    await objects.create(NODE_REALIZATIONS, realization);
    const lines: Array<{ level: number; event?: string }> = [];
    const reporter = new AgentStatusReporter(objects, 'hv1', pino({ level: 'debug' }, { write: (l: string) => void lines.push(JSON.parse(l) as { level: number }) }), 30);
    const modify = objects.modify.bind(objects);
    let down = true;
    const starts: number[] = [];
    objects.modify = (async (...args: Parameters<typeof modify>) => {
      if (args[0] === NODE_REALIZATIONS) starts.push(performance.now());
      if (down) throw new Error('the store is unavailable, retry shortly');
      return modify(...args);
    }) as typeof objects.modify;
    reporter.report(new Map([['uid-1', 'v1']]));
    await new Promise((r) => setTimeout(r, 4000));
    // 0.5 + 1 + 2 s between tries: four at most in 4 s (eight or nine before).
    expect(starts.length).toBeGreaterThanOrEqual(2);
    expect(starts.length).toBeLessThanOrEqual(4);
    down = false;
    const deadline = Date.now() + 6000;
    while (!lines.some((l) => l.event === 'agent.report_resumed') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    await reporter.stop();
    const failed = lines.filter((l) => l.event === 'agent.report_failed');
    expect(failed.filter((l) => l.level === 40)).toHaveLength(1);
    expect(failed.filter((l) => l.level === 20)).toHaveLength(failed.length - 1);
    expect(lines.filter((l) => l.event === 'agent.report_resumed' && l.level === 30)).toHaveLength(1);
  }, 15_000);
});
