import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { conntrackCondition, networkLimitFor, zoneLimitsFor } from './conntrack-pressure';
import { vswitchdControlSocket } from './unixctl';

describe('ConntrackPressure', () => {
  it('is False with room, True from 90% (and until below 80%), ConntrackTableFull at the limit', () => {
    const max = 1000;
    expect(conntrackCondition({ entries: 0, max })).toEqual({ status: 'False', reason: 'ConntrackTableHasRoom', message: 'under 90% of the 1000 connection-tracking entries in use' });
    expect(conntrackCondition({ entries: 899, max }).status).toBe('False');
    const nearly = conntrackCondition({ entries: 900, max });
    expect(nearly).toMatchObject({ status: 'True', reason: 'ConntrackTableNearlyFull' });
    expect(nearly.message).toMatch(/^90% or more of the 1000 connection-tracking entries were in use .*: at the limit, new connections to load balancers on this node are dropped; raise the limit \(ovs-appctl dpctl\/ct-set-maxconns N\)/);
    // Hovering between 80% and 90%: stays as it was, so it does not flap.
    expect(conntrackCondition({ entries: 850, max }, nearly).status).toBe('True');
    expect(conntrackCondition({ entries: 850, max }, { status: 'False' }).status).toBe('False');
    expect(conntrackCondition({ entries: 799, max }, nearly).status).toBe('False');
    const full = conntrackCondition({ entries: 1000, max });
    expect(full).toMatchObject({ status: 'True', reason: 'ConntrackTableFull' });
    expect(full.message).toMatch(/^all 1000 connection-tracking entries are in use: new connections to load balancers on this node are dropped until entries expire/);
    // The message carries no entry count: readings that move within a band write nothing.
    expect(conntrackCondition({ entries: 950, max })).toEqual(conntrackCondition({ entries: 910, max }));
    // A limit of 0 (ct-set-maxconns 0) is full.
    expect(conntrackCondition({ entries: 0, max: 0 }).reason).toBe('ConntrackTableFull');
  });
});

describe('networkLimitFor', () => {
  it('gives each network its share of the table, at least one entry, and no limit at 100%', () => {
    expect(networkLimitFor(3_000_000, 50)).toBe(1_500_000);
    expect(networkLimitFor(8, 50)).toBe(4);
    expect(networkLimitFor(9, 33)).toBe(2);
    expect(networkLimitFor(1, 1)).toBe(1);
    // 0 is ovs-vswitchd's "unlimited": a zone is never limited to nothing.
    expect(networkLimitFor(0, 50)).toBe(1);
    expect(networkLimitFor(8, 100)).toBe(0);
  });
});

describe('vswitchdControlSocket', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'vnetd-ctl-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('finds ovs-vswitchd\'s unixctl socket beside the db socket: PID.ctl from its pidfile, or the --unixctl name; none for tcp/ssl or when absent', () => {
    const endpoint = `unix:${join(dir, 'db.sock')}`;
    expect(vswitchdControlSocket(endpoint)).toBeUndefined();
    writeFileSync(join(dir, 'ovs-vswitchd.pid'), '4242\n');
    expect(vswitchdControlSocket(endpoint)).toBeUndefined();
    writeFileSync(join(dir, 'ovs-vswitchd.4242.ctl'), '');
    expect(vswitchdControlSocket(endpoint)).toBe(join(dir, 'ovs-vswitchd.4242.ctl'));
    writeFileSync(join(dir, 'ovs-vswitchd.ctl'), '');
    expect(vswitchdControlSocket(endpoint)).toBe(join(dir, 'ovs-vswitchd.ctl'));
    expect(vswitchdControlSocket('tcp:10.0.0.1:6640')).toBeUndefined();
    expect(vswitchdControlSocket('ssl:10.0.0.1:6640')).toBeUndefined();
    expect(vswitchdControlSocket('garbage')).toBeUndefined();
  });
});

describe('zoneLimitsFor', () => {
  const zones = new Map([[1, 'a/x'], [2, 'a/y'], [3, 'a/z'], [4, 'b/x']]);
  it('splits a namespace\'s share evenly among its networks, each within a network\'s share (QA-151 F2)', () => {
    expect(zoneLimitsFor(3_000_000, { network: 50, namespace: 50 }, zones)).toEqual(new Map([[1, 500_000], [2, 500_000], [3, 500_000], [4, 1_500_000]]));
    expect(zoneLimitsFor(3_000_000, { network: 20, namespace: 90 }, zones)).toEqual(new Map([[1, 600_000], [2, 600_000], [3, 600_000], [4, 600_000]]));
    // The sum of a namespace's limits never passes its share.
    const limits = zoneLimitsFor(100, { network: 50, namespace: 50 }, zones);
    expect(limits.get(1)! + limits.get(2)! + limits.get(3)!).toBeLessThanOrEqual(50);
  });
  it('lifts either limit at 100%, both: no zone limited; and gives every zone at least one entry', () => {
    expect(zoneLimitsFor(100, { network: 100, namespace: 50 }, zones)).toEqual(new Map([[1, 16], [2, 16], [3, 16], [4, 50]]));
    expect(zoneLimitsFor(100, { network: 50, namespace: 100 }, zones)).toEqual(new Map([[1, 50], [2, 50], [3, 50], [4, 50]]));
    expect(zoneLimitsFor(100, { network: 100, namespace: 100 }, zones)).toEqual(new Map());
    expect(zoneLimitsFor(2, { network: 50, namespace: 50 }, zones).get(1)).toBe(1);
  });
});
