import { FencedOffError, type Store } from '../store/store';
import { SqliteStore } from '../store/sqlite-store';
import { LEADER_GENERATION_KEY, raiseLeaderGeneration } from './leader-generation';

describe('leader generation', () => {
  let kv: Store;
  beforeEach(() => {
    kv = SqliteStore.open(':memory:');
  });
  afterEach(async () => {
    await kv.close();
  });

  it('each term raises it by one, or to at least what a switch was seen to hold', async () => {
    expect(await raiseLeaderGeneration(kv)).toBe(1n);
    expect(await raiseLeaderGeneration(kv)).toBe(2n);
    // Beyond 2^53: kept exact as a decimal string.
    expect(await raiseLeaderGeneration(kv, 2n ** 60n + 1n)).toBe(2n ** 60n + 1n);
    expect(await raiseLeaderGeneration(kv, 5n)).toBe(2n ** 60n + 2n);
    expect((await kv.get(LEADER_GENERATION_KEY))?.value).toEqual({ generation: String(2n ** 60n + 2n) });
  });

  it('a fenced-off write is not retried and raises nothing', async () => {
    await raiseLeaderGeneration(kv);
    const deposed: Store = { ...kv, get: (k) => kv.get(k), txn: async () => Promise.reject(new FencedOffError('/leader/1')) };
    await expect(raiseLeaderGeneration(deposed, 100n)).rejects.toBeInstanceOf(FencedOffError);
    expect(await raiseLeaderGeneration(kv)).toBe(2n);
  });
});
