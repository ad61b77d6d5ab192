import type { FlowStats } from '../../openflow';
import { encodeCookie } from '../../openflow/sync/cookie';
import { OwnerCategory, Priority, TABLES } from '../../pipeline';
import { UnknownUnicastDropCounter } from './unknown-unicast-drops';

const cookie = (category: number, objectId: number) => encodeCookie({ round: 1, category, app: 0x56, objectId });
const DROP: FlowStats['instructions'] = [];
const DELIVER: FlowStats['instructions'] = [{ type: 'apply_actions', actions: [{ type: 'output', port: 3, maxLen: 0 }] }];
/** Network `vni`'s unknown-unicast flow from local ports (mark 1) or tunnels (mark 2). */
const uu = (vni: number, mark: number, packets: number, instructions = DROP, ageSec = 3600, priority: number = Priority.UnknownUnicast): FlowStats =>
  ({ tableId: TABLES.L2Lookup.id, cookie: cookie(OwnerCategory.Network, vni), packetCount: BigInt(packets), byteCount: 0n, priority, durationSec: ageSec, durationNsec: 0, match: [{ field: 'reg5', value: mark }], instructions }) as unknown as FlowStats;

describe('UnknownUnicastDropCounter', () => {
  it('counts what a network\'s dropping unknown-unicast flows took between two dumps, both flows together', () => {
    const c = new UnknownUnicastDropCounter();
    expect(c.observe([uu(7, 1, 100), uu(7, 2, 5)], 0)).toEqual([]); // the first dump is the baseline
    expect(c.observe([uu(7, 1, 120), uu(7, 2, 8)], 60_000)).toEqual([{ vni: 7, dropped: 23 }]);
    expect(c.observe([uu(7, 1, 120), uu(7, 2, 8)], 120_000)).toEqual([]);
    expect(c.totals.get(7)).toBe(23);
  });

  it('ignores other flows of the table and other owners: the miss, L2 entries, a port\'s flows', () => {
    const c = new UnknownUnicastDropCounter();
    const others = (n: number) => [uu(7, 1, n, DROP, 3600, 0), uu(7, 1, n, DROP, 3600, 100), { ...uu(7, 1, n), cookie: cookie(OwnerCategory.Port, 7) }];
    c.observe(others(0), 0);
    expect(c.observe(others(50), 60_000)).toEqual([]);
  });

  it('counts nothing while a flow delivers to ports that take unknown unicast, and starts again when it drops once more', () => {
    const c = new UnknownUnicastDropCounter();
    c.observe([uu(7, 1, 10)], 0);
    // A port without port security bound: the flow is modified in place and keeps its counters.
    expect(c.observe([uu(7, 1, 40, DELIVER)], 60_000)).toEqual([]);
    // It left: the 30 packets above were delivered (and some dropped); this dump is a baseline for it.
    expect(c.observe([uu(7, 1, 45)], 120_000)).toEqual([]);
    expect(c.observe([uu(7, 1, 52)], 180_000)).toEqual([{ vni: 7, dropped: 7 }]);
  });

  it('counts a flow installed since the previous dump from zero, and forgets a network whose flows are gone', () => {
    const c = new UnknownUnicastDropCounter();
    c.observe([], 0);
    expect(c.observe([uu(9, 1, 12, DROP, 5)], 60_000)).toEqual([{ vni: 9, dropped: 12 }]);
    // Its counter went down (the switch restarted) and the flow is older than the interval: a baseline.
    expect(c.observe([uu(9, 1, 3, DROP, 90)], 120_000)).toEqual([]);
    expect(c.totals.get(9)).toBe(12);
    c.observe([], 180_000);
    expect(c.totals.has(9)).toBe(false);
  });
});
