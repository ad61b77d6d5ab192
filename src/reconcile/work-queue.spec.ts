import { ExponentialBackoffRateLimiter } from './rate-limiter';
import { WorkQueue } from './work-queue';

/** Resolves true if p settles within the current macrotask turn. */
async function settled<T>(p: Promise<T>): Promise<boolean> {
  let done = false;
  void p.then(() => (done = true));
  await Promise.resolve();
  await Promise.resolve();
  return done;
}

describe('WorkQueue', () => {
  afterEach(() => jest.useRealTimers());

  it('hands keys out in FIFO order and deduplicates queued keys', async () => {
    const q = new WorkQueue();
    q.add('a');
    q.add('b');
    q.add('a');
    expect(q.len()).toBe(2);
    expect(await q.get()).toBe('a');
    expect(await q.get()).toBe('b');
    expect(q.len()).toBe(0);
  });

  it('does not hand a key being processed to a second worker; re-adds run after done', async () => {
    const q = new WorkQueue();
    q.add('a');
    expect(await q.get()).toBe('a');
    q.add('a');
    q.add('a');
    expect(q.len()).toBe(0);
    const second = q.get();
    expect(await settled(second)).toBe(false);
    q.done('a');
    expect(await second).toBe('a');
    q.done('a');
    expect(q.len()).toBe(0);
    expect(q.processingCount()).toBe(0);
  });

  it('wakes a waiting worker on add', async () => {
    const q = new WorkQueue();
    const p = q.get();
    expect(await settled(p)).toBe(false);
    q.add('x');
    expect(await p).toBe('x');
  });

  it('addAfter delays and keeps the earliest of several delays', async () => {
    jest.useFakeTimers();
    const q = new WorkQueue();
    q.addAfter('a', 100);
    q.addAfter('a', 50);
    q.addAfter('a', 200);
    expect(q.delayedCount()).toBe(1);
    jest.advanceTimersByTime(49);
    expect(q.len()).toBe(0);
    jest.advanceTimersByTime(1);
    expect(q.len()).toBe(1);
    jest.advanceTimersByTime(500);
    expect(q.len()).toBe(1); // the later timers were replaced, not stacked
    q.addAfter('b', 0);
    expect(q.len()).toBe(2);
  });

  it('cancelDelayed drops a pending delayed add of that key only', async () => {
    jest.useFakeTimers();
    const q = new WorkQueue();
    q.addAfter('a', 100);
    q.addAfter('b', 100);
    q.cancelDelayed('a');
    q.cancelDelayed('nothing');
    expect(q.delayedCount()).toBe(1);
    jest.advanceTimersByTime(100);
    expect(q.len()).toBe(1);
    expect(await q.get()).toBe('b');
  });

  it('backs off exponentially per key and forget resets it', async () => {
    jest.useFakeTimers();
    const q = new WorkQueue({ baseDelayMs: 5, maxDelayMs: 40 });
    const delays: number[] = [];
    for (let i = 0; i < 6; i++) {
      q.addRateLimited('k');
      let ms = 0;
      while (q.len() === 0 && ms < 1000) {
        jest.advanceTimersByTime(1);
        ms++;
      }
      delays.push(ms);
      q.done((await q.get()) as string);
    }
    expect(delays).toEqual([5, 10, 20, 40, 40, 40]);
    expect(q.numRequeues('k')).toBe(6);
    q.forget('k');
    expect(q.numRequeues('k')).toBe(0);
  });

  it('keeps backoff separate per key', () => {
    const rl = new ExponentialBackoffRateLimiter({ baseDelayMs: 5, maxDelayMs: 30_000 });
    expect([rl.when('a'), rl.when('a'), rl.when('a'), rl.when('b')]).toEqual([5, 10, 20, 5]);
    for (let i = 0; i < 2000; i++) rl.when('c');
    expect(rl.when('c')).toBe(30_000); // no overflow to Infinity or NaN
    rl.forget('a');
    expect(rl.when('a')).toBe(5);
    expect(() => new ExponentialBackoffRateLimiter({ baseDelayMs: 10, maxDelayMs: 5 })).toThrow(RangeError);
  });

  it('shutDown lets workers drain queued keys, then returns undefined', async () => {
    const q = new WorkQueue();
    q.add('a');
    q.add('b');
    q.shutDown();
    q.add('c'); // ignored
    expect(await q.get()).toBe('a');
    expect(await q.get()).toBe('b');
    expect(await q.get()).toBeUndefined();
  });

  it('shutDown releases idle workers and cancels delayed keys', async () => {
    jest.useFakeTimers();
    const q = new WorkQueue();
    const idle = q.get();
    q.addAfter('later', 1000);
    q.shutDown();
    expect(await idle).toBeUndefined();
    expect(q.delayedCount()).toBe(0);
    jest.advanceTimersByTime(2000);
    expect(q.len()).toBe(0);
  });

  it('shutDownWithDrain waits for keys being processed', async () => {
    const q = new WorkQueue();
    q.add('a');
    const key = await q.get();
    const drained = q.shutDownWithDrain();
    expect(await settled(drained)).toBe(false);
    q.done(key as string);
    await drained;
  });

  it('never runs one key on two workers at once', async () => {
    const q = new WorkQueue();
    const active = new Set<string>();
    const processed: string[] = [];
    let violations = 0;
    const worker = async () => {
      for (;;) {
        const key = await q.get();
        if (key === undefined) return;
        if (active.has(key)) violations++;
        active.add(key);
        // Yield a few times so other workers get a chance to collide.
        for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
        if (processed.length < 200) q.add(key); // re-add while processing
        processed.push(key);
        active.delete(key);
        q.done(key);
      }
    };
    for (const k of ['a', 'b', 'c', 'a', 'b']) q.add(k);
    const workers = [worker(), worker(), worker(), worker()];
    while (processed.length < 200) await new Promise((r) => setImmediate(r));
    await q.shutDownWithDrain();
    // Keys re-added before shutdown are still handed out; let workers finish them.
    await Promise.all(workers);
    expect(violations).toBe(0);
    expect(new Set(processed)).toEqual(new Set(['a', 'b', 'c']));
  });
});
