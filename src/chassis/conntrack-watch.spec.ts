import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { JsonRpcConnection, type Json } from '../ovsdb';
import { ConntrackWatch } from './conntrack-watch';

/**
 * A stand-in for ovs-vswitchd's unixctl socket (ovs-vswitchd.ctl beside the db socket, where
 * vswitchdControlSocket looks): the dpctl commands ConntrackWatch sends, over a table of
 * `entries` of `max` and per-zone limits; `setFails`, when set, is ct-set-limits' error.
 */
function fakeVswitchd(dir: string) {
  const state = { entries: 5, max: 100, limits: new Map<number, number>(), setFails: undefined as string | undefined };
  const answer = (method: string, params: Json[]): Json => {
    const args = params.map(String);
    switch (method) {
      case 'dpctl/ct-get-nconns':
        return `${state.entries}\n`;
      case 'dpctl/ct-get-maxconns':
        return `${state.max}\n`;
      case 'dpctl/ct-get-limits':
        return [...state.limits].map(([zone, limit]) => `zone=${zone},limit=${limit},count=0\n`).join('');
      case 'dpctl/ct-set-limits':
        if (state.setFails) throw new Error(state.setFails);
        for (const a of args) {
          const m = /^zone=(\d+),limit=(\d+)$/.exec(a);
          if (m) state.limits.set(Number(m[1]), Number(m[2]));
        }
        return '';
      case 'dpctl/ct-del-limits':
        for (const z of args.join(',').replace(/^zone=/, '').split(',')) state.limits.delete(Number(z));
        return '';
      default:
        throw new Error(`unknown command ${method}`);
    }
  };
  const server: Server = createServer((s) => new JsonRpcConnection(s).setRequestHandler(answer));
  return { state, server, listening: new Promise<void>((resolve) => server.listen(join(dir, 'ovs-vswitchd.ctl'), resolve)) };
}

describe('ConntrackWatch', () => {
  let dir: string;
  let vswitchd: ReturnType<typeof fakeVswitchd>;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vnetd-ct-'));
    vswitchd = fakeVswitchd(dir);
    await vswitchd.listening;
  });
  afterEach(async () => {
    await new Promise((resolve) => vswitchd.server.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });

  function watch(share: { now: number }, zones: () => Map<number, string> = () => new Map([[7, 'tenant/net']])) {
    const lines: Array<{ event?: string; level: number }> = [];
    const changes: string[] = [];
    const w = new ConntrackWatch({
      everyMs: 0,
      sessions: () => [['hv1', { endpoint: `unix:${join(dir, 'db.sock')}`, connected: true }]],
      datapathOf: () => undefined,
      networkShareOf: () => share.now,
      networkZones: zones,
      onChange: (node) => void changes.push(node),
      logger: pino({ level: 'info' }, { write: (l: string) => void lines.push(JSON.parse(l) as { event?: string; level: number }) }),
    });
    const limitFailures = () => lines.filter((l) => l.event === 'node.conntrack_limit_failed');
    return { w, changes, limitFailures };
  }

  it('says ConntrackPressure from the usage it read when the zone limits cannot be set, and says that failure apart, once, until they can', async () => {
    const share = { now: 50 };
    const { w, changes, limitFailures } = watch(share);
    await w.poll();
    expect(w.condition('hv1')).toMatchObject({ status: 'False', reason: 'ConntrackTableHasRoom' });
    expect(w.usage()).toEqual([{ node: 'hv1', entries: 5, max: 100, networkLimit: 50 }]);
    expect(vswitchd.state.limits).toEqual(new Map([[7, 50]]));
    expect(changes).toEqual(['hv1']);

    // A new share, which the switch refuses: the usage was read, so the condition stands.
    share.now = 20;
    vswitchd.state.setFails = 'ct-set-limits: Operation not permitted';
    vswitchd.state.entries = 95;
    await w.poll();
    expect(w.condition('hv1')).toMatchObject({ status: 'True', reason: 'ConntrackTableNearlyFull' });
    // The limit the switch still has, not the one it refused.
    expect(w.usage()).toEqual([{ node: 'hv1', entries: 95, max: 100, networkLimit: 50 }]);
    expect(limitFailures()).toHaveLength(1);
    expect(limitFailures()[0]!.level).toBe(40);
    await w.poll();
    expect(limitFailures()).toHaveLength(1);
    expect(changes).toEqual(['hv1', 'hv1']);

    // Set again: the new limit, and a failure after that is said again.
    vswitchd.state.setFails = undefined;
    await w.poll();
    expect(w.usage()).toEqual([{ node: 'hv1', entries: 95, max: 100, networkLimit: 20 }]);
    expect(vswitchd.state.limits).toEqual(new Map([[7, 20]]));
    share.now = 30;
    vswitchd.state.setFails = 'ct-set-limits: Operation not permitted';
    await w.poll();
    expect(limitFailures()).toHaveLength(2);
    expect(w.usage()[0]!.networkLimit).toBe(20);
  });

  it('says the condition at its first reading although no limit could be set yet (none in force: 0)', async () => {
    vswitchd.state.setFails = 'ct-set-limits: Operation not permitted';
    const { w, limitFailures } = watch({ now: 50 });
    await w.poll();
    expect(w.condition('hv1')).toMatchObject({ status: 'False', reason: 'ConntrackTableHasRoom' });
    expect(w.usage()).toEqual([{ node: 'hv1', entries: 5, max: 100, networkLimit: 0 }]);
    expect(limitFailures()).toHaveLength(1);
  });

  it('removes the limit of a network gone while the switch refused limits, once it takes them again', async () => {
    let zones = new Map([[7, 'tenant/a']]);
    const { w } = watch({ now: 50 }, () => zones);
    await w.poll();
    expect(vswitchd.state.limits).toEqual(new Map([[7, 50]]));
    // Network a goes and b comes while ct-set-limits fails: zone 7's limit is still on the switch.
    zones = new Map([[8, 'tenant/b']]);
    vswitchd.state.setFails = 'ct-set-limits: Operation not permitted';
    await w.poll();
    expect(vswitchd.state.limits).toEqual(new Map([[7, 50]]));
    vswitchd.state.setFails = undefined;
    await w.poll();
    // Before: zone 7 was forgotten with the failed round and kept its limit for good.
    expect(vswitchd.state.limits).toEqual(new Map([[8, 50]]));
  });

  it('holds the networks of one namespace to the namespace\'s share together, and sets them again when a network joins or leaves it (QA-151 F2)', async () => {
    // Tenant evil has two networks, vic one: at 50% each, evil's two held the whole table and vic's new VIP connections timed out.
    let zones = new Map([[7, 'evil/net'], [8, 'evil/under'], [9, 'vic/net']]);
    const { w } = watch({ now: 50 }, () => zones);
    await w.poll();
    expect(vswitchd.state.limits).toEqual(new Map([[7, 25], [8, 25], [9, 50]]));
    expect(w.usage()[0]!.networkLimit).toBe(50);
    zones = new Map([[7, 'evil/net'], [9, 'vic/net']]);
    await w.poll();
    expect(vswitchd.state.limits).toEqual(new Map([[7, 50], [9, 50]]));
  });

  it('goes Unknown when the usage itself cannot be read, as before', async () => {
    const { w } = watch({ now: 50 });
    await w.poll();
    vswitchd.state.max = -1;
    await w.poll();
    expect(w.condition('hv1')).toMatchObject({ status: 'Unknown', reason: 'ConntrackUnreadable' });
    expect(w.usage()).toEqual([]);
  });
});
