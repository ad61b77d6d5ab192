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

  it('answers a SQLite data dir that is full or read-only 507 InsufficientStorage naming it, not a 500 "vnetd\'s fault"', () => {
    const sqliteError = (code: string, message: string) => Object.assign(new Error(message), { code });
    const full = toApiError(sqliteError('SQLITE_FULL', 'database or disk is full'), log);
    expect({ code: full.code, reason: full.reason, retry: full.details?.retryAfterSeconds }).toEqual({ code: 507, reason: 'InsufficientStorage', retry: undefined });
    expect(full.message).toMatch(/^the store refuses writes: its data dir's file system is full .*frees space there .*database or disk is full$/);
    const readOnly = toApiError(sqliteError('SQLITE_READONLY', 'attempt to write a readonly database'), log);
    expect(readOnly.code).toBe(507);
    expect(readOnly.message).toMatch(/read-only/);
    // Other SQLite errors are still vnetd's.
    expect(toApiError(sqliteError('SQLITE_CONSTRAINT_UNIQUE', 'UNIQUE constraint failed'), log).code).toBe(500);
  });

  it('answers a full store 507 InsufficientStorage, saying what an operator does, without Retry-After (no retry helps)', () => {
    const err = toApiError(new GRPCResourceExhastedError('8 RESOURCE_EXHAUSTED: etcdserver: mvcc: database space exceeded'), log);
    expect({ code: err.code, reason: err.reason, retry: err.details?.retryAfterSeconds }).toEqual({ code: 507, reason: 'InsufficientStorage', retry: undefined });
    expect(err.message).toMatch(/^the store is full and refuses writes .*reads go on\. An operator compacts and defragments etcd, then disarms its NOSPACE alarm/);
  });
});
