/**
 * V8 code caches of the bundle (dist/bundle/vnetd-app.js): what the entry (launch.ts) and the
 * build's primer (prime-code-cache.ts) agree on. A cache is bytecode the process runs as its
 * own, so one is read only from where nobody but the bundle's owner (the build's cache beside
 * it) or vnetd's own user (DATA_DIR/code-cache) could have written it. Imports nothing of
 * vnetd: launch.ts is bundled alone.
 */
import { createHash } from 'node:crypto';
import { chmodSync, readdirSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

const CACHE_FILE = /^vnetd-app-[0-9a-f]{32}\.bin$/;

/** The bundle's source as it is compiled: without its #! line. */
export function readAppSource(app: string): string {
  return readFileSync(app, 'utf8').replace(/^#!.*/, '');
}

/**
 * The cache's file name for this source on this Node. V8 checks only the source's length
 * (and its own version and flags): a cache of another build of the same length would run
 * that build's bytecode, hence the SHA-256 in the name.
 */
export function codeCacheName(source: string): string {
  const digest = createHash('sha256').update(source).update(process.version).digest('hex').slice(0, 32);
  return `vnetd-app-${digest}.bin`;
}

/** dir exists, belongs to this user, and only this user may write it. */
export function privateDir(dir: string): boolean {
  try {
    const st = statSync(dir);
    return st.isDirectory() && st.uid === process.getuid?.() && (st.mode & 0o022) === 0;
  } catch {
    return false;
  }
}

/**
 * file is a regular file no less protected than the code it was made from: owned by the same
 * user and writable by nobody else. (Whoever could replace such a file could replace the
 * bundle too.)
 */
export function protectedLike(file: string, code: string): boolean {
  try {
    const st = statSync(file);
    return st.isFile() && st.uid === statSync(code).uid && (st.mode & 0o022) === 0;
  } catch {
    return false;
  }
}

/** Writes file whole or not at all (a reader never sees half a cache), then drops the other builds' caches beside it. */
export function replaceCache(file: string, data: Buffer, mode: number): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, data);
  chmodSync(tmp, mode); // as asked, whatever the umask
  renameSync(tmp, file);
  // Each build names a new cache (3 MB), and none of the earlier ones is read again.
  for (const name of readdirSync(dirname(file))) if (CACHE_FILE.test(name) && name !== basename(file)) unlinkSync(join(dirname(file), name));
}
