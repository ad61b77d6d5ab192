import { ApiError } from '../resources/status';
import { decodeContinue, encodeContinue } from './query';

function refusal(fn: () => unknown): ApiError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ApiError) return err;
    throw err;
  }
  throw new Error('not refused');
}

describe('decodeContinue', () => {
  const forged = (rv: unknown) => Buffer.from(JSON.stringify({ v: 'vnet.dev/v1', rv, start: '/vnet.dev/virtualports/t1/a' })).toString('base64url');

  it('reads back what encodeContinue wrote', () => {
    expect(decodeContinue(encodeContinue({ rv: 42, start: '/x/y' }))).toEqual({ rv: 42, start: '/x/y' });
  });

  it('refuses a token whose revision no list was read at (0, negative, fractional) with 400, not a 500 from the store', () => {
    for (const rv of [0, -1, 1.5, '7', 2 ** 60]) {
      const err = refusal(() => decodeContinue(forged(rv)));
      expect({ code: err.code, reason: err.reason }).toEqual({ code: 400, reason: 'BadRequest' });
    }
  });
});
