import pino from 'pino';
import { Controller } from './controller';
import { Informer } from './informer';
import { MemoryStore } from './testing/memory-store';
import { settle, until } from './testing/until';

describe('Controller', () => {
  const controllers: Controller[] = [];
  const make = (...args: ConstructorParameters<typeof Controller>) => {
    const c = new Controller(...args);
    controllers.push(c);
    return c;
  };
  afterEach(async () => {
    await Promise.all(controllers.splice(0).map((c) => c.stop()));
  });

  it('reconciles enqueued keys once each, deduplicating bursts', async () => {
    const seen: string[] = [];
    const c = make({ name: 't', reconcile: async (k) => void seen.push(k) });
    for (const k of ['a', 'b', 'a', 'a', 'c']) c.enqueue(k);
    c.start();
    await until(() => seen.length >= 3);
    await settle();
    expect(seen).toEqual(['a', 'b', 'c']);
  });

  it('gives the event loop a turn while it works through a long queue of reconciles that need no I/O', async () => {
    const busy = (ms: number) => {
      const end = performance.now() + ms;
      while (performance.now() < end);
    };
    let done = 0;
    const c = make({ name: 'busy', workers: 4, reconcile: async () => void (busy(2), done++) });
    for (let i = 0; i < 200; i++) c.enqueue(`k${i}`);
    // 200 x 2 ms of work in microtasks alone: without a turn, the timer waits for all of it.
    const t0 = performance.now();
    const timerAfter = new Promise<number>((resolve) => setTimeout(() => resolve(performance.now() - t0), 0));
    c.start();
    const waited = await timerAfter;
    expect(done).toBeLessThan(200);
    expect(waited).toBeLessThan(150);
    // 400 ms of work at least; on a loaded machine (CI beside other jobs) its turns take longer than until's default 2 s.
    await until(() => done === 200, 15_000);
  });

  it('retries a failing key with growing backoff, then forgets it on success', async () => {
    const times: number[] = [];
    let failuresLeft = 4;
    const lines: string[] = [];
    const logger = pino({ level: 'warn' }, { write: (l: string) => void lines.push(l) });
    const c = make({
      name: 'retry',
      baseDelayMs: 10,
      maxDelayMs: 1000,
      logger,
      reconcile: async () => {
        times.push(Date.now());
        if (failuresLeft-- > 0) throw new Error('not yet');
      },
    });
    c.enqueue('k');
    c.start();
    await until(() => times.length === 5, 5000, 'five attempts');
    const gaps = times.slice(1).map((t, i) => t - times[i]);
    // 10, 20, 40, 80 ms nominal; timers only promise "not earlier" (allow 1 ms of clock rounding).
    [10, 20, 40, 80].forEach((min, i) => expect(gaps[i]).toBeGreaterThanOrEqual(min - 1));
    expect(c.queue.numRequeues('k')).toBe(0);
    expect(lines).toHaveLength(4);
    expect(JSON.parse(lines[3])).toMatchObject({ controller: 'retry', key: 'k', attempt: 4, msg: 'reconcile failed, will retry with backoff' });
  });

  it('requeues after requeueAfterMs', async () => {
    jest.useFakeTimers({ doNotFake: ['setImmediate', 'queueMicrotask', 'nextTick'] });
    try {
      let calls = 0;
      const c = make({ name: 'poll', reconcile: async () => (++calls < 3 ? { requeueAfterMs: 1000 } : undefined) });
      c.enqueue('k');
      c.start();
      await until(() => calls === 1);
      jest.advanceTimersByTime(999);
      await settle();
      expect(calls).toBe(1);
      jest.advanceTimersByTime(1);
      await until(() => calls === 2);
      jest.advanceTimersByTime(1000);
      await until(() => calls === 3);
      jest.advanceTimersByTime(10_000);
      await settle();
      expect(calls).toBe(3);
    } finally {
      jest.useRealTimers();
    }
  });

  it('runs distinct keys in parallel but never one key twice at once', async () => {
    let active = 0;
    let maxActive = 0;
    const perKey = new Map<string, number>();
    let violations = 0;
    let done = 0;
    const c = make({
      name: 'par',
      workers: 4,
      reconcile: async (k) => {
        active++;
        maxActive = Math.max(maxActive, active);
        perKey.set(k, (perKey.get(k) ?? 0) + 1);
        if ((perKey.get(k) ?? 0) > 1) violations++;
        await new Promise((r) => setTimeout(r, 5));
        if (done < 20) c.enqueue(k); // an event arriving mid-reconcile
        perKey.set(k, (perKey.get(k) ?? 1) - 1);
        active--;
        done++;
      },
    });
    for (const k of ['a', 'b', 'c', 'd', 'e']) c.enqueue(k);
    c.start();
    await until(() => done >= 25, 5000);
    expect(violations).toBe(0);
    expect(maxActive).toBe(4);
  });

  it('stop() waits for in-flight reconciles and drops queued keys', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const seen: string[] = [];
    let finished = false;
    const c = make({
      name: 'stop',
      reconcile: async (k) => {
        seen.push(k);
        await gate;
        finished = true;
      },
    });
    c.enqueue('a');
    c.enqueue('b');
    c.start();
    await until(() => seen.length === 1);
    let stopped = false;
    const stopping = c.stop().then(() => (stopped = true));
    await settle();
    expect(stopped).toBe(false);
    release();
    await stopping;
    expect(finished).toBe(true);
    expect(seen).toEqual(['a']);
    expect(c.running).toBe(false);
    expect(() => c.start()).toThrow('cannot start');
    c.enqueue('c'); // ignored after stop, not an error
  });

  it('stop() does not wait for pending backoff timers', async () => {
    const c = make({ name: 'bo', baseDelayMs: 60_000, maxDelayMs: 60_000, logger: pino({ level: 'silent' }), reconcile: async () => Promise.reject(new Error('x')) });
    c.enqueue('k');
    c.start();
    await until(() => c.queue.delayedCount() === 1);
    await c.stop();
    expect(c.queue.delayedCount()).toBe(0);
  });

  it('is fed by an informer, with a mapping to other keys', async () => {
    const store = new MemoryStore();
    const ports = new Informer<{ network: string }>({
      store,
      prefix: '/ports/',
      decode: (kv) => kv.value as { network: string },
    });
    const reconciled: string[] = [];
    const c = make({ name: 'net', reconcile: async (k) => void reconciled.push(k) });
    c.watch(ports, (p) => [`net/${p.network}`]);
    ports.start();
    await ports.waitForSync();
    c.start();
    await store.txn([{ type: 'create', key: '/ports/p1', value: { network: 'red' } }]);
    await until(() => reconciled.includes('net/red'));
    await store.txn([{ type: 'update', key: '/ports/p1', value: { network: 'blue' } }]);
    await until(() => reconciled.includes('net/blue') && reconciled.filter((k) => k === 'net/red').length === 2);
    ports.stop();
    await store.close();
  });

  it('does not queue updates its filter says cannot matter, and still queues the rest', async () => {
    const store = new MemoryStore();
    const ports = new Informer<{ spec: string; status?: string }>({ store, prefix: '/ports/', decode: (kv) => kv.value as { spec: string; status?: string } });
    const reconciled: string[] = [];
    const c = make({ name: 'spec-only', reconcile: async (k) => void reconciled.push(k) });
    c.watch(ports, undefined, { ignoreUpdate: (o, n) => o.spec === n.spec });
    ports.start();
    await ports.waitForSync();
    c.start();
    await store.txn([{ type: 'create', key: '/ports/p1', value: { spec: 'a' } }]);
    await until(() => reconciled.length === 1);
    await store.txn([{ type: 'update', key: '/ports/p1', value: { spec: 'a', status: 'x' } }]);
    await store.txn([{ type: 'update', key: '/ports/p1', value: { spec: 'b', status: 'x' } }]);
    await until(() => reconciled.length === 2);
    await settle();
    expect(reconciled).toEqual(['/ports/p1', '/ports/p1']);
    ports.stop();
    await store.close();
  });
});
