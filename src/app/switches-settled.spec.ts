import { switchesSettled, type SwitchState } from './switches-settled';

describe('switchesSettled', () => {
  it('waits for a switch to exist and for every one to be in sync', async () => {
    let switches: SwitchState[] = [];
    let settled = false;
    const done = switchesSettled(() => switches, 5_000, 5).then(() => (settled = true));
    await new Promise((r) => setTimeout(r, 30));
    expect(settled).toBe(false); // none yet
    switches = [{ inSync: true }, { inSync: false }];
    await new Promise((r) => setTimeout(r, 30));
    expect(settled).toBe(false); // one still syncing
    switches = [{ inSync: true }, { inSync: true }];
    await done;
    expect(settled).toBe(true);
  });

  it('gives up waiting after maxMs (no switches, or one that never syncs)', async () => {
    const t0 = performance.now();
    await switchesSettled(() => [{ inSync: false }], 60, 5);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(55);
  });
});
