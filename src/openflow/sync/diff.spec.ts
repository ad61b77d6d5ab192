import type { FlowStats } from '../messages/multipart-reply';
import { encodeCookie } from './cookie';
import { DesiredState } from './desired-state';
import { planFullSync, planIncremental } from './diff';
import type { DesiredFlow } from './types';

const flow = (reg0: number): DesiredFlow => ({
  tableId: 0,
  priority: 100,
  match: [{ field: 'reg0', value: reg0 }],
  instructions: [{ type: 'apply_actions', actions: [{ type: 'output', port: 1, maxLen: 0 }] }],
});

describe('planFullSync', () => {
  it('lets the event loop turn while it plans many flows (QA-124 F1: a verify of 447k flows held it 6-10 s, and every switch connection with it)', async () => {
    const desired = new DesiredState({ min: 1, max: 1000 });
    for (let o = 0; o < 20; o++) {
      desired.commit(desired.prepare([{ owner: { category: 1, objectId: o + 1 }, flows: Array.from({ length: 1000 }, (_, i) => flow(o * 1000 + i)), groups: [] }]));
    }
    let turns = 0;
    let planning = true;
    const spin = () => {
      if (!planning) return;
      turns++;
      setImmediate(spin);
    };
    setImmediate(spin);
    const { plan } = await planFullSync(desired.flows(), desired.groups(), [], [], () => false, { round: 1, app: 0x56 });
    planning = false;
    expect(plan.flowAdds).toHaveLength(20_000);
    // Before: planned in one go, the loop never turned.
    expect(turns).toBeGreaterThanOrEqual(3);
  });

  it('describes the first three differences it plans, as ovs-ofctl prints flows: changed in place, missing, not desired (QA-131 F5: a repair said only how many)', async () => {
    const owner = { category: 1, objectId: 7 };
    const desired = new DesiredState({ min: 1, max: 1000 });
    desired.commit(desired.prepare([{ owner, flows: [flow(1), flow(2), flow(3)], groups: [] }]));
    const cookie = encodeCookie({ ...owner, round: 1, app: 0x56 });
    const onSwitch = (f: DesiredFlow): FlowStats => ({ ...f, cookie, durationSec: 0, durationNsec: 0, idleTimeout: 0, hardTimeout: 0, flags: 0, packetCount: 0n, byteCount: 0n, match: [...f.match], instructions: [...f.instructions] });
    const dropped = onSwitch({ ...flow(2), instructions: [] });
    const extra = onSwitch({ ...flow(9), priority: 5 });
    const plan = (dump: FlowStats[]) => planFullSync(desired.flows(), desired.groups(), dump, [], () => false, { round: 1, app: 0x56 });
    const { drift } = await plan([onSwitch(flow(1)), dropped, extra]);
    expect(drift).toEqual([
      'changed: table=0, priority=100, cookie=0x1015600000007, reg0=0x2 actions=drop, put back to actions=output:1',
      'missing: table=0, priority=100, reg0=0x3 actions=output:1',
      'not desired: table=0, priority=5, cookie=0x1015600000007, reg0=0x9 actions=output:1',
    ]);
    // In sync: nothing to say. Many off: three said.
    expect((await plan([onSwitch(flow(1)), onSwitch(flow(2)), onSwitch(flow(3))])).drift).toEqual([]);
    expect((await plan([])).drift).toHaveLength(3);
  });
});

describe('planIncremental with a big owner given its own flow objects again (lb-flow-reuse.ts)', () => {
  it('keeps their entries (checked and keyed once), plans nothing for them, and still sees the flows that changed, came or went', () => {
    const owner = { category: 1, objectId: 9 };
    const desired = new DesiredState({ min: 1, max: 1000 });
    const flows = Array.from({ length: 2000 }, (_, i) => flow(i));
    desired.commit(desired.prepare([{ owner, flows, groups: [] }]));
    const before = new Map([...desired.flows()].map((e) => [e.key, e]));
    const changed: DesiredFlow = { ...flows[5]!, instructions: [{ type: 'apply_actions', actions: [{ type: 'output', port: 2, maxLen: 0 }] }] };
    const next = [...flows.slice(0, 5), changed, ...flows.slice(6, 1999), flow(5000)];
    const prepared = desired.prepare([{ owner, flows: next, groups: [] }]);
    const entries = [...prepared[0]!.newFlows.values()];
    // Before: every entry built (and keyed) again.
    expect(entries.filter((e) => before.get(e.key) === e)).toHaveLength(1998);
    const plan = planIncremental(prepared, { round: 1, app: 0x56 });
    expect({ adds: plan.flowAdds.length, modifies: plan.flowModifies.length, deletes: plan.flowDeletes.length }).toEqual({ adds: 1, modifies: 1, deletes: 1 });
    desired.commit(prepared);
    expect(desired.flowCount).toBe(2000);
    // The same flow object listed twice is still refused.
    expect(() => desired.prepare([{ owner, flows: [...next, next[0]!], groups: [] }])).toThrow(/listed twice/);
  });
});
