import pino from 'pino';
import { GRPCUnavailableError } from 'etcd3';
import { toApiError } from './status.filter';

describe('toApiError', () => {
  const log = pino({ level: 'silent' });

  it('answers an unreachable store 503 with Retry-After, not 500 (client-go and the agents retry it)', () => {
    const err = toApiError(new GRPCUnavailableError('14 UNAVAILABLE: No connection established'), log);
    expect(err.toStatus()).toMatchObject({ code: 503, reason: 'ServiceUnavailable', message: expect.stringContaining('the store is unavailable, retry shortly'), details: { retryAfterSeconds: 1 } });
    expect(toApiError(new Error('boom'), log).code).toBe(500);
  });
});
