import { GRPCDeadlineExceededError, GRPCInvalidArgumentError, GRPCResourceExhastedError, GRPCUnavailableError } from 'etcd3';
import { StoreError } from './store';
import { lostInFlight, storeFailure, storeMessage } from './unavailable';

describe('storeFailure', () => {
  it("tells etcd3's unreachable store and open circuit breaker (unavailable) from a call past its deadline (timeout), and nothing else", () => {
    expect(storeFailure(new GRPCUnavailableError('14 UNAVAILABLE: No connection established'))).toBe('unavailable');
    expect(storeFailure(new GRPCDeadlineExceededError('deadline'))).toBe('timeout');
    expect(storeFailure(Object.assign(new Error('Execution prevented because the circuit breaker is open'), { isBrokenCircuitError: true }))).toBe('unavailable');
    expect(storeFailure(new GRPCInvalidArgumentError('bad'))).toBeUndefined();
    expect(storeFailure(new Error('boom'))).toBeUndefined();
    expect(storeFailure(undefined)).toBeUndefined();
  });

  it('etcd at its space quota is full; a message too large is not', () => {
    const full = Object.assign(new StoreError('etcd: 8 RESOURCE_EXHAUSTED: etcdserver: mvcc: database space exceeded'), { cause: new GRPCResourceExhastedError('8 RESOURCE_EXHAUSTED: etcdserver: mvcc: database space exceeded') });
    expect(storeFailure(full)).toBe('full');
    expect(storeFailure(new GRPCResourceExhastedError('8 RESOURCE_EXHAUSTED: Received message larger than max (5402580 vs 4194304)'))).toBeUndefined();
  });

  it('a call whose connection was lost under it may have been applied: timeout, not unavailable', () => {
    expect(storeFailure(new GRPCUnavailableError('14 UNAVAILABLE: read ECONNRESET'))).toBe('timeout');
    expect(storeFailure(new GRPCUnavailableError('14 UNAVAILABLE: Connection dropped'))).toBe('timeout');
    expect(storeFailure(Object.assign(new StoreError('etcd: 14 UNAVAILABLE: read ECONNRESET'), { cause: new GRPCUnavailableError('14 UNAVAILABLE: read ECONNRESET') }))).toBe('timeout');
    expect(lostInFlight(new GRPCUnavailableError('14 UNAVAILABLE: read ECONNRESET'))).toBe(true);
    expect(lostInFlight(new GRPCUnavailableError('14 UNAVAILABLE: No connection established'))).toBe(false);
    expect(lostInFlight(new Error('read ECONNRESET'))).toBe(false);
  });

  it('sees them through the etcd store\'s wrapping (a StoreError with the client\'s error as its cause)', () => {
    const wrapped = (cause: unknown) => Object.assign(new StoreError(`etcd: ${(cause as Error).message}`), { cause });
    expect(storeFailure(wrapped(Object.assign(new Error('Execution prevented because the circuit breaker is open'), { isBrokenCircuitError: true })))).toBe('unavailable');
    expect(storeFailure(wrapped(new GRPCUnavailableError('14 UNAVAILABLE')))).toBe('unavailable');
    expect(storeFailure(wrapped(new GRPCDeadlineExceededError('deadline')))).toBe('timeout');
    expect(storeFailure(wrapped(new GRPCInvalidArgumentError('bad')))).toBeUndefined();
  });
});

describe('storeMessage', () => {
  it("drops gRPC's empty parts: a trailing empty Resolution note, Last error: null (QA-146 F4)", () => {
    expect(storeMessage('etcd: 14 UNAVAILABLE: No connection established. Last error: Error: connect ECONNREFUSED 127.0.0.1:18470. Resolution note: ')).toBe('etcd: 14 UNAVAILABLE: No connection established. Last error: Error: connect ECONNREFUSED 127.0.0.1:18470');
    expect(storeMessage('etcd: 14 UNAVAILABLE: No connection established. Last error: null. Resolution note: ')).toBe('etcd: 14 UNAVAILABLE: No connection established');
    expect(storeMessage('SQLITE_FULL: database or disk is full')).toBe('SQLITE_FULL: database or disk is full');
  });
});
