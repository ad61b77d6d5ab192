/**
 * A private directory under the system's temporary directory, removed when the Jest worker
 * ends (whether the test passed or not): tests that only need somewhere to write files use
 * it instead of a bare mkdtemp, which left hundreds of directories in /tmp over a day's runs.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function scratchDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `${prefix}-`));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}
