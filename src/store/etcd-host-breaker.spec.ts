import { GRPCDeadlineExceededError, GRPCUnavailableError } from 'etcd3';
import { hostBreaker } from './etcd-store';

type Exec = { execute<T>(fn: () => Promise<T>): Promise<T> };

describe('the per-host etcd breaker', () => {
  const fail = (err: Error) => () => Promise.reject(err);
  const ok = () => Promise.resolve('ok');

  it('opens on three failures in a row of a host that has answered nothing for a second, and closes after 5 s', async () => {
    let now = 10_000;
    const breaker = hostBreaker(() => now) as unknown as Exec;
    for (let i = 0; i < 3; i++) await expect(breaker.execute(fail(new GRPCUnavailableError('down')))).rejects.toBeInstanceOf(GRPCUnavailableError);
    await expect(breaker.execute(ok)).rejects.toMatchObject({ isBrokenCircuitError: true });
    now += 5_000;
    await expect(breaker.execute(ok)).resolves.toBe('ok');
  });

  it('stays closed while the host answers other calls, however many run out of their deadline under load (QA-99: a new leader\'s first pass made its replica answer 503 to everything)', async () => {
    let now = 10_000;
    const breaker = hostBreaker(() => now) as unknown as Exec;
    await breaker.execute(ok);
    now += 500;
    for (let i = 0; i < 8; i++) await expect(breaker.execute(fail(new GRPCDeadlineExceededError('deadline')))).rejects.toBeInstanceOf(GRPCDeadlineExceededError);
    await expect(breaker.execute(ok)).resolves.toBe('ok');
    // Silent for over a second, then three in a row: gone, as far as it can tell.
    now += 1_500;
    for (let i = 0; i < 3; i++) await expect(breaker.execute(fail(new GRPCDeadlineExceededError('deadline')))).rejects.toBeInstanceOf(GRPCDeadlineExceededError);
    await expect(breaker.execute(ok)).rejects.toMatchObject({ isBrokenCircuitError: true });
  });

  it('lets one call through every 500 ms while open, and the host\'s answer to it closes the breaker (a restarted host takes calls at once)', async () => {
    let now = 10_000;
    const breaker = hostBreaker(() => now) as unknown as Exec;
    for (let i = 0; i < 3; i++) await expect(breaker.execute(fail(new GRPCUnavailableError('down')))).rejects.toBeInstanceOf(GRPCUnavailableError);
    await expect(breaker.execute(ok)).rejects.toMatchObject({ isBrokenCircuitError: true });
    now += 500;
    // The trial fails: the next one is 500 ms later, and nothing goes through meanwhile.
    await expect(breaker.execute(fail(new GRPCUnavailableError('still down')))).rejects.toBeInstanceOf(GRPCUnavailableError);
    now += 499;
    await expect(breaker.execute(ok)).rejects.toMatchObject({ isBrokenCircuitError: true });
    now += 1;
    // Only one trial at a time: a call beside it is refused.
    let answer!: (v: string) => void;
    const trial = breaker.execute(() => new Promise<string>((r) => (answer = r)));
    await expect(breaker.execute(ok)).rejects.toMatchObject({ isBrokenCircuitError: true });
    answer('back');
    await expect(trial).resolves.toBe('back');
    // Closed, 1.5 s into the 5 s.
    await expect(breaker.execute(ok)).resolves.toBe('ok');
  });
});
