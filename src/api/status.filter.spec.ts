import pino from 'pino';
import { GRPCResourceExhastedError, GRPCUnavailableError } from 'etcd3';
import { toApiError } from './status.filter';

describe('toApiError', () => {
  const log = pino({ level: 'silent' });

  it('answers an unreachable store 503 with Retry-After, not 500 (client-go and the agents retry it)', () => {
    const err = toApiError(new GRPCUnavailableError('14 UNAVAILABLE: No connection established'), log);
    expect(err.toStatus()).toMatchObject({ code: 503, reason: 'ServiceUnavailable', message: expect.stringContaining('the store is unavailable, retry shortly'), details: { retryAfterSeconds: 1 } });
    expect(toApiError(new Error('boom'), log).code).toBe(500);
  });

  it('answers a full store 507 InsufficientStorage, saying what an operator does, without Retry-After (no retry helps)', () => {
    const err = toApiError(new GRPCResourceExhastedError('8 RESOURCE_EXHAUSTED: etcdserver: mvcc: database space exceeded'), log);
    expect({ code: err.code, reason: err.reason, retry: err.details?.retryAfterSeconds }).toEqual({ code: 507, reason: 'InsufficientStorage', retry: undefined });
    expect(err.message).toMatch(/^the store is full and refuses writes .*reads go on\. An operator compacts and defragments etcd, then disarms its NOSPACE alarm/);
  });
});
