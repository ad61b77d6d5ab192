import { throttledEnqueue } from './throttle';
import type { WorkQueue } from './work-queue';

/** Records what the throttle asks of the queue. */
function fakeQueue() {
  const calls: string[] = [];
  const q = { add: (k: string) => calls.push(`add ${k}`), addAfter: (k: string, ms: number) => calls.push(`after ${k} ${ms}`) } as unknown as WorkQueue;
  return { q, calls };
}

describe('throttledEnqueue', () => {
  it('queues the first event of a quiet key at once and folds a burst into one at the end of the period', () => {
    let t = 1000;
    const { q, calls } = fakeQueue();
    const enqueue = throttledEnqueue(q, 200, { clock: () => t });
    enqueue('n');
    t += 10;
    enqueue('n');
    t += 50;
    enqueue('n');
    enqueue('m');
    expect(calls).toEqual(['add n', 'after n 190', 'after n 140', 'add m']);
    // The period after the folded one: again one per period, never two inside one.
    t = 1200;
    enqueue('n');
    expect(calls.at(-1)).toBe('after n 200');
    t = 1700;
    enqueue('n');
    expect(calls.at(-1)).toBe('add n');
  });

  it('forgets keys whose period has long passed (deleted networks), acting for them as for new ones (QA-115: one entry per key ever seen)', () => {
    let t = 1000;
    const { q, calls } = fakeQueue();
    const enqueue = throttledEnqueue(q, 200, { clock: () => t });
    for (let i = 0; i < 1500; i++) enqueue(`old${i}`);
    t += 200;
    for (let i = 0; i < 1500; i++) enqueue(`new${i}`);
    expect(enqueue.tracked()).toBeLessThan(2000);
    enqueue('old1');
    expect(calls.at(-1)).toBe('add old1');
  });

  it('trailing: even the first event waits one period', () => {
    let t = 1000;
    const { q, calls } = fakeQueue();
    const enqueue = throttledEnqueue(q, 200, { leading: false, clock: () => t });
    enqueue('n');
    t += 50;
    enqueue('n');
    t = 1250;
    enqueue('n');
    expect(calls).toEqual(['after n 200', 'after n 150', 'after n 150']);
  });
});
