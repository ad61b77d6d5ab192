import { formatPipelineFlow } from './format';
import { lbFlows } from './load-balancer';
import { REUSE_FROM, forgetLbFlows, keepLbFlowsOf, setLbFlowReuse } from './lb-flow-reuse';
import type { LbBackendModel, LoadBalancerModel, NetworkModel } from './model';
import { TABLES } from './tables';

const net: NetworkModel = { uid: 'n', key: 't/n', version: '1', vni: 77, encapsulation: 'vxlan' };
const hex = (n: number) => n.toString(16).padStart(2, '0');
const backends = (n: number): LbBackendModel[] => Array.from({ length: n }, (_, i) => ({ name: `b${i}`, ip: `10.1.${i >> 8}.${i & 255}`, mac: `02:00:00:01:${hex(i >> 8)}:${hex(i & 255)}`, weight: 1, healthy: true }));
/** 32 listeners (TCP, and UDP ones whose fragments are taken) x 128 backends: REUSE_FROM DNAT flows, kept. */
const big = (bs: LbBackendModel[], extra: Partial<LoadBalancerModel> = {}): LoadBalancerModel => ({
  uid: 'big',
  key: 't/big',
  version: '1',
  network: 'n',
  vip: '10.0.0.1',
  mac: '0a:00:00:00:00:01',
  listeners: Array.from({ length: 32 }, (_, i) => ({ protocol: i % 2 ? ('UDP' as const) : ('TCP' as const), port: 1000 + i, targetPort: 8080 })),
  backends: bs,
  slots: 1024,
  ...extra,
});
const text = (lb: LoadBalancerModel) => lbFlows(lb, net).flows.map(formatPipelineFlow);

describe('a big load balancer compiled again reuses the flows whose inputs are unchanged (lb-flow-reuse.ts)', () => {
  afterEach(() => setLbFlowReuse(true));

  it('gives exactly what a fresh compile gives, through health, weight, listener and backend changes', () => {
    const bs = backends(128);
    expect(32 * bs.length).toBeGreaterThanOrEqual(REUSE_FROM);
    const changes: LoadBalancerModel[] = [
      big(bs),
      big(bs.map((b, i) => (i === 3 ? { ...b, healthy: false } : b))),
      big(bs.map((b, i) => (i === 3 ? { ...b, weight: 5 } : b))),
      big(bs.slice(1)),
      big(bs, { listeners: big(bs).listeners.map((l, i) => (i === 4 ? { ...l, targetPort: 9090 } : l)) }),
      big(bs, { vip: '10.0.0.2' }),
      big(bs, { slots: 2048 }),
      big(bs),
    ];
    const reused = changes.map(text);
    setLbFlowReuse(false);
    expect(reused).toEqual(changes.map(text));
  });

  it('a backend gone unhealthy: the other backends\' DNAT and slot flows are the very objects of the previous compile', () => {
    setLbFlowReuse(true);
    // 32 x 135 after: still above REUSE_FROM.
    const bs = backends(136);
    const before = lbFlows(big(bs), net).flows;
    const after = lbFlows(big(bs.map((b, i) => (i === 7 ? { ...b, healthy: false } : b))), net).flows;
    const had = new Set(before);
    const dnat = after.filter((f) => f.tableId === TABLES.LbDnat.id);
    const slots = after.filter((f) => f.tableId === TABLES.LbSlot.id);
    // b7's DNAT flows went; every other backend's per listener (and per UDP listener's first
    // fragments) came back as is. Built anew: only the later fragments' one per backend (no port).
    const toPort = (f: (typeof dnat)[number]) => f.match.some((m) => m.field === 'tcp_dst' || m.field === 'udp_dst' || m.field === 'ct_tp_dst');
    expect(dnat.filter((f) => toPort(f) && f.match.some((m) => m.field === 'reg3' && m.value === 0x0a010007))).toEqual([]);
    expect(dnat.filter((f) => toPort(f) && !had.has(f))).toEqual([]);
    expect(dnat.filter((f) => !toPort(f)).length).toBe(135);
    expect(dnat.filter((f) => had.has(f)).length).toBe(135 * (32 + 16));
    // Only b7's slots were dealt again: 1024 slots, 7 or 8 on average for each of 136 backends.
    const fresh = slots.filter((f) => !had.has(f)).length;
    expect(fresh).toBeGreaterThan(0);
    expect(fresh).toBeLessThan(40);
    // Forgotten (the load balancer was deleted): built anew.
    forgetLbFlows('big');
    expect(lbFlows(big(bs), net).flows.filter((f) => f.tableId === TABLES.LbDnat.id).some((f) => had.has(f))).toBe(false);
  });

  it('forgets what a load balancer kept once it is too small to keep (all but a few backends unhealthy), or when only others are kept', () => {
    const bs = backends(136);
    const first = lbFlows(big(bs), net).flows;
    const dnatOf = (flows: typeof first) => flows.filter((f) => f.tableId === TABLES.LbDnat.id);
    // 4 healthy: under REUSE_FROM, and what it kept is dropped rather than left to eviction.
    lbFlows(big(bs.map((b, i) => (i < 4 ? b : { ...b, healthy: false }))), net);
    expect(dnatOf(lbFlows(big(bs), net).flows).some((f) => first.includes(f))).toBe(false);
    const again = lbFlows(big(bs), net).flows;
    keepLbFlowsOf(new Set(['another']));
    expect(dnatOf(lbFlows(big(bs), net).flows).some((f) => again.includes(f))).toBe(false);
  });

  it('a small load balancer is never kept', () => {
    const small = big(backends(4));
    const a = lbFlows(small, net).flows;
    const b = lbFlows(small, net).flows;
    expect(b.filter((f) => f.tableId === TABLES.LbDnat.id).some((f) => a.includes(f))).toBe(false);
  });
});
