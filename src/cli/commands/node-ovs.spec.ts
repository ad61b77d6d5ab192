import { CommandTimeoutError, run } from './node-ovs';

describe('run (ovs-appctl and the like, for trace)', () => {
  it('says a command got no answer within its timeout (a hung ovs-vswitchd), not "Command failed" (QA-131)', async () => {
    const err = await run('sleep', ['5'], undefined, 200).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CommandTimeoutError);
    expect(err).toMatchObject({ seconds: 0.2, message: 'sleep 5: no answer within 0.2 s (killed)' });
    await expect(run('sh', ['-c', 'echo nope >&2; exit 3'])).rejects.toThrow('sh -c echo nope >&2; exit 3: nope');
    await expect(run('echo', ['ok'])).resolves.toBe('ok\n');
  });
});
