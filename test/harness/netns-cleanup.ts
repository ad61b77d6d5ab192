/**
 * Removes network namespaces a test run created, however the run ends: a Jest afterAll
 * hook (Jest's sandboxed `process` never fires 'exit'), process exit/SIGINT/SIGTERM
 * handlers for tsx scripts, and a detached watchdog shell that deletes whatever is still
 * listed once this process is gone (SIGKILL, a crashed Jest worker). Only names
 * registered here are ever deleted.
 */
import { execFileSync, spawn } from 'node:child_process';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const tracked = new Set<string>();
let registry: string | undefined;

const WATCHDOG = `
while kill -0 "$1" 2>/dev/null; do sleep 1; done
[ -f "$2" ] || exit 0
while read -r ns; do [ -n "$ns" ] && [ -e "/run/netns/$ns" ] && ip netns del "$ns" 2>/dev/null; done < "$2"
rm -f "$2"
`;

function deleteSync(ns: string): void {
  try {
    execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
  } catch {
    /* already gone */
  }
}

function rewrite(): void {
  if (registry) writeFileSync(registry, [...tracked].map((n) => `${n}\n`).join(''));
}

function init(): void {
  if (registry) return;
  registry = join(tmpdir(), `testbed-netns-${process.pid}.list`);
  writeFileSync(registry, '');
  spawn('sh', ['-c', WATCHDOG, 'testbed-netns-watchdog', String(process.pid), registry], { detached: true, stdio: 'ignore' }).unref();
  process.on('exit', () => {
    for (const ns of tracked) deleteSync(ns);
    tracked.clear();
    rewrite();
  });
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      for (const ns of tracked) deleteSync(ns);
      process.exit(sig === 'SIGINT' ? 130 : 143);
    });
  }
}

const jestAfterAll = (globalThis as { afterAll?: (fn: () => void) => void }).afterAll;
if (typeof jestAfterAll === 'function') {
  jestAfterAll(() => {
    for (const ns of tracked) deleteSync(ns);
    tracked.clear();
    rewrite();
  });
}

/** Creates netns `name` and registers it for cleanup. */
export function addNetns(name: string): void {
  init();
  execFileSync('ip', ['netns', 'add', name]);
  tracked.add(name);
  appendFileSync(registry!, `${name}\n`);
}

/** Deletes a registered netns (no-op for names not created through addNetns). */
export function delNetns(name: string): void {
  if (!tracked.delete(name)) return;
  deleteSync(name);
  rewrite();
}

/** For tests: the names still registered. */
export function trackedNetns(): string[] {
  return readFileSync(registry ?? '/dev/null', 'utf8').split('\n').filter(Boolean);
}
