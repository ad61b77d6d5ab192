import type { FlowStats } from '../../openflow';
import { encodeCookie } from '../../openflow/sync/cookie';
import { OwnerCategory, TABLES } from '../../pipeline';
import { PortSecurityDropCounter } from './port-security-drops';

const cookie = (category: number, objectId: number) => encodeCookie({ round: 1, category, app: 0x56, objectId });
const stats = (tableId: number, owner: bigint, packets: number, goto: boolean, ageSec = 3600): FlowStats =>
  ({ tableId, cookie: owner, packetCount: BigInt(packets), byteCount: 0n, priority: 100, durationSec: ageSec, durationNsec: 0, match: [], instructions: goto ? [{ type: 'goto_table', tableId: tableId + 1 }] : [] }) as unknown as FlowStats;

/** Port 7: its Classifier flow, two SpoofGuard allows and an IPv6 drop of its own; the node's guard (pipeline owner) is not a port's. */
const dump = (received: number, allowedIp: number, allowedArp: number, v6Dropped = 0, ageSec = 3600): FlowStats[] => [
  stats(TABLES.Classifier.id, cookie(OwnerCategory.Port, 7), received, true, ageSec),
  stats(TABLES.SpoofGuard.id, cookie(OwnerCategory.Port, 7), allowedIp, true),
  stats(TABLES.SpoofGuard.id, cookie(OwnerCategory.Port, 7), allowedArp, true),
  stats(TABLES.SpoofGuard.id, cookie(OwnerCategory.Port, 7), v6Dropped, false),
  stats(TABLES.SpoofGuard.id, cookie(OwnerCategory.Pipeline, 0), 1000, false),
  stats(TABLES.L2Lookup.id, cookie(OwnerCategory.Port, 7), 999, false),
];

describe('PortSecurityDropCounter', () => {
  it('counts what a port sent less what its SpoofGuard flows let on, between two dumps', () => {
    const c = new PortSecurityDropCounter();
    expect(c.observe(dump(100, 80, 20))).toEqual([]); // the first dump is the baseline
    expect(c.observe(dump(150, 110, 25))).toEqual([{ objectId: 7, dropped: 15 }]);
    expect(c.observe(dump(160, 120, 30, 4))).toEqual([]); // all let on
    expect(c.totals.get(7)).toBe(15);
  });

  it('starts a port over when a counter went down (its flow added again, the switch restarted), and forgets a port gone', () => {
    const c = new PortSecurityDropCounter();
    c.observe(dump(100, 80, 20));
    c.observe(dump(110, 85, 20));
    expect(c.totals.get(7)).toBe(5);
    expect(c.observe(dump(3, 0, 0))).toEqual([]);
    expect(c.observe(dump(13, 0, 0))).toEqual([{ objectId: 7, dropped: 10 }]);
    expect(c.observe([])).toEqual([]);
    expect(c.totals.has(7)).toBe(false);
  });

  it('counts a port from zero when its flow was installed since the previous dump: a VM spoofing in its first seconds is told of', () => {
    const c = new PortSecurityDropCounter();
    expect(c.observe([], 0)).toEqual([]);
    // Installed 5 s ago, 60 s after the previous dump that did not have it: every packet is new. Before: a baseline, nothing said.
    expect(c.observe(dump(30, 0, 2, 0, 5), 60_000)).toEqual([{ objectId: 7, dropped: 28 }]);
    // Added again 10 s ago (the counter went down), 60 s since the previous dump: from zero too.
    expect(c.observe(dump(12, 0, 2, 0, 10), 120_000)).toEqual([{ objectId: 7, dropped: 10 }]);
    expect(c.totals.get(7)).toBe(38);
  });

  it('takes every port of its first dump as a baseline, young or not (an earlier vnetd\'s flow, or one re-added over it that kept its counters)', () => {
    const c = new PortSecurityDropCounter();
    expect(c.observe(dump(30, 0, 2, 0, 5), 60_000)).toEqual([]);
    expect(c.observe(dump(40, 0, 2, 0, 65), 120_000)).toEqual([{ objectId: 7, dropped: 10 }]);
    // Older than the time since the previous dump, though absent from it: a baseline as well.
    const d = new PortSecurityDropCounter();
    d.observe([], 0);
    expect(d.observe(dump(30, 0, 2, 0, 90), 60_000)).toEqual([]);
  });
});
