/**
 * The runner's slow native calls share libuv's thread pool with the store's WAL syncs: at
 * most WORKER_LANES of them run at once, the rest wait their turn in order, and a call that
 * fails frees its lane.
 */
import { WORKER_LANES, inLane } from './native';

describe('worker lanes for slow native calls', () => {
  it(`runs at most ${WORKER_LANES} at once, in the order called; a failure frees its lane`, async () => {
    let running = 0, most = 0;
    const started: number[] = [];
    const finish: Array<() => void> = [];
    const call = (i: number, fail = false) =>
      inLane(async () => {
        started.push(i);
        most = Math.max(most, ++running);
        await new Promise<void>((go) => finish.push(go));
        running--;
        if (fail) throw new Error(`call ${i} failed`);
        return i;
      });
    const calls = [call(0, true), call(1), call(2), call(3), call(4)];
    const results = Promise.allSettled(calls);
    for (let done = 0; done < calls.length; done++) {
      await new Promise((go) => setImmediate(go));
      expect(running).toBeLessThanOrEqual(WORKER_LANES);
      finish.shift()!();
    }
    const settled = await results;
    expect(most).toBe(WORKER_LANES);
    expect(started).toEqual([0, 1, 2, 3, 4]);
    expect(settled[0]!.status).toBe('rejected');
    expect(settled.slice(1).map((r) => (r.status === 'fulfilled' ? r.value : -1))).toEqual([1, 2, 3, 4]);
    // Every lane is free again: as many calls as lanes start at once.
    const again = Array.from({ length: WORKER_LANES }, (_v, i) => inLane(async () => i));
    expect(await Promise.all(again)).toEqual([...Array(WORKER_LANES).keys()]);
  });
});
