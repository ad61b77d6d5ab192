import pino from 'pino';
import type { ApiClient } from './api-client';
import { ApiWatch } from './api-store';
import { PORTS } from '../store/kinds';

/** A client whose every watch ends at once with `status`, counting the watches opened. */
function refusingClient(status: number): { client: ApiClient; opened: () => number } {
  let opened = 0;
  const client = {
    watch: (_path: string, _onEvent: unknown, onEnd: (why: { status?: number; text?: string }) => void) => {
      opened++;
      setImmediate(() => onEnd({ status, text: status === 401 ? 'Unauthorized' : 'the store is unavailable' }));
      return { stop: () => undefined };
    },
  } as unknown as ApiClient;
  return { client, opened: () => opened };
}

describe('ApiWatch, refused again and again', () => {
  afterEach(() => jest.useRealTimers());

  it.each([
    [503, 'backs off to 5 s', 14, 26],
    [401, 'backs off to 30 s while the token is refused', 4, 8],
  ])('a %i: %s, and warns once, not at every attempt (QA-146 F3: every 2 s, a warning each)', async (status, _what, min, max) => {
    jest.useFakeTimers({ doNotFake: ['setImmediate'] });
    const lines: Array<{ level: number; event?: string }> = [];
    const log = pino({ level: 'debug' }, { write: (l: string) => void lines.push(JSON.parse(l) as { level: number }) });
    const { client, opened } = refusingClient(status);
    const w = new ApiWatch(client, PORTS, {}, () => undefined, 5, [], log);
    w.start();
    // A minute of failures.
    for (let t = 0; t < 60_000; t += 100) {
      await new Promise((r) => setImmediate(r));
      jest.advanceTimersByTime(100);
    }
    w.stop();
    // Before: every 2 s, about 35 in a minute.
    expect(opened()).toBeGreaterThanOrEqual(min);
    expect(opened()).toBeLessThanOrEqual(max);
    const failed = lines.filter((l) => l.event === 'agent.watch_failed');
    expect(failed.filter((l) => l.level === 40)).toHaveLength(1);
    expect(failed.filter((l) => l.level === 20).length).toBe(opened() - 1);
  });
});
