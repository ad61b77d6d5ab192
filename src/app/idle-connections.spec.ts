import { idleTimer } from './idle-connections';

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('idleTimer', () => {
  it('fires once nothing has been in flight for its time, and not while a request is', async () => {
    let idle = 0;
    const t = idleTimer(30, () => idle++);
    t.busy();
    await wait(60);
    expect(idle).toBe(0);
    t.done();
    await wait(60);
    expect(idle).toBe(1);
    t.stop();
  });

  it('never arms again once stopped: a request ending after its connection closed holds nothing (QA-104)', async () => {
    let idle = 0;
    const t = idleTimer(20, () => idle++);
    t.busy();
    t.stop();
    t.done();
    await wait(50);
    expect(idle).toBe(0);
  });
});
