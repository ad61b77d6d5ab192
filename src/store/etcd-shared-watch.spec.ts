import pino from 'pino';
import { SharedPrefixWatch } from './etcd-shared-watch';
import type { EtcdWatch } from './etcd-watch';
import type { WatchEvent } from './store';
import type { Batch } from './watch-hub';

describe('SharedPrefixWatch history', () => {
  afterEach(() => jest.useRealTimers());

  const event = (revision: number): WatchEvent => ({ type: 'put', kv: { key: `/p/k${revision}`, value: { n: revision }, createRevision: revision, modRevision: revision }, created: true });

  it('keeps recent batches for late watches, and forgets them once they are older than its time bound, quiet prefix or not', () => {
    jest.useFakeTimers();
    let send!: (b: Batch) => void;
    const channel = new SharedPrefixWatch('/p/', 0, pino({ level: 'silent' }), {
      open: (_after, onBatch) => ((send = onBatch), { stop: () => undefined } as unknown as EtcdWatch),
      closed: () => undefined,
      fail: () => undefined,
    });
    const keep = channel.subscribe(() => undefined, undefined, undefined);
    for (let r = 1; r <= 5; r++) send({ revision: r, events: [event(r)] });
    expect(channel.historySize()).toEqual({ batches: 5, events: 5 });
    // A watch starting behind replays from memory.
    const seen: number[] = [];
    const late = channel.subscribe((ev) => seen.push(ev.kv.modRevision), 2, undefined);
    expect(late).toBeDefined();
    jest.advanceTimersByTime(0);
    expect(seen).toEqual([3, 4, 5]);
    // No batch since, two minutes on: the history is gone but for the newest batch, and a
    // watch needing older revisions is told so (it opens an etcd watch of its own).
    jest.advanceTimersByTime(120_000);
    expect(channel.historySize()).toEqual({ batches: 1, events: 1 });
    expect(channel.subscribe(() => undefined, 2, undefined)).toBeUndefined();
    expect(channel.subscribe(() => undefined, 4, undefined)).toBeDefined();
    keep?.stop();
    channel.stop();
  });
});
