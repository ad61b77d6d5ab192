import type { FlowStats } from '../../openflow';
import { encodeCookie } from '../../openflow/sync';
import { LB_SLOTS, TABLES, lbFlows, lbMac, type LoadBalancerModel, type LogicalModel, type NetworkModel } from '../../pipeline';
import pino from 'pino';
import type { OpenFlowConnection } from '../../openflow';
import type { LoadBalancer } from '../../resources/kinds';
import { LOAD_BALANCERS } from '../../store/kinds';
import { ObjectStore } from '../../store/object-store';
import { MemoryStore } from '../testing/memory-store';
import { DispatchCounter, DispatchReporter, LbStatusReporter, RunningTotals, countDispatched, dispatchReadings } from './lb-status';

const net: NetworkModel = { uid: 'n', key: 't/n', version: '1', vni: 0x123456, encapsulation: 'vxlan' };
const lb: LoadBalancerModel = {
  uid: 'lb1',
  key: 't/lb1',
  version: '1',
  network: 'n',
  vip: '10.0.0.100',
  mac: lbMac('lb1'),
  listeners: [
    { protocol: 'TCP', port: 80, targetPort: 8080 },
    { protocol: 'UDP', port: 53, targetPort: 53 },
  ],
  backends: [5, 6].map((n) => ({ name: `p${n}`, ip: `10.0.0.${n}`, mac: `02:00:00:00:00:0${n}`, weight: 1, healthy: true })),
};

const isFragmentFlow = (f: { match: ReadonlyArray<{ field: string }> }): boolean => f.match.some((m) => m.field === 'ip_frag');

/** The switch's view of the compiled flows, each with a packet count; `fragments`: the UDP listener's fragment flows too (one flow per listener and backend without). */
function dumped(count: (tableId: number, i: number) => number, fragments = false): FlowStats[] {
  return lbFlows(lb, net).flows.filter((f) => fragments || !isFragmentFlow(f)).map((f, i) => ({
    tableId: f.tableId,
    durationSec: 1,
    durationNsec: 0,
    priority: f.priority,
    idleTimeout: 0,
    hardTimeout: 0,
    flags: 0,
    cookie: 0n,
    packetCount: BigInt(count(f.tableId, i)),
    byteCount: 0n,
    match: f.match,
    instructions: f.instructions,
  }));
}

/** The stored LoadBalancer "web" the reporter tests write status to: lb's VIP, one TCP listener, backends p5 and p6 unless given. */
function storeWeb(objects: ObjectStore, backends: Array<{ port: string; weight?: number }> = [{ port: 'p5' }, { port: 'p6' }]): Promise<LoadBalancer> {
  return objects.create<LoadBalancer>(LOAD_BALANCERS, {
    apiVersion: 'vnet.dev/v1alpha1',
    kind: 'LoadBalancer',
    metadata: { name: 'web', namespace: 't' },
    spec: { network: 'n', vip: lb.vip, listeners: [{ port: 80, protocol: 'TCP' }], backends },
  });
}

describe('countDispatched', () => {
  it('sums the LbDnat counters of every listener per (network, VIP, backend)', () => {
    const flows = dumped((t, i) => (t === TABLES.LbDnat.id ? 10 + i : 1000)).filter((f) => f.tableId === TABLES.LbDnat.id);
    expect(flows).toHaveLength(4);
    const counts = countDispatched(flows);
    const total = flows.reduce((n, f) => n + Number(f.packetCount), 0);
    expect([...counts.keys()].sort()).toEqual([`${0x123456}/10.0.0.100/10.0.0.5`, `${0x123456}/10.0.0.100/10.0.0.6`]);
    expect([...counts.values()].reduce((a, b) => a + b, 0)).toBe(total);
  });

  it('counts a fragmented datagram that opened a connection once, by its first fragment\'s flow, never its later fragments (QA-116 F1)', () => {
    const flows = dumped((t) => (t === TABLES.LbDnat.id ? 5 : 1000), true).filter((f) => f.tableId === TABLES.LbDnat.id);
    // Per backend: TCP's and UDP's listener flows, UDP's first-fragment and later-fragment flows.
    expect(flows).toHaveLength(8);
    expect(flows.filter(isFragmentFlow)).toHaveLength(4);
    expect([...countDispatched(flows).values()]).toEqual([15, 15]);
  });

  it('ignores flows that are not DNAT flows (slot table, MAC rewrites)', () => {
    const others = dumped(() => 7).filter((f) => f.tableId !== TABLES.LbDnat.id && f.tableId !== TABLES.LbSlot.id);
    expect(countDispatched(others).size).toBe(0);
    expect(dumped(() => 1).filter((f) => f.tableId === TABLES.LbSlot.id)).toHaveLength(LB_SLOTS);
  });
});

describe('DispatchCounter', () => {
  it('goes on without a hung switch\'s dump (its connection up, nothing answered) after 1 s, with that node\'s last counts (QA-93: it held every load balancer\'s status)', async () => {
    const flows = dumped((t) => (t === TABLES.LbDnat.id ? 4 : 0)).filter((f) => f.tableId === TABLES.LbDnat.id);
    let hung = false;
    const hv2 = { connected: true, dumpFlows: () => (hung ? new Promise(() => undefined) : Promise.resolve(flows)) } as unknown as OpenFlowConnection;
    const hv1 = { connected: true, dumpFlows: async () => flows } as unknown as OpenFlowConnection;
    const counter = new DispatchCounter(pino({ level: 'silent' }));
    const before = await counter.count([['hv1', hv1], ['hv2', hv2]]);
    expect(counter.complete).toBe(true);
    hung = true;
    const t0 = performance.now();
    const during = await counter.count([['hv1', hv1], ['hv2', hv2]]);
    expect(performance.now() - t0).toBeLessThan(3000);
    expect(counter.complete).toBe(false);
    expect(during).toEqual(before);
  });

  it('a slow switch\'s dump stays the one in flight (no second one meanwhile) and counts when it comes', async () => {
    const flows = (n: number) => dumped((t) => (t === TABLES.LbDnat.id ? n : 0)).filter((f) => f.tableId === TABLES.LbDnat.id);
    let answer: ((f: ReturnType<typeof flows>) => void) | undefined;
    let dumps = 0;
    const slow = { connected: true, dumpFlows: () => (dumps++, new Promise((r) => (answer = r))) } as unknown as OpenFlowConnection;
    const counter = new DispatchCounter(pino({ level: 'silent' }));
    const empty = await counter.count([['hv1', slow]]);
    expect([dumps, counter.complete, empty.size]).toEqual([1, false, 0]);
    await counter.count([['hv1', slow]]);
    expect(dumps).toBe(1);
    answer!(flows(5));
    const late = await counter.count([['hv1', slow]]);
    expect([...late.values()].every((n) => n === 10)).toBe(true);
    expect(dumps).toBe(1);
  }, 10_000);
});

describe('DispatchReporter', () => {
  it('hands over its node\'s counts when they change, at most once per minReportMs, and nothing while the switch is not connected', async () => {
    let connected = false;
    let packets = 3;
    const conn = { get connected() { return connected; }, dumpFlows: async () => dumped((t) => (t === TABLES.LbDnat.id ? packets : 0)).filter((f) => f.tableId === TABLES.LbDnat.id) } as unknown as OpenFlowConnection;
    const reported: Array<Map<string, number>> = [];
    let minReportMs = 0;
    const r = new DispatchReporter({ logger: pino({ level: 'silent' }), connections: () => [['hv1', conn]], onChange: (c) => reported.push(new Map(c)), get minReportMs() { return minReportMs; } });
    await r.refresh();
    expect(reported).toEqual([]); // not connected: "dispatched nothing" would be a lie
    connected = true;
    await r.refresh();
    // Two listeners per backend (TCP 80 and UDP 53), 3 packets each.
    expect(reported).toEqual([new Map([[`${net.vni}/${lb.vip}/10.0.0.5`, 6], [`${net.vni}/${lb.vip}/10.0.0.6`, 6]])]);
    await r.refresh();
    expect(reported).toHaveLength(1); // unchanged
    minReportMs = 60_000;
    packets = 5;
    await r.refresh();
    expect(reported).toHaveLength(1); // changed, but too soon after the last report
    minReportMs = 0;
    await r.refresh();
    expect(reported[1]).toEqual(new Map([[`${net.vni}/${lb.vip}/10.0.0.5`, 10], [`${net.vni}/${lb.vip}/10.0.0.6`, 10]]));
    // A graceful stop hands over the last counts however soon after the last report.
    minReportMs = 60_000;
    packets = 8;
    await r.stop();
    expect(reported[2]).toEqual(new Map([[`${net.vni}/${lb.vip}/10.0.0.5`, 16], [`${net.vni}/${lb.vip}/10.0.0.6`, 16]]));
  });

  it('reads the switch every interval, reports at most once per minReportMs: a flow removed between two reports keeps what it counted', async () => {
    /** Whether an LbDnat flow sends to ip (as the counters read it). */
    const sendsTo = (f: FlowStats, ip: string) => countDispatched([f]).has(`${net.vni}/${lb.vip}/${ip}`);
    let flows = dumped((t) => (t === TABLES.LbDnat.id ? 3 : 0)).filter((f) => f.tableId === TABLES.LbDnat.id);
    const conn = { connected: true, dumpFlows: async () => flows } as unknown as OpenFlowConnection;
    const reported: Array<Map<string, number>> = [];
    let minReportMs = 0;
    const r = new DispatchReporter({ logger: pino({ level: 'silent' }), connections: () => [['hv1', conn]], onChange: (c) => reported.push(new Map(c)), get minReportMs() { return minReportMs; } });
    await r.refresh();
    minReportMs = 60_000;
    // 10.0.0.6's flows count 4 more each (8 connections), are read, then removed (drained) before any report is due.
    flows = flows.map((f) => (sendsTo(f, '10.0.0.6') ? { ...f, packetCount: 7n } : f));
    await r.refresh();
    flows = flows.filter((f) => !sendsTo(f, '10.0.0.6'));
    await r.refresh();
    minReportMs = 0;
    await r.refresh();
    expect(reported.at(-1)).toEqual(new Map([[`${net.vni}/${lb.vip}/10.0.0.5`, 6], [`${net.vni}/${lb.vip}/10.0.0.6`, 14]]));
  });
});

describe('DispatchReporter: a load balancer deleted', () => {
  const key5 = `${net.vni}/${lb.vip}/10.0.0.5`;
  const key6 = `${net.vni}/${lb.vip}/10.0.0.6`;

  it('reports at once that its counts are gone (rate limit aside), so that one made again on the same VIP does not show them', async () => {
    let flows = dumped((t) => (t === TABLES.LbDnat.id ? 3 : 0)).filter((f) => f.tableId === TABLES.LbDnat.id);
    const conn = { connected: true, dumpFlows: async () => flows } as unknown as OpenFlowConnection;
    const reported: Array<Map<string, number>> = [];
    let live = true;
    const r = new DispatchReporter({ logger: pino({ level: 'silent' }), connections: () => [['hv1', conn]], onChange: (c) => reported.push(new Map(c)), minReportMs: 60_000, lbOwnerLive: () => live });
    await r.refresh();
    expect(reported).toEqual([new Map([[key5, 6], [key6, 6]])]);
    flows = flows.map((f) => ({ ...f, packetCount: 5n }));
    await r.refresh();
    expect(reported).toHaveLength(1); // a count up waits for its turn
    live = false;
    flows = [];
    await r.refresh();
    expect(reported).toEqual([new Map([[key5, 6], [key6, 6]]), new Map()]);
  });

  it('a restarted agent drops what it carries over for a load balancer gone before it started, or once it goes, or once another has its key', async () => {
    const conn = { connected: true, dumpFlows: async () => [] } as unknown as OpenFlowConnection;
    const reported: Array<Map<string, number>> = [];
    const other = `${net.vni}/${lb.vip}/10.0.0.7`;
    // Keys of the load balancers there are now: lb1 has 5 and 6; 7's was deleted while the agent was down.
    let keys = new Map([[key5, 'lb1'], [key6, 'lb1']]);
    const lbs = new Set(['lb1']);
    const r = new DispatchReporter({
      logger: pino({ level: 'silent' }),
      connections: () => [['hv1', conn]],
      onChange: (c) => reported.push(new Map(c)),
      minReportMs: 0,
      previous: new Map([[key5, 40], [key6, 6], [other, 9]]),
      lbKeys: () => keys,
      lbLive: (uid) => lbs.has(uid),
    });
    await r.refresh();
    expect(reported.at(-1)).toEqual(new Map([[key5, 40], [key6, 6]]));
    // lb1 deleted and lb2 made with the same VIP and backend 5 before the agent counted again.
    lbs.delete('lb1');
    lbs.add('lb2');
    keys = new Map([[key5, 'lb2']]);
    await r.refresh();
    expect(reported.at(-1)).toEqual(new Map());
  });
});

describe('DispatchReporter: a restarted agent', () => {
  it('goes on from what the node reported before (flows removed before the restart counted too), once its switch is read, counting surviving flows once', async () => {
    const key5 = `${net.vni}/${lb.vip}/10.0.0.5`;
    const key6 = `${net.vni}/${lb.vip}/10.0.0.6`;
    let connected = false;
    let packets = 3; // the flows that outlived the restart: 3 per listener, 6 per backend
    const conn = { get connected() { return connected; }, dumpFlows: async () => dumped((t) => (t === TABLES.LbDnat.id ? packets : 0)).filter((f) => f.tableId === TABLES.LbDnat.id) } as unknown as OpenFlowConnection;
    const reported: Array<Map<string, number>> = [];
    // The agent before reported 40 for p5 (34 on flows since removed) and 6 for p6.
    const r = new DispatchReporter({ logger: pino({ level: 'silent' }), connections: () => [['hv1', conn]], onChange: (c) => reported.push(new Map(c)), minReportMs: 0, previous: new Map([[key5, 40], [key6, 6]]) });
    await r.refresh();
    expect(reported).toEqual([]);
    connected = true;
    await r.refresh();
    expect(reported).toEqual([new Map([[key5, 40], [key6, 6]])]);
    packets = 5; // 4 more connections per backend
    await r.refresh();
    expect(reported[1]).toEqual(new Map([[key5, 44], [key6, 10]]));
  });
});

describe('DispatchReporter: a restarted agent, with the switch counters behind what was reported (QA-132 F1)', () => {
  const key5 = `${net.vni}/${lb.vip}/10.0.0.5`;
  const key6 = `${net.vni}/${lb.vip}/10.0.0.6`;
  /** A switch whose LbDnat flows (p5 TCP, p6 TCP, p5 UDP, p6 UDP) count counts. */
  const switchCounting = (state: { counts: number[] }) =>
    ({ connected: true, dumpFlows: async () => dumped(() => 0).filter((f) => f.tableId === TABLES.LbDnat.id).map((f, i) => ({ ...f, packetCount: BigInt(state.counts[i]!) })) }) as unknown as OpenFlowConnection;

  function agent(state: { counts: number[] }, previous: Map<string, number>, previousOnSwitch?: Map<string, number>) {
    const reported: Array<{ counts: Map<string, number>; onSwitch: Map<string, number> }> = [];
    const r = new DispatchReporter({
      logger: pino({ level: 'silent' }),
      connections: () => [['hv1', switchCounting(state)]],
      onChange: (counts, onSwitch) => reported.push({ counts: new Map(counts), onSwitch: new Map(onSwitch) }),
      minReportMs: 0,
      previous,
      previousOnSwitch,
    });
    return { r, reported };
  }

  it('counts what the switch dispatched while no agent ran, and reports the counters behind each count', async () => {
    // Reported before: p5 40 with 10 on its flows, p6 9 with 7. While down: p5's flows counted 6 more, p6's 3.
    const state = { counts: [8, 5, 8, 5] };
    const { r, reported } = agent(state, new Map([[key5, 40], [key6, 9]]), new Map([[key5, 10], [key6, 7]]));
    await r.refresh();
    expect(reported).toEqual([{ counts: new Map([[key5, 46], [key6, 12]]), onSwitch: new Map([[key5, 16], [key6, 10]]) }]);
    state.counts = [9, 5, 8, 5];
    await r.refresh();
    expect(reported.at(-1)).toEqual({ counts: new Map([[key5, 47], [key6, 12]]), onSwitch: new Map([[key5, 17], [key6, 10]]) });
  });

  it('carries the whole count of a key whose counters started again (ovs-vswitchd restarted), the others\' beyond their counters', async () => {
    // p5's flows were added again and counted 3 since; p6's outlived the restart and counted 1 more.
    const state = { counts: [2, 4, 1, 4] };
    const { r, reported } = agent(state, new Map([[key5, 40], [key6, 9]]), new Map([[key5, 10], [key6, 7]]));
    await r.refresh();
    expect(reported.at(-1)?.counts).toEqual(new Map([[key5, 43], [key6, 10]]));
  });

  it('reports a flow gone (its count kept, its counter off the switch) though the counts stay the same', async () => {
    let flows = dumped((t) => (t === TABLES.LbDnat.id ? 3 : 0)).filter((f) => f.tableId === TABLES.LbDnat.id);
    const reported: Array<Map<string, number>> = [];
    const r = new DispatchReporter({ logger: pino({ level: 'silent' }), connections: () => [['hv1', { connected: true, dumpFlows: async () => flows } as unknown as OpenFlowConnection]], onChange: (_c, onSwitch) => reported.push(new Map(onSwitch)), minReportMs: 0 });
    await r.refresh();
    expect(reported).toEqual([new Map([[key5, 6], [key6, 6]])]);
    // p6's flows removed (drained): p6 still counts 6, none of which is on the switch any more.
    flows = flows.filter((f) => !countDispatched([f]).has(key6));
    await r.refresh();
    expect(reported).toEqual([new Map([[key5, 6], [key6, 6]]), new Map([[key5, 6]])]);
  });
});

/** The condition BackendsAvailable of a status. */
const available = (s: LoadBalancer['status']) => s?.conditions?.find((c) => c.type === 'BackendsAvailable');

/** Waits (2 s at most) until the stored "web" load balancer's status passes `ok`, and hands it back. */
function statusUntil(objects: ObjectStore): (ok: (s: LoadBalancer['status']) => boolean) => Promise<NonNullable<LoadBalancer['status']>> {
  const status = async () => (await objects.get<LoadBalancer>(LOAD_BALANCERS, 't', 'web'))!.status;
  return async (ok) => {
    const deadline = Date.now() + 2000;
    while (!ok(await status())) {
      if (Date.now() > deadline) throw new Error(`not met: ${JSON.stringify(await status())}`);
      await new Promise((r) => setTimeout(r, 10));
    }
    return (await status())!;
  };
}

describe('LbStatusReporter', () => {
  it('says how many backends get connections (status.healthyBackends, condition BackendsAvailable), at once when health changes', async () => {
    const objects = new ObjectStore(new MemoryStore());
    const stored = await storeWeb(objects);
    let healthy = [true, true];
    let resolvable = [true, true];
    let nodes: Array<string | undefined> = ['hv1', 'hv2'];
    // The pipeline's weight of 0 for a backend its spec weighs: its node is cordoned (drainedOnCordonedNodes).
    let cordonedOut = [false, false];
    const model = () =>
      ({
        networks: new Map([['n', net]]),
        loadBalancers: new Map([[stored.metadata.uid!, { ...lb, backends: lb.backends.map((b, i) => ({ ...b, healthy: healthy[i]!, node: nodes[i], ...(cordonedOut[i] ? { weight: 0 } : {}) })).filter((_b, i) => resolvable[i]) }]]),
      }) as unknown as LogicalModel;
    let failure: string | undefined = 'failing health checks: RST since 2026-12-03T14:00:00.000Z';
    const down = new Set<string>();
    const silent = new Set<string>();
    const cut = new Map<string, string>();
    // A tick an hour apart: only refreshSoon can bring the writes this test sees.
    const reporter = new LbStatusReporter({
      objects,
      logger: pino({ level: 'silent' }),
      loadBalancers: () => [stored],
      model,
      intervalMs: 3_600_000,
      whyUnhealthy: (uid, ip) => (uid === stored.metadata.uid && ip === '10.0.0.6' ? failure : undefined),
      nodeDown: (node) => (down.has(node) ? 'SwitchUnreachable' : silent.has(node) ? 'AgentNotReporting' : undefined),
      tunnelsDown: (node) => cut.get(node),
    });
    const until = statusUntil(objects);
    reporter.start();
    try {
      reporter.refreshSoon();
      expect(available(await until((s) => s?.healthyBackends === '2/2'))).toMatchObject({ status: 'True', reason: 'AllBackendsAvailable', message: 'all 2 backends get connections' });
      healthy = [true, false];
      reporter.refreshSoon();
      expect(available(await until((s) => s?.healthyBackends === '1/2'))).toMatchObject({ status: 'True', reason: 'SomeBackendsUnavailable', message: '1 of 2 backends gets connections; not: p6 (failing health checks: RST since 2026-12-03T14:00:00.000Z)' });
      // Why it is unhealthy, as the pipeline has it: its checks, nobody to check it, not bound.
      failure = 'not checked: the switch of node hv2 does not answer';
      reporter.refreshSoon();
      await until((s) => available(s)?.message === '1 of 2 backends gets connections; not: p6 (not checked: the switch of node hv2 does not answer)');
      failure = undefined;
      nodes = ['hv1', undefined];
      reporter.refreshSoon();
      await until((s) => available(s)?.message === '1 of 2 backends gets connections; not: p6 (not bound to a node)');
      // Out of the slot tables on a node whose switch does not answer, checks or none (QA-135 F1: said so while still dealt).
      nodes = ['hv1', 'hv2'];
      healthy = [true, false];
      down.add('hv2');
      reporter.refreshSoon();
      const out = await until((s) => available(s)?.message?.includes('out of the slot tables') === true);
      expect(out.healthyBackends).toBe('1/2');
      expect(available(out)).toMatchObject({ status: 'True', reason: 'SomeBackendsUnavailable', message: '1 of 2 backends gets connections; not: p6 (out of the slot tables while the switch of its node hv2 does not answer)' });
      // Its agent silent instead (a dead hypervisor, as far as anyone can tell): out as well, saying so.
      down.delete('hv2');
      silent.add('hv2');
      reporter.refreshSoon();
      await until((s) => available(s)?.message === '1 of 2 backends gets connections; not: p6 (out of the slot tables while the agent of its node hv2 is not reporting)');
      silent.delete('hv2');
      down.add('hv2');
      // Still healthy there (the pipeline has not taken it out yet): dealt connections, which may be lost, and said so.
      healthy = [true, true];
      reporter.refreshSoon();
      const cutOff = await until((s) => available(s)?.message?.includes('go unanswered') === true && s?.backends?.[1]?.healthy === true);
      expect(cutOff.healthyBackends).toBe('2/2');
      expect(available(cutOff)).toMatchObject({ status: 'True', reason: 'SomeBackendsUnavailable', message: '2 of 2 backends get connections; those dealt to p6 (the switch of its node hv2 does not answer) go unanswered' });
      // Both there: they are still dealt connections, which go unanswered, not refused (QA: "refused" while a partitioned switch served them).
      nodes = ['hv2', 'hv2'];
      reporter.refreshSoon();
      const bothDown = await until((s) => available(s)?.status === 'False');
      // Dealt (every backend left is there, outOnDownSwitches keeps them): counted, as a NIC whose link is down is.
      expect(bothDown.healthyBackends).toBe('2/2');
      expect(available(bothDown)).toMatchObject({ reason: 'NoHealthyBackends', message: 'none of its 2 backends gets connections known to be answered, so new connections go unanswered unless that switch still forwards them: p5, p6 (the switch of its node hv2 does not answer)' });
      nodes = ['hv1', 'hv2'];
      down.delete('hv2');
      reporter.refreshSoon();
      await until((s) => s?.healthyBackends === '2/2');
      // On a node cut off the overlay (TunnelsUp=False NoProbeAnswered): still counted (its node's
      // own clients are served), and the condition says whom it reaches (QA-93: nothing said so).
      cut.set('hv2', 'no probe echo from hv1 over vxlan');
      reporter.refreshSoon();
      const behindCut = await until((s) => available(s)?.message?.includes('cut off') === true);
      expect(behindCut.healthyBackends).toBe('2/2');
      // A reason of its own, which warns (QA-128: AllBackendsAvailable while remote clients' connections to p6 went unanswered).
      expect(available(behindCut)).toMatchObject({ status: 'True', reason: 'SomeBackendsCutOff', message: 'all 2 backends get connections; reached by clients on their own node only: p6 (node hv2 is cut off the overlay: no probe echo from hv1 over vxlan)' });
      cut.clear();
      reporter.refreshSoon();
      await until((s) => available(s)?.message === 'all 2 backends get connections');
      // Its node cordoned: drained on purpose, the operator's doing, as a weight of 0 (no Warning).
      cordonedOut = [false, true];
      reporter.refreshSoon();
      const cordoned = await until((s) => s?.healthyBackends === '1/2');
      expect(available(cordoned)).toMatchObject({ status: 'True', reason: 'SomeBackendsDrained', message: '1 of 2 backends gets connections; not: p6 (drained: its node hv2 is cordoned)' });
      expect(cordoned.backends?.map((b) => b.healthy)).toEqual([true, true]);
      expect(cordoned.backends?.map((b) => b.nodeCordoned)).toEqual([undefined, true]);
      cordonedOut = [false, false];
      reporter.refreshSoon();
      await until((s) => s?.healthyBackends === '2/2');
      healthy = [true, false];
      failure = 'failing health checks: RST since 2026-12-03T14:00:00.000Z';
      // One that resolves to no address (a port without one of the VIP's family) is said apart.
      resolvable = [true, false];
      reporter.refreshSoon();
      expect(available(await until((s) => available(s)?.message?.includes('ResolvedRefs') === true))).toMatchObject({ status: 'True', message: '1 of 2 backends gets connections; not: p6 (no address in the network of the VIP\'s family: see ResolvedRefs)' });
      resolvable = [true, true];
      healthy = [false, false];
      reporter.refreshSoon();
      const none = await until((s) => s?.healthyBackends === '0/2');
      expect(available(none)).toMatchObject({ status: 'False', reason: 'NoHealthyBackends', message: expect.stringContaining('none of its 2 backends gets connections') });
      expect(none.backends?.map((b) => b.healthy)).toEqual([false, false]);
      // A weight of 0 drains a healthy backend: it gets no new connections, and the condition says so.
      healthy = [true, true];
      stored.spec!.backends![1]!.weight = 0;
      reporter.refreshSoon();
      // The BACKENDS column counts backends that get new connections: a drained one is healthy, not counted.
      const drained = await until((s) => s?.healthyBackends === '1/2' && s?.conditions?.find((c) => c.type === 'BackendsAvailable')?.message?.includes('drained') === true);
      expect(available(drained)).toMatchObject({ status: 'True', reason: 'SomeBackendsDrained', message: '1 of 2 backends gets connections; not: p6 (drained: weight 0)' });
      expect(drained.backends?.map((b) => b.healthy)).toEqual([true, true]);
      stored.spec!.backends![0]!.weight = 0;
      reporter.refreshSoon();
      expect(available(await until((s) => s?.healthyBackends === '0/2' && s?.conditions?.find((c) => c.type === 'BackendsAvailable')?.status === 'False'))).toMatchObject({ reason: 'AllBackendsDrained', message: 'none of its 2 backends gets connections, so new connections are refused: p5, p6 (drained: weight 0)' });
    } finally {
      await reporter.stop();
    }
  });

  it('counts an unchecked backend whose NIC\'s link is down (Bound LinkDown) as getting connections, as the slot table deals it them, and says they go unanswered (QA-128 F3)', async () => {
    const objects = new ObjectStore(new MemoryStore());
    const stored = await storeWeb(objects);
    // Unchecked backends: healthy whatever their NIC does; their ports by key.
    const model = () => ({ networks: new Map([['n', net]]), loadBalancers: new Map([[stored.metadata.uid!, { ...lb, backends: lb.backends.map((b, i) => ({ ...b, node: `hv${i + 1}`, port: `t/${b.name}` })) }]]) }) as unknown as LogicalModel;
    const down = new Set<string>();
    const reporter = new LbStatusReporter({ objects, logger: pino({ level: 'silent' }), loadBalancers: () => [stored], model, intervalMs: 3_600_000, linkDown: (key) => down.has(key) });
    const until = statusUntil(objects);
    reporter.start();
    try {
      reporter.statusSoon();
      await until((s) => s?.healthyBackends === '2/2' && available(s)?.reason === 'AllBackendsAvailable');
      down.add('t/p6');
      reporter.statusSoon();
      const one = await until((s) => available(s)?.reason === 'SomeBackendsUnavailable');
      expect(one.healthyBackends).toBe('2/2');
      expect(available(one)).toMatchObject({ status: 'True', message: "2 of 2 backends get connections; those dealt to p6 (port p6's NIC's link is down (Bound LinkDown)) go unanswered" });
      // Its flows stay: status.backends still has it healthy (nothing to check it), bound where it was.
      expect(one.backends?.map((b) => [b.name, b.healthy, b.node])).toEqual([['p5', true, 'hv1'], ['p6', true, 'hv2']]);
      down.add('t/p5');
      reporter.statusSoon();
      const none = await until((s) => available(s)?.status === 'False');
      expect(none.healthyBackends).toBe('2/2');
      expect(available(none)).toMatchObject({ reason: 'NoHealthyBackends', message: "none of its 2 backends gets connections known to be answered, so new connections go unanswered: p5 (port p5's NIC's link is down (Bound LinkDown)); p6 (port p6's NIC's link is down (Bound LinkDown))" });
      down.clear();
      reporter.statusSoon();
      expect(available(await until((s) => available(s)?.reason === 'AllBackendsAvailable'))).toMatchObject({ message: 'all 2 backends get connections' });
    } finally {
      await reporter.stop();
    }
  });

  it('names a link-down backend apart from those that get no connections (QA-128 F3)', async () => {
    const objects = new ObjectStore(new MemoryStore());
    const stored = await storeWeb(objects, [{ port: 'p5' }, { port: 'p6' }, { port: 'p7', weight: 0 }]);
    const backends = ['p5', 'p6', 'p7'].map((name, i) => ({ name, ip: `10.0.0.${5 + i}`, healthy: true, node: `hv${i + 1}`, port: `t/${name}` }));
    const model = () => ({ networks: new Map([['n', net]]), loadBalancers: new Map([[stored.metadata.uid!, { ...lb, backends }]]) }) as unknown as LogicalModel;
    const reporter = new LbStatusReporter({ objects, logger: pino({ level: 'silent' }), loadBalancers: () => [stored], model, intervalMs: 3_600_000, linkDown: (key) => key === 't/p6' });
    const until = statusUntil(objects);
    reporter.start();
    try {
      reporter.statusSoon();
      const st = await until((s) => available(s)?.reason === 'SomeBackendsUnavailable');
      expect(st.healthyBackends).toBe('2/3');
      expect(available(st)?.message).toBe("2 of 3 backends get connections; those dealt to p6 (port p6's NIC's link is down (Bound LinkDown)) go unanswered; not: p7 (drained: weight 0)");
    } finally {
      await reporter.stop();
    }
  });
});

describe('LbStatusReporter: status.slots', () => {
  it('says an address backend several ports\' allowed pairs cover is ambiguous (ResolvedRefs AmbiguousBackend), naming the ports', async () => {
    const objects = new ObjectStore(new MemoryStore());
    const stored = await objects.create<LoadBalancer>(LOAD_BALANCERS, {
      apiVersion: 'vnet.dev/v1alpha1',
      kind: 'LoadBalancer',
      metadata: { name: 'web', namespace: 't' },
      spec: { network: 'n', vip: lb.vip, listeners: [{ port: 80, protocol: 'TCP' }], backends: [{ ip: '10.0.0.40' }] },
    });
    const holder = (name: string, n: number) => ({ uid: name, key: `t/${name}`, version: '1', network: 'n', mac: `02:00:00:00:00:0${n}`, ips: [`10.0.0.${n}`], portSecurity: true, allowedAddressPairs: [{ ip: '10.0.0.40', mac: `02:00:00:00:00:0${n}` }] });
    const model = () => ({ networks: new Map([['n', net]]), ports: new Map([['t/b1', holder('b1', 1)], ['t/b2', holder('b2', 2)]]), loadBalancers: new Map([[stored.metadata.uid!, { ...lb, backends: [] }]]) }) as unknown as LogicalModel;
    const reporter = new LbStatusReporter({ objects, logger: pino({ level: 'silent' }), loadBalancers: () => [stored], model, intervalMs: 3_600_000 });
    reporter.start();
    try {
      reporter.refreshSoon();
      const deadline = Date.now() + 2000;
      let refs;
      while (!(refs = (await objects.get<LoadBalancer>(LOAD_BALANCERS, 't', 'web'))!.status?.conditions?.find((c) => c.type === 'ResolvedRefs')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      expect(refs).toMatchObject({ status: 'False', reason: 'AmbiguousBackend', message: expect.stringContaining('address 10.0.0.40 (ports b1, b2)') });
    } finally {
      await reporter.stop();
    }
  });

  it('says a backend listed twice, an address backend its port backend\'s port took since (ResolvedRefs DuplicateBackend, QA-134 F7: said all was well)', async () => {
    const objects = new ObjectStore(new MemoryStore());
    const stored = await objects.create<LoadBalancer>(LOAD_BALANCERS, {
      apiVersion: 'vnet.dev/v1alpha1',
      kind: 'LoadBalancer',
      metadata: { name: 'web', namespace: 't' },
      spec: { network: 'n', vip: lb.vip, listeners: [{ port: 80, protocol: 'TCP' }], backends: [{ port: 'dp1' }, { ip: '10.0.0.11' }] },
    });
    const backend = (name: string) => ({ name, ip: '10.0.0.11', mac: '02:00:00:00:00:11', weight: 1, healthy: true, node: 'hv1', port: 't/dp1' });
    const model = () => ({ networks: new Map([['n', net]]), ports: new Map(), loadBalancers: new Map([[stored.metadata.uid!, { ...lb, backends: [backend('dp1'), backend('10.0.0.11')] }]]) }) as unknown as LogicalModel;
    const reporter = new LbStatusReporter({ objects, logger: pino({ level: 'silent' }), loadBalancers: () => [stored], model, intervalMs: 3_600_000 });
    try {
      await reporter.refresh();
      const refs = (await objects.get<LoadBalancer>(LOAD_BALANCERS, 't', 'web'))!.status?.conditions?.find((c) => c.type === 'ResolvedRefs');
      expect(refs).toMatchObject({ status: 'False', reason: 'DuplicateBackend', message: 'address 10.0.0.11 (backends dp1 and 10.0.0.11): one backend listed twice, which takes its connections once; remove one of them from spec.backends' });
    } finally {
      await reporter.stop();
    }
  });

  it('records the slot table\'s size, and keeps it when backends are removed (a smaller table would re-deal every slot)', async () => {
    const objects = new ObjectStore(new MemoryStore());
    const five = [5, 6, 7, 8, 9].map((n) => ({ port: `p${n}` }));
    await storeWeb(objects, five);
    const current = async () => (await objects.get<LoadBalancer>(LOAD_BALANCERS, 't', 'web'))!;
    let now = await current();
    let modelled: number | undefined;
    const model = () => ({ networks: new Map([['n', net]]), loadBalancers: new Map([[now.metadata.uid!, { ...lb, slots: modelled }]]) }) as unknown as LogicalModel;
    const reporter = new LbStatusReporter({ objects, logger: pino({ level: 'silent' }), loadBalancers: () => [now], model, intervalMs: 3_600_000 });
    const slotsAfterRefresh = async () => {
      await reporter.refresh();
      now = await current();
      return now.status?.slots;
    };
    try {
      expect(await slotsAfterRefresh()).toBe(512);
      // Down to 4 backends (256 slots from the spec alone): the recorded 512 stays.
      await objects.update<LoadBalancer>(LOAD_BALANCERS, { ...now, spec: { ...now.spec!, backends: five.slice(0, 4) } });
      now = await current();
      expect(await slotsAfterRefresh()).toBe(512);
      // Up to 9 (1024): it grows.
      await objects.update<LoadBalancer>(LOAD_BALANCERS, { ...now, spec: { ...now.spec!, backends: [...five, ...[10, 11, 12, 13].map((n) => ({ port: `p${n}` }))] } });
      now = await current();
      expect(await slotsAfterRefresh()).toBe(1024);
      // The pipeline's model kept a larger table (a backend went before it was recorded): recorded as it is.
      modelled = 4096;
      expect(await slotsAfterRefresh()).toBe(4096);
    } finally {
      await reporter.stop();
    }
  });
});

describe('RunningTotals: connection counts as counters across reinstalled flows', () => {
  const K = '7/10.0.0.100/10.0.0.5';
  const r = (flow: string, packets: number, ageSec: number, key = K, owner = 1) => ({ key, flow: `${owner}|${key}|${flow}`, owner, packets, ageSec });

  it('keeps what a flow counted when it goes (backend unhealthy) and when it comes back (healthy again), summing its listeners', () => {
    const t = new RunningTotals();
    expect(t.update([r('80', 10, 5), r('443', 3, 5)], 0).get(K)).toBe(13);
    expect(t.update([r('80', 12, 10), r('443', 3, 10)], 1).get(K)).toBe(15);
    // Both flows gone (the backend failed its checks): the count stays.
    expect(t.update([], 2).get(K)).toBe(15);
    // Back with new flows counting from 0.
    expect(t.update([r('80', 1, 0), r('443', 0, 0)], 3).get(K)).toBe(16);
    expect(t.update([r('80', 4, 5), r('443', 2, 5)], 4).get(K)).toBe(21);
  });

  it('sees a flow installed again between two readings by its lower count or its younger age', () => {
    const t = new RunningTotals();
    t.update([r('80', 50, 100)], 0);
    // Reinstalled and already past its old count: younger than before.
    expect(t.update([r('80', 70, 2)], 1).get(K)).toBe(120);
    // Reinstalled, fewer packets, same age reading by chance: the lower count tells.
    expect(t.update([r('80', 5, 2)], 2).get(K)).toBe(125);
    expect(t.update([r('80', 9, 7)], 3).get(K)).toBe(129);
  });

  it('forgets a flow gone for over an hour, and keeps keys apart', () => {
    const t = new RunningTotals();
    const other = '7/10.0.0.100/10.0.0.6';
    t.update([r('80', 10, 1), r('80', 4, 1, other)], 0);
    expect(t.update([r('80', 6, 60, other)], 1_000)).toEqual(new Map([[K, 10], [other, 6]]));
    expect(t.update([r('80', 6, 3660, other)], 3_602_000)).toEqual(new Map([[other, 6]]));
  });

  it('forgets what a deleted load balancer\'s flows counted at once: one made again with the same VIP and backends starts from 0', () => {
    const live = new Set([1]);
    const t = new RunningTotals((owner) => live.has(owner));
    expect(t.update([r('80', 40, 100)], 0).get(K)).toBe(40);
    // Its flows gone, the load balancer still there (a health flap): kept.
    expect(t.update([], 1).get(K)).toBe(40);
    // Deleted, and another (owner 2) made with the same VIP and backend before the next reading.
    live.delete(1);
    live.add(2);
    expect(t.update([r('80', 3, 1, K, 2)], 2).get(K)).toBe(3);
    // Its own flow replaced the first one's on the switch (same match) before it was ever read gone: still its own count only.
    const u = new RunningTotals((owner) => live.has(owner));
    live.add(1);
    u.update([r('80', 40, 100, K, 1)], 0);
    live.delete(1);
    expect(u.update([r('80', 2, 0, K, 2)], 1).get(K)).toBe(2);
    expect(u.update([r('80', 5, 5, K, 2)], 2).get(K)).toBe(5);
  });

  it('reads each flow\'s load balancer from its cookie, and tells the same flow of two load balancers apart', () => {
    const flows = dumped((t) => (t === TABLES.LbDnat.id ? 1 : 0)).filter((f) => f.tableId === TABLES.LbDnat.id);
    const a = dispatchReadings(flows.map((f) => ({ ...f, cookie: encodeCookie({ round: 1, category: 4, app: 1, objectId: 77 }) })));
    const b = dispatchReadings(flows.map((f) => ({ ...f, cookie: encodeCookie({ round: 2, category: 4, app: 1, objectId: 78 }) })));
    expect(new Set(a.map((x) => x.owner))).toEqual(new Set([77]));
    expect(a.map((x) => x.key)).toEqual(b.map((x) => x.key));
    for (let i = 0; i < a.length; i++) expect(a[i]!.flow).not.toBe(b[i]!.flow);
  });

  it('reads one flow per listener from a dump', () => {
    const flows = dumped((t, i) => (t === TABLES.LbDnat.id ? 10 + i : 1000)).filter((f) => f.tableId === TABLES.LbDnat.id);
    const readings = dispatchReadings(flows);
    expect(readings).toHaveLength(4);
    expect(new Set(readings.map((x) => x.flow)).size).toBe(4);
  });
});

describe('countDispatched over IPv6', () => {
  it('names an IPv6 backend by the address its DNAT flow sends to (its register holds a hash)', () => {
    const v6: LoadBalancerModel = { ...lb, vip: 'fd00::100', backends: [{ name: 'p5', ip: 'fd00::5', mac: '02:00:00:00:00:05', weight: 1, healthy: true }] };
    const flows: FlowStats[] = lbFlows(v6, net)
      .flows.filter((f) => f.tableId === TABLES.LbDnat.id)
      .map((f) => ({ tableId: f.tableId, durationSec: 1, durationNsec: 0, priority: f.priority, idleTimeout: 0, hardTimeout: 0, flags: 0, cookie: 0n, packetCount: 7n, byteCount: 0n, match: f.match, instructions: f.instructions }));
    // TCP's and UDP's listener flows and UDP's first-fragment flow; not the later fragments'.
    expect(countDispatched(flows)).toEqual(new Map([[`${0x123456}/fd00::100/fd00::5`, 21]]));
  });
});

describe('LbStatusReporter: connection counts across a restart', () => {
  it('a backend\'s count is the backend\'s: it stays while its port is gone and goes on when the port comes back with another address', async () => {
    const objects = new ObjectStore(new MemoryStore());
    const created = await storeWeb(objects);
    let backends = lb.backends;
    const model = () => ({ networks: new Map([['n', net]]), loadBalancers: new Map([[created.metadata.uid!, { ...lb, uid: created.metadata.uid!, backends }]]) }) as unknown as LogicalModel;
    // Where agents count: their reports, by address.
    let reported = new Map([[`${net.vni}/${lb.vip}/10.0.0.5`, 18], [`${net.vni}/${lb.vip}/10.0.0.6`, 3]]);
    const current = async () => (await objects.get<LoadBalancer>(LOAD_BALANCERS, 't', 'web'))!;
    let stored = await current();
    const reporter = new LbStatusReporter({ objects, logger: pino({ level: 'silent' }), loadBalancers: () => [stored], model, reportedDispatched: () => reported, intervalMs: 3_600_000 });
    const counts = async () => {
      stored = await current();
      reporter.refreshSoon();
      await reporter.refresh();
      stored = await current();
      return stored.status?.backends?.map((b) => `${b.name}@${b.ip}=${b.connections}`);
    };
    try {
      expect(await counts()).toEqual(['p5@10.0.0.5=18', 'p6@10.0.0.6=3']);
      // p5's port deleted: unresolved, its flows gone (nothing reported for its address any more).
      backends = lb.backends.filter((b) => b.name !== 'p5');
      reported = new Map([[`${net.vni}/${lb.vip}/10.0.0.6`, 3]]);
      expect(await counts()).toEqual(['p5@=18', 'p6@10.0.0.6=3']);
      // Made again with another address: its count goes on, and adds what the new address counts.
      backends = [{ ...lb.backends[0]!, ip: '10.0.0.9' }, lb.backends[1]!];
      reported = new Map([[`${net.vni}/${lb.vip}/10.0.0.9`, 2], [`${net.vni}/${lb.vip}/10.0.0.6`, 4]]);
      expect(await counts()).toEqual(['p5@10.0.0.9=20', 'p6@10.0.0.6=4']);
      reported = new Map([[`${net.vni}/${lb.vip}/10.0.0.9`, 5], [`${net.vni}/${lb.vip}/10.0.0.6`, 4]]);
      expect(await counts()).toEqual(['p5@10.0.0.9=23', 'p6@10.0.0.6=4']);
    } finally {
      await reporter.stop();
    }
  });

  it('carries over what status counted beyond the switches\' counters, keeps it while the switches are not read, and counts surviving flows once', async () => {
    const objects = new ObjectStore(new MemoryStore());
    // Written by the process before: p5 had 40 connections (30 on flows since removed), p6 7.
    const created = await storeWeb(objects);
    await objects.modify<LoadBalancer>(LOAD_BALANCERS, 't', 'web', (cur) => ({
      ...cur,
      status: { backends: [{ name: 'p5', ip: '10.0.0.5', node: 'hv1', healthy: true, connections: 40 }, { name: 'p6', ip: '10.0.0.6', node: 'hv1', healthy: true, connections: 7 }] },
    }), { subresource: 'status' });
    const current = async () => (await objects.get<LoadBalancer>(LOAD_BALANCERS, 't', 'web'))!;
    const model = () => ({ networks: new Map([['n', net]]), loadBalancers: new Map([[created.metadata.uid!, lb]]) }) as unknown as LogicalModel;
    let connected = false;
    // The flows that outlived the restart: p5's listeners counted 5 each (10), p6's 3 and 4 (7).
    let counts = [5, 3, 5, 4]; // LbDnat flows: p5 TCP, p6 TCP, p5 UDP, p6 UDP
    const conn = {
      get connected() { return connected; },
      dumpFlows: async () => dumped(() => 0).filter((f) => f.tableId === TABLES.LbDnat.id).map((f, i) => ({ ...f, packetCount: BigInt(counts[i]!) })),
    } as unknown as OpenFlowConnection;
    let stored = await current();
    const reporter = new LbStatusReporter({ objects, logger: pino({ level: 'silent' }), loadBalancers: () => [stored], model, connections: () => [['hv1', conn]], intervalMs: 3_600_000 });
    const connections = async () => (await current()).status?.backends?.map((b) => b.connections);
    // The switch not read yet: nothing counted does not lower what status says.
    await reporter.refresh();
    expect(await connections()).toEqual([40, 7]);
    connected = true;
    stored = await current();
    reporter.refreshSoon(); // a count now, not at the hour's tick
    await reporter.refresh();
    expect(await connections()).toEqual([40, 7]);
    // New connections add to the carried-over counts; p6's flows were all still there.
    counts = [6, 3, 7, 5];
    stored = await current();
    reporter.refreshSoon();
    await reporter.refresh();
    expect(await connections()).toEqual([43, 8]);
    // Counted since the last write, then a graceful stop: written by the stop, not lost.
    counts = [9, 3, 7, 5];
    stored = await current();
    await reporter.stop();
    expect(await connections()).toEqual([46, 8]);
  });
});

describe('LbStatusReporter: counting that costs (QA-133 F1)', () => {
  it('counts at most a tenth of the time, however often a count is due, and still counts at stop', async () => {
    const objects = new ObjectStore(new MemoryStore());
    const created = await storeWeb(objects);
    const model = () => ({ networks: new Map([['n', net]]), loadBalancers: new Map([[created.metadata.uid!, lb]]) }) as unknown as LogicalModel;
    let dumps = 0;
    let counts = [1, 1, 1, 1]; // LbDnat flows: p5 TCP, p6 TCP, p5 UDP, p6 UDP
    // A switch whose dump takes 120 ms (a table of hundreds of thousands of flows, scaled down).
    const conn = {
      connected: true,
      dumpFlows: async () => {
        dumps++;
        await new Promise((r) => setTimeout(r, 120));
        return dumped(() => 0).filter((f) => f.tableId === TABLES.LbDnat.id).map((f, i) => ({ ...f, packetCount: BigInt(counts[i]!) }));
      },
    } as unknown as OpenFlowConnection;
    let stored = created;
    // A count due at every refresh (interval 1 ms).
    const reporter = new LbStatusReporter({ objects, logger: pino({ level: 'silent' }), loadBalancers: () => [stored], model, connections: () => [['hv1', conn]], intervalMs: 1 });
    const t0 = performance.now();
    while (performance.now() - t0 < 700) {
      await reporter.refresh();
      await new Promise((r) => setTimeout(r, 5));
    }
    // About 700 ms: the first count (120 ms), then none for 1.2 s. Every refresh counted before: 5 or more.
    expect(dumps).toBe(1);
    counts = [2, 2, 2, 2];
    stored = (await objects.get<LoadBalancer>(LOAD_BALANCERS, 't', 'web'))!;
    await reporter.stop();
    expect(dumps).toBe(2);
    expect((await objects.get<LoadBalancer>(LOAD_BALANCERS, 't', 'web'))!.status?.backends?.map((b) => b.connections)).toEqual([4, 4]);
  });

  it('an agent counts its node at most a tenth of the time too, and still at stop', async () => {
    let dumps = 0;
    let counts = [1, 1, 1, 1];
    const conn = {
      connected: true,
      dumpFlows: async () => {
        dumps++;
        await new Promise((r) => setTimeout(r, 120));
        return dumped(() => 0).filter((f) => f.tableId === TABLES.LbDnat.id).map((f, i) => ({ ...f, packetCount: BigInt(counts[i]!) }));
      },
    } as unknown as OpenFlowConnection;
    const reported: Array<Map<string, number>> = [];
    const r = new DispatchReporter({ logger: pino({ level: 'silent' }), connections: () => [['hv1', conn]], onChange: (c) => reported.push(new Map(c)), minReportMs: 0, intervalMs: 1 });
    const t0 = performance.now();
    while (performance.now() - t0 < 700) {
      await r.refresh();
      await new Promise((res) => setTimeout(res, 5));
    }
    expect(dumps).toBe(1);
    counts = [2, 2, 2, 2];
    await r.stop();
    expect(dumps).toBe(2);
    expect(reported.at(-1)).toEqual(new Map([[`${net.vni}/${lb.vip}/10.0.0.5`, 4], [`${net.vni}/${lb.vip}/10.0.0.6`, 4]]));
  });
});

describe('LbStatusReporter: what the switches counted while vnetd was down (QA-132 F1)', () => {
  type Node = { connected: boolean; counts: number[] };
  /** A node's switch whose LbDnat flows (p5 TCP, p6 TCP, p5 UDP, p6 UDP) count node.counts. */
  const lbSwitch = (node: Node): OpenFlowConnection =>
    ({
      get connected() { return node.connected; },
      dumpFlows: async () => dumped(() => 0).filter((f) => f.tableId === TABLES.LbDnat.id).map((f, i) => ({ ...f, packetCount: BigInt(node.counts[i]!) })),
    }) as unknown as OpenFlowConnection;

  /** "web" with p5 and p6, its status.backends as a process before wrote it. */
  async function storedBefore(objects: ObjectStore, backends: NonNullable<LoadBalancer['status']>['backends']): Promise<LoadBalancer> {
    const created = await storeWeb(objects);
    await objects.modify<LoadBalancer>(LOAD_BALANCERS, 't', 'web', (cur) => ({ ...cur, status: { backends } }), { subresource: 'status' });
    return created;
  }

  /** A vnetd process started on the stored "web" and these nodes' switches; `status()` counts now and hands back status.backends. */
  function started(objects: ObjectStore, created: LoadBalancer, nodes: Record<string, Node>) {
    const model = () => ({ networks: new Map([['n', net]]), loadBalancers: new Map([[created.metadata.uid!, lb]]) }) as unknown as LogicalModel;
    const current = async () => (await objects.get<LoadBalancer>(LOAD_BALANCERS, 't', 'web'))!;
    let stored = created;
    const conns = Object.entries(nodes).map(([name, n]): [string, OpenFlowConnection] => [name, lbSwitch(n)]);
    const reporter = new LbStatusReporter({ objects, logger: pino({ level: 'silent' }), loadBalancers: () => [stored], model, connections: () => conns, intervalMs: 3_600_000 });
    const status = async () => {
      stored = await current();
      reporter.refreshSoon(); // a count now, not at the hour's tick
      await reporter.refresh();
      return (await current()).status!.backends!.map((b) => ({ connections: b.connections, switchCounters: b.switchCounters }));
    };
    return { reporter, status };
  }

  it('counts the connections the switches dispatched while no vnetd ran, and keeps each count\'s switch counters beside it', async () => {
    const objects = new ObjectStore(new MemoryStore());
    // Written before the stop: p5 40 (10 of them on its flows now, 30 on flows since removed), p6 9 (7 on its flows).
    const created = await storedBefore(objects, [
      { name: 'p5', ip: '10.0.0.5', node: 'hv1', healthy: true, connections: 40, switchCounters: { hv1: 10 } },
      { name: 'p6', ip: '10.0.0.6', node: 'hv1', healthy: true, connections: 9, switchCounters: { hv1: 7 } },
    ]);
    // While vnetd was down: p5's flows counted 6 more (16), p6's 3 more (10).
    const hv1 = { connected: true, counts: [8, 5, 8, 5] };
    const first = started(objects, created, { hv1 });
    try {
      expect(await first.status()).toEqual([{ connections: 46, switchCounters: { hv1: 16 } }, { connections: 12, switchCounters: { hv1: 10 } }]);
      hv1.counts = [9, 5, 8, 6];
      expect(await first.status()).toEqual([{ connections: 47, switchCounters: { hv1: 17 } }, { connections: 13, switchCounters: { hv1: 11 } }]);
    } finally {
      await first.reporter.stop();
    }
    // Down again, 2 more for p5; the next process counts them too, and the surviving flows once.
    hv1.counts = [10, 5, 9, 6];
    const second = started(objects, (await objects.get<LoadBalancer>(LOAD_BALANCERS, 't', 'web'))!, { hv1 });
    try {
      expect(await second.status()).toEqual([{ connections: 49, switchCounters: { hv1: 19 } }, { connections: 13, switchCounters: { hv1: 11 } }]);
    } finally {
      await second.reporter.stop();
    }
  });

  it('keeps the whole stored count where a switch\'s counters started again (ovs-vswitchd restarted), and a node not read yet at its stored counter', async () => {
    const objects = new ObjectStore(new MemoryStore());
    // p5: 50, 10 on hv1's flows and 20 on hv2's; p6: 4, on hv1's.
    const created = await storedBefore(objects, [
      { name: 'p5', ip: '10.0.0.5', node: 'hv1', healthy: true, connections: 50, switchCounters: { hv1: 10, hv2: 20 } },
      { name: 'p6', ip: '10.0.0.6', node: 'hv1', healthy: true, connections: 4, switchCounters: { hv1: 4 } },
    ]);
    // While vnetd was down: hv1's flows counted 4 more for p5; hv2's vswitchd restarted, its flows added again, which counted 3 for p5.
    const hv1 = { connected: true, counts: [7, 2, 7, 2] };
    const hv2 = { connected: false, counts: [2, 0, 1, 0] };
    const { reporter, status } = started(objects, created, { hv1, hv2 });
    try {
      // hv2 not connected yet: its stored counter stands for it, in the count and in what is written.
      expect(await status()).toEqual([{ connections: 54, switchCounters: { hv1: 14, hv2: 20 } }, { connections: 4, switchCounters: { hv1: 4 } }]);
      hv2.connected = true;
      // hv2's 3 are fewer than its 20 stored: its counters started again, and all 3 are new.
      expect(await status()).toEqual([{ connections: 57, switchCounters: { hv1: 14, hv2: 3 } }, { connections: 4, switchCounters: { hv1: 4 } }]);
      hv2.counts = [3, 0, 1, 1];
      expect(await status()).toEqual([{ connections: 58, switchCounters: { hv1: 14, hv2: 4 } }, { connections: 5, switchCounters: { hv1: 4, hv2: 1 } }]);
    } finally {
      await reporter.stop();
    }
  });

  it('a status written before switchCounters: carries what it held beyond the counters now, as before, and from then on writes them', async () => {
    const objects = new ObjectStore(new MemoryStore());
    const created = await storedBefore(objects, [
      { name: 'p5', ip: '10.0.0.5', node: 'hv1', healthy: true, connections: 40 },
      { name: 'p6', ip: '10.0.0.6', node: 'hv1', healthy: true, connections: 7 },
    ]);
    const hv1 = { connected: false, counts: [8, 3, 8, 4] };
    const first = started(objects, created, { hv1 });
    try {
      // The switch not read yet: the stored counts stand, and nothing is said of the counters.
      expect(await first.status()).toEqual([{ connections: 40, switchCounters: undefined }, { connections: 7, switchCounters: undefined }]);
      hv1.connected = true;
      // What the flows counted while down is not known apart from what status held: not added.
      expect(await first.status()).toEqual([{ connections: 40, switchCounters: { hv1: 16 } }, { connections: 7, switchCounters: { hv1: 7 } }]);
    } finally {
      await first.reporter.stop();
    }
    // The next restart, 4 connections to p5 while down: counted.
    hv1.counts = [10, 3, 10, 4];
    const second = started(objects, (await objects.get<LoadBalancer>(LOAD_BALANCERS, 't', 'web'))!, { hv1 });
    try {
      expect(await second.status()).toEqual([{ connections: 44, switchCounters: { hv1: 20 } }, { connections: 7, switchCounters: { hv1: 7 } }]);
    } finally {
      await second.reporter.stop();
    }
  });
});
