import { GRPCDeadlineExceededError, GRPCInvalidArgumentError, GRPCUnavailableError } from 'etcd3';
import { StoreError } from './store';
import { storeUnavailable } from './unavailable';

describe('storeUnavailable', () => {
  it("knows etcd3's unreachable-store errors and its open circuit breaker, and nothing else", () => {
    expect(storeUnavailable(new GRPCUnavailableError('14 UNAVAILABLE: No connection established'))).toBe(true);
    expect(storeUnavailable(new GRPCDeadlineExceededError('deadline'))).toBe(true);
    expect(storeUnavailable(Object.assign(new Error('Execution prevented because the circuit breaker is open'), { isBrokenCircuitError: true }))).toBe(true);
    expect(storeUnavailable(new GRPCInvalidArgumentError('bad'))).toBe(false);
    expect(storeUnavailable(new Error('boom'))).toBe(false);
    expect(storeUnavailable(undefined)).toBe(false);
  });

  it('sees them through the etcd store\'s wrapping (a StoreError with the client\'s error as its cause)', () => {
    const wrapped = (cause: unknown) => Object.assign(new StoreError(`etcd: ${(cause as Error).message}`), { cause });
    expect(storeUnavailable(wrapped(Object.assign(new Error('Execution prevented because the circuit breaker is open'), { isBrokenCircuitError: true })))).toBe(true);
    expect(storeUnavailable(wrapped(new GRPCUnavailableError('14 UNAVAILABLE')))).toBe(true);
    expect(storeUnavailable(wrapped(new GRPCInvalidArgumentError('bad')))).toBe(false);
  });
});
