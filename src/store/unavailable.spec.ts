import { GRPCDeadlineExceededError, GRPCInvalidArgumentError, GRPCUnavailableError } from 'etcd3';
import { StoreError } from './store';
import { storeFailure } from './unavailable';

describe('storeFailure', () => {
  it("tells etcd3's unreachable store and open circuit breaker (unavailable) from a call past its deadline (timeout), and nothing else", () => {
    expect(storeFailure(new GRPCUnavailableError('14 UNAVAILABLE: No connection established'))).toBe('unavailable');
    expect(storeFailure(new GRPCDeadlineExceededError('deadline'))).toBe('timeout');
    expect(storeFailure(Object.assign(new Error('Execution prevented because the circuit breaker is open'), { isBrokenCircuitError: true }))).toBe('unavailable');
    expect(storeFailure(new GRPCInvalidArgumentError('bad'))).toBeUndefined();
    expect(storeFailure(new Error('boom'))).toBeUndefined();
    expect(storeFailure(undefined)).toBeUndefined();
  });

  it('sees them through the etcd store\'s wrapping (a StoreError with the client\'s error as its cause)', () => {
    const wrapped = (cause: unknown) => Object.assign(new StoreError(`etcd: ${(cause as Error).message}`), { cause });
    expect(storeFailure(wrapped(Object.assign(new Error('Execution prevented because the circuit breaker is open'), { isBrokenCircuitError: true })))).toBe('unavailable');
    expect(storeFailure(wrapped(new GRPCUnavailableError('14 UNAVAILABLE')))).toBe('unavailable');
    expect(storeFailure(wrapped(new GRPCDeadlineExceededError('deadline')))).toBe('timeout');
    expect(storeFailure(wrapped(new GRPCInvalidArgumentError('bad')))).toBeUndefined();
  });
});
