import { CommandRunner } from './command-runner';

describe('CommandRunner (commands run from a helper process)', () => {
  let commands: CommandRunner;
  beforeEach(() => (commands = new CommandRunner()));
  afterEach(() => commands.close());

  it('gives each command its own stdout, many at once', async () => {
    const got = await Promise.all(Array.from({ length: 20 }, (_, i) => commands.run('echo', [`answer ${i}`], 5000)));
    expect(got).toEqual(Array.from({ length: 20 }, (_, i) => `answer ${i}\n`));
  });

  it('rejects with the command\'s stderr when it fails, and with the reason when it cannot run', async () => {
    await expect(commands.run('ls', ['/no/such/path/here'], 5000)).rejects.toThrow(/No such file or directory/);
    await expect(commands.run('/no/such/binary', [], 5000)).rejects.toThrow(/ENOENT/);
    // Still serving after failures.
    await expect(commands.run('echo', ['ok'], 5000)).resolves.toBe('ok\n');
  });

  it('ends a command that outlives its timeout', async () => {
    // The helper started first: its start-up counts against this side's own timer (timeout +
    // 1 s), and a loaded CI machine took over 1.2 s to start it, so "no answer" came first.
    await commands.run('true', [], 10_000);
    const t0 = Date.now();
    // The helper's timeout ends it (SIGTERM): this side's own would say "no answer".
    await expect(commands.run('sleep', ['5'], 200)).rejects.toThrow(/SIGTERM|killed/);
    // Well before the sleep's 5 s.
    expect(Date.now() - t0).toBeLessThan(4000);
  });

  it('fails the pending commands of a helper that dies, and starts a new one for the next', async () => {
    const pending = commands.run('sleep', ['5'], 10_000);
    // The helper is the only child this runner made: find it through a command's parent pid.
    const [helperPid, sleeper] = (await commands.run('sh', ['-c', 'echo $PPID $(pgrep -P $PPID -x sleep)'], 5000)).trim().split(' ').map(Number);
    expect(helperPid).toBeGreaterThan(1);
    expect(helperPid).not.toBe(process.pid);
    process.kill(helperPid!, 'SIGKILL');
    process.kill(sleeper!, 'SIGKILL'); // the helper's child, left by its SIGKILL
    await expect(pending).rejects.toThrow(/command helper exited/);
    await expect(commands.run('echo', ['again'], 5000)).resolves.toBe('again\n');
  });

  it('close() fails what is pending and ends the helper and its commands', async () => {
    const pending = commands.run('sleep', ['5'], 10_000);
    const sleeper = Number((await commands.run('sh', ['-c', 'pgrep -P $PPID -x sleep'], 5000)).trim());
    const helperPid = Number((await commands.run('sh', ['-c', 'echo $PPID'], 5000)).trim());
    commands.close();
    await expect(pending).rejects.toThrow(/closed/);
    // The helper exits once its stdin closes.
    const alive = (pid: number) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    for (let i = 0; i < 100 && (alive(helperPid) || alive(sleeper)); i++) await new Promise((r) => setTimeout(r, 20));
    expect([alive(helperPid), alive(sleeper)]).toEqual([false, false]);
  });
});
