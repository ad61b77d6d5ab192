/**
 * For work that can wait until a (re)started process has reprogrammed its switches: the
 * validators' background compiles (30-200 ms each on the event loop) slotted into the
 * reprogramming's idle moments and delayed the flow dumps' replies behind them.
 */
export interface SwitchState {
  inSync: boolean;
}

/**
 * Resolves once at least one switch is programmed and every one has had a full sync on its
 * current connection, or after maxMs (no switches, or one that cannot be reached).
 */
export async function switchesSettled(switches: () => readonly SwitchState[], maxMs: number, pollMs = 100): Promise<void> {
  const deadline = performance.now() + maxMs;
  for (;;) {
    const now = switches();
    if (now.length > 0 && now.every((s) => s.inSync)) return;
    if (performance.now() >= deadline) return;
    // Unref'd: a process stopping meanwhile is not held up by this wait.
    await new Promise((resolve) => setTimeout(resolve, pollMs).unref());
  }
}
