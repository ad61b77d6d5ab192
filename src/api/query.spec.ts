import { ApiError } from '../resources/status';
import { decodeContinue, encodeContinue, parseListQuery } from './query';

function refusal(fn: () => unknown): ApiError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ApiError) return err;
    throw err;
  }
  throw new Error('not refused');
}

describe('parseListQuery limit', () => {
  it('pages only for a limit above 0: 0 or a negative one is the whole list, as kube-apiserver reads it (QA-127 F7: -1 was a 400)', () => {
    expect(parseListQuery({ limit: '5' }).limit).toBe(5);
    expect(parseListQuery({}).limit).toBe(0);
    expect(parseListQuery({ limit: '0' }).limit).toBe(0);
    expect(parseListQuery({ limit: '-1' }).limit).toBe(0);
    expect(parseListQuery({ limit: '-500' }).limit).toBe(0);
  });

  it('refuses a limit that is no integer with 400', () => {
    for (const limit of ['abc', '1.5', 'NaN']) {
      const err = refusal(() => parseListQuery({ limit }));
      expect({ code: err.code, reason: err.reason, message: err.message }).toEqual({ code: 400, reason: 'BadRequest', message: `limit must be an integer, got "${limit}"` });
    }
  });
});

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
