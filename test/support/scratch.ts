/**
 * A private directory for a test's files, removed once the process that made it is gone,
 * passed or failed. Jest's sandboxed `process` never fires 'exit' (see
 * test/harness/netns-cleanup.ts), so a detached watchdog shell removes this file's scratch
 * root when the worker exits; bare mkdtemp calls had left hundreds of directories in /tmp
 * over a day's runs.
 */
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const WATCHDOG = 'while kill -0 "$1" 2>/dev/null; do sleep 2; done; rm -rf "$2"';

let root: string | undefined;

function scratchRoot(): string {
  if (root && existsSync(root)) return root;
  root = mkdtempSync(join(tmpdir(), `vnetd-scratch-${process.pid}-`));
  // Traversable by every user: tests also run the CLI as an unprivileged one.
  chmodSync(root, 0o755);
  spawn('sh', ['-c', WATCHDOG, 'vnetd-scratch-watchdog', String(process.pid), root], { detached: true, stdio: 'ignore' }).unref();
  return root;
}

export function scratchDir(prefix: string): string {
  return mkdtempSync(join(scratchRoot(), `${prefix}-`));
}
